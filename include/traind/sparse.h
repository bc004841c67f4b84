/*
 * sparse.h - the input layer on the pixels that are not zero.
 *
 * Half of Fashion-MNIST's pixels and 81 % of the digits' are exactly 0, and
 * a zero input contributes nothing to the first layer, forward or back. So
 * each slot of a minibatch is gathered pixel by pixel (compressed sparse
 * columns: for every pixel, the samples where it is lit and their values),
 * and the first layer runs on that list:
 *
 *   forward   z[r][:] = b + sum over lit pixels p of x[r][p] * W[p][:]
 *             (by columns: a block of W[p] is held in registers and added
 *             into the slot's rows of z where p is lit, z staying in L1)
 *   backward  dW[p][:] = sum over samples r with p lit of x[r][p] * dz[r][:]
 *             (accumulated in registers, written once; rows of unlit
 *             pixels are written as zeros) and db = column sums of dz.
 *
 * The result equals the dense GEMMs' up to the order of float additions,
 * and is itself deterministic for a given instruction-set tier (isa.h): the
 * gather and both kernels exist per tier and dispatch on isa_tier(). Float only: the gradient check runs the
 * dense path in double, and a test holds the two paths to each other.
 */
#ifndef TRAIND_SPARSE_H
#define TRAIND_SPARSE_H

#include <stddef.h>
#include <stdint.h>

/* A slot's lit pixels by column, rows in increasing order in each. */
struct sparse_cols {
	int rows, cols, cap_rows;
	uint32_t *start; /* cols + 1: pixel p's entries are [start[p], start[p+1]) */
	uint16_t *row;   /* sample index of each entry */
	float *val;      /* its value in (0, 1] */
	uint32_t nnz;
	const uint8_t **src; /* cap_rows: the gather's row pointers */
};

int sparse_cols_init(struct sparse_cols *c, int cap_rows, int cols);
void sparse_cols_free(struct sparse_cols *c);

/* Gathers rows x[idx[r]] (bytes, scaled by lut) for r < n. Returns the
 * share of entries that are lit, in [0, 1]. */
double sparse_cols_gather(struct sparse_cols *c, const uint8_t *x, const uint32_t *idx, int n,
			  const float lut[256]);

/* The share of the bytes of rows x[idx[r]], r < n, of F bytes each that
 * are not 0: what sparse_cols_gather returns, without gathering. */
double sparse_density(const uint8_t *x, const uint32_t *idx, int n, int F);

/* z[rows x H] = X . W + b, X given by columns; W is cols x H. */
void sparse_dense_forward(float *z, const struct sparse_cols *x, const float *w, const float *b,
			  int H);

/* dw[cols x H] = X^T . dz (overwritten: every row written), db[H] = column
 * sums of dz (overwritten). */
void sparse_dense_backward(float *dw, float *db, const float *dz, const struct sparse_cols *x,
			   int H);

/* g[(p1 - p0) x H] = rows p0..p1 of X^T . dz (overwritten) for a batch cut
 * into S slots: slot s's columns x[s], its samples at rows row0[s].. of dz
 * (B x H). Sums slot by slot, each in its entries' order: the first layer's
 * weight gradient for the whole batch, without one buffer per slot. */
void sparse_grad_rows(float *g, int p0, int p1, const struct sparse_cols *const *x,
		      const int *row0, int S, const float *dz, int H);

#endif
