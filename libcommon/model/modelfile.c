#include "modelfile.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "afile.h"
#include "kinds.h"

/* Version 3.0 (formats/model.md): a table of typed, sized, versioned sections,
 * each section's fixed fields listed once (the tables below), which both the
 * writer and the reader walk. 1.0 and 2.x files are still read (read_v2). */
static const unsigned char MAGIC[8] = {0x93, 'V', 'K', 'M', 'D', '\r', '\n', 0x1a};
enum { MAJOR = 3, MINOR = 0, PREAMBLE = 16, ENTRY = 32, MAX_SECTIONS = 64 };
enum { V2_HEADER = 256, V2_ROW = 32 };
/* A layer entry in LAYR: the kind's name, the row's length and the state
 * count, then the kind's row of at most MAX_ROW u32. */
enum { NAME = 16, ENTRY_HEAD = NAME + 8, MAX_ROW = 16, MAX_STATE = 1 << 24 };
#define REQUIRED 1u

/* Little-endian field access on a byte buffer (memcpy: the host is LE; the
 * Makefile targets x86-64 and a static assert below keeps it honest). */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host required");
static void put(unsigned char *p, const void *v, size_t n) { memcpy(p, v, n); }
static uint16_t u16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static uint32_t u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t u64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static float f32(const unsigned char *p) { float v; memcpy(&v, p, 4); return v; }
static void put32(unsigned char *p, uint32_t v) { put(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { put(p, &v, 8); }

/* Everything the sections' fixed fields hold, in one place: each field in
 * the tables names its member here. */
typedef struct {
	vk_arch a;
	uint64_t identity;
	uint32_t n_enc, n_dec;     /* layer entries, with the head and the output layer */
	uint64_t n_params;
	vk_trainrec t;
	uint64_t adam_step;
	uint64_t opt_rng[4];
	vk_epoch_pos pos;
} filerec;

enum ftype { U32, U64, F32, F64 };
enum fcheck { ANY, RANGE, MASK, NONNEG }; /* RANGE lo … hi; MASK: bits of hi; NONNEG f32 ≥ 0 */
typedef struct {
	const char *name;
	unsigned char type, count, check, since; /* since: the section minor that added it */
	size_t at;                               /* offsetof(filerec, …) */
	uint32_t lo, hi;
} field;
#define TYPE_SIZE(type) ((type) == U32 || (type) == F32 ? 4 : 8)
/* A member whose size is not the field's fails to compile (a negative array
 * size): a struct changed under the table cannot go unnoticed. */
#define FIELD(name, type, count, member, check, lo, hi)                                     \
	FIELD_SINCE(0, name, type, count, member, check, lo, hi)
#define FIELD_SINCE(since, name, type, count, member, check, lo, hi)                        \
	{name, type, count, check, since,                                                    \
	 offsetof(filerec, member) +                                                          \
		 0 * sizeof(char[sizeof(((filerec *)0)->member) == TYPE_SIZE(type) * (count) ? 1 : -1]), \
	 lo, hi}

static size_t type_size(int type) { return TYPE_SIZE(type); }

static const field HEAD_F[] = {
	FIELD("kind", U32, 1, a.kind, ANY, 0, 0),
	FIELD("input rank", U32, 1, a.input_rank, ANY, 0, 0),
	FIELD("input dims", U32, 4, a.input_dims, ANY, 0, 0),
	FIELD("latent", U32, 1, a.latent, ANY, 0, 0),
	FIELD("likelihood", U32, 1, a.likelihood, ANY, 0, 0),
	FIELD("sigma", F32, 1, a.sigma, ANY, 0, 0),
	/* last: the identity hashes the fields before it */
	FIELD("identity", U64, 1, identity, ANY, 0, 0),
};
static const field CLAS_F[] = {
	FIELD("classes", U32, 1, a.classes, RANGE, 1, VK_MAX_CLASSES),
	FIELD("flags", U32, 1, a.label_scaled, MASK, 0, 1),
};
/* A latent kind's own settings (a vqvae's codebook); its parameters and
 * state follow the layers' in PARM and STAT. */
static const field LATN_F[] = {
	FIELD("codes", U32, 1, a.codes, ANY, 0, 0),
	FIELD("flags", U32, 1, a.codebook_ema, MASK, 0, 1),
	FIELD("commitment", F32, 1, a.commitment, ANY, 0, 0),
	FIELD("decay", F32, 1, a.decay, ANY, 0, 0),
};
static const field CATG_F[] = {
	FIELD("classes", U32, 1, a.codes, RANGE, 2, VK_MAX_CODES),
};
static const field LAYR_F[] = {
	FIELD("encoder layers", U32, 1, n_enc, RANGE, 0, VK_MAX_LAYERS + 1),
	FIELD("decoder layers", U32, 1, n_dec, RANGE, 1, VK_MAX_LAYERS + 1),
};
static const field PARM_F[] = {
	FIELD("count", U64, 1, n_params, ANY, 0, 0),
};
static const field OPTM_F[] = {
	FIELD("step", U64, 1, adam_step, ANY, 0, 0),
	FIELD("generator", U64, 4, opt_rng, ANY, 0, 0),
};
static const field TRAN_F[] = {
	FIELD("epochs", U64, 1, t.epochs, ANY, 0, 0),
	FIELD("records", U64, 1, t.records_seen, ANY, 0, 0),
	FIELD("seed", U64, 1, t.seed, ANY, 0, 0),
	FIELD("batch", U32, 1, t.batch, ANY, 0, 0),
	FIELD("optimizer", U32, 1, t.optimizer, RANGE, 0, VK_OPT_SGD),
	FIELD("lr", F32, 1, t.lr, ANY, 0, 0),
	FIELD("beta", F32, 1, t.beta, ANY, 0, 0),
	FIELD("train rec", F32, 1, t.train_rec, ANY, 0, 0),
	FIELD("train kl", F32, 1, t.train_kl, ANY, 0, 0),
	FIELD("test rec", F32, 1, t.test_rec, ANY, 0, 0),
	FIELD("test kl", F32, 1, t.test_kl, ANY, 0, 0),
	FIELD("kl warmup", U32, 1, t.kl_warmup, ANY, 0, 0),
	FIELD("kl cycles", U32, 1, t.kl_cycles, ANY, 0, 0),
	FIELD("free bits", F32, 1, t.free_bits, NONNEG, 0, 0),
	FIELD("iw train", U32, 1, t.iw_train, RANGE, 0, 100000),
	FIELD("lr schedule", U32, 1, t.lr_schedule, RANGE, 0, VK_LR_PLATEAU),
	FIELD("lr every", U32, 1, t.lr_every, ANY, 0, 0),
	FIELD("lr gamma", F32, 1, t.lr_gamma, ANY, 0, 0),
	FIELD("early stop", U32, 1, t.early_stop, ANY, 0, 0),
	FIELD("flags", U32, 1, t.flags, MASK, 0, VK_TRAIN_SIGMA_LEARNED),
	FIELD("lr now", F32, 1, t.lr_now, ANY, 0, 0),
	FIELD("best test", F32, 1, t.best_test, ANY, 0, 0),
	FIELD("best epoch", U32, 1, t.best_epoch, ANY, 0, 0),
	FIELD("plateau bad", U32, 1, t.plateau_bad, ANY, 0, 0),
	FIELD("log sigma", F32, 1, t.log_sigma, ANY, 0, 0),
	FIELD("log sigma m", F32, 1, t.log_sigma_m, ANY, 0, 0),
	FIELD("log sigma v", F32, 1, t.log_sigma_v, ANY, 0, 0),
	FIELD_SINCE(1, "planned epochs", U32, 1, t.planned_epochs, ANY, 0, 0),
	FIELD_SINCE(2, "objective", U32, 1, t.objective, RANGE, 0, 3),
	FIELD_SINCE(2, "objective alpha", F32, 1, t.obj_alpha, ANY, 0, 0),
	FIELD_SINCE(2, "objective lambda", F32, 1, t.obj_lambda, ANY, 0, 0),
	FIELD_SINCE(3, "objective beta", F32, 1, t.obj_beta, ANY, 0, 0),
	FIELD_SINCE(3, "objective gamma", F32, 1, t.obj_gamma, ANY, 0, 0),
};
static const field CKPT_F[] = {
	FIELD("batches", U64, 1, pos.batches, ANY, 0, 0),
	FIELD("rec sum", F64, 1, pos.rec_sum, ANY, 0, 0),
	FIELD("kl sum", F64, 1, pos.kl_sum, ANY, 0, 0),
	FIELD("epoch generator", U64, 4, pos.epoch_rng.s, ANY, 0, 0),
};

/* The sections, in the order they are written. */
enum { HEAD, CLAS, LATN, CATG, LAYR, STAT, PARM, OPTM, TRAN, CKPT, META, N_SECTIONS };
static const struct section {
	char tag[5];
	unsigned flags;     /* as written */
	unsigned minor;     /* as written: the newest field's since */
	const field *f;
	int nf;
} SECTIONS[N_SECTIONS] = {
	[HEAD] = {"HEAD", REQUIRED, 0, HEAD_F, sizeof HEAD_F / sizeof *HEAD_F},
	[CLAS] = {"CLAS", REQUIRED, 0, CLAS_F, sizeof CLAS_F / sizeof *CLAS_F},
	[LATN] = {"LATN", REQUIRED, 0, LATN_F, sizeof LATN_F / sizeof *LATN_F},
	[CATG] = {"CATG", REQUIRED, 0, CATG_F, sizeof CATG_F / sizeof *CATG_F},
	[LAYR] = {"LAYR", REQUIRED, 0, LAYR_F, sizeof LAYR_F / sizeof *LAYR_F},
	[STAT] = {"STAT", REQUIRED, 0, NULL, 0},
	[PARM] = {"PARM", REQUIRED, 0, PARM_F, sizeof PARM_F / sizeof *PARM_F},
	[OPTM] = {"OPTM", 0, 0, OPTM_F, sizeof OPTM_F / sizeof *OPTM_F},
	[TRAN] = {"TRAN", 0, 3, TRAN_F, sizeof TRAN_F / sizeof *TRAN_F},
	[CKPT] = {"CKPT", 0, 0, CKPT_F, sizeof CKPT_F / sizeof *CKPT_F},
	[META] = {"META", 0, 0, NULL, 0},
};

/* The bytes of a section's fixed fields of minor version minor. A variable
 * part follows the minor-0 fields (fixed_size(s, 0)): later ones go after it. */
static size_t fixed_size(int s, unsigned minor)
{
	size_t n = 0;
	for (int i = 0; i < SECTIONS[s].nf; i++)
		if (SECTIONS[s].f[i].since <= minor)
			n += type_size(SECTIONS[s].f[i].type) * SECTIONS[s].f[i].count;
	return n;
}

static void put_fields(int s, const filerec *r, unsigned char *p)
{
	for (int i = 0; i < SECTIONS[s].nf; i++) {
		const field *f = &SECTIONS[s].f[i];
		size_t n = type_size(f->type) * f->count;
		memcpy(p, (const char *)r + f->at, n);
		p += n;
	}
}

/* Fields the section's minor version lacks keep what r holds (0). */
static void get_fields(int s, unsigned minor, const unsigned char *p, filerec *r)
{
	for (int i = 0; i < SECTIONS[s].nf; i++) {
		const field *f = &SECTIONS[s].f[i];
		size_t n = type_size(f->type) * f->count;
		if (f->since > minor)
			continue;
		memcpy((char *)r + f->at, p, n);
		p += n;
	}
}

static int check_fields(int s, const filerec *r, const char *path, vk_error *e)
{
	for (int i = 0; i < SECTIONS[s].nf; i++) {
		const field *f = &SECTIONS[s].f[i];
		const char *at = (const char *)r + f->at;
		uint32_t v;
		float x;
		memcpy(&v, at, 4);
		memcpy(&x, at, 4);
		if (f->check == RANGE && (v < f->lo || v > f->hi))
			return vk_fail(e, "%s: bad model: %s's %s is %u (%u to %u)", path,
				       SECTIONS[s].tag, f->name, v, f->lo, f->hi);
		if (f->check == MASK && (v & ~f->hi))
			return vk_fail(e, "%s: bad model: %s's %s 0x%x has unknown bits (0x%x known)",
				       path, SECTIONS[s].tag, f->name, v, f->hi);
		if (f->check == NONNEG && !(x >= 0))
			return vk_fail(e, "%s: bad model: %s's %s is %g (at least 0)", path,
				       SECTIONS[s].tag, f->name, x);
	}
	return 0;
}

/* A layer's row in LAYR: words 1-7 of the kind's model-file row
 * (vk_layer_put_row: the activation, the kind's own three words, the output
 * shape); word 0, the kind's id, is stored as the kind's name instead. These
 * two are the only code here that knows a row. */
enum { ROW_WORDS = VK_LAYER_ROW_WORDS - 1 };

static int put_row(const vk_layer *l, uint32_t *row)
{
	uint32_t r[VK_LAYER_ROW_WORDS];
	vk_layer_put_row(l, r);
	memcpy(row, r + 1, sizeof(uint32_t) * ROW_WORDS);
	return ROW_WORDS;
}

static int get_row(vk_layer_spec *s, const vk_layer_ops *k, const uint32_t *row, uint32_t w,
		   int i, const char *path, vk_error *e)
{
	if (w != ROW_WORDS)
		return vk_fail(e, "%s: bad model: layer %d (%s) has a row of %u values (its kind "
			       "has %d)", path, i, k->name, w, ROW_WORDS);
	uint32_t r[VK_LAYER_ROW_WORDS] = {(uint32_t)k->id};
	memcpy(r + 1, row, sizeof(uint32_t) * ROW_WORDS);
	vk_error le;
	if (vk_layer_get_row(r, s, &le))
		return vk_fail(e, "%s: bad model: layer %d (%s): %s", path, i, k->name, le.msg);
	return 0;
}

/* The LAYR entry of a built layer into p (when not NULL); its size. */
static size_t put_entry(const vk_layer *l, unsigned char *p)
{
	uint32_t row[MAX_ROW];
	int w = put_row(l, row);
	if (p) {
		memset(p, 0, NAME);
		strncpy((char *)p, l->ops->name, NAME - 1);
		put32(p + NAME, (uint32_t)w);
		put32(p + NAME + 4, (uint32_t)vk_layer_state_all(l)); /* its body's too */
		memcpy(p + ENTRY_HEAD, row, 4 * (size_t)w);
	}
	return ENTRY_HEAD + 4 * (size_t)w;
}

static const vk_layer *layer_at(const vk_model *m, int i)
{
	return i < m->n_enc ? &m->enc[i] : &m->dec[i - m->n_enc];
}

/* The LAYR section of a built model into p (when not NULL); its size. */
static size_t put_layers(const vk_model *m, unsigned char *p)
{
	filerec r = {.n_enc = (uint32_t)m->n_enc, .n_dec = (uint32_t)m->n_dec};
	size_t n = fixed_size(LAYR, 0);
	if (p)
		put_fields(LAYR, &r, p);
	for (int i = 0; i < m->n_enc + m->n_dec; i++)
		n += put_entry(layer_at(m, i), p ? p + n : NULL);
	return n;
}

static void fill_model(filerec *r, const vk_model *m)
{
	r->a = m->a;
	r->a.label_scaled = vk_conditional(&m->a) && m->a.label_scaled;
	r->n_enc = (uint32_t)m->n_enc;
	r->n_dec = (uint32_t)m->n_dec;
	r->n_params = m->n_params;
}

/* A latent kind with parameters of its own has a LATN section. */
static int has_latn(const vk_arch *a)
{
	const vk_latent_kind *L = vk_latent_of(a);
	return L && L->n_params;
}

/* 64-bit FNV-1a. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

uint64_t vk_model_identity(const vk_model *m)
{
	filerec r;
	memset(&r, 0, sizeof r);
	fill_model(&r, m);
	unsigned char b[512], lay[8 + 2 * (VK_MAX_LAYERS + 1) * (ENTRY_HEAD + 4 * MAX_ROW)];
	_Static_assert(sizeof b >= 64, "HEAD and CLAS fit");
	uint64_t h = 0xcbf29ce484222325ull;
	put_fields(HEAD, &r, b);
	h = fnv(h, b, fixed_size(HEAD, 0) - 8); /* without the identity itself */
	if (vk_conditional(&m->a)) {
		put_fields(CLAS, &r, b);
		h = fnv(h, b, fixed_size(CLAS, 0));
	}
	if (has_latn(&m->a)) {
		put_fields(LATN, &r, b);
		h = fnv(h, b, fixed_size(LATN, 0));
	}
	h = fnv(h, lay, put_layers(m, lay));
	put_fields(PARM, &r, b);
	h = fnv(h, b, fixed_size(PARM, 0));
	h = fnv(h, m->params, 4 * m->n_params);
	return m->n_state ? fnv(h, m->state, 4 * m->n_state) : h; /* STAT's values */
}

int vk_model_write(const char *path, const vk_model *m, const vk_trainrec *t,
		   const vk_optstate *opt, const vk_epoch_pos *pos, vk_error *e)
{
	filerec r;
	memset(&r, 0, sizeof r);
	fill_model(&r, m);
	r.identity = vk_model_identity(m);
	if (t)
		r.t = *t;
	int has_opt = opt && opt->present;
	if (has_opt) {
		r.adam_step = opt->adam.t;
		memcpy(r.opt_rng, opt->rng.s, sizeof r.opt_rng);
	}
	if (pos)
		r.pos = *pos;
	size_t n = m->n_params, desc_len = t ? strlen(t->desc) : 0;
	/* Which sections, and their sizes */
	size_t size[N_SECTIONS] = {0};
	int present[N_SECTIONS] = {0}, count = 0;
	present[HEAD] = present[LAYR] = present[PARM] = 1;
	present[CLAS] = vk_conditional(&m->a);
	present[LATN] = has_latn(&m->a);
	present[CATG] = vk_lik_of(&m->a)->has_codes;
	present[STAT] = m->n_state > 0;
	present[OPTM] = has_opt;
	present[TRAN] = t != NULL;
	present[CKPT] = pos && pos->batches;
	present[META] = desc_len > 0;
	for (int s = 0; s < N_SECTIONS; s++)
		size[s] = fixed_size(s, SECTIONS[s].minor);
	size[LAYR] = put_layers(m, NULL);
	size[PARM] += 4 * n;
	size[STAT] = 4 * m->n_state;
	size[OPTM] += 8 * n;
	size[META] = desc_len;
	for (int s = 0; s < N_SECTIONS; s++)
		count += present[s];
	size_t total = PREAMBLE + ENTRY * (size_t)count + 4;
	for (int s = 0; s < N_SECTIONS; s++)
		total += present[s] ? size[s] : 0;
	unsigned char *buf = calloc(1, total);
	if (!buf)
		return vk_fail(e, "out of memory writing %s", path);
	memcpy(buf, MAGIC, 8);
	uint16_t ver[2] = {MAJOR, MINOR};
	put(buf + 8, ver, 4);
	put32(buf + 12, (uint32_t)count);
	unsigned char *ent = buf + PREAMBLE, *p = ent + ENTRY * (size_t)count;
	for (int s = 0; s < N_SECTIONS; s++) {
		if (!present[s])
			continue;
		memcpy(ent, SECTIONS[s].tag, 4);
		uint16_t sv[2] = {1, (uint16_t)SECTIONS[s].minor};
		put(ent + 4, sv, 4);
		put32(ent + 8, SECTIONS[s].flags);
		put64(ent + 16, (uint64_t)(p - buf));
		put64(ent + 24, size[s]);
		put_fields(s, &r, p);
		unsigned char *var = p + fixed_size(s, SECTIONS[s].minor);
		if (s == LAYR)
			put_layers(m, p);
		else if (s == PARM)
			memcpy(var, m->params, 4 * n);
		else if (s == STAT)
			memcpy(var, m->state, 4 * m->n_state);
		else if (s == OPTM) {
			memcpy(var, opt->m, 4 * n);
			memcpy(var + 4 * n, opt->v, 4 * n);
		} else if (s == META)
			memcpy(var, t->desc, desc_len);
		p += size[s];
		ent += ENTRY;
	}
	put32(p, (uint32_t)crc32(0L, buf, (uInt)(total - 4)));
	int rc = vk_afile_write(path, buf, total, e);
	free(buf);
	return rc;
}

int vk_model_save(const char *path, const vk_model *m, const vk_trainrec *t,
		  const vk_optstate *opt, vk_error *e)
{
	return vk_model_write(path, m, t, opt, NULL, e);
}

/* 2.x: the size the header implies. */
static size_t body_size(size_t layers, size_t desc_len, size_t n, int has_opt)
{
	size_t s = V2_HEADER + V2_ROW * layers + desc_len + 4 * n + 4;
	if (has_opt)
		s += 8 + 8 * n + 32;
	return s;
}

/* The fields 1.0 and 2.0 share. */
static void parse_common(const unsigned char *h, vk_arch *a)
{
	memset(a, 0, sizeof *a);
	a->kind = (int)u32(h + 16);
	uint32_t dims[4], rank = u32(h + 20);
	memcpy(dims, h + 24, 16);
	/* input_size from the dims; a rank out of range stays for vk_arch_check */
	vk_arch_set_input(a, rank <= 4 ? (int)rank : 0, dims);
	a->input_rank = (int)rank;
	a->latent = (int)u32(h + 40);
	a->classes = (int)u32(h + 44);
	a->likelihood = (int)u32(h + 88);
	a->sigma = f32(h + 92);
}

/* 1.0: hidden widths (encoder order) and one activation; the decoder mirrors. */
static int parse_arch_v1(const unsigned char *h, vk_arch *a, const char *path, vk_error *e)
{
	parse_common(h, a);
	uint32_t n = u32(h + 48), act = u32(h + 84);
	if (n > 8 || act > VK_TANH)
		return vk_fail(e, "%s: bad model: %u hidden layers or activation %u", path, n, act);
	int widths[8];
	for (uint32_t i = 0; i < n; i++)
		widths[i] = (int)u32(h + 52 + 4 * i);
	vk_arch_mlp(a, widths, (int)n, (int)act);
	return 0;
}

/* 2.x numbered the layer kinds; 3.0 names them. */
static const char *const V2_KINDS[] = {NULL, "dense", "conv", "deconv"};

/* 2.x: the layer counts in the header, each layer a row of eight u32: the
 * kind's number, then the kind's row as 3.0 stores it (get_row, put_row);
 * the last row of each list is the head or output layer the model adds,
 * checked on build. */
static int parse_arch_v2(const unsigned char *h, const unsigned char *rows, vk_arch *a,
			 const char *path, vk_error *e)
{
	parse_common(h, a);
	uint32_t ne = u32(h + 48), nd = u32(h + 52);
	a->n_enc = (int)ne - 1;
	a->n_dec = (int)nd - 1;
	for (uint32_t i = 0; i + 1 < ne + nd; i++) {
		if (i + 1 == ne)
			continue;
		uint32_t r[8];
		memcpy(r, rows + V2_ROW * i, sizeof r);
		const vk_layer_ops *kind =
			r[0] >= 1 && r[0] <= 3 ? vk_layer_kind_by_name(V2_KINDS[r[0]]) : NULL;
		if (!kind)
			return vk_fail(e, "%s: bad model: layer %u is of an unknown kind %u", path, i + 1,
				       r[0]);
		vk_layer_spec *s = i < ne ? &a->enc[i] : &a->dec[i - ne];
		if (get_row(s, kind, r + 1, ROW_WORDS, (int)i + 1, path, e))
			return -1;
	}
	return 0;
}

/* The 2.x number of a built layer's kind. */
static uint32_t v2_kind(const vk_layer *l)
{
	for (uint32_t k = 1; k <= 3; k++)
		if (!strcmp(V2_KINDS[k], l->ops->name))
			return k;
	return 0;
}

/* Every stored row equals the one the architecture builds. */
static int check_rows(const vk_model *m, const unsigned char *rows, const char *path, vk_error *e)
{
	for (int i = 0; i < m->n_enc + m->n_dec; i++) {
		uint32_t want[8] = {v2_kind(layer_at(m, i))}, got[8];
		if (put_row(layer_at(m, i), want + 1) != ROW_WORDS || !want[0])
			return vk_fail(e, "%s: bad model: layer %d has no 2.x row", path, i + 1);
		memcpy(got, rows + V2_ROW * i, sizeof got);
		if (memcmp(want, got, sizeof want))
			return vk_fail(e, "%s: bad model: layer %d's row does not match its "
					  "architecture", path, i + 1);
	}
	return 0;
}

/* Versions 1.0 and 2.x: a fixed 256-byte header with every field at its own
 * offset, then (2.x) the layer table, the description, the parameters, the
 * optimiser state and the CRC. Read only. */
static int read_v2(FILE *f, const char *path, vk_model *m, vk_trainrec *t, vk_optstate *opt,
		   vk_epoch_pos *pos, vk_error *e)
{
	unsigned char h[V2_HEADER];
	size_t got = fread(h, 1, V2_HEADER, f);
	int rc = -1;
	unsigned char *buf = NULL;
	struct stat st;
	vk_arch a;
	if (got < V2_HEADER && ferror(f)) {
		vk_fail(e, "cannot read model %s:", path);
		goto out;
	}
	if (got < V2_HEADER) {
		vk_fail(e, "%s: truncated model header (%zu of %d bytes)", path, got, V2_HEADER);
		goto out;
	}
	uint16_t ver[2];
	memcpy(ver, h + 8, 4);
	if (u32(h + 12) != V2_HEADER) {
		vk_fail(e, "%s: bad model header size %u", path, u32(h + 12));
		goto out;
	}
	size_t layers = 0;
	unsigned char rows[V2_ROW * 2 * (VK_MAX_LAYERS + 1)];
	if (ver[0] == 1) {
		if (parse_arch_v1(h, &a, path, e))
			goto out;
	} else {
		uint32_t ne = u32(h + 48), nd = u32(h + 52);
		if (ne < 1 || nd < 1 || ne > VK_MAX_LAYERS + 1 || nd > VK_MAX_LAYERS + 1) {
			vk_fail(e, "%s: bad model: %u encoder and %u decoder layers (1 to %d each)",
				path, ne, nd, VK_MAX_LAYERS + 1);
			goto out;
		}
		layers = ne + nd;
		if (fread(rows, V2_ROW, layers, f) != layers) {
			vk_fail(e, "%s: truncated layer table", path);
			goto out;
		}
		if (parse_arch_v2(h, rows, &a, path, e))
			goto out;
	}
	vk_error ae;
	if (vk_model_build(m, &a, &ae)) {
		vk_fail(e, "%s: bad model: %s", path, ae.msg);
		goto out;
	}
	size_t desc_len = u32(h + 152), n = m->n_params;
	uint32_t flags = u32(h + 156);
	int has_opt = flags & 1;
	/* bit 1 (2.1): a cvae's one-hot entry is √C; files without it keep 1 */
	a.label_scaled = (flags >> 1) & 1;
	if (desc_len > VK_DESC_MAX) {
		vk_fail(e, "%s: bad description length %zu (at most %d)", path, desc_len, VK_DESC_MAX);
		goto out;
	}
	if ((flags & ~3u) || (a.label_scaled && !vk_conditional(&a))) {
		vk_fail(e, "%s: bad model: flags 0x%x (bit 1 only in a cvae, bits 2-31 unused)",
			path, flags);
		goto out;
	}
	if (u64(h + 160) != n) {
		vk_fail(e, "%s: parameter count %llu does not match the architecture (%zu)", path,
			(unsigned long long)u64(h + 160), n);
		goto out;
	}
	size_t size = body_size(layers, desc_len, n, has_opt);
	if (fstat(fileno(f), &st) || (size_t)st.st_size != size) {
		vk_fail(e, "%s: model file is %lld bytes, expected %zu (truncated or corrupt)",
			path, (long long)st.st_size, size);
		goto out;
	}
	/* Only now, with every count checked against the file's size, allocate. */
	if (vk_model_alloc(m, &a, &ae)) {
		vk_fail(e, "%s: %s", path, ae.msg);
		goto out;
	}
	buf = malloc(size);
	if (!buf) {
		vk_fail(e, "%s: out of memory (%zu bytes)", path, size);
		goto out;
	}
	memcpy(buf, h, V2_HEADER);
	memcpy(buf + V2_HEADER, rows, V2_ROW * layers);
	size_t head = V2_HEADER + V2_ROW * layers;
	if (fread(buf + head, 1, size - head, f) != size - head) {
		vk_fail(e, "%s: read error:", path);
		goto out;
	}
	if (crc32(0L, buf, (uInt)(size - 4)) != u32(buf + size - 4)) {
		vk_fail(e, "%s: checksum mismatch: the model file is corrupt", path);
		goto out;
	}
	/* The training record's options (2.0; zero in files written before them). */
	if (ver[0] == 2 && (u32(h + 72) > VK_LR_PLATEAU || (u32(h + 224) & ~1u) ||
				u32(h + 68) > 100000 || !(f32(h + 64) >= 0.0f))) {
		vk_fail(e, "%s: bad model: a training-record option is out of range", path);
		goto out;
	}
	/* After the checksum: a corrupt file is reported as one. */
	if (layers && check_rows(m, rows, path, e))
		goto out;
	const unsigned char *p = buf + head;
	if (pos) {
		memset(pos, 0, sizeof *pos);
		pos->batches = u64(h + 168);
		memcpy(&pos->rec_sum, h + 176, 8);
		memcpy(&pos->kl_sum, h + 184, 8);
		memcpy(pos->epoch_rng.s, h + 192, 32);
	}
	if (t) {
		memset(t, 0, sizeof *t);
		t->epochs = u64(h + 96);
		t->records_seen = u64(h + 104);
		t->seed = u64(h + 112);
		t->batch = (int)u32(h + 120);
		t->lr = f32(h + 124);
		t->beta = f32(h + 128);
		t->optimizer = (int)u32(h + 132);
		t->train_rec = f32(h + 136);
		t->train_kl = f32(h + 140);
		t->test_rec = f32(h + 144);
		t->test_kl = f32(h + 148);
		if (ver[0] == 2) { /* reserved in 1.0 */
			t->kl_warmup = u32(h + 56);
			t->kl_cycles = u32(h + 60);
			t->free_bits = f32(h + 64);
			t->iw_train = u32(h + 68);
			t->lr_schedule = u32(h + 72);
			t->lr_every = u32(h + 76);
			t->lr_gamma = f32(h + 80);
			t->early_stop = u32(h + 84);
			t->flags = u32(h + 224);
			t->lr_now = f32(h + 228);
			t->best_test = f32(h + 232);
			t->best_epoch = u32(h + 236);
			t->plateau_bad = u32(h + 240);
			t->log_sigma = f32(h + 244);
			t->log_sigma_m = f32(h + 248);
			t->log_sigma_v = f32(h + 252);
		}
		memcpy(t->desc, p, desc_len);
		t->desc[desc_len] = 0;
	}
	p += desc_len;
	memcpy(m->params, p, 4 * n);
	p += 4 * n;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(m->params[i])) {
			vk_fail(e, "%s: parameter %zu is not finite", path, i);
			goto out;
		}
	if (opt) {
		if (has_opt) {
			opt->m = malloc(4 * n);
			opt->v = malloc(4 * n);
			if (!opt->m || !opt->v) {
				vk_fail(e, "%s: out of memory for optimiser state", path);
				goto out;
			}
			opt->present = 1;
			vk_adam_init(&opt->adam, t ? t->lr : 1e-3f);
			opt->adam.t = u64(p);
			memcpy(opt->m, p + 8, 4 * n);
			memcpy(opt->v, p + 8 + 4 * n, 4 * n);
			memcpy(opt->rng.s, p + 8 + 8 * n, 32);
		}
	}
	rc = 0;
out:
	free(buf);
	return rc;
}


