/* Manifests: which file each record of a stream came from (img2stream
 * --manifest). TSV with the header "record<TAB>file", then one line per
 * record, numbered from 0 in stream order, the file's path percent-encoded
 * by the rule of class names (formats/tensor-stream.md: '%', bytes below 0x20
 * and 0x7f as %XX), so spaces, tabs, newlines and UTF-8 all survive one line.
 * The record column joins with kl-eval --per-record's and with the numbers
 * stream-cat --index takes. */
#ifndef VK_MANIFEST_H
#define VK_MANIFEST_H

#include <stdint.h>
#include "afile.h"
#include "err.h"
#include "indexset.h"

#define VK_MANIFEST_HEADER "record\tfile"

/* Open path (atomically, as vk_afile) and write the header. */
int vk_manifest_open(vk_afile *a, const char *path, vk_error *e);
/* One record's line. */
int vk_manifest_add(vk_afile *a, uint64_t record, const char *file, vk_error *e);

typedef struct {
	char **file;   /* decoded paths, record i at i */
	uint64_t n;
} vk_manifest;

/* Read a manifest whose records run 0, 1, 2, … in order; errors name the line. */
int vk_manifest_load(vk_manifest *m, const char *path, vk_error *e);
void vk_manifest_free(vk_manifest *m);
/* Records picked by file (stream-cat --manifest --index FILE): read f line by
 * line (name for messages), each line either record numbers and ranges as
 * indexset.h reads them or one file, named as the manifest names it or by its
 * base name when no other record's file has that base name, percent-encoded
 * or not (kl-eval --per-record's file column, or a name typed in); blank lines
 * are skipped. Adds the records to s; an unknown or ambiguous name is an
 * error naming its line. */
int vk_manifest_read_index(const vk_manifest *m, FILE *f, const char *name, vk_index_set *s,
			   vk_error *e);

#endif
