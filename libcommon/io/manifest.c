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