/* One entry of the section table, as read. */
typedef struct {
	char tag[5];
	uint16_t major, minor;
	uint32_t flags;
	uint64_t off, size;
	int kind;          /* a SECTIONS index, or -1 when unknown */
} entry;

/* A tag for a message: printable ASCII as it is, anything else as '?'. */
static const char *tag_str(const unsigned char *t, char *out)
{
	for (int i = 0; i < 4; i++)
		out[i] = t[i] >= 0x20 && t[i] < 0x7f ? (char)t[i] : '?';
	out[4] = 0;
	return out;
}

static int pread_all(int fd, void *dst, uint64_t n, uint64_t off, const char *path, vk_error *e)
{
	unsigned char *d = dst;
	while (n) {
		ssize_t got = pread(fd, d, n > (1u << 30) ? (1u << 30) : (size_t)n, (off_t)off);
		if (got <= 0)
			return got < 0 ? vk_fail(e, "%s: read error:", path)
				       : vk_fail(e, "%s: the file shrank while being read", path);
		d += got, n -= (uint64_t)got, off += (uint64_t)got;
	}
	return 0;
}

/* The CRC-32 of the file's first n bytes, read in blocks. */
static int file_crc(int fd, uint64_t n, uint32_t *crc, const char *path, vk_error *e)
{
	unsigned char b[1 << 16];
	uLong c = crc32(0L, Z_NULL, 0);
	for (uint64_t at = 0; at < n;) {
		size_t k = n - at < sizeof b ? (size_t)(n - at) : sizeof b;
		if (pread_all(fd, b, k, at, path, e))
			return -1;
		c = crc32(c, b, (uInt)k);
		at += k;
	}
	*crc = (uint32_t)c;
	return 0;
}

