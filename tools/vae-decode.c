/* vae-decode — latent vectors, or a vqvae's code maps, to images through a
 * model's decoder. */
#include <stdlib.h>
#include <string.h>

#include "blascore.h"
#include "err.h"
#include "modelfile.h"
#include "modelstream.h"
#include "opts.h"
#include "units.h"

static const char USAGE[] =
	"Usage: vae-decode -m MODEL [OPTION]... [FILE]\n"
	"Decode each latent vector of the tensor stream FILE (standard input when absent\n"
	"or -) into an image: the decoder's means, f32 in [0,1] for a Bernoulli decoder.\n"
	"A vqvae also decodes code maps (vae-encode --codes: i32 with codebook=K).\n"
	"Labels and metadata pass through; memory stays bounded by one batch. A model\n"
	"of standardised data (txt2stream --standardize) decodes into the data's units:\n"
	"x * sd + mean with the column statistics of FILE's metadata (vae-encode keeps\n"
	"them), else of the model's (vae-train keeps its data's).\n\n"
	"  -m, --model MODEL   the trained model (required)\n"
	"  -o, --output FILE   write FILE (atomically) instead of standard output\n"
	"      --u8            write u8 pixels (0..255) instead of f32\n"
	"      --standardized  keep standardised decodings standardised (x, not\n"
	"                      x * sd + mean)\n"
	"  -l, --label K|NAME  condition a cvae on class K or NAME (default: the stream's labels)\n"
	"  -b, --batch N       records per batch (default 256)\n"
	"  -t, --threads N     BLAS threads (default 1)\n"
	"  -h, --help          show this help and exit\n"
	"      --version       show the version and exit\n";

struct cmdline {
	const char *model, *output, *input;
	const char *label;     /* --label K or NAME */
	int u8, batch, threads, standardized;
};

enum { OPT_U8 = VK_OPT_FIRST_LONG, OPT_STANDARDIZED };

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"model", required_argument, 0, 'm'}, {"output", required_argument, 0, 'o'},
		{"u8", no_argument, 0, OPT_U8},       {"label", required_argument, 0, 'l'},
		{"standardized", no_argument, 0, OPT_STANDARDIZED},
		{"standardised", no_argument, 0, OPT_STANDARDIZED},
		{"batch", required_argument, 0, 'b'}, {"threads", required_argument, 0, 't'},
		{"help", no_argument, 0, 'h'},        {"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->batch = 256;
	c->threads = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, "m:o:l:b:t:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'm': c->model = optarg; break;
		case 'o': c->output = optarg; break;
		case OPT_U8: c->u8 = 1; break;
		case OPT_STANDARDIZED: c->standardized = 1; break;
		case 'l': c->label = optarg; break;
		case 'b': c->batch = (int)vk_parse_long("--batch", optarg, 1, 65536); break;
		case 't': c->threads = (int)vk_parse_long("--threads", optarg, 1, 1024); break;
		}
	}
	if (!c->model)
		vk_usage_error("a model is required (-m MODEL)");
	c->input = vk_input_arg(argc, argv, optind);
}

struct job {
	vk_model_tool *t;
	vk_units *u;
	int32_t *idx;   /* a batch of code maps as indices (a vqvae's code input) */
};

static const float *decode_batch(vk_model_tool *t, const float *z, const int32_t *labels, int n,
				 void *arg)
{
	struct job *j = arg;
	const float *x;
	if (!t->codes) {
		x = vk_decode(&t->m, &t->w, z, labels, n);
	} else {
		/* code maps: their values, checked to be codes, as indices */
		size_t P = ts_elems(&t->r.h);
		for (size_t i = 0; i < (size_t)n * P; i++)
			j->idx[i] = (int32_t)z[i];
		x = vk_model_decode_codes(&t->m, &t->w, j->idx, n);
	}
	return x && j->u->mean ? vk_units_apply(j->u, x, n) : x;
}

/* Decode every latent vector (or code map) of t's input into an image on w. */
static int vae_decode(ts_writer *w, void *arg, vk_error *e)
{
	struct job *j = arg;
	vk_model_tool *t = j->t;
	j->idx = t->codes ? vk_xmalloc(sizeof(int32_t) * t->w.cap * ts_elems(&t->r.h)) : NULL;
	int rc = vk_model_tool_map(t, t->m.a.input_size, decode_batch, j, w, e);
	free(j->idx);
	return rc;
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
	if (vk_model_tool_open(&t, c.model, c.label, c.batch, VK_INPUT_LATENTS, c.input, &e))
		vk_die_error(&e);
	vk_units u = {0};
	int units = c.standardized ? 0 : vk_units_find(&u, &t, &t.r.h, t.r.name, c.model,
						       t.w.cap, &e);
	if (units < 0)
		vk_die_error(&e);
	if (units && c.u8)
		vk_usage_error("the model's data was standardised (txt2stream --standardize): its "
			       "decodings are not pixels (drop --u8, or add --standardized)");
	int labelled = t.r.h.has_labels || t.label >= 0;
	struct job job = {&t, &u, NULL};
	if (vk_image_header(&h, &t.m, c.u8, labelled, &e) ||
	    vk_stamp_meta(&h, &t.r.h, c.model, &t.m, units ? NULL : "image", &e))
		vk_die_error(&e);
	/* in the data's units the values are neither standardised nor in [0,1] */
	if (units && vk_units_header(&h, &t, &e))
		vk_die_error(&e);
	if ((!c.u8 && !units && ts_meta_set(&h, "scale", "unit", &e)) ||
	    vk_write_stream(c.output, &h, vae_decode, &job, &e))
		vk_die_error(&e);
	vk_units_free(&u);
	vk_model_tool_close(&t);
	return 0;
}
