/* The numeric core and the models: gradients against central finite
 * differences, losses against hand-computed values, the KL against Monte Carlo. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "model.h"
#include "nn.h"

Test(nn_math, fast_exp_and_softplus_match_libm)
{
	for (float x = -80.0f; x < 80.0f; x += 0.37f) {
		double want = exp(x);
		cr_assert(fabs(vk_expf(x) - want) <= 3e-7 * want, "exp(%g)", x);
		double sp = log1p(exp(x));
		cr_assert(fabs(vk_softplus(x) - sp) <= 3e-7 * sp + 1e-30, "softplus(%g)", x);
	}
}

Test(nn_math, bce_by_hand_and_finite_at_extremes)
{
	float l[4] = {0.0f, 2.0f, -3.0f, 1000.0f}, x[4] = {1.0f, 0.0f, 1.0f, 1.0f}, rec[1];
	float dl[4];
	vk_bce_logits(l, x, dl, rec, 1, 4, 1.0f);
	/* −log σ(0) − log(1−σ(2)) − log σ(−3) − log σ(1000) */
	double want = log(2.0) + log1p(exp(2.0)) + log1p(exp(3.0)) + 0.0;
	cr_assert(fabs(rec[0] - want) < 1e-5, "rec %g want %g", rec[0], want);
	cr_assert(fabs(dl[1] - 1.0 / (1.0 + exp(-2.0))) < 1e-6);
	float big[2] = {-1e30f, 1e30f}, t[2] = {1.0f, 0.0f}, r2[1], d2[2];
	vk_bce_logits(big, t, d2, r2, 1, 2, 1.0f);
	cr_assert(isfinite(r2[0]) && isfinite(d2[0]) && isfinite(d2[1]));
}

Test(nn_math, gaussian_by_hand)
{
	float mu[2] = {0.5f, 0.0f}, x[2] = {0.0f, 1.0f}, rec[1];
	vk_gaussian_nll(mu, x, NULL, rec, 1, 2, 0.5f, 1.0f);
	double want = (0.25 + 1.0) / (2 * 0.25) + log(2 * M_PI * 0.25);
	cr_assert(fabs(rec[0] - want) < 1e-5, "rec %g want %g", rec[0], want);
}

Test(nn_math, analytic_kl_matches_monte_carlo)
{
	/* KL(N(μ,σ²)‖N(0,1)) = E_q[log q(z) − log p(z)], estimated by sampling. */
	float head[4] = {0.7f, -1.2f, logf(0.3f), logf(2.0f)}, kl, z[2];
	vk_reparam(z, 2, head, NULL, &kl, 1, 2);
	vk_rng rng;
	vk_rng_seed(&rng, 42);
	double sum = 0;
	int n = 400000;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < 2; j++) {
			double sd = exp(0.5 * head[2 + j]), e = vk_rng_normal(&rng);
			double zz = head[j] + sd * e;
			sum += -0.5 * e * e - log(sd) + 0.5 * zz * zz;
		}
	cr_assert(fabs(sum / n - kl) < 0.01, "MC %g analytic %g", sum / n, kl);
}

/* Loss of a batch with the eps drawn from a fixed seed. */
static double batch_loss(vk_model *m, vk_work *w, const float *x, const int32_t *lab, int n,
			 float beta)
{
	vk_rng rng;
	vk_rng_seed(&rng, 7);
	float eps[64];
	vk_rng_normals(&rng, eps, (size_t)n * m->a.latent);
	vk_batch_grad(m, w, m->grads, x, lab, n, beta, eps, 1.0f / n);
	double s = 0;
	for (int r = 0; r < n; r++)
		s += w->rec[r] + beta * w->kl[r];
	return s / n;
}

