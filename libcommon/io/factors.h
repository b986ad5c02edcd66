/* Factor streams (formats/factors.md): the ground-truth factors of a data
 * set's records, one f32 record of K class indices per data record, named and
 * sized in the metadata. */
#ifndef VK_FACTORS_H
#define VK_FACTORS_H

#include "stream.h"

#define VK_FACTORS_MAX 64
#define VK_FACTOR_NAME_MAX 128

typedef struct {
	int k;                              /* factors */
	char name[VK_FACTORS_MAX][VK_FACTOR_NAME_MAX];
	int size[VK_FACTORS_MAX];           /* values per factor, >= 1 */
	int has_range[VK_FACTORS_MAX];
	double lo[VK_FACTORS_MAX], hi[VK_FACTORS_MAX];
} vk_factors;

/* The header of a factor stream for f (f32, rank 1, dims k, kind=factors). */
int vk_factors_header(ts_header *h, const vk_factors *f, vk_error *e);
/* Read and check a factor stream's header into f; name is for messages. */
int vk_factors_parse(vk_factors *f, const ts_header *h, const char *name, vk_error *e);
/* Check one record (k floats) and convert it to class indices; record is the
 * record's index, for the message. */
int vk_factors_check(const vk_factors *f, const float *rec, int *classes, uint64_t record,
		     const char *name, vk_error *e);

#endif
