/* The conv and deconv kernels: output shapes, forward against naive loops
 * written from the definitions and against PyTorch's outputs (golden),
 * gradients against central finite differences, chunking that changes
 * nothing, and bad geometries. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "nn.h"
#include "rng.h"

#include "golden/conv_golden.h"

typedef struct {
	int kind, H, W, C, F, K, S;
} shape;

static vk_conv_geom geom(shape s)
{
	vk_conv_geom g;
	vk_error e;
	cr_assert_eq(vk_conv_geom_init(&g, s.kind, s.H, s.W, s.C, s.F, s.K, s.S, &e), 0, "%s",
		     e.msg);
	return g;
}

static size_t in_size(const vk_conv_geom *g, int B) { return (size_t)B * g->H * g->W * g->C; }
static size_t out_size(const vk_conv_geom *g, int B)
{
	return (size_t)B * g->OH * g->OW * g->F;
}

static void fill(float *a, size_t n, vk_rng *rng, float scale)
{
	for (size_t i = 0; i < n; i++)
		a[i] = scale * (2.0f * vk_rng_uniform(rng) - 1.0f);
}

static double act_ref(double v, int act)
{
	switch (act) {
	case VK_RELU:
		return v > 0 ? v : 0;
	case VK_TANH:
		return tanh(v);
	case VK_SIGMOID:
		return 1 / (1 + exp(-v));
	case VK_LEAKY:
		return v > 0 ? v : VK_LEAKY_SLOPE * v;
	}
	return v;
}

/* The layer straight from its definition, in double: conv gathers each
 * output from its window, deconv scatters each input pixel's K×K taps. */
static void naive_forward(double *y, const float *x, const float *Wt, const float *b,
			  const vk_conv_geom *g, int B, int act)
{
	int H = g->H, W = g->W, C = g->C, F = g->F, K = g->K, S = g->S, p = (K - 1) / 2;
	int OH = g->OH, OW = g->OW;
	for (int n = 0; n < B; n++)
		for (int i = 0; i < OH * OW; i++)
			for (int f = 0; f < F; f++)
				y[((size_t)n * OH * OW + i) * F + f] = b[f];
	for (int n = 0; n < B; n++) {
		const float *xn = x + (size_t)n * H * W * C;
		double *yn = y + (size_t)n * OH * OW * F;
		if (g->kind == VK_CONV_SAME) {
			for (int oy = 0; oy < OH; oy++)
				for (int ox = 0; ox < OW; ox++)
					for (int ky = 0; ky < K; ky++)
						for (int kx = 0; kx < K; kx++) {
							int iy = oy * S - p + ky, ix = ox * S - p + kx;
							if (iy < 0 || iy >= H || ix < 0 || ix >= W)
								continue;
							for (int c = 0; c < C; c++)
								for (int f = 0; f < F; f++)
									yn[(oy * OW + ox) * F + f] +=
										(double)xn[(iy * W + ix) * C + c] *
										Wt[((ky * K + kx) * C + c) * F + f];
						}
		} else {
			for (int i = 0; i < H; i++)
				for (int j = 0; j < W; j++)
					for (int ky = 0; ky < K; ky++)
						for (int kx = 0; kx < K; kx++) {
							int oy = i * S - p + ky, ox = j * S - p + kx;
							if (oy < 0 || oy >= OH || ox < 0 || ox >= OW)
								continue;
							for (int c = 0; c < C; c++)
								for (int f = 0; f < F; f++)
									yn[(oy * OW + ox) * F + f] +=
										(double)xn[(i * W + j) * C + c] *
										Wt[c * K * K * F + (ky * K + kx) * F + f];
						}
		}
	}
	for (size_t i = 0; i < out_size(g, B); i++)
		y[i] = act_ref(y[i], act);
}

/* The parameters and buffers of one layer test. */
typedef struct {
	vk_conv_geom g;
	int B, act;
	float *x, *Wt, *b, *y, *work, *dx, *dW, *db, *dy, *r;
} bench;

