/* Training objectives as kinds (issue 23, begun): the ELBO, and the
 * regularisers that look at the whole minibatch. Each objective is a file
 * (obj_elbo.c, obj_mmd.c: wae-mmd and infovae, obj_tcvae.c: β-TCVAE) listed
 * in objective.c; the
 * batch-wide terms are written once over vk_reduce, so a batch cut into
 * threads' slices and ranks' shares gives the whole batch's term.
 * The trainer (train.h) sets them up from the recipe's objective. */
#ifndef VK_OBJECTIVE_H
#define VK_OBJECTIVE_H

#include "reduce.h"

typedef struct {
	float alpha, beta, gamma, lambda;   /* each objective reads the ones it has */
} vk_objective_params;

typedef struct {
	const char *name;
	/* the weight of the per-record KL to the prior (the ELBO's β) */
	float (*kl_weight)(const vk_objective_params *p);
	/* the weight of the batch's MMD between codes and prior draws (0: none) */
	float (*mmd_weight)(const vk_objective_params *p);
	/* the weights α, β, γ of the batch's index-code MI, total correlation and
	 * dimension-wise KL (vk_tc_mws) in w; NULL: no such terms */
	void (*tc_weights)(const vk_objective_params *p, float w[3]);
} vk_objective_kind;

extern const vk_objective_kind vk_objective_elbo, vk_objective_wae_mmd, vk_objective_infovae,
	vk_objective_tcvae;

/* The registry; NULL when unknown or past the last. */
const vk_objective_kind *vk_objective_named(const char *name);
const vk_objective_kind *vk_objective_at(int i);

/* The MMD between the codes of a batch of B records and B draws from the
 * prior, with the inverse multiquadratic kernel k(x, y) = C/(C + |x − y|²)
 * summed over C = s·2Z for s in {0.1, 0.2, 0.5, 1, 2, 5, 10} (Tolstikhin et
 * al. 2018, prior N(0, I)), as the unbiased U-statistic
 *   1/(B(B−1)) Σ_{i≠j} [k(q_i, q_j) + k(p_i, p_j)] − 2/B² Σ_{i,j} k(q_i, p_j).
 * This slice holds the codes q (n, ldz) of the batch's rows [row0, row0 + n);
 * prior (B, Z) is the same in every slice. When dq is not NULL, adds
 * weight·∂MMD/∂q of its rows to dq (n, ldz). Needs vk_mmd_scratch(B, Z)
 * doubles of scratch and a reducer (NULL: one slice) of at least B·Z values.
 * Every slice of the step calls it (n may be 0). Returns the batch's MMD. */
double vk_mmd_imq(const float *q, int ldz, int n, int row0, int B, int Z, const float *prior,
		  float weight, float *dq, vk_reducer *red, int slice, double *scratch);
size_t vk_mmd_scratch(int B, int Z);

/* β-TCVAE's decomposition of the KL term (Chen et al. 2018) over a batch of B
 * records of a data set of N, from each record's code z_i ~ q(z|x_i) and
 * every record's diagonal Gaussian posterior q(z|x_j) = N(μ_j, σ²_j), with
 * the minibatch-weighted sampling estimator (their §4, not stratified):
 *   log q(z_i) ≈ log Σ_j q(z_i|x_j) − log(NB), log q(z_id) likewise per d;
 *   MI = log q(z_i|x_i) − log q(z_i), TC = log q(z_i) − Σ_d log q(z_id),
 *   dimension-wise KL = Σ_d log q(z_id) − log p(z_i), p = N(0, I),
 * each the batch's mean; terms (3) gets the three (the same in every slice).
 * This slice holds rows [row0, row0 + n): z (n, ldz) and head (n, 2Z) = μ |
 * log σ² (the Gaussian latent's head). When grad is set, adds to dz (n, ldz)
 * the gradient w.r.t. z of scale·Σ_i (w[0]·MI_i + w[1]·TC_i + w[2]·KL_i) over
 * the whole batch's rows, and writes its gradient w.r.t. the head itself to
 * dhead (n, 2Z). Needs vk_tc_scratch(B, Z) doubles of scratch and a reducer
 * (NULL: one slice) of at least 3·B·Z values. Every slice of the step calls
 * it, all with grad set or all without (n may be 0). */
void vk_tc_mws(const float *z, int ldz, const float *head, int n, int row0, int B, int Z,
	       double N, const float w[3], float scale, int grad, float *dz, float *dhead,
	       vk_reducer *red, int slice, double *scratch, double terms[3]);
size_t vk_tc_scratch(int B, int Z);

#endif
