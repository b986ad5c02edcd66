/* conv_bench — time the conv layers of the Keras-example conv VAE, forward
 * and backward, against the bare sgemm calls of the same shapes.
 *
 * Layers (batch 128 by default): encoder conv:32:3:2 on 28×28×1 and
 * conv:64:3:2 on 14×14×32; decoder deconv:64:3:2 on 7×7×64, deconv:32:3:2 on
 * 14×14×64 and deconv:1:3:1 on 28×28×32. The first layer computes no dx
 * (nothing needs the gradient of the data), as in training.
 *
 * For each layer it prints the best time (process CPU time, so that other
 * programs on a shared machine count as little as possible) of
 * vk_conv_forward and of vk_conv_backward, and the "GEMM floor": the best
 * time of the same sgemm calls alone (y = col·W, dW = colᵀ·dy, dcol = dy·Wᵀ
 * for conv; col = x·W, dW = xᵀ·dcol, dx = dcol·Wᵀ for deconv), chunk by
 * chunk as the kernels make them, on a column buffer that needs no im2col.
 * The share floor/layer says how much of the layer's time the GEMMs take;
 * the rest is lowering, bias and activation. "1-call" is the same GEMMs
 * made once each for the whole batch (a column buffer of the whole batch):
 * what chunking gains or loses on the GEMMs themselves. The thin layers
 * (one input channel, or one filter, against 16·n ≤ 64 channels: the first
 * and last layers here) make no GEMM when built with AVX-512; their floor
 * columns are those of the general path's GEMMs, which they beat.
 *
 * Build: make build/bin-bench/conv_bench
 * Run:   OPENBLAS_NUM_THREADS=1 build/bin-bench/conv_bench [batch [repeats [layer]]]
 *        (layer: the index of one layer to time alone, e.g. under perf record)
 */
#include <cblas.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conv.h"
#include "err.h"
#include "nn.h"
#include "rng.h"

struct layer {
	const char *name;
	int kind, H, W, C, F, K, S, act, need_dx;
};

static const struct layer LAYERS[] = {
	{"enc conv:32:3:2   28x28x1 ", VK_CONV_SAME, 28, 28, 1, 32, 3, 2, VK_RELU, 0},
	{"enc conv:64:3:2   14x14x32", VK_CONV_SAME, 14, 14, 32, 64, 3, 2, VK_RELU, 1},
	{"dec deconv:64:3:2  7x7x64 ", VK_CONV_TRANSPOSED, 7, 7, 64, 64, 3, 2, VK_RELU, 1},
	{"dec deconv:32:3:2 14x14x64", VK_CONV_TRANSPOSED, 14, 14, 64, 32, 3, 2, VK_RELU, 1},
	{"dec deconv:1:3:1  28x28x32", VK_CONV_TRANSPOSED, 28, 28, 32, 1, 3, 1, VK_IDENTITY, 1},
};

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return t.tv_sec + 1e-9 * t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The fastest run: on a shared machine the others only add noise. */
static double best(double *t, int n)
{
	qsort(t, n, sizeof *t, cmp_double);
	return t[0];
}

static float *floats(size_t n, vk_rng *rng)
{
	float *p = vk_alloc_floats(n);
	if (!p)
		vk_die("out of memory");
	for (size_t i = 0; i < n; i++)
		p[i] = vk_rng_uniform(rng) - 0.5f;
	return p;
}

static void gemm(int ta, int tb, int m, int n, int k, const float *a, int lda, const float *b,
		 int ldb, float beta, float *c, int ldc)
{
	cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
		    m, n, k, 1.0f, a, lda, b, ldb, beta, c, ldc);
}

/* The layer's GEMMs alone, as the kernels call them (chunk rows at a time,
 * dW accumulated over the chunks) but on a column buffer that needs no
 * im2col or col2im; chunk = all rows gives one call per GEMM. Best forward
 * time in *gf, backward in *gb. x (B,H,W,C), dx as x; y, dy (B,OH,OW,F). */
static void gemm_floor(const struct layer *L, const vk_conv_geom *g, int B, size_t chunk,
		       const float *x, float *dx, float *y, const float *dy, const float *Wt,
		       float *dW, vk_rng *rng, double *t, int R, double *gf, double *gb)
{
	int conv = L->kind == VK_CONV_SAME, C = g->C, F = g->F, KK = g->K * g->K;
	int width = conv ? KK * C : KK * F; /* columns of the lowered matrix */
	size_t rows = conv ? (size_t)B * g->OH * g->OW : (size_t)B * g->H * g->W;
	if (chunk > rows)
		chunk = rows;
	float *col = floats(chunk * width, rng); /* (chunk, width) */
	for (int pass = 0; pass < 2; pass++) {
		for (int r = -2; r < R; r++) {
			double t0 = now();
			for (size_t r0 = 0; r0 < rows; r0 += chunk) {
				int n = (int)(rows - r0 < chunk ? rows - r0 : chunk);
				float beta = r0 ? 1.0f : 0.0f;
				if (conv && !pass) {
					gemm(0, 0, n, F, width, col, width, Wt, F, 0, y + r0 * F, F);
				} else if (conv) {
					gemm(1, 0, width, F, n, col, width, dy + r0 * F, F, beta, dW, F);
					if (L->need_dx)
						gemm(0, 1, n, width, F, dy + r0 * F, F, Wt, F, 0, col,
						     width);
				} else if (!pass) {
					gemm(0, 0, n, width, C, x + r0 * C, C, Wt, width, 0, col, width);
				} else {
					gemm(1, 0, C, width, n, x + r0 * C, C, col, width, beta, dW,
					     width);
					if (L->need_dx)
						gemm(0, 1, n, C, width, col, width, Wt, width, 0,
						     dx + r0 * C, C);
				}
			}
			if (r >= 0)
				t[r] = now() - t0;
		}
		*(pass ? gb : gf) = best(t, R);
	}
	free(col);
}

