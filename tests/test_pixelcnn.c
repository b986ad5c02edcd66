/* The PixelCNN prior over code maps (issue 24): the categorical likelihood
 * (its gradient against finite differences, its mode, its one-hot, its code
 * checks), the pixelcnn model kind (its gradient, its causality, the model
 * file), sampling and the baseline in the library, and the real programs end
 * to end: vae-train -m pixelcnn on code maps with structure beats the
 * independent per-position baseline (kl-eval --baseline), vae-sample draws
 * maps with that structure, and every bad input is refused in one line. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "evaluate.h"
#include "modelfile.h"
#include "pixelcnn.h"
#include "stream.h"
#include "testutil.h"

/* ---- the categorical likelihood ---- */

static vk_arch cat_arch(int D, int K)
{
	vk_arch a = {.kind = VK_PIXELCNN, .likelihood = VK_CATEGORICAL, .codes = K};
	vk_arch_set_input(&a, 2, (uint32_t[]){1, (uint32_t)D});
	return a;
}

Test(categorical, nll_and_gradient_against_finite_differences)
{
	enum { N = 3, D = 4, K = 5 };
	vk_arch a = cat_arch(D, K);
	const vk_lik_kind *lik = vk_lik_get(VK_CATEGORICAL);
	cr_assert_not_null(lik);
	cr_assert_eq(lik->out_width(&a), D * K);
	float l[N * D * K], x[N * D], g[N * D * K], rec[N], r1[N], r2[N];
	vk_rng rng;
	vk_rng_seed(&rng, 4);
	for (int i = 0; i < N * D * K; i++)
		l[i] = 2.0f * (float)vk_rng_normal(&rng);
	for (int i = 0; i < N * D; i++)
		x[i] = (float)(i * 3 % K);
	lik->nll(&a, l, x, g, rec, N, 0.5f);
	/* against a direct sum of −log softmax in double */
	for (int r = 0; r < N; r++) {
		double want = 0;
		for (int p = 0; p < D; p++) {
			const float *lp = l + (r * D + p) * K;
			double s = 0;
			for (int k = 0; k < K; k++)
				s += exp(lp[k]);
			want += log(s) - lp[(int)x[r * D + p]];
		}
		cr_assert_float_eq(rec[r], want, 1e-4 * (1 + want));
	}
	/* d(0.5·Σ rec)/dl by central differences */
	for (int i = 0; i < N * D * K; i++) {
		float keep = l[i], h = 1e-2f;
		l[i] = keep + h;
		lik->nll(&a, l, x, NULL, r1, N, 0);
		l[i] = keep - h;
		lik->nll(&a, l, x, NULL, r2, N, 0);
		l[i] = keep;
		double num = 0;
		for (int r = 0; r < N; r++)
			num += 0.5 * ((double)r1[r] - r2[r]) / (2 * h);
		cr_assert(fabs(num - g[i]) < 2e-3, "logit %d: analytic %g numeric %g", i, g[i], num);
	}
}

Test(categorical, mode_expand_and_checks)
{
	enum { D = 3, K = 4 };
	vk_arch a = cat_arch(D, K);
	const vk_lik_kind *lik = vk_lik_get(VK_CATEGORICAL);
	float l[D * K] = {0, 5, 1, 2, /**/ 7, 7, 0, 0, /**/ -3, -2, -1, -0.5f};
	lik->mean(&a, l, 1);
	cr_assert_eq(l[0], 1.0f);
	cr_assert_eq(l[1], 0.0f); /* a tie: the lowest */
	cr_assert_eq(l[2], 3.0f);
	float x[D] = {2, 0, 3}, in[D * K];
	lik->expand(&a, x, in, 1);
	for (int i = 0; i < D * K; i++)
		cr_assert_eq(in[i], i % K == (int)x[i / K] ? 1.0f : 0.0f, "element %d", i);
	vk_error e;
	cr_assert_eq(lik->check_rows(&a, x, 1, D, 0, "codes", &e), 0);
	const float bad[][D] = {{0, 4, 1}, {-1, 0, 0}, {0, 1.5f, 0}, {0, 0, NAN}};
	for (int i = 0; i < 4; i++) {
		cr_assert_neq(lik->check_rows(&a, bad[i], 1, D, 7, "codes", &e), 0, "row %d", i);
		cr_assert(strstr(e.msg, "record 7") && strstr(e.msg, "[0, 4)"), "%s", e.msg);
	}
	/* K of 0 or 1 is no categorical */
	a.codes = 1;
	cr_assert_neq(vk_arch_check(&a, &e), 0);
}

/* ---- the model ---- */

