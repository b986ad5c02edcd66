#include "dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

size_t vk_default_max_memory(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
	if (pages <= 0 || size <= 0)
		return (size_t)1 << 30;
	return (size_t)pages * (size_t)size / 2;
}

long long vk_parse_size(const char *s)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s || v < 0)
		return -1;
	double mult = 1;
	switch (*end) {
	case 'k': case 'K': mult = 1024.0; end++; break;
	case 'm': case 'M': mult = 1024.0 * 1024; end++; break;
	case 'g': case 'G': mult = 1024.0 * 1024 * 1024; end++; break;
	}
	if (*end && strcmp(end, "B") && strcmp(end, "iB"))
		return -1;
	return (long long)(v * mult);
}

/* "235.2 KB" into buf: sizes in messages, readable at any scale. */
static const char *human(double bytes, char *buf, size_t len)
{
	static const char *unit[] = {"bytes", "KB", "MB", "GB", "TB", "PB", "EB"};
	int u = 0;
	while (bytes >= 1024 && u < 6)
		bytes /= 1024, u++;
	snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
	return buf;
}

/* Room for cap records. need is what the data is known to take when it does
 * not fit: all of it for a declared count, else the records so far and one. */
static int grow(vk_dataset *d, size_t cap, size_t max_bytes, const char *name, int exact,
		vk_error *e)
{
	size_t elem = d->is_u8 ? 1 : 4, row = d->dim * elem + (d->labels ? 4 : 0);
	if (cap > max_bytes / row) { /* cap * row > max_bytes, without overflow */
		char need[32], lim[32];
		double bytes = (double)(exact ? cap : d->n + 1) * row;
		return vk_fail(e, "%s: the data needs %s%s of memory (limit %s); "
				  "raise --max-memory or use fewer records",
			       name, exact ? "" : "more than ", human(bytes, need, sizeof need),
			       human((double)max_bytes, lim, sizeof lim));
	}
	void *p = realloc(d->is_u8 ? (void *)d->u8 : (void *)d->f32, cap * d->dim * elem);
	if (!p)
		return vk_fail(e, "%s: out of memory for %zu records", name, cap);
	if (d->is_u8)
		d->u8 = p;
	else
		d->f32 = p;
	if (d->labels) {
		int32_t *l = realloc(d->labels, cap * sizeof *l);
		if (!l)
			return vk_fail(e, "%s: out of memory for %zu labels", name, cap);
		d->labels = l;
	}
	return 0;
}

int vk_dataset_load(vk_dataset *d, const char *path, size_t max_bytes, vk_error *e)
{
	memset(d, 0, sizeof *d);
	ts_reader r;
	if (ts_reader_open(&r, path, e))
		return -1;
	d->h = r.h;
	d->dim = ts_elems(&r.h);
	d->is_u8 = r.h.dtype == TS_U8;
	if (r.h.has_labels)
		d->labels = malloc(sizeof(int32_t));
	size_t cap = r.h.count != TS_COUNT_UNKNOWN && r.h.count ? r.h.count : 1024;
	int rc = grow(d, cap, max_bytes, r.name, cap == r.h.count, e);
	for (;;) {
		if (rc)
			break;
		/* A declared count is all the room needed: the read after the last
		 * record only checks for trailing bytes. */
		if (d->n == cap && d->n != r.h.count &&
		    (rc = grow(d, cap *= 2, max_bytes, r.name, 0, e)))
			break;
		int32_t lab;
		int got = d->is_u8 ? ts_read(&r, d->u8 + d->n * d->dim, &lab, e)
				   : ts_read_f32(&r, d->f32 + d->n * d->dim, &lab, e);
		if (got < 0)
			rc = -1;
		if (got <= 0)
			break;
		if (d->labels)
			d->labels[d->n] = lab;
		d->n++;
	}
	if (!rc && d->n == 0)
		rc = vk_fail(e, "%s: no records", r.name);
	ts_reader_close(&r);
	if (rc)
		vk_dataset_free(d);
	return rc;
}

void vk_dataset_free(vk_dataset *d)
{
	free(d->u8);
	free(d->f32);
	free(d->labels);
	memset(d, 0, sizeof *d);
}

void vk_dataset_gather(const vk_dataset *d, const uint32_t *idx, int n, float *out,
		       int32_t *lab)
{
	size_t dim = d->dim;
	for (int i = 0; i < n; i++) {
		float *row = out + (size_t)i * dim;
		if (d->is_u8) {
			const uint8_t *src = d->u8 + (size_t)idx[i] * dim;
			for (size_t j = 0; j < dim; j++)
				row[j] = src[j] * (1.0f / 255.0f);
		} else {
			memcpy(row, d->f32 + (size_t)idx[i] * dim, sizeof(float) * dim);
		}
		if (lab)
			lab[i] = d->labels ? d->labels[idx[i]] : TS_NO_LABEL;
	}
}

int vk_dataset_classes(const vk_dataset *d)
{
	int c = 0;
	for (size_t i = 0; d->labels && i < d->n; i++)
		c = d->labels[i] >= c ? d->labels[i] + 1 : c;
	return c;
}
