/* The registry of kinds (latents.h): a new latent kind or likelihood is a file
 * plus a line here. */
#include "latents.h"

#include <math.h>
#include <string.h>

#include "model.h"

static const vk_model_kind model_kinds[] = {
	{VK_AE, "ae", &vk_latent_none, 0, 0},
	{VK_VAE, "vae", &vk_latent_gaussian, 0, 0},
	{VK_CVAE, "cvae", &vk_latent_gaussian, 1, 0},
	{VK_VQVAE, "vqvae", &vk_latent_vq, 0, 0},
	{VK_PIXELCNN, "pixelcnn", &vk_latent_none, 0, 1},
	{VK_CPIXELCNN, "cpixelcnn", &vk_latent_none, 1, 1},
};

static const vk_lik_kind *const liks[] = {&vk_lik_bernoulli, &vk_lik_gaussian,
					      &vk_lik_categorical};

#define COUNT(a) (sizeof(a) / sizeof(a)[0])

const vk_model_kind *vk_model_kind_at(int i)
{
	return i >= 0 && (size_t)i < COUNT(model_kinds) ? &model_kinds[i] : NULL;
}

const vk_lik_kind *vk_lik_at(int i)
{
	return i >= 0 && (size_t)i < COUNT(liks) ? liks[i] : NULL;
}

const vk_model_kind *vk_model_kind_get(int id)
{
	for (size_t i = 0; i < COUNT(model_kinds); i++)
		if (model_kinds[i].id == id)
			return &model_kinds[i];
	return NULL;
}

const vk_model_kind *vk_model_kind_named(const char *name)
{
	for (size_t i = 0; i < COUNT(model_kinds); i++)
		if (!strcmp(model_kinds[i].name, name))
			return &model_kinds[i];
	return NULL;
}

const vk_lik_kind *vk_lik_get(int id)
{
	for (size_t i = 0; i < COUNT(liks); i++)
		if (liks[i]->id == id)
			return liks[i];
	return NULL;
}

const vk_lik_kind *vk_lik_named(const char *name)
{
	for (size_t i = 0; i < COUNT(liks); i++)
		if (!strcmp(liks[i]->name, name))
			return liks[i];
	return NULL;
}

const vk_latent_kind *vk_latent_of(const vk_arch *a)
{
	const vk_model_kind *k = vk_model_kind_get(a->kind);
	return k ? k->latent : NULL;
}

const vk_lik_kind *vk_lik_of(const vk_arch *a)
{
	return vk_lik_get(a->likelihood);
}

int vk_conditional(const vk_arch *a)
{
	const vk_model_kind *k = vk_model_kind_get(a->kind);
	return k && k->conditional;
}

int vk_autoregressive(const vk_arch *a)
{
	const vk_model_kind *k = vk_model_kind_get(a->kind);
	return k && k->autoregressive;
}

void vk_prior_std_normal(vk_rng *rng, float *z, int Z, float T)
{
	vk_rng_normals(rng, z, Z);
	for (int j = 0; j < Z; j++)
		z[j] *= T;
}

double vk_code_perplexity(const double *counts, int n, int *dead)
{
	double total = 0, h = 0;
	int unused = 0;
	for (int k = 0; k < n; k++) {
		total += counts[k];
		unused += counts[k] <= 0;
	}
	if (dead)
		*dead = unused;
	if (total <= 0)
		return 0;
	for (int k = 0; k < n; k++)
		if (counts[k] > 0) {
			double p = counts[k] / total;
			h -= p * log(p);
		}
	return exp(h);
}
