/* vae-encode — images to latent vectors through a model's encoder. */
#include <stdlib.h>
#include <string.h>

#include "blascore.h"
#include "err.h"
#include "modelfile.h"
#include "modelstream.h"
#include "opts.h"

static const char USAGE[] =
	"Usage: vae-encode -m MODEL [OPTION]... [FILE]\n"
	"Encode each record of the tensor stream FILE (standard input when absent or -)\n"
	"into a latent vector: the posterior mean mu by default. Labels and metadata pass\n"
	"through; memory stays bounded by one batch on endless streams.\n\n"
	"  -m, --model MODEL   the trained model (required)\n"
	"  -o, --output FILE   write FILE (atomically) instead of standard output\n"
	"      --sample        draw z = mu + sigma * eps instead of writing mu\n"
	"      --with-logvar   write mu and log sigma^2 side by side (2Z values)\n"
	"      --codes         a vqvae: write each record's code map, H'xW' code indices\n"
	"                      (i32, with codebook=K), instead of its quantised vector\n"
	"  -s, --seed N        seed for --sample (default 1)\n"
	"  -b, --batch N       records per batch (default 256)\n"
	"  -t, --threads N     BLAS threads (default 1)\n"
	"  -h, --help          show this help and exit\n"
	"      --version       show the version and exit\n";

struct cmdline {
	const char *model, *output, *input;
	int sample, with_logvar, codes, batch, threads;
	uint64_t seed;
};

enum { OPT_SAMPLE = VK_OPT_FIRST_LONG, OPT_LOGVAR, OPT_CODES };

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"model", required_argument, 0, 'm'},  {"output", required_argument, 0, 'o'},
		{"sample", no_argument, 0, OPT_SAMPLE}, {"with-logvar", no_argument, 0, OPT_LOGVAR},
		{"codes", no_argument, 0, OPT_CODES},
		{"seed", required_argument, 0, 's'},   {"batch", required_argument, 0, 'b'},
		{"threads", required_argument, 0, 't'}, {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION}, {0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->batch = 256;
	c->threads = 1;
	c->seed = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, "m:o:s:b:t:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'm': c->model = optarg; break;
		case 'o': c->output = optarg; break;
		case OPT_SAMPLE: c->sample = 1; break;
		case OPT_LOGVAR: c->with_logvar = 1; break;
		case OPT_CODES: c->codes = 1; break;
		case 's': c->seed = (uint64_t)vk_parse_long("--seed", optarg, 0, 0x7fffffffffffffffL); break;
		case 'b': c->batch = (int)vk_parse_long("--batch", optarg, 1, 65536); break;
		case 't': c->threads = (int)vk_parse_long("--threads", optarg, 1, 1024); break;
		}
	}
	if (!c->model)
		vk_usage_error("a model is required (-m MODEL)");
	if (c->sample + c->with_logvar + c->codes > 1)
		vk_usage_error("--sample, --with-logvar and --codes exclude each other");
	c->input = vk_input_arg(argc, argv, optind);
}

struct encoding {
	const struct cmdline *c;
	vk_model_tool *t;
	const vk_latent_kind *latent;
	int width;              /* values written per record */
	float *z, *eps;         /* (batch, Z) draws, (Z·noise) one record's noise */
	int32_t *idx;           /* --codes: (batch, P) code indices */
	vk_rng rng;
};

/* A batch's codes: the head (μ | log σ²), its first Z columns (μ, an AE's
 * code), or draws of z from q(z|x) (--sample). */
static const float *encode_batch(vk_model_tool *t, const float *x, const int32_t *labels, int n,
				 void *arg)
{
	struct encoding *en = arg;
	vk_model *m = &t->m;
	int Z = m->a.latent, H = vk_head_width(&m->a);
	if (en->c->codes) {
		/* the indices as floats (exact), written as i32 */
		vk_model_encode_codes(m, &t->w, x, en->idx, n);
		for (size_t i = 0; i < (size_t)n * en->width; i++)
			en->z[i] = (float)en->idx[i];
		return en->z;
	}
	const float *head = vk_encode(m, &t->w, x, labels, n);
	if (en->c->with_logvar)
		return head;
	if (!en->c->sample) {
		vk_latent_sample(m, &t->w, en->z, Z, head, NULL, NULL, n);
		return en->z;
	}
	for (int i = 0; i < n; i++) {
		/* one normal draw per value, in the order of the values */
		for (int j = 0; j < Z * en->latent->noise; j++)
			en->eps[j] = vk_rng_normal(&en->rng);
		en->latent->draw(en->z + (size_t)i * Z, head + (size_t)i * H, en->eps, Z);
	}
	return en->z;
}

static int vae_encode(ts_writer *w, void *arg, vk_error *e)
{
	struct encoding *en = arg;
	return vk_model_tool_map(en->t, en->width, encode_batch, en, w, e);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_model_tool t;
	ts_header h;
	vk_init(argc, argv);
	vk_blas_init(argv); /* first: it may restart the program with better kernels */
	parse_cmdline(argc, argv, &c);
	vk_set_threads(c.threads);
	vk_refuse_output_is_input(c.output, (const char *const[]){c.input, c.model}, 2);
	if (vk_model_tool_open(&t, c.model, NULL, c.batch, VK_INPUT_IMAGES, c.input, &e))
		vk_die_error(&e);
	const vk_latent_kind *latent = vk_latent_of(&t.m.a);
	if (!latent->noise && (c.sample || c.with_logvar))
		vk_die("%s is %s: its encoder is deterministic, with no sigma to %s", c.model,
		       latent->codes ? "a vqvae" : "an autoencoder", c.sample ? "sample" : "write");
	if (c.codes && !latent->codes)
		vk_die("--codes: %s is a %s, whose codes are vectors, not code maps; write them "
		       "without --codes", c.model, vk_kind_name(t.m.a.kind));
	int Z = t.m.a.latent;
	struct encoding en = {.c = &c, .t = &t, .latent = latent,
			      .width = c.with_logvar ? vk_head_width(&t.m.a) : Z,
			      .z = vk_xmalloc(sizeof(float) * c.batch * Z),
			      .eps = vk_xmalloc(sizeof(float) * (Z * latent->noise + 1))};
	vk_rng_seed(&en.rng, c.seed);
	if (c.codes) {
		en.width = (int)(t.m.code.h > 0 ? t.m.code.h * t.m.code.w : 1);
		en.idx = vk_xmalloc(sizeof(int32_t) * c.batch * en.width);
	}
	if ((c.codes ? vk_codes_header(&h, &t.m, t.r.h.has_labels, &e)
		     : vk_vector_header(&h, en.width, t.r.h.has_labels, &e)) ||
	    vk_stamp_meta(&h, &t.r.h, c.model, &t.m,
			  c.codes ? "codes" : c.with_logvar ? "latent+logvar" : "latent", &e) ||
	    vk_write_stream(c.output, &h, vae_encode, &en, &e))
		vk_die_error(&e);
	free(en.z);
	free(en.eps);
	free(en.idx);
	vk_model_tool_close(&t);
	return 0;
}
