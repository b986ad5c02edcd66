/* The complexity of a record (Serrà et al. 2020, "Input complexity and
 * out-of-distribution detection with likelihood-based generative models",
 * ICLR): the length of its lossless compression, here zlib's (deflate at
 * level 9, RFC 1950 framing included) of the record as bytes, in nats
 * (bits · ln 2). Simple, smooth inputs compress well and get a high
 * likelihood from any generative model; subtracting L(x) from −log p(x)
 * leaves what the model finds unusual beyond the input's plain simplicity. */
#ifndef VK_COMPLEXITY_H
#define VK_COMPLEXITY_H

#include <stddef.h>
#include "err.h"

typedef struct {
	size_t n;             /* values per record */
	unsigned char *bytes; /* the record as bytes (n) */
	unsigned char *z;     /* compressed (cap) */
	size_t cap;
} vk_complexity;

int vk_complexity_init(vk_complexity *c, size_t n, vk_error *e);
void vk_complexity_free(vk_complexity *c);
/* L(x) in nats of n bytes. */
double vk_complexity_bytes(vk_complexity *c, const unsigned char *b);
/* L(x) in nats of a record of floats in [0, 1] (what u8 streams read as),
 * each quantised to round(255 x) (clamped), so a u8 record compresses as its
 * own bytes. */
double vk_complexity_f32(vk_complexity *c, const float *x);

#endif
