/* The start-up check of OpenBLAS's kernels (libcommon/blascore.c, issue 25):
 * the core levels and the best core for a CPU, and end to end through
 * vae-info --system, vae-train and kl-eval: an old core forced by the tests'
 * VAEKIT_TEST_BLAS_CORE (what OpenBLAS picks on a CPU model it does not know)
 * is corrected, a user's OPENBLAS_CORETYPE is respected, an unknown name is
 * reported, and every core gives the same results up to float rounding. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blascore.h"
#include "testutil.h"

/* Every run starts from a clean environment for the check: a developer's own
 * OPENBLAS_CORETYPE must not decide what these tests see. */
#define CLEAN "env -u OPENBLAS_CORETYPE -u VAEKIT_TEST_BLAS_CORE -u VAEKIT_BLAS_RESTART"

Test(blascore, core_levels)
{
	cr_expect_eq(vk_blas_core_level("Prescott"), 0);
	cr_expect_eq(vk_blas_core_level("Nehalem"), 0);
	cr_expect_eq(vk_blas_core_level("Opteron_SSE3"), 0);
	cr_expect_eq(vk_blas_core_level("Sandybridge"), 1);
	cr_expect_eq(vk_blas_core_level("Haswell"), 2);
	cr_expect_eq(vk_blas_core_level("zen"), 2, "names are case-insensitive, as OpenBLAS's");
	cr_expect_eq(vk_blas_core_level("SkylakeX"), 3);
	cr_expect_eq(vk_blas_core_level("COOPERLAKE"), 4);
	cr_expect_eq(vk_blas_core_level("SapphireRapids"), 5);
	cr_expect_eq(vk_blas_core_level("Zen9"), -1);
	cr_expect_eq(vk_blas_core_level(""), -1);
	cr_expect_eq(vk_blas_core_level(NULL), -1);
}

static int no_cooperlake(const char *core) { return strcmp(core, "Cooperlake") != 0; }

Test(blascore, best_core_for_the_features)
{
	const unsigned avx2 = VK_CPU_SSE42 | VK_CPU_AVX | VK_CPU_FMA | VK_CPU_AVX2;
	const unsigned avx512 =
		avx2 | VK_CPU_AVX512F | VK_CPU_AVX512DQ | VK_CPU_AVX512BW | VK_CPU_AVX512VL;
	cr_expect_str_eq(vk_blas_best_core(0, NULL), "Prescott");
	cr_expect_str_eq(vk_blas_best_core(VK_CPU_SSE42, NULL), "Prescott");
	cr_expect_str_eq(vk_blas_best_core(VK_CPU_SSE42 | VK_CPU_AVX, NULL), "Sandybridge");
	cr_expect_str_eq(vk_blas_best_core(VK_CPU_AVX | VK_CPU_AVX2, NULL), "Sandybridge",
			 "AVX2 without FMA is not Haswell");
	cr_expect_str_eq(vk_blas_best_core(avx2, NULL), "Haswell");
	cr_expect_str_eq(vk_blas_best_core(avx2 | VK_CPU_AMD, NULL), "Zen");
	cr_expect_str_eq(vk_blas_best_core(avx2 | VK_CPU_AVX512F, NULL), "Haswell",
			 "AVX-512F alone (no BW, VL, DQ) cannot run the SkylakeX kernels");
	cr_expect_str_eq(vk_blas_best_core(avx512, NULL), "SkylakeX");
	cr_expect_str_eq(vk_blas_best_core(avx512 | VK_CPU_AVX512BF16, NULL), "Cooperlake");
	cr_expect_str_eq(vk_blas_best_core(avx512 | VK_CPU_AVX512BF16 | VK_CPU_AMD, NULL),
			 "Cooperlake");
	cr_expect_str_eq(vk_blas_best_core(avx512 | VK_CPU_AVX512BF16 | VK_CPU_AVX512FP16 |
						   VK_CPU_AMX_TILE | VK_CPU_AMX_BF16,
					   NULL),
			 "Cooperlake", "OPENBLAS_CORETYPE does not take SapphireRapids");
	cr_expect_str_eq(vk_blas_best_core(avx512 | VK_CPU_AVX512BF16, no_cooperlake), "SkylakeX",
			 "a core the loaded OpenBLAS lacks is not chosen");
}

