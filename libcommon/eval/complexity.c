/* Lossless compression length of a record (complexity.h). */
#include "complexity.h"

#include <math.h>
#include <stdlib.h>
#include <zlib.h>

int vk_complexity_init(vk_complexity *c, size_t n, vk_error *e)
{
	c->n = n;
	c->cap = compressBound((uLong)n);
	c->bytes = malloc(n);
	c->z = malloc(c->cap);
	if (!c->bytes || !c->z) {
		vk_complexity_free(c);
		return vk_fail(e, "out of memory for a record of %zu values", n);
	}
	return 0;
}

void vk_complexity_free(vk_complexity *c)
{
	free(c->bytes);
	free(c->z);
	c->bytes = c->z = NULL;
}

double vk_complexity_bytes(vk_complexity *c, const unsigned char *b)
{
	uLongf len = (uLongf)c->cap;
	/* compressBound makes Z_BUF_ERROR impossible; no other error can occur
	 * at a valid level with buffers we own. */
	if (compress2(c->z, &len, b, (uLong)c->n, 9) != Z_OK)
		return NAN;
	return (double)len * 8 * M_LN2;
}

double vk_complexity_f32(vk_complexity *c, const float *x)
{
	for (size_t i = 0; i < c->n; i++) {
		float v = x[i] * 255.0f + 0.5f;
		c->bytes[i] = v <= 0 ? 0 : v >= 255 ? 255 : (unsigned char)v;
	}
	return vk_complexity_bytes(c, c->bytes);
}
