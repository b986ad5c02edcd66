/* latent-probe — how well latent codes predict labels: a logistic-regression
 * probe and a k-NN probe trained on one stream and tested on another, against
 * the same probes on principal components of the pixels. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "modelstream.h"
#include "nn.h"
#include "opts.h"
#include "pca.h"
#include "probe.h"
#include "stream.h"

#define VK_PROBE_MAX_D 65536  /* latent dimensions a probe takes */

static const char USAGE[] =
	"Usage: latent-probe [OPTION]... TRAIN TEST\n"
	"Train a multinomial logistic regression (L2, L-BFGS) on the labelled latent\n"
	"vectors of the tensor stream TRAIN (vae-encode's output: mu, or mu and log\n"
	"sigma^2 of which mu is used) and report its accuracy on TEST: overall, per\n"
	"class and, with --confusion, the confusion matrix. TSV on standard output.\n\n"
	"  -k, --knn K           also a k-nearest-neighbour probe (Euclidean, majority)\n"
	"      --pca-baseline DATA  the same probes on the first principal components\n"
	"                        of DATA (the training records' pixels, in TRAIN's order),\n"
	"                        as many as the latent dimensions\n"
	"      --pca-test DATA   the test records' pixels (with --pca-baseline)\n"
	"      --l2 L            the penalty (L/2)|W|^2 on the weights (default 1e-4)\n"
	"      --iter N          L-BFGS iterations at most (default 500)\n"
	"      --confusion       print each probe's confusion matrix too\n"
	"  -t, --threads N       BLAS threads for k-NN and PCA (default 1)\n"
	"  -h, --help            show this help and exit\n"
	"      --version         show the version and exit\n";

struct cmdline {
	const char *train, *test, *pca_train, *pca_test;
	int knn, iter, confusion, threads;
	double l2;
};

enum { OPT_PCA = VK_OPT_FIRST_LONG, OPT_PCA_TEST, OPT_L2, OPT_ITER, OPT_CONFUSION };

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"knn", required_argument, 0, 'k'},       {"pca-baseline", required_argument, 0, OPT_PCA},
		{"pca-test", required_argument, 0, OPT_PCA_TEST}, {"l2", required_argument, 0, OPT_L2},
		{"iter", required_argument, 0, OPT_ITER}, {"confusion", no_argument, 0, OPT_CONFUSION},
		{"threads", required_argument, 0, 't'},   {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION}, {0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->l2 = 1e-4;
	c->iter = 500;
	c->threads = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, "k:t:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'k': c->knn = (int)vk_parse_long("--knn", optarg, 1, 1024); break;
		case OPT_PCA: c->pca_train = optarg; break;
		case OPT_PCA_TEST: c->pca_test = optarg; break;
		case OPT_L2: c->l2 = vk_parse_double("--l2", optarg, 0, 1e6); break;
		case OPT_ITER: c->iter = (int)vk_parse_long("--iter", optarg, 1, 1000000); break;
		case OPT_CONFUSION: c->confusion = 1; break;
		case 't': c->threads = (int)vk_parse_long("--threads", optarg, 1, 1024); break;
		}
	}
	if (argc - optind != 2)
		vk_usage_error("two streams: the training latents and the test latents (got %d)",
			       argc - optind);
	c->train = argv[optind];
	c->test = argv[optind + 1];
	if (!c->pca_train != !c->pca_test)
		vk_usage_error("--pca-baseline and --pca-test go together (the pixels of the "
			       "training and of the test records)");
	const char *what[] = {"TRAIN", "TEST", "--pca-baseline", "--pca-test"};
	const char *paths[] = {c->train, c->test, c->pca_train, c->pca_test};
	vk_stdin_once(c->pca_train ? 4 : 2, what, paths);
}

/* A whole labelled stream in memory: n rows of d floats (μ only for latents). */
struct set {
	float *x;
	int32_t *y;
	size_t n;
	int d;
	char name[256];
};

