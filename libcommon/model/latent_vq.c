/* The VQ-VAE's latent step (van den Oord et al. 2017): the encoder's output
 * map H'×W'×D is P = H'·W' vectors of D (a flat output is one), each
 * replaced by its nearest code of a codebook E (K, D) the kind owns.
 *
 *   nearest: the code k minimising Σ_j (v_j − E_kj)², summed in float in j
 *            order; ties go to the lowest index;
 *   forward: z = E_k at every position (the decoder sees the quantised map);
 *   loss:    per record (q + β)·mean over its P·D values of (v − E_k)², q = 1
 *            with the codebook loss (‖sg(v) − e‖², gradient to E) and 0 with
 *            EMA updates; β the commitment weight (‖v − sg(e)‖², gradient
 *            to v); pythae's Quantizer and QuantizerEMA;
 *   gradient: straight through: dv = dz + scale·2β(v − e)/(P·D);
 *   EMA:     with the batch's counts n_k and sums s_k (over every slice and
 *            rank), N ← γN + (1−γ)n, M ← γM + (1−γ)s, N ← (N + ε)/(ΣN + Kε)·ΣN
 *            (Laplace smoothing, kept, as pythae), E = M/N; then every dead
 *            code (N_k < DEAD) restarts: the j-th of d dead codes (in index
 *            order) takes the encoder output at position ⌊(j + ½)·B·P/d⌋ of
 *            the batch (positions numbered record by record, row-major in a
 *            map), with N_k = 1 and M_k = E_k = that vector.
 *
 * State (K + K·D floats): the EMA counts N, then the sums M. N is kept with
 * the codebook loss too (no restarts there): the usage vae-info shows. */
#include "latents.h"

#include <math.h>
#include <string.h>

#include "model.h"

#define LAPLACE 1e-5
#define DEAD 1.0 /* fewer than one use a batch, on the EMA's average: Jukebox's rule */

typedef struct {
	int P, D, K, ema;
	float beta, decay;
} geom;

static geom geom_of(const vk_latent_ctx *c)
{
	vk_shape m = c->map;
	return (geom){.P = m.h > 0 ? m.h * m.w : 1, .D = m.c, .K = c->a->codes,
		      .ema = c->a->codebook_ema, .beta = c->a->commitment, .decay = c->a->decay};
}

static int vq_check(const vk_arch *a, vk_error *e)
{
	if (a->codes < 2 || a->codes > 65536)
		return vk_fail(e, "a codebook of %d codes (2 to 65536)", a->codes);
	if (a->codebook_ema != 0 && a->codebook_ema != 1)
		return vk_fail(e, "codebook mode %d (0 loss, 1 ema)", a->codebook_ema);
	if (!(a->commitment >= 0 && a->commitment <= 1000))
		return vk_fail(e, "commitment weight %g (0 to 1000)", a->commitment);
	if (!(a->decay > 0 && a->decay < 1))
		return vk_fail(e, "EMA decay %g (between 0 and 1)", a->decay);
	return 0;
}

static size_t positions(vk_shape map) { return map.h > 0 ? (size_t)map.h * map.w : 1; }

static size_t vq_n_params(const vk_arch *a, vk_shape map) { return (size_t)a->codes * map.c; }

static size_t vq_n_state(const vk_arch *a, vk_shape map)
{
	return (size_t)a->codes * (map.c + 1);
}

/* The buffer: the batch's counts and sums (K·(D+1) doubles, reduced), the
 * restart vectors (K·D doubles, reduced), the new counts (K doubles), the
 * dead codes (K int32), then each row's indices (cap·P int32). */
static size_t vq_work(const vk_arch *a, vk_shape map, int cap)
{
	size_t K = a->codes, D = map.c;
	return sizeof(double) * (K * (D + 1) + K * D + K) +
	       sizeof(int32_t) * (K + (size_t)cap * positions(map));
}

static size_t vq_reduce_width(const vk_arch *a, vk_shape map)
{
	return (size_t)a->codes * (map.c + 1);
}

static double *sums_of(const vk_latent_ctx *c) { return c->buf; }
static double *gather_of(const vk_latent_ctx *c, geom g)
{
	return sums_of(c) + (size_t)g.K * (g.D + 1);
}
static double *newn_of(const vk_latent_ctx *c, geom g)
{
	return gather_of(c, g) + (size_t)g.K * g.D;
}
static int32_t *dead_of(const vk_latent_ctx *c, geom g)
{
	return (int32_t *)(newn_of(c, g) + g.K);
}
static int32_t *idx_of(const vk_latent_ctx *c, geom g) { return dead_of(c, g) + g.K; }

