/* txt2stream — text (one record a line of numbers) to a tensor stream; CSV
 * with its column names, a label column anywhere, missing values filled,
 * columns standardised. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "classes.h"
#include "err.h"
#include "opts.h"
#include "standardize.h"
#include "stream.h"
#include "tsv.h"

static const char USAGE[] =
	"Usage: txt2stream [OPTION]... [FILE]\n"
	"Convert text to a tensor stream: one record a line, fields separated by tabs\n"
	"or spaces (commas with --csv), the label first with --labels. Every line has\n"
	"the same number of fields. With no FILE, or when FILE is -, read standard input.\n\n"
	"  -o, --output FILE  write FILE (atomically) instead of standard output\n"
	"  -s, --shape SHAPE  record shape such as 28x28 (default: a vector as long\n"
	"                     as the first line)\n"
	"  -t, --dtype TYPE   element type: u8, f32 (default), f64 or i32\n"
	"  -l, --labels       the first field of every line is an integer label\n"
	"      --label-column NAME|N  the label is in this column (a header's name, or\n"
	"                     the field number from 1)\n"
	"  -c, --csv          comma-separated values: blank lines and lines starting\n"
	"                     with # are skipped, # starts a comment; a first line\n"
	"                     whose first field is not a number is a header, whose\n"
	"                     names are kept in the metadata\n"
	"      --fill HOW     fill missing values (empty CSV fields, NA) with the\n"
	"                     column's 'mean' or 'zero' (default: refuse them)\n"
	"      --standardize  subtract each column's mean and divide by its standard\n"
	"                     deviation, both kept in the metadata (f32 and f64)\n"
	"  -h, --help         show this help and exit\n"
	"      --version      show the version and exit\n";

enum { FILL_NONE, FILL_ZERO, FILL_MEAN };
enum { OPT_LABEL_COLUMN = VK_OPT_FIRST_LONG, OPT_FILL, OPT_STANDARDIZE };

#define MAX_HEADER_LINE (16u << 20)  /* a CSV's first line, read whole */

struct cmdline {
	const char *input, *output, *label_column;
	int dtype, rank, labels, csv, fill, standardize;
	unsigned dims[TS_MAX_RANK];
};

