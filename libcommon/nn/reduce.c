#include "reduce.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "dist.h"

#define MAX_SLICES 64

void vk_barrier_init(vk_barrier *b, int parties)
{
	atomic_store(&b->count, 0);
	atomic_store(&b->generation, 0);
	b->parties = parties;
}

void vk_barrier_wait(vk_barrier *b)
{
	int gen = atomic_load(&b->generation);
	if (atomic_fetch_add(&b->count, 1) == b->parties - 1) {
		atomic_store(&b->count, 0);
		atomic_fetch_add(&b->generation, 1);
		return;
	}
	for (int spins = 0; atomic_load(&b->generation) == gen; spins++)
		if (spins > 4000)
			sched_yield();
		else
			__builtin_ia32_pause();
}

/* Two sets of slots, used by alternate calls: a slice that has passed call
 * c's barrier may write call c + 1's slots while others still read call c's;
 * it cannot reach call c + 2 (the same slots again) before every slice has
 * arrived at call c + 1's barrier, after reading. */
struct vk_reducer {
	int slices, cap, ranks;
	double *slot[2];          /* (slices, cap) partial sums */
	double *total[2];         /* (cap) with ranks: slice 0's all-reduced sums */
	int calls[MAX_SLICES];    /* each slice's own count (only it touches it) */
	vk_barrier posted, reduced;
};

vk_reducer *vk_reducer_new(int slices, int cap, vk_error *e)
{
	if (slices < 1 || slices > MAX_SLICES || cap < 0) {
		vk_fail(e, "a reduction over %d slices of %d values", slices, cap);
		return NULL;
	}
	vk_reducer *r = calloc(1, sizeof *r);
	size_t n = (size_t)slices * (cap ? cap : 1);
	if (r) {
		r->slices = slices;
		r->cap = cap;
		r->ranks = vk_dist_size();
		for (int i = 0; i < 2; i++) {
			r->slot[i] = malloc(sizeof(double) * n);
			r->total[i] = malloc(sizeof(double) * (cap ? cap : 1));
		}
		vk_barrier_init(&r->posted, slices);
		vk_barrier_init(&r->reduced, slices);
	}
	if (!r || !r->slot[0] || !r->slot[1] || !r->total[0] || !r->total[1]) {
		vk_reducer_free(r);
		vk_fail(e, "out of memory for a reduction of %d values", cap);
		return NULL;
	}
	return r;
}

void vk_reducer_free(vk_reducer *r)
{
	if (!r)
		return;
	for (int i = 0; i < 2; i++) {
		free(r->slot[i]);
		free(r->total[i]);
	}
	free(r);
}

/* Σ over the slices of slot, in slice order from 0 (the order does not
 * depend on which slice adds) */
static void add_slices(const vk_reducer *r, const double *slot, double *out, int n)
{
	for (int j = 0; j < n; j++) {
		double s = 0;
		for (int k = 0; k < r->slices; k++)
			s += slot[(size_t)k * r->cap + j];
		out[j] = s;
	}
}

void vk_reduce(vk_reducer *r, int slice, double *v, int n)
{
	if (!r || (r->slices == 1 && r->ranks == 1))
		return;
	int set = r->calls[slice]++ & 1;
	if (r->slices == 1) {
		vk_dist_sum_doubles(v, n);
		return;
	}
	double *slot = r->slot[set];
	memcpy(slot + (size_t)slice * r->cap, v, sizeof(double) * n);
	vk_barrier_wait(&r->posted);
	if (r->ranks == 1) {
		/* every slice adds the same slots in the same order: one barrier */
		add_slices(r, slot, v, n);
		return;
	}
	/* one call into MPI per rank */
	if (slice == 0) {
		add_slices(r, slot, r->total[set], n);
		vk_dist_sum_doubles(r->total[set], n);
	}
	vk_barrier_wait(&r->reduced);
	memcpy(v, r->total[set], sizeof(double) * n);
}
