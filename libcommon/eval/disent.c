#include "disent.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

void vk_disent_defaults(vk_disent_opts *o)
{
	*o = (vk_disent_opts){.points = 10000, .bins = 20,
			      .bv_batch = 64, .bv_train = 10000, .bv_eval = 5000,
			      .fv_batch = 64, .fv_train = 10000, .fv_eval = 5000, .fv_var = 10000,
			      .fv_prune = 0.05,
			      .sap_train = 10000, .sap_test = 5000,
			      .dci_train = 10000, .dci_test = 5000, .dci_alpha = 0.02,
			      .dci_sweeps = 1000, .seed = 1};
}

#define Z(x, i, c) ((x)->z[(size_t)(i) * (x)->d + (c)])
#define Y(x, i, j) ((x)->y[(size_t)(i) * (x)->k + (j)])

/* n record indices drawn with replacement, as disentanglement_lib samples. */
static int *draw(vk_rng *rng, int n, const vk_disent_data *x)
{
	int *idx = malloc(sizeof(int) * (size_t)(n > 0 ? n : 1));
	if (idx)
		for (int i = 0; i < n; i++)
			idx[i] = (int)vk_rng_below(rng, (uint64_t)x->n);
	return idx;
}

/* The records of each factor's each value, in record order: by[j] holds
 * start[j][v] ... start[j][v+1]. */
typedef struct {
	int **by, **start;
	int k;
} groups;

static void groups_free(groups *g)
{
	for (int j = 0; j < g->k; j++) {
		free(g->by ? g->by[j] : NULL);
		free(g->start ? g->start[j] : NULL);
	}
	free(g->by);
	free(g->start);
}

static int groups_make(groups *g, const vk_disent_data *x)
{
	g->k = x->k;
	g->by = calloc((size_t)x->k, sizeof *g->by);
	g->start = calloc((size_t)x->k, sizeof *g->start);
	if (!g->by || !g->start)
		return -1;
	for (int j = 0; j < x->k; j++) {
		int V = x->size[j];
		int *start = g->start[j] = calloc((size_t)V + 1, sizeof(int));
		int *by = g->by[j] = malloc(sizeof(int) * (size_t)x->n);
		if (!start || !by)
			return -1;
		for (int i = 0; i < x->n; i++)
			start[Y(x, i, j) + 1]++;
		for (int v = 0; v < V; v++)
			start[v + 1] += start[v];
		int *at = malloc(sizeof(int) * (size_t)V);
		if (!at)
			return -1;
		memcpy(at, start, sizeof(int) * (size_t)V);
		for (int i = 0; i < x->n; i++)
			by[at[Y(x, i, j)]++] = i;
		free(at);
	}
	return 0;
}

/* A factor j drawn uniformly, a value of it as a random record has it, and a
 * record of that value drawn next (*grp, *len): disentanglement_lib's "fix
 * one factor, sample the rest" on a data set held as records. */
static void pick_group(vk_rng *rng, const vk_disent_data *x, const groups *g, int *j,
		       const int **grp, int *len)
{
	*j = (int)vk_rng_below(rng, (uint64_t)x->k);
	int v = Y(x, (int)vk_rng_below(rng, (uint64_t)x->n), *j);
	*grp = g->by[*j] + g->start[*j][v];
	*len = g->start[*j][v + 1] - g->start[*j][v];
}

static int pick(vk_rng *rng, const int *grp, int len)
{
	return grp[vk_rng_below(rng, (uint64_t)len)];
}

/* ---- MIG (Chen et al. 2018): codes in equal-width bins, mutual information
 * with each factor, the gap between the two most informative dims over the
 * factor's entropy, averaged over factors. */
