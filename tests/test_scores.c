/* Scores for anomaly detection: ROC figures against a brute-force pair count,
 * the complexity term against zlib, the summary TSV read back, kl-eval
 * --per-record (TSV, stream, merge) and score-eval end to end. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "complexity.h"
#include "gmm.h"
#include "gmmscore.h"
#include "evaltsv.h"
#include "roc.h"
#include "testutil.h"

/* AUROC by definition: over all positive-negative pairs, 1 when the positive
 * scores higher, 1/2 on a tie. */
static double brute_auroc(const vk_scored *v, size_t n)
{
	double wins = 0, pairs = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++)
			if (v[i].positive && !v[j].positive) {
				pairs++;
				wins += v[i].score > v[j].score ? 1 : v[i].score == v[j].score ? 0.5 : 0;
			}
	return wins / pairs;
}

Test(roc, auroc_equals_the_pair_count_with_ties_half)
{
	srand(3);
	for (int trial = 0; trial < 50; trial++) {
		size_t n = 2 + (size_t)(rand() % 60);
		vk_scored v[64];
		for (size_t i = 0; i < n; i++)
			v[i] = (vk_scored){(double)(rand() % 7), rand() % 3 == 0};
		v[0].positive = 1, v[1].positive = 0;
		double want = brute_auroc(v, n);
		vk_roc_figures f;
		vk_error e;
		vk_roc_sort(v, n);
		cr_assert_eq(vk_roc(v, n, &f, &e), 0, "%s", e.msg);
		cr_assert(fabs(f.auroc - want) < 1e-12, "trial %d: %g want %g", trial, f.auroc, want);
	}
}

Test(roc, figures_of_a_small_case)
{
	/* scores 4 3 2 1 labels + - + -: AUROC 3/4; AP = (1/2)(1) + (1/2)(2/3);
	 * TPR reaches 95% at the third record, FPR then 1/2. */
	vk_scored v[] = {{2, 1}, {1, 0}, {4, 1}, {3, 0}};
	vk_roc_figures f;
	vk_error e;
	vk_roc_sort(v, 4);
	cr_assert_eq(vk_roc(v, 4, &f, &e), 0);
	cr_assert(fabs(f.auroc - 0.75) < 1e-12);
	cr_assert(fabs(f.auprc - (0.5 + 1.0 / 3)) < 1e-12, "%g", f.auprc);
	cr_assert(fabs(f.fpr95 - 0.5) < 1e-12);
	double fpr[5], tpr[5], th[5];
	cr_assert_eq(vk_roc_curve(v, 4, fpr, tpr, th), 5);
	cr_assert(fpr[4] == 1 && tpr[4] == 1 && isinf(th[0]) && th[1] == 4);
	vk_scored one[] = {{1, 1}, {2, 1}};
	cr_assert_eq(vk_roc(one, 2, &f, &e), -1);
	cr_assert(strstr(e.msg, "no negative records"), "%s", e.msg);
}

Test(complexity, is_zlib_length_in_nats)
{
	vk_complexity c;
	vk_error e;
	unsigned char b[784], z[2048];
	float x[784];
	srand(5);
	for (int i = 0; i < 784; i++) {
		b[i] = i % 28 < 14 ? 0 : (unsigned char)(rand() % 256);
		x[i] = b[i] / 255.0f;
	}
	uLongf len = sizeof z;
	cr_assert_eq(compress2(z, &len, b, 784, 9), Z_OK);
	cr_assert_eq(vk_complexity_init(&c, 784, &e), 0);
	cr_assert(fabs(vk_complexity_bytes(&c, b) - len * 8 * log(2)) < 1e-9);
	/* floats read from u8 compress as the bytes themselves */
	cr_assert(fabs(vk_complexity_f32(&c, x) - len * 8 * log(2)) < 1e-9);
	/* a flat record is simpler than a noisy one */
	memset(b, 0, sizeof b);
	cr_assert(vk_complexity_bytes(&c, b) < 0.2 * len * 8 * log(2));
	vk_complexity_free(&c);
}

