/* Mahalanobis distance and density of latent vectors under a mixture (gmmscore.h). */
#include "gmmscore.h"

#include <math.h>
#include <string.h>

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

int vk_latent_width(const ts_header *h, const char *name, size_t *stride, vk_error *e)
{
	char kind[64], shape[64];
	int logvar = 0;
	if (ts_meta_get(h, "kind", kind, sizeof kind)) {
		logvar = !strcmp(kind, "latent+logvar");
		if (!logvar && strcmp(kind, "latent"))
			return vk_fail(e, "%s: kind=%s is not a stream of latent vectors; encode it "
				       "first with vae-encode -m MODEL", name, kind);
	}
	size_t n = ts_elems(h);
	if (h->rank != 1 || h->dtype == TS_U8)
		return vk_fail(e, "%s: records of shape %s (%s) are not latent vectors (rank 1, "
			       "f32 or f64)", name, ts_shape_str(h, shape, sizeof shape),
			       ts_dtype_name(h->dtype));
	if (logvar && n % 2)
		return vk_fail(e, "%s: a latent+logvar record has an even number of values, not "
			       "%zu", name, n);
	size_t z = logvar ? n / 2 : n;
	if (z > VK_GMM_MAX_Z)
		return vk_fail(e, "%s: latent vectors of %zu values (at most %d)", name, z,
			       VK_GMM_MAX_Z);
	*stride = n;
	return (int)z;
}
