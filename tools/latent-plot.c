/* latent-plot — a stream of latent vectors as a PNG scatter plot, coloured by label. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "afile.h"
#include "classes.h"
#include "err.h"
#include "image.h"
#include "opts.h"
#include "pca.h"
#include "plot.h"
#include "stream.h"

static const char USAGE[] =
	"Usage: latent-plot [OPTION]... [FILE]\n"
	"Draw the records of a tensor stream of latent vectors (such as vae-encode's)\n"
	"as a PNG scatter plot of two of their values, each point coloured by its\n"
	"label, with a legend and labelled axes. With no FILE, or when FILE is -,\n"
	"read standard input. Every record is taken as a flat vector.\n\n"
	"  -o, --output FILE     write the PNG to FILE (atomically) instead of standard\n"
	"                        output (which must not be a terminal)\n"
	"  -d, --dims I,J        plot values I and J, counted from 0 (default 0,1)\n"
	"      --pca             plot the first two principal components instead\n"
	"      --size WxH        picture size in pixels (default 640x640)\n"
	"  -r, --point R         radius of a point in pixels (default 2)\n"
	"      --range X0,X1,Y0,Y1  the axes' extent (default: the data's, with a\n"
	"                        margin); 'sym' for the same extent on both axes,\n"
	"                        symmetric about 0\n"
	"      --names A,B,...   legend names of labels 0, 1, ... (default: the class\n"
	"                        names in the stream's metadata, else numbers)\n"
	"  -n, --count N         plot at most N records (default: all, up to 1000000)\n"
	"  -h, --help            show this help and exit\n"
	"      --version         show the version and exit\n";

#define MAX_POINTS 1000000ull
#define MAX_BUFFER (1ull << 26)   /* floats held for --pca: 256 MiB */
#define MAX_NAMES 4096
#define MAX_LEGEND 256            /* distinct labels listed */

enum { OPT_PCA = VK_OPT_FIRST_LONG, OPT_SIZE, OPT_RANGE, OPT_NAMES };

struct cmdline {
	const char *output, *input;
	int dims[2], pca, have_range, symmetric, n_names, count_given;
	unsigned w, h;
	double radius, range[4];
	unsigned long long count;
	char *names[MAX_NAMES];
};

static void parse_dims(const char *s, int dims[2])
{
	if (vk_parse_list("--dims", s, dims, 2, 0, TS_MAX_ELEMS) != 2)
		vk_usage_error("--dims: '%s' is not two indices I,J", s);
	if (dims[0] == dims[1])
		vk_usage_error("--dims: '%s' names the same value twice", s);
}

static void parse_range(const char *s, struct cmdline *c)
{
	if (strcmp(s, "sym") == 0) {
		c->symmetric = 1;
		return;
	}
	char *end;
	const char *p = s;
	for (int i = 0; i < 4; i++) {
		c->range[i] = strtod(p, &end);
		if (end == p || !isfinite(c->range[i]) || *end != (i < 3 ? ',' : '\0'))
			vk_usage_error("--range: '%s' is not X0,X1,Y0,Y1 or sym", s);
		p = end + 1;
	}
	if (c->range[0] >= c->range[1] || c->range[2] >= c->range[3])
		vk_usage_error("--range: '%s' is empty (need X0 < X1 and Y0 < Y1)", s);
	c->have_range = 1;
}

static void parse_names(char *s, struct cmdline *c)
{
	for (char *tok = strtok(s, ","); tok; tok = strtok(NULL, ",")) {
		if (c->n_names == MAX_NAMES)
			vk_usage_error("--names: more than %d names", MAX_NAMES);
		c->names[c->n_names++] = tok;
	}
}

static void parse_cmdline(int argc, char **argv, struct cmdline *c)
{
	static const struct option longopts[] = {
		{"output", required_argument, 0, 'o'}, {"dims", required_argument, 0, 'd'},
		{"pca", no_argument, 0, OPT_PCA},       {"size", required_argument, 0, OPT_SIZE},
		{"point", required_argument, 0, 'r'},   {"range", required_argument, 0, OPT_RANGE},
		{"names", required_argument, 0, OPT_NAMES},
		{"count", required_argument, 0, 'n'},   {"help", no_argument, 0, 'h'},
		{"version", no_argument, 0, VK_OPT_VERSION}, {0, 0, 0, 0}};
	memset(c, 0, sizeof *c);
	c->dims[1] = 1;
	c->w = c->h = 640;
	c->radius = 2;
	c->count = MAX_POINTS;
	int ch, dims_given = 0;
	unsigned size[4];
	while ((ch = getopt_long(argc, argv, "o:d:r:n:h", longopts, NULL)) != -1) {
		if (vk_common_option(ch, USAGE))
			continue;
		switch (ch) {
		case 'o': c->output = optarg; break;
		case 'd': parse_dims(optarg, c->dims); dims_given = 1; break;
		case OPT_PCA: c->pca = 1; break;
		case OPT_SIZE:
			if (vk_parse_shape("--size", optarg, size) != 2 || size[0] < 100 ||
			    size[1] < 100 || size[0] > 8192 || size[1] > 8192)
				vk_usage_error("--size: '%s' is not WxH, each 100 to 8192", optarg);
			c->w = size[0];
			c->h = size[1];
			break;
		case 'r': c->radius = vk_parse_double("--point", optarg, 0, 100); break;
		case OPT_RANGE: parse_range(optarg, c); break;
		case OPT_NAMES: parse_names(optarg, c); break;
		case 'n':
			c->count = vk_parse_long("--count", optarg, 1, MAX_POINTS);
			c->count_given = 1;
			break;
		}
	}
	if (c->pca && dims_given)
		vk_usage_error("--dims and --pca exclude each other");
	c->input = vk_input_arg(argc, argv, optind);
	if ((!c->output || strcmp(c->output, "-") == 0) && vk_stdout_is_tty())
		vk_die("refusing to write binary data to a terminal; use -o FILE or redirect it");
}

