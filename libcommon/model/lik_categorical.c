/* A categorical distribution over K classes at each of the D positions of a
 * record (a code map's codes, K = a->codes): the network gives K logits per
 * position, (D, K) channels-last; −log p(x) = Σ_p −log softmax(logits_p)[x_p],
 * in nats. Targets are integers in [0, K) (check_rows says so before any
 * batch). The "mean" is each position's most probable class (the lowest on
 * a tie), as a code map. An autoregressive model reads its input in the
 * output's layout: each code one-hot over K channels (expand). */
#include "latents.h"

#include <math.h>
#include <string.h>

#include "model.h"

static int cat_width(const vk_arch *a) { return a->input_size * a->codes; }

static int cat_check(const vk_arch *a, vk_error *e)
{
	if (a->codes < 2 || a->codes > VK_MAX_CODES)
		return vk_fail(e, "a categorical likelihood over %d classes (2 to %d)", a->codes,
			       VK_MAX_CODES);
	if ((uint64_t)a->input_size * a->codes > VK_MAX_VALUES)
		return vk_fail(e, "%d positions of %d classes: more than %d logits", a->input_size,
			       a->codes, VK_MAX_VALUES);
	return 0;
}

/* rec (n) = Σ_p logsumexp(l_p) − l_p[x_p] of logits l (n, D, K); grad (n, D,
 * K) = (softmax(l_p) − onehot(x_p)) · scale unless NULL. A target outside
 * [0, K) (refused before: check_rows) gives a NaN loss, never a wild read. */
static void cat_nll(const vk_arch *a, const float *out, const float *x, float *grad, float *rec,
		    int n, float scale)
{
	const int D = a->input_size, K = a->codes;
	for (int r = 0; r < n; r++) {
		double sum = 0;
		for (int p = 0; p < D; p++) {
			const float *l = out + ((size_t)r * D + p) * K;
			float t = x[(size_t)r * D + p];
			int c = t >= 0 && t < K ? (int)t : -1;
			float mx = l[0];
			for (int k = 1; k < K; k++)
				mx = l[k] > mx ? l[k] : mx;
			double s = 0;
			for (int k = 0; k < K; k++)
				s += exp((double)l[k] - mx);
			sum += c < 0 ? NAN : mx + log(s) - l[c];
			if (!grad)
				continue;
			float *g = grad + ((size_t)r * D + p) * K;
			float inv = (float)(scale / s);
			for (int k = 0; k < K; k++)
				g[k] = expf(l[k] - mx) * inv;
			if (c >= 0)
				g[c] -= scale;
		}
		rec[r] = (float)sum;
	}
}

/* out (n, D·K) to each position's most probable class, (n, D), in place:
 * position i's logits lie at i·K ≥ i, read before out[i] is written. */
static void cat_mean(const vk_arch *a, float *out, int n)
{
	const int K = a->codes;
	for (size_t i = 0; i < (size_t)n * a->input_size; i++) {
		const float *l = out + i * K;
		int best = 0;
		for (int k = 1; k < K; k++)
			best = l[k] > l[best] ? k : best;
		out[i] = (float)best;
	}
}

/* in (n, D·K) = the one-hot of each code of x (n, D); an out-of-range code
 * (refused before) is all zeros. */
static void cat_expand(const vk_arch *a, const float *x, float *in, int n)
{
	const int K = a->codes;
	size_t N = (size_t)n * a->input_size;
	memset(in, 0, sizeof(float) * N * K);
	for (size_t i = 0; i < N; i++)
		if (x[i] >= 0 && x[i] < K)
			in[i * K + (int)x[i]] = 1.0f;
}

static int cat_check_rows(const vk_arch *a, const float *x, size_t n, size_t dim,
			  uint64_t first, const char *name, vk_error *e)
{
	for (size_t r = 0; r < n; r++)
		for (size_t i = 0; i < dim; i++) {
			float v = x[r * dim + i];
			if (!(v >= 0 && v < a->codes && v == floorf(v)))
				return vk_fail(e, "%s: record %llu has the value %g at position %zu, not "
						  "a code in [0, %d) (the model's codebook size %d)",
					       name, (unsigned long long)(first + r), v, i, a->codes,
					       a->codes);
		}
	return 0;
}

const vk_lik_kind vk_lik_categorical = {
	.id = VK_CATEGORICAL,
	.name = "categorical",
	.has_codes = 1,
	.out_width = cat_width,
	.check = cat_check,
	.nll = cat_nll,
	.mean = cat_mean,
	.expand = cat_expand,
	.check_rows = cat_check_rows,
};
