#include "dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classes.h"

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

/* Bytes a record takes in memory. */
static size_t row_bytes(const vk_dataset *d)
{
	return d->dim * (d->is_u8 ? 1 : 4) + (d->labels ? 4 : 0);
}

/* The message for data over the limit: how much it needs when the count is
 * declared, else that more records came after the limit was full. With an
 * earlier stream loaded (max_bytes < total) it says what is left of the limit. */
static int over_limit(const char *name, int exact, double bytes, size_t n, size_t max_bytes,
		      size_t total, vk_error *e)
{
	char need[32], lim[32], all[32], what[128];
	human(bytes, need, sizeof need);
	human((double)max_bytes, lim, sizeof lim);
	human((double)total, all, sizeof all);
	if (max_bytes < total)
		snprintf(what, sizeof what, "the %s left of the --max-memory limit of %s", lim, all);
	else
		snprintf(what, sizeof what, "the --max-memory limit of %s", lim);
	if (exact)
		return vk_fail(e, "%s: the data needs %s of memory, over %s; raise it or use "
				  "fewer records", name, need, what);
	return vk_fail(e, "%s: the data needs more memory than %s (more records follow the "
			  "first %zu, which fill it); raise it or use fewer records", name, what, n);
}

/* Room for cap records. */
static int grow(vk_dataset *d, size_t cap, const char *name, vk_error *e)
{
	size_t elem = d->is_u8 ? 1 : 4;
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

/* Read one record into d's row n (or into scratch when row is NULL). */
static int read_row(ts_reader *r, vk_dataset *d, void *scratch, int32_t *lab, vk_error *e)
{
	void *dst = scratch ? scratch : d->is_u8 ? (void *)(d->u8 + d->n * d->dim)
						 : (void *)(d->f32 + d->n * d->dim);
	return d->is_u8 ? ts_read(r, dst, lab, e) : ts_read_f32(r, dst, lab, e);
}

/* Load within max_bytes; total is the whole --max-memory limit, for messages. */
static int load(vk_dataset *d, const char *path, size_t max_bytes, size_t total, vk_error *e)
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
	size_t row = row_bytes(d), max_rows = max_bytes / row;
	int declared = r.h.count != TS_COUNT_UNKNOWN;
	size_t cap = declared && r.h.count ? r.h.count : 1024;
	int rc = 0;
	if (declared && r.h.count > max_rows)
		rc = over_limit(r.name, 1, (double)r.h.count * row, 0, max_bytes, total, e);
	if (!declared && cap > max_rows)
		cap = max_rows;
	void *scratch = NULL;
	if (!rc && (!cap || (rc = grow(d, cap, r.name, e)) == 0))
		for (;;) {
			int32_t lab;
			int got;
			if (d->n == cap && !declared && cap < max_rows) {
				cap = cap > max_rows / 2 ? max_rows : cap * 2;
				if ((rc = grow(d, cap, r.name, e)))
					break;
			}
			if (d->n == cap && !declared) {
				/* At the limit: one more record is one too many. */
				if (!scratch)
					scratch = malloc(d->dim * sizeof(float));
				if (!scratch) {
					rc = vk_fail(e, "%s: out of memory", r.name);
					break;
				}
				got = read_row(&r, d, scratch, &lab, e);
				if (got > 0)
					rc = over_limit(r.name, 0, 0, d->n, max_bytes, total, e);
			} else {
				/* A declared count is all the room needed: the read after
				 * the last record only checks for trailing bytes. */
				got = read_row(&r, d, NULL, &lab, e);
			}
			if (got < 0)
				rc = -1;
			if (got <= 0 || rc)
				break;
			if (d->labels)
				d->labels[d->n] = lab;
			d->n++;
		}
	free(scratch);
	if (!rc && d->n == 0)
		rc = vk_fail(e, "%s: no records", r.name);
	if (!rc && d->n < cap)
		grow(d, d->n, r.name, e); /* give back the unused room; harmless if it fails */
	ts_reader_close(&r);
	if (rc)
		vk_dataset_free(d);
	return rc;
}

int vk_dataset_load(vk_dataset *d, const char *path, size_t max_bytes, vk_error *e)
{
	return load(d, path, max_bytes, max_bytes, e);
}

int vk_dataset_load_within(vk_dataset *d, const char *path, size_t *budget, size_t total,
			   vk_error *e)
{
	if (load(d, path, *budget, total, e))
		return -1;
	size_t used = d->n * row_bytes(d);
	*budget = used < *budget ? *budget - used : 0;
	return 0;
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

int vk_dataset_require_labels(const vk_dataset *d, const char *name, vk_error *e)
{
	if (d->labels)
		return 0;
	return vk_fail(e, "%s: the stream has no labels, which a conditional model (cvae) needs; "
			  "make a labelled one (idx2stream IMAGES LABELS, txt2stream -l, "
			  "npy2stream -l LABELS.npy) or train --model vae", name);
}

int vk_dataset_classes(const vk_dataset *d)
{
	int c = 0;
	for (size_t i = 0; d->labels && i < d->n; i++)
		c = d->labels[i] >= c ? d->labels[i] + 1 : c;
	return c;
}

int vk_dataset_match_classes(vk_dataset *d, const char *what, const ts_header *names,
			     const char *names_from, vk_error *e)
{
	static int32_t map[VK_CLASS_MAP_MAX];
	int n, rc = d->labels ? vk_class_map(names, names_from, &d->h, what, map, &n, e) : 0;
	if (rc <= 0)
		return rc;
	for (size_t i = 0; i < d->n; i++) {
		int32_t l = d->labels[i];
		if (l >= n)
			return vk_fail(e, "%s: record %zu has label %d, but the stream names only %d "
					  "classes", what, i, l, n);
		if (l >= 0)
			d->labels[i] = map[l];
	}
	return vk_classes_copy(&d->h, names, e);
}

int vk_dataset_as_integers(vk_dataset *d, vk_error *e)
{
	if (!d->is_u8)
		return 0;
	float *f = malloc(sizeof(float) * d->n * d->dim + 1);
	if (!f)
		return vk_fail(e, "out of memory for %zu records as floats", d->n);
	for (size_t i = 0; i < d->n * d->dim; i++)
		f[i] = d->u8[i];
	free(d->u8);
	d->u8 = NULL;
	d->f32 = f;
	d->is_u8 = 0;
	return 0;
}
