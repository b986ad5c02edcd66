/* kl-eval — measure models on a stream: reconstruction, KL, −ELBO, the
 * importance-weighted log p(x), per-dimension KL and active units. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blascore.h"
#include "err.h"
#include "evaluate.h"
#include "guard.h"
#include "modelfile.h"
#include "modelstream.h"
#include "opts.h"
#include "progress.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: kl-eval [-m MODEL]... [OPTION]... [DATA]\n"
	"   or: kl-eval --merge [OPTION]... SUMMARY...\n"
	"Measure each MODEL on the tensor stream DATA (standard input when absent or -):\n"
	"mean reconstruction loss, KL and -ELBO in nats per record, active units and,\n"
	"with --iw, the importance-weighted estimate of -log p(x). Without -m, DATA is\n"
	"what vae-encode --with-logvar writes (mu then log sigma^2 per record) and the\n"
	"KL to N(0, I) is measured per record and per latent dimension. A table on a\n"
	"terminal, TSV otherwise; --merge adds up summaries that --tsv wrote for shards.\n\n"
	"  -m, --model MODEL  a model to measure (repeat for a row per model)\n"
	"  -s, --seed N       seed of the noise (default 1; same seed, same numbers)\n"
	"  -k, --iw K         also estimate log p(x) with K importance samples\n"
	"      --per-record   one TSV line per record instead of the summary\n"
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
	const char *models[MAX_MODELS];
	int n_models, iw, per_record, dims, tsv, merge, threads, verbose;
	uint64_t seed;
	char **operands;
	int n_operands;
};

/* One row of the result: a model, or the latent stream when there is none. */
struct evaluator {
	const char *name;
	int kind;               /* a model kind's number, or 0 for a latent stream */
	vk_model m;
	vk_work w;
	vk_evalsum sum;
	float rec[BATCH], kl[BATCH];
	double lp[BATCH];
	double seconds, iw_seconds;
};

