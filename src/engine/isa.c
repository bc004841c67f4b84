/*
 * isa.c - the instruction-set tier and the first layer's path (see isa.h).
 *
 * Detection reads cpuid for the instructions and xgetbv for the register
 * state the OS saves (an AVX-512 CPU under an OS or hypervisor that does not
 * enable the zmm state cannot run AVX-512 code). The result is kept in two
 * ints read with relaxed atomics on every kernel call.
 */
#include "traind/isa.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
#include <cblas.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__) && !defined(TRAIND_PORTABLE_ONLY)
#include <cpuid.h>
#endif

static const char *const tier_names[ISA_TIERS] = {"generic", "avx2", "avx512"};
static const char *const first_layer_names[3] = {"auto", "sparse", "dense"};

const char *isa_tier_name(enum isa_tier t)
{
	return (unsigned)t < ISA_TIERS ? tier_names[t] : "unknown";
}

const char *first_layer_name(enum first_layer f)
{
	return (unsigned)f < 3 ? first_layer_names[f] : "unknown";
}

int isa_tier_parse(const char *s, const char *field, enum isa_tier *out, struct td_error *e)
{
	for (int t = 0; t < ISA_TIERS; t++)
		if (strcmp(s, tier_names[t]) == 0) {
			*out = (enum isa_tier)t;
			return 0;
		}
	return td_errorf(e, TD_EINVAL, field, "%s must be avx512, avx2 or generic, not \"%.40s\"",
			 field, s);
}

int first_layer_parse(const char *s, const char *field, enum first_layer *out,
		      struct td_error *e)
{
	for (int f = 0; f < 3; f++)
		if (strcmp(s, first_layer_names[f]) == 0) {
			*out = (enum first_layer)f;
			return 0;
		}
	return td_errorf(e, TD_EINVAL, field, "%s must be auto, sparse or dense, not \"%.40s\"",
			 field, s);
}

/* ---- detection ------------------------------------------------------ */

#if defined(__x86_64__) && defined(__GNUC__) && !defined(TRAIND_PORTABLE_ONLY)
static unsigned long long xcr0(void)
{
	unsigned lo, hi;
	__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
	return ((unsigned long long)hi << 32) | lo;
}

static enum isa_tier detect(void)
{
	unsigned a, b, c, d;
	if (!__get_cpuid(1, &a, &b, &c, &d))
		return ISA_GENERIC;
	const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1, avx = (c >> 28) & 1;
	if (!osxsave || !avx || !fma)
		return ISA_GENERIC;
	unsigned long long x = xcr0();
	if ((x & 0x6) != 0x6) /* SSE and AVX (ymm) state */
		return ISA_GENERIC;
	if (!__get_cpuid_count(7, 0, &a, &b, &c, &d))
		return ISA_GENERIC;
	const int avx2 = (b >> 5) & 1;
	const int avx512 = ((b >> 16) & 1) /* F */ && ((b >> 17) & 1) /* DQ */ &&
			   ((b >> 30) & 1) /* BW */ && ((b >> 31) & 1) /* VL */;
	if (!avx2)
		return ISA_GENERIC;
	if (avx512 && (x & 0xe0) == 0xe0) /* opmask, zmm0-15 upper, zmm16-31 */
		return ISA_AVX512;
	return ISA_AVX2;
}
#else
static enum isa_tier detect(void)
{
	return ISA_GENERIC;
}
#endif

static int best_tier = -1;

enum isa_tier isa_best(void)
{
	int b = __atomic_load_n(&best_tier, __ATOMIC_RELAXED);
	if (b < 0) {
		b = (int)detect();
		__atomic_store_n(&best_tier, b, __ATOMIC_RELAXED);
	}
	return (enum isa_tier)b;
}

int isa_supported(enum isa_tier t)
{
	return (unsigned)t < ISA_TIERS && t <= isa_best();
}

/* ---- the choice ----------------------------------------------------- */

static int cur_tier = -1;  /* -1 until initialised */
static int cur_first = -1;
static int init_rc = 1;    /* 1: not yet run */
static struct td_error init_err;
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

int isa_choose(const char *isa_env, const char *first_layer_env, enum isa_tier best,
	       enum isa_tier *tier, enum first_layer *first, struct td_error *e)
{
	enum isa_tier t = best;
	enum first_layer f = FIRST_LAYER_AUTO;
	if (isa_env && *isa_env) {
		int rc = isa_tier_parse(isa_env, "TRAIND_ISA", &t, e);
		if (rc)
			return rc;
		if (t > best)
			return td_errorf(e, TD_EINVAL, "TRAIND_ISA",
					 "TRAIND_ISA=%s: this CPU lacks the %s tier; it supports "
					 "%s%s%s",
					 isa_tier_name(t), isa_tier_name(t),
					 best == ISA_AVX2 ? "avx2 and " : "",
					 best == ISA_AVX512 ? "avx512, avx2 and " : "", "generic");
	}
	if (first_layer_env && *first_layer_env) {
		int rc = first_layer_parse(first_layer_env, "TRAIND_FIRST_LAYER", &f, e);
		if (rc)
			return rc;
	}
	*tier = t;
	*first = f;
	return 0;
}

static int init_from_env(struct td_error *e)
{
	enum isa_tier t = ISA_GENERIC;
	enum first_layer f = FIRST_LAYER_AUTO;
	int rc = isa_choose(getenv("TRAIND_ISA"), getenv("TRAIND_FIRST_LAYER"), isa_best(), &t,
			    &f, e);
	if (rc)
		return rc;
	__atomic_store_n(&cur_tier, (int)t, __ATOMIC_RELAXED);
	__atomic_store_n(&cur_first, (int)f, __ATOMIC_RELAXED);
	return 0;
}

