#include "tsv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

void tsv_init(tsv_reader *t, FILE *f, const char *name)
{
	memset(t, 0, sizeof *t);
	t->f = f;
	t->line = 1;
	snprintf(t->name, sizeof t->name, "%s", name);
}

void tsv_init_csv(tsv_reader *t, FILE *f, const char *name)
{
	tsv_init(t, f, name);
	t->csv = 1;
}

static int blank(int c) { return c == ' ' || c == '\t' || c == '\r'; }

int tsv_skip_line(tsv_reader *t, vk_error *e)
{
	int c;
	while ((c = getc_unlocked(t->f)) != EOF && c != '\n')
		;
	if (c == EOF && ferror(t->f))
		return vk_fail(e, "%s: read error:", t->name);
	t->field = (unsigned long)-1;
	t->sep = 0;
	return 0;
}

static int csv_next(tsv_reader *t, vk_error *e)
{
	int c;
	if (t->field == (unsigned long)-1) {
		t->line++;
		t->field = 0;
		t->sep = 0;
	}
	for (;;) {
		while ((c = getc_unlocked(t->f)) != EOF && blank(c))
			;
		if (c == '#')  /* a comment to the end of the line */
			while ((c = getc_unlocked(t->f)) != EOF && c != '\n')
				;
		if (c == '\n' && t->field == 0 && !t->sep) {
			t->line++;  /* blank or comment line: skipped */
			continue;
		}
		break;
	}
	if (c == EOF && ferror(t->f))
		return vk_fail(e, "%s: read error:", t->name);
	if (c == EOF && t->field == 0 && !t->sep)
		return TSV_EOF;
	if (c == '\n' || c == EOF) {
		if (t->sep && t->allow_empty) {  /* a trailing comma: one more, empty field */
			t->sep = 0;
			t->field++;
			t->tok[0] = 0;
			if (c != EOF)
				ungetc(c, t->f);
			return TSV_FIELD;
		}
		if (t->sep)
			return vk_fail(e, "%s: line %llu, field %lu: empty (the line ends in a comma)",
				       t->name, t->line, t->field + 1);
		t->field = (unsigned long)-1;
		return TSV_EOL;
	}
	t->field++;
	if (c == ',' && t->allow_empty) {
		t->tok[0] = 0;
		t->sep = 1;
		return TSV_FIELD;
	}
	if (c == ',')
		return vk_fail(e, "%s: line %llu, field %lu: empty", t->name, t->line, t->field);
	size_t n = 0;
	do {
		if (n + 1 == sizeof t->tok)
			return vk_fail(e, "%s: line %llu, field %lu: longer than %d characters",
				       t->name, t->line, t->field, TSV_MAX_FIELD - 1);
		t->tok[n++] = (char)c;
	} while ((c = getc_unlocked(t->f)) != EOF && !blank(c) && c != '\n' && c != ',' &&
		 c != '#');
	t->tok[n] = 0;
	while (c != EOF && blank(c))
		c = getc_unlocked(t->f);
	t->sep = c == ',';
	if (c != ',' && c != '\n' && c != '#' && c != EOF)
		return vk_fail(e, "%s: line %llu, field %lu: '%s' is followed by '%c', not a comma",
			       t->name, t->line, t->field, t->tok, c);
	if (c != ',' && c != EOF)
		ungetc(c, t->f);
	return TSV_FIELD;
}

int tsv_next(tsv_reader *t, vk_error *e)
{
	int c;
	if (t->csv)
		return csv_next(t, e);
	if (t->field == (unsigned long)-1) { /* the previous item was TSV_EOL */
		t->line++;
		t->field = 0;
	}
	while ((c = getc_unlocked(t->f)) != EOF && blank(c))
		;
	if (c == EOF) {
		if (ferror(t->f))
			return vk_fail(e, "%s: read error:", t->name);
		if (t->field == 0)
			return TSV_EOF;
	}
	if (c == '\n' || c == EOF) {
		t->field = (unsigned long)-1;
		return TSV_EOL;
	}
	size_t n = 0;
	t->field++;
	do {
		if (n + 1 == sizeof t->tok)
			return vk_fail(e, "%s: line %llu, field %lu: longer than %d characters",
				       t->name, t->line, t->field, TSV_MAX_FIELD - 1);
		t->tok[n++] = (char)c;
	} while ((c = getc_unlocked(t->f)) != EOF && !blank(c) && c != '\n');
	t->tok[n] = 0;
	if (c != EOF)
		ungetc(c, t->f);
	return TSV_FIELD;
}

static int bad(const tsv_reader *t, vk_error *e, const char *what)
{
	return vk_fail(e, "%s: line %llu, field %lu: '%s' is not %s", t->name, t->line, t->field,
		       t->tok, what);
}

static int parse_int(const tsv_reader *t, long min, long max, long *v, vk_error *e,
		     const char *what)
{
	char *end;
	errno = 0;
	*v = strtol(t->tok, &end, 10);
	if (end == t->tok || *end || errno || *v < min || *v > max)
		return bad(t, e, what);
	return 0;
}

int tsv_value(const tsv_reader *t, int dtype, void *out, vk_error *e)
{
	char *end;
	long v;
	errno = 0;
	switch (dtype) {
	case TS_U8:
		if (parse_int(t, 0, 255, &v, e, "an integer from 0 to 255"))
			return -1;
		*(unsigned char *)out = (unsigned char)v;
		return 0;
	case TS_I32:
		if (parse_int(t, INT32_MIN, INT32_MAX, &v, e, "a 32-bit integer"))
			return -1;
		ts_put(TS_I32, out, 0, (double)v);
		return 0;
	case TS_F32: {
		/* strtof rounds once; going through double could round twice. ERANGE on
		 * underflow still gives the right subnormal, so only infinity is refused. */
		float f = strtof(t->tok, &end);
		if (end == t->tok || *end || !isfinite(f))
			return bad(t, e, "a finite 32-bit number");
		*(float *)out = f;
		return 0;
	}
	case TS_F64: {
		double d = strtod(t->tok, &end);
		if (end == t->tok || *end || !isfinite(d))
			return bad(t, e, "a finite number");
		*(double *)out = d;
		return 0;
	}
	}
	return vk_fail(e, "unknown element type %d", dtype);
}

int tsv_label(const tsv_reader *t, int32_t *label, vk_error *e)
{
	long v;
	if (parse_int(t, -1, INT32_MAX, &v, e, "a label (an integer from -1 to 2147483647)"))
		return -1;
	*label = (int32_t)v;
	return 0;
}

long tsv_getline(char **buf, size_t *cap, FILE *f, size_t max)
{
	size_t n = 0;
	int c;
	while ((c = getc_unlocked(f)) != EOF) {
		if (n + 2 > *cap) {
			size_t want = *cap ? 2 * *cap : 256;
			char *b = realloc(*buf, want);
			if (!b)
				return -1;
			*buf = b;
			*cap = want;
		}
		(*buf)[n++] = (char)c;
		if (c == '\n')
			break;
		if (n > max)
			return -1;
	}
	if (n)
		(*buf)[n] = 0;
	return (long)n;
}

int tsv_split_tabs(char *line, char **f, int max)
{
	int n = 0;
	line[strcspn(line, "\r\n")] = 0;
	for (char *p = line;; p++) {
		if (n < max)
			f[n] = p;
		n++;
		p += strcspn(p, "\t");
		if (!*p)
			return n;
		*p = 0;
	}
}
