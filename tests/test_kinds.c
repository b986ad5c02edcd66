/* The layer-kind table (libcommon/nn/kinds.c): every registered kind, through
 * its ops alone, against central finite differences (input and parameter
 * gradients, training and evaluation mode), its text and model-file row
 * round-tripped, and a model holding it saved and read back. A new kind is
 * checked here as soon as its line is in the table. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kinds.h"
#include "modelfile.h"
#include "nn.h"
#include "testutil.h"

enum { B = 3 };
static const vk_shape IN = {5, 4, 3};

/* A list built from text on IN, with every buffer a pass needs. */
typedef struct {
	vk_layer L[VK_MAX_ENTRIES];
	int nl, end;
	size_t np, ns;
	float *P, *G, *S, *scratch, *x, *dx, *r, *g[2];
	float *acts[VK_MAX_ENTRIES], *priv[VK_MAX_ENTRIES];
	vk_pass pass;
} list;

static size_t widest(const list *t)
{
	size_t w = vk_shape_size(IN);
	for (int i = 0; i < t->end; i++) {
		w = (size_t)t->L[i].n_in > w ? (size_t)t->L[i].n_in : w;
		w = (size_t)t->L[i].n_out > w ? (size_t)t->L[i].n_out : w;
	}
	return w;
}

static void list_init(list *t, const char *text, uint64_t seed)
{
	memset(t, 0, sizeof *t);
	vk_layer_spec s[VK_MAX_LAYERS];
	vk_error e;
	cr_assert_eq(vk_layers_parse(text, VK_RELU, s, VK_MAX_LAYERS, &t->nl, &e), 0, "%s: %s",
		     text, e.msg);
	t->end = t->nl;
	vk_shape in = IN;
	for (int i = 0; i < t->nl; i++) {
		cr_assert_eq(vk_list_add(t->L, i, &t->end, VK_MAX_ENTRIES, &s[i], in, 0, &t->np,
					 &t->ns, &e), 0, "%s: %s", text, e.msg);
		in = t->L[i].out;
	}
	size_t ws = 1, wide = widest(t);
	for (int i = 0; i < t->end; i++) {
		size_t need = vk_layer_workspace(&t->L[i], B);
		ws = need > ws ? need : ws;
		t->acts[i] = calloc((size_t)B * t->L[i].n_out, sizeof(float));
		t->priv[i] = calloc(vk_layer_priv(&t->L[i], B) + 1, sizeof(float));
	}
	t->P = calloc(t->np + 1, sizeof(float));
	t->G = calloc(t->np + 1, sizeof(float));
	t->S = calloc(t->ns + 1, sizeof(float));
	t->scratch = calloc(ws, sizeof(float));
	t->x = calloc((size_t)B * vk_shape_size(IN), sizeof(float));
	t->dx = calloc((size_t)B * vk_shape_size(IN), sizeof(float));
	t->r = calloc((size_t)B * t->L[t->nl - 1].n_out, sizeof(float));
	t->g[0] = calloc((size_t)B * wide, sizeof(float));
	t->g[1] = calloc((size_t)B * wide, sizeof(float));
	vk_rng rng;
	vk_rng_seed(&rng, seed);
	vk_list_init(t->L, t->nl, t->P, t->S, &rng);
	/* Biases and state away from their initial zeros, so that every
	 * parameter's gradient is a real test. */
	for (size_t i = 0; i < t->np; i++)
		t->P[i] += 0.2f * (float)vk_rng_normal(&rng);
	for (size_t i = 0; i < t->ns; i++)
		t->S[i] = 0.5f + 0.25f * (float)vk_rng_uniform(&rng);
	for (size_t i = 0; i < (size_t)B * vk_shape_size(IN); i++)
		t->x[i] = (float)vk_rng_normal(&rng);
	for (size_t i = 0; i < (size_t)B * t->L[t->nl - 1].n_out; i++)
		t->r[i] = (float)vk_rng_normal(&rng);
	t->pass = (vk_pass){.P = t->P, .G = t->G, .S = t->S, .scratch = t->scratch};
}

static void list_free(list *t)
{
	for (int i = 0; i < t->end; i++) {
		free(t->acts[i]);
		free(t->priv[i]);
	}
	free(t->P), free(t->G), free(t->S), free(t->scratch), free(t->x), free(t->dx);
	free(t->r), free(t->g[0]), free(t->g[1]);
}

/* loss = Σ y·r over the list's output, in double. The state is restored
 * after each pass: a training pass updates running statistics, which must
 * not drift between the differences. */