static void check_gradients(int kind, int act, int lik, int n_hidden)
{
	vk_arch a = {.kind = kind, .input_rank = 1, .input_dims = {6}, .input_size = 6,
		     .latent = 3, .classes = kind == VK_CVAE ? 3 : 0, .likelihood = lik,
		     .sigma = 0.7f};
	vk_arch_mlp(&a, (int[]){5, 4}, n_hidden, act);
	vk_model m;
	vk_work w;
	vk_error e;
	cr_assert_eq(vk_model_alloc(&m, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_work_alloc(&w, &m, 4, &e), 0);
	vk_rng rng;
	vk_rng_seed(&rng, 3);
	vk_model_init_params(&m, &rng);
	/* Nonzero biases: with zero biases a dead ReLU layer puts the next
	 * pre-activation exactly on the kink, where no derivative exists. */
	for (size_t i = 0; i < m.n_params; i++)
		m.params[i] += 0.2f * (vk_rng_uniform(&rng) - 0.5f);
	float x[24];
	int32_t lab[4] = {0, 2, 1, 2};
	for (int i = 0; i < 24; i++)
		x[i] = vk_rng_uniform(&rng);
	float beta = 0.8f;
	batch_loss(&m, &w, x, lab, 4, beta);
	float *analytic = malloc(sizeof(float) * m.n_params);
	memcpy(analytic, m.grads, sizeof(float) * m.n_params);
	int bad = 0;
	for (size_t i = 0; i < m.n_params; i++) {
		float keep = m.params[i], h = act == VK_RELU ? 1e-3f : 1e-2f;
		m.params[i] = keep + h;
		double up = batch_loss(&m, &w, x, lab, 4, beta);
		m.params[i] = keep - h;
		double down = batch_loss(&m, &w, x, lab, 4, beta);
		m.params[i] = keep;
		double numeric = (up - down) / (2 * h);
		double tol = 2e-3 + 2e-2 * fabs(numeric);
		if (fabs(numeric - analytic[i]) > tol && bad++ < 5)
			cr_log_error("param %zu: analytic %g numeric %g", i, analytic[i], numeric);
	}
	cr_assert_eq(bad, 0, "%d gradients differ (kind %d act %d lik %d)", bad, kind, act, lik);
	free(analytic);
	vk_work_free(&w);
	vk_model_free(&m);
}

Test(nn_grad, vae_tanh_bernoulli) { check_gradients(VK_VAE, VK_TANH, VK_BERNOULLI, 2); }
Test(nn_grad, vae_sigmoid_gaussian) { check_gradients(VK_VAE, VK_SIGMOID, VK_GAUSSIAN, 1); }
Test(nn_grad, ae_tanh_bernoulli) { check_gradients(VK_AE, VK_TANH, VK_BERNOULLI, 2); }
Test(nn_grad, cvae_tanh_bernoulli) { check_gradients(VK_CVAE, VK_TANH, VK_BERNOULLI, 2); }
Test(nn_grad, vae_linear_gaussian) { check_gradients(VK_VAE, VK_TANH, VK_GAUSSIAN, 0); }
Test(nn_grad, vae_relu_bernoulli) { check_gradients(VK_VAE, VK_RELU, VK_BERNOULLI, 2); }

Test(nn_math, adam_matches_pytorch_formula)
{
	vk_adam o;
	vk_adam_init(&o, 0.1f);
	float p = 1.0f, g = 0.5f, m = 0, v = 0;
	vk_adam_step(&o, &p, &g, &m, &v, 1);
	/* first step: m̂ = g, v̂ = g², so p −= lr·g/(|g| + eps) */
	cr_assert(fabs(p - (1.0f - 0.1f * 0.5f / (0.5f + 1e-8f))) < 1e-6, "p %g", p);
	g = -0.25f;
	vk_adam_step(&o, &p, &g, &m, &v, 1);
	double m2 = 0.9 * 0.05 + 0.1 * -0.25, v2 = 0.999 * 0.00025 + 0.001 * 0.0625;
	double want = 0.9 - 0.1 / (1 - 0.81) * m2 / (sqrt(v2) / sqrt(1 - 0.998001) + 1e-8);
	cr_assert(fabs(p - want) < 1e-5, "p %g want %g", p, want);
}
