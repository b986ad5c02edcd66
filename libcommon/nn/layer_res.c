/* res:F:K — a residual block as pythae writes it (ResBlock in
 * pythae/models/nn/benchmarks): ReLU, conv K×K to F channels, ReLU, conv 1×1
 * back to the input's C channels, added to the input:
 *   y (n,H,W,C) = act(x + conv1×1(relu(convK×K(relu(x)))))
 * res:F:K:bn puts a batchnorm after each convolution, where torchvision's
 * BasicBlock has one (ReLU, conv, BN, ReLU, conv, BN, then the sum):
 *   y = act(x + bn(conv1×1(relu(bn(convK×K(relu(x)))))))
 * The two convolutions are the block's body, a sub-list built and walked by
 * layers.c like any list (their parameters follow the block's place in the
 * parameter block); the gradient flows through both paths:
 *   dx = dy' + relu'(x) ⊙ body'(dy'),  dy' = act'(y) ⊙ dy.
 * Private buffers, per batch of n: relu(x) (n, N), then the body's two
 * gradient buffers (n, widest body layer). */
#include <stdio.h>
#include <string.h>

#include "layers.h"
#include "nn.h"

static int parse(vk_layer_spec *s, int nargs, const char *const *arg, const char *const *end,
		 const char *text, vk_error *e)
{
	if (nargs != 2 && nargs != 3)
		return vk_fail(e, "layer '%s': res takes FILTERS:KERNEL or FILTERS:KERNEL:bn", text);
	if (nargs == 3 && (end[2] - arg[2] != 2 || strncmp(arg[2], "bn", 2)))
		return vk_fail(e, "layer '%s': a res block's third field can only be 'bn' (batch norm "
			       "after each convolution)", text);
	s->norm = nargs == 3;
	if (vk_parse_int(arg[0], end[0], VK_MAX_FILTERS, &s->units))
		return vk_fail(e, "layer '%s': the filter count must be 1 to %d", text,
			       VK_MAX_FILTERS);
	if (vk_parse_int(arg[1], end[1], VK_MAX_KERNEL, &s->k))
		return vk_fail(e, "layer '%s': the kernel size must be 1 to %d", text, VK_MAX_KERNEL);
	return 0;
}

static void print(const vk_layer_spec *s, char *buf, size_t n)
{
	snprintf(buf, n, "res:%d:%d%s", s->units, s->k, s->norm ? ":bn" : "");
}

static int check(const vk_layer_spec *s, vk_error *e)
{
	if (s->units < 1 || s->units > VK_MAX_FILTERS)
		return vk_fail(e, "%d units is out of range (1 to %d)", s->units, VK_MAX_FILTERS);
	if (s->k < 1 || s->k > VK_MAX_KERNEL || s->s)
		return vk_fail(e, "bad kernel %d or stride %d", s->k, s->s);
	if (s->reshape.h || s->reshape.w || s->reshape.c)
		return vk_fail(e, "bad output shape");
	if (s->norm != 0 && s->norm != 1)
		return vk_fail(e, "bad batch-norm flag %d", s->norm);
	return 0;
}

static int shape(const vk_layer_spec *s, vk_shape in, vk_shape *out, vk_error *e)
{
	char b[64];
	vk_layer_spec_str(s, b, sizeof b);
	if (vk_layer_needs_image(s, in, s->k, e))
		return -1;
	if ((size_t)in.h * in.w * s->units > VK_MAX_VALUES)
		return vk_fail(e, "%s: its inner image has more than %d values", b, VK_MAX_VALUES);
	*out = in;
	return 0;
}

/* conv:F:K:1/relu, conv:C:1:1/identity (with bn: each conv's activation
 * moved to a batchnorm after it), written as text and read by the list's
 * own parser. */
static int body(const vk_layer_spec *s, vk_shape in, vk_layer_spec *out)
{
	char text[128];
	int n;
	vk_error e;
	if (s->norm)
		snprintf(text, sizeof text, "conv:%d:%d:1/identity,batchnorm/relu,"
			 "conv:%d:1:1/identity,batchnorm/identity", s->units, s->k, in.c);
	else
		snprintf(text, sizeof text, "conv:%d:%d:1/relu,conv:%d:1:1/identity", s->units,
			 s->k, in.c);
	return vk_layers_parse(text, VK_IDENTITY, out, VK_MAX_BODY, &n, &e) ? 0 : n;
}

static size_t body_width(const vk_layer *l)
{
	const vk_layer *B = l + l->body;
	size_t w = (size_t)l->n_in;
	for (int i = 0; i < l->n_body; i++)
		w = (size_t)B[i].n_out > w ? (size_t)B[i].n_out : w;
	return w;
}

static size_t priv(const vk_layer *l, int cap)
{
	return (size_t)cap * ((size_t)l->n_in + 2 * body_width(l));
}

/* y (n,H,W,C) = act(x + body(relu(x))) */
static void forward(const vk_layer *l, float *const *y, float *const *priv, const float *x,
		    int n, const vk_pass *p)
{
	size_t N = (size_t)n * l->n_in;
	float *rx = priv[0];
	for (size_t i = 0; i < N; i++)
		rx[i] = x[i] > 0.0f ? x[i] : 0.0f;
	const float *t = vk_list_forward(l + l->body, l->n_body, y + l->body, priv + l->body, rx,
					 n, p);
	for (size_t i = 0; i < N; i++)
		y[0][i] = x[i] + t[i];
	vk_activate(y[0], N, l->spec.act);
}

/* dy (n,H,W,C) -> the body's parameter gradients, dx (n,H,W,C) */
static void backward(const vk_layer *l, float *dx, float *dy, const float *x, float *const *y,
		     float *const *priv, int n, const vk_pass *p)
{
	size_t N = (size_t)n * l->n_in, wide = (size_t)n * body_width(l);
	float *rx = priv[0], *g = rx + N, *other = g + wide;
	vk_act_backward(dy, y[0], N, l->spec.act);
	memcpy(g, dy, sizeof(float) * N);
	const float *db = vk_list_backward(l + l->body, l->n_body, y + l->body, priv + l->body,
					   rx, g, other, dx != NULL, n, p);
	if (dx)
		for (size_t i = 0; i < N; i++)
			dx[i] = dy[i] + (x[i] > 0.0f ? db[i] : 0.0f);
}

/* Row words 2, 3 and 4: filters, kernel, 1 with batch norm (:bn). */
static void put_row(const vk_layer_spec *s, uint32_t row[VK_LAYER_ROW_WORDS])
{
	row[2] = (uint32_t)s->units;
	row[3] = (uint32_t)s->k;
	row[4] = (uint32_t)s->norm;
}

static int get_row(const uint32_t row[VK_LAYER_ROW_WORDS], vk_layer_spec *s)
{
	if (row[2] > 0xfffffff || row[3] > 0xffff || row[4] > 1)
		return -1;
	s->units = (int)row[2];
	s->k = (int)row[3];
	s->norm = (int)row[4];
	return 0;
}

const vk_layer_ops vk_layer_res = {
	.name = "res", .id = 5,
	.usage = "res:F:K[:bn]",
	.example = "res:4:3/tanh,res:2:2:bn/tanh",
	.parse = parse, .print = print, .check = check, .shape = shape, .body = body,
	.priv = priv, .forward = forward, .backward = backward,
	.put_row = put_row, .get_row = get_row,
};
