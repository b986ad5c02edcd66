/* img2stream and stream2img end to end, on images the tests write themselves
 * with libpng and libjpeg, so every expected pixel is known. */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <jpeglib.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "classes.h"
#include "stream.h"
#include "testutil.h"

/* In test_png.c. */
unsigned char *test_png_read(const char *path, unsigned channels, unsigned *w, unsigned *h,
			     unsigned *file_channels);

#define W 7
#define H 5

static char *cmdf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *cmdf(const char *fmt, ...)
{
	char *s;
	va_list ap;
	va_start(ap, fmt);
	cr_assert_geq(vasprintf(&s, fmt, ap), 0);
	va_end(ap);
	return s;
}

static char *path_of(const char *name) { return strdup(tmp_path(name)); }
static void good_png(const char *path, unsigned w, unsigned h);

/* Write a PNG of any colour type and bit depth; samples hold w*h*channels
 * values in the depth's range (palette indices for PNG_COLOR_TYPE_PALETTE). */
static void write_png(const char *path, int type, int depth, unsigned w, unsigned h,
		      const unsigned *samples, const png_color *pal, int npal)
{
	int ch = type == PNG_COLOR_TYPE_GRAY ? 1 : type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
		 : type == PNG_COLOR_TYPE_RGB ? 3 : type == PNG_COLOR_TYPE_RGB_ALPHA ? 4 : 1;
	FILE *f = fopen(path, "wb");
	cr_assert(f, "cannot write %s", path);
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	png_infop info = png_create_info_struct(png);
	cr_assert(png && info);
	cr_assert_eq(setjmp(png_jmpbuf(png)), 0, "libpng failed writing %s", path);
	png_init_io(png, f);
	png_set_IHDR(png, info, w, h, depth, type, PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (pal)
		png_set_PLTE(png, info, pal, npal);
	png_write_info(png, info);
	unsigned bytes = depth == 16 ? 2 : 1;
	unsigned char *row = calloc((size_t)w * ch * bytes + 8, 1);
	for (unsigned y = 0; y < h; y++) {
		memset(row, 0, (size_t)w * ch * bytes + 8);
		for (unsigned i = 0; i < w * ch; i++) {
			unsigned v = samples[y * w * ch + i];
			if (depth == 16) {
				row[2 * i] = v >> 8;
				row[2 * i + 1] = v & 255;
			} else if (depth == 8) {
				row[i] = (unsigned char)v;
			} else { /* packed, most significant bits first */
				unsigned per = 8 / depth, shift = 8 - depth * (i % per + 1);
				row[i / per] |= (unsigned char)(v << shift);
			}
		}
		png_write_row(png, row);
	}
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	free(row);
	fclose(f);
}

/* Samples spread over the depth's range, different for every position. */
static unsigned *ramp(unsigned n, int depth, unsigned seed)
{
	unsigned *s = malloc(n * sizeof *s), max = (1u << depth) - 1;
	for (unsigned i = 0; i < n; i++)
		s[i] = (i * 2654435761u + seed * 40503u) % (max + 1);
	return s;
}

struct stream {
	ts_header h;
	size_t n, rec;          /* records, bytes a record */
	unsigned char *data;    /* n records, without labels */
	int32_t *labels;
};

/* Read a whole stream file. */
static void read_stream(const char *path, struct stream *s)
{
	ts_reader r;
	vk_error e;
	cr_assert_eq(ts_reader_open(&r, path, &e), 0, "%s", e.msg);
	s->h = r.h;
	s->rec = ts_data_bytes(&r.h);
	s->n = 0;
	s->data = NULL;
	s->labels = NULL;
	for (;;) {
		s->data = realloc(s->data, (s->n + 1) * s->rec);
		s->labels = realloc(s->labels, (s->n + 1) * sizeof *s->labels);
		int rc = ts_read(&r, s->data + s->n * s->rec, &s->labels[s->n], &e);
		cr_assert_geq(rc, 0, "%s", e.msg);
		if (rc == 0)
			break;
		s->n++;
	}
	ts_reader_close(&r);
}

static void free_stream(struct stream *s)
{
	free(s->data);
	free(s->labels);
}

/* img2stream OPTS FILES > out; asserts success; reads the result. */
static void convert(struct stream *s, const char *opts, const char *files)
{
	char err[4096], *out = path_of("out.ts");
	int rc = run_err(err, sizeof err, "img2stream %s %s > %s", opts, files, out);
	cr_assert_eq(rc, 0, "img2stream %s %s: exit %d: %s", opts, files, rc, err);
	read_stream(out, s);
	free(out);
}

static void expect_shape(const struct stream *s, unsigned h, unsigned w, unsigned c)
{
	char buf[64];
	cr_assert_eq(s->h.rank, c == 1 ? 2 : 3, "shape %s", ts_shape_str(&s->h, buf, sizeof buf));
	cr_assert_eq(s->h.dims[0], h);
	cr_assert_eq(s->h.dims[1], w);
	if (c > 1)
		cr_assert_eq(s->h.dims[2], c);
}

/* A PNG of type/depth written, read by img2stream OPTS, compared with want. */
static void decode_exact(int type, int depth, int ch, const char *opts, unsigned out_c,
			 unsigned (*expect)(const unsigned *px, unsigned k))
{
	char *png = path_of("in.png");
	unsigned *s = ramp(W * H * ch, depth, (unsigned)(type * 31 + depth));
	write_png(png, type, depth, W, H, s, NULL, 0);
	struct stream st;
	convert(&st, opts, png);
	cr_assert_eq(st.n, 1);
	cr_assert_eq(st.h.dtype, TS_U8);
	expect_shape(&st, H, W, out_c);
	for (unsigned p = 0; p < W * H; p++)
		for (unsigned k = 0; k < out_c; k++) {
			unsigned want = expect(s + p * ch, k), got = st.data[p * out_c + k];
			cr_assert_eq(got, want, "type %d depth %d %s: pixel %u channel %u: %u, want %u",
				     type, depth, opts, p, k, got, want);
		}
	free_stream(&st);
	free(s);
	free(png);
}

static unsigned same(const unsigned *px, unsigned k) { return px[k]; }
static unsigned grey_of(const unsigned *px, unsigned k) { (void)k; return px[0]; }
static unsigned hi_byte(const unsigned *px, unsigned k) { return px[k] >> 8; }
static unsigned grey_hi(const unsigned *px, unsigned k) { (void)k; return px[0] >> 8; }
static unsigned alpha_of_ga(const unsigned *px, unsigned k) { return k < 3 ? px[0] : px[1]; }
static unsigned alpha_of_ga16(const unsigned *px, unsigned k)
{
	return (k < 3 ? px[0] : px[1]) >> 8;
}
static unsigned opaque(const unsigned *px, unsigned k) { return k < 3 ? px[k] : 255; }
static unsigned grey_opaque(const unsigned *px, unsigned k) { return k < 3 ? px[0] : 255; }

Test(images, grey8_exact) { decode_exact(PNG_COLOR_TYPE_GRAY, 8, 1, "", 1, same); }
Test(images, grey8_as_rgb_exact) { decode_exact(PNG_COLOR_TYPE_GRAY, 8, 1, "--rgb", 3, grey_of); }
Test(images, grey8_as_rgba_exact)
{
	decode_exact(PNG_COLOR_TYPE_GRAY, 8, 1, "--rgba", 4, grey_opaque);
}
/* 16-bit samples become 8-bit by their high byte (v >> 8). */
Test(images, grey16_high_byte) { decode_exact(PNG_COLOR_TYPE_GRAY, 16, 1, "", 1, hi_byte); }
Test(images, grey16_as_rgb_high_byte)
{
	decode_exact(PNG_COLOR_TYPE_GRAY, 16, 1, "--rgb", 3, grey_hi);
}
Test(images, grey_low_depths_exact)
{
	/* 1-, 2- and 4-bit grey scale to 8 bits by bit replication. */
	for (int depth = 1; depth <= 4; depth *= 2) {
		char *png = path_of("low.png");
		unsigned *s = ramp(W * H, depth, 3);
		write_png(png, PNG_COLOR_TYPE_GRAY, depth, W, H, s, NULL, 0);
		struct stream st;
		convert(&st, "", png);
		expect_shape(&st, H, W, 1);
		for (unsigned p = 0; p < W * H; p++)
			cr_assert_eq(st.data[p], s[p] * 255 / ((1u << depth) - 1), "depth %d pixel %u",
				     depth, p);
		free_stream(&st);
		free(s);
		free(png);
	}
}
Test(images, grey_alpha8_kept_with_rgba)
{
	decode_exact(PNG_COLOR_TYPE_GRAY_ALPHA, 8, 2, "--rgba", 4, alpha_of_ga);
}
Test(images, grey_alpha16_kept_with_rgba)
{
	decode_exact(PNG_COLOR_TYPE_GRAY_ALPHA, 16, 2, "--rgba", 4, alpha_of_ga16);
}
Test(images, rgb8_exact) { decode_exact(PNG_COLOR_TYPE_RGB, 8, 3, "", 3, same); }
Test(images, rgb8_as_rgba_exact) { decode_exact(PNG_COLOR_TYPE_RGB, 8, 3, "--rgba", 4, opaque); }
Test(images, rgb16_high_byte) { decode_exact(PNG_COLOR_TYPE_RGB, 16, 3, "", 3, hi_byte); }
Test(images, rgba8_exact) { decode_exact(PNG_COLOR_TYPE_RGB_ALPHA, 8, 4, "--rgba", 4, same); }
Test(images, rgba16_high_byte)
{
	decode_exact(PNG_COLOR_TYPE_RGB_ALPHA, 16, 4, "--rgba", 4, hi_byte);
}

Test(images, palette_exact)
{
	png_color pal[16];
	for (int i = 0; i < 16; i++)
		pal[i] = (png_color){(png_byte)(i * 17), (png_byte)(255 - i * 13), (png_byte)(i * i)};
	for (int depth = 4; depth <= 8; depth *= 2) {
		char *png = path_of("pal.png");
		unsigned *s = ramp(W * H, 4, (unsigned)depth);
		write_png(png, PNG_COLOR_TYPE_PALETTE, depth, W, H, s, pal, 16);
		struct stream st;
		convert(&st, "", png);
		expect_shape(&st, H, W, 3);
		for (unsigned p = 0; p < W * H; p++) {
			const png_color *c = &pal[s[p]];
			unsigned char want[3] = {c->red, c->green, c->blue};
			cr_assert_arr_eq(st.data + 3 * p, want, 3, "depth %d pixel %u", depth, p);
		}
		free_stream(&st);
		free(s);
		free(png);
	}
}

/* Alpha 0 shows the background, alpha 255 the pixel; in between the blend is
 * within 1 of v*a/255 + bg*(255-a)/255. */
Test(images, alpha_flattened_over_background)
{
	char *png = path_of("ga.png");
	unsigned s[W * H * 4];
	for (unsigned p = 0; p < W * H; p++) {
		s[4 * p] = 200;
		s[4 * p + 1] = 100;
		s[4 * p + 2] = 50;
		s[4 * p + 3] = p % 3 == 0 ? 0 : p % 3 == 1 ? 255 : 128;
	}
	write_png(png, PNG_COLOR_TYPE_RGB_ALPHA, 8, W, H, s, NULL, 0);
	const char *opts[] = {"", "--background 10,20,30"};
	unsigned bg[2][3] = {{0, 0, 0}, {10, 20, 30}};
	for (int o = 0; o < 2; o++) {
		struct stream st;
		convert(&st, opts[o], png);
		expect_shape(&st, H, W, 3);
		for (unsigned p = 0; p < W * H; p++)
			for (unsigned k = 0; k < 3; k++) {
				double a = s[4 * p + 3] / 255.0;
				double want = s[4 * p + k] * a + bg[o][k] * (1 - a);
				double got = st.data[3 * p + k];
				cr_assert(got >= want - 1 && got <= want + 1,
					  "%s: pixel %u channel %u: %g, want %g", opts[o], p, k, got,
					  want);
			}
		free_stream(&st);
	}
	free(png);
}

/* ---- JPEG: libjpeg writes it, libjpeg decodes the reference. ---- */

static void write_jpeg(const char *path, const unsigned char *px, unsigned w, unsigned h,
		       int ch)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr err;
	c.err = jpeg_std_error(&err);
	jpeg_create_compress(&c);
	FILE *f = fopen(path, "wb");
	cr_assert(f);
	jpeg_stdio_dest(&c, f);
	c.image_width = w;
	c.image_height = h;
	c.input_components = ch;
	c.in_color_space = ch == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, 85, TRUE);
	jpeg_start_compress(&c, TRUE);
	for (unsigned y = 0; y < h; y++) {
		JSAMPROW row = (JSAMPROW)(px + (size_t)y * w * ch);
		jpeg_write_scanlines(&c, &row, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	fclose(f);
}

static unsigned char *read_jpeg(const char *path, unsigned *w, unsigned *h, int *ch)
{
	struct jpeg_decompress_struct d;
	struct jpeg_error_mgr err;
	d.err = jpeg_std_error(&err);
	jpeg_create_decompress(&d);
	FILE *f = fopen(path, "rb");
	cr_assert(f);
	jpeg_stdio_src(&d, f);
	jpeg_read_header(&d, TRUE);
	jpeg_start_decompress(&d);
	*w = d.output_width;
	*h = d.output_height;
	*ch = d.output_components;
	unsigned char *px = malloc((size_t)*w * *h * *ch);
	while (d.output_scanline < d.output_height) {
		JSAMPROW row = px + (size_t)d.output_scanline * *w * *ch;
		jpeg_read_scanlines(&d, &row, 1);
	}
	jpeg_finish_decompress(&d);
	jpeg_destroy_decompress(&d);
	fclose(f);
	return px;
}

/* JPEG decodes within 2 of libjpeg's own decode of the same file (both use
 * libjpeg; the tolerance covers a different IDCT or upsampling choice). */
Test(images, jpeg_within_two_of_libjpeg)
{
	for (int ch = 1; ch <= 3; ch += 2) {
		unsigned w = 40, h = 24;
		unsigned char *src = malloc(w * h * ch);
		for (unsigned i = 0; i < w * h * ch; i++)
			src[i] = (unsigned char)((i % (w * ch)) * 5 + (i / (w * ch)) * 7 + (i % ch) * 60);
		char *jpg = path_of("in.jpg");
		write_jpeg(jpg, src, w, h, ch);
		unsigned rw, rh;
		int rc;
		unsigned char *ref = read_jpeg(jpg, &rw, &rh, &rc);
		cr_assert_eq(rc, ch);
		struct stream st;
		convert(&st, "", jpg);
		expect_shape(&st, h, w, (unsigned)ch);
		int worst = 0;
		for (unsigned i = 0; i < w * h * ch; i++) {
			int d = abs((int)st.data[i] - (int)ref[i]);
			worst = d > worst ? d : worst;
		}
		cr_assert_leq(worst, 2, "%d channels: differs from libjpeg by up to %d", ch, worst);
		free_stream(&st);
		free(src);
		free(ref);
		free(jpg);
	}
}

/* A 24-bit BMP of w x h RGB pixels (top row first in px), written by hand. */
static void write_bmp(const char *path, const unsigned char *px, unsigned w, unsigned h)
{
	unsigned row = (w * 3 + 3) & ~3u, size = 54 + row * h;
	unsigned char *b = calloc(1, size);
	uint32_t le[] = {size, 0, 54, 40, w, h};
	b[0] = 'B', b[1] = 'M';
	memcpy(b + 2, &le[0], 4);
	memcpy(b + 10, &le[2], 4);
	memcpy(b + 14, &le[3], 4);
	memcpy(b + 18, &le[4], 4);
	memcpy(b + 22, &le[5], 4);
	b[26] = 1, b[28] = 24; /* one plane, 24 bits, no compression */
	for (unsigned y = 0; y < h; y++)      /* rows bottom-up, BGR */
		for (unsigned x = 0; x < w; x++)
			for (unsigned k = 0; k < 3; k++)
				b[54 + (h - 1 - y) * row + x * 3 + k] = px[(y * w + x) * 3 + 2 - k];
	spit(path, b, size);
	free(b);
}

/* BMP is read by libvips' ImageMagick module, which img2stream opens only
 * when a file is none of the built-in formats (it saves half the start-up):
 * the deferred open must read it, alone and after a PNG. */
Test(images, bmp_through_the_deferred_modules)
{
	const unsigned char px[] = {255, 0, 0, 0, 255, 0, 0, 0, 255,
				    10, 20, 30, 40, 50, 60, 200, 100, 50};
	char *bmp = path_of("in.bmp"), *png = path_of("first.png");
	write_bmp(bmp, px, 3, 2);
	good_png(png, 3, 2);
	struct stream st;
	convert(&st, "--rgb", bmp);
	cr_assert_eq(st.n, 1);
	expect_shape(&st, 2, 3, 3);
	cr_assert_arr_eq(st.data, px, sizeof px);
	free_stream(&st);
	char *both = cmdf("%s %s", png, bmp);
	convert(&st, "--rgb", both);
	cr_assert_eq(st.n, 2);
	cr_assert_arr_eq(st.data + sizeof px, px, sizeof px);
	free_stream(&st);
	free(both);
	free(bmp);
	free(png);
}

/* ---- Folders, labels and class names. ---- */

static void mkdirs(const char *path)
{
	cr_assert_eq(run("mkdir -p '%s'", path), 0);
}

/* root/NAME/FILE grey PNGs of one value each; returns the root. */
static char *make_tree(void)
{
	char *root = path_of("tree");
	static const char *const files[] = {
		"dogs and cats/b.png", "dogs and cats/a.png", "birds/deep/x.png", "birds/c.png",
		"loose.png", "birds/notes.txt", ".hidden/h.png"};
	char p[1024];
	for (unsigned i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(p, sizeof p, "%s/%s", root, files[i]);
		char *dir = strdup(p);
		*strrchr(dir, '/') = 0;
		mkdirs(dir);
		free(dir);
		if (strstr(files[i], ".txt")) {
			cr_assert_eq(spit(p, "hello\n", 6), 0);
			continue;
		}
		unsigned s[W * H];
		for (unsigned k = 0; k < W * H; k++)
			s[k] = 10 * (i + 1);
		write_png(p, PNG_COLOR_TYPE_GRAY, 8, W, H, s, NULL, 0);
	}
	return root;
}

Test(images, folder_labels_and_class_names)
{
	char *root = make_tree();
	struct stream st;
	convert(&st, "", root);
	/* Sorted paths: birds/c, birds/deep/x, dogs and cats/a, dogs and cats/b, loose;
	 * not the .txt, not the hidden folder. */
	cr_assert_eq(st.n, 5);
	cr_assert(st.h.has_labels);
	unsigned char first[5] = {40, 30, 20, 10, 50};
	int32_t labels[5] = {0, 0, 1, 1, TS_NO_LABEL};
	for (int i = 0; i < 5; i++) {
		cr_assert_eq(st.data[i * W * H], first[i], "record %d", i);
		cr_assert_eq(st.labels[i], labels[i], "record %d label", i);
	}
	char buf[VK_CLASS_NAME_MAX];
	cr_assert_str_eq(ts_meta_get(&st.h, "classes", buf, sizeof buf), "2");
	cr_assert_str_eq(vk_class_name(&st.h, 0, buf, sizeof buf), "birds");
	cr_assert_str_eq(vk_class_name(&st.h, 1, buf, sizeof buf), "dogs and cats");
	cr_assert_null(vk_class_name(&st.h, 2, buf, sizeof buf));
	free_stream(&st);

	convert(&st, "--labels none", root);
	cr_assert_eq(st.n, 5);
	cr_assert_not(st.h.has_labels);
	cr_assert_null(ts_meta_get(&st.h, "classes", buf, sizeof buf));
	free_stream(&st);
	free(root);
}

Test(images, class_names_encoded)
{
	ts_header h;
	vk_error e;
	uint32_t d = 1;
	cr_assert_eq(ts_header_init(&h, TS_U8, 1, &d, &e), 0);
	char *names[] = {"plain", "with space", "new\nline", "100%=x", "tab\t"};
	cr_assert_eq(vk_classes_set(&h, names, 5, &e), 0, "%s", e.msg);
	cr_assert(strstr(h.meta, "class.2=new%0Aline\n"), "%s", h.meta);
	cr_assert(strstr(h.meta, "class.3=100%25=x\n"), "%s", h.meta);
	char buf[VK_CLASS_NAME_MAX];
	for (int i = 0; i < 5; i++)
		cr_assert_str_eq(vk_class_name(&h, i, buf, sizeof buf), names[i]);
	cr_assert_eq(vk_class_find(&h, "new\nline"), 2);
	cr_assert_eq(vk_class_find(&h, "nope"), -1);
}

Test(images, stream_info_shows_class_names)
{
	char *root = make_tree(), *out = path_of("t.ts"), *info = path_of("info.txt");
	cr_assert_eq(run("img2stream %s > %s && stream-info %s > %s", root, out, out, info), 0);
	size_t n;
	char *text = (char *)slurp(info, &n);
	text = realloc(text, n + 1);
	text[n] = 0;
	cr_assert(strstr(text, "dogs and cats"), "%s", text);
	cr_assert(strstr(text, "birds"), "%s", text);
	free(text);
	free(root);
	free(out);
	free(info);
}

/* ---- Round trips through stream2img. ---- */

/* Resized, with an unlabelled file: the pixels come back the same (labels
 * differ: "unlabelled" becomes a class of its own). */
static void roundtrip_pixels(const char *opts, const char *ext)
{
	char *root = make_tree(), *a = path_of("a.ts"), *b = path_of("b.ts");
	char *outdir = path_of("rt"), err[4096];
	int rc = run_err(err, sizeof err, "img2stream --size 6x4 %s %s > %s", opts, root, a);
	cr_assert_eq(rc, 0, "%s", err);
	rc = run_err(err, sizeof err,
		     "rm -rf %s && stream2img -o %s/tree/%%c/%%05d.%s %s && "
		     "img2stream %s %s/tree > %s", outdir, outdir, ext, a, opts, outdir, b);
	cr_assert_eq(rc, 0, "%s", err);
	struct stream sa, sb;
	read_stream(a, &sa);
	read_stream(b, &sb);
	cr_assert_eq(sa.n, 5);
	cr_assert_eq(sb.n, 5);
	cr_assert_eq(sa.rec, sb.rec);
	cr_assert_arr_eq(sa.data, sb.data, sa.n * sa.rec);
	free_stream(&sa);
	free_stream(&sb);
	free(root);
	free(a);
	free(b);
	free(outdir);
}

/* stream2img then img2stream gives the same bytes back: pixels, labels,
 * class names and metadata. Records without a class go to "unlabelled", a
 * class of their own on the way back, so the tree here has none. */
static void roundtrip_identical(const char *opts, const char *ext)
{
	char *root = path_of("classes"), *a = path_of("a.ts"), *b = path_of("b.ts");
	char *outdir = path_of("rt"), err[4096], p[1024];
	for (int i = 0; i < 6; i++) {
		snprintf(p, sizeof p, "%s/%s", root, i < 4 ? "k one" : "k two");
		mkdirs(p);
		snprintf(p + strlen(p), sizeof p - strlen(p), "/%d.png", i);
		unsigned *s = ramp(W * H * 4, 8, (unsigned)i);
		write_png(p, PNG_COLOR_TYPE_RGB_ALPHA, 8, W, H, s, NULL, 0);
		free(s);
	}
	int rc = run_err(err, sizeof err, "img2stream %s %s > %s", opts, root, a);
	cr_assert_eq(rc, 0, "%s", err);
	rc = run_err(err, sizeof err,
		     "rm -rf %s && stream2img -o %s/classes/%%c/%%05d.%s %s && "
		     "img2stream %s %s/classes > %s", outdir, outdir, ext, a, opts, outdir, b);
	cr_assert_eq(rc, 0, "%s", err);
	size_t la, lb;
	unsigned char *ba = slurp(a, &la), *bb = slurp(b, &lb);
	cr_assert(ba && bb);
	cr_assert_eq(la, lb, "%s %s: %zu bytes then %zu", opts, ext, la, lb);
	cr_assert_arr_eq(ba, bb, la, "%s %s: the streams differ", opts, ext);
	free(ba);
	free(bb);
	free(root);
	free(a);
	free(b);
	free(outdir);
}

Test(images, roundtrip_rgba_png) { roundtrip_identical("--rgba", "png"); }
Test(images, roundtrip_rgb_png) { roundtrip_identical("--rgb", "png"); }
Test(images, roundtrip_grey_png) { roundtrip_identical("--gray", "png"); }
Test(images, roundtrip_grey_pgm) { roundtrip_identical("--gray", "pgm"); }
Test(images, roundtrip_rgb_ppm) { roundtrip_identical("--rgb", "ppm"); }
Test(images, roundtrip_rgba_float) { roundtrip_identical("--rgba --float", "png"); }
Test(images, roundtrip_rgba_webp_lossless) { roundtrip_identical("--rgba", "webp[lossless]"); }

Test(images, roundtrip_resized_tree) { roundtrip_pixels("--gray", "png"); }

/* ---- Sizes, fits, order, threads. ---- */

/* A w×h RGB image, white inside a red border b pixels wide. */
static void bordered(const char *path, unsigned w, unsigned h, unsigned b)
{
	unsigned *s = malloc(w * h * 3 * sizeof *s);
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w; x++) {
			int edge = x < b || y < b || x >= w - b || y >= h - b;
			unsigned *p = s + 3 * (y * w + x);
			p[0] = 255;
			p[1] = p[2] = edge ? 0 : 255;
		}
	write_png(path, PNG_COLOR_TYPE_RGB, 8, w, h, s, NULL, 0);
	free(s);
}

