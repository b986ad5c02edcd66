/* Layer lists: the text form, the shape rule, the mirror, models built from
 * lists, vae-train's --encoder/--decoder/--arch, model format 1.0 files,
 * vae-info, the one input-fit rule and the one evaluation path. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "nn.h"
#include "modelfile.h"
#include "testutil.h"

static int parse(const char *text, vk_layer_spec *s, int *n, vk_error *e)
{
	return vk_layers_parse(text, VK_RELU, s, VK_MAX_LAYERS, n, e);
}

Test(layers, parse_every_kind)
{
	vk_layer_spec s[VK_MAX_LAYERS];
	int n;
	vk_error e;
	cr_assert_eq(parse("conv:32:3:2,conv:64:5:1/leaky,dense:16/tanh,dense:7x7x64,"
			   "deconv:1:3:2/identity", s, &n, &e), 0, "%s", e.msg);
	cr_assert_eq(n, 5);
	cr_assert_str_eq(vk_layer_kind_name(s[0].kind), "conv");
	cr_assert_eq(s[0].units, 32);
	cr_assert_eq(s[0].k, 3);
	cr_assert_eq(s[0].s, 2);
	cr_assert_eq(s[0].act, VK_RELU); /* the default */
	cr_assert_eq(s[1].act, VK_LEAKY);
	cr_assert_eq(s[1].k, 5);
	cr_assert_str_eq(vk_layer_kind_name(s[2].kind), "dense");
	cr_assert_eq(s[2].units, 16);
	cr_assert_eq(s[2].act, VK_TANH);
	cr_assert_eq(s[3].units, 7 * 7 * 64);
	cr_assert_eq(s[3].reshape.h, 7);
	cr_assert_eq(s[3].reshape.c, 64);
	cr_assert_str_eq(vk_layer_kind_name(s[4].kind), "deconv");
	cr_assert_eq(s[4].act, VK_IDENTITY);
	char buf[64];
	cr_assert_str_eq(vk_layer_spec_str(&s[3], buf, sizeof buf), "dense:7x7x64/relu");
	cr_assert_str_eq(vk_layer_spec_str(&s[1], buf, sizeof buf), "conv:64:5:1/leaky");
}

/* Each bad list is refused with a message holding the fragment. */
static void refused(const char *text, const char *frag)
{
	vk_layer_spec s[VK_MAX_LAYERS];
	int n;
	vk_error e;
	cr_assert_eq(parse(text, s, &n, &e), -1, "'%s' accepted", text);
	cr_assert(strstr(e.msg, frag), "'%s': '%s' lacks '%s'", text, e.msg, frag);
	cr_assert_null(strchr(e.msg, '\n'));
}

Test(layers, bad_lists_refused)
{
	refused("dense:0", "width must be 1 to");
	refused("dense:99999999", "width must be 1 to");
	refused("dense:7x7", "HxWxC");
	refused("dense:7x7x0", "HxWxC");
	refused("dense:300x300x3", "outputs");
	refused("dense:", "width");
	refused("dense", "one argument");
	refused("dense:12/swish", "unknown activation 'swish'");
	refused("pool:2", "unknown kind 'pool'");
	refused("conv:32:3", "FILTERS:KERNEL:STRIDE");
	refused("conv:0:3:2", "filter count");
	refused("conv:32:0:2", "kernel size");
	refused("conv:32:3:0", "stride");
	refused("deconv:32:99:1", "kernel size");
	refused("dense:10,,dense:5", "empty layer");
	refused("", "empty");
	refused("dense:1,dense:1,dense:1,dense:1,dense:1,dense:1,dense:1,dense:1,dense:1,dense:1,"
		"dense:1,dense:1,dense:1,dense:1,dense:1,dense:1,dense:1", "too many layers");
}

