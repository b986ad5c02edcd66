/* Convolutional models end to end: the real programs on the shipped digits
 * with small conv networks, one thread, so every run is quick and exact. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

#define IMAGES "examples/data/digits-train-images-idx3-ubyte.gz"
#define LABELS "examples/data/digits-train-labels-idx1-ubyte.gz"
#define TEST_IMAGES "examples/data/digits-test-images-idx3-ubyte.gz"
#define TEST_LABELS "examples/data/digits-test-labels-idx1-ubyte.gz"
/* A small conv VAE: 28x28 -> 14x14x8 -> 7x7x8 -> 16 -> z, and back. */
#define NET "--encoder conv:8:3:2,conv:8:3:2,dense:16 -z 2 -t 1 -q"

static char *tp(const char *name)
{
	static char paths[32][512];
	static int next;
	char *p = paths[next++ % 32];
	snprintf(p, sizeof paths[0], "%s", tmp_path(name));
	return p;
}

static const char *digits(const char *name, int n, int test_set)
{
	char *out = tp(name);
	cr_assert_eq(run("idx2stream -n %d %s %s > %s", n,
			 repo_path(test_set ? TEST_IMAGES : IMAGES),
			 repo_path(test_set ? TEST_LABELS : LABELS), out), 0);
	return out;
}

static void ok(const char *fmt_cmd)
{
	char err[2048];
	int rc = run_err(err, sizeof err, "%s", fmt_cmd);
	cr_assert_eq(rc, 0, "%s: %s", fmt_cmd, err);
}

static double last_test_nelbo(const char *log)
{
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "awk 'NR==2{a=$8} END{print a, $8}' %s", log);
	FILE *p = popen(cmd, "r");
	double first = NAN, last = NAN;
	cr_assert_eq(fscanf(p, "%lf %lf", &first, &last), 2);
	pclose(p);
	cr_assert(last < first - 5, "test -ELBO %g after epoch 1, %g at the end", first, last);
	return last;
}

Test(conv_models, training_improves_the_test_elbo, .timeout = 120)
{
	const char *train = digits("c-train.ts", 2000, 0), *test = digits("c-test.ts", 500, 1);
	const char *m = tp("c.vae"), *log = tp("c.log");
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "vae-train -q -t 2 -z 8 --encoder conv:16:3:2,conv:32:3:2,dense:64 "
		 "-e 5 --test %s --log %s -o %s %s", test, log, m, train);
	ok(cmd);
	double last = last_test_nelbo(log);
	cr_assert(last < 250, "test -ELBO %g after 5 epochs", last);
}

/* pythae's MNIST ResNet VAE: its layers and parameter count as
 * bench/pytorch_resnet.py prints them for latent 16, and it learns. */
Test(conv_models, arch_resnet_is_pythaes_and_learns, .timeout = 180)
{
	const char *train = digits("rn-train.ts", 1000, 0), *test = digits("rn-test.ts", 300, 1);
	const char *m = tp("rn.vae"), *log = tp("rn.log");
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "vae-train -q -t 2 -z 16 --arch resnet -e 3 --test %s --log %s "
		 "-o %s %s", test, log, m, train);
	ok(cmd);
	snprintf(cmd, sizeof cmd, "vae-info %s > %s.info && grep -q '^parameters  *766689$' %s.info "
		 "&& grep -q 'conv:128:3:2 .*4x4x128' %s.info && test $(grep -c res:32:3 %s.info) = 4 "
		 "&& grep -q 'deconv:128:3:2:7x7 .*7x7x128' %s.info "
		 "&& grep -q 'deconv:1:3:2:28x28 (output)' %s.info", m, m, m, m, m, m, m);
	ok(cmd);
	last_test_nelbo(log);
	/* read back and resumed bit-exactly, the stride-2 output layer too */
	const char *small = digits("rn-small.ts", 200, 0), *whole = tp("rn-whole.vae");
	const char *parts = tp("rn-parts.vae");
	snprintf(cmd, sizeof cmd, "vae-train -q -t 1 --arch resnet -z 4 -e 2 -o %s %s && "
		 "vae-train -q -t 1 --arch resnet -z 4 -e 1 -o %s %s && "
		 "vae-train -q --resume -t 1 -e 2 -o %s %s && cmp %s %s", whole, small, parts, small,
		 parts, small, whole, parts);
	ok(cmd);
}

