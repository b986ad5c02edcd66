/* Sums over the whole batch when the batch is cut into slices: the training
 * threads' slices of a step and the MPI ranks' shares. A batch-wide term (free
 * bits' KL per dimension today; batch-norm statistics, total correlation or an
 * MMD next) is written once, in its own kind, as "sum these over the batch":
 * every slice calls vk_reduce with its partial sums and gets the totals back,
 * with no barrier of its own. */
#ifndef VK_REDUCE_H
#define VK_REDUCE_H

#include <stdatomic.h>
#include "err.h"

/* A spinning barrier for a fixed number of threads: steps take milliseconds,
 * so waiters spin briefly, then yield (an oversubscribed machine still makes
 * progress). */
typedef struct {
	atomic_int count, generation;
	int parties;
} vk_barrier;

void vk_barrier_init(vk_barrier *b, int parties);
void vk_barrier_wait(vk_barrier *b);

typedef struct vk_reducer vk_reducer;

/* A reducer for `slices` threads (1 or more) of this process, each summing up
 * to cap values a call; with MPI it also sums over every rank (vk_dist.h). */
vk_reducer *vk_reducer_new(int slices, int cap, vk_error *e);
void vk_reducer_free(vk_reducer *r);

/* v (n ≤ cap) holds slice `slice`'s partial sums; on return it holds the
 * sums over all slices (added in slice order, from 0), then over all ranks:
 * the same bits in every slice, whatever the thread count's split of the
 * rows. Every slice of every rank makes the same calls, in the same order,
 * with the same n (a slice with no rows passes zeros). r NULL: this slice is
 * the whole batch, v is left as it is. Allocates nothing. */
void vk_reduce(vk_reducer *r, int slice, double *v, int n);

#endif
