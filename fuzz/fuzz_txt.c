/* libFuzzer harness: txt2stream's parser, as TSV or (when the first byte is
 * odd) CSV, header skipping included. Every field is converted as u8, f32,
 * f64 and as a label, whatever the outcome of each. */
#include <stdint.h>
#include "stream.h"
#include "tsv.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size < 2)
		return 0;
	int csv = data[0] & 1;
	FILE *f = fmemopen((void *)(data + 1), size - 1, "rb");
	if (!f)
		return 0;
	tsv_reader t;
	vk_error e;
	if (csv)
		tsv_init_csv(&t, f, "fuzz");
	else
		tsv_init(&t, f, "fuzz");
	int rc, first = 1;
	while ((rc = tsv_next(&t, &e)) > 0) {
		if (rc != TSV_FIELD)
			continue;
		if (csv && first && (data[0] & 2)) {
			first = 0;
			if (tsv_skip_line(&t, &e))
				break;
			continue;
		}
		uint8_t u;
		float x;
		double d;
		int32_t label;
		tsv_value(&t, TS_U8, &u, &e);
		tsv_value(&t, TS_F32, &x, &e);
		tsv_value(&t, TS_F64, &d, &e);
		tsv_label(&t, &label, &e);
	}
	fclose(f);
	return 0;
}
