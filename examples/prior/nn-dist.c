/* nn-dist REFERENCE QUERIES — the mean Euclidean distance from each record of
 * QUERIES to its nearest record of REFERENCE (both tensor streams of the same
 * number of values; u8 pixels are scaled to [0,1] as everywhere in vaekit).
 * Prints "mean standard-error count" on one line.
 *
 * The sample-quality proxy of examples/prior: a decoded draw that looks like
 * a digit lies near some training digit; a blob or a broken stroke does not.
 * Distances come from ||q||² + ||r||² − 2 q·r with the dot products of a
 * batch of queries against all references in one SGEMM. */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "stream.h"

#define BATCH 256

/* A whole stream as floats (n, d), malloc'd. */
static float *read_all(const char *path, size_t *n, size_t *d)
{
	ts_reader r;
	vk_error e;
	if (ts_reader_open(&r, path, &e))
		vk_die_error(&e);
	*d = ts_elems(&r.h);
	size_t cap = 1024, got;
	float *x = vk_xmalloc(sizeof(float) * cap * *d);
	*n = 0;
	for (;;) {
		if (*n + BATCH > cap) {
			cap *= 2;
			if (!(x = realloc(x, sizeof(float) * cap * *d)))
				vk_die("out of memory reading %s", path);
		}
		if (ts_read_batch_f32(&r, x + *n * *d, NULL, BATCH, &got, &e))
			vk_die_error(&e);
		if (!got)
			break;
		*n += got;
	}
	ts_reader_close(&r);
	return x;
}

static void norms(const float *x, size_t n, size_t d, float *out)
{
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		for (size_t j = 0; j < d; j++)
			s += (double)x[i * d + j] * x[i * d + j];
		out[i] = (float)s;
	}
}

int main(int argc, char **argv)
{
	vk_init(argc, argv);
	if (argc != 3)
		vk_ndie(2, "usage: nn-dist REFERENCE QUERIES");
	size_t nr, dr, nq, dq;
	float *ref = read_all(argv[1], &nr, &dr), *q = read_all(argv[2], &nq, &dq);
	if (dr != dq || !nr || !nq)
		vk_die("%s has %zu records of %zu values, %s %zu of %zu: nothing to compare",
		       argv[1], nr, dr, argv[2], nq, dq);
	float *rn = vk_xmalloc(sizeof(float) * nr), *qn = vk_xmalloc(sizeof(float) * BATCH);
	float *dot = vk_xmalloc(sizeof(float) * BATCH * nr);
	norms(ref, nr, dr, rn);
	double sum = 0, sum2 = 0;
	for (size_t b = 0; b < nq; b += BATCH) {
		int m = nq - b < BATCH ? (int)(nq - b) : BATCH;
		norms(q + b * dq, (size_t)m, dq, qn);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, (int)nr, (int)dq, 1.0f,
			    q + b * dq, (int)dq, ref, (int)dr, 0.0f, dot, (int)nr);
		for (int i = 0; i < m; i++) {
			float best = INFINITY;
			for (size_t j = 0; j < nr; j++) {
				float d2 = qn[i] + rn[j] - 2 * dot[(size_t)i * nr + j];
				if (d2 < best)
					best = d2;
			}
			double dist = sqrt(best > 0 ? best : 0);
			sum += dist;
			sum2 += dist * dist;
		}
	}
	double mean = sum / nq, var = nq > 1 ? (sum2 - nq * mean * mean) / (nq - 1) : 0;
	printf("%.4f %.4f %zu\n", mean, sqrt(var > 0 ? var / nq : 0), nq);
	free(ref);
	free(q);
	free(rn);
	free(qn);
	free(dot);
	vk_close_stdout();
	return 0;
}