Test(images, size_and_fit)
{
	char *png = path_of("wide.png");
	bordered(png, 40, 20, 1);
	struct stream st;
	/* pad: 40x20 into 20x20 is 20x10 centred, rows 0-4 and 15-19 background. */
	convert(&st, "--size 20x20 --fit pad --background 0,0,255", png);
	expect_shape(&st, 20, 20, 3);
	unsigned char blue[3] = {0, 0, 255};
	cr_assert_arr_eq(st.data, blue, 3, "pad: top-left is the background");
	cr_assert_arr_eq(st.data + 3 * (19 * 20 + 19), blue, 3);
	unsigned char white[3] = {255, 255, 255};
	cr_assert_arr_eq(st.data + 3 * (10 * 20 + 10), white, 3, "pad: the centre is the image");
	free_stream(&st);
	/* crop: the short side scales to 20, the centre 20x20 is cut: no left border. */
	convert(&st, "--size 20x20", png);
	expect_shape(&st, 20, 20, 3);
	cr_assert_geq(st.data[3 * (10 * 20) + 1], 200, "crop: left edge is from the middle");
	cr_assert_leq(st.data[3 * 1], 255);
	free_stream(&st);
	/* stretch: the whole image, border on every side (4 pixels wide, so
	 * it is still one pixel at a quarter of the width). */
	bordered(png, 40, 20, 4);
	convert(&st, "--size 10x30 --fit stretch", png);
	expect_shape(&st, 30, 10, 3);
	cr_assert_leq(st.data[3 * (15 * 10) + 1], 40, "stretch: the left border survives");
	/* libvips samples a little right of centre: the right border is half there. */
	cr_assert_leq(st.data[3 * (15 * 10 + 9) + 1], 160, "stretch: the right border survives");
	cr_assert_geq(st.data[3 * (15 * 10 + 5) + 1], 215, "stretch: the middle is white");
	free_stream(&st);
	free(png);
}

