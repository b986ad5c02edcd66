/* score-eval — how well per-record scores pick out a class set: AUROC, AUPRC
 * and FPR at 95% TPR, with bootstrap confidence intervals and the ROC curve. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "classes.h"
#include "err.h"
#include "indexset.h"
#include "image.h"
#include "opts.h"
#include "plot.h"
#include "rng.h"
#include "roc.h"
#include "stream.h"
#include "tsv.h"

static const char USAGE[] =
	"Usage: score-eval -p LABELS|-n LABELS [OPTION]... [SCORES]\n"
	"Measure how well scores (higher = more unusual) single out the records whose\n"
	"label is in --positive (or not in --normal): AUROC, AUPRC and the false-\n"
	"positive rate at 95% true-positive rate, each with a bootstrap confidence\n"
	"interval. SCORES (standard input when absent or -) is what kl-eval\n"
	"--per-record writes: TSV with a header and a label column, or its --stream\n"
	"tensor stream with labels. One TSV line per score.\n\n"
	"  -p, --positive L[,L]  labels of the positive (unusual) records: ranges A-B\n"
	"                        too, or class names when the scores name their classes\n"
	"  -n, --normal L[,L]    labels of the normal records; all others are positive\n"
	"  -s, --score NAME[,NAME]  the score columns to measure (default: all columns\n"
	"                        but record, label and model that have numbers)\n"
	"  -m, --model MODEL     the model's rows, when the scores hold several\n"
	"  -B, --bootstrap N     resamples for the 95% intervals (default 200; 0: none)\n"
	"      --seed N          seed of the resampling (default 1)\n"
	"      --roc FILE        write the ROC curve of the first score as TSV\n"
	"      --plot FILE.png   draw every score's ROC curve into a PNG\n"
	"  -h, --help            show this help and exit\n"
	"      --version         show the version and exit\n";

#define MAX_SCORES 64
#define NAME_MAX_LEN 256

struct cmdline {
	const char *positive, *normal, *scores, *model, *roc, *plot, *input;
	long bootstrap;
	uint64_t seed;
};

enum { OPT_SEED = VK_OPT_FIRST_LONG, OPT_ROC, OPT_PLOT };

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"positive", required_argument, 0, 'p'}, {"normal", required_argument, 0, 'n'},
		{"score", required_argument, 0, 's'},    {"model", required_argument, 0, 'm'},
		{"bootstrap", required_argument, 0, 'B'}, {"seed", required_argument, 0, OPT_SEED},
		{"roc", required_argument, 0, OPT_ROC},  {"plot", required_argument, 0, OPT_PLOT},
		{"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION}, {0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->bootstrap = 200;
	c->seed = 1;
	int ch;
	while ((ch = getopt_long(argc, argv, "p:n:s:m:B:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'p': c->positive = optarg; break;
		case 'n': c->normal = optarg; break;
		case 's': c->scores = optarg; break;
		case 'm': c->model = optarg; break;
		case 'B': c->bootstrap = vk_parse_long("--bootstrap", optarg, 0, 100000); break;
		case OPT_SEED: c->seed = (uint64_t)vk_parse_long("--seed", optarg, 0, 0x7fffffffffffffffL); break;
		case OPT_ROC: c->roc = optarg; break;
		case OPT_PLOT: c->plot = optarg; break;
		}
	}
	if (!c->positive == !c->normal)
		vk_usage_error("give the positive labels (-p) or the normal ones (-n), one of them");
	const char *set = c->positive ? c->positive : c->normal;
	if (!*set || strstr(set, ",,") || *set == ',' || set[strlen(set) - 1] == ',')
		vk_usage_error("%s: '%s' is not a list of labels like 0 or 1,3-5 (or class names)",
			       c->positive ? "--positive" : "--normal", set);
	if (optind + 1 < argc)
		vk_usage_error("one SCORES input at a time (got %d operands)", argc - optind);
	c->input = optind < argc ? argv[optind] : NULL;
	if (c->roc)
		vk_refuse_output_is_input(c->roc, &c->input, 1);
	if (c->plot)
		vk_refuse_output_is_input(c->plot, &c->input, 1);
	if (c->plot && (!strcmp(c->plot, "-") || (c->roc && !strcmp(c->plot, c->roc))))
		vk_usage_error("--plot needs a file of its own (standard output has the figures)");
}

/* The scores read: per score column, its values; and each record's label. */
struct table {
	int n_cols;
	char names[MAX_SCORES][NAME_MAX_LEN];
	double *v[MAX_SCORES];
	int32_t *label;
	size_t n, cap;
	/* the classes' names, when the scores carry them (kl-eval's class column,
	 * or class.I in a scores stream's metadata): label class_label[i] is
	 * called class_name[i] */
	int n_classes;
	int32_t class_label[VK_CLASS_MAP_MAX];
	char *class_name[VK_CLASS_MAP_MAX];
};