static void bench_init(bench *t, shape s, int B, int act, int chunk, unsigned seed)
{
	t->g = geom(s);
	if (chunk)
		t->g.chunk = chunk;
	t->B = B;
	t->act = act;
	size_t ni = in_size(&t->g, B), no = out_size(&t->g, B), nw = vk_conv_weights(&t->g);
	t->x = malloc(sizeof(float) * ni);
	t->dx = malloc(sizeof(float) * ni);
	t->Wt = malloc(sizeof(float) * nw);
	t->dW = malloc(sizeof(float) * nw);
	t->b = malloc(sizeof(float) * s.F);
	t->db = malloc(sizeof(float) * s.F);
	t->y = malloc(sizeof(float) * no);
	t->dy = malloc(sizeof(float) * no);
	t->r = malloc(sizeof(float) * no);
	t->work = malloc(sizeof(float) * vk_conv_workspace(&t->g, B));
	vk_rng rng;
	vk_rng_seed(&rng, seed);
	fill(t->x, ni, &rng, 1.0f);
	/* Weights scaled so pre-activations stay O(1), where tanh is not flat. */
	int fan = s.kind == VK_CONV_SAME ? s.K * s.K * s.C : s.C;
	fill(t->Wt, nw, &rng, 1.5f / sqrtf((float)fan));
	fill(t->b, s.F, &rng, 0.5f);
	fill(t->r, no, &rng, 1.0f);
	/* Garbage in the outputs: the kernels must write, not accumulate. */
	memset(t->dx, 0x7f, sizeof(float) * ni);
	memset(t->dW, 0x7f, sizeof(float) * nw);
	memset(t->db, 0x7f, sizeof(float) * s.F);
	memset(t->y, 0x7f, sizeof(float) * no);
	memset(t->work, 0x7f, sizeof(float) * vk_conv_workspace(&t->g, B));
}

static void bench_free(bench *t)
{
	free(t->x), free(t->dx), free(t->Wt), free(t->dW), free(t->b), free(t->db);
	free(t->y), free(t->dy), free(t->r), free(t->work);
}

/* loss = Σ y·r, accumulated in double */
static double loss(bench *t)
{
	vk_conv_forward(t->y, t->x, t->Wt, t->b, t->work, &t->g, t->B, t->act);
	double s = 0;
	for (size_t i = 0; i < out_size(&t->g, t->B); i++)
		s += (double)t->y[i] * t->r[i];
	return s;
}

/* The pre-activations (identity forward) into z. */
static void preact(bench *t, float *z)
{
	vk_conv_forward(z, t->x, t->Wt, t->b, t->work, &t->g, t->B, VK_IDENTITY);
}

/* Central differences of the loss in every element of p, against grad.
 * ReLU has no derivative at 0: a step that moves some pre-activation across
 * it gives no derivative to compare, so those elements are skipped (and
 * counted in *skipped). */
static int check_block(bench *t, float *p, const float *grad, size_t n, const char *what,
		       int *skipped)
{
	int bad = 0, relu = t->act == VK_RELU;
	float h = relu ? 1e-3f : 1e-2f;
	double atol = relu ? 3e-3 : 1e-3;
	size_t no = out_size(&t->g, t->B);
	float *zu = relu ? malloc(sizeof(float) * no) : NULL;
	float *zd = relu ? malloc(sizeof(float) * no) : NULL;
	for (size_t i = 0; i < n; i++) {
		float keep = p[i];
		p[i] = keep + h;
		double up = loss(t);
		if (relu)
			preact(t, zu);
		p[i] = keep - h;
		double down = loss(t);
		if (relu)
			preact(t, zd);
		p[i] = keep;
		if (relu) {
			size_t k = 0;
			while (k < no && (zu[k] > 0) == (zd[k] > 0))
				k++;
			if (k < no) {
				++*skipped;
				continue;
			}
		}
		double num = (up - down) / (2.0 * h);
		if (!(fabs(num - grad[i]) <= atol + 1e-2 * fabs(num)) && bad++ < 5)
			cr_log_error("%s[%zu]: analytic %g numeric %g", what, i, grad[i], num);
	}
	free(zu);
	free(zd);
	return bad;
}

