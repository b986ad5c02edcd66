#include "factors.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classes.h"

int vk_factors_header(ts_header *h, const vk_factors *f, vk_error *e)
{
	uint32_t dims[1] = {(uint32_t)f->k};
	char key[64], val[2 * VK_FACTOR_NAME_MAX + 64];
	if (ts_header_init(h, TS_F32, 1, dims, e) || ts_meta_set(h, "kind", "factors", e))
		return -1;
	snprintf(val, sizeof val, "%d", f->k);
	if (ts_meta_set(h, "factors", val, e))
		return -1;
	for (int i = 0; i < f->k; i++) {
		snprintf(key, sizeof key, "factor.%d", i);
		if (ts_meta_set(h, key, vk_class_encode(f->name[i], val, sizeof val), e))
			return -1;
		snprintf(key, sizeof key, "factor.%d.size", i);
		snprintf(val, sizeof val, "%d", f->size[i]);
		if (ts_meta_set(h, key, val, e))
			return -1;
		if (!f->has_range[i])
			continue;
		snprintf(key, sizeof key, "factor.%d.range", i);
		snprintf(val, sizeof val, "%.17g,%.17g", f->lo[i], f->hi[i]);
		if (ts_meta_set(h, key, val, e))
			return -1;
	}
	return 0;
}

int vk_factors_parse(vk_factors *f, const ts_header *h, const char *name, vk_error *e)
{
	char buf[2 * VK_FACTOR_NAME_MAX + 64], key[64], *end;
	memset(f, 0, sizeof *f);
	if (!ts_meta_get(h, "kind", buf, sizeof buf) || strcmp(buf, "factors") != 0)
		return vk_fail(e, "%s: not a factor stream (its metadata has no kind=factors; "
			       "see formats/factors.md)", name);
	if (h->dtype != TS_F32 || h->rank != 1)
		return vk_fail(e, "%s: a factor stream holds f32 vectors, not %s of rank %d", name,
			       ts_dtype_name(h->dtype), h->rank);
	if (!ts_meta_get(h, "factors", buf, sizeof buf))
		return vk_fail(e, "%s: kind=factors but no factors= key", name);
	long k = strtol(buf, &end, 10);
	if (*end || k < 1 || k > VK_FACTORS_MAX || (uint32_t)k != h->dims[0])
		return vk_fail(e, "%s: factors=%s does not match its records of %u values "
			       "(at most %d factors)", name, buf, h->dims[0], VK_FACTORS_MAX);
	f->k = (int)k;
	for (int i = 0; i < f->k; i++) {
		snprintf(key, sizeof key, "factor.%d", i);
		if (ts_meta_get(h, key, buf, sizeof buf))
			vk_class_decode(buf, f->name[i], sizeof f->name[i]);
		else
			snprintf(f->name[i], sizeof f->name[i], "factor%d", i);
		snprintf(key, sizeof key, "factor.%d.size", i);
		if (!ts_meta_get(h, key, buf, sizeof buf))
			return vk_fail(e, "%s: no %s= key (every factor needs its number of values)",
				       name, key);
		long v = strtol(buf, &end, 10);
		if (*end || v < 1 || v > (1L << 24))
			return vk_fail(e, "%s: %s=%s is not a number of values in 1 ... 16777216",
				       name, key, buf);
		f->size[i] = (int)v;
		snprintf(key, sizeof key, "factor.%d.range", i);
		if (ts_meta_get(h, key, buf, sizeof buf)) {
			char *comma;
			f->lo[i] = strtod(buf, &comma);
			if (*comma != ',')
				return vk_fail(e, "%s: %s=%s is not LO,HI", name, key, buf);
			f->hi[i] = strtod(comma + 1, &end);
			if (*end || !isfinite(f->lo[i]) || !isfinite(f->hi[i]))
				return vk_fail(e, "%s: %s=%s is not LO,HI", name, key, buf);
			f->has_range[i] = 1;
		}
	}
	return 0;
}

int vk_factors_check(const vk_factors *f, const float *rec, int *classes, uint64_t record,
		     const char *name, vk_error *e)
{
	for (int i = 0; i < f->k; i++) {
		float v = rec[i];
		if (!(v >= 0 && v < (float)f->size[i]) || v != floorf(v))
			return vk_fail(e, "%s: record %llu: factor %s is %g, not a class in 0 ... %d",
				       name, (unsigned long long)record, f->name[i], (double)v,
				       f->size[i] - 1);
		classes[i] = (int)v;
	}
	return 0;
}
