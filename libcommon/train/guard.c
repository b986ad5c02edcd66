#include "guard.h"

#include <errno.h>

/* One rule and one message for training (vae-train) and measuring (kl-eval):
 * a Bernoulli decoder's targets lie in [0, 1]. */
int vk_check_unit_rows(const float *x, size_t n, size_t dim, uint64_t first, const char *name,
		       vk_error *e)
{
	for (size_t r = 0; r < n; r++) {
		const float *row = x + r * dim;
		for (size_t i = 0; i < dim; i++)
			if (!(row[i] >= 0.0f && row[i] <= 1.0f))
				return vk_fail(e, "%s: record %llu has the value %g at element %zu, "
						  "outside the [0, 1] that the Bernoulli decoder "
						  "fits; use --loss gaussian, or scale the data to "
						  "[0, 1] (images in 0..255: divide by 255)",
					       name, (unsigned long long)(first + r), row[i], i);
	}
	return 0;
}

int vk_check_unit_targets(const vk_dataset *d, const char *name, vk_error *e)
{
	if (d->is_u8 || !d->f32)
		return 0;
	return vk_check_unit_rows(d->f32, d->n, d->dim, 0, name, e);
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
