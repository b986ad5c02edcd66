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

/* Offsets within sections, from formats/model.md (3.0). */
enum { OFF_MAJOR = 8, OFF_COUNT = 12, PREAMBLE = 16, ENTRY = 32,
       HEAD_LATENT = 24, HEAD_IDENTITY = 36, LAYR_N_ENC = 0, LAYR_N_DEC = 4, LAYR_FIRST = 8,
       CLAS_FLAGS = 4 };

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
			 .test_rec = 103.5f, .test_kl = NAN, .kl_warmup = 3, .kl_cycles = 2,
			 .free_bits = 0.5f, .iw_train = 5, .lr_schedule = VK_LR_PLATEAU, .lr_every = 4,
			 .lr_gamma = 0.25f, .early_stop = 6, .flags = VK_TRAIN_SIGMA_LEARNED,
			 .lr_now = 1.5e-4f, .best_test = 99.75f, .best_epoch = 9, .plateau_bad = 2,
			 .log_sigma = -1.25f, .log_sigma_m = 0.125f, .log_sigma_v = 0.0625f,
			 .planned_epochs = 40, .objective = 2, .obj_alpha = 0.25f,
			 .obj_lambda = 500.0f, .obj_beta = 6.5f, .obj_gamma = 1.5f};
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
	const float fa[13] = {a->lr, a->beta, a->train_rec, a->train_kl, a->test_rec, a->test_kl,
			      a->free_bits, a->lr_gamma, a->lr_now, a->best_test, a->log_sigma,
			      a->log_sigma_m, a->log_sigma_v};
	const float fb[13] = {b->lr, b->beta, b->train_rec, b->train_kl, b->test_rec, b->test_kl,
			      b->free_bits, b->lr_gamma, b->lr_now, b->best_test, b->log_sigma,
			      b->log_sigma_m, b->log_sigma_v};
	cr_assert_eq(memcmp(fa, fb, sizeof fa), 0, "training record floats differ");
	const uint32_t ua[10] = {a->kl_warmup, a->kl_cycles, a->iw_train, a->lr_schedule,
				 a->lr_every, a->early_stop, a->flags, a->best_epoch, a->plateau_bad,
				 a->planned_epochs};
	const uint32_t ub[10] = {b->kl_warmup, b->kl_cycles, b->iw_train, b->lr_schedule,
				 b->lr_every, b->early_stop, b->flags, b->best_epoch, b->plateau_bad,
				 b->planned_epochs};
	cr_assert_eq(memcmp(ua, ub, sizeof ua), 0, "the recipe or its state differs");
	cr_assert_eq(a->objective, b->objective);
	cr_assert_eq(a->obj_alpha, b->obj_alpha);
	cr_assert_eq(a->obj_lambda, b->obj_lambda);
	cr_assert_eq(a->obj_beta, b->obj_beta);
	cr_assert_eq(a->obj_gamma, b->obj_gamma);
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
	/* A mid-epoch checkpoint: every section (CLAS in a cvae) */
	vk_epoch_pos pos = {.batches = 17, .rec_sum = 1234.5678901, .kl_sum = 0.1, .epoch_rng = opt.rng},
		     pos2;
	pos.epoch_rng.s[0] ^= 0x5555;
	cr_assert_eq(vk_model_write(path, &m, &rec, &opt, &pos, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_model_read(path, &got, &rec2, &opt2, &pos2, &e), 0, "%s", e.msg);
	cr_assert_eq(memcmp(&pos, &pos2, sizeof pos), 0, "the checkpoint position differs");
	cr_assert_eq(vk_model_identity(&got), vk_model_identity(&m));
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
static void put_u64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static uint32_t get_u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t get_u64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/* The table entry of the section tagged tag (NULL when absent). */
static unsigned char *entry_of(unsigned char *b, const char *tag)
{
	uint32_t n = get_u32(b + OFF_COUNT);
	for (uint32_t i = 0; i < n; i++)
		if (!memcmp(b + PREAMBLE + ENTRY * i, tag, 4))
			return b + PREAMBLE + ENTRY * i;
	return NULL;
}

/* Where the section tagged tag starts. */
static size_t section_at(unsigned char *b, const char *tag)
{
	unsigned char *ent = entry_of(b, tag);
	cr_assert(ent, "no %s section", tag);
	return (size_t)get_u64(ent + 16);
}

/* Where the parameters start: after PARM's count. */
static size_t params_at(unsigned char *b) { return section_at(b, "PARM") + 8; }

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

static void expect_loads(const unsigned char *b, size_t len)
{
	const char *path = tmp_path("loads.vkm");
	cr_assert_eq(spit(path, b, len), 0);
	vk_model m;
	vk_error e;
	cr_assert_eq(vk_model_load(path, &m, NULL, NULL, &e), 0, "%s", e.msg);
	vk_model_free(&m);
}

Test(modelfile, the_undamaged_bytes_load)
{
	/* The control for the tests below: their damage alone makes the load fail. */
	size_t len;
	unsigned char *b = saved_bytes(&len);
	fix_crc(b, len);
	expect_loads(b, len);
	cr_assert_eq(get_u32(b + OFF_MAJOR), 3, "written as 3.0");
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
	expect_refused(b, 10, "truncated", "header");
	/* Cut inside the section table. */
	expect_refused(b, PREAMBLE + ENTRY * 2, "truncated section table", NULL);
	/* Extra bytes at the end are damage too. */
	unsigned char *longer = calloc(1, len + 4);
	memcpy(longer, b, len);
	expect_refused(longer, len + 4, "belong to no section", NULL);
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

/* The saved bytes with the section entry tagged tag edited: its offset and
 * size set (the CRC made right again). */
static unsigned char *entry_edited(const char *tag, uint64_t off, uint64_t size, size_t *len)
{
	unsigned char *b = saved_bytes(len);
	unsigned char *ent = entry_of(b, tag);
	cr_assert(ent);
	put_u64(ent + 16, off);
	put_u64(ent + 24, size);
	fix_crc(b, *len);
	return b;
}

Test(modelfile, wrong_major_version)
{
	size_t len;
	unsigned char *b = edited(OFF_MAJOR, 4, &len); /* major 4, minor 0 */
	expect_refused(b, len, "version 4.0", "not supported");
	free(b);
	/* A known section of another major version */
	b = saved_bytes(&len);
	put_u32(entry_of(b, "TRAN") + 4, 2);
	fix_crc(b, len);
	expect_refused(b, len, "section TRAN version 2.0", "not supported");
	free(b);
}

Test(modelfile, section_table_damage)
{
	size_t len;
	unsigned char *b = saved_bytes(&len);
	uint64_t head = section_at(b, "HEAD"), parm = section_at(b, "PARM");
	uint64_t parm_size = get_u64(entry_of(b, "PARM") + 24);
	free(b);
	/* Overlapping: PARM one byte longer runs into the next section */
	b = entry_edited("PARM", parm, parm_size + 1, &len);
	expect_refused(b, len, "overlap", "PARM");
	free(b);
	/* Out of the file: an offset past its end, or over the CRC */
	b = entry_edited("PARM", len + 100, 8, &len);
	expect_refused(b, len, "section PARM", "outside");
	free(b);
	b = entry_edited("HEAD", head, len, &len);
	expect_refused(b, len, "section HEAD", "outside");
	free(b);
	/* A size whose sum with the offset overflows 64 bits */
	b = entry_edited("PARM", parm, UINT64_MAX - 2, &len);
	expect_refused(b, len, "section PARM", "overflows");
	free(b);
	/* A section count the file cannot hold */
	b = edited(OFF_COUNT, 65, &len);
	expect_refused(b, len, "65 sections", "1 to 64");
	free(b);
	b = edited(OFF_COUNT, 0, &len);
	expect_refused(b, len, "0 sections", NULL);
	free(b);
	/* A gap: HEAD shortened by its last byte (which then belongs to nothing) */
	b = entry_edited("HEAD", head, 43, &len);
	expect_refused(b, len, "belong to no section", NULL);
	free(b);
}

/* The saved bytes with one more section, tag and flags, holding n bytes of
 * payload, placed before the CRC: every offset moves by one table entry. */
static unsigned char *with_section(const char *tag, uint32_t flags, const void *payload,
				   size_t n, size_t *len)
{
	size_t old;
	unsigned char *b = saved_bytes(&old);
	uint32_t count = get_u32(b + OFF_COUNT);
	*len = old + ENTRY + n;
	unsigned char *x = calloc(1, *len);
	memcpy(x, b, PREAMBLE + ENTRY * count);
	put_u32(x + OFF_COUNT, count + 1);
	for (uint32_t i = 0; i < count; i++)
		put_u64(x + PREAMBLE + ENTRY * i + 16, get_u64(b + PREAMBLE + ENTRY * i + 16) + ENTRY);
	unsigned char *ent = x + PREAMBLE + ENTRY * count;
	memcpy(ent, tag, 4);
	put_u32(ent + 4, 1);
	put_u32(ent + 8, flags);
	put_u64(ent + 16, old - 4 + ENTRY);
	put_u64(ent + 24, n);
	memcpy(ent + ENTRY, b + PREAMBLE + ENTRY * count, old - 4 - PREAMBLE - ENTRY * count);
	memcpy(x + old - 4 + ENTRY, payload, n);
	fix_crc(x, *len);
	free(b);
	return x;
}

Test(modelfile, unknown_sections_skipped_or_refused_by_name)
{
	size_t len;
	unsigned char *b = with_section("XTRA", 0, "later", 5, &len);
	expect_loads(b, len); /* optional: skipped */
	free(b);
	b = with_section("XTRA", 1, "later", 5, &len);
	expect_refused(b, len, "unknown required section XTRA", NULL);
	free(b);
	/* A known section twice */
	unsigned char head[44] = {0};
	b = with_section("HEAD", 1, head, sizeof head, &len);
	expect_refused(b, len, "section HEAD appears twice", NULL);
	free(b);
	/* An empty STAT (no layer has state) reads; one with values does not */
	b = with_section("STAT", 1, "", 0, &len);
	expect_loads(b, len);
	free(b);
	b = with_section("STAT", 1, "\0\0\0\0", 4, &len);
	expect_refused(b, len, "section STAT is 4 bytes", "expected 0");
	free(b);
}

/* Flag bit 0 of CLAS: a cvae's one-hot entry is √C. A cvae without it
 * (every file before 2.1) keeps 1; unknown bits are refused rather than read
 * as something else, and only a cvae has the section. */
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
		cr_assert_eq(get_u32(b + section_at(b, "CLAS") + CLAS_FLAGS), (uint32_t)scaled);
		if (scaled) {
			put_u32(b + section_at(b, "CLAS") + CLAS_FLAGS, 3);
			fix_crc(b, len);
			expect_refused(b, len, "CLAS's flags 0x3", "unknown bits");
		}
		free(b);
		cr_assert_eq(vk_model_load(path, &got, NULL, NULL, &e), 0, "%s", e.msg);
		cr_assert_eq(got.a.label_scaled, scaled);
		cr_assert_float_eq(vk_label_value(&got.a), scaled ? 2.0f : 1.0f, 1e-7f);
		vk_model_free(&got);
	}
	vk_model_free(&m);
	size_t len;
	unsigned char clas[8] = {4};
	unsigned char *b = with_section("CLAS", 1, clas, sizeof clas, &len); /* in a vae */
	expect_refused(b, len, "a CLAS section in a vae", NULL);
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
	unsigned char *b = saved_bytes(&len);
	size_t head = section_at(b, "HEAD"), layr = section_at(b, "LAYR"),
	       tran = section_at(b, "TRAN");
	free(b);
	b = edited(head + HEAD_LATENT, 0, &len);
	expect_refused(b, len, "bad model", "latent size 0");
	free(b);
	b = edited(layr + LAYR_N_ENC, 40, &len);
	expect_refused(b, len, "encoder layers is 40", "0 to 17"); /* 0: a pixelcnn's */
	free(b);
	b = edited(layr + LAYR_N_ENC, 0, &len); /* a vae without its encoder's entries */
	expect_refused(b, len, "bad model", NULL);
	free(b);
	b = edited(layr + LAYR_N_DEC, 0, &len);
	expect_refused(b, len, "bad model", "decoder layers");
	free(b);
	b = edited(tran + 72, 4, &len); /* the learning-rate schedule */
	expect_refused(b, len, "TRAN's lr schedule is 4", NULL);
	free(b);
}

