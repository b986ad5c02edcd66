/* libFuzzer harness: the .npy header parser, on memory (size then decode)
 * and through npy_header_read on a FILE. */
#include "npy.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	npy_header h;
	vk_error e;
	size_t hs;
	if (size >= 12 && npy_header_size(data, size, &hs, &e) == 0 && hs <= size &&
	    npy_header_decode(data, hs, &h, &e) == 0)
		(void)npy_elems(&h);
	if (!size)
		return 0;
	FILE *f = fmemopen((void *)data, size, "rb");
	if (f) {
		if (npy_header_read(f, "fuzz", &h, &e) == 0)
			(void)npy_elems(&h);
		fclose(f);
	}
	return 0;
}
