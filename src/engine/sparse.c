/*
 * sparse.c - the first layer over lit pixels only (see sparse.h).
 *
 * The kernels work on the hidden dimension in blocks of 128 floats held in
 * eight 16-float vectors (then 64 in four, then 16 in one) (GCC vector extensions, so the compiler emits
 * AVX-512, AVX2 or SSE as the CPU allows: target_clones picks at load
 * time), then a tail of single floats for widths that are not a multiple
 * of 64. The order of additions is fixed by the data alone.
 */
#include "traind/sparse.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef float v16f __attribute__((vector_size(64)));
/* The same vector at any float alignment, for loads and stores. */
typedef float v16f_unaligned __attribute__((vector_size(64), aligned(4), may_alias));

#define load16(p) (*(const v16f_unaligned *)(const void *)(p))
#define store16(p, v) (*(v16f_unaligned *)(void *)(p) = (v))

/* Clones for AVX-512 and AVX2 machines, picked when the program loads
 * (not under sanitizers, whose runtimes do not support the resolvers). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
	!defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
#define KERNEL __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define KERNEL
#endif

int sparse_cols_init(struct sparse_cols *c, int cap_rows, int cols)
{
	memset(c, 0, sizeof(*c));
	if (cap_rows < 1 || cap_rows > 65535 || cols < 1)
		return -1;
	size_t cap = (size_t)cap_rows * (size_t)cols;
	c->start = malloc(sizeof(uint32_t) * ((size_t)cols + 1));
	c->row = malloc(sizeof(uint16_t) * cap);
	c->val = malloc(sizeof(float) * cap);
	c->row_start = malloc(sizeof(uint32_t) * ((size_t)cap_rows + 1));
	/* 16 entries of slack: the compress path stores whole vectors. */
	c->col = malloc(sizeof(uint16_t) * (cap + 16));
	c->row_val = malloc(sizeof(float) * (cap + 16));
	if (!c->start || !c->row || !c->val || !c->row_start || !c->col || !c->row_val) {
		sparse_cols_free(c);
		return -1;
	}
	c->cap_rows = cap_rows;
	c->cols = cols;
	return 0;
}