Test(evaltsv, summary_reads_back_to_the_same_text)
{
	vk_evalrow a = {.name = "m.vae", .kind = 2}, *rows[1] = {&a};
	vk_error e;
	cr_assert_eq(vk_evalsum_init(&a.sum, 3, 1, 1, 5, &e), 0);
	float head[6] = {0.5f, -1, 2, -0.5f, 0, 0.25f};
	for (int i = 0; i < 7; i++) {
		head[0] += 0.1f * i;
		vk_evalsum_add(&a.sum, 100 + i, 10 - i * 0.5, -120 - i, head);
	}
	char *one = NULL, *two = NULL;
	size_t n1, n2;
	FILE *f = open_memstream(&one, &n1);
	vk_evaltsv_write(f, (const vk_evalrow *const *)rows, 1);
	fclose(f);
	vk_evalrow back[2];
	int n = 0;
	f = fmemopen(one, n1, "r");
	cr_assert_eq(vk_evaltsv_merge(f, "one", back, &n, 2, &e), 0, "%s", e.msg);
	fclose(f);
	cr_assert_eq(n, 1);
	const vk_evalrow *brows[1] = {&back[0]};
	f = open_memstream(&two, &n2);
	vk_evaltsv_write(f, brows, 1);
	fclose(f);
	cr_assert_str_eq(two, one);
	/* Read twice, the sums double: records and exact sums add up. */
	f = fmemopen(one, n1, "r");
	cr_assert_eq(vk_evaltsv_merge(f, "one", back, &n, 2, &e), 0, "%s", e.msg);
	fclose(f);
	cr_assert_eq(back[0].sum.n, 14);
	cr_assert_eq(back[0].sum.rec, 2 * a.sum.rec);
	/* Not a summary: one clear message. */
	char bad[] = "record\tlabel\n0\t1\n";
	f = fmemopen(bad, strlen(bad), "r");
	cr_assert_eq(vk_evaltsv_merge(f, "x.tsv", back, &n, 2, &e), -1);
	cr_assert(strstr(e.msg, "x.tsv: not a kl-eval --tsv summary"), "%s", e.msg);
	fclose(f);
	vk_evalsum_free(&a.sum);
	vk_evalsum_free(&back[0].sum);
	free((char *)back[0].name);
	free(one);
	free(two);
}

#define IMAGES "examples/data/digits-test-images-idx3-ubyte.gz"
#define LABELS "examples/data/digits-test-labels-idx1-ubyte.gz"

/* 200 labelled test digits and a small VAE trained on them (once). */
static const char *digits, *model;
static char digits_path[512], model_path[512];
static void setup_model(void)
{
	snprintf(digits_path, sizeof digits_path, "%s", tmp_path("d.ts"));
	snprintf(model_path, sizeof model_path, "%s", tmp_path("d.vae"));
	cr_assert_eq(run("idx2stream %s %s | stream-cat -n 200 > %s", repo_path(IMAGES),
			 repo_path(LABELS), digits_path), 0);
	cr_assert_eq(run("vae-train -q -z 4 --hidden 32 -e 2 -b 32 -o %s %s", model_path,
			 digits_path), 0);
	digits = digits_path, model = model_path;
}

Test(per_record, stream_tsv_and_merge_agree, .init = setup_model)
{
	char dir[512];
	snprintf(dir, sizeof dir, "%s", tmp_path("pr"));
	char err[2048];
	/* The stream holds the TSV's numbers; merging contiguous shards' TSVs
	 * gives the whole run's file; without labels the columns stay put. */
	int rc = run_err(err, sizeof err,
		"mkdir -p %s && cd %s && kl-eval --per-record --iw 3 -m %s %s > whole.tsv && "
		"kl-eval --per-record --stream --iw 3 -m %s %s | stream2txt > s.txt && "
		"awk -F'\\t' 'NR > 1 { printf \"%%s\", $2; for (i = 4; i <= 9; i++) "
		"printf \" %%s\", $i; print \"\" }' whole.tsv > t.txt && "
		"awk '{ print NF }' s.txt | sort -u | grep -qx 7 && "
		"paste -d' ' t.txt s.txt | awk '{ for (i = 1; i <= 7; i++) if ($i - $(i + 7) > 1e-4 "
		"|| $(i + 7) - $i > 1e-4) exit 1 }' && "
		"stream-split -c -k 3 %s && for i in 0 1 2; do kl-eval --per-record --iw 3 -m %s "
		"shard000$i.ts > p$i.tsv; done && kl-eval --merge p0.tsv p1.tsv p2.tsv > m.tsv && "
		"cmp whole.tsv m.tsv && "
		"stream-cat %s | stream2txt | cut -f2- | txt2stream -s 28x28 | "
		"kl-eval --per-record -m %s | awk -F'\\t' 'NF != 10 || (NR > 1 && $2 != \"NA\") "
		"{ exit 1 }'",
		dir, dir, model, digits, model, digits, digits, model, digits, model);
	cr_assert_eq(rc, 0, "%s", err);
}

