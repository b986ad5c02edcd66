/* The AE's latent step: the encoder's head is the code z itself; no noise,
 * no regulariser, no posterior to weight. */
#include "latents.h"

#include <string.h>

static size_t none_scratch(int Z)
{
	(void)Z;
	return 0;
}

/* z (n, ldz) = head (n, Z); reg = 0 */
static void none_sample(const vk_latent_ctx *c, float *z, int ldz, const float *head,
			const float *eps, float *reg, int n, int Z)
{
	(void)c, (void)eps;
	for (int r = 0; r < n; r++)
		memcpy(z + (size_t)r * ldz, head + (size_t)r * Z, sizeof(float) * Z);
	if (reg)
		memset(reg, 0, sizeof(float) * n);
}

/* dhead (n, Z) = dz (n, ldz)'s first Z columns */
static void none_backward(float *dhead, const float *dz, int ldz, const float *head,
			  const float *eps, int n, int Z, const vk_latent_step *s)
{
	(void)head, (void)eps, (void)s;
	for (int r = 0; r < n; r++)
		memcpy(dhead + (size_t)r * Z, dz + (size_t)r * ldz, sizeof(float) * Z);
}

const vk_latent_kind vk_latent_none = {
	.name = "none",
	.head_per_dim = 1,
	.scratch = none_scratch,
	.sample = none_sample,
	.backward = none_backward,
	/* no prior: vae-sample decodes N(0, I) draws, as it always has */
	.prior = vk_prior_std_normal,
};