static double loss(list *t)
{
	float *keep = malloc(sizeof(float) * (t->ns + 1));
	memcpy(keep, t->S, sizeof(float) * t->ns);
	const float *y = vk_list_forward(t->L, t->nl, t->acts, t->priv, t->x, B, &t->pass);
	memcpy(t->S, keep, sizeof(float) * t->ns);
	free(keep);
	double s = 0;
	for (size_t i = 0; i < (size_t)B * t->L[t->nl - 1].n_out; i++)
		s += (double)y[i] * t->r[i];
	return s;
}

/* Central differences of the loss in every element of p, against grad. A
 * ReLU inside a kind (res) has no derivative at its kink: where the two
 * one-sided differences disagree, the step crossed one, and the element is
 * skipped (counted in *skipped); the analytic gradient plays no part in
 * that choice. */
static int check_block(list *t, float *p, const float *grad, size_t n, const char *what,
		       const char *text, int *skipped)
{
	int bad = 0;
	const float h = 1e-3f;
	double mid = loss(t);
	for (size_t i = 0; i < n; i++) {
		float keep = p[i];
		p[i] = keep + h;
		double up = loss(t);
		p[i] = keep - h;
		double down = loss(t);
		p[i] = keep;
		double num = (up - down) / (2.0 * h);
		double tol = 2e-3 + 1e-2 * fabs(num);
		/* a kink inside the step moves the central difference by at most
		 * half the one-sided ones' disagreement */
		if (fabs((up - mid) - (mid - down)) / h > tol) {
			++*skipped;
			continue;
		}
		if (!(fabs(num - grad[i]) <= tol) && bad++ < 5)
			cr_log_error("%s %s[%zu]: analytic %g numeric %g", text, what, i, grad[i],
				     num);
	}
	return bad;
}

/* The list's input and parameter gradients against central differences. */
static void check_list(const char *text, int train, uint64_t seed)
{
	list t;
	list_init(&t, text, seed);
	t.pass.train = train;
	loss(&t);
	memcpy(t.g[0], t.r, sizeof(float) * B * t.L[t.nl - 1].n_out);
	float *dx = vk_list_backward(t.L, t.nl, t.acts, t.priv, t.x, t.g[0], t.g[1], 1, B, &t.pass);
	memcpy(t.dx, dx, sizeof(float) * B * vk_shape_size(IN));
	float *G = malloc(sizeof(float) * (t.np + 1));
	memcpy(G, t.G, sizeof(float) * t.np);
	int skipped = 0;
	size_t total = (size_t)B * vk_shape_size(IN) + t.np;
	int bad = check_block(&t, t.x, t.dx, (size_t)B * vk_shape_size(IN), "dx", text, &skipped);
	bad += check_block(&t, t.P, G, t.np, "dP", text, &skipped);
	cr_assert_leq(skipped, total / 10, "%s: %d of %zu gradients skipped at kinks", text,
		      skipped, total);
	cr_assert_eq(bad, 0, "%s (%s mode): %d gradients differ", text, train ? "training" : "eval",
		     bad);
	/* Without dx, the parameter gradients are the same. */
	loss(&t);
	memcpy(t.g[0], t.r, sizeof(float) * B * t.L[t.nl - 1].n_out);
	memset(t.G, 0, sizeof(float) * t.np);
	cr_assert_null(vk_list_backward(t.L, t.nl, t.acts, t.priv, t.x, t.g[0], t.g[1], 0, B,
					&t.pass));
	cr_assert_eq(memcmp(G, t.G, sizeof(float) * t.np), 0, "%s: dP differs without dx", text);
	free(G);
	list_free(&t);
}

Test(kinds, every_kind_against_finite_differences)
{
	for (int i = 0; i < vk_layer_kind_count(); i++) {
		const vk_layer_ops *k = vk_layer_kind_at(i);
		cr_assert(k->example, "kind %s has no example", k->name);
		check_list(k->example, 1, 5 + i);
		check_list(k->example, 0, 7 + i);
	}
}

/* A deconv to an explicit output size on the thin (AVX-512, one filter
 * against 16·n channels) and the GEMM paths, an even kernel too. */
Test(kinds, deconv_to_a_given_size_on_every_path)
{
	check_list("conv:16:3:1/tanh,deconv:1:3:2:9x7/tanh", 1, 11);
	check_list("conv:32:1:1/tanh,deconv:1:4:2:10x7/sigmoid", 1, 12);
	check_list("deconv:5:3:3:13x10/tanh", 1, 13);
	check_list("deconv:2:2:2:9x8/tanh", 1, 14);
}

