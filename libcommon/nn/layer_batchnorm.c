/* batchnorm[:M[:E]] — batch normalisation (Ioffe & Szegedy 2015) as PyTorch's
 * BatchNorm1d/2d: per feature of a flat input, per channel of an image
 * (statistics over the batch and the image's pixels), then its own /ACT:
 *   y (n,…,C) = act(γ ⊙ x̂ + β),  x̂ = (x − μ) / √(σ² + E)
 * Training uses the batch's μ and (biased) σ² and moves the running
 * statistics, the layer's state: μ_run ← (1 − M)·μ_run + M·μ, and likewise
 * σ²_run with the unbiased variance; evaluation uses the running ones, so a
 * record's output does not depend on its batch. M 0.1 and E 1e-5 by default
 * (PyTorch's). Parameters γ (C, 1 at first) then β (C, 0); state μ_run (C,
 * 0) then σ²_run (C, 1). Private buffers: x̂ (n, N), then μ and 1/√(σ²+E)
 * (C each) of the pass.
 *
 * The statistics are the whole batch's when it is cut into slices (training
 * threads, MPI ranks): each pass sums its rows and vk_reduce adds the
 * slices' sums (PyTorch's SyncBatchNorm), so -t 1, -t 2 and two ranks train
 * the same model up to float rounding; only the first thread's pass moves
 * the running statistics. A training batch of one record per channel
 * (PyTorch refuses it) gives x̂ = 0, y = act(β), and σ²_run moves towards 0. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layers.h"
#include "nn.h"

#define DEFAULT_M 0.1f
#define DEFAULT_E 1e-5f

static int parse_real(const char *p, const char *end, float lo, float hi, float *v)
{
	char num[40], *stop;
	size_t len = (size_t)(end - p);
	if (len == 0 || len >= sizeof num)
		return -1;
	memcpy(num, p, len);
	num[len] = 0;
	*v = strtof(num, &stop);
	return *stop || !(*v >= lo && *v <= hi) ? -1 : 0;
}

static int parse(vk_layer_spec *s, int nargs, const char *const *arg, const char *const *end,
		 const char *text, vk_error *e)
{
	s->f[0] = DEFAULT_M;
	s->f[1] = DEFAULT_E;
	if (nargs > 2)
		return vk_fail(e, "layer '%s': batchnorm takes at most MOMENTUM:EPSILON", text);
	if (nargs > 0 && (parse_real(arg[0], end[0], 0.0f, 1.0f, &s->f[0]) || s->f[0] == 0.0f))
		return vk_fail(e, "layer '%s': the momentum must be in (0, 1]", text);
	if (nargs > 1 && (parse_real(arg[1], end[1], 0.0f, 1.0f, &s->f[1]) || s->f[1] == 0.0f))
		return vk_fail(e, "layer '%s': epsilon must be in (0, 1]", text);
	return 0;
}

static void print(const vk_layer_spec *s, char *buf, size_t n)
{
	if (s->f[0] == DEFAULT_M && s->f[1] == DEFAULT_E)
		snprintf(buf, n, "batchnorm");
	else
		snprintf(buf, n, "batchnorm:%.9g:%.9g", s->f[0], s->f[1]);
}

static int check(const vk_layer_spec *s, vk_error *e)
{
	if (!(s->f[0] > 0.0f && s->f[0] <= 1.0f && s->f[1] > 0.0f && s->f[1] <= 1.0f) ||
	    s->units || s->k || s->s || s->reshape.h || s->reshape.w || s->reshape.c)
		return vk_fail(e, "bad batchnorm momentum %g or epsilon %g", s->f[0], s->f[1]);
	return 0;
}

static int shape(const vk_layer_spec *s, vk_shape in, vk_shape *out, vk_error *e)
{
	(void)s, (void)e;
	*out = in;
	return 0;
}

/* C features (channels), P positions per record (pixels; 1 for a vector). */
static int features(const vk_layer *l) { return l->in.c; }
static size_t positions(const vk_layer *l) { return vk_shape_size(l->in) / l->in.c; }

static int build(vk_layer *l, vk_error *e)
{
	if (l->label_in)
		return vk_fail(e, "batchnorm cannot take the label's columns");
	l->n_w = (size_t)features(l);
	l->n_params = 2 * l->n_w;
	l->n_st = 2 * l->n_w;
	return 0;
}

/* Private buffers: x̂ (cap, N) | μ (C) | r (C) | the batch's count (1) |
 * padding to 8 bytes | 2C doubles of sums. */
static size_t floats_before_sums(const vk_layer *l, int cap)
{
	size_t f = (size_t)cap * l->n_out + 2 * (size_t)features(l) + 1;
	return (f + 1) & ~(size_t)1;
}

static size_t priv(const vk_layer *l, int cap)
{
	return floats_before_sums(l, cap) + 4 * (size_t)features(l);
}

static void init(const vk_layer *l, float *P, float *S, vk_rng *rng)
{
	(void)rng;
	int C = features(l);
	for (int c = 0; c < C; c++) {
		P[l->w + c] = 1.0f;
		P[l->b + c] = 0.0f;
		S[l->st + c] = 0.0f;
		S[l->st + C + c] = 1.0f;
	}
}

/* The batch's sums: this pass's, then (training on slices) every slice's
 * and rank's, the same bits in each. The buffer sits after the floats of a
 * batch of n (allocated for cap ≥ n). */
static double *sums(const vk_layer *l, float *priv, int n)
{
	return (double *)(priv + floats_before_sums(l, n));
}

