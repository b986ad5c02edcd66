/* The model file (formats/model.md) at the library level: a bit-exact round
 * trip of everything it holds, and one clear message for every kind of damage,
 * each reached past the checks before it (the CRC is recomputed when a header
 * field is edited, so the range check is what fires). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "modelfile.h"
#include "testutil.h"

/* Offsets from formats/model.md. */
enum { OFF_MAJOR = 8, OFF_LATENT = 40, OFF_N_ENC = 48, OFF_N_DEC = 52, OFF_DESC_LEN = 152,
       OFF_FLAGS = 156,
       HEADER = 256, LAYER_ROW = 32 };

/* A model of the given kind and depth with random parameters, an unusual
 * shape (rank 2, 4x5) and non-default architecture fields, so that a field
 * saved or loaded in the wrong place shows. */
static void make_model(vk_model *m, int kind, int n_hidden, uint64_t seed)
{
	vk_arch a = {.kind = kind, .input_rank = 2, .input_dims = {4, 5}, .input_size = 20,
		     .latent = 3,
		     .classes = kind == VK_CVAE ? 4 : 0, .label_scaled = kind == VK_CVAE,
		     .likelihood = VK_GAUSSIAN,
		     .sigma = 0.25f};
	int widths[2] = {7, 6};
	vk_arch_mlp(&a, widths, n_hidden, VK_TANH);
	vk_error e;
	cr_assert_eq(vk_model_alloc(m, &a, &e), 0, "%s", e.msg);
	vk_rng rng;
	vk_rng_seed(&rng, seed);
	for (size_t i = 0; i < m->n_params; i++)
		m->params[i] = 4.0f * vk_rng_normal(&rng);
}

static vk_trainrec make_rec(int kind)
{
	vk_trainrec t = {.epochs = 12, .records_seen = 96000, .seed = 0x123456789abcULL,
			 .batch = 77, .optimizer = VK_OPT_SGD, .lr = 3e-4f, .beta = 2.5f,
			 .train_rec = 101.25f, .train_kl = kind == VK_AE ? 0.0f : 24.5f,
			 .test_rec = 103.5f, .test_kl = NAN};
	strcpy(t.desc, "kind=image\nsource=digits-train-images-idx3-ubyte.gz\nclasses=10\n");
	return t;
}

static void make_opt(vk_optstate *o, size_t n)
{
	vk_rng rng;
	vk_rng_seed(&rng, 99);
	o->present = 1;
	vk_adam_init(&o->adam, 3e-4f);
	o->adam.t = 4321;
	o->m = malloc(sizeof(float) * n);
	o->v = malloc(sizeof(float) * n);
	for (size_t i = 0; i < n; i++) {
		o->m[i] = vk_rng_normal(&rng);
		o->v[i] = vk_rng_uniform(&rng);
	}
	for (int i = 0; i < 5; i++)
		vk_rng_next(&rng);
	o->rng = rng;
}

static void assert_same_arch(const vk_arch *a, const vk_arch *b)
{
	cr_assert_eq(a->kind, b->kind);
	cr_assert_eq(a->input_rank, b->input_rank);
	cr_assert_eq(memcmp(a->input_dims, b->input_dims, sizeof a->input_dims), 0);
	cr_assert_eq(a->input_size, b->input_size);
	cr_assert_eq(a->n_enc, b->n_enc);
	cr_assert_eq(a->n_dec, b->n_dec);
	cr_assert_eq(memcmp(a->enc, b->enc, sizeof a->enc), 0);
	cr_assert_eq(memcmp(a->dec, b->dec, sizeof a->dec), 0);
	cr_assert_eq(a->latent, b->latent);
	cr_assert_eq(a->classes, b->classes);
	cr_assert_eq(a->label_scaled, b->label_scaled);
	cr_assert_eq(a->likelihood, b->likelihood);
	cr_assert_eq(memcmp(&a->sigma, &b->sigma, sizeof a->sigma), 0);
}

/* Compared as bits: NaN (a loss not measured) must come back as NaN. */
static void assert_same_rec(const vk_trainrec *a, const vk_trainrec *b)
{
	cr_assert_eq(a->epochs, b->epochs);
	cr_assert_eq(a->records_seen, b->records_seen);
	cr_assert_eq(a->seed, b->seed);
	cr_assert_eq(a->batch, b->batch);
	cr_assert_eq(a->optimizer, b->optimizer);
	const float fa[6] = {a->lr, a->beta, a->train_rec, a->train_kl, a->test_rec, a->test_kl};
	const float fb[6] = {b->lr, b->beta, b->train_rec, b->train_kl, b->test_rec, b->test_kl};
	cr_assert_eq(memcmp(fa, fb, sizeof fa), 0, "training record floats differ");
	cr_assert_str_eq(a->desc, b->desc);
}

