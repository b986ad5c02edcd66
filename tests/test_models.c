/* vae-train, vae-encode, vae-decode and vae-sample end to end: the real
 * programs on a few hundred shipped digits, with small models and one BLAS
 * thread, so that every run is fast and reproducible bit for bit. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "modelfile.h"
#include "stream.h"
#include "testutil.h"

#define TRAIN_IMAGES "examples/data/digits-train-images-idx3-ubyte.gz"
#define TRAIN_LABELS "examples/data/digits-train-labels-idx1-ubyte.gz"
#define TEST_IMAGES "examples/data/digits-test-images-idx3-ubyte.gz"
#define TEST_LABELS "examples/data/digits-test-labels-idx1-ubyte.gz"
#define PIXELS 784
#define SMALL "--hidden 32 -z 4 -e 2 -t 1 -q" /* a quick model for the plumbing tests */

/* tmp_path's buffers are reused; keep our own copy. */
/* A temporary path that outlives tmp_path's small ring (a test holds many). */
static char *tp(const char *name)
{
	static char paths[64][512];
	static int next;
	char *p = paths[next++ % 64];
	snprintf(p, sizeof paths[0], "%s", tmp_path(name));
	return p;
}

/* The first n shipped digits (training or test set) with labels, through
 * idx2stream with opts. */
static char *digits(const char *name, int n, int test_set, const char *opts)
{
	char *out = tp(name), err[1024];
	int rc = run_err(err, sizeof err, "idx2stream %s -n %d %s %s > %s", opts, n,
			 repo_path(test_set ? TEST_IMAGES : TRAIN_IMAGES),
			 repo_path(test_set ? TEST_LABELS : TRAIN_LABELS), out);
	cr_assert_eq(rc, 0, "idx2stream: %s", err);
	return out;
}

static char *train(const char *name, const char *opts, const char *data)
{
	char *model = tp(name), err[2048];
	int rc = run_err(err, sizeof err, "vae-train -o %s %s %s", model, opts, data);
	cr_assert_eq(rc, 0, "vae-train %s: %s", opts, err);
	return model;
}

/* Run a command that must succeed. */
static void ok(const char *cmd)
{
	char err[2048];
	int rc = run_err(err, sizeof err, "%s", cmd);
	cr_assert_eq(rc, 0, "%s: %s", cmd, err);
}

/* A command that must fail with status 1 and one line on stderr naming the
 * program and containing want. */
static void fails(const char *cmd, const char *prog, const char *want)
{
	char err[2048];
	int rc = run_err(err, sizeof err, "%s", cmd);
	cr_assert_eq(rc, 1, "%s: status %d: %s", cmd, rc, err);
	cr_assert_eq(strncmp(err, prog, strlen(prog)), 0, "starts with %s: %s", prog, err);
	cr_assert(strstr(err, want), "want '%s' in: %s", want, err);
	cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "one line: %s", err);
}

static int same_file(const char *a, const char *b) { return run("cmp -s %s %s", a, b) == 0; }

static void open_stream(ts_reader *r, const char *path)
{
	vk_error e;
	cr_assert_eq(ts_reader_open(r, path, &e), 0, "%s", e.msg);
}

/* A whole stream as floats (malloc'd), with its header and labels. */
static float *read_all(const char *path, ts_header *h, size_t *n, int32_t **labels)
{
	ts_reader r;
	vk_error e;
	open_stream(&r, path);
	*h = r.h;
	size_t dim = ts_elems(&r.h), cap = 64;
	float *x = malloc(sizeof(float) * cap * dim);
	int32_t *lab = malloc(sizeof(int32_t) * cap);
	int rc;
	*n = 0;
	while ((rc = ts_read_f32(&r, x + *n * dim, lab + *n, &e)) == 1)
		if (++*n == cap) {
			cap *= 2;
			x = realloc(x, sizeof(float) * cap * dim);
			lab = realloc(lab, sizeof(int32_t) * cap);
		}
	cr_assert_eq(rc, 0, "%s", e.msg);
	ts_reader_close(&r);
	if (labels)
		*labels = lab;
	else
		free(lab);
	return x;
}