static int parse_dtype(const char *s)
{
	for (int d = TS_U8; d <= TS_I32; d++)
		if (!strcmp(s, ts_dtype_name(d)))
			return d;
	vk_usage_error("--dtype: '%s' is not u8, f32, f64 or i32", s);
}

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'}, {"shape", required_argument, 0, 's'},
		{"dtype", required_argument, 0, 't'},  {"labels", no_argument, 0, 'l'},
		{"csv", no_argument, 0, 'c'},
		{"label-column", required_argument, 0, OPT_LABEL_COLUMN},
		{"fill", required_argument, 0, OPT_FILL},
		{"standardize", no_argument, 0, OPT_STANDARDIZE},
		{"standardise", no_argument, 0, OPT_STANDARDIZE},
		{"help", no_argument, 0, 'h'},         {"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->dtype = TS_F32;
	int ch;
	while ((ch = getopt_long(argc, argv, "o:s:t:lch", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'o': c->output = optarg; break;
		case 's': c->rank = vk_parse_shape("--shape", optarg, c->dims); break;
		case 't': c->dtype = parse_dtype(optarg); break;
		case 'l': c->labels = 1; break;
		case 'c': c->csv = 1; break;
		case OPT_LABEL_COLUMN: c->label_column = optarg; break;
		case OPT_FILL:
			if (!strcmp(optarg, "mean"))
				c->fill = FILL_MEAN;
			else if (!strcmp(optarg, "zero"))
				c->fill = FILL_ZERO;
			else
				vk_usage_error("--fill: '%s' is not mean or zero", optarg);
			break;
		case OPT_STANDARDIZE: c->standardize = 1; break;
		}
	}
	c->input = vk_input_arg(argc, argv, optind);
	if (c->labels && c->label_column)
		vk_usage_error("--labels is --label-column 1: give one of them");
	if (c->labels)
		c->label_column = "1";
	if (c->standardize && (c->dtype == TS_U8 || c->dtype == TS_I32))
		vk_usage_error("--standardize makes values of any sign: use -t f32 or f64");
	if (c->rank) {
		vk_error e;
		ts_header h;
		if (ts_header_init(&h, c->dtype, c->rank, c->dims, &e))
			vk_usage_error("--shape: %s", e.msg);
	}
}

/* The lines' layout: how many fields, which one is the label (−1: none), and
 * the header's names (NULL without a header). */
struct layout {
	long label_field;       /* 0-based */
	size_t n_names;
	char **names;
	const char *label_arg;  /* --label-column as given, until resolved */
};

/* One record being read: its values, how many a line must have (0 until the
 * first line has fixed it), the room allocated, and which values were
 * missing (for --fill mean). */
struct record {
	unsigned char *data;
	unsigned char *missing;
	size_t want, cap, size;
	int32_t label;
	int any_missing;
};

static void grow(struct record *r, size_t n)
{
	if (n > TS_MAX_ELEMS)
		vk_die("line 1 has more than %u values (the limit for one record)", TS_MAX_ELEMS);
	if (n <= r->cap)
		return;
	size_t cap = r->cap ? r->cap * 2 : 1024;
	cap = cap > TS_MAX_ELEMS ? TS_MAX_ELEMS : cap;
	r->data = realloc(r->data, cap * r->size);
	r->missing = realloc(r->missing, cap);
	if (!r->data || !r->missing)
		vk_die("out of memory for line 1");
	r->cap = cap;
}

static int is_missing(const char *tok)
{
	return !*tok || !strcmp(tok, "NA") || !strcmp(tok, "na") || !strcasecmp(tok, "nan");
}

static void set_value(int dtype, void *at, double v) { ts_put(dtype, at, 0, v); }
static double get_value(int dtype, const void *at) { return ts_get(dtype, at, 0); }

/* The name of 0-based field f for messages: " (column NAME)" or "". */
static const char *column_of(const struct layout *l, long f, char *buf, size_t len)
{
	if (!l->names || f < 0 || (size_t)f >= l->n_names)
		return "";
	snprintf(buf, len, " in column '%s'", l->names[f]);
	return buf;
}

/* Read one line into r. Returns 0 at the end of the input. */
static int read_line(tsv_reader *t, struct record *r, const struct layout *l,
		     const struct cmdline *c)
{
	vk_error e;
	size_t n = 0;
	long f = 0;
	int rc, have_label = 0;
	char col[512];
	r->any_missing = 0;
	while ((rc = tsv_next(t, &e)) == TSV_FIELD) {
		if (f++ == l->label_field) {
			if (tsv_label(t, &r->label, &e))
				vk_die_error(&e);
			have_label = 1;
			continue;
		}
		if (r->want && n == r->want)
			vk_die("%s: line %llu has more than %zu values", t->name, t->line, r->want);
		if (!r->want)
			grow(r, n + 1);
		if (c->csv && is_missing(t->tok)) {
			if (c->fill == FILL_NONE)
				vk_die("%s: line %llu, field %lu: %s%s, a missing value (--fill mean or "
				       "--fill zero fills it)", t->name, t->line, t->field,
				       *t->tok ? "NA" : "empty", column_of(l, f - 1, col, sizeof col));
			set_value(c->dtype, r->data + n * r->size, 0);
			r->missing[n++] = 1;
			r->any_missing = 1;
			continue;
		}
		if (tsv_value(t, c->dtype, r->data + n * r->size, &e)) {
			if (l->names)
				vk_die("%s%s", e.msg, column_of(l, f - 1, col, sizeof col));
			vk_die_error(&e);
		}
		r->missing[n++] = 0;
	}
	if (rc < 0)
		vk_die_error(&e);
	if (rc == TSV_EOF)
		return 0;
	if (!r->want && !n)
		vk_die("%s: line %llu has no values", t->name, t->line);
	if (!r->want)
		r->want = n;
	if (l->label_field >= 0 && !have_label)
		vk_die("%s: line %llu has %ld fields, no label column %ld", t->name, t->line, f,
		       l->label_field + 1);
	if (n != r->want)
		vk_die("%s: line %llu has %zu values, expected %zu", t->name, t->line, n, r->want);
	return 1;
}

/* ---- a CSV's first line: a header, or the first record ---- */

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = 0;
	return s;
}

/* Read lines up to the first that is neither blank nor a comment; *line_no
 * its number. NULL at the end of the input. */
static char *first_line(FILE *f, const char *name, unsigned long long *line_no)
{
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	*line_no = 0;
	while ((len = getline(&buf, &cap, f)) > 0) {
		++*line_no;
		if ((size_t)len > MAX_HEADER_LINE)
			vk_die("%s: line %llu is over %u bytes (the limit for a CSV's first line)",
			       name, *line_no, MAX_HEADER_LINE);
		char *s = trim(buf);
		if (*s && *s != '#' && *s != '\n')
			return buf;
	}
	free(buf);
	return NULL;
}

/* Split a header line at commas into trimmed names (a comment dropped). */
static void parse_header(char *line, struct layout *l, const char *name, unsigned long long ln)
{
	line[strcspn(line, "#\n")] = 0;
	size_t n = 1;
	for (char *p = line; *p; p++)
		n += *p == ',';
	l->names = vk_xmalloc(n * sizeof *l->names);
	l->n_names = 0;
	for (char *tok = line, *next; tok; tok = next) {
		next = strchr(tok, ',');
		if (next)
			*next++ = 0;
		char *s = trim(tok);
		if (!*s)
			vk_die("%s: line %llu: header column %zu has no name", name, ln, l->n_names + 1);
		l->names[l->n_names++] = s;
	}
}

