/* libFuzzer harness: the .npz (zip) reader: the central directory, the local
 * header and the inflating FILE that checks the member's CRC-32 at its end.
 * The input is written to a file (the reader takes a path) and member "a"
 * is read to its end. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "npz.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static char path[64];
	if (!path[0])
		snprintf(path, sizeof path, "/dev/shm/fuzz_npz.%d", (int)getpid());
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(data, 1, size, f) != size || fclose(f))
		abort();
	vk_error e;
	FILE *m = npz_open_member(path, "a", &e);
	if (m) {
		char buf[4096];
		while (fread(buf, 1, sizeof buf, m) > 0)
			;
		fclose(m);
	}
	unlink(path);
	return 0;
}
