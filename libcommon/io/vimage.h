/* Image files in and out through libvips: decoding any format it reads into
 * 8-bit pixels of a chosen channel count and size, and encoding pixels to a
 * format named by a file suffix. Only img2stream and stream2img link this (and
 * libvips); this header needs no libvips headers. Thread-safe after
 * vk_img_init: decode different files from different threads. */
#ifndef VK_VIMAGE_H
#define VK_VIMAGE_H

#include <stddef.h>

#include "err.h"

/* The largest image decoded, checked from the file's header before any pixel
 * is allocated: 2^28 pixels (16384×16384). */
#define VK_IMG_MAX_PIXELS (1ull << 28)

enum vk_fit { VK_FIT_CROP, VK_FIT_PAD, VK_FIT_STRETCH };

/* Start libvips (argv0 for its messages). Our callers decode one image per
 * thread, so libvips' own worker pool is kept to one thread. */
int vk_img_init(const char *argv0, vk_error *e);
void vk_img_shutdown(void);
/* Call at the end of each thread that decoded images (frees libvips' per-thread state). */
void vk_img_thread_done(void);

/* What a file's header says. */
typedef struct {
	unsigned w, h;
	unsigned bands;    /* as stored, alpha included */
	int grey;          /* 1 when the image is grey (with or without alpha) */
	int alpha;
} vk_img_info;

/* Read a file's header only: checks it is a readable, non-empty image file of
 * a format we accept and within VK_IMG_MAX_PIXELS. Messages do not include the
 * path; the caller prefixes it. */
int vk_img_probe(const char *path, vk_img_info *info, vk_error *e);

typedef struct {
	unsigned c;                /* output channels: 1 grey, 3 RGB, 4 RGBA */
	unsigned w, h;             /* output size */
	int resize;                /* 0: the image must already be w×h */
	enum vk_fit fit;
	unsigned char bg[3];       /* alpha is composited over this colour */
	const char *size_from;     /* with !resize: the file that set w×h, for messages */
} vk_img_spec;

/* Decode path into out (s->h × s->w × s->c bytes, row-major, interleaved):
 * 16-bit samples become 8-bit (v >> 8), palettes expand, grey/colour convert
 * with libvips' colourspace conversion, alpha is flattened over s->bg unless
 * s->c is 4 (an image without alpha then gets alpha 255). With resize, the
 * image is scaled per s->fit (crop: cover w×h and cut the centre; pad: fit
 * inside and centre it on bg, alpha 0 for RGBA; stretch: scale each axis). */
int vk_img_decode(const char *path, const vk_img_spec *s, unsigned char *out, vk_error *e);

/* 1 when libvips can write files named like path (by its suffix). */
int vk_img_can_save(const char *path);
/* Encode w×h×c bytes (c 1, 3 or 4) in the format of path's suffix into a new
 * buffer (free with vk_img_free). */
int vk_img_encode(const char *path, const unsigned char *px, unsigned w, unsigned h, unsigned c,
		  void **buf, size_t *len, vk_error *e);
void vk_img_free(void *buf);

#endif