static int mig(const vk_disent_data *x, const vk_disent_opts *o, double *out)
{
	vk_rng rng;
	vk_rng_seed(&rng, o->seed);
	int n = o->points, B = o->bins, rc = -1, maxv = 1;
	for (int j = 0; j < x->k; j++)
		maxv = x->size[j] > maxv ? x->size[j] : maxv;
	int *idx = draw(&rng, n, x), *bin = malloc(sizeof(int) * (size_t)n * x->d);
	double *mi = malloc(sizeof(double) * (size_t)x->d * x->k);
	long *joint = malloc(sizeof(long) * (size_t)B * maxv), *cb = malloc(sizeof(long) * B),
	     *cy = malloc(sizeof(long) * maxv);
	if (!idx || !bin || !mi || !joint || !cb || !cy)
		goto out;
	for (int d = 0; d < x->d; d++) {
		double lo = INFINITY, hi = -INFINITY;
		for (int i = 0; i < n; i++) {
			double v = Z(x, idx[i], d);
			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
		}
		for (int i = 0; i < n; i++) {
			int b = hi > lo ? (int)((Z(x, idx[i], d) - lo) / (hi - lo) * B) : 0;
			bin[(size_t)d * n + i] = b >= B ? B - 1 : b;
		}
	}
	double sum = 0;
	int counted = 0;
	for (int j = 0; j < x->k; j++) {
		int V = x->size[j];
		memset(cy, 0, sizeof(long) * V);
		for (int i = 0; i < n; i++)
			cy[Y(x, idx[i], j)]++;
		double h = 0;
		for (int v = 0; v < V; v++)
			if (cy[v])
				h -= (double)cy[v] / n * log((double)cy[v] / n);
		double m1 = 0, m2 = 0;
		for (int d = 0; d < x->d; d++) {
			memset(joint, 0, sizeof(long) * B * V);
			memset(cb, 0, sizeof(long) * B);
			for (int i = 0; i < n; i++) {
				int b = bin[(size_t)d * n + i];
				joint[b * V + Y(x, idx[i], j)]++;
				cb[b]++;
			}
			double m = 0;
			for (int b = 0; b < B; b++)
				for (int v = 0; v < V; v++) {
					long c = joint[b * V + v];
					if (c)
						m += (double)c / n *
						     log((double)c * n / ((double)cb[b] * cy[v]));
				}
			mi[(size_t)d * x->k + j] = m;
			if (m > m1) {
				m2 = m1;
				m1 = m;
			} else if (m > m2) {
				m2 = m;
			}
		}
		if (h > 0) {
			sum += (m1 - m2) / h;
			counted++;
		}
	}
	*out = counted ? sum / counted : 0;
	rc = 0;
out:
	free(idx), free(bin), free(mi), free(joint), free(cb), free(cy);
	return rc;
}

/* ---- β-VAE score (Higgins et al. 2017): with one factor fixed, the mean
 * absolute difference of L pairs' codes; a linear classifier (nearest class
 * centroid) names the factor from it. */
static int nearest(const double *c, const int *has, int classes, const double *f, int d)
{
	int best = -1;
	double bd = 0;
	for (int j = 0; j < classes; j++) {
		if (!has[j])
			continue;
		double s = 0;
		for (int a = 0; a < d; a++)
			s += (f[a] - c[(size_t)j * d + a]) * (f[a] - c[(size_t)j * d + a]);
		if (best < 0 || s < bd) {
			best = j;
			bd = s;
		}
	}
	return best;
}

static int betavae(const vk_disent_data *x, const vk_disent_opts *o, const groups *g,
		   double *tr, double *ev)
{
	vk_rng rng;
	vk_rng_seed(&rng, o->seed);
	int P = o->bv_train + o->bv_eval, D = x->d, rc = -1;
	double *feat = calloc((size_t)P * D, sizeof(double));
	double *cen = calloc((size_t)x->k * D, sizeof(double));
	int *lab = malloc(sizeof(int) * P), *cnt = calloc((size_t)x->k, sizeof(int));
	if (!feat || !cen || !lab || !cnt)
		goto out;
	for (int p = 0; p < P; p++) {
		const int *grp;
		int len;
		pick_group(&rng, x, g, &lab[p], &grp, &len);
		double *f = feat + (size_t)p * D;
		for (int b = 0; b < o->bv_batch; b++) {
			int i1 = pick(&rng, grp, len), i2 = pick(&rng, grp, len);
			for (int a = 0; a < D; a++)
				f[a] += fabs(Z(x, i1, a) - Z(x, i2, a));
		}
		for (int a = 0; a < D; a++)
			f[a] /= o->bv_batch;
	}
	for (int p = 0; p < o->bv_train; p++) {
		cnt[lab[p]]++;
		for (int a = 0; a < D; a++)
			cen[(size_t)lab[p] * D + a] += feat[(size_t)p * D + a];
	}
	for (int j = 0; j < x->k; j++)
		for (int a = 0; a < D; a++)
			if (cnt[j])
				cen[(size_t)j * D + a] /= cnt[j];
	int ok_tr = 0, ok_ev = 0;
	for (int p = 0; p < P; p++) {
		int hit = nearest(cen, cnt, x->k, feat + (size_t)p * D, D) == lab[p];
		if (p < o->bv_train)
			ok_tr += hit;
		else
			ok_ev += hit;
	}
	*tr = (double)ok_tr / o->bv_train;
	*ev = (double)ok_ev / o->bv_eval;
	rc = 0;
out:
	free(feat), free(cen), free(lab), free(cnt);
	return rc;
}

