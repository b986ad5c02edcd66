/* txt2stream — text (one record a line of numbers) to a tensor stream. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "opts.h"
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
	"  -t, --dtype TYPE   element type: u8, f32 (default) or f64\n"
	"  -l, --labels       the first field of every line is an integer label\n"
	"  -c, --csv          comma-separated values: blank lines and lines starting\n"
	"                     with # are skipped, # starts a comment; a first line\n"
	"                     whose first field is not a number is a header, skipped\n"
	"  -h, --help         show this help and exit\n"
	"      --version      show the version and exit\n";

struct cmdline {
	const char *input, *output;
	int dtype, rank, labels, csv;
	unsigned dims[TS_MAX_RANK];
};

static int parse_dtype(const char *s)
{
	for (int d = TS_U8; d <= TS_F64; d++)
		if (!strcmp(s, ts_dtype_name(d)))
			return d;
	vk_usage_error("--dtype: '%s' is not u8, f32 or f64", s);
}

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'}, {"shape", required_argument, 0, 's'},
		{"dtype", required_argument, 0, 't'},  {"labels", no_argument, 0, 'l'},
		{"csv", no_argument, 0, 'c'},
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
		}
	}
	c->input = vk_input_arg(argc, argv, optind);
	if (c->rank) {
		vk_error e;
		ts_header h;
		if (ts_header_init(&h, c->dtype, c->rank, c->dims, &e))
			vk_usage_error("--shape: %s", e.msg);
	}
}

/* One record being read: its values, how many a line must have (0 until the
 * first line has fixed it), and the room allocated. */
struct record {
	unsigned char *data;
	size_t want, cap, size;
	int32_t label;
};

static void grow(struct record *r, size_t n)
{
	if (n > TS_MAX_ELEMS)
		vk_die("line 1 has more than %u values (the limit for one record)", TS_MAX_ELEMS);
	if (n <= r->cap)
		return;
	size_t cap = r->cap ? r->cap * 2 : 1024;
	r->data = realloc(r->data, (cap > TS_MAX_ELEMS ? TS_MAX_ELEMS : cap) * r->size);
	if (!r->data)
		vk_die("out of memory for line 1");
	r->cap = cap > TS_MAX_ELEMS ? TS_MAX_ELEMS : cap;
}

/* A CSV header: the first line, when its first field is not a number. */
static int is_header(const tsv_reader *t)
{
	char *end;
	strtod(t->tok, &end);
	return end == t->tok || *end;
}

/* Read one line into r. Returns 0 at the end of the input. */
static int read_line(tsv_reader *t, struct record *r, const struct cmdline *c)
{
	static int header_checked;
	vk_error e;
	size_t n = 0;
	int rc, first = c->labels;
	while ((rc = tsv_next(t, &e)) == TSV_FIELD) {
		if (c->csv && !header_checked) {
			header_checked = 1;
			if (is_header(t)) {
				if (tsv_skip_line(t, &e))
					vk_die_error(&e);
				continue;
			}
		}
		if (first) {
			if (tsv_label(t, &r->label, &e))
				vk_die_error(&e);
			first = 0;
			continue;
		}
		if (r->want && n == r->want)
			vk_die("%s: line %llu has more than %zu values", t->name, t->line, r->want);
		if (!r->want)
			grow(r, n + 1);
		if (tsv_value(t, c->dtype, r->data + n * r->size, &e))
			vk_die_error(&e);
		n++;
	}
	if (rc < 0)
		vk_die_error(&e);
	if (rc == TSV_EOF)
		return 0;
	if (!r->want && !n)
		vk_die("%s: line %llu has no values", t->name, t->line);
	if (!r->want)
		r->want = n;
	if (n != r->want || first)
		vk_die("%s: line %llu has %zu values%s, expected %zu", t->name, t->line, n,
		       first ? " and no label" : "", r->want);
	return 1;
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	vk_refuse_output_is_input(c.output, &c.input, 1);
	FILE *in = stdin;
	if (c.input && !(in = fopen(c.input, "r")))
		vk_die("cannot open %s:", c.input);
	tsv_reader t;
	if (c.csv)
		tsv_init_csv(&t, in, c.input ? c.input : "standard input");
	else
		tsv_init(&t, in, c.input ? c.input : "standard input");

	struct record r = {.size = ts_dtype_size(c.dtype)};
	if (c.rank) {
		ts_header h;
		ts_header_init(&h, c.dtype, c.rank, c.dims, &e);
		r.want = ts_elems(&h);
		r.data = vk_xmalloc(r.want * r.size);
	}
	int more = read_line(&t, &r, &c);
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
	h.has_labels = c.labels;
	if (ts_writer_open(&w, c.output, &h, &e))
		vk_die_error(&e);
	for (; more; more = read_line(&t, &r, &c))
		if (ts_write(&w, r.data, r.label, &e))
			vk_die_error(&e);
	if (ts_writer_close(&w, &e))
		vk_die_error(&e);
	free(r.data);
	if (in != stdin)
		fclose(in);
	return 0;
}
