#include "nn.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* Loops below are written branch-free so the compiler vectorises them
 * (-O3 -fopenmp-simd -fno-math-errno); `omp simd reduction` lets row sums
 * vectorise without -ffast-math. */

const char *vk_act_name(int act)
{
	static const char *names[] = {"identity", "relu", "sigmoid", "tanh", "leaky"};
	return act >= 0 && act <= VK_LEAKY ? names[act] : "?";
}

int vk_act_parse(const char *name)
{
	for (int a = VK_IDENTITY; a <= VK_LEAKY; a++)
		if (!strcmp(name, vk_act_name(a)))
			return a;
	return -1;
}

/* Branch-free selects. gcc 12 turns `c ? a : b` on floats into a branch;
 * without AVX-512's masked operations it then refuses to vectorise a loop
 * whose branch holds a floating-point operation that could trap ("not
 * vectorized: control flow in loop" with -march=x86-64-v3), and after
 * inlining it even jump-threads the clamp in fast_exp into such branches.
 * Selecting bits through an all-ones/all-zeros mask is plain integer
 * arithmetic: no branch ever exists, and the vectoriser emits one compare and
 * one blend (vpblendvb / vpternlogd) per select at every vector width. The
 * result is bit-identical to the ?: it replaces. */
static inline uint32_t f2u(float f)
{
	uint32_t u;
	memcpy(&u, &f, sizeof u);
	return u;
}
static inline float u2f(uint32_t u)
{
	float f;
	memcpy(&f, &u, sizeof f);
	return f;
}
/* c ? a : b for c in {0, 1}, as bits */
static inline float blend_f(int c, float a, float b)
{
	uint32_t m = -(uint32_t)c;
	return u2f((f2u(a) & m) | (f2u(b) & ~m));
}
/* Not fmaxf/fminf: those keep IEEE NaN rules that x86's maxps lacks, so gcc
 * calls libm for them. Same value as the plain comparison a > b ? a : b. */
static inline float max_f(float a, float b) { return blend_f(a > b, a, b); }
static inline float min_f(float a, float b) { return blend_f(a < b, a, b); }

/* exp by range reduction to [−ln2/2, ln2/2] and the Cephes polynomial; the
 * 2^n scale is built in the exponent bits. glibc's expf does not vectorise. */
static inline float fast_exp(float x)
{
	x = min_f(max_f(x, -87.3f), 88.7f);
	/* Round to nearest by the 1.5·2^23 trick: floorf is a libm call here. */
	float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	float r = x - n * 0.693359375f + n * 2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	p = p * r * r + r + 1.0f;
	/* 2^n built in the exponent bits (n in [−126, 128] after the clamp) */
	return p * u2f((uint32_t)((int32_t)n + 127) << 23);
}

/* log(1 + e) for e in [0, 1] as 2·atanh(e / (2 + e)): the series in s ≤ 1/3
 * keeps full relative precision even for tiny e. */
static inline float log1p_unit(float e)
{
	float s = e / (2.0f + e), s2 = s * s;
	float p = 1.0f / 13;
	p = p * s2 + 1.0f / 11;
	p = p * s2 + 1.0f / 9;
	p = p * s2 + 1.0f / 7;
	p = p * s2 + 1.0f / 5;
	p = p * s2 + 1.0f / 3;
	p = p * s2 + 1.0f;
	return 2.0f * s * p;
}

float vk_expf(float x) { return fast_exp(x); }
float vk_softplus(float x) { return max_f(x, 0.0f) + log1p_unit(fast_exp(-fabsf(x))); }

/* σ(x) = 1/(1 + e) for x ≥ 0 and e/(1 + e) for x < 0, e = exp(−|x|): no
 * overflow anywhere. The select picks the factor (1 or e), not the product,
 * so no multiplication sits in a branch: same bits as x ≥ 0 ? inv : e·inv. */
