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

#define VK_MAX_THREADS 64

typedef struct vk_trainer vk_trainer;

/* One worker of a data-parallel step: its slice of the batch, its buffers. */
typedef struct {
	vk_trainer *t;
	int id;
	vk_work w;
	float *grads;         /* its gradient block (worker 0 uses the model's) */
} vk_worker;

struct vk_trainer {
	vk_model *m;
	int batch, optimizer, threads;
	float beta;
	vk_optstate opt;      /* Adam moments and the run's generator */
	uint32_t *order;      /* (n) shuffled record indices */
	float *x;             /* (batch, D) */
	int32_t *labels;      /* (batch) */
	float *eps;           /* (batch, Z): this rank's rows of the batch's ε */
	float *eps_all;       /* (batch, Z): the whole batch's ε (== eps on one rank) */
	int rank, ranks;      /* MPI data parallelism (1 rank without MPI) */
	int global_rows;      /* rows of the step over all ranks */
	const vk_dataset *data;       /* the step's records: data rows step_order[0..step_rows) */
	const uint32_t *step_order;
	size_t n;
	vk_epoch_pos pos;     /* where the current epoch stands */
	/* The recipe's options (vk_trainer_init) */
	int epoch, epochs;    /* the epoch being trained (from 1) and the run's last: set by
			       * the caller before vk_train_epoch, for the β schedule */
	int kl_warmup, kl_cycles;
	float beta_now;       /* β of the last step */
	float free_bits;      /* λ; > 0: per-dimension KL weights from the batch */
	vk_reducer *red;      /* the workers' (and ranks') batch-wide sums */
	float mmd_weight;     /* ≠ 0: the batch's MMD to prior draws in the loss (objective.h) */
	float *prior;         /* (batch, Z) the step's prior draws, from the run's generator */
	int step_row0;        /* this rank's first row in the step's batch */
	double mmd;           /* the batch's MMD of the last step */
	double mmd_sum, mmd_rows; /* Σ rows·MMD over the epoch's steps (since a resume) */
	double epoch_mmd;     /* their mean after vk_train_epoch (NaN: no MMD term) */
	int tc;               /* β-TCVAE's terms in the loss (objective.h: vk_tc_mws) */
	double tc_terms[3];   /* the batch's MI, TC and dimension-wise KL of the last step */
	double tc_sum[3], tc_rows; /* Σ rows·term over the epoch's steps (since a resume) */
	double epoch_tc[3];   /* their means after vk_train_epoch (NaN: no such terms) */
	double *usage;        /* (codes) a discrete latent's code counts over the epoch's
			       * steps (since a resume) */
	double epoch_perplexity; /* their perplexity after vk_train_epoch (NaN: no codes) */
	int epoch_dead;       /* codes unused in the epoch (-1: no codes) */
	int iw;               /* K > 1: the importance-weighted objective */
	int learn_sigma;      /* one log σ trained with the network (Gaussian decoder) */
	float log_sigma, ls_m, ls_v; /* it and its Adam moments */
	vk_worker workers[VK_MAX_THREADS];
	void *pool;           /* the threads and their barrier (train.c) */
	int step_rows;        /* rows of the step being computed */
	uint64_t diverged_batch; /* the batch (from 1) whose loss was not finite */
};

/* The one constructor: a trainer for m over n_records records with the
 * recipe's options in rec (batch, optimizer, lr, beta, seed, kl_warmup,
 * kl_cycles, free_bits, iw_train, the learned σ flag and its state log_sigma,
 * log_sigma_m, log_sigma_v, the objective and its weights: objective.h's
 * KL weight replaces β, its MMD weight calls vk_trainer_mmd and its TC
 * weights vk_trainer_tc). A learned σ starts from rec->log_sigma and sets
 * m->a.sigma = exp(log σ) after every step. threads: workers that each compute
 * a slice of every batch with one-thread BLAS, then share the gradient sum and
 * the optimiser step by parameter range. */
int vk_trainer_init(vk_trainer *t, vk_model *m, size_t n_records, const vk_trainrec *rec,
		    int threads, vk_error *e);

/* Add weight·MMD(codes, prior draws) of the whole batch (across threads and
 * ranks) to the loss (objective.h: WAE-MMD, InfoVAE): prior draws come from
 * the run's generator after the step's ε. Call once, after vk_trainer_init;
 * not with the importance-weighted objective. vk_trainer_init calls it for
 * the recipe's objective. */
int vk_trainer_mmd(vk_trainer *t, float weight, vk_error *e);

/* Replace the KL term by β-TCVAE's w[0]·MI + w[1]·TC + w[2]·dimension-wise KL
 * of the whole batch (across threads and ranks; N the trainer's records) with
 * vk_tc_mws; set β to 0 first (the objective's KL weight). Call once, after
 * vk_trainer_init, for a model with a Gaussian latent; not with the
 * importance-weighted objective. vk_trainer_init calls it for the recipe's
 * objective. */
int vk_trainer_tc(vk_trainer *t, const float w[3], vk_error *e);

/* β after `progress` epochs (e.g. 2.5: halfway through the third) of a run of
 * `epochs`: linear from 0 over the first `warmup` epochs; or `cycles` cycles
 * over the run, each rising linearly over its first half and holding at beta
 * over its second (Fu et al. 2019); else beta. */
float vk_kl_weight(float beta, int warmup, int cycles, int epochs, double progress);

/* The learning rate of epoch `epoch` (from 1) of `epochs` under rec's schedule,
 * from the base rate rec->lr: cosine ½(1 + cos(π(epoch − 1)/epochs)); step G^⌊(epoch − 1)/E⌋;
 * plateau: rec->lr_now (the state the caller keeps), else the base rate. */
float vk_lr_at(const vk_trainrec *rec, int epoch, int epochs);
void vk_trainer_free(vk_trainer *t);

enum { VK_EPOCH_DONE = 0, VK_EPOCH_STOPPED = 1, VK_EPOCH_DIVERGED = 2 };
/* One epoch over d, or the rest of one when t->pos.batches > 0: returns
 * VK_EPOCH_STOPPED when *stop was raised (after finishing the current step;
 * t->pos then says where it stopped), VK_EPOCH_DIVERGED at the first batch
 * whose loss is not finite (t->diverged_batch; the parameters are then
 * spoilt), else VK_EPOCH_DONE with t->pos cleared. Mean reconstruction and KL
 * per record of the whole epoch in rec, kl. */
int vk_train_epoch(vk_trainer *t, const vk_dataset *d, double *rec, double *kl,
		   vk_progress *p, volatile sig_atomic_t *stop);

/* Records of d done after pos->batches batches. */
size_t vk_epoch_records(const vk_trainer *t, uint64_t batches);

/* Continue a run from a checkpoint's optimiser state and position, read by
 * vk_checkpoint_load (same model); refuses a position that does not fit the
 * trainer's data. Takes over nothing: saved stays the caller's. */
int vk_trainer_resume(vk_trainer *t, const vk_optstate *saved, const vk_epoch_pos *pos,
		      vk_error *e);

/* A checkpoint is a model file (formats/model.md) with the optimiser state
 * and the position within an epoch; vk_model_save and vk_model_load read and
 * write the same file with the position left out. */
int vk_checkpoint_save(const char *path, const vk_trainer *t, const vk_trainrec *rec,
		       vk_error *e);
int vk_checkpoint_load(const char *path, vk_model *m, vk_trainrec *t, vk_optstate *opt,
		       vk_epoch_pos *pos, vk_error *e);

#endif
