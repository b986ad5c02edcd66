#include "gmm.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK's Cholesky factorisation (Fortran entry point, as in pca.c). */
extern void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);

#define LOG_2PI 1.8378770664093454836
#define BLOCK 4096          /* rows of the E-step's workspace */
#define LLOYD_ITERS 10      /* k-means steps after the k-means++ seeding */
#define RIDGE_RETRIES 6     /* a factorisation that fails retries with 10× the ridge */

void vk_gmm_opts_default(vk_gmm_opts *o)
{
	*o = (vk_gmm_opts){.k = 10, .cov = VK_GMM_FULL, .max_iter = 500, .tol = 1e-5, .seed = 1,
			   .ridge = 1e-6};
}

const char *vk_gmm_cov_name(int cov)
{
	return cov == VK_GMM_FULL ? "full" : cov == VK_GMM_DIAG ? "diag" : "?";
}

int vk_gmm_cov_parse(const char *name)
{
	return !strcmp(name, "full") ? VK_GMM_FULL : !strcmp(name, "diag") ? VK_GMM_DIAG : 0;
}

/* Values of one component's covariance factor: Z×Z (full) or Z (diag). */
static size_t chol_size(int z, int cov)
{
	return cov == VK_GMM_FULL ? (size_t)z * z : (size_t)z;
}

int vk_gmm_alloc(vk_gmm *g, int k, int z, int cov, vk_error *e)
{
	memset(g, 0, sizeof *g);
	if (cov != VK_GMM_FULL && cov != VK_GMM_DIAG)
		return vk_fail(e, "covariance type %d is not full (%d) or diagonal (%d)", cov,
			       VK_GMM_FULL, VK_GMM_DIAG);
	if (k < 1 || k > VK_GMM_MAX_K || z < 1 || z > VK_GMM_MAX_Z)
		return vk_fail(e, "a mixture of %d components over %d dimensions is not possible "
			       "(1 to %d components, 1 to %d dimensions)", k, z, VK_GMM_MAX_K,
			       VK_GMM_MAX_Z);
	g->k = k;
	g->z = z;
	g->cov = cov;
	g->w = calloc((size_t)k, sizeof(double));
	g->mu = calloc((size_t)k * z, sizeof(double));
	g->chol = calloc((size_t)k * chol_size(z, cov), sizeof(double));
	if (!g->w || !g->mu || !g->chol) {
		vk_gmm_free(g);
		return vk_fail(e, "out of memory for a mixture of %d components over %d dimensions",
			       k, z);
	}
	return 0;
}

void vk_gmm_free(vk_gmm *g)
{
	free(g->w);
	free(g->mu);
	free(g->chol);
	g->w = g->mu = g->chol = NULL;
}

/* A uniform double in [0, 1) with 53 random bits. */
static double uniform53(vk_rng *r)
{
	return (double)(vk_rng_next(r) >> 11) * 0x1.0p-53;
}

static double dist2(const double *a, const double *b, int z)
{
	double s = 0;
	for (int j = 0; j < z; j++)
		s += (a[j] - b[j]) * (a[j] - b[j]);
	return s;
}

/* k-means++ seeding (Arthur & Vassilvitskii 2007): the first centre uniform,
 * each next one a data point drawn with probability ∝ its squared distance to
 * the nearest centre so far; then a few Lloyd steps. assign (n) gets each
 * vector's nearest centre. */
