#include "vimage.h"

#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <gmodule.h>
#include <libgen.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <vips/vips.h>
#include <vips/vector.h>

/* libvips' message for the last failure, made one line: "Class: text\n..."
 * lines joined with "; ", class prefixes dropped. Clears the buffer. */
static int fail_vips(vk_error *e, const char *what)
{
	char *buf = vips_error_buffer_copy(), msg[400] = "";
	size_t o = 0;
	for (char *line = buf, *next; line && *line && o + 3 < sizeof msg; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		char *colon = strstr(line, ": ");
		if (colon && !memchr(line, ' ', colon - line))
			line = colon + 2;
		while (*line && isspace((unsigned char)*line))
			line++;
		if (!*line)
			continue;
		o += snprintf(msg + o, sizeof msg - o, "%s%s", o ? "; " : "", line);
	}
	g_free(buf);
	if (o >= sizeof msg)
		o = sizeof msg - 1;
	while (o > 0 && (msg[o - 1] == '.' || isspace((unsigned char)msg[o - 1])))
		msg[--o] = 0;
	return vk_fail(e, "%s%s%s", what, msg[0] ? ": " : "", msg);
}

/* libvips' warnings (through GLib's log) would add lines to our one-line
 * messages; the failures they precede are reported by the calls that fail. */
static void quiet(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
	(void)domain;
	(void)level;
	(void)msg;
	(void)data;
}

/* libvips opens its format modules (HEIF, JPEG XL, ImageMagick for BMP and
 * others, PDF, OpenSlide) when it starts: about half of the time of a
 * one-image run. PNG, JPEG, WebP, TIFF, GIF and PNM are built in. So start it
 * with VIPSHOME pointing nowhere (unless the user set it), which leaves the
 * modules unopened, and open them, as libvips would, the first time a file is
 * none of the built-in formats (open_modules). */
#define VK_NO_VIPSHOME "/nonexistent/vaekit-defers-libvips-modules"

static int modules_deferred; /* set by vk_img_init, before any decoding thread */
static pthread_once_t modules_once = PTHREAD_ONCE_INIT;

/* Open every module in the directory beside the libvips we run with, as
 * vips_init does: lazily bound, then resident (they register types). */
static void open_modules_once(void)
{
	Dl_info info;
	if (!g_module_supported() || !dladdr((void *)vips_init, &info) || !info.dli_fname)
		return;
	char lib[4096], dir[4200];
	snprintf(lib, sizeof lib, "%s", info.dli_fname);
	snprintf(dir, sizeof dir, "%s/vips-modules-%d.%d", dirname(lib), vips_version(0),
		 vips_version(1));
	GDir *d = g_dir_open(dir, 0, NULL);
	if (!d)
		return;
	for (const char *name; (name = g_dir_read_name(d));) {
		size_t n = strlen(name), s = strlen("." G_MODULE_SUFFIX);
		if (n <= s || strcmp(name + n - s, "." G_MODULE_SUFFIX))
			continue;
		char *path = g_build_filename(dir, name, NULL);
		GModule *m = g_module_open(path, G_MODULE_BIND_LAZY);
		g_free(path);
		if (m)
			g_module_make_resident(m);
	}
	g_dir_close(d);
}

/* 1 when the modules were deferred: they are open now (once, whichever
 * decoding thread asks first), and a file worth looking at again. */
static int open_modules(void)
{
	if (!modules_deferred)
		return 0;
	pthread_once(&modules_once, open_modules_once);
	return 1;
}

