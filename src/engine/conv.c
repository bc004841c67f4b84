/*
 * conv.c - instantiates the convolution and pooling kernels
 * (conv_kernels.inc) in float for training and in double for the
 * gradient check, as nn.c does for the dense ones.
 */
#include "traind/conv.h"

#include <cblas.h>
#include <string.h>

size_t conv_col_elems(const struct model_layer *L)
{
	if (L->kind != LAYER_CONV)
		return 0;
	size_t P = (size_t)L->out_h * (size_t)L->out_w;
	return (size_t)CONV_GROUP * P * ((size_t)L->in_c * L->kernel * L->kernel + (size_t)L->out_c);
}

#define R float
#define S f
#define GEMM cblas_sgemm
#include "conv_kernels.inc"
#undef R
#undef S
#undef GEMM

#define R double
#define S d
#define GEMM cblas_dgemm
#include "conv_kernels.inc"
