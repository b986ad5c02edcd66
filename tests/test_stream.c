/* The tensor-stream library: round trips, metadata, and every malformed input
 * rejected with its message before anything is allocated from it. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "crc32c.h"
#include "stream.h"
#include "testutil.h"

static void put32le(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = v >> (8 * i);
}

/* A well-formed 64-byte header, for the tests to break one field at a time. */
static void fixed_header(unsigned char h[64], int dtype, int rank, const uint32_t *dims)
{
	static const unsigned char magic[8] = {0x93, 'V', 'K', 'T', 'S', '\r', '\n', 0x1a};
	memset(h, 0, 64);
	memcpy(h, magic, 8);
	h[8] = 1;
	put32le(h + 12, 64);
	h[16] = dtype;
	h[17] = rank;
	for (int i = 0; i < rank && i < 4; i++) /* the header has room for four */
		put32le(h + 20 + 4 * i, dims[i]);
	memset(h + 36, 0xff, 8);
}

/* Open bytes as a stream; returns the reader's result and its message in e. */
static int open_bytes(const void *bytes, size_t n, ts_reader *r, vk_error *e)
{
	const char *path = tmp_path("hostile.ts");
	cr_assert_eq(spit(path, bytes, n), 0);
	e->msg[0] = 0;
	return ts_reader_open(r, path, e);
}

static void expect_reject(const void *bytes, size_t n, const char *msg)
{
	ts_reader r;
	vk_error e;
	int rc = open_bytes(bytes, n, &r, &e);
	if (rc == 0)
		ts_reader_close(&r);
	cr_assert_eq(rc, -1, "accepted a bad header (expected '%s')", msg);
	cr_assert(strstr(e.msg, msg), "message '%s' lacks '%s'", e.msg, msg);
}

/* Write n records of dtype with values derived from the index, then read back. */
static void round_trip(int dtype, int labels, int meta, int declare)
{
	uint32_t dims[2] = {3, 5};
	ts_header h;
	vk_error e;
	cr_assert_eq(ts_header_init(&h, dtype, 2, dims, &e), 0);
	h.has_labels = labels;
	if (meta)
		cr_assert_eq(ts_meta_set(&h, "kind", "image", &e), 0);
	const int n = 7;
	if (declare)
		h.count = n;
	const char *path = tmp_path("round.ts");
	ts_writer w;
	cr_assert_eq(ts_writer_open(&w, path, &h, &e), 0, "%s", e.msg);
	size_t bytes = ts_data_bytes(&h);
	unsigned char rec[15 * 8], back[15 * 8];
	for (int i = 0; i < n; i++) {
		for (size_t b = 0; b < bytes; b++)
			rec[b] = (unsigned char)(i * 31 + b * 7);
		cr_assert_eq(ts_write(&w, rec, labels ? i % 3 : TS_NO_LABEL, &e), 0, "%s", e.msg);
	}
	cr_assert_eq(ts_writer_close(&w, &e), 0, "%s", e.msg);

	ts_reader r;
	cr_assert_eq(ts_reader_open(&r, path, &e), 0, "%s", e.msg);
	cr_assert_eq(r.h.dtype, dtype);
	cr_assert_eq(r.h.rank, 2);
	cr_assert_eq(r.h.dims[1], 5);
	cr_assert_eq(r.h.has_labels, labels);
	cr_assert_eq(r.h.count, (uint64_t)n, "the count is declared or patched");
	char val[32];
	cr_assert_eq(ts_meta_get(&r.h, "kind", val, sizeof val) != NULL, meta);
	for (int i = 0; i < n; i++) {
		int32_t label;
		cr_assert_eq(ts_read(&r, back, &label, &e), 1, "%s", e.msg);
		for (size_t b = 0; b < bytes; b++)
			cr_assert_eq(back[b], (unsigned char)(i * 31 + b * 7));
		cr_assert_eq(label, labels ? i % 3 : TS_NO_LABEL);
	}
	cr_assert_eq(ts_read(&r, back, NULL, &e), 0, "%s", e.msg);
	ts_reader_close(&r);
}

Test(tstream_lib, round_trip_every_dtype_and_variant)
{
	for (int dtype = TS_U8; dtype <= TS_I32; dtype++)
		for (int v = 0; v < 8; v++)
			round_trip(dtype, v & 1, v >> 1 & 1, v >> 2 & 1);
}