Test(images, order_count_shuffle_threads)
{
	char *dir = path_of("many");
	mkdirs(dir);
	char p[1024];
	for (int i = 0; i < 40; i++) {
		snprintf(p, sizeof p, "%s/%03d.png", dir, i);
		unsigned s[W * H];
		for (unsigned k = 0; k < W * H; k++)
			s[k] = (unsigned)i;
		write_png(p, PNG_COLOR_TYPE_GRAY, 8, W, H, s, NULL, 0);
	}
	struct stream a, b, c;
	convert(&a, "-t 1", dir);
	cr_assert_eq(a.n, 40);
	for (int i = 0; i < 40; i++)
		cr_assert_eq(a.data[i * W * H], i, "sorted order");
	convert(&b, "-t 3", dir);
	cr_assert_eq(b.n, 40);
	cr_assert_arr_eq(a.data, b.data, 40 * W * H, "threads change nothing");
	free_stream(&b);
	convert(&b, "--shuffle --seed 7 -n 10 -t 2", dir);
	convert(&c, "--shuffle --seed 7 -n 10 -t 1", dir);
	cr_assert_eq(b.n, 10);
	cr_assert_arr_eq(b.data, c.data, 10 * W * H, "same seed, same order");
	int moved = 0;
	for (int i = 0; i < 10; i++)
		moved += b.data[i * W * H] != i;
	cr_assert_gt(moved, 0, "shuffled");
	free_stream(&a);
	free_stream(&b);
	free_stream(&c);
	free(dir);
}

