/* 8-bit images: a canvas to draw on and PNG output through libpng.
 * Shared by the tools that make pictures (png-grid, latent-plot). */
#ifndef VK_IMAGE_H
#define VK_IMAGE_H

#include <stdio.h>

#include "err.h"

#define VK_CANVAS_MAX_SIDE 65535u          /* PNG readers commonly stop near here */
#define VK_CANVAS_MAX_BYTES (1ull << 28)   /* 256 MiB of pixels */

/* W×H pixels of C channels (1 gray, 3 RGB, 4 RGBA), row-major, interleaved. */
typedef struct {
	unsigned w, h, c;
	unsigned char *px;
} vk_canvas;

/* Bytes a w×h×c canvas needs, or 0 when it is over the limits above. */
unsigned long long vk_canvas_bytes(unsigned long long w, unsigned long long h, unsigned c);
/* Allocate a canvas (checking the limits) filled with zeros. */
int vk_canvas_init(vk_canvas *cv, unsigned w, unsigned h, unsigned c, vk_error *e);
void vk_canvas_free(vk_canvas *cv);
/* Paint every pixel with color (cv->c bytes). */
void vk_canvas_fill(vk_canvas *cv, const unsigned char *color);
/* Paint a rectangle (clipped to the canvas) with color (cv->c bytes). */
void vk_canvas_rect(vk_canvas *cv, long x, long y, unsigned w, unsigned h,
		    const unsigned char *color);
/* Copy a w×h image of c channels (1 or 3) to (x, y), each pixel drawn as a
 * scale×scale block. Gray is spread over RGB; RGB on a gray canvas is averaged.
 * Clipped to the canvas. */
void vk_canvas_blit(vk_canvas *cv, long x, long y, const unsigned char *img, unsigned w,
		    unsigned h, unsigned c, unsigned scale);

/* Write a PNG of w×h pixels with c channels (1, 3 or 4) to f. */
int vk_png_write(FILE *f, const char *name, const unsigned char *px, unsigned w, unsigned h,
		 unsigned c, vk_error *e);
/* Write the canvas as a PNG file, atomically; NULL or "-" writes standard
 * output, which is refused when it is a terminal. */
int vk_png_save(const char *path, const vk_canvas *cv, vk_error *e);

#endif
