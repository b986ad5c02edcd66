/* vae-sample — draw z from the prior N(0, I), or from a fitted mixture, and decode it:
 * new data from a model; or draw code maps from a PixelCNN prior. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blascore.h"
#include "err.h"
#include "prior.h"
#include "modelfile.h"
#include "modelstream.h"
#include "opts.h"
#include "units.h"
#include "pixelcnn.h"

static const char USAGE[] =
	"Usage: vae-sample -m MODEL [OPTION]...\n"
	"Draw latent vectors z ~ N(0, T^2 I), or from the Gaussian mixture of a prior\n"
	"file, and write the decoded images (f32 in [0,1]) to standard output. A model\n"
	"of standardised data (txt2stream --standardize) samples in the data's units,\n"
	"as vae-decode decodes. From a pixelcnn, draw code maps position by position\n"
	"and write them as an i32 code stream (-n, -s, -T, -b apply).\n\n"
	"  -m, --model MODEL     the trained model (required)\n"
	"  -o, --output FILE     write FILE (atomically) instead of standard output\n"
	"  -n, --count N         number of samples (default 64)\n"
	"  -s, --seed N          seed of the draws (default 1)\n"
	"  -T, --temperature T   scale the prior's standard deviation by T (default 1;\n"
	"                        with --prior, each component's)\n"
	"      --prior FILE      draw z from the mixture in FILE (made by latent-gmm)\n"
	"                        instead of N(0, I); a prior fitted on another model\n"
	"                        is refused; for a vqvae, a pixelcnn over its code maps\n"
	"      --force           use a --prior fitted on another model all the same\n"
	"      --latent-only     write z instead of decoding it (for vae-decode)\n"
	"      --grid K          a 2-D model's K x K manifold: an even grid on the unit\n"
	"                        square through the Gaussian inverse CDF, rows top to\n"
	"                        bottom (z2 falling), columns left to right (z1 rising)\n"
	"  -l, --label K|NAME    condition a cvae on class K, or the class called NAME\n"
	"      --each-label      a cvae: N samples for every class, class by class\n"
	"      --share-z         with --each-label: the same N draws for every class\n"
	"      --u8              write u8 pixels (0..255) instead of f32\n"
	"      --standardized    keep a standardised model's samples standardised\n"
	"  -b, --batch N         records per batch (default 256)\n"
	"  -t, --threads N       BLAS threads (default 1)\n"
	"  -h, --help            show this help and exit\n"
	"      --version         show the version and exit\n";

struct cmdline {
	const char *model, *output, *prior;
	long count;
	const char *label;     /* --label K or NAME */
	int grid, each_label, share_z, latent_only, u8, batch, threads, force, standardized;
	float temperature;
	uint64_t seed;
};

enum { OPT_STANDARDIZED = VK_OPT_FIRST_LONG, OPT_LATENT, OPT_GRID, OPT_EACH, OPT_SHARE, OPT_U8, OPT_PRIOR,
       OPT_FORCE };

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"model", required_argument, 0, 'm'},     {"output", required_argument, 0, 'o'},
		{"count", required_argument, 0, 'n'},     {"seed", required_argument, 0, 's'},
		{"temperature", required_argument, 0, 'T'},
		{"latent-only", no_argument, 0, OPT_LATENT}, {"grid", required_argument, 0, OPT_GRID},
		{"label", required_argument, 0, 'l'},     {"each-label", no_argument, 0, OPT_EACH},
		{"share-z", no_argument, 0, OPT_SHARE},   {"u8", no_argument, 0, OPT_U8},
		{"standardized", no_argument, 0, OPT_STANDARDIZED},
		{"standardised", no_argument, 0, OPT_STANDARDIZED},
		{"prior", required_argument, 0, OPT_PRIOR}, {"force", no_argument, 0, OPT_FORCE},
		{"batch", required_argument, 0, 'b'},     {"threads", required_argument, 0, 't'},
		{"help", no_argument, 0, 'h'},            {"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->count = 64;
	c->seed = 1;
	c->temperature = 1.0f;
	c->batch = 256;
	c->threads = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, "m:o:n:s:T:l:b:t:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'm': c->model = optarg; break;
		case 'o': c->output = optarg; break;
		case 'n': c->count = vk_parse_long("--count", optarg, 1, 1L << 40); break;
		case 's': c->seed = (uint64_t)vk_parse_long("--seed", optarg, 0, 0x7fffffffffffffffL); break;
		case 'T': c->temperature = (float)vk_parse_double("--temperature", optarg, 0, 100); break;
		case OPT_LATENT: c->latent_only = 1; break;
		case OPT_GRID: c->grid = (int)vk_parse_long("--grid", optarg, 1, 1000); break;
		case 'l': c->label = optarg; break;
		case OPT_EACH: c->each_label = 1; break;
		case OPT_SHARE: c->share_z = 1; break;
		case OPT_U8: c->u8 = 1; break;
		case OPT_STANDARDIZED: c->standardized = 1; break;
		case OPT_PRIOR: c->prior = optarg; break;
		case OPT_FORCE: c->force = 1; break;
		case 'b': c->batch = (int)vk_parse_long("--batch", optarg, 1, 65536); break;
		case 't': c->threads = (int)vk_parse_long("--threads", optarg, 1, 1024); break;
		}
	}
	if (!c->model)
		vk_usage_error("a model is required (-m MODEL)");
	if (optind < argc)
		vk_usage_error("unexpected operand '%s'", argv[optind]);
	if (c->share_z && !c->each_label)
		vk_usage_error("--share-z needs --each-label");
	if (c->each_label && c->label)
		vk_usage_error("--label and --each-label exclude each other");
	if (c->force && !c->prior)
		vk_usage_error("--force only lets --prior use another model's prior");
	if (c->prior && c->grid)
		vk_usage_error("--grid and --prior exclude each other: the grid maps N(0, I)'s "
			       "quantiles");
	if (c->latent_only && c->u8)
		vk_usage_error("--u8 applies to images, not to --latent-only");
}