/* The saved bytes with TRAN made delta bytes longer (zeros appended) or
 * shorter (its last bytes cut) and its minor version set, the sections after
 * it moved and the CRC made right again. */
static unsigned char *tran_resized(int delta, uint32_t minor, size_t *len)
{
	size_t old;
	unsigned char *b = saved_bytes(&old);
	unsigned char *tran = entry_of(b, "TRAN");
	uint64_t at = get_u64(tran + 16), size = get_u64(tran + 24), end = at + size;
	*len = old + delta;
	unsigned char *x = calloc(1, *len);
	memcpy(x, b, end + (delta < 0 ? delta : 0));
	memcpy(x + end + delta, b + end, old - end);
	uint32_t count = get_u32(b + OFF_COUNT);
	for (uint32_t i = 0; i < count; i++) {
		unsigned char *ent = x + PREAMBLE + ENTRY * i;
		if (get_u64(ent + 16) > at)
			put_u64(ent + 16, get_u64(ent + 16) + delta);
	}
	tran = entry_of(x, "TRAN");
	put_u64(tran + 24, size + delta);
	put_u32(tran + 4, 1 | minor << 16);
	fix_crc(x, *len);
	free(b);
	return x;
}

static vk_trainrec load_rec(const unsigned char *b, size_t len)
{
	const char *path = tmp_path("tran.vkm");
	cr_assert_eq(spit(path, b, len), 0);
	vk_model m;
	vk_trainrec t;
	vk_error e;
	cr_assert_eq(vk_model_load(path, &m, &t, NULL, &e), 0, "%s", e.msg);
	vk_model_free(&m);
	return t;
}

