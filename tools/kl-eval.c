/* kl-eval — measure models on a stream: reconstruction, KL, −ELBO, the
 * importance-weighted log p(x), per-dimension KL and active units; with
 * --aggregate, the codes' MMD to the prior and β-TCVAE's MI, TC and
 * dimension-wise KL over batches; a PixelCNN prior's exact NLL of code
 * maps, against the independent per-position baseline. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "aggregate.h"
#include "blascore.h"
#include "classes.h"
#include "complexity.h"
#include "err.h"
#include "evaltsv.h"
#include "evaluate.h"
#include "guard.h"
#include "modelfile.h"
#include "modelstream.h"
#include "opts.h"
#include "manifest.h"
#include "pixelcnn.h"
#include "progress.h"
#include "stream.h"
#include "tsv.h"

static const char USAGE[] =
	"Usage: kl-eval [-m MODEL]... [OPTION]... [DATA]\n"
	"   or: kl-eval --merge [OPTION]... SUMMARY...\n"
	"Measure each MODEL on the tensor stream DATA (standard input when absent or -):\n"
	"mean reconstruction loss, KL and -ELBO in nats per record, active units and,\n"
	"with --iw, the importance-weighted estimate of -log p(x). Without -m, DATA is\n"
	"what vae-encode --with-logvar writes (mu then log sigma^2 per record) and the\n"
	"KL to N(0, I) is measured per record and per latent dimension. A table on a\n"
	"terminal, TSV otherwise; --merge adds up summaries that --tsv wrote for shards\n"
	"(or joins --per-record TSVs of contiguous shards, renumbering the records).\n"
	"A pixelcnn's rec is its exact NLL of each code map (nats; in bits per map and\n"
	"per code on standard error).\n\n"
	"  -m, --model MODEL  a model to measure (repeat for a row per model)\n"
	"  -s, --seed N       seed of the noise (default 1; same seed, same numbers)\n"
	"  -k, --iw K         also estimate log p(x) with K importance samples\n"
	"  -a, --aggregate B  also the codes' MMD to the prior and the MI, total correlation\n"
	"                     and dimension-wise KL estimates, over batches of B records\n"
	"      --per-record   scores per record instead of the summary: TSV with a header,\n"
	"                     record label model rec kl nelbo nlogpx complexity ccl llr,\n"
	"                     then class when DATA names its classes\n"
	"      --manifest FILE  with --per-record, a last column file: each record's\n"
	"                     source file, from img2stream --manifest's FILE for DATA\n"
	"      --stream       with --per-record, a tensor stream of the scores (f64)\n"
	"      --background MODEL  with --per-record, the likelihood ratio llr of each\n"
	"                     model against MODEL (trained on perturbed data)\n"
	"      --baseline TRAIN  with pixelcnn models: also the NLL of DATA under the\n"
	"                     independent per-position categorical fitted to the code\n"
	"                     stream TRAIN, and how far below it each model is\n"
	"  -d, --dims         show the per-dimension table on a terminal too\n"
	"      --tsv          TSV even on a terminal\n"
	"      --table        the readable table even into a pipe\n"
	"      --merge        add up summary TSVs of shards (operands are summaries)\n"
	"  -t, --threads N    BLAS threads (default: all processors)\n"
	"  -v, --verbose      timings on standard error\n"
	"  -h, --help         show this help and exit\n"
	"      --version      show the version and exit\n";

#define MAX_MODELS 16
#define BATCH VK_EVAL_BATCH    /* records read and encoded at a time */
#define IW_CHUNK VK_EVAL_BATCH /* importance samples decoded at a time */
#define MAX_LATENT 4096

struct cmdline {
	const char *models[MAX_MODELS], *background, *manifest, *baseline;
	int n_models, iw, per_record, stream, dims, tsv, merge, threads, verbose, aggregate;
	uint64_t seed;
	char **operands;
	int n_operands;
};

/* One row of the result: a model, or the latent stream when there is none. */
struct evaluator {
	vk_evalrow row;         /* name, kind (a model kind's number, 0 for a latent
				 * stream) and the sums */
	vk_model m;
	vk_work w;
	float rec[BATCH], kl[BATCH];
	double lp[BATCH];
	double seconds, iw_seconds;
	vk_aggregate agg;       /* --aggregate's batches */
	int32_t *idx;           /* a discrete latent's code map of one record */
};

