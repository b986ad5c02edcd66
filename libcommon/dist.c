#include "dist.h"

#ifdef VK_MPI
#include <limits.h>
#include <mpi.h>

static int started;

int vk_dist_init(int *argc, char ***argv)
{
	MPI_Init(argc, argv);
	started = 1;
	return vk_dist_size();
}

int vk_dist_rank(void)
{
	int r = 0;
	if (started)
		MPI_Comm_rank(MPI_COMM_WORLD, &r);
	return r;
}

int vk_dist_size(void)
{
	int n = 1;
	if (started)
		MPI_Comm_size(MPI_COMM_WORLD, &n);
	return n;
}

/* MPI counts are ints: large blocks go in pieces. */
void vk_dist_sum_floats(float *x, size_t n)
{
	for (size_t done = 0; started && done < n;) {
		int chunk = n - done > INT_MAX ? INT_MAX : (int)(n - done);
		MPI_Allreduce(MPI_IN_PLACE, x + done, chunk, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
		done += chunk;
	}
}

void vk_dist_sum_doubles(double *x, size_t n)
{
	if (started)
		MPI_Allreduce(MPI_IN_PLACE, x, (int)n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

void vk_dist_finalize(void)
{
	if (started)
		MPI_Finalize();
	started = 0;
}

#else

int vk_dist_init(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 1;
}
int vk_dist_rank(void) { return 0; }
int vk_dist_size(void) { return 1; }
void vk_dist_sum_floats(float *x, size_t n) { (void)x, (void)n; }
void vk_dist_sum_doubles(double *x, size_t n) { (void)x, (void)n; }
void vk_dist_finalize(void) {}

#endif