static void read_set(struct set *s, const char *path, int latent)
{
	vk_error e;
	ts_reader r;
	size_t stride, cap = 0, got;
	if (ts_reader_open(&r, path, &e))
		vk_die_error(&e);
	memset(s, 0, sizeof *s);
	snprintf(s->name, sizeof s->name, "%s", r.name);
	if (!r.h.has_labels)
		vk_die("%s: records have no labels to probe for", r.name);
	stride = ts_elems(&r.h);
	s->d = (int)stride;
	if (latent) {
		int logvar;
		if (vk_latent_stream(&r.h, r.name, VK_PROBE_MAX_D, &s->d, &logvar, &e))
			vk_die_error(&e);
	}
	float *row = vk_xmalloc(stride * sizeof *row);
	for (;;) {
		if (s->n == cap) {
			cap = cap ? 2 * cap : 1024;
			s->x = realloc(s->x, cap * (size_t)s->d * sizeof *s->x);
			s->y = realloc(s->y, cap * sizeof *s->y);
			if (!s->x || !s->y)
				vk_die("%s: out of memory at %zu records", r.name, s->n);
		}
		if (ts_read_batch_f32(&r, row, s->y + s->n, 1, &got, &e))
			vk_die_error(&e);
		if (!got)
			break;
		if (s->y[s->n] < 0)
			vk_die("%s: record %zu has no label (-1)", r.name, s->n);
		memcpy(s->x + s->n * s->d, row, (size_t)s->d * sizeof *row);
		s->n++;
	}
	free(row);
	ts_reader_close(&r);
	if (!s->n)
		vk_die("%s: no records", s->name);
}

static void free_set(struct set *s)
{
	free(s->x);
	free(s->y);
}

struct result {
	char probe[32];
	const char *features;
	int dims;
	int32_t *pred;
};

static void report(const struct result *res, int n_res, const struct set *train,
		   const struct set *test, int C, int confusion)
{
	puts("probe\tfeatures\tdims\ttrain\ttest\taccuracy");
	for (int r = 0; r < n_res; r++) {
		size_t right = 0;
		for (size_t i = 0; i < test->n; i++)
			right += res[r].pred[i] == test->y[i];
		printf("%s\t%s\t%d\t%zu\t%zu\t%.4f\n", res[r].probe, res[r].features, res[r].dims,
		       train->n, test->n, (double)right / test->n);
	}
	puts("\nprobe\tfeatures\tclass\trecords\taccuracy");
	for (int r = 0; r < n_res; r++)
		for (int k = 0; k < C; k++) {
			size_t n = 0, right = 0;
			for (size_t i = 0; i < test->n; i++)
				if (test->y[i] == k)
					n++, right += res[r].pred[i] == k;
			if (n)
				printf("%s\t%s\t%d\t%zu\t%.4f\n", res[r].probe, res[r].features, k, n,
				       (double)right / n);
		}
	if (!confusion)
		return;
	size_t *cm = vk_xcalloc((size_t)C * C, sizeof *cm);
	for (int r = 0; r < n_res; r++) {
		memset(cm, 0, (size_t)C * C * sizeof *cm);
		for (size_t i = 0; i < test->n; i++)
			cm[(size_t)test->y[i] * C + res[r].pred[i]]++;
		printf("\nconfusion %s %s: rows the true class, columns the predicted\ntrue",
		       res[r].probe, res[r].features);
		for (int k = 0; k < C; k++)
			printf("\t%d", k);
		putchar('\n');
		for (int t = 0; t < C; t++) {
			printf("%d", t);
			for (int k = 0; k < C; k++)
				printf("\t%zu", cm[(size_t)t * C + k]);
			putchar('\n');
		}
	}
	free(cm);
}

