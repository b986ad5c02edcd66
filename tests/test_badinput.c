/* The bad-input catalogue, run against the real programs (the model tools
 * above all: vae-train, vae-encode, vae-decode, vae-sample). Every case must
 * end with one line on stderr naming the program and what is wrong, a
 * non-zero exit, and no output file (nor a temporary one) left behind.
 * Library-level checks of the same inputs are in test_stream.c and
 * test_idx.c; here each reaches a program's user. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stream.h"
#include "testutil.h"

/* A directory of inputs: good data (d.ts, 300 labelled digits), a VAE
 * (M.vkm) and a cvae (C.vkm) trained on it, and broken copies of each. */
static char dir[512];

static unsigned char *load(const char *name, size_t *len)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	unsigned char *b = slurp(path, len);
	cr_assert(b, "cannot read %s", path);
	return b;
}

static void save(const char *name, const void *data, size_t len)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	cr_assert_eq(spit(path, data, len), 0);
}

/* name := base with len bytes at off replaced by bytes (or cut at off when
 * bytes is NULL, or with bytes appended when off is len(base)). */
static void variant(const char *name, const char *base, size_t off, const void *bytes,
		    size_t len)
{
	size_t n;
	unsigned char *b = load(base, &n);
	if (!bytes) {
		save(name, b, off);
	} else {
		if (off + len > n) {
			b = realloc(b, off + len);
			n = off + len;
		}
		memcpy(b + off, bytes, len);
		save(name, b, n);
	}
	free(b);
}

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }

/* A 64-byte stream header (no metadata) and some data after it. */
static void stream_file(const char *name, int dtype, int rank, const uint32_t dims[4],
			uint64_t count, const void *data, size_t len)
{
	unsigned char h[64] = {0x93, 'V', 'K', 'T', 'S', '\r', '\n', 0x1a, 1, 0};
	put32(h + 12, 64);
	h[16] = (unsigned char)dtype;
	h[17] = (unsigned char)rank;
	for (int i = 0; i < 4; i++)
		put32(h + 20 + 4 * i, dims[i]);
	memcpy(h + 36, &count, 8);
	unsigned char *b = malloc(64 + len);
	memcpy(b, h, 64);
	memcpy(b + 64, data, len);
	save(name, b, 64 + len);
	free(b);
}

