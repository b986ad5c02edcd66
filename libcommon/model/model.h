/* The models: AE, VAE and conditional VAE as one parameter block plus a
 * description of their dense layers, and the batch computations on them.
 * Uses the numeric core (nn.h); knows nothing of files (modelfile.h). */
#ifndef VK_MODEL_H
#define VK_MODEL_H

#include <stdint.h>
#include "err.h"
#include "latents.h"
#include "conv.h"
#include "layers.h"
#include "nn.h"
#include "rng.h"

/* Model kinds and likelihoods by their numbers in model files; what each
 * means is in its table (latents.h), the only place that tests them. */
enum vk_kind { VK_AE = 1, VK_VAE = 2, VK_CVAE = 3, VK_VQVAE = 4, VK_PIXELCNN = 5, VK_CPIXELCNN = 6 };
enum vk_likelihood { VK_BERNOULLI = 1, VK_GAUSSIAN = 2, VK_CATEGORICAL = 3 };
#define VK_MAX_CODES 65536 /* a codebook's codes, a categorical likelihood's classes */
#define VK_MAX_CLASSES 4096

/* What a model is: its kind, its input, and the layers of its encoder and
 * decoder as the user gave them. The model adds the encoder's head (a dense
 * layer to μ | log σ², or to the AE's code) and the decoder's output layer
 * (to logits or means of the input's shape). */
typedef struct vk_arch {
	int kind;
	int input_rank;
	uint32_t input_dims[4];
	int input_size;               /* D: product of input_dims */
	int n_enc, n_dec;
	vk_layer_spec enc[VK_MAX_LAYERS], dec[VK_MAX_LAYERS];
	int latent;                   /* Z */
	int classes;                  /* C: one-hot width for a CVAE, else 0 */
	int label_scaled;             /* 1: the one-hot's set entry is √C (vk_label_value) */
	int likelihood;
	float sigma;                  /* Gaussian decoder's fixed σ */
	/* Codes: a discrete latent's codebook (vqvae) or a categorical
	 * likelihood's classes (a pixelcnn over a code stream); 0 in the other kinds: */
	int codes;                    /* K: the codebook's size */
	int codebook_ema;             /* 1: EMA codebook updates, else the codebook loss */
	float commitment;             /* β of the commitment term */
	float decay;                  /* the EMA's decay γ */
} vk_arch;

/* A built model: its layer lists (layers.h: each layer's shapes and
 * offsets), one parameter block and one block of layer state. */
typedef struct {
	vk_arch a;
	int n_enc, n_dec;             /* layers, with the head and the output layer */
	int end_enc, end_dec;         /* entries used: the layers, then their bodies */
	vk_layer enc[VK_MAX_ENTRIES], dec[VK_MAX_ENTRIES];
	size_t n_params, n_state;
	float *params, *grads;        /* parallel blocks of n_params */
	float *state;                 /* n_state: running statistics (none in dense, conv, deconv) */
	vk_shape code;                /* the code's shape (a map kind's encoder output; else flat Z) */
	size_t lat_p, lat_s;          /* where the latent kind's parameters and state begin:
				       * after the layers', to the blocks' ends */
} vk_model;

const char *vk_kind_name(int kind);
int vk_kind_parse(const char *name);
const char *vk_likelihood_name(int lik);

/* The model's input shape: an image for rank 2 (H×W, one channel) and 3
 * (H×W×C), else a flat vector. */
vk_shape vk_arch_input_shape(const vk_arch *a);
/* Set the input shape from a stream's dims. */
void vk_arch_set_input(vk_arch *a, int rank, const uint32_t *dims);
/* Dense encoder layers of the given widths and activation, the decoder their
 * mirror: the MLP of model format 1.0 and of --hidden. */
void vk_arch_mlp(vk_arch *a, const int *widths, int n, int act);
/* Check an architecture (every field in range). */
int vk_arch_check(const vk_arch *a, vk_error *e);
/* Build the layer lists (shapes checked; an error names the layer and both
 * shapes) and lay out the parameters (n_params), allocating nothing. */
