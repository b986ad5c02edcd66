/* kl-eval's summary TSV: writing, and reading back to add up (evaltsv.h). */
#include "evaltsv.h"
#include "latents.h"
#include "tsv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int vk_evalrow_has_kl(int kind)
{
	const vk_model_kind *k = vk_model_kind_get(kind);
	return !kind || (k && k->latent->has_kl);
}

const char *vk_evalrow_kind_name(int kind) { return kind ? vk_kind_name(kind) : "latent"; }

static void tsv_num(FILE *f, double v) { fprintf(f, isnan(v) ? "\tNA" : "\t%.10g", v); }
static void tsv_q(FILE *f, int have, int64_t q) { fprintf(f, have ? "\t%lld" : "\tNA", (long long)q); }

static void write_row(FILE *f, const vk_evalrow *row, int agg)
{
	const vk_evalsum *s = &row->sum;
	const char *kind = vk_evalrow_kind_name(row->kind);
	int elbo = s->has_rec && s->has_kl;
	double nelbo = elbo ? vk_sum_mean(s->rec, s->n) + vk_sum_mean(s->kl, s->n) : NAN;
	double nlp = s->iw ? -vk_sum_mean(s->lp, s->n) : NAN;
	fprintf(f, "%s\t%s\tall\t%llu", row->name, kind, (unsigned long long)s->n);
	tsv_num(f, s->has_rec ? vk_sum_mean(s->rec, s->n) : NAN);
	tsv_num(f, s->has_kl ? vk_sum_mean(s->kl, s->n) : NAN);
	tsv_num(f, nelbo);
	tsv_num(f, elbo ? vk_sum_se(s->rec + s->kl, s->nelbo2, s->n) : NAN);
	fprintf(f, s->iw ? "\t%d" : "\tNA", s->iw);
	tsv_num(f, nlp);
	tsv_num(f, s->iw ? vk_sum_se(s->lp, s->lp2, s->n) : NAN);
	tsv_num(f, nelbo - nlp);
	fprintf(f, "\t%d\tNA", vk_evalsum_active(s, VK_ACTIVE_THRESHOLD));
	tsv_q(f, s->has_rec, s->rec);
	tsv_q(f, s->has_kl, s->kl);
	tsv_q(f, elbo, s->nelbo2);
	tsv_q(f, s->iw, s->lp);
	tsv_q(f, s->iw, s->lp2);
	fputs("\tNA\tNA", f);
	for (int k = 0; agg && k < 4; k++)
		tsv_num(f, row->has_aggregate ? row->agg[k] : NAN);
	fputc('\n', f);
	for (int j = 0; j < s->Z; j++) {
		double var = vk_evalsum_mu_var(s, j);
		fprintf(f, "%s\t%s\t%d\t%llu\tNA", row->name, kind, j, (unsigned long long)s->n);
		tsv_num(f, s->has_kl ? vk_sum_mean(s->kl_dim[j], s->n) : NAN);
		fprintf(f, "\tNA\tNA\tNA\tNA\tNA\tNA\t%d", var > VK_ACTIVE_THRESHOLD);
		tsv_num(f, var);
		fprintf(f, "\tNA");
		tsv_q(f, s->has_kl, s->kl_dim[j]);
		fprintf(f, "\tNA\tNA\tNA\t%lld\t%lld%s\n", (long long)s->mu[j], (long long)s->mu2[j],
			agg ? "\tNA\tNA\tNA\tNA" : "");
	}
	if (!s->codes)
		return;
	/* A discrete latent's usage: its codebook size, the perplexity, the dead
	 * and the used codes, then each used code's count (what --merge adds). */
	double *c = malloc(sizeof(double) * s->codes);
	int dead = s->codes;
	double ppl = NAN;
	if (c) {
		for (int k = 0; k < s->codes; k++)
			c[k] = (double)s->code_n[k];
		ppl = vk_code_perplexity(c, s->codes, &dead);
		free(c);
	}
	fprintf(f, "%s\t%s\tcodes\t%d", row->name, kind, s->codes);
	tsv_num(f, ppl);
	fprintf(f, "\t%d\tNA\tNA\tNA\tNA\tNA\tNA\t%d\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n", dead,
		s->codes - dead);
	for (int k = 0; k < s->codes; k++)
		if (s->code_n[k])
			fprintf(f, "%s\t%s\tcode.%d\t%llu\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA"
				"\tNA\tNA\tNA\tNA\tNA\tNA\tNA\n", row->name, kind, k,
				(unsigned long long)s->code_n[k]);
}