int vk_img_init(const char *argv0, vk_error *e)
{
	modules_deferred = !getenv("VIPSHOME");
	if (modules_deferred && setenv("VIPSHOME", VK_NO_VIPSHOME, 1))
		modules_deferred = 0;
	int failed = VIPS_INIT(argv0);
	if (modules_deferred)
		unsetenv("VIPSHOME");
	if (failed)
		return fail_vips(e, "cannot start libvips");
	g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO,
			  quiet, NULL);
	vips_concurrency_set(1);
	/* Every image is decoded once: the operation cache would only hold memory. */
	vips_cache_set_max(0);
	/* liborc, which libvips 8.14 compiles its vector kernels with, is not
	 * safe to compile from several threads at once (it crashes in
	 * orc_code_allocate_codemem); the plain C paths give the same pixels. */
	vips_vector_set_enabled(0);
	return 0;
}

void vk_img_shutdown(void) { vips_shutdown(); }
void vk_img_thread_done(void) { vips_thread_shutdown(); }

/* Loaders we accept: bitmap formats. Not libvips' CSV, matrix, raw, FITS,
 * PDF or SVG loaders, which would turn text or documents into "images". */
static int loader_ok(const char *name)
{
	/* libvips names GIF's loader after its library: "Nsgif" in 8.14, "Gif"
	 * before (tests/test_imgformats.c reads a file of every format here). */
	static const char *const ok[] = {"Png", "Jpeg", "Webp", "Tiff", "Gif", "Nsgif", "Ppm",
					 "Heif", "Jxl", "Jp2k", "Magick", NULL};
	const char *p = "VipsForeignLoad";
	if (strncmp(name, p, strlen(p)) != 0)
		return 0;
	name += strlen(p);
	for (int i = 0; ok[i]; i++)
		if (strncmp(name, ok[i], strlen(ok[i])) == 0)
			return 1;
	return 0;
}

/* The checks before libvips sees the file, then its header. */
static VipsImage *open_image(const char *path, vk_error *e)
{
	struct stat st, lst;
	if (stat(path, &st) != 0) {
		if (errno == ENOENT && lstat(path, &lst) == 0 && S_ISLNK(lst.st_mode))
			vk_fail(e, "broken symbolic link");
		else
			vk_fail(e, "cannot open:");
		return NULL;
	}
	if (S_ISDIR(st.st_mode)) {
		vk_fail(e, "is a directory");
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		vk_fail(e, "not a regular file");
		return NULL;
	}
	if (st.st_size == 0) {
		vk_fail(e, "empty file (0 bytes)");
		return NULL;
	}
	const char *loader = vips_foreign_find_load(path);
	if (!loader && open_modules()) {
		vips_error_clear();
		loader = vips_foreign_find_load(path);
	}
	if (!loader) {
		vips_error_clear();
		FILE *f = fopen(path, "rb");
		if (!f)
			vk_fail(e, "cannot open:");
		else
			vk_fail(e, "not an image (no image format recognised)");
		if (f)
			fclose(f);
		return NULL;
	}
	if (!loader_ok(loader)) {
		vk_fail(e, "not an image (libvips reads it as %s, which is not a bitmap format)",
			loader);
		return NULL;
	}
	VipsImage *im = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL,
						 "fail_on", VIPS_FAIL_ON_ERROR, NULL);
	if (!im) {
		fail_vips(e, "cannot decode");
		return NULL;
	}
	unsigned long long w = (unsigned)im->Xsize, h = (unsigned)im->Ysize;
	if (w == 0 || h == 0 || w * h > VK_IMG_MAX_PIXELS) {
		vk_fail(e, "image of %llux%llu pixels is over the limit of %llu pixels", w, h,
			VK_IMG_MAX_PIXELS);
		g_object_unref(im);
		return NULL;
	}
	if (im->Bands < 1 || im->Bands > 4) {
		vk_fail(e, "%d bands: an image here has 1 to 4 (grey, grey+alpha, RGB, RGBA)",
			im->Bands);
		g_object_unref(im);
		return NULL;
	}
	return im;
}

static int is_grey(VipsImage *im)
{
	VipsInterpretation t = vips_image_guess_interpretation(im);
	return t == VIPS_INTERPRETATION_B_W || t == VIPS_INTERPRETATION_GREY16 ||
	       (t == VIPS_INTERPRETATION_MULTIBAND && im->Bands <= 2);
}