Test(images, mixed_grey_and_colour)
{
	char *dir = path_of("mixed");
	mkdirs(dir);
	char p[1024];
	unsigned g[W * H], rgb[W * H * 3];
	for (unsigned k = 0; k < W * H; k++)
		g[k] = 77;
	for (unsigned k = 0; k < W * H * 3; k++)
		rgb[k] = k % 3 == 0 ? 200 : 0;
	snprintf(p, sizeof p, "%s/a.png", dir);
	write_png(p, PNG_COLOR_TYPE_GRAY, 8, W, H, g, NULL, 0);
	snprintf(p, sizeof p, "%s/b.png", dir);
	write_png(p, PNG_COLOR_TYPE_RGB, 8, W, H, rgb, NULL, 0);
	struct stream st;
	convert(&st, "", dir);  /* default: RGB, since one input is colour */
	expect_shape(&st, H, W, 3);
	cr_assert_eq(st.data[0], 77);
	cr_assert_eq(st.data[1], 77);
	cr_assert_eq(st.data[W * H * 3], 200);
	free_stream(&st);
	convert(&st, "--gray", dir);  /* converted, no error */
	expect_shape(&st, H, W, 1);
	cr_assert_eq(st.data[0], 77);
	cr_assert(st.data[W * H] > 20 && st.data[W * H] < 120, "red as grey: %d", st.data[W * H]);
	free_stream(&st);
	free(dir);
}

