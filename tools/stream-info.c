/* stream-info — describe a tensor stream: header, record count, value statistics. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "classes.h"
#include "err.h"
#include "latents.h"
#include "opts.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: stream-info [OPTION]... [FILE]\n"
	"Describe a tensor stream: its header (version, element type, record shape,\n"
	"labels, declared count, metadata), the records counted by reading them all,\n"
	"and statistics over every value (min, max, mean, standard deviation) with a\n"
	"histogram of the labels; for code maps (an i32 stream with codebook=K, from\n"
	"vae-encode --codes) a histogram of the codes, their perplexity and the codes\n"
	"never used. With no FILE, or when FILE is -, read standard input.\n\n"
	"  -t, --tsv      print 'key<TAB>value' lines for scripts\n"
	"  -h, --help     show this help and exit\n"
	"      --version  show the version and exit\n";

#define MAX_LABEL 65536 /* labels counted one by one; larger ones are lumped */

struct cmdline {
	const char *input;
	int tsv;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"tsv", no_argument, 0, 't'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	int ch;
	while ((ch = getopt_long(argc, argv, "th", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		if (ch == 't')
			c->tsv = 1;
	}
	c->input = vk_input_arg(argc, argv, optind);
}

/* The reader does not keep the version, so the first bytes are read here and
 * handed back to it through a cookie stream (this works on pipes too). */
struct peek {
	FILE *f;
	unsigned char head[12];
	size_t len, pos;
};

static ssize_t peek_read(void *cookie, char *buf, size_t n)
{
	struct peek *p = cookie;
	if (p->pos < p->len) {
		size_t k = p->len - p->pos < n ? p->len - p->pos : n;
		memcpy(buf, p->head + p->pos, k);
		p->pos += k;
		return k;
	}
	size_t got = fread(buf, 1, n, p->f);
	return got || !ferror(p->f) ? (ssize_t)got : -1;
}

static void open_peeked(struct peek *p, ts_reader *r, const char *path)
{
	vk_error e;
	p->f = path ? fopen(path, "rb") : stdin;
	if (!path && vk_refuse_terminal_input(&e))
		vk_die_error(&e);
	if (!p->f)
		vk_die("cannot open %s:", path);
	p->len = fread(p->head, 1, sizeof p->head, p->f);
	FILE *f = fopencookie(p, "rb", (cookie_io_functions_t){.read = peek_read});
	if (!f)
		vk_die("cannot read %s:", path ? path : "standard input");
	setvbuf(f, NULL, _IOFBF, 1 << 16);
	if (ts_reader_fopen(r, f, path ? path : "standard input", &e))
		vk_die_error(&e);
}

struct stats {
	uint64_t n, nonfinite, nolabel, biglabel;
	double min, max, mean, m2;
	uint64_t *labels; /* MAX_LABEL counters */
	int codebook;     /* K of a code-map stream, else 0 */
	double *codes;    /* K counters */
	uint64_t badcodes; /* values that are no code */
};

/* A code-map stream's codebook size K (codebook=K on an i32 stream), or 0. */
static int codebook_of(const ts_header *h)
{
	char buf[32], *end;
	const char *v = ts_meta_get(h, "codebook", buf, sizeof buf);
	if (!v || h->dtype != TS_I32)
		return 0;
	long k = strtol(v, &end, 10);
	return end != v && !*end && k >= 1 && k <= 1 << 20 ? (int)k : 0;
}

static void add_codes(struct stats *s, const ts_header *h, const void *rec)
{
	size_t n = ts_elems(h);
	for (size_t i = 0; i < n; i++) {
		double v = ts_get(h->dtype, rec, i);
		if (v >= 0 && v < s->codebook)
			s->codes[(long)v]++;
		else
			s->badcodes++;
	}
}


/* Merge one record's values (mean and squared deviations by two passes over
 * the record, then Chan's formula) so that long streams stay accurate. */
static void add_record(struct stats *s, const ts_header *h, const void *rec, double *tmp)
{
	size_t n = ts_elems(h), k = 0;
	for (size_t i = 0; i < n; i++) {
		double v = ts_get(h->dtype, rec, i);
		if (!isfinite(v)) {
			s->nonfinite++;
			continue;
		}
		tmp[k++] = v;
	}
	if (!k)
		return;
	double sum = 0, m2 = 0;
	for (size_t i = 0; i < k; i++) {
		sum += tmp[i];
		s->min = s->n || i ? fmin(s->min, tmp[i]) : tmp[i];
		s->max = s->n || i ? fmax(s->max, tmp[i]) : tmp[i];
	}
	double mean = sum / k;
	for (size_t i = 0; i < k; i++)
		m2 += (tmp[i] - mean) * (tmp[i] - mean);
	double total = (double)s->n + k, delta = mean - s->mean;
	s->mean += delta * k / total;
	s->m2 += m2 + delta * delta * s->n * k / total;
	s->n += k;
}

static void add_label(struct stats *s, int32_t label)
{
	if (label < 0)
		s->nolabel++;
	else if (label >= MAX_LABEL)
		s->biglabel++;
	else
		s->labels[label]++;
}

/* One line of output: "key  value" for people, "key\tvalue" for scripts. */
static int tsv, key_width = 12;
static void line(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void line(const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (tsv)
		printf("%s\t", key);
	else
		printf("%-*s ", key_width, key);
	vprintf(fmt, ap);
	putchar('\n');
	va_end(ap);
}

static void print_header(const ts_reader *r, const struct peek *p)
{
	const ts_header *h = &r->h;
	char shape[64];
	line("file", "%s", r->name);
	line("version", "%u.%u", p->head[8] | p->head[9] << 8, p->head[10] | p->head[11] << 8);
	line("dtype", "%s", ts_dtype_name(h->dtype));
	line("shape", "%s", ts_shape_str(h, shape, sizeof shape));
	line("elements", "%zu", ts_elems(h));
	line("labels", "%s", h->has_labels ? "yes" : "no");
	if (h->count == TS_COUNT_UNKNOWN)
		line("declared", "unknown");
	else
		line("declared", "%llu", (unsigned long long)h->count);
	/* How the stream ended (formats/tensor-stream.md, End of stream). */
	line("end", "%s", h->count != TS_COUNT_UNKNOWN ? "count"
			  : r->end_marker          ? "marker"
						   : "end-of-file");
	line("record_bytes", "%zu", ts_record_bytes(h));
	for (const char *m = h->meta; *m;) {
		size_t n = strcspn(m, "\n"), k = strcspn(m, "=");
		char key[80];
		snprintf(key, sizeof key, "meta.%.*s", (int)(k < n ? k : n), m);
		/* Class names are shown decoded, with the label counts. */
		if (strncmp(m, "class.", 6) != 0)
			line(key, "%.*s", (int)(k < n ? n - k - 1 : 0), m + k + 1);
		m += n + (m[n] == '\n');
	}
}

/* class.I NAME for every class named in the metadata (control bytes as '?'). */
static void print_classes(const ts_header *h)
{
	char num[32], name[VK_CLASS_NAME_MAX], key[32];
	if (!ts_meta_get(h, "classes", num, sizeof num))
		return;
	long n = strtol(num, NULL, 10);
	for (long i = 0; i < n && i < MAX_LABEL; i++) {
		if (!vk_class_name(h, (int)i, name, sizeof name))
			continue;
		for (char *c = name; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
		snprintf(key, sizeof key, "class.%ld", i);
		line(key, "%s", name);
	}
}

static void print_codes(const struct stats *s)
{
	int dead;
	double perplexity = vk_code_perplexity(s->codes, s->codebook, &dead);
	char key[32];
	line("codes_used", "%d of %d", s->codebook - dead, s->codebook);
	line("dead_codes", "%d", dead);
	line("perplexity", "%.6g", perplexity);
	if (s->badcodes)
		line("code.bad", "%llu", (unsigned long long)s->badcodes);
	for (int k = 0; k < s->codebook; k++)
		if (s->codes[k]) {
			snprintf(key, sizeof key, "code.%d", k);
			line(key, "%.0f", s->codes[k]);
		}
}

static void print_stats(const struct stats *s, uint64_t records, int has_labels)
{
	line("records", "%llu", (unsigned long long)records);
	line("values", "%llu", (unsigned long long)s->n);
	if (s->nonfinite)
		line("nonfinite", "%llu", (unsigned long long)s->nonfinite);
	if (s->n) {
		line("min", "%.9g", s->min);
		line("max", "%.9g", s->max);
		line("mean", "%.9g", s->mean);
		line("std", "%.9g", sqrt(s->m2 / s->n));
	}
	if (!has_labels)
		return;
	char key[32];
	for (int i = 0; i < MAX_LABEL; i++)
		if (s->labels[i]) {
			snprintf(key, sizeof key, "label.%d", i);
			line(key, "%llu", (unsigned long long)s->labels[i]);
		}
	if (s->nolabel)
		line("label.-1", "%llu", (unsigned long long)s->nolabel);
	if (s->biglabel)
		line("label.big", "%llu", (unsigned long long)s->biglabel);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	tsv = c.tsv;
	struct peek p = {0};
	ts_reader r;
	open_peeked(&p, &r, c.input);
	struct stats s = {.labels = vk_xcalloc(MAX_LABEL, sizeof(uint64_t)),
			  .codebook = codebook_of(&r.h)};
	s.codes = vk_xcalloc(s.codebook + 1, sizeof(double));
	void *rec = vk_xmalloc(r.data_bytes);
	double *tmp = vk_xmalloc(ts_elems(&r.h) * sizeof(double));
	int32_t label;
	int rc;
	while ((rc = ts_read(&r, rec, &label, &e)) > 0) {
		add_record(&s, &r.h, rec, tmp);
		if (s.codebook)
			add_codes(&s, &r.h, rec);
		if (r.h.has_labels)
			add_label(&s, label);
	}
	if (rc < 0)
		vk_die_error(&e);
	/* One column for the values: as wide as the longest key. */
	for (const char *m = r.h.meta; *m;) {
		size_t n = strcspn(m, "\n"), k = strcspn(m, "=");
		int w = 5 + (int)(k < n ? k : n);
		key_width = w > key_width ? w : key_width;
		m += n + (m[n] == '\n');
	}
	for (int i = MAX_LABEL - 1; i >= 0; i--)
		if (s.labels[i]) {
			int w = snprintf(NULL, 0, "label.%d", i);
			key_width = w > key_width ? w : key_width;
			break;
		}
	print_header(&r, &p);
	print_stats(&s, r.index, r.h.has_labels);
	print_classes(&r.h);
	if (s.codebook)
		print_codes(&s);
	fclose(r.f);
	if (p.f != stdin)
		fclose(p.f);
	ts_reader_close(&r);
	free(s.labels);
	free(s.codes);
	free(rec);
	free(tmp);
	vk_close_stdout();
	return 0;
}