static void round_trip(int kind, int n_hidden)
{
	vk_model m, got;
	make_model(&m, kind, n_hidden, 7 + kind * 10 + n_hidden);
	vk_trainrec rec = make_rec(kind), rec2;
	vk_optstate opt, opt2;
	make_opt(&opt, m.n_params);
	const char *path = tmp_path("roundtrip.vkm");
	vk_error e;
	cr_assert_eq(vk_model_save(path, &m, &rec, &opt, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_model_load(path, &got, &rec2, &opt2, &e), 0, "%s", e.msg);
	assert_same_arch(&m.a, &got.a);
	cr_assert_eq(got.n_params, m.n_params);
	cr_assert_eq(memcmp(got.params, m.params, sizeof(float) * m.n_params), 0);
	assert_same_rec(&rec, &rec2);
	cr_assert(opt2.present);
	cr_assert_eq(opt2.adam.t, opt.adam.t);
	cr_assert_eq(memcmp(opt2.m, opt.m, sizeof(float) * m.n_params), 0);
	cr_assert_eq(memcmp(opt2.v, opt.v, sizeof(float) * m.n_params), 0);
	cr_assert_eq(memcmp(opt2.rng.s, opt.rng.s, sizeof opt.rng.s), 0);
	free(opt2.m);
	free(opt2.v);
	vk_model_free(&got);

	/* Without optimiser state the file is smaller and says so. */
	cr_assert_eq(vk_model_save(path, &m, &rec, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_model_load(path, &got, NULL, &opt2, &e), 0, "%s", e.msg);
	cr_assert_not(opt2.present);
	cr_assert_eq(memcmp(got.params, m.params, sizeof(float) * m.n_params), 0);
	vk_model_free(&got);
	vk_model_free(&m);
	free(opt.m);
	free(opt.v);
}

Test(modelfile, round_trip_ae_0_hidden) { round_trip(VK_AE, 0); }
Test(modelfile, round_trip_ae_1_hidden) { round_trip(VK_AE, 1); }
Test(modelfile, round_trip_ae_2_hidden) { round_trip(VK_AE, 2); }
Test(modelfile, round_trip_vae_0_hidden) { round_trip(VK_VAE, 0); }
Test(modelfile, round_trip_vae_1_hidden) { round_trip(VK_VAE, 1); }
Test(modelfile, round_trip_vae_2_hidden) { round_trip(VK_VAE, 2); }
Test(modelfile, round_trip_cvae_0_hidden) { round_trip(VK_CVAE, 0); }
Test(modelfile, round_trip_cvae_1_hidden) { round_trip(VK_CVAE, 1); }
Test(modelfile, round_trip_cvae_2_hidden) { round_trip(VK_CVAE, 2); }

/* A saved VAE's bytes, for the damage tests. */
static unsigned char *saved_bytes(size_t *len)
{
	vk_model m;
	make_model(&m, VK_VAE, 1, 5);
	vk_trainrec rec = make_rec(VK_VAE);
	vk_optstate opt;
	make_opt(&opt, m.n_params);
	const char *path = tmp_path("damaged.vkm");
	vk_error e;
	cr_assert_eq(vk_model_save(path, &m, &rec, &opt, &e), 0, "%s", e.msg);
	unsigned char *b = slurp(path, len);
	cr_assert(b);
	vk_model_free(&m);
	free(opt.m);
	free(opt.v);
	return b;
}

static void put_u32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }

/* Where the layer table ends: after the header's rows (format 2.0). */
static size_t rows_end(const unsigned char *b)
{
	uint32_t ne, nd;
	memcpy(&ne, b + OFF_N_ENC, 4);
	memcpy(&nd, b + OFF_N_DEC, 4);
	return HEADER + LAYER_ROW * (ne + nd);
}

/* Where the parameters start: after the header, the layer table and the description. */
static size_t params_at(const unsigned char *b)
{
	uint32_t desc_len;
	memcpy(&desc_len, b + OFF_DESC_LEN, 4);
	return rows_end(b) + desc_len;
}

/* The CRC-32 the file ends with, recomputed after an edit. */
static void fix_crc(unsigned char *b, size_t len)
{
	put_u32(b + len - 4, (uint32_t)crc32(0L, b, (uInt)(len - 4)));
}

/* Write the bytes, load them, and expect failure with every fragment in the message. */
static void expect_refused(const unsigned char *b, size_t len, const char *frag1,
			   const char *frag2)
{
	const char *path = tmp_path("damaged.vkm");
	cr_assert_eq(spit(path, b, len), 0);
	vk_model m;
	vk_trainrec t;
	vk_optstate o = {0};
	vk_error e;
	cr_assert_eq(vk_model_load(path, &m, &t, &o, &e), -1, "accepted (want '%s')", frag1);
	cr_assert(strstr(e.msg, path), "message names the file: %s", e.msg);
	cr_assert(strstr(e.msg, frag1), "want '%s' in: %s", frag1, e.msg);
	cr_assert(!frag2 || strstr(e.msg, frag2), "want '%s' in: %s", frag2, e.msg);
	cr_assert_null(strchr(e.msg, '\n'), "one line: %s", e.msg);
}

Test(modelfile, the_undamaged_bytes_load)
{
	/* The control for the tests below: their damage alone makes the load fail. */
	size_t len;
	unsigned char *b = saved_bytes(&len);
	fix_crc(b, len);
	const char *path = tmp_path("control.vkm");
	cr_assert_eq(spit(path, b, len), 0);
	vk_model m;
	vk_error e;
	cr_assert_eq(vk_model_load(path, &m, NULL, NULL, &e), 0, "%s", e.msg);
	vk_model_free(&m);
	free(b);
}

Test(modelfile, corrupted_byte_fails_the_checksum)
{
	size_t len;
	unsigned char *b = saved_bytes(&len);
	size_t at = params_at(b) + 4 * 10;
	b[at] ^= 0x01; /* parameter 10's lowest mantissa bit */
	expect_refused(b, len, "checksum mismatch", NULL);
	b[at] ^= 0x01;
	b[len - 1] ^= 0x80; /* the stored CRC itself */
	expect_refused(b, len, "checksum mismatch", NULL);
	free(b);
}

Test(modelfile, truncated_file)
{
	size_t len;
	unsigned char *b = saved_bytes(&len);
	expect_refused(b, len - 10, "truncated", NULL);
	expect_refused(b, len - 10, "bytes", NULL); /* says the sizes */
	expect_refused(b, 100, "truncated", "header");
	/* Extra bytes at the end are damage too. */
	unsigned char *longer = calloc(1, len + 4);
	memcpy(longer, b, len);
	expect_refused(longer, len + 4, "expected", NULL);
	free(longer);
	free(b);
}

/* The saved bytes with the u32 at offset at set to v and the CRC made right
 * again, so that only the edit can make a load fail. */
static unsigned char *edited(size_t at, uint32_t v, size_t *len)
{
	unsigned char *b = saved_bytes(len);
	put_u32(b + at, v);
	fix_crc(b, *len);
	return b;
}

Test(modelfile, wrong_major_version)
{
	size_t len;
	unsigned char *b = edited(OFF_MAJOR, 3, &len); /* major 3, minor 0 */
	expect_refused(b, len, "version 3.0", "not supported");
	free(b);
}

/* Flag bit 1 (format 2.1): a cvae's one-hot entry is √C. A cvae without it
 * (every file before 2.1) keeps 1; the bit anywhere else, and unknown bits,
 * are refused rather than read as something else. */
Test(modelfile, one_hot_scale_flag)
{
	vk_model m, got;
	make_model(&m, VK_CVAE, 1, 3);
	vk_trainrec rec = make_rec(VK_CVAE);
	const char *path = tmp_path("flag.vkm");
	vk_error e;
	for (int scaled = 0; scaled < 2; scaled++) {
		m.a.label_scaled = scaled;
		cr_assert_eq(vk_model_save(path, &m, &rec, NULL, &e), 0, "%s", e.msg);
		size_t len;
		unsigned char *b = slurp(path, &len);
		uint32_t flags;
		memcpy(&flags, b + OFF_FLAGS, 4);
		cr_assert_eq(flags, scaled ? 2u : 0u);
		free(b);
		cr_assert_eq(vk_model_load(path, &got, NULL, NULL, &e), 0, "%s", e.msg);
		cr_assert_eq(got.a.label_scaled, scaled);
		cr_assert_float_eq(vk_label_value(&got.a), scaled ? 2.0f : 1.0f, 1e-7f);
		vk_model_free(&got);
	}
	vk_model_free(&m);
	size_t len;
	unsigned char *b = edited(OFF_FLAGS, 1 | 2, &len); /* a vae */
	expect_refused(b, len, "bad model: flags 0x3", "only in a cvae");
	free(b);
	b = edited(OFF_FLAGS, 1 | 4, &len);
	expect_refused(b, len, "bad model: flags 0x5", NULL);
	free(b);
}

Test(modelfile, wrong_magic)
{
	size_t len;
	unsigned char *b = edited(0, 0x4D4B5893, &len); /* "\x93XKM..." */
	expect_refused(b, len, "not a vaekit model", "magic");
	expect_refused((const unsigned char *)"hello", 5, "not a vaekit model", NULL);
	free(b);
}

Test(modelfile, header_fields_out_of_range)
{
	size_t len;
	unsigned char *b = edited(OFF_LATENT, 0, &len);
	expect_refused(b, len, "bad model", "latent size 0");
	free(b);
	b = edited(OFF_N_ENC, 40, &len);
	expect_refused(b, len, "40 encoder", "1 to 17");
	free(b);
	b = edited(OFF_N_DEC, 0, &len);
	expect_refused(b, len, "bad model", "decoder layers");
	free(b);
}

Test(modelfile, layer_rows_checked_against_the_architecture)
{
	size_t len;
	/* The first encoder row's units (offset 8 of the row): 7 becomes 8, so
	 * its shape no longer matches what the file's architecture builds. */
	unsigned char *b = saved_bytes(&len);
	uint32_t units;
	memcpy(&units, b + HEADER + 8, 4);
	cr_assert_eq(units, 7);
	free(b);
	b = edited(HEADER + 8, 8, &len);
	expect_refused(b, len, "does not match", NULL);
	free(b);
	/* A stored output shape that is not the built one. */
	b = edited(HEADER + 20, 3, &len);
	expect_refused(b, len, "bad model", NULL);
	free(b);
	/* An unknown layer kind. */
	b = edited(HEADER, 9, &len);
	expect_refused(b, len, "bad model", "unknown kind");
	free(b);
}

Test(modelfile, non_finite_parameter_refused)
{
	size_t len;
	unsigned char *b = saved_bytes(&len);
	float inf = INFINITY;
	memcpy(b + params_at(b) + 4 * 5, &inf, 4);
	fix_crc(b, len);
	expect_refused(b, len, "parameter 5 is not finite", NULL);
	free(b);
}

/* Names in dir other than . and .., as one space-separated string. */
static void list_dir(const char *dir, char *out, size_t cap)
{
	DIR *d = opendir(dir);
	cr_assert(d, "opendir %s", dir);
	out[0] = 0;
	struct dirent *ent;
	while ((ent = readdir(d)))
		if (strcmp(ent->d_name, ".") && strcmp(ent->d_name, ".."))
			snprintf(out + strlen(out), cap - strlen(out), "%s ", ent->d_name);
	closedir(d);
}

Test(modelfile, saving_over_a_model_replaces_it_atomically)
{
	char dir[512], path[600], names[1024];
	snprintf(dir, sizeof dir, "%s", tmp_path("atomic"));
	cr_assert_eq(run("rm -rf %s && mkdir %s", dir, dir), 0);
	snprintf(path, sizeof path, "%s/m.vkm", dir);
	vk_model a, b, got;
	make_model(&a, VK_VAE, 2, 1);
	make_model(&b, VK_VAE, 2, 2);
	vk_error e;
	cr_assert_eq(vk_model_save(path, &a, NULL, NULL, &e), 0, "%s", e.msg);
	size_t old_len;
	unsigned char *old = slurp(path, &old_len);
	/* A reader holding the old file open keeps reading the old bytes: the new
	 * model arrives by rename, never by rewriting the file in place. */
	FILE *reader = fopen(path, "rb");
	cr_assert(reader);
	cr_assert_eq(vk_model_save(path, &b, NULL, NULL, &e), 0, "%s", e.msg);
	unsigned char *seen = malloc(old_len);
	cr_assert_eq(fread(seen, 1, old_len, reader), old_len);
	cr_assert_eq(memcmp(seen, old, old_len), 0, "the old file was rewritten in place");
	fclose(reader);
	cr_assert_eq(vk_model_load(path, &got, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(memcmp(got.params, b.params, sizeof(float) * b.n_params), 0);
	list_dir(dir, names, sizeof names);
	cr_assert_str_eq(names, "m.vkm ", "temporary files left behind: %s", names);
	/* A failed save (no such directory) leaves nothing either. */
	char bad[700];
	snprintf(bad, sizeof bad, "%s/missing/m.vkm", dir);
	cr_assert_eq(vk_model_save(bad, &a, NULL, NULL, &e), -1);
	list_dir(dir, names, sizeof names);
	cr_assert_str_eq(names, "m.vkm ");
	free(old);
	free(seen);
	vk_model_free(&a);
	vk_model_free(&b);
	vk_model_free(&got);
}

Test(modelfile, failed_load_leaves_caller_outputs_alone)
{
	/* t and opt are outputs: a load that fails before reading the optimiser
	 * state must not free whatever the caller's struct happened to hold. */
	const char *path = tmp_path("garbage.vkm");
	cr_assert_eq(spit(path, "not a model at all", 18), 0);
	vk_model m;
	vk_trainrec t;
	vk_optstate o;
	memset(&o, 0x5a, sizeof o); /* stack garbage, made repeatable */
	vk_error e;
	cr_assert_eq(vk_model_load(path, &m, &t, &o, &e), -1);
	cr_assert(strstr(e.msg, "not a vaekit model"), "%s", e.msg);
	cr_assert_not(o.present);
}
