/*
 * optim.c - SGD, momentum (PyTorch's form: v = mu v + g; w -= lr v) and
 * Adam (Kingma and Ba, with bias correction), each one loop over a slice
 * compiled per instruction-set tier (isa.h); and the same update measuring
 * its own sums of squares.
 */
#include "traind/optim.h"

#include <math.h>
#include <string.h>

#include "traind/isa.h"

const char *const optimizer_names[OPT_COUNT] = {"sgd", "momentum", "adam"};
_Static_assert(OPT_ADAM + 1 == OPT_COUNT, "a name for every optimizer");

const char *optimizer_name(enum optimizer kind)
{
	return optimizer_names[kind];
}

int optim_moments(enum optimizer kind)
{
	return kind == OPT_ADAM ? 2 : kind == OPT_MOMENTUM ? 1 : 0;
}

/* g[0..n) = sum of the parts, in part order. */
static void sum_parts(float *restrict g, const float *const *parts, int n_parts, size_t n)
{
	const float *restrict p0 = parts[0];
	if (n_parts == 1) {
		memcpy(g, p0, sizeof(float) * n);
		return;
	}
	const float *restrict p1 = parts[1];
	for (size_t i = 0; i < n; i++)
		g[i] = p0[i] + p1[i];
	for (int k = 2; k < n_parts; k++) {
		const float *restrict pk = parts[k];
		for (size_t i = 0; i < n; i++)
			g[i] += pk[i];
	}
}

#define BLOCK 512 /* floats summed at a time: stays in L1 for the update */

/* The rule on one block of len floats whose gradient sum is g. Inlined
 * into one function per instruction-set tier (below), which compiles it
 * with that tier's vectors; the tier is fixed at start (isa.h), so the
 * rounding of a given run never changes. */
static inline __attribute__((always_inline)) void
rule_block(const struct optim_hparams *h, float *restrict wb, const float *restrict g,
	   float *restrict mb, float *restrict vb, size_t len, float inv_batch, float l2,
	   float step, float eps_hat)
{
	const float lr = h->learning_rate;
	switch (h->kind) {
	case OPT_SGD:
		for (size_t i = 0; i < len; i++)
			wb[i] -= lr * (g[i] * inv_batch + l2 * wb[i]);
		break;
	case OPT_MOMENTUM: {
		const float mu = h->momentum;
		for (size_t i = 0; i < len; i++) {
			mb[i] = mu * mb[i] + g[i] * inv_batch + l2 * wb[i];
			wb[i] -= lr * mb[i];
		}
		break;
	}
	case OPT_ADAM: {
		const float b1 = h->beta1, b2 = h->beta2;
		for (size_t i = 0; i < len; i++) {
			float gi = g[i] * inv_batch + l2 * wb[i];
			mb[i] = b1 * mb[i] + (1 - b1) * gi;
			vb[i] = b2 * vb[i] + (1 - b2) * gi * gi;
			wb[i] -= step * mb[i] / (sqrtf(vb[i]) + eps_hat);
		}
		break;
	}
	}
}

