/* latent-score — score latent vectors under a fitted mixture: the Mahalanobis
 * distance to the nearest component and the negative log-density, per record. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "gmm.h"
#include "gmmscore.h"
#include "modelstream.h"
#include "opts.h"
#include "prior.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: latent-score -p PRIOR [OPTION]... [LATENTS]\n"
	"Score each latent vector of the tensor stream LATENTS (standard input when\n"
	"absent or -), as vae-encode writes them, under the mixture in PRIOR (what\n"
	"latent-gmm fitted to the training set's codes): TSV with a header,\n"
	"record label mahalanobis nlogq, both scores higher for a more unusual\n"
	"record (the distance to the nearest component; -log q(z) under the mixture).\n"
	"A latent+logvar stream is scored on its means mu.\n\n"
	"  -p, --prior FILE  the fitted mixture (latent-gmm -k K; -k 1 for one Gaussian)\n"
	"  -h, --help        show this help and exit\n"
	"      --version     show the version and exit\n";

struct cmdline {
	const char *prior, *input;
};

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"prior", required_argument, 0, 'p'}, {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION}, {0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	int ch;
	while ((ch = getopt_long(argc, argv, "p:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		if (ch == 'p')
			c->prior = optarg;
	}
	if (!c->prior)
		vk_usage_error("the mixture to score under is required (-p PRIOR, from latent-gmm)");
	if (optind + 1 < argc)
		vk_usage_error("one LATENTS stream at a time (got %d operands)", argc - optind);
	c->input = vk_input_arg(argc, argv, optind);
	const char *what[] = {"--prior", "LATENTS"}, *paths[] = {c->prior, c->input};
	vk_stdin_once(2, what, paths);
}

static void latent_score(const vk_gmm *g, ts_reader *r)
{
	vk_error e;
	int Z, logvar;
	if (vk_latent_stream(&r->h, r->name, VK_GMM_MAX_Z, &Z, &logvar, &e))
		vk_die_error(&e);
	size_t stride = ts_elems(&r->h);
	if (Z != g->z)
		vk_die("%s: latent vectors of %d values, but the mixture is over %d", r->name, Z,
		       g->z);
	float *x = vk_xmalloc(stride * sizeof *x);
	double *xd = vk_xmalloc((size_t)Z * sizeof *xd);
	int32_t label;
	int rc;
	puts("record\tlabel\tmahalanobis\tnlogq");
	for (unsigned long long i = 0; (rc = ts_read_f32(r, x, &label, &e)) > 0; i++) {
		double maha, nll;
		for (int j = 0; j < Z; j++)
			xd[j] = x[j];
		vk_gmm_score(g, xd, &maha, &nll);
		printf("%llu\t", i);
		printf(r->h.has_labels ? "%d\t" : "NA\t", (int)label);
		printf("%.9g\t%.9g\n", maha, nll);
	}
	if (rc < 0)
		vk_die_error(&e);
	free(x);
	free(xd);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_gmm g;
	ts_reader r;
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	if (vk_gmm_load(c.prior, &g, &e))
		vk_die_error(&e);
	if (ts_reader_open(&r, c.input, &e))
		vk_die_error(&e);
	latent_score(&g, &r);
	ts_reader_close(&r);
	vk_gmm_free(&g);
	vk_close_stdout();
	return 0;
}
