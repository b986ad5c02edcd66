/* libFuzzer harness: the tensor-stream reader, header then every record.
 * The first record goes through ts_read, the rest through ts_read_f32 (which
 * converts and rejects NaN), so both paths see hostile bytes. A clean end of
 * a 1.1 stream of unknown count must have come from its end marker: the
 * input's last 32 bytes are the magic, END, the CRC-32C of the records and
 * their count (formats/tensor-stream.md); anything else is a reader that took
 * a truncated stream for a whole one. */
#include <stdlib.h>
#include <string.h>
#include "crc32c.h"
#include "stream.h"

static uint64_t marker_get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

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
		if (rc == 0 && r.end_marker) {
			const unsigned char *m = data + size - TS_END_BYTES;
			size_t head = data[12] | data[13] << 8 | data[14] << 16 | (size_t)data[15] << 24;
			size_t body = r.index * ts_record_bytes(&r.h);
			uint32_t crc;
			memcpy(&crc, m + 12, 4); /* little-endian host */
			if (size < TS_END_BYTES || memcmp(m, data, 8) || memcmp(m + 8, "END", 4) ||
			    marker_get64(m + 16) != r.index || head + body + TS_END_BYTES != size ||
			    crc != vk_crc32c(0, data + head, body))
				abort();
		}
		free(x);
		ts_reader_close(&r);
	}
	fclose(f);
	return 0;
}