static inline float sigmoid(float x)
{
	float e = fast_exp(-fabsf(x)), inv = 1.0f / (1.0f + e);
	return inv * blend_f(x >= 0, 1.0f, e);
}

static inline float tanh_fast(float x)
{
	/* tanh x = sign(x)·(1 − e)/(1 + e) with e = exp(−2|x|), stable for
	 * large |x|; but 1 − e cancels for small |x| (1e-5 would keep only 3
	 * digits), so below |x| = 0.625 Cephes' odd polynomial is used instead.
	 * Both are computed and one is selected: branch-free, and the extra
	 * multiply-adds are cheaper than a branch the vectoriser cannot take. */
	float a = fabsf(x), e = fast_exp(-2.0f * a), t = (1.0f - e) / (1.0f + e);
	float s = x * x, q = -5.70498872745e-3f;
	q = q * s + 2.06390887954e-2f;
	q = q * s - 5.37397155531e-2f;
	q = q * s + 1.33314422036e-1f;
	q = q * s - 3.33332819422e-1f;
	float small = q * s * a + a;
	/* copysignf is two bit operations (and, or) and never a branch; it
	 * also gives tanh(−0) = −0. */
	return copysignf(blend_f(a < 0.625f, small, t), x);
}

/* x·(x > 0 ? 1 : slope): the select picks the factor, so the multiplication
 * is not conditional; x·1 = x exactly, so the bits are those of
 * x > 0 ? x : slope·x. */
static inline float leaky(float x) { return x * blend_f(x > 0.0f, 1.0f, VK_LEAKY_SLOPE); }

/* act(x) and the gradient through it (from the output y) for an activation
 * known at compile time: the kernels below instantiate one loop per
 * activation with a constant act (always_inline), so the switch folds away
 * and each loop body is straight-line code. A switch inside the row loop
 * would be decided once per row and would also leave gcc with a loop nest it
 * refuses to vectorise as a whole. */
#define VK_INLINE static inline __attribute__((always_inline))

VK_INLINE float act_value(float x, int act)
{
	switch (act) {
	case VK_RELU: return max_f(x, 0.0f);
	case VK_LEAKY: return leaky(x);
	case VK_SIGMOID: return sigmoid(x);
	case VK_TANH: return tanh_fast(x);
	default: return x;
	}
}

VK_INLINE float act_grad(float g, float y, int act)
{
	switch (act) {
	case VK_RELU: return blend_f(y > 0.0f, g, 0.0f);
	/* the slope is positive, so y's sign is the input's; g·1 = g exactly */
	case VK_LEAKY: return g * blend_f(y > 0.0f, 1.0f, VK_LEAKY_SLOPE);
	case VK_SIGMOID: return g * (y * (1.0f - y));
	case VK_TANH: return g * (1.0f - y * y);
	default: return g;
	}
}

/* Call F(args..., act) with act as a compile-time constant. */
#define VK_ACT_DISPATCH(act, F, ...)                                                     \
	do {                                                                              \
		switch (act) {                                                            \
		case VK_RELU: F(__VA_ARGS__, VK_RELU); break;                             \
		case VK_LEAKY: F(__VA_ARGS__, VK_LEAKY); break;                           \
		case VK_SIGMOID: F(__VA_ARGS__, VK_SIGMOID); break;                       \
		case VK_TANH: F(__VA_ARGS__, VK_TANH); break;                             \
		default: F(__VA_ARGS__, VK_IDENTITY); break;                              \
		}                                                                         \
	} while (0)

VK_INLINE void activate_n(float *restrict y, size_t n, int act)
{
	/* hot */
	for (size_t i = 0; i < n; i++)
		y[i] = act_value(y[i], act);
}

VK_HOT void vk_activate(float *y, size_t n, int act)
{
	if (act != VK_IDENTITY)
		VK_ACT_DISPATCH(act, activate_n, y, n);
}

