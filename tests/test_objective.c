/* The objectives' batch-wide terms (issue 23): the MMD of the codes to prior
 * draws and β-TCVAE's MI, TC and dimension-wise KL against brute-force
 * computations, their gradients against finite differences, and the same
 * values however the batch is sliced. */
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "objective.h"
#include "rng.h"

enum { B = 7, Z = 3, LDZ = 5 };

static double kernel(const double *x, const double *y)
{
	static const double s[] = {0.1, 0.2, 0.5, 1, 2, 5, 10};
	double d2 = 0, k = 0;
	for (int j = 0; j < Z; j++)
		d2 += (x[j] - y[j]) * (x[j] - y[j]);
	for (int i = 0; i < 7; i++)
		k += s[i] * 2 * Z / (s[i] * 2 * Z + d2);
	return k;
}

/* the U-statistic, straight from its definition */
static double brute_mmd(const float *q, const float *p)
{
	double qq = 0, pp = 0, qp = 0, a[Z], b[Z];
	for (int i = 0; i < B; i++)
		for (int j = 0; j < B; j++) {
			for (int k = 0; k < Z; k++)
				a[k] = q[i * LDZ + k], b[k] = q[j * LDZ + k];
			if (i != j)
				qq += kernel(a, b);
			for (int k = 0; k < Z; k++)
				a[k] = p[i * Z + k], b[k] = p[j * Z + k];
			if (i != j)
				pp += kernel(a, b);
			for (int k = 0; k < Z; k++)
				a[k] = q[i * LDZ + k];
			qp += kernel(a, b);
		}
	return (qq + pp) / (B * (B - 1.0)) - 2 * qp / ((double)B * B);
}

static void draw(float *q, float *p, float shift)
{
	vk_rng rng;
	vk_rng_seed(&rng, 4);
	for (int i = 0; i < B; i++)
		vk_rng_normals(&rng, q + i * LDZ, Z);
	for (int i = 0; i < B * LDZ; i++)
		q[i] += shift;
	vk_rng_normals(&rng, p, B * Z);
}

Test(objective, mmd_is_the_u_statistic_and_grows_with_a_shift)
{
	float q[B * LDZ], p[B * Z];
	double scratch[B * Z + B * Z + Z + B + 1];
	cr_assert_geq(sizeof scratch / sizeof(double), vk_mmd_scratch(B, Z));
	draw(q, p, 0.0f);
	double m0 = vk_mmd_imq(q, LDZ, B, 0, B, Z, p, 0, NULL, NULL, 0, scratch);
	/* the kernel sums are float's (nn.c's vectorised rows) */
	cr_assert_float_eq(m0, brute_mmd(q, p), 1e-6);
	draw(q, p, 2.0f);
	double m2 = vk_mmd_imq(q, LDZ, B, 0, B, Z, p, 0, NULL, NULL, 0, scratch);
	cr_assert_float_eq(m2, brute_mmd(q, p), 1e-6);
	cr_assert(m2 > m0 + 0.1, "codes shifted away from the prior: MMD %g, at the prior %g", m2,
		  m0);
}

Test(objective, mmd_gradient_matches_finite_differences)
{
	float q[B * LDZ], p[B * Z], dq[B * LDZ];
	double scratch[B * Z + B * Z + Z + B + 1];
	draw(q, p, 0.5f);
	memset(dq, 0, sizeof dq);
	vk_mmd_imq(q, LDZ, B, 0, B, Z, p, 1.5f, dq, NULL, 0, scratch);
	for (int i = 0; i < B; i++)
		for (int j = 0; j < Z; j++) {
			float keep = q[i * LDZ + j], h = 1e-2f;
			q[i * LDZ + j] = keep + h;
			double up = brute_mmd(q, p);
			q[i * LDZ + j] = keep - h;
			double down = brute_mmd(q, p);
			q[i * LDZ + j] = keep;
			double fd = 1.5 * (up - down) / (2 * h);
			cr_assert(fabs(fd - dq[i * LDZ + j]) < 1e-4 + 1e-3 * fabs(fd),
				  "d/dq[%d][%d] %g, finite differences %g", i, j, dq[i * LDZ + j], fd);
		}
	/* only the code's columns: the rest of a row (a CVAE's one-hot) is kept */
	for (int i = 0; i < B; i++)
		cr_assert_eq(dq[i * LDZ + Z], 0.0f);
}