/* Kinds chained behind one another: the walker's ping-pong buffers. */
Test(kinds, a_chain_of_every_kind)
{
	char text[1024] = "";
	for (int i = 0; i < vk_layer_kind_count(); i++) {
		const char *ex = vk_layer_kind_at(i)->example, *comma = strchr(ex, ',');
		/* each kind's first example, image to image kinds first */
		snprintf(text + strlen(text), sizeof text - strlen(text), "%.*s,",
			 (int)(comma ? comma - ex : (long)strlen(ex)), ex);
	}
	/* dense flattens: put it last */
	char chain[1024] = "", dense[64] = "";
	for (char *p = strtok(text, ","); p; p = strtok(NULL, ","))
		if (!strncmp(p, "dense:", 6))
			snprintf(dense, sizeof dense, "%s", p);
		else
			snprintf(chain + strlen(chain), sizeof chain - strlen(chain), "%s,", p);
	snprintf(chain + strlen(chain), sizeof chain - strlen(chain), "%s", dense);
	check_list(chain, 1, 3);
}

Test(kinds, registry_ids_names_and_round_trips)
{
	int n = vk_layer_kind_count();
	cr_assert_geq(n, 4);
	for (int i = 0; i < n; i++) {
		const vk_layer_ops *k = vk_layer_kind_at(i);
		cr_assert_eq(vk_layer_kind_by_id(k->id), k, "%s: id %d not unique", k->name, k->id);
		cr_assert_eq(vk_layer_kind_by_name(k->name), k, "%s: name not unique", k->name);
		cr_assert(k->id > 0 && k->id <= 0xffff && k->parse && k->print && k->check &&
			  k->shape && k->forward && k->backward && k->put_row && k->get_row,
			  "%s: incomplete ops", k->name);
		/* text -> spec -> text, spec -> row -> spec */
		vk_layer_spec s[VK_MAX_LAYERS], again[VK_MAX_LAYERS];
		int ns, na;
		vk_error e;
		cr_assert_eq(vk_layers_parse(k->example, VK_RELU, s, VK_MAX_LAYERS, &ns, &e), 0);
		vk_shape in = IN; /* each layer of the example on its own input */
		for (int j = 0; j < ns; j++) {
			char buf[128];
			vk_layer_spec_str(&s[j], buf, sizeof buf);
			cr_assert_eq(vk_layers_parse(buf, VK_IDENTITY, again, 1, &na, &e), 0, "%s: %s",
				     buf, e.msg);
			cr_assert_eq(memcmp(&s[j], &again[0], sizeof s[j]), 0, "%s: text round trip",
				     buf);
			cr_assert_eq(vk_layer_check(&s[j], &e), 0, "%s: %s", buf, e.msg);
			vk_layer L[VK_MAX_ENTRIES];
			int end = 1;
			size_t at = 0, st = 0;
			cr_assert_eq(vk_list_add(L, 0, &end, VK_MAX_ENTRIES, &s[j], in, 0, &at, &st, &e),
				     0, "%s: %s", buf, e.msg);
			in = L[0].out;
			uint32_t row[VK_LAYER_ROW_WORDS];
			vk_layer_put_row(&L[0], row);
			cr_assert_eq(row[0], (uint32_t)k->id);
			cr_assert_eq(vk_layer_get_row(row, &again[0], &e), 0, "%s: %s", buf, e.msg);
			again[0].reshape = s[j].reshape; /* only dense keeps one, from words 5-7 */
			cr_assert_eq(memcmp(&s[j], &again[0], sizeof s[j]), 0, "%s: row round trip",
				     buf);
		}
	}
	/* An unknown kind, by name and by number. */
	vk_error e;
	vk_layer_spec s;
	int n1;
	cr_assert_eq(vk_layers_parse("pool:2", VK_RELU, &s, 1, &n1, &e), -1);
	cr_assert(strstr(e.msg, "unknown kind 'pool' (dense, conv, "), "%s", e.msg);
	for (int i = 0; i < n; i++) /* the message names every listed kind, no test kind */
		cr_assert(!strstr(e.msg, vk_layer_kind_at(i)->name) == !vk_layer_kind_at(i)->usage,
			  "%s", e.msg);
	uint32_t row[VK_LAYER_ROW_WORDS] = {77, 1, 4};
	cr_assert_eq(vk_layer_get_row(row, &s, &e), -1);
	cr_assert(strstr(e.msg, "unknown kind 77"), "%s", e.msg);
}

