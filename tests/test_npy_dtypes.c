/* npy2stream's extra element types: int8/16/32/64, uint16/32/64, float16 and
 * bool, converted by the rule in npy2stream(1). */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "stream.h"
#include "testutil.h"

/* A version 1.0 .npy file of one row of n elements of descr. */
static const char *npy_file(const char *descr, const void *data, size_t n, size_t size)
{
	char dict[256];
	int len = snprintf(dict, sizeof dict,
			   "{'descr': '%s', 'fortran_order': False, 'shape': (1, %zu), }", descr, n);
	size_t total = (10 + (size_t)len + 1 + 63) / 64 * 64, hl = total - 10;
	unsigned char buf[4096];
	memcpy(buf, "\x93NUMPY\x01\x00", 8);
	buf[8] = hl & 255;
	buf[9] = hl >> 8;
	memset(buf + 10, ' ', hl);
	memcpy(buf + 10, dict, len);
	buf[total - 1] = '\n';
	memcpy(buf + total, data, n * size);
	const char *path = tmp_path("x.npy");
	cr_assert_eq(spit(path, buf, total + n * size), 0);
	return path;
}

/* npy2stream on the file; the one record into out, its dtype returned. */
static int convert(const char *npy, void *out, size_t len)
{
	const char *ts = tmp_path("x.ts");
	char err[1024];
	int rc = run_err(err, sizeof err, "npy2stream -o %s %s", ts, npy);
	cr_assert_eq(rc, 0, "%s", err);
	ts_reader r;
	vk_error e;
	cr_assert_eq(ts_reader_open(&r, ts, &e), 0, "%s", e.msg);
	cr_assert_eq(ts_data_bytes(&r.h), len, "record of %zu bytes, want %zu",
		     ts_data_bytes(&r.h), len);
	cr_assert_eq(ts_read(&r, out, NULL, &e), 1, "%s", e.msg);
	int dtype = r.h.dtype;
	ts_reader_close(&r);
	return dtype;
}

Test(npy_dtypes, small_integers_to_f32)
{
	int8_t i1[4] = {-128, -1, 0, 127};
	int16_t i2[4] = {-32768, -1, 1, 32767};
	uint16_t u2[4] = {0, 1, 40000, 65535};
	float f[4];
	cr_assert_eq(convert(npy_file("|i1", i1, 4, 1), f, sizeof f), TS_F32);
	for (int k = 0; k < 4; k++)
		cr_assert_eq(f[k], (float)i1[k]);
	cr_assert_eq(convert(npy_file("<i2", i2, 4, 2), f, sizeof f), TS_F32);
	for (int k = 0; k < 4; k++)
		cr_assert_eq(f[k], (float)i2[k]);
	cr_assert_eq(convert(npy_file("<u2", u2, 4, 2), f, sizeof f), TS_F32);
	for (int k = 0; k < 4; k++)
		cr_assert_eq(f[k], (float)u2[k]);
}

Test(npy_dtypes, wide_integers_to_f64)
{
	int32_t i4[3] = {INT32_MIN, -7, INT32_MAX};
	uint32_t u4[3] = {0, 3000000000u, UINT32_MAX};
	int64_t i8[3] = {-(1ll << 53), -5, (1ll << 53)};
	uint64_t u8[3] = {0, 1ull << 53, UINT64_MAX};
	double d[3];
	cr_assert_eq(convert(npy_file("<i4", i4, 3, 4), d, sizeof d), TS_F64);
	for (int k = 0; k < 3; k++)
		cr_assert_eq(d[k], (double)i4[k]);
	cr_assert_eq(convert(npy_file("<u4", u4, 3, 4), d, sizeof d), TS_F64);
	for (int k = 0; k < 3; k++)
		cr_assert_eq(d[k], (double)u4[k]);
	cr_assert_eq(convert(npy_file("<i8", i8, 3, 8), d, sizeof d), TS_F64);
	for (int k = 0; k < 3; k++)
		cr_assert_eq(d[k], (double)i8[k]);
	cr_assert_eq(convert(npy_file("<u8", u8, 3, 8), d, sizeof d), TS_F64);
	cr_assert_eq(d[2], 18446744073709551616.0, "rounded to the nearest double");
}

