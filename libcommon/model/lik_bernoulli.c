/* A Bernoulli decoder: the output layer gives a logit per value, targets in
 * [0, 1]; the mean is the sigmoid of the logit. */
#include "latents.h"

#include "model.h"

static int bern_width(const vk_arch *a) { return a->input_size; }

static int bern_check(const vk_arch *a, vk_error *e)
{
	(void)a, (void)e;
	return 0;
}

static void bern_nll(const vk_arch *a, const float *out, const float *x, float *grad, float *rec,
		     int n, float scale)
{
	vk_bce_logits(out, x, grad, rec, n, a->input_size, scale);
}

static void bern_mean(const vk_arch *a, float *out, int n)
{
	vk_activate(out, (size_t)n * a->input_size, VK_SIGMOID);
}

const vk_lik_kind vk_lik_bernoulli = {
	.id = VK_BERNOULLI,
	.name = "bernoulli",
	.unit_targets = 1,
	.out_width = bern_width,
	.check = bern_check,
	.nll = bern_nll,
	.mean = bern_mean,
};
