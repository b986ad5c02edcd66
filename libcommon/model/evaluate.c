#include "evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"

void vk_lse_init(vk_lse *l)
{
	l->max = -INFINITY;
	l->sum = 0.0;
}

/* Rescale the running sum whenever a larger value arrives, so every exp()
 * has a non-positive argument: nothing overflows, the largest term is 1. */
void vk_lse_add(vk_lse *l, double v)
{
	if (v == -INFINITY)
		return;
	if (v > l->max) {
		l->sum = l->sum * exp(l->max - v) + 1.0;
		l->max = v;
	} else {
		l->sum += exp(v - l->max);
	}
}

double vk_lse_value(const vk_lse *l)
{
	return l->sum > 0 ? l->max + log(l->sum) : -INFINITY;
}

double vk_logsumexp(const double *v, int n)
{
	vk_lse l;
	vk_lse_init(&l);
	for (int i = 0; i < n; i++)
		vk_lse_add(&l, v[i]);
	return vk_lse_value(&l);
}

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* FNV-1a over the values' bits, finished with splitmix64's mixer. */
uint64_t vk_record_seed(uint64_t seed, const float *x, int D, int32_t label)
{
	uint64_t h = 0xcbf29ce484222325ull ^ mix64(seed);
	for (int j = 0; j < D; j++) {
		uint32_t u;
		memcpy(&u, x + j, sizeof u);
		h = (h ^ u) * 0x100000001b3ull;
	}
	h = (h ^ (uint32_t)label) * 0x100000001b3ull;
	return mix64(h);
}

/* −log p(x|z) of n decoded rows against the one record x (stride 0) or
 * against n records (stride D). */
static void nll_rows(const vk_model *m, const float *out, const float *x, size_t stride,
		     float *rec, int n)
{
	const vk_lik_kind *lik = vk_lik_of(&m->a);
	int W = lik->out_width(&m->a);
	for (int r = 0; r < n; r++)
		lik->nll(&m->a, out + (size_t)r * W, x + stride * r, NULL, rec + r, 1, 0.0f);
}

void vk_eval_batch(vk_model *m, vk_work *w, const float *x, const int32_t *labels, int n,
		   uint64_t seed, float *rec, float *kl)
{
	const vk_arch *a = &m->a;
	const vk_latent_kind *L = vk_latent_of(a);
	int Z = a->latent, C = a->classes, ldz = Z + C, D = a->input_size;
	int H = vk_head_width(a), E = L->noise * Z;
	if (vk_autoregressive(a)) { /* −log p(x) exactly: no latent, no bound */
		nll_rows(m, vk_ar_forward(m, w, x, labels, n), x, D, rec, n);
		memset(kl, 0, sizeof(float) * n);
		return;
	}
	const float *head = vk_encode(m, w, x, labels, n);
	for (int r = 0; r < n; r++) {
		float *zr = w->z + (size_t)r * ldz, *e = NULL;
		const float *xr = x + (size_t)r * D;
		int32_t lab = labels ? labels[r] : TS_NO_LABEL;
		if (E) {
			vk_rng g;
			e = w->eps + (size_t)r * E;
			vk_rng_seed(&g, vk_record_seed(seed, xr, D, lab));
			vk_rng_normals(&g, e, E);
		}
		vk_latent_sample(m, NULL, zr, ldz, head + (size_t)r * H, e, kl + r, 1);
		if (C)
			vk_put_onehot(a, zr, ldz, Z, &lab, 1);
	}
	nll_rows(m, vk_decoder_forward(m, w, n), x, D, rec, n);
}