Test(layers, shapes)
{
	vk_layer_spec s[4];
	int n;
	vk_error e;
	vk_shape out;
	char buf[48];
	cr_assert_eq(parse("conv:32:3:2,deconv:8:3:2,dense:10,conv:4:5:1", s, &n, &e), 0);
	cr_assert_eq(vk_layer_out_shape(&s[0], (vk_shape){28, 28, 1}, &out, &e), 0);
	cr_assert_str_eq(vk_shape_str(out, buf, sizeof buf), "14x14x32");
	cr_assert_eq(vk_layer_out_shape(&s[0], (vk_shape){7, 5, 3}, &out, &e), 0);
	cr_assert_str_eq(vk_shape_str(out, buf, sizeof buf), "4x3x32"); /* ⌈7/2⌉×⌈5/2⌉ */
	cr_assert_eq(vk_layer_out_shape(&s[1], (vk_shape){7, 7, 64}, &out, &e), 0);
	cr_assert_str_eq(vk_shape_str(out, buf, sizeof buf), "14x14x8");
	cr_assert_eq(vk_layer_out_shape(&s[2], (vk_shape){7, 7, 64}, &out, &e), 0);
	cr_assert_str_eq(vk_shape_str(out, buf, sizeof buf), "10"); /* dense flattens */
	/* A conv on a flat vector, a kernel larger than its input. */
	cr_assert_eq(vk_layer_out_shape(&s[0], (vk_shape){0, 0, 784}, &out, &e), -1);
	cr_assert(strstr(e.msg, "needs an image input"), "%s", e.msg);
	cr_assert_eq(vk_layer_out_shape(&s[3], (vk_shape){2, 2, 1}, &out, &e), -1);
	cr_assert(strstr(e.msg, "larger than its 2x2x1 input"), "%s", e.msg);
}

Test(layers, mirror_of_the_keras_encoder)
{
	vk_layer_spec enc[4], dec[VK_MAX_LAYERS];
	int n, m;
	vk_error e;
	char buf[64], all[512] = "";
	cr_assert_eq(parse("conv:32:3:2,conv:64:3:2,dense:16", enc, &n, &e), 0);
	cr_assert_eq(vk_layers_mirror(enc, n, (vk_shape){28, 28, 1}, dec, &m, &e), 0, "%s", e.msg);
	for (int i = 0; i < m; i++)
		snprintf(all + strlen(all), sizeof all - strlen(all), "%s%s", i ? "," : "",
			 vk_layer_spec_str(&dec[i], buf, sizeof buf));
	cr_assert_str_eq(all, "dense:16/relu,dense:7x7x64/relu,deconv:64:3:2/relu,"
			      "deconv:32:3:2/relu");
	/* An MLP mirrors to its widths reversed. */
	cr_assert_eq(parse("dense:512,dense:256/tanh", enc, &n, &e), 0);
	cr_assert_eq(vk_layers_mirror(enc, n, (vk_shape){28, 28, 1}, dec, &m, &e), 0);
	cr_assert_eq(m, 2);
	cr_assert_eq(dec[0].units, 256);
	cr_assert_eq(dec[0].act, VK_TANH);
	cr_assert_eq(dec[1].units, 512);
}

static vk_arch arch_of(const char *enc, const char *dec, int h, int w, int c)
{
	vk_arch a = {.kind = VK_VAE, .input_rank = 3, .input_dims = {h, w, c},
		     .input_size = h * w * c, .latent = 2, .likelihood = VK_BERNOULLI};
	vk_error e;
	cr_assert_eq(parse(enc, a.enc, &a.n_enc, &e), 0, "%s", e.msg);
	cr_assert_eq(parse(dec, a.dec, &a.n_dec, &e), 0, "%s", e.msg);
	return a;
}

