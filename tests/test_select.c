/* Selecting records: the index sets of stream-cat --index, and stream-cat's
 * --label, --class, --index and --invert end to end, metadata kept. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "classes.h"
#include "indexset.h"
#include "manifest.h"
#include "stream.h"
#include "testutil.h"

Test(indexset, ranges_merge_and_query_in_order)
{
	vk_index_set s;
	vk_error e;
	vk_index_set_init(&s);
	cr_assert_eq(vk_index_set_parse(&s, "9,3-5,4,0, 7-8\n12", "t", &e), 0, "%s", e.msg);
	vk_index_set_finish(&s);
	/* 0, 3-5, 7-9, 12: four ranges, eight numbers */
	cr_assert_eq(s.n, 4);
	cr_assert_eq(vk_index_set_size(&s), 8);
	cr_assert_eq(vk_index_set_end(&s), 13);
	const char *want = "1001110111001000";
	for (int k = 0; k < 16; k++)
		cr_assert_eq(vk_index_set_next(&s, (uint64_t)k), want[k] == '1', "k=%d", k);
	vk_index_set_free(&s);
}

Test(indexset, file_with_comments_and_bad_items)
{
	vk_index_set s;
	vk_error e;
	char text[] = "# records to look at\n1 2\t3 # the first three\n\n10-11,\n";
	FILE *f = fmemopen(text, strlen(text), "r");
	vk_index_set_init(&s);
	cr_assert_eq(vk_index_set_read(&s, f, "picks", &e), 0, "%s", e.msg);
	fclose(f);
	vk_index_set_finish(&s);
	cr_assert_eq(vk_index_set_size(&s), 5);
	cr_assert_eq(s.n, 2);
	vk_index_set_free(&s);
	const char *bad[] = {"1\n2\nx7", "5-2", "3-", "12345678901234567890", "-1"};
	const char *msg[] = {"picks:3: 'x7' is not a record number", "runs backwards",
			     "empty record number", "too large", "empty record number"};
	for (int i = 0; i < 5; i++) {
		vk_index_set_init(&s);
		cr_assert_eq(vk_index_set_parse(&s, bad[i], "picks", &e), -1, "%s", bad[i]);
		cr_assert(strstr(e.msg, msg[i]), "%s: %s", bad[i], e.msg);
		vk_index_set_free(&s);
	}
	cr_assert(vk_index_is_list("0,3-9"));
	cr_assert(!vk_index_is_list("picks.txt"));
	cr_assert(!vk_index_is_list(""));
}

/* 20 one-value u8 records, record i holding i and label i % 4, with four
 * class names (one with a comma, one with a newline, one in UTF-8), a source
 * and a key of our own. */
static const char *labelled(const char *name)
{
	static char path[512];
	snprintf(path, sizeof path, "%s", tmp_path(name));
	uint32_t dims[1] = {1};
	ts_header h;
	ts_writer w;
	vk_error e;
	ts_header_init(&h, TS_U8, 1, dims, &e);
	h.has_labels = 1;
	char *names[] = {"shirt", "a,b", "new\nline", "\xc3\xa9t\xc3\xa9"};
	cr_assert_eq(vk_classes_set(&h, names, 4, &e), 0, "%s", e.msg);
	cr_assert_eq(ts_meta_set(&h, "source", "somewhere/with spaces", &e), 0);
	cr_assert_eq(ts_meta_set(&h, "mine", "kept", &e), 0);
	cr_assert_eq(ts_writer_open(&w, path, &h, &e), 0, "%s", e.msg);
	for (int i = 0; i < 20; i++) {
		unsigned char v = (unsigned char)i;
		cr_assert_eq(ts_write(&w, &v, i % 4, &e), 0, "%s", e.msg);
	}
	cr_assert_eq(ts_writer_close(&w, &e), 0, "%s", e.msg);
	return path;
}

/* The values of a one-value stream as a string "v:l v:l ...", and its metadata
 * compared with the input's. */
static void expect(const char *cmd_fmt, const char *in, const char *want)
{
	const char *out = tmp_path("sel.ts");
	char err[1024], got[1024] = "";
	int rc = run_err(err, sizeof err, cmd_fmt, in, out);
	cr_assert_eq(rc, 0, "%s: %s", cmd_fmt, err);
	ts_reader r, o;
	vk_error e;
	cr_assert_eq(ts_reader_open(&r, out, &e), 0, "%s", e.msg);
	cr_assert_eq(ts_reader_open(&o, in, &e), 0, "%s", e.msg);
	cr_assert_str_eq(r.h.meta, o.h.meta, "metadata changed");
	cr_assert(r.h.has_labels);
	unsigned char v;
	int32_t l;
	while (ts_read(&r, &v, &l, &e) > 0)
		snprintf(got + strlen(got), sizeof got - strlen(got), "%s%d:%d", *got ? " " : "",
			 v, (int)l);
	ts_reader_close(&r);
	ts_reader_close(&o);
	cr_assert_str_eq(got, want, "%s: got %s, want %s", cmd_fmt, got, want);
}