void vk_evaltsv_write(FILE *f, const vk_evalrow *const *rows, int n)
{
	int agg = 0;
	for (int k = 0; k < n; k++)
		agg |= rows[k]->has_aggregate;
	fputs(agg ? VK_EVALTSV_HEADER VK_EVALTSV_AGGREGATE "\n" : VK_EVALTSV_HEADER "\n", f);
	for (int k = 0; k < n; k++)
		write_row(f, rows[k], agg);
}

/* ---- reading back ---- */

static int parse_q(const char *s, int64_t *q, const char *file, unsigned long long line,
		   vk_error *e)
{
	char *end;
	*q = 0;
	if (!strcmp(s, "NA"))
		return 0;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (end == s || *end || errno)
		return vk_fail(e, "%s:%llu: '%s' is not an exact sum (an integer)", file, line, s);
	*q = v;
	return 0;
}

static int kind_parse(const char *s) { return !strcmp(s, "latent") ? 0 : vk_kind_parse(s); }

/* The row called name, created on first sight; a row met again must agree. */
static vk_evalrow *find_or_add(vk_evalrow *rows, int *n, int max, const char *name,
			       const vk_evalsum *s, int kind, const char *file,
			       unsigned long long line, vk_error *e)
{
	for (int k = 0; k < *n; k++) {
		if (strcmp(rows[k].name, name))
			continue;
		vk_evalsum *t = &rows[k].sum;
		if (rows[k].kind != kind || t->Z != s->Z || t->iw != s->iw) {
			vk_fail(e, "%s:%llu: %s was measured differently from the first summary "
				"(kind, latent size or --iw differ)", file, line, name);
			return NULL;
		}
		return &rows[k];
	}
	if (*n == max) {
		vk_fail(e, "%s:%llu: more than %d models to merge", file, line, max);
		return NULL;
	}
	vk_evalrow *v = &rows[*n];
	memset(v, 0, sizeof *v);
	v->kind = kind;
	char *copy = strdup(name);
	if (!copy || vk_evalsum_init(&v->sum, s->Z, s->has_kl, s->has_rec, s->iw, e)) {
		free(copy);
		vk_fail(e, "out of memory");
		return NULL;
	}
	v->name = copy;
	(*n)++;
	return v;
}

/* A model row ("all") into s (allocated for the most dimensions). */
static int parse_model_row(char **f, vk_evalsum *s, int kind, const char *file,
			   unsigned long long ln, vk_error *e)
{
	if (vk_evalsum_init(s, VK_EVALTSV_MAX_LATENT, vk_evalrow_has_kl(kind), kind != 0,
			    strcmp(f[8], "NA") ? atoi(f[8]) : 0, e))
		return -1;
	s->Z = 0;
	s->n = strtoull(f[3], NULL, 10);
	if (parse_q(f[14], &s->rec, file, ln, e) || parse_q(f[15], &s->kl, file, ln, e) ||
	    parse_q(f[16], &s->nelbo2, file, ln, e) || parse_q(f[17], &s->lp, file, ln, e) ||
	    parse_q(f[18], &s->lp2, file, ln, e))
		return -1;
	return 0;
}

static int merge_model(vk_evalrow *rows, int *n, int max, const char *name, int kind,
		       vk_evalsum *s, const char *file, unsigned long long ln, vk_error *e)
{
	vk_evalrow *into = find_or_add(rows, n, max, name, s, kind, file, ln, e);
	if (into)
		vk_evalsum_merge(&into->sum, s);
	vk_evalsum_free(s);
	return into ? 0 : -1;
}