static void kmeans_init(const double *x, size_t n, int z, int k, vk_rng *rng, double *c,
			double *d2, int *assign)
{
	size_t first = vk_rng_below(rng, n);
	memcpy(c, x + first * z, sizeof(double) * z);
	for (size_t i = 0; i < n; i++)
		d2[i] = dist2(x + i * z, c, z);
	for (int m = 1; m < k; m++) {
		double total = 0;
		for (size_t i = 0; i < n; i++)
			total += d2[i];
		size_t pick = n - 1;
		if (total > 0) {
			double u = uniform53(rng) * total, acc = 0;
			for (size_t i = 0; i < n; i++)
				if ((acc += d2[i]) > u) {
					pick = i;
					break;
				}
		} else {
			pick = vk_rng_below(rng, n);
		}
		double *cm = c + (size_t)m * z;
		memcpy(cm, x + pick * z, sizeof(double) * z);
		for (size_t i = 0; i < n; i++) {
			double d = dist2(x + i * z, cm, z);
			if (d < d2[i])
				d2[i] = d;
		}
	}
	double *sum = calloc((size_t)k * z + k, sizeof(double));
	double *cnt = sum ? sum + (size_t)k * z : NULL;
	for (int it = 0; it <= LLOYD_ITERS; it++) {
		int changed = 0;
		for (size_t i = 0; i < n; i++) {
			int best = 0;
			double bd = dist2(x + i * z, c, z);
			for (int m = 1; m < k; m++) {
				double d = dist2(x + i * z, c + (size_t)m * z, z);
				if (d < bd) {
					bd = d;
					best = m;
				}
			}
			if (it == 0 || assign[i] != best)
				changed = 1;
			assign[i] = best;
		}
		if (!changed || it == LLOYD_ITERS || !sum)
			break;
		memset(sum, 0, sizeof(double) * ((size_t)k * z + k));
		for (size_t i = 0; i < n; i++) {
			cnt[assign[i]] += 1;
			for (int j = 0; j < z; j++)
				sum[(size_t)assign[i] * z + j] += x[i * z + j];
		}
		for (int m = 0; m < k; m++)
			if (cnt[m] > 0) /* an emptied centre stays where it was */
				for (int j = 0; j < z; j++)
					c[(size_t)m * z + j] = sum[(size_t)m * z + j] / cnt[m];
	}
	free(sum);
}

/* log w_k − ½ Z log 2π − log det L_k for every component. */
static void log_consts(const vk_gmm *g, double *lc)
{
	int z = g->z;
	for (int k = 0; k < g->k; k++) {
		const double *l = g->chol + (size_t)k * chol_size(z, g->cov);
		double logdet = 0;
		for (int j = 0; j < z; j++)
			logdet += log(g->cov == VK_GMM_FULL ? l[(size_t)j * z + j] : l[j]);
		lc[k] = log(g->w[k]) - 0.5 * z * LOG_2PI - logdet;
	}
}

/* E-step: r (n, K) gets the responsibilities of x (n, Z); returns the mean
 * log-likelihood per vector (log-sum-exp over the components, in double).
 * d is a (BLOCK, Z) workspace, lc (K). */
static double estep(const vk_gmm *g, const double *x, size_t n, double *r, double *d,
		    double *lc)
{
	int z = g->z, K = g->k;
	double total = 0;
	log_consts(g, lc);
	for (size_t b0 = 0; b0 < n; b0 += BLOCK) {
		size_t rows = n - b0 < BLOCK ? n - b0 : BLOCK;
		const double *xb = x + b0 * z;
		double *rb = r + b0 * K;
		for (int k = 0; k < K; k++) {
			const double *mu = g->mu + (size_t)k * z;
			const double *l = g->chol + (size_t)k * chol_size(z, g->cov);
			for (size_t i = 0; i < rows; i++)
				for (int j = 0; j < z; j++)
					d[i * z + j] = xb[i * z + j] - mu[j];
			/* Full: rows of D L⁻ᵀ are L⁻¹(x − μ), the whitened residuals. */
			if (g->cov == VK_GMM_FULL)
				cblas_dtrsm(CblasRowMajor, CblasRight, CblasLower, CblasTrans,
					    CblasNonUnit, (int)rows, z, 1.0, l, z, d, z);
			for (size_t i = 0; i < rows; i++) {
				double q = 0;
				for (int j = 0; j < z; j++) {
					double v = g->cov == VK_GMM_FULL ? d[i * z + j]
									 : d[i * z + j] / l[j];
					q += v * v;
				}
				rb[i * K + k] = lc[k] - 0.5 * q;
			}
		}
		for (size_t i = 0; i < rows; i++) {
			double *ri = rb + i * K, m = ri[0], s = 0;
			for (int k = 1; k < K; k++)
				if (ri[k] > m)
					m = ri[k];
			for (int k = 0; k < K; k++)
				s += exp(ri[k] - m);
			double lse = m + log(s);
			for (int k = 0; k < K; k++)
				ri[k] = exp(ri[k] - lse);
			total += lse;
		}
	}
	return total / (double)n;
}

/* Cholesky factor of the symmetric s (Z×Z, row-major lower triangle filled)
 * into l, with ridge on the diagonal; a failure retries with a larger ridge.
 * Row-major lower is Fortran's upper: dpotrf("U") leaves Uᵀ = L there. */
