/*
 * isa.h - which kernels run: the instruction-set tier and the first layer's
 * path.
 *
 * The tier is chosen once, at start, from the CPU's features (cpuid, and
 * xgetbv for the registers the OS saves), never by timing: the same machine
 * and seed always train the same weights. The highest tier the CPU has is
 * the default; TRAIND_ISA=avx512|avx2|generic picks another, and a tier
 * the CPU lacks is an error. generic is plain C the compiler vectorises for
 * the build's baseline (SSE2 on x86-64, NEON on aarch64); avx2 needs AVX2
 * and FMA; avx512 needs AVX-512 F, BW, DQ and VL. Off x86-64 (or built
 * with -DTRAIND_PORTABLE_ONLY, which checks that path compiles) only
 * generic exists.
 *
 * The first layer of an MLP runs on its lit pixels only (sparse.h) or as
 * dense GEMMs, for the whole job. TRAIND_FIRST_LAYER=auto (the default)
 * decides by the training set's density against a threshold measured per
 * tier, BLAS kernel and slot size; sparse and dense force one path (to
 * measure both on one machine). Both are functions of the CPU and the
 * data, never of timing.
 */
#ifndef TRAIND_ISA_H
#define TRAIND_ISA_H

#include "traind/error.h"

enum isa_tier { ISA_GENERIC = 0, ISA_AVX2 = 1, ISA_AVX512 = 2 };
#define ISA_TIERS 3

enum first_layer { FIRST_LAYER_AUTO = 0, FIRST_LAYER_SPARSE = 1, FIRST_LAYER_DENSE = 2 };

/* "generic", "avx2", "avx512"; "auto", "sparse", "dense". */
const char *isa_tier_name(enum isa_tier t);
const char *first_layer_name(enum first_layer f);

/* Parses a name; 0, or TD_EINVAL naming `field` and the allowed values. */
int isa_tier_parse(const char *s, const char *field, enum isa_tier *out, struct td_error *e);
int first_layer_parse(const char *s, const char *field, enum first_layer *out,
		      struct td_error *e);

/* 1 if this CPU and OS can run tier t (generic always). */
int isa_supported(enum isa_tier t);
/* The highest supported tier. */
enum isa_tier isa_best(void);

/* The choice isa_init makes from the two variables' values (NULL or ""
 * for unset) on a CPU whose highest tier is `best`. */
int isa_choose(const char *isa_env, const char *first_layer_env, enum isa_tier best,
	       enum isa_tier *tier, enum first_layer *first, struct td_error *e);

/* Reads TRAIND_ISA and TRAIND_FIRST_LAYER once (later calls return the
 * first result). A bad value or a tier the CPU lacks is TD_EINVAL with a
 * message naming the variable; the programs call it first thing. */
int isa_init(struct td_error *e);

/* The tier and first-layer mode in use. The first call initialises from
 * the environment if isa_init was not called; a bad environment there
 * prints isa_init's message and exits with status 2. */
enum isa_tier isa_tier(void);
enum first_layer isa_first_layer(void);

/* Switches the tier (tests, to run every path on one machine): TD_EINVAL
 * if the CPU lacks it. Not for use while kernels run on other threads. */
int isa_force(enum isa_tier t, struct td_error *e);
void isa_force_first_layer(enum first_layer f);

/* The BLAS's own kernel: OpenBLAS's core name ("Haswell", "SkylakeX",
 * "Prescott", ...; "unknown" for another BLAS), and the tier its kernels
 * use. The dense first layer runs on it, so the sparse/dense threshold
 * depends on it too. OpenBLAS picks its core from the CPU at load (and
 * OPENBLAS_CORETYPE overrides it); a CPU newer than the library's tables
 * gets a baseline core (OpenBLAS 0.3.21 runs Prescott's SSE3 kernels on
 * Emerald Rapids). */
const char *isa_blas_core(void);
enum isa_tier isa_blas_tier(void);

/* The measured density up to which the sparse first layer (forward and
 * weight gradient) beats the GEMMs, for slots of `rows` samples on tier t
 * with this process's BLAS. */
double isa_sparse_max_density(enum isa_tier t, int rows);

/* Whether data of this density, in slots of `rows` samples, takes the
 * sparse path under the current tier and mode. */
int isa_first_layer_sparse(double density, int rows);

#endif
