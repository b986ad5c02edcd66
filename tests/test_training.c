/* The training options of vae-train (issue 17): KL warm-up and cycles, the
 * learning-rate schedules, free bits, the importance-weighted objective,
 * early stopping and a learned decoder σ. Kernels and schedules directly,
 * the rest through the real programs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "nn.h"
#include "train.h"
#include "testutil.h"

/* ---- schedules ---- */

Test(training, beta_at_known_steps)
{
	/* warm-up over 4 epochs to β = 2 */
	cr_assert_float_eq(vk_kl_weight(2.0f, 4, 0, 10, 0.0), 0.0f, 1e-7);
	cr_assert_float_eq(vk_kl_weight(2.0f, 4, 0, 10, 1.0), 0.5f, 1e-6);
	cr_assert_float_eq(vk_kl_weight(2.0f, 4, 0, 10, 2.5), 1.25f, 1e-6);
	cr_assert_float_eq(vk_kl_weight(2.0f, 4, 0, 10, 4.0), 2.0f, 1e-7);
	cr_assert_float_eq(vk_kl_weight(2.0f, 4, 0, 10, 9.9), 2.0f, 1e-7);
	/* 2 cycles over 8 epochs: each 4 long, rising over 2, then held */
	cr_assert_float_eq(vk_kl_weight(1.0f, 0, 2, 8, 0.0), 0.0f, 1e-7);
	cr_assert_float_eq(vk_kl_weight(1.0f, 0, 2, 8, 1.0), 0.5f, 1e-6);
	cr_assert_float_eq(vk_kl_weight(1.0f, 0, 2, 8, 2.0), 1.0f, 1e-7);
	cr_assert_float_eq(vk_kl_weight(1.0f, 0, 2, 8, 3.5), 1.0f, 1e-7);
	cr_assert_float_eq(vk_kl_weight(1.0f, 0, 2, 8, 4.0), 0.0f, 1e-7);
	cr_assert_float_eq(vk_kl_weight(1.0f, 0, 2, 8, 5.5), 0.75f, 1e-6);
	/* neither: constant */
	cr_assert_float_eq(vk_kl_weight(0.7f, 0, 0, 8, 0.0), 0.7f, 1e-7);
}

Test(training, learning_rate_at_known_epochs)
{
	vk_trainrec r = {.lr = 0.01f, .lr_schedule = VK_LR_COSINE};
	cr_assert_float_eq(vk_lr_at(&r, 1, 10), 0.01f, 1e-9);
	cr_assert_float_eq(vk_lr_at(&r, 6, 10), 0.005f, 1e-9);
	cr_assert_float_eq(vk_lr_at(&r, 10, 10), 0.01f * 0.5f * (1 + cos(M_PI * 0.9)), 1e-9);
	r = (vk_trainrec){.lr = 0.01f, .lr_schedule = VK_LR_STEP, .lr_every = 3, .lr_gamma = 0.5f};
	cr_assert_float_eq(vk_lr_at(&r, 1, 10), 0.01f, 1e-9);
	cr_assert_float_eq(vk_lr_at(&r, 3, 10), 0.01f, 1e-9);
	cr_assert_float_eq(vk_lr_at(&r, 4, 10), 0.005f, 1e-9);
	cr_assert_float_eq(vk_lr_at(&r, 7, 10), 0.0025f, 1e-9);
	r = (vk_trainrec){.lr = 0.01f, .lr_schedule = VK_LR_PLATEAU, .lr_every = 2, .lr_gamma = 0.1f};
	cr_assert_float_eq(vk_lr_at(&r, 5, 10), 0.01f, 1e-9);
	r.lr_now = 0.001f;
	cr_assert_float_eq(vk_lr_at(&r, 5, 10), 0.001f, 1e-9);
	r = (vk_trainrec){.lr = 0.01f};
	cr_assert_float_eq(vk_lr_at(&r, 7, 10), 0.01f, 1e-9);
}