/* Label lab is called enc (percent-encoded), unless it has a name already. */
static void name_class(struct table *t, int32_t lab, const char *enc)
{
	char name[VK_CLASS_NAME_MAX];
	for (int i = t->n_classes - 1; i >= 0; i--)
		if (t->class_label[i] == lab)
			return;
	if (t->n_classes == VK_CLASS_MAP_MAX)
		return;
	if (!(t->class_name[t->n_classes] = strdup(vk_class_decode(enc, name, sizeof name))))
		vk_die("out of memory");
	t->class_label[t->n_classes++] = lab;
}

static void table_grow(struct table *t)
{
	if (t->n < t->cap)
		return;
	t->cap = t->cap ? 2 * t->cap : 4096;
	t->label = realloc(t->label, t->cap * sizeof *t->label);
	if (!t->label)
		vk_die("out of memory for %zu records", t->cap);
	for (int k = 0; k < t->n_cols; k++)
		if (!(t->v[k] = realloc(t->v[k], t->cap * sizeof *t->v[k])))
			vk_die("out of memory for %zu records", t->cap);
}

/* Is a column name one of --score's (without it, any column but the record
 * number, label and model)? */
static int wanted(const char *name, const char *list)
{
	if (!list)
		return strcmp(name, "record") && strcmp(name, "label") && strcmp(name, "model");
	size_t n = strlen(name);
	for (const char *p = list; *p;) {
		size_t len = strcspn(p, ",");
		if (len == n && !strncmp(p, name, n))
			return 1;
		p += len + (p[len] == ',');
	}
	return 0;
}

#define MAX_FIELDS 256

