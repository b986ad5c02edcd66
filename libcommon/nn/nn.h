/* The numeric core: dense layers, activations, losses, the VAE latent, and
 * optimisers, over batch-major float32 arrays. Knows nothing of files.
 *
 * Shapes are given as (rows, cols) in comments; B is the batch size. A dense
 * layer's weight W is (in, out) row-major so that y = x·W is one cblas_sgemm
 * without transposes on the forward pass. */
#ifndef VK_NN_H
#define VK_NN_H

#include <stddef.h>
#include <stdint.h>

/* VK_HOT marks an elementwise kernel worth compiling per instruction set.
 * In a PORTABLE=1 build (-DVK_PORTABLE, baseline x86-64) gcc compiles it for
 * x86-64-v4 (AVX-512), x86-64-v3 (AVX2) and baseline, and the dynamic loader
 * picks one for the CPU once, at start-up (an ifunc); calls cost the same as
 * before. In a normal build (-march=native or an explicit ARCH) it is empty:
 * the whole program is already compiled for the target. */
#if defined(VK_PORTABLE) && defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define VK_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define VK_HOT
#endif

enum vk_act { VK_IDENTITY = 0, VK_RELU = 1, VK_SIGMOID = 2, VK_TANH = 3, VK_LEAKY = 4 };
#define VK_LEAKY_SLOPE 0.01f

const char *vk_act_name(int act);
int vk_act_parse(const char *name); /* -1 when unknown */

/* y (B,out) = act(x (B,in) · W (in,out) + b (out)) */
void vk_dense_forward(float *y, const float *x, const float *W, const float *b, int B, int in,
		      int out, int act);

/* y (rows,out) = act(y + b) in place: the cheap pass after any layer's GEMM
 * (a conv layer's rows are its output pixels, channels-last). */
void vk_bias_act_forward(float *y, const float *b, int rows, int out, int act);
/* Backward through that pass: dy (rows,out) becomes the gradient w.r.t. the
 * pre-activation (act' taken from the output y); writes db (out) = Σ_rows dy. */
void vk_bias_act_backward(float *dy, float *db, const float *y, int rows, int out, int act);

/* Backward through y = act(x·W + b), given dy (B,out), the gradient of the loss
 * with respect to y. dy is overwritten with the gradient w.r.t. the
 * pre-activation. Writes (not accumulates) dW (in,out) and db (out); writes
 * dx (B,in) unless dx is NULL (the first layer needs no input gradient). */
void vk_dense_backward(float *dx, float *dW, float *db, float *dy, const float *x,
		       const float *y, const float *W, int B, int in, int out, int act);

/* Apply act in place to n values. */
void vk_activate(float *y, size_t n, int act);
/* Backward through act: dy (n) becomes the gradient w.r.t. the input of the
 * activation, act' taken from its output y (n). */
void vk_act_backward(float *dy, const float *y, size_t n, int act);

/* Bernoulli decoder from logits l (B,D) against targets x (B,D) in [0,1]:
 * rec[r] = Σ_j softplus(l) − x·l  (= BCE(sigmoid(l), x), finite for any l).
 * When dl is not NULL, dl = (sigmoid(l) − x)·scale. */
void vk_bce_logits(const float *l, const float *x, float *dl, float *rec, int B, int D,
		   float scale);

/* Gaussian decoder with mean mu (B,D) and fixed sigma:
 * rec[r] = Σ_j (x − mu)² / (2σ²) + D/2 · log(2πσ²); dmu = (mu − x)/σ² · scale. */
void vk_gaussian_nll(const float *mu, const float *x, float *dmu, float *rec, int B, int D,
		     float sigma, float scale);

/* −2·KL(N(μ, σ²) ‖ N(0, 1)) of one dimension from μ, log σ² and σ², in the
 * precision of its arguments: the Gaussian KL's one formula (the float
 * per-record KL of vk_reparam, the double per-dimension KL of vk_kl_dims and
 * of the Gaussian latent kind). */
#define VK_GAUSS_NEG2KL(mu, lv, var) (1 + (lv) - (mu) * (mu) - (var))

