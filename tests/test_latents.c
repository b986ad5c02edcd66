/* Every registered latent kind and likelihood through its table: gradients
 * against finite differences, and the kinds' figures against each other. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "model.h"

enum { N = 3, Z = 4, LDZ = Z + 2, K = 3 };

static void fill(vk_rng *rng, float *v, int n, float lo, float hi)
{
	for (int i = 0; i < n; i++)
		v[i] = lo + (hi - lo) * (float)vk_rng_uniform(rng);
}

/* Σ dz·z + β·Σ reg over n records, in double */
static double latent_loss(const vk_latent_kind *L, const float *head, const float *eps,
			  const float *dz, float beta)
{
	float z[N * LDZ], reg[N];
	L->sample(NULL, z, LDZ, head, L->noise ? eps : NULL, reg, N, Z);
	double s = 0;
	for (int r = 0; r < N; r++) {
		for (int j = 0; j < Z; j++)
			s += (double)dz[r * LDZ + j] * z[r * LDZ + j];
		s += beta * reg[r];
	}
	return s;
}

Test(latents, every_latent_kinds_backward_matches_finite_differences)
{
	for (int i = 0; vk_model_kind_at(i); i++) {
		const vk_latent_kind *L = vk_model_kind_at(i)->latent;
		if (L->n_params)
			continue; /* a kind with parameters of its own: its own suite (test_vq.c) */
		int H = L->head_per_dim * Z;
		vk_rng rng;
		vk_rng_seed(&rng, 11 + i);
		float head[N * 2 * Z], eps[N * Z], dz[N * LDZ], dhead[N * 2 * Z];
		fill(&rng, head, N * H, -1.0f, 1.0f);
		vk_rng_normals(&rng, eps, N * Z);
		fill(&rng, dz, N * LDZ, -0.5f, 0.5f);
		double scratch[64];
		vk_latent_step s = {.beta = 0.7f, .scale = 1.0f, .scratch = scratch};
		L->backward(dhead, dz, LDZ, head, eps, N, Z, &s);
		for (int k = 0; k < N * H; k++) {
			float keep = head[k], h = 1e-2f;
			head[k] = keep + h;
			double up = latent_loss(L, head, eps, dz, s.beta);
			head[k] = keep - h;
			double down = latent_loss(L, head, eps, dz, s.beta);
			head[k] = keep;
			double fd = (up - down) / (2 * h);
			cr_assert(fabs(fd - dhead[k]) < 2e-3 + 1e-2 * fabs(fd),
				  "%s: d/dhead[%d] %g, finite differences %g", L->name, k, dhead[k], fd);
		}
	}
}

Test(latents, free_bits_drop_the_kl_gradient_of_a_dimension_below_lambda)
{
	const vk_latent_kind *L = &vk_latent_gaussian;
	/* dimension 0 far from the prior (KL > 1 nat), the others near it */
	float head[N * 2 * Z] = {0}, eps[N * Z] = {0}, dz[N * LDZ] = {0}, plain[N * 2 * Z],
	      fb[N * 2 * Z];
	for (int r = 0; r < N; r++)
		head[r * 2 * Z] = 2.0f, head[r * 2 * Z + 1] = 0.1f;
	double scratch[64];
	vk_latent_step s = {.beta = 1.0f, .scale = 1.0f, .scratch = scratch};
	L->backward(plain, dz, LDZ, head, eps, N, Z, &s);
	s.free_bits = 1.0f;
	L->backward(fb, dz, LDZ, head, eps, N, Z, &s);
	for (int r = 0; r < N; r++) {
		cr_assert_eq(fb[r * 2 * Z], plain[r * 2 * Z], "the dimension above λ keeps its KL");
		cr_assert_neq(plain[r * 2 * Z + 1], 0.0f);
		cr_assert_eq(fb[r * 2 * Z + 1], 0.0f, "a dimension below λ loses its KL gradient");
	}
}

