/* disent-eval — disentanglement metrics (MIG, β-VAE score, FactorVAE score,
 * SAP, DCI) of a model's codes, or of codes already encoded, against the
 * ground-truth factors of the same records. */
#include <stdlib.h>
#include <string.h>

#include "blascore.h"
#include "disent.h"
#include "err.h"
#include "factors.h"
#include "latents.h"
#include "modelstream.h"
#include "opts.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: disent-eval [OPTION]... [-m MODEL] DATA FACTORS\n"
	"Measure how disentangled codes are: MIG, the beta-VAE score, the FactorVAE\n"
	"score, SAP and DCI, against the ground-truth factors of the same records.\n"
	"With -m, DATA is a stream of the model's inputs, encoded to the posterior\n"
	"mean; without, DATA is a stream of codes (vae-encode's output; of a\n"
	"latent+logvar stream the means are used). FACTORS is a factor stream\n"
	"aligned with DATA (formats/factors.md; dsprites2stream -f writes one).\n"
	"Either may be - for standard input (not both).\n\n"
	"  -m, --model MODEL    encode DATA with MODEL's encoder\n"
	"      --metrics LIST   some of mig,betavae,factorvae,sap,dci (default all)\n"
	"  -s, --seed N         seed for every metric's sample (default 1)\n"
	"      --points N       MIG's points (default 10000)\n"
	"      --bins N         MIG's bins per code dim (default 20)\n"
	"      --train N        training points of the beta-VAE and FactorVAE scores,\n"
	"                       SAP and DCI (default 10000)\n"
	"      --test N         their evaluation points (default 5000)\n"
	"      --alpha X        DCI's lasso L1 weight (default 0.02)\n"
	"      --tsv            one 'metric<TAB>value' line per number, with a header\n"
	"  -b, --batch N        records per encoder batch (default 256)\n"
	"  -t, --threads N      BLAS threads (default 1)\n"
	"  -h, --help           show this help and exit\n"
	"      --version        show the version and exit\n";

struct cmdline {
	const char *model, *data, *factors;
	int which, tsv, batch, threads;
	vk_disent_opts o;
};

enum { OPT_METRICS = VK_OPT_FIRST_LONG, OPT_POINTS, OPT_BINS, OPT_TRAIN, OPT_TEST, OPT_ALPHA,
       OPT_TSV };

static const char *const METRICS[] = {"mig", "betavae", "factorvae", "sap", "dci"};

