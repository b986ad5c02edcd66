/* The ELBO: reconstruction plus β·KL (β-VAE's weight; 1 is the ELBO itself). */
#include "objective.h"

static float elbo_kl(const vk_objective_params *p) { return p->beta; }
static float elbo_mmd(const vk_objective_params *p)
{
	(void)p;
	return 0.0f;
}

const vk_objective_kind vk_objective_elbo = {
	.name = "elbo",
	.kl_weight = elbo_kl,
	.mmd_weight = elbo_mmd,
};