static void read_tsv(struct table *t, FILE *fp, const char *name, const struct cmdline *c,
		     char *first)
{
	char *f[MAX_FIELDS], *line = first, *end;
	size_t cap = strlen(first) + 1;
	int col[MAX_SCORES], label_col = -1, model_col = -1, class_col = -1;
	int nf = tsv_split_tabs(line, f, MAX_FIELDS);
	if (nf > MAX_FIELDS)
		vk_die("%s: more than %d columns", name, MAX_FIELDS);
	for (int i = 0; i < nf; i++) {
		if (!strcmp(f[i], "label"))
			label_col = i;
		else if (!strcmp(f[i], "model"))
			model_col = i;
		else if (!strcmp(f[i], "class") || !strcmp(f[i], "file"))
			class_col = f[i][0] == 'c' ? i : class_col;  /* text, not scores */
		else if (wanted(f[i], c->scores) && t->n_cols < MAX_SCORES) {
			col[t->n_cols] = i;
			snprintf(t->names[t->n_cols++], NAME_MAX_LEN, "%s", f[i]);
		}
	}
	if (label_col < 0)
		vk_die("%s: no label column: scores without labels cannot be measured against "
		       "classes", name);
	char model[4096] = "";
	unsigned long long ln = 1, na_line[MAX_SCORES] = {0};
	size_t na[MAX_SCORES] = {0};
	long len;
	while ((len = tsv_getline(&line, &cap, fp, TSV_MAX_LINE)) > 0) {
		ln++;
		if (tsv_split_tabs(line, f, MAX_FIELDS) != nf)
			vk_die("%s:%llu: expected %d tab-separated fields", name, ln, nf);
		if (model_col >= 0) {
			if (c->model && strcmp(f[model_col], c->model))
				continue;
			if (!c->model && !*model)
				snprintf(model, sizeof model, "%s", f[model_col]);
			else if (!c->model && strcmp(model, f[model_col]))
				vk_die("%s:%llu: scores of several models (%s, %s): choose one with -m",
				       name, ln, model, f[model_col]);
		}
		table_grow(t);
		if (!strcmp(f[label_col], "NA"))
			vk_die("%s:%llu: a record without a label: scores without labels cannot be "
			       "measured against classes", name, ln);
		long lab = strtol(f[label_col], &end, 10);
		if (end == f[label_col] || *end || lab < -1 || lab > INT32_MAX)
			vk_die("%s:%llu: label '%s' is not a number", name, ln, f[label_col]);
		t->label[t->n] = (int32_t)lab;
		if (class_col >= 0 && strcmp(f[class_col], "NA"))
			name_class(t, (int32_t)lab, f[class_col]);
		for (int k = 0; k < t->n_cols; k++) {
			const char *s = f[col[k]];
			double v = strtod(s, &end);
			if (!strcmp(s, "NA")) {
				if (!na[k]++)
					na_line[k] = ln;
				t->v[k][t->n] = NAN;
				continue;
			}
			if (end == s || *end || !isfinite(v))
				vk_die("%s:%llu: score %s '%s' is not a finite number", name, ln,
				       t->names[k], s);
			t->v[k][t->n] = v;
		}
		t->n++;
	}
	if (ferror(fp))
		vk_die("error reading %s:", name);
	if (len < 0)
		vk_die("%s:%llu: a line of more than %u bytes", name, ln + 1, TSV_MAX_LINE);
	if (c->model && !t->n)
		vk_die("%s: no rows of model %s", name, c->model);
	free(line);
	/* A score the model does not have is NA throughout: left out unless asked
	 * for; NA beside numbers is an error. */
	int kept = 0;
	for (int k = 0; k < t->n_cols; k++) {
		if (na[k] && (na[k] < t->n || c->scores))
			vk_die("%s:%llu: score %s is NA (not measured for this model: an "
			       "autoencoder has no KL, nlogpx needs kl-eval --iw)", name,
			       na_line[k], t->names[k]);
		if (na[k] && t->n) {
			free(t->v[k]);
			continue;
		}
		t->v[kept] = t->v[k];
		memmove(t->names[kept++], t->names[k], NAME_MAX_LEN);
	}
	t->n_cols = kept;
}

static void read_stream(struct table *t, FILE *fp, const char *name, const struct cmdline *c)
{
	vk_error e;
	ts_reader r;
	if (ts_reader_fopen(&r, fp, name, &e))
		vk_die_error(&e);
	if (!r.h.has_labels)
		vk_die("%s: records have no labels: scores without labels cannot be measured "
		       "against classes", r.name);
	if (r.h.rank != 1)
		vk_die("%s: not a stream of scores (records of rank %d, not a vector)", r.name,
		       r.h.rank);
	size_t D = ts_elems(&r.h);
	int col[MAX_SCORES];
	char key[64], val[NAME_MAX_LEN], mod[4096];
	for (size_t i = 0; i < D; i++) {
		snprintf(key, sizeof key, "score.%zu", i);
		if (!ts_meta_get(&r.h, key, val, sizeof val))
			snprintf(val, sizeof val, "%zu", i);
		snprintf(key, sizeof key, "score.%zu.model", i);
		if (c->model && (!ts_meta_get(&r.h, key, mod, sizeof mod) || strcmp(mod, c->model)))
			continue;
		if (!wanted(val, c->scores) || t->n_cols == MAX_SCORES)
			continue;
		col[t->n_cols] = (int)i;
		snprintf(t->names[t->n_cols++], NAME_MAX_LEN, "%s", val);
	}
	char enc[VK_CLASS_NAME_MAX * 3];
	long n_names = ts_meta_get(&r.h, "classes", val, sizeof val) ? strtol(val, NULL, 10) : 0;
	for (long i = 0; i < n_names && i < VK_CLASS_MAP_MAX; i++) {
		snprintf(key, sizeof key, "class.%ld", i);
		if (ts_meta_get(&r.h, key, enc, sizeof enc))
			name_class(t, (int32_t)i, enc);
	}
	float *x = vk_xmalloc(D * sizeof *x);
	int32_t label;
	int rc;
	while ((rc = ts_read_f32(&r, x, &label, &e)) > 0) {
		table_grow(t);
		t->label[t->n] = label;
		for (int k = 0; k < t->n_cols; k++)
			t->v[k][t->n] = x[col[k]];
		t->n++;
	}
	if (rc < 0)
		vk_die_error(&e);
	free(x);
	ts_reader_close(&r);
}

