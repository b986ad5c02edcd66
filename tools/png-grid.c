/* png-grid — draw a stream of images as one PNG grid, optionally pairing each
 * row of a second stream (reconstructions) under the first (originals). */
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "err.h"
#include "image.h"
#include "opts.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: png-grid [OPTION]... [FILE]\n"
	"Draw the images of a tensor stream as one PNG grid, left to right, top to\n"
	"bottom. Records of shape HxW are gray, HxWx1 gray, HxWx3 RGB, HxWx4 RGBA\n"
	"(the PNG is then RGBA too; the pad colour is opaque); u8 values are\n"
	"bytes, f32/f64 values in [0,1] are scaled by 255 (and clamped to [0,1]).\n"
	"With no FILE, or when FILE is -, read standard input.\n\n"
	"  -o, --output FILE     write the PNG to FILE (atomically) instead of standard\n"
	"                        output (which must not be a terminal)\n"
	"  -c, --cols N          images per row (default: about the square root of the\n"
	"                        number of images, so the grid is near square)\n"
	"  -p, --pad P           pixels between cells (default 1)\n"
	"      --pad-color C     colour between and behind cells: a gray level 0-255 or\n"
	"                        R,G,B (default 128)\n"
	"  -s, --scale S         draw each pixel as an SxS block (default 1)\n"
	"  -n, --count N         draw at most N images (from each stream with --pair)\n"
	"      --shape HxW[xC]   treat records as images of this shape (for flat vectors)\n"
	"      --pair FILE2      interleave rows of FILE2 under the rows of FILE: grid\n"
	"                        rows 1, 3, 5... come from FILE, rows 2, 4, 6... from\n"
	"                        FILE2, image for image (both need as many images)\n"
	"  -i, --invert          draw 255-v instead of v (dark strokes on light ground)\n"
	"  -h, --help            show this help and exit\n"
	"      --version         show the version and exit\n";

enum { OPT_PAD_COLOR = VK_OPT_FIRST_LONG, OPT_SHAPE, OPT_PAIR };

struct cmdline {
	const char *output, *input, *pair;
	unsigned cols, pad, scale;
	unsigned long long count;
	unsigned char pad_color[4];   /* R,G,B and an opaque alpha */
	int shape_rank;
	unsigned shape[4];
	int invert;
};

static void parse_pad_color(const char *s, unsigned char rgb[3])
{
	int v[3];
	int n = vk_parse_list("--pad-color", s, v, 3, 0, 255);
	if (n == 2)
		vk_usage_error("--pad-color: '%s' is not a gray level or R,G,B", s);
	for (int i = 0; i < 3; i++)
		rgb[i] = (unsigned char)(n == 1 ? v[0] : v[i]);
}

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'},
		{"cols", required_argument, 0, 'c'},
		{"pad", required_argument, 0, 'p'},
		{"pad-color", required_argument, 0, OPT_PAD_COLOR},
		{"scale", required_argument, 0, 's'},
		{"count", required_argument, 0, 'n'},
		{"shape", required_argument, 0, OPT_SHAPE},
		{"pair", required_argument, 0, OPT_PAIR},
		{"invert", no_argument, 0, 'i'},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->pad = 1;
	c->scale = 1;
	c->count = (unsigned long long)-1;
	memset(c->pad_color, 128, 3);
	c->pad_color[3] = 255;
	int ch;
	while ((ch = getopt_long(argc, argv, "o:c:p:s:n:ih", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'o': c->output = optarg; break;
		case 'c': c->cols = vk_parse_long("--cols", optarg, 1, 65535); break;
		case 'p': c->pad = vk_parse_long("--pad", optarg, 0, 1000); break;
		case OPT_PAD_COLOR: parse_pad_color(optarg, c->pad_color); break;
		case 's': c->scale = vk_parse_long("--scale", optarg, 1, 64); break;
		case 'n': c->count = vk_parse_long("--count", optarg, 1, 1L << 40); break;
		case OPT_SHAPE: c->shape_rank = vk_parse_shape("--shape", optarg, c->shape); break;
		case OPT_PAIR: c->pair = optarg; break;
		case 'i': c->invert = 1; break;
		}
	}
	c->input = vk_input_arg(argc, argv, optind);
	if (c->shape_rank == 1 || c->shape_rank == 4 ||
	    (c->shape_rank == 3 && c->shape[2] != 1 && c->shape[2] != 3 && c->shape[2] != 4))
		vk_usage_error("--shape: an image is HxW, HxWx1, HxWx3 or HxWx4");
	if (c->pair && strcmp(c->pair, "-") == 0 && !c->input)
		vk_usage_error("FILE and --pair FILE2 cannot both be standard input");
	if ((!c->output || strcmp(c->output, "-") == 0) && vk_stdout_is_tty())
		vk_die("refusing to write binary data to a terminal; use -o FILE or redirect it");
}

