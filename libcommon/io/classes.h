/* Class names in a stream's metadata (formats/tensor-stream.md): `classes=N`
 * and one `class.I=NAME` line per class I in 0 … N-1, NAME percent-encoded so
 * any byte string (spaces, '=', newlines) survives: '%', bytes below 0x20 and
 * 0x7f become %XX (two upper-case hex digits); every other byte is itself. */
#ifndef VK_CLASSES_H
#define VK_CLASSES_H

#include <stddef.h>

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

#endif
