/* The kinds a model is made of, each a table of operations in a file of its
 * own, listed by one registry (latents.c); no code outside them tests a kind:
 *
 *   the latent step between encoder and decoder (latent_none.c: the AE's
 *   code; latent_gaussian.c: the (C)VAE's diagonal Gaussian, its KL to
 *   N(0, I), free bits and importance weights; a discrete code next);
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
#include "err.h"
#include "reduce.h"
#include "rng.h"

struct vk_arch;

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
} vk_latent_step;

typedef struct {
	const char *name;
	int head_per_dim;  /* encoder outputs per latent dimension; the first Z
			    * columns of the head are the code (μ, the AE's z) */
	int noise;         /* ε values per latent dimension a draw takes (0: none) */
	int has_kl;        /* a regulariser to a prior: KL per record and dimension */
	/* doubles of scratch a slice's backward needs */
	size_t (*scratch)(int Z);
	/* z (n, ldz), its first Z columns, from head (n, H) and eps (n, Z·noise)
	 * (eps NULL: the code itself, z = μ); reg (n) unless NULL gets each
	 * record's regulariser (the KL to the prior; 0 without one). */
	void (*sample)(float *z, int ldz, const float *head, const float *eps, float *reg,
		       int n, int Z);
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
	/* z (Z): a draw from the prior at temperature T */
	void (*prior)(vk_rng *rng, float *z, int Z, float T);
} vk_latent_kind;

typedef struct {
	int id;            /* its number in model files (formats/model.md) */
	const char *name;
	int unit_targets;  /* targets must lie in [0, 1] */
	int has_sigma;     /* a σ: fixed, or learned (vae-train --sigma learned) */
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
} vk_lik_kind;

typedef struct {
	int id;            /* its number in model files */
	const char *name;
	const vk_latent_kind *latent;
	int conditional;   /* conditioned on a class: a one-hot beside x and z */
} vk_model_kind;

extern const vk_latent_kind vk_latent_none, vk_latent_gaussian;
extern const vk_lik_kind vk_lik_bernoulli, vk_lik_gaussian;

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

/* N(0, T²I): the prior of the Gaussian latent, and what vae-sample draws
 * for an AE, which has none. */
void vk_prior_std_normal(vk_rng *rng, float *z, int Z, float T);

#endif