static void read_scores(struct table *t, const struct cmdline *c)
{
	const char *name = c->input && strcmp(c->input, "-") ? c->input : "standard input";
	FILE *fp = name == c->input ? fopen(name, "r") : stdin;
	if (!fp)
		vk_die("cannot open %s:", name);
	memset(t, 0, sizeof *t);
	/* A tensor stream starts with its magic's high-bit byte; TSV with text. */
	int ch = getc(fp);
	if (ch == EOF)
		vk_die("%s: empty (expected kl-eval --per-record scores)", name);
	ungetc(ch, fp);
	if (ch == 0x93) {
		read_stream(t, fp, name, c);
	} else {
		char *first = NULL;
		size_t cap = 0;
		if (tsv_getline(&first, &cap, fp, TSV_MAX_LINE) <= 0)
			vk_die(ferror(fp) ? "error reading %s:" : "%s:1: a line of more than 1 MiB",
			       name);
		read_tsv(t, fp, name, c, first);
	}
	if (fp != stdin)
		fclose(fp);
	if (!t->n_cols)
		vk_die("%s: no score column%s%s", name, c->scores ? " named " : "",
		       c->scores ? c->scores : " (a column besides record, label and model)");
}

/* --positive or --normal into set: each comma item labels and ranges, or a
 * class name (%2C for a comma in it) that the scores give. */
static void add_labels(vk_index_set *set, const char *arg, const char *opt,
		       const struct table *t)
{
	vk_error e;
	char *list = vk_xmalloc(strlen(arg) + 1), name[VK_CLASS_NAME_MAX];
	strcpy(list, arg);
	for (char *tok = list, *next; tok; tok = next) {
		next = strchr(tok, ',');
		if (next)
			*next++ = 0;
		if (vk_index_is_list(tok)) {
			if (vk_index_set_parse(set, tok, opt, &e))
				vk_usage_error("%s", e.msg);
			continue;
		}
		vk_class_decode(tok, name, sizeof name);
		int i = 0;
		while (i < t->n_classes && strcmp(t->class_name[i], name))
			i++;
		if (!t->n_classes)
			vk_die("%s '%s': the scores name no classes (kl-eval --per-record writes a "
			       "class column when its data names them): give labels by number",
			       opt, name);
		if (i == t->n_classes) {
			char known[512] = "";
			for (int k = 0; k < t->n_classes && strlen(known) < 400; k++)
				snprintf(known + strlen(known), sizeof known - strlen(known), "%s%s",
					 k ? ", " : "", t->class_name[k]);
			vk_die("%s '%s': no class of that name (the scores name %s%s)", opt, name,
			       known, strlen(known) >= 400 ? ", ..." : "");
		}
		if (t->class_label[i] < 0 ||
		    vk_index_set_add(set, (uint64_t)t->class_label[i],
				     (uint64_t)t->class_label[i] + 1, &e))
			vk_die("%s '%s': class label %d cannot be selected", opt, name,
			       t->class_label[i]);
	}
	free(list);
}

/* Mark the positives; check both classes are there and every label asked for is. */
static void mark(vk_scored *v, const struct table *t, const struct cmdline *c)
{
	vk_index_set set;
	const char *opt = c->positive ? "--positive" : "--normal";
	vk_index_set_init(&set);
	add_labels(&set, c->positive ? c->positive : c->normal, opt, t);
	vk_index_set_finish(&set);
	size_t pos = 0;
	for (size_t r = 0; r < set.n; r++)
		for (uint64_t l = set.r[r].lo; l < set.r[r].hi; l++) {
			size_t i = 0;
			while (i < t->n && t->label[i] != (int64_t)l)
				i++;
			if (i == t->n)
				vk_die("%s %llu: no record has this label", opt, (unsigned long long)l);
		}
	for (size_t i = 0; i < t->n; i++) {
		int in = 0;
		for (size_t r = 0; r < set.n && !in; r++)
			in = t->label[i] >= 0 && (uint64_t)t->label[i] >= set.r[r].lo &&
			     (uint64_t)t->label[i] < set.r[r].hi;
		v[i].positive = c->positive ? in : !in;
		pos += v[i].positive;
	}
	if (!pos || pos == t->n)
		vk_die("%s %s: %s records only (%zu): AUROC needs positive and negative records",
		       opt, c->positive ? c->positive : c->normal, pos ? "positive" : "negative",
		       t->n);
	vk_index_set_free(&set);
}

