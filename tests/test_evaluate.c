/* Evaluation maths (evaluate.h) and kl-eval end to end. The importance-
 * weighted estimate is checked against a model whose log p(x) is known in
 * closed form: a linear-Gaussian VAE is probabilistic PCA. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "layers.h"
#include "stream.h"
#include "testutil.h"

Test(evaluate_math, logsumexp_is_stable)
{
	double big[2] = {1000, 1000}, small[3] = {-1000, -1000, -INFINITY};
	cr_assert(fabs(vk_logsumexp(big, 2) - (1000 + log(2.0))) < 1e-12);
	cr_assert(fabs(vk_logsumexp(small, 3) - (-1000 + log(2.0))) < 1e-12);
	cr_assert(isinf(vk_logsumexp(NULL, 0)) && vk_logsumexp(NULL, 0) < 0);
	/* Rising values exercise the rescaling of the running sum. */
	double v[50], direct = 0;
	for (int i = 0; i < 50; i++) {
		v[i] = 0.1 * i - 2;
		direct += exp(v[i]);
	}
	cr_assert(fabs(vk_logsumexp(v, 50) - log(direct)) < 1e-12);
	double mixed[3] = {-745, 710, 0};
	cr_assert(fabs(vk_logsumexp(mixed, 3) - 710) < 1e-12);
}

Test(evaluate_math, summaries_of_shards_add_up_exactly)
{
	enum { Z = 3, N = 101 };
	vk_evalsum all, part[2];
	vk_error e;
	cr_assert_eq(vk_evalsum_init(&all, Z, 1, 1, 5, &e), 0);
	for (int k = 0; k < 2; k++)
		cr_assert_eq(vk_evalsum_init(&part[k], Z, 1, 1, 5, &e), 0);
	vk_rng rng;
	vk_rng_seed(&rng, 3);
	for (int i = 0; i < N; i++) {
		float head[2 * Z];
		vk_rng_normals(&rng, head, 2 * Z);
		double rec = 100 * vk_rng_uniform(&rng), kl = vk_kl_head(head, Z), lp = -rec - kl;
		vk_evalsum_add(&all, rec, kl, lp, head);
		vk_evalsum_add(&part[i % 2], rec, kl, lp, head);
	}
	vk_evalsum_merge(&part[0], &part[1]);
	cr_assert_eq(part[0].n, N);
	cr_assert(all.rec == part[0].rec && all.kl == part[0].kl && all.lp2 == part[0].lp2 &&
		  all.nelbo2 == part[0].nelbo2 && all.lp == part[0].lp);
	cr_assert(!memcmp(all.kl_dim, part[0].kl_dim, Z * sizeof(int64_t)));
	cr_assert(!memcmp(all.mu2, part[0].mu2, Z * sizeof(int64_t)));
	cr_assert(!all.bad);
	/* The mean KL is the sum of the per-dimension means. */
	double sum = 0;
	for (int j = 0; j < Z; j++)
		sum += vk_sum_mean(all.kl_dim[j], N);
	cr_assert(fabs(sum - vk_sum_mean(all.kl, N)) < 1e-4);
	vk_evalsum_free(&all);
	vk_evalsum_free(&part[0]);
	vk_evalsum_free(&part[1]);
}

Test(evaluate_math, active_units_count_varying_means)
{
	vk_evalsum s;
	vk_error e;
	cr_assert_eq(vk_evalsum_init(&s, 2, 1, 0, 0, &e), 0);
	for (int i = 0; i < 100; i++) {
		/* dim 0: μ = ±1 (variance 1); dim 1: μ = ±0.05 (variance 0.0025) */
		float head[4] = {i % 2 ? 1.0f : -1.0f, i % 2 ? 0.05f : -0.05f, 0, 0};
		vk_evalsum_add(&s, 0, 0, 0, head);
	}
	cr_assert(fabs(vk_evalsum_mu_var(&s, 0) - 1) < 1e-5);
	cr_assert(fabs(vk_evalsum_mu_var(&s, 1) - 0.0025) < 1e-5);
	cr_assert_eq(vk_evalsum_active(&s, VK_ACTIVE_THRESHOLD), 1);
	vk_evalsum_free(&s);
}

/* ---- probabilistic PCA: x ~ N(b, W Wᵀ + σ² I) ---- */

enum { PD = 4, PZ = 2 };
static const double SIGMA = 0.5;
/* Columns of W (D×Z, the usual notation) are orthogonal, so the exact
 * posterior has diagonal covariance and the encoder can represent it. */