Test(blascore, flags_string)
{
	char buf[256];
	vk_cpu_flags_str(VK_CPU_AVX | VK_CPU_AVX2, buf, sizeof buf);
	cr_expect(!strncmp(buf, "avx avx2 (no sse4_2 fma avx512f", 31), "%s", buf);
	cr_expect_eq(buf[strlen(buf) - 1], ')');
	vk_cpu_flags_str(0, buf, 8); /* truncated, still a string */
	cr_expect_eq(strlen(buf), 7);
}

/* Each feature we report is one the kernel reports too. */
Test(blascore, features_agree_with_proc_cpuinfo)
{
	size_t n;
	char *info = (char *)slurp("/proc/cpuinfo", &n);
	if (!info)
		cr_skip_test("no /proc/cpuinfo");
	info = realloc(info, n + 1);
	info[n] = 0;
	char *flags = strstr(info, "\nflags");
	if (!flags)
		cr_skip_test("no flags line in /proc/cpuinfo");
	char *end = strchr(flags + 1, '\n');
	if (end)
		*end = 0;
	strcat(flags, " ");
	char names[256], word[40];
	unsigned f = vk_cpu_features() & ~VK_CPU_AMD;
	vk_cpu_flags_str(f, names, sizeof names);
	char *paren = strchr(names, '(');
	if (paren)
		*paren = 0; /* only what it has */
	for (char *w = strtok(names, " "); w; w = strtok(NULL, " ")) {
		snprintf(word, sizeof word, " %s ", w);
		cr_expect(strstr(flags, word), "%s reported but not in /proc/cpuinfo", w);
	}
	cr_expect_eq(!!(f & VK_CPU_AVX2), !!strstr(flags, " avx2 "));
	cr_expect_eq(!!(f & VK_CPU_AVX512F), !!strstr(flags, " avx512f "));
	free(info);
}

/* vae-info --system --tsv's value for key (the rest of the line), run with
 * env (assignments) in the clean environment. */
static void sysinfo(const char *env, const char *key, char *out, size_t len)
{
	const char *file = tmp_path("system.tsv");
	char err[512];
	int rc = run_err(err, sizeof err, CLEAN " %s vae-info --system --tsv > %s", env, file);
	cr_assert_eq(rc, 0, "vae-info --system: %s", err);
	cr_expect_str_empty(err, "vae-info --system prints nothing on stderr: %s", err);
	size_t n;
	char *s = (char *)slurp(file, &n);
	cr_assert(s);
	s = realloc(s, n + 1);
	s[n] = 0;
	*out = 0;
	char pat[64];
	snprintf(pat, sizeof pat, "system\t%s\t", key);
	char *p = strstr(s, pat);
	if (p) {
		p += strlen(pat);
		size_t k = strcspn(p, "\n");
		snprintf(out, len, "%.*s", (int)k, p);
	}
	free(s);
}

/* The core OpenBLAS runs by itself here, and the best for this CPU. */
static void cores_here(char *own, char *best)
{
	char v[256];
	sysinfo("", "blas_core", v, sizeof v);
	sscanf(v, "%63s", own);
	sysinfo("", "blas_best_core", best, 64);
}

Test(blascore, system_facts)
{
	char v[256];
	sysinfo("", "cpu_flags", v, sizeof v);
	cr_expect(strstr(v, "avx") || strstr(v, "(no "), "%s", v);
	sysinfo("", "vaekit_isa", v, sizeof v);
	cr_expect(strstr(v, "x86-64"), "%s", v);
	sysinfo("", "blas", v, sizeof v);
	cr_expect(strstr(v, "OpenBLAS"), "%s", v);
	sysinfo("", "blas_core", v, sizeof v);
	cr_expect(strstr(v, "(chosen by "), "%s", v);
	sysinfo("", "blas_threads", v, sizeof v);
	cr_expect_gt(atoi(v), 0, "%s", v);
}