/* The table: every entry's flags, bounds, overlaps and tags, checked. */
static int read_table(int fd, uint64_t fsize, const unsigned char *pre, entry *ent, int *count,
		      const char *path, vk_error *e)
{
	uint32_t S = u32(pre + 12);
	if (S < 1 || S > MAX_SECTIONS)
		return vk_fail(e, "%s: bad model: %u sections (1 to %d)", path, S, MAX_SECTIONS);
	uint64_t table_end = PREAMBLE + (uint64_t)ENTRY * S;
	if (table_end + 4 > fsize)
		return vk_fail(e, "%s: truncated section table: %u sections need %llu bytes, the "
			       "file has %llu (truncated or corrupt)", path, S,
			       (unsigned long long)(table_end + 4), (unsigned long long)fsize);
	unsigned char t[ENTRY * MAX_SECTIONS];
	if (pread_all(fd, t, ENTRY * S, PREAMBLE, path, e))
		return -1;
	for (uint32_t i = 0; i < S; i++) {
		const unsigned char *p = t + ENTRY * i;
		entry *x = &ent[i];
		char tag[5];
		tag_str(p, tag);
		memcpy(x->tag, tag, 5);
		x->major = u16(p + 4);
		x->minor = u16(p + 6);
		x->flags = u32(p + 8);
		x->off = u64(p + 16);
		x->size = u64(p + 24);
		x->kind = -1;
		for (int s = 0; s < N_SECTIONS; s++)
			if (!memcmp(p, SECTIONS[s].tag, 4))
				x->kind = s;
		if ((x->flags & ~REQUIRED) || u32(p + 12))
			return vk_fail(e, "%s: bad model: section %s has unknown flags 0x%x or a "
				       "nonzero reserved field", path, tag, x->flags);
		if (x->off > UINT64_MAX - x->size)
			return vk_fail(e, "%s: bad model: section %s's offset %llu plus its size %llu "
				       "overflows", path, tag, (unsigned long long)x->off,
				       (unsigned long long)x->size);
		if (x->off < table_end || x->off + x->size > fsize - 4)
			return vk_fail(e, "%s: section %s (bytes %llu to %llu) lies outside the "
				       "sections' part of the file (%llu to %llu): truncated or "
				       "corrupt", path, tag, (unsigned long long)x->off,
				       (unsigned long long)(x->off + x->size),
				       (unsigned long long)table_end, (unsigned long long)(fsize - 4));
		for (uint32_t j = 0; j < i; j++)
			if (!memcmp(p, t + ENTRY * j, 4))
				return vk_fail(e, "%s: bad model: section %s appears twice", path, tag);
	}
	/* In the order of their offsets the sections tile the space between the
	 * table and the CRC: no overlap, no gap. */
	int order[MAX_SECTIONS];
	for (uint32_t i = 0; i < S; i++) {
		int j = (int)i;
		for (; j > 0 && ent[order[j - 1]].off > ent[i].off; j--)
			order[j] = order[j - 1];
		order[j] = (int)i;
	}
	uint64_t at = table_end;
	for (uint32_t i = 0; i < S; i++) {
		const entry *x = &ent[order[i]];
		if (x->off < at)
			return vk_fail(e, "%s: bad model: sections %s and %s overlap", path,
				       ent[order[i - 1]].tag, x->tag);
		if (x->off > at)
			return vk_fail(e, "%s: bad model: %llu bytes before section %s belong to no "
				       "section", path, (unsigned long long)(x->off - at), x->tag);
		at = x->off + x->size;
	}
	if (at != fsize - 4)
		return vk_fail(e, "%s: bad model: %llu bytes after the last section belong to no "
			       "section", path, (unsigned long long)(fsize - 4 - at));
	*count = (int)S;
	return 0;
}