Test(layers, model_shapes_checked_when_built)
{
	vk_model m;
	vk_error e;
	vk_arch a = arch_of("dense:30", "dense:7x7x1", 28, 28, 1);
	cr_assert_eq(vk_model_alloc(&m, &a, &e), -1);
	cr_assert(strstr(e.msg, "decoder layer 1 (dense:7x7x1/relu) ends at 7x7x1, but the input "
				"is 28x28x1"), "%s", e.msg);
	a = arch_of("dense:30", "dense:20,dense:10", 28, 28, 1);
	cr_assert_eq(vk_model_alloc(&m, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(m.n_enc, 2);
	cr_assert_eq(m.n_dec, 3);
	cr_assert_eq(m.enc[1].n_out, 4);           /* the head: μ and log σ² */
	cr_assert_eq(m.dec[2].out.h, 28);          /* the output takes the input's shape */
	cr_assert_eq(m.n_params, (size_t)(784 * 30 + 30) + (30 * 4 + 4) + (2 * 20 + 20) +
				     (20 * 10 + 10) + (10 * 784 + 784));
	vk_model_free(&m);
	/* A cvae's label joins the first dense layer and z. */
	a = arch_of("dense:30", "dense:20", 28, 28, 1);
	a.kind = VK_CVAE;
	a.classes = 10;
	cr_assert_eq(vk_model_alloc(&m, &a, &e), 0, "%s", e.msg);
	cr_assert_eq(m.enc[0].label_in, 10);
	cr_assert_eq(m.enc[0].n_in, 794);
	cr_assert_eq(m.dec[0].n_in, 12);
	vk_model_free(&m);
}

/* ---- the programs ---- */

static const char *digits(void)
{
	static char path[512];
	if (!path[0]) {
		snprintf(path, sizeof path, "%s", tmp_path("layers-digits.ts"));
		cr_assert_eq(run("idx2stream -n 600 %s %s > %s",
				 repo_path("examples/data/digits-test-images-idx3-ubyte.gz"),
				 repo_path("examples/data/digits-test-labels-idx1-ubyte.gz"), path), 0);
	}
	return path;
}

/* vae-train with these options must fail before any work: exit status and
 * a one-line message (plus "Try" for usage errors) holding frag. */
static void train_refused(int status, const char *opts, const char *frag)
{
	char err[2048];
	const char *out = tmp_path("refused.vae");
	int rc = run_err(err, sizeof err, "rm -f %s; vae-train -q -e 1 -o %s %s %s", out, out,
			 opts, digits());
	cr_assert_eq(rc, status, "%s: exit %d: %s", opts, rc, err);
	cr_assert(!strncmp(err, "vae-train: ", 11), "%s: %s", opts, err);
	cr_assert(strstr(err, frag), "%s: '%s' lacks '%s'", opts, err, frag);
	char *nl = strchr(err, '\n');
	cr_assert(nl && (nl[1] == 0 || !strncmp(nl + 1, "Try", 3)), "%s: %s", opts, err);
	cr_assert_neq(run("test -e %s", out), 0, "%s left a model", opts);
}

Test(layers_e2e, bad_layer_options)
{
	train_refused(2, "--encoder pool:3", "unknown kind 'pool'");
	train_refused(2, "--encoder dense:0", "--encoder: layer 'dense:0'");
	train_refused(2, "--encoder dense:99999999", "width must be");
	train_refused(2, "--encoder dense:7x7", "HxWxC");
	train_refused(2, "--encoder dense:64/swish", "unknown activation");
	train_refused(2, "--decoder dense:64/swish", "--decoder:");
	train_refused(2, "--encoder dense:64 --hidden 400", "--encoder and --hidden");
	train_refused(2, "--arch conv --encoder dense:64", "names a whole network");
	train_refused(2, "--arch resnet50", "not mlp, conv or resnet");
	train_refused(2, "--encoder conv:32:3:0", "stride");
	train_refused(1, "--decoder dense:7x7x1", "ends at 7x7x1, but the input is 28x28x1");
	train_refused(1, "--encoder conv:8:3:2 --decoder dense:7x7x1,deconv:1:3:3",
		      "ends at 21x21x1, but the input is 28x28x1");
}

Test(layers_e2e, hidden_is_shorthand_for_encoder)
{
	const char *a = tmp_path("short-a.vae"), *b = tmp_path("short-b.vae");
	cr_assert_eq(run("vae-train -q -e 1 -t 1 -z 3 --hidden 32,16 -o %s %s", a, digits()), 0);
	cr_assert_eq(run("vae-train -q -e 1 -t 1 -z 3 --encoder dense:32,dense:16 "
			 "--decoder dense:16,dense:32 -o %s %s", b, digits()), 0);
	cr_assert_eq(run("cmp -s %s %s", a, b), 0, "--hidden and the spelled-out lists differ");
	/* --arch mlp is the default network */
	cr_assert_eq(run("vae-train -q -e 1 -t 1 -z 3 --arch mlp -o %s %s", a, digits()), 0);
	cr_assert_eq(run("vae-train -q -e 1 -t 1 -z 3 -o %s %s", b, digits()), 0);
	cr_assert_eq(run("cmp -s %s %s", a, b), 0);
}

Test(layers_e2e, format_1_0_files_still_give_the_same_encodings)
{
	const char *got = tmp_path("v1-enc.txt"), *test = tmp_path("v1-test.ts");
	cr_assert_eq(run("idx2stream -n 5 %s %s > %s",
			 repo_path("examples/data/digits-test-images-idx3-ubyte.gz"),
			 repo_path("examples/data/digits-test-labels-idx1-ubyte.gz"), test), 0);
	cr_assert_eq(run("vae-encode -m %s %s | stream2txt > %s", repo_path("tests/data/v1-vae.vae"),
			 test, got), 0);
	cr_assert_eq(run("cmp -s %s %s", got, repo_path("tests/data/v1-vae.encodings.txt")), 0,
		     "a 1.0 model encodes differently");
	/* Re-saved by training on, it is written as 3.0 and still loads. */
	const char *v2 = tmp_path("v1-resaved.vae");
	cr_assert_eq(run("cp %s %s && vae-train -q --resume -e 2 -t 1 -o %s %s",
			 repo_path("tests/data/v1-vae.vae"), v2, v2, test), 0);
	cr_assert_eq(run("od -An -tu2 -j8 -N2 %s | grep -qw 3", v2), 0, "not written as 3.0");
	cr_assert_eq(run("vae-encode -m %s %s > /dev/null", v2, test), 0);
}

/* tests/data/v2.0-cvae.vae was written by the release before format 2.1, whose
 * CVAEs saw a one-hot of 1 (not √C): it must decode exactly as that release
 * decoded it (v2.0-cvae.decoded.txt, from its vae-encode | vae-decode), and
 * stay so when trained on. */
Test(layers_e2e, format_2_0_cvae_keeps_its_one_hot)
{
	const char *data = tmp_path("v20.ts"), *got = tmp_path("v20-dec.txt");
	const char *m = repo_path("tests/data/v2.0-cvae.vae");
	cr_assert_eq(run("txt2stream -l -o %s %s", data, repo_path("tests/data/v2.0-cvae.txt")), 0);
	cr_assert_eq(run("vae-encode -m %s %s | vae-decode -m %s | stream2txt > %s", m, data, m,
			 got), 0);
	cr_assert_eq(run("cmp -s %s %s", got, repo_path("tests/data/v2.0-cvae.decoded.txt")), 0,
		     "a 2.0 cvae decodes differently");
	const char *again = tmp_path("v20-resaved.vae");
	cr_assert_eq(run("cp %s %s && vae-train -q --resume -e 4 -t 1 -o %s %s", m, again, again,
			 data), 0);
	cr_assert_eq(run("vae-info --tsv %s | grep -q 'label_value.1 (a model before'", again), 0,
		     "the one-hot scale changed when trained on");
	/* A new cvae has the scale. */
	const char *fresh = tmp_path("v21.vae");
	cr_assert_eq(run("vae-train -q -m cvae --hidden 8 -z 2 -e 1 -t 1 -o %s %s", fresh, data), 0);
	cr_assert_eq(run("od -An -tu2 -j8 -N4 %s | grep -q '3 *0$'", fresh), 0, "not 3.0");
	cr_assert_eq(run("vae-info --tsv %s | grep -q 'label_value.*(sqrt of the classes)'", fresh), 0,
		     "no scale");
}

/* tests/data/v2.1-vae.vae was written by the release before format 3.0 (a
 * conv and dense encoder, a learned Gaussian σ): this build must encode,
 * decode and sample from it exactly as that release did, describe it with
 * every fact that release's vae-info gave, and so for the 1.0 and 2.0
 * fixtures; a 3.0 copy of it does the same. */
Test(layers_e2e, format_2_1_and_older_files_give_the_same_outputs)
{
	const char *test = tmp_path("v21-test.ts"), *got = tmp_path("v21-got.txt");
	const char *m = repo_path("tests/data/v2.1-vae.vae"), *v3 = tmp_path("v21-as-v3.vae");
	cr_assert_eq(run("idx2stream -n 3 %s > %s",
			 repo_path("examples/data/digits-test-images-idx3-ubyte.gz"), test), 0);
	vk_model mm;
	vk_trainrec rec;
	vk_optstate opt;
	vk_error e;
	cr_assert_eq(vk_model_load(m, &mm, &rec, &opt, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_model_save(v3, &mm, &rec, &opt, &e), 0, "%s", e.msg);
	vk_model_free(&mm);
	free(opt.m);
	free(opt.v);
	cr_assert_eq(run("od -An -tu2 -j8 -N2 %s | grep -qw 3", v3), 0, "not written as 3.0");
	for (int k = 0; k < 2; k++) {
		const char *model = k ? v3 : m;
		cr_assert_eq(run("vae-encode -m %s %s | stream2txt > %s", model, test, got), 0);
		cr_assert_eq(run("cmp -s %s %s", got, repo_path("tests/data/v2.1-vae.encodings.txt")),
			     0, "%s encodes differently", model);
		cr_assert_eq(run("vae-encode -m %s %s | vae-decode -m %s | stream2txt > %s", model,
				 test, model, got), 0);
		cr_assert_eq(run("cmp -s %s %s", got, repo_path("tests/data/v2.1-vae.decoded.txt")),
			     0, "%s decodes differently", model);
		cr_assert_eq(run("vae-sample -m %s -n 2 -s 3 | stream2txt > %s", model, got), 0);
		cr_assert_eq(run("cmp -s %s %s", got, repo_path("tests/data/v2.1-vae.samples.txt")),
			     0, "%s samples differently", model);
	}
	static const char *const fixtures[] = {"v1-vae", "v2.0-cvae", "v2.1-vae"};
	for (int i = 0; i < 3; i++) {
		char facts[256];
		snprintf(facts, sizeof facts, "tests/data/%s.info.tsv", fixtures[i]);
		cr_assert_eq(run("vae-info --tsv %s/tests/data/%s.vae | cut -f2- | grep -v '^identity' "
				 "| cmp -s - %s", repo_path("."), fixtures[i], repo_path(facts)), 0,
			     "vae-info describes %s differently", fixtures[i]);
	}
}

Test(layers_e2e, vae_info_describes_the_network)
{
	const char *m = tmp_path("info.vae"), *out = tmp_path("info.txt");
	cr_assert_eq(run("vae-train -q -e 1 -t 1 -z 3 -m cvae --encoder dense:32/tanh -o %s %s", m,
			 digits()), 0);
	cr_assert_eq(run("vae-info --tsv %s > %s", m, out), 0);
	size_t len;
	char *t = (char *)slurp(out, &len);
	char want[2048];
	const char *rows[] = {
		"\tkind\tcvae\n", "\tinput\t28x28x1 (784 values)\n", "\tlatent\t3\n",
		"\tclasses\t10\n", "\tlabel_value\t3.16228 (sqrt of the classes)\n",
		"\tencoder.1\tdense:32+label\t32\ttanh\t25440\n", /* (784+10)·32 + 32 */
		"\tencoder.2\tdense:6 head\t6\tidentity\t198\n",
		"\tdecoder.1\tdense:32\t32\ttanh\t448\n",          /* (3+10)·32 + 32 */
		"\tdecoder.2\tdense:28x28x1 output\t28x28x1\tidentity\t25872\n",
		"\tparameters\t51958\n", "\tepochs\t1\n", "\toptimizer\tadam\n",
		"\toptimizer_state\tpresent (step 5)\n"};
	for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
		snprintf(want, sizeof want, "%s%s", m, rows[i]);
		cr_assert(strstr(t, want), "vae-info lacks '%s' in:\n%s", want, t);
	}
	free(t);
	/* A file that is not a model: one line, exit 1, the others still shown. */
	char err[1024];
	cr_assert_eq(run_err(err, sizeof err, "vae-info %s %s %s > /dev/null", m, digits(), m), 1);
	cr_assert(strstr(err, "not a vaekit model"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "vae-info > /dev/null"), 2);
}

Test(layers_e2e, one_fit_rule_in_every_program)
{
	/* A flat stream of 784 values fits a 28x28 dense model in every program. */
	const char *m = tmp_path("fit.vae"), *flat = tmp_path("flat.ts");
	cr_assert_eq(run("vae-train -q -e 1 -t 1 -z 2 --hidden 16 -o %s %s", m, digits()), 0);
	cr_assert_eq(run("stream2txt %s | txt2stream -l -t u8 > %s", digits(), flat), 0);
	cr_assert_eq(run("vae-encode -m %s %s > /dev/null", m, flat), 0);
	cr_assert_eq(run("kl-eval -m %s %s > /dev/null", m, flat), 0);
	cr_assert_eq(run("vae-interp -m %s --from 0 --to 3 %s > /dev/null", m, flat), 0);
	cr_assert_eq(run("vae-train -q --resume -e 2 -t 1 -o %s %s", m, flat), 0);
	/* ...and a stream of another size in none. */
	const char *three = tmp_path("three.ts");
	char err[1024];
	cr_assert_eq(run("echo '1 2 3' | txt2stream > %s", three), 0);
	const char *cmds[] = {"vae-encode -m %s %s", "kl-eval -m %s %s", "vae-interp -m %s %s",
			      "vae-train -q --resume -e 3 -o %s %s"};
	for (size_t i = 0; i < 4; i++) {
		char cmd[1024];
		snprintf(cmd, sizeof cmd, cmds[i], m, three);
		cr_assert_eq(run_err(err, sizeof err, "%s > /dev/null", cmd), 1, "%s", cmd);
		cr_assert(strstr(err, "records of shape 3 (3 values) do not match the model's "
				      "input, 28x28x1 (784 values)"), "%s: %s", cmd, err);
	}
}

Test(layers_e2e, vae_train_test_and_kl_eval_agree)
{
	const char *m = tmp_path("agree.vae"), *log = tmp_path("agree.log");
	cr_assert_eq(run("vae-train -q -e 2 -t 1 -z 4 --hidden 32 -s 7 --test %s --log %s -o %s %s",
			 digits(), log, m, digits()), 0);
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "tail -1 %s | cut -f8", log);
	FILE *p = popen(cmd, "r");
	double train_nelbo = 0, eval_nelbo = 0;
	cr_assert_eq(fscanf(p, "%lf", &train_nelbo), 1);
	pclose(p);
	snprintf(cmd, sizeof cmd, "kl-eval --seed 7 -m %s %s | awk -F'\\t' '$3==\"all\"{print $7}'",
		 m, digits());
	p = popen(cmd, "r");
	cr_assert_eq(fscanf(p, "%lf", &eval_nelbo), 1);
	pclose(p);
	/* The same noise; only batch-dependent BLAS rounding may differ. */
	cr_assert(fabs(train_nelbo - eval_nelbo) < 1e-3 * fabs(eval_nelbo), "vae-train %.4f, "
		  "kl-eval %.4f", train_nelbo, eval_nelbo);
	/* Another seed gives other noise: the agreement is not an accident. */
	snprintf(cmd, sizeof cmd, "kl-eval --seed 8 -m %s %s | awk -F'\\t' '$3==\"all\"{print $7}'",
		 m, digits());
	p = popen(cmd, "r");
	double other = 0;
	cr_assert_eq(fscanf(p, "%lf", &other), 1);
	pclose(p);
	cr_assert(fabs(other - eval_nelbo) > 1e-4, "seeds 7 and 8 agree: %.6f", other);
}

Test(layers_e2e, class_names_reach_the_model_programs)
{
	/* Two folders of digits: img2stream names the classes, vae-train keeps
	 * them, vae-sample --label takes a name and writes them on. */
	char dir[512], ts[512], m[512], out[512], err[1024];
	snprintf(dir, sizeof dir, "%s", tmp_path("named"));
	snprintf(ts, sizeof ts, "%s", tmp_path("named.ts"));
	snprintf(m, sizeof m, "%s", tmp_path("named.vae"));
	snprintf(out, sizeof out, "%s", tmp_path("named-info.txt"));
	cr_assert_eq(run("mkdir -p %s/cat %s/dog && for i in 1 2 3 4; do "
			 "stream-cat -s $i -n 1 %s | stream2img -o %s/cat/$i.png && "
			 "stream-cat -s $((i + 9)) -n 1 %s | stream2img -o %s/dog/$i.png; done",
			 dir, dir, digits(), dir, digits(), dir), 0);
	cr_assert_eq(run("img2stream %s > %s && vae-train -q -t 1 -m cvae -e 1 -z 2 --hidden 8 "
			 "-o %s %s", dir, ts, m, ts), 0);
	cr_assert_eq(run("vae-sample -m %s --label dog -n 3 | stream-info > %s", m, out), 0);
	cr_assert_eq(run("grep -q 'class.1 *dog' %s && grep -q 'label.1 *3' %s", out, out), 0,
		     "samples of 'dog' are not labelled 1 with the names kept");
	/* the name and the number give the very same samples */
	cr_assert_eq(run("vae-sample -m %s --label 1 -n 3 > %s.a && vae-sample -m %s --label dog "
			 "-n 3 > %s.b && cmp -s %s.a %s.b", m, out, m, out, out, out), 0);
	cr_assert_eq(run_err(err, sizeof err, "vae-sample -m %s --label cow -n 1 > /dev/null", m), 1);
	cr_assert(strstr(err, "'cow' is not a class name"), "%s", err);
	cr_assert_eq(run("vae-info --tsv %s | grep -q 'data.class.1\tdog'", m), 0);
	cr_assert_eq(run("vae-info --tsv %s | grep -q 'classes\t2 (cat, dog)'", m), 0);
}