/* A pixelcnn, or with classes > 0 a cpixelcnn of that many classes. */
static void cpixelcnn_model(vk_model *m, int H, int W, int K, int classes, const char *layers)
{
	vk_arch a = {.kind = classes ? VK_CPIXELCNN : VK_PIXELCNN, .likelihood = VK_CATEGORICAL,
		     .codes = K, .classes = classes, .label_scaled = classes > 0};
	vk_arch_set_input(&a, 2, (uint32_t[]){(uint32_t)H, (uint32_t)W});
	vk_error e;
	cr_assert_eq(vk_layers_parse(layers, VK_TANH, a.dec, VK_MAX_LAYERS, &a.n_dec, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(vk_model_alloc(m, &a, &e), 0, "%s", e.msg);
	vk_rng rng;
	vk_rng_seed(&rng, 3);
	vk_model_init_params(m, &rng);
	for (size_t i = 0; i < m->n_params; i++) /* biases off zero too */
		m->params[i] += 0.1f * (float)vk_rng_normal(&rng);
}

static void pixelcnn_model(vk_model *m, int H, int W, int K, const char *layers)
{
	cpixelcnn_model(m, H, W, K, 0, layers);
}

/* The whole model's parameter gradient (vk_batch_grad) against central
 * differences of its loss. */
static void check_model_gradient(int classes)
{
	enum { N = 3, H = 3, W = 4, K = 3 };
	vk_model m;
	cpixelcnn_model(&m, H, W, K, classes, "mconv:3:3:A,mconv:4:3:B");
	const int32_t labels[N] = {1, 0, 1};
	const int32_t *lab = classes ? labels : NULL;
	vk_work w;
	vk_error e;
	cr_assert_eq(vk_work_alloc(&w, &m, N, &e), 0);
	float x[N * H * W];
	for (int i = 0; i < N * H * W; i++)
		x[i] = (float)((i * 7 + i / 5) % K);
	float *g = calloc(m.n_params, sizeof(float));
	vk_batch_grad(&m, &w, g, x, lab, N, 1.0f, NULL, 1.0f);
	int bad = 0;
	for (size_t i = 0; i < m.n_params; i++) {
		float keep = m.params[i], h = 1e-2f;
		double up = 0, down = 0;
		m.params[i] = keep + h;
		vk_eval_batch(&m, &w, x, lab, N, 1, w.rec, w.kl);
		for (int r = 0; r < N; r++)
			up += w.rec[r];
		m.params[i] = keep - h;
		vk_eval_batch(&m, &w, x, lab, N, 1, w.rec, w.kl);
		for (int r = 0; r < N; r++)
			down += w.rec[r];
		m.params[i] = keep;
		double num = (up - down) / (2 * h);
		if (!(fabs(num - g[i]) < 3e-3 + 1e-2 * fabs(num)) && bad++ < 5)
			cr_log_error("parameter %zu: analytic %g numeric %g", i, g[i], num);
	}
	cr_assert_eq(bad, 0);
	/* every class bias of class 2 (no record has it) gets no gradient, the
	 * others do */
	if (classes) {
		const vk_layer *l = &m.dec[1];
		int F = l->spec.units;
		cr_assert_eq(l->label_in, classes);
		for (int f = 0; f < F; f++) {
			cr_assert_eq(g[l->b + F * 3 + f], 0.0f);
			cr_assert_neq(g[l->b + F * 1 + f], 0.0f);
		}
	}
	free(g);
	vk_work_free(&w);
	vk_model_free(&m);
}

Test(pixelcnn, model_gradient_against_finite_differences)
{
	check_model_gradient(0);
	check_model_gradient(3); /* the class biases too */
}

/* Position p's logits never move with the codes at p or after it. */
Test(pixelcnn, logits_depend_only_on_earlier_codes)
{
	enum { H = 4, W = 5, K = 3, P = H * W };
	vk_model m;
	pixelcnn_model(&m, H, W, K, "mconv:4:1:B/identity,mconv:4:3:A,mconv:4:3:B");
	vk_work w;
	vk_error e;
	cr_assert_eq(vk_work_alloc(&w, &m, 1, &e), 0);
	float x[P], y0[P * K];
	for (int i = 0; i < P; i++)
		x[i] = (float)(i % K);
	memcpy(y0, vk_ar_forward(&m, &w, x, NULL, 1), sizeof y0);
	int moved_later = 0;
	for (int q = 0; q < P; q++) {
		float keep = x[q];
		x[q] = (float)((q + 1) % K);
		const float *y = vk_ar_forward(&m, &w, x, NULL, 1);
		for (int p = 0; p < P; p++)
			for (int k = 0; k < K; k++) {
				int moved = y[p * K + k] != y0[p * K + k];
				cr_assert(p > q || !moved, "logit of %d moved with code %d", p, q);
				moved_later |= moved;
			}
		x[q] = keep;
	}
	cr_assert(moved_later);
	vk_work_free(&w);
	vk_model_free(&m);
}

Test(pixelcnn, model_file_round_trip)
{
	vk_model m, back;
	vk_error e;
	pixelcnn_model(&m, 4, 4, 9, "mconv:8:1:B/identity,mconv:8:5:A/relu,mconv:8:3:B/relu");
	cr_assert_eq(m.n_enc, 0);
	cr_assert_eq(m.dec[m.n_dec - 1].out.c, 9);
	const char *path = tmp_path("pc-round.vae");
	cr_assert_eq(vk_model_save(path, &m, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_model_load(path, &back, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(back.a.kind, VK_PIXELCNN);
	cr_assert_eq(back.a.codes, 9);
	cr_assert_eq(back.n_enc, 0);
	cr_assert_eq(back.n_dec, m.n_dec);
	cr_assert_eq(back.n_params, m.n_params);
	cr_assert_eq(memcmp(back.params, m.params, sizeof(float) * m.n_params), 0);
	cr_assert_eq(vk_model_identity(&back), vk_model_identity(&m));
	/* what a VQ-VAE's vae-sample --prior asks of it */
	cr_assert_eq(vk_pixelcnn_fits(&back, 9, 4, 4, "p.vae", &e), 0, "%s", e.msg);
	cr_assert_neq(vk_pixelcnn_fits(&back, 512, 4, 4, "p.vae", &e), 0);
	cr_assert(strstr(e.msg, "p.vae") && strstr(e.msg, "of 9, not 512"), "%s", e.msg);
	cr_assert_neq(vk_pixelcnn_fits(&back, 9, 7, 7, "p.vae", &e), 0);
	cr_assert(strstr(e.msg, "4x4 code maps, not 7x7"), "%s", e.msg);
	/* a model of another codebook is another model */
	vk_model other;
	pixelcnn_model(&other, 4, 4, 8, "mconv:8:1:B/identity,mconv:8:5:A/relu,mconv:8:3:B/relu");
	cr_assert_neq(vk_model_identity(&other), vk_model_identity(&m));
	vk_model_free(&other);
	vk_model_free(&back);
	vk_model_free(&m);
	/* a cpixelcnn: its classes, and its class biases among the parameters */
	cpixelcnn_model(&m, 4, 4, 9, 5, "mconv:8:1:B/identity,mconv:8:5:A/relu");
	cr_assert_eq(vk_model_save(path, &m, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_model_load(path, &back, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(back.a.kind, VK_CPIXELCNN);
	cr_assert_eq(back.a.classes, 5);
	cr_assert_eq(back.n_params, m.n_params);
	cr_assert_eq(m.n_params, (1 * 1 * 9 * 8 + 8 + 5 * 8) + (5 * 5 * 8 * 8 + 8 + 5 * 8) +
					 (8 * 9 + 9 + 5 * 9));
	cr_assert_eq(memcmp(back.params, m.params, sizeof(float) * m.n_params), 0);
	cr_assert_eq(vk_model_identity(&back), vk_model_identity(&m));
	vk_model_free(&back);
	vk_model_free(&m);
}

/* A saved pixelcnn's bytes with one edit, its CRC made right again: the
 * u32 at offset `at` of section tag's (at < 0: the entry's tag and flags
 * become ZATG and 0). */
static void edit_and_expect(const char *path, const char *tag, long at, uint32_t v,
			    const char *want)
{
	size_t len;
	unsigned char *b = slurp(path, &len);
	cr_assert_not_null(b);
	uint32_t count;
	memcpy(&count, b + 12, 4);
	unsigned char *ent = NULL;
	for (uint32_t i = 0; i < count; i++)
		if (!memcmp(b + 16 + 32 * i, tag, 4))
			ent = b + 16 + 32 * i;
	cr_assert_not_null(ent, "no %s section", tag);
	if (at < 0) {
		memcpy(ent, "ZATG", 4);
		memset(ent + 8, 0, 4);
	} else {
		uint64_t off;
		memcpy(&off, ent + 16, 8);
		memcpy(b + off + at, &v, 4);
	}
	uint32_t crc = (uint32_t)crc32(0L, b, (uInt)(len - 4));
	memcpy(b + len - 4, &crc, 4);
	const char *bad = tmp_path("pc-edited.vae");
	cr_assert_eq(spit(bad, b, len), 0);
	free(b);
	vk_model m;
	vk_error e;
	cr_assert_neq(vk_model_load(bad, &m, NULL, NULL, &e), 0, "accepted (want %s)", want);
	cr_assert(strstr(e.msg, want), "want '%s': %s", want, e.msg);
}

Test(pixelcnn, model_file_damage_refused)
{
	vk_model m;
	vk_error e;
	pixelcnn_model(&m, 4, 4, 9, "mconv:8:3:A");
	char path[512];
	snprintf(path, sizeof path, "%s", tmp_path("pc-damage.vae"));
	cr_assert_eq(vk_model_save(path, &m, NULL, NULL, &e), 0, "%s", e.msg);
	vk_model_free(&m);
	edit_and_expect(path, "CATG", 0, 1, "CATG's classes is 1 (2 to 65536)");
	edit_and_expect(path, "CATG", 0, 10, "layer"); /* K no longer the output's */
	edit_and_expect(path, "CATG", -1, 0, "without a CATG section");
	edit_and_expect(path, "HEAD", 28, 1, "a CATG section with a bernoulli likelihood");
	edit_and_expect(path, "HEAD", 24, 3, "no latent"); /* latent 3 in a pixelcnn */
}

/* ---- sampling and the baseline ---- */

Test(pixelcnn, sampling_is_deterministic_and_in_range)
{
	enum { H = 3, W = 3, K = 5, N = 300 };
	vk_model m;
	pixelcnn_model(&m, H, W, K, "mconv:4:3:A,mconv:4:3:B");
	int32_t a[N * H * W], b[N * H * W];
	vk_error e;
	cr_assert_eq(vk_pixelcnn_sample(&m, 9, 0, N, -1, 1.0f, a, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_pixelcnn_sample(&m, 9, 0, N, -1, 1.0f, b, &e), 0, "%s", e.msg);
	cr_assert_eq(memcmp(a, b, sizeof a), 0);
	/* maps 100 … 149 alone are the same maps */
	cr_assert_eq(vk_pixelcnn_sample(&m, 9, 100, 50, -1, 1.0f, b, &e), 0, "%s", e.msg);
	cr_assert_eq(memcmp(a + 100 * H * W, b, sizeof(int32_t) * 50 * H * W), 0);
	cr_assert_eq(vk_pixelcnn_sample(&m, 10, 0, N, -1, 1.0f, b, &e), 0, "%s", e.msg);
	cr_assert_neq(memcmp(a, b, sizeof a), 0);
	int seen[K] = {0};
	for (int i = 0; i < N * H * W; i++) {
		cr_assert(a[i] >= 0 && a[i] < K);
		seen[a[i]]++;
	}
	for (int k = 0; k < K; k++)
		cr_assert_gt(seen[k], 0, "code %d never drawn", k);
	cr_assert_neq(vk_pixelcnn_sample(&m, 9, 0, 1, -1, 0.0f, a, &e), 0);
	cr_assert_neq(vk_pixelcnn_sample(&m, 9, 0, 1, 2, 1.0f, a, &e), 0);
	cr_assert(strstr(e.msg, "not conditioned"), "%s", e.msg);
	vk_model_free(&m);
	/* a cpixelcnn needs a class in range; classes draw other maps */
	cpixelcnn_model(&m, H, W, K, 2, "mconv:4:3:A,mconv:4:3:B");
	cr_assert_neq(vk_pixelcnn_sample(&m, 9, 0, 1, -1, 1.0f, a, &e), 0);
	cr_assert_neq(vk_pixelcnn_sample(&m, 9, 0, 1, 2, 1.0f, a, &e), 0);
	cr_assert(strstr(e.msg, "class 0 to 1"), "%s", e.msg);
	const vk_layer *out = &m.dec[2]; /* its biases b (K), then V (2, K) */
	cr_assert_eq(out->label_in, 2);
	m.params[out->b + K * 2 + 0] = 8.0f; /* class 1 strongly prefers code 0 */
	cr_assert_eq(vk_pixelcnn_sample(&m, 9, 0, N, 0, 1.0f, a, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_pixelcnn_sample(&m, 9, 0, N, 1, 1.0f, b, &e), 0, "%s", e.msg);
	int zeros[2] = {0, 0};
	for (int i = 0; i < N * H * W; i++)
		zeros[0] += a[i] == 0, zeros[1] += b[i] == 0;
	cr_assert_gt(zeros[1], zeros[0] + N * H * W / 2, "class 0: %d zeros, class 1: %d",
		     zeros[0], zeros[1]);
	vk_model_free(&m);
}

Test(pixelcnn, baseline_by_hand)
{
	vk_code_baseline b;
	vk_error e;
	cr_assert_eq(vk_code_baseline_init(&b, 2, 3, &e), 0);
	float x[] = {0, 1, 0, 2, 0, 2, 1, 2}; /* four maps of 2 */
	vk_code_baseline_add(&b, x, 4);
	cr_assert_eq(b.n, 4);
	/* p(0 at 0) = (3 + ½)/(4 + 3/2), p(2 at 1) = (3 + ½)/(4 + 3/2) */
	float q[] = {0, 2};
	double want = -2 * log(3.5 / 5.5);
	cr_assert_float_eq(vk_code_baseline_nll(&b, q), want, 1e-12);
	float r[] = {2, 0}; /* never seen: (0 + ½)/5.5 each */
	cr_assert_float_eq(vk_code_baseline_nll(&b, r), -2 * log(0.5 / 5.5), 1e-12);
	vk_code_baseline_free(&b);
}

/* ---- the programs ---- */

/* n code maps H×W over K codes, each row a random start whose code is
 * copied rightwards with probability 0.9 (else redrawn): structure an
 * independent per-position model cannot see. meta: the codebook key, or
 * none with 0; dtype TS_I32 or TS_U8; bad_at ≥ 0 puts the value bad there. */
static void code_stream(char *path, const char *name, int n, int H, int W, int K, int meta,
			int dtype, uint64_t seed, long bad_at, float bad)
{
	snprintf(path, 512, "%s", tmp_path(name));
	ts_header h;
	ts_writer w;
	vk_error e;
	cr_assert_eq(ts_header_init(&h, dtype, 2, (uint32_t[]){(uint32_t)H, (uint32_t)W}, &e), 0);
	if (meta) {
		char k[16];
		snprintf(k, sizeof k, "%d", meta);
		cr_assert_eq(ts_meta_set(&h, "codebook", k, &e), 0);
	}
	cr_assert_eq(ts_writer_open(&w, path, &h, &e), 0, "%s", e.msg);
	vk_rng rng;
	vk_rng_seed(&rng, seed);
	float *x = malloc(sizeof(float) * H * W);
	for (long r = 0; r < n; r++) {
		for (int y = 0; y < H; y++)
			for (int j = 0; j < W; j++) {
				int redraw = j == 0 || vk_rng_uniform(&rng) >= 0.9;
				x[y * W + j] = redraw ? (float)(int)(vk_rng_uniform(&rng) * K)
						      : x[y * W + j - 1];
			}
		if (bad_at >= 0 && r == bad_at / (H * W))
			x[bad_at % (H * W)] = bad;
		/* a u8 stream's records are written as x·255 */
		if (dtype == TS_U8)
			for (int i = 0; i < H * W; i++)
				x[i] /= 255.0f;
		cr_assert_eq(ts_write_f32(&w, x, TS_NO_LABEL, &e), 0, "%s", e.msg);
	}
	cr_assert_eq(ts_writer_close(&w, &e), 0, "%s", e.msg);
	free(x);
}

/* tmp_path's names are overwritten after a few calls: a copy of one. */
#define KEEP(var, name)   \
	char var[512];    \
	snprintf(var, sizeof var, "%s", tmp_path(name))
#define CODES(var, name, ...) \
	char var[512];        \
	code_stream(var, name, __VA_ARGS__)

#define SMALL "--layers mconv:16:1:B/identity,mconv:16:3:A,mconv:16:3:B,mconv:16:3:B"

/* The target on structured codes: a trained prior's test NLL at
 * least 20% below the independent baseline's, in bits. */
Test(pixelcnn_tools, trained_prior_beats_the_independent_baseline, .timeout = 120)
{
	CODES(train, "pc-train.vs", 1500, 5, 5, 6, 6, TS_I32, 1, -1, 0);
	CODES(test, "pc-test.vs", 300, 5, 5, 6, 6, TS_I32, 2, -1, 0);
	KEEP(model, "pc.vae");
	cr_assert_eq(run("vae-train -q -m pixelcnn " SMALL " -e 6 -b 32 --lr 3e-3 -t 1 -o %s "
			 "--test %s %s", model, test, train), 0);
	char err[4096];
	KEEP(sum, "pc-sum.tsv");
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -t 1 -m %s --baseline %s %s > %s", model,
			     train, test, sum), 0, "%s", err);
	double base, nll, below;
	const char *b = strstr(err, "baseline");
	cr_assert(b && sscanf(strstr(b, "maps): ") + 7, "%lf bits", &base) == 1, "%s", err);
	const char *m = strstr(err, "nats = ");
	cr_assert(m && sscanf(m + 7, "%lf bits", &nll) == 1, "%s", err);
	const char *p = strstr(err, "% below");
	cr_assert_not_null(p, "%s", err);
	while (p > err && p[-1] != ' ')
		p--;
	cr_assert_eq(sscanf(p, "%lf", &below), 1);
	cr_assert_float_eq(below, 100 * (1 - nll / base), 0.06);
	/* the true NLL: 5 rows of log2 6, 20 copies of H(0.9 + 0.1/6, ...) */
	double pc = 0.9 + 0.1 / 6, po = 0.1 / 6;
	double truth = 5 * 5 * log2(6) / 5 - 20 * (pc * log2(pc) + 5 * po * log2(po));
	cr_assert_gt(below, 20.0, "prior %.2f bits, baseline %.2f (truth %.2f)", nll, base, truth);
	cr_assert_gt(nll, truth - 1.0, "below the entropy of the source: %.2f < %.2f", nll, truth);
	/* the TSV's rec is the same NLL in nats */
	size_t len;
	char *tsv = (char *)slurp(sum, &len);
	cr_assert(tsv && strstr(tsv, "\tpixelcnn\tall\t300\t"), "%s", tsv ? tsv : "");
	double rec;
	cr_assert_eq(sscanf(strstr(tsv, "\tall\t300\t") + 9, "%lf", &rec), 1);
	cr_assert_float_eq(rec * M_LOG2E, nll, 1e-3);
	free(tsv);
	/* vae-info says what it is */
	cr_assert_eq(run_err(err, sizeof err, "vae-info %s | grep -q '^codes  *6$' && vae-info %s "
				    "| grep -q 'mconv:6:1:B (output)'", model, model), 0);

	/* samples: an i32 code stream with the codebook, and the source's structure */
	KEEP(samples, "pc-samples.vs");
	KEEP(again, "pc-again.vs");
	cr_assert_eq(run("vae-sample -m %s -n 400 -s 5 -o %s", model, samples), 0);
	cr_assert_eq(run("vae-sample -m %s -n 400 -s 5 > %s", model, again), 0);
	cr_assert_eq(run("stream2txt %s > %s.txt && stream2txt %s | cmp -s - %s.txt", samples,
			 samples, again, samples), 0, "the same seed, other maps");
	ts_reader r;
	vk_error e;
	cr_assert_eq(ts_reader_open(&r, samples, &e), 0, "%s", e.msg);
	char kb[16];
	cr_assert_eq(r.h.dtype, TS_I32);
	cr_assert(r.h.rank == 2 && r.h.dims[0] == 5 && r.h.dims[1] == 5);
	cr_assert_str_eq(ts_meta_get(&r.h, "codebook", kb, sizeof kb), "6");
	float x[25];
	int copies = 0, pairs = 0, got;
	while ((got = ts_read_f32(&r, x, NULL, &e)) == 1)
		for (int i = 0; i < 25; i++) {
			cr_assert(x[i] >= 0 && x[i] < 6 && x[i] == floorf(x[i]));
			if (i % 5)
				copies += x[i] == x[i - 1], pairs++;
		}
	cr_assert_eq(got, 0, "%s", e.msg);
	ts_reader_close(&r);
	cr_assert_eq(pairs, 400 * 20);
	cr_assert_gt(copies, pairs * 3 / 4, "%d of %d copy the left code", copies, pairs);
	/* the samples are code maps the prior can measure */
	cr_assert_eq(run("kl-eval -m %s %s > /dev/null 2>&1", model, samples), 0);
}

/* A u8 code stream without the codebook key: its values are codes (not
 * intensities), and --codes gives K. */
Test(pixelcnn_tools, u8_codes_and_codes_option, .timeout = 60)
{
	CODES(train, "pc-u8.vs", 200, 4, 4, 5, 0, TS_U8, 3, -1, 0);
	KEEP(model, "pc-u8.vae");
	char err[2048];
	cr_assert_neq(run_err(err, sizeof err, "vae-train -m pixelcnn " SMALL " -e 1 -o %s %s",
			      model, train), 0);
	cr_assert(strstr(err, "--codes"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "vae-train -q -m pixelcnn " SMALL " --codes 5 -e 1 "
				    "-t 1 -o %s %s", model, train), 0, "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -m %s --baseline %s %s > /dev/null", model,
			     train, train), 0, "%s", err);
	double nll;
	cr_assert(sscanf(strstr(err, "nats = ") + 7, "%lf", &nll) == 1 && nll < 16 * log2(5) + 1,
		  "%s", err); /* scaled values would not be codes: refused or far worse */
}

/* Every bad input: one line naming the program and the problem, status 1
 * or 2, no model written. */
Test(pixelcnn_tools, bad_input_one_clear_line_each, .timeout = 60)
{
	CODES(good, "pc-good.vs", 50, 4, 4, 4, 4, TS_I32, 4, -1, 0);
	CODES(high, "pc-high.vs", 50, 4, 4, 4, 4, TS_I32, 4, 37, 4);
	CODES(neg, "pc-neg.vs", 50, 4, 4, 4, 4, TS_I32, 4, 37, -1);
	CODES(frac, "pc-frac.vs", 50, 4, 4, 4, 4, TS_F32, 4, 37, 1.5f);
	CODES(other, "pc-other.vs", 50, 4, 4, 8, 8, TS_I32, 4, -1, 0);
	KEEP(model, "pc-bad.vae");
	KEEP(none, "pc-none.vae");
	cr_assert_eq(run("vae-train -q -m pixelcnn " SMALL " -e 1 -t 1 -o %s %s", model, good), 0);
	struct {
		const char *cmd, *want;
		int status;
	} cases[] = {
		{"vae-train -m pixelcnn -e 1 -o %s %s", "record 2 has the value 4 at position 5", 1},
		{"vae-train -m pixelcnn -e 1 -o %s %s", "record 2 has the value -1", 1},
		{"vae-train -m pixelcnn -e 1 -o %s %s", "record 2 has the value 1.5", 1},
		{"vae-train -m pixelcnn --codes 6 -e 1 -o %s %s", "--codes 6, but the training data's "
								  "codebook size is 4", 1},
		{"vae-train -m pixelcnn --codes 1 -e 1 -o %s %s", "--codes", 2},
		{"vae-train -m pixelcnn --codes 0 -e 1 -o %s %s", "--codes", 2},
		{"vae-train -m pixelcnn -z 4 -e 1 -o %s %s", "no latent", 2},
		{"vae-train -m pixelcnn --encoder dense:4 -e 1 -o %s %s", "--layers", 2},
		{"vae-train -m vae --codes 4 -e 1 -o %s %s", "apply only to --model vqvae (and --codes to pixelcnn)", 2},
		{"vae-train -m pixelcnn --layers mconv:4:4:A -e 1 -o %s %s", "odd", 2},
		{"vae-train -m pixelcnn --layers mconv:4:3:B -e 1 -o %s %s", "no layer has a type A", 1},
		{"vae-train -m pixelcnn --layers mconv:4:3:A,conv:4:3:1 -e 1 -o %s %s",
		 "layer 2 (conv:4:3:1/relu) is not a masked convolution", 1},
	};
	const char *data[] = {high, neg, frac, good, good, good, good, good, good, good, good, good};
	char err[2048];
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		int st = run_err(err, sizeof err, cases[i].cmd, none, data[i]);
		cr_assert_eq(st, cases[i].status, "%s: status %d: %s", cases[i].cmd, st, err);
		cr_assert(strstr(err, cases[i].want), "%s: %s", cases[i].cmd, err);
		cr_assert(!strncmp(err, "vae-train: ", 11), "%s", err);
		cr_assert_eq(run("test -e %s", none), 1, "%s left a model", cases[i].cmd);
	}
	/* the trained prior meets other codes and other tools */
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -m %s %s", model, other), 1);
	cr_assert(strstr(err, "codebook of 8") && strstr(err, "codebook of 4"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -m %s %s", model, high), 1);
	cr_assert(strstr(err, "record 2 has the value 4"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -m %s --baseline %s %s", model, other, good),
		     1);
	cr_assert(strstr(err, "codebook of 8"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "vae-decode -m %s < %s > /dev/null", model, good), 1);
	cr_assert(strstr(err, "vae-decode: ") && strstr(err, "is a pixelcnn"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "vae-encode -m %s < %s > /dev/null", model, good), 1);
	cr_assert(strstr(err, "neither encodes nor decodes"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "vae-sample -m %s -T 0 > /dev/null", model), 1);
	cr_assert(strstr(err, "temperature"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "vae-sample -m %s --latent-only > /dev/null", model),
		     2);
	cr_assert(strstr(err, "pixelcnn"), "%s", err);
	/* a VAE asked to read code maps is refused as before (not a crash) */
	cr_assert_eq(run_err(err, sizeof err, "vae-train -q -e 2 --resume -o %s %s", model, other),
		     1);
	cr_assert(strstr(err, "codebook"), "%s", err);
}

/* n labelled 4×4 maps over 8 codes: record r of class r % 3, each row's
 * first code drawn from {2c, 2c + 1}, then copied rightwards with
 * probability 0.9 (else redrawn from all 8). */
static void class_stream(char *path, const char *name, int n, uint64_t seed)
{
	snprintf(path, 512, "%s", tmp_path(name));
	ts_header h;
	ts_writer w;
	vk_error e;
	cr_assert_eq(ts_header_init(&h, TS_I32, 2, (uint32_t[]){4, 4}, &e), 0);
	h.has_labels = 1;
	cr_assert_eq(ts_meta_set(&h, "codebook", "8", &e), 0);
	cr_assert_eq(ts_writer_open(&w, path, &h, &e), 0, "%s", e.msg);
	vk_rng rng;
	vk_rng_seed(&rng, seed);
	float x[16];
	for (int r = 0; r < n; r++) {
		int c = r % 3;
		for (int i = 0; i < 16; i++)
			x[i] = i % 4 == 0 ? (float)(2 * c + (vk_rng_uniform(&rng) < 0.5f))
			       : vk_rng_uniform(&rng) < 0.9f ? x[i - 1]
							     : (float)(int)(vk_rng_uniform(&rng) * 8);
		cr_assert_eq(ts_write_f32(&w, x, c, &e), 0, "%s", e.msg);
	}
	cr_assert_eq(ts_writer_close(&w, &e), 0, "%s", e.msg);
}

/* A cpixelcnn knows what the class says: about log2 3 bits less per map
 * than a pixelcnn, whose first code of a map must guess it; its samples of
 * a class start their rows with that class's codes. */
Test(pixelcnn_tools, conditioned_on_the_class, .timeout = 120)
{
	char train[512], test[512], err[4096];
	class_stream(train, "cpc-train.vs", 3000, 1);
	class_stream(test, "cpc-test.vs", 600, 2);
	KEEP(cond, "cpc.vae");
	KEEP(plain, "cpc-plain.vae");
	KEEP(samples, "cpc-samples.vs");
	cr_assert_eq(run("vae-train -q -m cpixelcnn " SMALL " -e 8 -b 32 --lr 3e-3 -t 1 -o %s %s",
			 cond, train), 0);
	cr_assert_eq(run("vae-train -q -m pixelcnn " SMALL " -e 8 -b 32 --lr 3e-3 -t 1 -o %s %s",
			 plain, train), 0);
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -t 1 -m %s -m %s %s > /dev/null", cond,
			     plain, test), 0, "%s", err);
	double bc, bp;
	const char *p = strstr(err, "nats = ");
	cr_assert(p && sscanf(p + 7, "%lf", &bc) == 1, "%s", err);
	p = strstr(p + 1, "nats = ");
	cr_assert(p && sscanf(p + 7, "%lf", &bp) == 1, "%s", err);
	cr_assert(bp - bc > 0.7 * log2(3) && bp - bc < 1.3 * log2(3) + 0.3,
		  "conditioned %.3f bits, not %.3f: %.3f apart (log2 3 = %.3f)", bc, bp, bp - bc,
		  log2(3));
	cr_assert_eq(run("vae-sample -m %s --each-label -n 100 -o %s", cond, samples), 0);
	ts_reader r;
	vk_error e;
	cr_assert_eq(ts_reader_open(&r, samples, &e), 0, "%s", e.msg);
	cr_assert(r.h.has_labels);
	float x[16];
	int32_t label;
	int got, n = 0, hits = 0;
	while ((got = ts_read_f32(&r, x, &label, &e)) == 1) {
		cr_assert_eq(label, n / 100, "record %d", n);
		for (int row = 0; row < 4; row++)
			hits += (int)x[row * 4] / 2 == label;
		n++;
	}
	cr_assert_eq(got, 0, "%s", e.msg);
	ts_reader_close(&r);
	cr_assert_eq(n, 300);
	cr_assert_gt(hits, 4 * 300 * 9 / 10, "%d of %d rows start in their class", hits, 1200);
	/* what it needs, and what does not fit */
	cr_assert_eq(run_err(err, sizeof err, "vae-sample -m %s > /dev/null", cond), 1);
	cr_assert(strstr(err, "choose a class"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "vae-sample -m %s -l 3 > /dev/null", cond), 1);
	cr_assert(strstr(err, "vae-sample: "), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "vae-sample -m %s --each-label > /dev/null", plain), 1);
	cr_assert(strstr(err, "not a conditional model"), "%s", err);
	CODES(unlabelled, "cpc-unlabelled.vs", 30, 4, 4, 8, 8, TS_I32, 1, -1, 0);
	cr_assert_eq(run_err(err, sizeof err, "vae-train -m cpixelcnn -e 1 -o %s %s", plain,
			     unlabelled), 1);
	cr_assert(strstr(err, "label"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "vae-train -m pixelcnn --classes 3 -e 1 -o %s %s",
			     plain, train), 2);
	cr_assert(strstr(err, "--classes applies only"), "%s", err);
}

/* vae-sample -m VQVAE --prior PIXELCNN: the prior's maps (the ones
 * vae-sample -m PIXELCNN writes for the same seed) decoded through the
 * VQ-VAE, value for value; a prior of another codebook or map is refused,
 * naming both. */
Test(pixelcnn_tools, vqvae_samples_through_its_prior, .timeout = 120)
{
	char dir[512], err[2048];
	snprintf(dir, sizeof dir, "%s", tmp_path("vqprior"));
	cr_assert_eq(run("mkdir -p %s && cd %s && idx2stream %s | stream-cat -n 256 > d.ts && "
			 "vae-train -q -t 1 -m vqvae --codes 8 --encoder conv:8:3:2,conv:4:3:2/identity "
			 "-e 1 -o q.vae d.ts && vae-encode -m q.vae --codes d.ts > c.ts && "
			 "vae-train -q -t 1 -m pixelcnn --layers mconv:8:3:A,mconv:8:3:B -e 1 -o p.vae "
			 "c.ts && stream2txt c.ts | txt2stream -t i32 -s 7x7 > c9.ts && "
			 "vae-train -q -t 1 -m pixelcnn --codes 9 --layers mconv:8:3:A -e 1 -o p9.vae c9.ts",
			 dir, dir, repo_path("examples/data/digits-train-images-idx3-ubyte.gz")),
		     0);
	cr_assert_eq(run("cd %s && vae-sample -m q.vae --prior p.vae -n 7 -s 4 -b 3 > s.ts && "
			 "vae-sample -m p.vae -n 7 -s 4 -b 3 | vae-decode -m q.vae > r.ts && "
			 "stream2txt s.ts > s.txt && stream2txt r.ts > r.txt && cmp -s s.txt r.txt && "
			 "test $(wc -l < s.txt) -eq 7 && stream-info s.ts | grep -q 'shape *7x7x1\\|28x28'",
			 dir),
		     0);
	int st = run_err(err, sizeof err, "cd %s && vae-sample -m q.vae --prior p9.vae -n 2 > x.ts",
			 dir);
	cr_assert_neq(st, 0);
	cr_assert(strstr(err, "9") && strstr(err, "8") && !strchr(strchr(err, '\n') + 1, '\n'),
		  "%s", err);
	st = run_err(err, sizeof err, "cd %s && vae-sample -m q.vae --prior d.ts -n 2 > x.ts", dir);
	cr_assert_neq(st, 0);
	cr_assert(strstr(err, "vae-sample: --prior d.ts:"), "%s", err);
}
