/* Linear and nearest-neighbour probes: how much of the labels a set of
 * features (a VAE's codes, or principal components of the pixels) makes
 * plain. Multinomial logistic regression with an L2 penalty, fitted by
 * L-BFGS (Nocedal 1980; memory 10, Armijo backtracking) on standardised
 * features; and k nearest neighbours by Euclidean distance, majority vote
 * (ties to the nearer class). */
#ifndef VK_PROBE_H
#define VK_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

typedef struct {
	int d, c;        /* features, classes */
	double *w;       /* (c, d + 1): weights then the bias, on standardised features */
	double *mean, *sd; /* (d): the training features' standardisation */
	int iters;       /* L-BFGS iterations run */
	double loss;     /* the final penalised mean cross-entropy */
} vk_logreg;

/* Fit to n rows of d features x with labels y in 0 … c−1; l2 the penalty
 * (λ/2)‖W‖² (the biases unpenalised); stop when the gradient's largest
 * component is below tol or after max_iter iterations. */
int vk_logreg_fit(vk_logreg *m, const float *x, const int32_t *y, size_t n, int d, int c,
		  double l2, int max_iter, double tol, vk_error *e);
void vk_logreg_free(vk_logreg *m);
/* The most probable class of each of n rows. */
void vk_logreg_predict(const vk_logreg *m, const float *x, size_t n, int32_t *out);
/* The objective and its gradient at w (c·(d+1)) on standardised rows z (n, d):
 * exposed for the gradient check. grad may be NULL. */
double vk_logreg_objective(const double *w, const double *z, const int32_t *y, size_t n,
			   int d, int c, double l2, double *grad);

/* k nearest neighbours: the class of each of m query rows q among n training
 * rows x (labels y in 0 … c−1), d features. */
int vk_knn_predict(const float *x, const int32_t *y, size_t n, const float *q, size_t m,
		   int d, int c, int k, int32_t *out, vk_error *e);

#endif