static const double WU[PD][PZ] = {{1.5, 0.0}, {1.5, 0.0}, {0.0, 0.8}, {0.0, -0.8}};
static const double BIAS[PD] = {0.3, -0.2, 0.1, 0.5};

/* Set the decoder to (W, b) and the encoder to the exact posterior, then
 * spoil it: μ shifted by mu_shift, σ² scaled by var_scale. */
static void ppca_model(vk_model *m, vk_work *w, double mu_shift, double var_scale)
{
	vk_arch a = {.kind = VK_VAE, .input_rank = 1, .input_dims = {PD}, .input_size = PD,
		     .latent = PZ, .likelihood = VK_GAUSSIAN,
		     .sigma = (float)SIGMA};
	vk_error e;
	cr_assert_eq(vk_model_alloc(m, &a, &e), 0, "%s", e.msg);
	float *P = m->params;
	const vk_layer *dec = &m->dec[0], *enc = &m->enc[0];
	for (int i = 0; i < PZ; i++)
		for (int d = 0; d < PD; d++)
			P[dec->w + i * PD + d] = (float)WU[d][i];  /* stored (in=Z, out=D) */
	for (int d = 0; d < PD; d++)
		P[dec->b + d] = (float)BIAS[d];
	for (int j = 0; j < PZ; j++) {
		double M = SIGMA * SIGMA, wb = 0;
		for (int d = 0; d < PD; d++)
			M += WU[d][j] * WU[d][j], wb += WU[d][j] * BIAS[d];
		/* posterior mean M⁻¹Wᵀ(x − b), variance σ²/M_jj */
		for (int d = 0; d < PD; d++) {
			P[enc->w + d * 2 * PZ + j] = (float)(WU[d][j] / M);
			P[enc->w + d * 2 * PZ + PZ + j] = 0;
		}
		P[enc->b + j] = (float)(-wb / M + mu_shift);
		P[enc->b + PZ + j] = (float)log(var_scale * SIGMA * SIGMA / M);
	}
	cr_assert_eq(vk_work_alloc(w, m, 512, &e), 0);
}

/* Exact log N(x; b, W Wᵀ + σ² I) by a Cholesky factorisation in double. */
static double ppca_logpx(const float *x)
{
	double C[PD][PD], L[PD][PD] = {{0}}, r[PD], y[PD];
	for (int i = 0; i < PD; i++)
		for (int k = 0; k < PD; k++) {
			C[i][k] = i == k ? SIGMA * SIGMA : 0;
			for (int j = 0; j < PZ; j++)
				C[i][k] += WU[i][j] * WU[k][j];
		}
	for (int i = 0; i < PD; i++)
		for (int k = 0; k <= i; k++) {
			double s = C[i][k];
			for (int j = 0; j < k; j++)
				s -= L[i][j] * L[k][j];
			L[i][k] = i == k ? sqrt(s) : s / L[k][k];
		}
	double logdet = 0, quad = 0;
	for (int i = 0; i < PD; i++) {
		r[i] = x[i] - BIAS[i];
		double s = r[i];
		for (int j = 0; j < i; j++)
			s -= L[i][j] * y[j];
		y[i] = s / L[i][i];
		logdet += 2 * log(L[i][i]);
		quad += y[i] * y[i];
	}
	return -0.5 * (PD * log(2 * M_PI) + logdet + quad);
}

/* n records drawn from the model itself. */
static void ppca_data(float *x, int n, uint64_t seed)
{
	vk_rng rng;
	vk_rng_seed(&rng, seed);
	for (int r = 0; r < n; r++) {
		float z[PZ], noise[PD];
		vk_rng_normals(&rng, z, PZ);
		vk_rng_normals(&rng, noise, PD);
		for (int d = 0; d < PD; d++)
			x[r * PD + d] = (float)(BIAS[d] + WU[d][0] * z[0] + WU[d][1] * z[1] +
						SIGMA * noise[d]);
	}
}

