/* The elementwise kernels of nn.c against libm in double precision, over wide
 * input ranges: ±large, ±0, tiny and subnormal, and a dense sweep of the
 * range where the results are neither 0 nor 1. Errors are in units in the
 * last place (ulp) of the float nearest the exact value; the bounds are the
 * measured maxima (in brackets) rounded up with some margin:
 *
 *   vk_expf                      ≤ 2 ulp on [−87, 88]        [0.98]
 *   sigmoid (vk_activate)        ≤ 4 ulp for x ≥ −87         [2.6]
 *   tanh (vk_activate)           ≤ 3 ulp everywhere          [1.5]
 *   vk_softplus                  ≤ 4 ulp for x ≥ −87         [3.0]
 *
 * Below −87 the exp is clamped to exp(−87.3) ≈ 1.2e-38 (the smallest normal
 * float is 1.18e-38): sigmoid and softplus there return at most 2e-38 where
 * the exact value is a subnormal or 0, an absolute error below 2e-38. The
 * BCE loss and its gradient inherit the softplus and sigmoid bounds.
 *
 * Every kernel is run on rows of odd lengths, so both the vector body and
 * the scalar remainder of each loop are exercised, in whatever instruction
 * set this build targets (or, in a PORTABLE=1 build, the one the CPU gets). */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn.h"

/* The ulp of the float nearest r (subnormal spacing below FLT_MIN). */
static double ulp_of(double r)
{
	r = fabs(r);
	if (r < FLT_MIN)
		return ldexp(1, -149);
	int e;
	frexp(r, &e);
	return ldexp(1, e - 24);
}

static double ulps(float got, double want) { return fabs((double)got - want) / ulp_of(want); }

/* The test inputs: a dense sweep of [−100, 100], powers of two from 2^−149 to
 * 2^127 times a few mantissas, both signs, ±0 and ±FLT_MAX. */
static float *inputs(size_t *n)
{
	size_t cap = 400001 + 2 * 277 * 8 + 4, k = 0;
	float *x = malloc(cap * sizeof *x);
	cr_assert_not_null(x);
	for (int i = 0; i <= 400000; i++)
		x[k++] = -100.0f + 200.0f * (float)i / 400000.0f;
	static const float mant[] = {1.0f, 1.1f, 1.25f, 1.3333f, 1.5f, 1.75f, 1.9f, 1.999f};
	for (int e = -149; e <= 127; e++)
		for (int m = 0; m < 8; m++) {
			float v = ldexpf(mant[m], e);
			if (isfinite(v))
				x[k++] = v, x[k++] = -v;
		}
	x[k++] = 0.0f, x[k++] = -0.0f, x[k++] = FLT_MAX, x[k++] = -FLT_MAX;
	*n = k;
	return x;
}

static double ref_sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
static double ref_softplus(double x) { return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)); }

Test(kernels, exp_within_2_ulp_of_libm)
{
	size_t n;
	float *x = inputs(&n);
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		if (x[i] < -87.0f || x[i] > 88.0f) {
			float e = vk_expf(x[i]);
			/* clamped: tiny and non-negative below, huge above */
			if (x[i] < -87.0f)
				cr_assert(e >= 0 && e < 2e-38f, "exp(%g) = %g", x[i], e);
			else
				cr_assert(e > 1e38f, "exp(%g) = %g", x[i], e);
			continue;
		}
		double u = ulps(vk_expf(x[i]), exp((double)x[i]));
		cr_assert(u <= 2, "exp(%a): %g ulp", x[i], u);
		worst = fmax(worst, u);
	}
	cr_log_info("vk_expf: worst %.2f ulp", worst);
	free(x);
}

/* Apply act to every input as one vector (the hot loop), compare with ref. */
static void check_act(int act, double (*ref)(double), double bound, float from, const char *name)
{
	size_t n;
	float *x = inputs(&n), *y = malloc(n * sizeof *y);
	cr_assert_not_null(y);
	memcpy(y, x, n * sizeof *y);
	vk_activate(y, n, act);
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		double want = ref(x[i]);
		if (x[i] < from) {
			cr_assert(fabs(y[i] - want) < 2e-38, "%s(%g) = %g, want %g", name, x[i], y[i], want);
			continue;
		}
		double u = ulps(y[i], want);
		cr_assert(u <= bound, "%s(%a) = %a, want %a: %g ulp", name, x[i], y[i], want, u);
		worst = fmax(worst, u);
	}
	cr_log_info("%s: worst %.2f ulp", name, worst);
	free(x), free(y);
}

