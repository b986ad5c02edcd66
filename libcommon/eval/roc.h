/* Ranking a score against binary truth: the ROC curve, the area under it
 * (AUROC: the probability that a random positive scores above a random
 * negative, ties counting half — the Mann-Whitney U statistic over n₊n₋),
 * average precision (AUPRC, the step-wise sum Σ (R_k − R_{k−1}) P_k over the
 * distinct thresholds) and the false-positive rate at the first threshold
 * whose true-positive rate reaches 95%. Higher scores mean "positive". */
#ifndef VK_ROC_H
#define VK_ROC_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"

typedef struct {
	double score;
	int positive;  /* 1 or 0 */
} vk_scored;

typedef struct {
	size_t pos, neg;
	double auroc, auprc, fpr95;
} vk_roc_figures;

/* Sort v by score, highest first (ties in any order). */
void vk_roc_sort(vk_scored *v, size_t n);
/* The figures of sorted v; fails when one of the two classes is empty. */
int vk_roc(const vk_scored *v, size_t n, vk_roc_figures *out, vk_error *e);
/* The curve's points at each distinct threshold of sorted v, from (0, 0) to
 * (1, 1): fpr[i], tpr[i], threshold[i] (+∞ at the first point), at most
 * n + 1 of them; returns how many. */
size_t vk_roc_curve(const vk_scored *v, size_t n, double *fpr, double *tpr,
		    double *threshold);

#endif