/* y (n·P, C) = act(γ ⊙ (x − μ) ⊙ r + β), r = 1/√(σ² + E); x̂ kept */
static void forward(const vk_layer *l, float *const *y, float *const *priv, const float *x,
		    int n, const vk_pass *p)
{
	int C = features(l);
	size_t rows = (size_t)n * positions(l);
	float *xh = priv[0], *mu = xh + (size_t)n * l->n_out, *r = mu + C, *count = r + C;
	const float *gamma = p->P + l->w, *beta = p->P + l->b;
	float *run_mu = p->S + l->st, *run_var = run_mu + C;
	float M = l->spec.f[0], E = l->spec.f[1];
	if (p->train) {
		double *v = sums(l, priv[0], n);
		memset(v, 0, sizeof(double) * (C + 1));
		for (size_t i = 0; i < rows; i++)
			for (int c = 0; c < C; c++)
				v[c] += x[i * C + c];
		v[C] = (double)rows;
		vk_reduce(p->red, p->slice, v, C + 1);
		double total = v[C] > 0 ? v[C] : 1;
		*count = (float)total;
		for (int c = 0; c < C; c++)
			mu[c] = (float)(v[c] / total);
		memset(v, 0, sizeof(double) * C);
		for (size_t i = 0; i < rows; i++)
			for (int c = 0; c < C; c++) {
				double d = x[i * C + c] - mu[c];
				v[c] += d * d;
			}
		vk_reduce(p->red, p->slice, v, C);
		for (int c = 0; c < C; c++) {
			double var = v[c] / total;
			r[c] = (float)(1.0 / sqrt(var + E));
			if (p->update_state) {
				double unbiased = total > 1 ? v[c] / (total - 1) : var;
				run_mu[c] = (1.0f - M) * run_mu[c] + M * mu[c];
				run_var[c] = (1.0f - M) * run_var[c] + M * (float)unbiased;
			}
		}
	} else {
		for (int c = 0; c < C; c++) {
			mu[c] = run_mu[c];
			r[c] = 1.0f / sqrtf(run_var[c] + E);
		}
	}
	for (size_t i = 0; i < rows; i++)
		for (int c = 0; c < C; c++) {
			float h = (x[i * C + c] - mu[c]) * r[c];
			xh[i * C + c] = h;
			y[0][i * C + c] = gamma[c] * h + beta[c];
		}
	vk_activate(y[0], rows * C, l->spec.act);
}

/* dy (n·P, C) -> dγ = Σ dy ⊙ x̂, dβ = Σ dy over this pass's rows (the
 * trainer adds the slices' blocks), and dx: in training, with the sums and
 * the count m over the whole batch,
 *   dx = γ r / m · (m·dy − Σdy − x̂ · Σ(dy ⊙ x̂)),
 * in evaluation (μ, σ² constants) dx = γ r dy. */
static void backward(const vk_layer *l, float *dx, float *dy, const float *x, float *const *y,
		     float *const *priv, int n, const vk_pass *p)
{
	(void)x;
	int C = features(l);
	size_t rows = (size_t)n * positions(l);
	const float *xh = priv[0], *r = xh + (size_t)n * l->n_out + C, *count = r + C;
	const float *gamma = p->P + l->w;
	float *dg = p->G + l->w, *db = p->G + l->b;
	double *v = sums(l, priv[0], n), *sb = v, *sg = v + C;
	vk_act_backward(dy, y[0], rows * C, l->spec.act);
	memset(v, 0, sizeof(double) * 2 * C);
	for (size_t i = 0; i < rows; i++)
		for (int c = 0; c < C; c++) {
			sg[c] += (double)dy[i * C + c] * xh[i * C + c];
			sb[c] += dy[i * C + c];
		}
	for (int c = 0; c < C; c++) {
		dg[c] = (float)sg[c];
		db[c] = (float)sb[c];
	}
	if (!p->train) {
		if (dx)
			for (size_t i = 0; i < rows; i++)
				for (int c = 0; c < C; c++)
					dx[i * C + c] = gamma[c] * r[c] * dy[i * C + c];
		return;
	}
	vk_reduce(p->red, p->slice, v, 2 * C); /* every slice, with dx or without */
	if (!dx)
		return;
	float m = *count;
	for (size_t i = 0; i < rows; i++)
		for (int c = 0; c < C; c++)
			dx[i * C + c] = gamma[c] * r[c] / m *
					(m * dy[i * C + c] - (float)sb[c] - xh[i * C + c] * (float)sg[c]);
}

/* Row words 2 and 3: the bits of M and E. */
static void put_row(const vk_layer_spec *s, uint32_t row[VK_LAYER_ROW_WORDS])
{
	memcpy(&row[2], &s->f[0], 4);
	memcpy(&row[3], &s->f[1], 4);
}

static int get_row(const uint32_t row[VK_LAYER_ROW_WORDS], vk_layer_spec *s)
{
	memcpy(&s->f[0], &row[2], 4);
	memcpy(&s->f[1], &row[3], 4);
	return row[4] ? -1 : 0;
}

const vk_layer_ops vk_layer_batchnorm = {
	.name = "batchnorm", .id = 6,
	.usage = "batchnorm[:M:E]",
	.follows = 1,
	.example = "batchnorm/tanh,batchnorm:0.3:0.01/sigmoid",
	.parse = parse, .print = print, .check = check, .shape = shape, .build = build,
	.priv = priv, .init = init, .forward = forward, .backward = backward,
	.put_row = put_row, .get_row = get_row,
};