static void setup_inputs(void)
{
	snprintf(dir, sizeof dir, "%s", tmp_path("bad"));
	cr_assert_eq(run("mkdir -p %s && cd %s && idx2stream -n 300 %s %s > d.ts && "
			 "vae-train -q -t 1 -z 2 --hidden 16 -e 1 -o M.vkm d.ts && "
			 "vae-train -q -t 1 -m cvae -z 2 --hidden 16 -e 1 -o C.vkm d.ts && "
			 "idx2stream -n 300 %s > nolabels.ts && vae-encode -m M.vkm d.ts > z.ts",
			 dir, dir, repo_path("examples/data/digits-test-images-idx3-ubyte.gz"),
			 repo_path("examples/data/digits-test-labels-idx1-ubyte.gz"),
			 repo_path("examples/data/digits-test-images-idx3-ubyte.gz")), 0);
	size_t n;
	unsigned char *d = load("d.ts", &n);
	uint32_t hs;
	memcpy(&hs, d + 12, 4);
	free(d);
	save("empty", "", 0);
	variant("magic.ts", "d.ts", 0, "X", 1);
	variant("version.ts", "d.ts", 8, "\2\0\0\0", 4);
	variant("dtype.ts", "d.ts", 16, "\x09", 1);
	variant("rank0.ts", "d.ts", 17, "\0", 1);
	variant("rank5.ts", "d.ts", 17, "\5", 1);
	variant("meta-long.ts", "d.ts", 44, "\x20\x4e\0\0", 4);    /* 20000 bytes */
	variant("header-long.ts", "d.ts", 12, "\0\0\x10\0", 4);    /* 1 MiB */
	variant("trailing.ts", "d.ts", n, "xyz", 3);
	variant("truncated.ts", "d.ts", n - 100, NULL, 0);
	unsigned char *z = load("z.ts", &n);
	free(z);
	variant("z-truncated.ts", "z.ts", n - TS_END_BYTES - 5, NULL, 0); /* into the last record */
	variant("z-unmarked.ts", "z.ts", n - TS_END_BYTES, NULL, 0);      /* every record, no marker */
	variant("z-marker-cut.ts", "z.ts", n - 5, NULL, 0);
	/* Metadata "k=v" with no newline: length 3, padding zeros after it. */
	unsigned char meta[7] = {3, 0, 0, 0};
	variant("meta-unterminated.ts", "d.ts", 44, meta, 4);
	variant("meta-unterminated.ts", "meta-unterminated.ts", 64, "k=v", 3);
	/* A cvae's labels out of range: record 5 labelled 12, then -1. */
	variant("label12.ts", "d.ts", hs + 5 * 788, "\x0c\0\0\0", 4);
	variant("label-1.ts", "d.ts", hs + 5 * 788, "\xff\xff\xff\xff", 4);
	/* f32 vectors with NaN or infinity in the second record. */
	float v[6] = {0.1f, 0.2f, 0.3f, 0.4f, NAN, 0.6f};
	uint32_t d3[4] = {3, 0, 0, 0};
	stream_file("nan.ts", 2, 1, d3, 2, v, sizeof v);
	v[4] = INFINITY;
	stream_file("inf.ts", 2, 1, d3, 2, v, sizeof v);
	v[4] = 0.5f;
	stream_file("three.ts", 2, 1, d3, 2, v, sizeof v);
	/* 65536 x 65536 elements a record; 2^36 records of 2^26 floats (the
	 * product wraps a 64-bit size to 0). */
	uint32_t big[4] = {65536, 65536, 0, 0}, wrap[4] = {8192, 8192, 0, 0};
	stream_file("elems.ts", 1, 2, big, 1, "", 0);
	stream_file("count-wrap.ts", 2, 2, wrap, 1ull << 36, v, sizeof v);
	/* Models: one flipped bit, cut short, version 4, a directory. */
	unsigned char *m = load("M.vkm", &n);
	m[300] ^= 1;
	save("crc.vkm", m, n);
	m[300] ^= 1;
	save("truncated.vkm", m, n - 10);
	m[8] = 4, m[10] = 0; /* version 4.0 */
	save("version.vkm", m, n);
	free(m);
	cr_assert_eq(run("mkdir -p %s/adir", dir), 0);
}

TestSuite(bad_input, .init = setup_inputs, .timeout = 60);

/* Run cmd in the input directory: exit status want, stderr one line starting
 * "prog: " (plus the "Try --help" line for usage errors) containing what, and
 * no out.* file left. */
static void expect(const char *prog, int want, const char *what, const char *cmd)
{
	char err[4096];
	int rc = run_err(err, sizeof err, "cd %s && rm -rf out.* && %s", dir, cmd);
	cr_assert_eq(rc, want, "%s: exit %d, expected %d (stderr: %s)", cmd, rc, want, err);
	char head[64];
	snprintf(head, sizeof head, "%s: ", prog);
	cr_assert(!strncmp(err, head, strlen(head)), "%s: stderr does not start '%s': %s", cmd,
		  head, err);
	char *nl = strchr(err, '\n');
	cr_assert(nl, "%s: no newline on stderr: %s", cmd, err);
	if (want == 2)
		cr_assert(!strncmp(nl + 1, "Try '", 5), "%s: %s", cmd, err);
	else
		cr_assert_eq(nl[1], 0, "%s: more than one line on stderr: %s", cmd, err);
	*nl = 0;
	cr_assert(strstr(err, what), "%s: message '%s' lacks '%s'", cmd, err, what);
	cr_assert_neq(run("cd %s && ls out.* >/dev/null 2>&1", dir), 0,
		      "%s: left an output file behind", cmd);
}

