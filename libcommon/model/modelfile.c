#include "modelfile.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "afile.h"

static const unsigned char MAGIC[8] = {0x93, 'V', 'K', 'M', 'D', '\r', '\n', 0x1a};
/* Version 2.x holds a layer table after the header (2.1 adds flag bit 1, the
 * cvae's one-hot scale); 1.0 files (dense layers given as widths that the
 * decoder mirrors) are still read. */
enum { MAJOR = 2, MINOR = 1, HEADER = 256, LAYER_ROW = 32 };

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

/* n parameters, then n_state floats of layer state (running statistics:
 * only models with batchnorm layers have any, so every older file reads as
 * before; the state's size follows from the layer table). */
static size_t body_size(size_t layers, size_t desc_len, size_t n, size_t n_state, int has_opt)
{
	size_t s = HEADER + LAYER_ROW * layers + desc_len + 4 * n + 4 * n_state + 4;
	if (has_opt)
		s += 8 + 8 * n + 32;
	return s;
}

int vk_model_write(const char *path, const vk_model *m, const vk_trainrec *t,
		const vk_optstate *opt, const vk_epoch_pos *pos, vk_error *e)
{
	const vk_arch *a = &m->a;
	int has_opt = opt && opt->present;
	size_t desc_len = t ? strlen(t->desc) : 0, n = m->n_params;
	size_t layers = (size_t)m->n_enc + m->n_dec;
	size_t size = body_size(layers, desc_len, n, m->n_state, has_opt);
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
	put32(buf + 48, m->n_enc);
	put32(buf + 52, m->n_dec);
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
		put32(buf + 56, t->kl_warmup);
		put32(buf + 60, t->kl_cycles);
		putf(buf + 64, t->free_bits);
		put32(buf + 68, t->iw_train);
		put32(buf + 72, t->lr_schedule);
		put32(buf + 76, t->lr_every);
		putf(buf + 80, t->lr_gamma);
		put32(buf + 84, t->early_stop);
		put32(buf + 224, t->flags);
		putf(buf + 228, t->lr_now);
		putf(buf + 232, t->best_test);
		put32(buf + 236, t->best_epoch);
		put32(buf + 240, t->plateau_bad);
		putf(buf + 244, t->log_sigma);
		putf(buf + 248, t->log_sigma_m);
		putf(buf + 252, t->log_sigma_v);
	}
	put32(buf + 152, desc_len);
	put32(buf + 156, (has_opt ? 1u : 0u) | (a->kind == VK_CVAE && a->label_scaled ? 2u : 0u));
	put64(buf + 160, n);
	if (pos && pos->batches) {
		put64(buf + 168, pos->batches);
		put(buf + 176, &pos->rec_sum, 8);
		put(buf + 184, &pos->kl_sum, 8);
		put(buf + 192, pos->epoch_rng.s, 32);
	}
	unsigned char *p = buf + HEADER;
	for (size_t i = 0; i < layers; i++, p += LAYER_ROW) {
		const vk_layer *l = i < (size_t)m->n_enc ? &m->enc[i] : &m->dec[i - m->n_enc];
		uint32_t row[VK_LAYER_ROW_WORDS];
		vk_layer_put_row(l, row);
		put(p, row, sizeof row);
	}
	if (desc_len)
		memcpy(p, t->desc, desc_len);
	p += desc_len;
	memcpy(p, m->params, 4 * n);
	p += 4 * n;
	if (m->n_state)
		memcpy(p, m->state, 4 * m->n_state);
	p += 4 * m->n_state;
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
	return vk_model_write(path, m, t, opt, NULL, e);
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

/* 2.0: the layer counts in the header, each layer a row of eight u32 (kind,
 * activation, units, kernel, stride, output h, w, c); the last row of each
 * list is the head or output layer the model adds, checked on build. */
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
		uint32_t r[VK_LAYER_ROW_WORDS];
		memcpy(r, rows + LAYER_ROW * i, sizeof r);
		vk_layer_spec *s = i < ne ? &a->enc[i] : &a->dec[i - ne];
		vk_error le;
		if (vk_layer_get_row(r, s, &le))
			return vk_fail(e, "%s: bad model: layer %u: %s", path, i + 1, le.msg);
	}
	return 0;
}

/* Every stored row equals the one the architecture builds. */
static int check_rows(const vk_model *m, const unsigned char *rows, const char *path, vk_error *e)
{
	for (int i = 0; i < m->n_enc + m->n_dec; i++) {
		const vk_layer *l = i < m->n_enc ? &m->enc[i] : &m->dec[i - m->n_enc];
		uint32_t want[VK_LAYER_ROW_WORDS], got[VK_LAYER_ROW_WORDS];
		vk_layer_put_row(l, want);
		memcpy(got, rows + LAYER_ROW * i, sizeof got);
		if (memcmp(want, got, sizeof want))
			return vk_fail(e, "%s: bad model: layer %d's row does not match its "
					  "architecture", path, i + 1);
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
	if (ver[0] != 1 && ver[0] != MAJOR) {
		vk_fail(e, "%s: model version %u.%u is not supported (this vaekit reads 1.x and 2.x); "
			   "retrain it with this version",
			path, ver[0], ver[1]);
		goto out;
	}
	if (u32(h + 12) != HEADER) {
		vk_fail(e, "%s: bad model header size %u", path, u32(h + 12));
		goto out;
	}
	size_t layers = 0;
	unsigned char rows[LAYER_ROW * 2 * (VK_MAX_LAYERS + 1)];
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
		if (fread(rows, LAYER_ROW, layers, f) != layers) {
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
	if ((flags & ~3u) || (a.label_scaled && a.kind != VK_CVAE)) {
		vk_fail(e, "%s: bad model: flags 0x%x (bit 1 only in a cvae, bits 2-31 unused)",
			path, flags);
		goto out;
	}
	if (u64(h + 160) != n) {
		vk_fail(e, "%s: parameter count %llu does not match the architecture (%zu)", path,
			(unsigned long long)u64(h + 160), n);
		goto out;
	}
	size_t size = body_size(layers, desc_len, n, m->n_state, has_opt);
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
	memcpy(buf, h, HEADER);
	memcpy(buf + HEADER, rows, LAYER_ROW * layers);
	size_t head = HEADER + LAYER_ROW * layers;
	if (fread(buf + head, 1, size - head, f) != size - head) {
		vk_fail(e, "%s: read error:", path);
		goto out;
	}
	if (crc32(0L, buf, (uInt)(size - 4)) != u32(buf + size - 4)) {
		vk_fail(e, "%s: checksum mismatch: the model file is corrupt", path);
		goto out;
	}
	/* The training record's options (2.0; zero in files written before them). */
	if (ver[0] == MAJOR && (u32(h + 72) > VK_LR_PLATEAU || (u32(h + 224) & ~1u) ||
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
		if (ver[0] == MAJOR) { /* reserved in 1.0 */
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
	if (m->n_state)
		memcpy(m->state, p, 4 * m->n_state);
	p += 4 * m->n_state;
	for (size_t i = 0; i < m->n_state; i++)
		if (!isfinite(m->state[i])) {
			vk_fail(e, "%s: layer state %zu is not finite", path, i);
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
	return vk_model_read(path, m, t, opt, NULL, e);
}