VK_INLINE void act_back_n(float *restrict dy, const float *restrict y, size_t n, int act)
{
	/* hot */
	for (size_t i = 0; i < n; i++)
		dy[i] = act_grad(dy[i], y[i], act);
}

VK_HOT void vk_act_backward(float *dy, const float *y, size_t n, int act)
{
	if (act != VK_IDENTITY)
		VK_ACT_DISPATCH(act, act_back_n, dy, y, n);
}

VK_INLINE void bias_act_rows(float *restrict y, const float *restrict b, int rows, int out,
			     int act)
{
	for (int r = 0; r < rows; r++) {
		float *restrict row = y + (size_t)r * out;
		/* hot */
		for (int j = 0; j < out; j++)
			row[j] = act_value(row[j] + b[j], act);
	}
}

VK_HOT void vk_bias_act_forward(float *y, const float *b, int rows, int out, int act)
{
	VK_ACT_DISPATCH(act, bias_act_rows, y, b, rows, out);
}

void vk_dense_forward(float *y, const float *x, const float *W, const float *b, int B, int in,
		      int out, int act)
{
	cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, out, in, 1.0f, x, in, W, out,
		    0.0f, y, out);
	/* Bias and activation fused in one pass over y. */
	vk_bias_act_forward(y, b, B, out, act);
}

/* The activation derivative (from the output y) and the bias gradient
 * (column sums) in one pass over dy: one loop, not a derivative loop and a
 * sum loop, so each row of dy is read and written once. Same operations in
 * the same order as two loops would do, so the same bits. */
VK_INLINE void bias_act_back_rows(float *restrict dy, float *restrict db, const float *restrict y,
				  int rows, int out, int act)
{
	for (int r = 0; r < rows; r++) {
		float *restrict g = dy + (size_t)r * out;
		const float *restrict yr = y + (size_t)r * out;
		/* hot */
		for (int j = 0; j < out; j++) {
			float gj = act_grad(g[j], yr[j], act);
			g[j] = gj;
			db[j] += gj;
		}
	}
}

VK_HOT void vk_bias_act_backward(float *dy, float *db, const float *y, int rows, int out, int act)
{
	memset(db, 0, sizeof *db * out);
	VK_ACT_DISPATCH(act, bias_act_back_rows, dy, db, y, rows, out);
}

void vk_dense_backward(float *dx, float *dW, float *db, float *dy, const float *x,
		       const float *y, const float *W, int B, int in, int out, int act)
{
	vk_bias_act_backward(dy, db, y, B, out, act);
	/* dW = xᵀ·dy, dx = dy·Wᵀ */
	cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, in, out, B, 1.0f, x, in, dy, out,
		    0.0f, dW, out);
	if (dx)
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, in, out, 1.0f, dy, out, W,
			    out, 0.0f, dx, in);
}

VK_HOT void vk_bce_logits(const float *l, const float *x, float *dl, float *rec, int B, int D,
		   float scale)
{
	for (int r = 0; r < B; r++) {
		const float *lr = l + (size_t)r * D, *xr = x + (size_t)r * D;
		float sum = 0.0f;
		if (dl) {
			float *gr = dl + (size_t)r * D;
			/* hot */
#pragma omp simd reduction(+ : sum)
			for (int j = 0; j < D; j++) {
				/* p = sigmoid(v), sharing e with the loss term */
				float v = lr[j], e = fast_exp(-fabsf(v)), inv = 1.0f / (1.0f + e);
				float p = inv * blend_f(v >= 0, 1.0f, e);
				sum += max_f(v, 0.0f) + log1p_unit(e) - xr[j] * v;
				gr[j] = (p - xr[j]) * scale;
			}
		} else {
			/* hot */
#pragma omp simd reduction(+ : sum)
			for (int j = 0; j < D; j++) {
				float v = lr[j], e = fast_exp(-fabsf(v));
				sum += max_f(v, 0.0f) + log1p_unit(e) - xr[j] * v;
			}
		}
		rec[r] = sum;
	}
}

