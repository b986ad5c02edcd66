/* IDX files (the MNIST format), plain or gzip-compressed, read record by record.
 *
 * Layout, all big-endian: two zero bytes, a type byte (only 0x08 = unsigned
 * byte is supported), the number of dimensions, then that many u32 sizes.
 * The first size counts the records; the rest are one record's shape.
 * Every size is checked against the limits below before anything is allocated. */
#ifndef VK_IDX_H
#define VK_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define VK_IDX_MAX_RANK 4             /* record dims: one less than IDX dims */
#define VK_IDX_MAX_ELEMS (1u << 26)   /* elements in one record */
#define VK_IDX_MAX_COUNT (1ull << 31) /* records in one file */

typedef struct {
	void *gz;          /* gzFile; plain files read through it unchanged */
	char name[256];    /* for messages: the file name or "standard input" */
	uint64_t count;    /* records declared in the header */
	int rank;          /* record rank, 0 for a file of scalars (labels) */
	uint32_t dims[VK_IDX_MAX_RANK];
	size_t record_bytes;
	uint64_t index;    /* records read so far */
} vk_idx;

/* Open path (NULL or "-" for stdin) and check its header. */
int vk_idx_open(vk_idx *x, const char *path, vk_error *e);
/* Read up to max records into buf (max * record_bytes). *got is how many were
 * read; fewer than max only once all declared records are read. A file that
 * ends early is an error naming the first incomplete record. */
int vk_idx_read(vk_idx *x, void *buf, size_t max, size_t *got, vk_error *e);
void vk_idx_close(vk_idx *x);

#endif