/* The probes on one kind of features. */
static int run_probes(struct result *res, const char *features, const struct set *train,
		      const struct set *test, int C, const struct cmdline *c)
{
	vk_error e;
	vk_logreg m;
	int n = 0;
	if (vk_logreg_fit(&m, train->x, train->y, train->n, train->d, C, c->l2, c->iter, 1e-6,
			  &e))
		vk_die_error(&e);
	res[n].pred = vk_xmalloc(test->n * sizeof(int32_t));
	vk_logreg_predict(&m, test->x, test->n, res[n].pred);
	snprintf(res[n].probe, sizeof res[n].probe, "logreg");
	res[n].features = features, res[n].dims = train->d;
	n++;
	vk_logreg_free(&m);
	if (c->knn) {
		res[n].pred = vk_xmalloc(test->n * sizeof(int32_t));
		if (vk_knn_predict(train->x, train->y, train->n, test->x, test->n, train->d, C,
				   c->knn, res[n].pred, &e))
			vk_die_error(&e);
		snprintf(res[n].probe, sizeof res[n].probe, "knn:%d", c->knn);
		res[n].features = features, res[n].dims = train->d;
		n++;
	}
	return n;
}

/* Principal components of the training pixels, both sets projected. */
static void pca_sets(struct set *tr, struct set *te, int k, const struct set *lat_train,
		     const struct set *lat_test)
{
	vk_error e;
	if (tr->n != lat_train->n || te->n != lat_test->n)
		vk_die("--pca-baseline/--pca-test: %zu and %zu records, but the latents have %zu "
		       "and %zu (the pixels must be the same records)", tr->n, te->n,
		       lat_train->n, lat_test->n);
	if (tr->d != te->d)
		vk_die("%s: records of %d values, but %s has %d", te->name, te->d, tr->name, tr->d);
	if (k > tr->d)
		k = tr->d;
	double *axes = vk_xmalloc(sizeof(double) * (size_t)k * tr->d);
	double *mean = vk_xmalloc(sizeof(double) * tr->d);
	if (vk_pca(tr->x, tr->n, tr->d, k, axes, mean, NULL, &e))
		vk_die_error(&e);
	float *a = vk_xmalloc(sizeof(float) * tr->n * k), *b = vk_xmalloc(sizeof(float) * te->n * k);
	vk_pca_project(tr->x, tr->n, tr->d, k, axes, mean, a);
	vk_pca_project(te->x, te->n, te->d, k, axes, mean, b);
	free(tr->x), free(te->x);
	tr->x = a, te->x = b, tr->d = te->d = k;
	free(axes), free(mean);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	struct set train, test;
	struct result res[4];
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	vk_set_threads(c.threads);
	read_set(&train, c.train, 1);
	read_set(&test, c.test, 1);
	if (train.d != test.d)
		vk_die("%s: latent vectors of %d values, but the training ones (%s) have %d",
		       test.name, test.d, train.name, train.d);
	int C = 0;
	for (size_t i = 0; i < train.n; i++)
		if (train.y[i] >= C)
			C = train.y[i] + 1;
	for (size_t i = 0; i < test.n; i++)
		if (test.y[i] >= C)
			vk_die("%s: record %zu's label %d is not among the training labels (0 to %d)",
			       test.name, i, (int)test.y[i], C - 1);
	if (C < 2)
		vk_die("%s: one class only (label 0): nothing to tell apart", train.name);
	int n = run_probes(res, "latent", &train, &test, C, &c);
	if (c.pca_train) {
		struct set ptr, pte;
		read_set(&ptr, c.pca_train, 0);
		read_set(&pte, c.pca_test, 0);
		pca_sets(&ptr, &pte, train.d, &train, &test);
		n += run_probes(res + n, "pca", &ptr, &pte, C, &c);
		free_set(&ptr), free_set(&pte);
	}
	report(res, n, &train, &test, C, c.confusion);
	for (int r = 0; r < n; r++)
		free(res[r].pred);
	free_set(&train), free_set(&test);
	vk_close_stdout();
	return 0;
}