/* The number of records in a stream, and its header. */
static size_t records(const char *path, ts_header *h)
{
	size_t n;
	free(read_all(path, h, &n, NULL));
	return n;
}

static char *meta(const ts_header *h, const char *key)
{
	static char buf[4][256];
	static int next;
	char *b = buf[next++ % 4];
	return ts_meta_get(h, key, b, 256) ? b : NULL;
}

/* Records of the f32 stream path (rank 1, width values each), written with the
 * library because txt2stream rightly refuses NaN and infinity. */
static char *write_vectors(const char *name, const float *v, int n, int width)
{
	char *path = tp(name);
	ts_header h;
	ts_writer w;
	vk_error e;
	uint32_t dims[1] = {(uint32_t)width};
	cr_assert_eq(ts_header_init(&h, TS_F32, 1, dims, &e), 0, "%s", e.msg);
	cr_assert_eq(ts_writer_open(&w, path, &h, &e), 0, "%s", e.msg);
	for (int i = 0; i < n; i++)
		cr_assert_eq(ts_write(&w, v + (size_t)i * width, TS_NO_LABEL, &e), 0, "%s", e.msg);
	cr_assert_eq(ts_writer_close(&w, &e), 0, "%s", e.msg);
	return path;
}

/* vae-train --log: rows of 17 numbers (nan allowed) after the header line;
 * the first 8 land in rows (beta, lr, sigma, mmd, mi, tc, dim_kl, perplexity and dead codes
 * follow them). */
static int read_log(const char *path, double rows[][8], int max)
{
	size_t len;
	char *text = (char *)slurp(path, &len);
	cr_assert(text, "no log %s", path);
	text = realloc(text, len + 1);
	text[len] = 0;
	cr_assert_eq(strncmp(text, "epoch\tseconds\ttrain_rec\ttrain_kl\ttrain_nelbo\ttest_rec\t"
				   "test_kl\ttest_nelbo\tbeta\tlr\tsigma\tmmd\tmi\ttc\tdim_kl\tperplexity\tdead_codes\n",
		     126), 0, "log header: %.130s",
		     text);
	int n = 0;
	for (char *line = strchr(text, '\n') + 1; *line && n < max; n++) {
		char *p = line;
		for (int j = 0; j < 17; j++) {
			char *end;
			double v = strtod(p, &end);
			if (j < 8)
				rows[n][j] = v;
			cr_assert(end != p, "log row %d column %d: %s", n + 1, j + 1, line);
			p = end;
		}
		cr_assert_eq(*p, '\n', "17 columns in row %d", n + 1);
		line = p + 1;
	}
	free(text);
	return n;
}

/* Train on the first n_train digits with opts, testing on the first n_test
 * test digits; the log's rows land in rows. Returns the model's path. */
static char *train_logged(const char *opts, int n_train, int n_test, double rows[][8],
			  int max, int want_rows)
{
	char *train_ts = digits("train.ts", n_train, 0, "");
	char *test_ts = digits("test.ts", n_test, 1, "");
	char *log = tp("train.tsv"), all[1024];
	snprintf(all, sizeof all, "%s -t 1 -q --test %s --log %s", opts, test_ts, log);
	char *model = train("m.vkm", all, train_ts);
	cr_assert_eq(read_log(log, rows, max), want_rows);
	return model;
}