enum { OPT_PER_RECORD = VK_OPT_FIRST_LONG, OPT_TSV, OPT_TABLE, OPT_MERGE };

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"model", required_argument, 0, 'm'}, {"seed", required_argument, 0, 's'},
		{"iw", required_argument, 0, 'k'}, {"per-record", no_argument, 0, OPT_PER_RECORD},
		{"dims", no_argument, 0, 'd'}, {"tsv", no_argument, 0, OPT_TSV},
		{"table", no_argument, 0, OPT_TABLE}, {"merge", no_argument, 0, OPT_MERGE},
		{"threads", required_argument, 0, 't'}, {"verbose", no_argument, 0, 'v'},
		{"help", no_argument, 0, 'h'}, {"version", no_argument, 0, VK_OPT_VERSION},
		{0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->seed = 1;
	c->tsv = -1;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	c->threads = cpus > 0 ? (int)cpus : 1;
	int ch;
	while ((ch = getopt_long(argc, argv, "m:s:k:dt:vh", longopts, NULL)) != -1) {
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
		case OPT_PER_RECORD: c->per_record = 1; break;
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
	if (c->tsv < 0)
		c->tsv = !isatty(STDOUT_FILENO);
	if (c->merge) {
		if (c->n_models || c->iw || c->per_record)
			vk_usage_error("--merge reads summaries: it takes no -m, --iw or --per-record");
		if (!c->n_operands)
			vk_usage_error("--merge needs the summary files to add up");
		return;
	}
	if (c->n_operands > 1)
		vk_usage_error("one DATA stream at a time (got %d operands)", c->n_operands);
	if (c->iw && !c->n_models)
		vk_usage_error("--iw needs a model to decode with (-m MODEL)");
}

/* ---- evaluating ---- */

/* A row with a KL and an ELBO: a model whose latent kind has a prior (not
 * an AE), or a latent stream. */
static int kind_has_kl(int kind)
{
	const vk_model_kind *k = vk_model_kind_get(kind);
	return !kind || (k && k->latent->has_kl);
}

static void open_model(struct evaluator *ev, const char *path, ts_reader *r, int iw)
{
	vk_error e;
	static vk_trainrec rec;
	memset(ev, 0, sizeof *ev);
	ev->name = path;
	if (vk_model_load(path, &ev->m, &rec, NULL, &e))
		vk_die_error(&e);
	ev->kind = ev->m.a.kind;
	if (vk_check_input(&ev->m, &r->h, r->name, &e))
		vk_die("%s (model %s)", e.msg, path);
	if (vk_match_stream_classes(&ev->m, &rec, path, r, &e)) /* a cvae's classes by name */
		vk_die_error(&e);
	int vae = kind_has_kl(ev->kind);
	if (vk_work_alloc(&ev->w, &ev->m, iw && vae ? IW_CHUNK : BATCH, &e) ||
	    vk_evalsum_init(&ev->sum, ev->m.a.latent, vae, 1, vae ? iw : 0, &e))
		vk_die_error(&e);
	if (!vae)
		vk_warn("%s: ae: deterministic encoder, no ELBO (reconstruction only)", path);
}

/* Without a model the stream holds μ | log σ² per record. */
static void open_latent(struct evaluator *ev, const ts_reader *r)
{
	vk_error e;
	char kind[64], s[64];
	memset(ev, 0, sizeof *ev);
	ev->name = "-";
	if (ts_meta_get(&r->h, "kind", kind, sizeof kind) && strcmp(kind, "latent+logvar"))
		vk_die("%s: kind=%s is not latent+logvar; measure images with -m MODEL, or "
		       "encode them with vae-encode --with-logvar", r->name, kind);
	size_t n = ts_elems(&r->h);
	if (r->h.rank != 1 || n % 2 || n / 2 > MAX_LATENT)
		vk_die("%s: records of shape %s are not mu then log sigma^2 (an even-length "
		       "vector of at most %d)", r->name, ts_shape_str(&r->h, s, sizeof s),
		       2 * MAX_LATENT);
	if (vk_evalsum_init(&ev->sum, (int)n / 2, 1, 0, 0, &e))
		vk_die_error(&e);
}

static void evaluate_batch(struct evaluator *ev, const char *src, const float *x,
			   const int32_t *labels, size_t n, uint64_t first, const struct cmdline *c)
{
	if (!ev->kind) {
		size_t Z = ev->sum.Z;
		for (size_t i = 0; i < n; i++) {
			ev->kl[i] = (float)vk_kl_head(x + i * 2 * Z, (int)Z);
			vk_evalsum_add(&ev->sum, 0, 0, 0, x + i * 2 * Z);
		}
		return;
	}
	vk_model *m = &ev->m;
	int cvae = vk_conditional(&m->a), D = m->a.input_size;
	vk_error e;
	if (cvae && vk_check_labels(m, labels, n, first, src, &e))
		vk_die("%s (model %s)", e.msg, ev->name);
	if (m->a.likelihood == VK_BERNOULLI && vk_check_unit_rows(x, n, D, first, src, &e))
		vk_die("%s (model %s)", e.msg, ev->name); /* vae-train's rule (guard.h) */
	const int32_t *lab = cvae ? labels : NULL;
	const float *head = ev->w.act_enc[m->n_enc - 1];
	double t0 = vk_now(), t_iw = 0;
	/* One record at a time: BLAS rounds a row differently depending on its
	 * place in a batch, and a record must get the same numbers in any shard,
	 * so that --merge of shards equals the whole run. */
	for (size_t i = 0; i < n; i++) {
		const float *xi = x + i * D;
		const int32_t *li = lab ? lab + i : NULL;
		vk_eval_batch(m, &ev->w, xi, li, 1, c->seed, ev->rec + i, ev->kl + i);
		ev->lp[i] = NAN;
		if (ev->sum.iw) {
			double t = vk_now();
			ev->lp[i] = vk_iw_logpx(m, &ev->w, xi, li ? *li : TS_NO_LABEL, head,
						ev->sum.iw, c->seed);
			t_iw += vk_now() - t;
		}
		vk_evalsum_add(&ev->sum, ev->rec[i], ev->kl[i], ev->lp[i], head);
	}
	double t1 = vk_now() - t_iw;
	ev->seconds += t1 - t0;
	ev->iw_seconds += t_iw;
}

/* label, then per model rec kl nelbo [log p̂(x)] (rec alone for an AE, kl alone
 * for a latent stream). */
static void print_records(const struct evaluator *ev, int n_ev, const int32_t *labels,
			  int has_labels, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *sep = "";
		if (has_labels)
			printf("%d", (int)labels[i]), sep = "\t";
		for (int k = 0; k < n_ev; k++, sep = "\t") {
			const struct evaluator *v = &ev[k];
			if (!v->kind)
				printf("%s%.9g", sep, v->kl[i]);
			else if (!kind_has_kl(v->kind))
				printf("%s%.9g", sep, v->rec[i]);
			else
				printf("%s%.9g\t%.9g\t%.9g", sep, v->rec[i], v->kl[i],
				       (double)v->rec[i] + v->kl[i]);
			if (v->sum.iw)
				printf("\t%.9g", v->lp[i]);
		}
		putchar('\n');
	}
}