static int by_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The 2.5% and 97.5% percentiles of n values (sorted in place). */
static void interval(double *v, long n, double *lo, double *hi)
{
	if (!n) {
		*lo = *hi = NAN;
		return;
	}
	qsort(v, (size_t)n, sizeof *v, by_double);
	*lo = v[(long)floor(0.025 * (n - 1))];
	*hi = v[(long)ceil(0.975 * (n - 1))];
}

/* ---- --plot: the ROC curves of every score on one chart ---- */

#define PLOT_W 640
#define PLOT_H 480

struct curves {
	int n;
	double *fpr[MAX_SCORES], *tpr[MAX_SCORES];
	size_t len[MAX_SCORES];
	char names[MAX_SCORES][NAME_MAX_LEN + 32];
};

static void draw_roc(const struct curves *cu, const char *path)
{
	static const unsigned char WHITE[3] = {255, 255, 255}, GREY[3] = {170, 170, 170};
	vk_error e;
	vk_canvas cv;
	vk_axes ax;
	const char *names[MAX_SCORES];
	const unsigned char *rgb[MAX_SCORES];
	for (int k = 0; k < cu->n; k++)
		names[k] = cu->names[k], rgb[k] = vk_palette(k);
	memset(&ax, 0, sizeof ax);
	ax.scale = 1;
	ax.xmin = ax.ymin = 0;
	ax.xmax = ax.ymax = 1;
	vk_axes_place(&ax, PLOT_W, PLOT_H, vk_legend_width(names, cu->n, ax.scale));
	if (vk_canvas_init(&cv, PLOT_W, PLOT_H, 3, &e))
		vk_die_error(&e);
	vk_canvas_fill(&cv, WHITE);
	/* chance: the diagonal */
	vk_line(&cv, (long)vk_axes_px(&ax, 0), (long)vk_axes_py(&ax, 0), (long)vk_axes_px(&ax, 1),
		(long)vk_axes_py(&ax, 1), GREY);
	for (int k = cu->n - 1; k >= 0; k--)
		for (size_t i = 1; i < cu->len[k]; i++)
			for (int d = 0; d < 2; d++)  /* two pixels wide */
				vk_line(&cv, (long)vk_axes_px(&ax, cu->fpr[k][i - 1]) + d,
					(long)vk_axes_py(&ax, cu->tpr[k][i - 1]),
					(long)vk_axes_px(&ax, cu->fpr[k][i]) + d,
					(long)vk_axes_py(&ax, cu->tpr[k][i]), rgb[k]);
	vk_axes_draw(&cv, &ax, "FPR", "TPR");
	vk_legend_draw(&cv, &ax, names, rgb, cu->n < vk_legend_rows(&ax) ? cu->n : vk_legend_rows(&ax));
	if (vk_png_save(path, &cv, &e))
		vk_die_error(&e);
	vk_canvas_free(&cv);
}

static void print_num(double v) { printf(isnan(v) ? "\tNA" : "\t%.4f", v); }

/* Print the figures of every score; the ROC curve goes into roc (open, to be
 * committed) and the curves for --plot into cu. */