/* ---- FactorVAE score (Kim & Mnih 2018): codes scaled by their global
 * std; with one factor fixed, the active dim of least variance votes for it;
 * a majority-vote classifier maps dims to factors. */
static int factorvae(const vk_disent_data *x, const vk_disent_opts *o, const groups *g,
		     double *tr, double *ev, int *active_out)
{
	vk_rng rng;
	vk_rng_seed(&rng, o->seed);
	int D = x->d, K = x->k, rc = -1, A = 0;
	int *idx = draw(&rng, o->fv_var, x), *act = malloc(sizeof(int) * D);
	double *var = malloc(sizeof(double) * D), *m = malloc(sizeof(double) * D);
	long *votes = calloc((size_t)2 * D * K, sizeof(long));
	int *batch = malloc(sizeof(int) * o->fv_batch);
	if (!idx || !act || !var || !m || !votes || !batch)
		goto out;
	for (int a = 0; a < D; a++) {
		double s = 0, q = 0;
		for (int i = 0; i < o->fv_var; i++)
			s += Z(x, idx[i], a);
		s /= o->fv_var;
		for (int i = 0; i < o->fv_var; i++)
			q += (Z(x, idx[i], a) - s) * (Z(x, idx[i], a) - s);
		var[a] = q / o->fv_var;
		if (sqrt(var[a]) >= o->fv_prune)
			act[A++] = a;
	}
	*active_out = A;
	if (A == 0) {
		*tr = *ev = 0;
		rc = 0;
		goto out;
	}
	for (int p = 0; p < o->fv_train + o->fv_eval; p++) {
		const int *grp;
		int len, j;
		pick_group(&rng, x, g, &j, &grp, &len);
		for (int b = 0; b < o->fv_batch; b++)
			batch[b] = pick(&rng, grp, len);
		int best = 0;
		double bv = 0;
		for (int t = 0; t < A; t++) {
			int a = act[t];
			double s = 0, q = 0;
			for (int b = 0; b < o->fv_batch; b++)
				s += Z(x, batch[b], a);
			s /= o->fv_batch;
			for (int b = 0; b < o->fv_batch; b++)
				q += (Z(x, batch[b], a) - s) * (Z(x, batch[b], a) - s);
			double r = q / (o->fv_batch - 1) / var[a];
			if (t == 0 || r < bv) {
				best = t;
				bv = r;
			}
		}
		votes[((size_t)(p < o->fv_train ? 0 : 1) * D + best) * K + j]++;
	}
	long ok_tr = 0, ok_ev = 0;
	for (int t = 0; t < A; t++) {
		const long *vt = votes + (size_t)t * K, *ve = votes + ((size_t)D + t) * K;
		int c = 0;
		for (int j = 1; j < K; j++)
			if (vt[j] > vt[c])
				c = j;
		ok_tr += vt[c];
		ok_ev += ve[c];
	}
	*tr = (double)ok_tr / o->fv_train;
	*ev = (double)ok_ev / o->fv_eval;
	rc = 0;
out:
	free(idx), free(act), free(var), free(m), free(votes), free(batch);
	return rc;
}

/* ---- SAP (Kumar et al. 2018), discrete factors: for every (dim, factor)
 * the test accuracy of a classifier of the factor from that one dim (nearest
 * class mean); the gap between the two best dims, averaged over factors. */
