/* upsample:S — nearest-neighbour upsampling by S, the decoder's alternative
 * to a strided deconv without its checkerboard artefacts (PyTorch's
 * Upsample(scale_factor=S, mode='nearest')):
 *   y (n,H·S,W·S,C) = act(x[b, ⌊i/S⌋, ⌊j/S⌋, c]);
 * backward, each input pixel gathers the gradient of its S×S block. No
 * parameters. */
#include <stdio.h>
#include <string.h>

#include "layers.h"
#include "nn.h"

static int parse(vk_layer_spec *s, int nargs, const char *const *arg, const char *const *end,
		 const char *text, vk_error *e)
{
	if (nargs != 1 || vk_parse_int(arg[0], end[0], VK_MAX_STRIDE, &s->s))
		return vk_fail(e, "layer '%s': upsample takes one factor S, 1 to %d", text,
			       VK_MAX_STRIDE);
	return 0;
}

static void print(const vk_layer_spec *s, char *buf, size_t n)
{
	snprintf(buf, n, "upsample:%d", s->s);
}

static int check(const vk_layer_spec *s, vk_error *e)
{
	if (s->s < 1 || s->s > VK_MAX_STRIDE || s->units || s->k || s->reshape.h ||
	    s->reshape.w || s->reshape.c)
		return vk_fail(e, "bad upsample factor %d (1 to %d)", s->s, VK_MAX_STRIDE);
	return 0;
}

static int shape(const vk_layer_spec *s, vk_shape in, vk_shape *out, vk_error *e)
{
	char a[48], b[64];
	vk_layer_spec_str(s, b, sizeof b);
	if (vk_layer_needs_image(s, in, 0, e))
		return -1;
	if ((long)in.h * s->s > VK_MAX_WIDTH || (long)in.w * s->s > VK_MAX_WIDTH)
		return vk_fail(e, "%s: output sides beyond %d", b, VK_MAX_WIDTH);
	*out = (vk_shape){in.h * s->s, in.w * s->s, in.c};
	if (vk_shape_size(*out) > VK_MAX_VALUES)
		return vk_fail(e, "%s: output %s has more than %d values", b,
			       vk_shape_str(*out, a, sizeof a), VK_MAX_VALUES);
	return 0;
}

/* y (n,H·S,W·S,C) = act(nearest(x (n,H,W,C))): each output row is built once
 * from its input row (each pixel's C channels S times), then copied S − 1
 * times. */
static void forward(const vk_layer *l, float *const *y, float *const *priv, const float *x,
		    int n, const vk_pass *p)
{
	(void)priv, (void)p;
	int S = l->spec.s, H = l->in.h, W = l->in.w, C = l->in.c;
	size_t row = (size_t)W * S * C;
	for (int b = 0; b < n; b++)
		for (int i = 0; i < H; i++) {
			const float *xi = x + ((size_t)b * H + i) * W * C;
			float *yi = y[0] + ((size_t)b * H + i) * S * row;
			for (int j = 0; j < W; j++)
				for (int r = 0; r < S; r++)
					memcpy(yi + ((size_t)j * S + r) * C, xi + (size_t)j * C,
					       sizeof(float) * C);
			for (int r = 1; r < S; r++)
				memcpy(yi + r * row, yi, sizeof(float) * row);
		}
	vk_activate(y[0], (size_t)n * l->n_out, l->spec.act);
}

/* dx (n,H,W,C)[b,i,j,c] = Σ over its S×S block of dy (n,H·S,W·S,C) */
static void backward(const vk_layer *l, float *dx, float *dy, const float *x, float *const *y,
		     float *const *priv, int n, const vk_pass *p)
{
	(void)x, (void)priv, (void)p;
	vk_act_backward(dy, y[0], (size_t)n * l->n_out, l->spec.act);
	if (!dx)
		return;
	int S = l->spec.s, H = l->in.h, W = l->in.w, C = l->in.c;
	memset(dx, 0, sizeof(float) * n * l->n_in);
	for (int b = 0; b < n; b++)
		for (int oi = 0; oi < H * S; oi++) {
			float *di = dx + ((size_t)b * H + oi / S) * W * C;
			const float *g = dy + ((size_t)b * H * S + oi) * W * S * C;
			for (int oj = 0; oj < W * S; oj++) {
				float *d = di + (size_t)(oj / S) * C;
				const float *gj = g + (size_t)oj * C;
				for (int c = 0; c < C; c++)
					d[c] += gj[c];
			}
		}
}

/* Row word 4 (the stride's): S. */
static void put_row(const vk_layer_spec *s, uint32_t row[VK_LAYER_ROW_WORDS])
{
	row[4] = (uint32_t)s->s;
}

static int get_row(const uint32_t row[VK_LAYER_ROW_WORDS], vk_layer_spec *s)
{
	if (row[2] || row[3] || row[4] > VK_MAX_STRIDE)
		return -1;
	s->s = (int)row[4];
	return 0;
}

const vk_layer_ops vk_layer_upsample = {
	.name = "upsample", .id = 4,
	.usage = "upsample:S",
	.example = "upsample:2/tanh,upsample:3/identity",
	.parse = parse, .print = print, .check = check, .shape = shape,
	.forward = forward, .backward = backward,
	.put_row = put_row, .get_row = get_row,
};
