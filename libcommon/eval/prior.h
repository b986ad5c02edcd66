/* The prior file (formats/prior.md): a Gaussian mixture over a model's
 * latent space (gmm.h), with the identity of the model it was fitted on. */
#ifndef VK_PRIOR_H
#define VK_PRIOR_H

#include "gmm.h"

/* The prior file: written atomically (path NULL or "-" is stdout, refused
 * on a terminal); read with every field, the size and the CRC-32 checked.
 * Messages name the file (path NULL or "-" reads stdin). */
int vk_gmm_save(const char *path, const vk_gmm *g, vk_error *e);
int vk_gmm_load(const char *path, vk_gmm *g, vk_error *e);
/* The same on bytes (exposed for the tests and a fuzzer); name for messages.
 * encode mallocs *buf. */
int vk_gmm_encode(const vk_gmm *g, unsigned char **buf, size_t *len, vk_error *e);
int vk_gmm_decode(const unsigned char *buf, size_t len, const char *name, vk_gmm *g,
		  vk_error *e);

#endif
