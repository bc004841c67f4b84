/*
 * nn.c - instantiates the network mathematics (nn_kernels.inc) in float
 * for training and in double for the numerical gradient check; conv and
 * pool rows call out to conv.c.
 */
#include "traind/nn.h"

#include "traind/conv.h"

#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define R float
#define S f
#define GEMM cblas_sgemm
#define AXPY cblas_saxpy
#define EXP expf
#define TANH tanhf
#define MIN_NORMAL FLT_MIN
#include "nn_kernels.inc"
#undef R
#undef S
#undef GEMM
#undef AXPY
#undef EXP
#undef TANH
#undef MIN_NORMAL

#define R double
#define S d
#define GEMM cblas_dgemm
#define AXPY cblas_daxpy
#define EXP exp
#define TANH tanh
#define MIN_NORMAL DBL_MIN
#include "nn_kernels.inc"

int nn_predicted_class_f(const float *out, int C)
{
	return predicted_f(out, C);
}
