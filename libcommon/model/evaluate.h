/* Measuring a model: the ELBO's terms, the importance-weighted estimate of
 * log p(x) (Burda et al. 2015), per-dimension KL and active units, and
 * summaries that add up exactly across shards.
 *
 * Noise is drawn per record from a generator seeded with the run's seed and
 * the record's contents (vk_record_seed), so a record gets the same z whatever
 * its place in the stream, its batch, or the shard it was sent to; and
 * several models evaluated together see the same ε for the same record. */
#ifndef VK_EVALUATE_H
#define VK_EVALUATE_H

#include <stdint.h>
#include "dataset.h"
#include "model.h"

/* log Σ exp(v[i]) without overflow or underflow; −∞ for n = 0. */
double vk_logsumexp(const double *v, int n);

/* A running log-sum-exp: add values one at a time, read the total. */
typedef struct {
	double max, sum;  /* total = max + log(sum); sum is Σ exp(v − max) */
} vk_lse;
void vk_lse_init(vk_lse *l);
void vk_lse_add(vk_lse *l, double v);
double vk_lse_value(const vk_lse *l);

/* The seed of one record's noise: seed mixed with its values and label. */
uint64_t vk_record_seed(uint64_t seed, const float *x, int D, int32_t label);

/* Per-record ELBO terms for a batch x (n, D), n ≤ w->cap, labels for a CVAE
 * (checked by the caller) else NULL. rec[r] = −log p(x|z) with one z per
 * record (z = μ + σ·ε, ε from the record's generator; z is the code for an
 * AE), kl[r] = KL(q(z|x) ‖ N(0, I)) in closed form (0 for an AE). The encoder
 * head stays in w->act_enc[m->n_enc − 1] for vk_iw_logpx and the statistics. */
void vk_eval_batch(vk_model *m, vk_work *w, const float *x, const int32_t *labels, int n,
		   uint64_t seed, float *rec, float *kl);

/* Records (or importance samples) evaluated at a time by vae-train --test and
 * kl-eval. Changing it may change vae-train's test figures in the last digits
 * (BLAS rounds a row according to the size of its batch). */
#define VK_EVAL_BATCH 512

/* Mean reconstruction and KL per record over d by vk_eval_batch (the one
 * evaluation path: vae-train --test and kl-eval agree for the same seed). */
int vk_evaluate(vk_model *m, vk_work *w, const vk_dataset *d, uint64_t seed, double *rec,
		double *kl, vk_error *e);

/* The importance-weighted estimate of log p(x) for one record x (D), label
 * for a CVAE, from its encoder head (2Z: μ | log σ²):
 *   log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x),  z_k = μ + σ·ε_k,
 * with ε_k from the record's generator (so ε_1 is the ε of vk_eval_batch),
 * decoded in batches of up to w->cap samples, summed in double with a
 * log-sum-exp. The head must not live in w's decoder buffers (the encoder
 * head does not). A (C)VAE only. */
double vk_iw_logpx(vk_model *m, vk_work *w, const float *x, int32_t label, const float *head,
		   int K, uint64_t seed);

/* Sums kept exactly: each value is rounded to a multiple of VK_FIX_UNIT
 * (about 1e-6 nats) and added as a 64-bit integer, so sums do not depend on
 * the order of the records and shards add up to the very same totals. A
 * summary is written with these integers, so it reads back exactly. */
#define VK_FIX_BITS 20
#define VK_FIX_UNIT (1.0 / (1 << VK_FIX_BITS))

typedef struct {
	int Z;               /* latent dimensions tracked per dimension (0: none) */
	int has_kl;          /* a (C)VAE or a latent+logvar stream: KL per dimension */
	int has_rec;         /* a model: reconstruction and −ELBO */
	int iw;              /* K of the importance-weighted estimate, 0 for none */
	int bad;             /* a value was not finite or a sum left the exact range */
	uint64_t n;          /* records */
	int64_t rec, kl, nelbo2, lp, lp2;   /* Σ rec, Σ kl, Σ (rec+kl)², Σ log p̂, Σ log p̂² */
	int64_t *kl_dim, *mu, *mu2;         /* (Z): Σ KL_j, Σ μ_j, Σ μ_j² */
	int codes;           /* a discrete latent's codebook size K (0: none) */
	uint64_t *code_n;    /* (codes): the positions each code holds */
} vk_evalsum;

int vk_evalsum_init(vk_evalsum *s, int Z, int has_kl, int has_rec, int iw, vk_error *e);
void vk_evalsum_free(vk_evalsum *s);
/* Add one record: rec and kl (ignored when absent), lp when s->iw, and its
 * code or head (μ | log σ² when has_kl, else the Z values of an AE code). */
void vk_evalsum_add(vk_evalsum *s, double rec, double kl, double lp, const float *head);
/* Add b's sums into a (same shape, checked by the caller; b's code counts
 * allocated in a if it has none). */
void vk_evalsum_merge(vk_evalsum *a, const vk_evalsum *b);
/* Count the codes of a discrete latent, K of them (s->code_n allocated). */
int vk_evalsum_codes(vk_evalsum *s, int K, vk_error *e);

/* Fixed-point helpers, exposed for reading summaries back. */
int vk_fix_add(int64_t *acc, double v);   /* −1 when v or the sum is out of range */
double vk_fix_value(int64_t q);           /* units to a double */

/* Figures from the sums. */
double vk_sum_mean(int64_t q, uint64_t n);
/* Standard error of the mean from Σv and Σv² (NaN below 2 records). */
double vk_sum_se(int64_t s1, int64_t s2, uint64_t n);
/* Variance over the records of μ_j (population variance, Burda et al.'s
 * Cov_x E_q[z_j|x]). */
double vk_evalsum_mu_var(const vk_evalsum *s, int j);
/* Dimensions whose μ_j varies more than threshold (0.01 by convention). */
int vk_evalsum_active(const vk_evalsum *s, double threshold);
#define VK_ACTIVE_THRESHOLD 0.01

/* KL(N(μ, σ²) ‖ N(0, I)) of a Gaussian head (2Z: μ | log σ²): the sum of
 * the Gaussian latent kind's per-dimension KL (a stream of vae-encode
 * --with-logvar's records). */
double vk_kl_head(const float *head, int Z);

#endif
