/* The probes: logistic regression's gradient against finite differences, both
 * probes on separable synthetic data, and latent-probe end to end. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "probe.h"
#include "rng.h"
#include "testutil.h"

Test(probe, logreg_gradient_matches_finite_differences)
{
	enum { N = 13, D = 4, C = 3, P = C * (D + 1) };
	double z[N * D], w[P], g[P];
	int32_t y[N];
	vk_rng r;
	vk_rng_seed(&r, 9);
	for (int i = 0; i < N * D; i++)
		z[i] = vk_rng_normal(&r);
	for (int i = 0; i < N; i++)
		y[i] = i % C;
	for (int i = 0; i < P; i++)
		w[i] = 0.5 * vk_rng_normal(&r);
	vk_logreg_objective(w, z, y, N, D, C, 0.3, g);
	for (int i = 0; i < P; i++) {
		double h = 1e-6, save = w[i];
		w[i] = save + h;
		double fp = vk_logreg_objective(w, z, y, N, D, C, 0.3, NULL);
		w[i] = save - h;
		double fm = vk_logreg_objective(w, z, y, N, D, C, 0.3, NULL);
		w[i] = save;
		double fd = (fp - fm) / (2 * h);
		cr_assert(fabs(fd - g[i]) < 1e-7 * (1 + fabs(fd)), "w[%d]: %g vs %g", i, g[i], fd);
	}
}

/* Three well-separated blobs in 5 dimensions, n per class. */
static void blobs(float *x, int32_t *y, int n, vk_rng *r)
{
	for (int i = 0; i < 3 * n; i++) {
		y[i] = i % 3;
		for (int j = 0; j < 5; j++)
			x[i * 5 + j] = (j == y[i] ? 6.0f : 0.0f) + 100.0f * (j == 4) + vk_rng_normal(r);
	}
}

Test(probe, separable_classes_are_learned)
{
	enum { N = 200 };
	static float x[3 * N * 5], q[3 * N * 5];
	int32_t y[3 * N], t[3 * N], pred[3 * N];
	vk_rng r;
	vk_error e;
	vk_rng_seed(&r, 4);
	blobs(x, y, N, &r);
	blobs(q, t, N, &r);
	vk_logreg m;
	cr_assert_eq(vk_logreg_fit(&m, x, y, 3 * N, 5, 3, 1e-4, 500, 1e-6, &e), 0, "%s", e.msg);
	vk_logreg_predict(&m, q, 3 * N, pred);
	int right = 0;
	for (int i = 0; i < 3 * N; i++)
		right += pred[i] == t[i];
	cr_assert_geq(right, 3 * N - 3, "logistic regression: %d of %d", right, 3 * N);
	cr_assert(m.loss < 0.05, "loss %g after %d iterations", m.loss, m.iters);
	vk_logreg_free(&m);
	cr_assert_eq(vk_knn_predict(x, y, 3 * N, q, 3 * N, 5, 3, 5, pred, &e), 0, "%s", e.msg);
	right = 0;
	for (int i = 0; i < 3 * N; i++)
		right += pred[i] == t[i];
	cr_assert_geq(right, 3 * N - 3, "k-NN: %d of %d", right, 3 * N);
	/* 1-NN of the training set itself is exact */
	cr_assert_eq(vk_knn_predict(x, y, 3 * N, x, 3 * N, 5, 3, 1, pred, &e), 0);
	for (int i = 0; i < 3 * N; i++)
		cr_assert_eq(pred[i], y[i]);
	cr_assert_eq(vk_knn_predict(x, y, 3, q, 1, 5, 3, 4, pred, &e), -1);
	cr_assert(strstr(e.msg, "k = 4 among 3"), "%s", e.msg);
}

#define IMAGES "examples/data/digits-test-images-idx3-ubyte.gz"
#define LABELS "examples/data/digits-test-labels-idx1-ubyte.gz"

Test(latent_probe, tool_reports_and_refuses_bad_input)
{
	char dir[512], err[2048];
	snprintf(dir, sizeof dir, "%s", tmp_path("probe"));
	int rc = run_err(err, sizeof err,
		"mkdir -p %s && cd %s && idx2stream %s %s > all.ts && stream-cat -n 600 all.ts > tr.ts && "
		"stream-cat -s 600 -n 300 all.ts > te.ts && "
		"vae-train -q -z 4 --hidden 64 -e 3 -b 32 -o m.vae tr.ts && "
		"vae-encode -m m.vae tr.ts > ztr.ts && vae-encode --with-logvar -m m.vae te.ts > zte.ts && "
		"latent-probe --knn 3 --confusion --pca-baseline tr.ts --pca-test te.ts ztr.ts zte.ts "
		"> r.tsv && "
		"awk -F'\\t' 'NR >= 2 && NR <= 5 { n++; if ($3 != 4 || $5 != 300 || $6 < 0.3 || $6 > 1) "
		"bad = 1 } END { exit bad || n != 4 }' r.tsv && "
		"grep -c '^confusion' r.tsv | grep -qx 4 && "
		"awk -F'\\t' '/^confusion logreg latent/ { on = 1; next } on && /^[0-9]/ { for (i = 2; "
		"i <= NF; i++) s += $i } /^$/ { on = 0 } END { exit s != 300 }' r.tsv",
		dir, dir, repo_path(IMAGES), repo_path(LABELS));
	cr_assert_eq(rc, 0, "%s", err);
	struct {
		const char *args, *msg;
		int rc;
	} cases[] = {
		{"ztr.ts tr.ts", "not a stream of latent vectors", 1},
		{"ztr.ts", "two streams", 2},
		{"--pca-baseline tr.ts ztr.ts zte.ts", "go together", 2},
		{"ztr.ts wide.ts", "latent vectors of 5 values, but the training ones", 1},
		{"ztr.ts nolab.ts", "no labels to probe for", 1},
		{"one.ts one.ts", "one class only", 1},
	};
	cr_assert_eq(run("cd %s && printf '0 1 2 3 4 5\\n' | txt2stream -l > wide.ts && "
			 "printf '1 2 3 4\\n' | txt2stream > nolab.ts && "
			 "printf '0 1 2 3 4\\n0 2 3 4 5\\n' | txt2stream -l > one.ts", dir), 0);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		rc = run_err(err, sizeof err, "cd %s && latent-probe %s", dir, cases[i].args);
		cr_assert_eq(rc, cases[i].rc, "%s: %s", cases[i].args, err);
		cr_assert(strstr(err, cases[i].msg), "%s: %s", cases[i].args, err);
	}
}