Test(score_eval, figures_and_errors, .init = setup_model)
{
	char dir[512], err[2048];
	snprintf(dir, sizeof dir, "%s", tmp_path("se"));
	/* A made-up score: label 7 scores 5, the others their label mod 3: AUROC 1 for
	 * -p 7, computed from TSV and from a stream alike. */
	int rc = run_err(err, sizeof err,
		"mkdir -p %s && cd %s && kl-eval --per-record -m %s %s > s.tsv && "
		"awk -F'\\t' 'BEGIN { OFS = \"\\t\" } NR == 1 { print \"label\", \"odd\" } "
		"NR > 1 { print $2, ($2 == 7 ? 5 : $2 %% 3) }' s.tsv > odd.tsv && "
		"score-eval -p 7 --roc roc.tsv --plot roc.png odd.tsv > r.tsv && "
		"head -c 4 roc.png | grep -q PNG && "
		"awk -F'\\t' 'NR == 2 && $1 == \"odd\" && $4 == 1 && $7 == 1 && $10 == 0 "
		"{ ok = 1 } END { exit !ok }' r.tsv && head -1 roc.tsv | grep -qx 'fpr.tpr.threshold' && "
		"score-eval -n 0-6,8-9 -B 0 odd.tsv | awk -F'\\t' 'NR == 2 { exit $4 != 1 || "
		"$5 != \"NA\" }' && "
		"score-eval -p 1 -s nelbo s.tsv > a.tsv && "
		"kl-eval --per-record --stream -m %s %s | score-eval -p 1 -s nelbo > b.tsv && "
		"cut -f1-4 a.tsv | tail -1 > a4 && cut -f1-4 b.tsv | tail -1 > b4 && "
		"awk -F'\\t' '{ x = $4 } END { getline y < \"b4\"; split(y, f, \"\\t\"); "
		"exit (x - f[4] > 1e-3 || f[4] - x > 1e-3) }' a4",
		dir, dir, model, digits, model, digits);
	cr_assert_eq(rc, 0, "%s", err);
	struct {
		const char *args, *msg;
		int rc;
	} cases[] = {
		{"-p 12 s.tsv", "--positive 12: no record has this label", 1},
		{"-p 0-9 s.tsv", "positive records only (200)", 1},
		{"-s nlogpx -p 1 s.tsv", "score nlogpx is NA", 1},
		{"-s bogus -p 1 s.tsv", "no score column named bogus", 1},
		{"-p 1 nolabel.tsv", "no label column", 1},
		{"s.tsv", "give the positive labels", 2},
		{"-p 1 long.tsv", "long.tsv:2: a line of more than 1048576 bytes", 1},
	};
	cr_assert_eq(run("cd %s && cut -f1,3- s.tsv > nolabel.tsv && { echo 'label\tx'; "
			 "head -c 2000000 /dev/zero | tr '\\0' 7; } > long.tsv", dir), 0);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		rc = run_err(err, sizeof err, "cd %s && score-eval %s", dir, cases[i].args);
		cr_assert_eq(rc, cases[i].rc, "%s: %s", cases[i].args, err);
		cr_assert(strstr(err, cases[i].msg), "%s: %s", cases[i].args, err);
	}
}

Test(gmmscore, mahalanobis_and_density_by_hand)
{
	vk_gmm g;
	vk_error e;
	cr_assert_eq(vk_gmm_alloc(&g, 2, 2, VK_GMM_FULL, &e), 0);
	/* Σ = [[4, 2], [2, 3]] = L Lᵀ with L = [[2, 0], [1, √2]]; Σ⁻¹ = [[3, −2], [−2, 4]] / 8 */
	double L[4] = {2, 0, 1, sqrt(2)};
	memcpy(g.chol, L, sizeof L);
	memcpy(g.chol + 4, L, sizeof L);
	g.w[0] = 0.25, g.w[1] = 0.75;
	g.mu[0] = 0, g.mu[1] = 0, g.mu[2] = 10, g.mu[3] = 10;
	double x[2] = {1, 2}, maha, nll;
	vk_gmm_score(&g, x, &maha, &nll);
	/* to the first component: (1, 2) Σ⁻¹ (1, 2)ᵀ = (3 − 8 + 16) / 8 */
	double d0 = 11.0 / 8, d1 = (3 * 81 - 4 * 72 + 4 * 64) / 8.0;
	cr_assert(fabs(maha - sqrt(d0)) < 1e-12, "%g", maha);
	double c = -0.5 * log(8) - log(2 * M_PI);
	double want = -log(0.25 * exp(c - 0.5 * d0) + 0.75 * exp(c - 0.5 * d1));
	cr_assert(fabs(nll - want) < 1e-9, "%g want %g", nll, want);
	vk_gmm_free(&g);
	/* diagonal: standard deviations 2 and 0.5 */
	cr_assert_eq(vk_gmm_alloc(&g, 1, 2, VK_GMM_DIAG, &e), 0);
	g.w[0] = 1, g.chol[0] = 2, g.chol[1] = 0.5;
	vk_gmm_score(&g, x, &maha, &nll);
	cr_assert(fabs(maha - sqrt(0.25 + 16)) < 1e-12);
	cr_assert(fabs(nll - (0.5 * 16.25 + log(1.0) + log(2 * M_PI))) < 1e-9, "%g", nll);
	vk_gmm_free(&g);
}