Test(models_e2e, training_lowers_the_test_nelbo)
{
	double rows[16][8];
	char *model = train_logged("--hidden 64 -z 8 -e 10 -b 32", 500, 200, rows, 16, 10);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(rows[i][0], i + 1);
		cr_assert_float_eq(rows[i][4], rows[i][2] + rows[i][3], 2e-3, "train nelbo = rec + kl");
		cr_assert_float_eq(rows[i][7], rows[i][5] + rows[i][6], 2e-3, "test nelbo = rec + kl");
		cr_assert(rows[i][3] > 0 && rows[i][6] > 0, "a VAE's KL is positive");
	}
	/* Measured: test -ELBO 349.9 after epoch 1, 194.9 after epoch 10 (784-64-8,
	 * 500 digits, batch 32, seed 1). Ask for a fall of at least 100 nats. */
	cr_assert(rows[9][7] < rows[0][7] - 100, "test -ELBO %.1f -> %.1f", rows[0][7], rows[9][7]);
	/* The model file records the last epoch. */
	vk_model m;
	vk_trainrec rec;
	vk_error e;
	cr_assert_eq(vk_model_load(model, &m, &rec, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(rec.epochs, 10);
	cr_assert_eq(rec.records_seen, 5000);
	cr_assert_float_eq(rec.test_rec + rec.test_kl, rows[9][7], 1e-2);
	cr_assert(strstr(rec.desc, "source=digits-train-images-idx3-ubyte.gz\n"), "%s", rec.desc);
	vk_model_free(&m);
}

Test(models_e2e, seed_and_one_thread_reproduce_the_model_bytes)
{
	char *data = digits("train.ts", 300, 0, "");
	char *a = train("a.vkm", SMALL " -e 3 -s 7", data);
	char *b = train("b.vkm", SMALL " -e 3 -s 7", data);
	char *c = train("c.vkm", SMALL " -e 3 -s 8", data);
	cr_assert(same_file(a, b), "same seed, different models");
	cr_assert_not(same_file(a, c), "different seeds, same model");
	/* One epoch, then --resume to three, is the same as three at once. */
	char *r = train("r.vkm", SMALL " -e 1 -s 7", data);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "vae-train --resume -o %s -e 3 -t 1 -q %s", r, data);
	ok(cmd);
	cr_assert(same_file(a, r), "resumed training differs from uninterrupted training");
	snprintf(cmd, sizeof cmd, "vae-train --resume -o %s -e 3 -t 1 -q %s", r, data);
	fails(cmd, "vae-train: ", "already has 3 epochs");
}

Test(models_e2e, latent_only_then_decode_equals_sample)
{
	char *model = train("m.vkm", SMALL, digits("train.ts", 300, 0, ""));
	char *direct = tp("direct.ts"), *piped = tp("piped.ts"), cmd[1024];
	snprintf(cmd, sizeof cmd, "vae-sample -m %s -n 300 -s 5 > %s", model, direct);
	ok(cmd);
	snprintf(cmd, sizeof cmd, "vae-sample -m %s -n 300 -s 5 --latent-only | vae-decode -m %s > %s",
		 model, model, piped);
	ok(cmd);
	cr_assert(same_file(direct, piped), "vae-sample differs from --latent-only | vae-decode");
	ts_header h;
	cr_assert_eq(records(direct, &h), 300);
	cr_assert_str_eq(meta(&h, "kind"), "image");
}

Test(models_e2e, grid_needs_a_2d_model)
{
	char *data = digits("train.ts", 300, 0, "");
	char *m2 = train("z2.vkm", "--hidden 32 -z 2 -e 2 -t 1 -q", data);
	char *m4 = train("z4.vkm", SMALL, data);
	char *out = tp("grid.ts"), cmd[1024];
	snprintf(cmd, sizeof cmd, "vae-sample -m %s --grid 5 -o %s", m2, out);
	ok(cmd);
	ts_header h;
	cr_assert_eq(records(out, &h), 25);
	cr_assert_eq(ts_elems(&h), PIXELS);
	/* The grid's latent points: column 0 is z1 = Φ⁻¹(0.1), row 0 is z2 = Φ⁻¹(0.9). */
	snprintf(cmd, sizeof cmd, "vae-sample -m %s --grid 5 --latent-only -o %s", m2, out);
	ok(cmd);
	size_t n;
	float *z = read_all(out, &h, &n, NULL);
	cr_assert_eq(n, 25);
	cr_assert_eq(h.dims[0], 2);
	cr_assert_float_eq(z[0], -1.2815516, 1e-5);
	cr_assert_float_eq(z[1], 1.2815516, 1e-5);
	cr_assert_float_eq(z[2 * 12], 0.0, 1e-6, "the middle point is the origin");
	cr_assert_float_eq(z[2 * 12 + 1], 0.0, 1e-6, "the middle point is the origin");
	free(z);
	snprintf(cmd, sizeof cmd, "rm -f %s && vae-sample -m %s --grid 5 -o %s", out, m4, out);
	fails(cmd, "vae-sample: ", "2-D");
	cr_assert_neq(run("test -e %s", out), 0, "output written despite the error");
}