int vk_evaluate(vk_model *m, vk_work *w, const vk_dataset *d, uint64_t seed, double *rec,
		double *kl, vk_error *e)
{
	int cap = w->cap;
	float *x = malloc(sizeof(float) * cap * d->dim), *r = malloc(sizeof(float) * cap),
	      *k = malloc(sizeof(float) * cap);
	int32_t *lab = malloc(sizeof(int32_t) * cap);
	uint32_t *idx = malloc(sizeof(uint32_t) * cap);
	int rc = 0;
	double rec_sum = 0, kl_sum = 0;
	if (!x || !r || !k || !lab || !idx) {
		rc = vk_fail(e, "out of memory for the evaluation batch");
		goto out;
	}
	for (size_t done = 0; done < d->n;) {
		int b = d->n - done < (size_t)cap ? (int)(d->n - done) : cap;
		for (int i = 0; i < b; i++)
			idx[i] = (uint32_t)(done + i);
		vk_dataset_gather(d, idx, b, x, lab);
		vk_eval_batch(m, w, x, vk_conditional(&m->a) ? lab : NULL, b, seed, r, k);
		for (int i = 0; i < b; i++) {
			rec_sum += r[i];
			kl_sum += k[i];
		}
		done += b;
	}
	*rec = rec_sum / d->n;
	*kl = kl_sum / d->n;
out:
	free(x), free(r), free(k), free(lab), free(idx);
	return rc;
}

double vk_iw_logpx(vk_model *m, vk_work *w, const float *x, int32_t label, const float *head,
		   int K, uint64_t seed)
{
	const vk_arch *a = &m->a;
	const vk_latent_kind *L = vk_latent_of(a);
	int Z = a->latent, C = a->classes, ldz = Z + C, D = a->input_size;
	vk_rng g;
	vk_rng_seed(&g, vk_record_seed(seed, x, D, label));
	vk_lse acc;
	vk_lse_init(&acc);
	for (int done = 0; done < K;) {
		int b = K - done < w->cap ? K - done : w->cap;
		for (int r = 0; r < b; r++) {
			float *e = w->eps + (size_t)r * Z, *zr = w->z + (size_t)r * ldz;
			/* One draw of Z per sample, as vk_eval_batch draws: sample 1 is its z. */
			vk_rng_normals(&g, e, Z);
			vk_latent_sample(m, NULL, zr, ldz, head, e, NULL, 1);
			if (C)
				vk_put_onehot(a, zr, ldz, Z, &label, 1);
		}
		nll_rows(m, vk_decoder_forward(m, w, b), x, 0, w->rec, b);
		for (int r = 0; r < b; r++) {
			const float *e = w->eps + (size_t)r * Z, *zr = w->z + (size_t)r * ldz;
			vk_lse_add(&acc, L->log_weight(head, e, zr, Z) - w->rec[r]);
		}
		done += b;
	}
	return vk_lse_value(&acc) - log((double)K);
}

double vk_kl_head(const float *head, int Z)
{
	double sum = 0;
	for (int j = 0; j < Z; j++)
		sum += vk_latent_gaussian.kl_dim(head, Z, j);
	return sum;
}

int vk_fix_add(int64_t *acc, double v)
{
	double q = nearbyint(v * (1 << VK_FIX_BITS));
	if (!(fabs(q) < 0x1p62))
		return -1;
	return __builtin_add_overflow(*acc, (int64_t)q, acc) ? -1 : 0;
}

double vk_fix_value(int64_t q) { return (double)q * VK_FIX_UNIT; }

int vk_evalsum_init(vk_evalsum *s, int Z, int has_kl, int has_rec, int iw, vk_error *e)
{
	memset(s, 0, sizeof *s);
	s->Z = Z, s->has_kl = has_kl, s->has_rec = has_rec, s->iw = iw;
	s->kl_dim = calloc(Z + 1, sizeof(int64_t));
	s->mu = calloc(Z + 1, sizeof(int64_t));
	s->mu2 = calloc(Z + 1, sizeof(int64_t));
	if (!s->kl_dim || !s->mu || !s->mu2) {
		vk_evalsum_free(s);
		return vk_fail(e, "out of memory for %d latent dimensions", Z);
	}
	return 0;
}