/* ---- free bits ---- */

Test(training, free_bits_weights_drop_a_dimensions_kl_gradient)
{
	/* One record, Z = 3: a weight 0 leaves only the decoder's gradient; a
	 * weight β is the plain β path, bit for bit. */
	float head[6] = {0.4f, -0.9f, 0.2f, -0.3f, 0.5f, 0.1f}, eps[3] = {0.3f, -1.1f, 0.7f};
	float dz[3] = {0.05f, -0.2f, 0.1f}, plain[6], weighted[6];
	float klw[3] = {0.0f, 0.8f, 0.0f};
	vk_reparam_backward(plain, dz, 3, head, eps, 1, 3, 0.8f, NULL, 0.5f);
	vk_reparam_backward(weighted, dz, 3, head, eps, 1, 3, 0.8f, klw, 0.5f);
	cr_assert_eq(weighted[0], dz[0]);
	cr_assert_eq(weighted[2], dz[2]);
	cr_assert_eq(weighted[1], plain[1]);
	cr_assert_eq(weighted[4], plain[4]);
	cr_assert_float_eq(weighted[3], dz[0] * 0.5f * sqrtf(expf(-0.3f)) * eps[0], 1e-6);
	cr_assert_neq(plain[0], dz[0]);
	/* the KL per dimension, summed over rows */
	double sum[3] = {0};
	vk_kl_dims(head, 1, 3, sum);
	float kl;
	float z[3];
	vk_reparam(z, 3, head, NULL, &kl, 1, 3);
	cr_assert_float_eq(sum[0] + sum[1] + sum[2], kl, 1e-5);
	cr_assert_float_eq(sum[1], 0.5 * (0.81 + exp(0.5) - 1 - 0.5), 1e-5);
}

/* ---- the importance-weighted objective ---- */

