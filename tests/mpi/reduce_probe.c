/* reduce_probe — vk_reduce under MPI (built by `make MPI=1
 * build-mpi/reduce-probe`, run by test_reduce.c with mpirun -np 2): every
 * rank cuts its share of the rows into 1, 2 and 3 threads' slices and sums
 * them; prints "ok" when every slice of every rank got the exact totals of
 * all the rows, else the first difference. */
#include <stdio.h>

#include "dist.h"
#include "reduce_cases.h"

int main(int argc, char **argv)
{
	int ranks = vk_dist_init(&argc, &argv), rank = vk_dist_rank(), bad = 0;
	static struct case_slice s[3];
	int lo, hi;
	case_split(ROWS, ranks, rank, &lo, &hi);
	for (int threads = 1; threads <= 3 && !bad; threads++) {
		if (case_threads(s, threads, lo, hi)) {
			fprintf(stderr, "reduce-probe: cannot start %d threads\n", threads);
			bad = 1;
			break;
		}
		for (int i = 0; i < threads && !bad; i++)
			for (int round = 0; round < ROUNDS && !bad; round++)
				for (int j = 0; j < 1 + round % WIDTH && !bad; j++)
					if (s[i].out[round][j] != case_total(round, j)) {
						printf("rank %d of %d, %d threads, slice %d, round %d, "
						       "value %d: %a, not %a\n", rank, ranks, threads, i,
						       round, j, s[i].out[round][j], case_total(round, j));
						bad = 1;
					}
	}
	double b = bad;
	vk_dist_sum_doubles(&b, 1);
	if (rank == 0 && b == 0)
		printf("ok %d ranks\n", ranks);
	vk_dist_finalize();
	return b != 0;
}