Test(stream_select, by_label_and_class)
{
	const char *in = labelled("lab.ts");
	expect("stream-cat --label 1,3 %s > %s", in,
	       "1:1 3:3 5:1 7:3 9:1 11:3 13:1 15:3 17:1 19:3");
	expect("stream-cat -l 2-3 -n 3 %s > %s", in, "2:2 3:3 6:2");
	expect("stream-cat --class 'a%%2Cb' --class shirt -s 1 -e 2 %s > %s", in,
	       "1:1 5:1 9:1 13:1 17:1");
	expect("stream-cat --class 'new%%0Aline,\xc3\xa9t\xc3\xa9' --invert %s > %s", in,
	       "0:0 1:1 4:0 5:1 8:0 9:1 12:0 13:1 16:0 17:1");
	/* Through a pipe, count unknown: the same records. */
	expect("stream-cat %s | stream-cat -l 0 -o %s", in, "0:0 4:0 8:0 12:0 16:0");
}

Test(stream_select, by_index_list_file_and_invert)
{
	const char *in = labelled("idx.ts"), *picks = tmp_path("picks.txt");
	expect("stream-cat --index 0,5-7,19 %s > %s", in, "0:0 5:1 6:2 7:3 19:3");
	cr_assert_eq(run("printf '# worst\\n17\\n2\\n17\\n3-4\\n' > %s", picks), 0);
	char cmd[1024];
	/* A file, out of order and repeated: stream order, each record once. */
	snprintf(cmd, sizeof cmd, "stream-cat --index %s %%s > %%s", picks);
	expect(cmd, in, "2:2 3:3 4:0 17:1");
	snprintf(cmd, sizeof cmd, "stream-cat --index %s --invert -l 0 %%s > %%s", picks);
	expect(cmd, in, "0:0 1:1 2:2 3:3 5:1 6:2 7:3 8:0 9:1 10:2 11:3 12:0 13:1 14:2 15:3 "
	       "16:0 17:1 18:2 19:3");
	/* Numbers run across inputs, as --skip does. */
	char two[1024];
	snprintf(two, sizeof two, "stream-cat -i 19-20,39 %%s %s > %%s", in);
	expect(two, in, "19:3 0:0 19:3");
}