static int header_like(const char *line)
{
	char first[TSV_MAX_FIELD * 4], *end;
	snprintf(first, sizeof first, "%.*s", (int)strcspn(line, ",#\n"), line);
	char *s = trim(first);
	strtod(s, &end);
	return end == s || *end;
}

/* --label-column: a number from 1, or a header's name. */
static void resolve_label(struct layout *l, const char *name)
{
	const char *a = l->label_arg;
	l->label_field = -1;
	if (!a)
		return;
	if (strspn(a, "0123456789") == strlen(a) && *a) {
		l->label_field = strtol(a, NULL, 10) - 1;
		if (l->label_field < 0 || l->label_field > (long)TS_MAX_ELEMS)
			vk_usage_error("--label-column: '%s' is not a field number from 1", a);
		if (l->names && (size_t)l->label_field >= l->n_names)
			vk_die("--label-column %s: %s has %zu columns", a, name, l->n_names);
		return;
	}
	if (!l->names)
		vk_die("--label-column %s: %s has no header to find the name in (give the field's "
		       "number)", a, name);
	for (size_t i = 0; i < l->n_names; i++)
		if (!strcmp(l->names[i], a)) {
			l->label_field = (long)i;
			return;
		}
	char list[1024] = "";
	for (size_t i = 0; i < l->n_names && strlen(list) + 40 < sizeof list; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
			 l->names[i]);
	vk_die("--label-column: %s has no column '%s' (its columns: %s)", name, a, list);
}

/* ---- statistics for --fill mean and --standardize ---- */

struct records {
	unsigned char *data, *missing;
	int32_t *labels;
	size_t n, cap;
};

static void keep(struct records *b, const struct record *r)
{
	if (b->n == b->cap) {
		b->cap = b->cap ? 2 * b->cap : 1024;
		b->data = realloc(b->data, b->cap * r->want * r->size);
		b->missing = realloc(b->missing, b->cap * r->want);
		b->labels = realloc(b->labels, b->cap * sizeof *b->labels);
		if (!b->data || !b->missing || !b->labels)
			vk_die("out of memory holding %zu records for --fill mean or --standardize",
			       b->cap);
	}
	memcpy(b->data + b->n * r->want * r->size, r->data, r->want * r->size);
	memcpy(b->missing + b->n * r->want, r->missing, r->want);
	b->labels[b->n++] = r->label;
}

/* Means and standard deviations of the present values, per column. */
static void column_stats(const struct records *b, size_t D, int dtype, double *mean, double *sd,
			 const struct layout *l)
{
	size_t size = ts_dtype_size(dtype);
	for (size_t j = 0; j < D; j++) {
		double s = 0, s2 = 0;
		size_t n = 0;
		for (size_t i = 0; i < b->n; i++)
			if (!b->missing[i * D + j]) {
				s += get_value(dtype, b->data + (i * D + j) * size);
				n++;
			}
		if (!n) {
			long f = (long)j + (l->label_field >= 0 && (long)j >= l->label_field);
			if (l->names)
				vk_die("column '%s' has no value at all (nothing to fill it with or "
				       "standardise by)", l->names[f]);
			vk_die("field %ld has no value at all (nothing to fill it with or "
			       "standardise by)", f + 1);
		}
		mean[j] = s / n;
		for (size_t i = 0; i < b->n; i++)
			if (!b->missing[i * D + j]) {
				double d = get_value(dtype, b->data + (i * D + j) * size) - mean[j];
				s2 += d * d;
			}
		sd[j] = sqrt(s2 / n);
	}
}

/* Column names into the metadata: columns=N, column.I=NAME (percent-encoded),
 * and label_column=NAME. */
