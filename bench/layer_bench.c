/* layer_bench — time a layer list's training step, forward and backward,
 * through the one forward and one backward walk (vk_list_forward,
 * vk_list_backward), as vae-train runs it on one thread.
 *
 * Each LIST (the text of --encoder, e.g. conv:64:3:1/identity,batchnorm) is
 * built on an input of shape HxWxC for a batch of B records and timed over R
 * repeats (process CPU time, so that other programs on a shared machine
 * count as little as possible); it prints the median and the best forward
 * and backward milliseconds, and for every list after the first its extra
 * time over the first: with LIST1 a conv and LIST2 the same conv followed by
 * batchnorm, the batch norm's cost as a share of the conv's (issue 22's
 * target: at most 10%).
 *
 * Build: make build/bin-bench/layer_bench
 * Run:   OPENBLAS_NUM_THREADS=1 build/bin-bench/layer_bench HxWxC B R LIST1 [LIST2 ...]
 *   e.g. layer_bench 14x14x64 128 20 conv:64:3:1/identity conv:64:3:1/identity,batchnorm/relu
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "err.h"
#include "layers.h"
#include "nn.h"
#include "rng.h"

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

static float *floats(size_t n)
{
	float *p = vk_alloc_floats(n ? n : 1);
	if (!p)
		vk_die("out of memory");
	memset(p, 0, sizeof(float) * (n ? n : 1));
	return p;
}

/* Median and best forward and backward seconds of LIST on in at batch B. */
static void time_list(const char *text, vk_shape in0, int B, int R, double out[4])
{
	vk_layer L[VK_MAX_ENTRIES];
	vk_layer_spec s[VK_MAX_LAYERS];
	vk_error e;
	int nl, end;
	if (vk_layers_parse(text, VK_RELU, s, VK_MAX_LAYERS, &nl, &e))
		vk_die("%s", e.msg);
	end = nl;
	size_t np = 0, ns = 0;
	vk_shape in = in0;
	for (int i = 0; i < nl; i++) {
		if (vk_list_add(L, i, &end, VK_MAX_ENTRIES, &s[i], in, 0, &np, &ns, &e))
			vk_die("%s: %s", text, e.msg);
		in = L[i].out;
	}
	size_t ws = 1, wide = vk_shape_size(in0);
	float *acts[VK_MAX_ENTRIES], *priv[VK_MAX_ENTRIES];
	for (int i = 0; i < end; i++) {
		size_t need = vk_layer_workspace(&L[i], B);
		ws = need > ws ? need : ws;
		wide = (size_t)L[i].n_out > wide ? (size_t)L[i].n_out : wide;
		acts[i] = floats((size_t)B * L[i].n_out);
		priv[i] = floats(vk_layer_priv(&L[i], B) + 1);
	}
	float *P = floats(np), *G = floats(np), *S = floats(ns), *scratch = floats(ws);
	float *x = floats((size_t)B * vk_shape_size(in0));
	float *g[2] = {floats((size_t)B * wide), floats((size_t)B * wide)};
	vk_rng rng;
	vk_rng_seed(&rng, 1);
	vk_list_init(L, nl, P, S, &rng);
	for (size_t i = 0; i < (size_t)B * vk_shape_size(in0); i++)
		x[i] = (float)vk_rng_normal(&rng);
	vk_pass pass = {.P = P, .G = G, .S = S, .scratch = scratch, .train = 1, .update_state = 1};
	size_t n_y = (size_t)B * L[nl - 1].n_out;
	double *tf = malloc(sizeof(double) * (R + 2)), *tb = malloc(sizeof(double) * (R + 2));
	for (int r = -2; r < R; r++) { /* two warm-ups */
		double t0 = now();
		vk_list_forward(L, nl, acts, priv, x, B, &pass);
		double t1 = now();
		for (size_t i = 0; i < n_y; i++)
			g[0][i] = 1e-3f * (float)((i % 7) - 3);
		double t2 = now();
		/* the first layer's dx too: a layer inside a network has one */
		vk_list_backward(L, nl, acts, priv, x, g[0], g[1], 1, B, &pass);
		double t3 = now();
		if (r >= 0)
			tf[r] = t1 - t0, tb[r] = t3 - t2;
	}
	qsort(tf, R, sizeof *tf, cmp_double);
	qsort(tb, R, sizeof *tb, cmp_double);
	out[0] = tf[R / 2], out[1] = tb[R / 2], out[2] = tf[0], out[3] = tb[0];
	for (int i = 0; i < end; i++)
		free(acts[i]), free(priv[i]);
	free(P), free(G), free(S), free(scratch), free(x), free(g[0]),
		free(g[1]);
	free(tf), free(tb);
}

int main(int argc, char **argv)
{
	vk_shape in;
	if (argc < 5 || sscanf(argv[1], "%dx%dx%d", &in.h, &in.w, &in.c) != 3 || in.h < 1 ||
	    in.w < 1 || in.c < 1) {
		fputs("usage: layer_bench HxWxC B R LIST1 [LIST2 ...]\n", stderr);
		return 2;
	}
	int B = atoi(argv[2]), R = atoi(argv[3]);
	if (B < 1 || R < 1) {
		fputs("layer_bench: B and R must be positive\n", stderr);
		return 2;
	}
	printf("# input %dx%dx%d, batch %d, %d repeats, one thread; ms (process CPU time)\n"
	       "%-48s %9s %9s %9s %9s %9s %8s\n",
	       in.h, in.w, in.c, B, R, "list", "fwd med", "bwd med", "step med", "fwd best",
	       "bwd best", "extra");
	double first = 0;
	for (int a = 4; a < argc; a++) {
		double t[4];
		time_list(argv[a], in, B, R, t);
		double step = t[0] + t[1];
		char extra[32] = "";
		if (a == 4)
			first = step;
		else
			snprintf(extra, sizeof extra, "%+.1f%%", 100.0 * (step - first) / first);
		printf("%-48s %9.3f %9.3f %9.3f %9.3f %9.3f %8s\n", argv[a], 1e3 * t[0], 1e3 * t[1],
		       1e3 * step, 1e3 * t[2], 1e3 * t[3], extra);
	}
	return 0;
}
