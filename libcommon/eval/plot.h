/* Plotting on an RGB (3-channel) canvas (image.h): points, lines, text in a built-in 5x7
 * bitmap font, and a framed pair of axes with tick numbers and a legend.
 * Shared by the tools that draw charts (latent-plot). */
#ifndef VK_PLOT_H
#define VK_PLOT_H

#include "image.h"

#define VK_FONT_W 5
#define VK_FONT_H 7
#define VK_PALETTE_SIZE 10

/* The 10-colour qualitative palette (matplotlib's tab10), colour k mod 10. */
const unsigned char *vk_palette(long k);

/* Text: printable ASCII (others drawn as a box), each glyph pixel a
 * scale x scale block, glyphs 6 pixels apart at scale 1. (x, y) is the top
 * left corner. Clipped to the canvas. */
unsigned vk_text_width(const char *s, unsigned scale);
void vk_text(vk_canvas *cv, long x, long y, const char *s, unsigned scale,
	     const unsigned char *rgb);

/* A filled disc centred on (cx, cy) in pixels, clipped. */
void vk_disc(vk_canvas *cv, double cx, double cy, double r, const unsigned char *rgb);
/* A straight line of one pixel between two points, clipped. */
void vk_line(vk_canvas *cv, long x0, long y0, long x1, long y1, const unsigned char *rgb);

/* "Nice" tick positions (1, 2 or 5 times a power of ten) covering [lo, hi]
 * with about target ticks: the first tick and the step. lo < hi. */
void vk_ticks(double lo, double hi, int target, double *first, double *step);

/* A data rectangle mapped onto a box of pixels: x rises to the right, y up. */
typedef struct {
	double xmin, xmax, ymin, ymax;
	long left, top, right, bottom;   /* pixel box, inclusive edges */
	unsigned scale;                  /* text scale */
} vk_axes;

/* Place the axes on a w x h canvas, leaving room on the left and below for
 * tick numbers and axis names, and legend_w pixels on the right. */
void vk_axes_place(vk_axes *ax, unsigned w, unsigned h, unsigned legend_w);
double vk_axes_px(const vk_axes *ax, double x);
double vk_axes_py(const vk_axes *ax, double y);
/* Frame, ticks, tick numbers and the axis names. */
void vk_axes_draw(vk_canvas *cv, const vk_axes *ax, const char *xname, const char *yname);

/* A legend: a colour swatch (rgb[i], NULL for none) and a name per entry,
 * top down, right of the axes box; vk_legend_rows entries fit beside it. */
unsigned vk_legend_width(const char *const *names, int n, unsigned scale);
int vk_legend_rows(const vk_axes *ax);
void vk_legend_draw(vk_canvas *cv, const vk_axes *ax, const char *const *names,
		    const unsigned char *const *rgb, int n);

#endif
