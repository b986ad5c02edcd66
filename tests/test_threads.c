/* vae-train's thread count (issue 25): any -t trains the same model up to
 * float rounding (the workers' gradient blocks are summed in another order),
 * also with more threads than this machine's cores, than VK_MAX_THREADS and
 * than rows in a batch (a last, partial batch included); -t 0 is refused. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *digits(int n)
{
	static char path[512];
	snprintf(path, sizeof path, "%s", tmp_path("digits.ts"));
	cr_assert_eq(run("idx2stream -n %d %s %s > %s", n,
			 repo_path("examples/data/digits-train-images-idx3-ubyte.gz"),
			 repo_path("examples/data/digits-train-labels-idx1-ubyte.gz"), path),
		     0);
	return path;
}

/* The numbers vae-encode writes for data with a model trained by -t threads
 * and opts; returns how many (at most max). */
static int train_and_encode(const char *data, const char *opts, int threads, double *out, int max)
{
	char model[512], txt[512], err[1024];
	snprintf(model, sizeof model, "%s", tmp_path("t.vae"));
	snprintf(txt, sizeof txt, "%s", tmp_path("t.txt"));
	int rc = run_err(err, sizeof err, "vae-train -q -s 3 -e 2 %s -t %d -o %s %s", opts, threads,
			 model, data);
	cr_assert_eq(rc, 0, "-t %d %s: %s", threads, opts, err);
	cr_assert_eq(run("vae-encode -m %s < %s | stream2txt > %s", model, data, txt), 0);
	FILE *f = fopen(txt, "r");
	cr_assert(f);
	int n = 0;
	while (n < max && fscanf(f, "%lf", &out[n]) == 1)
		n++;
	fclose(f);
	return n;
}

/* Measured here: at most 2e-7 relative to 1 + |x| after 2 epochs. */
#define TOL 1e-4

static void same_model_for_every_thread_count(const char *opts, const int *threads, int n_threads)
{
	enum { MAX = 4096 };
	static double ref[MAX], got[MAX];
	/* 300 records: batches of 64 leave a last one of 44, fewer rows than
	 * the larger thread counts. */
	const char *data = digits(300);
	int n = train_and_encode(data, opts, 1, ref, MAX);
	cr_assert_gt(n, 300);
	for (int i = 0; i < n_threads; i++) {
		cr_assert_eq(train_and_encode(data, opts, threads[i], got, MAX), n);
		double worst = 0;
		for (int k = 0; k < n; k++)
			worst = fmax(worst, fabs(got[k] - ref[k]) / (1 + fabs(ref[k])));
		cr_expect_leq(worst, TOL, "%s: -t %d is %g away from -t 1", opts, threads[i], worst);
	}
}

Test(threads, any_count_trains_the_same_mlp, .timeout = 120)
{
	/* 2, an odd count, more than this machine's cores, more than the rows
	 * of the last batch (44), the most there are (64), and above it. */
	const int t[] = {2, 3, 8, 50, 64, 100};
	same_model_for_every_thread_count("-b 64 --hidden 32 -z 4", t, 6);
}

Test(threads, any_count_trains_the_same_with_free_bits_iw_and_labels, .timeout = 120)
{
	const int t[] = {2, 5, 70};
	same_model_for_every_thread_count("-b 64 --hidden 32 -z 4 --free-bits 0.2", t, 3);
	same_model_for_every_thread_count("-b 64 --hidden 32 -z 4 --iw-train 3", t, 3);
	same_model_for_every_thread_count("-b 64 --hidden 32 -z 4 -m cvae", t, 3);
	same_model_for_every_thread_count("-b 64 --hidden 32 -z 4 --optimizer sgd --lr 0.01", t, 3);
}

Test(threads, more_threads_than_rows_in_every_batch, .timeout = 120)
{
	const int t[] = {4, 16};
	same_model_for_every_thread_count("-b 3 --hidden 16 -z 2", t, 2);
}

Test(threads, the_conv_vae_too, .timeout = 120)
{
	const int t[] = {3};
	same_model_for_every_thread_count("-b 64 --encoder conv:4:3:2,dense:16 -z 2", t, 1);
}

Test(threads, zero_and_too_many_are_refused)
{
	const char *data = digits(10);
	const char *model = tmp_path("refused.vae");
	char err[1024];
	const char *bad[] = {"0", "-1", "1025", "two", ""};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		int rc = run_err(err, sizeof err, "vae-train -q -t '%s' -o %s %s", bad[i], model, data);
		cr_expect_eq(rc, 2, "-t '%s': exit %d", bad[i], rc);
		cr_expect(strstr(err, "vae-train: --threads"), "-t '%s': %s", bad[i], err);
		cr_expect(run("test -e %s", model) != 0, "-t '%s' wrote a model", bad[i]);
	}
}