static void small_model(vk_model *m, vk_work *w, int kind, int cap)
{
	vk_arch a = {.kind = kind, .input_rank = 1, .input_dims = {6}, .input_size = 6,
		     .latent = 3, .classes = kind == VK_CVAE ? 3 : 0, .likelihood = VK_BERNOULLI,
		     .sigma = 0.7f};
	vk_arch_mlp(&a, (int[]){5}, 1, VK_TANH);
	vk_error e;
	cr_assert_eq(vk_model_alloc(m, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_work_alloc(w, m, cap, &e), 0);
	vk_rng rng;
	vk_rng_seed(&rng, 3);
	vk_model_init_params(m, &rng);
	for (size_t i = 0; i < m->n_params; i++)
		m->params[i] += 0.2f * (vk_rng_uniform(&rng) - 0.5f);
}

static double iw_loss(vk_model *m, vk_work *w, const float *x, const int32_t *lab, int n, int K,
		      const float *eps, float *per_record)
{
	vk_batch_grad_iw(m, w, m->grads, x, lab, n, K, eps, 1.0f / n);
	double s = 0;
	for (int r = 0; r < n; r++) {
		if (per_record)
			per_record[r] = w->rec[r] + w->kl[r];
		s += (double)w->rec[r] + w->kl[r];
	}
	return s / n;
}

static void check_iw_gradient(int kind)
{
	enum { N = 4, K = 3 };
	vk_model m;
	vk_work w;
	small_model(&m, &w, kind, N * K);
	vk_rng rng;
	vk_rng_seed(&rng, 11);
	float x[N * 6], eps[N * K * 3];
	int32_t lab[N] = {0, 2, 1, 2};
	for (int i = 0; i < N * 6; i++)
		x[i] = vk_rng_uniform(&rng);
	vk_rng_normals(&rng, eps, N * K * 3);
	iw_loss(&m, &w, x, lab, N, K, eps, NULL);
	float *analytic = malloc(sizeof(float) * m.n_params);
	memcpy(analytic, m.grads, sizeof(float) * m.n_params);
	int bad = 0;
	for (size_t i = 0; i < m.n_params; i++) {
		float keep = m.params[i], h = 1e-2f;
		m.params[i] = keep + h;
		double up = iw_loss(&m, &w, x, lab, N, K, eps, NULL);
		m.params[i] = keep - h;
		double down = iw_loss(&m, &w, x, lab, N, K, eps, NULL);
		m.params[i] = keep;
		double numeric = (up - down) / (2 * h);
		if (fabs(numeric - analytic[i]) > 2e-3 + 2e-2 * fabs(numeric) && bad++ < 5)
			cr_log_error("param %zu: analytic %g numeric %g", i, analytic[i], numeric);
	}
	cr_assert_eq(bad, 0, "%d IW gradients differ (kind %d)", bad, kind);
	free(analytic);
	vk_work_free(&w);
	vk_model_free(&m);
}

Test(training, iw_gradient_matches_finite_differences) { check_iw_gradient(VK_VAE); }
Test(training, iw_gradient_matches_finite_differences_cvae) { check_iw_gradient(VK_CVAE); }

Test(training, iw_bound_is_the_elbo_at_k1_and_above_it_on_a_batch)
{
	enum { N = 5, K = 64 };
	vk_model m;
	vk_work w;
	small_model(&m, &w, VK_VAE, N * K);
	vk_rng rng;
	vk_rng_seed(&rng, 5);
	float x[N * 6], eps[N * K * 3], one[N * 3], loss1[N], lossk[N];
	for (int i = 0; i < N * 6; i++)
		x[i] = vk_rng_uniform(&rng) > 0.5f;
	vk_rng_normals(&rng, eps, N * K * 3);
	/* K = 1 is the single-sample ELBO: the decoder's term plus log q − log p
	 * at the same z, whose mean over ε is the closed-form KL. */
	for (int r = 0; r < N; r++)
		memcpy(one + r * 3, eps + (size_t)r * K * 3, sizeof(float) * 3);
	iw_loss(&m, &w, x, NULL, N, 1, one, loss1);
	float kl_sample[N];
	memcpy(kl_sample, w.kl, sizeof kl_sample);
	vk_batch_forward(&m, &w, x, NULL, N, one, 1.0f);
	const float *head = w.act_enc[m.n_enc - 1];
	for (int r = 0; r < N; r++) {
		double s = 0;
		for (int j = 0; j < 3; j++) {
			double mu = head[r * 6 + j], lv = head[r * 6 + 3 + j], e = one[r * 3 + j];
			double z = mu + exp(0.5 * lv) * e;
			s += 0.5 * (z * z - e * e - lv);
		}
		cr_assert_float_eq(loss1[r], w.rec[r] + s, 1e-4, "record %d: %g vs %g", r, loss1[r],
				   w.rec[r] + s);
		cr_assert_float_eq(kl_sample[r], s, 1e-4);
	}
	/* On the batch: −log (1/K) Σ w_k ≤ (1/K) Σ −log w_k (Jensen, the same
	 * draws), and the IW loss of K = 64 is below the closed-form −ELBO
	 * averaged over those draws. */
	double elbo_mean = 0, iw_mean = 0;
	for (int r = 0; r < N; r++) {
		double avg = 0;
		for (int k = 0; k < K; k++) {
			float l;
			iw_loss(&m, &w, x + r * 6, NULL, 1, 1, eps + ((size_t)r * K + k) * 3, &l);
			avg += l / K;
		}
		elbo_mean += avg / N;
	}
	iw_mean = iw_loss(&m, &w, x, NULL, N, K, eps, lossk);
	cr_assert(iw_mean <= elbo_mean, "IW loss %g above the -ELBO %g", iw_mean, elbo_mean);
	cr_assert(elbo_mean - iw_mean > 1e-3, "IW loss %g should be strictly below %g", iw_mean,
		  elbo_mean);
	vk_work_free(&w);
	vk_model_free(&m);
}

/* ---- through vae-train ---- */

/* A temporary path of our own (tmp_path's buffers are reused). */
static const char *tp(const char *name)
{
	return strdup(tmp_path(name));
}

static const char *digits(void) { return digits_stream("train", 300); }

static const char *digits_test(void) { return digits_stream("test", 200); }

#define SMALL "-q -t 1 -z 4 --hidden 16 -b 32"

static void refused(const char *opts, const char *want)
{
	char err[2048];
	int rc = run_err(err, sizeof err, "vae-train " SMALL " %s -o %s %s", opts,
			 tp("refused.vae"), digits());
	cr_assert_eq(rc, 2, "%s: exit %d: %s", opts, rc, err);
	cr_assert(strstr(err, want), "%s: %s", opts, err);
	cr_assert(strstr(err, "vae-train: ") == err, "%s", err);
	cr_assert_neq(run("test -e %s", tp("refused.vae")), 0);
}

Test(training, wrong_values_refused)
{
	refused("--kl-warmup -1", "--kl-warmup");
	refused("--kl-cycles 0x", "--kl-cycles");
	refused("--kl-warmup 2 --kl-cycles 2", "use one");
	refused("-e 3 --kl-cycles 5", "more cycles than");
	refused("--free-bits -0.5", "--free-bits");
	refused("--iw-train 0", "--iw-train");
	refused("--iw-train 100000", "--iw-train");
	refused("--iw-train 5 --beta 2", "does not combine");
	refused("--iw-train 5 --free-bits 1", "does not combine");
	refused("-m ae --free-bits 1", "autoencoder");
	refused("--lr-schedule linear", "--lr-schedule");
	refused("--lr-schedule step:0:0.5", "1 to 1000000");
	refused("--lr-schedule step:3:1.5", "(0, 1]");
	refused("--lr-schedule step:3", "--lr-schedule");
	refused("--lr-schedule plateau:3:0.5", "needs --test");
	refused("--early-stop 3", "needs --test");
	refused("--early-stop 0 --test -", "--early-stop");
	refused("--sigma learned", "--loss gaussian");
	refused("--sigma learn --loss gaussian", "--sigma");
}

Test(training, log_has_beta_lr_and_sigma_columns)
{
	const char *m = tp("warm.vae"), *log = tp("warm.tsv");
	cr_assert_eq(run("vae-train " SMALL " -e 4 --kl-warmup 2 --beta 0.5 --lr-schedule step:2:0.5 "
			 "--log %s -o %s %s", log, m, digits()), 0);
	/* 300 records, 10 batches an epoch: the last step of epoch 1 is at 0.9 epochs */
	cr_assert_eq(run("head -1 %s | cut -f9-11 | grep -qx 'beta.lr.sigma'", log), 0);
	cr_assert_eq(run("awk 'NR > 1 {print $9, $10, $11}' %s | tr '\\n' ' ' | "
			 "grep -qx '0.225 0.001 nan 0.475 0.001 nan 0.5 0.0005 nan 0.5 0.0005 nan '", log),
		     0);
	cr_assert_eq(run("vae-info %s | grep -q '^kl_warmup  *2$' && "
			 "vae-info %s | grep -q '^lr_schedule  *step:2:0.5$'", m, m), 0);
}

Test(training, free_bits_above_every_kl_is_beta_zero)
{
	/* λ above any dimension's KL drops every KL gradient: the same network as
	 * --beta 0 (the reported KL stays the true one). */
	const char *a = tp("fb.vae"), *b = tp("b0.vae");
	cr_assert_eq(run("vae-train " SMALL " -e 2 --free-bits 1000 -o %s %s", a, digits()), 0);
	cr_assert_eq(run("vae-train " SMALL " -e 2 --beta 0 -o %s %s", b, digits()), 0);
	cr_assert_eq(run("vae-encode -m %s %s | stream2txt > %s.z && vae-encode -m %s %s | "
			 "stream2txt > %s.z && cmp -s %s.z %s.z", a, digits(), a, b, digits(), b, a, b),
		     0);
	cr_assert_eq(run("vae-info %s | grep -q '^free_bits  *1000$'", a), 0);
	/* a small λ with two workers (the batch's KL per dimension is shared
	 * between them): deterministic under --seed */
	const char *c = tp("fb1.vae"), *d = tp("fb1b.vae");
	cr_assert_eq(run("vae-train -q -t 2 -z 4 --hidden 16 -b 32 -e 2 --free-bits 0.5 -o %s %s && "
			 "vae-train -q -t 2 -z 4 --hidden 16 -b 32 -e 2 --free-bits 0.5 -o %s %s",
			 c, digits(), d, digits()), 0);
	cr_assert_eq(run("vae-encode -m %s %s | stream2txt > %s.z && vae-encode -m %s %s | "
			 "stream2txt > %s.z && cmp -s %s.z %s.z", c, digits(), c, d, digits(), d, c, d),
		     0);
}

/* Interrupted (SIGINT, once the first epoch is saved) and resumed with the
 * same command: the model is the uninterrupted run's, byte for byte. */
Test(training, resume_with_the_new_options_is_bit_exact, .timeout = 180)
{
	const char *cases[] = {
		"--kl-warmup 3 --lr-schedule cosine",
		"--kl-cycles 2 --free-bits 0.3 --lr-schedule plateau:1:0.5 --test TEST",
		"--iw-train 3 --lr-schedule step:1:0.7",
		"--loss gaussian --sigma learned --early-stop 3 --test TEST",
		"-m vqvae --codes 8 --codebook ema --lr-schedule cosine", /* the EMA state */
	};
	const char *data = tp("resume-digits.ts");
	cr_assert_eq(run("idx2stream -n 1000 %s > %s",
			 repo_path("examples/data/digits-train-images-idx3-ubyte.gz"), data), 0);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char opts[512], *t;
		snprintf(opts, sizeof opts, "%s", cases[i]);
		if ((t = strstr(opts, "TEST")))
			snprintf(t, sizeof opts - (t - opts), "%s", digits_test());
		const char *a = tp("straight.vae"), *b = tp("resumed.vae");
		const char *ck = strstr(opts, "early-stop") ? ".last" : "";
		cr_assert_eq(run("rm -f %s* %s* && vae-train " SMALL " -e 4 %s -o %s %s", a, b, opts, a,
				 data), 0, "%s", opts);
		cr_assert_eq(run("vae-train " SMALL " -e 4 %s -o %s %s 2>/dev/null & p=$!; "
				 "while [ ! -e %s ] && kill -0 $p 2>/dev/null; do sleep 0.01; done; "
				 "kill -INT $p 2>/dev/null; wait $p; "
				 "vae-info %s%s | grep -q '^epochs  *4$' || "
				 "vae-train -q -t 1 --resume -e 4 %s -o %s %s 2>/dev/null", opts, b, data,
				 b, b, ck, opts, b, data), 0, "%s", opts);
		cr_assert_eq(run("cmp %s %s && cmp %s%s %s%s", a, b, a, ck, b, ck), 0, "%s", opts);
	}
}

