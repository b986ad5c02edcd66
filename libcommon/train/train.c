#include "train.h"

#include "dist.h"
#include "objective.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Data-parallel steps. Each worker runs forward and backward on its slice of
 * the batch with one-thread BLAS, into its own gradient block; then each sums
 * the blocks and applies the optimiser on its own range of the parameters.
 * Two barriers a step and no locks: on 2 cores this beats letting OpenBLAS
 * split every (small) GEMM, and the elementwise work is split too. The ε draws
 * come from the one generator for the whole batch, so the numbers depend on
 * the thread count only through float summation order. */

typedef struct {
	pthread_t tid[VK_MAX_THREADS];
	vk_barrier start, grads_done, summed, reduced;
	/* What the workers do after start barrier number r is task[r % 2]: worker 0
	 * writes it before arriving, and cannot write that slot again until every
	 * worker has arrived at barrier r + 1, after reading it. */
	atomic_int task[2];
	int round;
} pool;

/* Rows [lo, hi) of a batch of n for worker i of k (equal slices). */
static void slice(int n, int k, int i, int *lo, int *hi)
{
	*lo = (int)((long)n * i / k);
	*hi = (int)((long)n * (i + 1) / k);
}

/* Parameter range of worker i, aligned to 16 floats for the vector loops. */
static void param_range(size_t n, int k, int i, size_t *lo, size_t *hi)
{
	size_t chunk = (n / k + 15) & ~(size_t)15;
	*lo = chunk * i < n ? chunk * i : n;
	*hi = i == k - 1 || chunk * (i + 1) > n ? n : chunk * (i + 1);
}

static void compute_slice(vk_worker *wk)
{
	vk_trainer *t = wk->t;
	vk_model *m = t->m;
	int lo, hi, n = t->step_rows;
	slice(n, t->threads, wk->id, &lo, &hi);
	/* The gradient is the mean over the global batch, whatever share this has. */
	float scale = 1.0f / t->global_rows;
	size_t D = m->a.input_size, Z = m->a.latent;
	/* A slice without rows still calls the model: it takes part in the
	 * batch-wide sums (vk_reduce) and zeroes its gradient block. */
	int rows = hi > lo ? hi - lo : 0;
	wk->w.lat.row0 = t->step_row0 + lo; /* the batch-wide terms' place of its rows */
	wk->w.lat.batch = t->global_rows;
	/* Each worker converts its own rows: the u8-to-float pass is split too. */
	if (rows)
		vk_dataset_gather(t->data, t->step_order + lo, rows, t->x + lo * D, t->labels + lo);
	if (t->iw > 1)
		vk_batch_grad_iw(m, &wk->w, wk->grads, t->x + lo * D, t->labels + lo, rows, t->iw,
				 t->eps + (size_t)lo * t->iw * Z, scale);
	else
		vk_batch_grad(m, &wk->w, wk->grads, t->x + lo * D, t->labels + lo, rows,
			      t->beta_now, t->eps + lo * Z, scale);
}

/* Sum the workers' gradient blocks into the model's, on this worker's range. */
static void sum_range(vk_worker *wk)
{
	vk_trainer *t = wk->t;
	size_t lo, hi;
	param_range(t->m->n_params, t->threads, wk->id, &lo, &hi);
	float *g = t->m->grads;
	for (int k = 1; k < t->threads; k++) {
		const float *gk = t->workers[k].grads;
		for (size_t i = lo; i < hi; i++)
			g[i] += gk[i];
	}
}

static void apply_range(vk_worker *wk)
{
	vk_trainer *t = wk->t;
	vk_model *m = t->m;
	size_t lo, hi;
	param_range(m->n_params, t->threads, wk->id, &lo, &hi);
	if (t->optimizer == VK_OPT_SGD)
		vk_sgd_step(t->opt.adam.lr, m->params + lo, m->grads + lo, hi - lo);
	else
		vk_adam_apply(&t->opt.adam, m->params + lo, m->grads + lo, t->opt.m + lo,
			      t->opt.v + lo, hi - lo);
}

/* Without MPI the sum and the update of a range run in one go; with ranks,
 * the whole sum must be all-reduced (by worker 0) in between. */
