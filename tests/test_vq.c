/* The VQ-VAE: its latent kind against brute force, finite differences and a
 * hand computation; training (threads, resume) and code-map streams through
 * the real programs, with every bad input. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "modelstream.h"
#include "testutil.h"

enum { NR = 3, H = 2, W = 2, D = 3, P = H * W, ZW = P * D, KC = 6 };

/* An architecture and a context for the kind alone: K codes of D on an HxW map. */
static vk_arch vq_arch(int ema, float beta)
{
	return (vk_arch){.kind = VK_VQVAE, .codes = KC, .codebook_ema = ema, .commitment = beta,
			 .decay = 0.9f};
}

static void fill(vk_rng *rng, float *v, int n, float lo, float hi)
{
	for (int i = 0; i < n; i++)
		v[i] = lo + (hi - lo) * (float)vk_rng_uniform(rng);
}

/* The nearest code by brute force, in double: the lowest index among the
 * least distances. */
static int brute(const float *E, int K, const float *v)
{
	int best = 0;
	double bd = INFINITY;
	for (int k = 0; k < K; k++) {
		double d = 0;
		for (int j = 0; j < D; j++)
			d += ((double)v[j] - E[k * D + j]) * ((double)v[j] - E[k * D + j]);
		if (d < bd)
			bd = d, best = k;
	}
	return best;
}

Test(vq, quantisation_is_the_nearest_code_ties_to_the_lowest_index)
{
	const vk_latent_kind *L = &vk_latent_vq;
	vk_arch a = vq_arch(0, 0.25f);
	float E[KC * D], head[NR * ZW], z[NR * ZW], reg[NR];
	vk_rng rng;
	vk_rng_seed(&rng, 5);
	fill(&rng, E, KC * D, -1, 1);
	memcpy(E + 4 * D, E + 1 * D, sizeof(float) * D); /* code 4 duplicates code 1 */
	fill(&rng, head, NR * ZW, -1.2f, 1.2f);
	memcpy(head + 2 * D, E + 1 * D, sizeof(float) * D); /* exactly on codes 1 and 4 */
	/* equidistant from codes 2 and 5, far from the others, the distances
	 * exact in binary fractions */
	float c2[D] = {3.5f, -0.25f, 3.75f}, c5[D] = {2.5f, 0.25f, 3.75f};
	memcpy(E + 2 * D, c2, sizeof c2);
	memcpy(E + 5 * D, c5, sizeof c5);
	float mid[D] = {3, 0, 3.75f};
	memcpy(head + ZW + D, mid, sizeof mid);
	vk_latent_ctx c = {.a = &a, .map = {H, W, D}, .P = E};
	int32_t idx[NR * P];
	L->codes(&c, idx, head, NR);
	L->sample(&c, z, ZW, head, NULL, reg, NR, ZW);
	for (int r = 0; r < NR; r++) {
		double sq = 0;
		for (int p = 0; p < P; p++) {
			const float *v = head + r * ZW + p * D;
			int k = brute(E, KC, v);
			cr_assert_eq(idx[r * P + p], k, "record %d position %d: code %d, brute force %d", r,
				     p, idx[r * P + p], k);
			cr_assert_eq(memcmp(z + r * ZW + p * D, E + k * D, sizeof(float) * D), 0);
			for (int j = 0; j < D; j++)
				sq += ((double)v[j] - E[k * D + j]) * ((double)v[j] - E[k * D + j]);
		}
		cr_assert_float_eq(reg[r], 1.25 * sq / ZW, 1e-5, "record %d's loss", r);
	}
	cr_assert_eq(idx[2], 1, "a tie between codes 1 and 4 goes to 1");
	cr_assert_eq(idx[P + 1], 2, "a tie between codes 2 and 5 goes to 2");
	/* embed is the inverse on indices */
	float back[NR * ZW];
	L->embed(&c, back, ZW, idx, NR);
	cr_assert_eq(memcmp(back, z, sizeof z), 0);
}

/* Σ reg over the records with the codebook E, in double */
static double reg_sum(const vk_arch *a, float *E, const float *head)
{
	vk_latent_ctx c = {.a = a, .map = {H, W, D}, .P = E};
	float z[NR * ZW], reg[NR];
	vk_latent_vq.sample(&c, z, ZW, head, NULL, reg, NR, ZW);
	return (double)reg[0] + reg[1] + reg[2];
}