Test(kernels, sigmoid_within_4_ulp_of_libm)
{
	check_act(VK_SIGMOID, ref_sigmoid, 4, -87.0f, "sigmoid");
}

Test(kernels, tanh_within_3_ulp_of_libm) { check_act(VK_TANH, tanh, 3, -INFINITY, "tanh"); }

Test(kernels, tanh_and_sigmoid_exact_at_the_ends)
{
	float v[] = {0.0f, -0.0f, 1e-30f, -1e-30f, 100.0f, -100.0f, FLT_MAX, -FLT_MAX};
	float t[8], s[8];
	memcpy(t, v, sizeof v), memcpy(s, v, sizeof v);
	vk_activate(t, 8, VK_TANH);
	vk_activate(s, 8, VK_SIGMOID);
	cr_assert(t[0] == 0 && !signbit(t[0]) && t[1] == 0 && signbit(t[1]));
	cr_assert(t[2] == 1e-30f && t[3] == -1e-30f);
	cr_assert(t[4] == 1 && t[5] == -1 && t[6] == 1 && t[7] == -1);
	cr_assert(s[0] == 0.5f && s[1] == 0.5f && s[2] == 0.5f && s[3] == 0.5f);
	cr_assert(s[4] == 1 && s[6] == 1 && s[5] >= 0 && s[5] < 2e-38f && s[7] >= 0 && s[7] < 2e-38f);
}

Test(kernels, softplus_within_4_ulp_of_libm)
{
	size_t n;
	float *x = inputs(&n);
	double worst = 0;
	for (size_t i = 0; i < n; i++) {
		double want = ref_softplus(x[i]);
		float got = vk_softplus(x[i]);
		if (x[i] < -87.0f) {
			cr_assert(fabs(got - want) < 2e-38, "softplus(%g) = %g", x[i], got);
			continue;
		}
		double u = ulps(got, want);
		cr_assert(u <= 4, "softplus(%a) = %a, want %a: %g ulp", x[i], got, want, u);
		worst = fmax(worst, u);
	}
	cr_log_info("softplus: worst %.2f ulp", worst);
	free(x);
}

/* BCE from logits over rows of an odd length: each term is a softplus
 * (≤ 4 ulp) minus x·l, the gradient (σ(l) − x)·scale. The row sum is
 * compared with the double sum of the exact terms, relative to the sum of
 * their magnitudes: within 1e-6 of it (the float sum's worst-case rounding
 * is D·2^−24 ≈ 6e-5 of it; in practice far less). */
Test(kernels, bce_logits_against_double)
{
	enum { B = 7, D = 1001 };
	static float l[B * D], x[B * D], dl[B * D], rec[B], rec2[B];
	size_t n;
	float *in = inputs(&n);
	for (int i = 0; i < B * D; i++) {
		l[i] = in[(size_t)i * 389 % n];
		if (!(fabsf(l[i]) < 1e4f)) /* the loss is used on finite logits */
			l[i] = copysignf(1e4f, l[i]);
		x[i] = (float)(i % 11) / 10.0f;
	}
	const float scale = 0.25f;
	vk_bce_logits(l, x, dl, rec, B, D, scale);
	vk_bce_logits(l, x, NULL, rec2, B, D, scale);
	for (int r = 0; r < B; r++) {
		double sum = 0, mag = 0;
		for (int j = 0; j < D; j++) {
			int i = r * D + j;
			double term = ref_softplus(l[i]) - (double)x[i] * l[i];
			sum += term, mag += fabs(ref_softplus(l[i])) + fabs((double)x[i] * l[i]);
			double p = ref_sigmoid(l[i]), want = (p - x[i]) * scale;
			/* σ(l) within 4 ulp, then one subtraction and one product */
			double tol = (4 * ulp_of(p) + ulp_of(p - x[i]) + 1e-45) * scale + ulp_of(want);
			cr_assert(fabs(dl[i] - want) <= tol + 2e-38, "dl(%a, x %g) = %a, want %a", l[i],
				  x[i], dl[i], want);
		}
		cr_log_info("bce row %d: error %.3g of the magnitudes", r, fabs(rec[r] - sum) / mag);
		cr_assert(fabs(rec[r] - sum) <= 1e-6 * mag,
			  "row %d: rec %.9g, want %.9g", r, rec[r], sum);
		cr_assert(rec2[r] == rec[r], "the loss without the gradient differs");
	}
	free(in);
}