static void update_range(vk_worker *wk)
{
	pool *p = wk->t->pool;
	vk_trainer *t = wk->t;
	if (t->threads == 2 && t->ranks == 1 && t->optimizer == VK_OPT_ADAM) {
		/* The common two-core case: add the two blocks inside the Adam loop. */
		size_t lo, hi;
		param_range(t->m->n_params, 2, wk->id, &lo, &hi);
		vk_adam_apply2(&t->opt.adam, t->m->params + lo, t->m->grads + lo,
			       t->workers[1].grads + lo, t->opt.m + lo, t->opt.v + lo, hi - lo);
		return;
	}
	sum_range(wk);
	if (wk->t->ranks > 1) {
		if (p)
			vk_barrier_wait(&p->summed);
		if (wk->id == 0)
			vk_dist_sum_floats(wk->t->m->grads, wk->t->m->n_params);
		if (p)
			vk_barrier_wait(&p->reduced);
	}
	apply_range(wk);
}

enum { TASK_STEP, TASK_SYNC, TASK_QUIT };

static void *worker_main(void *arg)
{
	vk_worker *wk = arg;
	pool *p = wk->t->pool;
	for (int round = 0;; round++) {
		vk_barrier_wait(&p->start);
		int task = atomic_load(&p->task[round & 1]);
		if (task == TASK_QUIT)
			return NULL;
		if (task == TASK_SYNC)
			continue;
		compute_slice(wk);
		vk_barrier_wait(&p->grads_done);
		update_range(wk);
	}
}

/* Worker 0 starts a round. No barrier closes a step: the next round's start
 * is where worker 0 knows the others have finished their updates. */
static void start_round(pool *p, int task)
{
	atomic_store(&p->task[p->round & 1], task);
	p->round++;
	vk_barrier_wait(&p->start);
}

/* Before worker 0 reads the parameters (evaluation, checkpoints). */
static void pool_sync(vk_trainer *t)
{
	if (t->pool)
		start_round(t->pool, TASK_SYNC);
}

/* One optimiser step on the t->step_rows records in t->x (and t->eps). */
static void train_step(vk_trainer *t)
{
	pool *p = t->pool;
	if (p)
		start_round(p, TASK_STEP);
	/* Counted after the start barrier: no worker is still in the last update. */
	if (t->optimizer == VK_OPT_ADAM)
		t->opt.adam.t++;
	compute_slice(&t->workers[0]);
	if (p)
		vk_barrier_wait(&p->grads_done);
	update_range(&t->workers[0]);
}

static int start_pool(vk_trainer *t, vk_error *e)
{
	pool *p = calloc(1, sizeof *p);
	if (!p)
		return vk_fail(e, "out of memory for the thread pool");
	p->start.parties = p->grads_done.parties = t->threads;
	p->summed.parties = p->reduced.parties = t->threads;
	t->pool = p;
	for (int i = 1; i < t->threads; i++)
		if (pthread_create(&p->tid[i], NULL, worker_main, &t->workers[i])) {
			t->threads = i; /* the ones started are stopped by vk_trainer_free */
			p->start.parties = p->grads_done.parties = i;
			p->summed.parties = p->reduced.parties = i;
			return vk_fail(e, "cannot start training thread %d", i);
		}
	return 0;
}

