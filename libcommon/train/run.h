/* A training run: the recipe (the model to build and how to train it) and
 * its carrying out, epoch by epoch — the learning-rate and KL schedules, the
 * test evaluation, early stopping and the plateau rule, a checkpoint after
 * every epoch and when asked to stop, and resume from one. vae-train fills
 * the recipe from its options, opens the run, and reports each epoch; the run
 * prints nothing (the progress meter aside) and returns its errors. */
#ifndef VK_RUN_H
#define VK_RUN_H

#include <signal.h>
#include "dataset.h"
#include "evaluate.h"
#include "train.h"

/* The options a user set (vk_recipe.given). On --resume the model and the
 * schedule come from the checkpoint; one of these set to another value than
 * the checkpoint's is refused (vk_run_open returns VK_RUN_USAGE). */
enum {
	VK_SET_KIND = 1 << 0, VK_SET_LATENT = 1 << 1, VK_SET_LAYERS = 1 << 2,
	VK_SET_LOSS = 1 << 3, VK_SET_SIGMA = 1 << 4, VK_SET_CLASSES = 1 << 5,
	VK_SET_BATCH = 1 << 6, VK_SET_LR = 1 << 7, VK_SET_OPTIMIZER = 1 << 8,
	VK_SET_BETA = 1 << 9, VK_SET_SEED = 1 << 10, VK_SET_WARMUP = 1 << 11,
	VK_SET_CYCLES = 1 << 12, VK_SET_FREE_BITS = 1 << 13, VK_SET_IW = 1 << 14,
	VK_SET_SCHEDULE = 1 << 15, VK_SET_EARLY_STOP = 1 << 16, VK_SET_EPOCHS = 1 << 17,
	VK_SET_OBJECTIVE = 1 << 18, /* --objective and its weights */
	VK_SET_CODEBOOK = 1 << 19,  /* --codes, --codebook, --commitment, --ema-decay */
};

typedef struct {
	/* The model: kind, latent size, likelihood, σ, classes (0: from the data),
	 * and the layers as given; the rest is built for the data's shape. */
	vk_arch arch;
	int conv;                /* Keras' conv VAE (--arch conv) */
	int resnet;              /* pythae's MNIST ResNet VAE (--arch resnet) */
	int decoder_given;       /* else the decoder mirrors the encoder */
	int vq_head;             /* a vqvae from --hidden: a dense code layer of D (latent)
				  * follows the user's; --arch conv, resnet end on a 1x1 conv
				  * of D; with --encoder the user's last layer gives D */
	/* How to train it: batch, lr, beta, seed, optimizer, the KL and lr
	 * schedules, early_stop, flags, the objective and its weights (the
	 * state fields are ignored). */
	vk_trainrec train;
	int epochs;              /* train until this many epochs in all */
	int threads;
	const char *output;      /* MODEL; under early_stop MODEL.last holds the last epoch */
	int resume;              /* continue the checkpoint in output */
	unsigned given;          /* VK_SET_*: the options the user set */
	unsigned codebook_given; /* of VK_SET_CODEBOOK: 1 --codes, 2 --codebook,
				  * 4 --commitment, 8 --ema-decay */
} vk_recipe;

/* A recipe with every default: a VAE of latent 20 with one dense layer of
 * 400 (relu), a Bernoulli decoder, 10 epochs of Adam at 1e-3 in batches of
 * 128, β 1, seed 1, no schedule. */
void vk_recipe_default(vk_recipe *r);

/* The figures of one epoch, for the caller's report and log. */
typedef struct {
	int epoch, epochs;
	double seconds;
	double train_rec, train_kl, test_rec, test_kl; /* nats per record; NaN untested */
	double train_mmd;        /* the batches' mean MMD to the prior (NaN: no MMD term) */
	double train_mi, train_tc, train_dim_kl; /* the batches' mean β-TCVAE terms (NaN: none) */
	double perplexity;       /* a discrete latent's code perplexity over the epoch (NaN: none) */
	int dead_codes;          /* its codes unused in the epoch (-1: none) */
	float beta, lr, sigma;   /* β, learning rate and σ in effect */
	int improved;            /* the test loss is the best so far */
	int early_stop;          /* the run stops here: no test improvement for P epochs */
} vk_epoch_report;

typedef struct {
	vk_recipe r;             /* the recipe in force (the checkpoint's on resume) */
	vk_trainrec rec;         /* the training record saved with every checkpoint */
	vk_model model;
	vk_trainer t;
	const vk_dataset *train, *test;
	vk_work eval;
	char last[4200];         /* MODEL.last under early_stop, else "" */
	const char *ckpt;        /* where each epoch's checkpoint goes */
	int lead;                /* this process writes the files (MPI rank 0) */
	int epoch;               /* the epoch in progress, or the next one */
	size_t done;             /* records of it done when the run stopped */
	int finished;            /* the last epoch or an early stop is behind */
} vk_run;

/* Returns of vk_run_open and vk_run_epoch besides 0 and -1. */
enum { VK_RUN_USAGE = -2, VK_RUN_EPOCH = 1, VK_RUN_STOPPED = 2 };

/* Build the model for the training data (or load the checkpoint in
 * r->output on resume, checking r against it: VK_RUN_USAGE when an option
 * the user set disagrees with it), check that the data fit it, and make the
 * trainer. A cvae's data are relabelled to the model's classes by name.
 * test may be NULL. The datasets must outlive the run. */
int vk_run_open(vk_run *run, const vk_recipe *r, vk_dataset *train, vk_dataset *test,
		vk_error *e);

/* Train the next epoch: VK_RUN_EPOCH with its figures in ep; 0 when the run
 * is over (all epochs, or an early stop, done); VK_RUN_STOPPED when *stop was
 * raised (a checkpoint holds where it stopped: run->epoch, run->done of the
 * training records, in run->ckpt); -1 on an error, a diverged loss included
 * (the last good checkpoint kept). */
int vk_run_epoch(vk_run *run, vk_epoch_report *ep, volatile sig_atomic_t *stop, vk_error *e);

void vk_run_free(vk_run *run);

#endif
