/* Convolution and transposed convolution over channels-last images, lowered
 * to cblas_sgemm (im2col / col2im, as Caffe and darknet do), a chunk of
 * output pixels (several images) per GEMM with a bounded column buffer.
 * Thin layers, a conv with one input channel or a deconv with one filter
 * against 16·n ≤ 64 channels on the other side, whose GEMMs degenerate, run
 * direct AVX-512 loops instead when built for it (conv.c says more).
 *
 * Images are batch-major and channels-last: x (B,H,W,C) row-major, so one
 * pixel's C channels are contiguous and a run of K pixels of one image row is
 * K·C contiguous floats: im2col copies such runs whole.
 *
 * conv:F:K:S ("same"): x (B,H,W,C) -> y (B,OH,OW,F), OH = ceil(H/S),
 *   y[b,oy,ox,f] = Σ_{ky,kx,c} x[b, oy·S−pad+ky, ox·S−pad+kx, c] · W[(ky,kx,c), f]
 *   with pad = (K−1)/2 and pixels outside the input read as zero. For odd K
 *   this is PyTorch Conv2d(C, F, K, stride=S, padding=(K−1)/2).
 *   W is (K·K·C, F), rows ordered (ky, kx, c).
 * deconv:F:K:S (transposed): x (B,H,W,C) -> y (B,H·S,W·S,F), the exact adjoint:
 *   y[b, i·S−pad+ky, j·S−pad+kx, f] += Σ_c x[b,i,j,c] · W[c, (ky,kx,f)]
 *   cropped to the output. For odd K this is PyTorch ConvTranspose2d(C, F, K,
 *   stride=S, padding=(K−1)/2, output_padding=S−1).
 *   W is (C, K·K·F), columns ordered (ky, kx, f).
 * Both add a bias b (F) and apply an activation (vk_bias_act_forward). */
#ifndef VK_CONV_H
#define VK_CONV_H

#include <stddef.h>

#include "err.h"
#include "shape.h"

enum { VK_CONV_SAME = 1, VK_CONV_TRANSPOSED = 2 };

/* vk_conv_geom_init checks the library's limits (shape.h): sides and
 * channels up to VK_MAX_WIDTH, kernel up to VK_MAX_KERNEL, stride up to
 * VK_MAX_STRIDE. */

typedef struct {
	int kind;    /* VK_CONV_SAME or VK_CONV_TRANSPOSED */
	int H, W, C; /* input */
	int F, K, S; /* filters, kernel, stride */
	int OH, OW;  /* output height, width (channels F) */
	int pad;     /* (K-1)/2 */
	/* Rows of the lowered matrix (output pixels for conv, input pixels for
	 * deconv) per GEMM: bounds the column buffer to about 512 KB while
	 * keeping each GEMM large. Set by vk_conv_geom_init; tests lower it to
	 * exercise chunk boundaries inside an image. Must be ≥ 1. */
	int chunk;
} vk_conv_geom;

/* Check and fill the geometry; -1 with one clear message on bad values. */
int vk_conv_geom_init(vk_conv_geom *g, int kind, int H, int W, int C, int F, int K, int S,
		      vk_error *e);
/* A deconv's output size other than H·S×W·S: the adjoint of a "same" conv
 * on OH×OW (⌈OH/S⌉ = H, ⌈OW/S⌉ = W), the last rows and columns cropped; for
 * odd K, PyTorch's ConvTranspose2d with output_padding OH − (H−1)·S − 1
 * (pythae's decoder goes 4 → 7 this way). -1 with a message otherwise. */
int vk_conv_geom_set_out(vk_conv_geom *g, int OH, int OW, vk_error *e);
/* Number of weights: K·K·C·F (the bias adds F). */
size_t vk_conv_weights(const vk_conv_geom *g);
/* Floats of workspace the pair needs for batches of up to B images
 * (allocated once by the caller; the same size serves any smaller batch). */
size_t vk_conv_workspace(const vk_conv_geom *g, int B);

/* y (B,OH,OW,F) = act(layer(x (B,H,W,C)) + b (F)); Wt as laid out above;
 * work holds vk_conv_workspace(g, B) floats. */
void vk_conv_forward(float *y, const float *x, const float *Wt, const float *b, float *work,
		     const vk_conv_geom *g, int B, int act);

/* Backward, given dy (B,OH,OW,F), the gradient of the loss w.r.t. y: dy is
 * overwritten with the gradient w.r.t. the pre-activation (as
 * vk_dense_backward does). Writes (not accumulates) dW (as Wt) and db (F);
 * writes dx (B,H,W,C) unless dx is NULL. x and y are the forward's input and
 * output. */
void vk_conv_backward(float *dx, float *dW, float *db, float *dy, const float *x, const float *y,
		      const float *Wt, float *work, const vk_conv_geom *g, int B, int act);

#endif
