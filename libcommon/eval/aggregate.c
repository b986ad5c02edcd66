/* kl-eval --aggregate's batch estimates (aggregate.h). */
#include "aggregate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "objective.h"

int vk_aggregate_init(vk_aggregate *a, int Z, int batch, int posterior, uint64_t seed,
		      vk_error *e)
{
	memset(a, 0, sizeof *a);
	a->Z = Z;
	a->batch = batch;
	a->posterior = posterior;
	vk_rng_seed(&a->rng, seed);
	size_t bz = (size_t)batch * Z;
	a->z = malloc(sizeof(float) * bz);
	a->head = malloc(sizeof(float) * 2 * bz);
	a->prior = malloc(sizeof(float) * bz);
	a->mmd_scratch = malloc(sizeof(double) * vk_mmd_scratch(batch, Z));
	a->tc_scratch = posterior ? malloc(sizeof(double) * vk_tc_scratch(batch, Z)) : NULL;
	if (!a->z || !a->head || !a->prior || !a->mmd_scratch || (posterior && !a->tc_scratch)) {
		vk_aggregate_free(a);
		return vk_fail(e, "out of memory for batches of %d codes of %d", batch, Z);
	}
	return 0;
}

/* The N of the estimator is the data set's, known only at the end: batches
 * are measured with N = 1 and the terms moved by their log N parts then. */
static void measure(vk_aggregate *a)
{
	int B = a->fill, Z = a->Z;
	if (B < 2)
		return;
	vk_rng_normals(&a->rng, a->prior, (size_t)B * Z);
	double t[3] = {0, 0, 0};
	double mmd = vk_mmd_imq(a->z, Z, B, 0, B, Z, a->prior, 0, NULL, NULL, 0, a->mmd_scratch);
	if (a->posterior)
		vk_tc_mws(a->z, Z, a->head, B, 0, B, Z, 1.0, (const float[]){1, 1, 1}, 1.0f / B, 0,
			  NULL, NULL, NULL, 0, a->tc_scratch, t);
	a->sum[0] += mmd * B;
	for (int k = 0; k < 3; k++)
		a->sum[1 + k] += t[k] * B;
	a->rows += B;
	a->batches++;
}

void vk_aggregate_add(vk_aggregate *a, const float *z, const float *head)
{
	int Z = a->Z;
	memcpy(a->z + (size_t)a->fill * Z, z, sizeof(float) * Z);
	if (a->posterior)
		memcpy(a->head + (size_t)a->fill * 2 * Z, head, sizeof(float) * 2 * Z);
	if (++a->fill == a->batch) {
		measure(a);
		a->fill = 0;
	}
}

void vk_aggregate_finish(vk_aggregate *a, uint64_t n, double out[4])
{
	measure(a);
	a->fill = 0;
	double rows = a->rows, logn = log((double)(n ? n : 1));
	for (int k = 0; k < 4; k++)
		out[k] = rows > 0 && (k == 0 || a->posterior) ? a->sum[k] / rows : NAN;
	out[1] += logn;
	out[2] += (a->Z - 1) * logn;
	out[3] -= a->Z * logn;
}

void vk_aggregate_free(vk_aggregate *a)
{
	free(a->z);
	free(a->head);
	free(a->prior);
	free(a->mmd_scratch);
	free(a->tc_scratch);
	memset(a, 0, sizeof *a);
}