/* The backward pass of one step on the kind alone (one slice, no state
 * written): dhead and the codebook's gradient. */
static void backward(const vk_arch *a, float *E, float *S, const float *head, const float *dz,
		     float *dhead, float *G, double *counts)
{
	vk_shape map = {H, W, D};
	void *buf = malloc(vk_latent_vq.work(a, map, NR));
	vk_latent_ctx c = {.a = a, .map = map, .P = E, .S = S, .buf = buf};
	float z[NR * ZW];
	vk_latent_vq.sample(&c, z, ZW, head, NULL, NULL, NR, ZW);
	vk_latent_step s = {.scale = 1.0f, .ctx = &c, .G = G, .counts = counts};
	vk_latent_vq.backward(dhead, dz, ZW, head, NULL, NR, ZW, &s);
	free(buf);
}

Test(vq, straight_through_and_commitment_gradients_match_finite_differences)
{
	vk_rng rng;
	vk_rng_seed(&rng, 8);
	float E[KC * D], head[NR * ZW], dz[NR * ZW], dhead[NR * ZW], G[KC * D],
	      S[KC * (D + 1)] = {0};
	double counts[KC];
	fill(&rng, E, KC * D, -1, 1);
	fill(&rng, head, NR * ZW, -1, 1);
	fill(&rng, dz, NR * ZW, -0.5f, 0.5f);
	/* EMA: the loss is β·commitment alone, whose gradient reaches the head;
	 * z is constant between ties, so the decoder's gradient passes as it is */
	vk_arch a = vq_arch(1, 0.7f);
	backward(&a, E, S, head, dz, dhead, G, counts);
	for (int k = 0; k < NR * ZW; k++) {
		float keep = head[k], h = 1e-3f;
		head[k] = keep + h;
		double up = reg_sum(&a, E, head);
		head[k] = keep - h;
		double down = reg_sum(&a, E, head);
		head[k] = keep;
		double fd = (up - down) / (2 * h);
		cr_assert(fabs(dhead[k] - dz[k] - fd) < 1e-3 + 1e-2 * fabs(fd),
			  "d/dhead[%d]: %g - dz %g, finite differences %g", k, dhead[k], dz[k], fd);
	}
	for (int k = 0; k < KC * D; k++)
		cr_assert_eq(G[k], 0.0f, "EMA: no gradient to the codebook");
	double n = 0;
	for (int k = 0; k < KC; k++)
		n += counts[k];
	cr_assert_eq(n, NR * P, "every position counted once");
	/* The codebook loss at β 0: its gradient to E; none to the head */
	a = vq_arch(0, 0.0f);
	backward(&a, E, S, head, dz, dhead, G, counts);
	for (int k = 0; k < NR * ZW; k++)
		cr_assert_eq(dhead[k], dz[k], "straight through at β 0");
	for (int k = 0; k < KC * D; k++) {
		float keep = E[k], h = 1e-3f;
		E[k] = keep + h;
		double up = reg_sum(&a, E, head);
		E[k] = keep - h;
		double down = reg_sum(&a, E, head);
		E[k] = keep;
		double fd = (up - down) / (2 * h);
		cr_assert(fabs(G[k] - fd) < 1e-3 + 1e-2 * fabs(fd), "d/dE[%d] %g, fd %g", k, G[k], fd);
	}
}

