#include "train.h"

#include <stdlib.h>
#include <string.h>

int vk_trainer_init(vk_trainer *t, vk_model *m, size_t n_records, int batch, int optimizer,
		    float lr, float beta, uint64_t seed, vk_error *e)
{
	memset(t, 0, sizeof *t);
	t->m = m;
	t->batch = batch;
	t->optimizer = optimizer;
	t->beta = beta;
	t->n = n_records;
	if (vk_work_alloc(&t->w, m, batch, e))
		return -1;
	t->order = malloc(sizeof *t->order * n_records);
	t->x = malloc(sizeof(float) * batch * m->a.input_size);
	t->labels = malloc(sizeof(int32_t) * batch);
	t->opt.m = calloc(m->n_params, sizeof(float));
	t->opt.v = calloc(m->n_params, sizeof(float));
	if (!t->order || !t->x || !t->labels || !t->opt.m || !t->opt.v) {
		vk_trainer_free(t);
		return vk_fail(e, "out of memory for the training buffers");
	}
	t->opt.present = 1;
	vk_adam_init(&t->opt.adam, lr);
	vk_rng_seed(&t->opt.rng, seed);
	return 0;
}

void vk_trainer_free(vk_trainer *t)
{
	vk_work_free(&t->w);
	free(t->order);
	free(t->x);
	free(t->labels);
	free(t->opt.m);
	free(t->opt.v);
	memset(t, 0, sizeof *t);
}

int vk_train_epoch(vk_trainer *t, const vk_dataset *d, double *rec, double *kl,
		   vk_progress *p, volatile sig_atomic_t *stop)
{
	vk_model *m = t->m;
	double rec_sum = 0, kl_sum = 0;
	for (size_t i = 0; i < t->n; i++)
		t->order[i] = (uint32_t)i;
	vk_rng_shuffle(&t->opt.rng, t->order, t->n);
	size_t done = 0;
	int stopped = 0;
	while (done < t->n) {
		int b = t->n - done < (size_t)t->batch ? (int)(t->n - done) : t->batch;
		vk_dataset_gather(d, t->order + done, b, t->x, t->labels);
		vk_batch_grad(m, &t->w, t->x, t->labels, b, t->beta, &t->opt.rng);
		if (t->optimizer == VK_OPT_SGD)
			vk_sgd_step(t->opt.adam.lr, m->params, m->grads, m->n_params);
		else
			vk_adam_step(&t->opt.adam, m->params, m->grads, t->opt.m, t->opt.v,
				     m->n_params);
		for (int r = 0; r < b; r++) {
			rec_sum += t->w.rec[r];
			kl_sum += t->w.kl[r];
		}
		done += b;
		if (p)
			vk_progress_update(p, done);
		if (stop && *stop) {
			stopped = 1;
			break;
		}
	}
	*rec = rec_sum / (done ? done : 1);
	*kl = kl_sum / (done ? done : 1);
	return stopped;
}

void vk_evaluate(vk_model *m, vk_work *w, const vk_dataset *d, uint64_t seed, double *rec,
		 double *kl)
{
	vk_rng rng;
	vk_rng_seed(&rng, seed);
	double rec_sum = 0, kl_sum = 0;
	uint32_t idx[1024];
	float *x = malloc(sizeof(float) * w->cap * d->dim);
	int32_t *lab = malloc(sizeof(int32_t) * w->cap);
	if (!x || !lab) {
		free(x);
		free(lab);
		*rec = *kl = 0.0 / 0.0;
		return;
	}
	int cap = w->cap < 1024 ? w->cap : 1024;
	for (size_t done = 0; done < d->n;) {
		int b = d->n - done < (size_t)cap ? (int)(d->n - done) : cap;
		for (int i = 0; i < b; i++)
			idx[i] = (uint32_t)(done + i);
		vk_dataset_gather(d, idx, b, x, lab);
		vk_batch_eval(m, w, x, lab, b, &rng);
		for (int r = 0; r < b; r++) {
			rec_sum += w->rec[r];
			kl_sum += w->kl[r];
		}
		done += b;
	}
	free(x);
	free(lab);
	*rec = rec_sum / d->n;
	*kl = kl_sum / d->n;
}
