/* End-to-end runs of the stream utilities: stream-cat, stream-split,
 * stream-info, stream2txt/txt2stream and stream2npy/npy2stream. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"
#include "testutil.h"

/* Integers 0..n-1 as a u8 (n ≤ 256) stream of one-element records, written to
 * a file (count patched) by txt2stream. */
static const char *counting_stream(const char *name, int n)
{
	static char path[512];
	snprintf(path, sizeof path, "%s", tmp_path(name));
	cr_assert_eq(run("seq 0 %d | txt2stream -t u8 -o %s", n - 1, path), 0);
	return path;
}

/* A labelled f32 stream of 3x5 records full of awkward values, via the library. */
static const char *awkward_stream(const char *name, int dtype)
{
	static char path[512];
	snprintf(path, sizeof path, "%s", tmp_path(name));
	uint32_t dims[2] = {3, 5};
	ts_header h;
	ts_writer w;
	vk_error e;
	ts_header_init(&h, dtype, 2, dims, &e);
	h.has_labels = 1;
	cr_assert_eq(ts_writer_open(&w, path, &h, &e), 0, "%s", e.msg);
	srand(7);
	for (int i = 0; i < 7; i++) {
		float f[15];
		for (int k = 0; k < 15; k++)
			f[k] = (rand() / (float)RAND_MAX - 0.3f) * powf(10, rand() % 20 - 10);
		f[0] = 1.4e-45f;  /* the smallest subnormal */
		f[1] = 3.4028235e38f;
		f[2] = -0.0f;
		f[3] = i / 7.0f;
		cr_assert_eq(ts_write_f32(&w, f, i % 4 - 1, &e), 0, "%s", e.msg);
	}
	cr_assert_eq(ts_writer_close(&w, &e), 0, "%s", e.msg);
	return path;
}

/* The text of a file (NUL-terminated, malloc'd). */
static char *text_of(const char *path)
{
	size_t n;
	unsigned char *s = slurp(path, &n);
	cr_assert_not_null(s, "cannot read %s", path);
	s = realloc(s, n + 1);
	s[n] = 0;
	return (char *)s;
}

static void assert_same_file(const char *a, const char *b)
{
	cr_assert_eq(run("cmp -s %s %s", a, b), 0, "%s and %s differ", a, b);
}

Test(streamtools, cat_skip_count_every)
{
	const char *in = counting_stream("ten.ts", 10);
	const char *out = tmp_path("cat.txt");
	cr_assert_eq(run("stream-cat --skip 2 --every 3 -n 2 %s | stream2txt > %s", in, out), 0);
	char *t = text_of(out);
	cr_assert_str_eq(t, "2\n5\n");
	free(t);
	cr_assert_eq(run("stream-cat %s - %s < %s | stream2txt | wc -l | grep -qx 30", in, in, in),
		     0, "three inputs, one of them standard input");
}

Test(streamtools, cat_shape_mismatch)
{
	char err[1024];
	const char *a = counting_stream("one.ts", 3);
	const char *b = tmp_path("two.ts");
	cr_assert_eq(run("printf '1 2\\n' | txt2stream -t u8 -o %s", b), 0);
	int rc = run_err(err, sizeof err, "stream-cat %s %s > /dev/null", a, b);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "shape 2 u8 differs from the first input's 1 u8"), "%s", err);
}

Test(streamtools, split_then_cat_gives_the_records_back)
{
	const char *in = counting_stream("split-in.ts", 11);
	char dir[512], err[1024];
	snprintf(dir, sizeof dir, "%s", tmp_path("split"));
	cr_assert_eq(run("mkdir -p %s && cd %s && stream-split -k 3 --contiguous %s", dir, dir,
			 in), 0);
	cr_assert_eq(run("cd %s && stream-cat shard0000.ts shard0001.ts shard0002.ts | stream2txt"
			 " > cat.txt && stream2txt %s | cmp -s - cat.txt", dir, in), 0,
		     "contiguous shards concatenate to the input");
	cr_assert_eq(run("cd %s && stream-info --tsv shard0002.ts | grep -qx 'records.3' &&"
			 " stream-info --tsv shard0000.ts | grep -qx 'meta.shard.0/3' &&"
			 " stream-info --tsv shard0000.ts | grep -qx 'declared.4'", dir), 0);

	cr_assert_eq(run("cd %s && stream-cat %s | stream-split -k 4 -p rr-", dir, in), 0);
	cr_assert_eq(run("cd %s && stream2txt rr-0001.ts | tr '\\n' ' ' | grep -qx '1 5 9 '", dir),
		     0, "round-robin sends record i to shard i mod K");
	cr_assert_eq(run("cd %s && stream-cat rr-000?.ts | stream2txt | sort -n > rr.txt &&"
			 " stream2txt %s | cmp -s - rr.txt", dir, in), 0);

	int rc = run_err(err, sizeof err, "cd %s && stream-cat %s | stream-split -k 2 -c -p p-",
			 dir, in);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "--contiguous needs the record count"), "%s", err);
	cr_assert_eq(run("ls %s | grep -q '^p-'", dir), 1, "no shard left behind");
}