static void check_grad(shape s, int act, int chunk)
{
	bench t;
	bench_init(&t, s, 2, act, chunk, 11 + s.K * 7 + s.S + s.C * 3);
	loss(&t);
	memcpy(t.dy, t.r, sizeof(float) * out_size(&t.g, t.B));
	vk_conv_backward(t.dx, t.dW, t.db, t.dy, t.x, t.y, t.Wt, t.work, &t.g, t.B, act);
	int skipped = 0;
	size_t n = in_size(&t.g, t.B) + vk_conv_weights(&t.g) + s.F;
	int bad = check_block(&t, t.x, t.dx, in_size(&t.g, t.B), "dx", &skipped);
	bad += check_block(&t, t.Wt, t.dW, vk_conv_weights(&t.g), "dW", &skipped);
	bad += check_block(&t, t.b, t.db, s.F, "db", &skipped);
	/* ReLU kinks skip a few elements; most must still be checked. */
	cr_assert_leq(skipped, n / 5, "%d of %zu gradients skipped at ReLU kinks", skipped, n);
	cr_assert_eq(bad, 0,
		     "%d gradients differ: %s H%d W%d C%d F%d K%d S%d act %s chunk %d", bad,
		     s.kind == VK_CONV_SAME ? "conv" : "deconv", s.H, s.W, s.C, s.F, s.K, s.S,
		     vk_act_name(act), t.g.chunk);
	/* Without dx, dW and db are the same. */
	float *dW2 = malloc(sizeof(float) * vk_conv_weights(&t.g));
	float *db2 = malloc(sizeof(float) * s.F);
	loss(&t);
	memcpy(t.dy, t.r, sizeof(float) * out_size(&t.g, t.B));
	vk_conv_backward(NULL, dW2, db2, t.dy, t.x, t.y, t.Wt, t.work, &t.g, t.B, act);
	cr_assert_eq(memcmp(dW2, t.dW, sizeof(float) * vk_conv_weights(&t.g)), 0);
	cr_assert_eq(memcmp(db2, t.db, sizeof(float) * s.F), 0);
	free(dW2);
	free(db2);
	bench_free(&t);
}

