/* The ex-post prior: EM on synthetic mixtures with known parameters, the
 * prior file (exact round trip, every corruption refused), latent-gmm's bad
 * inputs, and vae-sample --prior end to end. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "prior.h"
#include "stream.h"
#include "testutil.h"

#define LLVMFuzzerTestOneInput corpus_prior_one
#include "../fuzz/fuzz_prior.c"
#undef LLVMFuzzerTestOneInput

#define TRAIN_IMAGES "examples/data/digits-train-images-idx3-ubyte.gz"

static char *tp(const char *name)
{
	static char paths[32][512];
	static int next;
	char *p = paths[next++ % 32];
	snprintf(p, sizeof paths[0], "%s", tmp_path(name));
	return p;
}

/* A known mixture: K components in Z dimensions, full covariance given by
 * its Cholesky factor (row-major lower). */
struct truth {
	int k, z;
	double w[3], mu[3][3], l[3][3][3];
};

/* Three well separated 2-D components with different shapes. */
static const struct truth T2 = {
	.k = 3, .z = 2,
	.w = {0.3, 0.5, 0.2},
	.mu = {{-4, 0}, {3, 3}, {0, -5}},
	.l = {{{1.0, 0}, {0, 0.5}}, {{0.5, 0}, {0.5, 1.0}}, {{0.3, 0}, {0, 2.0}}},
};

/* Three axis-aligned 3-D components (for the diagonal fit). */
static const struct truth T3 = {
	.k = 3, .z = 3,
	.w = {0.25, 0.4, 0.35},
	.mu = {{-3, 0, 2}, {3, 1, -2}, {0, 6, 0}},
	.l = {{{1, 0, 0}, {0, 0.5, 0}, {0, 0, 0.8}},
	      {{0.4, 0, 0}, {0, 1.2, 0}, {0, 0, 0.6}},
	      {{0.7, 0, 0}, {0, 0.3, 0}, {0, 0, 1.5}}},
};

/* n draws from t, (n, z) floats. */
static float *draw(const struct truth *t, size_t n, uint64_t seed)
{
	vk_rng r;
	vk_rng_seed(&r, seed);
	float *x = malloc(sizeof(float) * n * t->z);
	for (size_t i = 0; i < n; i++) {
		double u = (double)vk_rng_uniform(&r), acc = 0;
		int k = t->k - 1;
		for (int c = 0; c < t->k; c++)
			if ((acc += t->w[c]) > u) {
				k = c;
				break;
			}
		float eps[3];
		vk_rng_normals(&r, eps, (size_t)t->z);
		for (int a = 0; a < t->z; a++) {
			double s = t->mu[k][a];
			for (int b = 0; b <= a; b++)
				s += t->l[k][a][b] * eps[b];
			x[i * t->z + a] = (float)s;
		}
	}
	return x;
}

/* Σ_k of a fitted component (full or diagonal) at (a, b). */
static double fitted_cov(const vk_gmm *g, int k, int a, int b)
{
	if (g->cov == VK_GMM_DIAG)
		return a == b ? g->chol[(size_t)k * g->z + a] * g->chol[(size_t)k * g->z + a] : 0;
	const double *l = g->chol + (size_t)k * g->z * g->z;
	double s = 0;
	for (int j = 0; j < g->z; j++)
		s += l[a * g->z + j] * l[b * g->z + j];
	return s;
}

static double true_cov(const struct truth *t, int k, int a, int b)
{
	double s = 0;
	for (int j = 0; j < t->z; j++)
		s += t->l[k][a][j] * t->l[k][b][j];
	return s;
}

/* Each true component has a fitted one within tolerance: weight ±0.03,
 * every mean coordinate ±0.1, every covariance entry ±(0.1 + 10%). With
 * n = 6000 these are several standard errors wide. */
static void check_recovered(const vk_gmm *g, const struct truth *t)
{
	cr_assert_eq(g->k, t->k);
	int used[3] = {0};
	for (int c = 0; c < t->k; c++) {
		int best = -1;
		double bd = 1e30;
		for (int k = 0; k < g->k; k++) {
			double d = 0;
			for (int a = 0; a < t->z; a++)
				d += pow(g->mu[k * g->z + a] - t->mu[c][a], 2);
			if (d < bd) {
				bd = d;
				best = k;
			}
		}
		cr_assert(!used[best], "two true components matched fitted component %d", best);
		used[best] = 1;
		cr_assert(fabs(g->w[best] - t->w[c]) < 0.03, "weight %d: %g, true %g", c,
			  g->w[best], t->w[c]);
		for (int a = 0; a < t->z; a++) {
			cr_assert(fabs(g->mu[best * g->z + a] - t->mu[c][a]) < 0.1,
				  "mean %d[%d]: %g, true %g", c, a, g->mu[best * g->z + a], t->mu[c][a]);
			for (int b = 0; b < t->z; b++) {
				double want = true_cov(t, c, a, b), got = fitted_cov(g, best, a, b);
				cr_assert(fabs(got - want) < 0.1 + 0.1 * fabs(want),
					  "covariance %d[%d,%d]: %g, true %g", c, a, b, got, want);
			}
		}
	}
}

