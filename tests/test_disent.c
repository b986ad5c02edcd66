/* dSprites and disentanglement metrics: the generator's order, sample and
 * geometry, factor streams checked, metric values where the answer is known,
 * the metrics against bench/disent_ref.py (numpy) on the same codes, and
 * disent-eval end to end with its bad input. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "disent.h"
#include "dsprites.h"
#include "factors.h"
#include "rng.h"
#include "stream.h"
#include "testutil.h"

Test(dsprites, order_is_the_originals_last_factor_fastest)
{
	int c[VK_DSPRITES_FACTORS];
	vk_dsprites_classes(0, c);
	for (int i = 0; i < VK_DSPRITES_FACTORS; i++)
		cr_assert_eq(c[i], 0);
	vk_dsprites_classes(1, c);
	cr_assert(c[5] == 1 && c[4] == 0);
	vk_dsprites_classes(32, c);
	cr_assert(c[5] == 0 && c[4] == 1);
	vk_dsprites_classes(32 * 32, c);
	cr_assert(c[3] == 1 && c[4] == 0);
	vk_dsprites_classes(32 * 32 * 40 * 6, c);
	cr_assert(c[1] == 1 && c[2] == 0 && c[3] == 0);
	vk_dsprites_classes(VK_DSPRITES_COUNT - 1, c);
	cr_assert(c[0] == 0 && c[1] == 2 && c[2] == 5 && c[3] == 39 && c[4] == 31 && c[5] == 31);
	vk_factors f;
	vk_dsprites_factors(&f);
	long n = 1;
	for (int i = 0; i < f.k; i++)
		n *= f.size[i];
	cr_assert_eq(n, (long)VK_DSPRITES_COUNT);
	cr_assert(fabs(f.hi[3] - 2 * M_PI) < 1e-12 && f.lo[2] == 0.5 && f.hi[2] == 1);
}

static int area(const unsigned char *img)
{
	int a = 0;
	for (int i = 0; i < VK_DSPRITES_PIXELS; i++)
		a += img[i] != 0;
	return a;
}

/* Centre of mass, in pixels. */
static void centre(const unsigned char *img, double *x, double *y)
{
	double sx = 0, sy = 0, n = 0;
	for (int r = 0; r < VK_DSPRITES_SIDE; r++)
		for (int c = 0; c < VK_DSPRITES_SIDE; c++)
			if (img[r * VK_DSPRITES_SIDE + c]) {
				sx += c + 0.5, sy += r + 0.5, n++;
			}
	*x = sx / n, *y = sy / n;
}

Test(dsprites, sprites_grow_with_scale_move_with_position_and_never_leave_the_image)
{
	unsigned char img[VK_DSPRITES_PIXELS];
	for (int shape = 0; shape < 3; shape++) {
		int small[6] = {0, shape, 0, 0, 16, 16}, big[6] = {0, shape, 5, 0, 16, 16};
		vk_dsprites_render(small, img, 1);
		int a0 = area(img);
		vk_dsprites_render(big, img, 1);
		int a1 = area(img);
		/* area goes with scale²: (1/0.5)² = 4, give or take the pixel grid */
		cr_assert(a1 > 3.3 * a0 && a1 < 4.7 * a0, "shape %d: %d then %d", shape, a0, a1);
		int left[6] = {0, shape, 5, 7, 0, 31}, right[6] = {0, shape, 5, 7, 31, 0};
		double x0, y0, x1, y1;
		vk_dsprites_render(left, img, 1);
		centre(img, &x0, &y0);
		vk_dsprites_render(right, img, 1);
		centre(img, &x1, &y1);
		cr_assert(x1 - x0 > 25 && y0 - y1 > 25, "shape %d: (%g,%g) (%g,%g)", shape, x0, y0, x1, y1);
		/* at every corner and angle the whole sprite is drawn: the border stays empty */
		for (int o = 0; o < 40; o++)
			for (int corner = 0; corner < 4; corner++) {
				int c[6] = {0, shape, 5, o, corner & 1 ? 31 : 0, corner & 2 ? 31 : 0};
				vk_dsprites_render(c, img, 1);
				for (int i = 0; i < VK_DSPRITES_SIDE; i++)
					cr_assert(!img[i] && !img[63 * 64 + i] && !img[i * 64] && !img[i * 64 + 63]);
			}
	}
	/* the three shapes differ at the same pose */
	unsigned char sq[VK_DSPRITES_PIXELS], el[VK_DSPRITES_PIXELS];
	vk_dsprites_render((int[]){0, 0, 5, 0, 16, 16}, sq, 1);
	vk_dsprites_render((int[]){0, 1, 5, 0, 16, 16}, el, 1);
	vk_dsprites_render((int[]){0, 2, 5, 0, 16, 16}, img, 1);
	cr_assert(memcmp(sq, el, sizeof sq) && memcmp(el, img, sizeof sq) && memcmp(sq, img, sizeof sq));
}

