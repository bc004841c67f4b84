/*
 * first_layer_bench.c - times the first layer of 784-128-10 training both
 * ways, sparse (gather, sparse forward, the lit pixels' weight gradient)
 * and dense (bytes to floats, the forward and weight-gradient GEMMs), on
 * Fashion-MNIST slots of 16, 32 and 64 samples, for every instruction-set
 * tier this CPU supports, and prints the density up to which the sparse
 * path is the faster: density x t_dense / t_sparse (the sparse cost grows
 * with the lit pixels, the GEMMs' does not), the choice
 * TRAIND_FIRST_LAYER=auto makes for a job from its training set's density.
 * isa.c's table holds these figures; bench/README.md says how they were
 * taken.
 *
 *   bench/first-layer-bench [FASHION_DIR] [REPEATS]
 *
 * Tab-separated, one line per tier and slot size, after a line naming the
 * CPU tier and the BLAS core (OPENBLAS_CORETYPE picks another core).
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "traind/dataset.h"
#include "traind/isa.h"
#include "traind/nn.h"
#include "traind/sparse.h"

#define F 784
#define H 128

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts); /* CPU time: robust to a shared machine */
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

struct bufs {
	float *w, *b, *dz, *z, *zs, *x, *dw;
	struct sparse_cols c;
};

/* One slot's first layer each way; returns seconds per sample, the
 * density into *density and the sparse path's gather, forward and
 * backward into split. The fastest of three passes over `reps` slots. */
static void time_slot(struct bufs *u, const struct dataset *ds, int n, int reps,
		      double *t_sparse, double *t_dense, double *density, double split[4])
{
	uint32_t idx[64];
	double best_s = 1e30, best_d = 1e30, dens = 0, dens_d = 0; /* split: gather, forward, gradient, dense forward */
	for (int pass = 0; pass < 3; pass++) {
		double t0 = now(), parts[3] = {0};
		dens = 0;
		for (int r = 0; r < reps; r++) {
			for (int i = 0; i < n; i++)
				idx[i] = (uint32_t)(((size_t)r * 7919u + (size_t)i * 104729u) % ds->n_train);
			double a = now();
			dens += sparse_cols_gather(&u->c, ds->train_x, idx, n);
			double b = now();
			sparse_dense_forward(u->z, &u->c, F / 2, u->w, u->b, H, u->zs);
			double c = now();
			const struct sparse_cols *cp = &u->c;
			const float *dzp = u->dz;
			sparse_grad_rows(u->dw, 0, F, &cp, &dzp, 1, H);
			double d = now();
			parts[0] += b - a;
			parts[1] += c - b;
			parts[2] += d - c;
		}
		double t1 = now(), fwd = 0;
		for (int r = 0; r < reps; r++) {
			double a = now();
			for (int i = 0; i < n; i++) {
				idx[i] = (uint32_t)(((size_t)r * 7919u + (size_t)i * 104729u) % ds->n_train);
				const uint8_t *src = ds->train_x + (size_t)idx[i] * F;
				for (int p = 0; p < F; p++)
					u->x[i * F + p] = (float)src[p] / 255.0f;
			}
			dense_forward_f(u->z, u->x, u->w, u->b, n, F, H);
			fwd += now() - a;
			cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, F, H, n, 1.0f, u->x, F,
				    u->dz, H, 0.0f, u->dw, H);
		}
		double t2 = now();
		if (t1 - t0 < best_s)
			for (int k = 0; k < 3; k++)
				split[k] = parts[k] / ((double)reps * n);
		if (t2 - t1 < best_d)
			split[3] = fwd / ((double)reps * n);
		best_s = t1 - t0 < best_s ? t1 - t0 : best_s;
		best_d = t2 - t1 < best_d ? t2 - t1 : best_d;
	}
	*t_sparse = best_s / ((double)reps * n);
	*t_dense = best_d / ((double)reps * n);
	*density = dens / reps;
	(void)dens_d;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "/usr/share/datasets/fashion-mnist";
	int reps = argc > 2 ? atoi(argv[2]) : 400;
	struct td_error e;
#ifdef HAVE_OPENBLAS_SET_NUM_THREADS
	openblas_set_num_threads(1);
#endif
	if (isa_init(&e)) {
		fprintf(stderr, "first-layer-bench: %s\n", e.msg);
		return 2;
	}
	struct dataset_spec spec = {.format = DATASET_IDX};
	snprintf(spec.name, sizeof(spec.name), "fashion");
	snprintf(spec.train_images, sizeof(spec.train_images), "%s/train-images-idx3-ubyte.gz", dir);
	snprintf(spec.train_labels, sizeof(spec.train_labels), "%s/train-labels-idx1-ubyte.gz", dir);
	snprintf(spec.test_images, sizeof(spec.test_images), "%s/t10k-images-idx3-ubyte.gz", dir);
	snprintf(spec.test_labels, sizeof(spec.test_labels), "%s/t10k-labels-idx1-ubyte.gz", dir);
	struct dataset *ds;
	if (dataset_load(&spec, &ds, &e) || ds->features != F) {
		fprintf(stderr, "first-layer-bench: %s\n", e.msg);
		return 1;
	}
	struct bufs u;
	u.w = malloc(sizeof(float) * F * H);
	u.b = calloc(H, sizeof(float));
	u.dz = malloc(sizeof(float) * 64 * H);
	u.z = malloc(sizeof(float) * 64 * H);
	u.zs = malloc(sizeof(float) * 64 * H);
	u.x = malloc(sizeof(float) * 64 * F);
	u.dw = malloc(sizeof(float) * F * H);
	if (!u.w || !u.b || !u.dz || !u.z || !u.zs || !u.x || !u.dw || sparse_cols_init(&u.c, 64, F))
		return 1;
	for (int i = 0; i < F * H; i++)
		u.w[i] = (float)((i * 37 % 101) - 50) * 1e-3f;
	for (int i = 0; i < 64 * H; i++)
		u.dz[i] = (float)((i * 13 % 29) - 14) * 1e-2f;
	printf("# cpu tier %s, blas core %s (blas tier %s)\n", isa_tier_name(isa_best()),
	       isa_blas_core(), isa_tier_name(isa_blas_tier()));
	printf("tier\tblas_tier\tslot\tdensity\tsparse_ns_per_sample\tdense_ns_per_sample\t"
	       "threshold\ttable\tgather_ns\tforward_ns\tgradient_ns\tdense_forward_ns\n");
	for (int t = 0; t < ISA_TIERS; t++) {
		if (isa_force((enum isa_tier)t, &e))
			continue;
		for (int n = 16; n <= 64; n *= 2) {
			double ts, td, d, split[4] = {0};
			time_slot(&u, ds, n, reps * 16 / n, &ts, &td, &d, split);
			double th = d * td / ts;
			printf("%s\t%s\t%d\t%.3f\t%.0f\t%.0f\t%.2f\t%.2f\t%.0f\t%.0f\t%.0f\t%.0f\n",
			       isa_tier_name((enum isa_tier)t), isa_tier_name(isa_blas_tier()), n, d,
			       ts * 1e9, td * 1e9, th > 1 ? 1.0 : th,
			       isa_sparse_max_density((enum isa_tier)t, n), split[0] * 1e9,
			       split[1] * 1e9, split[2] * 1e9, split[3] * 1e9);
		}
	}
	sparse_cols_free(&u.c);
	dataset_free(ds);
	return 0;
}