/* Samples at temperature 0 are z = 0 for every record. */
static float *samples_at_t0(const char **model_out, float **z0_out)
{
	char *model = train("m.vkm", "--hidden 64 -z 8 -e 2 -t 1 -q", digits("train.ts", 300, 0, ""));
	char *out = tp("t0.ts"), *dec = tp("z0.ts"), cmd[1024];
	snprintf(cmd, sizeof cmd, "vae-sample -m %s -T 0 -o %s", model, out);
	ok(cmd);
	float zero[8] = {0};
	snprintf(cmd, sizeof cmd, "vae-decode -m %s -o %s %s", model, dec,
		 write_vectors("zero.ts", zero, 1, 8));
	ok(cmd);
	ts_header h;
	size_t n;
	float *x = read_all(out, &h, &n, NULL);
	cr_assert_eq(n, 64, "the default count");
	*z0_out = read_all(dec, &h, &n, NULL);
	*model_out = model;
	return x;
}

Test(models_e2e, temperature_zero_decodes_z_zero)
{
	const char *model;
	float *z0, *x = samples_at_t0(&model, &z0);
	for (int i = 0; i < 64; i++)
		for (int j = 0; j < PIXELS; j++)
			cr_assert_float_eq(x[i * PIXELS + j], z0[j], 1e-6, "sample %d pixel %d", i, j);
	free(x);
	free(z0);
}

Test(models_e2e, encode_mean_is_deterministic_and_logvar_doubles_the_width)
{
	char *model = train("m.vkm", SMALL, digits("train.ts", 300, 0, ""));
	char *test_ts = digits("test.ts", 100, 1, "");
	char *mu1 = tp("mu1.ts"), *mu2 = tp("mu2.ts"), *lv = tp("lv.ts"), cmd[1024];
	snprintf(cmd, sizeof cmd, "vae-encode -m %s %s > %s && vae-encode -m %s -s 9 < %s > %s",
		 model, test_ts, mu1, model, test_ts, mu2);
	ok(cmd);
	cr_assert(same_file(mu1, mu2), "mu differs between runs or depends on the seed");
	snprintf(cmd, sizeof cmd, "vae-encode -m %s --with-logvar -o %s %s", model, lv, test_ts);
	ok(cmd);
	ts_header hm, hl;
	size_t n, nl;
	float *mu = read_all(mu1, &hm, &n, NULL), *both = read_all(lv, &hl, &nl, NULL);
	cr_assert_eq(n, 100);
	cr_assert_eq(nl, 100);
	cr_assert_eq(hm.rank, 1);
	cr_assert_eq(hm.dims[0], 4);
	cr_assert_eq(hl.dims[0], 8);
	cr_assert_str_eq(meta(&hl, "kind"), "latent+logvar");
	for (size_t i = 0; i < n; i++)
		cr_assert_eq(memcmp(both + i * 8, mu + i * 4, 4 * sizeof(float)), 0,
			     "record %zu: the first Z values are mu", i);
	free(mu);
	free(both);
}

Test(models_e2e, encode_mean_does_not_depend_on_the_batch)
{
	/* A record's mu does not depend on which records share its batch, up to
	 * the last bits: OpenBLAS computes a GEMM's tail rows by another kernel,
	 * so bit-exactness across batch sizes is not promised (vae-encode(1)). */
	char *model = train("m.vkm", "--hidden 64 -z 8 -e 2 -t 1 -q", digits("train.ts", 300, 0, ""));
	char *test_ts = digits("test.ts", 100, 1, "");
	char *a = tp("b256.ts"), *b = tp("b7.ts"), *c = tp("b1.ts"), cmd[1024];
	snprintf(cmd, sizeof cmd, "vae-encode -m %s %s > %s && vae-encode -m %s -b 7 %s > %s && "
		 "vae-encode -m %s -b 1 %s > %s", model, test_ts, a, model, test_ts, b, model,
		 test_ts, c);
	ok(cmd);
	ts_header h;
	size_t na, nb, nc;
	float *fa = read_all(a, &h, &na, NULL), *fb = read_all(b, &h, &nb, NULL);
	float *fc = read_all(c, &h, &nc, NULL);
	cr_assert(na == 100 && nb == 100 && nc == 100);
	for (size_t i = 0; i < 100 * 8; i++) {
		cr_assert_float_eq(fa[i], fc[i], 1e-5 * (1 + fabsf(fc[i])), "value %zu, batch 256", i);
		cr_assert_float_eq(fb[i], fc[i], 1e-5 * (1 + fabsf(fc[i])), "value %zu, batch 7", i);
	}
	free(fa);
	free(fb);
	free(fc);
}