static double lls[1000];
static int n_lls;
static void record_ll(int iter, double ll, void *arg)
{
	(void)arg;
	cr_assert_eq(iter, n_lls + 1);
	if (n_lls < 1000)
		lls[n_lls++] = ll;
}

Test(gmm, recovers_full_covariance_mixture)
{
	size_t n = 6000;
	float *x = draw(&T2, n, 7);
	vk_gmm_opts o;
	vk_gmm g;
	vk_error e;
	vk_gmm_opts_default(&o);
	o.k = 3;
	n_lls = 0;
	cr_assert_eq(vk_gmm_fit(&g, x, n, 2, &o, record_ll, NULL, &e), 0, "%s", e.msg);
	check_recovered(&g, &T2);
	cr_assert(g.converged, "converged in %u iterations", g.iters);
	cr_assert_eq((int)g.iters, n_lls);
	/* EM never lowers the likelihood; the reported value is the saved
	 * parameters' own. */
	for (int i = 1; i < n_lls; i++)
		cr_assert(lls[i] >= lls[i - 1] - 1e-9, "iteration %d: %.12f after %.12f", i + 1,
			  lls[i], lls[i - 1]);
	double ll;
	cr_assert_eq(vk_gmm_loglik(&g, x, n, &ll, &e), 0, "%s", e.msg);
	cr_assert(fabs(ll - g.loglik) < 1e-9, "%.12f vs %.12f", ll, g.loglik);
	cr_assert_eq(g.n, n);
	vk_gmm_free(&g);
	free(x);
}