int main(int argc, char **argv)
{
	vk_init(argc, argv);
	int B = argc > 1 ? atoi(argv[1]) : 128, R = argc > 2 ? atoi(argv[2]) : 21;
	int only = argc > 3 ? atoi(argv[3]) : -1; /* one layer (for perf record) */
	if (B < 1 || R < 1)
		vk_ndie(VK_EXIT_USAGE, "usage: conv_bench [batch [repeats [layer]]]");
	vk_set_threads(1);
	vk_rng rng;
	vk_rng_seed(&rng, 1);
	double *t = malloc(sizeof *t * R);
	double sum_fwd = 0, sum_bwd = 0, sum_gf = 0, sum_gb = 0, sum_one = 0;
	printf("batch %d, best of %d, one thread, process CPU time; ms per call\n", B, R);
	printf("%-27s %8s %8s %8s | %8s %8s %8s | %6s | %8s\n", "layer", "fwd", "bwd", "total",
	       "gemm-fwd", "gemm-bwd", "floor", "share", "1-call");
	for (size_t li = 0; li < sizeof LAYERS / sizeof *LAYERS; li++) {
		const struct layer *L = &LAYERS[li];
		if (only >= 0 && (size_t)only != li)
			continue;
		vk_conv_geom g;
		vk_error e;
		if (vk_conv_geom_init(&g, L->kind, L->H, L->W, L->C, L->F, L->K, L->S, &e))
			vk_die_error(&e);
		size_t ni = (size_t)B * L->H * L->W * L->C, no = (size_t)B * g.OH * g.OW * L->F;
		size_t nw = vk_conv_weights(&g);
		float *x = floats(ni, &rng), *dx = floats(ni, &rng), *y = floats(no, &rng);
		float *dy = floats(no, &rng), *dy0 = floats(no, &rng), *Wt = floats(nw, &rng);
		float *dW = floats(nw, &rng), *b = floats(L->F, &rng), *db = floats(L->F, &rng);
		float *work = floats(vk_conv_workspace(&g, B), &rng);
		double fwd, bwd, gf, gb;
		for (int r = -2; r < R; r++) {
			double t0 = now();
			vk_conv_forward(y, x, Wt, b, work, &g, B, L->act);
			if (r >= 0)
				t[r] = now() - t0;
		}
		fwd = best(t, R);
		for (int r = -2; r < R; r++) {
			memcpy(dy, dy0, sizeof *dy * no);
			double t0 = now();
			vk_conv_backward(L->need_dx ? dx : NULL, dW, db, dy, x, y, Wt, work, &g, B,
					 L->act);
			if (r >= 0)
				t[r] = now() - t0;
		}
		bwd = best(t, R);
		gemm_floor(L, &g, B, g.chunk, x, dx, y, dy, Wt, dW, &rng, t, R, &gf, &gb);
		double one_f, one_b; /* the same GEMMs, one call each for the whole batch */
		gemm_floor(L, &g, B, SIZE_MAX, x, dx, y, dy, Wt, dW, &rng, t, R, &one_f, &one_b);
		printf("%-27s %8.3f %8.3f %8.3f | %8.3f %8.3f %8.3f | %5.0f%% | %8.3f\n", L->name,
		       1e3 * fwd, 1e3 * bwd, 1e3 * (fwd + bwd), 1e3 * gf, 1e3 * gb, 1e3 * (gf + gb),
		       100 * (gf + gb) / (fwd + bwd), 1e3 * (one_f + one_b));
		sum_one += one_f + one_b;
		sum_fwd += fwd, sum_bwd += bwd, sum_gf += gf, sum_gb += gb;
		free(x), free(dx), free(y), free(dy), free(dy0), free(Wt), free(dW), free(b);
		free(db), free(work);
	}
	printf("%-27s %8.3f %8.3f %8.3f | %8.3f %8.3f %8.3f | %5.0f%% | %8.3f\n",
	       "all conv layers", 1e3 * sum_fwd, 1e3 * sum_bwd, 1e3 * (sum_fwd + sum_bwd),
	       1e3 * sum_gf, 1e3 * sum_gb, 1e3 * (sum_gf + sum_gb),
	       100 * (sum_gf + sum_gb) / (sum_fwd + sum_bwd), 1e3 * sum_one);
	free(t);
	return 0;
}