/* One image's geometry; every image in the grid has the same. */
struct geom {
	unsigned h, w, c;
};

static int same_geom(const struct geom *a, const struct geom *b)
{
	return a->h == b->h && a->w == b->w && a->c == b->c;
}

static void die_not_image(const ts_reader *r) __attribute__((noreturn));
static void die_not_image(const ts_reader *r)
{
	char shape[64];
	size_t n = ts_elems(&r->h);
	unsigned side = 1;
	while ((side + 1) * (side + 1) <= n)
		side++;
	if (side * side == n)
		vk_die("%s: records of shape %s are not images (HxW, HxWx1, HxWx3 or HxWx4); "
		       "give their shape, e.g. --shape %ux%u", r->name,
		       ts_shape_str(&r->h, shape, sizeof shape), side, side);
	vk_die("%s: records of shape %s are not images (HxW, HxWx1, HxWx3 or HxWx4); "
	       "give their shape with --shape HxW[xC]", r->name,
	       ts_shape_str(&r->h, shape, sizeof shape));
}

static struct geom stream_geom(const ts_reader *r, const struct cmdline *c)
{
	const ts_header *h = &r->h;
	if (c->shape_rank) {
		struct geom g = {c->shape[0], c->shape[1], c->shape_rank == 3 ? c->shape[2] : 1};
		if ((size_t)g.h * g.w * g.c != ts_elems(h)) {
			char shape[64];
			vk_die("%s: --shape %ux%ux%u has %zu elements but records of shape %s "
			       "have %zu", r->name, g.h, g.w, g.c, (size_t)g.h * g.w * g.c,
			       ts_shape_str(h, shape, sizeof shape), ts_elems(h));
		}
		return g;
	}
	if (h->rank == 2)
		return (struct geom){h->dims[0], h->dims[1], 1};
	if (h->rank == 3 && (h->dims[2] == 1 || h->dims[2] == 3 || h->dims[2] == 4))
		return (struct geom){h->dims[0], h->dims[1], h->dims[2]};
	die_not_image(r);
}

/* The images of one stream as bytes, buffered until the grid is drawn. */
struct images {
	ts_reader r;
	struct geom g;
	size_t size;        /* bytes per image */
	size_t n, cap;
	unsigned char *px;
	float *f;           /* one record, for float streams */
};

static void images_open(struct images *im, const char *path, const struct cmdline *c)
{
	vk_error e;
	memset(im, 0, sizeof *im);
	if (ts_reader_open(&im->r, path, &e))
		vk_die_error(&e);
	im->g = stream_geom(&im->r, c);
	im->size = (size_t)im->g.h * im->g.w * im->g.c;
	if (im->r.h.dtype != TS_U8)
		im->f = vk_xmalloc(im->size * sizeof *im->f);
}

/* Room for one more image; the caller has checked the grid stays in bounds. */
static unsigned char *images_next_slot(struct images *im)
{
	if (im->n == im->cap) {
		im->cap = im->cap ? 2 * im->cap : 64;
		im->px = realloc(im->px, im->cap * im->size);
		if (!im->px)
			vk_die("out of memory for %zu images", im->cap);
	}
	return im->px + im->n * im->size;
}

/* Read the next image as bytes: 1, or 0 at the end of the stream. */
static int images_read(struct images *im, int invert)
{
	vk_error e;
	unsigned char *dst = images_next_slot(im);
	int rc = im->f ? ts_read_f32(&im->r, im->f, NULL, &e) : ts_read(&im->r, dst, NULL, &e);
	if (rc < 0)
		vk_die_error(&e);
	if (rc == 0)
		return 0;
	for (size_t i = 0; im->f && i < im->size; i++) {
		float v = im->f[i] * 255.0f + 0.5f;
		dst[i] = v <= 0 ? 0 : v >= 255 ? 255 : (unsigned char)v;
	}
	for (size_t i = 0; invert && i < im->size; i++)
		if (im->g.c != 4 || i % 4 != 3)  /* alpha stays */
			dst[i] = 255 - dst[i];
	im->n++;
	return 1;
}