Test(dsprites, a_sample_is_seeded_distinct_aligned_and_in_order)
{
	const char *d = tmp_path("ds.ts"), *f = tmp_path("dsf.ts"), *f2 = tmp_path("dsf2.ts");
	cr_assert_eq(run("dsprites2stream -n 500 --seed 9 -o %s -f %s", d, f), 0);
	cr_assert_eq(run("dsprites2stream -n 500 --seed 9 -f %s > /dev/null", f2), 0);
	size_t n1, n2;
	unsigned char *a = slurp(f, &n1), *b = slurp(f2, &n2);
	cr_assert(n1 == n2 && !memcmp(a, b, n1), "the same seed draws the same sample");
	free(a), free(b);
	cr_assert_eq(run("dsprites2stream -n 500 --seed 10 -f %s > /dev/null", f2), 0);
	a = slurp(f, &n1), b = slurp(f2, &n2);
	cr_assert(n1 != n2 || memcmp(a, b, n1), "another seed, another sample");
	free(a), free(b);

	/* stream-info shows the factors: names, sizes, ranges */
	cr_assert_eq(run("stream-info %s | grep -q '^meta.factor.3  *orientation$' && "
			 "stream-info %s | grep -q '^meta.factor.2.range  *0.5,1$'", f, f), 0);
	ts_reader r, q;
	vk_error e;
	vk_factors fac;
	cr_assert_eq(ts_reader_open(&r, f, &e), 0, "%s", e.msg);
	cr_assert_eq(vk_factors_parse(&fac, &r.h, r.name, &e), 0, "%s", e.msg);
	cr_assert(fac.k == 6 && fac.size[3] == 40 && !strcmp(fac.name[3], "orientation"));
	cr_assert_eq(ts_reader_open(&q, d, &e), 0, "%s", e.msg);
	cr_assert(r.h.count == 500 && q.h.count == 500);
	float rec[6];
	unsigned char img[VK_DSPRITES_PIXELS], want[VK_DSPRITES_PIXELS];
	long prev = -1;
	int cls[6], shapes[3] = {0};
	while (ts_read(&r, rec, NULL, &e) > 0) {
		cr_assert_eq(vk_factors_check(&fac, rec, cls, r.index - 1, r.name, &e), 0, "%s", e.msg);
		long idx = 0;
		for (int i = 0; i < 6; i++)
			idx = idx * fac.size[i] + cls[i];
		cr_assert(idx > prev, "record %llu: index %ld after %ld", (unsigned long long)r.index, idx, prev);
		prev = idx;
		shapes[cls[1]]++;
		/* the image beside it is the one these factors draw */
		cr_assert_eq(ts_read(&q, img, NULL, &e), 1);
		vk_dsprites_render(cls, want, 255);
		cr_assert(!memcmp(img, want, sizeof img));
	}
	cr_assert(shapes[0] > 100 && shapes[1] > 100 && shapes[2] > 100);
	ts_reader_close(&r);
	ts_reader_close(&q);
}

Test(dsprites, bad_usage_is_one_line)
{
	char err[1024];
	cr_assert_eq(run_err(err, sizeof err, "dsprites2stream -n 737281 > /dev/null"), 2);
	cr_assert(strstr(err, "737281 is more than dSprites' 737280 images"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "dsprites2stream --seed 3 > /dev/null"), 2);
	cr_assert(strstr(err, "--seed has no effect"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "dsprites2stream -n 0 > /dev/null"), 2);
	cr_assert_eq(run("dsprites2stream --help | grep -q 'posX, posY'"), 0);
	cr_assert_eq(run("dsprites2stream --version | grep -q vaekit"), 0);
}

