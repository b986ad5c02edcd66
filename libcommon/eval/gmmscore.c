/* Mahalanobis distance and density of latent vectors under a mixture (gmmscore.h). */
#include "gmmscore.h"

#include <math.h>

void vk_gmm_score(const vk_gmm *g, const double *x, double *maha, double *nll)
{
	int Z = g->z;
	double best = INFINITY, lmax = -INFINITY, lw[VK_GMM_MAX_K];
	double y[VK_GMM_MAX_Z];
	for (int k = 0; k < g->k; k++) {
		const double *mu = g->mu + (size_t)k * Z;
		double d2 = 0, logdet = 0;
		if (g->cov == VK_GMM_FULL) {
			/* Σ = L Lᵀ: solve L y = x − μ, then d² = |y|² */
			const double *L = g->chol + (size_t)k * Z * Z;
			for (int i = 0; i < Z; i++) {
				double s = x[i] - mu[i];
				for (int j = 0; j < i; j++)
					s -= L[(size_t)i * Z + j] * y[j];
				y[i] = s / L[(size_t)i * Z + i];
				d2 += y[i] * y[i];
				logdet += log(L[(size_t)i * Z + i]);
			}
		} else {
			const double *sd = g->chol + (size_t)k * Z;
			for (int i = 0; i < Z; i++) {
				double t = (x[i] - mu[i]) / sd[i];
				d2 += t * t;
				logdet += log(sd[i]);
			}
		}
		if (d2 < best)
			best = d2;
		lw[k] = log(g->w[k]) - 0.5 * d2 - logdet - 0.5 * Z * log(2 * M_PI);
		if (lw[k] > lmax)
			lmax = lw[k];
	}
	double s = 0;
	for (int k = 0; k < g->k; k++)
		s += exp(lw[k] - lmax);
	*maha = sqrt(best);
	*nll = -(lmax + log(s));
}