Test(evaluate_iw, exact_posterior_gives_exact_log_likelihood)
{
	vk_model m;
	vk_work w;
	ppca_model(&m, &w, 0, 1);
	float x[20 * PD], rec[1], kl[1];
	ppca_data(x, 20, 5);
	for (int r = 0; r < 20; r++) {
		vk_eval_batch(&m, &w, x + r * PD, NULL, 1, 9, rec, kl);
		const float *head = w.act_enc[0];
		double exact = ppca_logpx(x + r * PD);
		/* Every importance weight is p(x): one sample is already exact. */
		double iw1 = vk_iw_logpx(&m, &w, x + r * PD, -1, head, 1, 9);
		double iw50 = vk_iw_logpx(&m, &w, x + r * PD, -1, head, 50, 9);
		cr_assert(fabs(iw1 - exact) < 2e-4, "record %d: iw %.6f exact %.6f", r, iw1, exact);
		cr_assert(fabs(iw50 - exact) < 2e-4, "record %d: iw %.6f exact %.6f", r, iw50,
			  exact);
	}
	vk_work_free(&w);
	vk_model_free(&m);
}

Test(evaluate_iw, k1_is_the_single_sample_elbo_with_the_same_eps)
{
	vk_model m;
	vk_work w;
	ppca_model(&m, &w, 0.7, 2.5);
	float x[10 * PD], rec[1], kl[1];
	ppca_data(x, 10, 6);
	for (int r = 0; r < 10; r++) {
		vk_eval_batch(&m, &w, x + r * PD, NULL, 1, 4, rec, kl);
		const float *head = w.act_enc[0];
		/* log p(x|z) + log p(z) − log q(z|x) at the z that vk_eval_batch used */
		double want = -rec[0];
		for (int j = 0; j < PZ; j++) {
			double eps = w.eps[j], z = head[j] + exp(0.5 * head[PZ + j]) * eps;
			want += -0.5 * z * z + 0.5 * eps * eps + 0.5 * head[PZ + j];
		}
		double iw1 = vk_iw_logpx(&m, &w, x + r * PD, -1, head, 1, 4);
		cr_assert(fabs(iw1 - want) < 1e-4, "record %d: iw1 %.6f want %.6f", r, iw1, want);
	}
	vk_work_free(&w);
	vk_model_free(&m);
}

/* vk_eval_batch and vk_iw_logpx build the decoder's input themselves: for a
 * CVAE they must put the label in as training does, its scale included, or
 * kl-eval and vae-train --test measure a model other than the one trained
 * (they once wrote a one-hot of 1 where training wrote √C). */
Test(evaluate_cvae, evaluation_sees_the_label_as_training_does)
{
	enum { N = 6, Z = 3, C = 4 };
	const char *encoders[2] = {"dense:16", "conv:4:3:2,dense:16"};
	for (int scaled = 0; scaled < 2; scaled++)
		for (int conv = 0; conv < 2; conv++) {
			vk_arch a = {.kind = VK_CVAE, .latent = Z, .classes = C,
				     .likelihood = VK_BERNOULLI, .label_scaled = scaled};
			uint32_t dims[2] = {8, 8};
			vk_error e;
			vk_arch_set_input(&a, 2, dims);
			cr_assert_eq(vk_layers_parse(encoders[conv], VK_RELU, a.enc, VK_MAX_LAYERS,
						     &a.n_enc, &e), 0, "%s", e.msg);
			cr_assert_eq(vk_layers_mirror(a.enc, a.n_enc, vk_arch_input_shape(&a), a.dec,
						      &a.n_dec, &e), 0, "%s", e.msg);
			vk_model m;
			vk_work w;
			cr_assert_eq(vk_model_alloc(&m, &a, &e), 0, "%s", e.msg);
			cr_assert_eq(vk_work_alloc(&w, &m, N, &e), 0, "%s", e.msg);
			vk_rng rng;
			vk_rng_seed(&rng, 11);
			vk_model_init_params(&m, &rng);
			float x[N * 64], eps[N * Z], rec[N], kl[N];
			int32_t labels[N];
			for (int i = 0; i < N * 64; i++)
				x[i] = (float)vk_rng_uniform(&rng);
			for (int r = 0; r < N; r++) {
				labels[r] = r % C;
				vk_rng g;
				vk_rng_seed(&g, vk_record_seed(5, x + r * 64, 64, labels[r]));
				vk_rng_normals(&g, eps + r * Z, Z);
			}
			vk_batch_forward(&m, &w, x, labels, N, eps, 1.0f);
			float train_rec[N], train_kl[N];
			memcpy(train_rec, w.rec, sizeof train_rec);
			memcpy(train_kl, w.kl, sizeof train_kl);
			vk_eval_batch(&m, &w, x, labels, N, 5, rec, kl);
			for (int r = 0; r < N; r++) {
				cr_assert(fabsf(rec[r] - train_rec[r]) < 1e-4f * train_rec[r],
					  "scaled %d conv %d record %d: eval rec %.6f, training %.6f",
					  scaled, conv, r, rec[r], train_rec[r]);
				cr_assert(fabsf(kl[r] - train_kl[r]) < 1e-5f + 1e-5f * train_kl[r]);
			}
			/* K = 1: the single-sample bound at that same z. */
			for (int r = 0; r < N; r++) {
				vk_eval_batch(&m, &w, x + r * 64, labels + r, 1, 5, rec, kl);
				const float *head = w.act_enc[m.n_enc - 1];
				double want = -rec[0];
				for (int j = 0; j < Z; j++) {
					double z = head[j] + exp(0.5 * head[Z + j]) * eps[r * Z + j];
					want += -0.5 * z * z + 0.5 * eps[r * Z + j] * eps[r * Z + j] +
						0.5 * head[Z + j];
				}
				float h[2 * Z];
				memcpy(h, head, sizeof h);
				double iw1 = vk_iw_logpx(&m, &w, x + r * 64, labels[r], h, 1, 5);
				cr_assert(fabs(iw1 - want) < 1e-3, "scaled %d conv %d record %d: iw1 %.6f, "
					  "want %.6f", scaled, conv, r, iw1, want);
			}
			vk_work_free(&w);
			vk_model_free(&m);
		}
}

