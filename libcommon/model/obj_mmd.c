/* The objectives with an MMD to the prior over the whole batch: WAE-MMD
 * (Tolstikhin et al. 2018: reconstruction + λ·MMD, no KL) and InfoVAE /
 * MMD-VAE (Zhao et al. 2019: the ELBO with the KL weighted 1 − α, plus
 * (α + λ − 1)·MMD); and the MMD term itself, with its gradient. */
#include "objective.h"

#include <math.h>
#include <string.h>

static const double scales[] = {0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0};
#define N_SCALES (sizeof scales / sizeof scales[0])

static float no_kl(const vk_objective_params *p)
{
	(void)p;
	return 0.0f;
}
static float wae_mmd(const vk_objective_params *p) { return p->lambda; }

static float info_kl(const vk_objective_params *p) { return 1.0f - p->alpha; }
static float info_mmd(const vk_objective_params *p) { return p->alpha + p->lambda - 1.0f; }

const vk_objective_kind vk_objective_wae_mmd = {
	.name = "wae-mmd",
	.kl_weight = no_kl,
	.mmd_weight = wae_mmd,
};

const vk_objective_kind vk_objective_infovae = {
	.name = "infovae",
	.kl_weight = info_kl,
	.mmd_weight = info_mmd,
};

size_t vk_mmd_scratch(int B, int Z)
{
	return 2 * (size_t)B * Z + Z;
}

/* Σ_C k_C(x, y) and, when g is not NULL, g += f·∂/∂x of it */
static double imq(const double *x, const double *y, int Z, double *g, double f)
{
	double d2 = 0, k = 0, dk = 0;
	for (int j = 0; j < Z; j++)
		d2 += (x[j] - y[j]) * (x[j] - y[j]);
	for (size_t s = 0; s < N_SCALES; s++) {
		double C = scales[s] * 2.0 * Z, den = C + d2;
		k += C / den;
		dk += -C / (den * den); /* ∂k/∂(d²) */
	}
	if (g)
		for (int j = 0; j < Z; j++)
			g[j] += f * dk * 2.0 * (x[j] - y[j]);
	return k;
}

double vk_mmd_imq(const float *q, int ldz, int n, int row0, int B, int Z, const float *prior,
		  float weight, float *dq, vk_reducer *red, int slice, double *scratch)
{
	/* Every slice gets the whole batch's codes: each writes its rows into a
	 * zeroed (B, Z) block, and the sum over the slices is the batch (exact:
	 * every value meets only zeros). */
	double *all = scratch, *p = all + (size_t)B * Z, *g = p + (size_t)B * Z, part = 0;
	memset(all, 0, sizeof(double) * B * Z);
	for (size_t i = 0; i < (size_t)B * Z; i++)
		p[i] = prior[i];
	for (int r = 0; r < n; r++)
		for (int j = 0; j < Z; j++)
			all[(size_t)(row0 + r) * Z + j] = q[(size_t)r * ldz + j];
	vk_reduce(red, slice, all, B * Z);
	double w_same = 1.0 / ((double)B * (B - 1)), w_cross = 2.0 / ((double)B * B);
	/* this slice's rows' share of the three sums (row a's pairs (a, j)),
	 * and its rows' gradients */
	for (int r = 0; r < n; r++) {
		int a = row0 + r;
		const double *qa = all + (size_t)a * Z, *pa = p + (size_t)a * Z;
		double *gg = dq ? g : NULL;
		memset(g, 0, sizeof(double) * Z);
		for (int b = 0; b < B; b++) {
			const double *pb = p + (size_t)b * Z;
			if (b != a) {
				/* k(q_a, q_b) appears twice in Σ_{i≠j}: as (a, b) and (b, a) */
				part += w_same * imq(qa, all + (size_t)b * Z, Z, gg, 2.0 * w_same);
				part += w_same * imq(pa, pb, Z, NULL, 0);
			}
			part -= w_cross * imq(qa, pb, Z, gg, -w_cross);
		}
		if (dq)
			for (int j = 0; j < Z; j++)
				dq[(size_t)r * ldz + j] += (float)(weight * g[j]);
	}
	all[0] = part;
	vk_reduce(red, slice, all, 1);
	return all[0];
}
