/* A progress meter on stderr: count, rate and ETA, redrawn at most 10 times a
 * second, and only when stderr is a terminal (silent in pipes, logs and CI).
 * The line fits the terminal's width (as pv and curl do): the bar shrinks,
 * then goes, then the rate and ETA, so it never wraps. */
#ifndef VK_PROGRESS_H
#define VK_PROGRESS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
	int active;
	const char *what;       /* "records", "batches" */
	uint64_t total;         /* 0 when unknown */
	double start, last_draw;
	char label[64];         /* shown first, e.g. "epoch 3/10"; empty for none */
} vk_progress;

void vk_progress_start(vk_progress *p, const char *what, uint64_t total);
/* What the meter is at, before the count: "epoch 3/10". NULL or "" for none. */
void vk_progress_label(vk_progress *p, const char *label);
void vk_progress_update(vk_progress *p, uint64_t done);
/* Clear the line so the next message starts clean. */
void vk_progress_end(vk_progress *p);

/* The meter's text for a terminal of cols columns, at most cols - 1
 * characters (exposed for tests). eta < 0: unknown. */
size_t vk_progress_format(char *buf, size_t len, int cols, const char *label, uint64_t done,
			  uint64_t total, const char *what, double rate, double eta);

/* Monotonic seconds. */
double vk_now(void);

#endif