Test(vq, the_ema_update_and_a_dead_code_restart_match_a_hand_computation)
{
	/* K 3 codes of one value, a flat code (one position), 3 records */
	vk_arch a = {.kind = VK_VQVAE, .codes = 3, .codebook_ema = 1, .commitment = 0.25f,
		     .decay = 0.9f};
	vk_shape map = {0, 0, 1};
	float E[3] = {0, 10, -50}, S[6] = {2, 3, 0.5f, 1, 33, -25};
	float head[3] = {1, 2, 9}, dz[3] = {0}, dhead[3], G[3];
	void *buf = malloc(vk_latent_vq.work(&a, map, 3));
	vk_latent_ctx c = {.a = &a, .map = map, .P = E, .S = S, .buf = buf};
	float z[3];
	vk_latent_vq.sample(&c, z, 1, head, NULL, NULL, 3, 1);
	double counts[3];
	vk_latent_step s = {.scale = 1.0f, .ctx = &c, .G = G, .counts = counts,
			    .update_state = 1};
	vk_latent_vq.backward(dhead, dz, 1, head, NULL, 3, 1, &s);
	free(buf);
	/* codes 0, 0, 1: counts 2, 1, 0; sums 3, 9, 0 */
	cr_assert(counts[0] == 2 && counts[1] == 1 && counts[2] == 0);
	double n[3] = {0.9 * 2 + 0.1 * 2, 0.9 * 3 + 0.1 * 1, 0.9 * 0.5}, tot = n[0] + n[1] + n[2];
	for (int k = 0; k < 3; k++)
		n[k] = (n[k] + 1e-5) / (tot + 3e-5) * tot;
	double m0 = 0.9 * 1 + 0.1 * 3, m1 = 0.9 * 33 + 0.1 * 9;
	cr_assert_float_eq(S[0], n[0], 1e-6);
	cr_assert_float_eq(S[1], n[1], 1e-6);
	cr_assert_float_eq(S[3], m0, 1e-6);
	cr_assert_float_eq(S[4], m1, 1e-5);
	cr_assert_float_eq(E[0], m0 / n[0], 1e-6);
	cr_assert_float_eq(E[1], m1 / n[1], 1e-5);
	/* code 2 is dead (0.45 < 1): the one dead code takes position
	 * ⌊(0 + ½)·3/1⌋ = 1 of the batch, record 1's output, 2 */
	cr_assert_eq(S[2], 1.0f);
	cr_assert_eq(S[5], 2.0f);
	cr_assert_eq(E[2], 2.0f);
}

/* ---- through the programs ---- */

static const char *train_ts(void) { return digits_stream("train", 256); }
static const char *test_ts(void) { return digits_stream("test", 32); }

/* A small vqvae (conv encoder to a 7x7x4 map, 16 codes). */
static void train(const char *out, const char *opts)
{
	cr_assert_eq(run("vae-train -q -m vqvae --encoder conv:8:3:2,conv:4:3:2/identity --codes 16 "
			 "-b 32 -s 3 %s -o %s %s", opts, out, train_ts()), 0, "vae-train %s", opts);
}

Test(vq, resuming_with_ema_state_is_bit_exact)
{
	const char *a = tmp_path("ema2.vae"), *b = tmp_path("ema1.vae");
	train(a, "--codebook ema -t 1 -e 2");
	train(b, "--codebook ema -t 1 -e 1");
	cr_assert_eq(run("vae-train -q --resume -t 1 -e 2 -o %s %s", b, train_ts()), 0);
	cr_assert_eq(run("cmp -s %s %s", a, b), 0, "resumed and uninterrupted runs differ");
}

/* The last log row's train rec, kl and perplexity. */
static void last_row(const char *log, double *v)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "tail -1 %s | cut -f3,4,16", log);
	FILE *f = popen(cmd, "r");
	cr_assert(f && fscanf(f, "%lf %lf %lf", &v[0], &v[1], &v[2]) == 3, "log %s", log);
	pclose(f);
}

Test(vq, two_threads_train_as_one_up_to_rounding)
{
	for (int ema = 0; ema < 2; ema++) {
		char o1[64], o2[64], opts[160];
		double v1[3], v2[3];
		snprintf(o1, sizeof o1, "t1-%d", ema);
		snprintf(o2, sizeof o2, "t2-%d", ema);
		snprintf(opts, sizeof opts, "-t 1 -e 2 --log %s.log %s", tmp_path(o1),
			 ema ? "--codebook ema" : "");
		train(tmp_path(o1), opts);
		snprintf(opts, sizeof opts, "-t 2 -e 2 --log %s.log %s", tmp_path(o2),
			 ema ? "--codebook ema" : "");
		train(tmp_path(o2), opts);
		snprintf(opts, sizeof opts, "%s.log", tmp_path(o1));
		last_row(opts, v1);
		snprintf(opts, sizeof opts, "%s.log", tmp_path(o2));
		last_row(opts, v2);
		for (int j = 0; j < 3; j++)
			cr_assert(fabs(v1[j] - v2[j]) <= 1e-3 * fabs(v1[j]) + 1e-4,
				  "ema %d column %d: -t 1 %g, -t 2 %g", ema, j, v1[j], v2[j]);
		cr_assert(v1[2] > 1 && v1[2] <= 16, "a perplexity of %g codes of 16", v1[2]);
	}
}

