/* The BLAS kernels in use, checked once at start-up (blascore.h).
 *
 * Why a restart. A DYNAMIC_ARCH OpenBLAS chooses its kernel table (its
 * "core") in a constructor, when the dynamic loader maps it, before main:
 * from OPENBLAS_CORETYPE when set, else from cpuid's family and model. 0.3.21
 * has no API to choose again later (gotoblas_dynamic_quit/init exist as
 * symbols but are internals: its threads, buffers and tuning parameters were
 * set up for the first table). Loading OpenBLAS ourselves with dlopen after
 * setting the variable would mean not linking it, a change to every build and
 * to every user of cblas_*. So, when OpenBLAS chose a core older than the
 * best one this CPU supports and the user did not set OPENBLAS_CORETYPE, we
 * set it and execute /proc/self/exe again with the same argv: the new image
 * loads OpenBLAS afresh, which reads the variable. This happens first in main,
 * before anything is read, written or started, so open files (stdin too) pass
 * through untouched, and it costs one exec only on the machines that need it.
 *
 * It cannot loop: we restart only when OPENBLAS_CORETYPE is unset, and set it
 * before the restart, so the restarted program takes the user's path (which
 * never restarts). VAEKIT_BLAS_RESTART, set for it alone, tells it that the
 * variable is ours and what OpenBLAS first chose, for -v and vae-info
 * --system; it removes it at once, so programs it starts see
 * OPENBLAS_CORETYPE as set by the user and keep that core.
 *
 * Tests force an old core with VAEKIT_TEST_BLAS_CORE (only the tests set it):
 * the check then takes that name for OpenBLAS's choice, which is what an
 * unknown CPU model makes it do (issue 25: Prescott on a 16-core Xeon VM). */
#include "blascore.h"

#include <cblas.h>
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#define RESTART_VAR "VAEKIT_BLAS_RESTART"
#define TEST_VAR "VAEKIT_TEST_BLAS_CORE"

/* ---- the CPU --------------------------------------------------------------- */

#if defined(__x86_64__) || defined(__i386__)
static unsigned long long xgetbv0(void)
{
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return (unsigned long long)hi << 32 | lo;
}
#endif

unsigned vk_cpu_features(void)
{
	unsigned f = 0;
#if defined(__x86_64__) || defined(__i386__)
	unsigned a, b, c, d, max = __get_cpuid_max(0, &b);
	if (max < 1)
		return 0;
	__cpuid(0, a, b, c, d);
	/* "AuthenticAMD", "HygonGenuine" (a Zen licensee) */
	if ((b == 0x68747541 && d == 0x69746e65) || (b == 0x6f677948 && d == 0x6e65476e))
		f |= VK_CPU_AMD;
	__cpuid(1, a, b, c, d);
	if (c & 1u << 20)
		f |= VK_CPU_SSE42;
	/* The OS must save the vector registers: XCR0 bits 1-2 (xmm, ymm), 5-7
	 * (opmask, zmm), 17-18 (AMX tiles). */
	unsigned long long xcr0 = c & 1u << 27 ? xgetbv0() : 0;
	int os_ymm = (xcr0 & 0x6) == 0x6, os_zmm = os_ymm && (xcr0 & 0xe0) == 0xe0;
	int os_amx = (xcr0 & 0x60000) == 0x60000;
	int fma = !!(c & 1u << 12);
	if (!os_ymm || !(c & 1u << 28))
		return f;
	f |= VK_CPU_AVX | (fma ? VK_CPU_FMA : 0);
	if (max < 7)
		return f;
	__cpuid_count(7, 0, a, b, c, d);
	unsigned leaf7_max = a;
	if (b & 1u << 5)
		f |= VK_CPU_AVX2;
	if (os_amx) {
		f |= d & 1u << 24 ? VK_CPU_AMX_TILE : 0;
		f |= d & 1u << 22 ? VK_CPU_AMX_BF16 : 0;
		f |= d & 1u << 25 ? VK_CPU_AMX_INT8 : 0;
	}
	if (!os_zmm || !(b & 1u << 16))
		return f;
	f |= VK_CPU_AVX512F;
	f |= b & 1u << 17 ? VK_CPU_AVX512DQ : 0;
	f |= b & 1u << 30 ? VK_CPU_AVX512BW : 0;
	f |= b & 1u << 31 ? VK_CPU_AVX512VL : 0;
	f |= c & 1u << 11 ? VK_CPU_AVX512VNNI : 0;
	f |= d & 1u << 23 ? VK_CPU_AVX512FP16 : 0;
	if (leaf7_max >= 1) {
		__cpuid_count(7, 1, a, b, c, d);
		f |= a & 1u << 5 ? VK_CPU_AVX512BF16 : 0;
	}
#endif
	return f;
}

