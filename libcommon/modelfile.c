#include "modelfile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "afile.h"
#include "train.h"

static const unsigned char MAGIC[8] = {0x93, 'V', 'K', 'M', 'D', '\r', '\n', 0x1a};
enum { MAJOR = 1, MINOR = 0, HEADER = 256 };

/* Little-endian field access on a byte buffer (memcpy: the host is LE; the
 * Makefile targets x86-64 and a static assert below keeps it honest). */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host required");
static void put(unsigned char *p, const void *v, size_t n) { memcpy(p, v, n); }
static uint32_t u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t u64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static float f32(const unsigned char *p) { float v; memcpy(&v, p, 4); return v; }
static void put32(unsigned char *p, uint32_t v) { put(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { put(p, &v, 8); }
static void putf(unsigned char *p, float v) { put(p, &v, 4); }

static size_t body_size(size_t desc_len, size_t n, int has_opt)
{
	size_t s = HEADER + desc_len + 4 * n + 4;
	if (has_opt)
		s += 8 + 8 * n + 32;
	return s;
}

static int save(const char *path, const vk_model *m, const vk_trainrec *t,
		const vk_optstate *opt, const vk_epoch_pos *pos, vk_error *e)
{
	const vk_arch *a = &m->a;
	int has_opt = opt && opt->present;
	size_t desc_len = t ? strlen(t->desc) : 0, n = m->n_params;
	size_t size = body_size(desc_len, n, has_opt);
	unsigned char *buf = calloc(1, size);
	if (!buf)
		return vk_fail(e, "out of memory writing %s", path);
	memcpy(buf, MAGIC, 8);
	uint16_t ver[2] = {MAJOR, MINOR};
	put(buf + 8, ver, 4);
	put32(buf + 12, HEADER);
	put32(buf + 16, a->kind);
	put32(buf + 20, a->input_rank);
	put(buf + 24, a->input_dims, 16);
	put32(buf + 40, a->latent);
	put32(buf + 44, a->classes);
	put32(buf + 48, a->n_hidden);
	for (int i = 0; i < a->n_hidden; i++)
		put32(buf + 52 + 4 * i, a->hidden[i]);
	put32(buf + 84, a->act);
	put32(buf + 88, a->likelihood);
	putf(buf + 92, a->sigma);
	if (t) {
		put64(buf + 96, t->epochs);
		put64(buf + 104, t->records_seen);
		put64(buf + 112, t->seed);
		put32(buf + 120, t->batch);
		putf(buf + 124, t->lr);
		putf(buf + 128, t->beta);
		put32(buf + 132, t->optimizer);
		float losses[4] = {t->train_rec, t->train_kl, t->test_rec, t->test_kl};
		put(buf + 136, losses, 16);
	}
	put32(buf + 152, desc_len);
	put32(buf + 156, has_opt ? 1 : 0);
	put64(buf + 160, n);
	if (pos && pos->batches) {
		put64(buf + 168, pos->batches);
		put(buf + 176, &pos->rec_sum, 8);
		put(buf + 184, &pos->kl_sum, 8);
		put(buf + 192, pos->epoch_rng.s, 32);
	}
	unsigned char *p = buf + HEADER;
	if (desc_len)
		memcpy(p, t->desc, desc_len);
	p += desc_len;
	memcpy(p, m->params, 4 * n);
	p += 4 * n;
	if (has_opt) {
		put64(p, opt->adam.t);
		memcpy(p + 8, opt->m, 4 * n);
		memcpy(p + 8 + 4 * n, opt->v, 4 * n);
		memcpy(p + 8 + 8 * n, opt->rng.s, 32);
		p += 8 + 8 * n + 32;
	}
	put32(p, (uint32_t)crc32(0L, buf, (uInt)(size - 4)));

	vk_afile f;
	if (vk_afile_open(&f, path, 1, e)) {
		free(buf);
		return -1;
	}
	if (fwrite(buf, 1, size, f.f) != size) {
		vk_afile_abort(&f);
		free(buf);
		return vk_fail(e, "error writing %s:", path);
	}
	free(buf);
	return vk_afile_commit(&f, e);
}

int vk_model_save(const char *path, const vk_model *m, const vk_trainrec *t,
		  const vk_optstate *opt, vk_error *e)
{
	return save(path, m, t, opt, NULL, e);
}

int vk_checkpoint_save(const char *path, const vk_model *m, const vk_trainrec *t,
		       const vk_optstate *opt, const vk_epoch_pos *pos, vk_error *e)
{
	return save(path, m, t, opt, pos, e);
}

/* Parse the fixed header into an architecture; every field range-checked. */
static int parse_arch(const unsigned char *h, vk_arch *a, const char *path, vk_error *e)
{
	memset(a, 0, sizeof *a);
	a->kind = (int)u32(h + 16);
	a->input_rank = (int)u32(h + 20);
	memcpy(a->input_dims, h + 24, 16);
	a->latent = (int)u32(h + 40);
	a->classes = (int)u32(h + 44);
	a->n_hidden = (int)u32(h + 48);
	if (a->n_hidden < 0 || a->n_hidden > VK_MAX_HIDDEN)
		return vk_fail(e, "%s: %u hidden layers (at most %d)", path, u32(h + 48),
			       VK_MAX_HIDDEN);
	for (int i = 0; i < a->n_hidden; i++)
		a->hidden[i] = (int)u32(h + 52 + 4 * i);
	a->act = (int)u32(h + 84);
	a->likelihood = (int)u32(h + 88);
	a->sigma = f32(h + 92);
	uint64_t d = 1;
	for (int i = 0; i < 4 && i < a->input_rank; i++)
		d *= a->input_dims[i] ? a->input_dims[i] : 1;
	a->input_size = d > VK_MAX_WIDTH ? -1 : (int)d;
	vk_error ae;
	if (vk_arch_check(a, &ae))
		return vk_fail(e, "%s: bad model: %s", path, ae.msg);
	return 0;
}

static int load(const char *path, vk_model *m, vk_trainrec *t, vk_optstate *opt,
		vk_epoch_pos *pos, vk_error *e)
{
	memset(m, 0, sizeof *m);
	if (opt) /* the failure path frees opt->m and opt->v, whatever stage failed */
		memset(opt, 0, sizeof *opt);
	FILE *f = fopen(path, "rb");
	if (!f)
		return vk_fail(e, "cannot open model %s:", path);
	unsigned char h[HEADER];
	size_t got = fread(h, 1, HEADER, f);
	int rc = -1;
	unsigned char *buf = NULL;
	struct stat st;
	vk_arch a;
	if (got < HEADER && ferror(f)) { /* a directory, an I/O error */
		vk_fail(e, "cannot read model %s:", path);
		goto out;
	}
	if (got < 8 || memcmp(h, MAGIC, 8)) {
		vk_fail(e, "%s: not a vaekit model (bad magic)", path);
		goto out;
	}
	if (got < HEADER) {
		vk_fail(e, "%s: truncated model header (%zu of %d bytes)", path, got, HEADER);
		goto out;
	}
	uint16_t ver[2];
	memcpy(ver, h + 8, 4);
	if (ver[0] != MAJOR) {
		vk_fail(e, "%s: model version %u.%u is not supported (this vaekit reads 1.x); "
			   "retrain it with this version",
			path, ver[0], ver[1]);
		goto out;
	}
	if (u32(h + 12) != HEADER) {
		vk_fail(e, "%s: bad model header size %u", path, u32(h + 12));
		goto out;
	}
	if (parse_arch(h, &a, path, e))
		goto out;
	if (vk_model_alloc(m, &a, e))
		goto out;
	size_t desc_len = u32(h + 152), n = m->n_params;
	int has_opt = u32(h + 156) & 1;
	if (desc_len > VK_DESC_MAX || (u32(h + 156) & ~1u)) {
		vk_fail(e, "%s: bad description length or flags", path);
		goto out;
	}
	if (u64(h + 160) != n) {
		vk_fail(e, "%s: parameter count %llu does not match the architecture (%zu)", path,
			(unsigned long long)u64(h + 160), n);
		goto out;
	}
	size_t size = body_size(desc_len, n, has_opt);
	if (fstat(fileno(f), &st) || (size_t)st.st_size != size) {
		vk_fail(e, "%s: model file is %lld bytes, expected %zu (truncated or corrupt)",
			path, (long long)st.st_size, size);
		goto out;
	}
	buf = malloc(size);
	if (!buf) {
		vk_fail(e, "%s: out of memory (%zu bytes)", path, size);
		goto out;
	}
	memcpy(buf, h, HEADER);
	if (fread(buf + HEADER, 1, size - HEADER, f) != size - HEADER) {
		vk_fail(e, "%s: read error:", path);
		goto out;
	}
	if (crc32(0L, buf, (uInt)(size - 4)) != u32(buf + size - 4)) {
		vk_fail(e, "%s: checksum mismatch: the model file is corrupt", path);
		goto out;
	}
	const unsigned char *p = buf + HEADER;
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
	fclose(f);
	free(buf);
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
	return load(path, m, t, opt, NULL, e);
}

int vk_checkpoint_load(const char *path, vk_model *m, vk_trainrec *t, vk_optstate *opt,
		       vk_epoch_pos *pos, vk_error *e)
{
	return load(path, m, t, opt, pos, e);
}