/* A fixed-fields section into r: exactly its fields at its minor (at least
 * them at a newer minor, whose extra fields are skipped), plus var bytes of
 * variable part that follow them. */
static int read_fixed(int fd, const entry *x, uint64_t var, filerec *r, const char *path,
		      vk_error *e)
{
	unsigned known = SECTIONS[x->kind].minor, minor = x->minor > known ? known : x->minor;
	size_t want = fixed_size(x->kind, minor);
	if (x->minor <= known ? x->size != want + var : x->size < want + var)
		return vk_fail(e, "%s: bad model: section %s is %llu bytes, expected %llu", path,
			       x->tag, (unsigned long long)x->size,
			       (unsigned long long)(want + var));
	unsigned char b[512];
	_Static_assert(sizeof TRAN_F / sizeof *TRAN_F * 8 <= sizeof b, "the largest section fits");
	if (pread_all(fd, b, want, x->off, path, e))
		return -1;
	get_fields(x->kind, minor, b, r);
	return 0;
}

/* LAYR's entries into the architecture: the user's layers of each list (the
 * head and output entries are checked against the rebuilt model later). */
static int read_layers(const unsigned char *b, size_t size, vk_arch *a, const char *path,
		       vk_error *e)
{
	uint32_t ne = u32(b), nd = u32(b + 4);
	size_t at = fixed_size(LAYR, 0);
	/* a map kind's encoder has no head: its last entry is a user layer; an
	 * autoregressive model has no encoder at all, not even a head */
	const vk_latent_kind *L = vk_latent_of(a);
	uint32_t head = (L && L->map) || ne == 0 ? 0 : 1;
	if (!head && ne > VK_MAX_LAYERS)
		return vk_fail(e, "%s: bad model: %u encoder layers (at most %d)", path, ne,
			       VK_MAX_LAYERS);
	a->n_enc = (int)(ne - head);
	a->n_dec = (int)nd - 1;
	for (uint32_t i = 0; i < ne + nd; i++) {
		if (size - at < ENTRY_HEAD)
			return vk_fail(e, "%s: bad model: the layer section ends inside layer %u", path,
				       i + 1);
		const unsigned char *p = b + at;
		char name[NAME + 1] = {0}; /* printable for messages below */
		memcpy(name, p, NAME);
		size_t len = strnlen(name, NAME), pad = len;
		while (pad < NAME && !name[pad])
			pad++;
		if (len == NAME || pad < NAME) {
			for (size_t c = 0; c < NAME; c++)
				if (name[c] < 0x20 || name[c] >= 0x7f)
					name[c] = '?';
			return vk_fail(e, "%s: bad model: layer %u's kind name '%s' is not padded "
				       "with NUL bytes", path, i + 1, name);
		}
		uint32_t w = u32(p + NAME);
		if (w > MAX_ROW || size - at - ENTRY_HEAD < 4 * (size_t)w)
			return vk_fail(e, "%s: bad model: layer %u's row of %u values does not fit "
				       "the layer section", path, i + 1, w);
		const vk_layer_ops *kind = len ? vk_layer_kind_by_name(name) : NULL;
		if (!kind) {
			for (size_t c = 0; c < len; c++)
				if (name[c] < 0x20 || name[c] >= 0x7f)
					name[c] = '?';
			return vk_fail(e, "%s: bad model: layer %u is of an unknown kind '%s' (this "
				       "vaekit knows %s)", path, i + 1, name, vk_layer_kinds_names());
		}
		at += ENTRY_HEAD + 4 * (size_t)w;
		if ((head && i + 1 == ne) || i + 1 == ne + nd)
			continue; /* the head, the output layer: rebuilt from the model */
		uint32_t row[MAX_ROW];
		memcpy(row, p + ENTRY_HEAD, 4 * (size_t)w);
		vk_layer_spec *s = i < ne ? &a->enc[i] : &a->dec[i - ne];
		if (get_row(s, kind, row, w, (int)i + 1, path, e))
			return -1; /* the state count is checked against the rebuilt layer's */
	}
	if (at != size)
		return vk_fail(e, "%s: bad model: %zu bytes after the last layer of the layer "
			       "section", path, size - at);
	return 0;
}

