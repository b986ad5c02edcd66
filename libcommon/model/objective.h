/* Training objectives as kinds (issue 23, begun): the ELBO, and the
 * regularisers that look at the whole minibatch. Each objective is a file
 * (obj_elbo.c, obj_mmd.c: wae-mmd and infovae) listed in objective.c; the
 * batch-wide terms are written once over vk_reduce, so a batch cut into
 * threads' slices and ranks' shares gives the whole batch's term.
 *
 * Not yet wired into the trainer or vae-train (--objective), nor saved in the
 * model file: see the branch's report. */
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
} vk_objective_kind;

extern const vk_objective_kind vk_objective_elbo, vk_objective_wae_mmd, vk_objective_infovae;

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

#endif
