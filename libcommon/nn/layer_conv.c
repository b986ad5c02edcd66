/* conv:F:K:S — a convolution with "same" padding over a channels-last image,
 * y (n,⌈H/S⌉,⌈W/S⌉,F) = act(conv(x (n,H,W,C)) + b (F)); for odd K, PyTorch's
 * Conv2d(C, F, K, stride=S, padding=(K−1)/2). Parameters: W (K·K·C, F), then
 * b (F). The kernels are conv.c's (im2col + cblas_sgemm, or direct AVX-512
 * loops for thin layers). The deconv kind (layer_deconv.c) shares the
 * F:K:S text, the checks, the row and the calls into conv.c with this one
 * (conv_family.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "conv.h"
#include "conv_family.h"
#include "layers.h"
#include "nn.h"

enum { CONV_ID = 2 };

static int shape(const vk_layer_spec *s, vk_shape in, vk_shape *out, vk_error *e)
{
	char a[48], b[64];
	vk_layer_spec_str(s, b, sizeof b);
	if (vk_layer_needs_image(s, in, s->k, e))
		return -1;
	*out = (vk_shape){(in.h + s->s - 1) / s->s, (in.w + s->s - 1) / s->s, s->units};
	if (vk_shape_size(*out) > VK_MAX_VALUES)
		return vk_fail(e, "%s: output %s has more than %d values", b,
			       vk_shape_str(*out, a, sizeof a), VK_MAX_VALUES);
	return 0;
}

/* The decoder undoes a conv by a deconv of the same F:K:S, back to the
 * conv's input size when S does not divide it. */
static int mirror(const vk_layer_spec *s, vk_shape in, const vk_layer_spec *prev,
		  vk_layer_spec *dec)
{
	(void)prev;
	dec[0] = vk_deconv_spec(s->units, s->k, s->s, s->act);
	if (in.h % s->s || in.w % s->s)
		dec[0].reshape = (vk_shape){in.h, in.w, s->units};
	return 1;
}

static int build(vk_layer *l, vk_error *e) { return vk_fks_build(l, VK_CONV_SAME, e); }

const vk_layer_ops vk_layer_conv = {
	.name = "conv", .id = CONV_ID,
	.usage = "conv:C:K:S",
	.example = "conv:4:3:2/tanh,conv:3:2:1/sigmoid",
	.parse = vk_fks_parse, .print = vk_fks_print, .check = vk_fks_check, .shape = shape,
	.mirror = mirror, .build = build, .workspace = vk_fks_workspace, .init = vk_fks_init,
	.forward = vk_fks_forward, .backward = vk_fks_backward,
	.put_row = vk_fks_put_row, .get_row = vk_fks_get_row,
};