Test(evaluate_iw, wrong_encoder_bounds_rise_to_exact_log_likelihood)
{
	enum { N = 200 };
	static const int Ks[] = {1, 10, 100, 5000};
	vk_model m;
	vk_work w;
	ppca_model(&m, &w, 0.7, 2.5);
	static float x[N * PD];
	ppca_data(x, N, 7);
	double exact = 0, elbo = 0, iw[4] = {0}, d = 0, d2 = 0;
	for (int r = 0; r < N; r++) {
		float rec[1], kl[1];
		vk_eval_batch(&m, &w, x + r * PD, NULL, 1, 11, rec, kl);
		float head[2 * PZ];
		memcpy(head, w.act_enc[0], sizeof head);
		exact += ppca_logpx(x + r * PD) / N;
		elbo += (-rec[0] - kl[0]) / N;
		for (int k = 0; k < 4; k++)
			iw[k] += vk_iw_logpx(&m, &w, x + r * PD, -1, head, Ks[k], 11) / N;
		double diff = vk_iw_logpx(&m, &w, x + r * PD, -1, head, 1, 11) + rec[0] + kl[0];
		d += diff, d2 += diff * diff;
	}
	double se = sqrt((d2 / N - (d / N) * (d / N)) / (N - 1));
	cr_assert(elbo < exact - 0.05, "elbo %.4f exact %.4f", elbo, exact);
	cr_assert(fabs(iw[0] - elbo) < 4 * se + 1e-3, "iw1 %.4f elbo %.4f se %.4f", iw[0], elbo,
		  se);
	for (int k = 1; k < 4; k++)
		cr_assert(iw[k] > iw[k - 1], "K=%d %.4f not above K=%d %.4f", Ks[k], iw[k],
			  Ks[k - 1], iw[k - 1]);
	cr_assert(fabs(iw[3] - exact) < 0.1, "K=5000 %.4f exact %.4f", iw[3], exact);
	cr_assert(iw[3] < exact + 0.01);
	vk_work_free(&w);
	vk_model_free(&m);
}

Test(evaluate_iw, same_seed_same_numbers_any_batch)
{
	vk_model m;
	vk_work w;
	ppca_model(&m, &w, 0.7, 2.5);
	float x[3 * PD], rec[2][3], kl[2][3], eps_alone[PZ];
	ppca_data(x, 3, 8);
	vk_eval_batch(&m, &w, x, NULL, 3, 21, rec[0], kl[0]);
	float eps_third[PZ];
	memcpy(eps_third, w.eps + 2 * PZ, sizeof eps_third);
	double a = vk_iw_logpx(&m, &w, x, -1, w.act_enc[0], 300, 21);
	vk_eval_batch(&m, &w, x, NULL, 3, 21, rec[1], kl[1]);
	double b = vk_iw_logpx(&m, &w, x, -1, w.act_enc[0], 300, 21);
	cr_assert(!memcmp(rec[0], rec[1], sizeof rec[0]) && !memcmp(kl[0], kl[1], sizeof kl[0]));
	cr_assert(a == b, "%.17g != %.17g", a, b);
	/* A record's noise depends on the record, not on its place in the batch. */
	vk_eval_batch(&m, &w, x + 2 * PD, NULL, 1, 21, rec[1], kl[1]);
	memcpy(eps_alone, w.eps, sizeof eps_alone);
	cr_assert(!memcmp(eps_third, eps_alone, sizeof eps_alone));
	double c = vk_iw_logpx(&m, &w, x, -1, w.act_enc[0], 300, 22);
	vk_eval_batch(&m, &w, x, NULL, 1, 22, rec[1], kl[1]);
	cr_assert(c != a && rec[1][0] != rec[0][0], "another seed, other noise");
	vk_work_free(&w);
	vk_model_free(&m);
}