int vk_trainer_init(vk_trainer *t, vk_model *m, size_t n_records, const vk_trainrec *rec,
		    int threads, vk_error *e)
{
	memset(t, 0, sizeof *t);
	int batch = rec->batch;
	t->m = m;
	t->batch = batch;
	t->optimizer = rec->optimizer;
	t->beta = t->beta_now = rec->beta;
	t->n = n_records;
	t->ranks = vk_dist_size();
	t->rank = vk_dist_rank();
	int vae = vk_latent_of(&m->a)->has_kl;
	t->kl_warmup = vae ? (int)rec->kl_warmup : 0;
	t->kl_cycles = vae ? (int)rec->kl_cycles : 0;
	t->free_bits = vae ? rec->free_bits : 0;
	t->iw = vae && rec->iw_train > 1 ? (int)rec->iw_train : 1;
	t->learn_sigma = vk_lik_of(&m->a)->dlog_sigma && (rec->flags & VK_TRAIN_SIGMA_LEARNED);
	if (t->learn_sigma) {
		t->log_sigma = rec->log_sigma;
		t->ls_m = rec->log_sigma_m;
		t->ls_v = rec->log_sigma_v;
		m->a.sigma = expf(t->log_sigma);
	}
	int K = t->iw;
	/* No more workers than rows: each needs at least one record a step. */
	t->threads = threads < 1 ? 1 : threads > VK_MAX_THREADS ? VK_MAX_THREADS : threads;
	if (t->threads > batch)
		t->threads = batch;
	vk_set_threads(1);
	int ok = 1, Z = m->a.latent;
	/* The batch-wide sums: free bits' KL per dimension and the rows */
	size_t width = vk_model_reduce_width(m); /* and batchnorm's statistics */
	width = width > (size_t)Z + 1 ? width : (size_t)Z + 1;
	ok = (t->red = vk_reducer_new(t->threads, (int)width, e)) != NULL;
	for (int i = 0; i < t->threads; i++) {
		vk_worker *wk = &t->workers[i];
		int lo, hi;
		slice(batch, t->threads, i, &lo, &hi);
		wk->t = t;
		wk->id = i;
		if (vk_work_alloc(&wk->w, m, (hi - lo > 0 ? hi - lo : 1) * K, e))
			ok = 0;
		wk->w.lat.red = t->red;
		wk->w.lat.slice = i;
		wk->w.lat.free_bits = t->free_bits;
		wk->w.state_update = i == 0; /* one writer of the running statistics */
		wk->grads = i ? vk_alloc_floats(m->n_params) : m->grads;
		ok = ok && wk->grads;
	}
	size_t neps = (size_t)batch * K * Z;
	t->order = malloc(sizeof *t->order * n_records);
	t->x = malloc(sizeof(float) * batch * m->a.input_size);
	t->labels = malloc(sizeof(int32_t) * batch);
	t->eps = malloc(sizeof(float) * neps);
	t->eps_all = t->ranks > 1 ? malloc(sizeof(float) * neps) : t->eps;
	t->opt.m = vk_alloc_floats(m->n_params);
	t->opt.v = vk_alloc_floats(m->n_params);
	if (vk_latent_of(&m->a)->codes) /* a discrete latent's (not a pixelcnn's) */
		ok = ok && (t->usage = calloc((size_t)m->a.codes, sizeof(double))) != NULL;
	if (!ok || !t->order || !t->x || !t->labels || !t->eps || !t->eps_all || !t->opt.m || !t->opt.v) {
		vk_trainer_free(t);
		return vk_fail(e, "out of memory for the training buffers");
	}
	t->opt.present = 1;
	vk_adam_init(&t->opt.adam, rec->lr);
	vk_rng_seed(&t->opt.rng, rec->seed);
	if (t->threads > 1 && start_pool(t, e)) {
		vk_trainer_free(t);
		return -1;
	}
	t->epoch_mmd = t->epoch_tc[0] = t->epoch_tc[1] = t->epoch_tc[2] = NAN;
	if (rec->objective) {
		/* checked by the model file and vae-train; elbo (0) leaves all as it was */
		const vk_objective_kind *k = vk_objective_at((int)rec->objective);
		if (!k) {
			vk_trainer_free(t);
			return vk_fail(e, "unknown objective %u", rec->objective);
		}
		/* β: the objective's own (tcvae's); the elbo's --beta is rec->beta */
		vk_objective_params p = {.alpha = rec->obj_alpha, .beta = rec->obj_beta,
					 .gamma = rec->obj_gamma, .lambda = rec->obj_lambda};
		t->beta = t->beta_now = k->kl_weight(&p);
		if (vk_trainer_mmd(t, k->mmd_weight(&p), e)) {
			vk_trainer_free(t);
			return -1;
		}
		float w[3];
		if (k->tc_weights && (k->tc_weights(&p, w), vk_trainer_tc(t, w, e))) {
			vk_trainer_free(t);
			return -1;
		}
	}
	return 0;
}