Test(tstream_lib, f32_conversions)
{
	uint32_t dims[1] = {3};
	ts_header h;
	vk_error e;
	ts_header_init(&h, TS_U8, 1, dims, &e);
	const char *path = tmp_path("conv.ts");
	ts_writer w;
	cr_assert_eq(ts_writer_open(&w, path, &h, &e), 0);
	float in[3] = {0.0f, 1.0f, 0.5f}, out[3];
	cr_assert_eq(ts_write_f32(&w, in, 0, &e), 0);
	cr_assert_eq(ts_writer_close(&w, &e), 0);
	ts_reader r;
	cr_assert_eq(ts_reader_open(&r, path, &e), 0);
	cr_assert_eq(ts_read_f32(&r, out, NULL, &e), 1);
	cr_assert_float_eq(out[0], 0.0f, 1e-7);
	cr_assert_float_eq(out[1], 1.0f, 1e-7);
	cr_assert_float_eq(out[2], 128 / 255.0f, 1e-7);
	ts_reader_close(&r);
}

/* i32 (code maps): values as they are, marked 1.2; a non-integral value or
 * one f32 cannot hold exactly is refused, naming the element. */
Test(tstream_lib, i32_values_exact_and_checked)
{
	uint32_t dims[1] = {4};
	ts_header h;
	vk_error e;
	cr_assert_eq(ts_header_init(&h, TS_I32, 1, dims, &e), 0);
	const char *path = tmp_path("codes.ts");
	ts_writer w;
	cr_assert_eq(ts_writer_open(&w, path, &h, &e), 0);
	float in[4] = {0, 511, -3, 16777216}, out[4];
	cr_assert_eq(ts_write_f32(&w, in, 0, &e), 0, "%s", e.msg);
	float half[4] = {0, 1.5f, 2, 3};
	cr_assert_eq(ts_write_f32(&w, half, 0, &e), -1);
	cr_assert(strstr(e.msg, "element 1 of record 1 is 1.5, not an integer"), "%s", e.msg);
	int32_t big[4] = {1, (1 << 24) + 1, 0, 0};
	cr_assert_eq(ts_write(&w, big, 0, &e), 0);
	cr_assert_eq(ts_writer_close(&w, &e), 0, "%s", e.msg);
	ts_reader r;
	cr_assert_eq(ts_reader_open(&r, path, &e), 0);
	cr_assert_eq(r.h.version_minor, 2);
	cr_assert_eq(ts_read_f32(&r, out, NULL, &e), 1);
	for (int i = 0; i < 4; i++)
		cr_assert_eq(out[i], in[i]);
	cr_assert_eq(ts_read_f32(&r, out, NULL, &e), -1);
	cr_assert(strstr(e.msg, "record 1 has the integer 16777217 at element 1"), "%s", e.msg);
	ts_reader_close(&r);
	unsigned char rec[4] = {0};
	ts_put(TS_I32, rec, 0, -7.4);
	cr_assert_eq(ts_get(TS_I32, rec, 0), -7.0);
}

/* Through a pipe the writer cannot seek: the count stays "unknown". */
Test(tstream_lib, pipe_leaves_count_unknown)
{
	int fd[2];
	cr_assert_eq(pipe(fd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], 1);
		uint32_t dims[1] = {4};
		ts_header h;
		ts_writer w;
		vk_error e;
		ts_header_init(&h, TS_F32, 1, dims, &e);
		float v[4] = {1, 2, 3, 4};
		if (ts_writer_open(&w, NULL, &h, &e) || ts_write(&w, v, 0, &e) ||
		    ts_write(&w, v, 0, &e) || ts_writer_close(&w, &e))
			_exit(1);
		_exit(0);
	}
	close(fd[1]);
	FILE *f = fdopen(fd[0], "rb");
	ts_reader r;
	vk_error e;
	cr_assert_eq(ts_reader_fopen(&r, f, "pipe", &e), 0, "%s", e.msg);
	cr_assert_eq(r.h.count, TS_COUNT_UNKNOWN);
	float v[4];
	cr_assert_eq(ts_read(&r, v, NULL, &e), 1);
	cr_assert_eq(ts_read(&r, v, NULL, &e), 1);
	cr_assert_float_eq(v[3], 4.0f, 0);
	cr_assert_eq(ts_read(&r, v, NULL, &e), 0);
	ts_reader_close(&r);
	fclose(f);
	int status;
	waitpid(pid, &status, 0);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(tstream_lib, writer_checks_declared_count)
{
	uint32_t dims[1] = {2};
	ts_header h;
	vk_error e;
	ts_header_init(&h, TS_U8, 1, dims, &e);
	h.count = 2;
	ts_writer w;
	unsigned char v[2] = {1, 2};
	cr_assert_eq(ts_writer_open(&w, tmp_path("short.ts"), &h, &e), 0);
	cr_assert_eq(ts_write(&w, v, 0, &e), 0);
	cr_assert_eq(ts_writer_close(&w, &e), -1);
	cr_assert(strstr(e.msg, "wrote 1 records but declared 2"), "%s", e.msg);
	cr_assert_eq(access(tmp_path("short.ts"), F_OK), -1, "no half-written file");
}

