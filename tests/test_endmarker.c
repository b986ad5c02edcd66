/* The stream end marker (formats/tensor-stream.md, version 1.1) through the
 * real programs: every program that reads a stream to its end refuses one
 * whose producer failed partway, instead of working on a part as if it were
 * the whole and exiting 0; version 1.0 streams still read. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stream.h"
#include "testutil.h"

static char dir[512];

static const char TRUNCATED[] = "truncated: the program writing it failed or was stopped";

/* d.ts: 500 labelled digits (u8, declared count); f.ts the same as f32 with a
 * NaN in record 400; wide.ts another shape; M.vkm a small VAE of d.ts; bad.csv
 * four good lines after its header, then a bad one (line 6). */
static void setup(void)
{
	snprintf(dir, sizeof dir, "%s", tmp_path("endmarker"));
	const char *img = repo_path("examples/data/digits-test-images-idx3-ubyte.gz");
	const char *lab = repo_path("examples/data/digits-test-labels-idx1-ubyte.gz");
	cr_assert_eq(run("mkdir -p %s && cd %s && idx2stream -n 500 %s %s > d.ts && "
			 "idx2stream -f -n 500 %s %s > f.ts && "
			 "seq 1 12 | txt2stream > wide.ts && "
			 "vae-train -q -t 1 -z 2 --hidden 16 -e 1 -o M.vkm d.ts && "
			 "printf 'a,b,c\\n1,2,3\\n4,5,6\\n7,8,9\\n1,1,1\\n2,x,2\\n3,3,3\\n' > bad.csv",
			 dir, dir, img, lab, img, lab), 0);
	char path[600];
	snprintf(path, sizeof path, "%s/f.ts", dir);
	size_t n;
	unsigned char *b = slurp(path, &n);
	cr_assert_not_null(b);
	uint32_t hs;
	memcpy(&hs, b + 12, 4);
	float nan = NAN;
	memcpy(b + hs + 400 * (4 + 784 * 4) + 4 + 100 * 4, &nan, 4);
	snprintf(path, sizeof path, "%s/nan.ts", dir);
	cr_assert_eq(spit(path, b, n), 0);
	free(b);
}

TestSuite(end_marker, .init = setup, .timeout = 120);

/* cmd (a pipeline) in dir: the last program's exit status is want; with
 * what, its stderr has "prog: standard input: " + what. No out.* is left
 * behind on failure (but stream2img's files written before it stay, as its
 * man page says). */
static void expect(const char *cmd, int want, const char *prog, const char *what)
{
	char err[8192];
	int rc = run_err(err, sizeof err, "cd %s && rm -rf out* && %s", dir, cmd);
	cr_assert_eq(rc, want, "%s: exit %d, expected %d (stderr: %s)", cmd, rc, want, err);
	if (what) {
		char line[256];
		snprintf(line, sizeof line, "%s: standard input: %s", prog, what);
		cr_assert(strstr(err, line), "%s: stderr lacks '%s': %s", cmd, line, err);
		if (strcmp(prog, "stream2img"))
			cr_assert_neq(run("cd %s && ls out* >/dev/null 2>&1", dir), 0,
			      "%s: left an output behind", cmd);
	}
}

/* The three cases. */
Test(end_marker, producer_failing_partway_fails_the_pipe)
{
	expect("txt2stream --csv bad.csv | vae-train -q -t 1 -e 1 --loss gaussian -o out.vkm", 1,
	       "vae-train", TRUNCATED);
	expect("head -5 bad.csv | txt2stream --csv | vae-train -q -t 1 -e 1 --loss gaussian -o "
	       "out.vkm", 0, NULL, NULL);
	expect("vae-encode -m M.vkm nan.ts | latent-gmm -q -k 2 -o out.prior", 1, "latent-gmm",
	       TRUNCATED);
	expect("vae-encode -m M.vkm f.ts | latent-gmm -q -k 2 -o out.prior", 0, NULL, NULL);
	expect("stream-cat d.ts wide.ts | stream-info", 1, "stream-info", TRUNCATED);
	expect("stream-cat d.ts d.ts | stream-info", 0, NULL, NULL);
}

/* Every program that reads a stream to its end, behind a producer that
 * fails partway: stream-cat (a second input of another shape) for images,
 * vae-encode (a NaN at record 400) for latents. Each also reads the whole
 * stream from the same producer on good input, so the test can fail. */
