/* txt2stream --csv: commas, a header line, comments, and its errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "standardize.h"
#include "stream.h"
#include "testutil.h"

/* txt2stream OPTS on text; returns its exit status, stream in *out. */
static int csv(const char *text, const char *opts, char *err, size_t len)
{
	const char *in = tmp_path("in.csv");
	cr_assert_eq(spit(in, text, strlen(text)), 0);
	return run_err(err, len, "txt2stream %s < %s > %s", opts, in, tmp_path("out.ts"));
}

Test(csv, header_comments_blanks)
{
	char err[1024];
	int rc = csv("label, x ,y\n# a comment\n\n3, 0.5,1.5  # tail\n  7,2 , 3\n", "--csv -l",
		     err, sizeof err);
	cr_assert_eq(rc, 0, "%s", err);
	ts_reader r;
	vk_error e;
	cr_assert_eq(ts_reader_open(&r, tmp_path("out.ts"), &e), 0, "%s", e.msg);
	cr_assert_eq(r.h.dims[0], 2);
	cr_assert(r.h.has_labels);
	float v[2];
	int32_t label;
	cr_assert_eq(ts_read(&r, v, &label, &e), 1);
	cr_assert_eq(label, 3);
	cr_assert_eq(v[0], 0.5f);
	cr_assert_eq(v[1], 1.5f);
	cr_assert_eq(ts_read(&r, v, &label, &e), 1);
	cr_assert_eq(label, 7);
	cr_assert_eq(v[0], 2.0f);
	cr_assert_eq(v[1], 3.0f);
	cr_assert_eq(ts_read(&r, v, &label, &e), 0);
	ts_reader_close(&r);
}

Test(csv, same_as_tsv)
{
	char err[1024];
	cr_assert_eq(csv("1,2,3\n4,5,6\n", "--csv -t u8", err, sizeof err), 0, "%s", err);
	size_t a, b;
	unsigned char *x = slurp(tmp_path("out.ts"), &a);
	cr_assert_eq(csv("1 2 3\n4 5 6\n", "-t u8", err, sizeof err), 0, "%s", err);
	unsigned char *y = slurp(tmp_path("out.ts"), &b);
	cr_assert_eq(a, b);
	cr_assert_arr_eq(x, y, a);
	free(x);
	free(y);
}

Test(csv, errors_name_line_and_field)
{
	static const struct {
		const char *text, *msg;
	} cases[] = {
		{"1,2\n3,\n", "line 2, field 2: empty"},
		{"1,,2\n", "line 1, field 2: empty"},
		{"1,2\n3 4\n", "not a comma"},
		{"x,y\n1,2\nfoo,3\n", "line 3, field 1: 'foo'"},
		{"1,2\n3,4,5\n", "line 2"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char err[1024];
		int rc = csv(cases[i].text, "--csv", err, sizeof err);
		cr_assert_eq(rc, 1, "case %zu: exit %d", i, rc);
		cr_assert(strstr(err, "txt2stream: ") && strstr(err, cases[i].msg),
			  "case %zu: %s", i, err);
	}
}

/* Tabular data: the header's names kept, the label in any column by name or
 * number, missing values refused or filled, columns standardised and back. */
Test(csv, names_label_column_fill_standardize)
{
	char err[1024];
	const char *text = "sepal length,species, width\n5,0,3.5\n7,1,\n6,2,2.5\n";
	cr_assert_eq(csv(text, "--csv --label-column species --fill mean --standardize", err,
			 sizeof err), 0, "%s", err);
	ts_reader r;
	vk_error e;
	cr_assert_eq(ts_reader_open(&r, tmp_path("out.ts"), &e), 0, "%s", e.msg);
	char buf[256];
	cr_assert_str_eq(ts_meta_get(&r.h, "column.0", buf, sizeof buf), "sepal length");
	cr_assert_str_eq(ts_meta_get(&r.h, "column.1", buf, sizeof buf), "width");
	cr_assert_str_eq(ts_meta_get(&r.h, "label_column", buf, sizeof buf), "species");
	cr_assert_str_eq(ts_meta_get(&r.h, "columns", buf, sizeof buf), "2");
	cr_assert(r.h.has_labels);
	/* sepal length: mean 6, sd sqrt(2/3); width: mean 3 (the missing one filled
	 * with it), sd sqrt(1/3) over the present values */
	float v[2];
	int32_t label;
	double s0 = sqrt(2.0 / 3), s1 = sqrt(0.5 / 2);
	float want[3][2] = {{(float)(-1 / s0), (float)(0.5 / s1)}, {(float)(1 / s0), 0},
			    {0, (float)(-0.5 / s1)}};
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(ts_read(&r, v, &label, &e), 1);
		cr_assert_eq(label, i);
		cr_assert(fabsf(v[0] - want[i][0]) < 1e-5 && fabsf(v[1] - want[i][1]) < 1e-5,
			  "record %d: %g %g", i, v[0], v[1]);
	}
	ts_reader_close(&r);
	/* stream2txt writes the names back and undoes the standardisation */
	const char *back = tmp_path("back.txt");
	cr_assert_eq(run("stream2txt --header --destandardize %s > %s", tmp_path("out.ts"), back), 0);
	cr_assert_eq(run("head -1 %s | grep -qx 'species.sepal length.width' && "
			 "awk 'NR == 2 && ($2 - 5 > 1e-5 || 5 - $2 > 1e-5 || $3 - 3.5 > 1e-5) "
			 "{ exit 1 } NR == 3 && ($3 - 3 > 1e-5 || 3 - $3 > 1e-5) { exit 1 }' %s",
			 back, back), 0);
	/* --label-column by number, --fill zero, no header */
	cr_assert_eq(csv("1,2,9\n,4,8\n", "--csv --label-column 3 --fill zero -t u8", err,
			 sizeof err), 0, "%s", err);
	cr_assert_eq(run("stream2txt -H %s | tr '\\t' ' ' | paste -s -d'|' | "
			 "grep -qx 'label x1 x2|9 1 2|8 0 4'", tmp_path("out.ts")), 0);
}

