/* The kinds a model is made of, each a table of operations in a file of its
 * own, listed by one registry (latents.c); no code outside them tests a kind:
 *
 *   the latent step between encoder and decoder (latent_none.c: the AE's
 *   code; latent_gaussian.c: the (C)VAE's diagonal Gaussian, its KL to
 *   N(0, I), free bits and importance weights; latent_vq.c: the VQ-VAE's
 *   nearest-code quantisation of the encoder's output map, with a codebook
 *   of its own: a kind may own parameters and state, which the model lays
 *   out after the layers' in its blocks, trains with them and saves);
 *   the decoder's likelihood p(x|z) (lik_bernoulli.c; lik_gaussian.c with a
 *   fixed or learned σ; per-pixel σ or a discretised logistic next);
 *   the model kinds of the file format (ae, vae, cvae): a latent kind, and
 *   whether the model is conditioned on a class (a CVAE's one-hot joins the
 *   encoder's first dense layer and the decoder's input: a property of the
 *   model, handled by model.c whatever the latent kind).
 *
 * Shapes in comments as in nn.h: n records, Z latent dimensions, H the
 * encoder head's width (head_per_dim·Z), ldz the stride of z's rows (the
 * decoder's input: z, then a CVAE's one-hot). */
#ifndef VK_LATENTS_H
#define VK_LATENTS_H

#include <stddef.h>
#include <stdint.h>
#include "err.h"
#include "reduce.h"
#include "rng.h"
#include "shape.h"

struct vk_arch;

/* What a kind that owns parameters works on (vk_latent_ctx_of builds it
 * from a model): the code's shape, its parameters and state in the model's
 * blocks, and a batch's working buffer. Kinds without parameters ignore it. */
typedef struct vk_latent_ctx {
	const struct vk_arch *a;
	vk_shape map;      /* the code's shape: the encoder's output map H'xW'xD of a
			    * kind with .map (a flat D is one position), else flat Z */
	float *P;          /* its parameters (NULL: none) */
	float *S;          /* its state (NULL: none) */
	void *buf;         /* work(cap) bytes kept from sample to backward (NULL: none,
			    * as when a tool encodes outside a model's work buffers) */
} vk_latent_ctx;

/* What a latent step's backward pass gets from the training step. */
typedef struct {
	float beta;        /* the regulariser's weight this step */
	float free_bits;   /* λ > 0: a dimension whose mean KL over the whole batch is
			    * below λ nats gets no KL gradient (Kingma et al. 2016) */
	float scale;       /* the gradient's scale: 1/(the global batch's records) */
	vk_reducer *red;   /* the step's slices and ranks (NULL: one slice, one rank) */
	int slice;         /* this slice's index in red */
	double *scratch;   /* latent->scratch(Z) doubles, this slice's own */
	/* An MMD between the batch's codes z and prior draws (objective.h: WAE-MMD,
	 * InfoVAE), added to the loss with weight mmd_weight when that is not 0;
	 * set by the caller with the batch's geometry: */
	float mmd_weight;
	const float *prior;   /* (batch, Z) prior draws, the same in every slice */
	int row0, batch;      /* this slice's first row in the batch; the batch's rows */
	double *mmd_scratch;  /* vk_mmd_scratch(batch, Z) doubles; red holds batch·Z */
	double mmd;           /* out: the batch's MMD of the last step */
	/* β-TCVAE's MI, TC and dimension-wise KL of the batch (objective.h:
	 * vk_tc_mws), weighted tc_w (α, β, γ), when tc_scratch is set: */
	float tc_w[3];
	double tc_n;          /* N: the data set's records */
	double *tc_scratch;   /* vk_tc_scratch(batch, Z) doubles; red holds 3·batch·Z */
	float *tc_dhead;      /* (rows, 2Z): the terms' gradient w.r.t. the head itself */
	double tc[3];         /* out: the batch's MI, TC and dimension-wise KL */
	/* A kind with parameters: */
	const vk_latent_ctx *ctx;
	float *G;             /* their gradient in this slice's block (written, not added) */
	int update_state;     /* this slice writes the kind's state (one writer a step) */
	double *counts;       /* a discrete kind's code counts over the whole batch,
			       * written by backward (codes doubles; NULL: not wanted) */
} vk_latent_step;