Test(latent_score, tool_scores_codes_and_refuses_bad_input, .init = setup_model)
{
	char dir[512], err[2048];
	snprintf(dir, sizeof dir, "%s", tmp_path("ls"));
	int rc = run_err(err, sizeof err,
		"mkdir -p %s && cd %s && vae-encode -m %s %s > z.ts && "
		"latent-gmm -q -k 1 -o one.prior z.ts && latent-score -p one.prior z.ts > s.tsv && "
		"head -1 s.tsv | grep -qx 'record.label.mahalanobis.nlogq' && "
		"test $(wc -l < s.tsv) = 201 && score-eval -p 1 s.tsv > r.tsv && "
		"vae-encode --with-logvar -m %s %s | latent-score -p one.prior | cmp - s.tsv",
		dir, dir, model, digits, model, digits);
	cr_assert_eq(rc, 0, "%s", err);
	rc = run_err(err, sizeof err, "cd %s && latent-score -p one.prior %s", dir, digits);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "kind=image is not a stream of latent vectors"), "%s", err);
	rc = run_err(err, sizeof err, "cd %s && echo '1 2 3' | txt2stream | latent-score -p one.prior",
		     dir);
	cr_assert_eq(rc, 1);
	cr_assert(strstr(err, "latent vectors of 3 values, but the mixture is over 4"), "%s", err);
	rc = run_err(err, sizeof err, "latent-score %s", digits);
	cr_assert_eq(rc, 2);
}

Test(per_record, likelihood_ratio_against_a_background, .init = setup_model)
{
	char dir[512], err[2048];
	snprintf(dir, sizeof dir, "%s", tmp_path("llr"));
	/* llr = the model's nelbo − the background's, record by record; the
	 * background, a model of perturbed digits, has no rows of its own. */
	int rc = run_err(err, sizeof err,
		"mkdir -p %s && cd %s && stream-perturb -r 0.3 %s > p.ts && "
		"vae-train -q -z 4 --hidden 32 -e 1 -b 32 -o bg.vae p.ts && "
		"kl-eval --per-record -m %s --background bg.vae %s > l.tsv && "
		"kl-eval --per-record -m bg.vae %s > b.tsv && test $(wc -l < l.tsv) = 201 && "
		"paste l.tsv b.tsv | awk -F'\\t' 'NR > 1 && ($10 - ($6 - $16) > 1e-3 || "
		"($6 - $16) - $10 > 1e-3) { bad = 1 } END { exit bad }' && "
		"kl-eval --per-record --stream -m %s --background bg.vae %s | stream-info | "
		"grep -q 'score.5 *llr'",
		dir, dir, digits, model, digits, digits, model, digits);
	cr_assert_eq(rc, 0, "%s", err);
	rc = run_err(err, sizeof err, "cd %s && kl-eval --background bg.vae %s", dir, digits);
	cr_assert_eq(rc, 2);
	cr_assert(strstr(err, "--background"), "%s", err);
}

Test(stream_perturb, replaces_the_asked_fraction_and_keeps_the_rest)
{
	char dir[512], err[2048];
	snprintf(dir, sizeof dir, "%s", tmp_path("pt"));
	/* 100 records of 100 zero bytes: about 20% become noise (nearly all
	 * non-zero), the same with the same seed, labels and metadata kept;
	 * rate 0 copies the records. */
	int rc = run_err(err, sizeof err,
		"mkdir -p %s && cd %s && for i in $(seq 100); do printf '%%d' $((i %% 3)); "
		"for j in $(seq 100); do printf ' 0'; done; echo; done | txt2stream -l -t u8 > z.ts && "
		"stream-perturb -r 0.2 -s 5 z.ts > a.ts && stream-perturb -r 0.2 -s 5 -o b.ts z.ts && "
		"stream2txt a.ts > a.txt && stream2txt b.ts | cmp - a.txt && stream-info a.ts | grep -q 'perturb *0.2' && "
		"stream2txt a.ts | awk '{ if ($1 != NR %% 3) bad = 1; for (i = 2; i <= NF; i++) "
		"nz += $i != 0 } END { exit bad || nz < 1800 || nz > 2200 }' && "
		"stream-perturb -r 0 z.ts | stream2txt > c.txt && stream2txt z.ts | cmp - c.txt",
		dir, dir);
	cr_assert_eq(rc, 0, "%s", err);
	rc = run_err(err, sizeof err, "stream-perturb -r 1.5 %s/z.ts > /dev/null", dir);
	cr_assert_eq(rc, 2);
	rc = run_err(err, sizeof err, "stream-perturb %s/z.ts > /dev/null", dir);
	cr_assert_eq(rc, 2);
	cr_assert(strstr(err, "rate of perturbation is required"), "%s", err);
}