/* ---- kl-eval end to end ---- */

#define IMAGES "examples/data/digits-train-images-idx3-ubyte.gz"
#define LABELS "examples/data/digits-train-labels-idx1-ubyte.gz"

/* 300 labelled digits, made once per test process. */
static const char *digits(void)
{
	static char path[512];
	if (!path[0]) {
		snprintf(path, sizeof path, "%s", tmp_path("digits.ts"));
		cr_assert_eq(run("idx2stream %s %s | stream-cat -n 300 > %s", repo_path(IMAGES),
				 repo_path(LABELS), path), 0);
	}
	return path;
}

/* A small model of kind trained briefly on the digits. */
static const char *train(const char *name, const char *kind)
{
	static char path[4][512];
	static int next;
	char *p = path[next++ % 4], err[1024];
	snprintf(p, 512, "%s", tmp_path(name));
	int rc = run_err(err, sizeof err, "vae-train -q -m %s -z 5 --hidden 64 -e 3 -b 32 -o %s %s",
			 kind, p, digits());
	cr_assert_eq(rc, 0, "vae-train: %s", err);
	return p;
}

/* Field `col` (0-based) of the TSV line whose first three fields start with
 * prefix (e.g. "MODEL\tvae\tall"), from a file. */
static double tsv_field(const char *file, const char *prefix, int col)
{
	size_t len;
	char *text = (char *)slurp(file, &len);
	cr_assert(text, "no output %s", file);
	text = realloc(text, len + 1);
	text[len] = 0;
	char *line = strstr(text, prefix);
	cr_assert(line, "no line starting %s in %s", prefix, file);
	for (int i = 0; i < col; i++) {
		line = strchr(line, '\t');
		cr_assert(line && line < strchr(line, '\n') + 1);
		line++;
	}
	double v = strncmp(line, "NA", 2) ? strtod(line, NULL) : NAN;
	free(text);
	return v;
}

static int count_lines(const char *file)
{
	size_t len;
	unsigned char *t = slurp(file, &len);
	int n = 0;
	for (size_t i = 0; i < len; i++)
		n += t[i] == '\n';
	free(t);
	return n;
}

enum { C_RECORDS = 3, C_REC, C_KL, C_NELBO, C_IW = 8, C_NLOGPX, C_GAP = 11, C_ACTIVE };

Test(kl_eval_tool, sensible_numbers_and_two_models)
{
	const char *a = train("a.m", "vae"), *b = train("b.m", "vae");
	const char *out = tmp_path("two.tsv"), *tab = tmp_path("two.txt");
	char pa[600], pb[600], err[1024];
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -m %s -m %s --iw 20 %s > %s", a, b,
			     digits(), out), 0, "%s", err);
	snprintf(pa, sizeof pa, "%s\tvae\tall", a);
	snprintf(pb, sizeof pb, "%s\tvae\tall", b);
	cr_assert_eq(tsv_field(out, pa, C_RECORDS), 300);
	double rec = tsv_field(out, pa, C_REC), kl = tsv_field(out, pa, C_KL);
	double nelbo = tsv_field(out, pa, C_NELBO), nlp = tsv_field(out, pa, C_NLOGPX);
	cr_assert(rec > 30 && rec < 400 && kl > 1 && kl < 100, "rec %g kl %g", rec, kl);
	cr_assert(fabs(nelbo - rec - kl) < 1e-3);
	cr_assert(nlp < nelbo && nlp > nelbo - 30, "-log p %g -elbo %g", nlp, nelbo);
	cr_assert(fabs(tsv_field(out, pa, C_GAP) - (nelbo - nlp)) < 1e-3);
	double active = tsv_field(out, pa, C_ACTIVE);
	cr_assert(active >= 1 && active <= 5);
	cr_assert_eq(tsv_field(out, pb, C_RECORDS), 300);
	/* 1 header + (1 + 5 dimensions) per model */
	cr_assert_eq(count_lines(out), 13);
	cr_assert_eq(run("kl-eval --table -m %s -m %s %s > %s", a, b, digits(), tab), 0);
	cr_assert_eq(count_lines(tab), 3);
	/* More importance samples, a tighter bound. */
	const char *k1 = tmp_path("k1.tsv");
	cr_assert_eq(run("kl-eval -m %s --iw 1 %s > %s", a, digits(), k1), 0);
	cr_assert(tsv_field(k1, pa, C_NLOGPX) > nlp + 0.5);
}