typedef struct {
	const char *name;
	int head_per_dim;  /* encoder outputs per latent dimension; the first Z
			    * columns of the head are the code (μ, the AE's z) */
	int noise;         /* ε values per latent dimension a draw takes (0: none) */
	int has_kl;        /* a regulariser to a prior: KL per record and dimension */
	int map;           /* 1: the code is the encoder's output map itself, in its
			    * shape: the model adds no head, the decoder starts from
			    * that shape, and Z is its size */
	/* The kind's own fields of the architecture (codes, ...) in range
	 * (NULL: the kind has none, and they must be 0). */
	int (*check)(const struct vk_arch *a, vk_error *e);
	/* Parameters and state floats it owns (NULL: none); its parameters'
	 * initial values and state (rng: the run's generator). */
	size_t (*n_params)(const struct vk_arch *a, vk_shape map);
	size_t (*n_state)(const struct vk_arch *a, vk_shape map);
	void (*init)(const vk_latent_ctx *c, vk_rng *rng);
	/* Bytes of the working buffer for batches of cap records (NULL: none);
	 * values it sums over a batch cut into slices in one vk_reduce call. */
	size_t (*work)(const struct vk_arch *a, vk_shape map, int cap);
	size_t (*reduce_width)(const struct vk_arch *a, vk_shape map);
	/* doubles of scratch a slice's backward needs */
	size_t (*scratch)(int Z);
	/* z (n, ldz), its first Z columns, from head (n, H) and eps (n, Z·noise)
	 * (eps NULL: the code itself, z = μ); reg (n) unless NULL gets each
	 * record's regulariser (the KL to the prior; VQ's codebook and
	 * commitment terms; 0 without one). c: the kind's parameters (ignored
	 * by a kind without). */
	void (*sample)(const vk_latent_ctx *c, float *z, int ldz, const float *head,
		       const float *eps, float *reg, int n, int Z);
	/* dhead (n, H) from dz (n, ldz), the decoder's gradient w.r.t. z, plus
	 * the gradient of β·reg, times s->scale. Batch-wide terms go through
	 * s->red: every slice of the step calls this, with n ≥ 0 rows. */
	void (*backward)(float *dhead, const float *dz, int ldz, const float *head,
			 const float *eps, int n, int Z, const vk_latent_step *s);

	/* Importance weighting (NULL for a kind without a posterior). */
	/* K draws per record: z row r·K + k from head row r and eps row r·K + k;
	 * lr (n·K) gets log q(z|x) − log p(z) of each draw (float: training). */
	void (*iw_sample)(float *z, int ldz, const float *head, const float *eps, float *lr,
			  int n, int K, int Z);
	/* dhead (n, H) from dz (n·K, ldz), already weighted by each draw's
	 * normalised weight wt (n·K) times scale, plus the gradient of
	 * Σ wt·scale·(log q − log p). */
	void (*iw_backward)(float *dhead, const float *dz, int ldz, const float *z,
			    const float *head, const float *eps, const float *wt, int n, int K,
			    int Z, float scale);
	/* log p(z) − log q(z|x) of one draw z (Z) = sample(head, eps), in double
	 * (evaluation) */
	double (*log_weight)(const float *head, const float *eps, const float *z, int Z);

	/* z (Z): one draw from q(z|x) of one record's head with eps (Z·noise),
	 * as vae-encode --sample writes it (NULL without noise). The same
	 * reparameterisation as sample's, with libm's exp: encodings stay byte
	 * for byte those of earlier releases. */
	void (*draw)(float *z, const float *head, const float *eps, int Z);
	/* KL to the prior of dimension j of one record's head, in double (NULL
	 * without a regulariser) */
	double (*kl_dim)(const float *head, int Z, int j);
	/* z (Z): a draw from the prior at temperature T (NULL: none, as VQ's,
	 * whose prior is a model of its own over code maps) */
	void (*prior)(vk_rng *rng, float *z, int Z, float T);

	/* A discrete kind (NULL otherwise): idx (n, P) the nearest code of each
	 * of the P positions of n records' heads; z (n, ldz) the code vectors of
	 * idx (each in 0 … codes − 1, checked by the caller). */
	void (*codes)(const vk_latent_ctx *c, int32_t *idx, const float *head, int n);
	void (*embed)(const vk_latent_ctx *c, float *z, int ldz, const int32_t *idx, int n);
	/* counts (codes): the usage the kind keeps in its state (VQ: the EMA of
	 * each code's uses a batch) */
	void (*usage)(const vk_latent_ctx *c, double *counts);
} vk_latent_kind;