/* TRAN 1.1 adds the run's planned epochs (issue 27 item 5), 1.2 the
 * objective and its α, λ (issue 23): written as 1.2, those last; a 1.1 file
 * reads the objective as 0 (elbo), a 1.0 file the planned epochs too, the
 * rest unchanged; a newer minor's extra bytes are skipped; a 1.2 of another
 * size is refused. */
Test(modelfile, tran_minor_1_planned_epochs_2_objective_3_tc_weights)
{
	vk_trainrec want = make_rec(VK_VAE);
	size_t len;
	unsigned char *b = saved_bytes(&len);
	unsigned char *tran = entry_of(b, "TRAN");
	cr_assert_eq(get_u32(tran + 4), 1 | 3u << 16, "TRAN written as 1.3");
	uint64_t end = get_u64(tran + 16) + get_u64(tran + 24);
	cr_assert_eq(get_u64(tran + 24), 144);
	cr_assert_eq(get_u32(b + end - 24), 40, "planned epochs before the objective");
	cr_assert_eq(get_u32(b + end - 20), 2, "the objective (infovae)");
	float f[4];
	memcpy(f, b + end - 16, 16);
	cr_assert(f[0] == 0.25f && f[1] == 500.0f, "alpha %g lambda %g", f[0], f[1]);
	cr_assert(f[2] == 6.5f && f[3] == 1.5f, "beta %g gamma %g", f[2], f[3]);
	vk_trainrec got = load_rec(b, len);
	assert_same_rec(&want, &got);
	free(b);

	b = tran_resized(-8, 2, &len); /* as a 1.2 file */
	got = load_rec(b, len);
	cr_assert(got.objective == 2 && got.obj_beta == 0 && got.obj_gamma == 0);
	want.obj_beta = want.obj_gamma = 0;
	assert_same_rec(&want, &got);
	free(b);

	b = tran_resized(-20, 1, &len); /* as a 1.1 file */
	got = load_rec(b, len);
	cr_assert(got.objective == 0 && got.obj_alpha == 0 && got.obj_lambda == 0);
	want.objective = 0, want.obj_alpha = want.obj_lambda = 0;
	assert_same_rec(&want, &got);
	free(b);

	b = tran_resized(-24, 0, &len); /* as a 3.0 file before them */
	got = load_rec(b, len);
	cr_assert_eq(got.planned_epochs, 0);
	want.planned_epochs = 0;
	assert_same_rec(&want, &got);
	free(b);

	b = tran_resized(8, 4, &len); /* a later minor */
	got = load_rec(b, len);
	want = make_rec(VK_VAE);
	assert_same_rec(&want, &got);
	free(b);

	b = tran_resized(-4, 3, &len);
	expect_refused(b, len, "section TRAN is 140 bytes", "expected 144");
	free(b);

	b = saved_bytes(&len); /* an objective past the table */
	tran = entry_of(b, "TRAN");
	end = get_u64(tran + 16) + get_u64(tran + 24);
	put_u32(b + end - 20, 4);
	fix_crc(b, len);
	expect_refused(b, len, "objective is 4", NULL);
	free(b);
}

