/* The objectives with an MMD to the prior over the whole batch: WAE-MMD
 * (Tolstikhin et al. 2018: reconstruction + λ·MMD, no KL) and InfoVAE /
 * MMD-VAE (Zhao et al. 2019: the ELBO with the KL weighted 1 − α, plus
 * (α + λ − 1)·MMD); and the MMD term itself, with its gradient. */
#include "objective.h"

#include <math.h>
#include <string.h>

#include "nn.h"

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

/* The batch's codes (B, Z, reduced), then as floats the codes and the prior
 * draws transposed (Z, B) each, a code and its gradient (Z each), and the row
 * kernel's 2B. */
size_t vk_mmd_scratch(int B, int Z)
{
	size_t bz = (size_t)B * Z;
	return bz + (2 * bz + 2 * (size_t)Z + 2 * (size_t)B + 1) / 2;
}

double vk_mmd_imq(const float *q, int ldz, int n, int row0, int B, int Z, const float *prior,
		  float weight, float *dq, vk_reducer *red, int slice, double *scratch)
{
	/* Every slice gets the whole batch's codes: each writes its rows into a
	 * zeroed (B, Z) block, and the sum over the slices is the batch (exact:
	 * every value meets only zeros). */
	size_t bz = (size_t)B * Z;
	double *all = scratch, part = 0;
	float *qt = (float *)(all + bz), *pt = qt + bz, *qa = pt + bz, *g = qa + Z, *t = g + Z;
	float C[N_SCALES];
	memset(all, 0, sizeof(double) * bz);
	for (int r = 0; r < n; r++)
		for (int j = 0; j < Z; j++)
			all[(size_t)(row0 + r) * Z + j] = q[(size_t)r * ldz + j];
	vk_reduce(red, slice, all, (int)bz);
	/* transposed, a dimension a row, for nn.c's row kernel */
	for (int i = 0; i < B; i++)
		for (int j = 0; j < Z; j++) {
			qt[(size_t)j * B + i] = (float)all[(size_t)i * Z + j];
			pt[(size_t)j * B + i] = prior[(size_t)i * Z + j];
		}
	for (size_t s = 0; s < N_SCALES; s++)
		C[s] = (float)(scales[s] * 2.0 * Z);
	double w_same = 1.0 / ((double)B * (B - 1)), w_cross = 2.0 / ((double)B * B);
	/* This slice's rows' share of the three sums (row a's pairs (a, b)), and
	 * its rows' gradients. A row's pair with itself is in the row sums as
	 * k(x, x) = N_SCALES exactly, with no gradient: taken out. */
	for (int r = 0; r < n; r++) {
		int a = row0 + r;
		float *gg = dq ? g : NULL;
		memset(g, 0, sizeof(float) * Z);
		for (int j = 0; j < Z; j++)
			qa[j] = (float)all[(size_t)a * Z + j];
		/* k(q_a, q_b) appears twice in Σ_{i≠j}: as (a, b) and (b, a) */
		double kqq = vk_imq_row(qa, qt, B, B, Z, C, N_SCALES, gg, (float)(2.0 * w_same), t);
		double kqp = vk_imq_row(qa, pt, B, B, Z, C, N_SCALES, gg, (float)-w_cross, t);
		double kpp = vk_imq_row(prior + (size_t)a * Z, pt, B, B, Z, C, N_SCALES, NULL, 0, t);
		part += w_same * (kqq - (double)N_SCALES) + w_same * (kpp - (double)N_SCALES) -
			w_cross * kqp;
		if (dq)
			for (int j = 0; j < Z; j++)
				dq[(size_t)r * ldz + j] += weight * g[j];
	}
	all[0] = part;
	vk_reduce(red, slice, all, 1);
	return all[0];
}
