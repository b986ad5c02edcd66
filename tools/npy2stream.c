/* npy2stream — a NumPy .npy array as a tensor stream, one record per row. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "npy.h"
#include "opts.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: npy2stream [OPTION]... [FILE.npy]\n"
	"Convert a NumPy .npy array (format 1.0, 2.0 or 3.0; dtype |u1, <f4 or <f8;\n"
	"C order) to a tensor stream: the first axis counts the records, the others\n"
	"are the record shape (1 to 4 axes); a 1-D array gives records of one element.\n"
	"With no FILE, or when FILE is -, read standard input.\n\n"
	"  -o, --output FILE  write FILE (atomically) instead of standard output\n"
	"  -l, --labels FILE  attach labels from FILE, a 1-D integer .npy of length N\n"
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
	c->input = vk_input_arg(argc, argv, optind);
	if (c->labels && (!strcmp(c->labels, "-") || !c->input))
		vk_usage_error("--labels: needs a file name, and the array a file name too");
}

/* An open .npy input and the records still to come from it. */
struct npy_in {
	FILE *f;
	const char *name;
	npy_header h;
	size_t row_bytes;
};

static void in_open(struct npy_in *in, const char *path)
{
	vk_error e;
	in->name = path ? path : "standard input";
	in->f = path ? fopen(path, "rb") : stdin;
	if (!path && vk_refuse_terminal_input(&e))
		vk_die_error(&e);
	if (!in->f)
		vk_die("cannot open %s:", path);
	if (npy_header_read(in->f, in->name, &in->h, &e))
		vk_die_error(&e);
	if (in->h.ndim == 0)
		vk_die("%s: a 0-dimensional array has no records", in->name);
	if (in->h.shape[0] > TS_MAX_COUNT)
		vk_die("%s: %llu records is over the limit", in->name,
		       (unsigned long long)in->h.shape[0]);
	uint64_t row = npy_dtype_size(in->h.dtype);
	for (int i = 1; i < in->h.ndim; i++)
		row *= in->h.shape[i];
	in->row_bytes = row; /* bounded: checked against the stream's limits below */
}

static void in_read(struct npy_in *in, void *row, uint64_t i)
{
	size_t got = fread(row, 1, in->row_bytes, in->f);
	if (ferror(in->f))
		vk_die("%s: read error:", in->name);
	if (got < in->row_bytes)
		vk_die("%s: truncated: record %llu of %llu has %zu of %zu bytes", in->name,
		       (unsigned long long)i, (unsigned long long)in->h.shape[0], got,
		       in->row_bytes);
}

static void in_close(struct npy_in *in)
{
	if (getc(in->f) != EOF)
		vk_die("%s: data after the last of %llu records", in->name,
		       (unsigned long long)in->h.shape[0]);
	if (in->f != stdin)
		fclose(in->f);
}

/* The stream header for the array: record shape = the axes after the first. */
static void stream_header(const struct npy_in *in, ts_header *h)
{
	static const int TS_OF_NPY[] = {[NPY_U1] = TS_U8, [NPY_F4] = TS_F32, [NPY_F8] = TS_F64};
	vk_error e;
	int dtype = in->h.dtype <= NPY_F8 ? TS_OF_NPY[in->h.dtype] : 0;
	if (!dtype)
		vk_die("%s: dtype %s is not a record type (use |u1, <f4 or <f8)", in->name,
		       npy_descr(in->h.dtype));
	if (in->h.ndim > TS_MAX_RANK + 1)
		vk_die("%s: %d axes; records may have at most %d (the first axis counts them)",
		       in->name, in->h.ndim, TS_MAX_RANK);
	uint32_t dims[TS_MAX_RANK] = {1};
	int rank = in->h.ndim > 1 ? in->h.ndim - 1 : 1;
	for (int i = 1; i < in->h.ndim; i++)
		dims[i - 1] = in->h.shape[i] > UINT32_MAX ? 0 : (uint32_t)in->h.shape[i];
	if (ts_header_init(h, dtype, rank, dims, &e))
		vk_die("%s: record shape: %s", in->name, e.msg);
	h->count = in->h.shape[0];
}

static void check_labels(const struct npy_in *lab, const struct npy_in *in)
{
	int t = lab->h.dtype;
	if (t != NPY_U1 && t != NPY_I1 && t != NPY_I2 && t != NPY_I4 && t != NPY_I8)
		vk_die("%s: labels must be integers, not %s", lab->name, npy_descr(t));
	if (lab->h.ndim != 1 || lab->h.shape[0] != in->h.shape[0])
		vk_die("%s: labels must be a 1-D array of %llu (one per record)", lab->name,
		       (unsigned long long)in->h.shape[0]);
}

/* Little-endian integer of the labels' dtype, checked to be a label. */
static int32_t next_label(struct npy_in *lab, uint64_t i)
{
	unsigned char b[8];
	in_read(lab, b, i);
	uint64_t u = 0;
	for (size_t k = 0; k < lab->row_bytes; k++)
		u |= (uint64_t)b[k] << (8 * k);
	int64_t v = lab->h.dtype == NPY_U1 ? (int64_t)u
		  : (int64_t)(u << (64 - 8 * lab->row_bytes)) >> (64 - 8 * lab->row_bytes);
	if (v < -1 || v > INT32_MAX)
		vk_die("%s: label %lld of record %llu is not -1 or a class index", lab->name,
		       (long long)v, (unsigned long long)i);
	return (int32_t)v;
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	const char *inputs[] = {c.input, c.labels};
	vk_refuse_output_is_input(c.output, inputs, c.labels ? 2 : 1);
	struct npy_in in, lab;
	in_open(&in, c.input);
	ts_header h;
	stream_header(&in, &h);
	if (c.labels) {
		in_open(&lab, c.labels);
		check_labels(&lab, &in);
		h.has_labels = 1;
	}
	ts_writer w;
	if (ts_writer_open(&w, c.output, &h, &e))
		vk_die_error(&e);
	void *rec = vk_xmalloc(in.row_bytes);
	for (uint64_t i = 0; i < h.count; i++) {
		int32_t label = c.labels ? next_label(&lab, i) : TS_NO_LABEL;
		in_read(&in, rec, i);
		if (ts_write(&w, rec, label, &e))
			vk_die_error(&e);
	}
	in_close(&in);
	if (c.labels)
		in_close(&lab);
	if (ts_writer_close(&w, &e))
		vk_die_error(&e);
	free(rec);
	return 0;
}
