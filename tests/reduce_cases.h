/* The reduction cases that test_reduce.c runs in one process and
 * tests/mpi/reduce_probe.c under mpirun: ROWS rows of WIDTH values, cut
 * into ranks' shares and threads' slices as the trainer cuts a batch, summed
 * with vk_reduce over ROUNDS calls of varying widths. Values are multiples
 * of 1/64 below 2^10, so every grouping of the sums is exact and the totals
 * must come out the same bits for any split. */
#ifndef REDUCE_CASES_H
#define REDUCE_CASES_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "reduce.h"

enum { ROWS = 37, WIDTH = 9, ROUNDS = 300 };

static inline double case_value(int round, int row, int j)
{
	return (double)(((round * 131 + row * 17 + j * 29) % 1001) - 500) / 64.0;
}

/* rows [lo, hi) of n for part i of k, as train.c's slice() */
static inline void case_split(int n, int k, int i, int *lo, int *hi)
{
	*lo = (int)((long)n * i / k);
	*hi = (int)((long)n * (i + 1) / k);
}

struct case_slice {
	vk_reducer *red;
	int slice, slices, row_lo, row_hi;  /* this process's rows [row_lo, row_hi) */
	double out[ROUNDS][WIDTH];          /* the totals it got back */
};

static inline void *case_run(void *arg)
{
	struct case_slice *s = arg;
	int lo, hi;
	case_split(s->row_hi - s->row_lo, s->slices, s->slice, &lo, &hi);
	for (int round = 0; round < ROUNDS; round++) {
		int n = 1 + round % WIDTH;
		double v[WIDTH];
		memset(v, 0, sizeof v);
		for (int r = s->row_lo + lo; r < s->row_lo + hi; r++)
			for (int j = 0; j < n; j++)
				v[j] += case_value(round, r, j);
		vk_reduce(s->red, s->slice, v, n);
		memset(s->out[round], 0, sizeof s->out[round]);
		memcpy(s->out[round], v, sizeof(double) * n);
	}
	return NULL;
}

/* Run the cases on `threads` slices of this rank's rows [row_lo, row_hi);
 * s[0..threads). Returns 0, or -1 when a thread or the reducer cannot start. */
static inline int case_threads(struct case_slice *s, int threads, int row_lo, int row_hi)
{
	vk_error e;
	vk_reducer *red = vk_reducer_new(threads, WIDTH, &e);
	pthread_t tid[8];
	if (!red)
		return -1;
	for (int i = 0; i < threads; i++)
		s[i] = (struct case_slice){red, i, threads, row_lo, row_hi, {{0}}};
	for (int i = 1; i < threads; i++)
		if (pthread_create(&tid[i], NULL, case_run, &s[i]))
			return -1;
	case_run(&s[0]);
	for (int i = 1; i < threads; i++)
		pthread_join(tid[i], NULL);
	vk_reducer_free(red);
	return 0;
}

/* The exact totals over all ROWS rows. */
static inline double case_total(int round, int j)
{
	double t = 0;
	for (int r = 0; r < ROWS; r++)
		t += case_value(round, r, j);
	return t;
}

#endif
