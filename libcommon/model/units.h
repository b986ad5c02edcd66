/* Decodings in the data's units. A model trained on standardised data
 * (txt2stream --standardize) decodes standardised values; vae-decode and
 * vae-sample write them as x * sd + mean with the column statistics
 * (standardize.h) that travel in the metadata: a latent stream's (vae-encode
 * copies its data's), else the model's description (vae-train keeps its
 * training data's metadata). */
#ifndef VK_UNITS_H
#define VK_UNITS_H

#include <stddef.h>
#include "err.h"
#include "modelstream.h"
#include "stream.h"

typedef struct {
	double *mean, *sd; /* NULL: none found, decodings are written as they are */
	size_t n;          /* values per record */
	float *buf;        /* a batch in the data's units */
} vk_units;

/* Find the statistics for t's model: src's (NULL for none; src_name for
 * messages) first, else the model's (model_path for messages); room for
 * batch records. 1 found, 0 none (u stays empty), -1 when they are half
 * there or of the wrong length. */
int vk_units_find(vk_units *u, const vk_model_tool *t, const ts_header *src,
		  const char *src_name, const char *model_path, int batch, vk_error *e);
/* n records x into u->buf, x * sd + mean; returns u->buf. */
const float *vk_units_apply(vk_units *u, const float *x, int n);
/* An output header for such records: without the statistics (the values are
 * no longer standardised), kind or scale; with the columns' names
 * (columns, column.I, label_column) of t's training data when h has none. */
int vk_units_header(ts_header *h, const vk_model_tool *t, vk_error *e);
void vk_units_free(vk_units *u);

#endif