Test(models_e2e, encode_sample_differs_from_mu_and_follows_the_seed)
{
	char *model = train("m.vkm", SMALL, digits("train.ts", 300, 0, ""));
	char *test_ts = digits("test.ts", 100, 1, "");
	char *mu = tp("mu.ts"), *s1 = tp("s1.ts"), *s1b = tp("s1b.ts"), *s2 = tp("s2.ts");
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "vae-encode -m %s %s > %s && vae-encode -m %s --sample -s 3 %s > %s && "
		 "vae-encode -m %s --sample -s 3 %s > %s && vae-encode -m %s --sample -s 4 %s > %s",
		 model, test_ts, mu, model, test_ts, s1, model, test_ts, s1b, model, test_ts, s2);
	ok(cmd);
	cr_assert(same_file(s1, s1b), "--sample with one seed is not reproducible");
	cr_assert_not(same_file(s1, s2), "--sample ignores the seed");
	ts_header h;
	size_t n;
	float *m = read_all(mu, &h, &n, NULL), *z = read_all(s1, &h, &n, NULL);
	int differ = 0;
	for (size_t i = 0; i < n * 4; i++)
		differ += m[i] != z[i];
	cr_assert_gt(differ, (int)(n * 4) * 9 / 10, "only %d of %zu values differ from mu",
		     differ, n * 4);
	free(m);
	free(z);
}

Test(models_e2e, labels_and_metadata_pass_through)
{
	char *model = train("m.vkm", SMALL, digits("train.ts", 300, 0, ""));
	char *test_ts = digits("test.ts", 100, 1, "");
	char *lat = tp("lat.ts"), *img = tp("img.ts"), cmd[1024];
	snprintf(cmd, sizeof cmd, "vae-encode -m %s %s | tee %s | vae-decode -m %s > %s", model,
		 test_ts, lat, model, img);
	ok(cmd);
	ts_header hin, hl, hi;
	size_t n0, n1, n2;
	int32_t *lab0, *lab1, *lab2;
	free(read_all(test_ts, &hin, &n0, &lab0));
	free(read_all(lat, &hl, &n1, &lab1));
	free(read_all(img, &hi, &n2, &lab2));
	cr_assert_eq(n1, n0);
	cr_assert_eq(n2, n0);
	cr_assert(hl.has_labels && hi.has_labels);
	cr_assert_eq(memcmp(lab1, lab0, sizeof(int32_t) * n0), 0, "labels of the latents");
	cr_assert_eq(memcmp(lab2, lab0, sizeof(int32_t) * n0), 0, "labels of the images");
	for (int k = 0; k < 2; k++) {
		const ts_header *h = k ? &hi : &hl;
		cr_assert_str_eq(meta(h, "source"), "digits-test-images-idx3-ubyte.gz");
		cr_assert_str_eq(meta(h, "classes"), "10");
		cr_assert_str_eq(meta(h, "model"), "m.vkm");
	}
	cr_assert_str_eq(meta(&hl, "kind"), "latent");
	cr_assert_str_eq(meta(&hi, "kind"), "image");
	cr_assert_eq(hi.rank, 2, "images come back in the model's 28x28 shape");
	cr_assert_eq(hi.dims[0], 28);
	cr_assert_eq(hi.dims[1], 28);
	free(lab0);
	free(lab1);
	free(lab2);
}

