/* stream-cat — concatenate tensor streams of the same shape, with --skip, -n, --every. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "opts.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: stream-cat [OPTION]... [FILE]...\n"
	"Concatenate tensor streams of the same shape to standard output.\n"
	"With no FILE, or when FILE is -, read standard input.\n\n"
	"  -o, --output FILE  write FILE (atomically) instead of standard output\n"
	"  -s, --skip N       drop the first N records\n"
	"  -n, --count N      write at most N records\n"
	"  -e, --every K      keep every K-th record (after --skip)\n"
	"  -h, --help         show this help and exit\n"
	"      --version      show the version and exit\n";

struct cmdline {
	const char *output;
	unsigned long long skip, count, every;
	char **inputs;
	int n_inputs;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'}, {"skip", required_argument, 0, 's'},
		{"count", required_argument, 0, 'n'},  {"every", required_argument, 0, 'e'},
		{"help", no_argument, 0, 'h'},         {"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->count = (unsigned long long)-1;
	c->every = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, "o:s:n:e:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'o': c->output = optarg; break;
		case 's': c->skip = vk_parse_long("--skip", optarg, 0, 1L << 40); break;
		case 'n': c->count = vk_parse_long("--count", optarg, 0, 1L << 40); break;
		case 'e': c->every = vk_parse_long("--every", optarg, 1, 1L << 40); break;
		}
	}
	c->inputs = argv + optind;
	c->n_inputs = argc - optind;
}

static int same_shape(const ts_header *a, const ts_header *b)
{
	return a->dtype == b->dtype && a->rank == b->rank && a->has_labels == b->has_labels &&
	       !memcmp(a->dims, b->dims, sizeof a->dims);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	static char *stdin_only[] = {"-"};
	char **inputs = c.n_inputs ? c.inputs : stdin_only;
	int n_inputs = c.n_inputs ? c.n_inputs : 1;
	vk_refuse_output_is_input(c.output, (const char *const *)inputs, n_inputs);

	ts_reader r;
	ts_writer w;
	unsigned long long seen = 0, written = 0;
	void *rec = NULL;
	for (int i = 0; i < n_inputs; i++) {
		if (ts_reader_open(&r, inputs[i], &e))
			vk_die_error(&e);
		if (i == 0) {
			ts_header h = r.h;
			h.count = TS_COUNT_UNKNOWN;
			/* Joined shards are the whole again: stream-split's shard=I/K goes,
			 * so split then cat gives back the original bytes. */
			if (n_inputs > 1)
				ts_meta_unset(&h, "shard");
			if (ts_writer_open(&w, c.output, &h, &e))
				vk_die_error(&e);
			rec = vk_xmalloc(r.data_bytes);
		} else if (!same_shape(&r.h, &w.h)) {
			char a[64], b[64];
			vk_die("%s: shape %s %s%s differs from the first input's %s %s%s", r.name,
			       ts_shape_str(&r.h, a, sizeof a), ts_dtype_name(r.h.dtype),
			       r.h.has_labels ? " with labels" : "", ts_shape_str(&w.h, b, sizeof b),
			       ts_dtype_name(w.h.dtype), w.h.has_labels ? " with labels" : "");
		}
		int32_t label;
		int rc = 0;
		while (written < c.count && (rc = ts_read(&r, rec, &label, &e)) > 0) {
			unsigned long long k = seen++;
			if (k < c.skip || (k - c.skip) % c.every)
				continue;
			if (ts_write(&w, rec, label, &e))
				vk_die_error(&e);
			written++;
		}
		if (written < c.count && rc < 0)
			vk_die_error(&e);
		ts_reader_close(&r);
	}
	free(rec);
	if (ts_writer_close(&w, &e))
		vk_die_error(&e);
	return 0;
}
