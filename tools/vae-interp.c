/* vae-interp — decode the path between the latent codes of two records. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "blascore.h"
#include "err.h"
#include "modelfile.h"
#include "modelstream.h"
#include "opts.h"

static const char USAGE[] =
	"Usage: vae-interp -m MODEL [OPTION]... [FILE]\n"
	"Encode two records of the tensor stream FILE (standard input when absent or -)\n"
	"to their latent means mu, and decode N evenly spaced points of the path\n"
	"between them, both ends included: a stream of N images (f32 in [0,1]) for\n"
	"png-grid --cols N. Only the records up to the later of the two are read.\n\n"
	"  -m, --model MODEL   the trained model (required)\n"
	"  -o, --output FILE   write FILE (atomically) instead of standard output\n"
	"  -f, --from I        the first record, counted from 0 (default 0)\n"
	"  -T, --to J          the last record (default 1)\n"
	"  -N, --steps N       points on the path, ends included (default 10)\n"
	"      --slerp         follow the great circle between the two codes (spherical\n"
	"                      interpolation) instead of the straight line\n"
	"  -l, --label K|NAME  decode a cvae with class K or NAME (default: the label of the\n"
	"                      first record)\n"
	"      --latent-only   write the latent path instead of decoding it\n"
	"      --u8            write u8 pixels (0..255) instead of f32\n"
	"  -t, --threads N     BLAS threads (default 1)\n"
	"  -h, --help          show this help and exit\n"
	"      --version       show the version and exit\n";

#define MAX_STEPS 10000

struct cmdline {
	const char *model, *output, *input;
	long from, to;
	const char *label;     /* --label K or NAME */
	int steps, slerp, latent_only, u8, threads;
};

enum { OPT_SLERP = VK_OPT_FIRST_LONG, OPT_LATENT, OPT_U8 };

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"model", required_argument, 0, 'm'},  {"output", required_argument, 0, 'o'},
		{"from", required_argument, 0, 'f'},   {"to", required_argument, 0, 'T'},
		{"steps", required_argument, 0, 'N'},  {"slerp", no_argument, 0, OPT_SLERP},
		{"label", required_argument, 0, 'l'},  {"latent-only", no_argument, 0, OPT_LATENT},
		{"u8", no_argument, 0, OPT_U8},        {"threads", required_argument, 0, 't'},
		{"help", no_argument, 0, 'h'},         {"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->to = 1;
	c->steps = 10;
	c->threads = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, "m:o:f:T:N:l:t:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'm': c->model = optarg; break;
		case 'o': c->output = optarg; break;
		case 'f': c->from = vk_parse_long("--from", optarg, 0, 1L << 40); break;
		case 'T': c->to = vk_parse_long("--to", optarg, 0, 1L << 40); break;
		case 'N': c->steps = (int)vk_parse_long("--steps", optarg, 2, MAX_STEPS); break;
		case OPT_SLERP: c->slerp = 1; break;
		case 'l': c->label = optarg; break;
		case OPT_LATENT: c->latent_only = 1; break;
		case OPT_U8: c->u8 = 1; break;
		case 't': c->threads = (int)vk_parse_long("--threads", optarg, 1, 1024); break;
		}
	}
	if (!c->model)
		vk_usage_error("a model is required (-m MODEL)");
	if (c->latent_only && c->u8)
		vk_usage_error("--u8 applies to images, not to --latent-only");
	c->input = vk_input_arg(argc, argv, optind);
}

/* The two records: x (2 rows) and their labels, read up to the later one. */
static int read_ends(const struct cmdline *c, vk_model_tool *t, float *x, int32_t *labels,
		     vk_error *e)
{
	size_t D = (size_t)t->m.a.input_size;
	long last = c->from > c->to ? c->from : c->to;
	float *rec = vk_xmalloc(D * sizeof *rec);
	int32_t label;
	int rc = 0;
	for (long i = 0; i <= last && !rc; i++) {
		int got = ts_read_f32(&t->r, rec, &label, e);
		if (got < 0)
			rc = -1;
		else if (got == 0)
			rc = vk_fail(e, "%s has %ld records; --from %ld --to %ld needs %ld",
				     t->r.name, i, c->from, c->to, last + 1);
		for (int k = 0; k < 2 && !rc; k++)
			if (i == (k ? c->to : c->from)) {
				memcpy(x + k * D, rec, D * sizeof *rec);
				labels[k] = label;
				/* named by its index in the stream */
				rc = vk_check_labels(&t->m, &label, 1, (uint64_t)i, t->r.name, e);
			}
	}
	free(rec);
	return rc;
}

