/* npy2stream — a NumPy .npy array as a tensor stream, one record per row. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "npy.h"
#include "npz.h"
#include "opts.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: npy2stream [OPTION]... [FILE.npy | FILE.npz:NAME]\n"
	"Convert a NumPy .npy array (format 1.0, 2.0 or 3.0; C order) to a tensor\n"
	"stream: the first axis counts the records, the others are the record shape\n"
	"(1 to 4 axes); a 1-D array gives records of one element. Element types:\n"
	"|u1 (uint8) stays u8, <f4 and <f8 stay f32 and f64; |i1, <i2, <u2 and <f2\n"
	"(int8, int16, uint16, float16) become f32, <i4, <u4, <i8 and <u8 become f64,\n"
	"values unchanged (exact, but for 64-bit integers beyond 2^53, rounded);\n"
	"|b1 (bool) becomes u8 0 and 255 (which every tool reads as 0.0 and 1.0).\n"
	"FILE.npz:NAME reads the array NAME of an .npz archive (numpy.savez or\n"
	"savez_compressed); labels may come from one too (-l FILE.npz:y).\n"
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
	char zip[4096];
	const char *member;
	const char *file = npz_split(path, zip, sizeof zip, &member);
	in->name = path ? path : "standard input";
	if (!path && vk_refuse_terminal_input(&e))
		vk_die_error(&e);
	if (member) {
		if (!(in->f = npz_open_member(file, member, &e)))
			vk_die_error(&e);
	} else if (!(in->f = path ? fopen(path, "rb") : stdin)) {
		vk_die("cannot open %s:", path);
	}
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
static const int TS_OF_NPY[] = {
	[NPY_U1] = TS_U8,  [NPY_F4] = TS_F32, [NPY_F8] = TS_F64, [NPY_I1] = TS_F32,
	[NPY_I2] = TS_F32, [NPY_I4] = TS_F64, [NPY_I8] = TS_F64, [NPY_U2] = TS_F32,
	[NPY_U4] = TS_F64, [NPY_U8] = TS_F64, [NPY_F2] = TS_F32, [NPY_B1] = TS_U8};

static void stream_header(const struct npy_in *in, ts_header *h)
{
	vk_error e;
	int dtype = in->h.dtype > 0 && in->h.dtype <= NPY_B1 ? TS_OF_NPY[in->h.dtype] : 0;
	if (!dtype)
		vk_die("%s: dtype %s is not a record type", in->name, npy_descr(in->h.dtype));
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
	if (t != NPY_U1 && t != NPY_I1 && t != NPY_I2 && t != NPY_I4 && t != NPY_I8 &&
	    t != NPY_U2 && t != NPY_U4 && t != NPY_U8)
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
	int t = lab->h.dtype;
	int is_unsigned = t == NPY_U1 || t == NPY_U2 || t == NPY_U4 || t == NPY_U8;
	int64_t v = is_unsigned ? (u > INT64_MAX ? INT64_MAX : (int64_t)u)
		  : (int64_t)(u << (64 - 8 * lab->row_bytes)) >> (64 - 8 * lab->row_bytes);
	if (v < -1 || v > INT32_MAX)
		vk_die("%s: label %lld of record %llu is not -1 or a class index", lab->name,
		       (long long)v, (unsigned long long)i);
	return (int32_t)v;
}

/* IEEE binary16 to binary32, exactly (subnormals, infinities and NaN kept). */
static float half_to_float(uint16_t h)
{
	uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, man = h & 1023, bits;
	if (exp == 31) {
		bits = sign | 0x7f800000u | man << 13;
	} else if (exp) {
		bits = sign | (exp + 112) << 23 | man << 13;
	} else if (!man) {
		bits = sign;
	} else { /* subnormal: normalise */
		int e = -1;
		do {
			e++;
			man <<= 1;
		} while (!(man & 1024));
		bits = sign | (uint32_t)(112 - e) << 23 | (man & 1023) << 13;
	}
	float f;
	memcpy(&f, &bits, 4);
	return f;
}

/* The n little-endian elements of an npy row as the stream's element type
 * (TS_OF_NPY); into out, which has room for n of them. */
static const void *convert_row(int t, const unsigned char *in, size_t n, void *out)
{
	float *f = out;
	double *d = out;
	unsigned char *u = out;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *b = in + i * npy_dtype_size(t);
		uint64_t v = 0;
		for (size_t k = 0; k < npy_dtype_size(t); k++)
			v |= (uint64_t)b[k] << (8 * k);
		switch (t) {
		case NPY_B1: u[i] = v ? 255 : 0; break;
		case NPY_I1: f[i] = (float)(int8_t)v; break;
		case NPY_I2: f[i] = (float)(int16_t)v; break;
		case NPY_U2: f[i] = (float)(uint16_t)v; break;
		case NPY_F2: f[i] = half_to_float((uint16_t)v); break;
		case NPY_I4: d[i] = (double)(int32_t)v; break;
		case NPY_U4: d[i] = (double)(uint32_t)v; break;
		case NPY_I8: d[i] = (double)(int64_t)v; break;
		case NPY_U8: d[i] = (double)v; break;
		}
	}
	return out;
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
	int t = in.h.dtype, same = t == NPY_U1 || t == NPY_F4 || t == NPY_F8;
	void *conv = same ? NULL : vk_xmalloc(ts_data_bytes(&h));
	for (uint64_t i = 0; i < h.count; i++) {
		int32_t label = c.labels ? next_label(&lab, i) : TS_NO_LABEL;
		in_read(&in, rec, i);
		const void *data = same ? rec : convert_row(t, rec, ts_elems(&h), conv);
		if (ts_write(&w, data, label, &e))
			vk_die_error(&e);
	}
	free(conv);
	in_close(&in);
	if (c.labels)
		in_close(&lab);
	if (ts_writer_close(&w, &e))
		vk_die_error(&e);
	free(rec);
	return 0;
}