Test(factors, a_bad_factor_stream_is_refused_naming_the_problem)
{
	ts_header h;
	vk_error e;
	vk_factors f = {.k = 2, .size = {3, 4}};
	strcpy(f.name[0], "shape");
	strcpy(f.name[1], "size with spaces");
	cr_assert_eq(vk_factors_header(&h, &f, &e), 0);
	vk_factors g;
	cr_assert_eq(vk_factors_parse(&g, &h, "x", &e), 0, "%s", e.msg);
	cr_assert(!strcmp(g.name[1], "size with spaces") && g.size[1] == 4 && !g.has_range[0]);
	int cls[2];
	cr_assert_eq(vk_factors_check(&g, (float[]){2, 3}, cls, 0, "x", &e), 0);
	cr_assert(cls[0] == 2 && cls[1] == 3);
	cr_assert_eq(vk_factors_check(&g, (float[]){3, 0}, cls, 7, "x", &e), -1);
	cr_assert(strstr(e.msg, "record 7: factor shape is 3, not a class in 0 ... 2"), "%s", e.msg);
	cr_assert_eq(vk_factors_check(&g, (float[]){0.5f, 0}, cls, 0, "x", &e), -1);
	cr_assert_eq(vk_factors_check(&g, (float[]){NAN, 0}, cls, 0, "x", &e), -1);
	ts_meta_unset(&h, "factor.1.size");
	cr_assert_eq(vk_factors_parse(&g, &h, "x", &e), -1);
	cr_assert(strstr(e.msg, "no factor.1.size= key"), "%s", e.msg);
	ts_meta_set(&h, "kind", "latent", &e);
	cr_assert_eq(vk_factors_parse(&g, &h, "x", &e), -1);
	cr_assert(strstr(e.msg, "not a factor stream"), "%s", e.msg);
}

/* Every combination of three factors of 3, 5 and 8 values, repeated; codes
 * from make(). */
struct grid {
	double z[4 * 120 * 4];
	int y[4 * 120 * 3];
	int size[3];
	vk_disent_data x;
};

static void grid_make(struct grid *g, int d, void (*make)(const int *y, double *z, vk_rng *r))
{
	vk_rng rng;
	vk_rng_seed(&rng, 42);
	g->size[0] = 3, g->size[1] = 5, g->size[2] = 8;
	for (int i = 0; i < 480; i++) {
		int c = i % 120, *y = g->y + i * 3;
		y[0] = c / 40, y[1] = c / 8 % 5, y[2] = c % 8;
		make(y, g->z + i * d, &rng);
	}
	g->x = (vk_disent_data){.z = g->z, .y = g->y, .size = g->size, .n = 480, .d = d, .k = 3};
}

static void perfect(const int *y, double *z, vk_rng *r)
{
	(void)r;
	/* each dim one factor (in another order, another scale); a fourth dim constant */
	z[0] = 2.0 * y[2], z[1] = -0.5 * y[0], z[2] = y[1] + 100, z[3] = 1;
}

static void random_code(const int *y, double *z, vk_rng *r)
{
	(void)y;
	for (int a = 0; a < 4; a++)
		z[a] = vk_rng_normal(r);
}

static void entangled(const int *y, double *z, vk_rng *r)
{
	/* every dim mixes every factor: informative, not disentangled */
	for (int a = 0; a < 4; a++)
		z[a] = y[0] * (a + 1) + y[1] * (3 - a) + y[2] * (a % 2 ? 1 : -1) + 0.01 * vk_rng_normal(r);
}

Test(metrics, a_perfectly_disentangled_code_scores_about_one)
{
	struct grid g;
	grid_make(&g, 4, perfect);
	vk_disent_opts o;
	vk_disent_result r;
	vk_error e;
	vk_disent_defaults(&o);
	cr_assert_eq(vk_disent_eval(&g.x, &o, VK_M_ALL, &r, &e), 0, "%s", e.msg);
	/* MIG's second-best dim holds an independent factor: its sample MI is
	 * a bias of order (V1-1)(V2-1)/2n, not 0 */
	cr_assert(r.mig > 0.99 && r.mig <= 1, "MIG %g", r.mig);
	cr_assert(r.bv_eval == 1 && r.fv_eval == 1 && r.fv_active == 3, "%g %g %d", r.bv_eval,
		  r.fv_eval, r.fv_active);
	cr_assert(r.dci_d > 0.999 && r.dci_c > 0.999 && r.dci_i > 0.99, "%g %g %g", r.dci_d,
		  r.dci_c, r.dci_i);
	/* SAP: the right dim classifies perfectly; the others no better than the
	 * most frequent class */
	cr_assert(r.sap > 1 - 1.0 / 3 - 0.05, "SAP %g", r.sap);
}

