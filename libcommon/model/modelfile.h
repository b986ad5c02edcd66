/* The model file (formats/model.md): architecture, training record,
 * parameters, optional optimiser state, CRC-32. Saved atomically. */
#ifndef VK_MODELFILE_H
#define VK_MODELFILE_H

#include "model.h"

enum { VK_OPT_ADAM = 1, VK_OPT_SGD = 2 };
#define VK_DESC_MAX 4096

/* Learning-rate schedules (vae-train --lr-schedule). */
enum { VK_LR_CONSTANT = 0, VK_LR_COSINE = 1, VK_LR_STEP = 2, VK_LR_PLATEAU = 3 };
#define VK_TRAIN_SIGMA_LEARNED 1u /* trainrec flags */

typedef struct {
	uint64_t epochs, records_seen, seed;
	int batch, optimizer;
	float lr, beta;
	float train_rec, train_kl, test_rec, test_kl;
	/* The recipe's options (0: off) */
	uint32_t kl_warmup, kl_cycles;   /* epochs of linear β warm-up; β cycles */
	float free_bits;                 /* λ nats per latent dimension */
	uint32_t iw_train;               /* K of the importance-weighted objective */
	uint32_t lr_schedule, lr_every;  /* VK_LR_*; its E (step) or P (plateau) */
	float lr_gamma;                  /* its factor G */
	uint32_t early_stop;             /* P */
	uint32_t flags;                  /* VK_TRAIN_SIGMA_LEARNED */
	/* Their state, so that --resume continues exactly */
	float lr_now;                    /* learning rate in effect (0: lr) */
	float best_test;                 /* best test loss so far (NaN: none yet) */
	uint32_t best_epoch, plateau_bad; /* its epoch; epochs without improvement
					   * since the last plateau reduction */
	float log_sigma, log_sigma_m, log_sigma_v; /* learned log σ and its Adam moments */
	uint32_t planned_epochs;         /* the run's --epochs (0: not recorded) */
	uint32_t objective;              /* objective.h's registry index (0: elbo) */
	float obj_alpha, obj_lambda;     /* its weights α (infovae, tcvae) and λ (wae-mmd, infovae) */
	float obj_beta, obj_gamma;       /* β and γ (tcvae) */
	char desc[VK_DESC_MAX + 1];
} vk_trainrec;

typedef struct {
	int present;
	vk_adam adam;
	float *m, *v;   /* n_params each */
	vk_rng rng;
} vk_optstate;

/* Where training stands within an epoch, kept by a checkpoint (its meaning
 * belongs to the trainer, train.h): batches done (0 at an epoch boundary),
 * the epoch's loss sums so far, and the generator as it was when the epoch
 * began, from which its shuffle is regenerated on resume. */
typedef struct {
	uint64_t batches;
	double rec_sum, kl_sum;
	vk_rng epoch_rng;
} vk_epoch_pos;

/* Write or read the whole file, with the position within an epoch (pos may
 * be NULL: written as zeros, not read). Checkpoints go through train.h. */
int vk_model_write(const char *path, const vk_model *m, const vk_trainrec *t,
		   const vk_optstate *opt, const vk_epoch_pos *pos, vk_error *e);
int vk_model_read(const char *path, vk_model *m, vk_trainrec *t, vk_optstate *opt,
		  vk_epoch_pos *pos, vk_error *e);

/* The model's identity (formats/model.md): a 64-bit FNV-1a hash of its
 * architecture and parameters as format 3.0 writes them, stored in the file
 * and recorded by the files derived from the model (a prior). The same for
 * a model read from any version. */
uint64_t vk_model_identity(const vk_model *m);

/* opt may be NULL (or opt->present 0) to save parameters only. */
int vk_model_save(const char *path, const vk_model *m, const vk_trainrec *t,
		  const vk_optstate *opt, vk_error *e);
/* Load and check everything. t and opt may be NULL; when opt is given and the
 * file has optimiser state, opt->m and opt->v are allocated. */
int vk_model_load(const char *path, vk_model *m, vk_trainrec *t, vk_optstate *opt,
		  vk_error *e);

#endif
