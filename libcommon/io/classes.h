/* Class names in a stream's metadata (formats/tensor-stream.md): `classes=N`
 * and one `class.I=NAME` line per class I in 0 … N-1, NAME percent-encoded so
 * any byte string (spaces, '=', newlines) survives: '%', bytes below 0x20 and
 * 0x7f become %XX (two upper-case hex digits); every other byte is itself. */
#ifndef VK_CLASSES_H
#define VK_CLASSES_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"
#include "stream.h"

#define VK_CLASS_NAME_MAX 1024  /* bytes of a decoded name, with its NUL */

/* Set classes=n and class.0 … class.(n-1); fails when the metadata would
 * outgrow its limit (the message says how many names fitted). */
int vk_classes_set(ts_header *h, char *const *names, int n, vk_error *e);
/* The decoded name of class i into buf (VK_CLASS_NAME_MAX bytes is always
 * enough), or NULL when the stream has none for it. */
const char *vk_class_name(const ts_header *h, int i, char *buf, size_t len);
/* Index of the class called name, or -1. */
int vk_class_find(const ts_header *h, const char *name);
/* Percent-encode / decode one name (the rule above); return out. */
char *vk_class_encode(const char *name, char *out, size_t len);
char *vk_class_decode(const char *enc, char *out, size_t len);

/* Metadata holds at most 16 KiB, so no stream names more classes than this. */
#define VK_CLASS_MAP_MAX 2048

/* Match the classes of `have` (a stream's header) to those of `want` (a
 * model's training data, or the training stream) by name. When both name
 * every one of their classes: map[i] gets want's index of have's class i,
 * *n have's class count, and the result is 1 (all identity: 2). When either
 * names none or not all: 0, labels are taken by number as before. When a
 * class of have is not among want's: -1, and the message lists both
 * (have_name's and want_name's), as far as they fit. map holds
 * VK_CLASS_MAP_MAX entries. */
int vk_class_map(const ts_header *want, const char *want_name, const ts_header *have,
		 const char *have_name, int32_t *map, int *n, vk_error *e);
/* Replace dst's classes= and class.I lines by src's. */
int vk_classes_copy(ts_header *dst, const ts_header *src, vk_error *e);

#endif
