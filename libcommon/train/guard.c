#include "guard.h"

#include <errno.h>

int vk_check_unit_targets(const vk_dataset *d, const char *name, vk_error *e)
{
	if (d->is_u8 || !d->f32)
		return 0;
	for (size_t r = 0; r < d->n; r++) {
		const float *row = d->f32 + r * d->dim;
		for (size_t i = 0; i < d->dim; i++)
			if (!(row[i] >= 0.0f && row[i] <= 1.0f))
				return vk_fail(e, "%s: record %zu has the value %g at element %zu, "
						  "outside the [0, 1] that the Bernoulli decoder "
						  "fits; use --loss gaussian, or scale the data to "
						  "[0, 1] (images in 0..255: divide by 255)",
					       name, r, row[i], i);
	}
	return 0;
}

int vk_check_written(FILE *f, const char *name, vk_error *e)
{
	if (fflush(f) != 0 || ferror(f)) {
		if (!errno)
			errno = EIO;
		return vk_fail(e, "error writing %s:", name);
	}
	return 0;
}
