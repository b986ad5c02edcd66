/* A progress meter on stderr: count, rate and ETA, redrawn at most 10 times a
 * second, and only when stderr is a terminal (silent in pipes, logs and CI). */
#ifndef VK_PROGRESS_H
#define VK_PROGRESS_H

#include <stdint.h>

typedef struct {
	int active;
	const char *what;       /* "records", "batches" */
	uint64_t total;         /* 0 when unknown */
	double start, last_draw;
} vk_progress;

void vk_progress_start(vk_progress *p, const char *what, uint64_t total);
void vk_progress_update(vk_progress *p, uint64_t done);
/* Clear the line so the next message starts clean. */
void vk_progress_end(vk_progress *p);

/* Monotonic seconds. */
double vk_now(void);

#endif