int vk_img_probe(const char *path, vk_img_info *info, vk_error *e)
{
	VipsImage *im = open_image(path, e);
	if (!im)
		return -1;
	info->w = (unsigned)im->Xsize;
	info->h = (unsigned)im->Ysize;
	info->bands = (unsigned)im->Bands;
	info->grey = is_grey(im);
	info->alpha = vips_image_hasalpha(im);
	g_object_unref(im);
	return 0;
}

/* The colour and channel conversions: im (any bands/format) to s->c bands of
 * uchar, alpha flattened over the background unless s->c is 4. */
static int convert(VipsObject *ctx, VipsImage *im, const vk_img_spec *s, VipsImage **out)
{
	VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 12);
	int grey = is_grey(im), alpha = vips_image_hasalpha(im);
	/* 16-bit samples keep their high byte, the same rule for grey and colour
	 * (libvips' own GREY16 conversion rounds differently from its RGB16 one). */
	if (im->BandFmt == VIPS_FORMAT_USHORT) {
		if (vips_rshift_const1(im, &t[9], 8, NULL) ||
		    vips_cast_uchar(t[9], &t[10], NULL) ||
		    vips_copy(t[10], &t[11], "interpretation",
			      grey ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB, NULL))
			return -1;
		im = t[11];
	}
	VipsInterpretation want = s->c == 1 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
	/* A grey image turns RGB by copying its band; colourspace would go through
	 * CIE colour spaces and back for nothing. */
	if (grey && s->c != 1) {
		if (im->BandFmt != VIPS_FORMAT_UCHAR) {
			if (vips_colourspace(im, &t[0], VIPS_INTERPRETATION_B_W, NULL))
				return -1;
			im = t[0];
		}
		VipsImage *g[3] = {NULL, NULL, NULL};
		if (vips_extract_band(im, &t[1], 0, NULL))
			return -1;
		g[0] = g[1] = g[2] = t[1];
		if (vips_bandjoin(g, &t[2], 3, NULL))
			return -1;
		if (alpha) {
			if (vips_extract_band(im, &t[3], 1, NULL))
				return -1;
			VipsImage *ga[2] = {t[2], t[3]};
			if (vips_bandjoin(ga, &t[4], 2, NULL))
				return -1;
			im = t[4];
		} else {
			im = t[2];
		}
		if (vips_copy(im, &t[8], "interpretation", VIPS_INTERPRETATION_sRGB, NULL))
			return -1;
		im = t[8];
	} else if (vips_image_guess_interpretation(im) != want || im->BandFmt != VIPS_FORMAT_UCHAR) {
		if (vips_colourspace(im, &t[0], want, NULL))
			return -1;
		im = t[0];
	}
	if (im->BandFmt != VIPS_FORMAT_UCHAR) {
		if (vips_cast_uchar(im, &t[5], NULL))
			return -1;
		im = t[5];
	}
	if (alpha && s->c != 4) {
		double bg[3] = {s->bg[0], s->bg[1], s->bg[2]};
		if (s->c == 1)
			bg[0] = (s->bg[0] + s->bg[1] + s->bg[2] + 1) / 3;
		VipsArrayDouble *a = vips_array_double_new(bg, s->c == 1 ? 1 : 3);
		int rc = vips_flatten(im, &t[6], "background", a, NULL);
		vips_area_unref(VIPS_AREA(a));
		if (rc || vips_cast_uchar(t[6], &t[7], NULL))
			return -1;
		im = t[7];
	} else if (!alpha && s->c == 4) {
		if (vips_bandjoin_const1(im, &t[6], 255, NULL))
			return -1;
		im = t[6];
	}
	*out = im;
	return 0;
}

