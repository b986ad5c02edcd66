/* The masked convolution (layer_mconv.c) beyond the kinds table's gradient
 * check: its masks by perturbation (no output depends on its own input in a
 * type A layer, nor on a later position's in either type), its masked
 * weights and their gradient, its text. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kinds.h"
#include "nn.h"

enum { B = 2, MAX_L = 8 };

typedef struct {
	vk_layer L[VK_MAX_ENTRIES];
	int nl, end;
	size_t np, ns;
	vk_shape in;
	float *P, *G, *scratch, *x, *acts[VK_MAX_ENTRIES], *priv[VK_MAX_ENTRIES];
	vk_pass pass;
} net;

static void net_init(net *t, const char *text, vk_shape in, uint64_t seed)
{
	memset(t, 0, sizeof *t);
	vk_layer_spec s[VK_MAX_LAYERS];
	vk_error e;
	cr_assert_eq(vk_layers_parse(text, VK_RELU, s, VK_MAX_LAYERS, &t->nl, &e), 0, "%s: %s",
		     text, e.msg);
	t->end = t->nl;
	t->in = in;
	vk_shape x = in;
	for (int i = 0; i < t->nl; i++) {
		cr_assert_eq(vk_list_add(t->L, i, &t->end, VK_MAX_ENTRIES, &s[i], x, 0, &t->np,
					 &t->ns, &e), 0, "%s: %s", text, e.msg);
		x = t->L[i].out;
	}
	size_t ws = 1;
	for (int i = 0; i < t->end; i++) {
		size_t need = vk_layer_workspace(&t->L[i], B);
		ws = need > ws ? need : ws;
		t->acts[i] = calloc((size_t)B * t->L[i].n_out, sizeof(float));
		t->priv[i] = calloc(vk_layer_priv(&t->L[i], B) + 1, sizeof(float));
	}
	t->P = calloc(t->np + 1, sizeof(float));
	t->G = calloc(t->np + 1, sizeof(float));
	t->scratch = calloc(ws, sizeof(float));
	t->x = calloc((size_t)B * vk_shape_size(in), sizeof(float));
	vk_rng rng;
	vk_rng_seed(&rng, seed);
	vk_list_init(t->L, t->nl, t->P, NULL, &rng);
	for (size_t i = 0; i < (size_t)B * vk_shape_size(in); i++)
		t->x[i] = (float)vk_rng_normal(&rng);
	t->pass = (vk_pass){.P = t->P, .G = t->G, .scratch = t->scratch};
}

static void net_free(net *t)
{
	for (int i = 0; i < t->end; i++)
		free(t->acts[i]), free(t->priv[i]);
	free(t->P), free(t->G), free(t->scratch), free(t->x);
}

static const float *net_forward(net *t)
{
	return vk_list_forward(t->L, t->nl, t->acts, t->priv, t->x, B, &t->pass);
}

/* Perturb every channel of each input position q in turn: the outputs at
 * positions before q (and at q itself when self is 0) stay bit for bit, and
 * (a real test) some output at or after q moves. */
static void check_causal(const char *text, int self, int later)
{
	net t;
	vk_shape in = {5, 6, 3};
	net_init(&t, text, in, 3);
	int P = in.h * in.w, F = t.L[t.nl - 1].out.c;
	size_t ny = (size_t)B * P * F;
	float *y0 = malloc(sizeof(float) * ny);
	memcpy(y0, net_forward(&t), sizeof(float) * ny);
	size_t nx = (size_t)B * P * in.c;
	float *x0 = malloc(sizeof(float) * nx);
	memcpy(x0, t.x, sizeof(float) * nx);
	int saw_self = 0, saw_later = 0;
	for (int q = 0; q < P; q++) {
		for (int b = 0; b < B; b++)
			for (int c = 0; c < in.c; c++)
				t.x[((size_t)b * P + q) * in.c + c] += 1.5f;
		const float *y = net_forward(&t);
		for (int b = 0; b < B; b++)
			for (int p = 0; p < P; p++)
				for (int f = 0; f < F; f++) {
					size_t i = ((size_t)b * P + p) * F + f;
					int moved = y[i] != y0[i];
					if (p < q || (p == q && !self))
						cr_assert(!moved, "%s: output %d moved with input %d", text,
							  p, q);
					saw_self |= p == q && moved;
					saw_later |= p > q && moved;
				}
		memcpy(t.x, x0, sizeof(float) * nx); /* (x + 1.5) − 1.5 need not be x */
	}
	cr_assert_eq(saw_later, later, "%s: %s output depends on an earlier input", text,
		     later ? "no" : "an");
	cr_assert_eq(saw_self, self, "%s: an output %s its own input", text,
		     self ? "never depends on" : "depends on");
	free(y0), free(x0);
	net_free(&t);
}