static void images_close(struct images *im)
{
	ts_reader_close(&im->r);
	free(im->px);
	free(im->f);
}

/* Gray unless the images or the pad colour need RGB; RGBA for RGBA images. */
static unsigned canvas_channels(const struct cmdline *c, const struct geom *g)
{
	const unsigned char *p = c->pad_color;
	if (g->c == 4)
		return 4;
	return g->c == 3 || p[0] != p[1] || p[1] != p[2] ? 3 : 1;
}

struct layout {
	unsigned cols, rows;          /* cells; with --pair, rows counts both streams */
	unsigned long long w, h;      /* pixels */
};

/* The grid for n images per stream. */
static struct layout grid_layout(const struct cmdline *c, const struct geom *g, size_t n,
				 int streams)
{
	struct layout l;
	unsigned long long cols = c->cols;
	if (!cols)
		for (cols = 1; cols * cols < n * streams; cols++)
			;
	unsigned long long rows = (n + cols - 1) / cols * streams;
	l.w = cols * g->w * c->scale + (cols - 1) * c->pad;
	l.h = rows * g->h * c->scale + (rows - 1) * c->pad;
	l.cols = (unsigned)cols;
	l.rows = rows > 0xffffffffull ? 0xffffffffu : (unsigned)rows;
	return l;
}

/* Read up to --count images from each stream, stopping with a message before
 * the picture would outgrow the canvas limits. */
static void read_all(struct images *im, int streams, const struct cmdline *c)
{
	for (size_t k = 0; k < c->count; k++) {
		struct layout l = grid_layout(c, &im[0].g, k + 1, streams);
		int more = 0;
		for (int s = 0; s < streams; s++)
			if (im[s].n == k && images_read(&im[s], c->invert))
				more = 1;
		if (!more)
			break;
		if (!vk_canvas_bytes(l.w, l.h, canvas_channels(c, &im[0].g)))
			vk_die("%zu images make a %llux%llu picture, over the limit (%u pixels a "
			       "side, %llu MiB); draw fewer with -n", (k + 1) * streams, l.w, l.h,
			       VK_CANVAS_MAX_SIDE, VK_CANVAS_MAX_BYTES >> 20);
	}
	if (im[0].n == 0)
		vk_die("%s: no images to draw", im[0].r.name);
	if (streams == 2 && im[0].n != im[1].n)
		vk_die("%s has %zu images but %s has %zu; --pair needs as many of each",
		       im[0].r.name, im[0].n, im[1].r.name, im[1].n);
}

static void draw(vk_canvas *cv, const struct images *im, int streams, const struct cmdline *c)
{
	vk_error e;
	const struct geom *g = &im[0].g;
	struct layout l = grid_layout(c, g, im[0].n, streams);
	if (vk_canvas_init(cv, (unsigned)l.w, (unsigned)l.h, canvas_channels(c, g), &e))
		vk_die_error(&e);
	vk_canvas_fill(cv, c->pad_color);
	unsigned cw = g->w * c->scale + c->pad, ch = g->h * c->scale + c->pad;
	for (int s = 0; s < streams; s++)
		for (size_t i = 0; i < im[s].n; i++) {
			size_t row = i / l.cols * streams + s, col = i % l.cols;
			vk_canvas_blit(cv, (long)(col * cw), (long)(row * ch),
				       im[s].px + i * im[s].size, g->w, g->h, g->c, c->scale);
		}
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	const char *inputs[] = {c.input, c.pair};
	vk_refuse_output_is_input(c.output, inputs, c.pair ? 2 : 1);

	struct images im[2];
	int streams = c.pair ? 2 : 1;
	images_open(&im[0], c.input, &c);
	if (c.pair) {
		images_open(&im[1], c.pair, &c);
		if (!same_geom(&im[0].g, &im[1].g))
			vk_die("%s: images of %ux%ux%u differ from %s's %ux%ux%u", im[1].r.name,
			       im[1].g.h, im[1].g.w, im[1].g.c, im[0].r.name, im[0].g.h,
			       im[0].g.w, im[0].g.c);
	}
	read_all(im, streams, &c);
	vk_canvas cv;
	draw(&cv, im, streams, &c);
	if (vk_png_save(c.output, &cv, &e))
		vk_die_error(&e);
	vk_canvas_free(&cv);
	for (int s = 0; s < streams; s++)
		images_close(&im[s]);
	return 0;
}