static void run_init(void)
{
	init_rc = init_from_env(&init_err);
	if (init_rc) {
		/* Still a usable state for a caller that reports the error. */
		__atomic_store_n(&cur_tier, (int)ISA_GENERIC, __ATOMIC_RELAXED);
		__atomic_store_n(&cur_first, (int)FIRST_LAYER_AUTO, __ATOMIC_RELAXED);
	}
}

int isa_init(struct td_error *e)
{
	pthread_once(&init_once, run_init);
	if (init_rc && e)
		*e = init_err;
	return init_rc;
}

static void init_or_exit(void)
{
	if (isa_init(NULL)) {
		fprintf(stderr, "traind: %s\n", init_err.msg);
		exit(2);
	}
}

enum isa_tier isa_tier(void)
{
	int t = __atomic_load_n(&cur_tier, __ATOMIC_RELAXED);
	if (t < 0) {
		init_or_exit();
		t = __atomic_load_n(&cur_tier, __ATOMIC_RELAXED);
	}
	return (enum isa_tier)t;
}

enum first_layer isa_first_layer(void)
{
	int f = __atomic_load_n(&cur_first, __ATOMIC_RELAXED);
	if (f < 0) {
		init_or_exit();
		f = __atomic_load_n(&cur_first, __ATOMIC_RELAXED);
	}
	return (enum first_layer)f;
}

int isa_force(enum isa_tier t, struct td_error *e)
{
	if ((unsigned)t >= ISA_TIERS)
		return td_errorf(e, TD_EINVAL, "isa", "no tier %d", (int)t);
	if (!isa_supported(t))
		return td_errorf(e, TD_EINVAL, "isa", "this CPU does not support the %s tier",
				 isa_tier_name(t));
	(void)isa_first_layer(); /* initialise the mode first, so it is not reset later */
	__atomic_store_n(&cur_tier, (int)t, __ATOMIC_RELAXED);
	return 0;
}

void isa_force_first_layer(enum first_layer f)
{
	(void)isa_tier();
	__atomic_store_n(&cur_first, (int)f, __ATOMIC_RELAXED);
}

/* ---- the BLAS's own kernels ------------------------------------------ */

const char *isa_blas_core(void)
{
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
	const char *c = openblas_get_corename();
	return c && *c ? c : "unknown";
#else
	return "unknown";
#endif
}

static int name_has(const char *s, const char *word)
{
	size_t n = strlen(word);
	for (; *s; s++)
		if (strncasecmp(s, word, n) == 0)
			return 1;
	return 0;
}

static enum isa_tier blas_tier_of(const char *core)
{
	static const char *const avx512[] = {"skylakex", "cooperlake", "sapphirerapids"};
	static const char *const avx2[] = {"haswell", "zen", "excavator"};
	for (size_t i = 0; i < sizeof(avx512) / sizeof(avx512[0]); i++)
		if (name_has(core, avx512[i]))
			return ISA_AVX512;
	for (size_t i = 0; i < sizeof(avx2) / sizeof(avx2[0]); i++)
		if (name_has(core, avx2[i]))
			return ISA_AVX2;
	return ISA_GENERIC;
}

enum isa_tier isa_blas_tier(void)
{
	static int cached = -1; /* the core is fixed when the library loads */
	int t = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (t < 0) {
		t = (int)blas_tier_of(isa_blas_core());
		__atomic_store_n(&cached, t, __ATOMIC_RELAXED);
	}
	return (enum isa_tier)t;
}

/* ---- the first layer's path ----------------------------------------- */

/*
 * Densities up to which the sparse first layer (gather, forward, the lit
 * pixels' weight gradient) is faster than the GEMMs (bytes to floats, the
 * forward and the weight-gradient GEMM), by our tier, the BLAS's tier and
 * slot size (rows <= 16, 32, 64, more; batches 32-64 have slots of 16, 128
 * of 32, 256 of 64). Measured with bench/first-layer-bench on an AMD EPYC
 * (family 26 model 2, Zen 5, AVX-512), OpenBLAS 0.3.21 forced to each core
 * with OPENBLAS_CORETYPE (Prescott, Haswell, SkylakeX), 200 slots, best of
 * 3: the Fashion-MNIST density (0.50) x t_dense / t_sparse, capped at 1
 * (the sparse path faster at any density).
 */
static const double max_density[ISA_TIERS][ISA_TIERS][4] = {
	/* our tier:   BLAS generic            BLAS avx2               BLAS avx512 */
	[ISA_GENERIC] = {{0.70, 0.72, 0.64, 0.64}, {0.29, 0.27, 0.26, 0.26}, {0.19, 0.17, 0.15, 0.15}},
	[ISA_AVX2] = {{1.00, 1.00, 1.00, 1.00}, {0.70, 0.73, 0.73, 0.73}, {0.47, 0.47, 0.43, 0.43}},
	[ISA_AVX512] = {{1.00, 1.00, 1.00, 1.00}, {1.00, 1.00, 1.00, 1.00}, {0.83, 0.85, 0.82, 0.82}},
};

double isa_sparse_max_density(enum isa_tier t, int rows)
{
	int k = rows <= 16 ? 0 : rows <= 32 ? 1 : rows <= 64 ? 2 : 3;
	return (unsigned)t < ISA_TIERS ? max_density[t][isa_blas_tier()][k] : 0.0;
}

int isa_first_layer_sparse(double density, int rows)
{
	switch (isa_first_layer()) {
	case FIRST_LAYER_SPARSE:
		return 1;
	case FIRST_LAYER_DENSE:
		return 0;
	case FIRST_LAYER_AUTO:
		break;
	}
	return density <= isa_sparse_max_density(isa_tier(), rows);
}
