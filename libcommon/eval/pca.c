#include "pca.h"

#include <math.h>
#include <stdlib.h>

/* LAPACK's Fortran entry point: OpenBLAS exports it, and Debian ships no
 * lapacke.h next to it, so it is declared here. */
extern void dsyev_(const char *jobz, const char *uplo, const int *n, double *a,
		   const int *lda, double *w, double *work, const int *lwork, int *info);

#define PCA_MAX_DIMS 4096

/* The covariance matrix (d x d, both triangles) and the mean. */
static void covariance(const float *x, size_t n, int d, double *mean, double *cov)
{
	for (int j = 0; j < d; j++)
		mean[j] = 0;
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < d; j++)
			mean[j] += x[i * d + j];
	for (int j = 0; j < d; j++)
		mean[j] /= (double)n;
	for (size_t k = 0; k < (size_t)d * d; k++)
		cov[k] = 0;
	for (size_t i = 0; i < n; i++)
		for (int a = 0; a < d; a++) {
			double da = x[i * d + a] - mean[a];
			for (int b = 0; b <= a; b++)
				cov[(size_t)a * d + b] += da * (x[i * d + b] - mean[b]);
		}
	for (int a = 0; a < d; a++)
		for (int b = 0; b <= a; b++) {
			double v = cov[(size_t)a * d + b] / (double)(n > 1 ? n - 1 : 1);
			cov[(size_t)a * d + b] = cov[(size_t)b * d + a] = v;
		}
}

/* The eigenvalues come in ascending order, eigenvector j in column j
 * (row j of the row-major array, the matrix being symmetric): take them
 * from the top, signed so the largest component is positive, for pictures
 * that do not flip between runs. */
static void take_axes(const double *vec, const double *val, int d, int k, double *axes,
		      double *var)
{
	for (int i = 0; i < k; i++) {
		const double *v = vec + (size_t)(d - 1 - i) * d;
		int big = 0;
		for (int j = 1; j < d; j++)
			if (fabs(v[j]) > fabs(v[big]))
				big = j;
		double sign = v[big] < 0 ? -1 : 1;
		for (int j = 0; j < d; j++)
			axes[(size_t)i * d + j] = sign * v[j];
		if (var)
			var[i] = val[d - 1 - i] > 0 ? val[d - 1 - i] : 0;
	}
}

int vk_pca(const float *x, size_t n, int d, int k, double *axes, double *mean, double *var,
	   vk_error *e)
{
	if (n < 1 || d < 1 || d > PCA_MAX_DIMS || k < 1 || k > d)
		return vk_fail(e, "principal components: %d of %zu points of %d values is not "
			       "possible", k, n, d);
	double *cov = malloc(sizeof(double) * d * d), *val = malloc(sizeof(double) * d);
	double query;
	int info, lwork = -1;
	if (!cov || !val) {
		free(cov);
		free(val);
		return vk_fail(e, "out of memory for a %dx%d covariance matrix", d, d);
	}
	covariance(x, n, d, mean, cov);
	dsyev_("V", "U", &d, cov, &d, val, &query, &lwork, &info);
	lwork = info == 0 ? (int)query : 3 * d;
	double *work = malloc(sizeof(double) * (size_t)lwork);
	if (work)
		dsyev_("V", "U", &d, cov, &d, val, work, &lwork, &info);
	if (work && info == 0)
		take_axes(cov, val, d, k, axes, var);
	free(work);
	free(cov);
	free(val);
	if (!work)
		return vk_fail(e, "out of memory for the eigensolver's workspace");
	if (info != 0)
		return vk_fail(e, "principal components: LAPACK dsyev failed (info %d)", info);
	return 0;
}

void vk_pca_project(const float *x, size_t n, int d, int k, const double *axes,
		    const double *mean, float *out)
{
	for (size_t i = 0; i < n; i++)
		for (int a = 0; a < k; a++) {
			double s = 0;
			for (int j = 0; j < d; j++)
				s += (x[i * d + j] - mean[j]) * axes[(size_t)a * d + j];
			out[i * k + a] = (float)s;
		}
}
