/* The prior file (formats/prior.md): a fitted mixture (gmm.h) saved and
 * loaded, every field, the size and the CRC-32 checked before anything is
 * allocated or used. */
#include "prior.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "afile.h"

/* Values of one component's covariance factor in memory: Z×Z (full) or Z (diag). */
static size_t chol_size(int z, int cov)
{
	return cov == VK_GMM_FULL ? (size_t)z * z : (size_t)z;
}

static const unsigned char MAGIC[8] = {0x93, 'V', 'K', 'P', 'R', '\r', '\n', 0x1a};
/* 1.1 adds the model's identity at offset 72; a prior without one is written
 * as 1.0, byte for byte as before. */
enum { MAJOR = 1, MINOR = 1, HEADER = 96, OFF_MODEL = 72 };

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "little-endian host required");
static uint32_t u32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t u64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static double f64(const unsigned char *p) { double v; memcpy(&v, p, 8); return v; }
static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { memcpy(p, &v, 8); }
static void putd(unsigned char *p, double v) { memcpy(p, &v, 8); }

/* Stored values of one component's factor: the packed lower triangle (full)
 * or the standard deviations (diag). */
static uint64_t stored_factor(uint64_t z, int cov)
{
	return cov == VK_GMM_FULL ? z * (z + 1) / 2 : z;
}

static uint64_t file_size(uint64_t k, uint64_t z, int cov)
{
	return HEADER + 8 * (k + k * z + k * stored_factor(z, cov)) + 4;
}

int vk_gmm_encode(const vk_gmm *g, unsigned char **out, size_t *len, vk_error *e)
{
	uint64_t size = file_size((uint64_t)g->k, (uint64_t)g->z, g->cov);
	if (size > VK_GMM_MAX_FILE)
		return vk_fail(e, "a prior of %d components over %d dimensions would take %llu "
			       "bytes (at most %llu)", g->k, g->z, (unsigned long long)size,
			       VK_GMM_MAX_FILE);
	unsigned char *buf = calloc(1, size);
	if (!buf)
		return vk_fail(e, "out of memory for a %llu-byte prior", (unsigned long long)size);
	memcpy(buf, MAGIC, 8);
	uint16_t ver[2] = {MAJOR, g->model_id ? MINOR : 0};
	memcpy(buf + 8, ver, 4);
	put32(buf + 12, HEADER);
	put32(buf + 16, (uint32_t)g->k);
	put32(buf + 20, (uint32_t)g->z);
	put32(buf + 24, (uint32_t)g->cov);
	put32(buf + 28, g->converged ? 1 : 0);
	put64(buf + 32, g->n);
	putd(buf + 40, g->loglik);
	put32(buf + 48, g->iters);
	put64(buf + 56, g->seed);
	putd(buf + 64, g->ridge);
	put64(buf + OFF_MODEL, g->model_id);
	unsigned char *p = buf + HEADER;
	int z = g->z;
	for (int k = 0; k < g->k; k++, p += 8)
		putd(p, g->w[k]);
	for (size_t i = 0; i < (size_t)g->k * z; i++, p += 8)
		putd(p, g->mu[i]);
	for (int k = 0; k < g->k; k++) {
		const double *l = g->chol + (size_t)k * chol_size(z, g->cov);
		if (g->cov == VK_GMM_DIAG)
			for (int j = 0; j < z; j++, p += 8)
				putd(p, l[j]);
		else
			for (int a = 0; a < z; a++)
				for (int b = 0; b <= a; b++, p += 8)
					putd(p, l[(size_t)a * z + b]);
	}
	put32(p, (uint32_t)crc32(0L, buf, (uInt)(size - 4)));
	*out = buf;
	*len = size;
	return 0;
}