static const struct {
	unsigned bit;
	const char *name; /* as /proc/cpuinfo names it */
} FLAGS[] = {
	{VK_CPU_SSE42, "sse4_2"},	    {VK_CPU_AVX, "avx"},
	{VK_CPU_FMA, "fma"},		    {VK_CPU_AVX2, "avx2"},
	{VK_CPU_AVX512F, "avx512f"},	    {VK_CPU_AVX512DQ, "avx512dq"},
	{VK_CPU_AVX512BW, "avx512bw"},	    {VK_CPU_AVX512VL, "avx512vl"},
	{VK_CPU_AVX512VNNI, "avx512_vnni"}, {VK_CPU_AVX512BF16, "avx512_bf16"},
	{VK_CPU_AVX512FP16, "avx512_fp16"}, {VK_CPU_AMX_TILE, "amx_tile"},
	{VK_CPU_AMX_BF16, "amx_bf16"},	    {VK_CPU_AMX_INT8, "amx_int8"},
};
#define N_FLAGS (sizeof FLAGS / sizeof *FLAGS)

char *vk_cpu_flags_str(unsigned features, char *buf, size_t len)
{
	size_t used = 0;
	int missing = 0;
	if (!len)
		return buf;
	*buf = 0;
	/* what it has, then "(no ...)" for what it lacks */
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < N_FLAGS && used < len; i++) {
			int has = !!(features & FLAGS[i].bit);
			if (has != !pass)
				continue;
			const char *sep = used ? " " : "";
			if (pass && !missing++)
				sep = used ? " (no " : "(no ";
			int n = snprintf(buf + used, len - used, "%s%s", sep, FLAGS[i].name);
			used += n > 0 ? (size_t)n : 0;
		}
	if (missing && used < len)
		snprintf(buf + used, len - used, ")");
	return buf;
}

const char *vk_cpu_name(void)
{
	static char name[49];
#if defined(__x86_64__) || defined(__i386__)
	unsigned r[12];
	if (!*name && (unsigned)__get_cpuid_max(0x80000000, NULL) >= 0x80000004u) {
		for (unsigned i = 0; i < 3; i++)
			__cpuid(0x80000002 + i, r[4 * i], r[4 * i + 1], r[4 * i + 2], r[4 * i + 3]);
		memcpy(name, r, 48);
		name[48] = 0;
	}
#endif
	const char *p = name;
	while (*p == ' ')
		p++;
	return p;
}

/* ---- OpenBLAS's cores ------------------------------------------------------ */

/* Each name as openblas_get_corename() gives it and OPENBLAS_CORETYPE takes
 * it, with its instruction-set level (blascore.h). */
static const struct {
	const char *name;
	int level;
} CORES[] = {
	{"Katmai", 0},	     {"Coppermine", 0},	   {"Northwood", 0},   {"Prescott", 0},
	{"Banias", 0},	     {"Atom", 0},	   {"Core2", 0},       {"Penryn", 0},
	{"Dunnington", 0},   {"Nehalem", 0},	   {"Athlon", 0},      {"Opteron", 0},
	{"Opteron_SSE3", 0}, {"Barcelona", 0},	   {"Nano", 0},	       {"Bobcat", 0},
	{"Sandybridge", 1},  {"Bulldozer", 1},	   {"Piledriver", 1},  {"Steamroller", 1},
	{"Excavator", 1},    {"Haswell", 2},	   {"Zen", 2},	       {"SkylakeX", 3},
	{"Cooperlake", 4},   {"SapphireRapids", 5},
};

