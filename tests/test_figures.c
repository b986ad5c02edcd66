/* The figure tools end to end: latent-plot's pixels and principal components,
 * vae-sample's manifold grid, vae-interp's endpoints, and a conditional VAE
 * whose samples are recognisably of the class asked for. */
#include <criterion/criterion.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pca.h"
#include "plot.h"
#include "stream.h"
#include "testutil.h"

#define DIGITS_TRAIN "examples/data/digits-train-images-idx3-ubyte.gz"
#define DIGITS_LABELS "examples/data/digits-train-labels-idx1-ubyte.gz"

/* A labelled f32 stream of n vectors of d values, via the library. */
static void write_vectors(const char *path, const float *v, const int32_t *labels, int n, int d)
{
	uint32_t dims[1] = {(uint32_t)d};
	ts_header h;
	ts_writer w;
	vk_error e;
	cr_assert_eq(ts_header_init(&h, TS_F32, 1, dims, &e), 0, "%s", e.msg);
	h.has_labels = 1;
	cr_assert_eq(ts_writer_open(&w, path, &h, &e), 0, "%s", e.msg);
	for (int i = 0; i < n; i++)
		cr_assert_eq(ts_write_f32(&w, v + (size_t)i * d, labels[i], &e), 0, "%s", e.msg);
	cr_assert_eq(ts_writer_close(&w, &e), 0, "%s", e.msg);
}

/* An RGB picture read back with libpng. */
struct picture {
	unsigned w, h;
	unsigned char *px;
};

static struct picture read_png(const char *path)
{
	struct picture p;
	png_image im;
	memset(&im, 0, sizeof im);
	im.version = PNG_IMAGE_VERSION;
	cr_assert(png_image_begin_read_from_file(&im, path), "cannot read %s", path);
	im.format = PNG_FORMAT_RGB;
	p.w = im.width;
	p.h = im.height;
	p.px = malloc(PNG_IMAGE_SIZE(im));
	cr_assert(png_image_finish_read(&im, NULL, p.px, 0, NULL), "cannot decode %s", path);
	return p;
}

static const unsigned char *pixel(const struct picture *p, double x, double y)
{
	long i = lround(x), j = lround(y);
	cr_assert(i >= 0 && j >= 0 && i < (long)p->w && j < (long)p->h);
	return p->px + ((size_t)j * p->w + (size_t)i) * 3;
}

static int same_rgb(const unsigned char *a, const unsigned char *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2];
}

/* The axes latent-plot lays out on a picture smaller than 480 pixels (text
 * at scale 1) with a legend of these names. */
static vk_axes small_axes(unsigned w, unsigned h, const char *const *names, int n,
			  double x0, double x1, double y0, double y1)
{
	vk_axes ax;
	memset(&ax, 0, sizeof ax);
	ax.scale = 1;
	vk_axes_place(&ax, w, h, vk_legend_width(names, n, 1));
	ax.xmin = x0, ax.xmax = x1, ax.ymin = y0, ax.ymax = y1;
	return ax;
}

Test(figures_plot, point_has_its_label_colour)
{
	const char *ts = tmp_path("points.ts"), *png = tmp_path("points.png");
	float v[] = {0.5f, 0.5f, -1.0f, -0.5f, 1.5f, -1.5f};
	int32_t labels[] = {3, 7, 12};
	write_vectors(ts, v, labels, 3, 2);
	cr_assert_eq(run("latent-plot --size 400x300 -r 4 --range -2,2,-2,2 -o %s %s", png, ts), 0);
	struct picture p = read_png(png);
	cr_assert_eq(p.w, 400);
	cr_assert_eq(p.h, 300);
	const char *names[] = {"3", "7", "12"};
	vk_axes ax = small_axes(400, 300, names, 3, -2, 2, -2, 2);
	for (int i = 0; i < 3; i++) {
		const unsigned char *got = pixel(&p, vk_axes_px(&ax, v[2 * i]),
						 vk_axes_py(&ax, v[2 * i + 1]));
		cr_assert(same_rgb(got, vk_palette(labels[i])),
			  "point %d: pixel %u,%u,%u is not label %d's colour", i, got[0], got[1],
			  got[2], labels[i]);
	}
	/* Label 12 shares label 2's colour; away from the points, white ground. */
	cr_assert(same_rgb(vk_palette(12), vk_palette(2)));
	const unsigned char white[3] = {255, 255, 255};
	cr_assert(same_rgb(pixel(&p, vk_axes_px(&ax, -1), vk_axes_py(&ax, 1)), white));
	free(p.px);
}

/* Points along (1,2,2)/3 through (1,1,1), with a little noise across. */
static void line_points(float *v, int32_t *labels, int n)
{
	srand(11);
	for (int i = 0; i < n; i++) {
		float t = (float)(i - n / 2), noise = 0.01f * (rand() / (float)RAND_MAX - 0.5f);
		v[3 * i + 0] = 1 + t / 3 + 2 * noise;
		v[3 * i + 1] = 1 + 2 * t / 3 - noise;
		v[3 * i + 2] = 1 + 2 * t / 3;
		labels[i] = t > 0 ? 5 : 1;
	}
}

