/* stream2npy — a tensor stream as a NumPy .npy array of shape (N, record shape). */
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "err.h"
#include "npy.h"
#include "opts.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: stream2npy [OPTION]... [FILE]\n"
	"Write a tensor stream as a NumPy .npy array (format 1.0) of shape\n"
	"(N, record shape): u8 as |u1, f32 as <f4, f64 as <f8. Metadata is dropped.\n"
	"With no FILE, or when FILE is -, read standard input.\n\n"
	"  -o, --output FILE  write FILE (atomically) instead of standard output\n"
	"  -l, --labels FILE  also write the labels to FILE as an int32 .npy of shape (N,)\n"
	"  -h, --help         show this help and exit\n"
	"      --version      show the version and exit\n";

struct cmdline {
	const char *input, *output, *labels;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'}, {"labels", required_argument, 0, 'l'},
		{"help", no_argument, 0, 'h'},         {"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	int ch;
	while ((ch = getopt_long(argc, argv, "o:l:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'o': c->output = optarg; break;
		case 'l': c->labels = optarg; break;
		}
	}
	if (c->labels && !strcmp(c->labels, "-"))
		vk_usage_error("--labels: needs a file name (standard output holds the array)");
	if (c->labels && c->output && !strcmp(c->labels, c->output))
		vk_usage_error("--labels and --output name the same file, %s", c->output);
	c->input = vk_input_arg(argc, argv, optind);
}

/* One .npy output. With the count unknown the header first says 0 records and
 * is rewritten at the end: NumPy's header keeps room for 21 digits in the first
 * dimension, so its size does not change. Standard output, a FIFO or a device
 * cannot be rewritten, so there the data waits in a temporary file until the
 * count is known. */
struct npy_out {
	vk_afile a;
	npy_header h;
	FILE *data;     /* where records go: a.f, or the temporary file */
	int unknown;
};

static void write_header(struct npy_out *o, uint64_t n)
{
	unsigned char buf[512];
	vk_error e;
	o->h.shape[0] = n;
	int size = npy_header_encode(&o->h, buf, sizeof buf, &e);
	if (size < 0)
		vk_die_error(&e);
	if (fwrite(buf, 1, size, o->a.f) != (size_t)size)
		vk_die("error writing %s:", o->a.is_stdout ? "standard output" : o->a.path);
}

static void out_open(struct npy_out *o, const char *path, int dtype, const ts_header *h)
{
	vk_error e;
	memset(o, 0, sizeof *o);
	if (vk_afile_open(&o->a, path, 1, &e))
		vk_die_error(&e);
	o->h.dtype = dtype;
	o->h.ndim = 1 + (h ? h->rank : 0);
	for (int i = 1; i < o->h.ndim; i++)
		o->h.shape[i] = h->dims[i - 1];
	o->unknown = h ? h->count == TS_COUNT_UNKNOWN : 0;
	o->data = o->a.f;
	if (o->unknown && (o->a.is_stdout || o->a.in_place)) { /* cannot seek back */
		if (!(o->data = tmpfile()))
			vk_die("cannot create a temporary file:");
		return;
	}
	write_header(o, h && !o->unknown ? h->count : 0);
}

static void copy_spool(struct npy_out *o)
{
	char buf[1 << 16];
	size_t got;
	rewind(o->data);
	while ((got = fread(buf, 1, sizeof buf, o->data)) > 0)
		if (fwrite(buf, 1, got, o->a.f) != got)
			vk_die("error writing %s:", o->a.is_stdout ? "standard output" : o->a.path);
	if (ferror(o->data))
		vk_die("error reading the temporary file:");
	fclose(o->data);
}

/* Everything but the rename: the final header, the spooled data. */
static void out_finish(struct npy_out *o, uint64_t n)
{
	if (o->data != o->a.f) {
		if (fflush(o->data))
			vk_die("error writing the temporary file:");
		write_header(o, n);
		copy_spool(o);
	} else if (o->unknown) {
		if (fseek(o->a.f, 0, SEEK_SET))
			vk_die("cannot rewrite the header of %s:", o->a.path);
		write_header(o, n);
	}
}

static const int NPY_OF_TS[] = {[TS_U8] = NPY_U1, [TS_F32] = NPY_F4, [TS_F64] = NPY_F8,
				       [TS_I32] = NPY_I4};

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	vk_refuse_output_is_input(c.output, &c.input, 1);
	if (c.labels)
		vk_refuse_output_is_input(c.labels, &c.input, 1);
	ts_reader r;
	if (ts_reader_open(&r, c.input, &e))
		vk_die_error(&e);
	if (c.labels && !r.h.has_labels)
		vk_die("%s: has no labels to write to %s", r.name, c.labels);
	struct npy_out data, labels;
	out_open(&data, c.output, NPY_OF_TS[r.h.dtype], &r.h);
	if (c.labels) {
		ts_header flat = r.h;
		flat.rank = 0;
		out_open(&labels, c.labels, NPY_I4, &flat);
	}
	void *rec = vk_xmalloc(r.data_bytes);
	int32_t label;
	int rc;
	while ((rc = ts_read(&r, rec, &label, &e)) > 0) {
		if (fwrite(rec, 1, r.data_bytes, data.data) != r.data_bytes)
			vk_die("error writing %s:", data.a.is_stdout ? "standard output" : data.a.path);
		unsigned char le[4] = {label, label >> 8, label >> 16, (uint32_t)label >> 24};
		if (c.labels && fwrite(le, 1, 4, labels.data) != 4)
			vk_die("error writing %s:", c.labels);
	}
	if (rc < 0)
		vk_die_error(&e);
	/* The array and its labels appear together or not at all. */
	out_finish(&data, r.index);
	if (c.labels)
		out_finish(&labels, r.index);
	vk_afile *outs[2] = {&data.a, &labels.a};
	if (vk_afile_commit_all(outs, c.labels ? 2 : 1, &e))
		vk_die_error(&e);
	free(rec);
	ts_reader_close(&r);
	return 0;
}