int vk_model_build(vk_model *m, const vk_arch *a, vk_error *e);
/* vk_model_build, then allocate params and grads (zeroed). */
int vk_model_alloc(vk_model *m, const vk_arch *a, vk_error *e);
/* The value of the set entry of a CVAE's one-hot: √C when a->label_scaled, so
 * that each label column has unit mean square, like z's columns beside it
 * (the default since model format 2.1: at latent 8 it lifts prior samples'
 * class fidelity from 30% to 80%, bench/QUALITY-cvae.md); 1 in older models. */
float vk_label_value(const vk_arch *a);
/* Write the one-hot of labels[0..n) at column col of n rows of stride ld. */
void vk_put_onehot(const vk_arch *a, float *dst, int ld, int col, const int32_t *labels, int n);
/* Each kind's initial parameters (dense, conv, deconv: He (ReLU) or Xavier
 * (others) uniform weights, zero biases) and state. */
void vk_model_init_params(vk_model *m, vk_rng *rng);
void vk_model_free(vk_model *m);
/* Width of the encoder head: the latent kind's (2Z for a (C)VAE's μ and
 * log σ², Z for an AE's code and a VQ-VAE's map). */
int vk_head_width(const vk_arch *a);
/* The output shape of the encoder's layers (a map kind's code), or -1 with
 * a message: vae-train sets a vqvae's latent to its size. */
int vk_arch_encoder_out(const vk_arch *a, vk_shape *out, vk_error *e);

/* Per-batch buffers, allocated once for batches of at most cap records. */
typedef struct {
	int cap;
	float *cat;                       /* (cap, in+C) input of the encoder's label layer (CVAE) */
	float *act_enc[VK_MAX_ENTRIES];   /* encoder layer outputs; [n_enc − 1] is the head */
	float *z;                         /* (cap, Z+C) decoder input */
	float *eps;                       /* (cap, Z) */
	float *act_dec[VK_MAX_ENTRIES];   /* decoder layer outputs; [n_dec − 1] logits/means */
	float *priv_enc[VK_MAX_ENTRIES];  /* layers' private buffers (ops->priv), or NULL */
	float *priv_dec[VK_MAX_ENTRIES];
	float *grad[2];                   /* (cap, widest layer) gradient ping-pong */
	float *scratch;                   /* conv layers' lowering workspace */
	float *rec, *kl;                  /* (cap) per-record losses */
	float *in;                        /* (cap, W) an autoregressive model's input */
	/* 1 while a training batch runs (vk_batch_grad, vk_batch_grad_iw,
	 * vk_batch_forward): layers use batch statistics and update their state.
	 * 0 otherwise (encoding, decoding, evaluation): running statistics. */
	int train;
	vk_latent_step lat;               /* the latent's step: its scratch, and the
					   * reducer, slice and free bits a trainer sets */
	void *lat_buf;                    /* the latent kind's working buffer (its work) */
	double *counts;                   /* (codes) a discrete latent's code counts of the
					   * last training batch, all slices and ranks */
	/* 1 (vk_work_alloc's default): a training pass moves the layers' running
	 * statistics in the model's state. The trainer clears it in all its
	 * workers but the first, so that threads never write the state at once. */
	int state_update;
} vk_work;

/* Values the model's layers sum over a batch cut into slices in one
 * vk_reduce call at most (batchnorm: its state's size, plus one): a
 * trainer's reducer holds at least as many. */
size_t vk_model_reduce_width(const vk_model *m);

int vk_work_alloc(vk_work *w, const vk_model *m, int cap, vk_error *e);
/* The latent kind's parameters, state and geometry in m (w's buffer, or
 * none when w is NULL). */
vk_latent_ctx vk_latent_ctx_of(const vk_model *m, const vk_work *w);
/* The latent step of n records' heads (n, head width) into z (n, ldz) and
 * reg (n, or NULL): the latent kind's sample with m's parameters, eps NULL
 * for the code itself (vae-encode, evaluation). */
