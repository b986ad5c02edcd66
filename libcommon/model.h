/* The models: AE, VAE and conditional VAE as one parameter block plus a
 * description of their dense layers, and the batch computations on them.
 * Uses the numeric core (nn.h); knows nothing of files (modelfile.h). */
#ifndef VK_MODEL_H
#define VK_MODEL_H

#include <stdint.h>
#include "err.h"
#include "nn.h"
#include "rng.h"

enum vk_kind { VK_AE = 1, VK_VAE = 2, VK_CVAE = 3 };
enum vk_likelihood { VK_BERNOULLI = 1, VK_GAUSSIAN = 2 };
#define VK_MAX_HIDDEN 8
#define VK_MAX_WIDTH 65536
#define VK_MAX_CLASSES 4096

typedef struct {
	int kind;
	int input_rank;
	uint32_t input_dims[4];
	int input_size;               /* D: product of input_dims */
	int n_hidden;
	int hidden[VK_MAX_HIDDEN];    /* encoder widths; the decoder mirrors them */
	int act;                      /* hidden activation */
	int latent;                   /* Z */
	int classes;                  /* C: one-hot width for a CVAE, else 0 */
	int likelihood;
	float sigma;                  /* Gaussian decoder's fixed σ */
} vk_arch;

typedef struct {
	int in, out, act;
	size_t w, b;                  /* offsets of W (in,out) and b (out) in params */
} vk_layer;

typedef struct {
	vk_arch a;
	int n_enc, n_dec;
	vk_layer enc[VK_MAX_HIDDEN + 1], dec[VK_MAX_HIDDEN + 1];
	size_t n_params;
	float *params, *grads;        /* parallel blocks of n_params */
} vk_model;

const char *vk_kind_name(int kind);
int vk_kind_parse(const char *name);
const char *vk_likelihood_name(int lik);

/* Check an architecture (every field in range). */
int vk_arch_check(const vk_arch *a, vk_error *e);
/* Lay out the layers and allocate params and grads (zeroed). */
int vk_model_alloc(vk_model *m, const vk_arch *a, vk_error *e);
/* He (ReLU) or Xavier (others) uniform weights, zero biases. */
void vk_model_init_params(vk_model *m, vk_rng *rng);
void vk_model_free(vk_model *m);
/* Width of the encoder head: 2Z for a (C)VAE (μ and log σ²), Z for an AE. */
int vk_head_width(const vk_arch *a);

/* Per-batch buffers, allocated once for batches of at most cap records. */
typedef struct {
	int cap;
	float *xin;                       /* (cap, D+C) encoder input with one-hot (CVAE) */
	float *act_enc[VK_MAX_HIDDEN + 1]; /* encoder layer outputs; last is the head */
	float *z;                         /* (cap, Z+C) decoder input */
	float *eps;                       /* (cap, Z) */
	float *act_dec[VK_MAX_HIDDEN + 1]; /* decoder layer outputs; last is logits/means */
	float *grad[2];                   /* (cap, widest layer) gradient ping-pong */
	float *rec, *kl;                  /* (cap) per-record losses */
} vk_work;

int vk_work_alloc(vk_work *w, const vk_model *m, int cap, vk_error *e);
void vk_work_free(vk_work *w);

/* One training batch, or one slice of it: forward, loss, backward. x (n,D) in
 * [0,1]; labels (n) for a CVAE (checked by the caller), else NULL; eps (n,Z)
 * standard normal draws for a (C)VAE, NULL for an AE. Writes into grads (a
 * block of n_params) the gradient of Σ(rec + β·KL)·scale over the n records:
 * scale = 1/batch gives the batch mean even when the batch is cut into slices
 * whose gradients are then summed. Per-record rec and kl stay in w->rec, w->kl. */
void vk_batch_grad(vk_model *m, vk_work *w, float *grads, const float *x,
		   const int32_t *labels, int n, float beta, const float *eps, float scale);

/* Evaluate a batch without gradients: w->rec, w->kl per record. With rng,
 * z is sampled once (the usual ELBO estimate); with NULL, z = μ. */
void vk_batch_eval(vk_model *m, vk_work *w, const float *x, const int32_t *labels, int n,
		   vk_rng *rng);

/* Encode a batch: the head (n, head width) lands in w->act_enc[n_hidden]:
 * μ | log σ² for a VAE, z for an AE. Returns that pointer. */
const float *vk_encode(vk_model *m, vk_work *w, const float *x, const int32_t *labels, int n);

/* Decode z (n, Z) (labels for a CVAE): decoder means in [0,1] for Bernoulli
 * (sigmoid of the logits), the means for Gaussian. Returns (n, D). */
const float *vk_decode(vk_model *m, vk_work *w, const float *z, const int32_t *labels, int n);

/* The decoder alone, from w->z (its first Z columns hold z, then the one-hot
 * for a CVAE): the logits (Bernoulli) or means (Gaussian), (n, D). */
const float *vk_decoder_forward(vk_model *m, vk_work *w, int n);

#endif
