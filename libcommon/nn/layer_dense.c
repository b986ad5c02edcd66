/* dense:N, dense:HxWxC — a fully connected layer, y = act(x·W + b).
 * An image input is read flat (no copy); dense:HxWxC gives its N = H·W·C
 * outputs the shape of an image. Parameters: W (n_in, n_out), then b (n_out).
 * The kernels are nn.c's vk_dense_forward/backward (cblas_sgemm). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layers.h"
#include "nn.h"

enum { DENSE_ID = 1 };

vk_layer_spec vk_dense_spec(int units, vk_shape reshape, int act)
{
	return (vk_layer_spec){.kind = DENSE_ID, .act = act, .units = units,
			       .reshape = reshape.h ? reshape : (vk_shape){0}};
}

static int parse(vk_layer_spec *s, int nargs, const char *const *arg, const char *const *end,
		 const char *text, vk_error *e)
{
	if (nargs != 1)
		return vk_fail(e, "layer '%s': dense takes one argument, N or HxWxC", text);
	const char *ds[4], *de[4];
	int nd = vk_split(arg[0], end[0], 'x', ds, de, 3);
	if (nd == 1) {
		if (vk_parse_int(ds[0], de[0], VK_MAX_WIDTH, &s->units))
			return vk_fail(e, "layer '%s': the width must be 1 to %d", text, VK_MAX_WIDTH);
		return 0;
	}
	vk_shape r;
	if (nd != 3 || vk_parse_int(ds[0], de[0], VK_MAX_WIDTH, &r.h) ||
	    vk_parse_int(ds[1], de[1], VK_MAX_WIDTH, &r.w) ||
	    vk_parse_int(ds[2], de[2], VK_MAX_WIDTH, &r.c))
		return vk_fail(e, "layer '%s': an image shape is HxWxC, each 1 to %d", text,
			       VK_MAX_WIDTH);
	if (vk_shape_size(r) > VK_MAX_WIDTH)
		return vk_fail(e, "layer '%s': %zu outputs (at most %d)", text, vk_shape_size(r),
			       VK_MAX_WIDTH);
	s->reshape = r;
	s->units = (int)vk_shape_size(r);
	return 0;
}

static void print(const vk_layer_spec *s, char *buf, size_t n)
{
	char shape[48];
	if (s->reshape.h)
		snprintf(buf, n, "dense:%s", vk_shape_str(s->reshape, shape, sizeof shape));
	else
		snprintf(buf, n, "dense:%d", s->units);
}

static int check(const vk_layer_spec *s, vk_error *e)
{
	if (s->units < 1 || s->units > VK_MAX_WIDTH)
		return vk_fail(e, "%d units is out of range (1 to %d)", s->units, VK_MAX_WIDTH);
	if (s->k || s->s)
		return vk_fail(e, "bad kernel %d or stride %d", s->k, s->s);
	const vk_shape *r = &s->reshape;
	if (r->h < 0 || r->w < 0 || r->c < 0 || (r->h > 0) != (r->w > 0) ||
	    (r->h > 0) != (r->c > 0) ||
	    (r->h && (r->h > VK_MAX_WIDTH || r->w > VK_MAX_WIDTH ||
		      vk_shape_size(*r) != (size_t)s->units)))
		return vk_fail(e, "bad output shape");
	return 0;
}

static int shape(const vk_layer_spec *s, vk_shape in, vk_shape *out, vk_error *e)
{
	(void)in, (void)e;
	*out = s->reshape.h ? s->reshape : (vk_shape){0, 0, s->units};
	return 0;
}

/* The same width; where this layer flattened an image made by a layer that
 * keeps images, a dense:HxWxC back to that image follows. */
static int mirror(const vk_layer_spec *s, vk_shape in, const vk_layer_spec *prev,
		  vk_layer_spec *dec)
{
	dec[0] = vk_dense_spec(s->units, (vk_shape){0}, s->act);
	if (!prev || vk_layer_ops_of(prev)->flat)
		return 1;
	dec[1] = vk_dense_spec((int)vk_shape_size(in), in, s->act);
	return 2;
}

static int build(vk_layer *l, vk_error *e)
{
	(void)e;
	l->n_w = (size_t)l->n_in * l->n_out;
	l->n_params = l->n_w + (size_t)l->spec.units;
	return 0;
}

/* He (ReLU-like) or Xavier (others) uniform weights, zero biases. */
static void init(const vk_layer *l, float *P, float *S, vk_rng *rng)
{
	(void)S;
	double fan_in = l->n_in, fan_out = l->n_out;
	int relu = l->spec.act == VK_RELU || l->spec.act == VK_LEAKY;
	double bound = relu ? sqrt(6.0 / fan_in) : sqrt(6.0 / (fan_in + fan_out));
	for (size_t i = 0; i < l->n_w; i++)
		P[l->w + i] = (float)((2.0 * vk_rng_uniform(rng) - 1.0) * bound);
	memset(P + l->b, 0, sizeof(float) * l->spec.units);
}

/* y (n, n_out) = act(x (n, n_in) · W (n_in, n_out) + b (n_out)) */
static void forward(const vk_layer *l, float *const *y, float *const *priv, const float *x,
		    int n, const vk_pass *p)
{
	(void)priv;
	vk_dense_forward(y[0], x, p->P + l->w, p->P + l->b, n, l->n_in, l->n_out, l->spec.act);
}

/* dy (n, n_out) -> dW (n_in, n_out), db (n_out), dx (n, n_in) */
static void backward(const vk_layer *l, float *dx, float *dy, const float *x, float *const *y,
		     float *const *priv, int n, const vk_pass *p)
{
	(void)priv;
	vk_dense_backward(dx, p->G + l->w, p->G + l->b, dy, x, y[0], p->P + l->w, n, l->n_in,
			  l->n_out, l->spec.act);
}

/* Row words: 2 units, 3 and 4 zero (kernel, stride); 5-7, the output
 * shape, also give a reshaped layer its shape on reading. */
static void put_row(const vk_layer_spec *s, uint32_t row[VK_LAYER_ROW_WORDS])
{
	row[2] = (uint32_t)s->units;
	row[3] = (uint32_t)s->k;
	row[4] = (uint32_t)s->s;
}

static int get_row(const uint32_t row[VK_LAYER_ROW_WORDS], vk_layer_spec *s)
{
	if (row[2] > 0xfffffff || row[3] > 0xffff || row[4] > 0xffff)
		return -1;
	s->units = (int)row[2];
	s->k = (int)row[3];
	s->s = (int)row[4];
	if (row[5])
		s->reshape = (vk_shape){(int)(row[5] & 0xffff), (int)(row[6] & 0xffff),
					(int)(row[7] & 0xffff)};
	return 0;
}

const vk_layer_ops vk_layer_dense = {
	.name = "dense", .id = DENSE_ID, .flat = 1,
	.usage = "dense:N, dense:HxWxC",
	.example = "dense:7/tanh,dense:2x3x2/sigmoid",
	.parse = parse, .print = print, .check = check, .shape = shape, .mirror = mirror,
	.build = build, .init = init, .forward = forward, .backward = backward,
	.put_row = put_row, .get_row = get_row,
};