static void score_eval(const struct table *t, const struct cmdline *c, vk_afile *roc,
		       struct curves *cu_out)
{
	vk_error e;
	vk_scored *v = vk_xmalloc(t->n * sizeof *v), *b = vk_xmalloc(t->n * sizeof *b);
	double *boot = vk_xmalloc(3 * (size_t)(c->bootstrap + 1) * sizeof *boot);
	int *positive = vk_xmalloc(t->n * sizeof *positive);
	struct curves cu = {0};
	mark(v, t, c);
	for (size_t i = 0; i < t->n; i++)
		positive[i] = v[i].positive;
	puts("score\tpositives\tnegatives\tauroc\tauroc_lo\tauroc_hi\tauprc\tauprc_lo\t"
	     "auprc_hi\tfpr95\tfpr95_lo\tfpr95_hi");
	for (int k = 0; k < t->n_cols; k++) {
		/* v is sorted by the previous score: rebuild it in record order */
		for (size_t i = 0; i < t->n; i++)
			v[i] = (vk_scored){t->v[k][i], positive[i]};
		vk_roc_figures fig, bf;
		vk_roc_sort(v, t->n);
		if (vk_roc(v, t->n, &fig, &e))
			vk_die("%s (labels %s %s)", e.msg, c->positive ? "--positive" : "--normal",
			       c->positive ? c->positive : c->normal);
		if (k == 0 && c->roc) {
			/* committed by main once the figures are out: whole or not at all */
			vk_afile *f = roc;
			double *fpr = vk_xmalloc((t->n + 1) * 3 * sizeof *fpr);
			size_t m = vk_roc_curve(v, t->n, fpr, fpr + t->n + 1, fpr + 2 * (t->n + 1));
			if (vk_afile_open(f, c->roc, 0, &e))
				vk_die_error(&e);
			fputs("fpr\ttpr\tthreshold\n", f->f);
			for (size_t i = 0; i < m; i++)
				fprintf(f->f, "%.6g\t%.6g\t%.9g\n", fpr[i], fpr[t->n + 1 + i],
					fpr[2 * (t->n + 1) + i]);
			free(fpr);
		}
		if (c->plot) {
			double *th = vk_xmalloc((t->n + 1) * sizeof *th);
			cu.fpr[k] = vk_xmalloc((t->n + 1) * sizeof *th);
			cu.tpr[k] = vk_xmalloc((t->n + 1) * sizeof *th);
			cu.len[k] = vk_roc_curve(v, t->n, cu.fpr[k], cu.tpr[k], th);
			snprintf(cu.names[k], sizeof cu.names[k], "%s %.3f", t->names[k], fig.auroc);
			cu.n = k + 1;
			free(th);
		}
		/* Resample records with replacement; a resample missing a class is
		 * drawn again (it has no AUROC). */
		vk_rng rng;
		vk_rng_seed(&rng, c->seed + (uint64_t)k);
		long got = 0;
		for (long s = 0, tries = 0; s < c->bootstrap && tries < 10 * c->bootstrap; tries++) {
			for (size_t i = 0; i < t->n; i++)
				b[i] = v[vk_rng_below(&rng, t->n)];
			vk_roc_sort(b, t->n);
			if (vk_roc(b, t->n, &bf, &e))
				continue;
			boot[got] = bf.auroc;
			boot[c->bootstrap + got] = bf.auprc;
			boot[2 * c->bootstrap + got] = bf.fpr95;
			got++, s++;
		}
		double lo[3], hi[3];
		for (int q = 0; q < 3; q++)
			interval(boot + q * c->bootstrap, got, lo + q, hi + q);
		printf("%s\t%zu\t%zu", t->names[k], fig.pos, fig.neg);
		print_num(fig.auroc), print_num(lo[0]), print_num(hi[0]);
		print_num(fig.auprc), print_num(lo[1]), print_num(hi[1]);
		print_num(fig.fpr95), print_num(lo[2]), print_num(hi[2]);
		putchar('\n');
	}
	*cu_out = cu;
	free(positive);
	free(v);
	free(b);
	free(boot);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	struct table t;
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	vk_afile roc;
	struct curves cu;
	vk_error e;
	read_scores(&t, &c);
	score_eval(&t, &c, &roc, &cu);
	/* The files appear only once the figures are out whole. */
	vk_close_stdout();
	if (c.roc && vk_afile_commit(&roc, &e))
		vk_die_error(&e);
	if (c.plot)
		draw_roc(&cu, c.plot);
	for (int k = 0; k < cu.n; k++)
		free(cu.fpr[k]), free(cu.tpr[k]);
	for (int k = 0; k < t.n_cols; k++)
		free(t.v[k]);
	free(t.label);
	for (int k = 0; k < t.n_classes; k++)
		free(t.class_name[k]);
	return 0;
}
