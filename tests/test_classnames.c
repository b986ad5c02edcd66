/* A cvae's classes matched by name between model and stream (issue 27 item
 * 2): trained on train/{actions,apps,places}, a test folder with only
 * {actions,places} must condition 'places' on the model's 'places' (label 2),
 * not on label 1 ('apps'); a class the model lacks is refused, naming both
 * lists; img2stream --classes and --classes-from fix the list and order. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static char dir[512];

static void setup(void)
{
	snprintf(dir, sizeof dir, "%s", tmp_path("classnames"));
	const char *img = repo_path("examples/data/digits-test-images-idx3-ubyte.gz");
	const char *lab = repo_path("examples/data/digits-test-labels-idx1-ubyte.gz");
	/* 90 digits as PNGs; 60 into train/ (a third per class), 20 into test/
	 * (actions and places only), one into other/zzz. */
	cr_assert_eq(run("mkdir -p %s && cd %s && mkdir -p png train/actions train/apps "
			 "train/places test/actions test/places other/zzz && "
			 "idx2stream -n 90 %s %s | stream2img -o 'png/%%03d.png' && "
			 "for i in $(seq 0 89); do n=$(printf %%03d $i); "
			 "case $((i %% 3)) in 0) d=actions;; 1) d=apps;; *) d=places;; esac; "
			 "if [ $i -lt 60 ]; then cp png/$n.png train/$d/; "
			 "elif [ $d != apps ]; then cp png/$n.png test/$d/; fi; done && "
			 "cp png/000.png other/zzz/ && "
			 "img2stream -t 1 train > train.ts && img2stream -t 1 test > test.ts && "
			 "img2stream -t 1 other > other.ts && "
			 "vae-train -q -t 1 -m cvae -z 2 --hidden 16 -e 1 -o C.vkm train.ts",
			 dir, dir, img, lab), 0);
}

TestSuite(class_names, .init = setup, .timeout = 120);

static int sh(char *err, size_t len, const char *cmd)
{
	return run_err(err, len, "cd %s && %s", dir, cmd);
}

/* The test folder's stream numbers its classes actions=0, places=1; made
 * with the model's list it says actions=0, places=2. Both must encode and
 * evaluate alike. */
Test(class_names, stream_classes_matched_to_the_model)
{
	char err[2048];
	cr_assert_eq(sh(err, sizeof err, "stream-info --tsv test.ts | grep -x 'class.1\tplaces'"),
		     0, "%s", err);
	cr_assert_eq(sh(err, sizeof err, "img2stream -t 1 --classes-from C.vkm test > test-m.ts && "
					 "stream-info --tsv test-m.ts | grep -x 'label.2\t10'"), 0,
		     "%s", err);
	cr_assert_eq(sh(err, sizeof err, "vae-encode -m C.vkm test.ts | stream2txt > a.txt && "
					 "vae-encode -m C.vkm test-m.ts | stream2txt > b.txt && "
					 "cmp a.txt b.txt && grep -c '^2' a.txt | grep -qx 10"), 0,
		     "%s", err);
	/* vae-encode's output names the model's classes: labels and names agree. */
	cr_assert_eq(sh(err, sizeof err, "vae-encode -m C.vkm test.ts | stream-info --tsv | "
					 "grep -x 'class.2\tplaces'"), 0, "%s", err);
	cr_assert_eq(sh(err, sizeof err, "vae-encode -m C.vkm test.ts | vae-decode -m C.vkm | "
					 "stream2txt > c.txt && vae-encode -m C.vkm test-m.ts | "
					 "vae-decode -m C.vkm | stream2txt > d.txt && cmp c.txt d.txt"),
		     0, "%s", err);
	cr_assert_eq(sh(err, sizeof err, "kl-eval -t 1 -m C.vkm test.ts > k1 && "
					 "kl-eval -t 1 -m C.vkm test-m.ts > k2 && cmp k1 k2"), 0,
		     "%s", err);
	/* vae-train --test: the test data's labels follow the training data's names. */
	cr_assert_eq(sh(err, sizeof err, "vae-train -q -t 1 -m cvae -z 2 --hidden 16 -e 2 "
					 "--test test.ts -o T1.vkm train.ts && "
					 "vae-train -q -t 1 -m cvae -z 2 --hidden 16 -e 2 "
					 "--test test-m.ts -o T2.vkm train.ts && cmp T1.vkm T2.vkm"),
		     0, "%s", err);
}