Test(metrics, a_random_code_scores_about_zero)
{
	struct grid g;
	grid_make(&g, 4, random_code);
	vk_disent_opts o;
	vk_disent_result r;
	vk_error e;
	vk_disent_defaults(&o);
	cr_assert_eq(vk_disent_eval(&g.x, &o, VK_M_ALL, &r, &e), 0, "%s", e.msg);
	cr_assert(r.mig < 0.05, "MIG %g", r.mig);
	/* chance is 1/3 for the classifiers of three factors */
	cr_assert(r.bv_eval < 0.45 && r.fv_eval < 0.45, "%g %g", r.bv_eval, r.fv_eval);
	cr_assert(r.sap < 0.05 && r.dci_i < 0.05, "SAP %g DCI-I %g", r.sap, r.dci_i);
}

Test(metrics, an_entangled_code_is_informative_not_disentangled)
{
	struct grid g;
	grid_make(&g, 4, entangled);
	vk_disent_opts o;
	vk_disent_result r;
	vk_error e;
	vk_disent_defaults(&o);
	cr_assert_eq(vk_disent_eval(&g.x, &o, VK_M_MIG | VK_M_DCI, &r, &e), 0, "%s", e.msg);
	cr_assert(r.dci_i > 0.9 && r.dci_d < 0.6 && r.mig < 0.5, "I %g D %g MIG %g", r.dci_i,
		  r.dci_d, r.mig);
	/* the seed draws the sample: another seed, another MIG estimate; the same, the same */
	vk_disent_result r2, r3;
	cr_assert_eq(vk_disent_eval(&g.x, &o, VK_M_MIG, &r2, &e), 0);
	o.seed = 2;
	cr_assert_eq(vk_disent_eval(&g.x, &o, VK_M_MIG, &r3, &e), 0);
	cr_assert(r2.mig == r.mig && r3.mig != r.mig);
}

/* The codes of a tiny trained VAE on dSprites (whatever it learnt: the point
 * is the same numbers from two implementations) against bench/disent_ref.py. */