void vk_latent_sample(const vk_model *m, const vk_work *w, float *z, int ldz,
		      const float *head, const float *eps, float *reg, int n);

void vk_work_free(vk_work *w);

/* One training batch, or one slice of it: forward, loss, backward. x (n,D) in
 * [0,1]; labels (n) for a CVAE (checked by the caller), else NULL; eps (n,Z)
 * standard normal draws for a (C)VAE (ignored by an AE's latent). Writes into
 * grads (a block of n_params) the gradient of Σ(rec + β·KL)·scale over the n
 * records: scale = 1/batch gives the batch mean even when the batch is cut
 * into slices whose gradients are then summed. Per-record rec and kl stay in
 * w->rec, w->kl. Batch-wide terms (free bits: w->lat.free_bits) are summed
 * over the slices of w->lat.red, all of which must call this for the step,
 * a slice without rows with n = 0 (grads then zeroed). */
void vk_batch_grad(vk_model *m, vk_work *w, float *grads, const float *x,
		   const int32_t *labels, int n, float beta, const float *eps, float scale);

/* The forward pass and the loss alone, in training mode (w->rec, w->kl, the
 * head in w->act_enc[n_enc − 1]); the decoder's gradient w.r.t. its output
 * (times scale) is left in w->grad[0]. vk_batch_grad ends training mode. */
void vk_batch_forward(vk_model *m, vk_work *w, const float *x, const int32_t *labels, int n,
		      const float *eps, float scale);

/* The importance-weighted objective (Burda et al. 2015) of a (C)VAE with K
 * samples per record: Σ_r −log (1/K) Σ_k p(x|z_k) p(z_k) / q(z_k|x), times
 * scale, its gradient written into grads, with eps (n·K, Z) (row r·K + k is
 * record r's k-th draw). w must hold n·K rows (its cap). Per record, w->rec
 * gets the mean of the K reconstruction terms and w->kl the rest of the
 * bound, so rec + kl is the record's loss; at K = 1 the loss is the
 * single-sample ELBO rec + log q(z|x) − log p(z). */
void vk_batch_grad_iw(vk_model *m, vk_work *w, float *grads, const float *x,
		      const int32_t *labels, int n, int K, const float *eps, float scale);

/* Encode a batch: the head (n, head width) lands in w->act_enc[n_enc − 1]:
 * μ | log σ² for a VAE, z for an AE. Returns that pointer. */
const float *vk_encode(vk_model *m, vk_work *w, const float *x, const int32_t *labels, int n);

/* Decode z (n, Z) (labels for a CVAE): decoder means in [0,1] for Bernoulli
 * (sigmoid of the logits), the means for Gaussian. Returns (n, D). */
const float *vk_decode(vk_model *m, vk_work *w, const float *z, const int32_t *labels, int n);

/* Decode code maps through a discrete latent's codebook (a vqvae): idx
 * (n, P) code indices, each in 0 … codes − 1 (vk_check_codes), to the
 * decoder's means (n, D), as vk_decode. */
const float *vk_model_decode_codes(vk_model *m, vk_work *w, const int32_t *idx, int n);
/* The code maps of n records x (n, D): idx (n, P) their nearest codes. */
void vk_model_encode_codes(vk_model *m, vk_work *w, const float *x, int32_t *idx, int n);
/* -1 with a message unless every one of n values of idx is a code of m. */
int vk_check_codes(const vk_model *m, const int32_t *idx, size_t n, vk_error *e);
/* An autoregressive model's network on x (n, D) (labels (n) for a
 * conditional one, else NULL): the logits (n, W) of each position given
 * those before it. */
const float *vk_ar_forward(vk_model *m, vk_work *w, const float *x, const int32_t *labels,
			   int n);

/* The decoder alone, from w->z (its first Z columns hold z, then the one-hot
 * for a CVAE): the logits (Bernoulli) or means (Gaussian), (n, D). */
const float *vk_decoder_forward(vk_model *m, vk_work *w, int n);

#endif