static void vq_init(const vk_latent_ctx *c, vk_rng *rng)
{
	geom g = geom_of(c);
	float b = 1.0f / g.K;
	for (size_t i = 0; i < (size_t)g.K * g.D; i++)
		c->P[i] = (float)(vk_rng_uniform(rng) * 2 - 1) * b;
	memset(c->S, 0, sizeof(float) * g.K * (g.D + 1));
}

/* The nearest code to v (D): the lowest index among the least distances.
 * Four codes at a time, each its own sum in j order (the same bits as one
 * at a time): four chains of adds instead of one. */
static int nearest(const float *E, int K, int D, const float *v)
{
	int best = 0, k = 0;
	float bd = INFINITY;
	for (; k + 4 <= K; k += 4) {
		const float *e = E + (size_t)k * D;
		float d[4] = {0, 0, 0, 0};
		for (int j = 0; j < D; j++)
			for (int l = 0; l < 4; l++) {
				float t = v[j] - e[(size_t)l * D + j];
				d[l] += t * t;
			}
		for (int l = 0; l < 4; l++)
			if (d[l] < bd) {
				bd = d[l];
				best = k + l;
			}
	}
	for (; k < K; k++) {
		const float *e = E + (size_t)k * D;
		float d = 0;
		for (int j = 0; j < D; j++) {
			float t = v[j] - e[j];
			d += t * t;
		}
		if (d < bd) {
			bd = d;
			best = k;
		}
	}
	return best;
}

static size_t vq_scratch(int Z)
{
	(void)Z;
	return 0;
}

/* z (n, ldz) = the nearest codes of head (n, Z); reg (n) = (q + β)·mean (v − e)²;
 * the indices kept in c->buf for backward when there is one. */
static void vq_sample(const vk_latent_ctx *c, float *z, int ldz, const float *head,
		      const float *eps, float *reg, int n, int Z)
{
	(void)eps;
	geom g = geom_of(c);
	int32_t *idx = c->buf ? idx_of(c, g) : NULL;
	float w = (float)((g.ema ? 0.0 : 1.0) + g.beta) / ((float)g.P * g.D);
	for (int r = 0; r < n; r++) {
		double sq = 0;
		for (int p = 0; p < g.P; p++) {
			const float *v = head + (size_t)r * Z + (size_t)p * g.D;
			int k = nearest(c->P, g.K, g.D, v);
			const float *e = c->P + (size_t)k * g.D;
			if (idx)
				idx[(size_t)r * g.P + p] = k;
			memcpy(z + (size_t)r * ldz + (size_t)p * g.D, e, sizeof(float) * g.D);
			for (int j = 0; j < g.D; j++)
				sq += (double)(v[j] - e[j]) * (v[j] - e[j]);
		}
		if (reg)
			reg[r] = (float)(w * sq);
	}
}

static void vq_codes(const vk_latent_ctx *c, int32_t *idx, const float *head, int n)
{
	geom g = geom_of(c);
	size_t Z = (size_t)g.P * g.D;
	for (int r = 0; r < n; r++)
		for (int p = 0; p < g.P; p++)
			idx[(size_t)r * g.P + p] = nearest(c->P, g.K, g.D, head + r * Z + (size_t)p * g.D);
}

static void vq_embed(const vk_latent_ctx *c, float *z, int ldz, const int32_t *idx, int n)
{
	geom g = geom_of(c);
	for (int r = 0; r < n; r++)
		for (int p = 0; p < g.P; p++)
			memcpy(z + (size_t)r * ldz + (size_t)p * g.D,
			       c->P + (size_t)idx[(size_t)r * g.P + p] * g.D, sizeof(float) * g.D);
}

/* The EMA counts (and sums) after this batch, its dead codes restarted from
 * the batch's encoder outputs. Under EMA every slice computes them from the
 * reduced sums and the state as it was (the same bits in each) and takes
 * part in the restarts' gather, which every slice calls, dead codes or none:
 * the slice that updates the state writes it only once that call has
 * returned, when no slice still reads it. */