struct part {
	vk_reducer *red;
	int slice, slices;
	const float *q, *p;
	float dq[B * LDZ];
	double value;
};

static void *run_part(void *arg)
{
	struct part *s = arg;
	int lo = B * s->slice / s->slices, hi = B * (s->slice + 1) / s->slices;
	double scratch[B * Z + B * Z + Z + B + 1];
	memset(s->dq, 0, sizeof s->dq);
	s->value = vk_mmd_imq(s->q + lo * LDZ, LDZ, hi - lo, lo, B, Z, s->p, 1.0f, s->dq + lo * LDZ,
			      s->red, s->slice, scratch);
	return NULL;
}

Test(objective, mmd_over_1_2_and_3_slices_is_the_batchs)
{
	float q[B * LDZ], p[B * Z];
	double scratch[B * Z + B * Z + Z + B + 1];
	draw(q, p, 0.3f);
	double whole = vk_mmd_imq(q, LDZ, B, 0, B, Z, p, 0, NULL, NULL, 0, scratch);
	float dwhole[B * LDZ] = {0};
	vk_mmd_imq(q, LDZ, B, 0, B, Z, p, 1.0f, dwhole, NULL, 0, scratch);
	for (int k = 1; k <= 3; k++) {
		vk_error e;
		vk_reducer *red = vk_reducer_new(k, B * Z, &e);
		cr_assert(red);
		static struct part parts[3];
		pthread_t tid[3];
		for (int i = 0; i < k; i++) {
			parts[i] = (struct part){.red = red, .slice = i, .slices = k, .q = q, .p = p};
			cr_assert_eq(pthread_create(&tid[i], NULL, run_part, &parts[i]), 0);
		}
		for (int i = 0; i < k; i++)
			pthread_join(tid[i], NULL);
		for (int i = 0; i < k; i++) {
			cr_assert_float_eq(parts[i].value, whole, 1e-12, "%d slices, slice %d", k, i);
			cr_assert_eq(parts[i].value, parts[0].value, "slices disagree");
			int lo = B * i / k, hi = B * (i + 1) / k;
			for (int r = lo * LDZ; r < hi * LDZ; r++)
				cr_assert_eq(parts[i].dq[r], dwhole[r], "a row's gradient depends on the split");
		}
		vk_reducer_free(red);
	}
}

Test(objective, the_table_weights_kl_and_mmd_as_the_papers_do)
{
	vk_objective_params p = {.alpha = 0.3f, .beta = 6, .gamma = 1, .lambda = 10};
	const vk_objective_kind *o = vk_objective_named("elbo");
	cr_assert(o);
	cr_assert_eq(o->kl_weight(&p), 6.0f);
	cr_assert_eq(o->mmd_weight(&p), 0.0f);
	o = vk_objective_named("wae-mmd");
	cr_assert_eq(o->kl_weight(&p), 0.0f);
	cr_assert_eq(o->mmd_weight(&p), 10.0f);
	o = vk_objective_named("infovae");
	cr_assert_float_eq(o->kl_weight(&p), 0.7f, 1e-7);
	cr_assert_float_eq(o->mmd_weight(&p), 9.3f, 1e-6);
	cr_assert_null(o->tc_weights);
	o = vk_objective_named("tcvae");
	cr_assert(o);
	cr_assert_eq(o->kl_weight(&p), 0.0f, "the three terms replace the KL");
	cr_assert_eq(o->mmd_weight(&p), 0.0f);
	float w[3];
	o->tc_weights(&p, w);
	cr_assert(w[0] == 0.3f && w[1] == 6.0f && w[2] == 1.0f);
	cr_assert_null(vk_objective_named("elbo")->tc_weights);
	for (int i = 0; vk_objective_at(i); i++)
		cr_assert_eq(vk_objective_named(vk_objective_at(i)->name), vk_objective_at(i));
}

/* ---- through a model: vk_batch_grad with the MMD term ---- */

#include "model.h"

enum { NR = 4, D = 6, ZM = 3 };

/* A small MLP model of KIND with its parameters initialised and then
 * perturbed (so no ReLU-like kink or zero sits on them), a batch x of NR
 * records and its ε, all drawn from rng seeded with SEED. */
