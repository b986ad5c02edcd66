/* mconv:F:K:A, mconv:F:K:B — PixelCNN's masked convolution (van den Oord et
 * al. 2016), the plain (not gated) variant: conv:F:K:1 over a channels-last
 * image whose K×K kernel sees only the positions before the centre in raster
 * order (the rows above it, and the row's pixels left of it); type A leaves
 * out the centre too (a network's first layer: no output sees its own
 * input), type B keeps it (the layers after: position p's features already
 * depend only on inputs before p). Every channel of a position is in or out
 * together: the image is one code map, one "colour". Odd K, stride 1, "same"
 * padding; y (n,H,W,F) = act(mconv(x (n,H,W,C)) + b (F)).
 *
 * Parameters as conv's, W (K·K·C, F) rows ordered (ky, kx, c), then b (F);
 * in a conditional model (label_in = the classes L) then V (L, F), a bias of
 * each class added at every position before the activation: the
 * conditional PixelCNN's V·h for a one-hot h (van den Oord et al. 2016),
 * which every position sees, the first one too.
 * The masked rows of W are zero from initialisation on and their gradient is
 * zero, so they stay zero; forward and backward also run on a masked copy of
 * W (in the workspace), so that a file's nonzero masked weights change
 * nothing either. The kernels are conv.c's. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "conv.h"
#include "layers.h"
#include "nn.h"

enum { MCONV_ID = 10, MASK_A = 0, MASK_B = 1 };

/* The masked copy's floats, rounded up to keep the conv workspace after it
 * 64-byte aligned. */
static size_t masked_floats(const vk_layer *l) { return (l->n_w + 15) & ~(size_t)15; }

static int mask_type(const vk_layer_spec *s) { return s->f[0] != 0.0f ? MASK_B : MASK_A; }

/* Kernel position (ky, kx) is seen by a mask of this type. */
static int visible(int ky, int kx, int K, int type)
{
	int c = (K - 1) / 2;
	return ky < c || (ky == c && (kx < c || (type == MASK_B && kx == c)));
}

vk_layer_spec vk_mconv_spec(int filters, int k, int type_b, int act)
{
	return (vk_layer_spec){.kind = MCONV_ID, .act = act, .units = filters, .k = k, .s = 1,
			       .f = {type_b ? 1.0f : 0.0f}};
}

static int parse(vk_layer_spec *s, int nargs, const char *const *arg, const char *const *end,
		 const char *text, vk_error *e)
{
	if (nargs != 3)
		return vk_fail(e, "layer '%s': mconv takes FILTERS:KERNEL:A or FILTERS:KERNEL:B",
			       text);
	if (vk_parse_int(arg[0], end[0], VK_MAX_FILTERS, &s->units))
		return vk_fail(e, "layer '%s': the filter count must be 1 to %d", text,
			       VK_MAX_FILTERS);
	if (vk_parse_int(arg[1], end[1], VK_MAX_KERNEL, &s->k) || s->k % 2 == 0)
		return vk_fail(e, "layer '%s': the kernel size must be odd, 1 to %d", text,
			       VK_MAX_KERNEL);
	if (end[2] - arg[2] != 1 || (arg[2][0] != 'A' && arg[2][0] != 'B'))
		return vk_fail(e, "layer '%s': the mask type must be A (the centre excluded) or B "
				  "(included)", text);
	s->s = 1;
	s->f[0] = arg[2][0] == 'B' ? 1.0f : 0.0f;
	if (s->k == 1 && arg[2][0] == 'A')
		return vk_fail(e, "layer '%s': a 1x1 type A mask sees nothing; use a larger kernel "
				  "or type B", text);
	return 0;
}

static void print(const vk_layer_spec *s, char *buf, size_t n)
{
	snprintf(buf, n, "mconv:%d:%d:%c", s->units, s->k, mask_type(s) == MASK_B ? 'B' : 'A');
}

static int check(const vk_layer_spec *s, vk_error *e)
{
	if (s->units < 1 || s->units > VK_MAX_FILTERS)
		return vk_fail(e, "%d units is out of range (1 to %d)", s->units, VK_MAX_FILTERS);
	if (s->k < 1 || s->k > VK_MAX_KERNEL || s->k % 2 == 0 || s->s != 1)
		return vk_fail(e, "bad masked kernel %d or stride %d", s->k, s->s);
	if ((s->f[0] != 0.0f && s->f[0] != 1.0f) || s->f[1] != 0.0f || (s->k == 1 && s->f[0] == 0))
		return vk_fail(e, "bad mask type");
	if (s->reshape.h || s->reshape.w || s->reshape.c)
		return vk_fail(e, "bad output shape");
	return 0;
}

static int shape(const vk_layer_spec *s, vk_shape in, vk_shape *out, vk_error *e)
{
	if (vk_layer_needs_image(s, in, s->k, e))
		return -1;
	*out = (vk_shape){in.h, in.w, s->units};
	return 0;
}

static int build(vk_layer *l, vk_error *e)
{
	const vk_layer_spec *s = &l->spec;
	if (vk_conv_geom_init(&l->g, VK_CONV_SAME, l->in.h, l->in.w, l->in.c, s->units, s->k, 1, e))
		return -1;
	l->n_w = vk_conv_weights(&l->g);
	l->n_params = l->n_w + (size_t)s->units * (1 + (size_t)l->label_in);
	return 0;
}

/* The masked copy of W, then conv.c's workspace. */
static size_t workspace(const vk_layer *l, int cap)
{
	return masked_floats(l) + vk_conv_workspace(&l->g, cap);
}

