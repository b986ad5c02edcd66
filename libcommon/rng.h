/* The one seeded pseudo-random generator: xoshiro256** seeded by splitmix64.
 * Its state lives in whoever owns the run (a training run, a sampler), never in
 * a global, so results are reproducible under --seed and can be checkpointed. */
#ifndef VK_RNG_H
#define VK_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	uint64_t s[4];
} vk_rng;

void vk_rng_seed(vk_rng *r, uint64_t seed);
uint64_t vk_rng_next(vk_rng *r);
/* Uniform in [0, 1). */
float vk_rng_uniform(vk_rng *r);
/* Uniform integer in [0, n), n > 0, without modulo bias. */
uint64_t vk_rng_below(vk_rng *r, uint64_t n);
/* Standard normal, N(0, 1). */
float vk_rng_normal(vk_rng *r);
/* Fill out[0..n) with standard normal draws (pairs from one Box–Muller step). */
void vk_rng_normals(vk_rng *r, float *out, size_t n);
/* Fisher–Yates shuffle of an index array. */
void vk_rng_shuffle(vk_rng *r, uint32_t *idx, size_t n);

/* The standard normal's inverse CDF Φ⁻¹(p), p in (0,1) (Acklam's rational
 * approximation refined by one Newton step; error below 1e-9). */
double vk_normal_quantile(double p);

#endif