/* The header's fields, checked; the size the file must have. */
static int check_header(const unsigned char *h, size_t got, const char *name, uint64_t *size,
			vk_error *e)
{
	if (got < 8 || memcmp(h, MAGIC, 8))
		return vk_fail(e, "%s: not a vaekit prior (bad magic); make one with latent-gmm",
			       name);
	if (got < HEADER)
		return vk_fail(e, "%s: truncated prior header (%zu of %d bytes)", name, got, HEADER);
	uint16_t ver[2];
	memcpy(ver, h + 8, 4);
	if (ver[0] != MAJOR)
		return vk_fail(e, "%s: prior version %u.%u is not supported (this vaekit reads "
			       "1.x); fit it again with latent-gmm", name, ver[0], ver[1]);
	if (u32(h + 12) != HEADER)
		return vk_fail(e, "%s: bad prior header size %u (expected %d)", name, u32(h + 12),
			       HEADER);
	uint32_t k = u32(h + 16), z = u32(h + 20), cov = u32(h + 24);
	if (k < 1 || k > VK_GMM_MAX_K)
		return vk_fail(e, "%s: bad prior: %u components (1 to %d)", name, k, VK_GMM_MAX_K);
	if (z < 1 || z > VK_GMM_MAX_Z)
		return vk_fail(e, "%s: bad prior: %u dimensions (1 to %d)", name, z, VK_GMM_MAX_Z);
	if (cov != VK_GMM_FULL && cov != VK_GMM_DIAG)
		return vk_fail(e, "%s: bad prior: covariance type %u (1 full, 2 diagonal)", name,
			       cov);
	if (u32(h + 28) & ~1u)
		return vk_fail(e, "%s: bad prior: unknown flags 0x%x", name, u32(h + 28));
	for (int i = 52; i < HEADER; i++)
		if (h[i] && (i < 56 || i >= 72) && !(ver[1] >= 1 && i >= OFF_MODEL && i < OFF_MODEL + 8))
			return vk_fail(e, "%s: bad prior: reserved header byte %d is not zero", name, i);
	double ll = f64(h + 40), ridge = f64(h + 64);
	if (isinf(ll) || !(ridge >= 0) || isinf(ridge))
		return vk_fail(e, "%s: bad prior: log-likelihood %g or ridge %g", name, ll, ridge);
	*size = file_size(k, z, (int)cov);
	if (*size > VK_GMM_MAX_FILE)
		return vk_fail(e, "%s: bad prior: %u components over %u dimensions would take %llu "
			       "bytes (at most %llu)", name, k, z, (unsigned long long)*size,
			       VK_GMM_MAX_FILE);
	return 0;
}

