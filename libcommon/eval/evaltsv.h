/* kl-eval's summary TSV (kl-eval(1)): a header line, then per measured model
 * a row with dim "all" and a row per latent dimension, figures for people and
 * the exact fixed-point sums (evaluate.h) that let summaries of shards be read
 * back and added up to byte for byte the summary of the whole. */
#ifndef VK_EVALTSV_H
#define VK_EVALTSV_H

#include <stdio.h>
#include "err.h"
#include "evaluate.h"

#define VK_EVALTSV_HEADER                                                                  \
	"model\tkind\tdim\trecords\trec\tkl\tnelbo\tnelbo_se\tiw\tnlogpx\tnlogpx_se\tgap\t" \
	"active\tmu_var\tq_rec\tq_kl\tq_nelbo2\tq_lp\tq_lp2\tq_mu\tq_mu2"
#define VK_EVALTSV_FIELDS 21
/* kl-eval --aggregate's columns after those, on the "all" rows (NA on the
 * dimensions'): batch estimates, which do not add up across shards */
#define VK_EVALTSV_AGGREGATE "\tmmd\tmi\ttc\tdim_kl"
#define VK_EVALTSV_MAX_LATENT 4096  /* latent dimensions a summary may hold */

/* One measured thing: a model (its path as given) or a latent stream ("-"). */
typedef struct {
	const char *name;
	int kind;             /* VK_AE, VK_VAE, VK_CVAE, or 0 for a latent stream */
	vk_evalsum sum;
	int has_aggregate;    /* agg holds kl-eval --aggregate's MMD, MI, TC, dim-KL (NaN: none) */
	double agg[4];
} vk_evalrow;

/* A row with a KL and an ELBO: a model whose latent kind has a prior (not
 * an AE), or a latent stream (kind 0). */
int vk_evalrow_has_kl(int kind);
/* "vae", ..., or "latent" for kind 0. */
const char *vk_evalrow_kind_name(int kind);

/* Write the header and every row's lines to f (errors show in ferror(f)),
 * with the aggregate columns when a row has them. */
void vk_evaltsv_write(FILE *f, const vk_evalrow *const *rows, int n);

/* Read the summary in f (path for messages) and add each of its models into
 * rows[0 … *n), appending a row (name strdup'd) for a model not seen yet, at
 * most max. A model met again must have been measured the same way (kind,
 * latent size, --iw). Errors name the file and line. */
int vk_evaltsv_merge(FILE *f, const char *path, vk_evalrow *rows, int *n, int max,
		     vk_error *e);

#endif