Test(training, early_stop_keeps_the_best_epoch, .timeout = 120)
{
	/* An autoencoder of 60 records and a wide network overfits quickly. */
	const char *tr = tp("tiny.ts"), *m = tp("es.vae"), *log = tp("es.tsv");
	char err[4096];
	cr_assert_eq(run("idx2stream -n 60 %s > %s",
			 repo_path("examples/data/digits-train-images-idx3-ubyte.gz"), tr), 0);
	int rc = run_err(err, sizeof err, "vae-train -t 1 -m ae -z 16 --hidden 256 -b 20 --lr 3e-3 -e 200 "
			 "--early-stop 3 --test %s --log %s -o %s %s", digits_test(), log, m, tr);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(strstr(err, "early stop after epoch"), "%s", err);
	/* it stopped before 200 epochs, 3 epochs after the best one */
	FILE *f = fopen(log, "r");
	cr_assert(f);
	char line[1024];
	int epochs = 0, best = 0;
	double best_loss = INFINITY;
	cr_assert(fgets(line, sizeof line, f));
	while (fgets(line, sizeof line, f)) {
		int e;
		double v[7];
		cr_assert_eq(sscanf(line, "%d %lf %lf %lf %lf %lf %lf %lf", &e, v, v + 1, v + 2, v + 3,
				    v + 4, v + 5, v + 6), 8);
		epochs = e;
		if (v[4] < best_loss) /* test_rec: an autoencoder's loss */
			best_loss = v[4], best = e;
	}
	fclose(f);
	cr_assert(epochs < 200 && epochs == best + 3, "stopped at %d, best %d", epochs, best);
	/* MODEL is the best epoch, MODEL.last the last, resumable */
	char want[64];
	snprintf(want, sizeof want, "^epochs  *%d$", best);
	cr_assert_eq(run("vae-info %s | grep -q '%s'", m, want), 0);
	snprintf(want, sizeof want, "^epochs  *%d$", epochs);
	cr_assert_eq(run("vae-info %s.last | grep -q '%s' && vae-info %s.last | grep -q "
			 "'^optimizer_state  *present'", m, want, m), 0);
	snprintf(want, sizeof want, "^best_epoch  *%d$", best);
	cr_assert_eq(run("vae-info %s | grep -q '%s'", m, want), 0);
	cr_assert_eq(run("kl-eval -m %s %s > /dev/null 2>&1", m, digits_test()), 0);
}

