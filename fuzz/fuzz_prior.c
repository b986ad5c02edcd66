/* libFuzzer harness: the prior file reader (vk_gmm_decode). As for models,
 * an odd first byte is dropped and a correct CRC-32 written over the rest,
 * so that mutations reach the checks behind the checksum. A prior that loads
 * is sampled and measured, and must encode back to the same bytes (minor
 * version 0; another minor version is accepted but written as 0). */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "prior.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (!size)
		return 0;
	int fix_crc = data[0] & 1;
	data++, size--;
	unsigned char *copy = malloc(size + 1);
	memcpy(copy, data, size);
	if (fix_crc && size >= 8) {
		uint32_t c = (uint32_t)crc32(0L, copy, (uInt)(size - 4));
		memcpy(copy + size - 4, &c, 4);
	}
	vk_gmm g;
	vk_error e;
	if (vk_gmm_decode(copy, size, "fuzz", &g, &e) == 0) {
		float *z = malloc(sizeof(float) * 4 * (size_t)g.z);
		vk_rng r;
		vk_rng_seed(&r, 1);
		for (int i = 0; i < 4; i++)
			vk_gmm_sample(&g, &r, 1.0f, z + (size_t)i * g.z);
		double ll;
		if (vk_gmm_loglik(&g, z, 4, &ll, &e))
			abort();
		unsigned char *again;
		size_t len;
		if (vk_gmm_encode(&g, &again, &len, &e) || len != size ||
		    (copy[10] == 0 && copy[11] == 0 && memcmp(again, copy, size)))
			abort();
		free(again);
		free(z);
		vk_gmm_free(&g);
	}
	free(copy);
	return 0;
}