Test(stream_select, errors_are_one_clear_line)
{
	const char *in = labelled("err.ts");
	char plain[512], out[512], err[1024];
	/* tmp_path's buffers are reused by run_err: keep our own copies. */
	snprintf(plain, sizeof plain, "%s", tmp_path("plain.ts"));
	snprintf(out, sizeof out, "%s", tmp_path("never.ts"));
	cr_assert_eq(run("seq 1 5 | txt2stream -o %s", plain), 0);
	struct {
		const char *args, *msg;
		int rc;
	} cases[] = {
		{"--index 3,20", "record 20 is past the end (the input has 20 records", 1},
		{"--index 0-99", "record 99 is past the end", 1},
		{"--class trousers", "has no class named 'trousers'", 1},
		{"--index /nonexistent/picks", "cannot open /nonexistent/picks", 1},
		{"--label x", "is not a list of labels", 2},
		{"--invert", "--invert has no effect without --label", 2},
		{"--index 4-2", "runs backwards", 1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		int rc = run_err(err, sizeof err, "stream-cat %s -o %s %s", cases[i].args, out, in);
		cr_assert_eq(rc, cases[i].rc, "%s: %s", cases[i].args, err);
		cr_assert(strstr(err, cases[i].msg), "%s: %s", cases[i].args, err);
		cr_assert(strchr(err, '\n') == err + strlen(err) - 1 || strstr(err, "Try"),
			  "%s: more than one line: %s", cases[i].args, err);
		cr_assert_neq(access(out, F_OK), 0, "%s: left an output", cases[i].args);
	}
	cr_assert_eq(run_err(err, sizeof err, "stream-cat -l 1 %s > /dev/null", plain), 1);
	cr_assert(strstr(err, "no labels to select by (--label)"), "%s", err);
	cr_assert_eq(run_err(err, sizeof err, "stream-cat --class x %s > /dev/null", plain), 1);
	cr_assert(strstr(err, "no labels"), "%s", err);
	/* Past the end through a pipe too, where the count is unknown. */
	cr_assert_eq(run_err(err, sizeof err, "stream-cat %s | stream-cat -i 25 > /dev/null", in),
		     1);
	cr_assert(strstr(err, "record 25 is past the end"), "%s", err);
}

/* Records ↔ files: img2stream --manifest names each record's file, odd names
 * and all; the library reads them back; stream2img %f names outputs by them. */
Test(manifest, round_trip_with_odd_file_names)
{
	char dir[512], err[2048];
	snprintf(dir, sizeof dir, "%s", tmp_path("mf"));
	int rc = run_err(err, sizeof err,
		"mkdir -p %s/in/a %s/in/b && cd %s && seq 0 15 | paste -s -d' ' | txt2stream -t u8 -s 4x4 > px.ts && "
		"stream2img -o 'in/a/with space.png' px.ts && "
		"stream2img -o \"in/b/$(printf 'new\\nline')\\\\ttab.png\" px.ts && "
		"stream2img -o \"in/b/$(printf '\\303\\251t\\303\\251')%%%%.png\" px.ts && "
		"img2stream -m man.tsv -o all.ts in && "
		"stream2img -m man.tsv -o 'out/%%c/%%f.png' all.ts && "
		"test -f 'out/a/with space.png' && test -f 'out/b/new_line\\ttab.png' && "
		"test -f \"out/b/$(printf '\\303\\251t\\303\\251')%%.png\"",
		dir, dir, dir);
	cr_assert_eq(rc, 0, "%s", err);
	char path[600];
	snprintf(path, sizeof path, "%s/man.tsv", dir);
	vk_manifest m;
	vk_error e;
	cr_assert_eq(vk_manifest_load(&m, path, &e), 0, "%s", e.msg);
	cr_assert_eq(m.n, 3);
	/* sorted by bytes: a/…, b/new…, b/\xc3… */
	cr_assert_str_eq(m.file[0], "in/a/with space.png");
	cr_assert_str_eq(m.file[1], "in/b/new\nline\\ttab.png");
	cr_assert_str_eq(m.file[2], "in/b/\xc3\xa9t\xc3\xa9%.png");
	vk_manifest_free(&m);
	/* Bad manifests: one clear line. */
	cr_assert_eq(run("cd %s && printf 'record\\tfile\\n0\\ta\\n2\\tb\\n' > gap.tsv && "
			 "printf 'x\\n' > not.tsv", dir), 0);
	snprintf(path, sizeof path, "%s/gap.tsv", dir);
	cr_assert_eq(vk_manifest_load(&m, path, &e), -1);
	cr_assert(strstr(e.msg, "gap.tsv:3: expected record 1"), "%s", e.msg);
	snprintf(path, sizeof path, "%s/not.tsv", dir);
	cr_assert_eq(vk_manifest_load(&m, path, &e), -1);
	cr_assert(strstr(e.msg, "not a manifest"), "%s", e.msg);
	rc = run_err(err, sizeof err, "cd %s && stream2img -o 'o/%%f.png' all.ts", dir);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "%f needs the records' files (--manifest FILE)"), "%s", err);
	rc = run_err(err, sizeof err, "cd %s && img2stream -m x.ts -o x.ts in", dir);
	cr_assert_eq(rc, 2);
}

/* The records' files and class names reach the scores and the selection:
 * kl-eval --per-record --manifest adds class and file columns (percent-encoded:
 * a space stays, a tab is %09), stream-cat --manifest --index FILE picks
 * records by path or base name, score-eval takes class names for labels. */
