/* libFuzzer harness: the IDX reader. vk_idx_open takes a path, so the input
 * goes to a file in /dev/shm; zlib reads plain bytes unchanged and inflates
 * gzip ones, so seeds of both kinds exercise both paths. */
#include <stdlib.h>
#include <stdio.h>
#include <unistd.h>
#include "idx.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof path, "/dev/shm/fuzz_idx.%d", (int)getpid());
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
	vk_idx x;
	vk_error e;
	if (vk_idx_open(&x, path, &e) == 0) {
		void *buf = malloc(x.record_bytes ? 4 * x.record_bytes : 1);
		size_t got = 4;
		while (buf && got == 4 && vk_idx_read(&x, buf, 4, &got, &e) == 0)
			;
		free(buf);
		vk_idx_close(&x);
	}
	unlink(path);
	return 0;
}
