/* Logistic-regression and k-NN probes (probe.h). */
#include "probe.h"

#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LBFGS_M 10

double vk_logreg_objective(const double *w, const double *z, const int32_t *y, size_t n,
			   int d, int c, double l2, double *grad)
{
	int P = d + 1;
	double loss = 0, logit[1024];
	if (grad)
		memset(grad, 0, sizeof(double) * (size_t)c * P);
	for (size_t i = 0; i < n; i++) {
		const double *zi = z + i * d;
		double mx = -INFINITY, s = 0;
		for (int k = 0; k < c; k++) {
			const double *wk = w + (size_t)k * P;
			double a = wk[d];
			for (int j = 0; j < d; j++)
				a += wk[j] * zi[j];
			logit[k] = a;
			if (a > mx)
				mx = a;
		}
		for (int k = 0; k < c; k++)
			s += exp(logit[k] - mx);
		double lse = mx + log(s);
		loss += lse - logit[y[i]];
		if (!grad)
			continue;
		for (int k = 0; k < c; k++) {
			double g = exp(logit[k] - lse) - (k == y[i]);
			double *gk = grad + (size_t)k * P;
			for (int j = 0; j < d; j++)
				gk[j] += g * zi[j];
			gk[d] += g;
		}
	}
	loss /= (double)n;
	double pen = 0;
	for (int k = 0; k < c; k++)
		for (int j = 0; j < d; j++) {
			double v = w[(size_t)k * P + j];
			pen += v * v;
			if (grad)
				grad[(size_t)k * P + j] = grad[(size_t)k * P + j] / (double)n + l2 * v;
		}
	if (grad)
		for (int k = 0; k < c; k++)
			grad[(size_t)k * P + d] /= (double)n;
	return loss + 0.5 * l2 * pen;
}

static double dot(const double *a, const double *b, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += a[i] * b[i];
	return s;
}

static double max_abs(const double *a, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		if (fabs(a[i]) > m)
			m = fabs(a[i]);
	return m;
}

int vk_logreg_fit(vk_logreg *m, const float *x, const int32_t *y, size_t n, int d, int c,
		  double l2, int max_iter, double tol, vk_error *e)
{
	memset(m, 0, sizeof *m);
	if (n < 1 || d < 1 || c < 2 || c > 1024)
		return vk_fail(e, "a probe needs records, features and 2 to 1024 classes "
			       "(%zu records, %d features, %d classes)", n, d, c);
	size_t P = (size_t)c * (d + 1);
	m->d = d, m->c = c;
	m->w = calloc(P, sizeof *m->w);
	m->mean = calloc((size_t)d, sizeof(double));
	m->sd = calloc((size_t)d, sizeof(double));
	double *z = malloc(sizeof(double) * n * d);
	double *buf = malloc(sizeof(double) * P * (4 + 2 * LBFGS_M));
	if (!m->w || !m->mean || !m->sd || !z || !buf) {
		free(z), free(buf), vk_logreg_free(m);
		return vk_fail(e, "out of memory for a probe of %zu records", n);
	}
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < d; j++)
			m->mean[j] += x[i * d + j];
	for (int j = 0; j < d; j++)
		m->mean[j] /= (double)n;
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < d; j++) {
			double t = x[i * d + j] - m->mean[j];
			m->sd[j] += t * t;
		}
	for (int j = 0; j < d; j++) {
		m->sd[j] = sqrt(m->sd[j] / (double)n);
		if (m->sd[j] < 1e-12)
			m->sd[j] = 1;  /* a constant feature stays 0 */
	}
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < d; j++)
			z[i * d + j] = (x[i * d + j] - m->mean[j]) / m->sd[j];

	double *g = buf, *dir = buf + P, *wn = buf + 2 * P, *gn = buf + 3 * P;
	double *S = buf + 4 * P, *Y = S + LBFGS_M * P, rho[LBFGS_M], alpha[LBFGS_M];
	int hist = 0, head = 0;
	double f = vk_logreg_objective(m->w, z, y, n, d, c, l2, g);
	int it;
	for (it = 0; it < max_iter && max_abs(g, P) > tol; it++) {
		/* two-loop recursion: dir = −H g */
		for (size_t i = 0; i < P; i++)
			dir[i] = -g[i];
		for (int h = 0; h < hist; h++) {
			int s = (head - 1 - h + LBFGS_M) % LBFGS_M;
			alpha[s] = rho[s] * dot(S + s * P, dir, P);
			for (size_t i = 0; i < P; i++)
				dir[i] -= alpha[s] * Y[s * P + i];
		}
		if (hist) {
			int s = (head - 1 + LBFGS_M) % LBFGS_M;
			double gamma = dot(S + s * P, Y + s * P, P) / dot(Y + s * P, Y + s * P, P);
			for (size_t i = 0; i < P; i++)
				dir[i] *= gamma;
		} else {
			double scale = 1 / sqrt(dot(g, g, P));
			for (size_t i = 0; i < P; i++)
				dir[i] *= scale;
		}
		for (int h = hist - 1; h >= 0; h--) {
			int s = (head - 1 - h + LBFGS_M) % LBFGS_M;
			double beta = rho[s] * dot(Y + s * P, dir, P);
			for (size_t i = 0; i < P; i++)
				dir[i] += S[s * P + i] * (alpha[s] - beta);
		}
		double slope = dot(g, dir, P);
		if (slope >= 0) {  /* not a descent direction: restart from the gradient */
			for (size_t i = 0; i < P; i++)
				dir[i] = -g[i];
			slope = -dot(g, g, P);
			hist = 0;
		}
		/* Armijo backtracking from the full step */
		double step = 1, fn = f;
		int ok = 0;
		for (int tries = 0; tries < 40; tries++, step *= 0.5) {
			for (size_t i = 0; i < P; i++)
				wn[i] = m->w[i] + step * dir[i];
			fn = vk_logreg_objective(wn, z, y, n, d, c, l2, gn);
			if (fn <= f + 1e-4 * step * slope) {
				ok = 1;
				break;
			}
		}
		if (!ok)
			break;  /* no decrease left at double precision */
		double *s = S + head * P, *yy = Y + head * P;
		for (size_t i = 0; i < P; i++) {
			s[i] = wn[i] - m->w[i];
			yy[i] = gn[i] - g[i];
		}
		double sy = dot(s, yy, P);
		memcpy(m->w, wn, sizeof(double) * P);
		memcpy(g, gn, sizeof(double) * P);
		f = fn;
		if (sy > 1e-12) {
			rho[head] = 1 / sy;
			head = (head + 1) % LBFGS_M;
			if (hist < LBFGS_M)
				hist++;
		}
	}
	m->iters = it;
	m->loss = f;
	free(z);
	free(buf);
	return 0;
}