int vk_blas_core_level(const char *core)
{
	for (size_t i = 0; core && i < sizeof CORES / sizeof *CORES; i++)
		if (!strcasecmp(core, CORES[i].name))
			return CORES[i].level;
	return -1;
}

const char *vk_blas_best_core(unsigned f, int (*have)(const char *core))
{
	const unsigned avx512 = VK_CPU_AVX512F | VK_CPU_AVX512DQ | VK_CPU_AVX512BW | VK_CPU_AVX512VL;
	/* Best first, each with what its kernels need. SapphireRapids is left
	 * out: OpenBLAS does not take it from OPENBLAS_CORETYPE (its name list
	 * stops at Cooperlake), and its sgemm is SkylakeX's anyway. 0.3.21's
	 * list even stops one short of Cooperlake ("Core not found" with
	 * OPENBLAS_VERBOSE=2), but for a name it does not find it falls back to
	 * the CPU's features, which on a CPU with AVX-512 BF16 is Cooperlake
	 * again; the restarted program checks what it got (vk_blas_init). */
	const struct {
		const char *core;
		unsigned needs;
	} order[] = {
		{"Cooperlake", avx512 | VK_CPU_AVX512BF16},
		{"SkylakeX", avx512},
		{f & VK_CPU_AMD ? "Zen" : "Haswell", VK_CPU_AVX2 | VK_CPU_FMA},
		{"Haswell", VK_CPU_AVX2 | VK_CPU_FMA},
		{"Sandybridge", VK_CPU_AVX},
	};
	for (size_t i = 0; i < sizeof order / sizeof *order; i++)
		if ((f & order[i].needs) == order[i].needs && (!have || have(order[i].core)))
			return order[i].core;
	return "Prescott";
}

/* Whether the loaded OpenBLAS has a core's kernel table: a DYNAMIC_ARCH
 * build exports each as gotoblas_NAME. When it exports none we cannot tell,
 * and assume it has them all (0.3.21 has every core above up to Cooperlake). */
static int have_table(const char *core)
{
	char sym[48] = "gotoblas_";
	size_t n = strlen(sym);
	for (const char *p = core; *p && n < sizeof sym - 1; p++)
		sym[n++] = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
	sym[n] = 0;
	if (dlsym(RTLD_DEFAULT, sym))
		return 1;
	return !dlsym(RTLD_DEFAULT, "gotoblas_PRESCOTT");
}

/* ---- the check ----------------------------------------------------------- */

static struct {
	int done;
	const char *chosen_by;
	char first[32];
	char note[320];
} blas = {0, "OpenBLAS", "", ""};

static int is_dynamic(void)
{
	const char *config = openblas_get_config();
	return config && strstr(config, "DYNAMIC_ARCH");
}