static int read_v3(FILE *f, const unsigned char *pre, const char *path, vk_model *m,
		   vk_trainrec *t, vk_optstate *opt, vk_epoch_pos *pos, vk_error *e)
{
	int fd = fileno(f);
	struct stat st;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode))
		return vk_fail(e, "%s: not a regular file", path);
	uint64_t fsize = (uint64_t)st.st_size;
	entry ent[MAX_SECTIONS];
	int S = 0, at[N_SECTIONS];
	for (int s = 0; s < N_SECTIONS; s++)
		at[s] = -1;
	if (read_table(fd, fsize, pre, ent, &S, path, e))
		return -1;
	for (int i = 0; i < S; i++) {
		if (ent[i].kind < 0 && (ent[i].flags & REQUIRED))
			return vk_fail(e, "%s: unknown required section %s (version %u.%u): written "
				       "by a newer vaekit?", path, ent[i].tag, ent[i].major,
				       ent[i].minor);
		if (ent[i].kind < 0)
			continue; /* an optional section this version does not know */
		if (ent[i].major != 1)
			return vk_fail(e, "%s: section %s version %u.%u is not supported (this vaekit "
				       "reads 1.x)", path, ent[i].tag, ent[i].major, ent[i].minor);
		at[ent[i].kind] = i;
	}
	static const int needed[] = {HEAD, LAYR, PARM};
	for (size_t i = 0; i < sizeof needed / sizeof *needed; i++)
		if (at[needed[i]] < 0)
			return vk_fail(e, "%s: bad model: no %s section", path,
				       SECTIONS[needed[i]].tag);
	uint32_t crc, stored;
	unsigned char c4[4];
	if (file_crc(fd, fsize - 4, &crc, path, e) || pread_all(fd, c4, 4, fsize - 4, path, e))
		return -1;
	stored = u32(c4);
	if (crc != stored)
		return vk_fail(e, "%s: checksum mismatch: the model file is corrupt", path);

	/* The architecture: HEAD, CLAS, LAYR; the model built from them. */
	filerec r;
	memset(&r, 0, sizeof r);
	if (read_fixed(fd, &ent[at[HEAD]], 0, &r, path, e))
		return -1;
	r.a.label_scaled = 0;
	uint32_t dims[4];
	memcpy(dims, r.a.input_dims, sizeof dims);
	int rank = r.a.input_rank;
	vk_arch_set_input(&r.a, rank >= 1 && rank <= 4 ? rank : 0, dims);
	r.a.input_rank = rank;
	if (vk_conditional(&r.a)) {
		if (at[CLAS] < 0)
			return vk_fail(e, "%s: bad model: a cvae without a CLAS section", path);
		if (read_fixed(fd, &ent[at[CLAS]], 0, &r, path, e) || check_fields(CLAS, &r, path, e))
			return -1;
	} else if (at[CLAS] >= 0)
		return vk_fail(e, "%s: bad model: a CLAS section in a %s", path,
			       vk_kind_name(r.a.kind));
	if (has_latn(&r.a)) {
		if (at[LATN] < 0)
			return vk_fail(e, "%s: bad model: a %s without a LATN section", path,
				       vk_kind_name(r.a.kind));
		if (read_fixed(fd, &ent[at[LATN]], 0, &r, path, e) || check_fields(LATN, &r, path, e))
			return -1;
	} else if (at[LATN] >= 0)
		return vk_fail(e, "%s: bad model: a LATN section in a %s", path,
			       vk_kind_name(r.a.kind));
	const vk_lik_kind *lik = vk_lik_of(&r.a);
	if (lik && lik->has_codes) {
		if (at[CATG] < 0)
			return vk_fail(e, "%s: bad model: a %s likelihood without a CATG section", path,
				       lik->name);
		if (read_fixed(fd, &ent[at[CATG]], 0, &r, path, e) || check_fields(CATG, &r, path, e))
			return -1;
	} else if (at[CATG] >= 0)
		return vk_fail(e, "%s: bad model: a CATG section with a %s likelihood", path,
			       vk_likelihood_name(r.a.likelihood));
	const entry *lx = &ent[at[LAYR]];
	unsigned char lay[8 + 2 * (VK_MAX_LAYERS + 1) * (ENTRY_HEAD + 4 * MAX_ROW)];
	if (lx->size < fixed_size(LAYR, 0) || lx->size > sizeof lay)
		return vk_fail(e, "%s: bad model: a layer section of %llu bytes (%zu to %zu)", path,
			       (unsigned long long)lx->size, fixed_size(LAYR, 0), sizeof lay);
	if (pread_all(fd, lay, lx->size, lx->off, path, e))
		return -1;
	get_fields(LAYR, 0, lay, &r);
	if (check_fields(LAYR, &r, path, e) || read_layers(lay, lx->size, &r.a, path, e))
		return -1;
	vk_error ae;
	if (vk_model_build(m, &r.a, &ae))
		return vk_fail(e, "%s: bad model: %s", path, ae.msg);
	/* Every layer entry equals the rebuilt model's. */
	if (r.n_enc != (uint32_t)m->n_enc || r.n_dec != (uint32_t)m->n_dec ||
	    put_layers(m, NULL) != lx->size)
		return vk_fail(e, "%s: bad model: the layer section does not match the model its "
			       "layers build", path);
	for (int i = 0, off = (int)fixed_size(LAYR, 0); i < m->n_enc + m->n_dec; i++) {
		unsigned char want[ENTRY_HEAD + 4 * MAX_ROW];
		size_t n = put_entry(layer_at(m, i), want);
		uint32_t st = u32(lay + off + NAME + 4);
		if (st != u32(want + NAME + 4))
			return vk_fail(e, "%s: bad model: layer %d (%s) has %u state values (its kind "
				       "has %u)", path, i + 1, vk_layer_kind_name(layer_at(m, i)->spec.kind),
				       st, u32(want + NAME + 4));
		if (memcmp(want, lay + off, n))
			return vk_fail(e, "%s: bad model: layer %d's entry does not match its "
				       "architecture", path, i + 1);
		off += (int)n;
	}
	/* Sizes from the parameter count, checked before allocating. */
	size_t n = m->n_params;
	if (read_fixed(fd, &ent[at[PARM]], 4 * (uint64_t)n, &r, path, e))
		return -1;
	if (r.n_params != n)
		return vk_fail(e, "%s: parameter count %llu does not match the architecture (%zu)",
			       path, (unsigned long long)r.n_params, n);
	if (m->n_state && at[STAT] < 0)
		return vk_fail(e, "%s: bad model: its layers have %zu state values but there is no "
			       "STAT section", path, m->n_state);
	if (at[STAT] >= 0 && read_fixed(fd, &ent[at[STAT]], 4 * (uint64_t)m->n_state, &r, path, e))
		return -1;
	if (at[OPTM] >= 0 && read_fixed(fd, &ent[at[OPTM]], 8 * (uint64_t)n, &r, path, e))
		return -1;
	if (at[TRAN] >= 0 && (read_fixed(fd, &ent[at[TRAN]], 0, &r, path, e) ||
			      check_fields(TRAN, &r, path, e)))
		return -1;
	if (at[CKPT] >= 0 && read_fixed(fd, &ent[at[CKPT]], 0, &r, path, e))
		return -1;
	if (at[META] >= 0 && ent[at[META]].size > VK_DESC_MAX)
		return vk_fail(e, "%s: bad description length %llu (at most %d)", path,
			       (unsigned long long)ent[at[META]].size, VK_DESC_MAX);
	char desc[VK_DESC_MAX + 1] = "";
	if (at[META] >= 0) {
		size_t len = (size_t)ent[at[META]].size;
		if (pread_all(fd, desc, len, ent[at[META]].off, path, e))
			return -1;
		desc[len] = 0;
	}

	/* Only now, with every size checked against the file, allocate. */
	r.a.label_scaled = vk_conditional(&r.a) ? r.a.label_scaled : 0;
	if (vk_model_alloc(m, &r.a, &ae))
		return vk_fail(e, "%s: %s", path, ae.msg);
	const entry *px = &ent[at[PARM]];
	if (pread_all(fd, m->params, 4 * (uint64_t)n, px->off + fixed_size(PARM, 0), path, e))
		return -1;
	for (size_t i = 0; i < n; i++)
		if (!isfinite(m->params[i]))
			return vk_fail(e, "%s: parameter %zu is not finite", path, i);
	if (m->n_state) {
		if (pread_all(fd, m->state, 4 * (uint64_t)m->n_state, ent[at[STAT]].off, path, e))
			return -1;
		for (size_t i = 0; i < m->n_state; i++)
			if (!isfinite(m->state[i]))
				return vk_fail(e, "%s: bad model: layer state %zu is not finite", path, i);
	}
	/* The stored identity is not recomputed here: a hash pass over every
	 * parameter would slow every program's start; the CRC protects it. */
	if (t) {
		*t = r.t;
		memcpy(t->desc, desc, sizeof t->desc);
	}
	if (pos)
		*pos = r.pos;
	if (opt && at[OPTM] >= 0) {
		opt->m = malloc(4 * n);
		opt->v = malloc(4 * n);
		if (!opt->m || !opt->v)
			return vk_fail(e, "%s: out of memory for optimiser state", path);
		uint64_t o = ent[at[OPTM]].off + fixed_size(OPTM, 0);
		if (pread_all(fd, opt->m, 4 * (uint64_t)n, o, path, e) ||
		    pread_all(fd, opt->v, 4 * (uint64_t)n, o + 4 * (uint64_t)n, path, e))
			return -1;
		opt->present = 1;
		vk_adam_init(&opt->adam, t ? r.t.lr : 1e-3f);
		opt->adam.t = r.adam_step;
		memcpy(opt->rng.s, r.opt_rng, sizeof opt->rng.s);
	}
	return 0;
}

