/* Checks the model programs make so that nothing fails silently (issue 13):
 * training data a Bernoulli decoder cannot fit, a log file that could not be
 * written. Each returns 0, or -1 with one line in e that says what happened
 * and what to do (a loss that went non-finite: vk_run_epoch, run.h). */
#ifndef VK_GUARD_H
#define VK_GUARD_H

#include <stdio.h>
#include "dataset.h"
#include "err.h"

/* Before training with the Bernoulli decoder: every target in [0, 1]. u8
 * data always is (it is scaled by 1/255); f32 data from elsewhere (NumPy
 * images in 0..255) may not be. name is the stream's name for the message. */
int vk_check_unit_targets(const vk_dataset *d, const char *name, vk_error *e);
/* The same rule for rows of floats as they are read (kl-eval measuring a
 * Bernoulli model): rows (n, dim), the first being record first. */
int vk_check_unit_rows(const float *x, size_t n, size_t dim, uint64_t first, const char *name,
		       vk_error *e);

/* After writing to a stream that is not a vk_afile (vae-train's --log):
 * flush it and report a write error (a full disk, /dev/full) by name. */
int vk_check_written(FILE *f, const char *name, vk_error *e);

#endif