Test(npy_dtypes, float16_exact)
{
	/* 1, -2, 0.5, 65504 (largest), 2^-24 (smallest subnormal), 2^-14 (smallest
	 * normal), -0, infinity. */
	uint16_t h[8] = {0x3c00, 0xc000, 0x3800, 0x7bff, 0x0001, 0x0400, 0x8000, 0x7c00};
	float want[8] = {1, -2, 0.5f, 65504, 0x1p-24f, 0x1p-14f, -0.0f, INFINITY};
	float f[8];
	cr_assert_eq(convert(npy_file("<f2", h, 8, 2), f, sizeof f), TS_F32);
	for (int k = 0; k < 8; k++) {
		cr_assert_eq(f[k], want[k], "half %04x: %a, want %a", h[k], f[k], want[k]);
		cr_assert_eq(signbit(f[k]), signbit(want[k]));
	}
}

Test(npy_dtypes, bool_to_u8)
{
	unsigned char b[4] = {0, 1, 1, 0};
	unsigned char u[4];
	cr_assert_eq(convert(npy_file("|b1", b, 4, 1), u, sizeof u), TS_U8);
	unsigned char want[4] = {0, 255, 255, 0};
	cr_assert_arr_eq(u, want, 4);
}

Test(npy_dtypes, unsigned_labels)
{
	float x[2] = {1, 2};
	const char *data = npy_file("<f4", x, 2, 4);
	char *d = strdup(data);
	uint32_t lab[1] = {9};
	const char *lp = npy_file("<u4", lab, 1, 4);
	/* npy_file wrote a (1, 1) array; labels must be 1-D: write it by hand. */
	(void)lp;
	char dict[] = "{'descr': '<u4', 'fortran_order': False, 'shape': (1,), }";
	unsigned char buf[128];
	memcpy(buf, "\x93NUMPY\x01\x00\x76\x00", 10);
	memset(buf + 10, ' ', 118);
	memcpy(buf + 10, dict, strlen(dict));
	buf[127] = '\n';
	const char *lpath = tmp_path("lab.npy");
	FILE *f = fopen(lpath, "wb");
	fwrite(buf, 1, 128, f);
	fwrite(lab, 4, 1, f);
	fclose(f);
	char err[1024];
	const char *ts = tmp_path("l.ts");
	int rc = run_err(err, sizeof err, "npy2stream -l %s -o %s %s", lpath, ts, d);
	cr_assert_eq(rc, 0, "%s", err);
	ts_reader r;
	vk_error e;
	cr_assert_eq(ts_reader_open(&r, ts, &e), 0);
	int32_t label;
	float v[2];
	cr_assert_eq(ts_read(&r, v, &label, &e), 1);
	cr_assert_eq(label, 9);
	ts_reader_close(&r);
	free(d);
}

/* ---- .npz archives, written here by hand: stored or deflated members. ---- */
#include <zlib.h>

static void put16(FILE *f, unsigned v) { fputc(v & 255, f), fputc(v >> 8 & 255, f); }
static void put32(FILE *f, uint32_t v) { put16(f, v & 0xffff), put16(f, v >> 16); }

struct zmember {
	const char *name;
	const unsigned char *data;
	size_t len;
};