/* stride 1 and 2, K 1, 2, 3, 4, 5, odd and even sizes, 1 to 3 channels */
static const shape conv_shapes[] = {
	{VK_CONV_SAME, 5, 7, 1, 2, 3, 1}, {VK_CONV_SAME, 5, 7, 3, 2, 3, 2},
	{VK_CONV_SAME, 8, 8, 3, 2, 5, 2}, {VK_CONV_SAME, 8, 8, 1, 3, 1, 1},
	{VK_CONV_SAME, 5, 7, 3, 2, 1, 2}, {VK_CONV_SAME, 8, 8, 1, 2, 5, 1},
	{VK_CONV_SAME, 6, 6, 2, 3, 4, 2}, {VK_CONV_SAME, 7, 7, 3, 2, 2, 1},
	{VK_CONV_SAME, 8, 8, 1, 2, 3, 2}, {VK_CONV_SAME, 7, 5, 2, 2, 3, 3},
	{VK_CONV_SAME, 12, 12, 2, 1, 3, 1}, /* F = 1: rows grouped for the bias pass */
	/* one input channel and 16·n filters: the direct (thin) path with AVX-512 */
	{VK_CONV_SAME, 5, 7, 1, 16, 3, 1}, {VK_CONV_SAME, 8, 8, 1, 32, 3, 2},
	{VK_CONV_SAME, 7, 6, 1, 48, 5, 2}, {VK_CONV_SAME, 6, 6, 1, 64, 4, 1},
	{VK_CONV_SAME, 7, 7, 1, 16, 3, 3},
};
static const shape deconv_shapes[] = {
	{VK_CONV_TRANSPOSED, 3, 4, 1, 2, 3, 2}, {VK_CONV_TRANSPOSED, 4, 4, 3, 2, 3, 1},
	{VK_CONV_TRANSPOSED, 3, 5, 3, 2, 5, 2}, {VK_CONV_TRANSPOSED, 4, 4, 3, 2, 1, 1},
	{VK_CONV_TRANSPOSED, 3, 3, 2, 2, 1, 2}, {VK_CONV_TRANSPOSED, 4, 3, 1, 2, 4, 2},
	{VK_CONV_TRANSPOSED, 5, 7, 2, 2, 5, 1}, {VK_CONV_TRANSPOSED, 4, 4, 1, 3, 3, 2},
	{VK_CONV_TRANSPOSED, 3, 2, 2, 2, 3, 3}, {VK_CONV_TRANSPOSED, 6, 6, 2, 1, 3, 2},
	/* one filter and 16·n channels: the direct (thin) path with AVX-512 */
	{VK_CONV_TRANSPOSED, 6, 6, 16, 1, 3, 2}, {VK_CONV_TRANSPOSED, 5, 7, 32, 1, 3, 1},
	{VK_CONV_TRANSPOSED, 4, 3, 48, 1, 5, 1}, {VK_CONV_TRANSPOSED, 3, 3, 64, 1, 4, 2},
	{VK_CONV_TRANSPOSED, 3, 4, 16, 1, 3, 3},
};
#define COUNT(a) (int)(sizeof(a) / sizeof(a)[0])

static void grad_all(const shape *shapes, int n, int act)
{
	for (int i = 0; i < n; i++) {
		check_grad(shapes[i], act, 0);
		check_grad(shapes[i], act, 5); /* chunks that end inside an image */
	}
}

Test(conv_grad, conv_identity) { grad_all(conv_shapes, COUNT(conv_shapes), VK_IDENTITY); }
Test(conv_grad, conv_tanh) { grad_all(conv_shapes, COUNT(conv_shapes), VK_TANH); }
Test(conv_grad, conv_relu) { grad_all(conv_shapes, COUNT(conv_shapes), VK_RELU); }
Test(conv_grad, deconv_identity) { grad_all(deconv_shapes, COUNT(deconv_shapes), VK_IDENTITY); }
Test(conv_grad, deconv_tanh) { grad_all(deconv_shapes, COUNT(deconv_shapes), VK_TANH); }
Test(conv_grad, deconv_relu) { grad_all(deconv_shapes, COUNT(deconv_shapes), VK_RELU); }

/* Forward against the naive loops, with the default chunk and chunks of
 * 1, 5 and 7 rows (ending mid-row and mid-image) and 25 (one chunk may
 * finish two images). */
static void check_naive_batch(shape s, int B, int act)
{
	static const int chunks[] = {0, 1, 5, 7, 25};
	for (int k = 0; k < COUNT(chunks); k++) {
		bench t;
		bench_init(&t, s, B, act, chunks[k], 5 + s.K + s.C);
		size_t no = out_size(&t.g, t.B);
		double *want = malloc(sizeof(double) * no);
		naive_forward(want, t.x, t.Wt, t.b, &t.g, t.B, act);
		vk_conv_forward(t.y, t.x, t.Wt, t.b, t.work, &t.g, t.B, act);
		int bad = 0;
		for (size_t i = 0; i < no; i++)
			if (!(fabs(t.y[i] - want[i]) <= 1e-5 + 1e-5 * fabs(want[i])) && bad++ < 5)
				cr_log_error("y[%zu] = %g, want %g", i, t.y[i], want[i]);
		cr_assert_eq(bad, 0, "%d outputs differ: %s H%d W%d C%d F%d K%d S%d chunk %d", bad,
			     s.kind == VK_CONV_SAME ? "conv" : "deconv", s.H, s.W, s.C, s.F, s.K,
			     s.S, t.g.chunk);
		free(want);
		bench_free(&t);
	}
}