static void run_all(struct evaluator *ev, int n_ev, ts_reader *r, const struct cmdline *c)
{
	vk_error e;
	size_t D = ts_elems(&r->h), got;
	float *x = vk_xmalloc(sizeof(float) * BATCH * D);
	int32_t labels[BATCH];
	uint64_t first = 0;
	/* Importance sampling takes long per record: read fewer at a time so the
	 * meter (on a terminal) moves. Records are measured one by one anyway. */
	int iw = 0;
	for (int k = 0; k < n_ev; k++)
		iw |= ev[k].sum.iw > 0;
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
		for (int k = 0; k < n_ev; k++)
			evaluate_batch(&ev[k], r->name, x, labels, got, first, c);
		if (c->per_record)
			print_records(ev, n_ev, labels, r->h.has_labels, got);
		first += got;
		vk_progress_update(&p, first);
	}
	vk_progress_end(&p);
	free(x);
	for (int k = 0; k < n_ev; k++) {
		if (ev[k].sum.bad)
			vk_die("%s: a loss is not finite or too large to add up exactly", ev[k].name);
		if (c->verbose && ev[k].kind)
			vk_warn("%s: %.2fs for %llu records (%.0f/s)%s", ev[k].name, ev[k].seconds,
				(unsigned long long)first, first / ev[k].seconds, "");
		if (c->verbose && ev[k].sum.iw)
			vk_warn("%s: importance sampling K=%d: %.2fs (%.1f ms per record, %.0f "
				"samples/s)", ev[k].name, ev[k].sum.iw, ev[k].iw_seconds,
				1e3 * ev[k].iw_seconds / first,
				(double)first * ev[k].sum.iw / ev[k].iw_seconds);
	}
}

/* ---- summaries: a table for people, TSV for scripts and --merge ---- */

static const char TSV_HEADER[] =
	"model\tkind\tdim\trecords\trec\tkl\tnelbo\tnelbo_se\tiw\tnlogpx\tnlogpx_se\tgap\t"
	"active\tmu_var\tq_rec\tq_kl\tq_nelbo2\tq_lp\tq_lp2\tq_mu\tq_mu2";
#define TSV_FIELDS 21

static const char *kind_name(int kind) { return kind ? vk_kind_name(kind) : "latent"; }

static void tsv_num(double v) { printf(isnan(v) ? "\tNA" : "\t%.10g", v); }
static void tsv_q(int have, int64_t q) { printf(have ? "\t%lld" : "\tNA", (long long)q); }