static int parse_metrics(const char *s)
{
	int which = 0;
	char buf[256];
	snprintf(buf, sizeof buf, "%s", s);
	for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		int i = 0;
		while (i < 5 && strcmp(t, METRICS[i]) != 0)
			i++;
		if (i == 5)
			vk_usage_error("--metrics: '%s' is not one of mig, betavae, factorvae, sap, dci",
				       t);
		which |= 1 << i;
	}
	if (!which)
		vk_usage_error("--metrics: no metric named");
	return which;
}

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"model", required_argument, 0, 'm'},     {"metrics", required_argument, 0, OPT_METRICS},
		{"seed", required_argument, 0, 's'},      {"points", required_argument, 0, OPT_POINTS},
		{"bins", required_argument, 0, OPT_BINS}, {"train", required_argument, 0, OPT_TRAIN},
		{"test", required_argument, 0, OPT_TEST}, {"alpha", required_argument, 0, OPT_ALPHA},
		{"tsv", no_argument, 0, OPT_TSV},         {"batch", required_argument, 0, 'b'},
		{"threads", required_argument, 0, 't'},   {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION}, {0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	vk_disent_defaults(&c->o);
	c->which = VK_M_ALL;
	c->batch = 256;
	c->threads = 1;
	int ch;
	long v;
	while ((ch = getopt_long(argc, argv, "m:s:b:t:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'm': c->model = optarg; break;
		case OPT_METRICS: c->which = parse_metrics(optarg); break;
		case 's': c->o.seed = (uint64_t)vk_parse_long("--seed", optarg, 0, 1L << 62); break;
		case OPT_POINTS: c->o.points = (int)vk_parse_long("--points", optarg, 1, 1L << 24); break;
		case OPT_BINS: c->o.bins = (int)vk_parse_long("--bins", optarg, 1, 1L << 16); break;
		case OPT_TRAIN:
			v = vk_parse_long("--train", optarg, 1, 1L << 24);
			c->o.bv_train = c->o.fv_train = c->o.sap_train = c->o.dci_train = (int)v;
			break;
		case OPT_TEST:
			v = vk_parse_long("--test", optarg, 1, 1L << 24);
			c->o.bv_eval = c->o.fv_eval = c->o.sap_test = c->o.dci_test = (int)v;
			break;
		case OPT_ALPHA: c->o.dci_alpha = vk_parse_double("--alpha", optarg, 0, 1e6); break;
		case OPT_TSV: c->tsv = 1; break;
		case 'b': c->batch = (int)vk_parse_long("--batch", optarg, 1, 65536); break;
		case 't': c->threads = (int)vk_parse_long("--threads", optarg, 1, 1024); break;
		}
	}
	if (argc - optind != 2)
		vk_usage_error("expected DATA and FACTORS operands, got %d", argc - optind);
	c->data = argv[optind];
	c->factors = argv[optind + 1];
	vk_stdin_once(2, (const char *const[]){"DATA", "FACTORS"},
		      (const char *const[]){c->data, c->factors});
}

/* Codes and factors held in memory, grown as records come (a metric samples
 * from all of them). */
struct table {
	double *z;
	int *y;
	size_t n, cap;
	int d, k;
};

static void table_grow(struct table *t)
{
	if (t->n < t->cap)
		return;
	if (t->cap >= (1u << 30))
		vk_die("more than %zu records: too many to hold for the metrics", t->cap);
	t->cap = t->cap ? 2 * t->cap : 4096;
	t->z = realloc(t->z, sizeof(double) * t->cap * t->d);
	t->y = realloc(t->y, sizeof(int) * t->cap * t->k);
	if (!t->z || !t->y)
		vk_die("out of memory holding %zu records", t->cap);
}

/* The next factor record as class indices, or the count-mismatch error. */
static void next_factors(ts_reader *fr, const vk_factors *f, struct table *t, float *buf,
			 const char *data_name)
{
	vk_error e;
	int rc = ts_read(fr, buf, NULL, &e);
	if (rc < 0)
		vk_die_error(&e);
	if (rc == 0)
		vk_die("%s has more records than the %llu of %s: the factors must be aligned "
		       "with the data, one record each", data_name, (unsigned long long)fr->index,
		       fr->name);
	if (vk_factors_check(f, buf, t->y + t->n * t->k, fr->index - 1, fr->name, &e))
		vk_die_error(&e);
}

static void check_end(ts_reader *fr, struct table *t, const char *data_name, float *buf)
{
	vk_error e;
	int rc = ts_read(fr, buf, NULL, &e);
	if (rc < 0)
		vk_die_error(&e);
	if (rc > 0)
		vk_die("%s has %zu records but %s has more: the factors must be aligned with "
		       "the data, one record each", data_name, t->n, fr->name);
}

static void check_counts(const ts_reader *dr, const ts_reader *fr)
{
	if (dr->h.count != TS_COUNT_UNKNOWN && fr->h.count != TS_COUNT_UNKNOWN &&
	    dr->h.count != fr->h.count)
		vk_die("%s has %llu records but %s has %llu: the factors must be aligned with "
		       "the data, one record each", dr->name, (unsigned long long)dr->h.count,
		       fr->name, (unsigned long long)fr->h.count);
}

/* Codes from a stream of codes: all values, or the first half of latent+logvar. */
static void read_codes(const char *path, ts_reader *fr, const vk_factors *f, struct table *t)
{
	vk_error e;
	ts_reader r;
	char kind[64];
	if (ts_reader_open(&r, path, &e))
		vk_die_error(&e);
	check_counts(&r, fr);
	if (r.h.rank != 1)
		vk_die("%s: codes are vectors (rank 1), not %u dims: encode images with -m MODEL "
		       "or vae-encode", r.name, r.h.rank);
	int width = (int)r.h.dims[0];
	t->d = width;
	if (ts_meta_get(&r.h, "kind", kind, sizeof kind) && strcmp(kind, "latent+logvar") == 0)
		t->d = width / 2;
	float *rec = vk_xmalloc(sizeof(float) * width), *fb = vk_xmalloc(sizeof(float) * f->k);
	int rc;
	while ((rc = ts_read_f32(&r, rec, NULL, &e)) > 0) {
		table_grow(t);
		next_factors(fr, f, t, fb, r.name);
		for (int a = 0; a < t->d; a++)
			t->z[t->n * t->d + a] = rec[a];
		t->n++;
	}
	if (rc < 0)
		vk_die_error(&e);
	check_end(fr, t, r.name, fb);
	ts_reader_close(&r);
	free(rec);
	free(fb);
}

/* Codes from a model: the posterior mean of every record (an AE's code). */
static void encode_codes(const struct cmdline *c, ts_reader *fr, const vk_factors *f,
			 struct table *t)
{
	vk_error e;
	vk_model_tool mt;
	if (vk_model_tool_open(&mt, c->model, NULL, c->batch, VK_INPUT_IMAGES, c->data, &e))
		vk_die_error(&e);
	check_counts(&mt.r, fr);
	vk_model *m = &mt.m;
	const vk_latent_kind *latent = vk_latent_of(&m->a);
	if (!latent->noise)
		vk_warn("%s is an autoencoder (no stochastic latent): every metric is measured on "
			"its deterministic code, as on a VAE's posterior mean", c->model);
	int Z = m->a.latent;
	t->d = Z;
	size_t in = ts_elems(&mt.r.h);
	float *x = vk_xmalloc(sizeof(float) * in * c->batch), *z = vk_xmalloc(sizeof(float) * Z * c->batch);
	float *fb = vk_xmalloc(sizeof(float) * f->k);
	int32_t *labels = vk_xmalloc(sizeof(int32_t) * c->batch);
	for (;;) {
		size_t got;
		if (ts_read_batch_f32(&mt.r, x, labels, c->batch, &got, &e))
			vk_die_error(&e);
		if (!got)
			break;
		if (vk_conditional(&m->a) &&
		    vk_check_labels(m, labels, got, mt.r.index - got, mt.r.name, &e))
			vk_die_error(&e);
		const float *head = vk_encode(m, &mt.w, x, labels, (int)got);
		vk_latent_sample(m, &mt.w, z, Z, head, NULL, NULL, (int)got);
		for (size_t i = 0; i < got; i++) {
			table_grow(t);
			next_factors(fr, f, t, fb, mt.r.name);
			for (int a = 0; a < Z; a++)
				t->z[t->n * Z + a] = z[i * Z + a];
			t->n++;
		}
	}
	check_end(fr, t, mt.r.name, fb);
	free(x), free(z), free(fb), free(labels);
	vk_model_tool_close(&mt);
}

static int key_width = 22;

static void put(int tsv, const char *key, const char *fmt, double v)
{
	if (tsv)
		printf("%s\t", key);
	else
		printf("%-*s", key_width, key);
	printf(fmt, v);
	putchar('\n');
}

static void report(const struct cmdline *c, const struct table *t, const vk_factors *f,
		   const int *kept, int nkept, const vk_disent_result *r)
{
	if (c->tsv)
		printf("metric\tvalue\n");
	put(c->tsv, "records", "%.0f", (double)t->n);
	put(c->tsv, "code_dims", "%.0f", t->d);
	put(c->tsv, "factors", "%.0f", nkept);
	if (!c->tsv) {
		printf("%-*s", key_width, "factor_names");
		for (int i = 0; i < nkept; i++)
			printf("%s%s", i ? " " : "", f->name[kept[i]]);
		if (nkept < f->k)
			printf(" (one value, left out:");
		for (int i = 0; i < f->k; i++)
			if (f->size[i] < 2)
				printf(" %s", f->name[i]);
		printf("%s\n", nkept < f->k ? ")" : "");
	}
	const char *g = "%.9g";
	if (c->which & VK_M_MIG)
		put(c->tsv, "mig", g, r->mig);
	if (c->which & VK_M_BETAVAE) {
		put(c->tsv, "betavae_train", g, r->bv_train);
		put(c->tsv, "betavae_eval", g, r->bv_eval);
	}
	if (c->which & VK_M_FACTORVAE) {
		put(c->tsv, "factorvae_train", g, r->fv_train);
		put(c->tsv, "factorvae_eval", g, r->fv_eval);
		put(c->tsv, "factorvae_active_dims", "%.0f", r->fv_active);
	}
	if (c->which & VK_M_SAP)
		put(c->tsv, "sap", g, r->sap);
	if (c->which & VK_M_DCI) {
		put(c->tsv, "dci_disentanglement", g, r->dci_d);
		put(c->tsv, "dci_completeness", g, r->dci_c);
		put(c->tsv, "dci_informativeness", g, r->dci_i);
	}
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	vk_blas_init(argv);
	parse_cmdline(argc, argv, &c);
	vk_set_threads(c.threads);

	ts_reader fr;
	vk_factors f;
	if (ts_reader_open(&fr, c.factors, &e) || vk_factors_parse(&f, &fr.h, fr.name, &e))
		vk_die_error(&e);
	struct table t = {.k = f.k};
	if (c.model)
		encode_codes(&c, &fr, &f, &t);
	else
		read_codes(c.data, &fr, &f, &t);
	if (t.n == 0)
		vk_die("%s: no records to measure", c.data);

	/* Factors of one value say nothing: left out (as disentanglement_lib does). */
	int kept[VK_FACTORS_MAX], nkept = 0, size[VK_FACTORS_MAX];
	for (int i = 0; i < f.k; i++)
		if (f.size[i] >= 2) {
			size[nkept] = f.size[i];
			kept[nkept++] = i;
		}
	if (!nkept)
		vk_die("%s: every factor has one value: nothing to measure", fr.name);
	int *y = vk_xmalloc(sizeof(int) * t.n * nkept);
	for (size_t i = 0; i < t.n; i++)
		for (int j = 0; j < nkept; j++)
			y[i * nkept + j] = t.y[i * f.k + kept[j]];
	vk_disent_data x = {.z = t.z, .y = y, .size = size, .n = (int)t.n, .d = t.d, .k = nkept};
	vk_disent_result r;
	if (vk_disent_eval(&x, &c.o, c.which, &r, &e))
		vk_die_error(&e);
	report(&c, &t, &f, kept, nkept, &r);
	ts_reader_close(&fr);
	free(t.z), free(t.y), free(y);
	vk_close_stdout();
	return 0;
}
