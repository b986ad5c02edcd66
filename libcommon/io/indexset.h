/* Sets of record numbers, read from text: "0,5,10-20" or a file of such items
 * (commas, blanks or newlines between them, '#' to the end of a line a
 * comment). A range A-B includes both ends (as cut -f and sed do). The set is
 * kept as sorted, disjoint ranges, so "0-999999" costs one entry, and is
 * queried in increasing order with a cursor: one pass over a stream costs
 * O(records + ranges). Used by stream-cat --index. */
#ifndef VK_INDEXSET_H
#define VK_INDEXSET_H

#include <stdint.h>
#include <stdio.h>
#include "err.h"

#define VK_INDEX_MAX ((1ull << 40) - 1)  /* largest record number (tensor-stream count limit) */

typedef struct {
	uint64_t lo, hi;  /* [lo, hi) */
} vk_range;

typedef struct {
	vk_range *r;
	size_t n, cap;
	size_t cursor;    /* first range whose hi is above the last query */
	int sorted;
} vk_index_set;

void vk_index_set_init(vk_index_set *s);
void vk_index_set_free(vk_index_set *s);
/* Add [lo, hi). */
int vk_index_set_add(vk_index_set *s, uint64_t lo, uint64_t hi, vk_error *e);
/* Parse items from f (name for messages: errors say the line and the item). */
int vk_index_set_read(vk_index_set *s, FILE *f, const char *name, vk_error *e);
/* Parse items from a string ("3,7-9"). */
int vk_index_set_parse(vk_index_set *s, const char *text, const char *name, vk_error *e);
/* Sort and merge; call once after adding, before querying. */
void vk_index_set_finish(vk_index_set *s);
/* Is k in the set? Queries must come in non-decreasing k (the cursor moves on). */
int vk_index_set_next(vk_index_set *s, uint64_t k);
/* How many record numbers the set holds, and one past its largest (0 when empty). */
uint64_t vk_index_set_size(const vk_index_set *s);
uint64_t vk_index_set_end(const vk_index_set *s);
/* Does text look like a list (digits, '-', ',' only) rather than a file name? */
int vk_index_is_list(const char *text);

#endif