Test(streamtools, split_of_a_truncated_stream_leaves_nothing)
{
	const char *in = counting_stream("trunc-in.ts", 9);
	char dir[512], err[1024];
	snprintf(dir, sizeof dir, "%s", tmp_path("split-trunc"));
	int rc = run_err(err, sizeof err, "mkdir -p %s && cd %s && head -c 70 %s | "
			 "stream-split -k 2", dir, dir, in);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "truncated: 6 of 9 declared records"), "%s", err);
	cr_assert_eq(run("test -z \"$(ls -A %s)\"", dir), 0, "directory not empty");
}

Test(streamtools, text_round_trip_is_exact)
{
	const char *f = awkward_stream("awk-f32.ts", TS_F32);
	const char *back = tmp_path("awk-f32-back.ts");
	cr_assert_eq(run("stream2txt %s | txt2stream --labels --shape 3x5 -o %s", f, back), 0);
	assert_same_file(f, back);
	const char *u = awkward_stream("awk-u8.ts", TS_U8);
	cr_assert_eq(run("stream2txt %s | txt2stream -l -s 3x5 -t u8 -o %s", u, back), 0);
	assert_same_file(u, back);
	const char *d = awkward_stream("awk-f64.ts", TS_F64);
	cr_assert_eq(run("stream2txt %s | txt2stream -l -s 3x5 -t f64 -o %s", d, back), 0);
	assert_same_file(d, back);
}

Test(streamtools, txt2stream_errors_name_the_line)
{
	char err[1024];
	int rc = run_err(err, sizeof err, "printf '1 2 3\\n4 5\\n' | txt2stream > /dev/null");
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "line 2 has 2 values, expected 3"), "%s", err);
	rc = run_err(err, sizeof err, "printf '1\\t2\\n3\\t4x\\n' | txt2stream > /dev/null");
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "line 2, field 2: '4x' is not a finite 32-bit number"), "%s", err);
	rc = run_err(err, sizeof err, "printf '1 256\\n' | txt2stream -t u8 > /dev/null");
	cr_assert(strstr(err, "'256' is not an integer from 0 to 255"), "%s", err);
	rc = run_err(err, sizeof err, "head -c 100000 /dev/zero | tr '\\\\0' 7 | "
		     "txt2stream > /dev/null");
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "line 1, field 1: longer than 63 characters"), "%s", err);
	rc = run_err(err, sizeof err, "printf '1 2 3\\n' | txt2stream --shape 2 > /dev/null");
	cr_assert(strstr(err, "line 1 has more than 2 values"), "%s", err);
}

Test(streamtools, npy_round_trip)
{
	const char *f = awkward_stream("npy-f32.ts", TS_F32);
	const char *npy = tmp_path("awk.npy"), *lab = tmp_path("awk-labels.npy");
	const char *back = tmp_path("npy-back.ts");
	cr_assert_eq(run("stream2npy --labels %s %s > %s", lab, f, npy), 0);
	cr_assert_eq(run("npy2stream --labels %s -o %s %s", lab, back, npy), 0);
	assert_same_file(f, back);
	/* Unknown count through a pipe: stream2npy holds the data until it knows. */
	cr_assert_eq(run("stream-cat %s | stream2npy -l %s | npy2stream -o %s", f, lab, back), 0);
	cr_assert_eq(run("stream-cat %s | stream2npy -o %s -l %s && npy2stream -l %s -o %s %s", f,
			 npy, lab, lab, back, npy), 0);
	assert_same_file(f, back);
	size_t n;
	unsigned char *labels = slurp(lab, &n);
	cr_assert_eq(n, 128u + 7 * 4);
	cr_assert_eq(memcmp(labels, "\x93NUMPY\x01\x00v\x00{'descr': '<i4', 'fortran_order': "
			    "False, 'shape': (7,), }", 66), 0);
	cr_assert_eq(memcmp(labels + 128, "\xff\xff\xff\xff\0\0\0\0\1\0\0\0", 12), 0);
	free(labels);
}

