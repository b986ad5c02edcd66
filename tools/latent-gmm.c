/* latent-gmm — fit a Gaussian mixture to latent vectors: an ex-post prior for vae-sample. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "blascore.h"
#include "err.h"
#include "modelfile.h"
#include "modelstream.h"
#include "prior.h"
#include "nn.h"
#include "opts.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: latent-gmm -k K [OPTION]... [LATENTS]\n"
	"Fit a mixture of K Gaussians by EM to the latent vectors of the tensor stream\n"
	"LATENTS (standard input when absent or -), as vae-encode writes them, and write\n"
	"the prior file for vae-sample --prior to standard output. A latent+logvar\n"
	"stream (vae-encode --with-logvar) is fitted on its means mu.\n\n"
	"  -k, --components K  number of mixture components, 1 to 1024 (required)\n"
	"  -m, --model MODEL   the model that encoded LATENTS: its identity is recorded\n"
	"                      in the prior, so that vae-sample refuses the prior with\n"
	"                      another model\n"
	"  -o, --output FILE   write FILE (atomically) instead of standard output\n"
	"      --cov TYPE      covariance of each component: full (default) or diag\n"
	"  -s, --seed N        seed of the k-means++ start (default 1)\n"
	"      --iter N        EM iterations at most (default 500)\n"
	"      --tol X         stop when the mean log-likelihood per vector changes by\n"
	"                      less than X nats (default 1e-5)\n"
	"  -t, --threads N     BLAS threads (default 1)\n"
	"  -v, --verbose       print every iteration's mean log-likelihood\n"
	"  -q, --quiet         print nothing when all goes well\n"
	"  -h, --help          show this help and exit\n"
	"      --version       show the version and exit\n";

struct cmdline {
	const char *output, *input, *model;
	vk_gmm_opts fit;
	int verbose, quiet, threads;
};

enum { OPT_COV = VK_OPT_FIRST_LONG, OPT_ITER, OPT_TOL };

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"components", required_argument, 0, 'k'}, {"output", required_argument, 0, 'o'},
		{"model", required_argument, 0, 'm'},
		{"cov", required_argument, 0, OPT_COV},    {"seed", required_argument, 0, 's'},
		{"iter", required_argument, 0, OPT_ITER},  {"tol", required_argument, 0, OPT_TOL},
		{"threads", required_argument, 0, 't'},
		{"verbose", no_argument, 0, 'v'},          {"quiet", no_argument, 0, 'q'},
		{"help", no_argument, 0, 'h'},             {"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	vk_gmm_opts_default(&c->fit);
	c->fit.k = 0;
	c->threads = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, "k:m:o:s:t:vqh", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'k': c->fit.k = (int)vk_parse_long("--components", optarg, 1, VK_GMM_MAX_K); break;
		case 'm': c->model = optarg; break;
		case 'o': c->output = optarg; break;
		case OPT_COV:
			if (!(c->fit.cov = vk_gmm_cov_parse(optarg)))
				vk_usage_error("--cov: '%s' is not full or diag", optarg);
			break;
		case 's': c->fit.seed = (uint64_t)vk_parse_long("--seed", optarg, 0, 0x7fffffffffffffffL); break;
		case OPT_ITER: c->fit.max_iter = (int)vk_parse_long("--iter", optarg, 1, 1000000); break;
		case OPT_TOL: c->fit.tol = vk_parse_double("--tol", optarg, 0, 1e6); break;
		case 't': c->threads = (int)vk_parse_long("--threads", optarg, 1, 1024); break;
		case 'v': c->verbose = 1; break;
		case 'q': c->quiet = 1; break;
		}
	}
	if (!c->fit.k)
		vk_usage_error("the number of components is required (-k K)");
	if (c->verbose && c->quiet)
		vk_usage_error("--verbose and --quiet exclude each other");
	c->input = vk_input_arg(argc, argv, optind);
}

static void show_iteration(int iter, double loglik, void *arg)
{
	(void)arg;
	fprintf(stderr, "%s: iteration %d: mean log-likelihood %.6f\n", vk_progname, iter, loglik);
}

/* The identity of the model that encoded the latents (0 without -m), whose
 * latent size must be the vectors' z. */
static int model_identity(const char *path, const ts_reader *r, int z, uint64_t *id,
			  vk_error *e)
{
	vk_model m;
	*id = 0;
	if (!path)
		return 0;
	if (vk_model_load(path, &m, NULL, NULL, e))
		return -1;
	int latent = m.a.latent;
	*id = vk_model_identity(&m);
	vk_model_free(&m);
	if (latent != z)
		return vk_fail(e, "%s: latent vectors of %d values, but %s has a latent size of %d",
			       r->name, z, path, latent);
	return 0;
}

/* Read the latents, fit, save. */
static int latent_gmm(const struct cmdline *c, ts_reader *r, vk_gmm *g, vk_error *e)
{
	size_t n;
	uint64_t id;
	int z, logvar;
	if (vk_latent_stream(&r->h, r->name, VK_GMM_MAX_Z, &z, &logvar, e) ||
	    model_identity(c->model, r, z, &id, e))
		return -1;
	float *x = vk_read_latents(r, z, logvar, &n, e);
	if (!x)
		return -1;
	int rc = 0;
	vk_error fe;
	if (n == 0)
		rc = vk_fail(e, "%s: no latent vectors to fit (an empty stream)", r->name);
	else if ((size_t)c->fit.k > n)
		rc = vk_fail(e, "%s: -k %d needs at least %d vectors; the stream has %zu", r->name,
			     c->fit.k, c->fit.k, n);
	else if (vk_gmm_fit(g, x, n, z, &c->fit, c->verbose ? show_iteration : NULL, NULL, &fe))
		rc = vk_fail(e, "%s: %s", r->name, fe.msg);
	else if ((g->model_id = id, rc = vk_gmm_save(c->output, g, e)))
		vk_gmm_free(g);
	free(x);
	return rc;
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	ts_reader r;
	vk_gmm g;
	vk_init(argc, argv);
	vk_blas_init(argv); /* first: it may restart the program with better kernels */
	parse_cmdline(argc, argv, &c);
	if (c.verbose && vk_blas_note())
		vk_warn("%s", vk_blas_note());
	vk_set_threads(c.threads);
	vk_refuse_output_is_input(c.output, (const char *const[]){c.input, c.model}, c.model ? 2 : 1);
	/* Refuse a terminal before the work, not after it. */
	if ((!c.output || !strcmp(c.output, "-")) && vk_stdout_is_tty())
		vk_die("refusing to write binary data to a terminal; use -o FILE or redirect it");
	if (ts_reader_open(&r, c.input, &e) || latent_gmm(&c, &r, &g, &e))
		vk_die_error(&e);
	ts_reader_close(&r);
	if (!c.quiet)
		fprintf(stderr, "%s: %d %s-covariance components, %llu vectors of %d, %u iterations"
			"%s: mean log-likelihood %.6f nats per vector\n", vk_progname, g.k,
			vk_gmm_cov_name(g.cov), (unsigned long long)g.n, g.z, g.iters,
			g.converged ? " (converged)" : " (not converged: --iter reached)", g.loglik);
	vk_gmm_free(&g);
	vk_close_stdout();
	return 0;
}