/* The Gaussian latent's kernels (latent_gaussian.c calls them). head (B,2Z) holds μ in columns [0,Z) and log σ² in [Z,2Z).
 * z (B, ldz) receives μ + exp(½ log σ²)·eps in its first Z columns;
 * kl[r] = −½ Σ_j (1 + log σ² − μ² − σ²). */
void vk_reparam(float *z, int ldz, const float *head, const float *eps, float *kl, int B, int Z);
/* Gradient into dhead (B,2Z) from dz (B, ldz) and β·KL, both scaled by scale.
 * klw (Z), when not NULL, replaces β by a weight per latent dimension (free
 * bits: β or 0). */
void vk_reparam_backward(float *dhead, const float *dz, int ldz, const float *head,
			 const float *eps, int B, int Z, float beta, const float *klw, float scale);
/* Add each latent dimension's KL over the B rows of head (B,2Z) to sum (Z). */
void vk_kl_dims(const float *head, int B, int Z, double *sum);

/* One row i of β-TCVAE's minibatch-weighted sampling estimator (obj_tcvae.c
 * calls it): with L[d][j] = log N(z_d; μ_jd, σ²_jd), the log density of this
 * row's code z (Z) under each of the batch's B posteriors j, from mu, iv =
 * 1/σ² and c = −½(log σ² + log 2π), each (Z, ldb): transposed, a dimension a
 * row, so the loops run along the batch. out[0] = log Σ_j exp Σ_d L[d][j],
 * out[1] = Σ_d log Σ_j exp L[d][j]. When dz is not NULL, the gradient of
 * ws·out[0] + wd·out[1] + wq·Σ_d L[d][self] is added: ∂/∂z to dz (Z), ∂/∂μ
 * and ∂/∂log σ² of every j to dmu and dlv (Z, ldb). L (Z, ldb) and s (B) are
 * scratch. Terms below e^−80 of a row's largest count as 0. */
void vk_tc_row(const float *z, const float *mu, const float *iv, const float *c, int B, int ldb,
	       int Z, int self, float ws, float wd, float wq, float *L, float *s, double out[2],
	       float *dz, float *dmu, float *dlv);

/* One row of an MMD with the inverse multiquadratic kernel (obj_mmd.c calls
 * it): returns Σ_b k(x, y_b) over the B points y (Z, ldb), transposed (a
 * dimension a row), of k(x, y) = Σ_c C_c/(C_c + |x − y|²) over the nC scales
 * C; when g is not NULL adds f·∂/∂x of that sum to g (Z). t is scratch of
 * 2B. */
float vk_imq_row(const float *x, const float *y, int B, int ldb, int Z, const float *C, int nC,
		 float *g, float f, float *t);

/* Fast, vectorisable exp and softplus (relative error below 2e-7 in the ranges
 * the losses use); exposed for tests. */
float vk_expf(float x);
float vk_softplus(float x);

/* Optimisers over one flat parameter block. */
typedef struct {
	float lr, beta1, beta2, eps;
	uint64_t t; /* steps taken */
} vk_adam;

void vk_adam_init(vk_adam *o, float lr);
/* PyTorch's Adam update: p −= lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps). */
void vk_adam_step(vk_adam *o, float *p, const float *g, float *m, float *v, size_t n);
/* The update of step o->t (already counted) on one range of the parameters,
 * so threads can share a step. */
void vk_adam_apply(const vk_adam *o, float *p, const float *g, float *m, float *v, size_t n);
/* The same with the gradient given as the sum of two blocks g + h (two
 * workers' shares), saving a pass over memory. */
void vk_adam_apply2(const vk_adam *o, float *p, const float *g, const float *h, float *m,
		    float *v, size_t n);
void vk_sgd_step(float lr, float *p, const float *g, size_t n);

/* A zeroed block of n floats for parameters, gradients or optimiser moments:
 * 2 MiB-aligned and advised to use transparent huge pages, which saves TLB
 * misses in the passes over the whole block every step. NULL on failure;
 * release with free(). */
float *vk_alloc_floats(size_t n);

/* BLAS threads for the layers (OpenBLAS). */
void vk_set_threads(int n);

#endif