Test(images, float_output)
{
	char *png = path_of("g.png");
	unsigned *s = ramp(W * H, 8, 5);
	write_png(png, PNG_COLOR_TYPE_GRAY, 8, W, H, s, NULL, 0);
	char *out = path_of("f.ts");
	cr_assert_eq(run("img2stream --float %s -o %s", png, out), 0);
	ts_reader r;
	vk_error e;
	cr_assert_eq(ts_reader_open(&r, out, &e), 0);
	cr_assert_eq(r.h.dtype, TS_F32);
	float f[W * H];
	cr_assert_eq(ts_read(&r, f, NULL, &e), 1);
	for (unsigned k = 0; k < W * H; k++)
		cr_assert_eq(f[k], s[k] * (1.0f / 255.0f));
	ts_reader_close(&r);
	free(s);
	free(png);
	free(out);
}

Test(images, png_grid_rgb_and_rgba)
{
	char *dir = path_of("pg"), err[2048];
	mkdirs(dir);
	char p[1024];
	unsigned *s = ramp(W * H * 4, 8, 9);
	snprintf(p, sizeof p, "%s/a.png", dir);
	write_png(p, PNG_COLOR_TYPE_RGB_ALPHA, 8, W, H, s, NULL, 0);
	for (int c = 3; c <= 4; c++) {
		char *grid = path_of("grid.png");
		int rc = run_err(err, sizeof err, "img2stream %s %s | png-grid --pad 0 -o %s",
				 c == 3 ? "--rgb" : "--rgba", dir, grid);
		cr_assert_eq(rc, 0, "%s", err);
		png_image im;
		memset(&im, 0, sizeof im);
		im.version = PNG_IMAGE_VERSION;
		cr_assert(png_image_begin_read_from_file(&im, grid));
		cr_assert_eq(PNG_IMAGE_PIXEL_CHANNELS(im.format), (unsigned)c, "%d-channel grid", c);
		im.format = PNG_FORMAT_RGBA;
		unsigned char *px = malloc(PNG_IMAGE_SIZE(im));
		cr_assert(png_image_finish_read(&im, NULL, px, 0, NULL));
		cr_assert_eq(im.width, W);
		if (c == 4)
			for (unsigned k = 0; k < W * H * 4; k++)
				cr_assert_eq(px[k], s[k], "RGBA grid byte %u", k);
		free(px);
		free(grid);
	}
	free(s);
	free(dir);
}

