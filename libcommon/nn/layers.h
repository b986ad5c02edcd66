/* Layer lists: the typed layers a network is made of, their text form
 * (`dense:400/relu,conv:32:3:2`), and the shape rule that turns a list and an
 * input shape into each layer's input and output shapes, checked once when a
 * model is built. Knows nothing of parameters' values or files.
 *
 * Shapes are channels-last: an image is H×W×C (the stream's layout); a flat
 * vector of N values has h = w = 0 and c = N. */
#ifndef VK_LAYERS_H
#define VK_LAYERS_H

#include <stddef.h>
#include "err.h"

enum vk_layer_kind { VK_DENSE = 1, VK_CONV = 2, VK_DECONV = 3 };
#define VK_MAX_LAYERS 16          /* layers a list may hold besides the head/output */
#define VK_MAX_WIDTH 65536        /* dense outputs, filters, image sides */
#define VK_MAX_VALUES (1 << 24)   /* values in one shape */
#define VK_MAX_KERNEL 15
#define VK_MAX_FILTERS 4096
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

/* One layer as the user writes it. */
typedef struct {
	int kind;          /* enum vk_layer_kind */
	int act;           /* enum vk_act */
	int units;         /* dense: outputs; conv, deconv: filters */
	int k, s;          /* conv, deconv: kernel side and stride */
	vk_shape reshape;  /* dense:HxWxC: the output is an image (h > 0), else h = 0 */
} vk_layer_spec;

const char *vk_layer_kind_name(int kind);
/* "dense:400/relu", "conv:32:3:2/relu", "dense:7x7x64/relu". */
char *vk_layer_spec_str(const vk_layer_spec *s, char *buf, size_t n);

/* Parse a comma list of KIND:ARGS[/ACT] into out (at most max layers):
 * dense:N, dense:HxWxC, conv:C:K:S, deconv:C:K:S; ACT relu, leaky, tanh,
 * sigmoid or identity, default_act when absent. */
int vk_layers_parse(const char *text, int default_act, vk_layer_spec *out, int max, int *n,
		    vk_error *e);

/* The output shape of one layer on input shape in, or -1 with a message.
 * dense flattens an image; conv ("same") gives ⌈H/S⌉×⌈W/S⌉×C; deconv H·S×W·S×C. */
int vk_layer_out_shape(const vk_layer_spec *s, vk_shape in, vk_shape *out, vk_error *e);

/* The decoder that mirrors an encoder on input shape in: dense layers in
 * reverse order; where the encoder flattened an image, a dense:HxWxC back to
 * it; each conv:C:K:S becomes deconv:C:K:S in reverse order. */
int vk_layers_mirror(const vk_layer_spec *enc, int n, vk_shape in, vk_layer_spec *dec,
		     int *n_dec, vk_error *e);

#endif
