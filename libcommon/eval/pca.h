/* Principal components of a set of points, through LAPACK's symmetric
 * eigensolver (dsyev, from OpenBLAS) on their covariance matrix. */
#ifndef VK_PCA_H
#define VK_PCA_H

#include <stddef.h>
#include "err.h"

/* The k leading principal axes of n points of d values (row-major, n >= 1):
 * axes (k rows of d, unit length, largest variance first, each signed so its
 * largest component is positive), the mean (d) and the variances along them
 * (k; may be NULL). 1 <= k <= d <= 4096. */
int vk_pca(const float *x, size_t n, int d, int k, double *axes, double *mean, double *var,
	   vk_error *e);
/* Project the n points onto the axes: out (n rows of k) = (x - mean) . axes^T. */
void vk_pca_project(const float *x, size_t n, int d, int k, const double *axes,
		    const double *mean, float *out);

#endif