static void check_naive(shape s, int act) { check_naive_batch(s, 3, act); }

Test(conv_naive, conv_all_shapes)
{
	for (int i = 0; i < COUNT(conv_shapes); i++) {
		check_naive(conv_shapes[i], VK_IDENTITY);
		check_naive(conv_shapes[i], VK_SIGMOID);
	}
}

Test(conv_naive, deconv_all_shapes)
{
	for (int i = 0; i < COUNT(deconv_shapes); i++) {
		check_naive(deconv_shapes[i], VK_IDENTITY);
		check_naive(deconv_shapes[i], VK_LEAKY);
	}
}

/* The Keras example's layers at their real sizes; at batch 6 the default
 * chunk of deconv:32:3:2 ends inside an image. */
Test(conv_naive, keras_layers)
{
	check_naive_batch((shape){VK_CONV_SAME, 28, 28, 1, 32, 3, 2}, 2, VK_RELU);
	check_naive_batch((shape){VK_CONV_SAME, 14, 14, 32, 64, 3, 2}, 2, VK_RELU);
	check_naive_batch((shape){VK_CONV_TRANSPOSED, 7, 7, 64, 64, 3, 2}, 2, VK_RELU);
	vk_conv_geom g = geom((shape){VK_CONV_TRANSPOSED, 14, 14, 64, 32, 3, 2});
	cr_assert_lt(g.chunk, 6 * 14 * 14);
	check_naive_batch((shape){VK_CONV_TRANSPOSED, 14, 14, 64, 32, 3, 2}, 6, VK_RELU);
	check_naive_batch((shape){VK_CONV_TRANSPOSED, 28, 28, 32, 1, 3, 1}, 2, VK_SIGMOID);
}

/* Chunking must not change the backward results beyond rounding. */
static void check_chunked_backward(shape s, int act, int chunk)
{
	bench a, c;
	bench_init(&a, s, 3, act, 0, 9);
	bench_init(&c, s, 3, act, chunk, 9);
	loss(&a);
	loss(&c);
	size_t no = out_size(&a.g, 3), ni = in_size(&a.g, 3), nw = vk_conv_weights(&a.g);
	memcpy(a.dy, a.r, sizeof(float) * no);
	memcpy(c.dy, c.r, sizeof(float) * no);
	vk_conv_backward(a.dx, a.dW, a.db, a.dy, a.x, a.y, a.Wt, a.work, &a.g, 3, act);
	vk_conv_backward(c.dx, c.dW, c.db, c.dy, c.x, c.y, c.Wt, c.work, &c.g, 3, act);
	for (size_t i = 0; i < ni; i++)
		cr_assert(fabsf(a.dx[i] - c.dx[i]) <= 1e-5f + 1e-5f * fabsf(a.dx[i]), "dx[%zu]", i);
	for (size_t i = 0; i < nw; i++)
		cr_assert(fabsf(a.dW[i] - c.dW[i]) <= 1e-4f + 1e-5f * fabsf(a.dW[i]), "dW[%zu]", i);
	for (int i = 0; i < s.F; i++)
		cr_assert(fabsf(a.db[i] - c.db[i]) <= 1e-4f + 1e-5f * fabsf(a.db[i]), "db[%d]", i);
	bench_free(&a);
	bench_free(&c);
}