static int sap(const vk_disent_data *x, const vk_disent_opts *o, double *out)
{
	vk_rng rng;
	vk_rng_seed(&rng, o->seed);
	int D = x->d, K = x->k, rc = -1, maxv = 1;
	for (int j = 0; j < K; j++)
		maxv = x->size[j] > maxv ? x->size[j] : maxv;
	int *tr = draw(&rng, o->sap_train, x), *te = draw(&rng, o->sap_test, x);
	double *mean = malloc(sizeof(double) * maxv), *score = malloc(sizeof(double) * D * K);
	long *cnt = malloc(sizeof(long) * maxv);
	if (!tr || !te || !mean || !score || !cnt)
		goto out;
	for (int a = 0; a < D; a++)
		for (int j = 0; j < K; j++) {
			int V = x->size[j];
			memset(mean, 0, sizeof(double) * V);
			memset(cnt, 0, sizeof(long) * V);
			for (int i = 0; i < o->sap_train; i++) {
				mean[Y(x, tr[i], j)] += Z(x, tr[i], a);
				cnt[Y(x, tr[i], j)]++;
			}
			for (int v = 0; v < V; v++)
				if (cnt[v])
					mean[v] /= cnt[v];
			long ok = 0;
			for (int i = 0; i < o->sap_test; i++) {
				double z = Z(x, te[i], a), bd = 0;
				int best = -1;
				for (int v = 0; v < V; v++)
					if (cnt[v] && (best < 0 || fabs(z - mean[v]) < bd)) {
						best = v;
						bd = fabs(z - mean[v]);
					}
				ok += best == Y(x, te[i], j);
			}
			score[a * K + j] = (double)ok / o->sap_test;
		}
	double sum = 0;
	for (int j = 0; j < K; j++) {
		double m1 = -1, m2 = -1;
		for (int a = 0; a < D; a++) {
			double s = score[a * K + j];
			if (s > m1) {
				m2 = m1;
				m1 = s;
			} else if (s > m2) {
				m2 = s;
			}
		}
		sum += m1 - (m2 < 0 ? 0 : m2);
	}
	*out = sum / K;
	rc = 0;
out:
	free(tr), free(te), free(mean), free(score), free(cnt);
	return rc;
}

/* ---- DCI (Eastwood & Williams 2018) with lasso: each factor (standardised
 * class index) regressed on the standardised codes by lasso, solved by cyclic
 * coordinate descent on the Gram matrix (a fixed number of sweeps, so that the
 * result is a function of the data alone); |weights| are the importances. */
