/* Distributed training over MPI: the few collective operations vae-train
 * needs. Built with `make MPI=1` (VK_MPI defined, compiled by mpicc); in the
 * plain build every function is the single-process identity, so callers need
 * no #ifdefs. */
#ifndef VK_DIST_H
#define VK_DIST_H

#include <stddef.h>

/* Start MPI if built with it; returns the number of ranks (1 without MPI). */
int vk_dist_init(int *argc, char ***argv);
int vk_dist_rank(void);
int vk_dist_size(void);
/* In-place sums over all ranks. */
void vk_dist_sum_floats(float *x, size_t n);
void vk_dist_sum_doubles(double *x, size_t n);
void vk_dist_finalize(void);

#endif