Test(tstream_lib, metadata_get_set_replace)
{
	uint32_t dims[1] = {1};
	ts_header h;
	vk_error e;
	char buf[64];
	ts_header_init(&h, TS_F32, 1, dims, &e);
	cr_assert_null(ts_meta_get(&h, "kind", buf, sizeof buf));
	cr_assert_eq(ts_meta_set(&h, "kind", "image", &e), 0);
	cr_assert_eq(ts_meta_set(&h, "source", "mnist", &e), 0);
	cr_assert_eq(ts_meta_set(&h, "kind", "latent", &e), 0);
	cr_assert_str_eq(ts_meta_get(&h, "kind", buf, sizeof buf), "latent");
	cr_assert_str_eq(ts_meta_get(&h, "source", buf, sizeof buf), "mnist");
	cr_assert_str_eq(h.meta, "source=mnist\nkind=latent\n");
	cr_assert_eq(ts_meta_set(&h, "bad key", "x", &e), -1);
	cr_assert_eq(ts_meta_set(&h, "k", "a\nb", &e), -1);
	cr_assert(strstr(e.msg, "newline"));
	char big[TS_MAX_META];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	cr_assert_eq(ts_meta_set(&h, "big", big, &e), -1);
	cr_assert(strstr(e.msg, "metadata too long"));
}

/* A valid u8 stream of n records of 4 bytes, count declared or not, into buf. */
static size_t small_stream(unsigned char *buf, int n, uint64_t count, int labels)
{
	uint32_t dims[1] = {4};
	fixed_header(buf, TS_U8, 1, dims);
	buf[18] = labels;
	for (int i = 0; i < 8; i++)
		buf[36 + i] = count >> (8 * i);
	size_t rec = 4 + (labels ? 4 : 0);
	memset(buf + 64, 7, n * rec);
	return 64 + n * rec;
}

static void expect_read_error(const unsigned char *buf, size_t n, int good, const char *msg)
{
	ts_reader r;
	vk_error e;
	cr_assert_eq(open_bytes(buf, n, &r, &e), 0, "%s", e.msg);
	unsigned char rec[4];
	for (int i = 0; i < good; i++)
		cr_assert_eq(ts_read(&r, rec, NULL, &e), 1, "record %d: %s", i, e.msg);
	cr_assert_eq(ts_read(&r, rec, NULL, &e), -1);
	cr_assert(strstr(e.msg, msg), "message '%s' lacks '%s'", e.msg, msg);
	ts_reader_close(&r);
}

Test(tstream_lib, truncation_and_trailing_bytes)
{
	unsigned char buf[256];
	size_t n = small_stream(buf, 3, TS_COUNT_UNKNOWN, 0);
	expect_read_error(buf, n - 1, 2, "record 2 is truncated: 3 of 4 bytes");
	n = small_stream(buf, 3, TS_COUNT_UNKNOWN, 1);
	expect_read_error(buf, n - 6, 2, "record 2 is truncated: 2 of 8 bytes");
	n = small_stream(buf, 3, 5, 0);
	expect_read_error(buf, n, 3, "truncated: 3 of 5 declared records");
	n = small_stream(buf, 3, 2, 0);
	expect_read_error(buf, n, 2, "data after the last of 2 declared records");
}

