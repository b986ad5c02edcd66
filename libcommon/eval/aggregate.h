/* A model's codes over a data set judged as a whole, in batches: the MMD of
 * the codes to the prior (the inverse multiquadratic kernel of the wae-mmd
 * objective) and β-TCVAE's index-code MI, total correlation and
 * dimension-wise KL estimates (minibatch-weighted sampling), as the
 * objectives of objective.h compute them in training (kl-eval --aggregate).
 * Batch estimates: their means depend on how the records fall into batches. */
#ifndef VK_AGGREGATE_H
#define VK_AGGREGATE_H

#include <stdint.h>
#include "err.h"
#include "rng.h"

typedef struct {
	int Z, batch, posterior;  /* posterior: heads are μ | log σ² (else the code itself) */
	int fill;                 /* records in the current batch */
	float *z, *head, *prior;  /* (batch, Z), (batch, 2Z), (batch, Z) */
	double *mmd_scratch, *tc_scratch;
	vk_rng rng;               /* the prior draws */
	double sum[4], rows;      /* Σ records·estimate over the batches done: MMD, MI, TC, dim-KL */
	uint64_t batches;
} vk_aggregate;

/* Batches of `batch` (at least 2) records with Z latent dimensions; posterior
 * when the heads are a Gaussian posterior's (a VAE's), else only the MMD is
 * measured; prior draws from a generator seeded with seed. */
int vk_aggregate_init(vk_aggregate *a, int Z, int batch, int posterior, uint64_t seed,
		      vk_error *e);
/* One record's code z (Z) and head (2Z with a posterior). */
void vk_aggregate_add(vk_aggregate *a, const float *z, const float *head);
/* Measure the last, partial batch (one record alone is left out: no pair to
 * compare) and write the means over the records measured to out: MMD, and
 * with a posterior MI, TC and dim-KL for a data set of n records (else NaN). */
void vk_aggregate_finish(vk_aggregate *a, uint64_t n, double out[4]);
void vk_aggregate_free(vk_aggregate *a);

#endif
