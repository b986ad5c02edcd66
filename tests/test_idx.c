/* The IDX reader (libcommon/io/idx.c) on files written here byte by byte. */
#include <criterion/criterion.h>
#include <string.h>
#include <zlib.h>

#include "idx.h"
#include "testutil.h"

/* An idx3 file of n records of 2x3 bytes, record r holding r*10 + i, with
 * room for extra bytes after the header (for corruption tests). */
static size_t make_idx3(unsigned char *buf, unsigned n_declared, unsigned n_written)
{
	unsigned char head[] = {0, 0, 0x08, 3, 0, 0, 0, n_declared, 0, 0, 0, 2, 0, 0, 0, 3};
	memcpy(buf, head, sizeof head);
	size_t len = sizeof head;
	for (unsigned r = 0; r < n_written; r++)
		for (unsigned i = 0; i < 6; i++)
			buf[len++] = (unsigned char)(r * 10 + i);
	return len;
}

static void gzip_to(const char *path, const unsigned char *data, size_t len)
{
	gzFile gz = gzopen(path, "wb9");
	cr_assert(gz);
	cr_assert_eq(gzwrite(gz, data, (unsigned)len), (int)len);
	cr_assert_eq(gzclose(gz), Z_OK);
}

static void check_three_records(const char *path)
{
	vk_idx x;
	vk_error e;
	cr_assert_eq(vk_idx_open(&x, path, &e), 0, "%s", e.msg);
	cr_assert_eq(x.count, 3);
	cr_assert_eq(x.rank, 2);
	cr_assert_eq(x.dims[0], 2);
	cr_assert_eq(x.dims[1], 3);
	cr_assert_eq(x.record_bytes, 6);
	unsigned char buf[18];
	size_t got;
	/* Two reads: 2 records, then the last one (asking for more). */
	cr_assert_eq(vk_idx_read(&x, buf, 2, &got, &e), 0, "%s", e.msg);
	cr_assert_eq(got, 2);
	cr_assert_eq(vk_idx_read(&x, buf + 12, 5, &got, &e), 0, "%s", e.msg);
	cr_assert_eq(got, 1);
	for (unsigned r = 0; r < 3; r++)
		for (unsigned i = 0; i < 6; i++)
			cr_assert_eq(buf[r * 6 + i], r * 10 + i);
	cr_assert_eq(vk_idx_read(&x, buf, 1, &got, &e), 0);
	cr_assert_eq(got, 0);
	vk_idx_close(&x);
}

/* Open (and read everything from) a file expected to fail; returns the message. */
static const char *idx_error(const char *path)
{
	static vk_error e;
	vk_idx x;
	if (vk_idx_open(&x, path, &e))
		return e.msg;
	unsigned char buf[4096];
	size_t got;
	int rc;
	while ((rc = vk_idx_read(&x, buf, sizeof buf / x.record_bytes, &got, &e)) == 0 && got)
		;
	vk_idx_close(&x);
	cr_assert_eq(rc, -1, "reading %s should fail", path);
	return e.msg;
}

Test(idx_reader, plain_file)
{
	unsigned char buf[64];
	size_t len = make_idx3(buf, 3, 3);
	const char *p = tmp_path("plain.idx");
	cr_assert_eq(spit(p, buf, len), 0);
	check_three_records(p);
}

Test(idx_reader, gzip_file)
{
	unsigned char buf[64];
	size_t len = make_idx3(buf, 3, 3);
	const char *p = tmp_path("packed.idx.gz");
	gzip_to(p, buf, len);
	check_three_records(p);
}

Test(idx_reader, labels_are_rank_zero)
{
	unsigned char buf[] = {0, 0, 8, 1, 0, 0, 0, 4, 3, 1, 4, 1};
	const char *p = tmp_path("labels.idx");
	cr_assert_eq(spit(p, buf, sizeof buf), 0);
	vk_idx x;
	vk_error e;
	cr_assert_eq(vk_idx_open(&x, p, &e), 0, "%s", e.msg);
	cr_assert_eq(x.rank, 0);
	cr_assert_eq(x.record_bytes, 1);
	cr_assert_eq(x.count, 4);
	unsigned char lab[4];
	size_t got;
	cr_assert_eq(vk_idx_read(&x, lab, 4, &got, &e), 0, "%s", e.msg);
	cr_assert_eq(got, 4);
	cr_assert_eq(memcmp(lab, buf + 8, 4), 0);
	vk_idx_close(&x);
}

/* The error from a good 3-record file with one header byte changed. */
static const char *error_with_byte(size_t at, unsigned char value)
{
	unsigned char buf[64];
	size_t len = make_idx3(buf, 3, 3);
	buf[at] = value;
	const char *p = tmp_path("changed.idx");
	cr_assert_eq(spit(p, buf, len), 0);
	return idx_error(p);
}

Test(idx_reader, wrong_magic)
{
	const char *msg = error_with_byte(1, 0x42);
	cr_assert(strstr(msg, "not an IDX file"), "%s", msg);
	cr_assert(strstr(msg, tmp_path("changed.idx")), "%s", msg);
}

Test(idx_reader, float_dtype_refused)
{
	const char *msg = error_with_byte(2, 0x0D);
	cr_assert(strstr(msg, "0x0d") && strstr(msg, "32-bit float"), "%s", msg);
}