void vk_logreg_free(vk_logreg *m)
{
	free(m->w);
	free(m->mean);
	free(m->sd);
	m->w = m->mean = m->sd = NULL;
}

void vk_logreg_predict(const vk_logreg *m, const float *x, size_t n, int32_t *out)
{
	int d = m->d, P = d + 1;
	for (size_t i = 0; i < n; i++) {
		double best = -INFINITY;
		out[i] = 0;
		for (int k = 0; k < m->c; k++) {
			const double *wk = m->w + (size_t)k * P;
			double a = wk[d];
			for (int j = 0; j < d; j++)
				a += wk[j] * (x[i * d + j] - m->mean[j]) / m->sd[j];
			if (a > best)
				best = a, out[i] = k;
		}
	}
}

#define KNN_BLOCK 64
#define KNN_MAX_K 1024

int vk_knn_predict(const float *x, const int32_t *y, size_t n, const float *q, size_t m,
		   int d, int c, int k, int32_t *out, vk_error *e)
{
	if (k < 1 || k > KNN_MAX_K || (size_t)k > n)
		return vk_fail(e, "k-NN with k = %d among %zu training records (1 to %d and at most "
			       "the records)", k, n, KNN_MAX_K);
	float *dist = malloc(sizeof(float) * KNN_BLOCK * n), *xx = malloc(sizeof(float) * n);
	double *votes = malloc(sizeof(double) * c);
	float bd[KNN_MAX_K];
	int32_t bl[KNN_MAX_K];
	if (!dist || !xx || !votes) {
		free(dist), free(xx), free(votes);
		return vk_fail(e, "out of memory for k-NN over %zu records", n);
	}
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		for (int j = 0; j < d; j++)
			s += (double)x[i * d + j] * x[i * d + j];
		xx[i] = (float)s;
	}
	for (size_t b = 0; b < m; b += KNN_BLOCK) {
		size_t nb = m - b < KNN_BLOCK ? m - b : KNN_BLOCK;
		/* ‖q − x‖² up to the query's own ‖q‖², which ranks nothing: ‖x‖² − 2 q·x */
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)nb, (int)n, d, -2.0f,
			    q + b * d, d, x, d, 0.0f, dist, (int)n);
		for (size_t r = 0; r < nb; r++) {
			const float *dr = dist + r * n;
			int have = 0;
			for (size_t i = 0; i < n; i++) {
				float v = dr[i] + xx[i];
				if (have == k && v >= bd[k - 1])
					continue;
				int p = have < k ? have++ : k - 1;
				while (p > 0 && bd[p - 1] > v) {
					bd[p] = bd[p - 1], bl[p] = bl[p - 1];
					p--;
				}
				bd[p] = v, bl[p] = y[i];
			}
			/* majority; a tie goes to the class whose members are nearer (a
			 * small weight by rank breaks it) */
			memset(votes, 0, sizeof(double) * c);
			for (int j = 0; j < have; j++)
				votes[bl[j]] += 1 + 1e-6 * (have - j);
			int best = 0;
			for (int cl = 1; cl < c; cl++)
				if (votes[cl] > votes[best])
					best = cl;
			out[b + r] = best;
		}
	}
	free(dist);
	free(xx);
	free(votes);
	return 0;
}