/* ---- Bad input: one line naming the program, the file and the problem. ---- */

/* Run cmd; expect exit status want and a message containing every needle. */
static void expect_fail(int want, const char *cmd, const char *n1, const char *n2)
{
	char err[4096];
	int rc = run_err(err, sizeof err, "%s", cmd);
	cr_assert_eq(rc, want, "%s: exit %d, want %d: %s", cmd, rc, want, err);
	cr_assert(strstr(err, n1), "%s: message lacks '%s': %s", cmd, n1, err);
	if (n2)
		cr_assert(strstr(err, n2), "%s: message lacks '%s': %s", cmd, n2, err);
	/* One line; usage errors (exit 2) add the usual "Try '... --help'" line. */
	char *nl = strchr(err, '\n');
	cr_assert(nl, "%s: no newline: %s", cmd, err);
	if (want == 2 && strncmp(nl + 1, "Try '", 5) == 0)
		nl = strchr(nl + 1, '\n');
	cr_assert(nl && nl[1] == 0, "%s: not one line: %s", cmd, err);
	cr_assert(strncmp(err, "img2stream: ", 12) == 0 || strncmp(err, "stream2img: ", 12) == 0,
		  "%s: no program name: %s", cmd, err);
}



static void good_png(const char *path, unsigned w, unsigned h)
{
	unsigned *s = ramp(w * h, 8, 1);
	write_png(path, PNG_COLOR_TYPE_GRAY, 8, w, h, s, NULL, 0);
	free(s);
}

Test(images_bad, folder_without_images)
{
	char *dir = path_of("empty"), *out = path_of("o.ts");
	mkdirs(dir);
	spit(tmp_path("empty/readme.txt"), "x", 1);
	char *cmd = cmdf("img2stream -o %s %s", out, dir);
	expect_fail(1, cmd, "img2stream: ", "no image files");
	cr_assert_neq(access(out, F_OK), 0, "nothing written");
	free(cmd);
	free(dir);
	free(out);
}

