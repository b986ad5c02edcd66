/* conv:F:K:S — a convolution with "same" padding over a channels-last image,
 * y (n,⌈H/S⌉,⌈W/S⌉,F) = act(conv(x (n,H,W,C)) + b (F)); for odd K, PyTorch's
 * Conv2d(C, F, K, stride=S, padding=(K−1)/2). Parameters: W (K·K·C, F), then
 * b (F). The kernels are conv.c's (im2col + cblas_sgemm, or direct AVX-512
 * loops for thin layers). The deconv kind (layer_deconv.c) shares the
 * F:K:S text, the checks, the row and the calls into conv.c with this one:
 * the vk_fks_* functions below. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "conv.h"
#include "layer_conv.h"
#include "layers.h"
#include "nn.h"

enum { CONV_ID = 2 };

int vk_fks_parse(vk_layer_spec *s, int nargs, const char *const *arg, const char *const *end,
		 const char *text, vk_error *e)
{
	if (nargs != 3)
		return vk_fail(e, "layer '%s': %s takes FILTERS:KERNEL:STRIDE", text,
			       vk_layer_kind_name(s->kind));
	if (vk_parse_int(arg[0], end[0], VK_MAX_FILTERS, &s->units))
		return vk_fail(e, "layer '%s': the filter count must be 1 to %d", text,
			       VK_MAX_FILTERS);
	if (vk_parse_int(arg[1], end[1], VK_MAX_KERNEL, &s->k))
		return vk_fail(e, "layer '%s': the kernel size must be 1 to %d", text, VK_MAX_KERNEL);
	if (vk_parse_int(arg[2], end[2], VK_MAX_STRIDE, &s->s))
		return vk_fail(e, "layer '%s': the stride must be 1 to %d", text, VK_MAX_STRIDE);
	return 0;
}

void vk_fks_print(const vk_layer_spec *s, char *buf, size_t n)
{
	snprintf(buf, n, "%s:%d:%d:%d", vk_layer_kind_name(s->kind), s->units, s->k, s->s);
}

int vk_fks_check(const vk_layer_spec *s, vk_error *e)
{
	if (s->units < 1 || s->units > VK_MAX_FILTERS)
		return vk_fail(e, "%d units is out of range (1 to %d)", s->units, VK_MAX_FILTERS);
	if (s->k < 1 || s->k > VK_MAX_KERNEL || s->s < 1 || s->s > VK_MAX_STRIDE)
		return vk_fail(e, "bad kernel %d or stride %d", s->k, s->s);
	if (s->reshape.h || s->reshape.w || s->reshape.c)
		return vk_fail(e, "bad output shape");
	return 0;
}

/* The lowering's geometry (kind VK_CONV_SAME or VK_CONV_TRANSPOSED), which
 * must agree with the shape rule. */
int vk_fks_build(vk_layer *l, int kind, vk_error *e)
{
	const vk_layer_spec *s = &l->spec;
	if (vk_conv_geom_init(&l->g, kind, l->in.h, l->in.w, l->in.c, s->units, s->k, s->s, e))
		return -1;
	if (l->g.OH != l->out.h || l->g.OW != l->out.w)
		return vk_fail(e, "geometry disagrees with its shape");
	l->n_w = vk_conv_weights(&l->g);
	l->n_params = l->n_w + (size_t)s->units;
	return 0;
}

size_t vk_fks_workspace(const vk_layer *l, int cap) { return vk_conv_workspace(&l->g, cap); }

/* He (ReLU-like) or Xavier (others) uniform weights over the kernel's
 * fan-in K·K·C and fan-out K·K·F, zero biases. */
void vk_fks_init(const vk_layer *l, float *P, float *S, vk_rng *rng)
{
	(void)S;
	double k2 = (double)l->spec.k * l->spec.k;
	double fan_in = k2 * l->in.c, fan_out = k2 * l->spec.units;
	int relu = l->spec.act == VK_RELU || l->spec.act == VK_LEAKY;
	double bound = relu ? sqrt(6.0 / fan_in) : sqrt(6.0 / (fan_in + fan_out));
	for (size_t i = 0; i < l->n_w; i++)
		P[l->w + i] = (float)((2.0 * vk_rng_uniform(rng) - 1.0) * bound);
	memset(P + l->b, 0, sizeof(float) * l->spec.units);
}

/* y (n,OH,OW,F) = act(layer(x (n,H,W,C)) + b (F)), channels-last */
void vk_fks_forward(const vk_layer *l, float *const *y, float *const *priv, const float *x,
		    int n, const vk_pass *p)
{
	(void)priv;
	vk_conv_forward(y[0], x, p->P + l->w, p->P + l->b, p->scratch, &l->g, n, l->spec.act);
}

/* dy (n,OH,OW,F) -> dW, db (F), dx (n,H,W,C) */
void vk_fks_backward(const vk_layer *l, float *dx, float *dy, const float *x, float *const *y,
		     float *const *priv, int n, const vk_pass *p)
{
	(void)priv;
	vk_conv_backward(dx, p->G + l->w, p->G + l->b, dy, x, y[0], p->P + l->w, p->scratch,
			 &l->g, n, l->spec.act);
}

/* Row words 2-4: filters, kernel, stride. */
void vk_fks_put_row(const vk_layer_spec *s, uint32_t row[VK_LAYER_ROW_WORDS])
{
	row[2] = (uint32_t)s->units;
	row[3] = (uint32_t)s->k;
	row[4] = (uint32_t)s->s;
}

int vk_fks_get_row(const uint32_t row[VK_LAYER_ROW_WORDS], vk_layer_spec *s)
{
	if (row[2] > 0xfffffff || row[3] > 0xffff || row[4] > 0xffff)
		return -1;
	s->units = (int)row[2];
	s->k = (int)row[3];
	s->s = (int)row[4];
	return 0;
}

static int shape(const vk_layer_spec *s, vk_shape in, vk_shape *out, vk_error *e)
{
	char a[48], b[64];
	vk_layer_spec_str(s, b, sizeof b);
	if (!vk_shape_is_image(in))
		return vk_fail(e, "%s needs an image input, not a flat vector of %s values", b,
			       vk_shape_str(in, a, sizeof a));
	/* "same" padding: (K−1)/2 before, whatever is needed after */
	int pad = (s->k - 1) / 2;
	if (s->k > in.h + pad || s->k > in.w + pad)
		return vk_fail(e, "%s: the %dx%d kernel is larger than its %s input", b, s->k, s->k,
			       vk_shape_str(in, a, sizeof a));
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
