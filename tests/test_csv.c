/* txt2stream --csv: commas, a header line, comments, and its errors. */
#include <criterion/criterion.h>
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
