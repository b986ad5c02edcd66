/* vae-encode — images to latent vectors through a model's encoder. */
#include <math.h>
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
	"  -s, --seed N        seed for --sample (default 1)\n"
	"  -b, --batch N       records per batch (default 256)\n"
	"  -t, --threads N     BLAS threads (default 1)\n"
	"  -h, --help          show this help and exit\n"
	"      --version       show the version and exit\n";

struct cmdline {
	const char *model, *output, *input;
	int sample, with_logvar, batch, threads;
	uint64_t seed;
};

enum { OPT_SAMPLE = VK_OPT_FIRST_LONG, OPT_LOGVAR };

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"model", required_argument, 0, 'm'},  {"output", required_argument, 0, 'o'},
		{"sample", no_argument, 0, OPT_SAMPLE}, {"with-logvar", no_argument, 0, OPT_LOGVAR},
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
		case 's': c->seed = (uint64_t)vk_parse_long("--seed", optarg, 0, 0x7fffffffffffffffL); break;
		case 'b': c->batch = (int)vk_parse_long("--batch", optarg, 1, 65536); break;
		case 't': c->threads = (int)vk_parse_long("--threads", optarg, 1, 1024); break;
		}
	}
	if (!c->model)
		vk_usage_error("a model is required (-m MODEL)");
	if (c->sample && c->with_logvar)
		vk_usage_error("--sample and --with-logvar exclude each other");
	c->input = vk_input_arg(argc, argv, optind);
}

/* Encode every record of t's input into w: μ, μ | log σ², or a draw of z. */
static int vae_encode(const struct cmdline *c, vk_model_tool *t, ts_writer *w, vk_error *e)
{
	vk_model *m = &t->m;
	int Z = m->a.latent, vae = m->a.kind != VK_AE;
	float *x = vk_xmalloc(sizeof(float) * c->batch * m->a.input_size);
	float *z = vk_xmalloc(sizeof(float) * c->batch * Z);
	int32_t *labels = vk_xmalloc(sizeof(int32_t) * c->batch);
	vk_rng rng;
	vk_rng_seed(&rng, c->seed);
	size_t got;
	int rc = 0;
	for (uint64_t first = 0;; first += got) {
		if ((rc = ts_read_batch_f32(&t->r, x, labels, c->batch, &got, e)) ||
		    (rc = vk_check_labels(m, labels, got, first, t->r.name, e)) || !got)
			break;
		const float *head = vk_encode(m, &t->w, x, labels, (int)got);
		for (size_t i = 0; i < got && !rc; i++) {
			const float *row = head + i * (vae ? 2 * Z : Z);
			if (c->sample) {
				for (int j = 0; j < Z; j++)
					z[j] = row[j] + expf(0.5f * row[Z + j]) * vk_rng_normal(&rng);
				row = z;
			}
			rc = ts_write(w, row, labels[i], e);
		}
		if (rc)
			break;
	}
	free(x);
	free(z);
	free(labels);
	return rc;
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_model_tool t;
	ts_writer w;
	ts_header h;
	vk_init(argc, argv);
	vk_blas_init(argv); /* first: it may restart the program with better kernels */
	parse_cmdline(argc, argv, &c);
	vk_set_threads(c.threads);
	vk_refuse_output_is_input(c.output, (const char *const[]){c.input, c.model}, 2);
	if (vk_model_tool_open(&t, c.model, NULL, c.batch, VK_INPUT_IMAGES, c.input, &e))
		vk_die_error(&e);
	if (t.m.a.kind == VK_AE && (c.sample || c.with_logvar))
		vk_die("%s is an autoencoder: its encoder is deterministic, with no sigma to %s",
		       c.model, c.sample ? "sample" : "write");
	int width = c.with_logvar ? 2 * t.m.a.latent : t.m.a.latent;
	if (vk_vector_header(&h, width, t.r.h.has_labels, &e) ||
	    vk_stamp_meta(&h, &t.r.h, c.model, c.with_logvar ? "latent+logvar" : "latent", &e) ||
	    ts_writer_open(&w, c.output, &h, &e))
		vk_die_error(&e);
	if (vae_encode(&c, &t, &w, &e)) {
		ts_writer_abort(&w);
		vk_die_error(&e);
	}
	if (ts_writer_close(&w, &e))
		vk_die_error(&e);
	vk_model_tool_close(&t);
	return 0;
}