/* Point t in [0,1] of the path from a to b: the straight line, or the arc
 * of the great circle (sin((1-t)W) a + sin(tW) b) / sin W, W the angle
 * between them; nearly parallel codes fall back to the line. */
static void path_point(const float *a, const float *b, int Z, double t, int slerp, float *z)
{
	double wa = 1 - t, wb = t;
	if (slerp) {
		double ab = 0, aa = 0, bb = 0;
		for (int j = 0; j < Z; j++) {
			ab += (double)a[j] * b[j];
			aa += (double)a[j] * a[j];
			bb += (double)b[j] * b[j];
		}
		double cosw = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : 1;
		double w = acos(cosw < -1 ? -1 : cosw > 1 ? 1 : cosw);
		if (sin(w) > 1e-6) {
			wa = sin((1 - t) * w) / sin(w);
			wb = sin(t * w) / sin(w);
		}
	}
	for (int j = 0; j < Z; j++)
		z[j] = (float)(wa * a[j] + wb * b[j]);
}

/* Encode the two records one at a time, as vae-encode would, and lay out
 * the path; its ends are the codes mu themselves, bit for bit. */
static float *make_path(const struct cmdline *c, vk_model_tool *t, const float *x,
			const int32_t *labels)
{
	vk_model *m = &t->m;
	int Z = m->a.latent;
	size_t D = (size_t)m->a.input_size;
	float *z = vk_xmalloc(sizeof(float) * Z * c->steps);
	float *a = z, *b = z + (size_t)(c->steps - 1) * Z;
	memcpy(a, vk_encode(m, &t->w, x, labels, 1), Z * sizeof(float));
	memcpy(b, vk_encode(m, &t->w, x + D, labels + 1, 1), Z * sizeof(float));
	for (int i = 1; i < c->steps - 1; i++)
		path_point(a, b, Z, (double)i / (c->steps - 1), c->slerp, z + (size_t)i * Z);
	return z;
}

/* Decode the path's points (or write them as latents) one at a time: BLAS
 * kernels sum in an order that depends on the batch size, and a batch of one
 * makes the ends bit for bit what vae-encode | vae-decode make of each record
 * alone. A cvae decodes every point with one class, written as the label. */
struct path {
	const struct cmdline *c;
	vk_model_tool *t;
	const float *z;
	int32_t label;
};

static int vae_interp(ts_writer *w, void *arg, vk_error *e)
{
	const struct path *p = arg;
	const struct cmdline *c = p->c;
	vk_model_tool *t = p->t;
	const float *z = p->z;
	int32_t label = p->label;
	int Z = t->m.a.latent;
	for (int i = 0; i < c->steps; i++) {
		const float *zi = z + (size_t)i * Z;
		const float *out = c->latent_only ? zi : vk_decode(&t->m, &t->w, zi, &label, 1);
		if (ts_write_f32(w, out, label, e))
			return -1;
	}
	return 0;
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
	if (vk_model_tool_open(&t, c.model, c.label, 1, VK_INPUT_IMAGES, c.input, &e))
		vk_die_error(&e);
	int Z = t.m.a.latent, cvae = vk_conditional(&t.m.a);
	float *x = vk_xmalloc(2 * (size_t)t.m.a.input_size * sizeof *x);
	int32_t ends_label[2] = {TS_NO_LABEL, TS_NO_LABEL};
	if (read_ends(&c, &t, x, ends_label, &e))
		vk_die_error(&e);
	float *z = make_path(&c, &t, x, ends_label);
	int32_t label = !cvae ? TS_NO_LABEL : t.label >= 0 ? t.label : ends_label[0];
	int rc = c.latent_only ? vk_vector_header(&h, Z, cvae, &e)
			       : vk_image_header(&h, &t.m, c.u8, cvae, &e);
	if (rc || vk_stamp_meta(&h, &t.r.h, c.model, c.latent_only ? "latent" : "image", &e) ||
	    (!c.latent_only && !c.u8 && ts_meta_set(&h, "scale", "unit", &e)) ||
	    vk_write_stream(c.output, &h, vae_interp, &(struct path){&c, &t, z, label}, &e))
		vk_die_error(&e);
	vk_model_tool_close(&t);
	free(x);
	free(z);
	return 0;
}