/* Scale with libvips' resize (box shrink, then a Lanczos 3 reduction; the
 * same kernels its thumbnail operation uses, without its ICC and file
 * handling), alpha premultiplied, then centre the result on an exact w×h:
 * cut for crop, background for pad, the last pixels copied when rounding
 * left stretch a pixel short. */
static int resize(VipsObject *ctx, VipsImage *im, const vk_img_spec *s, VipsImage **out)
{
	VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 6);
	if ((unsigned)im->Xsize == s->w && (unsigned)im->Ysize == s->h) {
		*out = im;
		return 0;
	}
	double sx = (double)s->w / im->Xsize, sy = (double)s->h / im->Ysize;
	if (s->fit == VK_FIT_CROP)
		sx = sy = sx > sy ? sx : sy;
	else if (s->fit == VK_FIT_PAD)
		sx = sy = sx < sy ? sx : sy;
	int alpha = vips_image_hasalpha(im);
	if (alpha) {
		if (vips_premultiply(im, &t[0], NULL))
			return -1;
		im = t[0];
	}
	if (vips_resize(im, &t[1], sx, "vscale", sy, NULL))
		return -1;
	im = t[1];
	if (alpha) {
		if (vips_unpremultiply(im, &t[2], NULL))
			return -1;
		im = t[2];
	}
	if (im->BandFmt != VIPS_FORMAT_UCHAR) {
		if (vips_cast_uchar(im, &t[3], NULL))
			return -1;
		im = t[3];
	}
	if ((unsigned)im->Xsize != s->w || (unsigned)im->Ysize != s->h) {
		double bg[4] = {s->bg[0], s->bg[1], s->bg[2], 0};
		if (s->c == 1)
			bg[0] = (s->bg[0] + s->bg[1] + s->bg[2] + 1) / 3;
		VipsArrayDouble *a = vips_array_double_new(bg, (int)s->c);
		int rc = vips_gravity(im, &t[4], VIPS_COMPASS_DIRECTION_CENTRE, (int)s->w,
				      (int)s->h, "extend",
				      s->fit == VK_FIT_PAD ? VIPS_EXTEND_BACKGROUND : VIPS_EXTEND_COPY,
				      "background", a, NULL);
		vips_area_unref(VIPS_AREA(a));
		if (rc)
			return -1;
		im = t[4];
	}
	*out = im;
	return 0;
}

/* Float samples (a float TIFF) are values in [0, 1], as a stream's f32 with
 * scale=unit: scaled by 255 and rounded. The whole image is read to check
 * them first; a value outside [0, 1] or not a number is refused, not clamped
 * or cast to black. */
static int unit_floats(VipsObject *ctx, VipsImage *im, VipsImage **out, vk_error *e)
{
	VipsImage **t = (VipsImage **)vips_object_local_array(ctx, 5);
	if (!(t[0] = vips_image_copy_memory(im)))
		return fail_vips(e, "cannot decode");
	size_t n = (size_t)t[0]->Xsize * t[0]->Ysize * t[0]->Bands;
	const void *px = VIPS_IMAGE_ADDR(t[0], 0, 0);
	double lo = 0, hi = 1;
	for (size_t i = 0; i < n; i++) {
		double v = t[0]->BandFmt == VIPS_FORMAT_FLOAT ? ((const float *)px)[i]
							      : ((const double *)px)[i];
		if (v != v)
			return vk_fail(e, "float sample %zu is not a number", i);
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
	}
	if (lo < 0 || hi > 1)
		return vk_fail(e, "float samples from %g to %g: float images are read as values in "
				  "[0, 1] (scaled by 255); scale the file's values to [0, 1]", lo, hi);
	VipsInterpretation type = t[0]->Bands <= 2 ? VIPS_INTERPRETATION_B_W
						   : VIPS_INTERPRETATION_sRGB;
	if (vips_linear1(t[0], &t[1], 255.0, 0.0, NULL) ||
	    vips_round(t[1], &t[2], VIPS_OPERATION_ROUND_RINT, NULL) ||
	    vips_cast_uchar(t[2], &t[3], NULL) ||
	    vips_copy(t[3], &t[4], "interpretation", type, NULL))
		return fail_vips(e, "cannot decode");
	*out = t[4];
	return 0;
}

