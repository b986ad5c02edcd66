/* deconv:F:K:S[:HxW] — the transposed convolution, the exact adjoint of conv:
 * y (n,H·S,W·S,F) = act(deconv(x (n,H,W,C)) + b (F)); for odd K, PyTorch's
 * ConvTranspose2d(C, F, K, stride=S, padding=(K−1)/2, output_padding=S−1).
 * With :HxW the output is H×W instead, any size with ⌈H/S⌉ and ⌈W/S⌉ the
 * input's (output_padding H − (in−1)·S − 1: pythae's decoder goes 4 → 7).
 * Parameters: W (C, K·K·F), then b (F). Text, checks, row and kernel calls
 * are conv's (conv_family.c); the output size, the shape rule and
 * the geometry are its own. */
#include <stdio.h>

#include "conv.h"
#include "conv_family.h"
#include "layers.h"

enum { DECONV_ID = 3, OUT_GIVEN = 1u << 16 /* row word 4: the output size is the spec's */ };

vk_layer_spec vk_deconv_spec(int filters, int k, int s, int act)
{
	return (vk_layer_spec){.kind = DECONV_ID, .act = act, .units = filters, .k = k, .s = s};
}

static int parse(vk_layer_spec *s, int nargs, const char *const *arg, const char *const *end,
		 const char *text, vk_error *e)
{
	if (nargs != 4)
		return vk_fks_parse(s, nargs, arg, end, text, e);
	if (vk_fks_parse(s, 3, arg, end, text, e))
		return -1;
	const char *ds[3], *de[3];
	vk_shape r = {0, 0, s->units};
	if (vk_split(arg[3], end[3], 'x', ds, de, 2) != 2 ||
	    vk_parse_int(ds[0], de[0], VK_MAX_WIDTH, &r.h) ||
	    vk_parse_int(ds[1], de[1], VK_MAX_WIDTH, &r.w))
		return vk_fail(e, "layer '%s': an output size is HxW, each 1 to %d", text,
			       VK_MAX_WIDTH);
	s->reshape = r;
	return 0;
}

static void print(const vk_layer_spec *s, char *buf, size_t n)
{
	if (s->reshape.h)
		snprintf(buf, n, "deconv:%d:%d:%d:%dx%d", s->units, s->k, s->s, s->reshape.h,
			 s->reshape.w);
	else
		vk_fks_print(s, buf, n);
}

static int check(const vk_layer_spec *s, vk_error *e)
{
	vk_layer_spec plain = *s;
	const vk_shape *r = &s->reshape;
	if (r->h || r->w || r->c) {
		if (r->h < 1 || r->w < 1 || r->h > VK_MAX_WIDTH || r->w > VK_MAX_WIDTH ||
		    r->c != s->units)
			return vk_fail(e, "bad output shape");
		plain.reshape = (vk_shape){0};
	}
	return vk_fks_check(&plain, e);
}

static int shape(const vk_layer_spec *s, vk_shape in, vk_shape *out, vk_error *e)
{
	char a[48], b[64];
	vk_layer_spec_str(s, b, sizeof b);
	if (vk_layer_needs_image(s, in, 0, e))
		return -1;
	if (s->reshape.h) {
		const vk_shape *r = &s->reshape;
		if ((r->h + s->s - 1) / s->s != in.h || (r->w + s->s - 1) / s->s != in.w)
			return vk_fail(e, "%s: output %dx%d cannot be reached from its %s input "
				       "(sides %d to %d and %d to %d)", b, r->h, r->w,
				       vk_shape_str(in, a, sizeof a), (in.h - 1) * s->s + 1,
				       in.h * s->s, (in.w - 1) * s->s + 1, in.w * s->s);
		*out = *r;
	} else {
		if ((long)in.h * s->s > VK_MAX_WIDTH || (long)in.w * s->s > VK_MAX_WIDTH)
			return vk_fail(e, "%s: output sides beyond %d", b, VK_MAX_WIDTH);
		*out = (vk_shape){in.h * s->s, in.w * s->s, s->units};
	}
	if (vk_shape_size(*out) > VK_MAX_VALUES)
		return vk_fail(e, "%s: output %s has more than %d values", b,
			       vk_shape_str(*out, a, sizeof a), VK_MAX_VALUES);
	return 0;
}

static int build(vk_layer *l, vk_error *e)
{
	const vk_layer_spec *s = &l->spec;
	if (vk_conv_geom_init(&l->g, VK_CONV_TRANSPOSED, l->in.h, l->in.w, l->in.c, s->units, s->k,
			      s->s, e))
		return -1;
	if (s->reshape.h && vk_conv_geom_set_out(&l->g, s->reshape.h, s->reshape.w, e))
		return -1;
	if (l->g.OH != l->out.h || l->g.OW != l->out.w)
		return vk_fail(e, "geometry disagrees with its shape");
	l->n_w = vk_conv_weights(&l->g);
	l->n_params = l->n_w + (size_t)s->units;
	return 0;
}

/* Row words 2-4 as conv's; bit 16 of word 4 set when the output size
 * (words 5-7) is the spec's own. */
static void put_row(const vk_layer_spec *s, uint32_t row[VK_LAYER_ROW_WORDS])
{
	vk_fks_put_row(s, row);
	if (s->reshape.h)
		row[4] |= OUT_GIVEN;
}

static int get_row(const uint32_t row[VK_LAYER_ROW_WORDS], vk_layer_spec *s)
{
	uint32_t r[VK_LAYER_ROW_WORDS];
	for (int i = 0; i < VK_LAYER_ROW_WORDS; i++)
		r[i] = row[i];
	r[4] &= ~OUT_GIVEN;
	if (vk_fks_get_row(r, s))
		return -1;
	if (row[4] & OUT_GIVEN)
		s->reshape = (vk_shape){(int)(row[5] & 0xffff), (int)(row[6] & 0xffff),
					(int)(row[7] & 0x0fffffff)};
	return 0;
}

/* A deconv mirrors itself. */
const vk_layer_ops vk_layer_deconv = {
	.name = "deconv", .id = DECONV_ID,
	.usage = "deconv:C:K:S, deconv:C:K:S:HxW",
	.example = "deconv:3:3:2/tanh,deconv:2:3:2:19x15/tanh,deconv:2:2:1/sigmoid",
	.parse = parse, .print = print, .check = check, .shape = shape,
	.build = build, .workspace = vk_fks_workspace, .init = vk_fks_init,
	.forward = vk_fks_forward, .backward = vk_fks_backward,
	.put_row = put_row, .get_row = get_row,
};
