#include "pixelcnn.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { SAMPLE_BATCH = 256 };

/* One draw from softmax(l (K) / T) by inverting its CDF at u in [0, 1). */
static int draw(const float *l, int K, float T, double u)
{
	float mx = l[0];
	for (int k = 1; k < K; k++)
		mx = l[k] > mx ? l[k] : mx;
	double s = 0;
	for (int k = 0; k < K; k++)
		s += exp(((double)l[k] - mx) / T);
	double target = u * s, acc = 0;
	for (int k = 0; k < K; k++) {
		acc += exp(((double)l[k] - mx) / T);
		if (acc > target)
			return k;
	}
	return K - 1; /* rounding at the top of the CDF */
}

int vk_pixelcnn_sample(vk_model *m, uint64_t seed, uint64_t first, int n, int cls, float T,
		       int32_t *codes, vk_error *e)
{
	const vk_arch *a = &m->a;
	if (!vk_autoregressive(a))
		return vk_fail(e, "a %s model does not draw code maps (a pixelcnn does)",
			       vk_kind_name(a->kind));
	if (!(T > 0 && isfinite(T)))
		return vk_fail(e, "temperature %g must be positive", T);
	int cond = vk_conditional(a);
	if (!cond && cls >= 0)
		return vk_fail(e, "a %s is not conditioned on a class", vk_kind_name(a->kind));
	if (cond && (cls < 0 || cls >= a->classes))
		return vk_fail(e, "a %s of %d classes draws maps of a class 0 to %d, not %d",
			       vk_kind_name(a->kind), a->classes, a->classes - 1, cls);
	const int P = a->input_size, W = vk_lik_of(a)->out_width(a), K = W / P;
	int cap = n < SAMPLE_BATCH ? (n > 0 ? n : 1) : SAMPLE_BATCH;
	vk_work w;
	if (vk_work_alloc(&w, m, cap, e))
		return -1;
	float *x = malloc(sizeof(float) * cap * P);
	vk_rng *g = malloc(sizeof(vk_rng) * cap);
	int32_t *labels = malloc(sizeof(int32_t) * cap);
	if (!x || !g || !labels) {
		free(x), free(g), free(labels);
		vk_work_free(&w);
		return vk_fail(e, "out of memory for %d code maps", cap);
	}
	for (int r = 0; r < cap; r++)
		labels[r] = cls;
	for (int done = 0; done < n;) {
		int b = n - done < cap ? n - done : cap;
		memset(x, 0, sizeof(float) * b * P); /* unseen positions: any code will do */
		for (int r = 0; r < b; r++)
			vk_rng_seed(&g[r], seed ^ (first + done + r + 1) * 0x9e3779b97f4a7c15ull);
		/* Position p's logits see only positions before it: one pass per
		 * position, each drawing that position of every map. */
		for (int p = 0; p < P; p++) {
			const float *out = vk_ar_forward(m, &w, x, cond ? labels : NULL, b);
			for (int r = 0; r < b; r++)
				x[(size_t)r * P + p] = (float)draw(out + ((size_t)r * P + p) * K, K, T,
								   vk_rng_uniform(&g[r]));
		}
		for (size_t i = 0; i < (size_t)b * P; i++)
			codes[(size_t)done * P + i] = (int32_t)x[i];
		done += b;
	}
	free(x), free(g), free(labels);
	vk_work_free(&w);
	return 0;
}

int vk_pixelcnn_fits(const vk_model *prior, int K, int H, int W, const char *prior_name,
		     vk_error *e)
{
	const vk_arch *a = &prior->a;
	if (!vk_autoregressive(a))
		return vk_fail(e, "%s is a %s, not a prior over code maps (a pixelcnn)", prior_name,
			       vk_kind_name(a->kind));
	if (a->codes != K)
		return vk_fail(e, "%s was trained on codes of a codebook of %d, not %d", prior_name,
			       a->codes, K);
	if ((int)a->input_dims[0] != H || (int)a->input_dims[1] != W)
		return vk_fail(e, "%s was trained on %ux%u code maps, not %dx%d", prior_name,
			       a->input_dims[0], a->input_dims[1], H, W);
	return 0;
}

int vk_code_baseline_init(vk_code_baseline *b, int P, int K, vk_error *e)
{
	memset(b, 0, sizeof *b);
	b->count = calloc((size_t)P * K, sizeof *b->count);
	if (!b->count)
		return vk_fail(e, "out of memory for %d positions of %d codes", P, K);
	b->P = P, b->K = K;
	return 0;
}

void vk_code_baseline_free(vk_code_baseline *b)
{
	free(b->count);
	memset(b, 0, sizeof *b);
}

void vk_code_baseline_add(vk_code_baseline *b, const float *x, int n)
{
	for (size_t i = 0; i < (size_t)n * b->P; i++)
		b->count[(i % b->P) * b->K + (size_t)x[i]]++;
	b->n += (uint64_t)n;
}

double vk_code_baseline_nll(const vk_code_baseline *b, const float *x)
{
	double nll = 0, denom = (double)b->n + 0.5 * b->K;
	for (int i = 0; i < b->P; i++)
		nll -= log(((double)b->count[(size_t)i * b->K + (size_t)x[i]] + 0.5) / denom);
	return nll;
}