Test(csv, tabular_errors_name_row_and_column)
{
	static const struct {
		const char *text, *opts, *msg;
		int rc;
	} cases[] = {
		{"a,b\n1,2\n3,\n", "--csv", "line 3, field 2: empty in column 'b', a missing value", 1},
		{"a,b\n1,NA\n", "--csv", "line 2, field 2: NA in column 'b'", 1},
		{"a,b\n1,x\n", "--csv", "line 2, field 2: 'x' is not a finite 32-bit number in "
					"column 'b'", 1},
		{"a,b\n1,2\n", "--csv --label-column c", "no column 'c' (its columns: a, b)", 1},
		{"1,2\n", "--csv --label-column c", "has no header to find the name in", 1},
		{"a,b,c\n1,2\n", "--csv", "the header names 3 columns, but the lines have 2", 1},
		{"a,b\n1,2\n", "--csv --fill some", "is not mean or zero", 2},
		{"a,b\n1,2\n", "--csv -t u8 --standardize", "use -t f32 or f64", 2},
		{"a,b\n1,\n2,\n", "--csv --fill mean", "column 'b' has no value at all", 1},
		{"1 2\n", "-l --label-column 2", "--labels is --label-column 1", 2},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char err[1024];
		int rc = csv(cases[i].text, cases[i].opts, err, sizeof err);
		cr_assert_eq(rc, cases[i].rc, "case %zu: exit %d: %s", i, rc, err);
		cr_assert(strstr(err, cases[i].msg), "case %zu: %s", i, err);
	}
}

/* vae-decode undoes --standardize: a model of standardised columns decodes
 * into the data's units, with the statistics of its input's metadata (what
 * vae-encode kept) or, for latents with none, of the model's (what vae-train
 * kept); --standardized keeps them standardised; --u8 is refused. vae-sample
 * does the same. */