enum { OPT_PER_RECORD = VK_OPT_FIRST_LONG, OPT_STREAM, OPT_BACKGROUND, OPT_TSV, OPT_TABLE, OPT_MERGE,
       OPT_MANIFEST, OPT_BASELINE };

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"model", required_argument, 0, 'm'}, {"seed", required_argument, 0, 's'},
		{"iw", required_argument, 0, 'k'}, {"per-record", no_argument, 0, OPT_PER_RECORD},
		{"aggregate", required_argument, 0, 'a'},
		{"dims", no_argument, 0, 'd'}, {"tsv", no_argument, 0, OPT_TSV},
		{"table", no_argument, 0, OPT_TABLE}, {"merge", no_argument, 0, OPT_MERGE},
		{"stream", no_argument, 0, OPT_STREAM},
		{"background", required_argument, 0, OPT_BACKGROUND},
		{"manifest", required_argument, 0, OPT_MANIFEST},
		{"baseline", required_argument, 0, OPT_BASELINE},
		{"threads", required_argument, 0, 't'}, {"verbose", no_argument, 0, 'v'},
		{"help", no_argument, 0, 'h'}, {"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->seed = 1;
	c->tsv = -1;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	c->threads = cpus > 0 ? (int)cpus : 1;
	int ch;
	while ((ch = getopt_long(argc, argv, "m:s:k:a:dt:vh", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'm':
			if (c->n_models == MAX_MODELS)
				vk_usage_error("at most %d models (-m)", MAX_MODELS);
			c->models[c->n_models++] = optarg;
			break;
		case 's': c->seed = (uint64_t)vk_parse_long("--seed", optarg, 0, 0x7fffffffffffffffL); break;
		case 'k': c->iw = (int)vk_parse_long("--iw", optarg, 1, 10000000); break;
		case 'a': c->aggregate = (int)vk_parse_long("--aggregate", optarg, 2, 65536); break;
		case OPT_PER_RECORD: c->per_record = 1; break;
		case OPT_STREAM: c->stream = 1; break;
		case OPT_BACKGROUND: c->background = optarg; break;
		case OPT_MANIFEST: c->manifest = optarg; break;
		case OPT_BASELINE: c->baseline = optarg; break;
		case 'd': c->dims = 1; break;
		case OPT_TSV: c->tsv = 1; break;
		case OPT_TABLE: c->tsv = 0; break;
		case OPT_MERGE: c->merge = 1; break;
		case 't': c->threads = (int)vk_parse_long("--threads", optarg, 1, 1024); break;
		case 'v': c->verbose = 1; break;
		}
	}
	c->operands = argv + optind;
	c->n_operands = argc - optind;
	if (c->background && !c->per_record)
		vk_option_has_no_effect("--background", "without --per-record (the likelihood ratio "
					"is a per-record score; add the model with -m for its summary)");
	if (c->manifest && (!c->per_record || c->stream))
		vk_option_has_no_effect("--manifest", c->per_record ? "with --stream (a file name "
					"is not a number: trace records by their index)" :
					"without --per-record (its file column is per record)");
	if (c->tsv < 0)
		c->tsv = !isatty(STDOUT_FILENO);
	if (c->stream && !c->per_record)
		vk_option_has_no_effect("--stream", "without --per-record (the summary is TSV or a "
					"table)");
	if (c->aggregate && c->per_record)
		vk_option_has_no_effect("--aggregate", "with --per-record (its estimates are "
					"batches', not records')");
	if (c->merge) {
		if (c->n_models || c->iw || c->per_record || c->aggregate)
			vk_usage_error("--merge reads summaries: it takes no -m, --iw, --aggregate or "
				       "--per-record");
		if (!c->n_operands)
			vk_usage_error("--merge needs the summary files to add up");
		return;
	}
	if (c->n_operands > 1)
		vk_usage_error("one DATA stream at a time (got %d operands)", c->n_operands);
	if (c->background && !c->n_models)
		vk_usage_error("--background needs the models to compare with it (-m MODEL)");
	if (c->iw && !c->n_models)
		vk_usage_error("--iw needs a model to decode with (-m MODEL)");
	if (c->aggregate && !c->n_models)
		vk_usage_error("--aggregate needs a model to draw the codes (-m MODEL)");
	if (c->baseline && (!c->n_models || c->per_record))
		vk_usage_error("--baseline compares pixelcnn models (-m) in the summary, not "
			       "with%s", c->per_record ? " --per-record" : "out a model");
}

/* ---- evaluating ---- */

static void open_model(struct evaluator *ev, const char *path, ts_reader *r, int iw,
		       const struct cmdline *c)
{
	vk_error e;
	static vk_trainrec rec;
	memset(ev, 0, sizeof *ev);
	ev->row.name = path;
	if (vk_model_load(path, &ev->m, &rec, NULL, &e))
		vk_die_error(&e);
	ev->row.kind = ev->m.a.kind;
	if (vk_check_input(&ev->m, &r->h, r->name, &e))
		vk_die("%s (model %s)", e.msg, path);
	if (vk_match_stream_classes(&ev->m, &rec, path, r, &e)) /* a cvae's classes by name */
		vk_die_error(&e);
	int vae = vk_evalrow_has_kl(ev->row.kind);
	if (vk_work_alloc(&ev->w, &ev->m, iw && vae ? IW_CHUNK : BATCH, &e) ||
	    vk_evalsum_init(&ev->row.sum, ev->m.a.latent, vae, 1, vae ? iw : 0, &e))
		vk_die_error(&e);
	char cb[32];
	const char *codebook = vk_autoregressive(&ev->m.a)
				       ? ts_meta_get(&r->h, "codebook", cb, sizeof cb) : NULL;
	if (codebook && atol(codebook) != ev->m.a.codes)
		vk_die("%s: codes of a codebook of %s, but the prior %s was trained on a codebook "
		       "of %d", r->name, codebook, path, ev->m.a.codes);
	if (c->aggregate && vk_aggregate_init(&ev->agg, ev->m.a.latent, c->aggregate, vae,
					      c->seed, &e))
		vk_die_error(&e);
	ev->row.has_aggregate = c->aggregate > 0;
	if (!vae && !vk_autoregressive(&ev->m.a))
		vk_warn("%s: %s: deterministic encoder, no ELBO (reconstruction only%s)", path,
			vk_kind_name(ev->m.a.kind), c->aggregate ? "; of --aggregate, the MMD only" : "");
	if (ev->m.a.codes && !vk_autoregressive(&ev->m.a)) {
		if (vk_evalsum_codes(&ev->row.sum, ev->m.a.codes, &e))
			vk_die_error(&e);
		ev->idx = vk_xmalloc(sizeof(int32_t) * ev->m.a.latent);
	}
}

/* Without a model the stream holds μ | log σ² per record. */
static void open_latent(struct evaluator *ev, const ts_reader *r)
{
	vk_error e;
	char kind[64], s[64];
	memset(ev, 0, sizeof *ev);
	ev->row.name = "-";
	if (ts_meta_get(&r->h, "kind", kind, sizeof kind) && strcmp(kind, "latent+logvar"))
		vk_die("%s: kind=%s is not latent+logvar; measure images with -m MODEL, or "
		       "encode them with vae-encode --with-logvar", r->name, kind);
	size_t n = ts_elems(&r->h);
	if (r->h.rank != 1 || n % 2 || n / 2 > MAX_LATENT)
		vk_die("%s: records of shape %s are not mu then log sigma^2 (an even-length "
		       "vector of at most %d)", r->name, ts_shape_str(&r->h, s, sizeof s),
		       2 * MAX_LATENT);
	if (vk_evalsum_init(&ev->row.sum, (int)n / 2, 1, 0, 0, &e))
		vk_die_error(&e);
}

static void evaluate_batch(struct evaluator *ev, const char *src, const float *x,
			   const int32_t *labels, size_t n, uint64_t first, const struct cmdline *c)
{
	if (!ev->row.kind) {
		size_t Z = ev->row.sum.Z;
		for (size_t i = 0; i < n; i++) {
			ev->kl[i] = (float)vk_kl_head(x + i * 2 * Z, (int)Z);
			vk_evalsum_add(&ev->row.sum, 0, 0, 0, x + i * 2 * Z);
		}
		return;
	}
	vk_model *m = &ev->m;
	int cvae = vk_conditional(&m->a), D = m->a.input_size;
	vk_error e;
	if (cvae && vk_check_labels(m, labels, n, first, src, &e))
		vk_die("%s (model %s)", e.msg, ev->row.name);
	if (vk_lik_of(&m->a)->unit_targets && vk_check_unit_rows(x, n, D, first, src, &e))
		vk_die("%s (model %s)", e.msg, ev->row.name); /* vae-train's rule (guard.h) */
	if (vk_lik_of(&m->a)->check_rows &&
	    vk_lik_of(&m->a)->check_rows(&m->a, x, n, D, first, src, &e))
		vk_die("%s (model %s)", e.msg, ev->row.name); /* codes in [0, K) */
	const int32_t *lab = cvae ? labels : NULL;
	const float *head = m->n_enc ? ev->w.act_enc[m->n_enc - 1] : NULL;
	double t0 = vk_now(), t_iw = 0;
	/* One record at a time: BLAS rounds a row differently depending on its
	 * place in a batch, and a record must get the same numbers in any shard,
	 * so that --merge of shards equals the whole run. */
	for (size_t i = 0; i < n; i++) {
		const float *xi = x + i * D;
		const int32_t *li = lab ? lab + i : NULL;
		vk_eval_batch(m, &ev->w, xi, li, 1, c->seed, ev->rec + i, ev->kl + i);
		ev->lp[i] = NAN;
		if (ev->row.sum.iw) {
			double t = vk_now();
			ev->lp[i] = vk_iw_logpx(m, &ev->w, xi, li ? *li : TS_NO_LABEL, head,
						ev->row.sum.iw, c->seed);
			t_iw += vk_now() - t;
		}
		vk_evalsum_add(&ev->row.sum, ev->rec[i], ev->kl[i], ev->lp[i], head);
		if (ev->row.has_aggregate)
			vk_aggregate_add(&ev->agg, ev->w.z, head);
		if (ev->idx) {
			/* the record's code map, for the codes' usage */
			vk_latent_ctx lc = vk_latent_ctx_of(m, NULL);
			vk_shape map = m->code;
			int P = map.h > 0 ? map.h * map.w : 1;
			vk_latent_of(&m->a)->codes(&lc, ev->idx, head, 1);
			for (int p = 0; p < P; p++)
				ev->row.sum.code_n[ev->idx[p]]++;
		}
	}
	double t1 = vk_now() - t_iw;
	ev->seconds += t1 - t0;
	ev->iw_seconds += t_iw;
}

/* ---- a prior over code maps: bits, and the independent baseline ---- */

/* --baseline's fit, and its NLL of the data measured so far. */
static vk_code_baseline base;
static double base_nll;

/* The independent per-position categorical of the code stream path, for
 * the code maps of model m (its shape and codebook). */
static void fit_baseline(const char *path, const vk_model *m)
{
	vk_error e;
	ts_reader r;
	char cb[32];
	if (!vk_autoregressive(&m->a))
		vk_usage_error("--baseline: %s is not a pixelcnn", m->a.kind ? vk_kind_name(m->a.kind)
									   : "?");
	if (ts_reader_open(&r, path, &e) || vk_check_input(m, &r.h, r.name, &e))
		vk_die_error(&e);
	const char *codebook = ts_meta_get(&r.h, "codebook", cb, sizeof cb);
	if (codebook && atol(codebook) != m->a.codes)
		vk_die("%s: codes of a codebook of %s, but the prior was trained on a codebook of %d",
		       r.name, codebook, m->a.codes);
	int P = m->a.input_size, u8 = r.h.dtype == TS_U8;
	float *x = vk_xmalloc(sizeof(float) * P);
	if (vk_code_baseline_init(&base, P, m->a.codes, &e))
		vk_die_error(&e);
	int got;
	uint64_t i = 0;
	while ((got = ts_read_f32(&r, x, NULL, &e)) == 1) {
		for (int j = 0; u8 && j < P; j++)
			x[j] = rintf(x[j] * 255.0f);
		if (vk_lik_of(&m->a)->check_rows(&m->a, x, 1, P, i++, r.name, &e))
			vk_die_error(&e);
		vk_code_baseline_add(&base, x, 1);
	}
	if (got < 0)
		vk_die_error(&e);
	if (!base.n)
		vk_die("--baseline %s: no code maps to fit", r.name);
	ts_reader_close(&r);
	free(x);
}

/* Each prior's NLL in bits per map and per code, and the baseline's, on
 * standard error (the table and TSV hold the nats). */
static void report_bits(const struct evaluator *ev, int n_ev, const struct cmdline *c)
{
	const double bits = 1.0 / log(2.0);
	double b = base.n && ev[0].row.sum.n ? base_nll / ev[0].row.sum.n * bits : NAN;
	if (c->baseline)
		vk_warn("baseline (independent per-position categorical of %s, %llu maps): %.4f bits "
			"per code map, %.5f per code", c->baseline, (unsigned long long)base.n, b,
			b / base.P);
	for (int k = 0; k < n_ev; k++) {
		const vk_evalsum *s = &ev[k].row.sum;
		if (!ev[k].row.kind || !vk_autoregressive(&ev[k].m.a) || !s->n)
			continue;
		double nats = vk_sum_mean(s->rec, s->n), P = ev[k].m.a.input_size;
		vk_warn("%s: NLL %.4f nats = %.4f bits per code map, %.5f bits per code%s", ev[k].row.name,
			nats, nats * bits, nats * bits / P, "");
		if (c->baseline)
			vk_warn("%s: %.1f%% below the baseline", ev[k].row.name,
				100.0 * (1.0 - nats * bits / b));
	}
}

/* ---- per-record scores: TSV, or a tensor stream of the same numbers ---- */

/* Every score is "higher is more unusual" (nats per record). */
enum { SC_REC, SC_KL, SC_NELBO, SC_NLOGPX, SC_COMPLEXITY, SC_CCL, SC_LLR, N_SCORES };
static const char *const SCORE_NAME[N_SCORES] = {"rec", "kl", "nelbo", "nlogpx",
						  "complexity", "ccl", "llr"};

/* The background model of --background (the last evaluator), or NULL. */
static const struct evaluator *background;
#define RECORDS_HEADER \
	"record\tlabel\tmodel\trec\tkl\tnelbo\tnlogpx\tcomplexity\tccl\tllr"

/* Which scores an evaluator has: KL alone for a latent stream, the
 * reconstruction alone for an AE; a (C)VAE has them all, −log p̂ with --iw. */
static int has_score(const struct evaluator *v, int k)
{
	if (!v->row.kind)
		return k == SC_KL;
	if (!vk_evalrow_has_kl(v->row.kind))
		return k == SC_REC;
	if (k == SC_LLR)
		return background != NULL;
	return k != SC_NLOGPX || v->row.sum.iw;
}

/* The best likelihood bound measured for record i: −log p̂ with --iw, else −ELBO. */
static double nll(const struct evaluator *v, size_t i)
{
	return v->row.sum.iw ? -v->lp[i] : (double)v->rec[i] + v->kl[i];
}

/* Record i's score k. The complexity-corrected score (Serrà et al. 2020)
 * subtracts L(x) from the best likelihood bound; the likelihood ratio (Ren et
 * al. 2019) subtracts the background model's bound. */
static double score(const struct evaluator *v, size_t i, int k, double complexity)
{
	switch (k) {
	case SC_REC: return v->rec[i];
	case SC_KL: return v->kl[i];
	case SC_NELBO: return (double)v->rec[i] + v->kl[i];
	case SC_NLOGPX: return -v->lp[i];
	case SC_COMPLEXITY: return complexity;
	case SC_CCL: return nll(v, i) - complexity;
	default: return nll(v, i) - nll(background, i);
	}
}

/* The optional last columns: class (when the data names its classes) and file
 * (--manifest), both percent-encoded as the metadata and manifests are, so a
 * tab or newline in a name keeps the line whole. */
struct extra {
	const ts_header *h;   /* the data's header, when it names classes; else NULL */
	const vk_manifest *files;
	const char *manifest;
};

/* Does the stream name any of its classes (class.I=NAME)? */
static int names_classes(const ts_header *h)
{
	char buf[32], name[VK_CLASS_NAME_MAX];
	long n = ts_meta_get(h, "classes", buf, sizeof buf) ? strtol(buf, NULL, 10) : 0;
	for (long i = 0; i < n && i < VK_CLASS_MAP_MAX; i++)
		if (vk_class_name(h, (int)i, name, sizeof name))
			return 1;
	return 0;
}

static void print_extra(const struct extra *x, const int32_t *labels, int has_labels,
			size_t i, uint64_t k)
{
	char name[VK_CLASS_NAME_MAX], enc[3 * VK_CLASS_NAME_MAX];
	if (x->h)
		printf("\t%s", has_labels && vk_class_name(x->h, labels[i], name, sizeof name) ?
			       vk_class_encode(name, enc, sizeof enc) : "NA");
	if (x->files) {
		if (k >= x->files->n)
			vk_die("--manifest %s: record %llu is past its end (%llu records): the "
			       "manifest of another stream?", x->manifest, (unsigned long long)k,
			       (unsigned long long)x->files->n);
		printf("\t%s", vk_class_encode(x->files->file[k], enc, sizeof enc));
	}
}

static void print_records(const struct evaluator *ev, int n_ev, const int32_t *labels,
			  int has_labels, size_t n, uint64_t first, const double *complexity,
			  const struct extra *x)
{
	for (size_t i = 0; i < n; i++)
		for (int m = 0; m < n_ev; m++) {
			const struct evaluator *v = &ev[m];
			printf("%llu\t", (unsigned long long)(first + i));
			printf(has_labels ? "%d\t" : "NA\t", has_labels ? (int)labels[i] : 0);
			fputs(v->row.name, stdout);
			for (int k = 0; k < N_SCORES; k++)
				if (has_score(v, k))
					printf("\t%.9g", score(v, i, k, complexity[i]));
				else
					fputs("\tNA", stdout);
			print_extra(x, labels, has_labels, i, first + i);
			putchar('\n');
		}
}

/* The scores stream: one f64 record per input record, the scores each
 * evaluator has in -m order, named in the metadata (score.I=NAME and, with
 * several models, score.I.model=MODEL); the input's labels and metadata kept. */
static void open_scores(ts_writer *w, const struct evaluator *ev, int n_ev, const ts_reader *r)
{
	vk_error e;
	ts_header h = r->h;
	uint32_t n = 0;
	char key[64], val[VK_CLASS_NAME_MAX * 3];
	h.dtype = TS_F64;
	h.count = TS_COUNT_UNKNOWN;
	ts_meta_unset(&h, "scale");
	int bad = ts_meta_set(&h, "kind", "scores", &e);
	for (int m = 0; m < n_ev && !bad; m++)
		for (int k = 0; k < N_SCORES && !bad; k++) {
			if (!has_score(&ev[m], k))
				continue;
			snprintf(key, sizeof key, "score.%u", n);
			bad = ts_meta_set(&h, key, SCORE_NAME[k], &e);
			if (n_ev > 1 && !bad) {
				snprintf(key, sizeof key, "score.%u.model", n);
				bad = ts_meta_set(&h, key, vk_class_encode(ev[m].row.name, val,
									    sizeof val), &e);
			}
			n++;
		}
	snprintf(val, sizeof val, "%u", n);
	if (bad || ts_meta_set(&h, "scores", val, &e))
		vk_die("the scores' names do not fit a stream's metadata: %s", e.msg);
	h.rank = 1;
	memset(h.dims, 0, sizeof h.dims);
	h.dims[0] = n;
	if (ts_writer_open(w, NULL, &h, &e))
		vk_die_error(&e);
}

static void write_scores(ts_writer *w, const struct evaluator *ev, int n_ev,
			 const int32_t *labels, size_t n, const double *complexity)
{
	vk_error e;
	double row[MAX_MODELS * N_SCORES];
	for (size_t i = 0; i < n; i++) {
		size_t j = 0;
		for (int m = 0; m < n_ev; m++)
			for (int k = 0; k < N_SCORES; k++)
				if (has_score(&ev[m], k))
					row[j++] = score(&ev[m], i, k, complexity[i]);
		if (ts_write(w, row, w->h.has_labels ? labels[i] : TS_NO_LABEL, &e))
			vk_die_error(&e);
	}
}

static void run_all(struct evaluator *ev, int n_ev, ts_reader *r, const struct cmdline *c)
{
	vk_error e;
	size_t D = ts_elems(&r->h), got;
	float *x = vk_xmalloc(sizeof(float) * BATCH * D);
	int32_t labels[BATCH];
	double complexity[BATCH];
	vk_complexity cx = {0};
	ts_writer scores;
	int n_out = n_ev - (background != NULL);  /* the background has no rows of its own */
	int codes_u8 = r->h.dtype == TS_U8 && c->n_models && vk_autoregressive(&ev[0].m.a);
	if (c->per_record && vk_complexity_init(&cx, D, &e))
		vk_die_error(&e);
	struct extra ex = {0};
	vk_manifest files = {0};
	if (c->per_record && !c->stream) {
		if (r->h.has_labels && names_classes(&r->h))
			ex.h = &r->h;
		if (c->manifest) {
			if (vk_manifest_load(&files, c->manifest, &e))
				vk_die_error(&e);
			ex.files = &files;
			ex.manifest = c->manifest;
		}
	}
	if (c->per_record && c->stream)
		open_scores(&scores, ev, n_out, r);
	else if (c->per_record)
		printf("%s%s%s\n", RECORDS_HEADER, ex.h ? "\tclass" : "", ex.files ? "\tfile" : "");
	uint64_t first = 0;
	/* Importance sampling takes long per record: read fewer at a time so the
	 * meter (on a terminal) moves. Records are measured one by one anyway. */
	int iw = 0;
	for (int k = 0; k < n_ev; k++)
		iw |= ev[k].row.sum.iw > 0;
	size_t batch = iw ? 8 : BATCH;
	vk_progress p;
	vk_progress_start(&p, "records", r->h.count == TS_COUNT_UNKNOWN ? 0 : r->h.count);
	if (iw)
		vk_progress_label(&p, "importance sampling");
	for (;;) {
		if (ts_read_batch_f32(r, x, labels, batch, &got, &e))
			vk_die_error(&e);
		if (!got)
			break;
		if (codes_u8) /* a u8 code stream reads as x/255: its codes back */
			for (size_t i = 0; i < got * D; i++)
				x[i] = rintf(x[i] * 255.0f);
		for (int k = 0; k < n_ev; k++)
			evaluate_batch(&ev[k], r->name, x, labels, got, first, c);
		for (size_t i = 0; base.n && i < got; i++)
			base_nll += vk_code_baseline_nll(&base, x + i * D);
		if (c->per_record)
			for (size_t i = 0; i < got; i++)
				complexity[i] = c->n_models ? vk_complexity_f32(&cx, x + i * D) : NAN;
		if (c->per_record && c->stream)
			write_scores(&scores, ev, n_out, labels, got, complexity);
		else if (c->per_record)
			print_records(ev, n_out, labels, r->h.has_labels, got, first, complexity, &ex);
		first += got;
		vk_progress_update(&p, first);
	}
	vk_progress_end(&p);
	if (ex.files && first != files.n)
		vk_die("--manifest %s: %llu records, but %s has %llu: the manifest of another "
		       "stream?", c->manifest, (unsigned long long)files.n, r->name,
		       (unsigned long long)first);
	vk_manifest_free(&files);
	free(x);
	vk_complexity_free(&cx);
	if (c->per_record && c->stream && ts_writer_close(&scores, &e))
		vk_die_error(&e);
	for (int k = 0; k < n_ev; k++) {
		if (ev[k].row.has_aggregate) {
			vk_aggregate_finish(&ev[k].agg, first, ev[k].row.agg);
			vk_aggregate_free(&ev[k].agg);
		}
		if (ev[k].row.sum.bad)
			vk_die("%s: a loss is not finite or too large to add up exactly", ev[k].row.name);
		if (c->verbose && ev[k].row.kind)
			vk_warn("%s: %.2fs for %llu records (%.0f/s)%s", ev[k].row.name, ev[k].seconds,
				(unsigned long long)first, first / ev[k].seconds, "");
		if (c->verbose && ev[k].row.sum.iw)
			vk_warn("%s: importance sampling K=%d: %.2fs (%.1f ms per record, %.0f "
				"samples/s)", ev[k].row.name, ev[k].row.sum.iw, ev[k].iw_seconds,
				1e3 * ev[k].iw_seconds / first,
				(double)first * ev[k].row.sum.iw / ev[k].iw_seconds);
	}
}

/* ---- summaries: a table for people, TSV for scripts and --merge ---- */

static int name_width(const struct evaluator *ev, int n_ev)
{
	int w = 5;
	for (int k = 0; k < n_ev; k++)
		if ((int)strlen(ev[k].row.name) > w)
			w = (int)strlen(ev[k].row.name);
	return w;
}

static void cell(int width, int have, double v)
{
	if (have && !isnan(v))
		printf(" %*.*f", width, width > 7 ? 3 : 2, v);
	else
		printf(" %*s", width, "-");
}

static void print_table(const struct evaluator *ev, int n_ev, int dims)
{
	int nw = name_width(ev, n_ev), any_iw = 0;
	for (int k = 0; k < n_ev; k++)
		any_iw |= ev[k].row.sum.iw != 0;
	printf("%-*s %-6s %8s %10s %10s %10s %7s", nw, "model", "kind", "records", "rec", "kl",
	       "-elbo", "se");
	if (any_iw)
		printf(" %6s %10s %7s %8s", "K", "-log p(x)", "se", "gap");
	printf(" %7s\n", "active");
	for (int k = 0; k < n_ev; k++) {
		const vk_evalsum *s = &ev[k].row.sum;
		int elbo = s->has_rec && s->has_kl;
		double nelbo = vk_sum_mean(s->rec, s->n) + vk_sum_mean(s->kl, s->n);
		printf("%-*s %-6s %8llu", nw, ev[k].row.name, vk_evalrow_kind_name(ev[k].row.kind),
		       (unsigned long long)s->n);
		cell(10, s->has_rec, vk_sum_mean(s->rec, s->n));
		cell(10, s->has_kl, vk_sum_mean(s->kl, s->n));
		cell(10, elbo, nelbo);
		cell(7, elbo, vk_sum_se(s->rec + s->kl, s->nelbo2, s->n));
		if (any_iw) {
			double nlp = -vk_sum_mean(s->lp, s->n);
			if (s->iw)
				printf(" %6d", s->iw);
			else
				printf(" %6s", "-");
			cell(10, s->iw, nlp);
			cell(7, s->iw, vk_sum_se(s->lp, s->lp2, s->n));
			cell(8, s->iw, nelbo - nlp);
		}
		printf(" %4d/%-4d\n", vk_evalsum_active(s, VK_ACTIVE_THRESHOLD), s->Z);
	}
	if (ev[0].row.has_aggregate || (n_ev > 1 && ev[1].row.has_aggregate)) {
		printf("\n%-*s %10s %10s %10s %10s\n", nw, "model", "mmd", "mi", "tc", "dim-kl");
		for (int k = 0; k < n_ev; k++) {
			const vk_evalrow *r = &ev[k].row;
			printf("%-*s", nw, r->name);
			for (int j = 0; j < 4; j++)
				cell(10, r->has_aggregate, r->agg[j]);
			putchar('\n');
		}
	}
	int any_codes = 0;
	for (int k = 0; k < n_ev; k++)
		any_codes |= ev[k].row.sum.codes != 0;
	if (any_codes) {
		/* a discrete latent's usage on these records */
		printf("\n%-*s %8s %8s %8s %10s\n", nw, "model", "codes", "used", "dead", "perplexity");
		for (int k = 0; k < n_ev; k++) {
			const vk_evalsum *s = &ev[k].row.sum;
			if (!s->codes)
				continue;
			double *c = vk_xmalloc(sizeof(double) * s->codes);
			for (int j = 0; j < s->codes; j++)
				c[j] = (double)s->code_n[j];
			int dead;
			double ppl = vk_code_perplexity(c, s->codes, &dead);
			free(c);
			printf("%-*s %8d %8d %8d %10.2f\n", nw, ev[k].row.name, s->codes,
			       s->codes - dead, dead, ppl);
		}
	}
	if (!dims)
		return;
	printf("\n%-*s %5s %10s %10s %6s\n", nw, "model", "dim", "kl", "var(mu)", "active");
	for (int k = 0; k < n_ev; k++)
		for (int j = 0; j < ev[k].row.sum.Z; j++) {
			const vk_evalsum *s = &ev[k].row.sum;
			double var = vk_evalsum_mu_var(s, j);
			printf("%-*s %5d", nw, ev[k].row.name, j);
			cell(10, s->has_kl, vk_sum_mean(s->kl_dim[j], s->n));
			cell(10, 1, var);
			printf(" %6s\n", var > VK_ACTIVE_THRESHOLD ? "yes" : "no");
		}
}

/* ---- --merge: read summaries back and add them up ---- */

static void merge_file(struct evaluator *ev, int *n_ev, const char *path)
{
	static vk_evalrow rows[MAX_MODELS];
	vk_error e;
	FILE *fp = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!fp)
		vk_die("cannot open %s:", path);
	for (int k = 0; k < *n_ev; k++)
		rows[k] = ev[k].row;
	if (vk_evaltsv_merge(fp, path, rows, n_ev, MAX_MODELS, &e))
		vk_die_error(&e);
	for (int k = 0; k < *n_ev; k++)
		ev[k].row = rows[k];
	if (fp != stdin)
		fclose(fp);
}

