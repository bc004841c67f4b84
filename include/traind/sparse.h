/*
 * sparse.h - the input layer on the pixels that are not zero.
 *
 * Half of Fashion-MNIST's pixels and 81 % of the digits' are exactly 0, and
 * a zero input contributes nothing to the first layer, forward or back. So
 * each slot of a minibatch is gathered pixel by pixel: for every pixel, by
 * tiles of 64 samples, a mask of the samples where it is lit, and the
 * slot's values in pixel-major order.
 * The first layer runs on that:
 *
 *   forward   z[r][:] = b + sum over lit pixels p of x[r][p] * W[p][:]
 *             (three or four pixels at a time by tier: blocks of their
 *             W rows held in registers, added into each row of z where
 *             any is lit;
 *             the pixels' two halves summed apart, then added)
 *   gradient  dW[p][:] = sum over samples r with p lit of x[r][p] * dz[r][:]
 *             over a whole batch of slots (three or four pixels at a
 *             time by tier, the sums in registers, written once) - and
 *             per slot, with db = column sums of dz.
 *
 * The result equals the dense GEMMs' up to the order of float additions,
 * and is itself deterministic for a given instruction-set tier (isa.h):
 * the gather (vectorised with SSE2 on x86-64, AVX-512 where it can) and
 * the kernels exist per tier and
 * dispatch on isa_tier(). Float only: the gradient check runs the dense
 * path in double, and a test holds the two paths to each other.
 */
#ifndef TRAIND_SPARSE_H
#define TRAIND_SPARSE_H

#include <stddef.h>
#include <stdint.h>

/* A slot's lit pixels by tiles of 64 rows: for each tile and pixel, a mask
 * of the rows where it is lit, and for each pixel the values of all the
 * slot's rows (0 where unlit), which the kernels walk a few pixels at a
 * time. */
#define SPARSE_TILE 64
struct sparse_cols {
	int rows, cols, cap_rows;
	uint64_t nnz;    /* lit entries of the last gather */
	int tiles;       /* tiles of the last gather: ceil(rows / SPARSE_TILE) */
	uint64_t *mask;  /* tile t, pixel p: mask[t * cols + p], bit r: row t*64 + r lit */
	float *dval;     /* pixel p, row r: dval[p * ld + r] (0 where unlit) */
	int ld;          /* cap_rows rounded up to 16 */
	const uint8_t **src; /* ld: the gather's row pointers */
	uint8_t *tbuf;   /* 16 x ld: a block of bytes transposed */
	uint8_t *zero;   /* cols + 16 zero bytes: rows past the last */
};

int sparse_cols_init(struct sparse_cols *c, int cap_rows, int cols);
void sparse_cols_free(struct sparse_cols *c);

/* Gathers rows x[idx[r]] (bytes, scaled by infer_pixel) for r < n.
 * Returns the share of entries that are lit, in [0, 1]. */
double sparse_cols_gather(struct sparse_cols *c, const uint8_t *x, const uint32_t *idx, int n);

/* The same of rows `stride` bytes apart, their first cols bytes: x + p0
 * and the data set's row size gather pixels p0.. of each sample. */
double sparse_cols_gather_from(struct sparse_cols *c, const uint8_t *x, size_t stride,
			       const uint32_t *idx, int n);


/* out[n_out] += x[n_in] . w[n_in x n_out] over the x[p] that are not 0,
 * in order: one row of a dense layer (a single-image prediction; most
 * pixels and relu units are 0), per tier. */
void sparse_row_forward(float *out, const float *x, const float *w, int n_in, int n_out);

/* z[rows x H] = X . W + b, X given by columns; W is cols x H; scratch
 * rows x H floats. Each output is summed in one order whatever the tier's
 * blocks and however many columns: the pixels' two halves apart,
 *     z = (b + sum over p < P of x[p] W[p]) + (sum over p >= P of x[p] W[p])
 * (0 <= P <= cols), each sum in increasing p. So two cores can each take
 * a half (sparse_dense_forward_part, on a gather of its half alone) and
 * the one add that joins them gives the same bits. */
void sparse_dense_forward(float *z, const struct sparse_cols *x, int P, const float *w,
			  const float *b, int H, float *scratch);

/* z[rows x H] = b (0 when b is NULL) + sum over the pixels p0..p1 of x, in
 * order, of x[p] W[p]; w is x's pixel 0's row of W (cols x H). */
void sparse_dense_forward_part(float *z, const struct sparse_cols *x, int p0, int p1,
			       const float *w, const float *b, int H);

/* Columns per register block of the tier's kernels (the forward's or the
 * weight gradient's, the larger). Each output of the
 * forward and the gradient is summed in the same order whatever H is, so
 * workers may each run the kernels on their own columns of W (as a
 * matrix cols x their units) and get the bits of the whole layer. */
int sparse_col_block(void);

/* dw[cols x H] = X^T . dz (overwritten: every row written), db[H] = column
 * sums of dz (overwritten). */
void sparse_dense_backward(float *dw, float *db, const float *dz, const struct sparse_cols *x,
			   int H);

/* g[(p1 - p0) x H] = rows p0..p1 of X^T . dz (overwritten) for a batch cut
 * into S slots: slot s's columns x[s] and its rows of dz at dz[s] (rows of
 * the slot x H). Sums slot by slot, each in its entries' order: the first layer's
 * weight gradient for the whole batch, without one buffer per slot. */
void sparse_grad_rows(float *g, int p0, int p1, const struct sparse_cols *const *x,
		      const float *const *dz, int S, int H);

#endif
