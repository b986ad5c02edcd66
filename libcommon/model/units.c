/* Decodings in the data's units (units.h). */
#include "units.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "standardize.h"

/* columns=N as a number (at most a record's values). */
static size_t u_cols(const char *v)
{
	unsigned long n = strtoul(v, NULL, 10);
	return n > (1u << 20) ? 0 : (size_t)n;
}

int vk_units_find(vk_units *u, const vk_model_tool *t, const ts_header *src,
		  const char *src_name, const char *model_path, int batch, vk_error *e)
{
	memset(u, 0, sizeof *u);
	size_t D = (size_t)t->m.a.input_size;
	u->mean = malloc(D * sizeof *u->mean);
	u->sd = malloc(D * sizeof *u->sd);
	u->buf = malloc((size_t)batch * D * sizeof *u->buf);
	int got = -1;
	if (!u->mean || !u->sd || !u->buf) {
		vk_fail(e, "out of memory for the column statistics of %zu values", D);
	} else {
		got = src ? ts_standardize_get(src, src_name, D, u->mean, u->sd, e) : 0;
		if (!got) {
			ts_header desc;
			vk_trainrec_meta(&t->rec, &desc);
			got = ts_standardize_get(&desc, model_path, D, u->mean, u->sd, e);
		}
	}
	if (got <= 0)
		vk_units_free(u);
	else
		u->n = D;
	return got;
}

const float *vk_units_apply(vk_units *u, const float *x, int n)
{
	for (size_t i = 0; i < (size_t)n; i++)
		for (size_t j = 0; j < u->n; j++)
			u->buf[i * u->n + j] = (float)(x[i * u->n + j] * u->sd[j] + u->mean[j]);
	return u->buf;
}

int vk_units_header(ts_header *h, const vk_model_tool *t, vk_error *e)
{
	static char val[TS_MAX_META + 1];
	char key[64];
	ts_standardize_unset(h);
	ts_meta_unset(h, "kind");  /* a record as txt2stream wrote it has no kind */
	ts_meta_unset(h, "scale");
	if (ts_meta_get(h, "columns", val, sizeof val))
		return 0;
	ts_header desc;
	vk_trainrec_meta(&t->rec, &desc);
	if (!ts_meta_get(&desc, "columns", val, sizeof val))
		return 0;
	size_t n = u_cols(val);
	if (n != (size_t)t->m.a.input_size)
		return 0;  /* names of other records: none */
	if (ts_meta_set(h, "columns", val, e))
		return -1;
	for (size_t i = 0; i < n; i++) {
		snprintf(key, sizeof key, "column.%zu", i);
		if (ts_meta_get(&desc, key, val, sizeof val) && ts_meta_set(h, key, val, e))
			return -1;
	}
	if (ts_meta_get(&desc, "label_column", val, sizeof val) &&
	    ts_meta_set(h, "label_column", val, e))
		return -1;
	return 0;
}

void vk_units_free(vk_units *u)
{
	free(u->mean);
	free(u->sd);
	free(u->buf);
	memset(u, 0, sizeof *u);
}
