/* stream-cat — concatenate tensor streams of the same shape and select records:
 * by label or class name, by record number, with --skip, -n and --every. */
#include <stdlib.h>
#include <string.h>

#include "classes.h"
#include "err.h"
#include "indexset.h"
#include "manifest.h"
#include "opts.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: stream-cat [OPTION]... [FILE]...\n"
	"Concatenate tensor streams of the same shape to standard output, keeping\n"
	"the selected records and all metadata.\n"
	"With no FILE, or when FILE is -, read standard input.\n\n"
	"  -o, --output FILE   write FILE (atomically) instead of standard output\n"
	"  -l, --label L[,L]   keep records with one of these labels (ranges A-B too)\n"
	"  -c, --class NAME[,NAME]  keep records of these named classes (a comma in a\n"
	"                      name is written %2C)\n"
	"  -i, --index LIST|FILE  keep these record numbers (0-based across all inputs):\n"
	"                      a list like 3,10-19, or a file of numbers and ranges\n"
	"  -m, --manifest FILE  img2stream --manifest's FILE for the input: --index's\n"
	"                      file then names records by their files, one a line\n"
	"  -v, --invert        keep the records that --label, --class and --index do not\n"
	"  -s, --skip N        drop the first N selected records\n"
	"  -n, --count N       write at most N records\n"
	"  -e, --every K       keep every K-th selected record (after --skip)\n"
	"  -h, --help          show this help and exit\n"
	"      --version       show the version and exit\n";

#define MAX_CLASS_ARGS 64

struct cmdline {
	const char *output;
	unsigned long long skip, count, every;
	const char *labels[MAX_CLASS_ARGS], *classes[MAX_CLASS_ARGS], *index, *manifest;
	int n_labels, n_classes, invert;
	char **inputs;
	int n_inputs;
};

/* What to keep: records whose label is in the label set (when given) and
 * whose number is in the index set (when given); --invert keeps the others. */
struct selection {
	int by_label, by_index, invert;
	vk_index_set labels;   /* label values, kept as ranges like record numbers */
	vk_index_set index;
	uint64_t manifest_n;   /* records --manifest lists (0 without it) */
};

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'}, {"skip", required_argument, 0, 's'},
		{"count", required_argument, 0, 'n'},  {"every", required_argument, 0, 'e'},
		{"label", required_argument, 0, 'l'},  {"class", required_argument, 0, 'c'},
		{"index", required_argument, 0, 'i'},  {"invert", no_argument, 0, 'v'},
		{"manifest", required_argument, 0, 'm'},
		{"help", no_argument, 0, 'h'},         {"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->count = (unsigned long long)-1;
	c->every = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, "o:s:n:e:l:c:i:m:vh", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'o': c->output = optarg; break;
		case 's': c->skip = vk_parse_long("--skip", optarg, 0, 1L << 40); break;
		case 'n': c->count = vk_parse_long("--count", optarg, 0, 1L << 40); break;
		case 'e': c->every = vk_parse_long("--every", optarg, 1, 1L << 40); break;
		case 'l':
		case 'c':
			if (c->n_labels + c->n_classes == MAX_CLASS_ARGS)
				vk_usage_error("at most %d --label and --class options", MAX_CLASS_ARGS);
			if (ch == 'l')
				c->labels[c->n_labels++] = optarg;
			else
				c->classes[c->n_classes++] = optarg;
			break;
		case 'i':
			if (c->index)
				vk_usage_error("--index given twice (put all numbers in one list or file)");
			c->index = optarg;
			break;
		case 'v': c->invert = 1; break;
		case 'm': c->manifest = optarg; break;
		}
	}
	c->inputs = argv + optind;
	c->n_inputs = argc - optind;
	for (int i = 0; i < c->n_labels; i++)
		if (!vk_index_is_list(c->labels[i]))
			vk_usage_error("--label: '%s' is not a list of labels like 0,3 or 2-5",
				       c->labels[i]);
	if (c->manifest && (!c->index || vk_index_is_list(c->index)))
		vk_option_has_no_effect("--manifest", "without --index FILE (the file of the "
					"records' file names)");
	if (c->invert && !c->n_labels && !c->n_classes && !c->index)
		vk_option_has_no_effect("--invert", "without --label, --class or --index");
}

static int same_shape(const ts_header *a, const ts_header *b)
{
	return a->dtype == b->dtype && a->rank == b->rank && a->has_labels == b->has_labels &&
	       !memcmp(a->dims, b->dims, sizeof a->dims);
}

/* Each --class NAME,NAME: look the names up in the first input's classes. */
static void add_classes(struct selection *s, const char *arg, const ts_reader *r)
{
	vk_error e;
	char *list = strdup(arg), name[VK_CLASS_NAME_MAX], num[32];
	if (!list)
		vk_die("out of memory");
	for (char *tok = list, *next; tok; tok = next) {
		next = strchr(tok, ',');
		if (next)
			*next++ = 0;
		vk_class_decode(tok, name, sizeof name);
		int k = vk_class_find(&r->h, name);
		if (k < 0) {
			if (!ts_meta_get(&r->h, "classes", num, sizeof num))
				vk_die("--class %s: %s has no class names (select by number with "
				       "--label)", tok, r->name);
			vk_die("--class: %s has no class named '%s' (stream-info lists its %s "
			       "classes)", r->name, name, num);
		}
		if (vk_index_set_add(&s->labels, (uint64_t)k, (uint64_t)k + 1, &e))
			vk_die_error(&e);
	}
	free(list);
}

