/* A PixelCNN prior over code maps (vae-train --model pixelcnn): drawing maps
 * from it, and the baseline it is measured against. The model itself is an
 * autoregressive model kind (latents.h) over a categorical likelihood; its
 * network is a list of masked convolutions (layer_mconv.c), its NLL is
 * vk_eval_batch's (evaluate.h). */
#ifndef VK_PIXELCNN_H
#define VK_PIXELCNN_H

#include <stdint.h>

#include "err.h"
#include "model.h"
#include "rng.h"

/* codes (n, P) = code maps first … first + n − 1 drawn from the model, each
 * position in raster order from softmax(logits / T) given the positions
 * drawn before it (T > 0; T = 1 the model's own distribution). Map i draws
 * from its own generator, seeded by (seed, i): the same maps however they
 * are cut into calls and batches (up to BLAS's rounding, which may round a
 * batch's rows differently). cls: the class of a conditional model
 * (cpixelcnn), 0 … C−1; −1 for an unconditioned one. -1 with a message when
 * m is not autoregressive, T is not positive, the class does not fit the
 * model or memory fails. */
int vk_pixelcnn_sample(vk_model *m, uint64_t seed, uint64_t first, int n, int cls, float T,
		       int32_t *codes, vk_error *e);

/* The prior fits the code maps of a model whose codebook has K codes and
 * whose code maps are H×W (a VQ-VAE's, for vae-sample --prior): 0, or -1
 * with one message naming prior_name and both codebook sizes (or both
 * shapes), or saying the prior is no pixelcnn. */
int vk_pixelcnn_fits(const vk_model *prior, int K, int H, int W, const char *prior_name,
		     vk_error *e);

/* The independent per-position categorical, the baseline a prior must beat:
 * counts (P, K) of each code at each position over training maps, and the
 * −log p of a map under the smoothed estimate p(k at i) = (c_ik + ½)/(N + K/2)
 * (Krichevsky–Trofimov: no code has probability 0). */
typedef struct {
	int P, K;
	uint64_t n;        /* maps counted */
	uint64_t *count;   /* (P, K) */
} vk_code_baseline;

int vk_code_baseline_init(vk_code_baseline *b, int P, int K, vk_error *e);
void vk_code_baseline_free(vk_code_baseline *b);
/* Count n maps x (n, P), codes in [0, K) (checked by the caller). */
void vk_code_baseline_add(vk_code_baseline *b, const float *x, int n);
/* −log p (nats) of one map x (P) under the fitted baseline. */
double vk_code_baseline_nll(const vk_code_baseline *b, const float *x);

#endif