Test(metrics, equal_the_numpy_reference_to_1e6, .timeout = 300)
{
	if (run("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
		cr_skip_test("no python3-numpy (make deps installs it)");
	const char *d = tmp_path("ref.ts"), *f = tmp_path("reff.ts"), *m = tmp_path("ref.vae"),
		   *z = tmp_path("ref-z.ts"), *c = tmp_path("ref-c.tsv"), *p = tmp_path("ref-p.tsv");
	cr_assert_eq(run("dsprites2stream -n 2000 --seed 5 -o %s -f %s", d, f), 0);
	cr_assert_eq(run("vae-train -q -t 1 -e 1 -z 5 --hidden 32 -o %s %s", m, d), 0);
	cr_assert_eq(run("vae-encode -m %s %s > %s", m, d, z), 0);
	const char *opts = "--seed 3 --points 3000 --train 1500 --test 700";
	cr_assert_eq(run("disent-eval --tsv %s %s %s | tail -n +5 > %s", opts, z, f, c), 0);
	const char *zt = tmp_path("ref-z.txt"), *ft = tmp_path("ref-f.txt");
	cr_assert_eq(run("stream2txt %s > %s && stream2txt %s > %s", z, zt, f, ft), 0);
	cr_assert_eq(run("/usr/bin/python3 %s %s %s 1,3,6,40,32,32 %s > %s",
			 repo_path("bench/disent_ref.py"), zt, ft, opts, p), 0);
	FILE *fc = fopen(c, "r"), *fp = fopen(p, "r");
	cr_assert(fc && fp);
	char kc[64], kp[64];
	double vc, vp;
	int lines = 0;
	while (fscanf(fc, "%63s %lf", kc, &vc) == 2) {
		cr_assert_eq(fscanf(fp, "%63s %lf", kp, &vp), 2, "%s missing from the reference", kc);
		cr_assert_str_eq(kc, kp);
		cr_assert(fabs(vc - vp) <= 1e-6, "%s: C %.9g, numpy %.9g", kc, vc, vp);
		lines++;
	}
	cr_assert_eq(lines, 10);
	fclose(fc);
	fclose(fp);
}

Test(disent_eval, end_to_end_and_bad_input)
{
	/* copies: run_err takes tmp_path's slots too */
	char *d = strdup(tmp_path("e2e.ts")), *f = strdup(tmp_path("e2ef.ts")),
	     *f2 = strdup(tmp_path("e2ef2.ts")), *m = strdup(tmp_path("e2e.vae")),
	     *ae = strdup(tmp_path("e2e-ae.vae")), *o = strdup(tmp_path("e2e.tsv"));
	char err[2048];
	cr_assert_eq(run("dsprites2stream -n 300 --seed 4 -o %s -f %s", d, f), 0);
	cr_assert_eq(run("vae-train -q -t 1 -e 1 -z 4 --arch conv -o %s %s", m, d), 0);
	cr_assert_eq(run("disent-eval --tsv -m %s %s %s > %s", m, d, f, o), 0);
	/* every metric, numbers in range */
	size_t n;
	char *out = (char *)slurp(o, &n);
	cr_assert(out);
	const char *keys[] = {"mig", "betavae_eval", "factorvae_eval", "sap",
			      "dci_disentanglement", "dci_completeness"};
	for (int i = 0; i < 6; i++) {
		char k[64];
		snprintf(k, sizeof k, "\n%s\t", keys[i]);
		char *at = strstr(out, k);
		cr_assert(at, "no %s in\n%s", keys[i], out);
		double v = atof(at + strlen(k));
		cr_assert(v >= 0 && v <= 1, "%s %g", keys[i], v);
	}
	cr_assert(strstr(out, "\nrecords\t300\n") && strstr(out, "\nfactors\t5\n"), "%s", out);
	free(out);
	/* the same through a code stream */
	cr_assert_eq(run("vae-encode -m %s %s | disent-eval --tsv - %s | cmp - %s", m, d, f, o), 0);
	/* an autoencoder: measured on its code, said once */
	cr_assert_eq(run("vae-train -q -t 1 -e 1 -m ae -z 4 --hidden 16 -o %s %s", ae, d), 0);
	cr_assert_eq(run_err(err, sizeof err, "disent-eval --metrics mig -m %s %s %s > /dev/null",
			     ae, d, f), 0);
	cr_assert(strstr(err, "is an autoencoder (no stochastic latent): every metric is measured "
			      "on its deterministic code"), "%s", err);
	/* factors not aligned: counts differ, either way, file or pipe */
	cr_assert_eq(run("dsprites2stream -n 299 --seed 4 -f %s > /dev/null", f2), 0);
	cr_assert_eq(run_err(err, sizeof err, "disent-eval -m %s %s %s", m, d, f2), 1);
	cr_assert(strstr(err, "has 300 records but") && strstr(err, "has 299: the factors must be "
			  "aligned"), "%s", err);
	cr_assert(!strchr(err, '\n') || strchr(err, '\n') == err + strlen(err) - 1, "one line: %s", err);
	cr_assert_eq(run_err(err, sizeof err, "cat %s | disent-eval -m %s - %s", d, m, f2), 1);
	cr_assert(strstr(err, "the factors must be aligned"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "cat %s | disent-eval -m %s %s -", f2, m, d), 1);
	cr_assert(strstr(err, "the factors must be aligned"), "%s", err);
	/* not a factor stream, unknown metric, missing operand */
	cr_assert_eq(run_err(err, sizeof err, "disent-eval -m %s %s %s", m, d, d), 1);
	cr_assert(strstr(err, "not a factor stream"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "disent-eval --metrics mig,foo %s %s", d, f), 2);
	cr_assert(strstr(err, "'foo' is not one of"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "disent-eval %s", f), 2);
	cr_assert_eq(run_err(err, sizeof err, "disent-eval - -"), 2);
	cr_assert(strstr(err, "DATA and FACTORS cannot both be standard input"), "%s", err);
	cr_assert_eq(run("disent-eval --help | grep -q 'FactorVAE'"), 0);
	cr_assert_eq(run("disent-eval --version | grep -q vaekit"), 0);
	/* images without -m are not codes */
	cr_assert_eq(run_err(err, sizeof err, "disent-eval %s %s", d, f), 1);
	cr_assert(strstr(err, "codes are vectors"), "%s", err);
	free(d), free(f), free(f2), free(m), free(ae), free(o);
}