int vk_gmm_decode(const unsigned char *buf, size_t len, const char *name, vk_gmm *g,
		  vk_error *e)
{
	uint64_t size;
	memset(g, 0, sizeof *g);
	if (check_header(buf, len, name, &size, e))
		return -1;
	if (len != size)
		return vk_fail(e, "%s: prior file is %zu bytes, expected %llu (truncated or corrupt)",
			       name, len, (unsigned long long)size);
	if (crc32(0L, buf, (uInt)(size - 4)) != u32(buf + size - 4))
		return vk_fail(e, "%s: checksum mismatch: the prior file is corrupt", name);
	int K = (int)u32(buf + 16), z = (int)u32(buf + 20), cov = (int)u32(buf + 24);
	vk_error ae;
	if (vk_gmm_alloc(g, K, z, cov, &ae))
		return vk_fail(e, "%s: %s", name, ae.msg);
	g->converged = (int)(u32(buf + 28) & 1);
	g->n = u64(buf + 32);
	g->loglik = f64(buf + 40);
	g->iters = u32(buf + 48);
	g->seed = u64(buf + 56);
	g->ridge = f64(buf + 64);
	uint16_t minor;
	memcpy(&minor, buf + 10, 2);
	g->model_id = minor >= 1 ? u64(buf + OFF_MODEL) : 0;
	const unsigned char *p = buf + HEADER;
	double sum = 0;
	for (int k = 0; k < K; k++, p += 8) {
		g->w[k] = f64(p);
		if (!(g->w[k] > 0) || g->w[k] > 1) {
			vk_fail(e, "%s: bad prior: weight %d is %g (0 < w <= 1)", name, k + 1, g->w[k]);
			goto bad;
		}
		sum += g->w[k];
	}
	if (fabs(sum - 1) > 1e-6) {
		vk_fail(e, "%s: bad prior: the weights sum to %.9g, not 1", name, sum);
		goto bad;
	}
	for (size_t i = 0; i < (size_t)K * z; i++, p += 8)
		if (!isfinite(g->mu[i] = f64(p))) {
			vk_fail(e, "%s: bad prior: mean %zu of component %zu is not finite", name,
				i % z + 1, i / z + 1);
			goto bad;
		}
	for (int k = 0; k < K; k++) {
		double *l = g->chol + (size_t)k * chol_size(z, cov);
		for (int a = 0; a < z; a++)
			for (int b = 0; b <= (cov == VK_GMM_FULL ? a : 0); b++, p += 8) {
				double v = f64(p);
				int diag = cov == VK_GMM_DIAG || a == b;
				if (!isfinite(v) || (diag && !(v > 0))) {
					vk_fail(e, "%s: bad prior: component %d's covariance factor has "
						"%g at (%d, %d) (finite, and positive on the diagonal)",
						name, k + 1, v, a + 1, cov == VK_GMM_DIAG ? a + 1 : b + 1);
					goto bad;
				}
				if (cov == VK_GMM_DIAG)
					l[a] = v;
				else
					l[(size_t)a * z + b] = v;
			}
	}
	return 0;
bad:
	vk_gmm_free(g);
	return -1;
}

int vk_gmm_save(const char *path, const vk_gmm *g, vk_error *e)
{
	unsigned char *buf;
	size_t len;
	if (vk_gmm_encode(g, &buf, &len, e))
		return -1;
	int rc = vk_afile_write(path, buf, len, e);
	free(buf);
	return rc;
}

int vk_gmm_load(const char *path, vk_gmm *g, vk_error *e)
{
	int std = !path || !strcmp(path, "-");
	const char *name = std ? "standard input" : path;
	memset(g, 0, sizeof *g);
	FILE *f = std ? stdin : fopen(path, "rb");
	if (!f)
		return vk_fail(e, "cannot open prior %s:", path);
	unsigned char h[HEADER], *buf = NULL;
	size_t got = fread(h, 1, HEADER, f);
	uint64_t size;
	struct stat st;
	int rc = -1;
	if (got < HEADER && ferror(f)) {
		vk_fail(e, "cannot read prior %s:", name);
		goto out;
	}
	if (check_header(h, got, name, &size, e))
		goto out;
	/* A regular file's size is known before anything is allocated. */
	if (!fstat(fileno(f), &st) && S_ISREG(st.st_mode) && !std && (uint64_t)st.st_size != size) {
		vk_fail(e, "%s: prior file is %lld bytes, expected %llu (truncated or corrupt)", name,
			(long long)st.st_size, (unsigned long long)size);
		goto out;
	}
	if (!(buf = malloc(size))) {
		vk_fail(e, "%s: out of memory (%llu bytes)", name, (unsigned long long)size);
		goto out;
	}
	memcpy(buf, h, HEADER);
	got = HEADER + fread(buf + HEADER, 1, size - HEADER, f);
	if (ferror(f)) {
		vk_fail(e, "cannot read prior %s:", name);
		goto out;
	}
	if (got < size) {
		vk_fail(e, "%s: prior file is %zu bytes, expected %llu (truncated or corrupt)", name,
			got, (unsigned long long)size);
		goto out;
	}
	if (getc(f) != EOF) {
		vk_fail(e, "%s: prior file is longer than the %llu bytes its header implies", name,
			(unsigned long long)size);
		goto out;
	}
	rc = vk_gmm_decode(buf, size, name, g, e);
out:
	free(buf);
	if (!std)
		fclose(f);
	return rc;
}