Test(conv_naive, chunked_backward_matches)
{
	for (int chunk = 7; chunk <= 43; chunk += 36) {
		check_chunked_backward((shape){VK_CONV_SAME, 9, 7, 3, 4, 3, 2}, VK_TANH, chunk);
		check_chunked_backward((shape){VK_CONV_SAME, 6, 5, 2, 3, 1, 1}, VK_RELU, chunk);
		check_chunked_backward((shape){VK_CONV_TRANSPOSED, 5, 4, 3, 4, 3, 2}, VK_TANH, chunk);
		check_chunked_backward((shape){VK_CONV_TRANSPOSED, 4, 4, 3, 4, 1, 1}, VK_IDENTITY, chunk);
		check_chunked_backward((shape){VK_CONV_TRANSPOSED, 3, 3, 2, 2, 2, 1}, VK_SIGMOID, chunk);
		check_chunked_backward((shape){VK_CONV_TRANSPOSED, 10, 10, 2, 1, 3, 1}, VK_TANH, chunk);
		check_chunked_backward((shape){VK_CONV_SAME, 10, 10, 2, 1, 3, 1}, VK_TANH, chunk);
	}
}

Test(conv_golden, matches_pytorch)
{
	for (int k = 0; k < COUNT(conv_goldens); k++) {
		const struct conv_golden *c = &conv_goldens[k];
		vk_conv_geom g = geom((shape){c->kind, c->H, c->W, c->C, c->F, c->K, c->S});
		cr_assert_eq((size_t)c->n, out_size(&g, c->B), "%s: size", c->name);
		size_t ni = in_size(&g, c->B), nw = vk_conv_weights(&g);
		float *x = malloc(sizeof(float) * ni), *Wt = malloc(sizeof(float) * nw);
		float *b = malloc(sizeof(float) * c->F), *y = malloc(sizeof(float) * c->n);
		float *work = malloc(sizeof(float) * vk_conv_workspace(&g, c->B));
		for (size_t i = 0; i < ni; i++)
			x[i] = (float)sin(0.37 * i);
		for (size_t i = 0; i < nw; i++)
			Wt[i] = (float)(0.5 * cos(0.23 * i));
		for (int f = 0; f < c->F; f++)
			b[f] = (float)(0.1 * f - 0.05);
		vk_conv_forward(y, x, Wt, b, work, &g, c->B, c->act);
		for (int i = 0; i < c->n; i++)
			cr_assert(fabsf(y[i] - c->y[i]) <= 2e-5f + 1e-5f * fabsf(c->y[i]),
				  "%s: y[%d] = %.7g, PyTorch %.7g", c->name, i, y[i], c->y[i]);
		free(x), free(Wt), free(b), free(y), free(work);
	}
}

Test(conv_geom, output_shapes)
{
	vk_conv_geom g = geom((shape){VK_CONV_SAME, 28, 28, 1, 32, 3, 2});
	cr_assert(g.OH == 14 && g.OW == 14 && g.pad == 1);
	g = geom((shape){VK_CONV_SAME, 14, 14, 32, 64, 3, 2});
	cr_assert(g.OH == 7 && g.OW == 7);
	g = geom((shape){VK_CONV_SAME, 7, 7, 64, 8, 3, 2});
	cr_assert(g.OH == 4 && g.OW == 4);
	g = geom((shape){VK_CONV_SAME, 7, 5, 3, 8, 5, 3});
	cr_assert(g.OH == 3 && g.OW == 2 && g.pad == 2);
	g = geom((shape){VK_CONV_SAME, 9, 9, 3, 8, 4, 1});
	cr_assert(g.OH == 9 && g.OW == 9 && g.pad == 1);
	g = geom((shape){VK_CONV_TRANSPOSED, 7, 7, 64, 64, 3, 2});
	cr_assert(g.OH == 14 && g.OW == 14);
	g = geom((shape){VK_CONV_TRANSPOSED, 14, 14, 64, 32, 3, 2});
	cr_assert(g.OH == 28 && g.OW == 28);
	g = geom((shape){VK_CONV_TRANSPOSED, 28, 28, 32, 1, 3, 1});
	cr_assert(g.OH == 28 && g.OW == 28 && g.F == 1);
	g = geom((shape){VK_CONV_TRANSPOSED, 3, 5, 2, 4, 5, 3});
	cr_assert(g.OH == 9 && g.OW == 15);
	cr_assert_eq(vk_conv_weights(&g), 5 * 5 * 2 * 4);
	/* The workspace of a large batch stays bounded (a few MB). */
	g = geom((shape){VK_CONV_SAME, 14, 14, 32, 64, 3, 2});
	cr_assert_leq(vk_conv_workspace(&g, 128), (size_t)4 << 20 >> 2);
	cr_assert_geq(vk_conv_workspace(&g, 128), (size_t)g.chunk * 3 * 3 * 32);
	g = geom((shape){VK_CONV_SAME, 8, 8, 16, 8, 1, 1});
	cr_assert_leq(vk_conv_workspace(&g, 128), 1024); /* 1×1: no column buffer */
}