/* The same broken stream through each model tool that reads one. */
static void every_reader(const char *input, const char *what)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "vae-train -q -t 1 -e 1 -o out.vkm %s", input);
	expect("vae-train", 1, what, cmd);
	snprintf(cmd, sizeof cmd, "vae-encode -m M.vkm -o out.ts %s", input);
	expect("vae-encode", 1, what, cmd);
	snprintf(cmd, sizeof cmd, "vae-decode -m M.vkm -o out.ts < %s", input);
	expect("vae-decode", 1, what, cmd);
}

Test(bad_input, stream_headers)
{
	every_reader("empty", "empty input");
	every_reader("magic.ts", "bad magic");
	every_reader("version.ts", "version 2.0");
	every_reader("dtype.ts", "unknown element type 9");
	every_reader("rank0.ts", "rank 0 is out of range");
	every_reader("rank5.ts", "rank 5 is out of range");
	every_reader("elems.ts", "65536x65536");
	every_reader("meta-long.ts", "metadata length 20000");
	every_reader("meta-unterminated.ts", "not terminated by a newline");
	every_reader("header-long.ts", "bad header size 1048576");
}

Test(bad_input, stream_records)
{
	expect("vae-train", 1, "truncated: the program writing it failed or was stopped (record 299 has",
	       "vae-train -q -e 1 -o out.vkm truncated.ts");
	expect("vae-encode", 1, "truncated: the program writing it failed or was stopped (record 299 has",
	       "vae-encode -m M.vkm -o out.ts truncated.ts");
	expect("vae-decode", 1, "truncated: the program writing it failed or was stopped (record 299 has",
	       "vae-decode -m M.vkm -o out.ts z-truncated.ts");
	/* A pipe's stream (count unknown) ends with its end marker: without it,
	 * or with it cut short, the records that came are not taken for all. */
	expect("vae-decode", 1, "truncated: the program writing it failed or was stopped (the stream "
	       "ends after 300 records without its end marker)",
	       "vae-decode -m M.vkm -o out.ts < z-unmarked.ts");
	expect("vae-decode", 1, "has 27 of 32 bytes", "vae-decode -m M.vkm -o out.ts z-marker-cut.ts");
	/* Training reads everything before it starts; encoding finds the end. */
	expect("vae-train", 1, "data after the last of 300 declared records",
	       "vae-train -q -e 1 -o out.vkm trailing.ts");
	expect("vae-encode", 1, "data after the last of 300 declared records",
	       "vae-encode -m M.vkm -o out.ts trailing.ts");
	expect("vae-train", 1, "needs 16.0 EB", "vae-train -q -e 1 -o out.vkm count-wrap.ts");
}

Test(bad_input, non_finite_training_data)
{
	expect("vae-train", 1, "record 1 has a non-finite value (nan) at element 1",
	       "vae-train -q -e 1 -o out.vkm nan.ts");
	expect("vae-train", 1, "record 1 has a non-finite value (inf) at element 1",
	       "vae-train -q -e 1 -o out.vkm inf.ts");
	expect("vae-train", 1, "record 1 has a non-finite value (nan)",
	       "vae-train -q -e 1 -o out.vkm < nan.ts");
}

Test(bad_input, labels_and_shapes)
{
	expect("vae-train", 1, "record 5 has label 12, outside the model's classes 0..9",
	       "vae-train -q -m cvae --classes 10 -e 1 -o out.vkm label12.ts");
	expect("vae-train", 1, "record 5 has label -1",
	       "vae-train -q -m cvae -e 1 -o out.vkm label-1.ts");
	expect("vae-train", 1, "no labels", "vae-train -q -m cvae -e 1 -o out.vkm nolabels.ts");
	expect("vae-train", 1, "no labels",
	       "vae-train -q -m cvae --classes 10 -e 1 -o out.vkm nolabels.ts");
	expect("vae-encode", 1, "record 5 has label 12", "vae-encode -m C.vkm -o out.ts label12.ts");
	expect("vae-encode", 1, "record 5 has label -1",
	       "vae-encode -m C.vkm -o out.ts label-1.ts");
	expect("vae-sample", 1, "12", "vae-sample -m C.vkm -l 12 -o out.ts");
	/* Resuming on data of another shape; encoding it. */
	expect("vae-train", 1, "do not match the model's input",
	       "cp M.vkm out.vkm && vae-train --resume -e 2 -o out.vkm three.ts; rc=$?; "
	       "cmp -s M.vkm out.vkm && rm out.vkm; exit $rc");
	expect("vae-encode", 1, "do not match the model's input",
	       "vae-encode -m M.vkm -o out.ts three.ts");
}