VK_HOT void vk_gaussian_nll(const float *mu, const float *x, float *dmu, float *rec, int B, int D,
		     float sigma, float scale)
{
	float inv_var = 1.0f / (sigma * sigma);
	float norm = 0.5f * D * logf(2.0f * (float)M_PI * sigma * sigma);
	for (int r = 0; r < B; r++) {
		const float *mr = mu + (size_t)r * D, *xr = x + (size_t)r * D;
		float sum = 0.0f;
		/* hot */
#pragma omp simd reduction(+ : sum)
		for (int j = 0; j < D; j++) {
			float d = mr[j] - xr[j];
			sum += d * d;
		}
		rec[r] = 0.5f * sum * inv_var + norm;
		if (dmu)
			/* hot */
			for (int j = 0; j < D; j++)
				dmu[(size_t)r * D + j] = (mr[j] - xr[j]) * inv_var * scale;
	}
}

VK_HOT void vk_reparam(float *z, int ldz, const float *head, const float *eps, float *kl, int B,
		       int Z)
{
	for (int r = 0; r < B; r++) {
		const float *mu = head + (size_t)r * 2 * Z, *lv = mu + Z;
		float *zr = z + (size_t)r * ldz, sum = 0.0f;
		/* z and the KL terms in two loops, the eps test outside both: a
		 * test inside would be control flow in the loop. The KL sum stays
		 * in order (no reduction pragma), so its bits do not change. */
		if (eps) {
			const float *er = eps + (size_t)r * Z;
			/* hot */
			for (int j = 0; j < Z; j++)
				zr[j] = mu[j] + sqrtf(fast_exp(lv[j])) * er[j];
		} else {
			memcpy(zr, mu, sizeof *zr * Z);
		}
		if (kl) {
			/* hot */
			for (int j = 0; j < Z; j++)
				sum += VK_GAUSS_NEG2KL(mu[j], lv[j], fast_exp(lv[j]));
			kl[r] = -0.5f * sum;
		}
	}
}

/* Free bits' row: the KL weight per dimension. */
VK_INLINE void reparam_back_w(float *restrict dmu, float *restrict dlv, const float *restrict g,
			      const float *restrict mu, const float *restrict lv,
			      const float *restrict er, const float *restrict klw, int Z,
			      float scale)
{
	/* hot */
	for (int j = 0; j < Z; j++) {
		float var = fast_exp(lv[j]), sd = sqrtf(var), bw = klw[j] * scale;
		dmu[j] = g[j] + bw * mu[j];
		dlv[j] = g[j] * 0.5f * sd * er[j] + bw * 0.5f * (var - 1.0f);
	}
}

VK_HOT void vk_reparam_backward(float *dhead, const float *dz, int ldz, const float *head,
			 const float *eps, int B, int Z, float beta, const float *klw, float scale)
{
	for (int r = 0; r < B; r++) {
		const float *mu = head + (size_t)r * 2 * Z, *lv = mu + Z;
		const float *er = eps + (size_t)r * Z, *g = dz + (size_t)r * ldz;
		float *dmu = dhead + (size_t)r * 2 * Z, *dlv = dmu + Z;
		if (klw) {
			reparam_back_w(dmu, dlv, g, mu, lv, er, klw, Z, scale);
			continue;
		}
		/* hot */
		for (int j = 0; j < Z; j++) {
			float var = fast_exp(lv[j]), sd = sqrtf(var);
			/* dz/dμ = 1, dz/dlogσ² = ½σε; dKL/dμ = μ, dKL/dlogσ² = ½(σ² − 1) */
			dmu[j] = g[j] + beta * scale * mu[j];
			dlv[j] = g[j] * 0.5f * sd * er[j] + beta * scale * 0.5f * (var - 1.0f);
		}
	}
}