static int meta_names(ts_header *h, const struct layout *l, size_t D, vk_error *e)
{
	char key[64], val[VK_CLASS_NAME_MAX * 3];
	if (!l->names)
		return 0;
	if (l->n_names - (l->label_field >= 0) != D)
		return vk_fail(e, "the header names %zu columns, but the lines have %zu values%s",
			       l->n_names, D, l->label_field >= 0 ? " and a label" : "");
	snprintf(val, sizeof val, "%zu", D);
	if (ts_meta_set(h, "columns", val, e))
		return -1;
	for (size_t i = 0, j = 0; i < l->n_names; i++) {
		if ((long)i == l->label_field) {
			if (ts_meta_set(h, "label_column", vk_class_encode(l->names[i], val, sizeof val), e))
				return -1;
			continue;
		}
		snprintf(key, sizeof key, "column.%zu", j++);
		if (ts_meta_set(h, key, vk_class_encode(l->names[i], val, sizeof val), e))
			return vk_fail(e, "the column names do not fit the metadata (%zu of %zu "
				       "fitted)", j - 1, D);
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	vk_refuse_output_is_input(c.output, &c.input, 1);
	FILE *in = stdin;
	const char *name = c.input ? c.input : "standard input";
	if (c.input && !(in = fopen(c.input, "r")))
		vk_die("cannot open %s:", c.input);
	tsv_reader t;
	struct layout l = {.label_field = -1, .label_arg = c.label_column};
	struct record r = {.size = ts_dtype_size(c.dtype)};
	if (c.rank) {
		ts_header h;
		ts_header_init(&h, c.dtype, c.rank, c.dims, &e);
		r.want = ts_elems(&h);
		r.data = vk_xmalloc(r.want * r.size);
		r.missing = vk_xmalloc(r.want);
	}
	int more;
	char *line = NULL;  /* a CSV's first line: the header's names point into it */
	if (c.csv) {
		/* The first line decides: a header (kept), or the first record. */
		unsigned long long ln;
		line = first_line(in, name, &ln);
		if (line && header_like(trim(line))) {
			parse_header(trim(line), &l, name, ln);
			resolve_label(&l, name);
			tsv_init_csv(&t, in, name);
			t.line = ln + 1;
			t.allow_empty = 1;
			more = read_line(&t, &r, &l, &c);
		} else {
			resolve_label(&l, name);
			more = 0;
			if (line) {
				FILE *one = fmemopen(line, strlen(line), "r");
				tsv_reader t1;
				if (!one)
					vk_die("%s:", name);
				tsv_init_csv(&t1, one, name);
				t1.line = ln;
				t1.allow_empty = 1;
				more = read_line(&t1, &r, &l, &c);
				fclose(one);
			}
			tsv_init_csv(&t, in, name);
			t.line = ln + 1;
			t.allow_empty = 1;
		}
		/* the header's names live in line: kept to the end */
	} else {
		resolve_label(&l, name);
		tsv_init(&t, in, name);
		more = read_line(&t, &r, &l, &c);
	}
	if (!c.rank) {
		if (!more)
			vk_die("%s: no records, and no --shape to make an empty stream of", t.name);
		c.rank = 1;
		c.dims[0] = (unsigned)r.want;
	}
	ts_header h;
	ts_writer w;
	if (ts_header_init(&h, c.dtype, c.rank, c.dims, &e))
		vk_die_error(&e);
	h.has_labels = l.label_field >= 0;
	if (meta_names(&h, &l, r.want, &e))
		vk_die("%s: %s", name, e.msg);
	int hold = c.fill == FILL_MEAN || c.standardize;
	if (!hold) {
		if (ts_writer_open(&w, c.output, &h, &e))
			vk_die_error(&e);
		for (; more; more = read_line(&t, &r, &l, &c))
			if (ts_write(&w, r.data, r.label, &e))
				vk_die_error(&e);
	} else {
		/* Statistics need every record first. */
		struct records b = {0};
		for (; more; more = read_line(&t, &r, &l, &c))
			keep(&b, &r);
		size_t D = r.want;
		double *mean = vk_xmalloc(D * sizeof *mean), *sd = vk_xmalloc(D * sizeof *sd);
		column_stats(&b, D, c.dtype, mean, sd, &l);
		for (size_t j = 0; j < D; j++)
			if (sd[j] == 0)
				sd[j] = 1;  /* a constant column becomes 0, and back */
		if (c.standardize && ts_standardize_put(&h, mean, sd, D, &e))
			vk_die("%s: the column statistics do not fit the metadata (%s)", name, e.msg);
		if (ts_writer_open(&w, c.output, &h, &e))
			vk_die_error(&e);
		for (size_t i = 0; i < b.n; i++) {
			unsigned char *rec = b.data + i * D * r.size;
			for (size_t j = 0; j < D; j++) {
				void *at = rec + j * r.size;
				double v = b.missing[i * D + j] ? (c.fill == FILL_MEAN ? mean[j] : 0)
							       : get_value(c.dtype, at);
				if (c.standardize)
					v = (v - mean[j]) / sd[j];
				if (b.missing[i * D + j] || c.standardize)
					set_value(c.dtype, at, v);
			}
			if (ts_write(&w, rec, b.labels[i], &e))
				vk_die_error(&e);
		}
		free(b.data), free(b.missing), free(b.labels), free(mean), free(sd);
	}
	if (ts_writer_close(&w, &e))
		vk_die_error(&e);
	free(r.data);
	free(r.missing);
	free(l.names);
	free(line);
	if (in != stdin)
		fclose(in);
	return 0;
}
