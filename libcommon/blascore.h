/* The BLAS kernels in use: never OpenBLAS's fallback kernels on a CPU that
 * has better ones (issue 25).
 *
 * A DYNAMIC_ARCH OpenBLAS (Debian's) picks its kernels once, when it loads,
 * from the CPU's family and model, or from OPENBLAS_CORETYPE. On a CPU model
 * it does not know (a rented VM's "generic" Xeon) it can pick its SSE3
 * Prescott kernels and run 4x slower, silently. vk_blas_init, called first in
 * every program that does matrix work, compares OpenBLAS's choice with what
 * the CPU supports (cpuid) and, when OpenBLAS chose older kernels and the
 * user did not set OPENBLAS_CORETYPE, restarts the program once with the
 * right core set (see blascore.c for why a restart). */
#ifndef VK_BLASCORE_H
#define VK_BLASCORE_H

#include <stddef.h>

/* CPU features that matter for the kernels, each only when the OS saves the
 * registers it needs (XCR0), as OpenBLAS checks them. */
enum {
	VK_CPU_SSE42 = 1u << 0,
	VK_CPU_AVX = 1u << 1,
	VK_CPU_FMA = 1u << 2,
	VK_CPU_AVX2 = 1u << 3,
	VK_CPU_AVX512F = 1u << 4,
	VK_CPU_AVX512DQ = 1u << 5,
	VK_CPU_AVX512BW = 1u << 6,
	VK_CPU_AVX512VL = 1u << 7,
	VK_CPU_AVX512VNNI = 1u << 8,
	VK_CPU_AVX512BF16 = 1u << 9,
	VK_CPU_AVX512FP16 = 1u << 10,
	VK_CPU_AMX_TILE = 1u << 11,
	VK_CPU_AMX_BF16 = 1u << 12,
	VK_CPU_AMX_INT8 = 1u << 13,
	VK_CPU_AMD = 1u << 31, /* the vendor: AMD's AVX2 core is "Zen", Intel's "Haswell" */
};

/* This CPU's features (cpuid and xgetbv; 0 off x86-64). */
unsigned vk_cpu_features(void);
/* "sse4_2 avx fma avx2 avx512f ... (no avx512_fp16 amx_tile ...)", in buf. */
char *vk_cpu_flags_str(unsigned features, char *buf, size_t len);
/* The CPU's brand string from cpuid ("Intel(R) Xeon(R) ..."), "" when none. */
const char *vk_cpu_name(void);

/* The instruction-set level of an OpenBLAS core name (case-insensitive):
 * 0 SSE (Prescott, Core2, Nehalem, ...), 1 AVX (Sandybridge, Bulldozer, ...),
 * 2 AVX2 (Haswell, Zen), 3 AVX-512 (SkylakeX), 4 AVX-512 BF16 (Cooperlake),
 * 5 AMX (SapphireRapids); -1 for a name vaekit does not know (left alone). */
int vk_blas_core_level(const char *core);
/* The best OpenBLAS core for a CPU with these features, among those the
 * loaded OpenBLAS has (have(name) != 0; NULL: all of 0.3.21's). */
const char *vk_blas_best_core(unsigned features, int (*have)(const char *core));

/* Call first in main, before anything is read, written or started: it may
 * re-execute the program (same argv, same open files) with
 * OPENBLAS_CORETYPE set. Cheap otherwise (cpuid and a string compare). A
 * set OPENBLAS_CORETYPE (the user's) is always respected. */
void vk_blas_init(char **argv);
/* What the check did or found worth saying, one sentence without the
 * program's name, for -v; NULL when nothing (OpenBLAS's choice was right). */
const char *vk_blas_note(void);

/* What vae-info --system reports. */
typedef struct {
	const char *config;   /* openblas_get_config() */
	const char *core;     /* the core in use, openblas_get_corename() */
	const char *chosen_by; /* "OpenBLAS", "vaekit" or "OPENBLAS_CORETYPE" */
	const char *first;    /* chosen_by "vaekit": what OpenBLAS had chosen */
	const char *best;     /* the best core for this CPU (vk_blas_best_core) */
	int threads;          /* openblas_get_num_threads() */
	unsigned features;    /* vk_cpu_features() */
} vk_blas_info;
void vk_blas_get_info(vk_blas_info *info);

/* The instruction set this build of vaekit targets, and for a portable build
 * which of the hot kernels' clones this CPU runs. */
const char *vk_build_isa(void);

#endif