int vk_trainer_tc(vk_trainer *t, const float w[3], vk_error *e)
{
	if (t->iw > 1)
		return vk_fail(e, "the total correlation does not combine with the "
				  "importance-weighted bound");
	if (vk_latent_of(&t->m->a)->head_per_dim != 2 || !vk_latent_of(&t->m->a)->has_kl)
		return vk_fail(e, "the total correlation needs a Gaussian posterior (a VAE), not "
				  "an autoencoder's code");
	int Z = t->m->a.latent, B = t->batch;
	if (B < 2)
		return vk_fail(e, "the total correlation needs batches of at least 2 records");
	size_t cap = 3 * (size_t)B * Z, width = vk_model_reduce_width(t->m);
	cap = cap > width ? cap : width;
	if (cap > 1u << 26)
		return vk_fail(e, "a total correlation over batches of %d codes of %d is too large",
			       B, Z);
	vk_reducer *red = vk_reducer_new(t->threads, (int)cap, e);
	if (!red)
		return -1;
	vk_reducer_free(t->red);
	t->red = red;
	t->tc = 1;
	for (int i = 0; i < t->threads; i++) {
		vk_latent_step *s = &t->workers[i].w.lat;
		int lo, hi;
		slice(B, t->threads, i, &lo, &hi);
		s->red = red;
		memcpy(s->tc_w, w, sizeof s->tc_w);
		s->tc_n = (double)t->n;
		s->tc_scratch = malloc(sizeof(double) * vk_tc_scratch(B, Z));
		s->tc_dhead = malloc(sizeof(float) * (hi - lo > 0 ? hi - lo : 1) * 2 * Z);
		if (!s->tc_scratch || !s->tc_dhead)
			return vk_fail(e, "out of memory for the total correlation's codes");
	}
	return 0;
}

int vk_trainer_mmd(vk_trainer *t, float weight, vk_error *e)
{
	if (weight == 0)
		return 0;
	if (t->iw > 1)
		return vk_fail(e, "an MMD term does not combine with the importance-weighted bound");
	int Z = t->m->a.latent, B = t->batch;
	if (B < 2 || t->n % (size_t)B == 1)
		return vk_fail(e, "an MMD needs batches of at least 2 records: %zu records in "
			       "batches of %d leave one of 1 (change --batch)", t->n, B);
	size_t cap = (size_t)B * Z > (size_t)Z + 1 ? (size_t)B * Z : (size_t)Z + 1;
	size_t width = vk_model_reduce_width(t->m); /* batchnorm's statistics too */
	cap = cap > width ? cap : width;
	if (cap > 1u << 26)
		return vk_fail(e, "an MMD over batches of %d codes of %d is too large", B, Z);
	vk_reducer *red = vk_reducer_new(t->threads, (int)cap, e);
	if (!red || !(t->prior = malloc(sizeof(float) * B * Z))) {
		vk_reducer_free(red);
		return red ? vk_fail(e, "out of memory for the prior draws") : -1;
	}
	vk_reducer_free(t->red);
	t->red = red;
	t->mmd_weight = weight;
	for (int i = 0; i < t->threads; i++) {
		vk_latent_step *s = &t->workers[i].w.lat;
		s->red = red;
		s->mmd_weight = weight;
		s->prior = t->prior;
		if (!(s->mmd_scratch = malloc(sizeof(double) * vk_mmd_scratch(B, Z))))
			return vk_fail(e, "out of memory for the MMD's codes");
	}
	return 0;
}

float vk_kl_weight(float beta, int warmup, int cycles, int epochs, double progress)
{
	if (warmup > 0)
		return progress >= warmup ? beta : (float)(beta * (progress / warmup));
	if (cycles > 0 && epochs > 0) {
		double len = (double)epochs / cycles, tau = fmod(progress, len) / len;
		return tau >= 0.5 ? beta : (float)(beta * 2.0 * tau);
	}
	return beta;
}

float vk_lr_at(const vk_trainrec *rec, int epoch, int epochs)
{
	switch (rec->lr_schedule) {
	case VK_LR_COSINE:
		return (float)(rec->lr * 0.5 * (1.0 + cos(M_PI * (epoch - 1) / epochs)));
	case VK_LR_STEP:
		return (float)(rec->lr * pow(rec->lr_gamma, (epoch - 1) / (int)rec->lr_every));
	case VK_LR_PLATEAU:
		return rec->lr_now > 0 ? rec->lr_now : rec->lr;
	}
	return rec->lr;
}

/* The learned log σ's step, by the network's optimiser, from the batch mean
 * of d rec/d log σ (the likelihood's), from the step's (all ranks') summed rec. */