/* Latent vector number i: a grid point, or a draw at temperature T from the
 * model's prior (its latent kind's: N(0, I) for a VAE, and for an AE, which
 * has none) or from the mixture prior (shared across classes with --share-z:
 * draw k of a class reuses the generator state of class 0). */
static void next_z(const struct cmdline *c, const vk_latent_kind *latent, const vk_gmm *prior,
		   int Z, long i, vk_rng *rng, const vk_rng *start, float *z)
{
	if (c->grid) {
		long row = i / c->grid, col = i % c->grid;
		z[0] = (float)vk_normal_quantile((col + 0.5) / c->grid);
		z[1] = (float)vk_normal_quantile(1.0 - (row + 0.5) / c->grid);
		return;
	}
	if (c->share_z && i % c->count == 0)
		*rng = *start;
	if (prior) {
		vk_gmm_sample(prior, rng, c->temperature, z);
		return;
	}
	latent->prior(rng, z, Z, c->temperature);
}

struct sampling {
	const struct cmdline *c;
	vk_model_tool *t;
	const vk_gmm *prior;  /* --prior, or NULL */
	long total;
	vk_units *units;      /* a standardised model's statistics (mean NULL: none) */
};

/* Draw total samples (or the grid) and write them, decoded or as latents. */
static int vae_sample(ts_writer *w, void *arg, vk_error *e)
{
	const struct sampling *s = arg;
	const struct cmdline *c = s->c;
	vk_model_tool *t = s->t;
	long total = s->total;
	vk_model *m = &t->m;
	const vk_latent_kind *latent = vk_latent_of(&m->a);
	int Z = m->a.latent, cvae = vk_conditional(&m->a), rc = 0;
	float *z = vk_xmalloc(sizeof(float) * c->batch * Z);
	int32_t *labels = vk_xmalloc(sizeof(int32_t) * c->batch);
	vk_rng rng, start;
	vk_rng_seed(&rng, c->seed);
	start = rng;
	size_t width = c->latent_only ? (size_t)Z : (size_t)m->a.input_size;
	for (long done = 0; done < total && !rc;) {
		int n = total - done < c->batch ? (int)(total - done) : c->batch;
		for (int i = 0; i < n; i++) {
			next_z(c, latent, s->prior, Z, done + i, &rng, &start, z + (size_t)i * Z);
			labels[i] = c->each_label ? (int32_t)((done + i) / c->count)
						  : cvae ? t->label : TS_NO_LABEL;
		}
		const float *out = c->latent_only ? z : vk_decode(m, &t->w, z, labels, n);
		if (!c->latent_only && s->units->mean)
			out = vk_units_apply(s->units, out, n);
		for (int i = 0; i < n && !rc; i++)
			rc = ts_write_f32(w, out + i * width, labels[i], e);
		done += n;
	}
	free(z);
	free(labels);
	return rc;
}

