/* idx2stream — convert IDX files (MNIST, Fashion-MNIST) to a tensor stream,
 * with the labels of a second IDX file embedded in the records. */
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "idx.h"
#include "opts.h"
#include "progress.h"
#include "rng.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: idx2stream [OPTION]... IMAGES [LABELS]\n"
	"Convert an IDX file of unsigned bytes (plain or gzip-compressed), such as\n"
	"MNIST's train-images-idx3-ubyte.gz, to a tensor stream on standard output:\n"
	"one record per image, shaped like the image (28x28), u8 by default.\n"
	"With LABELS (an IDX file of one byte per image) each record carries its label.\n"
	"IMAGES may be - for standard input.\n\n"
	"  -o, --output FILE       write FILE (atomically) instead of standard output\n"
	"  -n, --count N           convert only the first N images\n"
	"  -f, --float             write f32 values in [0,1] (byte/255) instead of u8\n"
	"  -b, --binarize[=MODE]   make every pixel 0 or 1: MODE 'threshold' (the default)\n"
	"                          maps bytes >= 128 to 1; 'stochastic' draws 1 with\n"
	"                          probability byte/255. Without --float, 1 is written\n"
	"                          as the byte 255 (u8 values mean byte/255)\n"
	"  -s, --seed N            seed for --binarize=stochastic (default 1)\n"
	"  -h, --help              show this help and exit\n"
	"      --version           show the version and exit\n";

enum binarize { BIN_NONE, BIN_THRESHOLD, BIN_STOCHASTIC };

struct cmdline {
	const char *output, *images, *labels;
	unsigned long long count;
	int as_float;
	enum binarize binarize;
	unsigned long long seed;
};

