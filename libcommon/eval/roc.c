/* ROC figures from sorted scores (roc.h). One pass over the distinct
 * thresholds: each group of tied scores moves the curve diagonally, which is
 * exactly what counting ties as half does to the area. */
#include "roc.h"

#include <math.h>
#include <stdlib.h>

static int by_score_desc(const void *a, const void *b)
{
	double x = ((const vk_scored *)a)->score, y = ((const vk_scored *)b)->score;
	return (x < y) - (x > y);
}

void vk_roc_sort(vk_scored *v, size_t n) { qsort(v, n, sizeof *v, by_score_desc); }

int vk_roc(const vk_scored *v, size_t n, vk_roc_figures *out, vk_error *e)
{
	size_t P = 0;
	for (size_t i = 0; i < n; i++)
		P += v[i].positive != 0;
	size_t N = n - P;
	out->pos = P;
	out->neg = N;
	if (!P || !N)
		return vk_fail(e, "%s: %zu positive and %zu negative records (AUROC needs both)",
			       !P ? "no positive records" : "no negative records", P, N);
	double area = 0, ap = 0;
	size_t tp = 0, fp = 0;
	out->fpr95 = NAN;
	for (size_t i = 0; i < n;) {
		size_t tp0 = tp, fp0 = fp;
		double s = v[i].score;
		for (; i < n && v[i].score == s; i++)
			v[i].positive ? tp++ : fp++;
		/* the trapezoid under this step (a tie group is a diagonal) */
		area += (double)(fp - fp0) * (double)(tp + tp0) / 2;
		ap += (double)(tp - tp0) / P * ((double)tp / (tp + fp));
		if (isnan(out->fpr95) && (double)tp >= 0.95 * P)
			out->fpr95 = (double)fp / N;
	}
	out->auroc = area / ((double)P * N);
	out->auprc = ap;
	return 0;
}

size_t vk_roc_curve(const vk_scored *v, size_t n, double *fpr, double *tpr, double *threshold)
{
	size_t P = 0, k = 0, tp = 0, fp = 0;
	for (size_t i = 0; i < n; i++)
		P += v[i].positive != 0;
	size_t N = n - P;
	fpr[k] = tpr[k] = 0;
	threshold[k++] = INFINITY;
	for (size_t i = 0; i < n;) {
		double s = v[i].score;
		for (; i < n && v[i].score == s; i++)
			v[i].positive ? tp++ : fp++;
		fpr[k] = N ? (double)fp / N : 0;
		tpr[k] = P ? (double)tp / P : 0;
		threshold[k++] = s;
	}
	return k;
}
