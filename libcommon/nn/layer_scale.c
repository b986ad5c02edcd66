/* scale:A — y = act(A·x), A a constant: no parameters, any shape. A test
 * kind (not listed in help): it proves that a kind is one file plus one line
 * in kinds.c, and the gradient check runs it through the table. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "nn.h"

static int parse(vk_layer_spec *s, int nargs, const char *const *arg, const char *const *end,
		 const char *text, vk_error *e)
{
	char num[40], *stop;
	size_t len = nargs == 1 ? (size_t)(end[0] - arg[0]) : 0;
	if (len == 0 || len >= sizeof num)
		return vk_fail(e, "layer '%s': scale takes one number A", text);
	memcpy(num, arg[0], len);
	num[len] = 0;
	s->f[0] = strtof(num, &stop);
	if (*stop || !isfinite(s->f[0]))
		return vk_fail(e, "layer '%s': scale takes one finite number A", text);
	return 0;
}

static void print(const vk_layer_spec *s, char *buf, size_t n)
{
	snprintf(buf, n, "scale:%.9g", s->f[0]);
}

static int check(const vk_layer_spec *s, vk_error *e)
{
	if (!isfinite(s->f[0]) || s->units || s->k || s->s || s->reshape.h || s->reshape.w ||
	    s->reshape.c)
		return vk_fail(e, "bad scale layer");
	return 0;
}

static int shape(const vk_layer_spec *s, vk_shape in, vk_shape *out, vk_error *e)
{
	(void)s, (void)e;
	*out = in;
	return 0;
}

/* y (n, N) = act(A · x (n, N)) */
static void forward(const vk_layer *l, float *const *y, float *const *priv, const float *x,
		    int n, const vk_pass *p)
{
	(void)priv, (void)p;
	size_t N = (size_t)n * l->n_out;
	for (size_t i = 0; i < N; i++)
		y[0][i] = l->spec.f[0] * x[i];
	vk_activate(y[0], N, l->spec.act);
}

/* dx (n, N) = A · act'(y) ⊙ dy */
static void backward(const vk_layer *l, float *dx, float *dy, const float *x, float *const *y,
		     float *const *priv, int n, const vk_pass *p)
{
	(void)x, (void)priv, (void)p;
	size_t N = (size_t)n * l->n_out;
	vk_act_backward(dy, y[0], N, l->spec.act);
	if (dx)
		for (size_t i = 0; i < N; i++)
			dx[i] = l->spec.f[0] * dy[i];
}

/* Row word 2: A's bits. */
static void put_row(const vk_layer_spec *s, uint32_t row[VK_LAYER_ROW_WORDS])
{
	memcpy(&row[2], &s->f[0], 4);
}

static int get_row(const uint32_t row[VK_LAYER_ROW_WORDS], vk_layer_spec *s)
{
	memcpy(&s->f[0], &row[2], 4);
	return row[3] || row[4] ? -1 : 0;
}

const vk_layer_ops vk_layer_scale = {
	.name = "scale", .id = 100, /* test kinds from 100 */
	.example = "scale:-1.5/tanh,scale:2/identity",
	.parse = parse, .print = print, .check = check, .shape = shape,
	.forward = forward, .backward = backward,
	.put_row = put_row, .get_row = get_row,
};
