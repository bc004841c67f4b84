/*
 * firstlayer.c - the first dense layer's gradient and update over the
 * whole batch, chunk by chunk of W's rows (see firstlayer.h).
 *
 * The gradient of a chunk comes from the lit pixels' columns
 * (sparse_grad_rows, per instruction-set tier) or, when the batch's inputs
 * are dense rows, from one GEMM of the chunk's input columns with dz; the
 * optimizer then runs on the chunk while it is in L1.
 */
#include "traind/firstlayer.h"

#include <cblas.h>
#include <stddef.h>

int first_layer_chunks(int F)
{
	return (F + FIRST_LAYER_CHUNK - 1) / FIRST_LAYER_CHUNK;
}

void first_layer_chunk(const struct first_layer_batch *b, const struct first_layer_update *u,
		       int c, float *scratch)
{
	const int p0 = c * FIRST_LAYER_CHUNK;
	const int p1 = p0 + FIRST_LAYER_CHUNK < b->F ? p0 + FIRST_LAYER_CHUNK : b->F;
	if (p0 >= p1)
		return;
	if (b->cols)
		sparse_grad_rows(scratch, p0, p1, b->cols, b->dz, b->slots, b->H);
	else /* scratch[p1 - p0 x H] = sum over slots of in_s[:, p0..p1)^T . dz_s */
		for (int s = 0; s < b->slots; s++)
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p1 - p0, b->H, b->rows[s],
				    1.0f, b->in[s] + p0, b->F, b->dz[s], b->H, s ? 1.0f : 0.0f, scratch,
				    b->H);
	const size_t at = (size_t)p0 * (size_t)b->H, n = (size_t)(p1 - p0) * (size_t)b->H;
	const float *parts[1] = {scratch};
	float *m = u->m ? u->m + at : NULL, *v = u->v ? u->v + at : NULL;
	if (u->sums)
		optim_update_measured(u->hp, u->w + at, parts, 1, m, v, n, u->inv_batch, u->step,
				      u->sums);
	else
		optim_update(u->hp, u->w + at, parts, 1, m, v, n, u->inv_batch, 1, u->step);
}