Test(end_marker, every_reader_refuses_a_stream_without_its_marker)
{
	static const struct {
		const char *prog, *args; /* reads standard input */
		int latents;
	} readers[] = {
		{"stream-info", "", 0},
		{"stream-cat", "-o out.ts", 0},
		{"stream-split", "-k 2 -p out", 0},
		{"stream2txt", "-o out.txt", 0},
		{"stream2npy", "-o out.npy", 0},
		{"stream2img", "-o out%03d.png", 0},
		{"png-grid", "-o out.png", 0},
		{"vae-train", "-q -t 1 -e 1 -z 2 --hidden 8 -o out.vkm", 0},
		{"vae-encode", "-m M.vkm -o out.ts", 0},
		{"kl-eval", "-m M.vkm -t 1", 0},
		{"vae-decode", "-m M.vkm -o out.ts", 1},
		{"latent-gmm", "-q -k 2 -o out.prior", 1},
		{"latent-plot", "-o out.png", 1},
		{"stream-info", "", 1},
	};
	for (size_t i = 0; i < sizeof readers / sizeof *readers; i++) {
		char cmd[512];
		const char *bad = readers[i].latents ? "vae-encode -m M.vkm nan.ts"
						     : "stream-cat d.ts wide.ts";
		const char *good = readers[i].latents ? "vae-encode -m M.vkm f.ts" : "stream-cat d.ts";
		snprintf(cmd, sizeof cmd, "%s | %s %s", bad, readers[i].prog, readers[i].args);
		expect(cmd, 1, readers[i].prog, TRUNCATED);
		snprintf(cmd, sizeof cmd, "%s | %s %s >/dev/null", good, readers[i].prog,
			 readers[i].args);
		expect(cmd, 0, NULL, NULL);
	}
}

/* A 1.0 stream of unknown count (no marker; made here from a 1.1 one by
 * dropping its marker and setting minor 0) reads to its end as before. */
Test(end_marker, version_1_0_streams_still_read)
{
	char path[600];
	cr_assert_eq(run("cd %s && vae-encode -m M.vkm f.ts > z11.ts && stream-cat d.ts > d11.ts",
			 dir), 0);
	const char *names[] = {"z", "d"};
	for (int k = 0; k < 2; k++) {
		snprintf(path, sizeof path, "%s/%s11.ts", dir, names[k]);
		size_t n;
		unsigned char *b = slurp(path, &n);
		cr_assert_not_null(b);
		cr_assert_eq(b[10], 1);
		cr_assert_eq(memcmp(b + n - TS_END_BYTES + 8, "END", 4), 0);
		b[10] = 0;
		snprintf(path, sizeof path, "%s/%s10.ts", dir, names[k]);
		cr_assert_eq(spit(path, b, n - TS_END_BYTES), 0);
		free(b);
	}
	char out[4096];
	cr_assert_eq(run_err(out, sizeof out, "cd %s && stream-info --tsv z10.ts | grep -x "
					    "'version\t1.0' && stream-info --tsv z10.ts | grep -x "
					    "'end\tend-of-file' && stream-info --tsv z10.ts | grep -x "
					    "'records\t500' >&2", dir), 0, "%s", out);
	expect("latent-gmm -q -k 2 -o out.prior < z10.ts", 0, NULL, NULL);
	expect("vae-decode -m M.vkm < z10.ts | stream-info --tsv | grep -x 'records\t500'", 0, NULL,
	       NULL);
	expect("vae-train -q -t 1 -e 1 -z 2 --hidden 8 -o out.vkm < d10.ts", 0, NULL, NULL);
	expect("kl-eval -m M.vkm -t 1 < d10.ts > /dev/null", 0, NULL, NULL);
	/* Re-written, it is 1.1 with its marker: the same records. */
	expect("stream-cat z10.ts | stream-info --tsv | grep -x 'end\tmarker'", 0, NULL, NULL);
	expect("stream-cat z10.ts | cmp - z11.ts", 0, NULL, NULL);
}

/* stream-split --contiguous counts the records of a file of unknown count
 * from its size: the marker is not records. */
Test(end_marker, split_contiguous_counts_without_the_marker)
{
	expect("seq 1 10 | txt2stream > s.ts && stream-split -k 2 --contiguous -p out s.ts && "
	       "stream-info --tsv out0000.ts | grep -x 'records\t5' && "
	       "stream-info --tsv out0001.ts | grep -x 'records\t5'",
	       0, NULL, NULL);
}