static void expect_error(int kind, int H, int W, int C, int F, int K, int S, const char *needle)
{
	vk_conv_geom g;
	vk_error e = {{0}};
	cr_assert_eq(vk_conv_geom_init(&g, kind, H, W, C, F, K, S, &e), -1,
		     "kind %d H%d W%d C%d F%d K%d S%d accepted", kind, H, W, C, F, K, S);
	cr_assert(strstr(e.msg, needle), "message '%s' lacks '%s'", e.msg, needle);
}

Test(conv_geom, bad_values_rejected)
{
	expect_error(VK_CONV_SAME, 28, 28, 1, 32, 3, 0, "stride 0");
	expect_error(VK_CONV_TRANSPOSED, 7, 7, 1, 32, 3, -2, "stride -2");
	expect_error(VK_CONV_SAME, 28, 28, 0, 32, 3, 2, "input channels 0");
	expect_error(VK_CONV_SAME, 28, 28, 1, 0, 3, 2, "filters 0");
	expect_error(VK_CONV_TRANSPOSED, 7, 7, 8, 0, 3, 2, "filters 0");
	expect_error(VK_CONV_SAME, 28, 28, 1, 32, 0, 2, "kernel size 0");
	expect_error(VK_CONV_SAME, 28, 28, 1, 32, 1000, 2, "kernel size 1000");
	expect_error(VK_CONV_SAME, 28, 28, 1, 100000, 3, 2, "filters 100000");
	expect_error(VK_CONV_SAME, 0, 28, 1, 32, 3, 2, "input size 0x28");
	expect_error(VK_CONV_SAME, 28, 70000, 1, 32, 3, 2, "input size 28x70000");
	expect_error(VK_CONV_TRANSPOSED, 40000, 4, 1, 32, 3, 2, "output size 80000x8");
	/* kernels larger than the padded input: even K pads less before */
	expect_error(VK_CONV_SAME, 1, 8, 1, 4, 2, 1, "kernel 2x2 larger than the padded input 1x8");
	expect_error(VK_CONV_SAME, 8, 1, 1, 4, 6, 1, "larger than the padded input 12x5");
	expect_error(VK_CONV_TRANSPOSED, 1, 1, 1, 4, 4, 1, "larger than the padded output");
	expect_error(VK_CONV_SAME, 65536, 65536, 4, 4, 3, 1, "layer too large");
	expect_error(7, 8, 8, 1, 4, 3, 1, "unknown convolution kind 7");
	/* and the edge cases that are fine */
	vk_conv_geom g;
	vk_error e;
	cr_assert_eq(vk_conv_geom_init(&g, VK_CONV_SAME, 1, 1, 1, 1, 3, 1, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_conv_geom_init(&g, VK_CONV_SAME, 2, 2, 1, 1, 5, 3, &e), 0, "%s", e.msg);
	cr_assert(g.OH == 1 && g.OW == 1);
	cr_assert_eq(vk_conv_geom_init(&g, VK_CONV_TRANSPOSED, 1, 1, 1, 1, 1, 1, &e), 0, "%s", e.msg);
}