/* A model with the test kind in both lists: built, trained a step, saved,
 * read back with the same rows and parameters. */
Test(kinds, a_model_with_the_scale_kind_round_trips)
{
	vk_arch a = {.kind = VK_VAE, .input_rank = 3, .input_dims = {6, 6, 2}, .input_size = 72,
		     .latent = 2, .likelihood = VK_BERNOULLI};
	vk_error e;
	cr_assert_eq(vk_layers_parse("scale:0.5,conv:3:3:2/tanh,scale:-2", VK_RELU, a.enc,
				     VK_MAX_LAYERS, &a.n_enc, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_layers_mirror(a.enc, a.n_enc, vk_arch_input_shape(&a), a.dec, &a.n_dec,
				      &e), 0, "%s", e.msg);
	char buf[128];
	cr_assert_str_eq(vk_layer_spec_str(&a.dec[a.n_dec - 1], buf, sizeof buf), "scale:0.5/relu");
	vk_model m, r;
	cr_assert_eq(vk_model_alloc(&m, &a, &e), 0, "%s", e.msg);
	vk_rng rng;
	vk_rng_seed(&rng, 3);
	vk_model_init_params(&m, &rng);
	const char *path = tmp_path("kinds-scale.vae");
	cr_assert_eq(vk_model_save(path, &m, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_model_load(path, &r, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(r.n_enc, m.n_enc);
	cr_assert_eq(r.n_params, m.n_params);
	cr_assert_eq(r.enc[0].spec.f[0], 0.5f);
	cr_assert_eq(memcmp(r.params, m.params, sizeof(float) * m.n_params), 0);
	vk_model_free(&m);
	vk_model_free(&r);
}

/* Batch norm's running statistics: moved by training passes only, saved with
 * the model and read back; evaluation uses them, so a record's output does
 * not depend on the others in its batch. */
Test(kinds, batchnorm_state_saved_and_used_in_evaluation)
{
	vk_arch a = {.kind = VK_VAE, .input_rank = 1, .input_dims = {6}, .input_size = 6,
		     .latent = 2, .likelihood = VK_BERNOULLI};
	vk_error e;
	cr_assert_eq(vk_layers_parse("dense:5/identity,batchnorm:0.5/tanh", VK_RELU, a.enc,
				     VK_MAX_LAYERS, &a.n_enc, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_layers_parse("dense:4", VK_RELU, a.dec, VK_MAX_LAYERS, &a.n_dec, &e), 0);
	vk_model m, r;
	cr_assert_eq(vk_model_alloc(&m, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(m.n_state, 10);
	vk_rng rng;
	vk_rng_seed(&rng, 9);
	vk_model_init_params(&m, &rng);
	cr_assert_eq(m.state[0], 0.0f); /* running mean 0, variance 1 */
	cr_assert_eq(m.state[5], 1.0f);
	enum { N = 8 };
	float x[N * 6], eps[N * 2];
	for (int i = 0; i < N * 6; i++)
		x[i] = (float)vk_rng_uniform(&rng);
	for (int i = 0; i < N * 2; i++)
		eps[i] = (float)vk_rng_normal(&rng);
	vk_work w;
	cr_assert_eq(vk_work_alloc(&w, &m, N, &e), 0);
	/* evaluation leaves the state alone */
	vk_encode(&m, &w, x, NULL, N);
	cr_assert_eq(m.state[0], 0.0f);
	cr_assert_eq(m.state[5], 1.0f);
	/* a training step moves it halfway (M = 0.5) to the batch's statistics */
	vk_batch_grad(&m, &w, m.grads, x, NULL, N, 1.0f, eps, 1.0f / N);
	cr_assert_eq(w.train, 0);
	const float *h = w.act_enc[0];
	double mean = 0, var = 0;
	for (int r0 = 0; r0 < N; r0++)
		mean += h[r0 * 5] / (double)N;
	for (int r0 = 0; r0 < N; r0++)
		var += (h[r0 * 5] - mean) * (h[r0 * 5] - mean) / (N - 1);
	cr_assert_float_eq(m.state[0], 0.5 * mean, 1e-5);
	cr_assert_float_eq(m.state[5], 0.5 + 0.5 * var, 1e-5);
	/* a record's code alone equals its code in the batch, bit for bit
	 * (dense layers of one row or eight give the same sums here) */
	float all[N * 4];
	memcpy(all, vk_encode(&m, &w, x, NULL, N), sizeof all);
	for (int r0 = 0; r0 < N; r0++)
		cr_assert_eq(memcmp(vk_encode(&m, &w, x + r0 * 6, NULL, 1), all + r0 * 4,
				    sizeof(float) * 4), 0, "record %d", r0);
	/* saved and read back */
	m.state[3] = 0.25f;
	const char *path = tmp_path("kinds-bn.vae");
	cr_assert_eq(vk_model_save(path, &m, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_model_load(path, &r, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(r.n_state, m.n_state);
	cr_assert_eq(memcmp(r.state, m.state, sizeof(float) * m.n_state), 0);
	vk_model_free(&r);
	/* a non-finite running statistic is refused on reading */
	m.state[3] = NAN;
	const char *bad = tmp_path("kinds-bn-nan.vae");
	cr_assert_eq(vk_model_save(bad, &m, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_model_load(bad, &r, NULL, NULL, &e), -1);
	cr_assert(strstr(e.msg, "layer state 3 is not finite"), "%s", e.msg);
	vk_work_free(&w);
	vk_model_free(&m);
}

/* ---- the programs ---- */

static const char *digits(void)
{
	static char path[512];
	if (!path[0]) {
		snprintf(path, sizeof path, "%s", tmp_path("kinds-digits.ts"));
		cr_assert_eq(run("idx2stream -n 300 %s %s > %s",
				 repo_path("examples/data/digits-test-images-idx3-ubyte.gz"),
				 repo_path("examples/data/digits-test-labels-idx1-ubyte.gz"), path), 0);
	}
	return path;
}

/* vae-train refuses these layer lists before any work: one line naming
 * the layer, exit 2 (a usage error) or 1 (a network whose shapes do not fit). */
static void refused(const char *opts, const char *frag)
{
	char err[2048];
	const char *out = tmp_path("kinds-refused.vae");
	int rc = run_err(err, sizeof err, "rm -f %s; vae-train -q -e 1 -o %s %s %s", out, out,
			 opts, digits());
	cr_assert(rc == 1 || rc == 2, "%s: exit %d: %s", opts, rc, err);
	cr_assert(!strncmp(err, "vae-train: ", 11), "%s: %s", opts, err);
	char *nl = strchr(err, '\n');
	cr_assert(nl && (nl[1] == 0 || !strncmp(nl + 1, "Try", 3)), "%s: %s", opts, err);
	cr_assert(strstr(err, frag), "%s: '%s' lacks '%s'", opts, err, frag);
	cr_assert_neq(run("test -e %s", out), 0, "%s left a model", opts);
}

Test(kinds_e2e, bad_layers_of_the_new_kinds)
{
	refused("--encoder upsample:0", "layer 'upsample:0': upsample takes one factor S, 1 to 8");
	refused("--encoder upsample:9", "1 to 8");
	refused("--encoder dense:32,upsample:2", "upsample:2/relu needs an image input");
	refused("--encoder res:0:3", "layer 'res:0:3': the filter count must be 1 to 4096");
	refused("--encoder res:8", "res takes FILTERS:KERNEL");
	refused("--encoder dense:32,res:4:3", "res:4:3/relu needs an image input");
	refused("--decoder dense:4x4x8,deconv:8:3:2:9x9",
		"deconv:8:3:2:9x9/relu: output 9x9 cannot be reached from its 4x4x8 input "
		"(sides 7 to 8 and 7 to 8)");
	refused("--decoder dense:4x4x8,deconv:8:3:2:7", "an output size is HxW");
	refused("--encoder batchnorm:0", "the momentum must be in (0, 1]");
	refused("--encoder batchnorm:0.1:2", "epsilon must be in (0, 1]");
	refused("--encoder batchnorm:0.1:0.1:3", "batchnorm takes at most MOMENTUM:EPSILON");
	refused("--encoder scale:x", "scale takes one finite number A");
	refused("--encoder batchnorm,dense:16",
		"encoder layer 1 (batchnorm/relu) must follow a dense or conv layer, not start "
		"the encoder");
	refused("--decoder batchnorm/identity,dense:64",
		"decoder layer 1 (batchnorm/identity) must follow a dense or conv layer");
	refused("--encoder conv:8:3:2/identity,batchnorm,batchnorm/identity,dense:16",
		"encoder layer 3 (batchnorm/identity) must follow a dense or conv layer, not layer 2 "
		"(batchnorm/relu)");
	refused("--encoder conv:8:3:2,res:4:3:bx", "layer 'res:4:3:bx': a res block's third field "
		"can only be 'bn'");
	refused("--encoder conv:8:3:2,res:4:3:bn:1", "res takes FILTERS:KERNEL or FILTERS:KERNEL:bn");
	refused("--encoder dense:32,res:4:3:bn", "res:4:3:bn/relu needs an image input");
	refused("--encoder conv:8:3:2,res:0:3:bn", "layer 'res:0:3:bn': the filter count must be 1 "
		"to 4096");
}

/* A network of every new kind trains, reads back and resumes bit-exactly
 * (the running statistics, a res block's own too, are in the checkpoint). */
Test(kinds_e2e, new_kinds_train_save_and_resume)
{
	const char *a = tmp_path("kinds-a.vae"), *b = tmp_path("kinds-b.vae");
	const char *net = "--encoder conv:8:3:2/identity,batchnorm,res:4:3:bn,conv:8:3:2,dense:16 "
			  "--decoder dense:4x4x8,deconv:8:3:2:7x7/identity,batchnorm,upsample:2,"
			  "res:4:3/relu,upsample:2 -z 3";
	cr_assert_eq(run("vae-train -q -t 1 -s 4 -e 2 -o %s %s %s", a, net, digits()), 0);
	cr_assert_eq(run("vae-train -q -t 1 -s 4 -e 1 -o %s %s %s", b, net, digits()), 0);
	cr_assert_eq(run("vae-train -q -t 1 -e 2 --resume -o %s %s 2>/dev/null", b, digits()), 0);
	cr_assert_eq(run("cmp -s %s %s", a, b), 0, "resumed model differs");
	char info[512];
	snprintf(info, sizeof info, "%s", tmp_path("kinds-info.txt"));
	cr_assert_eq(run("vae-info %s > %s", a, info), 0);
	cr_assert_eq(run("grep -q 'deconv:8:3:2:7x7 .*7x7x8' %s", info), 0);
	cr_assert_eq(run("grep -q 'res:4:3:bn .*14x14x8' %s", info), 0);
	cr_assert_eq(run("grep -q 'res:4:3 .*14x14x8' %s", info), 0);
	/* 16 + 16 for the two batchnorms, 8 + 16 for the two inside res:4:3:bn */
	cr_assert_eq(run("grep -q '^layer_state  *56 ' %s", info), 0);
	cr_assert_eq(run("vae-encode -m %s < %s | vae-decode -m %s > /dev/null", a, digits(), a),
		     0);
}

/* Batch norm's statistics (a res block's own too) are the whole batch's
 * however the batch is cut: 257 records in batches of 128 on 1, 2 and 3
 * threads (the last batch of one record leaves threads without rows) train
 * the same model up to float rounding. SGD: Adam would blow the rounding of the bias before a batch
 * norm, whose true gradient is exactly 0, up to steps of the learning rate. */
Test(kinds_e2e, batchnorm_statistics_over_the_whole_batch_on_any_thread_count)
{
	const char *data = tmp_path("kinds-257.ts");
	cr_assert_eq(run("stream-cat -n 257 %s > %s", digits(), data), 0);
	const char *net = "--encoder conv:8:3:2/identity,batchnorm,res:4:3:bn,dense:16/identity,"
			  "batchnorm:0.2/relu --decoder dense:14x14x8,batchnorm,deconv:4:3:2 -z 3";
	vk_model m[3];
	vk_error e;
	for (int t = 0; t < 3; t++) {
		char path[512];
		snprintf(path, sizeof path, "%s.%d", tmp_path("kinds-threads.vae"), t + 1);
		cr_assert_eq(run("vae-train -q -e 2 -s 5 --optimizer sgd -t %d -o %s %s %s", t + 1,
				 path, net, data), 0);
		cr_assert_eq(vk_model_load(path, &m[t], NULL, NULL, &e), 0, "%s", e.msg);
	}
	for (int t = 1; t < 3; t++) {
		double worst = 0;
		for (size_t i = 0; i < m[0].n_params; i++)
			worst = fmax(worst, fabs(m[t].params[i] - m[0].params[i]));
		for (size_t i = 0; i < m[0].n_state; i++)
			worst = fmax(worst, fabs(m[t].state[i] - m[0].state[i]));
		cr_assert_lt(worst, 1e-5, "%d threads: a parameter or statistic %g away", t + 1,
			     worst);
	}
	for (int t = 0; t < 3; t++)
		vk_model_free(&m[t]);
}