Test(manifest, files_and_class_names_through_scores_and_selection)
{
	char dir[512], err[2048];
	snprintf(dir, sizeof dir, "%s", tmp_path("mfs"));
	int rc = run_err(err, sizeof err,
		"mkdir -p %s/in/shirt %s/in/bag && cd %s && for i in 1 2 3 4 5 6; do "
		"seq 0 15 | awk -v i=$i '{ printf \"%%d \", ($1 * i * 7) %% 256 }' | "
		"txt2stream -t u8 -s 4x4 > px.ts && stream2img -o \"in/shirt/s $i.png\" px.ts && "
		"seq 0 15 | awk -v i=$i '{ printf \"%%d \", 255 - ($1 * 3 + i) %% 256 }' | "
		"txt2stream -t u8 -s 4x4 > px.ts && stream2img -o \"in/bag/b\t$i.png\" px.ts; done && "
		"img2stream -m man.tsv -o all.ts in && "
		"vae-train -q -t 1 -e 2 --hidden 8 -z 2 -o m.vae all.ts && "
		"kl-eval --per-record --manifest man.tsv -m m.vae all.ts > sc.tsv && "
		"kl-eval --per-record -m m.vae all.ts > plain.tsv",
		dir, dir, dir);
	cr_assert_eq(rc, 0, "%s", err);
	/* bag sorts before shirt: records 0-5 bags, 6-11 shirts */
	cr_assert_eq(run("cd %s && head -1 sc.tsv | grep -qx "
			 "'record.label.model.rec.kl.nelbo.nlogpx.complexity.ccl.llr.class.file' && "
			 "sed -n 2p sc.tsv | grep -q '.0.m.vae.*.bag.in/bag/b%%091.png$' && "
			 "sed -n 13p sc.tsv | grep -q '^11.1.m.vae.*.shirt.in/shirt/s 6.png$' && "
			 "head -1 plain.tsv | grep -q 'llr.class$'", dir), 0);
	/* score-eval: a name is its label; the same figures as the number */
	cr_assert_eq(run("cd %s && score-eval -B 0 --normal shirt sc.tsv > a && "
			 "score-eval -B 0 --normal 1 sc.tsv > b && cmp -s a b && "
			 "score-eval -B 0 --positive bag,1 -s rec sc.tsv > /dev/null 2>&1; test $? = 1 && "
			 "kl-eval --per-record --stream -m m.vae all.ts | score-eval -B 0 -p bag > c && "
			 "score-eval -B 0 -p 0 sc.tsv > d && cut -f1-4 c > c4 && cut -f1-4 d > d4 && "
			 "cmp -s c4 d4", dir), 0);
	rc = run_err(err, sizeof err, "cd %s && score-eval -B 0 --normal Bag sc.tsv", dir);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "score-eval: --normal 'Bag': no class of that name (the scores "
			      "name bag, shirt)"), "%s", err);
	rc = run_err(err, sizeof err, "cd %s && cut -f1-10 sc.tsv | score-eval -n bag", dir);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "the scores name no classes"), "%s", err);
	/* stream-cat: by path (percent-encoded or not), by base name, by number */
	cr_assert_eq(run("cd %s && printf 'in/shirt/s 2.png\\nb%%%%093.png\\n\\n7-8\\n"
			 "in/bag/b%%%%095.png\\n' > pick && "
			 "stream-cat -m man.tsv -i pick all.ts > picked.ts && "
			 "stream-cat -i 2,4,7,8 all.ts > want.ts && "
			 "stream2txt picked.ts > p.txt && stream2txt want.ts > w.txt && cmp -s p.txt w.txt",
			 dir), 0);
	static const struct {
		const char *pick, *msg;
	} bad[] = {
		{"nothing.png", "pick:1: no file 'nothing.png' in the manifest"},
		{"3\\nb9.png", "pick:2: no file 'b9.png'"},
	};
	for (int i = 0; i < 2; i++) {
		rc = run_err(err, sizeof err, "cd %s && printf '%s\\n' > pick && "
			     "stream-cat -m man.tsv -i pick all.ts > /dev/null", dir, bad[i].pick);
		cr_assert_eq(rc, 1, "%s", bad[i].pick);
		cr_assert(strstr(err, "stream-cat: ") && strstr(err, bad[i].msg), "%s", err);
	}
	/* the same base name twice; a manifest of another stream */
	rc = run_err(err, sizeof err, "cd %s && mkdir -p in2/x in2/y && cp 'in/shirt/s 1.png' in2/x/a.png && "
		     "cp 'in/shirt/s 1.png' in2/y/a.png && img2stream -m man2.tsv -o two.ts in2 && "
		     "echo a.png > pick && stream-cat -m man2.tsv -i pick two.ts", dir);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "'a.png' is the base name of 2 records' files"), "%s", err);
	rc = run_err(err, sizeof err, "cd %s && echo in2/y/a.png > pick && "
		     "stream-cat -m man2.tsv -i pick all.ts > /dev/null", dir);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "lists 2 records, but the input has 12"), "%s", err);
	rc = run_err(err, sizeof err, "cd %s && kl-eval --per-record --manifest man2.tsv -m m.vae "
		     "all.ts > /dev/null", dir);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "record 2 is past its end (2 records)"), "%s", err);
	/* per-record files with the extra columns merge, renumbered */
	cr_assert_eq(run("cd %s && stream-split -k 2 --contiguous all.ts && "
			 "kl-eval --per-record -m m.vae shard0000.ts > s0 && "
			 "kl-eval --per-record -m m.vae shard0001.ts > s1 && "
			 "kl-eval --merge s0 s1 | cut -f1,2,11 > merged && "
			 "cut -f1,2,11 plain.tsv | cmp -s - merged", dir), 0);
}