Test(blascore, a_forced_old_core_is_corrected)
{
	char own[64], best[64], v[256], want[160];
	cores_here(own, best);
	if (vk_blas_core_level(best) <= 0)
		cr_skip_test("this CPU has nothing better than the Prescott kernels");
	sysinfo("VAEKIT_TEST_BLAS_CORE=Prescott", "blas_core", v, sizeof v);
	snprintf(want, sizeof want, "%s (chosen by vaekit: OpenBLAS chose Prescott)", best);
	cr_expect_str_eq(v, want);
	sysinfo("VAEKIT_TEST_BLAS_CORE=Nehalem", "blas_note", v, sizeof v);
	cr_expect(strstr(v, "OpenBLAS chose its Nehalem kernels, older than this CPU supports: using"),
		  "%s", v);
	/* A core as good as the best one is left alone: no restart, no note. */
	snprintf(want, sizeof want, "VAEKIT_TEST_BLAS_CORE=%s", best);
	sysinfo(want, "blas_core", v, sizeof v);
	cr_expect(strstr(v, "(chosen by OpenBLAS)"), "%s", v);
	sysinfo(want, "blas_note", v, sizeof v);
	cr_expect_str_empty(v);
}

/* The correction is said once, by vae-train unless -q and by kl-eval only
 * with -v; the restarted program reads its standard input untouched. */
Test(blascore, the_correction_is_said_once_and_only_when_asked)
{
	char own[64], best[64], err[2048];
	cores_here(own, best);
	if (vk_blas_core_level(best) <= 0)
		cr_skip_test("this CPU has nothing better than the Prescott kernels");
	char data[512];
	snprintf(data, sizeof data, "%s", tmp_path("d.ts"));
	cr_assert_eq(run("idx2stream -n 256 %s %s > %s",
			 repo_path("examples/data/digits-train-images-idx3-ubyte.gz"),
			 repo_path("examples/data/digits-train-labels-idx1-ubyte.gz"), data),
		     0);
	char model[512];
	snprintf(model, sizeof model, "%s", tmp_path("m.vae"));
	const char *force = CLEAN " VAEKIT_TEST_BLAS_CORE=Prescott";
	cr_assert_eq(run_err(err, sizeof err, "%s vae-train -o %s --hidden 16 -z 2 -e 1 -t 1 < %s",
			     force, model, data),
		     0, "%s", err);
	const char *note = strstr(err, "vae-train: OpenBLAS chose its Prescott kernels");
	cr_expect(note, "%s", err);
	cr_expect(note && !strstr(note + 40, "Prescott kernels"), "said once: %s", err);
	cr_expect(strstr(err, "epoch 1/1"), "and it trained from standard input: %s", err);
	cr_assert_eq(run_err(err, sizeof err, "%s vae-train -q -o %s --hidden 16 -z 2 -e 1 -t 1 %s",
			     force, model, data),
		     0, "%s", err);
	cr_expect_str_empty(err, "-q: silent");
	cr_assert_eq(run_err(err, sizeof err, "%s kl-eval -m %s < %s > /dev/null", force, model, data), 0,
		     "%s", err);
	cr_expect_str_empty(err, "kl-eval without -v: silent");
	cr_assert_eq(run_err(err, sizeof err, "%s kl-eval -v -m %s < %s > /dev/null", force, model, data),
		     0, "%s", err);
	cr_expect(strstr(err, "kl-eval: OpenBLAS chose its Prescott kernels"), "%s", err);
}

Test(blascore, the_users_coretype_is_respected)
{
	char v[256];
	/* even where the test's forced core would be corrected */
	sysinfo("OPENBLAS_CORETYPE=Prescott VAEKIT_TEST_BLAS_CORE=Prescott", "blas_core", v,
		sizeof v);
	cr_expect_str_eq(v, "Prescott (OPENBLAS_CORETYPE=Prescott)");
	char own[64], best[64];
	cores_here(own, best);
	sysinfo("OPENBLAS_CORETYPE=Prescott", "blas_note", v, sizeof v);
	if (vk_blas_core_level(best) > 0)
		cr_expect(strstr(v, "OPENBLAS_CORETYPE=Prescott selects older kernels than this CPU "
				    "supports"),
			  "%s", v);
	else
		cr_expect_str_empty(v);
}

