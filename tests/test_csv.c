/* txt2stream --csv: commas, a header line, comments, and its errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

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