Test(models_e2e, an_autoencoder_refuses_sample_and_logvar)
{
	char *model = train("ae.vkm", "--model ae " SMALL, digits("train.ts", 300, 0, ""));
	char *test_ts = digits("test.ts", 20, 1, ""), *out = tp("z.ts"), cmd[1024];
	snprintf(cmd, sizeof cmd, "vae-encode -m %s --sample -o %s %s", model, out, test_ts);
	fails(cmd, "vae-encode: ", "autoencoder");
	snprintf(cmd, sizeof cmd, "vae-encode -m %s --with-logvar -o %s %s", model, out, test_ts);
	fails(cmd, "vae-encode: ", "autoencoder");
	cr_assert_neq(run("test -e %s", out), 0, "output written despite the error");
	snprintf(cmd, sizeof cmd, "vae-encode -m %s -o %s %s", model, out, test_ts);
	ok(cmd);
}

Test(models_e2e, decode_u8_rounds_the_f32_means)
{
	char *model = train("m.vkm", SMALL, digits("train.ts", 300, 0, ""));
	char *test_ts = digits("test.ts", 50, 1, "");
	char *lat = tp("lat.ts"), *f = tp("f.ts"), *u = tp("u.ts"), cmd[1024];
	snprintf(cmd, sizeof cmd,
		 "vae-encode -m %s -o %s %s && vae-decode -m %s -o %s %s && "
		 "vae-decode -m %s --u8 -o %s %s",
		 model, lat, test_ts, model, f, lat, model, u, lat);
	ok(cmd);
	ts_header hf;
	size_t n;
	float *x = read_all(f, &hf, &n, NULL);
	cr_assert_str_eq(meta(&hf, "scale"), "unit");
	ts_reader r;
	vk_error e;
	open_stream(&r, u);
	cr_assert_eq(r.h.dtype, TS_U8);
	cr_assert_null(meta(&r.h, "scale"), "u8 pixels are bytes, not unit floats");
	unsigned char px[PIXELS];
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(ts_read(&r, px, NULL, &e), 1, "record %zu: %s", i, e.msg);
		for (int j = 0; j < PIXELS; j++) {
			float v = x[i * PIXELS + j];
			cr_assert(v >= 0 && v <= 1, "Bernoulli means are in [0,1]");
			cr_assert_eq(px[j], (unsigned char)(v * 255.0f + 0.5f), "record %zu pixel %d",
				     i, j);
		}
	}
	cr_assert_eq(ts_read(&r, px, NULL, &e), 0, "as many u8 records as f32");
	ts_reader_close(&r);
	free(x);
}

Test(models_e2e, wrong_shapes_are_one_clear_error)
{
	char *model = train("m.vkm", SMALL, digits("train.ts", 300, 0, ""));
	char *images = digits("test.ts", 20, 1, ""), *out = tp("out.ts"), cmd[1024];
	/* Images into the decoder: 784 values where the latent has 4. */
	snprintf(cmd, sizeof cmd, "vae-decode -m %s -o %s %s", model, out, images);
	fails(cmd, "vae-decode: ", "784 values do not match the model's latent size 4");
	cr_assert_neq(run("test -e %s", out), 0, "output written despite the error");
	/* An 8x8 stream into a 28x28 model. */
	float v[3 * 64];
	for (int i = 0; i < 3 * 64; i++)
		v[i] = (float)(i % 7) / 7;
	char *small = tp("8x8.ts"), *txt = tp("8x8.txt");
	FILE *t = fopen(txt, "w");
	for (int i = 0; i < 3; i++, fputc('\n', t))
		for (int j = 0; j < 64; j++)
			fprintf(t, "%g ", v[i * 64 + j]);
	fclose(t);
	snprintf(cmd, sizeof cmd, "txt2stream --shape 8x8 %s > %s", txt, small);
	ok(cmd);
	snprintf(cmd, sizeof cmd, "vae-encode -m %s -o %s %s", model, out, small);
	fails(cmd, "vae-encode: ", "8x8 (64 values) do not match the model's input, 28x28x1 (784 values)");
	cr_assert_neq(run("test -e %s", out), 0, "output written despite the error");
}

