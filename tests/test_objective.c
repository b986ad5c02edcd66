/* The objectives' batch-wide terms (issue 23, begun): the MMD of the codes
 * to prior draws against a brute-force computation, its gradient against
 * finite differences, and the same value however the batch is sliced. */
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
	double scratch[2 * B * Z + Z];
	cr_assert_geq(sizeof scratch / sizeof(double), vk_mmd_scratch(B, Z));
	draw(q, p, 0.0f);
	double m0 = vk_mmd_imq(q, LDZ, B, 0, B, Z, p, 0, NULL, NULL, 0, scratch);
	cr_assert_float_eq(m0, brute_mmd(q, p), 1e-12);
	draw(q, p, 2.0f);
	double m2 = vk_mmd_imq(q, LDZ, B, 0, B, Z, p, 0, NULL, NULL, 0, scratch);
	cr_assert_float_eq(m2, brute_mmd(q, p), 1e-12);
	cr_assert(m2 > m0 + 0.1, "codes shifted away from the prior: MMD %g, at the prior %g", m2,
		  m0);
}

Test(objective, mmd_gradient_matches_finite_differences)
{
	float q[B * LDZ], p[B * Z], dq[B * LDZ];
	double scratch[2 * B * Z + Z];
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
	double scratch[2 * B * Z + Z];
	memset(s->dq, 0, sizeof s->dq);
	s->value = vk_mmd_imq(s->q + lo * LDZ, LDZ, hi - lo, lo, B, Z, s->p, 1.0f, s->dq + lo * LDZ,
			      s->red, s->slice, scratch);
	return NULL;
}

Test(objective, mmd_over_1_2_and_3_slices_is_the_batchs)
{
	float q[B * LDZ], p[B * Z];
	double scratch[2 * B * Z + Z];
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
		vk_arch a = {.kind = vk_kind_parse(kinds[k]), .input_rank = 1, .input_dims = {D},
			     .input_size = D, .latent = ZM, .likelihood = VK_BERNOULLI};
		vk_arch_mlp(&a, (int[]){5}, 1, VK_TANH);
		vk_model m;
		vk_work w;
		vk_error e;
		cr_assert_eq(vk_model_alloc(&m, &a, &e), 0, "%s", e.msg);
		cr_assert_eq(vk_work_alloc(&w, &m, NR, &e), 0);
		vk_rng rng;
		vk_rng_seed(&rng, 8);
		vk_model_init_params(&m, &rng);
		for (size_t i = 0; i < m.n_params; i++)
			m.params[i] += 0.2f * (vk_rng_uniform(&rng) - 0.5f);
		float x[NR * D], eps[NR * ZM], prior[NR * ZM];
		for (int i = 0; i < NR * D; i++)
			x[i] = vk_rng_uniform(&rng);
		vk_rng_normals(&rng, eps, NR * ZM);
		vk_rng_normals(&rng, prior, NR * ZM);
		double scratch[2 * NR * ZM + ZM];
		w.lat.mmd_weight = 3.0f;
		w.lat.prior = prior;
		w.lat.batch = NR;
		w.lat.mmd_scratch = scratch;
		float beta = k ? 0.5f : 0.0f;
		model_loss(&m, &w, x, eps, beta);
		cr_assert(w.lat.mmd != 0);
		float *analytic = malloc(sizeof(float) * m.n_params);
		memcpy(analytic, m.grads, sizeof(float) * m.n_params);
		for (size_t i = 0; i < m.n_params; i++) {
			float keep = m.params[i], h = 1e-2f;
			m.params[i] = keep + h;
			double up = model_loss(&m, &w, x, eps, beta);
			m.params[i] = keep - h;
			double down = model_loss(&m, &w, x, eps, beta);
			m.params[i] = keep;
			double fd = (up - down) / (2 * h);
			cr_assert(fabs(fd - analytic[i]) < 2e-3 + 2e-2 * fabs(fd),
				  "%s: parameter %zu: %g, finite differences %g", kinds[k], i,
				  analytic[i], fd);
		}
		free(analytic);
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