Test(tstream_lib, bad_headers_rejected)
{
	uint32_t dims[4] = {28, 28, 0, 0};
	unsigned char h[128];

	expect_reject("", 0, "empty input");
	fixed_header(h, TS_U8, 2, dims);
	h[1] = 'X';
	expect_reject(h, 64, "bad magic");
	fixed_header(h, TS_U8, 2, dims);
	expect_reject(h, 40, "truncated header (40 of 64 bytes)");
	h[8] = 2;
	expect_reject(h, 64, "unsupported stream version 2.0");
	fixed_header(h, 9, 2, dims);
	expect_reject(h, 64, "unknown element type 9");
	fixed_header(h, TS_U8, 0, dims);
	expect_reject(h, 64, "rank 0 is out of range");
	fixed_header(h, TS_U8, 5, dims);
	expect_reject(h, 64, "rank 5 is out of range");
	fixed_header(h, TS_U8, 2, dims);
	h[18] = 0x82;
	expect_reject(h, 64, "unknown flags 0x82");
	uint32_t zero[2] = {28, 0};
	fixed_header(h, TS_U8, 2, zero);
	expect_reject(h, 64, "dimension 1 is 0");
	fixed_header(h, TS_U8, 1, dims);
	put32le(h + 24, 28);
	expect_reject(h, 64, "dimension 1 is set beyond rank 1");
	uint32_t huge[3] = {65536, 65536, 65536};
	fixed_header(h, TS_F64, 3, huge);
	expect_reject(h, 64, "too many elements");
	uint32_t wide[4] = {0x7fffffff, 0x7fffffff, 0x7fffffff, 0x7fffffff};
	fixed_header(h, TS_F64, 4, wide);
	expect_reject(h, 64, "too many elements");
	fixed_header(h, TS_U8, 2, dims);
	put32le(h + 12, 1u << 30);
	expect_reject(h, 64, "bad header size 1073741824");
	put32le(h + 12, 100);
	expect_reject(h, 64, "bad header size 100");
	fixed_header(h, TS_U8, 2, dims);
	put32le(h + 44, 65);
	expect_reject(h, 64, "metadata length 65 is over the limit or past the header");
	put32le(h + 12, 128);
	memset(h + 64, 0, 64);
	put32le(h + 44, 3);
	memcpy(h + 64, "a=b", 3);
	expect_reject(h, 128, "not terminated by a newline");
	expect_reject(h, 100, "truncated header (100 of 128 bytes)");
	fixed_header(h, TS_U8, 2, dims);
	memset(h + 36, 0, 8);
	h[42] = 1; /* 2^48 records */
	expect_reject(h, 64, "record count 281474976710656 is over the limit");
}

/* The largest legal record (2^26 f64 = 512 MiB) is only allocated after the
 * checks: under a 64 MiB address-space margin a bad header still fails with
 * its own message, and only the good one runs out of memory. */