/* dst (K·K·C, F) = W with the rows of unseen positions zero; with src NULL,
 * only zero them in dst. */
static void apply_mask(const vk_layer *l, float *dst, const float *src)
{
	int K = l->spec.k, type = mask_type(&l->spec);
	size_t run = (size_t)l->in.c * l->spec.units;
	for (int ky = 0; ky < K; ky++)
		for (int kx = 0; kx < K; kx++) {
			float *d = dst + (size_t)(ky * K + kx) * run;
			if (!visible(ky, kx, K, type))
				memset(d, 0, sizeof(float) * run);
			else if (src)
				memcpy(d, src + (size_t)(ky * K + kx) * run, sizeof(float) * run);
		}
}

/* He (ReLU-like) or Xavier (others) uniform over the seen fan-in (seen
 * positions · C) and fan-out, zero masked weights and biases. */
static void init(const vk_layer *l, float *P, float *S, vk_rng *rng)
{
	(void)S;
	int K = l->spec.k, seen = 0;
	for (int ky = 0; ky < K; ky++)
		for (int kx = 0; kx < K; kx++)
			seen += visible(ky, kx, K, mask_type(&l->spec));
	double fan_in = (double)seen * l->in.c, fan_out = (double)seen * l->spec.units;
	int relu = l->spec.act == VK_RELU || l->spec.act == VK_LEAKY;
	double bound = relu ? sqrt(6.0 / fan_in) : sqrt(6.0 / (fan_in + fan_out));
	for (size_t i = 0; i < l->n_w; i++)
		P[l->w + i] = (float)((2.0 * vk_rng_uniform(rng) - 1.0) * bound);
	apply_mask(l, P + l->w, NULL);
	memset(P + l->b, 0, sizeof(float) * l->spec.units * (1 + (size_t)l->label_in));
}

/* y (n,H,W,F) = act(conv(x (n,H,W,C); mask ⊙ W) + b (F) [+ V[label] (F)]) */
static void forward(const vk_layer *l, float *const *y, float *const *priv, const float *x,
		    int n, const vk_pass *p)
{
	(void)priv;
	float *masked = p->scratch;
	apply_mask(l, masked, p->P + l->w);
	int act = l->label_in ? VK_IDENTITY : l->spec.act, F = l->spec.units;
	vk_conv_forward(y[0], x, masked, p->P + l->b, p->scratch + masked_floats(l), &l->g, n,
			act);
	if (!l->label_in)
		return;
	size_t positions = (size_t)l->out.h * l->out.w;
	for (int r = 0; r < n; r++) {
		const float *v = p->P + l->b + (size_t)F * (1 + p->labels[r]);
		float *yr = y[0] + (size_t)r * l->n_out;
		for (size_t i = 0; i < positions; i++)
			for (int f = 0; f < F; f++)
				yr[i * F + f] += v[f];
	}
	vk_activate(y[0], (size_t)n * l->n_out, l->spec.act);
}

/* dy (n,H,W,F) -> dW (masked rows zero), db (F), dx (n,H,W,C) */
static void backward(const vk_layer *l, float *dx, float *dy, const float *x, float *const *y,
		     float *const *priv, int n, const vk_pass *p)
{
	(void)priv;
	float *masked = p->scratch;
	int act = l->spec.act, F = l->spec.units;
	if (l->label_in) { /* dy to the pre-activation's gradient, then dV by class */
		vk_act_backward(dy, y[0], (size_t)n * l->n_out, act);
		act = VK_IDENTITY;
		float *dv = p->G + l->b + F;
		memset(dv, 0, sizeof(float) * F * l->label_in);
		size_t positions = (size_t)l->out.h * l->out.w;
		for (int r = 0; r < n; r++) {
			float *d = dv + (size_t)F * p->labels[r];
			const float *g = dy + (size_t)r * l->n_out;
			for (size_t i = 0; i < positions; i++)
				for (int f = 0; f < F; f++)
					d[f] += g[i * F + f];
		}
	}
	apply_mask(l, masked, p->P + l->w);
	vk_conv_backward(dx, p->G + l->w, p->G + l->b, dy, x, y[0], masked,
			 p->scratch + masked_floats(l), &l->g, n, act);
	apply_mask(l, p->G + l->w, NULL);
}

/* Type A sees only the positions before its own, B its own too. */
static int order(const vk_layer_spec *s) { return mask_type(s) == MASK_A; }

/* Row words 2-4: filters, kernel, mask type (0 A, 1 B). */
static void put_row(const vk_layer_spec *s, uint32_t row[VK_LAYER_ROW_WORDS])
{
	row[2] = (uint32_t)s->units;
	row[3] = (uint32_t)s->k;
	row[4] = (uint32_t)mask_type(s);
}

static int get_row(const uint32_t row[VK_LAYER_ROW_WORDS], vk_layer_spec *s)
{
	if (row[2] > 0xfffffff || row[3] > 0xffff || row[4] > 1)
		return -1;
	s->units = (int)row[2];
	s->k = (int)row[3];
	s->s = 1;
	s->f[0] = row[4] ? 1.0f : 0.0f;
	return 0;
}

const vk_layer_ops vk_layer_mconv = {
	.name = "mconv", .id = MCONV_ID, .label_bias = 1,
	.usage = "mconv:C:K:A|B",
	.example = "mconv:4:3:A/tanh,mconv:3:3:B/sigmoid",
	.parse = parse, .print = print, .check = check, .shape = shape,
	.build = build, .workspace = workspace, .init = init, .order = order,
	.forward = forward, .backward = backward,
	.put_row = put_row, .get_row = get_row,
};
