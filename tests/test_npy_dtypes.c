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