Test(figures_plot, pca_finds_the_line)
{
	enum { N = 13 };
	float v[3 * N];
	int32_t labels[N];
	line_points(v, labels, N);
	double axes[6], mean[3], var[2];
	vk_error e;
	cr_assert_eq(vk_pca(v, N, 3, 2, axes, mean, var, &e), 0, "%s", e.msg);
	cr_assert_float_eq(axes[0], 1.0 / 3, 1e-3);
	cr_assert_float_eq(axes[1], 2.0 / 3, 1e-3);
	cr_assert_float_eq(axes[2], 2.0 / 3, 1e-3);
	cr_assert_float_eq(mean[0], 1.0, 1e-2);
	cr_assert(var[0] > 10 && var[1] < 1e-3, "variances %g, %g", var[0], var[1]);

	/* End to end: the last point (t = 6) lands at PC1 = 6, PC2 = 0. */
	const char *ts = tmp_path("line.ts"), *png = tmp_path("line.png");
	write_vectors(ts, v, labels, N, 3);
	cr_assert_eq(run("latent-plot --pca --size 300x300 -r 3 --range -8,8,-8,8 -o %s %s",
			 png, ts), 0);
	struct picture p = read_png(png);
	const char *names[] = {"1", "5"};
	vk_axes ax = small_axes(300, 300, names, 2, -8, 8, -8, 8);
	cr_assert(same_rgb(pixel(&p, vk_axes_px(&ax, 6), vk_axes_py(&ax, 0)), vk_palette(5)));
	cr_assert(same_rgb(pixel(&p, vk_axes_px(&ax, -6), vk_axes_py(&ax, 0)), vk_palette(1)));
	const unsigned char white[3] = {255, 255, 255};
	cr_assert(same_rgb(pixel(&p, vk_axes_px(&ax, 0), vk_axes_py(&ax, 6)), white),
		  "nothing lies along PC2");
	free(p.px);
}

Test(figures_plot, errors)
{
	char err[1024];
	const char *ts = tmp_path("two.ts");
	float v[] = {0, 1, 2, 3};
	int32_t labels[] = {0, 1};
	write_vectors(ts, v, labels, 2, 2);
	cr_assert_eq(run_err(err, sizeof err, "latent-plot --dims 0,2 %s > /dev/null", ts), 1);
	cr_assert(strstr(err, "latent-plot: --dims 0,2") && strstr(err, "only 2 values"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "latent-plot --range 1,0,0,1 %s > /dev/null", ts), 2);
	cr_assert(strstr(err, "--range"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "latent-plot --pca -d 0,1 %s > /dev/null", ts), 2);
}

/* The shipped training digits (first n, labelled) as a stream; a model
 * trained on them briefly. */
static const char *digits(int n)
{
	static char path[512];
	snprintf(path, sizeof path, "%s", tmp_path("digits.ts"));
	cr_assert_eq(run("idx2stream -n %d -o %s %s %s", n, path, repo_path(DIGITS_TRAIN),
			 repo_path(DIGITS_LABELS)), 0);
	return path;
}

static const char *train(const char *name, const char *data, const char *opts)
{
	static char path[512];
	snprintf(path, sizeof path, "%s", tmp_path(name));
	cr_assert_eq(run("vae-train -q -t 1 --hidden 64 %s -o %s %s", opts, path, data), 0);
	return path;
}

Test(figures_models, manifold_grid_order)
{
	const char *m = train("vae2.vk", digits(300), "-z 2 -e 1");
	const char *txt = tmp_path("grid.txt");
	cr_assert_eq(run("vae-sample -m %s --grid 5 --latent-only | stream2txt > %s", m, txt), 0);
	FILE *f = fopen(txt, "r");
	double z[25][2];
	for (int i = 0; i < 25; i++)
		cr_assert_eq(fscanf(f, "%lf %lf", &z[i][0], &z[i][1]), 2, "grid point %d", i);
	cr_assert_eq(fscanf(f, "%lf", &z[0][0]), EOF, "more than 25 grid points");
	fclose(f);
	for (int r = 0; r < 5; r++)
		for (int c = 0; c < 5; c++) {
			const double *p = z[5 * r + c];
			if (c > 0) {
				cr_assert(p[0] > p[-2], "z1 rises along row %d", r);
				cr_assert_eq(p[1], p[-1], "z2 is constant along row %d", r);
			}
			if (r > 0) {
				cr_assert(p[1] < z[5 * (r - 1) + c][1], "z2 falls down column %d", c);
				cr_assert_eq(p[0], z[5 * (r - 1) + c][0], "z1 constant down column %d", c);
			}
		}
	cr_assert_float_eq(z[12][0], 0.0, 1e-6, "centre cell");
	cr_assert_float_eq(z[12][1], 0.0, 1e-6, "centre cell");
	cr_assert_float_eq(z[0][0], -z[24][0], 1e-6, "the grid is symmetric");
}