Test(kl_eval_tool, same_seed_same_numbers)
{
	const char *m = train("s.m", "vae");
	const char *x = tmp_path("s1.tsv"), *y = tmp_path("s2.tsv"), *z = tmp_path("s3.tsv");
	cr_assert_eq(run("kl-eval -m %s --iw 3 %s > %s && kl-eval -m %s --iw 3 %s > %s", m,
			 digits(), x, m, digits(), y), 0);
	cr_assert_eq(run("cmp -s %s %s", x, y), 0);
	cr_assert_eq(run("kl-eval -m %s --iw 3 --seed 2 %s > %s", m, digits(), z), 0);
	cr_assert_neq(run("cmp -s %s %s", x, z), 0);
}

Test(kl_eval_tool, ae_has_no_elbo)
{
	const char *m = train("ae.m", "ae"), *out = tmp_path("ae.tsv");
	char err[1024], prefix[600];
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -m %s %s > %s", m, digits(), out), 0);
	cr_assert(strstr(err, "ae: deterministic encoder, no ELBO"), "stderr: %s", err);
	snprintf(prefix, sizeof prefix, "%s\tae\tall", m);
	cr_assert(tsv_field(out, prefix, C_REC) > 0);
	cr_assert(isnan(tsv_field(out, prefix, C_NELBO)));
}

Test(kl_eval_tool, per_record_lines)
{
	const char *m = train("p.m", "vae"), *out = tmp_path("per.txt");
	cr_assert_eq(run("kl-eval --per-record --iw 2 -m %s %s > %s", m, digits(), out), 0);
	cr_assert_eq(count_lines(out), 301);
	/* A header, then record label model rec kl nelbo nlogpx complexity ccl llr,
	 * the records numbered in order, the label a digit, nelbo = rec + kl, and
	 * ccl = nlogpx − complexity. */
	cr_assert_eq(run("head -1 %s | grep -qx "
			 "'record.label.model.rec.kl.nelbo.nlogpx.complexity.ccl.llr'", out), 0);
	cr_assert_eq(run("awk -F'\\t' 'NR > 1 && (NF != 10 || $10 != \"NA\" || $1 != NR - 2 || $2 !~ /^[0-9]$/ || "
			 "$4 + $5 - $6 > 1e-3 || $6 - $4 - $5 > 1e-3 || $7 - $8 - $9 > 1e-3 || "
			 "$9 - $7 + $8 > 1e-3) { bad = 1 } END { exit bad }' %s", out), 0);
}

Test(kl_eval_tool, merge_of_shards_equals_whole)
{
	const char *m = train("mg.m", "vae"), *dir = tmp_path("shards");
	char err[1024];
	int rc = run_err(err, sizeof err,
			 "mkdir -p %s && cd %s && kl-eval --tsv -m %s --iw 5 %s > whole.tsv && "
			 "stream-split -k 2 %s && kl-eval --tsv -m %s --iw 5 shard0000.ts > a.tsv && "
			 "kl-eval --tsv -m %s --iw 5 shard0001.ts > b.tsv && "
			 "kl-eval --merge --tsv a.tsv b.tsv > merged.tsv && cmp whole.tsv merged.tsv",
			 dir, dir, m, digits(), digits(), m, m);
	cr_assert_eq(rc, 0, "%s", err);
	/* A summary of something else does not merge. */
	rc = run_err(err, sizeof err, "cd %s && kl-eval --merge whole.tsv shard0000.ts", dir);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "not a kl-eval --tsv summary"), "%s", err);
}

