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

double vk_normal_quantile(double p)
{
	static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
				   -2.759285104469687e+02, 1.383577518672690e+02,
				   -3.066479806614716e+01, 2.506628277459239e+00};
	static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
				   -1.556989798598866e+02, 6.680131188771972e+01,
				   -1.328068155288572e+01};
	static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
				   -2.400758277161838e+00, -2.549732539343734e+00,
				   4.374664141464968e+00, 2.938163982698783e+00};
	static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
				   2.445134137142996e+00, 3.754408661907416e+00};
	double q, x;
	if (p <= 0)
		return -INFINITY;
	if (p >= 1)
		return INFINITY;
	if (p < 0.02425) {
		q = sqrt(-2 * log(p));
		x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
		    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	} else if (p > 1 - 0.02425) {
		q = sqrt(-2 * log(1 - p));
		x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
		    ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
	} else {
		q = p - 0.5;
		double r = q * q;
		x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
		    (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
	}
	/* One Newton step on Φ(x) − p, with Φ from erfc. */
	double err = 0.5 * erfc(-x / sqrt(2)) - p;
	double u = err * sqrt(2 * M_PI) * exp(x * x / 2);
	return x - u / (1 + x * u / 2);
}
