/* Scoring latent vectors under a fitted Gaussian mixture (gmm.h): the
 * Mahalanobis distance of a code to the nearest component and its negative
 * log-density under the mixture. With the mixture fitted to the training
 * set's posterior means (the aggregate posterior, latent-gmm), a code far
 * from where the training codes lie marks an unusual record (Lee et al.
 * 2018 use the same distance on a classifier's features). */
#ifndef VK_GMMSCORE_H
#define VK_GMMSCORE_H

#include "err.h"
#include "gmm.h"

/* For one vector x (g->z): *maha the smallest Mahalanobis distance
 * sqrt((x − μ_k)ᵀ Σ_k⁻¹ (x − μ_k)) over the components, *nll = −log Σ_k w_k
 * N(x; μ_k, Σ_k). */
void vk_gmm_score(const vk_gmm *g, const double *x, double *maha, double *nll);

#endif
