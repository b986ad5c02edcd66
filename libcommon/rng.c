#include "rng.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void vk_rng_seed(vk_rng *r, uint64_t seed)
{
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t vk_rng_next(vk_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

float vk_rng_uniform(vk_rng *r)
{
	/* 24 high bits: every float in [0,1) on a 2^-24 grid. */
	return (vk_rng_next(r) >> 40) * (1.0f / 16777216.0f);
}

uint64_t vk_rng_below(vk_rng *r, uint64_t n)
{
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t x;
	do
		x = vk_rng_next(r);
	while (x >= limit);
	return x % n;
}

/* Box–Muller on doubles: u1 in (0,1] so log never sees 0. */
static void normal_pair(vk_rng *r, float *a, float *b)
{
	double u1 = ((vk_rng_next(r) >> 11) + 1) * (1.0 / 9007199254740992.0);
	double u2 = (vk_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
	double rad = sqrt(-2.0 * log(u1));
	*a = (float)(rad * cos(2 * M_PI * u2));
	*b = (float)(rad * sin(2 * M_PI * u2));
}

float vk_rng_normal(vk_rng *r)
{
	float a, b;
	normal_pair(r, &a, &b);
	return a;
}

void vk_rng_normals(vk_rng *r, float *out, size_t n)
{
	size_t i = 0;
	for (; i + 1 < n; i += 2)
		normal_pair(r, out + i, out + i + 1);
	if (i < n)
		out[i] = vk_rng_normal(r);
}

void vk_rng_shuffle(vk_rng *r, uint32_t *idx, size_t n)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = vk_rng_below(r, i);
		uint32_t t = idx[i - 1];
		idx[i - 1] = idx[j];
		idx[j] = t;
	}
}
