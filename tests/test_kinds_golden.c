/* batchnorm and res against PyTorch 1.13 (tests/golden/kinds_golden.py):
 * forward and backward in training and evaluation mode, the running
 * statistics after N training steps, flat and image inputs, odd shapes,
 * 1 to 64 channels. The inputs are the formulas the script documents. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinds.h"
#include "nn.h"
#include "testutil.h"

#include "golden/kinds_golden.h"

#define COUNT(a) (sizeof(a) / sizeof *(a))

static void near(const float *got, const float *want, size_t n, float tol, const char *name,
		 const char *what)
{
	for (size_t i = 0; i < n; i++)
		cr_assert(fabsf(got[i] - want[i]) <= tol * (1.0f + fabsf(want[i])),
			  "%s: %s[%zu] = %.7g, PyTorch %.7g", name, what, i, got[i], want[i]);
}

static void check_case(const struct kinds_golden *c)
{
	vk_layer L[VK_MAX_ENTRIES];
	vk_layer_spec s;
	vk_error e;
	int nl, end = 1;
	size_t np = 0, ns = 0;
	cr_assert_eq(vk_layers_parse(c->text, VK_IDENTITY, &s, 1, &nl, &e), 0, "%s", e.msg);
	vk_shape in = c->H ? (vk_shape){c->H, c->W, c->C} : (vk_shape){0, 0, c->C};
	cr_assert_eq(vk_list_add(L, 0, &end, VK_MAX_ENTRIES, &s, in, 0, &np, &ns, &e), 0, "%s: %s",
		     c->name, e.msg);
	cr_assert_eq(np, (size_t)c->n_p, "%s: %zu parameters, PyTorch %d", c->name, np, c->n_p);
	cr_assert_eq(ns, (size_t)c->n_s, "%s: %zu state values, PyTorch %d", c->name, ns, c->n_s);
	if (L[0].n_body) {
		/* the script's layout of a res block's parameters: conv K×K, then 1×1 */
		const vk_layer *b = L + L[0].body;
		size_t n1 = (size_t)b[0].n_w;
		cr_assert(b[0].w == 0 && b[0].b == n1 && b[1].w == n1 + (size_t)b[0].out.c &&
				  b[1].b + (size_t)c->C == np,
			  "%s: res parameter layout", c->name);
	}
	size_t N = (size_t)c->B * vk_shape_size(in), ws = 1, wide = N;
	float *acts[VK_MAX_ENTRIES], *priv[VK_MAX_ENTRIES];
	for (int i = 0; i < end; i++) {
		size_t need = vk_layer_workspace(&L[i], c->B);
		ws = need > ws ? need : ws;
		wide = (size_t)c->B * L[i].n_out > wide ? (size_t)c->B * L[i].n_out : wide;
		acts[i] = calloc((size_t)c->B * L[i].n_out, sizeof(float));
		priv[i] = calloc(vk_layer_priv(&L[i], c->B) + 1, sizeof(float));
	}
	float *P = calloc(np, sizeof(float)), *G = calloc(np, sizeof(float));
	float *S = calloc(ns + 1, sizeof(float)), *scratch = calloc(ws, sizeof(float));
	float *x = calloc(N, sizeof(float)), *g[2] = {calloc(wide, 4), calloc(wide, 4)};
	vk_rng rng;
	vk_rng_seed(&rng, 1);
	vk_list_init(L, 1, P, S, &rng); /* the state: mean 0, variance 1 */
	for (size_t j = 0; j < np; j++)
		P[j] = (float)(0.3 + 0.5 * cos(0.23 * j));
	vk_pass pass = {.P = P, .G = G, .S = S, .scratch = scratch, .train = 1, .update_state = 1};
	for (int t = 0; t < c->N; t++) {
		for (size_t i = 0; i < N; i++)
			x[i] = (float)sin(0.37 * i + 0.5 * t);
		const float *y = vk_list_forward(L, 1, acts, priv, x, c->B, &pass);
		if (t)
			continue;
		near(y, c->y_train, N, 2e-5f, c->name, "training y");
		for (size_t i = 0; i < N; i++)
			g[0][i] = (float)cos(0.19 * i);
		float *dx = vk_list_backward(L, 1, acts, priv, x, g[0], g[1], 1, c->B, &pass);
		near(dx, c->dx_train, N, 1e-4f, c->name, "training dx");
		near(G, c->g_train, np, 1e-4f, c->name, "training dP");
	}
	near(S, c->state, ns, 2e-5f, c->name, "running statistics");
	pass.train = pass.update_state = 0;
	for (size_t i = 0; i < N; i++)
		x[i] = (float)sin(0.37 * i);
	const float *y = vk_list_forward(L, 1, acts, priv, x, c->B, &pass);
	near(y, c->y_eval, N, 2e-5f, c->name, "evaluation y");
	for (size_t i = 0; i < N; i++)
		g[0][i] = (float)cos(0.19 * i);
	float *dx = vk_list_backward(L, 1, acts, priv, x, g[0], g[1], 1, c->B, &pass);
	near(dx, c->dx_eval, N, 1e-4f, c->name, "evaluation dx");
	near(G, c->g_eval, np, 1e-4f, c->name, "evaluation dP");
	for (int i = 0; i < end; i++)
		free(acts[i]), free(priv[i]);
	free(P), free(G), free(S), free(scratch), free(x), free(g[0]), free(g[1]);
}

Test(kinds_golden, batchnorm_and_res_match_pytorch)
{
	for (size_t k = 0; k < COUNT(kinds_goldens); k++)
		check_case(&kinds_goldens[k]);
}