/* The bias and activation pass: each element exactly act(y + b), and the
 * backward pass exactly the formulas it documents (the same bits as the
 * scalar expressions), with db the column sums; odd sizes. */
Test(kernels, bias_act_exact_per_element)
{
	enum { R = 5, O = 37 };
	float y0[R * O], b[O], y[R * O], g[R * O], db[O];
	for (int i = 0; i < R * O; i++)
		y0[i] = (float)((i * 7919) % 401 - 200) / 37.0f;
	for (int j = 0; j < O; j++)
		b[j] = (float)(j % 5 - 2) / 3.0f;
	for (int act = VK_IDENTITY; act <= VK_LEAKY; act++) {
		memcpy(y, y0, sizeof y);
		vk_bias_act_forward(y, b, R, O, act);
		for (int i = 0; i < R * O; i++) {
			float want = y0[i] + b[i % O];
			vk_activate(&want, 1, act);
			cr_assert(y[i] == want, "%s: element %d", vk_act_name(act), i);
			if (act == VK_RELU)
				cr_assert(y[i] == (y0[i] + b[i % O] > 0 ? y0[i] + b[i % O] : 0.0f));
			if (act == VK_LEAKY) {
				float v = y0[i] + b[i % O];
				cr_assert(y[i] == (v > 0 ? v : VK_LEAKY_SLOPE * v));
			}
		}
		for (int i = 0; i < R * O; i++)
			g[i] = (float)((i * 104729) % 97 - 48) / 13.0f;
		float g0[R * O];
		memcpy(g0, g, sizeof g);
		vk_bias_act_backward(g, db, y, R, O, act);
		float sum[O] = {0};
		for (int i = 0; i < R * O; i++) {
			float d = g0[i], yi = y[i], want = d;
			switch (act) {
			case VK_RELU: want = yi > 0 ? d : 0.0f; break;
			case VK_LEAKY: want = yi > 0 ? d : VK_LEAKY_SLOPE * d; break;
			case VK_SIGMOID: want = d * (yi * (1.0f - yi)); break;
			case VK_TANH: want = d * (1.0f - yi * yi); break;
			}
			cr_assert(g[i] == want, "%s backward: element %d", vk_act_name(act), i);
			sum[i % O] += want;
		}
		for (int j = 0; j < O; j++)
			cr_assert(db[j] == sum[j], "%s: db[%d]", vk_act_name(act), j);
	}
}

/* The reparameterisation and KL against double, including large |log σ²|. */
Test(kernels, reparam_and_kl_against_double)
{
	enum { B = 3, Z = 19 };
	float head[B * 2 * Z], eps[B * Z], z[B * (Z + 3)], kl[B], z0[B * (Z + 3)];
	for (int r = 0; r < B; r++)
		for (int j = 0; j < Z; j++) {
			head[r * 2 * Z + j] = (float)(j - 9) / 4.0f;
			head[r * 2 * Z + Z + j] = (float)((j * 5 + r) % 41 - 20) * 0.5f; /* −10..10 */
			eps[r * Z + j] = (float)((j * 3 + r) % 7 - 3) / 2.0f;
		}
	vk_reparam(z, Z + 3, head, eps, kl, B, Z);
	vk_reparam(z0, Z + 3, head, NULL, NULL, B, Z);
	for (int r = 0; r < B; r++) {
		double sum = 0, mag = 0;
		for (int j = 0; j < Z; j++) {
			double mu = head[r * 2 * Z + j], lv = head[r * 2 * Z + Z + j];
			double want = mu + exp(lv / 2) * eps[r * Z + j];
			double tol = 4 * ulp_of(exp(lv / 2) * eps[r * Z + j]) + ulp_of(want);
			cr_assert(fabs(z[r * (Z + 3) + j] - want) <= tol, "z[%d][%d]", r, j);
			cr_assert(z0[r * (Z + 3) + j] == (float)mu, "z = mu without eps");
			double t = 1 + lv - mu * mu - exp(lv);
			sum += t, mag += 1 + fabs(lv) + mu * mu + exp(lv);
		}
		cr_assert(fabs(kl[r] - -0.5 * sum) <= 0.5 * mag * Z * 2e-7, "kl[%d] %.9g want %.9g", r,
			  kl[r], -0.5 * sum);
	}
}
