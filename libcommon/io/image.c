#include "image.h"

#include <errno.h>

#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"

unsigned long long vk_canvas_bytes(unsigned long long w, unsigned long long h, unsigned c)
{
	if (w == 0 || h == 0 || w > VK_CANVAS_MAX_SIDE || h > VK_CANVAS_MAX_SIDE)
		return 0;
	unsigned long long n = w * h * c;
	return n > VK_CANVAS_MAX_BYTES ? 0 : n;
}

int vk_canvas_init(vk_canvas *cv, unsigned w, unsigned h, unsigned c, vk_error *e)
{
	memset(cv, 0, sizeof *cv);
	if (c != 1 && c != 3 && c != 4)
		return vk_fail(e, "%u channels: an image has 1, 3 or 4", c);
	unsigned long long n = vk_canvas_bytes(w, h, c);
	if (!n)
		return vk_fail(e, "image of %ux%u pixels is too large (limit %u per side, %llu MiB)",
			       w, h, VK_CANVAS_MAX_SIDE, VK_CANVAS_MAX_BYTES >> 20);
	cv->px = calloc(n, 1);
	if (!cv->px)
		return vk_fail(e, "out of memory for a %ux%u image", w, h);
	cv->w = w;
	cv->h = h;
	cv->c = c;
	return 0;
}

void vk_canvas_free(vk_canvas *cv)
{
	free(cv->px);
	cv->px = NULL;
}

void vk_canvas_fill(vk_canvas *cv, const unsigned char *color)
{
	vk_canvas_rect(cv, 0, 0, cv->w, cv->h, color);
}

void vk_canvas_rect(vk_canvas *cv, long x, long y, unsigned w, unsigned h,
		    const unsigned char *color)
{
	long x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
	long x1 = x + (long)w > (long)cv->w ? (long)cv->w : x + (long)w;
	long y1 = y + (long)h > (long)cv->h ? (long)cv->h : y + (long)h;
	for (long j = y0; j < y1; j++) {
		unsigned char *p = cv->px + ((size_t)j * cv->w + x0) * cv->c;
		for (long i = x0; i < x1; i++, p += cv->c)
			memcpy(p, color, cv->c);
	}
}

/* One source pixel as the canvas's channels. */
static void convert_pixel(const unsigned char *src, unsigned sc, unsigned char *dst, unsigned dc)
{
	if (sc == dc) {
		memcpy(dst, src, dc);
		return;
	}
	unsigned char gray = sc == 1 ? src[0] : (unsigned char)((src[0] + src[1] + src[2] + 1) / 3);
	if (dc == 1) {
		dst[0] = gray;
		return;
	}
	for (unsigned k = 0; k < 3; k++)
		dst[k] = sc == 1 ? gray : src[k];
	if (dc == 4)
		dst[3] = 255;
}

void vk_canvas_blit(vk_canvas *cv, long x, long y, const unsigned char *img, unsigned w,
		    unsigned h, unsigned c, unsigned scale)
{
	long W = (long)w * scale, H = (long)h * scale;
	long x0 = x < 0 ? 0 : x, y0 = y < 0 ? 0 : y;
	long x1 = x + W > (long)cv->w ? (long)cv->w : x + W;
	long y1 = y + H > (long)cv->h ? (long)cv->h : y + H;
	for (long j = y0; j < y1; j++) {
		const unsigned char *row = img + (size_t)((j - y) / scale) * w * c;
		unsigned char *p = cv->px + ((size_t)j * cv->w + x0) * cv->c;
		for (long i = x0; i < x1; i++, p += cv->c)
			convert_pixel(row + (size_t)((i - x) / scale) * c, c, p, cv->c);
	}
}

/* libpng reports errors by longjmp; the message is kept for vk_error. */
struct png_ctx {
	char msg[256];
	int err;        /* errno when libpng gave up: its "Write Error" hides it */
};

static void on_png_error(png_structp png, png_const_charp msg)
{
	struct png_ctx *ctx = png_get_error_ptr(png);
	ctx->err = errno;
	snprintf(ctx->msg, sizeof ctx->msg, "%s", msg);
	png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp msg)
{
	(void)png;
	(void)msg;
}

int vk_png_write(FILE *f, const char *name, const unsigned char *px, unsigned w, unsigned h,
		 unsigned c, vk_error *e)
{
	static const int color_type[5] = {0, PNG_COLOR_TYPE_GRAY, 0, PNG_COLOR_TYPE_RGB,
					  PNG_COLOR_TYPE_RGB_ALPHA};
	if (c != 1 && c != 3 && c != 4)
		return vk_fail(e, "%s: %u channels: a PNG here has 1, 3 or 4", name, c);
	struct png_ctx ctx = {"", 0};
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, &ctx, on_png_error,
						  on_png_warning);
	if (!png)
		return vk_fail(e, "%s: out of memory for the PNG writer", name);
	png_infop info = png_create_info_struct(png);
	if (!info || setjmp(png_jmpbuf(png))) {
		png_destroy_write_struct(&png, info ? &info : NULL);
		if (ferror(f) && ctx.err) { /* the file failed, not libpng: say how */
			errno = ctx.err;
			return vk_fail(e, "error writing %s:", name);
		}
		return vk_fail(e, "error writing %s: %s", name, ctx.msg[0] ? ctx.msg : "libpng failed");
	}
	png_init_io(png, f);
	png_set_IHDR(png, info, w, h, 8, color_type[c], PNG_INTERLACE_NONE,
		     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	png_write_info(png, info);
	for (unsigned j = 0; j < h; j++)
		png_write_row(png, px + (size_t)j * w * c);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);
	return 0;
}

int vk_png_save(const char *path, const vk_canvas *cv, vk_error *e)
{
	vk_afile out;
	if (vk_afile_open(&out, path, 1, e))
		return -1;
	const char *name = out.is_stdout ? "standard output" : path;
	if (vk_png_write(out.f, name, cv->px, cv->w, cv->h, cv->c, e)) {
		vk_afile_abort(&out);
		return -1;
	}
	return vk_afile_commit(&out, e);
}