/* Each model tool on a broken model. */
static void every_model_user(const char *model, const char *what)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "vae-encode -m %s -o out.ts d.ts", model);
	expect("vae-encode", 1, what, cmd);
	snprintf(cmd, sizeof cmd, "vae-encode -m M.vkm d.ts | vae-decode -m %s -o out.ts", model);
	expect("vae-decode", 1, what, cmd);
	snprintf(cmd, sizeof cmd, "vae-sample -m %s -o out.ts", model);
	expect("vae-sample", 1, what, cmd);
	/* --resume must refuse it and leave it as it was. */
	snprintf(cmd, sizeof cmd,
		 "cp -r %s out.vkm && vae-train --resume -e 2 -o out.vkm d.ts; rc=$?; "
		 "diff -r %s out.vkm >/dev/null && rm -r out.vkm; exit $rc", model, model);
	expect("vae-train", 1, what, cmd);
}

Test(bad_input, model_files)
{
	every_model_user("crc.vkm", "checksum mismatch");
	every_model_user("truncated.vkm", "truncated or corrupt");
	every_model_user("version.vkm", "model version 4.0 is not supported");
	every_model_user("d.ts", "not a vaekit model (bad magic)");
	every_model_user("adir", "Is a directory");
	expect("vae-encode", 1, "cannot open model missing.vkm",
	       "vae-encode -m missing.vkm -o out.ts d.ts");
	expect("vae-sample", 1, "cannot open model missing.vkm", "vae-sample -m missing.vkm");
}

Test(bad_input, missing_and_unreadable_inputs)
{
	expect("vae-train", 1, "missing.ts", "vae-train -q -e 1 -o out.vkm missing.ts");
	expect("vae-encode", 1, "missing.ts", "vae-encode -m M.vkm -o out.ts missing.ts");
	expect("vae-decode", 1, "missing.ts", "vae-decode -m M.vkm -o out.ts missing.ts");
	expect("vae-train", 1, "adir", "vae-train -q -e 1 -o out.vkm adir");
	expect("vae-encode", 1, "adir", "vae-encode -m M.vkm -o out.ts adir");
	expect("vae-train", 1, "out.vkm/x", "vae-train -q -e 1 -o out.vkm/x d.ts");
}

Test(bad_input, idx_files)
{
	const char *img = repo_path("examples/data/digits-test-images-idx3-ubyte.gz");
	char cmd[1024];
	expect("idx2stream", 1, "d.ts", "idx2stream -o out.ts d.ts");
	/* A gzip stream with its deflate data damaged (and a good CRC trailer). */
	snprintf(cmd, sizeof cmd,
		 "head -c 2000 %s > bad.gz && printf 'XXXXXXXXXXXXXXXXXXXXXXXX' >> bad.gz && "
		 "tail -c +2025 %s >> bad.gz && idx2stream -o out.ts bad.gz", img, img);
	expect("idx2stream", 1, "bad.gz", cmd);
	snprintf(cmd, sizeof cmd, "head -c 5000 %s > cut.gz && idx2stream -o out.ts cut.gz", img);
	expect("idx2stream", 1, "cut.gz", cmd);
	snprintf(cmd, sizeof cmd, "idx2stream -o out.ts %s %s", img,
		 repo_path("examples/data/digits-train-labels-idx1-ubyte.gz"));
	expect("idx2stream", 1, "has 8000 labels", cmd);
	expect("idx2stream", 1, "missing.idx", "idx2stream -o out.ts missing.idx");
}

/* Bad option values are refused before any work: exit 2 even though the
 * input does not exist (reading it would fail with 1). */