/* Σ_row dz·z + wt·(log q − log p), the IW objective's terms a kind owns */
static double iw_loss(const vk_latent_kind *L, const float *head, const float *eps,
		      const float *dz, const float *wt)
{
	float z[N * K * LDZ], lr[N * K];
	L->iw_sample(z, LDZ, head, eps, lr, N, K, Z);
	double s = 0;
	for (int row = 0; row < N * K; row++) {
		for (int j = 0; j < Z; j++)
			s += (double)dz[row * LDZ + j] * z[row * LDZ + j];
		s += (double)wt[row] * lr[row];
	}
	return s;
}

Test(latents, importance_weights_match_finite_differences_and_the_evaluation)
{
	for (int i = 0; vk_model_kind_at(i); i++) {
		const vk_latent_kind *L = vk_model_kind_at(i)->latent;
		if (!L->iw_sample)
			continue;
		cr_assert(L->iw_backward && L->log_weight, "%s: half an IW interface", L->name);
		int H = L->head_per_dim * Z;
		vk_rng rng;
		vk_rng_seed(&rng, 5);
		float head[N * 2 * Z], eps[N * K * Z], dz[N * K * LDZ], wt[N * K], z[N * K * LDZ],
		      lr[N * K], dhead[N * 2 * Z];
		fill(&rng, head, N * H, -1.0f, 1.0f);
		vk_rng_normals(&rng, eps, N * K * Z);
		fill(&rng, dz, N * K * LDZ, -0.5f, 0.5f);
		fill(&rng, wt, N * K, 0.0f, 1.0f);
		L->iw_sample(z, LDZ, head, eps, lr, N, K, Z);
		for (int row = 0; row < N * K; row++)
			cr_assert_float_eq(-L->log_weight(head + (row / K) * H, eps + row * Z,
							  z + row * LDZ, Z), lr[row], 1e-5,
					   "%s: training's and evaluation's weights differ", L->name);
		/* iw_backward takes dz already weighted by wt (the decoder's rows) */
		float dzw[N * K * LDZ];
		for (int row = 0; row < N * K; row++)
			for (int j = 0; j < LDZ; j++)
				dzw[row * LDZ + j] = dz[row * LDZ + j];
		L->iw_backward(dhead, dzw, LDZ, z, head, eps, wt, N, K, Z, 1.0f);
		for (int k = 0; k < N * H; k++) {
			float keep = head[k], h = 1e-2f;
			head[k] = keep + h;
			double up = iw_loss(L, head, eps, dz, wt);
			head[k] = keep - h;
			double down = iw_loss(L, head, eps, dz, wt);
			head[k] = keep;
			double fd = (up - down) / (2 * h);
			cr_assert(fabs(fd - dhead[k]) < 2e-3 + 1e-2 * fabs(fd),
				  "%s: IW d/dhead[%d] %g, finite differences %g", L->name, k, dhead[k],
				  fd);
		}
	}
}

Test(latents, the_kl_per_dimension_adds_up_to_the_records_kl)
{
	for (int i = 0; vk_model_kind_at(i); i++) {
		const vk_latent_kind *L = vk_model_kind_at(i)->latent;
		if (L->n_params)
			continue; /* VQ's code is its nearest code (test_vq.c) */
		vk_rng rng;
		vk_rng_seed(&rng, 9);
		float head[2 * Z], z[Z], reg;
		fill(&rng, head, L->head_per_dim * Z, -1.5f, 1.5f);
		L->sample(NULL, z, Z, head, NULL, &reg, 1, Z);
		cr_assert_eq(memcmp(z, head, sizeof z), 0, "%s: the code is the head's first Z",
			     L->name);
		if (!L->has_kl) {
			cr_assert_eq(reg, 0.0f);
			continue;
		}
		double sum = 0;
		for (int j = 0; j < Z; j++)
			sum += L->kl_dim(head, Z, j);
		cr_assert_float_eq(sum, reg, 1e-5, "%s", L->name);
	}
}

