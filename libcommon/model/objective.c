/* The registry of objectives (objective.h). */
#include "objective.h"

#include <string.h>

static const vk_objective_kind *const objectives[] = {
	&vk_objective_elbo,
	&vk_objective_wae_mmd,
	&vk_objective_infovae,
	&vk_objective_tcvae,
};

#define COUNT (sizeof objectives / sizeof objectives[0])

const vk_objective_kind *vk_objective_at(int i)
{
	return i >= 0 && (size_t)i < COUNT ? objectives[i] : NULL;
}

const vk_objective_kind *vk_objective_named(const char *name)
{
	for (size_t i = 0; i < COUNT; i++)
		if (!strcmp(objectives[i]->name, name))
			return objectives[i];
	return NULL;
}