/* A code-map stream of n records of shape h x w with values v (cycled),
 * with codebook=k (0: no key). */
static const char *code_stream(const char *name, int h, int w, int k, const float *v, int nv,
			       int n)
{
	const char *path = tmp_path(name);
	ts_header hd;
	ts_writer wr;
	vk_error e;
	uint32_t dims[2] = {(uint32_t)h, (uint32_t)w};
	cr_assert_eq(ts_header_init(&hd, TS_I32, 2, dims, &e), 0, "%s", e.msg);
	if (k) {
		char kb[16];
		snprintf(kb, sizeof kb, "%d", k);
		cr_assert_eq(ts_meta_set(&hd, "codebook", kb, &e), 0);
	}
	cr_assert_eq(ts_writer_open(&wr, path, &hd, &e), 0, "%s", e.msg);
	float rec[64];
	for (int r = 0, at = 0; r < n; r++) {
		for (int i = 0; i < h * w; i++)
			rec[i] = v[at++ % nv];
		cr_assert_eq(ts_write_f32(&wr, rec, TS_NO_LABEL, &e), 0, "%s", e.msg);
	}
	cr_assert_eq(ts_writer_close(&wr, &e), 0, "%s", e.msg);
	return path;
}

Test(vq, code_maps_round_trip_and_bad_ones_are_refused)
{
	char *m = strdup(tmp_path("codes.vae")); /* kept: tmp_path reuses 8 buffers */
	char err[1024];
	train(m, "-t 1 -e 1 --codebook ema");
	/* encode --codes | decode equals the decoding of the quantised vectors */
	cr_assert_eq(run("vae-encode -m %s --codes %s > %s", m, test_ts(), tmp_path("c.ts")), 0);
	cr_assert_eq(run("vae-decode -m %s %s | stream2txt > %s", m, tmp_path("c.ts"),
			 tmp_path("a.txt")), 0);
	cr_assert_eq(run("vae-encode -m %s %s | vae-decode -m %s | stream2txt > %s", m, test_ts(), m,
			 tmp_path("b.txt")), 0);
	cr_assert_eq(run("cmp -s %s %s", tmp_path("a.txt"), tmp_path("b.txt")), 0);
	cr_assert_eq(run("stream-info --tsv %s | grep -qx 'shape\t7x7'", tmp_path("c.ts")), 0);
	cr_assert_eq(run("stream-info --tsv %s | grep -qx 'meta.codebook\t16'", tmp_path("c.ts")), 0);
	cr_assert_eq(run("stream-info --tsv %s | grep -q '^meta.model_id\t'", tmp_path("c.ts")), 0);
	/* stream-info's histogram: the counts add up to every position */
	cr_assert_eq(run("test \"$(stream-info --tsv %s | awk -F'\\t' '/^code\\.[0-9]/ {s += $2} "
			 "END {print s}')\" = %d", tmp_path("c.ts"), 32 * 49), 0);
	cr_assert_eq(run("stream-info --tsv %s | grep -q '^perplexity\t'", tmp_path("c.ts")), 0);
	/* bad code maps, one clear line each */
	float big[] = {3, 16}, neg[] = {-1}, ok[] = {5};
	cr_assert_neq(run_err(err, sizeof err, "vae-decode -m %s %s > /dev/null", m,
			      code_stream("big.ts", 7, 7, 16, big, 2, 2)), 0);
	cr_assert(strstr(err, "code 16 is not one of the model's 16 codes"), "%s", err);
	cr_assert_neq(run_err(err, sizeof err, "vae-decode -m %s %s > /dev/null", m,
			      code_stream("neg.ts", 7, 7, 16, neg, 1, 1)), 0);
	cr_assert(strstr(err, "code -1 is not one of"), "%s", err);
	cr_assert_neq(run_err(err, sizeof err, "vae-decode -m %s %s > /dev/null", m,
			      code_stream("shape.ts", 4, 4, 16, ok, 1, 1)), 0);
	cr_assert(strstr(err, "code maps of shape 4x4 do not match the decoder's, 7x7"), "%s", err);
	cr_assert_neq(run_err(err, sizeof err, "vae-decode -m %s %s > /dev/null", m,
			      code_stream("k.ts", 7, 7, 512, ok, 1, 1)), 0);
	cr_assert(strstr(err, "a codebook of 512 codes; the model's has 16"), "%s", err);
	/* a code stream into a model without a codebook */
	char *vae = strdup(tmp_path("plain.vae"));
	cr_assert_eq(run("vae-train -q -m ae --hidden 16 -z 4 -e 1 -o %s %s", vae, train_ts()), 0);
	cr_assert_neq(run_err(err, sizeof err, "vae-decode -m %s %s > /dev/null", vae,
			      tmp_path("c.ts")), 0);
	cr_assert(strstr(err, "need a model with a codebook"), "%s", err);
	cr_assert_neq(run_err(err, sizeof err, "vae-encode --codes -m %s %s > /dev/null", vae,
			      test_ts()), 0);
	cr_assert(strstr(err, "--codes:"), "%s", err);
	/* and nothing half-written: a refused decode into a file leaves none */
	cr_assert_neq(run("vae-decode -m %s -o %s %s 2> /dev/null", m, tmp_path("out.ts"),
			  tmp_path("big.ts")), 0);
	cr_assert_neq(run("test -e %s", tmp_path("out.ts")), 0);
	free(m);
	free(vae);
}

