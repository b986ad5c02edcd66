/* deconv:F:K:S — the transposed convolution, the exact adjoint of conv:
 * y (n,H·S,W·S,F) = act(deconv(x (n,H,W,C)) + b (F)); for odd K, PyTorch's
 * ConvTranspose2d(C, F, K, stride=S, padding=(K−1)/2, output_padding=S−1).
 * Parameters: W (C, K·K·F), then b (F). Text, checks, row and kernel calls
 * are conv's (layer_conv.c's vk_fks_*); the shape rule and the geometry are
 * its own. */
#include "conv.h"
#include "layer_conv.h"
#include "layers.h"

enum { DECONV_ID = 3 };

vk_layer_spec vk_deconv_spec(int filters, int k, int s, int act)
{
	return (vk_layer_spec){.kind = DECONV_ID, .act = act, .units = filters, .k = k, .s = s};
}

static int shape(const vk_layer_spec *s, vk_shape in, vk_shape *out, vk_error *e)
{
	char a[48], b[64];
	vk_layer_spec_str(s, b, sizeof b);
	if (!vk_shape_is_image(in))
		return vk_fail(e, "%s needs an image input, not a flat vector of %s values", b,
			       vk_shape_str(in, a, sizeof a));
	if ((long)in.h * s->s > VK_MAX_WIDTH || (long)in.w * s->s > VK_MAX_WIDTH)
		return vk_fail(e, "%s: output sides beyond %d", b, VK_MAX_WIDTH);
	*out = (vk_shape){in.h * s->s, in.w * s->s, s->units};
	if (vk_shape_size(*out) > VK_MAX_VALUES)
		return vk_fail(e, "%s: output %s has more than %d values", b,
			       vk_shape_str(*out, a, sizeof a), VK_MAX_VALUES);
	return 0;
}

static int mirror(const vk_layer_spec *s, vk_shape in, const vk_layer_spec *prev,
		  vk_layer_spec *dec)
{
	(void)in, (void)prev;
	dec[0] = vk_deconv_spec(s->units, s->k, s->s, s->act);
	return 1;
}

static int build(vk_layer *l, vk_error *e) { return vk_fks_build(l, VK_CONV_TRANSPOSED, e); }

const vk_layer_ops vk_layer_deconv = {
	.name = "deconv", .id = DECONV_ID,
	.usage = "deconv:C:K:S",
	.example = "deconv:3:3:2/tanh,deconv:2:2:1/sigmoid",
	.parse = vk_fks_parse, .print = vk_fks_print, .check = vk_fks_check, .shape = shape,
	.mirror = mirror, .build = build, .workspace = vk_fks_workspace, .init = vk_fks_init,
	.forward = vk_fks_forward, .backward = vk_fks_backward,
	.put_row = vk_fks_put_row, .get_row = vk_fks_get_row,
};
