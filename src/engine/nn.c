/*
 * nn.c - instantiates the network mathematics (nn_kernels.inc) in float
 * for training and in double for the numerical gradient check; conv and
 * pool rows call out to conv.c.
 */
#include "traind/nn.h"

#include "traind/conv.h"
#include "traind/sparse.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define R float
#define S f
#define GEMM cblas_sgemm
#define ROW_FORWARD sparse_row_forward
#define EXP expf
#define TANH tanhf
#define MIN_NORMAL FLT_MIN
#include "nn_kernels.inc"
#undef R
#undef S
#undef GEMM
#undef ROW_FORWARD
#undef EXP
#undef TANH
#undef MIN_NORMAL

/* The double path's one-row layer (the gradient check): the nonzero
 * inputs' rows of w added in order. */
static void row_forward_d(double *out, const double *in, const double *w, int n_in, int n_out)
{
	for (int p = 0; p < n_in; p++)
		if (in[p] != 0)
			cblas_daxpy(n_out, in[p], w + (size_t)p * (size_t)n_out, 1, out, 1);
}

#define R double
#define S d
#define GEMM cblas_dgemm
#define ROW_FORWARD row_forward_d
#define EXP exp
#define TANH tanh
#define MIN_NORMAL DBL_MIN
#include "nn_kernels.inc"

int nn_predicted_class_f(const float *out, int C)
{
	return predicted_f(out, C);
}