static int dci(const vk_disent_data *x, const vk_disent_opts *o, double *dis, double *com,
	       double *inf)
{
	vk_rng rng;
	vk_rng_seed(&rng, o->seed);
	int D = x->d, K = x->k, rc = -1, N = o->dci_train, T = o->dci_test;
	int *tr = draw(&rng, N, x), *te = draw(&rng, T, x);
	double *mu = malloc(sizeof(double) * D), *sd = malloc(sizeof(double) * D);
	double *xs = malloc(sizeof(double) * (size_t)N * D), *xt = malloc(sizeof(double) * (size_t)T * D);
	double *G = malloc(sizeof(double) * D * D), *c = malloc(sizeof(double) * D);
	double *w = malloc(sizeof(double) * D), *R = calloc((size_t)D * K, sizeof(double));
	double *ys = malloc(sizeof(double) * N), *yt = malloc(sizeof(double) * T);
	if (!tr || !te || !mu || !sd || !xs || !xt || !G || !c || !w || !R || !ys || !yt)
		goto out;
	for (int a = 0; a < D; a++) {
		double s = 0, q = 0;
		for (int i = 0; i < N; i++)
			s += Z(x, tr[i], a);
		mu[a] = s / N;
		for (int i = 0; i < N; i++)
			q += (Z(x, tr[i], a) - mu[a]) * (Z(x, tr[i], a) - mu[a]);
		sd[a] = sqrt(q / N);
		for (int i = 0; i < N; i++)
			xs[(size_t)i * D + a] = sd[a] > 0 ? (Z(x, tr[i], a) - mu[a]) / sd[a] : 0;
		for (int i = 0; i < T; i++)
			xt[(size_t)i * D + a] = sd[a] > 0 ? (Z(x, te[i], a) - mu[a]) / sd[a] : 0;
	}
	for (int a = 0; a < D; a++)
		for (int b = 0; b < D; b++) {
			double s = 0;
			for (int i = 0; i < N; i++)
				s += xs[(size_t)i * D + a] * xs[(size_t)i * D + b];
			G[a * D + b] = s / N;
		}
	double isum = 0;
	int icount = 0;
	for (int j = 0; j < K; j++) {
		double s = 0, q = 0;
		for (int i = 0; i < N; i++)
			s += Y(x, tr[i], j);
		double ym = s / N;
		for (int i = 0; i < N; i++)
			q += (Y(x, tr[i], j) - ym) * (Y(x, tr[i], j) - ym);
		double ysd = sqrt(q / N);
		for (int i = 0; i < N; i++)
			ys[i] = ysd > 0 ? (Y(x, tr[i], j) - ym) / ysd : 0;
		for (int i = 0; i < T; i++)
			yt[i] = ysd > 0 ? (Y(x, te[i], j) - ym) / ysd : 0;
		for (int a = 0; a < D; a++) {
			double t = 0;
			for (int i = 0; i < N; i++)
				t += xs[(size_t)i * D + a] * ys[i];
			c[a] = t / N;
			w[a] = 0;
		}
		for (int sweep = 0; sweep < o->dci_sweeps; sweep++)
			for (int a = 0; a < D; a++) {
				if (G[a * D + a] == 0) {
					w[a] = 0;
					continue;
				}
				double rho = c[a];
				for (int b = 0; b < D; b++)
					if (b != a)
						rho -= G[a * D + b] * w[b];
				double mag = fabs(rho) - o->dci_alpha;
				w[a] = mag > 0 ? (rho > 0 ? mag : -mag) / G[a * D + a] : 0;
			}
		for (int a = 0; a < D; a++)
			R[a * K + j] = fabs(w[a]);
		double mse = 0, tm = 0, tv = 0;
		for (int i = 0; i < T; i++)
			tm += yt[i];
		tm /= T;
		for (int i = 0; i < T; i++) {
			double p = 0;
			for (int a = 0; a < D; a++)
				p += xt[(size_t)i * D + a] * w[a];
			mse += (p - yt[i]) * (p - yt[i]);
			tv += (yt[i] - tm) * (yt[i] - tm);
		}
		if (tv > 0) {
			isum += 1 - mse / tv;
			icount++;
		}
	}
	*inf = icount ? isum / icount : 0;
	double total = 0;
	for (int a = 0; a < D * K; a++)
		total += R[a];
	*dis = *com = 0;
	if (total > 0) {
		for (int a = 0; a < D; a++) {
			double rs = 0, h = 0;
			for (int j = 0; j < K; j++)
				rs += R[a * K + j];
			if (rs == 0)
				continue;
			for (int j = 0; j < K; j++) {
				double p = R[a * K + j] / rs;
				if (p > 0)
					h -= p * log(p);
			}
			*dis += rs / total * (1 - (K > 1 ? h / log(K) : 0));
		}
		for (int j = 0; j < K; j++) {
			double cs = 0, h = 0;
			for (int a = 0; a < D; a++)
				cs += R[a * K + j];
			if (cs == 0)
				continue;
			for (int a = 0; a < D; a++) {
				double p = R[a * K + j] / cs;
				if (p > 0)
					h -= p * log(p);
			}
			*com += cs / total * (1 - (D > 1 ? h / log(D) : 0));
		}
	}
	rc = 0;
out:
	free(tr), free(te), free(mu), free(sd), free(xs), free(xt), free(G), free(c), free(w);
	free(R), free(ys), free(yt);
	return rc;
}

int vk_disent_eval(const vk_disent_data *x, const vk_disent_opts *o, int which,
		   vk_disent_result *r, vk_error *e)
{
	memset(r, 0, sizeof *r);
	if (x->n < 1 || x->d < 1 || x->k < 1)
		return vk_fail(e, "no records, code dims or factors to measure");
	if (o->fv_batch < 2)
		return vk_fail(e, "the FactorVAE score needs batches of 2 or more");
	groups g = {0};
	int rc = 0;
	if ((which & (VK_M_BETAVAE | VK_M_FACTORVAE)) && groups_make(&g, x))
		rc = -1;
	if (!rc && (which & VK_M_MIG))
		rc = mig(x, o, &r->mig);
	if (!rc && (which & VK_M_BETAVAE))
		rc = betavae(x, o, &g, &r->bv_train, &r->bv_eval);
	if (!rc && (which & VK_M_FACTORVAE))
		rc = factorvae(x, o, &g, &r->fv_train, &r->fv_eval, &r->fv_active);
	if (!rc && (which & VK_M_SAP))
		rc = sap(x, o, &r->sap);
	if (!rc && (which & VK_M_DCI))
		rc = dci(x, o, &r->dci_d, &r->dci_c, &r->dci_i);
	groups_free(&g);
	return rc ? vk_fail(e, "out of memory for the metrics") : 0;
}