static int cholesky(const double *s, int z, double ridge, double *l)
{
	for (int t = 0; t <= RIDGE_RETRIES; t++, ridge *= 10) {
		int info;
		for (int a = 0; a < z; a++)
			for (int b = 0; b < z; b++)
				l[(size_t)a * z + b] = b <= a ? s[(size_t)a * z + b] : 0;
		for (int a = 0; a < z; a++)
			l[(size_t)a * z + a] += ridge;
		dpotrf_("U", &z, l, &z, &info);
		if (info == 0)
			return 0;
	}
	return -1;
}

/* M-step from the responsibilities r (n, K): weights, means through one GEMM
 * (Rᵀ X), covariances through SYRK on √r-weighted residuals. d (BLOCK, Z) and
 * s (Z, Z) are workspaces, nk (K). */
static int mstep(vk_gmm *g, const double *x, size_t n, const double *r, double ridge,
		 double *d, double *s, double *nk, vk_error *e)
{
	int z = g->z, K = g->k;
	for (int k = 0; k < K; k++)
		nk[k] = 10 * DBL_EPSILON; /* an empty component keeps a tiny weight */
	for (size_t i = 0; i < n; i++)
		for (int k = 0; k < K; k++)
			nk[k] += r[i * K + k];
	double total = 0;
	for (int k = 0; k < K; k++)
		total += nk[k];
	for (int k = 0; k < K; k++)
		g->w[k] = nk[k] / total;
	cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, z, (int)n, 1.0, r, K, x, z, 0.0,
		    g->mu, z);
	for (int k = 0; k < K; k++)
		for (int j = 0; j < z; j++)
			g->mu[(size_t)k * z + j] /= nk[k];
	for (int k = 0; k < K; k++) {
		const double *mu = g->mu + (size_t)k * z;
		if (g->cov == VK_GMM_DIAG) {
			double *sd = g->chol + (size_t)k * z;
			for (int j = 0; j < z; j++)
				s[j] = 0;
			for (size_t i = 0; i < n; i++)
				for (int j = 0; j < z; j++) {
					double v = x[i * z + j] - mu[j];
					s[j] += r[i * K + k] * v * v;
				}
			for (int j = 0; j < z; j++)
				sd[j] = sqrt(s[j] / nk[k] + ridge);
			continue;
		}
		for (size_t b0 = 0; b0 < n; b0 += BLOCK) {
			size_t rows = n - b0 < BLOCK ? n - b0 : BLOCK;
			for (size_t i = 0; i < rows; i++) {
				double sq = sqrt(r[(b0 + i) * K + k]);
				for (int j = 0; j < z; j++)
					d[i * z + j] = sq * (x[(b0 + i) * z + j] - mu[j]);
			}
			cblas_dsyrk(CblasRowMajor, CblasLower, CblasTrans, z, (int)rows, 1.0, d, z,
				    b0 ? 1.0 : 0.0, s, z);
		}
		for (int a = 0; a < z; a++)
			for (int b = 0; b <= a; b++)
				s[(size_t)a * z + b] /= nk[k];
		if (cholesky(s, z, ridge, g->chol + (size_t)k * z * z))
			return vk_fail(e, "component %d's covariance is not positive definite even "
				       "with a ridge of %g on its diagonal", k + 1,
				       ridge * pow(10, RIDGE_RETRIES));
	}
	return 0;
}

static double *to_double(const float *x, size_t n, int z)
{
	double *xd = malloc(sizeof(double) * n * z);
	if (xd)
		for (size_t i = 0; i < n * (size_t)z; i++)
			xd[i] = x[i];
	return xd;
}