static void print_tsv(const struct evaluator *ev, int n_ev)
{
	puts(TSV_HEADER);
	for (int k = 0; k < n_ev; k++) {
		const vk_evalsum *s = &ev[k].sum;
		int elbo = s->has_rec && s->has_kl;
		double nelbo = elbo ? vk_sum_mean(s->rec, s->n) + vk_sum_mean(s->kl, s->n) : NAN;
		double nlp = s->iw ? -vk_sum_mean(s->lp, s->n) : NAN;
		printf("%s\t%s\tall\t%llu", ev[k].name, kind_name(ev[k].kind),
		       (unsigned long long)s->n);
		tsv_num(s->has_rec ? vk_sum_mean(s->rec, s->n) : NAN);
		tsv_num(s->has_kl ? vk_sum_mean(s->kl, s->n) : NAN);
		tsv_num(nelbo);
		tsv_num(elbo ? vk_sum_se(s->rec + s->kl, s->nelbo2, s->n) : NAN);
		printf(s->iw ? "\t%d" : "\tNA", s->iw);
		tsv_num(nlp);
		tsv_num(s->iw ? vk_sum_se(s->lp, s->lp2, s->n) : NAN);
		tsv_num(nelbo - nlp);
		printf("\t%d\tNA", vk_evalsum_active(s, VK_ACTIVE_THRESHOLD));
		tsv_q(s->has_rec, s->rec);
		tsv_q(s->has_kl, s->kl);
		tsv_q(elbo, s->nelbo2);
		tsv_q(s->iw, s->lp);
		tsv_q(s->iw, s->lp2);
		fputs("\tNA\tNA\n", stdout);
		for (int j = 0; j < s->Z; j++) {
			double var = vk_evalsum_mu_var(s, j);
			printf("%s\t%s\t%d\t%llu\tNA", ev[k].name, kind_name(ev[k].kind), j,
			       (unsigned long long)s->n);
			tsv_num(s->has_kl ? vk_sum_mean(s->kl_dim[j], s->n) : NAN);
			printf("\tNA\tNA\tNA\tNA\tNA\tNA\t%d", var > VK_ACTIVE_THRESHOLD);
			tsv_num(var);
			printf("\tNA");
			tsv_q(s->has_kl, s->kl_dim[j]);
			printf("\tNA\tNA\tNA\t%lld\t%lld\n", (long long)s->mu[j],
			       (long long)s->mu2[j]);
		}
	}
}

static int name_width(const struct evaluator *ev, int n_ev)
{
	int w = 5;
	for (int k = 0; k < n_ev; k++)
		if ((int)strlen(ev[k].name) > w)
			w = (int)strlen(ev[k].name);
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
		any_iw |= ev[k].sum.iw != 0;
	printf("%-*s %-6s %8s %10s %10s %10s %7s", nw, "model", "kind", "records", "rec", "kl",
	       "-elbo", "se");
	if (any_iw)
		printf(" %6s %10s %7s %8s", "K", "-log p(x)", "se", "gap");
	printf(" %7s\n", "active");
	for (int k = 0; k < n_ev; k++) {
		const vk_evalsum *s = &ev[k].sum;
		int elbo = s->has_rec && s->has_kl;
		double nelbo = vk_sum_mean(s->rec, s->n) + vk_sum_mean(s->kl, s->n);
		printf("%-*s %-6s %8llu", nw, ev[k].name, kind_name(ev[k].kind),
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
	if (!dims)
		return;
	printf("\n%-*s %5s %10s %10s %6s\n", nw, "model", "dim", "kl", "var(mu)", "active");
	for (int k = 0; k < n_ev; k++)
		for (int j = 0; j < ev[k].sum.Z; j++) {
			const vk_evalsum *s = &ev[k].sum;
			double var = vk_evalsum_mu_var(s, j);
			printf("%-*s %5d", nw, ev[k].name, j);
			cell(10, s->has_kl, vk_sum_mean(s->kl_dim[j], s->n));
			cell(10, 1, var);
			printf(" %6s\n", var > VK_ACTIVE_THRESHOLD ? "yes" : "no");
		}
}

/* ---- --merge: read summaries back and add them up ---- */

static int split_tabs(char *line, char **f, int max)
{
	int n = 0;
	line[strcspn(line, "\n")] = 0;
	for (char *p = line;; p++) {
		if (n < max)
			f[n] = p;
		n++;
		p += strcspn(p, "\t");
		if (!*p)
			return n;
		*p = 0;
	}
}

static int64_t parse_q(const char *s, const char *file, unsigned long long line)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!strcmp(s, "NA"))
		return 0;
	if (end == s || *end || errno)
		vk_die("%s:%llu: '%s' is not an exact sum (an integer)", file, line, s);
	return v;
}

static int kind_parse(const char *s)
{
	return !strcmp(s, "latent") ? 0 : vk_kind_parse(s);
}

/* The evaluator called name, created on first sight; new ones must agree. */
static struct evaluator *find_or_add(struct evaluator *ev, int *n_ev, const char *name,
				     const vk_evalsum *s, int kind, const char *file,
				     unsigned long long line)
{
	vk_error e;
	for (int k = 0; k < *n_ev; k++) {
		if (strcmp(ev[k].name, name))
			continue;
		vk_evalsum *t = &ev[k].sum;
		if (ev[k].kind != kind || t->Z != s->Z || t->iw != s->iw)
			vk_die("%s:%llu: %s was measured differently from the first summary "
			       "(kind, latent size or --iw differ)", file, line, name);
		return &ev[k];
	}
	if (*n_ev == MAX_MODELS)
		vk_die("%s:%llu: more than %d models to merge", file, line, MAX_MODELS);
	struct evaluator *v = &ev[(*n_ev)++];
	memset(v, 0, sizeof *v);
	v->name = strdup(name);
	v->kind = kind;
	if (!v->name || vk_evalsum_init(&v->sum, s->Z, s->has_kl, s->has_rec, s->iw, &e))
		vk_die("out of memory");
	return v;
}

