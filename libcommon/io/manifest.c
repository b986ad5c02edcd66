/* Record-to-file manifests (manifest.h). */
#include "manifest.h"
#include "tsv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int vk_manifest_open(vk_afile *a, const char *path, vk_error *e)
{
	if (vk_afile_open(a, path, 0, e))
		return -1;
	fputs(VK_MANIFEST_HEADER "\n", a->f);
	return 0;
}

int vk_manifest_add(vk_afile *a, uint64_t record, const char *file, vk_error *e)
{
	fprintf(a->f, "%llu\t", (unsigned long long)record);
	for (const unsigned char *p = (const unsigned char *)file; *p; p++)
		if (*p == '%' || *p < 0x20 || *p == 0x7f)
			fprintf(a->f, "%%%02X", *p);
		else
			putc(*p, a->f);
	putc('\n', a->f);
	if (ferror(a->f))
		return vk_fail(e, "error writing %s:", a->is_stdout ? "standard output" : a->path);
	return 0;
}

static int hex(int c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int vk_manifest_load(vk_manifest *m, const char *path, vk_error *e)
{
	memset(m, 0, sizeof *m);
	FILE *f = fopen(path, "r");
	if (!f)
		return vk_fail(e, "cannot open manifest %s:", path);
	char *line = NULL;
	size_t cap = 0, mcap = 0;
	long len;
	unsigned long long ln = 0;
	int rc = 0;
	while (!rc && (len = tsv_getline(&line, &cap, f, TSV_MAX_LINE)) > 0) {
		ln++;
		if (line[len - 1] == '\n')
			line[--len] = 0;
		if (ln == 1) {
			if (strcmp(line, VK_MANIFEST_HEADER))
				rc = vk_fail(e, "%s: not a manifest (its first line is not "
					     "'record<TAB>file')", path);
			continue;
		}
		char *end;
		errno = 0;
		unsigned long long k = strtoull(line, &end, 10);
		if (end == line || *end != '\t' || errno || k != m->n) {
			rc = vk_fail(e, "%s:%llu: expected record %llu, then a tab and a file", path,
				     ln, (unsigned long long)m->n);
			break;
		}
		/* decode in place: never longer than the text */
		char *out = end + 1, *s = end + 1;
		for (; *s; s++) {
			int hi, lo;
			if (*s == '%' && (hi = hex(s[1])) >= 0 && (lo = hex(s[2])) >= 0) {
				*out++ = (char)(hi * 16 + lo);
				s += 2;
			} else {
				*out++ = *s;
			}
		}
		*out = 0;
		if (m->n == mcap) {
			mcap = mcap ? 2 * mcap : 1024;
			char **v = realloc(m->file, mcap * sizeof *v);
			if (!v) {
				rc = vk_fail(e, "out of memory for %zu file names", mcap);
				break;
			}
			m->file = v;
		}
		if (!(m->file[m->n] = strdup(end + 1))) {
			rc = vk_fail(e, "out of memory for file names");
			break;
		}
		m->n++;
	}
	if (!rc && ferror(f))
		rc = vk_fail(e, "error reading %s:", path);
	if (!rc && len < 0)
		rc = vk_fail(e, "%s:%llu: a line of more than %u bytes (not a manifest)", path,
			     ln + 1, TSV_MAX_LINE);
	if (!rc && !ln)
		rc = vk_fail(e, "%s: empty (not a manifest)", path);
	free(line);
	fclose(f);
	if (rc)
		vk_manifest_free(m);
	return rc;
}

void vk_manifest_free(vk_manifest *m)
{
	for (uint64_t i = 0; i < m->n; i++)
		free(m->file[i]);
	free(m->file);
	memset(m, 0, sizeof *m);
}

/* A file name and its record, sorted by name for a binary search. */
struct entry {
	const char *key;
	uint64_t record;
};

static int by_key(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x->record > y->record) - (x->record < y->record);
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

/* The entries whose key is key: [*lo, *hi). */
static void find_all(const struct entry *v, size_t n, const char *key, size_t *lo, size_t *hi)
{
	size_t a = 0, b = n;
	while (a < b) {
		size_t mid = a + (b - a) / 2;
		if (strcmp(v[mid].key, key) < 0)
			a = mid + 1;
		else
			b = mid;
	}
	*lo = a;
	while (a < n && !strcmp(v[a].key, key))
		a++;
	*hi = a;
}

int vk_manifest_read_index(const vk_manifest *m, FILE *f, const char *name, vk_index_set *s,
			   vk_error *e)
{
	struct entry *full = malloc((m->n + 1) * sizeof *full), *base = malloc((m->n + 1) * sizeof *base);
	char *line = NULL;
	size_t cap = 0;
	long len = 0;
	unsigned long long ln = 0;
	int rc = 0;
	if (!full || !base)
		rc = vk_fail(e, "out of memory for %llu file names", (unsigned long long)m->n);
	for (uint64_t i = 0; !rc && i < m->n; i++) {
		full[i] = (struct entry){m->file[i], i};
		base[i] = (struct entry){base_name(m->file[i]), i};
	}
	if (!rc) {
		qsort(full, m->n, sizeof *full, by_key);
		qsort(base, m->n, sizeof *base, by_key);
	}
	while (!rc && (len = tsv_getline(&line, &cap, f, TSV_MAX_LINE)) > 0) {
		ln++;
		if (line[len - 1] == '\n')
			line[--len] = 0;
		if (len && line[len - 1] == '\r')
			line[--len] = 0;
		if (!len)
			continue;
		if (vk_index_is_list(line)) {
			char where[300];
			snprintf(where, sizeof where, "%s:%llu", name, ln);
			rc = vk_index_set_parse(s, line, where, e);
			continue;
		}
		/* percent-decode in place (never longer), as the manifest was */
		char *out = line;
		for (const char *p = line; *p; p++) {
			int hi, lo;
			if (*p == '%' && (hi = hex(p[1])) >= 0 && (lo = hex(p[2])) >= 0) {
				*out++ = (char)(hi * 16 + lo);
				p += 2;
			} else {
				*out++ = *p;
			}
		}
		*out = 0;
		size_t lo, hi;
		find_all(full, m->n, line, &lo, &hi);
		if (lo == hi) {
			find_all(base, m->n, line, &lo, &hi);
			if (hi - lo > 1)
				rc = vk_fail(e, "%s:%llu: '%s' is the base name of %llu records' files "
					     "(records %llu and %llu, ...): give its path as the manifest "
					     "has it", name, ln, line, (unsigned long long)(hi - lo),
					     (unsigned long long)base[lo].record,
					     (unsigned long long)base[lo + 1].record);
			else if (lo == hi)
				rc = vk_fail(e, "%s:%llu: no file '%s' in the manifest", name, ln, line);
			else
				rc = vk_index_set_add(s, base[lo].record, base[lo].record + 1, e);
		}
		for (size_t i = lo; !rc && i < hi; i++)  /* a file read twice: both records */
			rc = vk_index_set_add(s, full[i].record, full[i].record + 1, e);
	}
	if (!rc && ferror(f))
		rc = vk_fail(e, "error reading %s:", name);
	if (!rc && len < 0)
		rc = vk_fail(e, "%s:%llu: a line of more than %u bytes", name, ln + 1, TSV_MAX_LINE);
	free(line);
	free(full);
	free(base);
	return rc;
}