/* Code maps from a pixelcnn, a batch at a time, as integer records. */
static int sample_codes(ts_writer *w, void *arg, vk_error *e)
{
	const struct sampling *s = arg;
	const struct cmdline *c = s->c;
	vk_model *m = &s->t->m;
	int P = m->a.input_size, rc = 0, cond = vk_conditional(&m->a);
	int32_t *codes = vk_xmalloc(sizeof(int32_t) * c->batch * P);
	float *row = vk_xmalloc(sizeof(float) * P);
	/* with --each-label, count maps of every class in turn, a batch never
	 * straddling two; map numbers (the generators' seeds) run on */
	for (long done = 0; done < s->total && !rc;) {
		long left = c->each_label ? c->count - done % c->count : s->total - done;
		int n = left < c->batch ? (int)left : c->batch;
		int cls = c->each_label ? (int)(done / c->count) : cond ? s->t->label : -1;
		rc = vk_pixelcnn_sample(m, c->seed, (uint64_t)done, n, cls, c->temperature, codes, e);
		for (int i = 0; i < n && !rc; i++) {
			for (int j = 0; j < P; j++)
				row[j] = (float)codes[(size_t)i * P + j];
			rc = ts_write_f32(w, row, cond ? cls : TS_NO_LABEL, e);
		}
		done += n;
	}
	free(codes);
	free(row);
	return rc;
}

static const char *base_name(const char *path)
{
	const char *b = strrchr(path, '/');
	return b ? b + 1 : path;
}

/* A VQ-VAE's images from code maps its PixelCNN prior draws: the prior's
 * maps, batch by batch (the maps vae-sample -m PRIOR writes, seed for seed),
 * decoded through the codebook and the decoder. */
struct vq_sampling {
	const struct cmdline *c;
	vk_model_tool *t;
	vk_model *prior;
	long total;
};

static int sample_vq(ts_writer *w, void *arg, vk_error *e)
{
	const struct vq_sampling *s = arg;
	const struct cmdline *c = s->c;
	vk_model *m = &s->t->m;
	int P = s->prior->a.input_size, D = m->a.input_size, rc = 0;
	int32_t *codes = vk_xmalloc(sizeof(int32_t) * c->batch * P);
	for (long done = 0; done < s->total && !rc;) {
		int n = s->total - done < c->batch ? (int)(s->total - done) : c->batch;
		rc = vk_pixelcnn_sample(s->prior, c->seed, (uint64_t)done, n, -1, c->temperature,
					codes, e);
		const float *out = rc ? NULL : vk_model_decode_codes(m, &s->t->w, codes, n);
		for (int i = 0; i < n && !rc; i++)
			rc = ts_write_f32(w, out + (size_t)i * D, TS_NO_LABEL, e);
		done += n;
	}
	free(codes);
	return rc;
}

/* vae-sample -m VQVAE --prior PIXELCNN: the prior checked against the
 * VQ-VAE's codebook and map, then its maps decoded. */
static void vae_sample_vq(const struct cmdline *c, vk_model_tool *t)
{
	vk_error e;
	vk_model prior;
	ts_header h;
	if (c->grid || c->latent_only || c->share_z || c->each_label)
		vk_usage_error("%s: a VQ-VAE's samples come from its --prior's code maps; --grid, "
			       "--latent-only, --share-z and --each-label do not apply",
			       c->model);
	if (vk_model_load(c->prior, &prior, NULL, NULL, &e))
		vk_die("--prior %s: %s (a VQ-VAE samples from a pixelcnn trained on its code "
		       "maps)", c->prior, e.msg);
	vk_shape map = t->m.code;
	if (vk_pixelcnn_fits(&prior, t->m.a.codes, map.h > 0 ? map.h : 1, map.h > 0 ? map.w : 1,
			     c->prior, &e))
		vk_die_error(&e);
	if (vk_conditional(&prior.a))
		vk_die("--prior %s is a cpixelcnn: draw its maps of a class with vae-sample -m %s "
		       "--label K, and decode them with vae-decode -m %s", c->prior, c->prior,
		       c->model);
	if (vk_image_header(&h, &t->m, c->u8, 0, &e) ||
	    ts_meta_set(&h, "prior", base_name(c->prior), &e) ||
	    vk_stamp_meta(&h, NULL, c->model, &t->m, "image", &e) ||
	    (!c->u8 && ts_meta_set(&h, "scale", "unit", &e)) ||
	    vk_write_stream(c->output, &h, sample_vq,
			    &(struct vq_sampling){c, t, &prior, c->count}, &e))
		vk_die_error(&e);
	vk_model_free(&prior);
}

/* The options that draw or decode latent vectors do not apply to a prior
 * over code maps. */