Test(training, learned_sigma_converges_to_the_residual_scale, .timeout = 120)
{
	/* x = a·u + 0.2·n in 12 dimensions, u and n standard normal: a VAE with one
	 * latent dimension explains a·u, and the best σ is the noise's 0.2. */
	const char *data = tp("gauss.ts"), *m = tp("sigma.vae"), *log = tp("s.tsv");
	cr_assert_eq(run("awk 'BEGIN {srand(4); for (i = 0; i < 2000; i++) {"
			 "u = sqrt(-2 * log(1 - rand())) * cos(6.2831853 * rand()); line = \"\";"
			 "for (j = 0; j < 12; j++) { n = sqrt(-2 * log(1 - rand())) * cos(6.2831853 * rand());"
			 "line = line sprintf(\"%%s%%.5f\", j ? \" \" : \"\", (j %% 3 - 1 + 0.5) * u + 0.2 * n) }"
			 "print line } }' | txt2stream > %s", data), 0);
	cr_assert_eq(run("vae-train -q -t 1 -z 1 --hidden 32 -b 50 -e 40 --lr 3e-3 --loss gaussian "
			 "--sigma learned --log %s -o %s %s", log, m, data), 0);
	char out[256], cmd[1024];
	FILE *p;
	snprintf(cmd, sizeof cmd, "vae-info %s | awk '$1 == \"sigma\" {print $2, $3}'", m);
	p = popen(cmd, "r");
	cr_assert(p && fgets(out, sizeof out, p));
	pclose(p);
	double s = atof(out);
	cr_assert(s > 0.17 && s < 0.25, "learned sigma %s", out);
	cr_assert(strstr(out, "(learned)"), "%s", out);
	/* the log's sigma column ends at the model's */
	snprintf(cmd, sizeof cmd, "tail -1 %s | cut -f11", log);
	p = popen(cmd, "r");
	cr_assert(p && fgets(out, sizeof out, p));
	pclose(p);
	cr_assert(fabs(atof(out) - s) < 1e-3 * s, "log %s model %g", out, s);
	/* every program uses it: kl-eval's reconstruction term is finite and fits σ */
	cr_assert_eq(run("kl-eval -m %s %s > /dev/null", m, data), 0);
}