Test(csv, vae_decode_destandardizes)
{
	const char *in = tmp_path("t.csv"), *ts = tmp_path("t.ts"), *m = tmp_path("t.vae");
	cr_assert_eq(run("awk 'BEGIN { print \"a,b,c\"; for (i = 0; i < 200; i++) "
			 "printf \"%%g,%%g,%%d\\n\", 1000 + 50 * sin(i), 0.01 * cos(0.7 * i), i %% 7 }' "
			 "> %s && txt2stream --csv --standardize -o %s %s && "
			 "vae-train -q -t 1 -e 5 -z 2 --hidden 16 --loss gaussian -o %s %s",
			 in, ts, in, m, ts), 0);
	const char *x = tmp_path("x.ts"), *s = tmp_path("s.ts");
	cr_assert_eq(run("vae-encode -m %s %s > %s.z && vae-decode -m %s %s.z > %s && "
			 "vae-decode --standardized -m %s %s.z > %s", m, ts, x, m, x, x, m, x, s), 0);
	ts_reader rx, rs, rd;
	vk_error e;
	cr_assert_eq(ts_reader_open(&rx, x, &e), 0, "%s", e.msg);
	cr_assert_eq(ts_reader_open(&rs, s, &e), 0, "%s", e.msg);
	cr_assert_eq(ts_reader_open(&rd, ts, &e), 0, "%s", e.msg);
	char buf[1024];
	/* the statistics leave with the standardisation; the names stay */
	cr_assert_null(ts_meta_get(&rx.h, "standardize.mean", buf, sizeof buf));
	cr_assert_null(ts_meta_get(&rx.h, "kind", buf, sizeof buf));
	cr_assert_str_eq(ts_meta_get(&rx.h, "column.0", buf, sizeof buf), "a");
	cr_assert_not_null(ts_meta_get(&rs.h, "standardize.sd", buf, sizeof buf));
	double mean[3], sd[3];
	cr_assert_eq(ts_standardize_get(&rd.h, "t.ts", 3, mean, sd, &e), 1, "%s", e.msg);
	cr_assert(fabs(mean[0] - 1000) < 10 && fabs(sd[1] - 0.007) < 0.002, "%g %g", mean[0], sd[1]);
	float vx[3], vs[3];
	int32_t label;
	double sum_a = 0;
	int n = 0;
	while (ts_read(&rx, vx, &label, &e) == 1) {
		cr_assert_eq(ts_read(&rs, vs, &label, &e), 1);
		for (int j = 0; j < 3; j++)
			cr_assert(fabs(vx[j] - (vs[j] * sd[j] + mean[j])) <= 1e-6 * fabs(mean[j]) + 1e-6,
				  "record %d column %d: %g, not %g", n, j, vx[j], vs[j] * sd[j] + mean[j]);
		sum_a += vx[0];
		n++;
	}
	cr_assert_eq(n, 200);
	cr_assert(fabs(sum_a / n - 1000) < 50, "column a decodes around %g", sum_a / n);
	ts_reader_close(&rx);
	ts_reader_close(&rs);
	ts_reader_close(&rd);
	/* latents without metadata (typed in): the model's statistics; z = 0 decodes
	 * to about the columns' means */
	cr_assert_eq(run("printf '0 0\\n' | txt2stream -t f32 | vae-decode -m %s | stream2txt | "
			 "awk '{ exit !($1 > 900 && $1 < 1100 && $3 > -1 && $3 < 7) }'", m), 0);
	/* vae-sample samples in the data's units, the columns named from the
	 * model: the very bytes of --latent-only through vae-decode */
	cr_assert_eq(run("vae-sample -m %s -n 20 -s 3 > %s.a && vae-sample -m %s -n 20 -s 3 "
			 "--latent-only | vae-decode -m %s > %s.b && cmp -s %s.a %s.b && "
			 "stream2txt %s.a | awk '$1 < 500 { exit 1 }' && "
			 "stream2txt -H %s.a | head -1 | grep -qx 'a.b.c'", m, x, m, m, x, x, x, x, x), 0);
	char err[1024];
	cr_assert_eq(run_err(err, sizeof err, "vae-sample --u8 -m %s > /dev/null", m), 2);
	cr_assert(strstr(err, "vae-sample: the model's data was standardised"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "vae-decode --u8 -m %s %s.z > /dev/null", m, x), 2);
	cr_assert(strstr(err, "vae-decode: the model's data was standardised"), "%s", err);
	/* statistics of the wrong length, or half of them, are named */
	static const char *const bad[][2] = {{"1,2", "standardize.mean does not hold 3"},
					     {NULL, "standardize.sd without standardize.mean"}};
	for (int k = 0; k < 2; k++) {
		ts_header h;
		ts_writer w;
		const char *z = tmp_path("bad.z");
		cr_assert_eq(ts_header_init(&h, TS_F32, 1, (uint32_t[]){2}, &e), 0);
		cr_assert_eq(ts_meta_set(&h, "standardize.sd", "1,1,1", &e), 0);
		if (bad[k][0])
			cr_assert_eq(ts_meta_set(&h, "standardize.mean", bad[k][0], &e), 0);
		cr_assert_eq(ts_writer_open(&w, z, &h, &e), 0, "%s", e.msg);
		cr_assert_eq(ts_write_f32(&w, (float[]){0, 0}, -1, &e), 0);
		cr_assert_eq(ts_writer_close(&w, &e), 0, "%s", e.msg);
		cr_assert_eq(run_err(err, sizeof err, "vae-decode -m %s %s > /dev/null", m, z), 1);
		cr_assert(strstr(err, "vae-decode: ") && strstr(err, bad[k][1]), "%s", err);
	}
}
