/* The run in the library (run.h) and vae-train's --resume rules (issue 27
 * items 5, 7 and 11): the model and the schedule come from the checkpoint, an
 * option that disagrees is a usage error naming both values; more patience
 * continues a run that stopped early; a log first made by --resume gets its
 * header; options that do nothing are refused, a warm-up longer than the run
 * is named. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run.h"
#include "testutil.h"

static const char *tp(const char *name) { return strdup(tmp_path(name)); }

static const char *digits(void) { return digits_stream("train", 300); }

static const char *digits_test(void) { return digits_stream("test", 100); }

#define SMALL "-q -t 1 -z 2 --hidden 16 -b 32"

/* The library alone: a recipe run epoch by epoch, then resumed. */
Test(run, a_recipe_runs_epoch_by_epoch_and_resumes)
{
	vk_dataset d;
	vk_error e;
	cr_assert_eq(vk_dataset_load(&d, digits(), 1 << 28, &e), 0, "%s", e.msg);
	vk_recipe r;
	vk_recipe_default(&r);
	r.arch.latent = 2;
	r.arch.enc[0].units = 16;
	r.train.batch = 64;
	r.epochs = 2;
	r.output = tp("lib.vae");
	vk_run run;
	vk_epoch_report ep;
	cr_assert_eq(vk_run_open(&run, &r, &d, NULL, &e), 0, "%s", e.msg);
	int n = 0, rc;
	while ((rc = vk_run_epoch(&run, &ep, NULL, &e)) == VK_RUN_EPOCH) {
		n++;
		cr_assert_eq(ep.epoch, n);
		cr_assert(isfinite(ep.train_rec) && ep.train_kl >= 0 && isnan(ep.test_rec));
	}
	cr_assert_eq(rc, 0, "%s", e.msg);
	cr_assert_eq(n, 2);
	cr_assert_eq(run.rec.epochs, 2);
	vk_run_free(&run);
	/* On to 3; an option given that disagrees with the checkpoint is refused. */
	r.resume = 1;
	r.epochs = 3;
	cr_assert_eq(vk_run_open(&run, &r, &d, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_run_epoch(&run, &ep, NULL, &e), VK_RUN_EPOCH, "%s", e.msg);
	cr_assert_eq(ep.epoch, 3);
	cr_assert_eq(vk_run_epoch(&run, &ep, NULL, &e), 0);
	vk_run_free(&run);
	r.epochs = 4;
	r.arch.latent = 3;
	r.given = VK_SET_LATENT;
	cr_assert_eq(vk_run_open(&run, &r, &d, NULL, &e), VK_RUN_USAGE);
	cr_assert(strstr(e.msg, "--latent 3") && strstr(e.msg, "--latent 2"), "%s", e.msg);
	vk_dataset_free(&d);
}

/* Each option that defines the model or the schedule, given on --resume with
 * another value than the checkpoint's: exit 2, both values named, the model
 * untouched. The same values are accepted. */
Test(run, resume_refuses_options_that_disagree_with_the_checkpoint, .timeout = 120)
{
	const char *m = tp("agree.vae"), *keep = tp("agree.keep");
	const char *base = SMALL " --loss gaussian --sigma 0.2 --kl-warmup 2 --lr-schedule step:2:0.5";
	cr_assert_eq(run("vae-train %s -e 2 -o %s %s && cp %s %s", base, m, digits(), m, keep), 0);
	static const char *const cases[][3] = {
		{"-z 3", "--latent 3", "--latent 2"},
		{"-m ae", "--model ae", "--model vae"},
		{"--loss bce", "--loss bernoulli", "--loss gaussian"},
		{"--sigma 0.3", "--sigma 0.3", "--sigma 0.2"},
		{"--sigma learned", "--sigma learned", "--sigma 0.2"},
		{"--hidden 32", "dense:32/relu", "dense:16/relu"},
		{"--hidden 16 --activation tanh", "dense:16/tanh", "dense:16/relu"},
		{"--lr 0.01", "--lr 0.01", "--lr 0.001"},
		{"-b 64", "--batch 64", "--batch 32"},
		{"--beta 2", "--beta 2", "--beta 1"},
		{"-s 9", "--seed 9", "--seed 1"},
		{"--kl-warmup 3", "--kl-warmup 3", "--kl-warmup 2"},
		{"--lr-schedule step:3:0.5", "--lr-schedule step:3:0.5", "step:2:0.5"},
		{"--free-bits 0.5", "--free-bits 0.5", "without --free-bits"},
		{"--optimizer sgd", "--optimizer sgd", "--optimizer adam"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char err[2048];
		int rc = run_err(err, sizeof err, "vae-train -q -t 1 --resume -e 3 %s -o %s %s",
				 cases[i][0], m, digits());
		cr_assert_eq(rc, 2, "%s: exit %d: %s", cases[i][0], rc, err);
		cr_assert(strstr(err, cases[i][1]) && strstr(err, cases[i][2]), "%s: %s", cases[i][0],
			  err);
		cr_assert_eq(run("cmp -s %s %s", m, keep), 0, "%s changed the model", cases[i][0]);
	}
	/* the whole first command again (as the interrupted hint prints it) */
	cr_assert_eq(run("vae-train %s --resume -e 3 -o %s %s", base, m, digits()), 0);
	cr_assert_eq(run("vae-info %s | grep -q '^epochs  *3$'", m), 0);
}

/* A cosine schedule's shape depends on --epochs: resumed with another, it
 * would be reshaped under the epochs already trained. */
Test(run, resume_refuses_a_cosine_schedule_with_other_epochs, .timeout = 60)
{
	const char *m = tp("cos.vae"), *c = tp("const.vae");
	char err[2048];
	cr_assert_eq(run("vae-train " SMALL " --lr-schedule cosine -e 3 -o %s %s", m, digits()), 0);
	int rc = run_err(err, sizeof err, "vae-train " SMALL " --resume -e 6 -o %s %s", m,
			 digits());
	cr_assert_eq(rc, 2, "exit %d: %s", rc, err);
	cr_assert(strstr(err, "--epochs 6") && strstr(err, "over 3 epochs"), "%s", err);
	rc = run_err(err, sizeof err, "vae-train " SMALL " --resume -e 3 -o %s %s", m, digits());
	cr_assert_eq(rc, 1, "exit %d: %s", rc, err);
	cr_assert(strstr(err, "whole of its cosine"), "%s", err);
	/* without -e the schedule's own epochs, not the default 10 */
	rc = run_err(err, sizeof err, "vae-train " SMALL " --resume -o %s %s", m, digits());
	cr_assert_eq(rc, 1, "exit %d: %s", rc, err);
	cr_assert(strstr(err, "whole of its cosine") && !strstr(err, "--epochs 10"), "%s", err);
	/* a constant rate goes on with more epochs */
	cr_assert_eq(run("vae-train " SMALL " -e 1 -o %s %s && vae-train " SMALL
			 " --resume -e 2 -o %s %s", c, digits(), c, digits()), 0);
}

/* The run's epochs are stored (TRAN's planned epochs): a cosine run stopped
 * after its first epoch, before any rate depended on them, still keeps them. */
Test(run, resume_keeps_a_cosine_schedules_epochs_from_the_first, .timeout = 60)
{
	vk_dataset d;
	vk_error e;
	cr_assert_eq(vk_dataset_load(&d, digits(), 1 << 28, &e), 0, "%s", e.msg);
	vk_recipe r;
	vk_recipe_default(&r);
	r.arch.latent = 2;
	r.arch.enc[0].units = 16;
	r.train.batch = 64;
	r.train.lr_schedule = VK_LR_COSINE;
	r.epochs = 3;
	r.output = tp("cos1.vae");
	vk_run run;
	vk_epoch_report ep;
	cr_assert_eq(vk_run_open(&run, &r, &d, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_run_epoch(&run, &ep, NULL, &e), VK_RUN_EPOCH, "%s", e.msg);
	vk_run_free(&run); /* stopped after epoch 1 of 3 */
	r.resume = 1;
	r.epochs = 5;
	r.given |= VK_SET_EPOCHS; /* as vae-train -e 5 */
	cr_assert_eq(vk_run_open(&run, &r, &d, NULL, &e), VK_RUN_USAGE, "accepted");
	cr_assert(strstr(e.msg, "--epochs 5") && strstr(e.msg, "over 3 epochs"), "%s", e.msg);
	r.epochs = 3;
	cr_assert_eq(vk_run_open(&run, &r, &d, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_run_epoch(&run, &ep, NULL, &e), VK_RUN_EPOCH, "%s", e.msg);
	cr_assert_eq(ep.epoch, 2);
	vk_run_free(&run);
	vk_dataset_free(&d);
}

/* KL cycles are shaped over the run's epochs too; a warm-up, like a constant
 * rate, is not, and goes on with more. */
Test(run, resume_refuses_kl_cycles_with_other_epochs, .timeout = 60)
{
	const char *m = tp("cyc.vae"), *keep = tp("cyc.keep"), *w = tp("warm.vae");
	char err[2048];
	cr_assert_eq(run("vae-train " SMALL " --kl-cycles 2 -e 4 -o %s %s && cp %s %s", m,
			 digits(), m, keep), 0);
	int rc = run_err(err, sizeof err, "vae-train " SMALL " --resume -e 6 -o %s %s", m,
			 digits());
	cr_assert_eq(rc, 2, "exit %d: %s", rc, err);
	cr_assert(strstr(err, "--epochs 6") && strstr(err, "KL cycles") &&
		  strstr(err, "over 4 epochs"), "%s", err);
	cr_assert_eq(run("cmp -s %s %s", m, keep), 0, "the model changed");
	rc = run_err(err, sizeof err, "vae-train " SMALL " --resume -e 4 -o %s %s", m, digits());
	cr_assert_eq(rc, 1, "exit %d: %s", rc, err);
	cr_assert(strstr(err, "already has 4 epochs"), "%s", err);
	cr_assert_eq(run("vae-train " SMALL " --kl-warmup 1 -e 1 -o %s %s && vae-train " SMALL
			 " --resume -e 2 -o %s %s", w, digits(), w, digits()), 0);
	cr_assert_eq(run("vae-info %s | grep -q '^epochs  *2$'", w), 0);
}

/* Item 7: a run that stopped early goes on with more patience. */
Test(run, early_stopped_run_continues_with_a_larger_early_stop, .timeout = 120)
{
	const char *tr = tp("es-tiny.ts"), *m = tp("es.vae"), *last = tp("es.vae.last");
	char err[4096];
	cr_assert_eq(run("idx2stream -n 60 %s > %s",
			 repo_path("examples/data/digits-train-images-idx3-ubyte.gz"), tr), 0);
	const char *opts = "-t 1 -m ae -z 16 --hidden 256 -b 20 --lr 3e-3 -e 200";
	int rc = run_err(err, sizeof err, "vae-train %s --early-stop 2 --test %s -o %s %s", opts,
			 digits_test(), m, tr);
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(strstr(err, "early stop after epoch"), "%s", err);
	char cmd[1024];
	snprintf(cmd, sizeof cmd, "vae-info %s | awk '$1 == \"epochs\" { print $2 }'", last);
	FILE *p = popen(cmd, "r");
	int stopped = 0;
	cr_assert(p && fscanf(p, "%d", &stopped) == 1);
	pclose(p);
	/* the same patience: refused, saying how to go on */
	rc = run_err(err, sizeof err, "vae-train -q %s --early-stop 2 --test %s --resume -o %s %s",
		     opts, digits_test(), m, tr);
	cr_assert_eq(rc, 1, "%s", err);
	cr_assert(strstr(err, "stopped early") && strstr(err, "larger --early-stop than 2"), "%s",
		  err);
	/* more patience: it trains on from the last epoch */
	rc = run_err(err, sizeof err, "vae-train -q %s --early-stop 4 --test %s --resume -o %s %s",
		     opts, digits_test(), m, tr);
	cr_assert_eq(rc, 0, "%s", err);
	p = popen(cmd, "r");
	int now = 0;
	cr_assert(p && fscanf(p, "%d", &now) == 1);
	pclose(p);
	cr_assert_gt(now, stopped, "still %d epochs after %d", now, stopped);
	/* --early-stop added to a run trained without it is refused */
	const char *plain = tp("plain.vae");
	cr_assert_eq(run("vae-train " SMALL " -e 1 -o %s %s", plain, digits()), 0);
	rc = run_err(err, sizeof err, "vae-train " SMALL " --resume -e 2 --early-stop 3 --test %s "
		     "-o %s %s", digits_test(), plain, digits());
	cr_assert_eq(rc, 2, "%s", err);
	cr_assert(strstr(err, "trained without it"), "%s", err);
}

/* Item 11: a log that --resume creates starts with the header, one that it
 * appends to does not get a second one. */
Test(run, a_log_first_made_by_resume_has_its_header)
{
	const char *m = tp("log.vae"), *log = tp("log-new.tsv");
	cr_assert_eq(run("rm -f %s && vae-train " SMALL " -e 1 -o %s %s && "
			 "vae-train " SMALL " --resume -e 2 --log %s -o %s %s", log, m, digits(), log,
			 m, digits()), 0);
	cr_assert_eq(run("head -n 1 %s | grep -q '^epoch	seconds	train_rec'", log), 0);
	cr_assert_eq(run("sed -n 2p %s | grep -q '^2	'", log), 0);
	cr_assert_eq(run("vae-train " SMALL " --resume -e 3 --log %s -o %s %s", log, m, digits()),
		     0);
	cr_assert_eq(run("test $(grep -c '^epoch' %s) = 1 && test $(wc -l < %s) = 3", log, log), 0);
}

/* Item 11: an option that does nothing is a usage error; a warm-up longer
 * than the run is named. */
Test(run, kl_schedules_that_do_nothing_or_do_not_finish)
{
	char err[2048];
	const char *m = tp("warm.vae");
	const char *idle[] = {"--beta 0 --kl-warmup 2", "--beta 0 --kl-cycles 1",
			      "--beta 0 --free-bits 0.5"};
	for (size_t i = 0; i < 3; i++) {
		int rc = run_err(err, sizeof err, "vae-train " SMALL " -e 1 %s -o %s %s", idle[i], m,
				 digits());
		cr_assert_eq(rc, 2, "%s: exit %d: %s", idle[i], rc, err);
		cr_assert(strstr(err, "has no effect with --beta 0"), "%s: %s", idle[i], err);
	}
	int rc = run_err(err, sizeof err, "vae-train " SMALL " -e 1 --kl-warmup 20 -o %s %s", m,
			 digits());
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert(strstr(err, "--kl-warmup 20 outlasts the run (-e 1)") &&
		  strstr(err, "only 0.05 of --beta"), "%s", err);
	rc = run_err(err, sizeof err, "vae-train " SMALL " -e 2 --kl-warmup 2 -o %s %s", m,
		     digits());
	cr_assert_eq(rc, 0, "%s", err);
	cr_assert_null(strstr(err, "outlasts the run"), "%s", err);
}

/* ---- --objective (issue 23): wae-mmd and infovae through the run ---- */

/* The largest difference between the parameters of two model files. */
static double param_gap(const char *a, const char *b)
{
	vk_model ma, mb;
	vk_error e;
	cr_assert_eq(vk_model_load(a, &ma, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_model_load(b, &mb, NULL, NULL, &e), 0, "%s", e.msg);
	cr_assert_eq(ma.n_params, mb.n_params);
	double gap = 0;
	for (size_t i = 0; i < ma.n_params; i++)
		gap = fmax(gap, fabs((double)ma.params[i] - mb.params[i]));
	vk_model_free(&ma);
	vk_model_free(&mb);
	return gap;
}

/* Each objective trains, gives another model than the elbo, says so in
 * vae-info and logs a finite MMD; resumed at an epoch boundary it writes the
 * very bytes of an uninterrupted run; -t 2 agrees with -t 1 to 1e-4. */
Test(run, each_objective_trains_resumes_exactly_and_threads_agree, .timeout = 240)
{
	const char *elbo = tp("obj-elbo.vae");
	cr_assert_eq(run("vae-train " SMALL " -e 2 -o %s %s", elbo, digits()), 0);
	cr_assert_eq(run("vae-info %s | grep -q '^objective  *elbo$'", elbo), 0);
	static const char *const objs[][2] = {
		{"--objective wae-mmd", "wae-mmd"},
		{"--objective wae-mmd --mmd-lambda 100", "wae-mmd"},
		{"--objective infovae", "infovae"},
		{"--objective infovae --info-alpha 0.5 --mmd-lambda 50", "infovae"},
		{"--objective tcvae", "tcvae"},
		{"--objective tcvae --tc-alpha 0.5 --tc-beta 2 --tc-gamma 3", "tcvae"},
	};
	for (size_t i = 0; i < sizeof objs / sizeof *objs; i++) {
		char m[512], half[512], t2[512], log[512];
		snprintf(m, sizeof m, "%s", tmp_path("obj.vae"));
		snprintf(half, sizeof half, "%s", tmp_path("obj-half.vae"));
		snprintf(t2, sizeof t2, "%s", tmp_path("obj-t2.vae"));
		snprintf(log, sizeof log, "%s", tmp_path("obj.log"));
		cr_assert_eq(run("vae-train " SMALL " %s -e 2 --log %s -o %s %s", objs[i][0], log, m,
				 digits()), 0, "%s", objs[i][0]);
		cr_assert_neq(run("cmp -s %s %s", m, elbo), 0, "%s gave the elbo's model", objs[i][0]);
		cr_assert(param_gap(m, elbo) > 1e-3, "%s", objs[i][0]);
		cr_assert_eq(run("vae-info %s | grep -q '^objective  *%s$'", m, objs[i][1]), 0,
			     "%s", objs[i][0]);
		int tc = strstr(objs[i][0], "tcvae") != NULL;
		if (!tc) /* the log's mmd column: finite (the unbiased estimate may dip below 0) */
			cr_assert_eq(run("awk -F'\\t' 'NR == 1 && $12 != \"mmd\" {exit 1} NR > 1 && "
					 "($12 == \"nan\" || $12 < -1 || $12 > 10 || $13 != \"nan\") "
					 "{exit 1} END {exit NR != 3}' %s", log), 0,
				     "%s: the log's mmd column", objs[i][0]);
		else /* mi, tc, dim_kl: finite, MI within [0, log(NB)] as the estimator
		      * bounds it, and together about the KL (the estimator is biased) */
			cr_assert_eq(run("awk -F'\\t' 'NR == 1 && ($13 != \"mi\" || $14 != \"tc\" || "
					 "$15 != \"dim_kl\") {exit 1} NR > 1 && ($12 != \"nan\" || "
					 "$13 == \"nan\" || $13 < 0 || $13 > log(300 * 32) || $14 == \"nan\" "
					 "|| $15 == \"nan\") {exit 1} END {exit NR != 3}' %s", log), 0,
				     "%s: the log's mi, tc and dim_kl columns", objs[i][0]);
		/* one epoch, then --resume to two (the objective from the checkpoint) */
		cr_assert_eq(run("vae-train " SMALL " %s -e 1 -o %s %s && vae-train -q -t 1 --resume "
				 "-e 2 -o %s %s", objs[i][0], half, digits(), half, digits()), 0);
		cr_assert_eq(run("cmp -s %s %s", m, half), 0, "%s: resumed differs", objs[i][0]);
		for (int k = 2; k <= 3; k++) {
			cr_assert_eq(run("vae-train " SMALL " %s -e 2 -t %d -o %s %s", objs[i][0], k,
					 t2, digits()), 0);
			double gap = param_gap(m, t2);
			cr_assert(gap < 1e-4, "%s: -t %d differs from -t 1 by %g", objs[i][0], k, gap);
		}
	}
}

/* Bad values and combinations: one usage line each, exit 2, nothing written. */
Test(run, objective_options_out_of_range_are_refused, .timeout = 60)
{
	const char *m = tp("objbad.vae");
	static const char *const cases[][2] = {
		{"--objective tcvea", "--objective"},
		{"--objective tcvae --tc-beta -1", "--tc-beta"},
		{"--objective tcvae --tc-alpha nan", "--tc-alpha"},
		{"--objective tcvae --tc-gamma 1e7", "--tc-gamma"},
		{"--objective tcvae --tc-gamma inf", "--tc-gamma"},
		{"--objective tcvae -b 1", "at least 2"},
		{"-m ae --objective tcvae", "--model ae"},
		{"--objective tcvae --beta 6", "--tc-beta"},
		{"--objective tcvae --kl-warmup 2", "--kl-warmup"},
		{"--objective tcvae --free-bits 0.5", "--free-bits"},
		{"--objective tcvae --iw-train 5", "--iw-train"},
		{"--objective tcvae --mmd-lambda 5", "--mmd-lambda"},
		{"--objective infovae --tc-beta 2", "--tc-beta"},
		{"--tc-alpha 2", "--tc-alpha"},
		{"--objective wae-mmd --mmd-lambda nan", "--mmd-lambda"},
		{"--objective wae-mmd --mmd-lambda 0", "--mmd-lambda"},
		{"--objective wae-mmd --mmd-lambda -1", "--mmd-lambda"},
		{"--objective wae-mmd --mmd-lambda 1e9", "--mmd-lambda"},
		{"--objective infovae --info-alpha 1.5", "--info-alpha"},
		{"--objective infovae --info-alpha -0.1", "--info-alpha"},
		{"--objective infovae --info-alpha 0.2 --mmd-lambda 0.5", "below 1"},
		{"--mmd-lambda 10", "--mmd-lambda"},
		{"--objective wae-mmd --info-alpha 0.5", "--info-alpha"},
		{"-m ae --objective wae-mmd", "--model ae"},
		{"--objective infovae --iw-train 5", "--iw-train"},
		{"--objective wae-mmd -b 1", "at least 2"},
		{"--objective infovae --beta 2", "--beta"},
		{"--objective wae-mmd --kl-warmup 2", "--kl-warmup"},
		{"--objective wae-mmd --free-bits 0.5", "--free-bits"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char err[2048];
		int rc = run_err(err, sizeof err, "vae-train -q -t 1 -z 2 --hidden 16 %s -o %s %s",
				 cases[i][0], m, digits());
		cr_assert_eq(rc, 2, "%s: exit %d: %s", cases[i][0], rc, err);
		cr_assert(strstr(err, cases[i][1]), "%s: %s", cases[i][0], err);
		cr_assert_neq(run("test -e %s", m), 0, "%s wrote a model", cases[i][0]);
	}
	/* 300 records in batches of 299 leave a batch of 1: said, nothing written */
	char err[2048];
	cr_assert_neq(run_err(err, sizeof err, "vae-train -q -t 1 -z 2 --hidden 16 -b 299 "
			      "--objective wae-mmd -o %s %s", m, digits()), 0);
	cr_assert(strstr(err, "batch"), "%s", err);
	cr_assert_neq(run("test -e %s", m), 0);
	/* on --resume another objective or weight is refused, naming both */
	const char *r = tp("objres.vae");
	cr_assert_eq(run("vae-train " SMALL " --objective wae-mmd -e 1 -o %s %s", r, digits()), 0);
	static const char *const differ[][3] = {
		{"--objective elbo", "--objective elbo", "wae-mmd (lambda 10)"},
		{"--objective infovae", "infovae (alpha 0, lambda 1000)", "wae-mmd (lambda 10)"},
		{"--objective wae-mmd --mmd-lambda 5", "wae-mmd (lambda 5)", "wae-mmd (lambda 10)"},
		{"--objective tcvae", "tcvae (alpha 1, beta 6, gamma 1)", "wae-mmd (lambda 10)"},
	};
	for (size_t i = 0; i < sizeof differ / sizeof *differ; i++) {
		int rc = run_err(err, sizeof err, "vae-train -q -t 1 --resume -e 2 %s -o %s %s",
				 differ[i][0], r, digits());
		cr_assert_eq(rc, 2, "%s: exit %d: %s", differ[i][0], rc, err);
		cr_assert(strstr(err, differ[i][1]) && strstr(err, differ[i][2]), "%s: %s",
			  differ[i][0], err);
	}
	cr_assert_eq(run("vae-train -q -t 1 --resume -e 2 --objective wae-mmd --mmd-lambda 10 "
			 "-o %s %s", r, digits()), 0);
	/* and a tcvae's weights, each */
	cr_assert_eq(run("vae-train " SMALL " --objective tcvae --tc-beta 4 -e 1 -o %s %s", r,
			 digits()), 0);
	static const char *const tc_differ[][2] = {
		{"--tc-beta 6", "tcvae (alpha 1, beta 6, gamma 1)"},
		{"--tc-alpha 0.5 --tc-beta 4", "tcvae (alpha 0.5, beta 4, gamma 1)"},
		{"--tc-beta 4 --tc-gamma 2", "tcvae (alpha 1, beta 4, gamma 2)"},
	};
	for (size_t i = 0; i < sizeof tc_differ / sizeof *tc_differ; i++) {
		int rc = run_err(err, sizeof err, "vae-train -q -t 1 --resume -e 2 --objective "
				 "tcvae %s -o %s %s", tc_differ[i][0], r, digits());
		cr_assert_eq(rc, 2, "%s: exit %d: %s", tc_differ[i][0], rc, err);
		cr_assert(strstr(err, tc_differ[i][1]) &&
			  strstr(err, "tcvae (alpha 1, beta 4, gamma 1)"), "%s: %s", tc_differ[i][0], err);
	}
	cr_assert_eq(run("vae-train -q -t 1 --resume -e 2 --objective tcvae --tc-beta 4 -o %s %s",
			 r, digits()), 0);
}