int vk_img_decode(const char *path, const vk_img_spec *s, unsigned char *out, vk_error *e)
{
	VipsImage *in = open_image(path, e);
	if (!in)
		return -1;
	if (!s->resize && ((unsigned)in->Xsize != s->w || (unsigned)in->Ysize != s->h)) {
		vk_fail(e, "image is %dx%d but %s is %ux%u (give --size WxH to resize)", in->Xsize,
			in->Ysize, s->size_from ? s->size_from : "the first image", s->w, s->h);
		g_object_unref(in);
		return -1;
	}
	VipsObject *ctx = VIPS_OBJECT(vips_image_new());
	VipsImage *a, *b, *src = in;
	int rc = -1;
	if ((in->BandFmt == VIPS_FORMAT_FLOAT || in->BandFmt == VIPS_FORMAT_DOUBLE) &&
	    unit_floats(ctx, in, &src, e))
		goto done;
	if (convert(ctx, src, s, &a) || (s->resize ? resize(ctx, a, s, &b) : (b = a, 0))) {
		fail_vips(e, "cannot decode");
		goto done;
	}
	if ((unsigned)b->Xsize != s->w || (unsigned)b->Ysize != s->h || (unsigned)b->Bands != s->c) {
		vk_fail(e, "libvips made %dx%dx%d pixels, not %ux%ux%u", b->Xsize, b->Ysize,
			b->Bands, s->w, s->h, s->c);
		goto done;
	}
	size_t size;
	void *px = vips_image_write_to_memory(b, &size);
	if (!px) {
		fail_vips(e, "cannot decode");
		goto done;
	}
	memcpy(out, px, size);
	g_free(px);
	rc = 0;
done:
	g_object_unref(ctx);
	g_object_unref(in);
	return rc;
}

int vk_img_can_save(const char *path)
{
	const char *dot = strrchr(path, '.');
	if (!dot || strchr(dot, '/'))
		return 0;
	const char *saver = vips_foreign_find_save_target(dot);
	vips_error_clear();
	return saver != NULL;
}

int vk_img_encode(const char *path, const unsigned char *px, unsigned w, unsigned h, unsigned c,
		  void **buf, size_t *len, vk_error *e)
{
	const char *dot = strrchr(path, '.');
	if (!dot || !vk_img_can_save(path))
		return vk_fail(e, "no image format for the suffix of '%s'", path);
	VipsImage *im = vips_image_new_from_memory(px, (size_t)w * h * c, (int)w, (int)h, (int)c,
						   VIPS_FORMAT_UCHAR);
	if (!im)
		return fail_vips(e, "cannot make an image");
	im->Type = c <= 2 ? VIPS_INTERPRETATION_B_W : VIPS_INTERPRETATION_sRGB;
	/* To memory through a target: every saver has a target form (PPM has no
	 * buffer form in libvips 8.14). */
	VipsTarget *t = vips_target_new_to_memory();
	int rc = !t || vips_image_write_to_target(im, dot, t, NULL);
	if (!rc) {
		VipsBlob *blob = NULL;
		g_object_get(t, "blob", &blob, NULL);
		size_t n = 0;
		const void *data = blob ? vips_blob_get(blob, &n) : NULL;
		*buf = data ? g_malloc(n ? n : 1) : NULL;
		if (*buf)
			memcpy(*buf, data, n);
		*len = n;
		rc = !*buf;
		if (blob)
			vips_area_unref(VIPS_AREA(blob));
	}
	if (t)
		g_object_unref(t);
	g_object_unref(im);
	return rc ? fail_vips(e, "cannot encode") : 0;
}

void vk_img_free(void *buf) { g_free(buf); }