Test(models_e2e, non_finite_input_is_refused)
{
	char *model = train("m.vkm", SMALL, digits("train.ts", 300, 0, ""));
	char *out = tp("out.ts"), cmd[1024];
	/* A good latent record, then one with NaN: the error names record 1. */
	float z[8] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f, NAN, 0.7f, 0.8f};
	snprintf(cmd, sizeof cmd, "vae-decode -m %s -o %s %s", model, out,
		 write_vectors("nan.ts", z, 2, 4));
	fails(cmd, "vae-decode: ", "record 1 has a non-finite value");
	cr_assert_neq(run("test -e %s", out), 0, "output written despite the error");
	z[5] = INFINITY;
	snprintf(cmd, sizeof cmd, "vae-decode -m %s -o %s %s", model, out,
		 write_vectors("inf.ts", z, 2, 4));
	fails(cmd, "vae-decode: ", "non-finite value (inf)");
	cr_assert_neq(run("test -e %s", out), 0, "output written despite the error");
	/* Images with -inf in the encoder's input (flat 784: any shape of that size). */
	float *x = calloc(2 * PIXELS, sizeof(float));
	x[PIXELS + 300] = -INFINITY;
	snprintf(cmd, sizeof cmd, "vae-encode -m %s -o %s %s", model, out,
		 write_vectors("img-inf.ts", x, 2, PIXELS));
	fails(cmd, "vae-encode: ", "non-finite value (-inf) at element 300");
	cr_assert_neq(run("test -e %s", out), 0, "output written despite the error");
	free(x);
}

/* Width and height from a PNG's IHDR chunk. */
static void png_size(const char *path, unsigned *w, unsigned *h)
{
	size_t len;
	unsigned char *b = slurp(path, &len);
	cr_assert(b && len > 24 && !memcmp(b + 1, "PNG", 3) && !memcmp(b + 12, "IHDR", 4),
		  "%s is not a PNG", path);
	*w = (unsigned)b[16] << 24 | b[17] << 16 | b[18] << 8 | b[19];
	*h = (unsigned)b[20] << 24 | b[21] << 16 | b[22] << 8 | b[23];
	free(b);
}

Test(models_e2e, pipeline_idx_to_png)
{
	char *model = train("m.vkm", SMALL, digits("train.ts", 300, 0, ""));
	char *png = tp("recon.png"), cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "idx2stream -n 12 %s %s | vae-encode -m %s | vae-decode -m %s | "
		 "png-grid --cols 6 -o %s",
		 repo_path(TEST_IMAGES), repo_path(TEST_LABELS), model, model, png);
	ok(cmd);
	unsigned w, h;
	png_size(png, &w, &h);
	cr_assert_eq(w, 6 * 28 + 5, "6 columns of 28 pixels, 1-pixel pads between");
	cr_assert_eq(h, 2 * 28 + 1);
}

/* The model file's bytes outside its description: the same sections (by
 * vae-info's facts, the description's aside) and the same parameters and
 * optimiser state (the bytes after META, which is written last, are the CRC). */
static void assert_same_but_description(const char *a, const char *b)
{
	cr_assert_eq(run("vae-info --tsv %s | cut -f2- | grep -v '^data\\.' > %s.facts && "
			 "vae-info --tsv %s | cut -f2- | grep -v '^data\\.' | cmp -s - %s.facts",
			 a, a, b, a), 0, "the models differ in more than their description");
	size_t la, lb;
	unsigned char *x = slurp(a, &la), *y = slurp(b, &lb);
	uint32_t n;
	memcpy(&n, x + 12, 4);
	uint64_t meta = 0; /* META's offset: what comes before it is the model */
	for (uint32_t i = 0; i < n; i++)
		if (!memcmp(x + 16 + 32 * i, "META", 4))
			memcpy(&meta, x + 16 + 32 * i + 16, 8);
	cr_assert(meta > 0 && meta < la && meta < lb);
	cr_assert_eq(memcmp(x + 16 + 32 * n, y + 16 + 32 * n, meta - 16 - 32 * n), 0,
		     "parameters or optimiser state differ");
	free(x);
	free(y);
}

