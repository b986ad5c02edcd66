/* vk_reduce: the batch-wide sums of the training threads' slices and the MPI
 * ranks' shares, the same for any split of the rows. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <unistd.h>

#include "reduce_cases.h"
#include "testutil.h"

Test(reduce, every_slice_gets_the_totals_on_1_2_and_3_threads)
{
	static struct case_slice s[3];
	for (int threads = 1; threads <= 3; threads++) {
		cr_assert_eq(case_threads(s, threads, 0, ROWS), 0);
		for (int i = 0; i < threads; i++)
			for (int round = 0; round < ROUNDS; round++)
				for (int j = 0; j < 1 + round % WIDTH; j++)
					cr_assert_eq(s[i].out[round][j], case_total(round, j),
						     "%d threads, slice %d, round %d, value %d: %g "
						     "not %g", threads, i, round, j, s[i].out[round][j],
						     case_total(round, j));
	}
}

struct inexact {
	vk_reducer *red;
	int slice;
	double v[2];
};

static void *inexact_run(void *arg)
{
	struct inexact *a = arg;
	for (int round = 0; round < 100; round++)
		vk_reduce(a->red, a->slice, a->v, round == 99 ? 2 : 1);
	return NULL;
}

Test(reduce, sums_in_slice_order_the_same_bits_in_every_slice)
{
	/* Inexact values: every slice sees the very same bits, the slices'
	 * partial sums added in slice order. 99 rounds of one value, then one
	 * of two. */
	enum { K = 3 };
	vk_error e;
	vk_reducer *red = vk_reducer_new(K, 2, &e);
	cr_assert(red);
	struct inexact a[K];
	pthread_t tid[K];
	for (int i = 0; i < K; i++)
		a[i] = (struct inexact){red, i, {0.1 * (i + 1) / 3.0, 1e-17 * (i + 1)}};
	/* what slice order gives: round 0 adds the three values, each later
	 * round three copies of the last total */
	double want0 = 0;
	for (int i = 0; i < K; i++)
		want0 += a[i].v[0];
	for (int round = 1; round < 100; round++) {
		double s = 0;
		for (int i = 0; i < K; i++)
			s += want0;
		want0 = s;
	}
	for (int i = 0; i < K; i++)
		cr_assert_eq(pthread_create(&tid[i], NULL, inexact_run, &a[i]), 0);
	for (int i = 0; i < K; i++)
		pthread_join(tid[i], NULL);
	for (int i = 1; i < K; i++)
		cr_assert_eq(memcmp(a[i].v, a[0].v, sizeof a[0].v), 0, "slice %d differs", i);
	cr_assert_eq(a[0].v[0], want0);
	cr_assert_eq(a[0].v[1], ((0 + 1e-17) + 2e-17) + 3e-17);
	vk_reducer_free(red);
}

Test(reduce, no_reducer_leaves_the_values)
{
	double v[3] = {1.5, -2.25, 1e300};
	vk_reduce(NULL, 0, v, 3);
	cr_assert_eq(v[0], 1.5);
	cr_assert_eq(v[1], -2.25);
	cr_assert_eq(v[2], 1e300);
	vk_error e;
	cr_assert_null(vk_reducer_new(0, 4, &e));
	cr_assert_null(vk_reducer_new(65, 4, &e));
}

Test(reduce, two_ranks_under_mpirun, .timeout = 120)
{
	const char *probe = repo_path("build-mpi/reduce-probe");
	if (access(probe, X_OK) != 0 || run("command -v mpirun >/dev/null") != 0)
		cr_skip_test("no MPI build (make MPI=1 build-mpi/reduce-probe) or no mpirun");
	char out[256];
	snprintf(out, sizeof out, "%s", tmp_path("reduce-probe.out"));
	cr_assert_eq(run("mpirun --allow-run-as-root --oversubscribe -np 2 %s > %s", probe, out), 0);
	cr_assert_eq(run("grep -qx 'ok 2 ranks' %s", out), 0, "the ranks' slices disagree");
}
