/* vae-train never fails silently: divergence, data a Bernoulli decoder
 * cannot model, log write errors, the resume hint, options that do nothing. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static const char *digits(void)
{
	static char path[512];
	if (!path[0]) {
		snprintf(path, sizeof path, "%s", tmp_path("safety-digits.ts"));
		cr_assert_eq(run("idx2stream -n 400 %s %s > %s",
				 repo_path("examples/data/digits-test-images-idx3-ubyte.gz"),
				 repo_path("examples/data/digits-test-labels-idx1-ubyte.gz"), path), 0);
	}
	return path;
}

#define SMALL "-q -t 1 -z 2 --hidden 16"

Test(train_safety, divergence_stops_and_keeps_the_last_good_model)
{
	const char *good = tmp_path("good.vae"), *m = tmp_path("m.vae");
	char err[2048];
	cr_assert_eq(run("vae-train " SMALL " -e 1 -o %s %s && cp %s %s", good, digits(), good, m),
		     0);
	/* A learning rate that blows up: one line, exit 1, the old model untouched. */
	int rc = run_err(err, sizeof err, "vae-train " SMALL " -e 3 --lr 50 -o %s %s", m, digits());
	cr_assert_eq(rc, 1, "exit %d: %s", rc, err);
	cr_assert(strstr(err, "vae-train: epoch 1, batch ") && strstr(err, "not finite") &&
		  strstr(err, "lower --lr"), "%s", err);
	cr_assert_eq(strchr(err, '\n')[1], 0, "one line: %s", err);
	cr_assert_eq(run("cmp -s %s %s", good, m), 0, "the model was replaced");
	cr_assert_eq(run("vae-encode -m %s %s > /dev/null", m, digits()), 0);
}

Test(train_safety, bernoulli_targets_outside_the_unit_interval_refused)
{
	const char *raw = tmp_path("raw255.ts"), *m = tmp_path("raw.vae");
	char err[2048];
	/* float pixels in 0..255, as NumPy users often have them */
	/* floats in 0..2: the u8 stream's text is 0..255 */
	cr_assert_eq(run("stream2txt %s | awk '{for (i = 2; i <= NF; i++) $i /= 128; print}' | "
			 "txt2stream -l -s 28x28 > %s", digits(), raw), 0);
	cr_assert_eq(run("stream-info %s | grep -q f32", raw), 0);
	int rc = run_err(err, sizeof err, "vae-train " SMALL " -e 1 -o %s %s", m, raw);
	cr_assert_eq(rc, 1, "%s", err);
	cr_assert(strstr(err, "outside the [0, 1]") && strstr(err, "--loss gaussian"), "%s", err);
	cr_assert_neq(run("test -e %s", m), 0);
	/* The Gaussian decoder takes them. */
	cr_assert_eq(run("vae-train " SMALL " -e 1 --loss gaussian --sigma 0.5 -o %s %s", m, raw), 0);
}

Test(train_safety, log_write_errors_fail)
{
	char err[2048];
	int rc = run_err(err, sizeof err, "vae-train " SMALL " -e 1 --log /dev/full -o %s %s",
			 tmp_path("log.vae"), digits());
	cr_assert_eq(rc, 1, "%s", err);
	cr_assert(strstr(err, "error writing /dev/full"), "%s", err);
}

Test(train_safety, interrupted_hint_is_the_whole_command)
{
	const char *m = tmp_path("intr.vae"), *log = tmp_path("intr.log");
	char err[4096];
	/* SIGINT once training runs; the hint must carry --log, --test and -t. */
	int rc = run_err(err, sizeof err,
			 "vae-train -t 1 -z 2 --hidden 512,512 -e 200 --log %s --test %s -o %s %s "
			 "& p=$!; sleep 1.5; kill -INT $p; wait $p",
			 log, digits(), m, digits());
	cr_assert_eq(rc, 1, "%s", err);
	const char *hint = strstr(err, "continue with: vae-train --resume");
	cr_assert(hint, "%s", err);
	cr_assert(strstr(hint, "--log") && strstr(hint, "--test") && strstr(hint, "-t 1") &&
		  strstr(hint, "--hidden 512,512"), "%s", hint);
}

Test(train_safety, options_that_do_nothing_are_named)
{
	char err[2048];
	const char *m = tmp_path("warn.vae");
	/* refused, as every program refuses an option that does nothing */
	cr_assert_eq(run_err(err, sizeof err, "vae-train " SMALL " -m ae --beta 4 -e 1 -o %s %s",
			     m, digits()), 2);
	cr_assert(strstr(err, "--beta has no effect with --model ae"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "vae-train " SMALL " --sigma 0.3 -e 1 -o %s %s", m,
			     digits()), 2);
	cr_assert(strstr(err, "--sigma has no effect without --loss gaussian"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "vae-train " SMALL " -e 1 -o %s %s", m, digits()), 0);
	/* on --resume the checkpoint's --lr holds: another is refused, naming both */
	cr_assert_eq(run_err(err, sizeof err, "vae-train " SMALL " --resume --lr 0.1 -e 2 -o %s %s",
			     m, digits()), 2);
	cr_assert(strstr(err, "--lr 0.1") && strstr(err, "--lr 0.001"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "vae-train " SMALL " -e 1 --test - -o %s - < %s", m,
			     digits()), 2);
	cr_assert(strstr(err, "standard input"), "%s", err);
}

Test(train_safety, model_programs_refuse_an_output_that_is_an_input)
{
	char m[512], data[512], link[512], err[2048];
	snprintf(m, sizeof m, "%s", tmp_path("same.vae"));
	snprintf(data, sizeof data, "%s", tmp_path("same.ts"));
	snprintf(link, sizeof link, "%s", tmp_path("lnk.ts"));
	cr_assert_eq(run("cp %s %s && vae-train " SMALL " -e 1 -o %s %s && ln -sf %s %s", digits(),
			 data, m, data, data, link), 0);
	const char *cmds[] = {"vae-train -q -e 1 -o %s %s",        "vae-train -q -e 1 --log %s -o x.vae %s",
			      "vae-encode -m MODEL -o %s %s",      "vae-interp -m MODEL -o %s %s"};
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
		char cmd[1024], fmt[512];
		/* the output names the data through a symbolic link */
		snprintf(fmt, sizeof fmt, "%s", cmds[i]);
		char *at = strstr(fmt, "MODEL");
		if (at) {
			char rest[512];
			snprintf(rest, sizeof rest, "%s", at + 5);
			snprintf(at, sizeof fmt - (at - fmt), "%s%s", m, rest);
		}
		snprintf(cmd, sizeof cmd, fmt, link, data);
		cr_assert_eq(run_err(err, sizeof err, "cd %s/.. && %s", data, cmd), 1, "%s: %s", cmd,
			     err);
		cr_assert(strstr(err, "would destroy the input"), "%s: %s", cmd, err);
		cr_assert_eq(run("cmp -s %s %s", data, digits()), 0, "%s changed the data", cmd);
	}
	/* the model itself as vae-encode's and vae-sample's output */
	cr_assert_eq(run_err(err, sizeof err, "vae-encode -m %s -o %s %s", m, m, data), 1);
	cr_assert_eq(run_err(err, sizeof err, "vae-sample -m %s -o %s", m, m), 1);
	cr_assert_eq(run_err(err, sizeof err, "vae-encode -m %s %s > /dev/null", m, data), 0,
		     "the model was damaged: %s", err);
}