Test(models_e2e, u8_and_f32_data_train_the_same_model)
{
	/* vae-train scales u8 by 1/255 exactly as idx2stream --float does, so the
	 * same images train the same model bit for bit. Only the description
	 * differs: the float stream's metadata says scale=unit. */
	char *u8 = digits("u8.ts", 300, 0, ""), *f32 = digits("f32.ts", 300, 0, "--float");
	char *a = train("u8.vkm", SMALL " -e 3", u8), *b = train("f32.vkm", SMALL " -e 3", f32);
	assert_same_but_description(a, b);
	vk_model m;
	vk_trainrec ra, rb;
	vk_error e;
	cr_assert_eq(vk_model_load(a, &m, &ra, NULL, &e), 0, "%s", e.msg);
	vk_model_free(&m);
	cr_assert_eq(vk_model_load(b, &m, &rb, NULL, &e), 0, "%s", e.msg);
	vk_model_free(&m);
	cr_assert_null(strstr(ra.desc, "scale="), "%s", ra.desc);
	cr_assert(strstr(rb.desc, "scale=unit\n"), "%s", rb.desc);
}

/* Random values in [0,1] as a text file of n lines of k fields. */
static char *random_text(const char *name, int n, int k, unsigned seed)
{
	char *path = tp(name);
	FILE *f = fopen(path, "w");
	cr_assert(f);
	srand(seed);
	for (int i = 0; i < n; i++, fputc('\n', f))
		for (int j = 0; j < k; j++)
			fprintf(f, "%.4f ", (double)rand() / RAND_MAX);
	fclose(f);
	return path;
}

/* Train on the text file as a stream of the given shape ("" for flat). */
static void train_shape(const char *shape, int k, int rank, const uint32_t *dims)
{
	char *ts = tp("shaped.ts"), cmd[1024];
	snprintf(cmd, sizeof cmd, "txt2stream %s%s %s > %s", *shape ? "--shape " : "", shape,
		 random_text("shaped.txt", 40, k, 7), ts);
	ok(cmd);
	char *model = train("shaped.vkm", "--hidden 16 -z 2 -e 3 -b 8 -t 1 -q", ts);
	vk_model m;
	vk_error e;
	cr_assert_eq(vk_model_load(model, &m, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(m.a.input_rank, rank);
	cr_assert_eq(m.a.input_size, k);
	for (int i = 0; i < rank; i++)
		cr_assert_eq(m.a.input_dims[i], dims[i]);
	vk_model_free(&m);
	/* Samples come out in the training data's shape. */
	char *out = tp("shaped-out.ts");
	snprintf(cmd, sizeof cmd, "vae-sample -m %s -n 5 -o %s", model, out);
	ok(cmd);
	ts_header h;
	cr_assert_eq(records(out, &h), 5);
	cr_assert_eq(h.rank, rank);
	for (int i = 0; i < rank; i++)
		cr_assert_eq(h.dims[i], dims[i]);
	/* And the encoder takes the data back. */
	snprintf(cmd, sizeof cmd, "vae-encode -m %s %s | vae-decode -m %s -o %s", model, ts, model,
		 out);
	ok(cmd);
}

Test(models_e2e, input_shape_comes_from_the_stream_header)
{
	train_shape("8x8", 64, 2, (uint32_t[]){8, 8});
	train_shape("", 10, 1, (uint32_t[]){10});
}

Test(models_e2e, autoencoder_log_has_no_kl)
{
	double rows[8][8];
	char *model = train_logged("--model ae --hidden 32 -z 4 -e 4", 300, 100, rows, 8, 4);
	for (int i = 0; i < 4; i++) {
		cr_assert_eq(rows[i][3], 0.0, "train_kl of an AE");
		cr_assert_eq(rows[i][6], 0.0, "test_kl of an AE");
		cr_assert(isnan(rows[i][4]) && isnan(rows[i][7]), "an AE has no ELBO");
		cr_assert(rows[i][2] > 0 && rows[i][5] > 0);
	}
	cr_assert_lt(rows[3][5], rows[0][5], "the AE learns: test rec falls");
	vk_model m;
	vk_error e;
	cr_assert_eq(vk_model_load(model, &m, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(m.a.kind, VK_AE);
	vk_model_free(&m);
}
