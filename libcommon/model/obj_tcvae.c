/* β-TCVAE (Chen et al. 2018): the ELBO with its KL term decomposed into the
 * index-code mutual information, the total correlation and the
 * dimension-wise KL, weighted α, β, γ; and those three terms over a whole
 * batch, with the minibatch-weighted sampling estimator, and their gradient.
 * The O(B²Z) pairwise log densities are nn.c's vectorised vk_tc_row. */
#include "objective.h"

#include <math.h>
#include <string.h>

#include "nn.h"

static float no_weight(const vk_objective_params *p)
{
	(void)p;
	return 0.0f;
}

/* the three terms replace the KL: its own weight is 0 */
static void tc_weights(const vk_objective_params *p, float w[3])
{
	w[0] = p->alpha;
	w[1] = p->beta;
	w[2] = p->gamma;
}

const vk_objective_kind vk_objective_tcvae = {
	.name = "tcvae",
	.kl_weight = no_weight,
	.mmd_weight = no_weight,
	.tc_weights = tc_weights,
};

/* The whole batch's z, μ, log σ² (3·B·Z, reduced), then as floats the codes
 * (B, Z), the transposed μ, 1/σ², −½(log σ² + log 2π), ∂/∂μ, ∂/∂log σ² and
 * the row's log densities (Z, B) each, and a row of B. */
size_t vk_tc_scratch(int B, int Z)
{
	size_t bz = (size_t)B * Z;
	return 3 * bz + (7 * bz + B + 1) / 2;
}

void vk_tc_mws(const float *z, int ldz, const float *head, int n, int row0, int B, int Z,
	       double N, const float w[3], float scale, int grad, float *dz, float *dhead,
	       vk_reducer *red, int slice, double *scratch, double terms[3])
{
	size_t bz = (size_t)B * Z;
	double *all = scratch;
	float *zf = (float *)(scratch + 3 * bz), *mu = zf + bz, *iv = mu + bz, *c = iv + bz;
	float *dmu = c + bz, *dlv = dmu + bz, *L = dlv + bz, *s = L + bz;
	/* Every slice gets the whole batch: each writes its rows into zeroed
	 * blocks, and the sum over the slices is the batch (exact: every value
	 * meets only zeros). */
	memset(all, 0, sizeof(double) * 3 * bz);
	for (int r = 0; r < n; r++)
		for (int d = 0; d < Z; d++) {
			size_t at = (size_t)(row0 + r) * Z + d;
			all[at] = z[(size_t)r * ldz + d];
			all[bz + at] = head[(size_t)r * 2 * Z + d];
			all[2 * bz + at] = head[(size_t)r * 2 * Z + Z + d];
		}
	vk_reduce(red, slice, all, (int)(3 * bz));
	const double log2pi = log(2 * M_PI), lognb = log(N * B);
	for (int i = 0; i < B; i++)
		for (int d = 0; d < Z; d++) {
			size_t at = (size_t)i * Z + d, t = (size_t)d * B + i;
			double lv = all[2 * bz + at];
			zf[at] = (float)all[at];
			mu[t] = (float)all[bz + at];
			iv[t] = (float)exp(-lv);
			c[t] = (float)(-0.5 * (lv + log2pi));
		}
	if (grad) {
		memset(dmu, 0, sizeof(float) * bz);
		memset(dlv, 0, sizeof(float) * bz);
	}
	/* The loss scale·Σ_i [α·MI_i + β·TC_i + γ·KL_i] regrouped by its parts:
	 * α·log q(z_i|x_i) + (β − α)·log q(z_i) + (γ − β)·Σ_d log q(z_id) − γ·log p(z_i) */
	float ws = (w[1] - w[0]) * scale, wd = (w[2] - w[1]) * scale, wq = w[0] * scale;
	float wp = w[2] * scale;
	double sum[3] = {0, 0, 0};
	for (int r = 0; r < n; r++) {
		int i = row0 + r;
		const float *zi = zf + (size_t)i * Z;
		double out[2], lqx = 0, lpz = 0;
		vk_tc_row(zi, mu, iv, c, B, B, Z, i, ws, wd, wq, L, s, out,
			  grad ? dz + (size_t)r * ldz : NULL, dmu, dlv);
		for (int d = 0; d < Z; d++) {
			size_t t = (size_t)d * B + i;
			double u = (double)zi[d] - mu[t];
			lqx += c[t] - 0.5 * u * u * iv[t];
			lpz += -0.5 * ((double)zi[d] * zi[d] + log2pi);
			if (grad) /* −γ·log p(z): ∂/∂z = γz */
				dz[(size_t)r * ldz + d] += wp * zi[d];
		}
		double lqz = out[0] - lognb, lqzd = out[1] - Z * lognb;
		sum[0] += lqx - lqz;
		sum[1] += lqz - lqzd;
		sum[2] += lqzd - lpz;
	}
	/* the head's gradient from every slice's rows, and the terms' sums */
	size_t k = 0;
	if (grad)
		for (int i = 0; i < B; i++)
			for (int d = 0; d < Z; d++) {
				all[k] = dmu[(size_t)d * B + i];
				all[bz + k++] = dlv[(size_t)d * B + i];
			}
	k = grad ? 2 * bz : 0;
	for (int j = 0; j < 3; j++)
		all[k + j] = sum[j];
	vk_reduce(red, slice, all, (int)k + 3);
	for (int j = 0; j < 3; j++)
		terms[j] = all[k + j] / B;
	if (grad)
		for (int r = 0; r < n; r++)
			for (int d = 0; d < Z; d++) {
				size_t at = (size_t)(row0 + r) * Z + d;
				dhead[(size_t)r * 2 * Z + d] = (float)all[at];
				dhead[(size_t)r * 2 * Z + Z + d] = (float)all[bz + at];
			}
}