Test(blascore, an_unknown_core_name)
{
	char own[64], best[64], v[256], want[160];
	cores_here(own, best);
	/* The user's unknown name: OpenBLAS falls back to its own choice, and
	 * we say so, without overriding the user. */
	sysinfo("OPENBLAS_CORETYPE=NoSuchCore", "blas_core", v, sizeof v);
	cr_expect(strstr(v, "(OPENBLAS_CORETYPE=NoSuchCore)"), "%s", v);
	sysinfo("OPENBLAS_CORETYPE=NoSuchCore", "blas_note", v, sizeof v);
	snprintf(want, sizeof want,
		 "OPENBLAS_CORETYPE=NoSuchCore is not a core this OpenBLAS knows by that name: it runs ");
	cr_expect(!strncmp(v, want, strlen(want)), "%s", v);
	/* A core name vaekit does not know (a newer OpenBLAS's) is left alone. */
	sysinfo("VAEKIT_TEST_BLAS_CORE=Zen9", "blas_core", v, sizeof v);
	snprintf(want, sizeof want, "%s (chosen by OpenBLAS)", own);
	cr_expect_str_eq(v, want);
}

/* The first n values of a stream's records (f32), read through stream2txt. */
static int encodings(const char *core, const char *model, const char *data, double *out, int max)
{
	const char *txt = tmp_path("enc.txt");
	cr_assert_eq(run(CLEAN " OPENBLAS_CORETYPE=%s vae-encode -m %s < %s | stream2txt > %s", core,
			 model, data, txt),
		     0);
	FILE *f = fopen(txt, "r");
	cr_assert(f);
	int n = 0;
	while (n < max && fscanf(f, "%lf", &out[n]) == 1)
		n++;
	fclose(f);
	return n;
}

/* Every core this CPU can run gives the same encodings of one model, and
 * trains the same model, up to float rounding: measured 3e-7 relative to
 * 1 + |x| here (Cooperlake, Haswell, Sandybridge, Prescott); the tolerance is
 * 1e-5 for one model's encodings and 1e-4 for models trained by different
 * cores (2 epochs, 8 Adam steps). */
Test(blascore, every_core_gives_the_same_results_up_to_rounding, .timeout = 120)
{
	char own[64], best[64];
	cores_here(own, best);
	unsigned f = vk_cpu_features();
	const char *cores[4];
	int n_cores = 0;
	cores[n_cores++] = "Prescott";
	if (f & VK_CPU_AVX)
		cores[n_cores++] = "Sandybridge";
	if ((f & (VK_CPU_AVX2 | VK_CPU_FMA)) == (VK_CPU_AVX2 | VK_CPU_FMA))
		cores[n_cores++] = "Haswell";
	if (vk_blas_core_level(best) > 2)
		cores[n_cores++] = best;
	char data[512];
	snprintf(data, sizeof data, "%s", tmp_path("r.ts"));
	cr_assert_eq(run("idx2stream -n 512 %s %s > %s",
			 repo_path("examples/data/digits-train-images-idx3-ubyte.gz"),
			 repo_path("examples/data/digits-train-labels-idx1-ubyte.gz"), data),
		     0);
	enum { MAX = 512 * 5 };
	static double ref[MAX], got[MAX];
	char ref_model[512], model[512];
	snprintf(ref_model, sizeof ref_model, "%s", tmp_path("ref.vae"));
	for (int i = 0; i < n_cores; i++) {
		snprintf(model, sizeof model, "%s", tmp_path("core.vae"));
		cr_assert_eq(run(CLEAN " OPENBLAS_CORETYPE=%s vae-train -q -s 1 -t 1 -e 2 --hidden 64 "
				       "-z 4 -o %s %s",
				 cores[i], i ? model : ref_model, data),
			     0, "%s", cores[i]);
		int n = encodings(cores[0], ref_model, data, ref, MAX);
		cr_assert_gt(n, 512 * 4);
		cr_assert_eq(encodings(cores[i], ref_model, data, got, MAX), n);
		double worst = 0;
		for (int k = 0; k < n; k++)
			worst = fmax(worst, fabs(got[k] - ref[k]) / (1 + fabs(ref[k])));
		cr_expect_leq(worst, 1e-5, "%s encodes %g away from %s", cores[i], worst, cores[0]);
		if (!i)
			continue;
		cr_assert_eq(encodings(cores[0], model, data, got, MAX), n);
		worst = 0;
		for (int k = 0; k < n; k++)
			worst = fmax(worst, fabs(got[k] - ref[k]) / (1 + fabs(ref[k])));
		cr_expect_leq(worst, 1e-4, "a model trained on %s encodes %g away from %s's", cores[i],
			      worst, cores[0]);
	}
}