void vk_blas_init(char **argv)
{
	if (blas.done)
		return;
	blas.done = 1;
	const char *core = openblas_get_corename();
	const char *user = getenv("OPENBLAS_CORETYPE");
	const char *restarted = getenv(RESTART_VAR);
	const char *best = vk_blas_best_core(vk_cpu_features(), have_table);
	if (restarted && user) {
		/* We are the restarted program: the variable is ours. */
		snprintf(blas.first, sizeof blas.first, "%s", restarted);
		unsetenv(RESTART_VAR);
		blas.chosen_by = "vaekit";
		if (strcasecmp(user, core))
			snprintf(blas.note, sizeof blas.note,
				 "OpenBLAS chose its %s kernels, older than this CPU supports, and "
				 "ignored OPENBLAS_CORETYPE=%s: it runs %s",
				 blas.first, user, core);
		else
			snprintf(blas.note, sizeof blas.note,
				 "OpenBLAS chose its %s kernels, older than this CPU supports: using "
				 "%s (set OPENBLAS_CORETYPE to choose)",
				 blas.first, core);
		return;
	}
	unsetenv(RESTART_VAR); /* stray, without our OPENBLAS_CORETYPE: not ours */
	if (user && *user) {
		blas.chosen_by = "OPENBLAS_CORETYPE";
		if (strcasecmp(user, core))
			snprintf(blas.note, sizeof blas.note,
				 "OPENBLAS_CORETYPE=%.40s is not a core this OpenBLAS knows by that "
				 "name: it runs %s",
				 user, core);
		else if (vk_blas_core_level(core) >= 0 &&
			 vk_blas_core_level(core) < vk_blas_core_level(best))
			snprintf(blas.note, sizeof blas.note,
				 "OPENBLAS_CORETYPE=%.40s selects older kernels than this CPU "
				 "supports (%s)",
				 user, best);
		return;
	}
	const char *pretend = getenv(TEST_VAR);
	if (pretend && *pretend)
		core = pretend;
	int level = vk_blas_core_level(core);
	/* A core we do not know (a newer OpenBLAS's) is left alone. */
	if (level < 0 || level >= vk_blas_core_level(best))
		return;
	if (!is_dynamic()) {
		snprintf(blas.note, sizeof blas.note,
			 "OpenBLAS runs its %.40s kernels, older than this CPU supports (%s), "
			 "and cannot switch (not a DYNAMIC_ARCH build)",
			 core, best);
		return;
	}
	char first[32];
	snprintf(first, sizeof first, "%s", core);
	if (argv && argv[0] && !setenv("OPENBLAS_CORETYPE", best, 1) &&
	    !setenv(RESTART_VAR, first, 1)) {
		fflush(NULL);
		execv("/proc/self/exe", argv);
	}
	/* No restart (no /proc, the binary gone): go on with OpenBLAS's choice. */
	int err = errno;
	unsetenv("OPENBLAS_CORETYPE");
	unsetenv(RESTART_VAR);
	snprintf(blas.note, sizeof blas.note,
		 "OpenBLAS chose its %s kernels, older than this CPU supports, and the "
		 "program could not restart with %s (%s): set OPENBLAS_CORETYPE=%s",
		 first, best, strerror(err), best);
}

const char *vk_blas_note(void) { return *blas.note ? blas.note : NULL; }

void vk_blas_get_info(vk_blas_info *info)
{
	info->config = openblas_get_config();
	info->core = openblas_get_corename();
	info->chosen_by = blas.chosen_by;
	info->first = *blas.first ? blas.first : NULL;
	info->features = vk_cpu_features();
	info->best = vk_blas_best_core(info->features, have_table);
	info->threads = openblas_get_num_threads();
}

const char *vk_build_isa(void)
{
#ifdef VK_PORTABLE
	/* The test gcc's target_clones dispatch makes (nn.h's VK_HOT). */
#if defined(__GNUC__) && !defined(__clang__)
	__builtin_cpu_init();
	int v4 = __builtin_cpu_supports("x86-64-v4"), v3 = __builtin_cpu_supports("x86-64-v3");
#else
	unsigned f = vk_cpu_features();
	int v3 = (f & (VK_CPU_AVX2 | VK_CPU_FMA)) == (VK_CPU_AVX2 | VK_CPU_FMA);
	int v4 = v3 && (f & (VK_CPU_AVX512F | VK_CPU_AVX512DQ | VK_CPU_AVX512BW | VK_CPU_AVX512VL)) ==
			       (VK_CPU_AVX512F | VK_CPU_AVX512DQ | VK_CPU_AVX512BW | VK_CPU_AVX512VL);
#endif
	if (v4)
		return "x86-64 (portable build); hot kernels: the x86-64-v4 (AVX-512) clone";
	if (v3)
		return "x86-64 (portable build); hot kernels: the x86-64-v3 (AVX2) clone";
	return "x86-64 (portable build); hot kernels: the baseline clone";
#elif defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512VL__) && \
	defined(__AVX512DQ__)
	return "x86-64-v4 (AVX-512), all code";
#elif defined(__AVX2__) && defined(__FMA__)
	return "x86-64-v3 (AVX2), all code";
#elif defined(__SSE4_2__)
	return "x86-64-v2 (SSE4.2), all code";
#elif defined(__x86_64__)
	return "x86-64 baseline (SSE2), all code";
#else
	return "not x86-64";
#endif
}