Test(kl_eval_tool, latent_stream_filter)
{
	const char *lat = tmp_path("lat.ts"), *out = tmp_path("lat.tsv");
	/* μ | log σ² of two dimensions; KL by hand, −½(1 + log σ² − μ² − σ²) */
	cr_assert_eq(run("printf '0 0 0 0\\n1 -1 0 0.5\\n-1 2 -1 -0.5\\n' | txt2stream > %s",
			 lat), 0);
	cr_assert_eq(run("kl-eval %s > %s", lat, out), 0);
	double want = (0.5 + 0.5 * (exp(0.5) - 0.5) + 0.5 * (1 + exp(-1.0)) +
		       0.5 * (3.5 + exp(-0.5))) / 3;
	cr_assert(fabs(tsv_field(out, "-\tlatent\tall", C_KL) - want) < 1e-5, "%g want %g",
		  tsv_field(out, "-\tlatent\tall", C_KL), want);
	cr_assert_eq(tsv_field(out, "-\tlatent\tall", C_ACTIVE), 2);
	cr_assert_eq(run("kl-eval --per-record %s | sed -n 2p | grep -qx '0.NA.-.NA.0.NA.NA.NA.NA.NA'",
			 lat), 0);
	char err[1024];
	cr_assert_eq(run_err(err, sizeof err, "kl-eval %s", digits()), 1);
	cr_assert(strstr(err, "not latent+logvar"), "%s", err);
	/* What vae-encode writes has the model's KL. */
	const char *m = train("enc.m", "vae"), *direct = tmp_path("direct.tsv");
	char prefix[600];
	cr_assert_eq(run_err(err, sizeof err, "vae-encode --with-logvar -m %s %s | kl-eval > %s",
			     m, digits(), out), 0, "%s", err);
	cr_assert_eq(run("kl-eval -m %s %s > %s", m, digits(), direct), 0);
	snprintf(prefix, sizeof prefix, "%s\tvae\tall", m);
	double a = tsv_field(out, "-\tlatent\tall", C_KL), b = tsv_field(direct, prefix, C_KL);
	cr_assert(fabs(a - b) < 1e-4 * b, "encoded %g direct %g", a, b);
}