int vk_model_read(const char *path, vk_model *m, vk_trainrec *t, vk_optstate *opt,
		  vk_epoch_pos *pos, vk_error *e)
{
	memset(m, 0, sizeof *m);
	if (opt) /* the failure path frees opt->m and opt->v, whatever stage failed */
		memset(opt, 0, sizeof *opt);
	FILE *f = fopen(path, "rb");
	if (!f)
		return vk_fail(e, "cannot open model %s:", path);
	unsigned char pre[PREAMBLE];
	size_t got = fread(pre, 1, PREAMBLE, f);
	int rc = -1;
	uint16_t ver[2];
	memcpy(ver, pre + 8, 4);
	if (got < PREAMBLE && ferror(f)) /* a directory, an I/O error */
		vk_fail(e, "cannot read model %s:", path);
	else if (got < 8 || memcmp(pre, MAGIC, 8))
		vk_fail(e, "%s: not a vaekit model (bad magic)", path);
	else if (got < PREAMBLE)
		vk_fail(e, "%s: truncated model header (%zu bytes)", path, got);
	else if (ver[0] != 1 && ver[0] != 2 && ver[0] != MAJOR)
		vk_fail(e, "%s: model version %u.%u is not supported (this vaekit reads 1.x, 2.x "
			   "and 3.x); retrain it with this version", path, ver[0], ver[1]);
	else if (ver[0] == MAJOR)
		rc = read_v3(f, pre, path, m, t, opt, pos, e);
	else if (fseek(f, 0, SEEK_SET))
		vk_fail(e, "cannot read model %s:", path);
	else
		rc = read_v2(f, path, m, t, opt, pos, e);
	fclose(f);
	if (rc) {
		vk_model_free(m);
		if (opt) {
			free(opt->m);
			free(opt->v);
			opt->m = opt->v = NULL;
			opt->present = 0;
		}
	}
	return rc;
}

int vk_model_load(const char *path, vk_model *m, vk_trainrec *t, vk_optstate *opt,
		  vk_error *e)
{
	return vk_model_read(path, m, t, opt, NULL, e);
}