Test(vq, codebook_options_are_checked)
{
	char err[512];
	for (int k = 0; k < 2; k++) {
		cr_assert_eq(run_err(err, sizeof err, "vae-train -m vqvae --codes %d -o %s %s", k,
				     tmp_path("x.vae"), train_ts()), 2);
		cr_assert(strstr(err, "a codebook needs at least 2 codes"), "%s", err);
	}
	cr_assert_eq(run_err(err, sizeof err, "vae-train -m vae --codebook ema -o %s %s",
			     tmp_path("x.vae"), train_ts()), 2);
	cr_assert(strstr(err, "apply only to --model vqvae"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "vae-train -m vqvae --encoder conv:4:3:2 -z 4 -o %s %s",
			     tmp_path("x.vae"), train_ts()), 2);
	cr_assert(strstr(err, "leave -z out"), "%s", err);
	cr_assert_neq(run_err(err, sizeof err, "vae-train -m vqvae --codebook median -o %s %s",
			      tmp_path("x.vae"), train_ts()), 0);
	cr_assert(strstr(err, "is not loss or ema"), "%s", err);
	/* on --resume the codebook is the checkpoint's */
	char *m = strdup(tmp_path("resume-opts.vae"));
	train(m, "-t 1 -e 1");
	cr_assert_eq(run_err(err, sizeof err, "vae-train --resume --codes 32 -e 2 -o %s %s", m,
			     train_ts()), 2);
	cr_assert(strstr(err, "--codes 32: ") && strstr(err, "was trained with --codes 16"), "%s",
		  err);
	cr_assert_eq(run_err(err, sizeof err, "vae-train --resume --codebook ema -e 2 -o %s %s", m,
			     train_ts()), 2);
	cr_assert(strstr(err, "was trained with --codebook loss"), "%s", err);
	cr_assert_eq(run("vae-train -q --resume --codes 16 -e 2 -t 1 -o %s %s", m, train_ts()), 0);
	free(m);
}

Test(vq, the_resnet_variant_is_pythaes_vqvae)
{
	/* pythae's Encoder/Decoder_ResNet_VQVAE_MNIST at latent 16 and K 512:
	 * 364176 + 306369 parameters and the 512x16 codebook */
	const char *m = tmp_path("resnet.vae");
	cr_assert_eq(run("vae-train -q -m vqvae --arch resnet -e 1 -b 64 -t 1 -o %s %s", m,
			 digits_stream("train", 64)), 0);
	cr_assert_eq(run("vae-info --tsv %s | grep -qx '%s\tparameters\t678737'", m, m), 0);
	cr_assert_eq(run("vae-info --tsv %s | grep -qx '%s\tcode_map\t4x4'", m, m), 0);
	cr_assert_eq(run("vae-info --tsv %s | grep -qx '%s\tcode_dim\t16'", m, m), 0);
	/* kl-eval measures it, with its codes' usage */
	cr_assert_eq(run("kl-eval --table -m %s %s 2>/dev/null | grep -q perplexity", m, test_ts()),
		     0);
}