static void sigma_step(vk_trainer *t, double batch_rec, int b)
{
	vk_model *m = t->m;
	float g = vk_lik_of(&m->a)->dlog_sigma(&m->a, batch_rec, b);
	if (t->optimizer == VK_OPT_SGD)
		vk_sgd_step(t->opt.adam.lr, &t->log_sigma, &g, 1);
	else
		vk_adam_apply(&t->opt.adam, &t->log_sigma, &g, &t->ls_m, &t->ls_v, 1);
	m->a.sigma = expf(t->log_sigma);
}

void vk_trainer_free(vk_trainer *t)
{
	pool *p = t->pool;
	if (p) {
		start_round(p, TASK_QUIT);
		for (int i = 1; i < t->threads; i++)
			pthread_join(p->tid[i], NULL);
		free(p);
	}
	for (int i = 0; i < VK_MAX_THREADS; i++) {
		free(t->workers[i].w.lat.mmd_scratch);
		free(t->workers[i].w.lat.tc_scratch);
		free(t->workers[i].w.lat.tc_dhead);
		vk_work_free(&t->workers[i].w);
		if (i)
			free(t->workers[i].grads);
	}
	vk_reducer_free(t->red);
	free(t->prior);
	free(t->order);
	free(t->x);
	free(t->labels);
	if (t->eps_all != t->eps)
		free(t->eps_all);
	free(t->eps);
	free(t->opt.m);
	free(t->opt.v);
	free(t->usage);
	memset(t, 0, sizeof *t);
}

size_t vk_epoch_records(const vk_trainer *t, uint64_t batches)
{
	return batches >= (t->n + t->batch - 1) / t->batch ? t->n : (size_t)batches * t->batch;
}