Test(modelfile, layer_rows_checked_against_the_architecture)
{
	size_t len;
	/* The first encoder entry's units (offset 4 of its row): 7 becomes 8, so
	 * its shape no longer matches what the file's architecture builds. */
	unsigned char *b = saved_bytes(&len);
	size_t row = section_at(b, "LAYR") + LAYR_FIRST + 24;
	cr_assert_eq(memcmp(b + row - 24, "dense\0", 6), 0);
	cr_assert_eq(get_u32(b + row + 4), 7);
	free(b);
	b = edited(row + 4, 8, &len);
	expect_refused(b, len, "does not match", NULL);
	free(b);
	/* A stored output shape that is not the built one. */
	b = edited(row + 16, 3, &len);
	expect_refused(b, len, "bad model", NULL);
	free(b);
	/* An unknown layer kind, refused by its name. */
	b = saved_bytes(&len);
	memcpy(b + row - 24, "densest", 7);
	fix_crc(b, len);
	expect_refused(b, len, "unknown kind 'densest'", NULL);
	free(b);
	/* A name that fills its 16 bytes (no NUL: found by the fuzzer), or has
	 * bytes after its NUL */
	b = saved_bytes(&len);
	memcpy(b + row - 24, "densedensedensed", 16);
	fix_crc(b, len);
	expect_refused(b, len, "kind name 'densedensedensed' is not padded", NULL);
	memcpy(b + row - 24, "dense\0x", 7);
	fix_crc(b, len);
	expect_refused(b, len, "kind name 'dense?x", "is not padded");
	free(b);
	/* A row longer than the section */
	b = edited(row - 8, 1000, &len);
	expect_refused(b, len, "bad model", "does not fit");
	free(b);
	/* A state the kind does not have */
	b = edited(row - 4, 2, &len);
	expect_refused(b, len, "layer 1 (dense) has 2 state values (its kind has 0)", NULL);
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

/* The 2.x reader (the fixtures): its rows go through the same row code. */
Test(modelfile, version_2_rows_checked)
{
	size_t len;
	unsigned char *b = slurp(repo_path("tests/data/v2.1-vae.vae"), &len);
	cr_assert(b);
	expect_loads(b, len);
	put_u32(b + 256, 9); /* the first row's kind */
	fix_crc(b, len);
	expect_refused(b, len, "layer 1 is of an unknown kind 9", NULL);
	put_u32(b + 256, 2);
	put_u32(b + 256 + 8, 1u << 30); /* its filters */
	fix_crc(b, len);
	expect_refused(b, len, "layer 1 (conv): a field out of range", NULL);
	put_u32(b + 256 + 8, 3); /* 2 filters stored: 3 do not match the parameters */
	fix_crc(b, len);
	expect_refused(b, len, "parameter count 6809 does not match", NULL);
	free(b);
}

/* The identity: stored, the same through a save, changed by any parameter
 * or by the architecture, and the same for a model read from an older version
 * as for its 3.0 form. */
Test(modelfile, identity)
{
	vk_model m, got;
	make_model(&m, VK_VAE, 1, 5);
	const char *path = tmp_path("id.vkm");
	vk_error e;
	uint64_t id = vk_model_identity(&m);
	cr_assert_eq(vk_model_save(path, &m, NULL, NULL, &e), 0, "%s", e.msg);
	size_t len;
	unsigned char *b = slurp(path, &len);
	cr_assert_eq(get_u64(b + section_at(b, "HEAD") + HEAD_IDENTITY), id);
	free(b);
	cr_assert_eq(vk_model_load(path, &got, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_model_identity(&got), id);
	vk_model_free(&got);
	m.params[m.n_params - 1] = nextafterf(m.params[m.n_params - 1], INFINITY);
	cr_assert_neq(vk_model_identity(&m), id, "a parameter's last bit");
	m.params[m.n_params - 1] = nextafterf(m.params[m.n_params - 1], -INFINITY);
	cr_assert_eq(vk_model_identity(&m), id);
	m.a.sigma = 0.5f;
	cr_assert_neq(vk_model_identity(&m), id, "the architecture");
	vk_model_free(&m);
	/* The 1.0 fixture and its 3.0 form */
	const char *v3 = tmp_path("v1-as-v3.vkm");
	vk_trainrec t;
	cr_assert_eq(vk_model_load(repo_path("tests/data/v1-vae.vae"), &m, &t, NULL, &e), 0, "%s",
		     e.msg);
	cr_assert_eq(vk_model_save(v3, &m, &t, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_model_load(v3, &got, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_model_identity(&got), vk_model_identity(&m));
	vk_model_free(&m);
	vk_model_free(&got);
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