void sparse_cols_free(struct sparse_cols *c)
{
	free(c->start);
	free(c->row);
	free(c->val);
	free(c->row_start);
	free(c->col);
	free(c->row_val);
	memset(c, 0, sizeof(*c));
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define HAVE_COMPRESS_PATH 1

/* One row's lit pixels with AVX-512 compress stores: 16 pixels a step,
 * values (float)v / 255.0f exactly as the scalar path computes them.
 * col and val need 16 entries of slack past the row's last entry. */
__attribute__((target("avx512f,avx512bw,avx512vl")))
static uint32_t gather_row_avx512(const uint8_t *src, int F, uint16_t *col, float *val)
{
	const __m512 div = _mm512_set1_ps(255.0f);
	const __m512i iota = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
	uint32_t k = 0;
	int p = 0;
	for (; p + 16 <= F; p += 16) {
		__m128i bytes = _mm_loadu_si128((const __m128i *)(src + p));
		__mmask16 lit = _mm_test_epi8_mask(bytes, bytes);
		if (!lit)
			continue;
		__m512 v = _mm512_div_ps(_mm512_cvtepi32_ps(_mm512_cvtepu8_epi32(bytes)), div);
		/* Compress in registers, then a plain store: compress-to-memory
		 * is microcoded and slow on some CPUs (AMD Zen 4). */
		_mm512_storeu_ps(val + k, _mm512_maskz_compress_ps(lit, v));
		__m512i at = _mm512_maskz_compress_epi32(lit, _mm512_add_epi32(iota, _mm512_set1_epi32(p)));
		_mm256_storeu_si256((__m256i *)(col + k), _mm512_cvtepi32_epi16(at));
		k += (uint32_t)__builtin_popcount(lit);
	}
	for (; p < F; p++) {
		col[k] = (uint16_t)p;
		val[k] = (float)src[p] / 255.0f;
		k += src[p] != 0;
	}
	return k;
}
#else
#define HAVE_COMPRESS_PATH 0
#endif

static int simd_allowed = 1;

void sparse_set_simd(int enabled)
{
	__atomic_store_n(&simd_allowed, enabled, __ATOMIC_RELAXED);
}

static int use_compress_path(void)
{
#if HAVE_COMPRESS_PATH
	static int cached = -1;
	if (!__atomic_load_n(&simd_allowed, __ATOMIC_RELAXED))
		return 0;
	int v = __atomic_load_n(&cached, __ATOMIC_RELAXED);
	if (v < 0) {
		__builtin_cpu_init();
		v = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
		    __builtin_cpu_supports("avx512vl");
		__atomic_store_n(&cached, v, __ATOMIC_RELAXED);
	}
	return v;
#else
	return 0;
#endif
}

double sparse_cols_gather(struct sparse_cols *c, const uint8_t *x, const uint32_t *idx, int n,
			  const float lut[256])
{
	const int F = c->cols;
	assert(n >= 1 && n <= c->cap_rows);
	/* By rows: one pass over the bytes. */
	uint32_t k = 0;
#if HAVE_COMPRESS_PATH
	if (use_compress_path()) {
		for (int r = 0; r < n; r++) {
			c->row_start[r] = k;
			k += gather_row_avx512(x + (size_t)idx[r] * (size_t)F, F, c->col + k,
					       c->row_val + k);
		}
		n = -n; /* rows done: skip the scalar loop below */
	}
#endif
	for (int r = 0; r < n; r++) {
		const uint8_t *src = x + (size_t)idx[r] * (size_t)F;
		c->row_start[r] = k;
		int p = 0;
		for (; p + 8 <= F; p += 8) {
			uint64_t word;
			memcpy(&word, src + p, 8);
			if (!word)
				continue; /* a dark run: most of an image's background */
			for (int q = p; q < p + 8; q++) {
				c->col[k] = (uint16_t)q;
				c->row_val[k] = lut[src[q]];
				k += src[q] != 0; /* written always, kept if lit */
			}
		}
		for (; p < F; p++) {
			c->col[k] = (uint16_t)p;
			c->row_val[k] = lut[src[p]];
			k += src[p] != 0;
		}
	}
	if (n < 0)
		n = -n;
	c->row_start[n] = k;
	c->nnz = k;
	/* By columns: counting sort of the entries by pixel. */
	uint32_t *start = c->start;
	memset(start, 0, sizeof(uint32_t) * ((size_t)F + 1));
	for (uint32_t e = 0; e < k; e++)
		start[c->col[e] + 1]++;
	for (int p = 0; p < F; p++)
		start[p + 1] += start[p];
	for (int r = 0; r < n; r++)
		for (uint32_t e = c->row_start[r]; e < c->row_start[r + 1]; e++) {
			uint32_t d = start[c->col[e]]++;
			c->row[d] = (uint16_t)r;
			c->val[d] = c->row_val[e];
		}
	for (int p = F; p > 0; p--)
		start[p] = start[p - 1];
	start[0] = 0;
	c->rows = n;
	return (double)k / ((double)n * (double)F);
}

KERNEL
void sparse_dense_forward(float *z, const struct sparse_cols *x, const float *w, const float *b,
			  int H)
{
	const int n = x->rows;
	for (int r = 0; r < n; r++) {
		float *zr = z + (size_t)r * (size_t)H;
		uint32_t k0 = x->row_start[r], k1 = x->row_start[r + 1];
		int j = 0;
		for (; j + 128 <= H; j += 128) {
			v16f a[8];
			for (int q = 0; q < 8; q++)
				a[q] = load16(b + j + 16 * q);
			for (uint32_t k = k0; k < k1; k++) {
				const float *wp = w + (size_t)x->col[k] * (size_t)H + j;
				v16f v = {0};
				v += x->row_val[k];
				for (int q = 0; q < 8; q++)
					a[q] += v * load16(wp + 16 * q);
			}
			for (int q = 0; q < 8; q++)
				store16(zr + j + 16 * q, a[q]);
		}
		for (; j + 64 <= H; j += 64) {
			v16f a0 = load16(b + j), a1 = load16(b + j + 16), a2 = load16(b + j + 32),
			     a3 = load16(b + j + 48);
			for (uint32_t k = k0; k < k1; k++) {
				const float *wp = w + (size_t)x->col[k] * (size_t)H + j;
				v16f v = {0};
				v += x->row_val[k];
				a0 += v * load16(wp);
				a1 += v * load16(wp + 16);
				a2 += v * load16(wp + 32);
				a3 += v * load16(wp + 48);
			}
			store16(zr + j, a0);
			store16(zr + j + 16, a1);
			store16(zr + j + 32, a2);
			store16(zr + j + 48, a3);
		}
		for (; j + 16 <= H; j += 16) {
			v16f a = load16(b + j);
			for (uint32_t k = k0; k < k1; k++) {
				v16f v = {0};
				v += x->row_val[k];
				a += v * load16(w + (size_t)x->col[k] * (size_t)H + j);
			}
			store16(zr + j, a);
		}
		for (; j < H; j++) {
			float a = b[j];
			for (uint32_t k = k0; k < k1; k++)
				a += x->row_val[k] * w[(size_t)x->col[k] * (size_t)H + j];
			zr[j] = a;
		}
	}
}

KERNEL
void sparse_dense_backward(float *dw, float *db, const float *dz, const struct sparse_cols *x,
			   int H)
{
	const int n = x->rows, F = x->cols;
	for (int t = 0; t < H; t++)
		db[t] = 0;
	for (int r = 0; r < n; r++)
		for (int t = 0; t < H; t++)
			db[t] += dz[(size_t)r * (size_t)H + t];
	for (int p = 0; p < F; p++) {
		float *dwp = dw + (size_t)p * (size_t)H;
		uint32_t k0 = x->start[p], k1 = x->start[p + 1];
		if (k0 == k1) {
			memset(dwp, 0, sizeof(float) * (size_t)H);
			continue;
		}
		int j = 0;
		for (; j + 128 <= H; j += 128) {
			v16f a[8] = {{0}};
			for (uint32_t k = k0; k < k1; k++) {
				const float *d = dz + (size_t)x->row[k] * (size_t)H + j;
				v16f v = {0};
				v += x->val[k];
				for (int q = 0; q < 8; q++)
					a[q] += v * load16(d + 16 * q);
			}
			for (int q = 0; q < 8; q++)
				store16(dwp + j + 16 * q, a[q]);
		}
		for (; j + 64 <= H; j += 64) {
			v16f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
			for (uint32_t k = k0; k < k1; k++) {
				const float *d = dz + (size_t)x->row[k] * (size_t)H + j;
				v16f v = {0};
				v += x->val[k];
				a0 += v * load16(d);
				a1 += v * load16(d + 16);
				a2 += v * load16(d + 32);
				a3 += v * load16(d + 48);
			}
			store16(dwp + j, a0);
			store16(dwp + j + 16, a1);
			store16(dwp + j + 32, a2);
			store16(dwp + j + 48, a3);
		}
		for (; j + 16 <= H; j += 16) {
			v16f a = {0};
			for (uint32_t k = k0; k < k1; k++) {
				v16f v = {0};
				v += x->val[k];
				a += v * load16(dz + (size_t)x->row[k] * (size_t)H + j);
			}
			store16(dwp + j, a);
		}
		for (; j < H; j++) {
			float a = 0;
			for (uint32_t k = k0; k < k1; k++)
				a += x->val[k] * dz[(size_t)x->row[k] * (size_t)H + j];
			dwp[j] = a;
		}
	}
}
