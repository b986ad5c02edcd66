/* A Gaussian decoder of one σ for every value: the output layer gives the
 * means; σ is fixed (--sigma S) or learned with the network (--sigma learned:
 * the trainer steps log σ by dlog_sigma). */
#include "latents.h"

#include <math.h>

#include "model.h"

static int gauss_width(const vk_arch *a) { return a->input_size; }

static int gauss_check(const vk_arch *a, vk_error *e)
{
	if (!(a->sigma > 0 && isfinite(a->sigma)))
		return vk_fail(e, "Gaussian decoder sigma %g must be positive", a->sigma);
	return 0;
}

static void gauss_nll(const vk_arch *a, const float *out, const float *x, float *grad,
		      float *rec, int n, float scale)
{
	vk_gaussian_nll(out, x, grad, rec, n, a->input_size, a->sigma, scale);
}

static void gauss_mean(const vk_arch *a, float *out, int n)
{
	(void)a, (void)out, (void)n; /* the outputs are the means */
}

/* d rec/d log σ = D − Σ(x − μ)²/σ² = D − 2(rec − ½ D log 2πσ²) */
static float gauss_dlog_sigma(const vk_arch *a, double rec_sum, int b)
{
	double D = a->input_size, s2 = (double)a->sigma * a->sigma;
	double norm = 0.5 * D * log(2.0 * M_PI * s2);
	return (float)(D - 2.0 * (rec_sum / b - norm));
}

const vk_lik_kind vk_lik_gaussian = {
	.id = VK_GAUSSIAN,
	.name = "gaussian",
	.has_sigma = 1,
	.out_width = gauss_width,
	.check = gauss_check,
	.nll = gauss_nll,
	.mean = gauss_mean,
	.dlog_sigma = gauss_dlog_sigma,
};