static inline __attribute__((always_inline)) void
update_all(const struct optim_hparams *h, float *w, const float *const *parts, int n_parts,
	   float *m, float *v, size_t n, float inv_batch, float l2, float step, float eps_hat)
{
	float g[BLOCK];
	const float *blk[OPTIM_MAX_PARTS] = {0};
	for (size_t at = 0; at < n; at += BLOCK) {
		size_t len = n - at < BLOCK ? n - at : BLOCK;
		const float *sum = parts[0] + at; /* one part: read in place */
		if (n_parts > 1) {
			for (int k = 0; k < n_parts; k++)
				blk[k] = parts[k] + at;
			sum_parts(g, blk, n_parts, len);
			sum = g;
		}
		rule_block(h, w + at, sum, m ? m + at : NULL, v ? v + at : NULL, len, inv_batch, l2,
			   step, eps_hat);
	}
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(TRAIND_PORTABLE_ONLY)
#define UPDATE_ARGS                                                                         \
	const struct optim_hparams *h, float *w, const float *const *parts, int n_parts,   \
		float *m, float *v, size_t n, float inv_batch, float l2, float step, float eps_hat
__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma"))) static void
update_avx512(UPDATE_ARGS)
{
	update_all(h, w, parts, n_parts, m, v, n, inv_batch, l2, step, eps_hat);
}
__attribute__((target("avx2,fma"))) static void update_avx2(UPDATE_ARGS)
{
	update_all(h, w, parts, n_parts, m, v, n, inv_batch, l2, step, eps_hat);
}
#undef UPDATE_ARGS
#define HAVE_X86_TIERS 1
#endif

void optim_update(const struct optim_hparams *h, float *w, const float *const *parts,
		  int n_parts, float *m, float *v, size_t n, float inv_batch, int decay, long t)
{
	if (n_parts < 1 || n_parts > OPTIM_MAX_PARTS)
		return;
	const float l2 = decay ? h->l2 : 0.0f;
	/* Adam's bias corrections folded into the step size. */
	float step = h->learning_rate, eps_hat = h->eps;
	if (h->kind == OPT_ADAM) {
		const float c1 = (float)(1.0 - pow(h->beta1, (double)t));
		const float c2 = (float)(1.0 - pow(h->beta2, (double)t));
		step = h->learning_rate * sqrtf(c2) / c1;
		eps_hat = h->eps * sqrtf(c2);
	}
	switch (isa_tier()) {
#ifdef HAVE_X86_TIERS
	case ISA_AVX512:
		update_avx512(h, w, parts, n_parts, m, v, n, inv_batch, l2, step, eps_hat);
		return;
	case ISA_AVX2:
		update_avx2(h, w, parts, n_parts, m, v, n, inv_batch, l2, step, eps_hat);
		return;
#endif
	default:
		update_all(h, w, parts, n_parts, m, v, n, inv_batch, l2, step, eps_hat);
		return;
	}
}

/* ---- an update that also measures itself (train.h's layer statistics) ---- */

#define MEASURE_BLOCK 1024 /* floats: old, summed and new weights stay in L1 */
typedef float measure_v4 __attribute__((vector_size(16)));

/* optim_update on weights, block by block, adding the sums of squares
 * (see optim.h). Each block's parts are summed once, in part order (as
 * optim_update would: the weights are bit-identical), and the update and
 * the sums then work on the block in L1. */
void optim_update_measured(const struct optim_hparams *hp, float *w, const float *const *from,
			   int S, float *m, float *v, size_t n, float inv_batch, long step,
			   double *sums)
{
	if (S < 1 || S > OPTIM_MAX_PARTS)
		return;
	float old[MEASURE_BLOCK], g[MEASURE_BLOCK];
	const float *blk[OPTIM_MAX_PARTS];
	double sw = 0, sg = 0, sd = 0;
	for (size_t at = 0; at < n; at += MEASURE_BLOCK) {
		size_t len = n - at < MEASURE_BLOCK ? n - at : MEASURE_BLOCK;
		memcpy(old, w + at, sizeof(float) * len);
		for (int s = 0; s < S; s++)
			blk[s] = from[s] + at;
		/* The gradient the rule follows, summed in part order as optim.c does. */
		memcpy(g, blk[0], sizeof(float) * len);
		for (int s = 1; s < S; s++)
			for (size_t i = 0; i < len; i++)
				g[i] += blk[s][i];
		const float *sum[1] = {g}; /* the parts are read once, here */
		optim_update(hp, w + at, sum, 1, m ? m + at : NULL, v ? v + at : NULL, len, inv_batch,
			     1, step);
		/* Four float lanes per figure (a vector of the compiler's: a
		 * plain sum would not vectorise without reassociation); the
		 * block's lanes then go into double. */
		measure_v4 vw = {0}, vg = {0}, vd = {0};
		const float l2 = hp->l2;
		const measure_v4 vinv = {inv_batch, inv_batch, inv_batch, inv_batch}, vl2 = {l2, l2, l2, l2};
		const float *wb = w + at;
		size_t i = 0;
		for (; i + 4 <= len; i += 4) {
			measure_v4 o, gg, nw;
			memcpy(&o, old + i, sizeof(o));
			memcpy(&gg, g + i, sizeof(gg));
			memcpy(&nw, wb + i, sizeof(nw));
			measure_v4 gi = gg * vinv + vl2 * o, d = nw - o;
			vw += nw * nw;
			vg += gi * gi;
			vd += d * d;
		}
		for (; i < len; i++) {
			float gi = g[i] * inv_batch + l2 * old[i], d = wb[i] - old[i];
			vw[0] += wb[i] * wb[i];
			vg[0] += gi * gi;
			vd[0] += d * d;
		}
		for (int k = 0; k < 4; k++) {
			sw += vw[k];
			sg += vg[k];
			sd += vd[k];
		}
	}
	sums[0] += sw;
	sums[1] += sg;
	sums[2] += sd;
}