Test(conv_models, every_program_takes_a_conv_model, .timeout = 120)
{
	const char *train = digits("p-train.ts", 600, 0), *m = tp("p.vae");
	char cmd[4096];
	snprintf(cmd, sizeof cmd, "vae-train %s -e 1 -o %s %s", NET, m, train);
	ok(cmd);
	const char *lat = tp("p-lat.ts"), *rec = tp("p-rec.ts");
	snprintf(cmd, sizeof cmd, "vae-encode -m %s %s > %s && vae-decode -m %s %s > %s && "
		 "test $(stream-info %s | grep -c 28x28) -ge 1", m, train, lat, m, lat, rec, rec);
	ok(cmd);
	snprintf(cmd, sizeof cmd, "vae-sample -m %s -n 5 --grid 4 | stream-info | grep -q 28x28", m);
	ok(cmd);
	snprintf(cmd, sizeof cmd, "vae-interp -m %s --from 0 --to 5 %s | png-grid -o %s", m, train,
		 tp("p-interp.png"));
	ok(cmd);
	snprintf(cmd, sizeof cmd, "kl-eval -m %s --iw 20 --table %s > %s", m, train, tp("p-kl.txt"));
	ok(cmd);
	snprintf(cmd, sizeof cmd, "latent-plot -o %s %s", tp("p-plot.png"), lat);
	ok(cmd);
	snprintf(cmd, sizeof cmd, "vae-info %s | grep -q 'conv:8:3:2'", m);
	ok(cmd);
	/* kl-eval --merge of two halves equals the whole run */
	const char *a = tp("p-a.ts"), *b = tp("p-b.ts");
	snprintf(cmd, sizeof cmd, "stream-cat -n 300 %s > %s && stream-cat --skip 300 %s > %s && "
		 "kl-eval -m %s --iw 5 %s > %s && kl-eval -m %s --iw 5 %s > %s && "
		 "kl-eval --merge %s %s > %s && kl-eval -m %s --iw 5 %s > %s && cmp %s %s",
		 train, a, train, b, m, a, tp("p-sa"), m, b, tp("p-sb"), tp("p-sa"), tp("p-sb"),
		 tp("p-merged"), m, train, tp("p-whole"), tp("p-merged"), tp("p-whole"));
	ok(cmd);
}

Test(conv_models, resume_is_bit_exact, .timeout = 120)
{
	const char *train = digits("r-train.ts", 600, 0);
	const char *whole = tp("r-whole.vae"), *parts = tp("r-parts.vae");
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "vae-train %s -e 2 -o %s %s && vae-train %s -e 1 -o %s %s && "
		 "vae-train -q --resume -e 2 -t 1 -o %s %s && cmp %s %s",
		 NET, whole, train, NET, parts, train, parts, train, whole, parts);
	ok(cmd);
}

Test(conv_models, cvae_samples_follow_their_labels, .timeout = 180)
{
	const char *train = digits("cv-train.ts", 8000, 0), *m = tp("cv.vae");
	const char *samples = tp("cv-samples.ts");
	char cmd[2048];
	snprintf(cmd, sizeof cmd, "vae-train -q -t 2 -m cvae -z 2 -e 3 --encoder "
		 "conv:16:3:2,conv:32:3:2,dense:32 -o %s %s && "
		 "vae-sample -m %s --each-label -n 30 --seed 9 -o %s", m, train, m, samples);
	ok(cmd);
	int total, right = class_mean_hits(train, samples, 30, &total);
	cr_assert(right >= 0);
	cr_assert_eq(total, 300);
	double acc = (double)right / total;
	fprintf(stderr, "conv_models: conv cvae samples, nearest-class-mean accuracy %.1f%%\n",
		100 * acc);
	cr_assert(acc >= 0.5, "accuracy %.3f, chance is 0.1", acc);
}

/* vae-train refuses before any work: status 1 or 2, one line naming the problem. */
static void refused(int status, const char *opts, const char *data, const char *frag)
{
	char err[2048];
	const char *out = tp("bad.vae");
	int rc = run_err(err, sizeof err, "rm -f %s; vae-train -q -e 1 -o %s %s %s", out, out,
			 opts, data);
	cr_assert_eq(rc, status, "%s: exit %d: %s", opts, rc, err);
	cr_assert(strstr(err, frag), "%s: '%s' lacks '%s'", opts, err, frag);
	cr_assert(!strncmp(err, "vae-train: ", 11), "%s", err);
	cr_assert_neq(run("test -e %s", out), 0, "%s left a model", opts);
}

Test(conv_models, bad_input)
{
	const char *img = digits("b.ts", 50, 0), *flat = tp("b-flat.ts"), *odd = tp("b-odd.ts");
	cr_assert_eq(run("stream2txt %s | txt2stream -l -t u8 > %s", img, flat), 0);
	cr_assert_eq(run("stream2txt %s | cut -f1-730 | txt2stream -l -t u8 -s 27x27 > %s", img,
			 odd), 0);
	refused(1, "--encoder conv:8:3:2", flat, "needs an image input, not a flat vector of 784");
	refused(2, "--encoder conv:8:31:1", img, "kernel size must be 1 to 15");
	refused(1, "--encoder conv:8:15:1,conv:8:15:8,conv:8:15:8", img, "larger than its");
	refused(2, "--encoder conv:8:3:0", img, "stride");
	refused(2, "--encoder conv:0:3:2", img, "filter count");
	refused(1, "--encoder conv:8:3:2 --decoder dense:7x7x8,deconv:4:3:1", img,
		"ends at 7x7x4, but the input is 28x28x1");
	refused(1, "--arch conv", odd, "divisible by 4");
	refused(1, "--arch resnet", flat, "--arch resnet needs images of at least 8x8");
	/* A conv model fed a flat stream, in vae-encode and kl-eval. */
	const char *m = tp("b.vae");
	char err[1024];
	cr_assert_eq(run("vae-train %s -e 1 -o %s %s", NET, m, img), 0);
	cr_assert_eq(run_err(err, sizeof err, "vae-encode -m %s %s > /dev/null", m, flat), 1);
	cr_assert(strstr(err, "needs images of exactly 28x28x1"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "kl-eval -m %s %s > /dev/null", m, flat), 1);
	cr_assert(strstr(err, "needs images of exactly 28x28x1"), "%s", err);
}
