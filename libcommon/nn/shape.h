/* Shapes and the library's size limits: one limit per thing, used by the
 * layer text, the shape rule, the kernels' geometry and the model reader.
 *
 * Shapes are channels-last: an image is H×W×C (the stream's layout); a flat
 * vector of N values has h = w = 0 and c = N. */
#ifndef VK_SHAPE_H
#define VK_SHAPE_H

#include <stddef.h>

#define VK_MAX_LAYERS 16          /* layers a list may hold besides the head/output */
#define VK_MAX_WIDTH 65536        /* dense outputs, channels, image sides */
#define VK_MAX_VALUES (1 << 24)   /* values in one shape */
#define VK_MAX_FILTERS 4096       /* a conv or deconv layer's filters, as the user gives them */
/* Kernel side and stride of conv and deconv. 15 (not the 64 conv.h once
 * allowed): the layer text and every model file ever written hold at most
 * 15, and a kernel beyond 15 on the images vaekit handles is never what a
 * user means, while the lowering's column buffer grows as K². */
#define VK_MAX_KERNEL 15
#define VK_MAX_STRIDE 8

typedef struct {
	int h, w, c;
} vk_shape;

static inline int vk_shape_is_image(vk_shape s) { return s.h > 0; }
static inline size_t vk_shape_size(vk_shape s)
{
	return s.h > 0 ? (size_t)s.h * s.w * s.c : (size_t)s.c;
}
/* "28x28x1" or "784". */
char *vk_shape_str(vk_shape s, char *buf, size_t n);

#endif