Test(vq, kl_eval_counts_the_codes_and_merges_shards_exactly)
{
	char *m = strdup(tmp_path("kl.vae")), *whole = strdup(tmp_path("whole.tsv"));
	train(m, "-t 1 -e 1 --codebook ema");
	cr_assert_eq(run("kl-eval --tsv -m %s %s > %s 2>/dev/null", m, test_ts(), whole), 0);
	/* the code counts add up to every position of every record: 32 maps of 7x7 */
	cr_assert_eq(run("test \"$(awk -F'\t' '$3 ~ /^code\\./ {s += $4} END {print s}' %s)\" = %d",
			 whole, 32 * 49), 0);
	/* and agree with stream-info's histogram of the code maps */
	cr_assert_eq(run("vae-encode -m %s --codes %s | stream-info --tsv | grep '^perplexity' | "
			 "cut -f2 > %s", m, test_ts(), tmp_path("p1")), 0);
	cr_assert_eq(run("awk -F'\t' '$3 == \"codes\" {printf \"%%.6g\\n\", $5}' %s > %s", whole,
			 tmp_path("p2")), 0);
	cr_assert_eq(run("test -s %s && cmp -s %s %s", tmp_path("p1"), tmp_path("p1"),
			 tmp_path("p2")), 0,
		     "kl-eval's and stream-info's perplexities differ");
	/* two shards' summaries merge to the whole's, byte for byte */
	cr_assert_eq(run("cd %s && stream-split -k 2 -p kls %s && kl-eval --tsv -m %s kls0000.ts > "
			 "kla.tsv 2>/dev/null && kl-eval --tsv -m %s kls0001.ts > klb.tsv 2>/dev/null && "
			 "kl-eval --merge --tsv kla.tsv klb.tsv | cmp -s - %s", tmp_path(""), test_ts(),
			 m, m, whole), 0);
	free(m);
	free(whole);
}

/* A model file's LATN section, edited (its CRC made good again): each bad
 * field is refused by name. */
#include <zlib.h>

static size_t section_of(const unsigned char *b, const char *tag)
{
	uint32_t S;
	memcpy(&S, b + 12, 4);
	for (uint32_t i = 0; i < S; i++)
		if (!memcmp(b + 16 + 32 * i, tag, 4)) {
			uint64_t off;
			memcpy(&off, b + 16 + 32 * i + 16, 8);
			return (size_t)off;
		}
	return 0;
}

static void refused_with(const char *m, size_t field, uint32_t v, const char *want)
{
	size_t len;
	unsigned char *b = slurp(m, &len);
	cr_assert(b);
	size_t at = section_of(b, "LATN");
	cr_assert(at, "a vqvae has a LATN section");
	memcpy(b + at + field, &v, 4);
	uint32_t crc = (uint32_t)crc32(0L, b, (uInt)(len - 4));
	memcpy(b + len - 4, &crc, 4);
	const char *bad = tmp_path("bad-latn.vae");
	cr_assert_eq(spit(bad, b, len), 0);
	free(b);
	char err[512];
	cr_assert_neq(run_err(err, sizeof err, "vae-info %s > /dev/null", bad), 0);
	cr_assert(strstr(err, want) && strstr(err, "bad model"), "%s", err);
}

Test(vq, a_bad_codebook_section_is_refused)
{
	char *m = strdup(tmp_path("latn.vae"));
	train(m, "-t 1 -e 1");
	float nan_ = NAN, one = 1.0f;
	uint32_t n, o;
	memcpy(&n, &nan_, 4), memcpy(&o, &one, 4);
	refused_with(m, 0, 1, "a codebook of 1 codes (2 to 65536)");
	refused_with(m, 0, 70000, "a codebook of 70000 codes");
	refused_with(m, 4, 2, "LATN's flags 0x2 has unknown bits");
	refused_with(m, 8, n, "commitment weight nan");
	refused_with(m, 12, o, "EMA decay 1");
	refused_with(m, 12, 0, "EMA decay 0");
	free(m);
}
