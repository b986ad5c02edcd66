/* The F:K:S family of layer kinds, conv (layer_conv.c) and deconv
 * (layer_deconv.c): their shared text, checks, geometry, initialisation,
 * calls into conv.c's kernels and model-file row. Each kind's file keeps what
 * is its own (id, shape rule, mirror, geometry kind). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "conv.h"
#include "conv_family.h"
#include "layers.h"
#include "nn.h"

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
