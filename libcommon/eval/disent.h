/* Disentanglement metrics on codes with ground-truth factors: MIG, the β-VAE
 * score, the FactorVAE score, SAP and DCI, each with disentanglement_lib's
 * sample sizes. Every metric draws its own sample from vk_rng seeded with the
 * seed given, so each one's value does not depend on which others are run;
 * bench/disent_ref.py computes the same numbers from the same draws.
 * Codes are double (N, D); factors are class indices (N, K), all K with two or
 * more values (a caller leaves out factors of one value). */
#ifndef VK_DISENT_H
#define VK_DISENT_H

#include <stdint.h>

#include "err.h"

typedef struct {
	const double *z;  /* (n, d) codes */
	const int *y;     /* (n, k) factor classes */
	const int *size;  /* (k) values per factor, each >= 2 */
	int n, d, k;
} vk_disent_data;

typedef struct {
	int points, bins;                 /* MIG: 10000, 20 */
	int bv_batch, bv_train, bv_eval;  /* β-VAE: 64, 10000, 5000 */
	int fv_batch, fv_train, fv_eval, fv_var; /* FactorVAE: 64, 10000, 5000, 10000 */
	double fv_prune;                  /* FactorVAE: dims of std below 0.05 are off */
	int sap_train, sap_test;          /* SAP: 10000, 5000 */
	int dci_train, dci_test;          /* DCI: 10000, 5000 */
	double dci_alpha;                 /* DCI lasso's L1 weight: 0.02 */
	int dci_sweeps;                   /* coordinate-descent sweeps: 1000 */
	uint64_t seed;
} vk_disent_opts;

void vk_disent_defaults(vk_disent_opts *o);

typedef struct {
	double mig;
	double bv_train, bv_eval;         /* β-VAE score: accuracy */
	double fv_train, fv_eval;         /* FactorVAE score: accuracy */
	int fv_active;                    /* dims kept by the prune */
	double sap;
	double dci_d, dci_c, dci_i;       /* disentanglement, completeness, informativeness */
} vk_disent_result;

/* Bit i of which: MIG, β-VAE, FactorVAE, SAP, DCI. */
enum { VK_M_MIG = 1, VK_M_BETAVAE = 2, VK_M_FACTORVAE = 4, VK_M_SAP = 8, VK_M_DCI = 16,
       VK_M_ALL = 31 };

int vk_disent_eval(const vk_disent_data *x, const vk_disent_opts *o, int which,
		   vk_disent_result *r, vk_error *e);

#endif
