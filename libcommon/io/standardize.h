/* Column statistics of a standardised stream (txt2stream --standardize): the
 * metadata keys standardize.mean and standardize.sd, each a comma list of one
 * number per value of a record. Whoever reads such a stream's values back in
 * the data's units (stream2txt --destandardize, vae-decode) reads them here. */
#ifndef VK_STANDARDIZE_H
#define VK_STANDARDIZE_H

#include <stddef.h>
#include "err.h"
#include "stream.h"

/* Write mean and sd (n numbers each, 17 significant digits) into h. */
int ts_standardize_put(ts_header *h, const double *mean, const double *sd, size_t n,
		       vk_error *e);
/* Read them: 1 when both keys hold n numbers (mean, sd filled), 0 when neither
 * key is there, -1 (naming `name`) when one is missing or either is not a
 * list of n numbers. */
int ts_standardize_get(const ts_header *h, const char *name, size_t n, double *mean,
		       double *sd, vk_error *e);
/* Remove both keys (the values are in the data's units again). */
void ts_standardize_unset(ts_header *h);

#endif
