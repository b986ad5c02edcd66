/* Gaussian mixtures over the latent space: an ex-post prior.
 *
 * vk_gmm_fit fits K components to n latent vectors by EM (full or diagonal
 * covariance), from a k-means++ start drawn from a seeded generator, and
 * vk_gmm_sample draws from the result. Knows nothing of files: the prior
 * file that saves and loads a mixture is prior.h's. */
#ifndef VK_GMM_H
#define VK_GMM_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "rng.h"

enum { VK_GMM_FULL = 1, VK_GMM_DIAG = 2 };
#define VK_GMM_MAX_K 1024
#define VK_GMM_MAX_Z 4096
/* The largest prior file read or written (bytes). */
#define VK_GMM_MAX_FILE (1ull << 30)

typedef struct {
	int k, z, cov;      /* components K, dimensions Z, VK_GMM_FULL or VK_GMM_DIAG */
	double *w;          /* (K) weights, positive, summing to 1 */
	double *mu;         /* (K, Z) means */
	/* full: (K, Z, Z) lower-triangular Cholesky factors L, Σ = L Lᵀ, row-major,
	 * strict upper triangle zero; diag: (K, Z) standard deviations. */
	double *chol;
	/* What the fit did (kept in the file, for the record). */
	uint64_t n;         /* vectors fitted */
	double loglik;      /* their mean log-likelihood under the mixture, nats */
	uint32_t iters;     /* EM iterations run */
	int converged;      /* 1 when the change fell below the tolerance */
	uint64_t seed;      /* of the k-means++ start */
	double ridge;       /* added to every covariance's diagonal */
	uint64_t model_id;  /* the identity of the model whose codes were fitted
			     * (vk_model_identity); 0: not recorded */
} vk_gmm;

typedef struct {
	int k, cov;
	int max_iter;       /* EM iterations at most (≥ 1) */
	double tol;         /* stop when the mean log-likelihood changes by less */
	uint64_t seed;
	/* The ridge added to each covariance's diagonal, as a fraction of the
	 * data's mean per-dimension variance (1e-6 when ≤ 0). */
	double ridge;
} vk_gmm_opts;

/* Defaults: K 10, full covariance, 500 iterations, tol 1e-5, seed 1. */
void vk_gmm_opts_default(vk_gmm_opts *o);
const char *vk_gmm_cov_name(int cov);
int vk_gmm_cov_parse(const char *name); /* 0 when unknown */

/* Allocate g's arrays for k components over z dimensions (zeroed). */
int vk_gmm_alloc(vk_gmm *g, int k, int z, int cov, vk_error *e);
void vk_gmm_free(vk_gmm *g);

/* Fit to x (n, z), n ≥ k. g is allocated here (free it with vk_gmm_free).
 * progress, when not NULL, is called after every E-step with the iteration
 * (1-based) and the mean log-likelihood of the parameters of that step. */
int vk_gmm_fit(vk_gmm *g, const float *x, size_t n, int z, const vk_gmm_opts *o,
	       void (*progress)(int iter, double loglik, void *arg), void *arg, vk_error *e);

/* The mean log-likelihood per vector of x (n, g->z) under g. */
int vk_gmm_loglik(const vk_gmm *g, const float *x, size_t n, double *mean, vk_error *e);

/* One draw: a component picked by weight, then z = μ + T·L·ε, ε ~ N(0, I).
 * T scales every component's standard deviation (0 gives its mean). */
void vk_gmm_sample(const vk_gmm *g, vk_rng *rng, float temperature, float *z);

#endif