/* The points, buffered: whole vectors for --pca, else the two plotted values. */
struct points {
	size_t n, cap;
	int width;          /* floats kept per point */
	int labelled;
	float *v;
	int32_t *label;
	ts_header h;        /* for class names in the metadata */
};

static void points_add(struct points *p, const float *v, int32_t label)
{
	if (p->n == p->cap) {
		p->cap = p->cap ? 2 * p->cap : 1024;
		p->v = realloc(p->v, p->cap * p->width * sizeof *p->v);
		p->label = realloc(p->label, p->cap * sizeof *p->label);
		if (!p->v || !p->label)
			vk_die("out of memory for %zu points", p->cap);
	}
	memcpy(p->v + p->n * p->width, v, p->width * sizeof *v);
	p->label[p->n++] = label;
}

/* Read up to --count records; more than the hard cap is an error, not a
 * silently partial picture. */
static void read_points(const struct cmdline *c, struct points *p)
{
	vk_error e;
	ts_reader r;
	if (ts_reader_open(&r, c->input, &e))
		vk_die_error(&e);
	size_t d = ts_elems(&r.h);
	if (d < 2)
		vk_die("%s: records of %zu value; a scatter plot needs at least 2", r.name, d);
	if (!c->pca && ((size_t)c->dims[0] >= d || (size_t)c->dims[1] >= d))
		vk_die("--dims %d,%d: the records of %s have only %zu values (0..%zu)",
		       c->dims[0], c->dims[1], r.name, d, d - 1);
	memset(p, 0, sizeof *p);
	p->width = c->pca ? (int)d : 2;
	p->labelled = r.h.has_labels;
	p->h = r.h;
	float *rec = vk_xmalloc(d * sizeof *rec);
	int32_t label;
	int rc = 0;
	while ((p->n < c->count || !c->count_given) &&
	       (rc = ts_read_f32(&r, rec, &label, &e)) > 0) {
		if (p->n == MAX_POINTS || (p->n + 1) * p->width > MAX_BUFFER)
			vk_die("%s: more than %zu points; plot fewer with -n", r.name, p->n);
		float xy[2] = {rec[c->dims[0]], rec[c->dims[1]]};
		points_add(p, c->pca ? rec : xy, p->labelled ? label : TS_NO_LABEL);
	}
	if (rc < 0)
		vk_die_error(&e);
	if (p->n == 0)
		vk_die("%s: no points to plot", r.name);
	free(rec);
	ts_reader_close(&r);
}

/* Replace whole vectors by their coordinates on the first two principal axes. */
static void project_pca(struct points *p)
{
	vk_error e;
	int d = p->width;
	double *axes = vk_xmalloc(sizeof(double) * 2 * d), *mean = vk_xmalloc(sizeof(double) * d);
	if (vk_pca(p->v, p->n, d, 2, axes, mean, NULL, &e))
		vk_die_error(&e);
	float *xy = vk_xmalloc(sizeof(float) * 2 * p->n);
	vk_pca_project(p->v, p->n, d, 2, axes, mean, xy);
	free(p->v);
	free(axes);
	free(mean);
	p->v = xy;
	p->width = 2;
}

/* The data's extent with a 5% margin (a lone value gets +-1). */
static void data_range(const struct points *p, int axis, double *lo, double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (size_t i = 0; i < p->n; i++) {
		double v = p->v[2 * i + axis];
		*lo = v < *lo ? v : *lo;
		*hi = v > *hi ? v : *hi;
	}
	double m = (*hi - *lo) * 0.05;
	if (m == 0)
		m = 1;
	*lo -= m;
	*hi += m;
}

static void choose_range(const struct cmdline *c, const struct points *p, vk_axes *ax)
{
	if (c->have_range) {
		ax->xmin = c->range[0], ax->xmax = c->range[1];
		ax->ymin = c->range[2], ax->ymax = c->range[3];
		return;
	}
	data_range(p, 0, &ax->xmin, &ax->xmax);
	data_range(p, 1, &ax->ymin, &ax->ymax);
	if (c->symmetric) {
		double m = fmax(fmax(-ax->xmin, ax->xmax), fmax(-ax->ymin, ax->ymax));
		ax->xmin = ax->ymin = -m;
		ax->xmax = ax->ymax = m;
	}
}