int vk_evaltsv_merge(FILE *fp, const char *path, vk_evalrow *rows, int *n, int max,
		     vk_error *e)
{
	char *line = NULL, *f[VK_EVALTSV_FIELDS + 1], name[4096] = "";
	size_t cap = 0;
	unsigned long long ln = 0;
	vk_evalsum s = {0};
	int kind = -1, rc = -1;
	long len;
	while ((len = tsv_getline(&line, &cap, fp, TSV_MAX_LINE)) > 0) {
		ln++;
		if (ln == 1) {
			line[strcspn(line, "\n")] = 0;
			if (!strcmp(line, VK_EVALTSV_HEADER VK_EVALTSV_AGGREGATE)) {
				vk_fail(e, "%s: a summary with --aggregate's batch estimates, which do "
					"not add up across shards; merge summaries written without it",
					path);
				goto out;
			}
			if (strcmp(line, VK_EVALTSV_HEADER)) {
				vk_fail(e, "%s: not a kl-eval --tsv summary (its header differs)", path);
				goto out;
			}
			continue;
		}
		if (tsv_split_tabs(line, f, VK_EVALTSV_FIELDS + 1) != VK_EVALTSV_FIELDS) {
			vk_fail(e, "%s:%llu: expected %d tab-separated fields", path, ln,
				VK_EVALTSV_FIELDS);
			goto out;
		}
		if (!strcmp(f[2], "all")) {
			if (kind >= 0 && merge_model(rows, n, max, name, kind, &s, path, ln, e)) {
				kind = -1;
				goto out;
			}
			snprintf(name, sizeof name, "%s", f[0]);
			kind = kind_parse(f[1]);
			if (kind < 0) {
				vk_fail(e, "%s:%llu: unknown kind '%s'", path, ln, f[1]);
				goto out;
			}
			if (parse_model_row(f, &s, kind, path, ln, e))
				goto out;
			continue;
		}
		if (kind >= 0 && !strcmp(f[0], name) && !strcmp(f[2], "codes")) {
			long K = strtol(f[3], NULL, 10);
			if (K < 1 || K > 65536 || s.codes || vk_evalsum_codes(&s, (int)K, e)) {
				vk_fail(e, "%s:%llu: a codes row out of place or of %s codes", path, ln,
					f[3]);
				goto out;
			}
			continue;
		}
		if (kind >= 0 && !strcmp(f[0], name) && !strncmp(f[2], "code.", 5)) {
			char *end;
			long k = strtol(f[2] + 5, &end, 10);
			unsigned long long c = strtoull(f[3], NULL, 10);
			if (*end || k < 0 || k >= s.codes) {
				vk_fail(e, "%s:%llu: code row %s out of place", path, ln, f[2]);
				goto out;
			}
			s.code_n[k] += c;
			continue;
		}
		if (kind < 0 || strcmp(f[0], name) || atoi(f[2]) != s.Z ||
		    s.Z == VK_EVALTSV_MAX_LATENT) {
			vk_fail(e, "%s:%llu: dimension row out of place (expected %s dimension %d)",
				path, ln, name, s.Z);
			goto out;
		}
		if (parse_q(f[15], &s.kl_dim[s.Z], path, ln, e) ||
		    parse_q(f[19], &s.mu[s.Z], path, ln, e) ||
		    parse_q(f[20], &s.mu2[s.Z], path, ln, e))
			goto out;
		s.Z++;
	}
	if (ferror(fp)) {
		vk_fail(e, "error reading %s:", path);
		goto out;
	}
	if (len < 0) {
		vk_fail(e, "%s:%llu: a line of more than %u bytes (not a summary)", path, ln + 1,
			TSV_MAX_LINE);
		goto out;
	}
	if (kind < 0) {
		vk_fail(e, "%s: no summary rows", path);
		goto out;
	}
	rc = merge_model(rows, n, max, name, kind, &s, path, ln, e);
	kind = -1;
out:
	if (kind >= 0)
		vk_evalsum_free(&s);
	free(line);
	return rc;
}