static double lik_loss(const vk_lik_kind *l, const vk_arch *a, const float *out, const float *x)
{
	float rec[N];
	l->nll(a, out, x, NULL, rec, N, 0.0f);
	return (double)rec[0] + rec[1] + rec[2];
}

Test(latents, every_likelihoods_gradient_matches_finite_differences)
{
	for (int i = 0; vk_lik_at(i); i++) {
		const vk_lik_kind *l = vk_lik_at(i);
		vk_arch a = {.kind = VK_VAE, .input_rank = 1, .input_dims = {5}, .input_size = 5,
			     .latent = 2, .likelihood = l->id, .sigma = 0.6f, .codes = 3};
		vk_error e;
		cr_assert_eq(l->check(&a, &e), 0, "%s", e.msg);
		int W = l->out_width(&a);
		vk_rng rng;
		vk_rng_seed(&rng, 3);
		float out[N * 16], x[N * 5], grad[N * 16], rec[N];
		fill(&rng, out, N * W, -2.0f, 2.0f);
		fill(&rng, x, N * 5, 0.0f, 1.0f);
		if (l->check_rows) /* targets that are codes, 0 … 2 */
			for (int k = 0; k < N * 5; k++)
				x[k] = floorf(x[k] * 3);
		l->nll(&a, out, x, grad, rec, N, 1.0f);
		for (int k = 0; k < N * W; k++) {
			float keep = out[k], h = 1e-2f;
			out[k] = keep + h;
			double up = lik_loss(l, &a, out, x);
			out[k] = keep - h;
			double down = lik_loss(l, &a, out, x);
			out[k] = keep;
			double fd = (up - down) / (2 * h);
			cr_assert(fabs(fd - grad[k]) < 2e-3 + 1e-2 * fabs(fd),
				  "%s: d/dout[%d] %g, finite differences %g", l->name, k, grad[k], fd);
		}
		if (l->dlog_sigma) {
			/* d Σrec / d log σ at σ against finite differences in σ */
			double h = 1e-3, s0 = a.sigma;
			a.sigma = (float)(s0 * exp(h));
			double up = lik_loss(l, &a, out, x);
			a.sigma = (float)(s0 * exp(-h));
			double down = lik_loss(l, &a, out, x);
			a.sigma = (float)s0;
			double fd = (up - down) / (2 * h) / N;
			double g = l->dlog_sigma(&a, lik_loss(l, &a, out, x), N);
			cr_assert(fabs(fd - g) < 2e-2 + 1e-2 * fabs(fd), "%s: d/dlog σ %g, fd %g",
				  l->name, g, fd);
		}
		/* the mean for decoding lies where the likelihood is highest */
		float m[N * 16];
		memcpy(m, out, sizeof m);
		l->mean(&a, m, N);
		if (l->unit_targets)
			for (int k = 0; k < N * 5; k++)
				cr_assert(m[k] > 0 && m[k] < 1);
	}
}

Test(latents, the_registry_names_every_kind_once)
{
	for (int i = 0; vk_model_kind_at(i); i++) {
		const vk_model_kind *k = vk_model_kind_at(i);
		cr_assert_eq(vk_model_kind_get(k->id), k);
		cr_assert_eq(vk_model_kind_named(k->name), k);
		/* a discrete kind's prior is a model of its own over code maps */
		cr_assert(k->latent && k->latent->sample && k->latent->backward &&
			  (k->latent->prior || (k->latent->codes && k->latent->embed)));
	}
	for (int i = 0; vk_lik_at(i); i++)
		cr_assert_eq(vk_lik_named(vk_lik_at(i)->name), vk_lik_at(i));
	cr_assert_null(vk_model_kind_get(0));
	cr_assert_null(vk_model_kind_named("vq"));
	cr_assert_null(vk_lik_get(99));
	cr_assert_eq(vk_model_kind_named("cvae")->conditional, 1);
	cr_assert_eq(vk_model_kind_named("vae")->conditional, 0);
}