/* Parse a model row ("all") into s (allocated for MAX_LATENT dimensions). */
static void parse_model_row(char **f, vk_evalsum *s, const char *file, unsigned long long ln)
{
	vk_error e;
	int kind = kind_parse(f[1]);
	if (kind < 0)
		vk_die("%s:%llu: unknown kind '%s'", file, ln, f[1]);
	if (vk_evalsum_init(s, MAX_LATENT, kind_has_kl(kind), kind != 0,
			    strcmp(f[8], "NA") ? atoi(f[8]) : 0, &e))
		vk_die_error(&e);
	s->Z = 0;
	s->n = strtoull(f[3], NULL, 10);
	s->rec = parse_q(f[14], file, ln);
	s->kl = parse_q(f[15], file, ln);
	s->nelbo2 = parse_q(f[16], file, ln);
	s->lp = parse_q(f[17], file, ln);
	s->lp2 = parse_q(f[18], file, ln);
}

static void merge_model(struct evaluator *ev, int *n_ev, const char *name, int kind,
			vk_evalsum *s, const char *file, unsigned long long ln)
{
	struct evaluator *into = find_or_add(ev, n_ev, name, s, kind, file, ln);
	vk_evalsum_merge(&into->sum, s);
	vk_evalsum_free(s);
}

static void merge_file(struct evaluator *ev, int *n_ev, const char *path)
{
	FILE *fp = strcmp(path, "-") ? fopen(path, "r") : stdin;
	if (!fp)
		vk_die("cannot open %s:", path);
	char *line = NULL, *f[TSV_FIELDS + 1], name[4096] = "";
	size_t cap = 0;
	unsigned long long ln = 0;
	vk_evalsum s = {0};
	int kind = -1;
	while (getline(&line, &cap, fp) > 0) {
		ln++;
		if (ln == 1) {
			line[strcspn(line, "\n")] = 0;
			if (strcmp(line, TSV_HEADER))
				vk_die("%s: not a kl-eval --tsv summary (its header differs)", path);
			continue;
		}
		if (split_tabs(line, f, TSV_FIELDS + 1) != TSV_FIELDS)
			vk_die("%s:%llu: expected %d tab-separated fields", path, ln, TSV_FIELDS);
		if (!strcmp(f[2], "all")) {
			if (kind >= 0)
				merge_model(ev, n_ev, name, kind, &s, path, ln);
			snprintf(name, sizeof name, "%s", f[0]);
			kind = kind_parse(f[1]);
			parse_model_row(f, &s, path, ln);
			continue;
		}
		if (kind < 0 || strcmp(f[0], name) || atoi(f[2]) != s.Z || s.Z == MAX_LATENT)
			vk_die("%s:%llu: dimension row out of place (expected %s dimension %d)",
			       path, ln, name, s.Z);
		s.kl_dim[s.Z] = parse_q(f[15], path, ln);
		s.mu[s.Z] = parse_q(f[19], path, ln);
		s.mu2[s.Z] = parse_q(f[20], path, ln);
		s.Z++;
	}
	if (ferror(fp))
		vk_die("error reading %s:", path);
	if (kind < 0)
		vk_die("%s: no summary rows", path);
	merge_model(ev, n_ev, name, kind, &s, path, ln);
	free(line);
	if (fp != stdin)
		fclose(fp);
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
			open_model(&ev[n_ev++], c.models[i], &r, c.iw);
		run_all(ev, n_ev, &r, &c);
		ts_reader_close(&r);
		if (c.per_record) {
			vk_close_stdout();
			return 0;
		}
	}
	if (c.tsv)
		print_tsv(ev, n_ev);
	else
		print_table(ev, n_ev, c.dims || !ev[0].kind);
	vk_close_stdout();
	return 0;
}