Test(tstream_lib, checks_come_before_allocation)
{
#ifdef __SANITIZE_ADDRESS__
	cr_skip_test("AddressSanitizer reserves more address space than the limit allows");
#endif
	uint32_t big[2] = {8192, 8192}, over[2] = {8192, 8193};
	unsigned char good[64], bad[64];
	fixed_header(good, TS_F64, 2, big);
	fixed_header(bad, TS_F64, 2, over);
	const char *gp = tmp_path("big-good.ts"), *bp = tmp_path("big-bad.ts");
	cr_assert_eq(spit(gp, good, 64), 0);
	cr_assert_eq(spit(bp, bad, 64), 0);
	int fd[2];
	cr_assert_eq(pipe(fd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		FILE *statm = fopen("/proc/self/statm", "r");
		unsigned long pages = 0;
		if (!statm || fscanf(statm, "%lu", &pages) != 1)
			_exit(3);
		struct rlimit rl;
		rl.rlim_cur = rl.rlim_max = pages * sysconf(_SC_PAGESIZE) + (64ul << 20);
		setrlimit(RLIMIT_AS, &rl);
		ts_reader r;
		vk_error e1, e2;
		int a = ts_reader_open(&r, bp, &e1);
		int b = ts_reader_open(&r, gp, &e2);
		dprintf(fd[1], "%d %d|%s|%s", a, b, e1.msg, e2.msg);
		_exit(0);
	}
	close(fd[1]);
	char out[1200] = {0};
	size_t got = 0;
	ssize_t k;
	while ((k = read(fd[0], out + got, sizeof out - 1 - got)) > 0)
		got += k;
	close(fd[0]);
	waitpid(pid, NULL, 0);
	cr_assert(strstr(out, "-1 -1|"), "%s", out);
	cr_assert(strstr(out, "too many elements"), "%s", out);
	cr_assert(strstr(out, "out of memory for one record"), "%s", out);
}

/* ---- The end marker (version 1.1) ---- */

/* Bytes a writer puts into a pipe: n records of a u8 vector of dbytes bytes
 * (labels or not), then ts_writer_close, or ts_writer_abort (fail) or a plain
 * exit (a writer stopped before closing) after stop records. */
enum { CLOSE, ABORT, EXIT };
static unsigned char *piped(uint32_t dbytes, int labels, int n, int stop, int how, size_t *len)
{
	int fd[2];
	cr_assert_eq(pipe(fd), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(fd[0]);
		dup2(fd[1], 1);
		ts_header h;
		ts_writer w;
		vk_error e;
		unsigned char rec[1024];
		if (dbytes > sizeof rec)
			_exit(2);
		ts_header_init(&h, TS_U8, 1, &dbytes, &e);
		h.has_labels = labels;
		if (ts_writer_open(&w, NULL, &h, &e))
			_exit(1);
		for (int i = 0; i < n; i++) {
			if (how != CLOSE && i == stop) {
				if (how == ABORT)
					ts_writer_abort(&w);
				fflush(stdout); /* what was written, as vk_die's exit does */
				_exit(1);
			}
			for (uint32_t b = 0; b < dbytes; b++)
				rec[b] = (unsigned char)(i * 13 + b);
			if (ts_write(&w, rec, i % 5, &e))
				_exit(1);
		}
		_exit(ts_writer_close(&w, &e) ? 1 : 0);
	}
	close(fd[1]);
	size_t cap = 1 << 16, got = 0;
	unsigned char *buf = malloc(cap);
	ssize_t k;
	while ((k = read(fd[0], buf + got, cap - got)) > 0)
		got += k;
	close(fd[0]);
	waitpid(pid, NULL, 0);
	cr_assert_lt(got, cap);
	*len = got;
	return buf;
}

static uint64_t get64le(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* Read bytes to the end: records read, and the last ts_read's result. */
static int read_all(const unsigned char *bytes, size_t n, int *records, vk_error *e)
{
	ts_reader r;
	cr_assert_eq(open_bytes(bytes, n, &r, e), 0, "%s", e->msg);
	unsigned char rec[1024];
	cr_assert_leq(r.data_bytes, sizeof rec);
	int rc;
	*records = 0;
	while ((rc = ts_read(&r, rec, NULL, e)) == 1)
		++*records;
	if (rc == 0) /* an end stays an end */
		cr_assert_eq(ts_read(&r, rec, NULL, e), 0);
	ts_reader_close(&r);
	return rc;
}

/* A stream into a pipe is version 1.1 and ends with its marker: the magic,
 * "END\0", the records' CRC-32C, the count, 8 zero bytes. */
Test(tstream_lib, end_marker_closes_a_pipe)
{
	size_t n;
	unsigned char *b = piped(3, 1, 4, 0, CLOSE, &n);
	cr_assert_eq(b[10], 1, "minor version 1");
	cr_assert_eq(n, 64 + 4 * 7 + TS_END_BYTES);
	const unsigned char *m = b + n - TS_END_BYTES;
	cr_assert_eq(memcmp(m, b, 8), 0, "the marker starts with the stream's magic");
	cr_assert_eq(memcmp(m + 8, "END\0", 4), 0);
	cr_assert_eq(get64le(m + 16), 4);
	uint32_t crc;
	memcpy(&crc, m + 12, 4);
	cr_assert_eq(crc, vk_crc32c(0, b + 64, 4 * 7), "CRC-32C of the records, labels included");
	for (int i = 24; i < 32; i++)
		cr_assert_eq(m[i], 0);
	vk_error e;
	int got;
	cr_assert_eq(read_all(b, n, &got, &e), 0, "%s", e.msg);
	cr_assert_eq(got, 4);
	free(b);
	/* CRC-32C's check value, so other implementations can agree. */
	cr_assert_eq(vk_crc32c(0, "123456789", 9), 0xE3069283u);
	cr_assert_eq(vk_crc32c(vk_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
	/* Long buffers go three runs at a time: the same as byte by byte. */
	unsigned char big[2500];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)(i * 131 + 7);
	for (size_t n = 760; n < sizeof big; n += 97) {
		uint32_t bytewise = 0;
		for (size_t i = 0; i < n; i++)
			bytewise = vk_crc32c(bytewise, big + i, 1);
		cr_assert_eq(vk_crc32c(0, big, n), bytewise, "%zu bytes", n);
	}
}

/* Every record size (short ones are checked byte by byte at record starts,
 * longer ones read as a record first), labelled or not, round trips; every
 * cut before the marker's last byte is refused as truncated. */
Test(tstream_lib, end_marker_every_record_size_and_cut)
{
	for (uint32_t d = 1; d <= 40; d += (d < 12 ? 1 : 7))
		for (int labels = 0; labels <= 1; labels++) {
			size_t n;
			unsigned char *b = piped(d, labels, 5, 0, CLOSE, &n);
			vk_error e;
			int got;
			cr_assert_eq(read_all(b, n, &got, &e), 0, "%u bytes: %s", d, e.msg);
			cr_assert_eq(got, 5);
			size_t hs = 64;
			for (size_t cut = hs; cut < n; cut++) {
				int rc = read_all(b, cut, &got, &e);
				cr_assert_eq(rc, -1, "%u bytes, labels %d: cut at %zu of %zu read as whole",
					     d, labels, cut, n);
				cr_assert(strstr(e.msg, "truncated: the program writing it failed or was "
							"stopped"), "%s", e.msg);
			}
			free(b);
		}
}

/* A writer that fails (ts_writer_abort) or is stopped (exits without closing)
 * writes no marker: its reader refuses what came, after the whole records. */
Test(tstream_lib, failed_writer_leaves_no_end_marker)
{
	for (int how = ABORT; how <= EXIT; how++) {
		size_t n;
		unsigned char *b = piped(784, 1, 10, 6, how, &n);
		cr_assert_eq(n, 64 + 6 * 788, "six whole records and nothing else");
		vk_error e;
		int got;
		cr_assert_eq(read_all(b, n, &got, &e), -1);
		cr_assert_eq(got, 6);
		cr_assert(strstr(e.msg, "truncated: the program writing it failed or was stopped (the "
					"stream ends after 6 records without its end marker)"),
			  "%s", e.msg);
		free(b);
	}
}

/* A marker that disagrees with the records, bytes after it, a second stream
 * after it, another tag: each refused with its own message. */
Test(tstream_lib, end_marker_checked)
{
	size_t n;
	unsigned char *b = piped(4, 0, 3, 0, CLOSE, &n), *c = malloc(n + 100);
	vk_error e;
	int got;
	memcpy(c, b, n);
	c[64 + 5] ^= 1; /* a record's bit */
	cr_assert_eq(read_all(c, n, &got, &e), -1);
	cr_assert(strstr(e.msg, "do not match the end marker's checksum"), "%s", e.msg);
	memcpy(c, b, n);
	c[n - 16] = 2; /* count 2 */
	cr_assert_eq(read_all(c, n, &got, &e), -1);
	cr_assert(strstr(e.msg, "the end marker counts 2 records but 3 came before it"), "%s",
		  e.msg);
	memcpy(c, b, n);
	memcpy(c + n, "xyz", 3);
	cr_assert_eq(read_all(c, n + 3, &got, &e), -1);
	cr_assert(strstr(e.msg, "data after the end marker (after record 3)"), "%s", e.msg);
	memcpy(c + n, b, 64); /* cat a.ts b.ts */
	cr_assert_eq(read_all(c, n + 64, &got, &e), -1);
	cr_assert(strstr(e.msg, "a second stream's header follows record 3"), "%s", e.msg);
	memcpy(c, b, n);
	memcpy(c + n - TS_END_BYTES, b, 64); /* a header where the marker should be */
	cr_assert_eq(read_all(c, n - TS_END_BYTES + 64, &got, &e), -1);
	cr_assert(strstr(e.msg, "a second stream's header follows record 3"), "%s", e.msg);
	free(b);
	free(c);
}

/* 1.0 streams of unknown count end at end of file, as they always did; a
 * declared count needs no marker in either version. */
Test(tstream_lib, version_1_0_reads_as_before)
{
	unsigned char buf[256];
	size_t n = small_stream(buf, 3, TS_COUNT_UNKNOWN, 1);
	vk_error e;
	int got;
	cr_assert_eq(buf[10], 0);
	cr_assert_eq(read_all(buf, n, &got, &e), 0, "%s", e.msg);
	cr_assert_eq(got, 3);
	buf[10] = 1; /* the same bytes as 1.1 lack their marker */
	cr_assert_eq(read_all(buf, n, &got, &e), -1);
	cr_assert(strstr(e.msg, "without its end marker"), "%s", e.msg);
	n = small_stream(buf, 3, 3, 1);
	cr_assert_eq(read_all(buf, n, &got, &e), 0, "%s", e.msg);
	cr_assert_eq(got, 3);
}