static int cmp_label(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
	return (x > y) - (x < y);
}

/* The legend: the distinct labels, ascending, at most max of them. */
struct legend {
	int n, more;
	int32_t label[MAX_LEGEND];
	char text[MAX_LEGEND][48];
	const char *names[MAX_LEGEND];
	const unsigned char *rgb[MAX_LEGEND];
};

static const unsigned char UNLABELLED[3] = {64, 64, 64};

static const unsigned char *label_color(int32_t label)
{
	return label < 0 ? UNLABELLED : vk_palette(label);
}

static void make_legend(const struct cmdline *c, const struct points *p, struct legend *lg)
{
	char name[VK_CLASS_NAME_MAX];
	memset(lg, 0, sizeof *lg);
	if (!p->labelled)
		return;
	int32_t *sorted = vk_xmalloc(p->n * sizeof *sorted);
	memcpy(sorted, p->label, p->n * sizeof *sorted);
	qsort(sorted, p->n, sizeof *sorted, cmp_label);
	for (size_t i = 0; i < p->n; i++) {
		if (i > 0 && sorted[i] == sorted[i - 1])
			continue;
		if (lg->n == MAX_LEGEND) {
			lg->more++;
			continue;
		}
		int32_t k = sorted[i];
		if (k < 0)
			snprintf(lg->text[lg->n], sizeof lg->text[0], "none");
		else if (k < c->n_names)
			snprintf(lg->text[lg->n], sizeof lg->text[0], "%s", c->names[k]);
		else if (vk_class_name(&p->h, k, name, sizeof name))
			snprintf(lg->text[lg->n], sizeof lg->text[0], "%.47s", name);
		else
			snprintf(lg->text[lg->n], sizeof lg->text[0], "%d", (int)k);
		lg->names[lg->n] = lg->text[lg->n];
		lg->rgb[lg->n] = label_color(k);
		lg->label[lg->n++] = k;
	}
	free(sorted);
}

/* Entries that do not fit beside the axes end in a "+N more" line. */
static void draw_legend(vk_canvas *cv, const vk_axes *ax, struct legend *lg)
{
	int fit = vk_legend_rows(ax);
	if (lg->n + (lg->more > 0) > fit) {
		lg->more += lg->n - (fit - 1);
		lg->n = fit - 1;
	}
	if (lg->more) {
		snprintf(lg->text[lg->n], sizeof lg->text[0], "+%d more", lg->more);
		lg->names[lg->n] = lg->text[lg->n];
		lg->rgb[lg->n++] = NULL;
	}
	vk_legend_draw(cv, ax, lg->names, lg->rgb, lg->n);
}

static void draw(vk_canvas *cv, const struct cmdline *c, const struct points *p)
{
	vk_error e;
	static const unsigned char WHITE[3] = {255, 255, 255};
	vk_axes ax;
	struct legend *lg = vk_xmalloc(sizeof *lg);
	memset(&ax, 0, sizeof ax);
	ax.scale = (c->w < c->h ? c->w : c->h) >= 480 ? 2 : 1;
	make_legend(c, p, lg);
	vk_axes_place(&ax, c->w, c->h, vk_legend_width(lg->names, lg->n, ax.scale));
	choose_range(c, p, &ax);
	if (c->symmetric) {
		/* The same extent on both axes keeps its meaning only in a square box:
		 * one unit is as long across as up. */
		long bw = ax.right - ax.left, bh = ax.bottom - ax.top;
		if (bw > bh)
			ax.right = ax.left + bh;
		else
			ax.top = ax.bottom - bw;
	}
	if (vk_canvas_init(cv, c->w, c->h, 3, &e))
		vk_die_error(&e);
	vk_canvas_fill(cv, WHITE);
	for (size_t i = 0; i < p->n; i++) {
		double x = p->v[2 * i], y = p->v[2 * i + 1];
		if (x < ax.xmin || x > ax.xmax || y < ax.ymin || y > ax.ymax)
			continue;
		vk_disc(cv, vk_axes_px(&ax, x), vk_axes_py(&ax, y), c->radius,
			label_color(p->label[i]));
	}
	char xname[32] = "PC1", yname[32] = "PC2";
	if (!c->pca) {
		snprintf(xname, sizeof xname, "z%d", c->dims[0] + 1);
		snprintf(yname, sizeof yname, "z%d", c->dims[1] + 1);
	}
	vk_axes_draw(cv, &ax, xname, yname);
	draw_legend(cv, &ax, lg);
	free(lg);
}

int main(int argc, char **argv)
{
	struct cmdline c;
	struct points p;
	vk_canvas cv;
	vk_error e;
	vk_init(argc, argv);
	parse_cmdline(argc, argv, &c);
	vk_refuse_output_is_input(c.output, &c.input, 1);
	read_points(&c, &p);
	if (c.pca)
		project_pca(&p);
	draw(&cv, &c, &p);
	if (vk_png_save(c.output, &cv, &e))
		vk_die_error(&e);
	vk_canvas_free(&cv);
	free(p.v);
	free(p.label);
	return 0;
}
