/* A whole training set in memory, for shuffled minibatches. u8 data stays u8
 * (a quarter of the memory of floats) and is scaled to [0,1] per batch. */
#ifndef VK_DATASET_H
#define VK_DATASET_H

#include <stdint.h>
#include "err.h"
#include "stream.h"

typedef struct {
	ts_header h;        /* the stream's header (shape, metadata) */
	size_t n, dim;      /* records, elements per record */
	int is_u8;
	uint8_t *u8;        /* (n, dim) when is_u8 */
	float *f32;         /* (n, dim) otherwise */
	int32_t *labels;    /* (n) when the stream has labels, else NULL */
} vk_dataset;

/* Read a stream (path NULL or "-" for stdin) into memory, refusing to use
 * more than max_bytes, with a message saying how much it needs. */
int vk_dataset_load(vk_dataset *d, const char *path, size_t max_bytes, vk_error *e);
/* The same within one --max-memory limit shared by several streams (training
 * and test data): loads within *budget, then takes what the data uses from
 * it. total is the whole limit, named in messages. */
int vk_dataset_load_within(vk_dataset *d, const char *path, size_t *budget, size_t total,
			   vk_error *e);
void vk_dataset_free(vk_dataset *d);
/* Rows idx[0..n) as floats into out (n, dim), their labels into lab (if not NULL). */
void vk_dataset_gather(const vk_dataset *d, const uint32_t *idx, int n, float *out,
		       int32_t *lab);
/* A cvae's data must have labels: checked before anything else about its
 * classes (issue 13 item 11), with how to make a labelled stream. */
int vk_dataset_require_labels(const vk_dataset *d, const char *name, vk_error *e);
/* When both d and names (the model's training data, or the training stream)
 * name every class, d's labels are renumbered to names' classes by name and
 * d's header then names them as names does; a class of d missing from names
 * is an error listing both (classes.h, vk_class_map). what names d and
 * names_from the other, in messages. */
int vk_dataset_match_classes(vk_dataset *d, const char *what, const ts_header *names,
			     const char *names_from, vk_error *e);
/* A u8 stream's values as the integers they are (a code stream), not scaled
 * to [0, 1]: the data becomes floats. Nothing to do for other dtypes. */
int vk_dataset_as_integers(vk_dataset *d, vk_error *e);
/* Largest label + 1 (0 without labels). */
int vk_dataset_classes(const vk_dataset *d);

/* Half the physical memory: the default limit for --max-memory. */
size_t vk_default_max_memory(void);
/* Parse "800M", "2G", "123456" (bytes) for --max-memory; -1 on error. */
long long vk_parse_size(const char *s);

#endif