Test(images_bad, broken_symlink_zero_bytes_not_image_truncated)
{
	char *dir = path_of("bad"), *good = path_of("bad/a-good.png"), *out = path_of("o.ts");
	mkdirs(dir);
	good_png(good, W, H);
	cr_assert_eq(symlink("/nonexistent/target.png", tmp_path("bad/b-broken.png")), 0);
	spit(tmp_path("bad/c-empty.png"), "", 0);
	spit(tmp_path("bad/d-text.png"), "not a picture at all\n", 21);
	size_t n;
	unsigned char *png = slurp(good, &n);
	spit(tmp_path("bad/e-truncated.png"), png, n / 2);
	free(png);
	struct {
		const char *file, *problem;
	} cases[] = {{"b-broken.png", "broken symbolic link"},
		     {"c-empty.png", "empty file"},
		     {"d-text.png", "not an image"},
		     {"e-truncated.png", "cannot decode"}};
	for (unsigned i = 0; i < 4; i++) {
		char *f = cmdf("%s/%s", dir, cases[i].file);
		char *cmd = cmdf("img2stream -o %s %s %s", out, good, f);
		expect_fail(1, cmd, f, cases[i].problem);
		cr_assert_neq(access(out, F_OK), 0, "%s: nothing written", cases[i].file);
		/* The same on standard output, with --rgb so there is no header pass:
		 * the good record is out, the stream declares two, so a reader sees it
		 * truncated, never a short stream passing for whole. */
		free(cmd);
		cmd = cmdf("img2stream --rgb %s %s > %s", good, f, out);
		expect_fail(1, cmd, f, cases[i].problem);
		ts_reader r;
		vk_error e;
		unsigned char rec[W * H * 3];
		cr_assert_eq(ts_reader_open(&r, out, &e), 0, "%s", e.msg);
		cr_assert_eq(ts_read(&r, rec, NULL, &e), 1);
		cr_assert_eq(ts_read(&r, rec, NULL, &e), -1, "%s: truncation not seen", cases[i].file);
		cr_assert(strstr(e.msg, "truncated"), "%s", e.msg);
		ts_reader_close(&r);
		unlink(out);
		free(cmd);
		free(f);
	}
	/* --skip-bad: a warning per file, a count at the end, the good image out. */
	char err[4096];
	int rc = run_err(err, sizeof err, "img2stream --skip-bad %s > %s", dir, out);
	cr_assert_eq(rc, 0, "%s", err);
	for (unsigned i = 0; i < 4; i++)
		cr_assert(strstr(err, cases[i].file), "no warning for %s: %s", cases[i].file, err);
	cr_assert(strstr(err, "4 of 5 files skipped"), "%s", err);
	struct stream st;
	read_stream(out, &st);
	cr_assert_eq(st.n, 1);
	free_stream(&st);
	free(dir);
	free(good);
	free(out);
}

/* A PNG header claiming 100000x100000 pixels followed by a tiny IDAT: refused
 * from the header, before any pixel is allocated. */
Test(images_bad, huge_header_refused)
{
	unsigned char b[512];
	size_t n = 0;
	static const unsigned char sig[8] = {137, 'P', 'N', 'G', 13, 10, 26, 10};
	memcpy(b, sig, 8);
	n = 8;
	unsigned char ihdr[17] = {'I', 'H', 'D', 'R', 0, 1, 0x86, 0xA0, 0, 1, 0x86, 0xA0, 8, 0, 0, 0, 0};
	unsigned char len[4] = {0, 0, 0, 13};
	memcpy(b + n, len, 4);
	memcpy(b + n + 4, ihdr, 17);
	uLong crc = crc32(0, ihdr, 17);
	unsigned char c4[4] = {crc >> 24, crc >> 16, crc >> 8, crc};
	memcpy(b + n + 21, c4, 4);
	n += 25;
	/* An IDAT of a few zero bytes, compressed. */
	unsigned char zero[64] = {0}, z[128];
	uLongf zl = sizeof z;
	cr_assert_eq(compress(z, &zl, zero, sizeof zero), Z_OK);
	unsigned char idat[4 + 128];
	memcpy(idat, "IDAT", 4);
	memcpy(idat + 4, z, zl);
	unsigned char il[4] = {0, 0, 0, (unsigned char)zl};
	memcpy(b + n, il, 4);
	memcpy(b + n + 4, idat, 4 + zl);
	crc = crc32(0, idat, 4 + zl);
	unsigned char c5[4] = {crc >> 24, crc >> 16, crc >> 8, crc};
	memcpy(b + n + 8 + zl, c5, 4);
	n += 12 + zl;
	static const unsigned char iend[12] = {0, 0, 0, 0, 'I', 'E', 'N', 'D', 0xAE, 0x42, 0x60, 0x82};
	memcpy(b + n, iend, 12);
	n += 12;
	char *png = path_of("huge.png"), *out = path_of("o.ts");
	spit(png, b, n);
	/* Under 1 GB of address space (not with AddressSanitizer, whose shadow
	 * memory needs far more): a decode would need 30 GB. */
#if defined(__SANITIZE_ADDRESS__)
	const char *limit = "";
#else
	const char *limit = "ulimit -v 1000000; ";
#endif
	char *cmd = cmdf("%simg2stream -o %s %s", limit, out, png);
	expect_fail(1, cmd, png, "100000x100000");
	cr_assert_neq(access(out, F_OK), 0);
	free(cmd);
	cmd = cmdf("%simg2stream --rgb --size 8x8 -o %s %s", limit, out, png);
	expect_fail(1, cmd, png, "over the limit");
	free(cmd);
	free(png);
	free(out);
}

Test(images_bad, sizes_differ_without_size)
{
	char *a = path_of("a.png"), *b = path_of("b.png"), *out = path_of("o.ts");
	good_png(a, 7, 5);
	good_png(b, 6, 5);
	char *cmd = cmdf("img2stream -o %s %s %s", out, a, b);
	expect_fail(1, cmd, b, "is 6x5 but");
	cr_assert(strstr(cmd, a));
	free(cmd);
	cmd = cmdf("img2stream --rgb -o %s %s %s", out, a, b);  /* found while decoding */
	expect_fail(1, cmd, b, "7x5");
	cr_assert_neq(access(out, F_OK), 0);
	free(cmd);
	free(a);
	free(b);
	free(out);
}

Test(images_bad, bad_options)
{
	char *a = path_of("a.png");
	good_png(a, 7, 5);
	char *cmd = cmdf("img2stream --size 0x0 %s > /dev/null", a);
	expect_fail(2, cmd, "--size", "0x0");
	free(cmd);
	cmd = cmdf("img2stream --size 12 %s > /dev/null", a);
	expect_fail(2, cmd, "--size", "12");
	free(cmd);
	cmd = cmdf("img2stream --fit crop %s > /dev/null", a);
	expect_fail(2, cmd, "--fit", "--size");
	free(cmd);
	cmd = cmdf("img2stream --labels x %s > /dev/null", a);
	expect_fail(2, cmd, "--labels", "'x'");
	free(cmd);
	expect_fail(2, "img2stream > /dev/null", "img2stream: ", "no images");
	free(a);
}