static void update(const vk_latent_ctx *c, geom g, const float *head, int n, int Z,
		   const vk_latent_step *s)
{
	if (!g.ema && !s->update_state)
		return; /* the counts kept for usage: only their writer needs them */
	double *sums = sums_of(c), *N = newn_of(c, g), *gat = gather_of(c, g);
	int32_t *list = dead_of(c, g);
	float *E = c->P, *SN = c->S, *SM = c->S + g.K;
	double gam = g.decay, tot = 0;
	for (int k = 0; k < g.K; k++) {
		N[k] = gam * SN[k] + (1 - gam) * sums[k];
		tot += N[k];
	}
	for (int k = 0; k < g.K; k++)
		N[k] = (N[k] + LAPLACE) / (tot + g.K * LAPLACE) * tot;
	int dead = 0;
	if (g.ema)
		for (int k = 0; k < g.K; k++)
			if (N[k] < DEAD)
				list[dead++] = k;
	if (g.ema) {
		size_t B = s->batch > 0 ? (size_t)s->batch : (size_t)n, T = B * g.P;
		long row0 = s->batch > 0 ? s->row0 : 0;
		memset(gat, 0, sizeof(double) * (dead ? dead * g.D : 1));
		for (int j = 0; j < dead; j++) {
			size_t at = (2 * (size_t)j + 1) * T / (2 * (size_t)dead);
			long row = (long)(at / g.P) - row0;
			if (row < 0 || row >= n)
				continue;
			const float *v = head + (size_t)row * Z + at % g.P * g.D;
			for (int i = 0; i < g.D; i++)
				gat[(size_t)j * g.D + i] = v[i];
		}
		vk_reduce(s->red, s->slice, gat, dead ? dead * g.D : 1);
	}
	if (!s->update_state)
		return;
	for (int k = 0; k < g.K; k++)
		SN[k] = (float)N[k];
	if (!g.ema)
		return;
	for (int k = 0; k < g.K; k++)
		for (int j = 0; j < g.D; j++) {
			size_t i = (size_t)k * g.D + j;
			double m = gam * SM[i] + (1 - gam) * sums[g.K + i];
			SM[i] = (float)m;
			E[i] = (float)(m / N[k]);
		}
	for (int j = 0; j < dead; j++) {
		int k = list[j];
		SN[k] = 1;
		for (int i = 0; i < g.D; i++)
			SM[(size_t)k * g.D + i] = E[(size_t)k * g.D + i] = (float)gat[(size_t)j * g.D + i];
	}
}

/* dhead (n, Z) = dz + scale·2β(v − e)/(P·D) (straight through, with the
 * commitment term); the codebook loss's gradient scale·2(e − v)/(P·D) into
 * s->G (zero under EMA); the batch's counts, and the EMA update. */
static void vq_backward(float *dhead, const float *dz, int ldz, const float *head,
			const float *eps, int n, int Z, const vk_latent_step *s)
{
	(void)eps;
	const vk_latent_ctx *c = s->ctx;
	geom g = geom_of(c);
	const int32_t *idx = idx_of(c, g);
	const float *E = c->P;
	float f = s->scale * 2.0f / ((float)g.P * g.D), fb = f * g.beta;
	double *sums = sums_of(c);
	size_t width = g.ema ? (size_t)g.K * (g.D + 1) : (size_t)g.K;
	memset(sums, 0, sizeof(double) * width);
	if (s->G)
		memset(s->G, 0, sizeof(float) * g.K * g.D);
	for (int r = 0; r < n; r++)
		for (int p = 0; p < g.P; p++) {
			int k = idx[(size_t)r * g.P + p];
			const float *v = head + (size_t)r * Z + (size_t)p * g.D;
			const float *e = E + (size_t)k * g.D, *d = dz + (size_t)r * ldz + (size_t)p * g.D;
			float *dh = dhead + (size_t)r * Z + (size_t)p * g.D;
			for (int j = 0; j < g.D; j++)
				dh[j] = d[j] + fb * (v[j] - e[j]);
			if (s->G && !g.ema)
				for (int j = 0; j < g.D; j++)
					s->G[(size_t)k * g.D + j] += f * (e[j] - v[j]);
			sums[k] += 1;
			if (g.ema)
				for (int j = 0; j < g.D; j++)
					sums[g.K + (size_t)k * g.D + j] += v[j];
		}
	vk_reduce(s->red, s->slice, sums, (int)width);
	if (s->counts)
		memcpy(s->counts, sums, sizeof(double) * g.K);
	update(c, g, head, n, Z, s);
}

static void vq_usage(const vk_latent_ctx *c, double *counts)
{
	for (int k = 0; k < c->a->codes; k++)
		counts[k] = c->S[k];
}

const vk_latent_kind vk_latent_vq = {
	.name = "vq",
	.head_per_dim = 1,
	.map = 1,
	.check = vq_check,
	.n_params = vq_n_params,
	.n_state = vq_n_state,
	.init = vq_init,
	.work = vq_work,
	.reduce_width = vq_reduce_width,
	.scratch = vq_scratch,
	.sample = vq_sample,
	.backward = vq_backward,
	.codes = vq_codes,
	.embed = vq_embed,
	.usage = vq_usage,
};