static void write_zip(const char *path, const struct zmember *m, int n, int deflated)
{
	FILE *f = fopen(path, "wb");
	cr_assert(f);
	uint32_t off[8], crc[8], csize[8];
	for (int i = 0; i < n; i++) {
		unsigned char out[8192];
		size_t clen = m[i].len;
		const unsigned char *body = m[i].data;
		if (deflated) {
			z_stream z = {0};
			cr_assert_eq(deflateInit2(&z, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
			z.next_in = (unsigned char *)m[i].data;
			z.avail_in = (uInt)m[i].len;
			z.next_out = out;
			z.avail_out = sizeof out;
			cr_assert_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
			clen = sizeof out - z.avail_out;
			deflateEnd(&z);
			body = out;
		}
		off[i] = (uint32_t)ftell(f);
		crc[i] = (uint32_t)crc32(0, m[i].data, (uInt)m[i].len);
		csize[i] = (uint32_t)clen;
		put32(f, 0x04034b50), put16(f, 20), put16(f, 0), put16(f, deflated ? 8 : 0);
		put16(f, 0), put16(f, 0), put32(f, crc[i]), put32(f, csize[i]);
		put32(f, (uint32_t)m[i].len), put16(f, (unsigned)strlen(m[i].name)), put16(f, 0);
		fputs(m[i].name, f);
		fwrite(body, 1, clen, f);
	}
	uint32_t cd = (uint32_t)ftell(f);
	for (int i = 0; i < n; i++) {
		put32(f, 0x02014b50), put16(f, 20), put16(f, 20), put16(f, 0);
		put16(f, deflated ? 8 : 0), put16(f, 0), put16(f, 0), put32(f, crc[i]);
		put32(f, csize[i]), put32(f, (uint32_t)m[i].len);
		put16(f, (unsigned)strlen(m[i].name)), put16(f, 0), put16(f, 0), put16(f, 0);
		put16(f, 0), put32(f, 0), put32(f, off[i]);
		fputs(m[i].name, f);
	}
	uint32_t cdlen = (uint32_t)ftell(f) - cd;
	put32(f, 0x06054b50), put16(f, 0), put16(f, 0), put16(f, (unsigned)n);
	put16(f, (unsigned)n), put32(f, cdlen), put32(f, cd), put16(f, 0);
	fclose(f);
}

/* The bytes of a one-dimensional or (rows, cols) .npy array. */
static size_t npy_bytes(unsigned char *buf, const char *descr, const char *shape,
			const void *data, size_t len)
{
	char dict[256];
	int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': %s, }",
			 descr, shape);
	size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64, hl = total - 10;
	memcpy(buf, "\x93NUMPY\x01\x00", 8);
	buf[8] = hl & 255;
	buf[9] = hl >> 8;
	memset(buf + 10, ' ', hl);
	memcpy(buf + 10, dict, n);
	buf[total - 1] = '\n';
	memcpy(buf + total, data, len);
	return total + len;
}

Test(npy_dtypes, npz_members_stored_and_deflated)
{
	float x[6] = {1, 2, 3, 4, 5, 6};
	unsigned char y[3] = {2, 0, 1}, bx[512], by[512];
	size_t lx = npy_bytes(bx, "<f4", "(3, 2)", x, sizeof x);
	size_t ly = npy_bytes(by, "|u1", "(3,)", y, sizeof y);
	struct zmember m[2] = {{"x.npy", bx, lx}, {"y.npy", by, ly}};
	for (int deflated = 0; deflated <= 1; deflated++) {
		const char *zip = tmp_path("a.npz"), *ts = tmp_path("z.ts");
		write_zip(zip, m, 2, deflated);
		char err[1024];
		int rc = run_err(err, sizeof err, "npy2stream -l %s:y -o %s %s:x", zip, ts, zip);
		cr_assert_eq(rc, 0, "deflated %d: %s", deflated, err);
		ts_reader r;
		vk_error e;
		cr_assert_eq(ts_reader_open(&r, ts, &e), 0);
		cr_assert_eq(r.h.count, 3);
		for (int i = 0; i < 3; i++) {
			float v[2];
			int32_t label;
			cr_assert_eq(ts_read(&r, v, &label, &e), 1, "%s", e.msg);
			cr_assert_eq(label, y[i]);
			cr_assert_eq(v[0], x[2 * i]);
			cr_assert_eq(v[1], x[2 * i + 1]);
		}
		ts_reader_close(&r);
		rc = run_err(err, sizeof err, "npy2stream %s:nope > /dev/null", zip);
		cr_assert_eq(rc, 1);
		cr_assert(strstr(err, "no member 'nope' (members: x, y)"), "%s", err);
	}
	/* A corrupt deflated member is an error, not wrong numbers (CRC-32). */
	const char *zip = tmp_path("a.npz");
	size_t len;
	unsigned char *b = slurp(zip, &len);
	b[30 + 5 + 40] ^= 0x55;
	cr_assert_eq(spit(tmp_path("bad.npz"), b, len), 0);
	free(b);
	char err[1024];
	int rc = run_err(err, sizeof err, "npy2stream %s:x > /dev/null", tmp_path("bad.npz"));
	cr_assert_eq(rc, 1, "%s", err);
	cr_assert(strstr(err, "npy2stream: "), "%s", err);
}