typedef struct {
	int id;            /* its number in model files (formats/model.md) */
	const char *name;
	int unit_targets;  /* targets must lie in [0, 1] */
	int has_sigma;     /* a σ: fixed, or learned (vae-train --sigma learned) */
	int has_codes;     /* K classes (vk_arch.codes), kept in the model file's CATG */
	/* decoder outputs per record (D for a mean per value) */
	int (*out_width)(const struct vk_arch *a);
	/* its fields in range */
	int (*check)(const struct vk_arch *a, vk_error *e);
	/* rec (n) = −log p(x|out) of the decoder's output out (n, W) against x
	 * (n, D); grad (n, W) its gradient times scale unless NULL */
	void (*nll)(const struct vk_arch *a, const float *out, const float *x, float *grad,
		    float *rec, int n, float scale);
	/* out (n, W) to the mean of p(x|z), (n, D), in place */
	void (*mean)(const struct vk_arch *a, float *out, int n);
	/* the mean over b records of d rec/d log σ from their summed rec (a
	 * learned σ; NULL without one) */
	float (*dlog_sigma)(const struct vk_arch *a, double rec_sum, int b);
	/* An autoregressive model's input (n, W) from the data x (n, D), in the
	 * output's layout (NULL: the kind cannot be modelled so) */
	void (*expand)(const struct vk_arch *a, const float *x, float *in, int n);
	/* The targets x (n, dim) fit the kind, else -1 with a message naming
	 * name and the record (first + its row) (NULL: any value) */
	int (*check_rows)(const struct vk_arch *a, const float *x, size_t n, size_t dim,
			  uint64_t first, const char *name, vk_error *e);
} vk_lik_kind;

typedef struct {
	int id;            /* its number in model files */
	const char *name;
	const vk_latent_kind *latent;
	int conditional;   /* conditioned on a class: a one-hot beside x and z */
	/* no latent (Z = 0): the decoder's list alone models the input, read
	 * through its likelihood's expand, each position from those before it
	 * (a PixelCNN of masked convolutions, pixelcnn.h) */
	int autoregressive;
} vk_model_kind;

extern const vk_latent_kind vk_latent_none, vk_latent_gaussian, vk_latent_vq;
extern const vk_lik_kind vk_lik_bernoulli, vk_lik_gaussian, vk_lik_categorical;

/* The registry. NULL when unknown, or past the last (the _at forms, from 0). */
const vk_model_kind *vk_model_kind_at(int i);
const vk_lik_kind *vk_lik_at(int i);
const vk_model_kind *vk_model_kind_get(int id);
const vk_model_kind *vk_model_kind_named(const char *name);
const vk_lik_kind *vk_lik_get(int id);
const vk_lik_kind *vk_lik_named(const char *name);

/* An architecture's kinds (its kind and likelihood checked: vk_arch_check). */
const vk_latent_kind *vk_latent_of(const struct vk_arch *a);
const vk_lik_kind *vk_lik_of(const struct vk_arch *a);
/* A model conditioned on a class (a CVAE). */
int vk_conditional(const struct vk_arch *a);
/* A model without a latent that models its input position by position. */
int vk_autoregressive(const struct vk_arch *a);

/* N(0, T²I): the prior of the Gaussian latent, and what vae-sample draws
 * for an AE, which has none. */
void vk_prior_std_normal(vk_rng *rng, float *z, int Z, float T);

/* A discrete code's usage from counts (n) of each code: the perplexity
 * exp(−Σ p log p) of their frequencies (0 when all are 0) and the codes
 * never used. */
double vk_code_perplexity(const double *counts, int n, int *dead);

#endif