Test(kl_eval_tool, errors_are_one_clear_line)
{
	const char *m = train("e.m", "vae"), *cv = train("cv.m", "cvae");
	const char *three = tmp_path("three.ts"), *bad = tmp_path("bad.m");
	const char *nolab = tmp_path("nolab.ts"), *lab12 = tmp_path("lab12.ts");
	char err[1024];
	cr_assert_eq(run("echo '1 2 3' | txt2stream > %s", three), 0);
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -m %s %s", m, three), 1);
	cr_assert(strstr(err, "do not match") && strstr(err, "28x28"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -m /nonexistent/x.m %s", three), 1);
	cr_assert(strstr(err, "/nonexistent/x.m"), "%s", err);
	cr_assert_eq(run("cp %s %s && printf 'Z' | dd of=%s bs=1 seek=3000 conv=notrunc "
			 "2>/dev/null", m, bad, bad), 0);
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -m %s %s", bad, digits()), 1);
	cr_assert(strstr(err, "checksum"), "%s", err);
	cr_assert_eq(run("stream2txt %s | cut -f2- | txt2stream -t u8 -s 28x28 > %s", digits(),
			 nolab), 0);
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -m %s %s", cv, nolab), 1);
	cr_assert(strstr(err, "no labels") && strstr(err, "conditional"), "%s", err);
	cr_assert_eq(run("stream2txt %s | awk '{ $1 = 12; print }' | "
			 "txt2stream -l -t u8 -s 28x28 > %s", digits(), lab12), 0);
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -m %s %s", cv, lab12), 1);
	cr_assert(strstr(err, "has label 12, outside"), "%s", err);
	/* NaN in the data */
	const char *nan_ts = tmp_path("nan.ts");
	ts_header h;
	ts_writer tw;
	vk_error e;
	uint32_t dims[2] = {28, 28};
	static float img[784];
	img[100] = NAN;
	cr_assert_eq(ts_header_init(&h, TS_F32, 2, dims, &e), 0);
	cr_assert_eq(ts_writer_open(&tw, nan_ts, &h, &e), 0, "%s", e.msg);
	cr_assert_eq(ts_write(&tw, img, TS_NO_LABEL, &e), 0, "%s", e.msg);
	cr_assert_eq(ts_writer_close(&tw, &e), 0, "%s", e.msg);
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -m %s %s", m, nan_ts), 1);
	cr_assert(strstr(err, "NaN") || strstr(err, "nan") || strstr(err, "finite"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "kl-eval --iw 5 %s", three), 2);
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -m %s --iw 0 %s", m, three), 2);
	/* Each message is one line. */
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -m %s %s", m, three), 1);
	cr_assert(strchr(err, '\n') == err + strlen(err) - 1, "%s", err);
}

/* --aggregate: the codes' MMD to the prior and β-TCVAE's terms over batches,
 * for a VAE (all four) and an AE (the MMD); the three terms add up to the
 * sampled KL, an estimate of the kl column; same seed, same numbers. */
enum { C_MMD = 21, C_MI, C_TC, C_DIMKL };

Test(kl_eval_tool, aggregate_mmd_and_tc_terms)
{
	const char *v = train("ag-v.m", "vae"), *a = train("ag-a.m", "ae");
	const char *out = tmp_path("ag.tsv"), *again = tmp_path("ag2.tsv"), *tab = tmp_path("ag.txt");
	char err[1024], pv[600], pa[600];
	cr_assert_eq(run_err(err, sizeof err, "kl-eval --aggregate 100 -m %s -m %s %s > %s", v, a,
			     digits(), out), 0, "%s", err);
	cr_assert_eq(run("head -1 %s | grep -q 'q_mu2.mmd.mi.tc.dim_kl$'", out), 0);
	snprintf(pv, sizeof pv, "%s\tvae\tall", v);
	snprintf(pa, sizeof pa, "%s\tae\tall", a);
	double mmd = tsv_field(out, pv, C_MMD), mi = tsv_field(out, pv, C_MI);
	double tc = tsv_field(out, pv, C_TC), dkl = tsv_field(out, pv, C_DIMKL);
	double kl = tsv_field(out, pv, C_KL);
	cr_assert(mmd > -0.1 && mmd < 10, "mmd %g", mmd);
	/* MWS bounds the MI by log(NB): 300 records in batches of 100 */
	cr_assert(mi >= 0 && mi <= log(300.0 * 100) + 1e-9, "mi %g", mi);
	cr_assert(isfinite(tc) && isfinite(dkl));
	cr_assert(fabs(mi + tc + dkl - kl) < 0.15 * kl + 1, "mi + tc + dim-kl %g, kl %g",
		  mi + tc + dkl, kl);
	double ammd = tsv_field(out, pa, C_MMD);
	cr_assert(isfinite(ammd) && ammd > -0.1, "ae mmd %g", ammd);
	cr_assert(isnan(tsv_field(out, pa, C_MI)) && isnan(tsv_field(out, pa, C_TC)));
	/* the dimensions' rows have none */
	char p0[600];
	snprintf(p0, sizeof p0, "%s\tvae\t0\t", v);
	cr_assert(isnan(tsv_field(out, p0, C_MMD)));
	cr_assert_eq(run("kl-eval --aggregate 100 -m %s -m %s %s > %s && cmp -s %s %s", v, a,
			 digits(), again, out, again), 0);
	cr_assert_eq(run("kl-eval --aggregate 100 -s 2 -m %s -m %s %s > %s && ! cmp -s %s %s", v,
			 a, digits(), again, out, again), 0, "another seed, other prior draws");
	/* without it, the summary is as it was */
	cr_assert_eq(run("kl-eval -m %s %s | head -1 | grep -q 'q_mu2$'", v, digits()), 0);
	cr_assert_eq(run("kl-eval --table --aggregate 50 -m %s %s > %s", v, digits(), tab), 0);
	cr_assert_eq(run("grep -q '^model  *mmd  *mi  *tc  *dim-kl$' %s", tab), 0);
	/* bad input: one line each */
	static const char *const bad[][2] = {
		{"--aggregate 1 -m MODEL", "--aggregate"},
		{"--aggregate -3 -m MODEL", "--aggregate"},
		{"--aggregate 100", "needs a model"},
		{"--aggregate 100 --per-record -m MODEL", "--per-record"},
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char cmd[1024];
		snprintf(cmd, sizeof cmd, "%s", bad[i][0]);
		char *at = strstr(cmd, "MODEL");
		if (at)
			snprintf(at, sizeof cmd - (at - cmd), "%s", v);
		int rc = run_err(err, sizeof err, "kl-eval %s %s", cmd, digits());
		cr_assert_eq(rc, 2, "%s: exit %d: %s", bad[i][0], rc, err);
		cr_assert(strstr(err, bad[i][1]), "%s: %s", bad[i][0], err);
	}
	cr_assert_eq(run_err(err, sizeof err, "kl-eval --merge %s", out), 1);
	cr_assert(strstr(err, "--aggregate") && strstr(err, "do not add up"), "%s", err);
}