Test(gmm, recovers_diagonal_mixture)
{
	size_t n = 6000;
	float *x = draw(&T3, n, 11);
	vk_gmm_opts o;
	vk_gmm g;
	vk_error e;
	vk_gmm_opts_default(&o);
	o.k = 3;
	o.cov = VK_GMM_DIAG;
	cr_assert_eq(vk_gmm_fit(&g, x, n, 3, &o, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(g.cov, VK_GMM_DIAG);
	check_recovered(&g, &T3);
	vk_gmm_free(&g);
	free(x);
}

Test(gmm, one_component_is_the_sample_mean_and_covariance)
{
	size_t n = 2000;
	float *x = draw(&T2, n, 3);
	vk_gmm_opts o;
	vk_gmm g;
	vk_error e;
	vk_gmm_opts_default(&o);
	o.k = 1;
	cr_assert_eq(vk_gmm_fit(&g, x, n, 2, &o, NULL, NULL, &e), 0, "%s", e.msg);
	double m[2] = {0, 0}, c[2][2] = {{0}};
	for (size_t i = 0; i < n; i++)
		for (int a = 0; a < 2; a++)
			m[a] += x[i * 2 + a] / (double)n;
	for (size_t i = 0; i < n; i++)
		for (int a = 0; a < 2; a++)
			for (int b = 0; b < 2; b++)
				c[a][b] += (x[i * 2 + a] - m[a]) * (x[i * 2 + b] - m[b]) / (double)n;
	cr_assert(fabs(g.w[0] - 1) < 1e-12);
	for (int a = 0; a < 2; a++) {
		cr_assert(fabs(g.mu[a] - m[a]) < 1e-9, "%g vs %g", g.mu[a], m[a]);
		for (int b = 0; b < 2; b++)
			cr_assert(fabs(fitted_cov(&g, 0, a, b) - c[a][b] - (a == b) * g.ridge) < 1e-9,
				  "cov[%d,%d] %g vs %g", a, b, fitted_cov(&g, 0, a, b), c[a][b]);
	}
	vk_gmm_free(&g);
	free(x);
}

Test(gmm, seeded_and_reproducible)
{
	size_t n = 1500;
	float *x = draw(&T2, n, 5);
	vk_gmm_opts o;
	vk_gmm a, b;
	vk_error e;
	vk_gmm_opts_default(&o);
	o.k = 4;
	o.seed = 9;
	cr_assert_eq(vk_gmm_fit(&a, x, n, 2, &o, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_gmm_fit(&b, x, n, 2, &o, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(memcmp(a.mu, b.mu, sizeof(double) * 8), 0);
	cr_assert_eq(memcmp(a.chol, b.chol, sizeof(double) * 16), 0);
	cr_assert_eq(a.seed, 9);
	vk_gmm_free(&a);
	vk_gmm_free(&b);
	free(x);
}

Test(gmm, degenerate_data_stay_positive_definite)
{
	/* Every vector the same, and more components than distinct points: the
	 * ridge keeps every covariance factorisable. */
	float x[40];
	for (int i = 0; i < 40; i++)
		x[i] = i % 2 ? 1.5f : -2.0f;
	vk_gmm_opts o;
	vk_gmm g;
	vk_error e;
	vk_gmm_opts_default(&o);
	o.k = 3;
	cr_assert_eq(vk_gmm_fit(&g, x, 20, 2, &o, NULL, NULL, &e), 0, "%s", e.msg);
	for (int k = 0; k < 3; k++) {
		cr_assert(g.w[k] > 0);
		cr_assert(g.chol[k * 4] > 0 && g.chol[k * 4 + 3] > 0);
	}
	unsigned char *buf;
	size_t len;
	vk_gmm h;
	cr_assert_eq(vk_gmm_encode(&g, &buf, &len, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_gmm_decode(buf, len, "x", &h, &e), 0, "%s", e.msg);
	free(buf);
	vk_gmm_free(&g);
	vk_gmm_free(&h);
}

Test(gmm, refuses_more_components_than_vectors)
{
	float x[6] = {0, 1, 2, 3, 4, 5};
	vk_gmm_opts o;
	vk_gmm g;
	vk_error e;
	vk_gmm_opts_default(&o);
	o.k = 4;
	cr_assert_eq(vk_gmm_fit(&g, x, 3, 2, &o, NULL, NULL, &e), -1);
	cr_assert(strstr(e.msg, "4 components need at least 4 vectors"), "%s", e.msg);
}

Test(gmm, samples_have_the_mixture_moments)
{
	/* A fitted (full) mixture of T2 and 40000 draws from it: their mean and
	 * covariance match the mixture's, Σ w_k μ_k and Σ w_k (Σ_k + μ_k μ_kᵀ) − m mᵀ. */
	size_t n = 3000, draws = 40000;
	float *x = draw(&T2, n, 13);
	vk_gmm_opts o;
	vk_gmm g;
	vk_error e;
	vk_gmm_opts_default(&o);
	o.k = 3;
	cr_assert_eq(vk_gmm_fit(&g, x, n, 2, &o, NULL, NULL, &e), 0, "%s", e.msg);
	double m[2] = {0}, c[2][2] = {{0}}, sm[2] = {0}, sc[2][2] = {{0}};
	for (int k = 0; k < 3; k++)
		for (int a = 0; a < 2; a++)
			m[a] += g.w[k] * g.mu[k * 2 + a];
	for (int k = 0; k < 3; k++)
		for (int a = 0; a < 2; a++)
			for (int b = 0; b < 2; b++)
				c[a][b] += g.w[k] * (fitted_cov(&g, k, a, b) + g.mu[k * 2 + a] *
						     g.mu[k * 2 + b]);
	vk_rng r;
	vk_rng_seed(&r, 1);
	float *s = malloc(sizeof(float) * draws * 2);
	for (size_t i = 0; i < draws; i++)
		vk_gmm_sample(&g, &r, 1.0f, s + i * 2);
	for (size_t i = 0; i < draws; i++)
		for (int a = 0; a < 2; a++) {
			sm[a] += s[i * 2 + a] / (double)draws;
			for (int b = 0; b < 2; b++)
				sc[a][b] += (double)s[i * 2 + a] * s[i * 2 + b] / (double)draws;
		}
	for (int a = 0; a < 2; a++) {
		cr_assert(fabs(sm[a] - m[a]) < 0.05, "mean[%d] %g vs %g", a, sm[a], m[a]);
		for (int b = 0; b < 2; b++)
			cr_assert(fabs(sc[a][b] - c[a][b]) < 0.05 * (1 + fabs(c[a][b])),
				  "second moment[%d,%d] %g vs %g", a, b, sc[a][b], c[a][b]);
	}
	/* Temperature 0: every draw is one of the means. */
	for (int i = 0; i < 50; i++) {
		float z[2];
		vk_gmm_sample(&g, &r, 0.0f, z);
		int hit = 0;
		for (int k = 0; k < 3; k++)
			hit |= z[0] == (float)g.mu[k * 2] && z[1] == (float)g.mu[k * 2 + 1];
		cr_assert(hit, "T=0 draw (%g, %g) is not a component mean", z[0], z[1]);
	}
	free(s);
	free(x);
	vk_gmm_free(&g);
}

/* The prior file. */

static void fit_small(vk_gmm *g, int cov)
{
	float *x = draw(&T3, 600, 17);
	vk_gmm_opts o;
	vk_error e;
	vk_gmm_opts_default(&o);
	o.k = 3;
	o.cov = cov;
	cr_assert_eq(vk_gmm_fit(g, x, 600, 3, &o, NULL, NULL, &e), 0, "%s", e.msg);
	free(x);
}

static void same_gmm(const vk_gmm *a, const vk_gmm *b)
{
	cr_assert_eq(a->k, b->k);
	cr_assert_eq(a->z, b->z);
	cr_assert_eq(a->cov, b->cov);
	cr_assert_eq(a->n, b->n);
	cr_assert_eq(a->iters, b->iters);
	cr_assert_eq(a->converged, b->converged);
	cr_assert_eq(a->seed, b->seed);
	cr_assert_eq(memcmp(&a->loglik, &b->loglik, 8), 0);
	cr_assert_eq(memcmp(&a->ridge, &b->ridge, 8), 0);
	size_t f = a->cov == VK_GMM_FULL ? (size_t)a->z * a->z : (size_t)a->z;
	cr_assert_eq(memcmp(a->w, b->w, sizeof(double) * a->k), 0);
	cr_assert_eq(memcmp(a->mu, b->mu, sizeof(double) * a->k * a->z), 0);
	cr_assert_eq(memcmp(a->chol, b->chol, sizeof(double) * a->k * f), 0);
}

Test(gmm_file, round_trips_exactly)
{
	for (int cov = VK_GMM_FULL; cov <= VK_GMM_DIAG; cov++) {
		vk_gmm g, h;
		vk_error e;
		fit_small(&g, cov);
		char *path = tp("p.prior"), *again = tp("q.prior");
		cr_assert_eq(vk_gmm_save(path, &g, &e), 0, "%s", e.msg);
		cr_assert_eq(vk_gmm_load(path, &h, &e), 0, "%s", e.msg);
		same_gmm(&g, &h);
		cr_assert_eq(vk_gmm_save(again, &h, &e), 0, "%s", e.msg);
		cr_assert_eq(run("cmp -s %s %s", path, again), 0, "re-saved file differs");
		/* Size: 96-byte header, weights, means, factors, CRC. */
		size_t len;
		unsigned char *b = slurp(path, &len);
		size_t fac = cov == VK_GMM_FULL ? 6 : 3;
		cr_assert_eq(len, 96 + 8 * (3 + 9 + 3 * fac) + 4);
		free(b);
		vk_gmm_free(&g);
		vk_gmm_free(&h);
	}
}

/* Bytes of a saved full prior, for corrupting. */
static unsigned char *good_bytes(size_t *len)
{
	vk_gmm g;
	vk_error e;
	unsigned char *buf;
	fit_small(&g, VK_GMM_FULL);
	cr_assert_eq(vk_gmm_encode(&g, &buf, len, &e), 0, "%s", e.msg);
	vk_gmm_free(&g);
	return buf;
}

static void fix_crc(unsigned char *b, size_t len)
{
	uint32_t c = (uint32_t)crc32(0L, b, (uInt)(len - 4));
	memcpy(b + len - 4, &c, 4);
}

static void put_f64(unsigned char *p, double v) { memcpy(p, &v, 8); }
static void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }

/* decode must refuse buf with a message containing want. */
static void refused(const unsigned char *b, size_t len, const char *want)
{
	vk_gmm g;
	vk_error e;
	cr_assert_eq(vk_gmm_decode(b, len, "bad.prior", &g, &e), -1, "accepted (want %s)", want);
	cr_assert(strstr(e.msg, want), "want '%s' in: %s", want, e.msg);
	cr_assert_eq(strncmp(e.msg, "bad.prior: ", 11), 0, "names the file: %s", e.msg);
}

/* Version 1.1 records the model's identity at offset 72; a prior without
 * one is written as 1.0, as before, and a 1.0 file may not carry one. */
Test(gmm_file, model_identity_recorded)
{
	vk_gmm g, h;
	vk_error e;
	fit_small(&g, VK_GMM_DIAG);
	unsigned char *b0, *b1;
	size_t l0, l1;
	cr_assert_eq(vk_gmm_encode(&g, &b0, &l0, &e), 0, "%s", e.msg);
	cr_assert_eq(b0[10], 0, "no identity: written as 1.0");
	g.model_id = 0x0123456789abcdefull;
	cr_assert_eq(vk_gmm_encode(&g, &b1, &l1, &e), 0, "%s", e.msg);
	cr_assert_eq(b1[10], 1, "an identity: written as 1.1");
	uint64_t id;
	memcpy(&id, b1 + 72, 8);
	cr_assert_eq(id, g.model_id);
	cr_assert_eq(l0, l1);
	cr_assert_eq(vk_gmm_decode(b1, l1, "p", &h, &e), 0, "%s", e.msg);
	cr_assert_eq(h.model_id, g.model_id);
	vk_gmm_free(&h);
	cr_assert_eq(vk_gmm_decode(b0, l0, "p", &h, &e), 0, "%s", e.msg);
	cr_assert_eq(h.model_id, 0);
	vk_gmm_free(&h);
	b1[10] = 0; /* 1.0 with the bytes set */
	fix_crc(b1, l1);
	cr_assert_eq(vk_gmm_decode(b1, l1, "p", &h, &e), -1);
	cr_assert(strstr(e.msg, "reserved header byte 72"), "%s", e.msg);
	free(b0);
	free(b1);
	vk_gmm_free(&g);
}

Test(gmm_file, corruptions_refused)
{
	size_t len;
	unsigned char *good = good_bytes(&len), *b = malloc(len + 8);
	/* Offsets: weights at 96, means at 120, factors at 192 (L00 of component 1). */
	struct {
		const char *want;
		int off, crc; /* byte to change (-1: see below); recompute the CRC */
		uint32_t u32;
		double f64;
		int is_f64;
	} cases[] = {
		{"bad magic", 1, 0, 'X', 0, 0},
		{"version 2.0 is not supported", 8, 0, 2, 0, 0},
		{"header size", 12, 0, 64, 0, 0},
		{"0 components", 16, 0, 0, 0, 0},
		{"2000 components", 16, 0, 2000, 0, 0},
		{"0 dimensions", 20, 0, 0, 0, 0},
		{"covariance type 3", 24, 0, 3, 0, 0},
		{"unknown flags", 28, 0, 6, 0, 0},
		{"reserved header byte 80", 80, 0, 1, 0, 0},
		{"expected", 16, 0, 2, 0, 0},          /* K = 2: the size no longer fits */
		{"checksum mismatch", 130, 0, 7, 0, 0}, /* a flipped byte in a mean */
		{"weight 1 is -0.1", 96, 1, 0, -0.1, 1},
		{"the weights sum to", 96, 1, 0, 0.9, 1},
		{"mean 2 of component 1 is not finite", 128, 1, 0, NAN, 1},
		{"covariance factor has 0 at (1, 1)", 192, 1, 0, 0.0, 1},
		{"covariance factor has -1 at (2, 2)", 192 + 16, 1, 0, -1.0, 1},
		{"covariance factor has inf at (2, 1)", 192 + 8, 1, 0, INFINITY, 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		memcpy(b, good, len);
		if (cases[i].is_f64)
			put_f64(b + cases[i].off, cases[i].f64);
		else if (cases[i].off == 1 || cases[i].off == 130 || cases[i].off == 80)
			b[cases[i].off] = (unsigned char)cases[i].u32;
		else if (cases[i].off == 8)
			b[8] = 2, b[9] = 0;
		else
			put_u32(b + cases[i].off, cases[i].u32);
		if (cases[i].crc)
			fix_crc(b, len);
		refused(b, len, cases[i].want);
	}
	memcpy(b, good, len);
	refused(b, len - 1, "expected"); /* truncated */
	refused(b, 50, "truncated prior header");
	refused(b, 5, "bad magic");
	b[len] = 0;
	refused(b, len + 1, "expected");
	free(good);
	free(b);
}

Test(gmm_file, load_checks_the_file)
{
	size_t len;
	unsigned char *good = good_bytes(&len);
	vk_gmm g;
	vk_error e;
	char *path = tp("t.prior");
	cr_assert_eq(spit(path, good, len - 10), 0);
	cr_assert_eq(vk_gmm_load(path, &g, &e), -1);
	cr_assert(strstr(e.msg, "truncated or corrupt"), "%s", e.msg);
	cr_assert_eq(vk_gmm_load(tp("missing.prior"), &g, &e), -1);
	cr_assert(strstr(e.msg, "cannot open prior"), "%s", e.msg);
	/* Longer than its header says. */
	cr_assert_eq(spit(path, good, len), 0);
	cr_assert_eq(run("cat %s %s > %s", path, path, tp("long.prior")), 0);
	cr_assert_eq(vk_gmm_load(tp("long.prior"), &g, &e), -1);
	cr_assert(strstr(e.msg, "expected"), "%s", e.msg);
	free(good);
}

/* The fuzzer's seeds (and any input it ever crashed on, kept in
 * tests/corpus/prior/) through its harness; the seeds load and re-encode
 * to their own bytes. */
Test(gmm_file, fuzz_inputs_replayed)
{
	const char *dirs[2] = {"fuzz/seeds/prior", "tests/corpus/prior"};
	int n = 0;
	for (int d = 0; d < 2; d++) {
		char cmd[1024];
		snprintf(cmd, sizeof cmd, "ls %s > %s 2>/dev/null", repo_path(dirs[d]),
			 tp("list.txt"));
		if (run("%s", cmd))
			continue;
		FILE *f = fopen(tp("list.txt"), "r");
		char name[512];
		while (f && fscanf(f, "%511s", name) == 1) {
			char path[1024];
			snprintf(path, sizeof path, "%s/%s", repo_path(dirs[d]), name);
			size_t len;
			unsigned char *data = slurp(path, &len);
			cr_assert(data, "cannot read %s", path);
			corpus_prior_one(data, len);
			if (d == 0) {
				vk_gmm g;
				vk_error e;
				cr_assert_eq(vk_gmm_decode(data + 1, len - 1, path, &g, &e), 0, "%s",
					     e.msg);
				vk_gmm_free(&g);
			}
			free(data);
			n++;
		}
		if (f)
			fclose(f);
	}
	cr_assert(n >= 2, "%d inputs replayed", n);
}

/* latent-gmm */

static void ok(const char *cmd)
{
	char err[2048];
	int rc = run_err(err, sizeof err, "%s", cmd);
	cr_assert_eq(rc, 0, "%s: %s", cmd, err);
}

/* A command that must fail with status, one line on stderr naming prog and
 * containing want, and nothing on standard output. */
static void fails(int status, const char *cmd, const char *prog, const char *want)
{
	char err[2048], full[4096], *out = tp("fail-out");
	snprintf(full, sizeof full, "%s > %s", cmd, out);
	int rc = run_err(err, sizeof err, "%s", full);
	cr_assert_eq(rc, status, "%s: status %d: %s", cmd, rc, err);
	cr_assert_eq(strncmp(err, prog, strlen(prog)), 0, "starts with %s: %s", prog, err);
	cr_assert(strstr(err, want), "want '%s' in: %s", want, err);
	if (status == 1) {
		cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
		size_t n;
		free(slurp(out, &n));
		cr_assert_eq(n, 0, "%s wrote %zu bytes on standard output", cmd, n);
	}
}

/* Vectors (n, width) as an f32 stream, with kind= when kind is not NULL. */
static char *write_vectors(const char *name, const float *v, size_t n, int width,
			   const char *kind)
{
	char *path = tp(name);
	ts_header h;
	ts_writer w;
	vk_error e;
	uint32_t dims[1] = {(uint32_t)width};
	cr_assert_eq(ts_header_init(&h, TS_F32, 1, dims, &e), 0, "%s", e.msg);
	if (kind)
		cr_assert_eq(ts_meta_set(&h, "kind", kind, &e), 0, "%s", e.msg);
	cr_assert_eq(ts_writer_open(&w, path, &h, &e), 0, "%s", e.msg);
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(ts_write(&w, v + i * width, TS_NO_LABEL, &e), 0, "%s", e.msg);
	cr_assert_eq(ts_writer_close(&w, &e), 0, "%s", e.msg);
	return path;
}

Test(gmm_tool, fits_what_the_library_fits)
{
	size_t n = 1200;
	float *x = draw(&T2, n, 21);
	char *in = write_vectors("z.ts", x, n, 2, "latent"), *out = tp("z.prior");
	char cmd[2048], err[1024];
	snprintf(cmd, sizeof cmd, "latent-gmm -k 3 --seed 4 -o %s %s", out, in);
	cr_assert_eq(run_err(err, sizeof err, "%s", cmd), 0, "%s", err);
	/* One line on stderr with the mean log-likelihood. */
	cr_assert(strstr(err, "latent-gmm: 3 full-covariance components, 1200 vectors of 2"),
		  "%s", err);
	cr_assert(strstr(err, "mean log-likelihood -"), "%s", err);
	vk_gmm g, h;
	vk_gmm_opts o;
	vk_error e;
	vk_gmm_opts_default(&o);
	o.k = 3;
	o.seed = 4;
	cr_assert_eq(vk_gmm_fit(&g, x, n, 2, &o, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_gmm_load(out, &h, &e), 0, "%s", e.msg);
	same_gmm(&g, &h);
	/* Standard input and output; diag; the same from a pipe. */
	snprintf(cmd, sizeof cmd, "cat %s | latent-gmm -q -k 3 --seed 4 > %s.2", in, out);
	ok(cmd);
	cr_assert_eq(run("cmp -s %s %s.2", out, out), 0);
	snprintf(cmd, sizeof cmd, "latent-gmm -q -k 2 --cov diag --iter 3 %s -o %s.3", in, out);
	ok(cmd);
	vk_gmm d;
	snprintf(cmd, sizeof cmd, "%s.3", out);
	cr_assert_eq(vk_gmm_load(cmd, &d, &e), 0, "%s", e.msg);
	cr_assert_eq(d.cov, VK_GMM_DIAG);
	cr_assert_eq(d.iters, 3);
	vk_gmm_free(&g);
	vk_gmm_free(&h);
	vk_gmm_free(&d);
	free(x);
}

Test(gmm_tool, latent_logvar_streams_are_fitted_on_mu)
{
	size_t n = 500;
	float *x = draw(&T2, n, 23), *both = malloc(sizeof(float) * n * 4);
	for (size_t i = 0; i < n; i++) {
		both[i * 4] = x[i * 2];
		both[i * 4 + 1] = x[i * 2 + 1];
		both[i * 4 + 2] = -1.0f - (float)(i % 7);
		both[i * 4 + 3] = 0.5f;
	}
	char *mu = write_vectors("mu.ts", x, n, 2, "latent");
	char *lv = write_vectors("lv.ts", both, n, 4, "latent+logvar");
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "latent-gmm -q -k 2 %s > %s && latent-gmm -q -k 2 %s > %s", mu,
		 tp("mu.prior"), lv, tp("lv.prior"));
	ok(cmd);
	cr_assert_eq(run("cmp -s %s %s", tp("mu.prior"), tp("lv.prior")), 0);
	free(x);
	free(both);
}

Test(gmm_tool, bad_input_refused)
{
	float v[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
	char *three = write_vectors("three.ts", v, 3, 4, "latent");
	char *image = write_vectors("image.ts", v, 3, 4, "image");
	char *odd = write_vectors("odd.ts", v, 4, 3, "latent+logvar");
	char *empty = write_vectors("empty.ts", v, 0, 4, NULL);
	float bad[4] = {0, NAN, 1, 2};
	char *nan = write_vectors("nan.ts", bad, 2, 2, "latent");
	char cmd[1024];
#define FAILS(status, want, ...)                                   \
	do {                                                       \
		snprintf(cmd, sizeof cmd, __VA_ARGS__);            \
		fails(status, cmd, "latent-gmm: ", want);          \
	} while (0)
	FAILS(2, "-k", "latent-gmm %s", three);
	FAILS(2, "--components", "latent-gmm -k 0 %s", three);
	FAILS(2, "--components", "latent-gmm -k 2000 %s", three);
	FAILS(2, "--cov: 'banded' is not full or diag", "latent-gmm -k 1 --cov banded %s", three);
	FAILS(2, "--iter", "latent-gmm -k 1 --iter 0 %s", three);
	FAILS(1, "-k 4 needs at least 4 vectors; the stream has 3", "latent-gmm -k 4 %s", three);
	FAILS(1, "kind=image is not a stream of latent vectors", "latent-gmm -k 1 %s", image);
	FAILS(1, "even number of values", "latent-gmm -k 1 %s", odd);
	FAILS(1, "no latent vectors", "latent-gmm -k 1 %s", empty);
	FAILS(1, "non-finite value", "latent-gmm -k 1 %s", nan);
	FAILS(1, "records of shape 2 (u8) are not latent vectors",
	      "printf '1 2\\n3 4\\n' | txt2stream -t u8 | latent-gmm -k 1");
	FAILS(1, "cannot open", "latent-gmm -k 1 %s", tp("nonexistent.ts"));
	FAILS(1, "cannot", "latent-gmm -k 1 -o /nonexistent/dir/p.prior %s", three);
#undef FAILS
}

Test(gmm_tool, refuses_a_terminal_before_fitting)
{
	if (run("command -v script >/dev/null") != 0)
		cr_skip_test("no script(1) to provide a terminal");
	float v[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	char *in = write_vectors("tty.ts", v, 4, 2, "latent"), *out = tp("tty.txt"), err[1024];
	int rc = run_err(err, sizeof err, "script -qec 'latent-gmm -k 1 %s' /dev/null > %s", in,
			 out);
	size_t n;
	char *s = (char *)slurp(out, &n);
	cr_assert(s);
	cr_assert_neq(rc, 0, "latent-gmm to a terminal succeeded");
	cr_assert(strstr(s, "latent-gmm: refusing to write binary data to a terminal"), "%.*s",
		  (int)n, s);
	cr_assert(n < 300, "%zu bytes reached the terminal", n);
	free(s);
}

/* vae-sample --prior, end to end on a small AE of the shipped digits. */

Test(gmm_sample, vae_sample_draws_from_the_prior, .timeout = 300)
{
	char cmd[4096], *data = tp("d.ts"), *model = tp("ae.vae"), *lat = tp("lat.ts");
	char *prior = tp("ae.prior"), *z = tp("z.ts");
	snprintf(cmd, sizeof cmd,
		 "idx2stream -n 400 %s > %s && vae-train -m ae -o %s --hidden 32 -z 3 -e 2 -t 1 -q "
		 "%s && vae-encode -m %s %s > %s && latent-gmm -q -k 2 -o %s %s && "
		 "vae-sample -m %s --prior %s --latent-only -n 40000 -s 3 > %s",
		 repo_path(TRAIN_IMAGES), data, model, data, model, data, lat, prior, lat, model,
		 prior, z);
	ok(cmd);
	vk_gmm g;
	vk_error e;
	cr_assert_eq(vk_gmm_load(prior, &g, &e), 0, "%s", e.msg);
	cr_assert_eq(g.z, 3);
	/* The draws' mean and covariance are the mixture's (to 5% of the scale). */
	double m[3] = {0}, c[3][3] = {{0}}, sm[3] = {0}, sc[3][3] = {{0}};
	for (int k = 0; k < g.k; k++)
		for (int a = 0; a < 3; a++)
			m[a] += g.w[k] * g.mu[k * 3 + a];
	for (int k = 0; k < g.k; k++)
		for (int a = 0; a < 3; a++)
			for (int b = 0; b < 3; b++)
				c[a][b] += g.w[k] * (fitted_cov(&g, k, a, b) +
						     (g.mu[k * 3 + a] - m[a]) * (g.mu[k * 3 + b] - m[b]));
	ts_reader r;
	cr_assert_eq(ts_reader_open(&r, z, &e), 0, "%s", e.msg);
	char kind[32], pname[64];
	cr_assert(ts_meta_get(&r.h, "prior", pname, sizeof pname));
	cr_assert_str_eq(pname, "ae.prior");
	cr_assert(ts_meta_get(&r.h, "kind", kind, sizeof kind));
	cr_assert_str_eq(kind, "latent");
	float v[3];
	size_t n = 0;
	static float all[40000 * 3];
	while (ts_read_f32(&r, v, NULL, &e) == 1) {
		memcpy(all + n * 3, v, sizeof v);
		n++;
	}
	ts_reader_close(&r);
	cr_assert_eq(n, 40000);
	for (size_t i = 0; i < n; i++)
		for (int a = 0; a < 3; a++)
			sm[a] += all[i * 3 + a] / (double)n;
	for (size_t i = 0; i < n; i++)
		for (int a = 0; a < 3; a++)
			for (int b = 0; b < 3; b++)
				sc[a][b] += (all[i * 3 + a] - sm[a]) * (all[i * 3 + b] - sm[b]) /
					    (double)n;
	double scale = sqrt((c[0][0] + c[1][1] + c[2][2]) / 3);
	for (int a = 0; a < 3; a++) {
		cr_assert(fabs(sm[a] - m[a]) < 0.05 * scale, "mean[%d] %g vs %g", a, sm[a], m[a]);
		for (int b = 0; b < 3; b++)
			cr_assert(fabs(sc[a][b] - c[a][b]) < 0.05 * scale * scale,
				  "cov[%d,%d] %g vs %g", a, b, sc[a][b], c[a][b]);
	}
	/* Decoded samples are the decodings of the same draws. */
	snprintf(cmd, sizeof cmd,
		 "vae-sample -m %s --prior %s -n 50 -s 3 > %s.img && vae-sample -m %s --prior %s "
		 "-n 50 -s 3 --latent-only | vae-decode -m %s > %s.dec && cmp -s %s.img %s.dec",
		 model, prior, z, model, prior, model, z, z, z);
	ok(cmd);
	/* -T 0: every z is a component mean. */
	snprintf(cmd, sizeof cmd, "vae-sample -m %s --prior %s -T 0 -n 20 --latent-only > %s.t0",
		 model, prior, z);
	ok(cmd);
	snprintf(cmd, sizeof cmd, "%s.t0", z);
	cr_assert_eq(ts_reader_open(&r, cmd, &e), 0, "%s", e.msg);
	while (ts_read_f32(&r, v, NULL, &e) == 1) {
		int hit = 0;
		for (int k = 0; k < g.k; k++)
			hit |= v[0] == (float)g.mu[k * 3] && v[1] == (float)g.mu[k * 3 + 1] &&
			       v[2] == (float)g.mu[k * 3 + 2];
		cr_assert(hit);
	}
	ts_reader_close(&r);
	vk_gmm_free(&g);

	/* Refusals: a prior of another latent size, --grid, a file that is not a prior. */
	float two[8] = {0, 1, 1, 0, 2, 2, 3, 1};
	char *z2 = write_vectors("z2.ts", two, 4, 2, "latent");
	snprintf(cmd, sizeof cmd, "latent-gmm -q -k 1 %s > %s.z2", z2, prior);
	ok(cmd);
	snprintf(cmd, sizeof cmd, "vae-sample -m %s --prior %s.z2", model, prior);
	fails(1, cmd, "vae-sample: ", "is a prior over 2 dimensions; the latent space of");
	snprintf(cmd, sizeof cmd, "vae-sample -m %s --prior %s --grid 4", model, prior);
	fails(2, cmd, "vae-sample: ", "--grid and --prior exclude each other");
	snprintf(cmd, sizeof cmd, "vae-sample -m %s --prior %s", model, model);
	fails(1, cmd, "vae-sample: ", "not a vaekit prior (bad magic)");
	snprintf(cmd, sizeof cmd, "head -c 200 %s > %s.cut && vae-sample -m %s --prior %s.cut",
		 prior, prior, model, prior);
	fails(1, cmd, "vae-sample: ", "truncated or corrupt");
}

/* A prior records the model it was fitted on (latent-gmm -m), and vae-sample
 * refuses it with another model of the same latent size unless --force; a
 * prior fitted without -m (or before format 1.1) goes with any model. */
Test(gmm_sample, another_models_prior_is_refused, .timeout = 300)
{
	char cmd[4096], *data = tp("d8.ts"), *vae = tp("vae8.vae"), *ae = tp("ae8.vae");
	char *prior = tp("ae8.prior"), *plain = tp("plain.prior"), *lat = tp("ae8.ts");
	snprintf(cmd, sizeof cmd,
		 "idx2stream -n 300 %s > %s && vae-train -q -m ae -z 4 --hidden 16 -e 1 -t 1 -o %s %s "
		 "&& vae-train -q -z 4 --hidden 16 -e 1 -t 1 -o %s %s && vae-encode -m %s %s > %s && "
		 "latent-gmm -q -k 2 -m %s -o %s %s && latent-gmm -q -k 2 -o %s %s",
		 repo_path(TRAIN_IMAGES), data, ae, data, vae, data, ae, data, lat, ae, prior, lat,
		 plain, lat);
	ok(cmd);
	snprintf(cmd, sizeof cmd, "vae-sample -m %s --prior %s -n 3 > /dev/null", ae, prior);
	ok(cmd);
	snprintf(cmd, sizeof cmd, "vae-sample -m %s --prior %s -n 3", vae, prior);
	fails(1, cmd, "vae-sample: ", "was fitted on another model");
	snprintf(cmd, sizeof cmd, "vae-sample -m %s --prior %s --force -n 3 > %s.forced", vae,
		 prior, prior);
	ok(cmd);
	snprintf(cmd, sizeof cmd, "vae-sample -m %s --prior %s -n 3 > /dev/null", vae, plain);
	ok(cmd);
	snprintf(cmd, sizeof cmd, "vae-sample -m %s --force -n 3", vae);
	fails(2, cmd, "vae-sample: ", "--force only lets --prior");
	/* latent-gmm -m: the model's latent size must be the vectors' */
	float two[8] = {0, 1, 1, 0, 2, 2, 3, 1};
	char *z2 = write_vectors("z2m.ts", two, 4, 2, "latent");
	snprintf(cmd, sizeof cmd, "latent-gmm -q -k 1 -m %s %s > /dev/null", ae, z2);
	fails(1, cmd, "latent-gmm: ", "has a latent size of 4");
	snprintf(cmd, sizeof cmd, "latent-gmm -q -k 1 -m %s -o %s %s", ae, ae, lat);
	fails(1, cmd, "latent-gmm: ", "is also an input");
}
