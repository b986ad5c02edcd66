/* The (C)VAE's latent step: a diagonal Gaussian posterior q(z|x) = N(μ, σ²)
 * with the head (n, 2Z) = μ | log σ², the prior N(0, I), its KL (and free
 * bits), and importance weights. The elementwise kernels (vk_reparam,
 * vk_reparam_backward, vk_kl_dims) are the numeric core's (nn.c), where they
 * are vectorised; this file is their only caller. */
#include "latents.h"

#include <math.h>
#include <string.h>

#include "nn.h"

/* log q(z|x) − log p(z) of one dimension of a draw z = μ + σε, in the
 * precision of its arguments: ½(z² − ε² − log σ²) (the ½ log 2π terms
 * cancel). The importance weight's one formula, for training and evaluation. */
#define LOG_RATIO(z, e, lv) (((z) * (z) - (e) * (e) - (lv)) / 2)

/* free bits: the batch's KL per dimension and the record count (Z + 1
 * doubles), then the weights (Z floats) */
static size_t gauss_scratch(int Z)
{
	return (size_t)Z + 1 + ((size_t)Z + 1) / 2;
}

static void gauss_sample(const vk_latent_ctx *c, float *z, int ldz, const float *head,
			 const float *eps, float *reg, int n, int Z)
{
	(void)c;
	vk_reparam(z, ldz, head, eps, reg, n, Z);
}

static void gauss_backward(float *dhead, const float *dz, int ldz, const float *head,
			   const float *eps, int n, int Z, const vk_latent_step *s)
{
	const float *klw = NULL;
	if (s->free_bits > 0) {
		/* Each dimension's KL weight from the whole batch's mean KL in it,
		 * summed over every slice and rank in a fixed order: the weights do
		 * not depend on the thread count. */
		double *sum = s->scratch;
		float *w = (float *)(sum + Z + 1);
		memset(sum, 0, sizeof(double) * Z);
		vk_kl_dims(head, n, Z, sum);
		sum[Z] = n;
		vk_reduce(s->red, s->slice, sum, Z + 1);
		for (int j = 0; j < Z; j++)
			w[j] = sum[j] / sum[Z] < s->free_bits ? 0.0f : s->beta;
		klw = w;
	}
	vk_reparam_backward(dhead, dz, ldz, head, eps, n, Z, s->beta, klw, s->scale);
}

static void gauss_iw_sample(float *z, int ldz, const float *head, const float *eps, float *lr,
			    int n, int K, int Z)
{
	for (int r = 0; r < n; r++) {
		const float *lv = head + (size_t)r * 2 * Z + Z;
		for (int k = 0; k < K; k++) {
			int row = r * K + k;
			const float *er = eps + (size_t)row * Z;
			float *zr = z + (size_t)row * ldz, s = 0.0f;
			vk_reparam(zr, ldz, head + (size_t)r * 2 * Z, er, NULL, 1, Z);
			for (int j = 0; j < Z; j++)
				s += LOG_RATIO(zr[j], er[j], lv[j]);
			lr[row] = s;
		}
	}
}

static void gauss_iw_backward(float *dhead, const float *dz, int ldz, const float *z,
			      const float *head, const float *eps, const float *wt, int n, int K,
			      int Z, float scale)
{
	for (int r = 0; r < n; r++) {
		const float *lv = head + (size_t)r * 2 * Z + Z;
		float *dmu = dhead + (size_t)r * 2 * Z, *dlv = dmu + Z;
		for (int j = 0; j < Z; j++) {
			float sd = sqrtf(vk_expf(lv[j])), gm = 0.0f, gl = 0.0f;
			for (int k = 0; k < K; k++) {
				int row = r * K + k;
				float ws = wt[row] * scale, zj = z[(size_t)row * ldz + j];
				/* d/dz of the decoder's term and of ½z²; dz/dμ = 1, dz/dlog σ² = ½σε;
				 * and the −½ log σ² of log q directly */
				float gz = dz[(size_t)row * ldz + j] + ws * zj;
				gm += gz;
				gl += gz * 0.5f * sd * eps[(size_t)row * Z + j] - 0.5f * ws;
			}
			dmu[j] = gm;
			dlv[j] = gl;
		}
	}
}

static void gauss_draw(float *z, const float *head, const float *eps, int Z)
{
	for (int j = 0; j < Z; j++)
		z[j] = head[j] + expf(0.5f * head[Z + j]) * eps[j];
}

static double gauss_log_weight(const float *head, const float *eps, const float *z, int Z)
{
	double s = 0;
	for (int j = 0; j < Z; j++)
		s += LOG_RATIO((double)z[j], (double)eps[j], (double)head[Z + j]);
	return -s;
}

static double gauss_kl_dim(const float *head, int Z, int j)
{
	double lv = head[Z + j];
	return -0.5 * VK_GAUSS_NEG2KL((double)head[j], lv, exp(lv));
}

const vk_latent_kind vk_latent_gaussian = {
	.name = "gaussian",
	.head_per_dim = 2,
	.noise = 1,
	.has_kl = 1,
	.scratch = gauss_scratch,
	.sample = gauss_sample,
	.backward = gauss_backward,
	.iw_sample = gauss_iw_sample,
	.iw_backward = gauss_iw_backward,
	.log_weight = gauss_log_weight,
	.draw = gauss_draw,
	.kl_dim = gauss_kl_dim,
	.prior = vk_prior_std_normal,
};
