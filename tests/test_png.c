/* PNG output (libcommon/io/image.c), read back with libpng. */
#include <criterion/criterion.h>
#include <png.h>
#include <string.h>

#include "image.h"
#include "testutil.h"

/* Read a PNG as 8-bit gray (channels 1) or RGB (3) with libpng's simplified
 * API; returns malloc'd pixels, NULL on failure. Also used by test_datatools.c
 * (all suites link into one runner). */
unsigned char *test_png_read(const char *path, unsigned channels, unsigned *w, unsigned *h,
			     unsigned *file_channels)
{
	png_image im;
	memset(&im, 0, sizeof im);
	im.version = PNG_IMAGE_VERSION;
	if (!png_image_begin_read_from_file(&im, path))
		return NULL;
	if (file_channels)
		*file_channels = PNG_IMAGE_PIXEL_CHANNELS(im.format);
	im.format = channels == 1 ? PNG_FORMAT_GRAY : PNG_FORMAT_RGB;
	unsigned char *px = malloc(PNG_IMAGE_SIZE(im));
	if (!png_image_finish_read(&im, NULL, px, 0, NULL)) {
		free(px);
		return NULL;
	}
	*w = im.width;
	*h = im.height;
	return px;
}

static void write_and_check(unsigned w, unsigned h, unsigned c)
{
	unsigned char px[7 * 5 * 3];
	for (unsigned i = 0; i < w * h * c; i++)
		px[i] = (unsigned char)(i * 37 + 11);
	const char *path = tmp_path(c == 1 ? "gray.png" : "rgb.png");
	FILE *f = fopen(path, "wb");
	cr_assert(f);
	vk_error e;
	cr_assert_eq(vk_png_write(f, path, px, w, h, c, &e), 0, "%s", e.msg);
	cr_assert_eq(fclose(f), 0);
	unsigned rw, rh, fc;
	unsigned char *back = test_png_read(path, c, &rw, &rh, &fc);
	cr_assert(back, "libpng could not read %s", path);
	cr_assert_eq(rw, w);
	cr_assert_eq(rh, h);
	cr_assert_eq(fc, c, "file has %u channels, wrote %u", fc, c);
	cr_assert_eq(memcmp(back, px, w * h * c), 0);
	free(back);
}

Test(png_writer, gray_pixels_exact) { write_and_check(7, 5, 1); }

Test(png_writer, rgb_pixels_exact) { write_and_check(4, 3, 3); }

Test(png_writer, canvas_blit_scale_and_save)
{
	vk_canvas cv;
	vk_error e;
	cr_assert_eq(vk_canvas_init(&cv, 6, 5, 3, &e), 0, "%s", e.msg);
	unsigned char bg[3] = {10, 20, 30};
	vk_canvas_fill(&cv, bg);
	/* A 2x2 gray image drawn at (1,1) with scale 2: gray spread over RGB. */
	unsigned char img[4] = {0, 100, 200, 255};
	vk_canvas_blit(&cv, 1, 1, img, 2, 2, 1, 2);
	const char *path = tmp_path("canvas.png");
	cr_assert_eq(vk_png_save(path, &cv, &e), 0, "%s", e.msg);
	vk_canvas_free(&cv);
	unsigned w, h;
	unsigned char *px = test_png_read(path, 3, &w, &h, NULL);
	cr_assert(px);
	cr_assert_eq(w, 6);
	cr_assert_eq(h, 5);
	for (unsigned y = 0; y < h; y++)
		for (unsigned x = 0; x < w; x++) {
			const unsigned char *p = px + (y * w + x) * 3;
			int inside = x >= 1 && x < 5 && y >= 1 && y < 5;
			unsigned char v = inside ? img[(y - 1) / 2 * 2 + (x - 1) / 2] : 0;
			for (int k = 0; k < 3; k++)
				cr_assert_eq(p[k], inside ? v : bg[k], "pixel %u,%u channel %d", x, y, k);
		}
	free(px);
}

Test(png_writer, canvas_limits)
{
	vk_canvas cv;
	vk_error e;
	cr_assert_eq(vk_canvas_init(&cv, 70000, 1, 1, &e), -1);
	cr_assert(strstr(e.msg, "too large"), "%s", e.msg);
	cr_assert_eq(vk_canvas_init(&cv, 20000, 20000, 1, &e), -1);
	cr_assert_eq(vk_canvas_bytes(100, 100, 3), 30000);
}

Test(png_writer, write_error_reported)
{
	unsigned char px[16] = {0};
	FILE *f = fopen("/dev/full", "wb");
	cr_assert(f);
	setvbuf(f, NULL, _IONBF, 0);
	vk_error e;
	cr_assert_eq(vk_png_write(f, "/dev/full", px, 4, 4, 1, &e), -1);
	cr_assert(strstr(e.msg, "error writing /dev/full"), "%s", e.msg);
	fclose(f);
}