/* What numpy.save writes for np.arange(6, dtype=np.uint8).reshape(2, 3). */
static const char NUMPY_U8_2x3[] =
	"\x93NUMPY\x01\x00v\x00{'descr': '|u1', 'fortran_order': False, 'shape': (2, 3), }"
	"                                                          \n\x00\x01\x02\x03\x04\x05";

Test(streamtools, npy2stream_reads_numpy_output)
{
	const char *npy = tmp_path("numpy.npy"), *txt = tmp_path("numpy.txt");
	char err[1024];
	cr_assert_eq(spit(npy, NUMPY_U8_2x3, sizeof NUMPY_U8_2x3 - 1), 0);
	cr_assert_eq(run("npy2stream %s | stream2txt > %s", npy, txt), 0);
	char *t = text_of(txt);
	cr_assert_str_eq(t, "0\t1\t2\n3\t4\t5\n");
	free(t);
	cr_assert_eq(spit(npy, NUMPY_U8_2x3, sizeof NUMPY_U8_2x3 - 2), 0);
	int rc = run_err(err, sizeof err, "npy2stream %s > /dev/null", npy);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "truncated: record 1 of 2 has 2 of 3 bytes"), "%s", err);
}

Test(streamtools, stream_info_counts_records)
{
	const char *f = awkward_stream("info.ts", TS_F32);
	const char *out = tmp_path("info.txt");
	cr_assert_eq(run("stream-cat %s | stream-info > %s", f, out), 0);
	char *t = text_of(out);
	cr_assert(strstr(t, "shape        3x5\n"), "%s", t);
	cr_assert(strstr(t, "declared     unknown\n"), "%s", t);
	cr_assert(strstr(t, "records      7\n"), "%s", t);
	cr_assert(strstr(t, "label.-1     2\n"), "%s", t);
	free(t);
	cr_assert_eq(run("seq 1 4 | txt2stream | stream-info --tsv | grep -qx 'mean.2.5'"), 0);
	cr_assert_eq(run("seq 1 4 | txt2stream | stream-info --tsv | grep -qx 'std.1.11803399'"),
		     0);
}

/* 2000 records of 784 bytes: more than a pipe holds. */
static const char *big_stream(void)
{
	static char path[512];
	snprintf(path, sizeof path, "%s", tmp_path("big.ts"));
	uint32_t dims[2] = {28, 28};
	ts_header h;
	ts_writer w;
	vk_error e;
	ts_header_init(&h, TS_U8, 2, dims, &e);
	cr_assert_eq(ts_writer_open(&w, path, &h, &e), 0, "%s", e.msg);
	unsigned char rec[784];
	for (int i = 0; i < 2000; i++) {
		memset(rec, i, sizeof rec);
		cr_assert_eq(ts_write(&w, rec, 0, &e), 0);
	}
	cr_assert_eq(ts_writer_close(&w, &e), 0, "%s", e.msg);
	return path;
}

Test(streamtools, output_problems)
{
	const char *big = big_stream();
	char err[1024];
	int rc = run_err(err, sizeof err, "stream-cat %s | head -c 100 > /dev/null", big);
	cr_assert_eq(rc, 0);
	cr_assert_str_eq(err, "", "a closed pipe ends quietly");
	rc = run_err(err, sizeof err, "stream-cat %s > /dev/full", big);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "stream-cat: error writing standard output"), "%s", err);
	if (run("command -v script > /dev/null") != 0)
		return;
	const char *log = tmp_path("tty.txt");
	rc = run("script -qec 'stream-cat %s' /dev/null > %s 2>&1", big, log);
	cr_assert_eq(rc, 1);
	char *t = text_of(log);
	cr_assert(strstr(t, "refusing to write binary data to a terminal"), "%s", t);
	free(t);
}