static void perturbed_mlp(const char *kind, uint64_t seed, vk_model *m, vk_work *w, vk_rng *rng,
			  float *x, float *eps)
{
	vk_arch a = {.kind = vk_kind_parse(kind), .input_rank = 1, .input_dims = {D},
		     .input_size = D, .latent = ZM, .likelihood = VK_BERNOULLI};
	vk_arch_mlp(&a, (int[]){5}, 1, VK_TANH);
	vk_error e;
	cr_assert_eq(vk_model_alloc(m, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_work_alloc(w, m, NR, &e), 0);
	vk_rng_seed(rng, seed);
	vk_model_init_params(m, rng);
	for (size_t i = 0; i < m->n_params; i++)
		m->params[i] += 0.2f * (vk_rng_uniform(rng) - 0.5f);
	for (int i = 0; i < NR * D; i++)
		x[i] = vk_rng_uniform(rng);
	vk_rng_normals(rng, eps, NR * ZM);
}

typedef double loss_fn(vk_model *m, vk_work *w, const float *x, const float *eps, float beta);

/* Every parameter's gradient, as LOSS's last call left it in m->grads,
 * against central differences of LOSS. */
static void check_params_fd(vk_model *m, vk_work *w, const float *x, const float *eps,
			    float beta, loss_fn *loss, const char *what)
{
	float *analytic = malloc(sizeof(float) * m->n_params);
	memcpy(analytic, m->grads, sizeof(float) * m->n_params);
	for (size_t i = 0; i < m->n_params; i++) {
		float keep = m->params[i], h = 1e-2f;
		m->params[i] = keep + h;
		double up = loss(m, w, x, eps, beta);
		m->params[i] = keep - h;
		double down = loss(m, w, x, eps, beta);
		m->params[i] = keep;
		double fd = (up - down) / (2 * h);
		cr_assert(fabs(fd - analytic[i]) < 2e-3 + 2e-2 * fabs(fd),
			  "%s: parameter %zu: %g, finite differences %g", what, i, analytic[i], fd);
	}
	free(analytic);
}

static double model_loss(vk_model *m, vk_work *w, const float *x, const float *eps, float beta)
{
	vk_batch_grad(m, w, m->grads, x, NULL, NR, beta, eps, 1.0f / NR);
	double s = 0;
	for (int r = 0; r < NR; r++)
		s += (w->rec[r] + beta * (double)w->kl[r]) / NR;
	return s + w->lat.mmd_weight * w->lat.mmd;
}

Test(objective, a_models_gradient_with_the_mmd_term_matches_finite_differences)
{
	const char *kinds[] = {"ae", "vae"};
	for (int k = 0; k < 2; k++) {
		vk_model m;
		vk_work w;
		vk_rng rng;
		float x[NR * D], eps[NR * ZM], prior[NR * ZM];
		perturbed_mlp(kinds[k], 8, &m, &w, &rng, x, eps);
		vk_rng_normals(&rng, prior, NR * ZM);
		double scratch[NR * ZM + NR * ZM + ZM + NR + 1];
		w.lat.mmd_weight = 3.0f;
		w.lat.prior = prior;
		w.lat.batch = NR;
		w.lat.mmd_scratch = scratch;
		float beta = k ? 0.5f : 0.0f;
		model_loss(&m, &w, x, eps, beta);
		cr_assert(w.lat.mmd != 0);
		check_params_fd(&m, &w, x, eps, beta, model_loss, kinds[k]);
		vk_work_free(&w);
		vk_model_free(&m);
	}
}

/* ---- through the trainer: the batch's MMD over 1, 2 and 3 threads ---- */

#include "testutil.h"
#include "train.h"

/* Two epochs of a small WAE-style model (an AE plus 10·MMD); the last step's
 * MMD and the mean reconstruction. */
static void train_mmd(const char *data, int threads, float weight, double *mmd, double *rec)
{
	vk_dataset d;
	vk_error e;
	cr_assert_eq(vk_dataset_load(&d, data, 1 << 26, &e), 0, "%s", e.msg);
	vk_arch a = {.kind = vk_kind_parse("ae"), .latent = 4, .likelihood = VK_BERNOULLI};
	vk_arch_set_input(&a, d.h.rank, d.h.dims);
	vk_arch_mlp(&a, (int[]){32}, 1, VK_RELU);
	vk_model m;
	cr_assert_eq(vk_model_alloc(&m, &a, &e), 0, "%s", e.msg);
	vk_rng rng;
	vk_rng_seed(&rng, 2);
	vk_model_init_params(&m, &rng);
	vk_trainrec r = {.batch = 50, .optimizer = VK_OPT_ADAM, .lr = 1e-3f, .beta = 1, .seed = 3};
	vk_trainer t;
	cr_assert_eq(vk_trainer_init(&t, &m, d.n, &r, threads, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_trainer_mmd(&t, weight, &e), 0, "%s", e.msg);
	double kl;
	for (t.epoch = 1, t.epochs = 2; t.epoch <= 2; t.epoch++)
		cr_assert_eq(vk_train_epoch(&t, &d, rec, &kl, NULL, NULL), VK_EPOCH_DONE);
	*mmd = t.mmd;
	vk_trainer_free(&t);
	vk_model_free(&m);
	vk_dataset_free(&d);
}

Test(objective, the_trainers_mmd_is_the_batchs_on_1_2_and_3_threads, .timeout = 60)
{
	char data[512];
	snprintf(data, sizeof data, "%s", tmp_path("mmd-train.ts"));
	/* 130 records: the last batch of 30 leaves some of 3 threads' slices short */
	cr_assert_eq(run("idx2stream %s | stream-cat -n 130 > %s",
			 repo_path("examples/data/digits-train-images-idx3-ubyte.gz"), data), 0);
	double mmd[4], rec[4], off_mmd, off_rec;
	for (int k = 1; k <= 3; k++)
		train_mmd(data, k, 10.0f, &mmd[k], &rec[k]);
	train_mmd(data, 1, 0.0f, &off_mmd, &off_rec);
	cr_assert_eq(off_mmd, 0.0, "no MMD asked, none computed");
	cr_assert(mmd[1] > 0);
	for (int k = 2; k <= 3; k++) {
		cr_assert(fabs(mmd[k] - mmd[1]) <= 1e-4 * fabs(mmd[1]) + 1e-7,
			  "%d threads: MMD %g, one thread %g", k, mmd[k], mmd[1]);
		cr_assert(fabs(rec[k] - rec[1]) <= 1e-4 * rec[1], "%d threads: rec %g vs %g", k,
			  rec[k], rec[1]);
	}
	cr_assert(rec[1] != off_rec, "the MMD term changed nothing");
}

/* ---- β-TCVAE: the minibatch-weighted sampling estimator (vk_tc_mws) ---- */

enum { TB = 6, TZ = 3, TLDZ = 4 };
static const double TN = 1000; /* the data set's records */

/* log N(z; μ, e^lv) */
static double log_normal(double z, double mu, double lv)
{
	return -0.5 * ((z - mu) * (z - mu) * exp(-lv) + lv + log(2 * M_PI));
}

/* MI, TC and dimension-wise KL, the batch's means, straight from Chen et
 * al.'s definitions with a double loop over the batch for each record */
static void brute_tc(const double *z, const double *mu, const double *lv, double t[3])
{
	t[0] = t[1] = t[2] = 0;
	for (int i = 0; i < TB; i++) {
		double lqx = 0, lpz = 0, qz = 0, lqzd = 0;
		for (int d = 0; d < TZ; d++) {
			lqx += log_normal(z[i * TZ + d], mu[i * TZ + d], lv[i * TZ + d]);
			lpz += log_normal(z[i * TZ + d], 0, 0);
		}
		for (int j = 0; j < TB; j++) {
			double l = 0;
			for (int d = 0; d < TZ; d++)
				l += log_normal(z[i * TZ + d], mu[j * TZ + d], lv[j * TZ + d]);
			qz += exp(l);
		}
		for (int d = 0; d < TZ; d++) {
			double q = 0;
			for (int j = 0; j < TB; j++)
				q += exp(log_normal(z[i * TZ + d], mu[j * TZ + d], lv[j * TZ + d]));
			lqzd += log(q / (TN * TB));
		}
		double lqz = log(qz / (TN * TB));
		t[0] += (lqx - lqz) / TB;
		t[1] += (lqz - lqzd) / TB;
		t[2] += (lqzd - lpz) / TB;
	}
}

struct tc_batch {
	float z[TB * TLDZ], head[TB * 2 * TZ];
};

/* a batch of codes drawn from posteriors of varied widths, some close */
static void tc_draw(struct tc_batch *b, int seed)
{
	vk_rng rng;
	vk_rng_seed(&rng, seed);
	memset(b, 0, sizeof *b);
	for (int i = 0; i < TB; i++)
		for (int d = 0; d < TZ; d++) {
			float *mu = &b->head[i * 2 * TZ + d], *lv = mu + TZ, e;
			*mu = 0.8f * (vk_rng_uniform(&rng) - 0.5f) + (i % 2 ? 0.3f : -0.2f);
			*lv = 1.5f * vk_rng_uniform(&rng) - 1.2f;
			vk_rng_normals(&rng, &e, 1);
			b->z[i * TLDZ + d] = *mu + expf(0.5f * *lv) * e;
		}
}

static void tc_doubles(const struct tc_batch *b, double *z, double *mu, double *lv)
{
	for (int i = 0; i < TB; i++)
		for (int d = 0; d < TZ; d++) {
			z[i * TZ + d] = b->z[i * TLDZ + d];
			mu[i * TZ + d] = b->head[i * 2 * TZ + d];
			lv[i * TZ + d] = b->head[i * 2 * TZ + TZ + d];
		}
}

Test(objective, tc_estimator_is_the_double_loop_of_its_definition)
{
	struct tc_batch b;
	static double scratch[4096];
	cr_assert_geq(sizeof scratch / sizeof(double), vk_tc_scratch(TB, TZ));
	double z[TB * TZ], mu[TB * TZ], lv[TB * TZ], want[3], got[3];
	for (int seed = 1; seed <= 3; seed++) {
		tc_draw(&b, seed);
		tc_doubles(&b, z, mu, lv);
		brute_tc(z, mu, lv, want);
		vk_tc_mws(b.z, TLDZ, b.head, TB, 0, TB, TZ, TN, (float[]){1, 1, 1}, 1.0f / TB, 0, NULL,
			  NULL, NULL, 0, scratch, got);
		for (int k = 0; k < 3; k++)
			cr_assert(fabs(got[k] - want[k]) < 2e-5 * (1 + fabs(want[k])),
				  "seed %d term %d: %.9g, brute force %.9g", seed, k, got[k], want[k]);
		/* the three add up to the sampled KL estimate log q(z|x) − log p(z) */
		double kl = 0;
		for (int i = 0; i < TB * TZ; i++)
			kl += (log_normal(z[i], mu[i], lv[i]) - log_normal(z[i], 0, 0)) / TB;
		cr_assert(fabs(got[0] + got[1] + got[2] - kl) < 1e-4, "%g vs %g",
			  got[0] + got[1] + got[2], kl);
	}
	/* a code far from every posterior but its own: nothing overflows, and
	 * its log q(z) is its own posterior's less log(NB) (MI at its bound) */
	tc_draw(&b, 4);
	for (int d = 0; d < TZ; d++) {
		b.head[d] = 40.0f, b.head[TZ + d] = -12.0f;
		b.z[d] = 40.0f;
	}
	tc_doubles(&b, z, mu, lv);
	brute_tc(z, mu, lv, want);
	vk_tc_mws(b.z, TLDZ, b.head, TB, 0, TB, TZ, TN, (float[]){1, 1, 1}, 1.0f / TB, 0, NULL, NULL,
		  NULL, 0, scratch, got);
	for (int k = 0; k < 3; k++)
		cr_assert(isfinite(got[k]) && fabs(got[k] - want[k]) < 1e-4 * (1 + fabs(want[k])),
			  "term %d: %.9g, brute force %.9g", k, got[k], want[k]);
}

/* scale·Σ_i (w·terms_i) in double, the loss the gradient is of */
static double tc_loss(const double *z, const double *mu, const double *lv, const float w[3])
{
	double t[3];
	brute_tc(z, mu, lv, t);
	return w[0] * t[0] + w[1] * t[1] + w[2] * t[2];
}

Test(objective, tc_gradient_matches_finite_differences)
{
	static const float weights[][3] = {{1, 6, 1}, {0.5f, 2, 3}, {1, 1, 1}, {0, 0, 2}};
	static double scratch[4096];
	for (size_t k = 0; k < sizeof weights / sizeof *weights; k++) {
		const float *w = weights[k];
		struct tc_batch b;
		tc_draw(&b, 7 + (int)k);
		float dz[TB * TLDZ], dhead[TB * 2 * TZ];
		for (int i = 0; i < TB * TLDZ; i++)
			dz[i] = 0.25f; /* the decoder's part: added to, not replaced */
		double tt[3];
		vk_tc_mws(b.z, TLDZ, b.head, TB, 0, TB, TZ, TN, w, 1.0f / TB, 1, dz, dhead, NULL, 0,
			  scratch, tt);
		double z[TB * TZ], mu[TB * TZ], lv[TB * TZ];
		tc_doubles(&b, z, mu, lv);
		double *vars[3] = {z, mu, lv};
		for (int v = 0; v < 3; v++)
			for (int i = 0; i < TB; i++)
				for (int d = 0; d < TZ; d++) {
					double *x = &vars[v][i * TZ + d], keep = *x, h = 1e-5;
					*x = keep + h;
					double up = tc_loss(z, mu, lv, w);
					*x = keep - h;
					double down = tc_loss(z, mu, lv, w);
					*x = keep;
					double fd = (up - down) / (2 * h);
					double got = v == 0 ? dz[i * TLDZ + d] - 0.25f
							    : dhead[i * 2 * TZ + (v == 2 ? TZ : 0) + d];
					cr_assert(fabs(fd - got) < 1e-4 + 1e-3 * fabs(fd),
						  "weights %zu: d/d%s[%d][%d] %g, finite differences %g", k,
						  v == 0 ? "z" : v == 1 ? "mu" : "logvar", i, d, got, fd);
				}
		for (int i = 0; i < TB; i++)
			cr_assert_eq(dz[i * TLDZ + TZ], 0.25f, "a column past the code changed");
	}
}

struct tc_part {
	vk_reducer *red;
	int slice, slices;
	const struct tc_batch *b;
	float dz[TB * TLDZ], dhead[TB * 2 * TZ];
	double terms[3];
};

static void *run_tc_part(void *arg)
{
	struct tc_part *s = arg;
	int lo = TB * s->slice / s->slices, hi = TB * (s->slice + 1) / s->slices;
	static double scratch[3][4096];
	memset(s->dz, 0, sizeof s->dz);
	vk_tc_mws(s->b->z + lo * TLDZ, TLDZ, s->b->head + lo * 2 * TZ, hi - lo, lo, TB, TZ, TN,
		  (float[]){1, 6, 1}, 1.0f / TB, 1, s->dz + lo * TLDZ, s->dhead + lo * 2 * TZ, s->red,
		  s->slice, scratch[s->slice], s->terms);
	return NULL;
}

Test(objective, tc_over_1_2_and_3_slices_is_the_batchs)
{
	struct tc_batch b;
	tc_draw(&b, 11);
	static double scratch[4096];
	double whole[3];
	float dz[TB * TLDZ] = {0}, dhead[TB * 2 * TZ];
	vk_tc_mws(b.z, TLDZ, b.head, TB, 0, TB, TZ, TN, (float[]){1, 6, 1}, 1.0f / TB, 1, dz, dhead,
		  NULL, 0, scratch, whole);
	for (int k = 1; k <= 3; k++) {
		vk_error e;
		vk_reducer *red = vk_reducer_new(k, 3 * TB * TZ, &e);
		cr_assert(red);
		static struct tc_part parts[3];
		pthread_t tid[3];
		for (int i = 0; i < k; i++) {
			parts[i] = (struct tc_part){.red = red, .slice = i, .slices = k, .b = &b};
			cr_assert_eq(pthread_create(&tid[i], NULL, run_tc_part, &parts[i]), 0);
		}
		for (int i = 0; i < k; i++)
			pthread_join(tid[i], NULL);
		for (int i = 0; i < k; i++) {
			int lo = TB * i / k, hi = TB * (i + 1) / k;
			for (int t = 0; t < 3; t++) {
				cr_assert_float_eq(parts[i].terms[t], whole[t], 1e-9 * (1 + fabs(whole[t])),
						   "%d slices, slice %d, term %d", k, i, t);
				cr_assert_eq(parts[i].terms[t], parts[0].terms[t], "slices disagree");
			}
			/* a row's z gradient is its own row's work: the same bits */
			for (int r = lo * TLDZ; r < hi * TLDZ; r++)
				cr_assert_eq(parts[i].dz[r], dz[r], "a row's gradient depends on the split");
			/* its posterior's gets every slice's rows: float rounding */
			for (int r = lo * 2 * TZ; r < hi * 2 * TZ; r++)
				cr_assert(fabsf(parts[i].dhead[r] - dhead[r]) <= 1e-6f * (1 + fabsf(dhead[r])),
					  "%d slices: head gradient %d: %g vs %g", k, r, parts[i].dhead[r],
					  dhead[r]);
		}
		vk_reducer_free(red);
	}
}

/* Through a model: vk_batch_grad with the TC terms in place of the KL */
static double tc_model_loss(vk_model *m, vk_work *w, const float *x, const float *eps, float beta)
{
	(void)beta; /* the TC terms stand for the KL */
	vk_batch_grad(m, w, m->grads, x, NULL, NR, 0.0f, eps, 1.0f / NR);
	double s = 0;
	for (int r = 0; r < NR; r++)
		s += w->rec[r] / NR;
	for (int k = 0; k < 3; k++)
		s += w->lat.tc_w[k] * w->lat.tc[k];
	return s;
}

Test(objective, a_models_gradient_with_the_tc_terms_matches_finite_differences)
{
	vk_model m;
	vk_work w;
	vk_rng rng;
	float x[NR * D], eps[NR * ZM];
	perturbed_mlp("vae", 9, &m, &w, &rng, x, eps);
	static double scratch[4096];
	float dhead[NR * 2 * ZM];
	cr_assert_geq(sizeof scratch / sizeof(double), vk_tc_scratch(NR, ZM));
	memcpy(w.lat.tc_w, (float[]){1.5f, 6, 0.5f}, sizeof w.lat.tc_w);
	w.lat.tc_n = 50;
	w.lat.batch = NR;
	w.lat.tc_scratch = scratch;
	w.lat.tc_dhead = dhead;
	tc_model_loss(&m, &w, x, eps, 0.0f);
	cr_assert(w.lat.tc[1] != 0);
	check_params_fd(&m, &w, x, eps, 0.0f, tc_model_loss, "vae with tc");
	vk_work_free(&w);
	vk_model_free(&m);
}

/* kl-eval --aggregate's batches (aggregate.h): the estimator with the data
 * set's N fixed up at the end is the double loop's with that N. */
#include "aggregate.h"

Test(objective, aggregate_batches_give_the_estimators_terms_for_the_data_sets_n)
{
	struct tc_batch b;
	tc_draw(&b, 21);
	vk_aggregate a;
	vk_error e;
	cr_assert_eq(vk_aggregate_init(&a, TZ, TB, 1, 5, &e), 0, "%s", e.msg);
	for (int i = 0; i < TB; i++)
		vk_aggregate_add(&a, b.z + i * TLDZ, b.head + i * 2 * TZ);
	double got[4], want[3], z[TB * TZ], mu[TB * TZ], lv[TB * TZ];
	vk_aggregate_finish(&a, (uint64_t)TN, got);
	tc_doubles(&b, z, mu, lv);
	brute_tc(z, mu, lv, want);
	for (int k = 0; k < 3; k++)
		cr_assert(fabs(got[1 + k] - want[k]) < 2e-5 * (1 + fabs(want[k])),
			  "term %d: %.9g, brute force %.9g", k, got[1 + k], want[k]);
	cr_assert(isfinite(got[0]));
	vk_aggregate_free(&a);
	/* without a posterior (an AE's codes) the MMD alone */
	cr_assert_eq(vk_aggregate_init(&a, TZ, TB, 0, 5, &e), 0, "%s", e.msg);
	for (int i = 0; i < TB; i++)
		vk_aggregate_add(&a, b.z + i * TLDZ, NULL);
	vk_aggregate_finish(&a, (uint64_t)TN, got);
	cr_assert(isfinite(got[0]) && isnan(got[1]) && isnan(got[2]) && isnan(got[3]));
	vk_aggregate_free(&a);
}