VK_HOT void vk_kl_dims(const float *head, int B, int Z, double *sum)
{
	for (int r = 0; r < B; r++) {
		const float *mu = head + (size_t)r * 2 * Z, *lv = mu + Z;
		for (int j = 0; j < Z; j++)
			sum[j] += -0.5 * VK_GAUSS_NEG2KL((double)mu[j], (double)lv[j],
						   (double)fast_exp(lv[j]));
	}
}

/* exp(x) for x ≤ 0, and 0 below −80 (fast_exp would clamp to e^−87.3, which
 * times a large 1/σ² in a gradient is not negligible) */
static inline float exp_neg(float x) { return blend_f(x > -80.0f, fast_exp(x), 0.0f); }

/* A log-sum-exp in two passes that keeps the softmax's numerators: x[j]
 * becomes exp(x[j] − max), *max_out the max; returns their sum. */
static inline float exp_shifted_sum(float *x, int n, float *max_out)
{
	float mx = x[0], sum = 0.0f;
	/* hot */
#pragma omp simd reduction(max : mx)
	for (int j = 0; j < n; j++)
		mx = max_f(mx, x[j]);
	/* hot */
#pragma omp simd reduction(+ : sum)
	for (int j = 0; j < n; j++) {
		x[j] = exp_neg(x[j] - mx);
		sum += x[j];
	}
	*max_out = mx;
	return sum;
}

VK_HOT void vk_tc_row(const float *z, const float *mu, const float *iv, const float *c, int B,
		      int ldb, int Z, int self, float ws, float wd, float wq, float *L, float *s,
		      double out[2], float *dz, float *dmu, float *dlv)
{
	memset(s, 0, sizeof *s * B);
	for (int d = 0; d < Z; d++) {
		const float *m = mu + (size_t)d * ldb, *v = iv + (size_t)d * ldb, *cd = c + (size_t)d * ldb;
		float *l = L + (size_t)d * ldb, zd = z[d];
		/* hot */
		for (int j = 0; j < B; j++) {
			float u = zd - m[j];
			l[j] = cd[j] - 0.5f * u * u * v[j];
			s[j] += l[j];
		}
	}
	/* log q(z) up to its constant: the log-sum-exp of the rows' sums;
	 * s becomes ws times the softmax, the weight of each j in its gradient */
	float ms, sum = exp_shifted_sum(s, B, &ms);
	out[0] = ms + log((double)sum);
	float ps = ws / sum;
	/* hot */
	for (int j = 0; j < B; j++)
		s[j] *= ps;
	out[1] = 0;
	for (int d = 0; d < Z; d++) {
		float *l = L + (size_t)d * ldb, md, sd = exp_shifted_sum(l, B, &md);
		out[1] += md + log((double)sd);
		if (!dz)
			continue;
		const float *m = mu + (size_t)d * ldb, *v = iv + (size_t)d * ldb;
		float *gm = dmu + (size_t)d * ldb, *gl = dlv + (size_t)d * ldb;
		float zd = z[d], qs = wd / sd, acc = 0.0f;
		/* ∂L/∂z = −u/σ², ∂L/∂μ = u/σ², ∂L/∂log σ² = ½(u²/σ² − 1), u = z − μ */
		/* hot */
#pragma omp simd reduction(+ : acc)
		for (int j = 0; j < B; j++) {
			float g = s[j] + qs * l[j], u = zd - m[j], t = g * u * v[j];
			acc += t;
			gm[j] += t;
			gl[j] += 0.5f * (t * u - g);
		}
		/* the row's own posterior: wq·L[d][self] */
		float u = zd - m[self], t = wq * u * v[self];
		gm[self] += t;
		gl[self] += 0.5f * (t * u - wq);
		dz[d] -= acc + t;
	}
}