int vk_gmm_fit(vk_gmm *g, const float *x, size_t n, int z, const vk_gmm_opts *o,
	       void (*progress)(int iter, double loglik, void *arg), void *arg, vk_error *e)
{
	memset(g, 0, sizeof *g);
	if (o->k < 1 || (size_t)o->k > n)
		return vk_fail(e, "%d components need at least %d vectors; there %s %zu", o->k,
			       o->k, n == 1 ? "is" : "are", n);
	if (o->max_iter < 1 || !(o->tol >= 0))
		return vk_fail(e, "bad EM settings: %d iterations, tolerance %g", o->max_iter,
			       o->tol);
	if (vk_gmm_alloc(g, o->k, z, o->cov, e))
		return -1;
	int K = o->k, rc = -1;
	double *xd = to_double(x, n, z);
	double *r = calloc(n * K, sizeof(double));
	double *d = malloc(sizeof(double) * (n < BLOCK ? n : BLOCK) * z);
	double *s = malloc(sizeof(double) * ((size_t)z * z + 3 * (size_t)K + n));
	int *assign = malloc(sizeof(int) * n);
	if (!xd || !r || !d || !s || !assign) {
		vk_fail(e, "out of memory fitting %d components to %zu vectors of %d", K, n, z);
		goto out;
	}
	double *nk = s + (size_t)z * z, *lc = nk + K, *d2 = lc + K;
	/* The ridge: a fraction of the mean per-dimension variance. */
	double var = 0;
	for (int j = 0; j < z; j++) {
		double m = 0, v = 0;
		for (size_t i = 0; i < n; i++)
			m += xd[i * z + j];
		m /= (double)n;
		for (size_t i = 0; i < n; i++)
			v += (xd[i * z + j] - m) * (xd[i * z + j] - m);
		var += v / (double)n;
	}
	var /= z;
	g->ridge = (o->ridge > 0 ? o->ridge : 1e-6) * (var > 0 ? var : 1.0);
	g->seed = o->seed;
	g->n = n;
	vk_rng rng;
	vk_rng_seed(&rng, o->seed);
	kmeans_init(xd, n, z, K, &rng, g->mu, d2, assign);
	for (size_t i = 0; i < n; i++)
		r[i * K + assign[i]] = 1;
	if (mstep(g, xd, n, r, g->ridge, d, s, nk, e))
		goto out;
	double prev = 0;
	for (int it = 1;; it++) {
		double ll = estep(g, xd, n, r, d, lc);
		if (!isfinite(ll)) {
			vk_fail(e, "EM diverged at iteration %d (mean log-likelihood %g)", it, ll);
			goto out;
		}
		if (progress)
			progress(it, ll, arg);
		g->loglik = ll;
		g->iters = (uint32_t)it;
		if (it > 1 && fabs(ll - prev) < o->tol) {
			g->converged = 1;
			break;
		}
		if (it == o->max_iter)
			break;
		if (mstep(g, xd, n, r, g->ridge, d, s, nk, e))
			goto out;
		prev = ll;
	}
	rc = 0;
out:
	free(xd);
	free(r);
	free(d);
	free(s);
	free(assign);
	if (rc)
		vk_gmm_free(g);
	return rc;
}

int vk_gmm_loglik(const vk_gmm *g, const float *x, size_t n, double *mean, vk_error *e)
{
	if (n == 0)
		return vk_fail(e, "no vectors to measure");
	double *xd = to_double(x, n, g->z), *r = malloc(sizeof(double) * n * g->k);
	double *d = malloc(sizeof(double) * (n < BLOCK ? n : BLOCK) * g->z);
	double *lc = malloc(sizeof(double) * g->k);
	int rc = 0;
	if (!xd || !r || !d || !lc)
		rc = vk_fail(e, "out of memory measuring %zu vectors", n);
	else
		*mean = estep(g, xd, n, r, d, lc);
	free(xd);
	free(r);
	free(d);
	free(lc);
	return rc;
}

void vk_gmm_sample(const vk_gmm *g, vk_rng *rng, float temperature, float *z)
{
	int Z = g->z, k = g->k - 1;
	double u = uniform53(rng), acc = 0;
	for (int c = 0; c < g->k; c++)
		if ((acc += g->w[c]) > u) {
			k = c;
			break;
		}
	const double *mu = g->mu + (size_t)k * Z;
	const double *l = g->chol + (size_t)k * chol_size(Z, g->cov);
	vk_rng_normals(rng, z, (size_t)Z);
	/* z = μ + T·L·ε in place: row i of L uses ε_0..ε_i, so go bottom up. */
	for (int i = Z - 1; i >= 0; i--) {
		double s = 0;
		if (g->cov == VK_GMM_FULL)
			for (int j = 0; j <= i; j++)
				s += l[(size_t)i * Z + j] * z[j];
		else
			s = l[i] * z[i];
		z[i] = (float)(mu[i] + temperature * s);
	}
}
