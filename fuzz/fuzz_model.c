/* libFuzzer harness: the model reader. Most mutations would only ever meet
 * the CRC check, so when the first byte is odd the harness drops it and
 * writes a correct CRC-32 over the rest before loading: the fuzzer then
 * reaches every field check behind the checksum. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include "modelfile.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof path, "/dev/shm/fuzz_model.%d", (int)getpid());
	if (!size)
		return 0;
	int fix_crc = data[0] & 1;
	data++, size--;
	unsigned char *copy = malloc(size + 1);
	memcpy(copy, data, size);
	if (fix_crc && size >= 8) {
		uint32_t c = (uint32_t)crc32(0L, copy, (uInt)(size - 4));
		memcpy(copy + size - 4, &c, 4);
	}
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(copy, 1, size, f) != size || fclose(f))
		abort();
	free(copy);
	vk_model m;
	vk_trainrec t;
	vk_optstate opt;
	vk_error e;
	if (vk_model_load(path, &m, &t, &opt, &e) == 0) {
		free(opt.m);
		free(opt.v);
		vk_model_free(&m);
	}
	unlink(path);
	return 0;
}