VK_HOT float vk_imq_row(const float *x, const float *y, int B, int ldb, int Z, const float *C,
			int nC, float *g, float f, float *t)
{
	float *d2 = t, *dk = t + B, k = 0.0f;
	memset(t, 0, sizeof *t * 2 * B);
	for (int d = 0; d < Z; d++) {
		const float *yd = y + (size_t)d * ldb;
		float xd = x[d];
		/* hot */
		for (int b = 0; b < B; b++)
			d2[b] += (xd - yd[b]) * (xd - yd[b]);
	}
	/* Σ_c C/(C + d²) and its derivative in d², −Σ_c C/(C + d²)² */
	for (int c = 0; c < nC; c++) {
		float cc = C[c], inv = 1.0f / cc;
		/* hot */
#pragma omp simd reduction(+ : k)
		for (int b = 0; b < B; b++) {
			float r = cc / (cc + d2[b]);
			k += r;
			dk[b] -= r * r * inv;
		}
	}
	if (g)
		for (int d = 0; d < Z; d++) {
			const float *yd = y + (size_t)d * ldb;
			float xd = x[d], acc = 0.0f;
			/* hot */
#pragma omp simd reduction(+ : acc)
			for (int b = 0; b < B; b++)
				acc += dk[b] * (xd - yd[b]);
			g[d] += f * 2.0f * acc;
		}
	return k;
}

void vk_adam_init(vk_adam *o, float lr)
{
	o->lr = lr;
	o->beta1 = 0.9f;
	o->beta2 = 0.999f;
	o->eps = 1e-8f;
	o->t = 0;
}

/* One body for both entry points: h may be NULL (inlined away). */
VK_INLINE void adam_update(const vk_adam *o, float *restrict p, const float *restrict g,
			       const float *restrict h, float *restrict m, float *restrict v,
			       size_t n)
{
	float b1 = o->beta1, b2 = o->beta2;
	float step = o->lr / (1.0f - powf(b1, (float)o->t));
	float inv_bc2 = 1.0f / sqrtf(1.0f - powf(b2, (float)o->t));
	float eps = o->eps;
	/* hot */
	for (size_t i = 0; i < n; i++) {
		float gi = h ? g[i] + h[i] : g[i];
		float mi = b1 * m[i] + (1.0f - b1) * gi;
		float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
		m[i] = mi;
		v[i] = vi;
		p[i] -= step * mi / (sqrtf(vi) * inv_bc2 + eps);
	}
}

VK_HOT void vk_adam_apply(const vk_adam *o, float *p, const float *g, float *m, float *v, size_t n)
{
	adam_update(o, p, g, NULL, m, v, n);
}

VK_HOT void vk_adam_apply2(const vk_adam *o, float *p, const float *g, const float *h, float *m,
		    float *v, size_t n)
{
	adam_update(o, p, g, h, m, v, n);
}

void vk_adam_step(vk_adam *o, float *p, const float *g, float *m, float *v, size_t n)
{
	o->t++;
	vk_adam_apply(o, p, g, m, v, n);
}

VK_HOT void vk_sgd_step(float lr, float *p, const float *g, size_t n)
{
	/* hot */
	for (size_t i = 0; i < n; i++)
		p[i] -= lr * g[i];
}

float *vk_alloc_floats(size_t n)
{
	const size_t huge = (size_t)2 << 20;
	size_t bytes = (n * sizeof(float) + huge - 1) / huge * huge;
	void *p = NULL;
	if (!bytes || posix_memalign(&p, huge, bytes))
		return NULL;
	madvise(p, bytes, MADV_HUGEPAGE); /* advice only: ignore failure */
	memset(p, 0, bytes);
	return p;
}

/* OpenBLAS (pthreads build) starts its worker threads when it loads; they
 * poll with sched_yield and would compete with our own training threads.
 * With one BLAS thread we stop them; OpenBLAS restarts them by itself if a
 * later call asks for more. Weak, for BLAS builds without this function. */
extern int blas_thread_shutdown_(void) __attribute__((weak));

void vk_set_threads(int n)
{
	openblas_set_num_threads(n);
	if (n == 1 && blas_thread_shutdown_)
		blas_thread_shutdown_();
}