/* Record i of a stream decoded through encode | decode, alone, as text. */
static void reconstruct(const char *m, const char *data, int i, const char *out)
{
	cr_assert_eq(run("stream-cat -s %d -n 1 %s | vae-encode -m %s | vae-decode -m %s | "
			 "stream2txt | cut -f2- >> %s", i, data, m, m, out), 0);
}

Test(figures_models, interpolation_ends_are_reconstructions)
{
	const char *data = digits(200);
	const char *m = train("vae4.vk", data, "-z 4 -e 1");
	const char *ends = tmp_path("ends.txt"), *want = tmp_path("want.txt");
	const char *mid = tmp_path("mid.txt");
	reconstruct(m, data, 3, want);
	reconstruct(m, data, 17, want);
	for (int slerp = 0; slerp < 2; slerp++) {
		cr_assert_eq(run("vae-interp -m %s --from 3 --to 17 -N 7 %s %s | stream2txt > %s",
				 m, slerp ? "--slerp" : "", data, mid), 0);
		cr_assert_eq(run("test $(wc -l < %s) -eq 7", mid), 0, "seven images");
		cr_assert_eq(run("sed -n '1p;7p' %s > %s && cmp -s %s %s", mid, ends, ends, want),
			     0, "the ends (slerp %d) are the records' reconstructions", slerp);
		cr_assert_neq(run("sed -n 4p %s | cmp -s - %s", mid, ends), 0);
	}
	char err[1024];
	cr_assert_eq(run_err(err, sizeof err, "vae-interp -m %s --to 500 %s > /dev/null", m,
			     data), 1);
	cr_assert(strstr(err, "vae-interp: ") && strstr(err, "has 200 records"), "%s", err);
}

/* At latent 8 a CVAE with a one-hot of 1 writes the class into z as well, and
 * only 30-34% of its prior samples looked like their class (seeds 1-3); the
 * one-hot at sqrt(C) gives 78-82% (bench/QUALITY-cvae.md). */
Test(figures_models, cvae_at_latent_8_follows_the_label, .timeout = 120)
{
	const char *data = digits(8000);
	const char *model = tmp_path("cvae8.vk"), *samples = tmp_path("cvae8-samples.ts");
	cr_assert_eq(run("vae-train -q -t 1 -m cvae -z 8 -e 5 -o %s %s", model, data), 0);
	cr_assert_eq(run("vae-sample -m %s --each-label -n 50 --seed 9 -o %s", model, samples), 0);
	int total = 0, right = class_mean_hits(data, samples, 50, &total);
	cr_assert(right >= 0 && total == 500);
	double acc = (double)right / total;
	fprintf(stderr, "figures_models: latent-8 cvae samples, nearest-class-mean accuracy %.1f%%\n",
		100 * acc);
	cr_assert(acc >= 0.6, "accuracy %.3f (a one-hot of 1 gave about 0.3)", acc);
}

Test(figures_models, cvae_samples_look_like_their_class, .timeout = 120)
{
	const char *data = digits(8000);
	char model[512];
	snprintf(model, sizeof model, "%s", tmp_path("cvae.vk"));
	cr_assert_eq(run("vae-train -q -t 2 -m cvae -z 2 -e 5 -o %s %s", model, data), 0);
	const char *samples = tmp_path("cvae-samples.ts");
	cr_assert_eq(run("vae-sample -m %s --each-label -n 30 --seed 9 -o %s", model, samples), 0);
	int total = 0, right = class_mean_hits(data, samples, 30, &total);
	cr_assert(right >= 0, "cannot read %s or %s, or samples out of class order", data, samples);
	cr_assert_eq(total, 300);
	double acc = (double)right / total;
	fprintf(stderr, "figures_models: cvae samples, nearest-class-mean accuracy %.1f%% "
		"(%d of %d)\n", 100 * acc, right, total);
	cr_assert(acc >= 0.5, "accuracy %.3f, chance is 0.1", acc);

	char err[1024];
	int rc = run_err(err, sizeof err, "idx2stream -n 5 %s | vae-encode -m %s > /dev/null",
			 repo_path(DIGITS_TRAIN), model);
	cr_assert_eq(rc, 1, "exit %d: %s", rc, err);
	cr_assert(strstr(err, "vae-encode: ") && strstr(err, "no labels"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "vae-sample -m %s --label 12 > /dev/null", model), 1);
	cr_assert(strstr(err, "vae-sample: --label: 12 is outside the model's classes 0..9"), "%s",
		  err);
	cr_assert_eq(run_err(err, sizeof err, "idx2stream -n 5 %s | vae-interp -m %s > /dev/null",
			     repo_path(DIGITS_TRAIN), model), 1);
	cr_assert(strstr(err, "no labels"), "%s", err);
}