Test(mconv, type_a_sees_only_earlier_positions)
{
	check_causal("mconv:4:3:A/tanh", 0, 1);
	check_causal("mconv:2:5:A/identity", 0, 1);
	/* a stack: A first, then B layers, stays strictly causal */
	check_causal("mconv:4:3:A/relu,mconv:4:3:B/tanh,mconv:5:5:B/relu,mconv:3:1:B/identity", 0, 1);
}

Test(mconv, type_b_sees_its_centre_and_earlier_positions)
{
	check_causal("mconv:4:3:B/tanh", 1, 1);
	check_causal("mconv:3:1:B/identity", 1, 0); /* its centre alone */
	check_causal("mconv:4:5:B/tanh,mconv:2:3:B/identity", 1, 1);
}

/* Masked weights are zero at initialisation, get a zero gradient, and
 * nonzero values there (a hand-edited file) change no output. */
Test(mconv, masked_weights_stay_zero_and_count_for_nothing)
{
	net t;
	vk_shape in = {4, 5, 2};
	net_init(&t, "mconv:3:3:A/tanh", in, 9);
	const vk_layer *l = &t.L[0];
	int K = 3, C = 2, F = 3;
	/* rows (ky, kx, c): seen are (0, *) and (1, 0) for type A */
	for (int ky = 0; ky < K; ky++)
		for (int kx = 0; kx < K; kx++) {
			int seen = ky == 0 || (ky == 1 && kx == 0);
			for (int j = 0; j < C * F; j++) {
				float w = t.P[l->w + (size_t)(ky * K + kx) * C * F + j];
				cr_assert(seen ? w != 0.0f : w == 0.0f, "weight (%d,%d) %g", ky, kx, w);
			}
		}
	size_t ny = (size_t)B * l->n_out;
	float *y0 = malloc(sizeof(float) * ny), *dy = malloc(sizeof(float) * ny),
	      *dx = malloc(sizeof(float) * B * l->n_in);
	memcpy(y0, net_forward(&t), sizeof(float) * ny);
	for (size_t i = 0; i < ny; i++)
		dy[i] = 0.1f * (float)(i % 7) - 0.3f;
	l->ops->backward(l, dx, dy, t.x, t.acts, t.priv, B, &t.pass);
	for (int ky = 1; ky < K; ky++)
		for (int kx = ky == 1 ? 1 : 0; kx < K; kx++)
			for (int j = 0; j < C * F; j++)
				cr_assert_eq(t.G[l->w + (size_t)(ky * K + kx) * C * F + j], 0.0f);
	for (int j = 0; j < C * F; j++) { /* the centre and the row below */
		t.P[l->w + (size_t)4 * C * F + j] = 9.0f;
		t.P[l->w + (size_t)7 * C * F + j] = -9.0f;
	}
	cr_assert_eq(memcmp(net_forward(&t), y0, sizeof(float) * ny), 0);
	free(y0), free(dy), free(dx);
	net_free(&t);
}

Test(mconv, text_and_bad_specs)
{
	vk_layer_spec s[4];
	int n;
	vk_error e;
	char buf[64];
	cr_assert_eq(vk_layers_parse("mconv:64:7:A,mconv:8:3:B/tanh", VK_RELU, s, 4, &n, &e), 0);
	cr_assert_str_eq(vk_layer_spec_str(&s[0], buf, sizeof buf), "mconv:64:7:A/relu");
	cr_assert_str_eq(vk_layer_spec_str(&s[1], buf, sizeof buf), "mconv:8:3:B/tanh");
	const char *bad[] = {"mconv:8:4:A", "mconv:8:3:C", "mconv:8:3", "mconv:8:1:A",
			     "mconv:0:3:B", "mconv:8:3:AB", "mconv:8:17:B"};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		cr_assert_neq(vk_layers_parse(bad[i], VK_RELU, s, 4, &n, &e), 0, "%s", bad[i]);
		cr_assert(strstr(e.msg, bad[i]), "%s: %s", bad[i], e.msg);
	}
	/* a flat input is refused, naming the layer */
	cr_assert_eq(vk_layers_parse("mconv:8:3:B", VK_RELU, s, 4, &n, &e), 0);
	vk_shape out;
	cr_assert_neq(vk_layer_out_shape(&s[0], (vk_shape){0, 0, 10}, &out, &e), 0);
	cr_assert(strstr(e.msg, "mconv:8:3:B"), "%s", e.msg);
}