Test(images_bad, paths_with_spaces_and_newlines)
{
	char *dir = path_of("odd names");
	mkdirs(dir);
	char *a = cmdf("%s/with space.png", dir), *b = cmdf("%s/new\nline.png", dir);
	good_png(a, W, H);
	good_png(b, W, H);
	char *list = path_of("list0"), *out = path_of("o.ts");
	FILE *f = fopen(list, "wb");
	fwrite(a, 1, strlen(a) + 1, f);
	fwrite(b, 1, strlen(b) + 1, f);
	fclose(f);
	char err[4096];
	int rc = run_err(err, sizeof err, "img2stream -0 --files-from - < %s > %s", list, out);
	cr_assert_eq(rc, 0, "%s", err);
	struct stream st;
	read_stream(out, &st);
	cr_assert_eq(st.n, 2);
	free_stream(&st);
	/* The same through find -print0, and a missing one named in full. */
	rc = run_err(err, sizeof err, "find '%s' -name '*.png' -print0 | img2stream -0 --files-from - > %s",
		     dir, out);
	cr_assert_eq(rc, 0, "%s", err);
	read_stream(out, &st);
	cr_assert_eq(st.n, 2);
	free_stream(&st);
	unlink(b);
	char *cmd = cmdf("img2stream -0 --files-from %s > %s", list, out);
	expect_fail(1, cmd, "new\\nline.png", "cannot open");
	free(cmd);
	free(a);
	free(b);
	free(dir);
	free(list);
	free(out);
}

Test(images_bad, stream2img_pattern_without_field)
{
	char *dir = path_of("two"), *ts = path_of("two.ts"), *o = path_of("outs");
	mkdirs(dir);
	good_png(tmp_path("two/a.png"), W, H);
	good_png(tmp_path("two/b.png"), W, H);
	cr_assert_eq(run("img2stream %s > %s", dir, ts), 0);
	/* Declared count, and unknown count (through --skip-bad). */
	char *cmd = cmdf("stream2img -o %s/x.png %s", o, ts);
	expect_fail(1, cmd, "no %d field", "2 records");
	free(cmd);
	cmd = cmdf("img2stream --skip-bad %s | stream2img -o %s/x.png", dir, o);
	expect_fail(1, cmd, "no %d field", "more than one record");
	cr_assert_neq(access(o, F_OK), 0, "nothing written");
	free(cmd);
	cmd = cmdf("stream2img -o %s/x%%q.png %s", o, ts);
	expect_fail(2, cmd, "%q", NULL);
	free(cmd);
	cmd = cmdf("stream2img -o %s/x%%d.nope %s", o, ts);
	expect_fail(1, cmd, ".nope", "suffix");
	free(cmd);
	/* One record and no field is fine. */
	cr_assert_eq(run("stream2img -n 1 -o %s/one.png %s", o, ts), 0);
	cr_assert_eq(access(tmp_path("outs/one.png"), F_OK), 0);
	free(dir);
	free(ts);
	free(o);
}

Test(images, stream2img_names)
{
	char *root = make_tree(), *ts = path_of("t.ts"), *o = path_of("named");
	cr_assert_eq(run("img2stream %s > %s && stream2img -o '%s/%%c/%%l-%%03d.png' --start 1 %s",
			 root, ts, o, ts), 0);
	const char *want[] = {"birds/0-001.png", "birds/0-002.png", "dogs and cats/1-003.png",
			      "dogs and cats/1-004.png", "unlabelled/-1-005.png"};
	for (int i = 0; i < 5; i++) {
		char p[1024];
		snprintf(p, sizeof p, "%s/%s", o, want[i]);
		cr_assert_eq(access(p, F_OK), 0, "missing %s", p);
		unsigned w, h;
		unsigned char *px = test_png_read(p, 1, &w, &h, NULL);
		cr_assert(px && w == W && h == H);
		free(px);
	}
	free(root);
	free(ts);
	free(o);
}

/* latent-plot's legend names the classes from the metadata: the picture
 * differs from the one with numbers, and --names still overrides it. */
Test(images, latent_plot_legend_from_class_names)
{
	char *named = path_of("named.ts"), *plain = path_of("plain.ts");
	for (int with = 0; with <= 1; with++) {
		ts_header h;
		ts_writer w;
		vk_error e;
		uint32_t d = 2;
		cr_assert_eq(ts_header_init(&h, TS_F32, 1, &d, &e), 0);
		h.has_labels = 1;
		char *names[] = {"alpha cats", "beta dogs"};
		if (with)
			cr_assert_eq(vk_classes_set(&h, names, 2, &e), 0);
		cr_assert_eq(ts_writer_open(&w, with ? named : plain, &h, &e), 0, "%s", e.msg);
		for (int i = 0; i < 20; i++) {
			float v[2] = {(float)(i % 7), (float)(i % 5)};
			cr_assert_eq(ts_write(&w, v, i % 2, &e), 0);
		}
		cr_assert_eq(ts_writer_close(&w, &e), 0);
	}
	char *a = path_of("a.png"), *b = path_of("b.png"), *c = path_of("c.png");
	cr_assert_eq(run("latent-plot -o %s %s && latent-plot -o %s %s && "
			 "latent-plot --names 0,1 -o %s %s", a, named, b, plain, c, named), 0);
	size_t la, lb, lc;
	unsigned char *pa = slurp(a, &la), *pb = slurp(b, &lb), *pc = slurp(c, &lc);
	cr_assert(pa && pb && pc);
	cr_assert(la != lb || memcmp(pa, pb, la) != 0, "class names changed nothing");
	cr_assert(lb == lc && memcmp(pb, pc, lb) == 0, "--names does not override");
	free(pa), free(pb), free(pc);
	free(a), free(b), free(c), free(named), free(plain);
}
