/* libFuzzer harness: the tensor-stream reader, header then every record.
 * The first record goes through ts_read, the rest through ts_read_f32 (which
 * converts and rejects NaN), so both paths see hostile bytes. */
#include <stdlib.h>
#include "stream.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (!size)
		return 0;
	FILE *f = fmemopen((void *)data, size, "rb");
	if (!f)
		return 0;
	ts_reader r;
	vk_error e;
	if (ts_reader_fopen(&r, f, "fuzz", &e) == 0) {
		size_t n = ts_elems(&r.h);
		float *x = malloc(n * sizeof *x + ts_data_bytes(&r.h));
		int32_t label;
		int rc = x ? ts_read(&r, x, &label, &e) : -1;
		while (rc == 1)
			rc = ts_read_f32(&r, x, &label, &e);
		free(x);
		ts_reader_close(&r);
	}
	fclose(f);
	return 0;
}