static void selection_init(struct selection *s, const struct cmdline *c, const ts_reader *r)
{
	vk_error e;
	memset(s, 0, sizeof *s);
	vk_index_set_init(&s->labels);
	vk_index_set_init(&s->index);
	s->invert = c->invert;
	s->by_label = c->n_labels + c->n_classes > 0;
	if (s->by_label && !r->h.has_labels)
		vk_die("%s: records have no labels to select by (--%s)", r->name,
		       c->n_labels ? "label" : "class");
	for (int i = 0; i < c->n_labels; i++)
		if (vk_index_set_parse(&s->labels, c->labels[i], "--label", &e))
			vk_usage_error("%s", e.msg);
	for (int i = 0; i < c->n_classes; i++)
		add_classes(s, c->classes[i], r);
	vk_index_set_finish(&s->labels);
	if (c->index) {
		s->by_index = 1;
		int rc;
		if (vk_index_is_list(c->index)) {
			rc = vk_index_set_parse(&s->index, c->index, "--index", &e);
		} else {
			FILE *f = strcmp(c->index, "-") ? fopen(c->index, "r") : stdin;
			if (!f)
				vk_die("--index: cannot open %s:", c->index);
			vk_manifest m;
			if (c->manifest && vk_manifest_load(&m, c->manifest, &e))
				vk_die_error(&e);
			rc = c->manifest ? vk_manifest_read_index(&m, f, c->index, &s->index, &e) :
					   vk_index_set_read(&s->index, f, c->index, &e);
			if (c->manifest) {
				s->manifest_n = m.n;
				vk_manifest_free(&m);
			}
			if (f != stdin)
				fclose(f);
		}
		if (rc)
			vk_die_error(&e);
		vk_index_set_finish(&s->index);
	}
}

/* Labels come in any order: a binary search over the label ranges. */
static int label_in(const vk_index_set *set, int32_t label)
{
	if (label < 0)
		return 0;
	size_t lo = 0, hi = set->n;
	uint64_t l = (uint64_t)label;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (set->r[mid].hi <= l)
			lo = mid + 1;
		else if (set->r[mid].lo > l)
			hi = mid;
		else
			return 1;
	}
	return 0;
}

static int selected(struct selection *s, uint64_t k, int32_t label)
{
	int keep = (!s->by_label || label_in(&s->labels, label)) &&
		   (!s->by_index || vk_index_set_next(&s->index, k));
	return keep != s->invert;
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
	if (c.index && !vk_index_is_list(c.index)) {
		const char *what[n_inputs + 1], *paths[n_inputs + 1];
		for (int i = 0; i < n_inputs; i++)
			what[i] = "FILE", paths[i] = inputs[i];
		what[n_inputs] = "--index", paths[n_inputs] = c.index;
		vk_stdin_once(n_inputs + 1, what, paths);
	}

	ts_reader r;
	ts_writer w;
	struct selection sel;
	unsigned long long seen = 0, picked = 0, written = 0;
	void *rec = NULL;
	int ended = 1;
	for (int i = 0; i < n_inputs; i++) {
		if (ts_reader_open(&r, inputs[i], &e))
			vk_die_error(&e);
		if (i == 0) {
			selection_init(&sel, &c, &r);
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
			if (!selected(&sel, seen++, label))
				continue;
			unsigned long long k = picked++;
			if (k < c.skip || (k - c.skip) % c.every)
				continue;
			if (ts_write(&w, rec, label, &e))
				vk_die_error(&e);
			written++;
		}
		if (written < c.count && rc < 0)
			vk_die_error(&e);
		ended = written < c.count;
		ts_reader_close(&r);
	}
	/* A record number past the end is a mistake (an index file for another
	 * stream): say so rather than write fewer records than asked. Only
	 * known when every input was read to its end. */
	if (ended && sel.by_index && vk_index_set_end(&sel.index) > seen) {
		ts_writer_abort(&w);
		vk_die("--index: record %llu is past the end (the input has %llu records, "
		       "numbered from 0)", (unsigned long long)vk_index_set_end(&sel.index) - 1,
		       seen);
	}
	if (ended && c.manifest && sel.manifest_n != seen) {
		ts_writer_abort(&w);
		vk_die("--manifest %s lists %llu records, but the input has %llu: the manifest "
		       "of another stream?", c.manifest, (unsigned long long)sel.manifest_n, seen);
	}
	free(rec);
	vk_index_set_free(&sel.labels);
	vk_index_set_free(&sel.index);
	if (ts_writer_close(&w, &e))
		vk_die_error(&e);
	return 0;
}