Test(idx_reader, bad_dims)
{
	unsigned char zero[] = {0, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 0};
	const char *p = tmp_path("zero.idx");
	cr_assert_eq(spit(p, zero, sizeof zero), 0);
	cr_assert(strstr(idx_error(p), "dimension 2 is 0"), "%s", idx_error(p));
	/* 2^16 x 2^16 elements: refused from the header, before any allocation. */
	unsigned char huge[] = {0, 0, 8, 3, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0};
	cr_assert_eq(spit(p, huge, sizeof huge), 0);
	cr_assert(strstr(idx_error(p), "more than 2^26"), "%s", idx_error(p));
	unsigned char ndim[] = {0, 0, 8, 9, 0, 0, 0, 1};
	cr_assert_eq(spit(p, ndim, sizeof ndim), 0);
	cr_assert(strstr(idx_error(p), "9 dimensions"), "%s", idx_error(p));
}

Test(idx_reader, truncated_plain_names_record)
{
	unsigned char buf[64];
	size_t len = make_idx3(buf, 3, 3) - 3; /* record 2 is half there */
	const char *p = tmp_path("short.idx");
	cr_assert_eq(spit(p, buf, len), 0);
	const char *msg = idx_error(p);
	cr_assert(strstr(msg, "truncated") && strstr(msg, "record 2 of 3"), "%s", msg);
}

Test(idx_reader, truncated_header)
{
	unsigned char buf[64];
	make_idx3(buf, 3, 3);
	const char *p = tmp_path("shorthead.idx");
	cr_assert_eq(spit(p, buf, 10), 0);
	const char *msg = idx_error(p);
	cr_assert(strstr(msg, "truncated") && strstr(msg, "header"), "%s", msg);
	cr_assert_eq(spit(p, buf, 0), 0);
	cr_assert(strstr(idx_error(p), "empty file"), "%s", idx_error(p));
}

Test(idx_reader, data_after_last_record)
{
	unsigned char buf[64];
	size_t len = make_idx3(buf, 2, 3);
	const char *p = tmp_path("long.idx");
	cr_assert_eq(spit(p, buf, len), 0);
	const char *msg = idx_error(p);
	cr_assert(strstr(msg, "data after the last of 2"), "%s", msg);
}

/* A gzip stream of incompressible-looking data long enough to corrupt. */
static size_t make_gz(const char *path, unsigned char **out)
{
	static unsigned char raw[16 + 200 * 6];
	unsigned char head[] = {0, 0, 0x08, 3, 0, 0, 0, 200, 0, 0, 0, 2, 0, 0, 0, 3};
	memcpy(raw, head, 16);
	for (size_t i = 16; i < sizeof raw; i++)
		raw[i] = (unsigned char)(i * 2654435761u >> 13);
	gzip_to(path, raw, sizeof raw);
	size_t len;
	*out = slurp(path, &len);
	cr_assert(*out && len > 200);
	return len;
}

Test(idx_reader, corrupt_gzip)
{
	const char *p = tmp_path("corrupt.idx.gz");
	unsigned char *gz;
	size_t len = make_gz(p, &gz);
	memset(gz + 20, 0xff, 40); /* inside the deflate data */
	cr_assert_eq(spit(p, gz, len), 0);
	free(gz);
	const char *msg = idx_error(p);
	cr_assert(strstr(msg, "corrupt gzip data"), "%s", msg);
	cr_assert(strstr(msg, p), "%s", msg);
}

Test(idx_reader, corrupt_gzip_checksum)
{
	const char *p = tmp_path("badcrc.idx.gz");
	unsigned char *gz;
	size_t len = make_gz(p, &gz);
	gz[len - 6] ^= 0x55; /* the CRC-32 in the trailer */
	cr_assert_eq(spit(p, gz, len), 0);
	free(gz);
	const char *msg = idx_error(p);
	cr_assert(strstr(msg, "corrupt gzip data"), "%s", msg);
}

Test(idx_reader, truncated_gzip)
{
	const char *p = tmp_path("cut.idx.gz");
	unsigned char *gz;
	size_t len = make_gz(p, &gz);
	cr_assert_eq(spit(p, gz, len / 2), 0);
	free(gz);
	const char *msg = idx_error(p);
	cr_assert(strstr(msg, "truncated"), "%s", msg);
}

Test(idx_reader, missing_file)
{
	const char *msg = idx_error("/nonexistent/none.idx");
	cr_assert(strstr(msg, "cannot open /nonexistent/none.idx"), "%s", msg);
}

Test(idx_reader, labels_count_mismatch_e2e)
{
	char err[1024];
	const char *img = repo_path("examples/data/digits-train-images-idx3-ubyte.gz");
	const char *lab = repo_path("examples/data/digits-test-labels-idx1-ubyte.gz");
	int rc = run_err(err, sizeof err, "idx2stream %s %s > %s", img, lab, tmp_path("mm.ts"));
	cr_assert_eq(rc, 1, "%s", err);
	cr_assert(strstr(err, "8000 images") && strstr(err, "2000 labels"), "%s", err);
	cr_assert(strstr(err, "digits-test-labels"), "%s", err);
}