int vk_train_epoch(vk_trainer *t, const vk_dataset *d, double *rec, double *kl,
		   vk_progress *p, volatile sig_atomic_t *stop)
{
	vk_model *m = t->m;
	vk_epoch_pos *pos = &t->pos;
	for (size_t i = 0; i < t->n; i++)
		t->order[i] = (uint32_t)i;
	if (pos->batches) {
		/* Resuming: the same shuffle from the generator the epoch began with;
		 * the run's generator is already past it and the steps done. */
		vk_rng r = pos->epoch_rng;
		vk_rng_shuffle(&r, t->order, t->n);
	} else {
		pos->epoch_rng = t->opt.rng;
		pos->rec_sum = pos->kl_sum = 0;
		t->mmd_sum = t->mmd_rows = 0;
		t->tc_sum[0] = t->tc_sum[1] = t->tc_sum[2] = t->tc_rows = 0;
		if (t->usage)
			memset(t->usage, 0, sizeof(double) * m->a.codes);
		vk_rng_shuffle(&t->opt.rng, t->order, t->n);
	}
	size_t done = vk_epoch_records(t, pos->batches);
	int stopped = 0;
	while (done < t->n) {
		int b = t->n - done < (size_t)t->batch ? (int)(t->n - done) : t->batch;
		/* This rank's share of the global batch; every rank draws the whole
		 * batch's ε so the generators stay in step. */
		int lo = (int)((long)b * t->rank / t->ranks), hi = (int)((long)b * (t->rank + 1) / t->ranks);
		t->data = d;
		t->step_order = t->order + done + lo;
		if (vk_latent_of(&m->a)->noise) {
			size_t kz = (size_t)t->iw * m->a.latent;
			vk_rng_normals(&t->opt.rng, t->eps_all, (size_t)b * kz);
			memcpy(t->eps, t->eps_all + (size_t)lo * kz, sizeof(float) * (hi - lo) * kz);
		}
		if (t->mmd_weight != 0)
			vk_rng_normals(&t->opt.rng, t->prior, (size_t)b * m->a.latent);
		t->step_row0 = lo;
		/* β of this step, from where it stands in the run. */
		size_t per_epoch = (t->n + t->batch - 1) / t->batch;
		t->beta_now = vk_kl_weight(t->beta, t->kl_warmup, t->kl_cycles, t->epochs,
					   (t->epoch > 0 ? t->epoch - 1 : 0) +
						   (double)pos->batches / per_epoch);
		t->step_rows = hi - lo;
		t->global_rows = b;
		train_step(t);
		t->mmd = t->workers[0].w.lat.mmd;
		if (t->usage) /* the whole batch's, over every slice and rank */
			for (int k = 0; k < m->a.codes; k++)
				t->usage[k] += t->workers[0].w.counts[k];
		if (t->mmd_weight != 0)
			t->mmd_sum += t->mmd * b, t->mmd_rows += b;
		if (t->tc) {
			for (int j = 0; j < 3; j++) {
				t->tc_terms[j] = t->workers[0].w.lat.tc[j];
				t->tc_sum[j] += t->tc_terms[j] * b;
			}
			t->tc_rows += b;
		}
		double batch_rec = 0, batch_kl = 0;
		for (int k = 0; k < t->threads; k++) {
			int klo, khi;
			slice(hi - lo, t->threads, k, &klo, &khi);
			for (int r = 0; r < khi - klo; r++) {
				pos->rec_sum += t->workers[k].w.rec[r];
				pos->kl_sum += t->workers[k].w.kl[r];
				batch_rec += t->workers[k].w.rec[r];
				batch_kl += t->workers[k].w.kl[r];
			}
		}
		if (t->ranks > 1) {
			/* every rank must see a divergence in any rank's share, or the
			 * others would wait for it in the next all-reduce */
			double b[2] = {batch_rec, batch_kl};
			vk_dist_sum_doubles(b, 2);
			batch_rec = b[0], batch_kl = b[1];
		}
		if (!isfinite(batch_rec + batch_kl)) {
			/* Diverged: the parameters are already spoilt; the caller keeps
			 * its last good checkpoint. */
			t->diverged_batch = pos->batches + 1;
			pool_sync(t);
			return VK_EPOCH_DIVERGED;
		}
		if (t->learn_sigma)
			sigma_step(t, batch_rec, b);
		done += b;
		pos->batches++;
		if (p)
			vk_progress_update(p, done);
		if (stop && *stop && done < t->n) {
			stopped = 1;
			break;
		}
	}
	pool_sync(t);
	double sums[2] = {pos->rec_sum, pos->kl_sum};
	if (!stopped)
		vk_dist_sum_doubles(sums, 2);
	*rec = sums[0] / (done ? done : 1);
	*kl = sums[1] / (done ? done : 1);
	t->epoch_mmd = t->mmd_weight != 0 && t->mmd_rows > 0 ? t->mmd_sum / t->mmd_rows : NAN;
	for (int j = 0; j < 3; j++)
		t->epoch_tc[j] = t->tc && t->tc_rows > 0 ? t->tc_sum[j] / t->tc_rows : NAN;
	t->epoch_perplexity = NAN;
	t->epoch_dead = -1;
	if (t->usage)
		t->epoch_perplexity = vk_code_perplexity(t->usage, m->a.codes, &t->epoch_dead);
	if (!stopped)
		memset(pos, 0, sizeof *pos);
	return stopped;
}

int vk_trainer_resume(vk_trainer *t, const vk_optstate *saved, const vk_epoch_pos *pos,
		      vk_error *e)
{
	if (!saved->present)
		return vk_fail(e, "the checkpoint holds no optimiser state to resume from");
	if (pos->batches >= (t->n + t->batch - 1) / t->batch)
		return vk_fail(e, "the checkpoint is %llu batches into an epoch of %zu records; "
				  "resume with the same training data",
			       (unsigned long long)pos->batches, t->n);
	size_t n = t->m->n_params;
	memcpy(t->opt.m, saved->m, sizeof(float) * n);
	memcpy(t->opt.v, saved->v, sizeof(float) * n);
	t->opt.adam.t = saved->adam.t;
	t->opt.rng = saved->rng;
	t->pos = *pos;
	return 0;
}

int vk_checkpoint_save(const char *path, const vk_trainer *t, const vk_trainrec *rec,
		       vk_error *e)
{
	return vk_model_write(path, t->m, rec, &t->opt, &t->pos, e);
}

int vk_checkpoint_load(const char *path, vk_model *m, vk_trainrec *t, vk_optstate *opt,
		       vk_epoch_pos *pos, vk_error *e)
{
	return vk_model_read(path, m, t, opt, pos, e);
}