static void refuse_for_codes(const struct cmdline *c)
{
	const char *opt = c->grid ? "--grid" : c->latent_only ? "--latent-only"
			  : c->share_z ? "--share-z" : c->prior ? "--prior" : c->u8 ? "--u8" : NULL;
	if (opt)
		vk_usage_error("%s: %s is a pixelcnn, which draws code maps (no latent, no "
			       "images)", opt, c->model);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_model_tool t;
	ts_header h;
	vk_gmm prior;
	vk_init(argc, argv);
	vk_blas_init(argv); /* first: it may restart the program with better kernels */
	parse_cmdline(argc, argv, &c);
	vk_set_threads(c.threads);
	vk_refuse_output_is_input(c.output, (const char *const[]){c.model}, 1);
	if (vk_model_tool_open(&t, c.model, c.label, c.batch, VK_INPUT_NONE, NULL, &e))
		vk_die_error(&e);
	if (vk_autoregressive(&t.m.a)) {
		char k[16];
		uint32_t dims[2] = {t.m.a.input_dims[0], t.m.a.input_dims[1]};
		int cond = vk_conditional(&t.m.a);
		refuse_for_codes(&c);
		if (c.each_label && !cond)
			vk_die("--each-label: %s is not a conditional model", c.model);
		if (cond && t.label < 0 && !c.each_label)
			vk_die("%s is a conditional model: choose a class with --label K or "
			       "--each-label", c.model);
		snprintf(k, sizeof k, "%d", t.m.a.codes);
		long total = c.count * (c.each_label ? t.m.a.classes : 1);
		if (ts_header_init(&h, TS_I32, 2, dims, &e))
			vk_die_error(&e);
		h.has_labels = cond; /* each map's class, as a cvae's samples carry it */
		if (ts_meta_set(&h, "codebook", k, &e) ||
		    vk_stamp_meta(&h, NULL, c.model, &t.m, "codes", &e) ||
		    (cond && vk_model_tool_class_names(&t, &h, &e)) ||
		    vk_write_stream(c.output, &h, sample_codes,
				    &(struct sampling){&c, &t, NULL, total, NULL}, &e))
			vk_die_error(&e);
		vk_model_tool_close(&t);
		return 0;
	}
	if (vk_latent_of(&t.m.a)->codes && c.prior) {
		vae_sample_vq(&c, &t);
		vk_model_tool_close(&t);
		return 0;
	}
	int Z = t.m.a.latent, cvae = vk_conditional(&t.m.a);
	if (!vk_latent_of(&t.m.a)->prior && !c.prior)
		vk_die("%s is a %s: its codes have no prior of their own; fit one to its code "
		       "maps (vae-encode --codes) and sample that", c.model, vk_kind_name(t.m.a.kind));
	if (c.grid && Z != 2)
		vk_die("--grid needs a model with a 2-D latent space; %s has %d dimensions",
		       c.model, Z);
	if (c.each_label && !cvae)
		vk_die("--each-label: %s is not a conditional model", c.model);
	if (cvae && t.label < 0 && !c.each_label)
		vk_die("%s is a conditional model: choose a class with --label K or --each-label",
		       c.model);
	if (c.prior && vk_gmm_load(c.prior, &prior, &e))
		vk_die_error(&e);
	if (c.prior && prior.z != Z)
		vk_die("%s is a prior over %d dimensions; the latent space of %s has %d", c.prior,
		       prior.z, c.model, Z);
	/* A prior records the model it was fitted on (0: not recorded, as in
	 * every prior before format 1.1). */
	if (c.prior && prior.model_id && !c.force && prior.model_id != vk_model_identity(&t.m))
		vk_die("%s was fitted on another model (identity %016llx), not on %s (%016llx); "
		       "--force uses it all the same", c.prior, (unsigned long long)prior.model_id,
		       c.model, (unsigned long long)vk_model_identity(&t.m));
	long total = c.grid ? (long)c.grid * c.grid : c.count * (c.each_label ? t.m.a.classes : 1);
	vk_units u = {0};
	int units = c.latent_only || c.standardized ? 0 :
		    vk_units_find(&u, &t, NULL, NULL, c.model, c.batch, &e);
	if (units < 0)
		vk_die_error(&e);
	if (units && c.u8)
		vk_usage_error("the model's data was standardised (txt2stream --standardize): its "
			       "samples are not pixels (drop --u8, or add --standardized)");
	int rc = c.latent_only ? vk_vector_header(&h, Z, cvae, &e)
			       : vk_image_header(&h, &t.m, c.u8, cvae, &e);
	/* prior= first: vae-decode keeps it and puts its own keys after it, so
	 * --latent-only | vae-decode gives these very bytes. */
	if (rc || (c.prior && ts_meta_set(&h, "prior", base_name(c.prior), &e)) ||
	    vk_stamp_meta(&h, NULL, c.model, &t.m,
			  c.latent_only ? "latent" : units ? NULL : "image", &e) ||
	    (cvae && vk_model_tool_class_names(&t, &h, &e)) ||
	    (!c.latent_only && !c.u8 && !units && ts_meta_set(&h, "scale", "unit", &e)) ||
	    (units && vk_units_header(&h, &t, &e)) ||
	    vk_write_stream(c.output, &h, vae_sample,
			    &(struct sampling){&c, &t, c.prior ? &prior : NULL, total, &u}, &e))
		vk_die_error(&e);
	vk_units_free(&u);
	vk_model_tool_close(&t);
	if (c.prior)
		vk_gmm_free(&prior);
	return 0;
}