/* --resume on the training data with its classes in another order continues
 * exactly as on the data as it was. */
Test(class_names, resume_matches_the_checkpoint_classes)
{
	char err[2048];
	cr_assert_eq(sh(err, sizeof err,
			"img2stream -t 1 --classes places,apps,actions train > train-re.ts && "
			"cp C.vkm R1.vkm && cp C.vkm R2.vkm && "
			"vae-train -q -t 1 --resume -e 2 -o R1.vkm train.ts && "
			"vae-train -q -t 1 --resume -e 2 -o R2.vkm train-re.ts && cmp R1.vkm R2.vkm"),
		     0, "%s", err);
}

/* A class the model does not have: each program refuses, listing both. */
Test(class_names, unknown_class_refused_with_both_lists)
{
	static const char *const cmds[][2] = {
		{"vae-encode", "vae-encode -m C.vkm -o out.ts other.ts"},
		{"kl-eval", "kl-eval -t 1 -m C.vkm other.ts"},
		{"vae-train", "vae-train -q -t 1 -m cvae -z 2 --hidden 16 -e 1 --test other.ts "
			      "-o out.vkm train.ts"},
	};
	for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
		char err[2048];
		cr_assert_eq(sh(err, sizeof err, cmds[i][1]), 1, "%s: %s", cmds[i][1], err);
		cr_assert(strncmp(err, cmds[i][0], strlen(cmds[i][0])) == 0, "%s", err);
		cr_assert(strstr(err, "has class 'zzz' (label 0), which is not a class of"), "%s",
			  err);
		cr_assert(strstr(err, "actions, apps, places"), "%s", err);
		cr_assert_eq(sh(err, sizeof err, "ls out.* 2>/dev/null"), 2, "left an output");
	}
}

Test(class_names, img2stream_classes_options)
{
	char err[2048];
	/* A list, a file, a stream, a model: the same three classes in their order. */
	cr_assert_eq(sh(err, sizeof err,
			"printf 'places\\napps\\r\\n\\nactions\\n' > list.txt && "
			"img2stream -t 1 --classes places,apps,actions test > l1.ts && "
			"img2stream -t 1 --classes list.txt test > l2.ts && "
			"img2stream -t 1 --classes-from l1.ts test > l3.ts && "
			"for f in l1 l2 l3; do stream-info --tsv $f.ts | grep '^class\\|^label' > $f.txt "
			"|| exit 1; done && cmp l1.txt l2.txt && cmp l1.txt l3.txt && "
			"grep -x 'class.0\tplaces' l1.txt && grep -x 'label.0\t10' l1.txt && "
			"grep -x 'label.2\t10' l1.txt && grep -x 'class.1\tapps' l1.txt"), 0, "%s", err);
	cr_assert_eq(sh(err, sizeof err, "img2stream -t 1 --classes-from C.vkm test | "
					 "stream-info --tsv | grep -x 'class.1\tapps'"), 0, "%s", err);
	/* A folder outside the list; contradictory or empty options. */
	cr_assert_eq(sh(err, sizeof err, "img2stream -t 1 --classes places,apps test > x.ts"), 1);
	cr_assert(strstr(err, "folder 'actions' is not one of the 2 classes given by --classes"),
		  "%s", err);
	cr_assert_eq(sh(err, sizeof err, "img2stream --classes a --classes-from C.vkm test"), 2);
	cr_assert_eq(sh(err, sizeof err, "img2stream --labels none --classes a test"), 2);
	cr_assert_eq(sh(err, sizeof err, "img2stream --classes a,,a test"), 2);
	cr_assert(strstr(err, "class 'a' is named twice"), "%s", err);
	cr_assert_eq(sh(err, sizeof err, "img2stream --classes-from missing.vkm test > x.ts"), 1);
	cr_assert(strstr(err, "cannot open missing.vkm"), "%s", err);
}