/* Is line the --per-record header (its fixed columns, then maybe class and
 * file)? */
static int is_records_header(const char *line)
{
	size_t n = strlen(RECORDS_HEADER);
	return !strncmp(line, RECORDS_HEADER, n) &&
	       (!strcmp(line + n, "\n") || !strcmp(line + n, "\tclass\n") ||
		!strcmp(line + n, "\tfile\n") || !strcmp(line + n, "\tclass\tfile\n"));
}

/* Is path's first line the --per-record header? (Files only: standard input
 * is read once, by the summary merge.) */
static int is_records_file(const char *path)
{
	char line[sizeof RECORDS_HEADER + 16];
	FILE *fp = strcmp(path, "-") ? fopen(path, "r") : NULL;
	if (!fp)
		return 0;
	int yes = fgets(line, sizeof line, fp) && is_records_header(line);
	fclose(fp);
	return yes;
}

/* Join --per-record TSVs of contiguous shards (stream-split --contiguous) in
 * the order given: one header, and each file's record numbers moved on by the
 * records of the files before it, so the result is what one run writes. */
static void merge_records(char **paths, int n)
{
	unsigned long long offset = 0;
	char *line = NULL, *end, header[sizeof RECORDS_HEADER + 16] = "";
	size_t cap = 0;
	for (int i = 0; i < n; i++) {
		FILE *fp = strcmp(paths[i], "-") ? fopen(paths[i], "r") : stdin;
		unsigned long long ln = 0, next = offset;
		if (!fp)
			vk_die("cannot open %s:", paths[i]);
		long len;
		while ((len = tsv_getline(&line, &cap, fp, TSV_MAX_LINE)) > 0) {
			if (!ln++) {
				if (!is_records_header(line))
					vk_die("%s: not a kl-eval --per-record TSV (its header differs; "
					       "summaries and per-record files do not merge together)",
					       paths[i]);
				if (!*header)
					fputs(strcpy(header, line), stdout);
				else if (strcmp(header, line))
					vk_die("%s: its columns differ from %s's (class or file columns "
					       "in one only)", paths[i], paths[0]);
				continue;
			}
			errno = 0;
			unsigned long long k = strtoull(line, &end, 10);
			if (end == line || *end != '\t' || errno || offset + k < next - (next > offset) ||
			    offset + k > next)
				vk_die("%s:%llu: expected record %llu or %llu first (records in order)",
				       paths[i], ln, next - offset - (next > offset), next - offset);
			if (offset + k == next)
				next++;
			printf("%llu%s", offset + k, end);
		}
		if (ferror(fp))
			vk_die("error reading %s:", paths[i]);
		if (len < 0)
			vk_die("%s:%llu: a line of more than %u bytes", paths[i], ln + 1, TSV_MAX_LINE);
		if (!ln)
			vk_die("%s: empty (not a kl-eval --per-record TSV)", paths[i]);
		if (fp != stdin)
			fclose(fp);
		offset = next;
	}
	free(line);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	vk_error e;
	vk_init(argc, argv);
	vk_blas_init(argv); /* first: it may restart the program with better kernels */
	parse_cmdline(argc, argv, &c);
	if (c.verbose && vk_blas_note())
		vk_warn("%s", vk_blas_note());
	vk_set_threads(c.threads);
	static struct evaluator ev[MAX_MODELS];
	int n_ev = 0;

	if (c.merge && is_records_file(c.operands[0])) {
		merge_records(c.operands, c.n_operands);
		vk_close_stdout();
		return 0;
	}
	if (c.merge) {
		for (int i = 0; i < c.n_operands; i++)
			merge_file(ev, &n_ev, c.operands[i]);
	} else {
		ts_reader r;
		if (ts_reader_open(&r, c.n_operands ? c.operands[0] : NULL, &e))
			vk_die_error(&e);
		if (!c.n_models)
			open_latent(&ev[n_ev++], &r);
		for (int i = 0; i < c.n_models; i++)
			open_model(&ev[n_ev++], c.models[i], &r, c.iw, &c);
		if (c.background) {
			if (n_ev == MAX_MODELS)
				vk_usage_error("at most %d models with --background", MAX_MODELS - 1);
			open_model(&ev[n_ev], c.background, &r, c.iw, &c);
			if (!vk_evalrow_has_kl(ev[n_ev].row.kind))
				vk_die("--background %s: an autoencoder has no likelihood to compare",
				       c.background);
			background = &ev[n_ev++];
		}
		if (c.baseline)
			fit_baseline(c.baseline, &ev[0].m);
		run_all(ev, n_ev, &r, &c);
		ts_reader_close(&r);
		report_bits(ev, n_ev, &c);
		vk_code_baseline_free(&base);
		if (c.per_record) {
			vk_close_stdout();
			return 0;
		}
	}
	if (c.tsv) {
		const vk_evalrow *rows[MAX_MODELS];
		for (int k = 0; k < n_ev; k++)
			rows[k] = &ev[k].row;
		vk_evaltsv_write(stdout, rows, n_ev);
	} else {
		print_table(ev, n_ev, c.dims || !ev[0].row.kind);
	}
	vk_close_stdout();
	return 0;
}
