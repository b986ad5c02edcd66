/* Training and evaluating a model over an in-memory data set: shuffled
 * minibatches, the optimiser step, per-epoch means. All buffers are allocated
 * by vk_trainer_init; an epoch allocates nothing. */
#ifndef VK_TRAIN_H
#define VK_TRAIN_H

#include <signal.h>
#include "dataset.h"
#include "model.h"
#include "modelfile.h"
#include "progress.h"

typedef struct {
	vk_model *m;
	vk_work w;
	int batch, optimizer;
	float beta;
	vk_optstate opt;      /* Adam moments and the run's generator */
	uint32_t *order;      /* (n) shuffled record indices */
	float *x;             /* (batch, D) */
	int32_t *labels;      /* (batch) */
	size_t n;
} vk_trainer;

int vk_trainer_init(vk_trainer *t, vk_model *m, size_t n_records, int batch, int optimizer,
		    float lr, float beta, uint64_t seed, vk_error *e);
void vk_trainer_free(vk_trainer *t);

/* One epoch over d: returns 1 when *stop was raised (after finishing the
 * current step), else 0. Mean reconstruction and KL per record in rec, kl. */
int vk_train_epoch(vk_trainer *t, const vk_dataset *d, double *rec, double *kl,
		   vk_progress *p, volatile sig_atomic_t *stop);

/* Mean reconstruction and KL per record over d, one z sample per record
 * drawn from a generator seeded with seed (z = μ for an AE). */
void vk_evaluate(vk_model *m, vk_work *w, const vk_dataset *d, uint64_t seed, double *rec,
		 double *kl);

#endif