void vk_evalsum_free(vk_evalsum *s)
{
	free(s->kl_dim);
	free(s->mu);
	free(s->mu2);
	free(s->code_n);
	s->kl_dim = s->mu = s->mu2 = NULL;
	s->code_n = NULL;
	s->codes = 0;
}

int vk_evalsum_codes(vk_evalsum *s, int K, vk_error *e)
{
	free(s->code_n);
	s->codes = 0;
	if (!(s->code_n = calloc((size_t)K, sizeof(uint64_t))))
		return vk_fail(e, "out of memory for %d codes", K);
	s->codes = K;
	return 0;
}

void vk_evalsum_add(vk_evalsum *s, double rec, double kl, double lp, const float *head)
{
	int bad = 0;
	s->n++;
	if (s->has_rec) {
		double nelbo = rec + kl;
		bad |= vk_fix_add(&s->rec, rec) | vk_fix_add(&s->nelbo2, nelbo * nelbo);
	}
	if (s->has_kl) {
		double sum = 0;
		for (int j = 0; j < s->Z; j++) {
			double k = vk_latent_gaussian.kl_dim(head, s->Z, j);
			bad |= vk_fix_add(&s->kl_dim[j], k);
			sum += k;
		}
		/* A model's KL comes from the batch; a latent stream's from its dims. */
		bad |= vk_fix_add(&s->kl, s->has_rec ? kl : sum);
	}
	if (s->iw)
		bad |= vk_fix_add(&s->lp, lp) | vk_fix_add(&s->lp2, lp * lp);
	for (int j = 0; j < s->Z; j++)
		bad |= vk_fix_add(&s->mu[j], head[j]) |
		       vk_fix_add(&s->mu2[j], (double)head[j] * head[j]);
	s->bad |= bad != 0;
}

static void fix_merge(int *bad, int64_t *a, int64_t b)
{
	*bad |= __builtin_add_overflow(*a, b, a);
}

void vk_evalsum_merge(vk_evalsum *a, const vk_evalsum *b)
{
	a->n += b->n;
	a->bad |= b->bad;
	fix_merge(&a->bad, &a->rec, b->rec);
	fix_merge(&a->bad, &a->kl, b->kl);
	fix_merge(&a->bad, &a->nelbo2, b->nelbo2);
	fix_merge(&a->bad, &a->lp, b->lp);
	fix_merge(&a->bad, &a->lp2, b->lp2);
	for (int j = 0; j < a->Z; j++) {
		fix_merge(&a->bad, &a->kl_dim[j], b->kl_dim[j]);
		fix_merge(&a->bad, &a->mu[j], b->mu[j]);
		fix_merge(&a->bad, &a->mu2[j], b->mu2[j]);
	}
	if (b->codes && !a->codes && vk_evalsum_codes(a, b->codes, &(vk_error){0}))
		a->bad = 1;
	for (int k = 0; k < b->codes && k < a->codes; k++)
		a->code_n[k] += b->code_n[k];
}

double vk_sum_mean(int64_t q, uint64_t n) { return n ? vk_fix_value(q) / (double)n : NAN; }

double vk_sum_se(int64_t s1, int64_t s2, uint64_t n)
{
	if (n < 2)
		return NAN;
	double mean = vk_sum_mean(s1, n);
	double var = (vk_fix_value(s2) - n * mean * mean) / (double)(n - 1);
	return sqrt(var > 0 ? var / n : 0);
}

double vk_evalsum_mu_var(const vk_evalsum *s, int j)
{
	if (!s->n)
		return NAN;
	double mean = vk_sum_mean(s->mu[j], s->n);
	double var = vk_sum_mean(s->mu2[j], s->n) - mean * mean;
	return var > 0 ? var : 0;
}

int vk_evalsum_active(const vk_evalsum *s, double threshold)
{
	int active = 0;
	for (int j = 0; j < s->Z; j++)
		active += vk_evalsum_mu_var(s, j) > threshold;
	return active;
}
