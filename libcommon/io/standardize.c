/* standardize.mean and standardize.sd in a stream's metadata. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "standardize.h"

static const char *const KEY[2] = {"standardize.mean", "standardize.sd"};

int ts_standardize_put(ts_header *h, const double *mean, const double *sd, size_t n,
		       vk_error *e)
{
	const double *v[2] = {mean, sd};
	size_t cap = n * 26 + 1;
	char *s = malloc(cap);
	if (!s)
		return vk_fail(e, "out of memory for %zu column statistics", n);
	int rc = 0;
	for (int k = 0; k < 2 && !rc; k++) {
		size_t len = 0;
		s[0] = 0;
		for (size_t i = 0; i < n; i++)
			len += (size_t)snprintf(s + len, cap - len, "%s%.17g", i ? "," : "", v[k][i]);
		rc = ts_meta_set(h, KEY[k], s, e);
	}
	free(s);
	return rc;
}

int ts_standardize_get(const ts_header *h, const char *name, size_t n, double *mean,
		       double *sd, vk_error *e)
{
	static char buf[TS_MAX_META + 1];
	double *out[2] = {mean, sd};
	int have[2];
	for (int k = 0; k < 2; k++)
		have[k] = ts_meta_get(h, KEY[k], buf, sizeof buf) != NULL;
	if (!have[0] && !have[1])
		return 0;
	for (int k = 0; k < 2; k++) {
		if (!have[k])
			return vk_fail(e, "%s: %s without %s in the metadata", name, KEY[!k], KEY[k]);
		ts_meta_get(h, KEY[k], buf, sizeof buf);
		char *p = buf, *end;
		for (size_t i = 0; i < n; i++) {
			out[k][i] = strtod(p, &end);
			if (end == p || (i + 1 < n ? *end != ',' : *end != 0) || !isfinite(out[k][i]))
				return vk_fail(e, "%s: %s does not hold %zu finite numbers", name, KEY[k], n);
			p = end + 1;
		}
	}
	return 1;
}

void ts_standardize_unset(ts_header *h)
{
	ts_meta_unset(h, KEY[0]);
	ts_meta_unset(h, KEY[1]);
}