static enum binarize parse_binarize(const char *s)
{
	if (!s || strcmp(s, "threshold") == 0)
		return BIN_THRESHOLD;
	if (strcmp(s, "stochastic") == 0)
		return BIN_STOCHASTIC;
	vk_usage_error("--binarize: '%s' is not 'threshold' or 'stochastic'", s);
}

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'}, {"count", required_argument, 0, 'n'},
		{"float", no_argument, 0, 'f'},        {"binarize", optional_argument, 0, 'b'},
		{"seed", required_argument, 0, 's'},   {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION}, {0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->count = VK_IDX_MAX_COUNT;
	c->seed = 1;
	int ch, seed_given = 0;
	while ((ch = getopt_long(argc, argv, "o:n:fb::s:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'o': c->output = optarg; break;
		case 'n': c->count = vk_parse_long("--count", optarg, 0, VK_IDX_MAX_COUNT); break;
		case 'f': c->as_float = 1; break;
		case 'b': c->binarize = parse_binarize(optarg); break;
		case 's':
			c->seed = vk_parse_long("--seed", optarg, 0, (1L << 62));
			seed_given = 1;
			break;
		}
	}
	if (seed_given && c->binarize != BIN_STOCHASTIC)
		vk_option_has_no_effect("--seed", "without --binarize=stochastic (nothing is drawn)");
	if (optind == argc)
		vk_usage_error("missing IMAGES operand (an IDX file)");
	if (argc - optind > 2)
		vk_usage_error("too many operands (IMAGES and at most one LABELS file)");
	c->images = argv[optind];
	c->labels = argc - optind == 2 ? argv[optind + 1] : NULL;
	if (c->labels && strcmp(c->labels, "-") == 0 && strcmp(c->images, "-") == 0)
		vk_usage_error("IMAGES and LABELS cannot both be standard input");
}

static void open_labels(vk_idx *lab, const char *path, const vk_idx *img)
{
	vk_error e;
	if (vk_idx_open(lab, path, &e))
		vk_die_error(&e);
	if (lab->record_bytes != 1)
		vk_die("%s: labels must be one byte per image, not %zu bytes", lab->name,
		       lab->record_bytes);
	if (lab->count != img->count)
		vk_die("%s has %llu images but %s has %llu labels", img->name,
		       (unsigned long long)img->count, lab->name, (unsigned long long)lab->count);
}

/* The largest of the first n labels, from a first pass over the (small) labels
 * file, so the header can declare classes= without holding all labels. */
static int max_label(const char *path, uint64_t n)
{
	vk_idx x;
	vk_error e;
	unsigned char buf[65536];
	int max = 0;
	if (vk_idx_open(&x, path, &e))
		vk_die_error(&e);
	while (n > 0) {
		size_t got;
		if (vk_idx_read(&x, buf, n < sizeof buf ? n : sizeof buf, &got, &e))
			vk_die_error(&e);
		for (size_t i = 0; i < got; i++)
			max = buf[i] > max ? buf[i] : max;
		n -= got;
	}
	vk_idx_close(&x);
	return max;
}

static void open_output(ts_writer *w, const struct cmdline *c, const vk_idx *img,
			uint64_t n, int classes)
{
	vk_error e;
	ts_header h;
	uint32_t one = 1;
	int rank = img->rank ? img->rank : 1;
	if (ts_header_init(&h, c->as_float ? TS_F32 : TS_U8, rank, img->rank ? img->dims : &one,
			   &e))
		vk_die("%s: %s", img->name, e.msg);
	h.count = n;
	h.has_labels = classes > 0;
	char source[256], num[32];
	snprintf(source, sizeof source, "%s", img->name);
	int bad = ts_meta_set(&h, "kind", "image", &e) ||
		  ts_meta_set(&h, "source", basename(source), &e);
	if (!bad && classes > 0) {
		snprintf(num, sizeof num, "%d", classes);
		bad = ts_meta_set(&h, "classes", num, &e);
	}
	if (!bad && c->as_float)
		bad = ts_meta_set(&h, "scale", "unit", &e);
	if (!bad && c->binarize)
		bad = ts_meta_set(&h, "binarize",
				  c->binarize == BIN_THRESHOLD ? "threshold" : "stochastic", &e);
	if (bad || ts_writer_open(w, c->output, &h, &e))
		vk_die_error(&e);
}

/* What each byte becomes, as u8 and as f32; stochastic binarizing draws per pixel. */
struct convert {
	enum binarize binarize;
	int as_float;
	vk_rng rng;
	unsigned char u8[256];
	float f32[256];
	void *out;
};

static void convert_init(struct convert *cv, const struct cmdline *c, size_t elems)
{
	cv->binarize = c->binarize;
	cv->as_float = c->as_float;
	vk_rng_seed(&cv->rng, c->seed);
	for (int b = 0; b < 256; b++) {
		int on = b >= 128;
		cv->u8[b] = c->binarize ? (on ? 255 : 0) : (unsigned char)b;
		/* Same expression as ts_read_f32, so u8 and f32 streams agree bit for bit. */
		cv->f32[b] = c->binarize ? (float)on : b * (1.0f / 255.0f);
	}
	cv->out = vk_xmalloc(elems * (c->as_float ? sizeof(float) : 1));
}

static const void *convert(struct convert *cv, const unsigned char *in, size_t n)
{
	unsigned char *u = cv->out;
	float *f = cv->out;
	for (size_t i = 0; i < n; i++) {
		int b = in[i];
		if (cv->binarize == BIN_STOCHASTIC)
			b = vk_rng_uniform(&cv->rng) * 255.0f < (float)b ? 255 : 0;
		if (cv->as_float)
			f[i] = cv->f32[b];
		else
			u[i] = cv->u8[b];
	}
	return cv->out;
}

static void read_chunk(vk_idx *x, void *buf, size_t n)
{
	vk_error e;
	size_t got;
	if (vk_idx_read(x, buf, n, &got, &e))
		vk_die_error(&e);
	if (got != n)
		vk_die("%s: ended after %zu of %zu records", x->name, got, n);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	const char *inputs[] = {c.images, c.labels};
	vk_refuse_output_is_input(c.output, inputs, c.labels ? 2 : 1);

	vk_idx img, lab;
	if (vk_idx_open(&img, c.images, &e))
		vk_die_error(&e);
	if (c.labels)
		open_labels(&lab, c.labels, &img);
	uint64_t n = img.count < c.count ? img.count : c.count;
	int classes = c.labels ? max_label(c.labels, n) + 1 : 0;
	ts_writer w;
	open_output(&w, &c, &img, n, classes);

	/* Read about 1 MiB of images at a time: bounded memory, few library calls. */
	size_t rb = img.record_bytes, chunk = rb >= (1u << 20) ? 1 : (1u << 20) / rb;
	unsigned char *pixels = vk_xmalloc(chunk * rb), *labels = vk_xmalloc(chunk);
	struct convert cv;
	convert_init(&cv, &c, rb);
	vk_progress prog;
	vk_progress_start(&prog, "images", n);
	for (uint64_t done = 0; done < n;) {
		size_t k = n - done < chunk ? (size_t)(n - done) : chunk;
		read_chunk(&img, pixels, k);
		if (c.labels)
			read_chunk(&lab, labels, k);
		for (size_t i = 0; i < k; i++)
			if (ts_write(&w, convert(&cv, pixels + i * rb, rb),
				     c.labels ? labels[i] : TS_NO_LABEL, &e))
				vk_die_error(&e);
		done += k;
		vk_progress_update(&prog, done);
	}
	vk_progress_end(&prog);
	if (ts_writer_close(&w, &e))
		vk_die_error(&e);
	vk_idx_close(&img);
	if (c.labels)
		vk_idx_close(&lab);
	free(pixels);
	free(labels);
	free(cv.out);
	return 0;
}
