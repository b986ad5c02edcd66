/* libFuzzer harness: txt2stream's parser. Every field is converted as u8,
 * f32, f64 and as a label, whatever the outcome of each. */
#include <stdint.h>
#include "stream.h"
#include "tsv.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (!size)
		return 0;
	FILE *f = fmemopen((void *)data, size, "rb");
	if (!f)
		return 0;
	tsv_reader t;
	vk_error e;
	tsv_init(&t, f, "fuzz");
	int rc;
	while ((rc = tsv_next(&t, &e)) > 0) {
		if (rc != TSV_FIELD)
			continue;
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