Test(bad_input, option_values_before_any_work)
{
	static const char *cases[][3] = {
		{"vae-train", "--latent: 0", "vae-train -o out.vkm --latent 0 missing.ts"},
		{"vae-train", "--batch: -1", "vae-train -o out.vkm --batch -1 missing.ts"},
		{"vae-train", "--lr: 'abc'", "vae-train -o out.vkm --lr abc missing.ts"},
		{"vae-train", "--epochs: 0", "vae-train -o out.vkm -e 0 missing.ts"},
		{"vae-train", "--hidden", "vae-train -o out.vkm --hidden 10,x missing.ts"},
		{"vae-train", "--max-memory", "vae-train -o out.vkm --max-memory 12Q missing.ts"},
		{"vae-train", "--beta", "vae-train -o out.vkm --beta -1 missing.ts"},
		{"vae-train", "--model", "vae-train -o out.vkm -m gan missing.ts"},
		{"vae-train", "-o MODEL", "vae-train missing.ts"},
		{"vae-encode", "--batch: 0", "vae-encode -m missing.vkm -b 0 missing.ts"},
		{"vae-encode", "-m MODEL", "vae-encode missing.ts"},
		{"vae-encode", "too many operands", "vae-encode -m missing.vkm a.ts b.ts"},
		{"vae-decode", "unrecognized option", "vae-decode -m missing.vkm --bogus"},
		{"vae-sample", "--count", "vae-sample -m missing.vkm -n -1"},
		{"vae-sample", "--temperature: 'abc'", "vae-sample -m missing.vkm -T abc"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		expect(cases[i][0], 2, cases[i][1], cases[i][2]);
}

Test(bad_input, full_device_is_an_error)
{
	expect("vae-encode", 1, "No space left on device", "vae-encode -m M.vkm d.ts > /dev/full");
	expect("vae-decode", 1, "No space left on device",
	       "vae-encode -m M.vkm d.ts | vae-decode -m M.vkm > /dev/full");
	expect("vae-sample", 1, "No space left on device", "vae-sample -m M.vkm -n 500 > /dev/full");
	expect("vae-train", 1, "No space left on device", "vae-train -q -e 1 -o /dev/full d.ts");
}

/* A reader that goes away ends a writer quietly: no message, no status
 * other than the SIGPIPE death the shell sees. */
Test(bad_input, closed_pipe_is_quiet)
{
	static const char *cmds[] = {
		"vae-encode -m M.vkm d.ts",
		"vae-encode -m M.vkm d.ts | vae-decode -m M.vkm",
		"vae-sample -m M.vkm -n 5000",
	};
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
		char err[1024];
		int rc = run_err(err, sizeof err, "cd %s && %s | head -c 100 > /dev/null", dir,
				 cmds[i]);
		cr_assert_eq(rc, 0, "%s | head: exit %d", cmds[i], rc);
		cr_assert_eq(err[0], 0, "%s | head: stderr '%s'", cmds[i], err);
	}
}

Test(bad_input, binary_to_a_terminal_is_refused)
{
	if (run("command -v script >/dev/null") != 0)
		cr_skip_test("no script(1) to provide a terminal");
	static const char *cmds[][2] = {
		{"vae-encode", "vae-encode -m M.vkm d.ts"},
		{"vae-decode", "vae-encode -m M.vkm d.ts | vae-decode -m M.vkm"},
		{"vae-sample", "vae-sample -m M.vkm -n 2"},
	};
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
		char out[600], err[2048];
		snprintf(out, sizeof out, "%s/tty.txt", dir);
		int rc = run_err(err, sizeof err, "cd %s && script -qec \"%s\" /dev/null > %s", dir,
				 cmds[i][1], out);
		size_t n;
		char *s = (char *)slurp(out, &n);
		cr_assert(s);
		cr_assert_neq(rc, 0, "%s to a terminal succeeded", cmds[i][0]);
		cr_assert(strstr(s, "refusing to write binary data to a terminal"), "%s: %.*s",
			  cmds[i][0], (int)n, s);
		cr_assert(n < 300, "%s: %zu bytes reached the terminal", cmds[i][0], n);
		free(s);
	}
}
