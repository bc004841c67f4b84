/*
 * check_conv.c - convolution and pooling rows: the kernels against direct
 * loops in PyTorch's layout, the gradient check over strides, paddings,
 * channel counts and with or without a dense layer after (input gradient
 * included), the shape errors at submission, bit-identical weights for
 * 1-4 workers on a small CNN, and a CNN that learns a synthetic set.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check_suites.h"
#include "traind/checkpoint.h"
#include "traind/conv.h"
#include "traind/infer.h"
#include "traind/dataset.h"
#include "traind/gradcheck.h"
#include "traind/jobcfg.h"
#include "traind/nn.h"
#include "traind/train.h"

static struct layer_spec conv(int filters, int k, int stride, int pad)
{
	return (struct layer_spec){.kind = LAYER_CONV, .units = filters, .kernel = k,
				   .stride = stride, .padding = pad, .act = -1};
}

static struct layer_spec pool(int size, int stride)
{
	return (struct layer_spec){.kind = LAYER_MAXPOOL, .kernel = size, .stride = stride,
				   .act = -1};
}

static struct layer_spec dense(int units)
{
	return (struct layer_spec){.kind = LAYER_DENSE, .units = units, .act = -1};
}

static void set_layers(struct job_config *c, const struct layer_spec *sp, int n)
{
	c->n_layer_specs = n;
	memcpy(c->layer_specs, sp, sizeof(*sp) * (size_t)n);
}

/* out[f][y][x] = b[f] + sum_c,i,j W[f][c][i][j] in[c][y*s-p+i][x*s-p+j]:
 * Conv2d by its definition, with W in [filters][in_channels][k][k]. */
START_TEST(test_conv_forward_is_the_definition_in_pytorch_layout)
{
	struct job_config c;
	jobcfg_defaults(&c);
	const int strides[2] = {1, 2}, pads[2] = {0, 2};
	for (int si = 0; si < 2; si++)
		for (int pi = 0; pi < 2; pi++) {
			struct layer_spec sp[1] = {conv(3, 3, strides[si], pads[pi])};
			set_layers(&c, sp, 1);
			struct model_input in = {.width = 7, .height = 6, .channels = 2, .classes = 2};
			struct model_shape s;
			struct td_error e;
			ck_assert_msg(model_describe(&s, &c, &in, 0, &e) == 0, "%s", e.msg);
			const struct model_layer *L = &s.layer[0];
			ck_assert_int_eq(L->out_h, (6 + 2 * pads[pi] - 3) / strides[si] + 1);
			ck_assert_int_eq(L->out_w, (7 + 2 * pads[pi] - 3) / strides[si] + 1);
			double x[2 * 2 * 6 * 7], w[3 * 2 * 9], b[3], out[2 * 3 * 100];
			double *col = malloc(sizeof(double) * conv_col_elems(L));
			for (size_t i = 0; i < sizeof(x) / sizeof(x[0]); i++)
				x[i] = sin(1.0 + (double)i);
			for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++)
				w[i] = cos(2.0 + (double)i);
			for (int f = 0; f < 3; f++)
				b[f] = 0.1 * f - 0.05;
			conv_forward_d(L, out, x, w, b, 2, col);
			for (int r = 0; r < 2; r++)
				for (int f = 0; f < 3; f++)
					for (int y = 0; y < L->out_h; y++)
						for (int xx = 0; xx < L->out_w; xx++) {
							double want = b[f];
							for (int ch = 0; ch < 2; ch++)
								for (int i = 0; i < 3; i++)
									for (int j = 0; j < 3; j++) {
										int iy = y * strides[si] - pads[pi] + i;
										int ix = xx * strides[si] - pads[pi] + j;
										if (iy < 0 || iy >= 6 || ix < 0 || ix >= 7)
											continue;
										want += w[((f * 2 + ch) * 3 + i) * 3 + j] *
											x[r * 84 + (ch * 6 + iy) * 7 + ix];
									}
							double got = out[r * L->out + (f * L->out_h + y) * L->out_w + xx];
							ck_assert_msg(fabs(got - want) < 1e-12, "s %d p %d: %g != %g",
								      strides[si], pads[pi], got, want);
						}
			free(col);
		}
}
END_TEST

/* A 2x2 pool of a 1x4x4 map keeps each window's maximum and sends the
 * gradient back to it alone. */
START_TEST(test_maxpool_keeps_the_maximum_and_routes_its_gradient)
{
	struct job_config c;
	jobcfg_defaults(&c);
	struct layer_spec sp[1] = {pool(2, 0)};
	sp[0].stride = 2;
	set_layers(&c, sp, 1);
	struct model_input in = {.width = 4, .height = 4, .channels = 1, .classes = 2};
	struct model_shape s;
	struct td_error e;
	ck_assert_int_eq(model_describe(&s, &c, &in, 0, &e), 0);
	ck_assert_int_eq(s.layer[0].out, 4);
	ck_assert_int_eq(s.layer[0].n_w + s.layer[0].n_b, 0);
	const float x[16] = {1, 5, 2, 0, 3, 4, 9, 1, 0, 0, 7, 8, -1, 6, 2, 3};
	float out[4], din[16];
	int32_t arg[4];
	maxpool_forward_f(&s.layer[0], out, x, arg, 1);
	const float want[4] = {5, 9, 6, 8};
	for (int i = 0; i < 4; i++)
		ck_assert_float_eq(out[i], want[i]);
	const float g[4] = {1, 2, 3, 4};
	maxpool_backward_f(&s.layer[0], din, g, arg, 1);
	const float wantd[16] = {0, 1, 0, 0, 0, 0, 2, 0, 0, 0, 0, 4, 0, 3, 0, 0};
	for (int i = 0; i < 16; i++)
		ck_assert_float_eq(din[i], wantd[i]);
}
END_TEST

/* The float pool (a vector kernel for 2 x 2, stride 2 on the avx512 tier)
 * keeps the same winners as the double one: maps of odd and even sizes,
 * wider than a vector, values with many ties; pool 3 stride 2 as well. */
START_TEST(test_float_pool_keeps_the_double_pools_winners)
{
	const int dims[][4] = {{3, 9, 7, 2}, {2, 30, 34, 2}, {1, 4, 4, 2}, {2, 11, 13, 3}};
	const int B = 5;
	for (int n = 0; n < 4; n++) {
		struct job_config c;
		jobcfg_defaults(&c);
		struct layer_spec sp[1] = {pool(dims[n][3], 2)};
		set_layers(&c, sp, 1);
		struct model_input in = {.width = dims[n][2], .height = dims[n][1],
					 .channels = dims[n][0], .classes = 2};
		struct model_shape s;
		struct td_error e;
		ck_assert_msg(model_describe(&s, &c, &in, 0, &e) == 0, "%s", e.msg);
		const struct model_layer *L = &s.layer[0];
		const size_t ni = (size_t)B * L->in, no = (size_t)B * L->out;
		float *xf = malloc(sizeof(float) * ni), *of = malloc(sizeof(float) * no);
		double *xd = malloc(sizeof(double) * ni), *od = malloc(sizeof(double) * no);
		int32_t *af = malloc(sizeof(int32_t) * no), *ad = malloc(sizeof(int32_t) * no);
		for (size_t i = 0; i < ni; i++)
			xd[i] = xf[i] = (float)((i * 7919) % 5) - 2.0f; /* ties in most windows */
		maxpool_forward_f(L, of, xf, af, B);
		maxpool_forward_d(L, od, xd, ad, B);
		for (size_t q = 0; q < no; q++) {
			ck_assert_msg(af[q] == ad[q], "case %d arg[%zu]: %d != %d", n, q, af[q], ad[q]);
			ck_assert_msg(of[q] == od[q], "case %d out[%zu]", n, q);
		}
		free(xf), free(of), free(xd), free(od), free(af), free(ad);
	}
}
END_TEST

/* Float kernels against the double ones (the gradient check's) on one
 * conv layer: shapes that leave partial filter blocks, row blocks and
 * 16-column segments, paddings 0-2, strides 1 and 2, GEMM groups of one and of
 * several samples and a batch of 19 (not a multiple of 16). In float, stride 1
 * runs the direct convolution on the avx512 tier, im2col + GEMM
 * elsewhere; the direct kernel is also called on its own (its portable
 * loop on other tiers). */
struct kcase {
	int C, H, W, F, k, stride, pad;
};

static void fill_both(double *d, float *f, size_t n, double phase, double scale)
{
	for (size_t i = 0; i < n; i++) {
		d[i] = scale * sin(phase + 0.7 * (double)i);
		f[i] = (float)d[i];
		d[i] = f[i]; /* the same inputs exactly */
	}
}

/* got within float rounding of want: mag[i] is the sum of the magnitudes
 * of the terms behind want[i] (the double layer run on |x|, |w|, |g|), so
 * the bound follows the cancellation in each sum, not its result. Summing
 * n terms in float in any order errs by at most n * 2^-24 of mag; the
 * kernels' blocked sums stay far inside that, at a few 2^-24 of mag, and
 * 2^-19 (16 times 2^-23) of it leaves room for every BLAS's order while a
 * term lost, doubled or misplaced (a whole |x w| or |x g|) stays out. */
static void assert_close(const float *got, const double *want, const double *mag, size_t n,
			 const char *what, int kc)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(fabs(got[i] - want[i]) <= 0x1p-19 * mag[i] + 1e-30,
			      "case %d %s[%zu]: %.7g != %.7g (term magnitudes %.4g)", kc, what, i,
			      (double)got[i], want[i], mag[i]);
}

static double *abs_of(const double *v, size_t n)
{
	double *a = malloc(sizeof(double) * n);
	ck_assert_ptr_nonnull(a);
	for (size_t i = 0; i < n; i++)
		a[i] = fabs(v[i]);
	return a;
}

static struct model_layer conv_layer(const struct kcase *kc)
{
	struct job_config c;
	jobcfg_defaults(&c);
	struct layer_spec sp[1] = {conv(kc->F, kc->k, kc->stride, kc->pad)};
	set_layers(&c, sp, 1);
	struct model_input in = {.width = kc->W, .height = kc->H, .channels = kc->C, .classes = 2};
	struct model_shape s;
	struct td_error e;
	ck_assert_msg(model_describe(&s, &c, &in, 0, &e) == 0, "%s", e.msg);
	return s.layer[0];
}

/* The direct kernels by themselves against the double layer: the forward
 * pass and the input gradient of sample 0, the weight gradient of all B. */
struct kref {
	const float *x, *w, *b, *g;
	const double *out, *din, *dw;
	const double *mout, *mdin, *mdw; /* their terms' magnitudes */
	const float *dw0; /* dw before the backward pass */
};

static void check_direct_alone(const struct kcase *kc, const struct model_layer *L,
			       const struct kref *k, int B, int n)
{
	struct conv_dims d = {kc->C, kc->H, kc->W, kc->F, kc->k, kc->pad};
	struct conv_dims dg = {kc->F, L->out_h, L->out_w, kc->C, kc->k, kc->k - 1 - kc->pad};
	size_t np = conv_direct_grad_pad_elems(&d), ng = conv_direct_pad_elems(&dg);
	float *pad = malloc(sizeof(float) * (np > ng ? np : ng));
	float *out = malloc(sizeof(float) * (size_t)L->out), *din = malloc(sizeof(float) * L->in);
	float *wt = malloc(sizeof(float) * L->n_w), *dw = malloc(sizeof(float) * L->n_w);
	conv_direct_forward(&d, out, k->x, k->w, k->b, pad);
	assert_close(out, k->out, k->mout, (size_t)L->out, "direct out", n);
	conv_direct_flip(wt, k->w, kc->F, kc->C, kc->k);
	conv_direct_forward(&dg, din, k->g, wt, NULL, pad);
	assert_close(din, k->din, k->mdin, (size_t)L->in, "direct din", n);
	memcpy(dw, k->dw0, sizeof(float) * L->n_w);
	conv_direct_weight_grad(&d, dw, k->x, k->g, B, pad);
	assert_close(dw, k->dw, k->mdw, L->n_w, "direct dw", n);
	free(pad), free(out), free(din), free(wt), free(dw);
}

START_TEST(test_float_conv_kernels_match_the_double_reference)
{
	const struct kcase cases[] = {
		{1, 13, 21, 11, 5, 1, 2}, {3, 9, 7, 8, 3, 1, 1},  {2, 8, 17, 9, 5, 1, 0},
		{4, 10, 10, 16, 3, 1, 0}, {5, 6, 6, 7, 2, 1, 1},  {2, 11, 9, 5, 3, 2, 1},
		{3, 12, 12, 6, 4, 2, 2},  {1, 28, 28, 32, 5, 1, 2},
		/* one sample per GEMM group (conv_group): stride 1 and 2 */
		{8, 24, 24, 5, 5, 1, 2},  {16, 30, 30, 4, 5, 2, 2},
	};
	const int B = 19;
	for (int n = 0; n < (int)(sizeof(cases) / sizeof(cases[0])); n++) {
		const struct kcase *kc = &cases[n];
		const struct model_layer L = conv_layer(kc);
		const size_t nx = (size_t)B * L.in, no = (size_t)B * L.out;
		double *xd = malloc(sizeof(double) * nx), *wd = malloc(sizeof(double) * L.n_w);
		double *bd = malloc(sizeof(double) * L.n_b), *gd = malloc(sizeof(double) * no);
		double *od = malloc(sizeof(double) * no), *dxd = malloc(sizeof(double) * nx);
		double *dwd = malloc(sizeof(double) * L.n_w), *dbd = malloc(sizeof(double) * L.n_b);
		float *xf = malloc(sizeof(float) * nx), *wf = malloc(sizeof(float) * L.n_w);
		float *bf = malloc(sizeof(float) * L.n_b), *gf = malloc(sizeof(float) * no);
		float *of = malloc(sizeof(float) * no), *dxf = malloc(sizeof(float) * nx);
		float *dwf = malloc(sizeof(float) * L.n_w), *dbf = malloc(sizeof(float) * L.n_b);
		double *cold = malloc(sizeof(double) * conv_col_elems(&L));
		float *colf = malloc(sizeof(float) * conv_col_elems(&L));
		fill_both(xd, xf, nx, 1.0, 1.0);
		fill_both(wd, wf, L.n_w, 2.0, 0.3);
		fill_both(bd, bf, L.n_b, 3.0, 0.5);
		fill_both(gd, gf, no, 4.0, 1.0);
		fill_both(dwd, dwf, L.n_w, 5.0, 0.1); /* backward adds to what is there */
		fill_both(dbd, dbf, L.n_b, 6.0, 0.1);
		float *dw0 = malloc(sizeof(float) * L.n_w);
		memcpy(dw0, dwf, sizeof(float) * L.n_w);
		/* The same layer in double on the magnitudes: each output's
		 * sum of |terms|, for assert_close's bound. */
		double *xa = abs_of(xd, nx), *wa = abs_of(wd, L.n_w), *ba = abs_of(bd, L.n_b);
		double *ga = abs_of(gd, no), *dwa = abs_of(dwd, L.n_w), *dba = abs_of(dbd, L.n_b);
		double *oa = malloc(sizeof(double) * no), *dxa = malloc(sizeof(double) * nx);
		conv_forward_d(&L, oa, xa, wa, ba, B, cold);
		conv_backward_d(&L, dxa, dwa, dba, ga, xa, wa, B, cold, 1);
		conv_forward_d(&L, od, xd, wd, bd, B, cold);
		conv_forward_f(&L, of, xf, wf, bf, B, colf);
		assert_close(of, od, oa, no, "out", n);
		conv_backward_d(&L, dxd, dwd, dbd, gd, xd, wd, B, cold, 1);
		conv_backward_f(&L, dxf, dwf, dbf, gf, xf, wf, B, colf, 1);
		assert_close(dxf, dxd, dxa, nx, "din", n);
		assert_close(dwf, dwd, dwa, L.n_w, "dw", n);
		assert_close(dbf, dbd, dba, L.n_b, "db", n);
		if (kc->stride == 1) {
			struct kref k = {xf, wf, bf, gf, od, dxd, dwd, oa, dxa, dwa, dw0};
			check_direct_alone(kc, &L, &k, B, n);
		}
		free(dw0);
		free(xa), free(wa), free(ba), free(ga), free(dwa), free(dba), free(oa), free(dxa);
		free(xd), free(wd), free(bd), free(gd), free(od), free(dxd), free(dwd), free(dbd);
		free(xf), free(wf), free(bf), free(gf), free(of), free(dxf), free(dwf), free(dbf);
		free(cold), free(colf);
	}
}
END_TEST

struct gc_case {
	const char *what;
	int w, h, ch;
	enum activation act;
	int n;
	struct layer_spec sp[4];
};

/* The gradient check in double over W, b and the input of every row. */
START_TEST(test_gradcheck_conv_and_pool_below_1e_6)
{
	const struct gc_case cases[] = {
		{"conv s1 p0, 1 channel, no dense after", 6, 6, 1, ACT_TANH, 1, {conv(3, 3, 1, 0)}},
		{"conv s2 p1, 2 channels, pool s2, dense after", 7, 7, 2, ACT_TANH, 3,
		 {conv(2, 3, 2, 1), pool(2, 2), dense(4)}},
		{"relu conv s1 p1, 3 channels, pool s1, conv s2 p2", 5, 6, 3, ACT_RELU, 3,
		 {conv(4, 2, 1, 1), pool(2, 1), conv(3, 3, 2, 2)}},
		{"relu conv s1 p2, pool s2, conv s1 p0, dense after", 8, 8, 1, ACT_RELU, 4,
		 {conv(3, 5, 1, 2), pool(2, 2), conv(2, 3, 1, 0), dense(5)}},
		{"sigmoid conv s2 p0 then pool", 9, 9, 2, ACT_SIGMOID, 2, {conv(2, 3, 2, 0), pool(3, 1)}},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		const struct gc_case *gc = &cases[k];
		struct job_config c;
		jobcfg_defaults(&c);
		c.activation = gc->act;
		c.l2 = 0.01;
		c.seed = 3;
		set_layers(&c, gc->sp, gc->n);
		struct gradcheck_options o;
		gradcheck_options_default(&o);
		o.inputs = gc->w;
		o.height = gc->h;
		o.channels = gc->ch;
		o.samples = k == 0 ? CONV_GROUP + 2 : 3; /* two GEMM groups */
		struct gradcheck_result r;
		struct td_error e;
		ck_assert_msg(gradcheck_run(&c, &o, &r, &e) == 0, "%s: %s", gc->what, e.msg);
		int convs = 0, saw_x = 0;
		for (int t = 0; t < r.n_tensors; t++) {
			ck_assert_msg(r.tensor[t].max_rel_error < 1e-6, "%s: %s %.3e", gc->what,
				      r.tensor[t].name, r.tensor[t].max_rel_error);
			saw_x |= strcmp(r.tensor[t].name, "x") == 0;
		}
		for (int l = 0; l < r.shape.n_layers; l++)
			convs += r.shape.layer[l].kind == LAYER_CONV;
		ck_assert_msg(saw_x, "%s: the input gradient is checked", gc->what);
		ck_assert_int_gt(convs, 0);
		ck_assert_msg(r.passed, "%s", gc->what);
	}
}
END_TEST

static int describe_error(const struct layer_spec *sp, int n, int w, int h, char *field,
			  char *msg)
{
	struct job_config c;
	jobcfg_defaults(&c);
	set_layers(&c, sp, n);
	struct model_input in = {.width = w, .height = h, .channels = 1, .classes = 10};
	struct model_shape s;
	struct td_error e;
	int rc = model_describe(&s, &c, &in, 50000000, &e);
	if (rc) {
		snprintf(field, 64, "%s", e.field);
		snprintf(msg, 600, "%s", e.msg);
	}
	return rc;
}

START_TEST(test_shapes_are_checked_naming_the_field_and_input_size)
{
	char field[64], msg[600];
	/* 28 -> conv5 p0: 24 -> pool2: 12 -> conv 13: too large */
	struct layer_spec a[3] = {conv(4, 5, 1, 0), pool(2, 2), conv(4, 13, 1, 0)};
	ck_assert_int_eq(describe_error(a, 3, 28, 28, field, msg), TD_EINVAL);
	ck_assert_str_eq(field, "layers[2].kernel");
	ck_assert_msg(strstr(msg, "4x12x12"), "%s", msg);
	struct layer_spec b[2] = {pool(4, 4), pool(8, 8)};
	ck_assert_int_eq(describe_error(b, 2, 28, 28, field, msg), TD_EINVAL);
	ck_assert_str_eq(field, "layers[1].size");
	ck_assert_msg(strstr(msg, "1x7x7"), "%s", msg);
	/* too many values out of one layer */
	struct layer_spec c[1] = {conv(1024, 3, 1, 1)};
	ck_assert_int_eq(describe_error(c, 1, 28, 28, field, msg), TD_EINVAL);
	ck_assert_str_eq(field, "layers[0].filters");
	/* a conv whose patches would make a huge im2col buffer */
	struct layer_spec big[2] = {conv(512, 3, 1, 1), conv(8, 15, 1, 7)};
	ck_assert_int_eq(describe_error(big, 2, 16, 16, field, msg), TD_EINVAL);
	ck_assert_str_eq(field, "layers[1].kernel");
	/* too many values out of all layers together */
	struct layer_spec many[6] = {conv(128, 3, 1, 1), conv(128, 3, 1, 1), conv(128, 3, 1, 1),
				     conv(128, 3, 1, 1), conv(128, 3, 1, 1), conv(128, 3, 1, 1)};
	ck_assert_int_eq(describe_error(many, 6, 28, 28, field, msg), TD_EINVAL);
	ck_assert_str_eq(field, "layers");
	ck_assert_msg(strstr(msg, "values per sample"), "%s", msg);
	/* the parameter limit names layers */
	struct layer_spec d[2] = {conv(64, 3, 1, 1), dense(4096)};
	ck_assert_int_eq(describe_error(d, 2, 28, 28, field, msg), TD_EINVAL);
	ck_assert_str_eq(field, "layers");
	/* the LeNet-like net of the bench fits, with the shapes of PyTorch */
	struct layer_spec ok[5] = {conv(32, 5, 1, 2), pool(2, 2), conv(64, 5, 1, 2), pool(2, 2),
				   dense(256)};
	ck_assert_int_eq(describe_error(ok, 5, 28, 28, field, msg), 0);
}
END_TEST

static int cfg_from(const char *text, struct job_config *c, struct td_error *e)
{
	jobcfg_defaults(c);
	json_error_t je;
	json_t *o = json_loads(text, 0, &je);
	ck_assert_msg(o != NULL, "%s", je.text);
	int rc = jobcfg_from_json(c, o, e);
	json_decref(o);
	struct jobcfg_limits lim;
	jobcfg_limits_default(&lim, 2);
	if (!rc)
		rc = jobcfg_finish(c, &lim, e);
	return rc;
}

/* The job field: rows parsed with their defaults, bad rows named by index
 * and key, hidden and layers together refused, the echo reads back. */
START_TEST(test_layers_field_parses_names_errors_and_reads_back)
{
	struct job_config c, back;
	struct td_error e;
	ck_assert_int_eq(cfg_from("{\"layers\": [{\"type\": \"conv\", \"filters\": 8, "
				  "\"kernel\": 5, \"padding\": 2, \"activation\": \"tanh\"}, "
				  "{\"type\": \"maxpool\", \"size\": 2}, {\"type\": \"dense\", "
				  "\"units\": 32}]}", &c, &e), 0);
	ck_assert_int_eq(c.n_layer_specs, 3);
	ck_assert_int_eq(c.layer_specs[0].stride, 1);
	ck_assert_int_eq(c.layer_specs[0].act, ACT_TANH);
	ck_assert_int_eq(c.layer_specs[1].stride, 2);
	ck_assert_int_eq(c.layer_specs[2].act, -1);
	json_t *o = jobcfg_to_json(&c);
	char *text = json_dumps(o, 0);
	json_decref(o);
	ck_assert_msg(cfg_from(text, &back, &e) == 0, "%s: %s", text, e.msg);
	free(text);
	ck_assert_int_eq(back.n_layer_specs, 3);
	ck_assert_int_eq(back.layer_specs[0].padding, 2);
	ck_assert_int_eq(back.layer_specs[2].units, 32);

	const struct {
		const char *body, *field;
	} bad[] = {
		{"{\"hidden\": [64], \"layers\": [{\"type\": \"dense\", \"units\": 4}]}", "layers"},
		{"{\"layers\": {\"type\": \"conv\"}}", "layers"},
		{"{\"layers\": [{\"type\": \"conv\", \"filters\": 4, \"kernel\": 3}, "
		 "{\"type\": \"conv\", \"filters\": 0, \"kernel\": 3}]}", "layers[1].filters"},
		{"{\"layers\": [{\"type\": \"conv\", \"filters\": 4}]}", "layers[0].kernel"},
		{"{\"layers\": [{\"type\": \"conv\", \"filters\": 4, \"kernel\": 3, "
		 "\"padding\": 3}]}", "layers[0].padding"},
		{"{\"layers\": [{\"type\": \"maxpool\", \"size\": 2, \"units\": 3}]}",
		 "layers[0].units"},
		{"{\"layers\": [{\"type\": \"lstm\"}]}", "layers[0].type"},
		{"{\"layers\": [{\"type\": \"dense\", \"units\": 4, \"activation\": \"elu\"}]}",
		 "layers[0].activation"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ck_assert_msg(cfg_from(bad[i].body, &c, &e) == TD_EINVAL, "%s", bad[i].body);
		ck_assert_msg(strcmp(e.field, bad[i].field) == 0, "%s: field %s, message %s",
			      bad[i].body, e.field, e.msg);
	}
	/* the CLI's text takes the same rows */
	jobcfg_defaults(&c);
	ck_assert_int_eq(jobcfg_set(&c, "layers", "[{\"type\": \"maxpool\", \"size\": 3}]", &e), 0);
	ck_assert_int_eq(c.n_layer_specs, 1);
	ck_assert_int_eq(jobcfg_set(&c, "layers", "[{\"type\": \"maxpool\"}]", &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "layers[0].size");
	ck_assert_int_eq(jobcfg_set(&c, "layers", "[{", &e), TD_EINVAL);
	ck_assert_str_eq(e.field, "layers");
	ck_assert_int_eq(jobcfg_set(&c, "layers", "none", &e), 0); /* as for hidden */
	ck_assert_int_eq(c.n_layer_specs, 0);
}
END_TEST

/* 8x8 images of 4 classes: class c is a bright 3x3 blob in quadrant c. */
static struct dataset *blobs(size_t n_train, size_t n_test, uint64_t seed)
{
	size_t n = n_train + n_test;
	uint8_t *x = malloc(n * 64), *y = malloc(n);
	struct td_rng r;
	rng_seed(&r, seed);
	for (size_t i = 0; i < n; i++) {
		int c = (int)rng_below(&r, 4);
		y[i] = (uint8_t)c;
		int oy = (c / 2) * 4 + (int)rng_below(&r, 2), ox = (c % 2) * 4 + (int)rng_below(&r, 2);
		for (int p = 0; p < 64; p++) {
			int py = p / 8, px = p % 8;
			int v = (int)rng_below(&r, 80);
			if (py >= oy && py < oy + 3 && px >= ox && px < ox + 3)
				v += 150;
			x[i * 64 + (size_t)p] = (uint8_t)v;
		}
	}
	struct dataset *d = dataset_from_memory("blobs", 8, 8, 4, NULL, x, y, n_train,
						x + n_train * 64, y + n_train, n_test);
	free(x);
	free(y);
	return d;
}

static struct job_config cnn_config(void)
{
	struct job_config c;
	jobcfg_defaults(&c);
	struct layer_spec sp[4] = {conv(4, 3, 1, 1), pool(2, 2), conv(6, 3, 2, 1), dense(12)};
	set_layers(&c, sp, 4);
	c.optimizer = OPT_MOMENTUM;
	c.learning_rate = 0.02;
	c.batch_size = 65; /* uneven slots */
	c.epochs = 2;
	c.workers = 1;
	c.seed = 5;
	c.augment = AUGMENT_NONE;
	return c;
}

static void train_cnn(const struct job_config *c, const struct dataset *d, char hex[17],
		      double *acc)
{
	struct pool *p;
	struct trainer *t;
	struct td_error e;
	ck_assert_int_eq(pool_create(c->workers, &p, &e), 0);
	ck_assert_msg(trainer_create(c, d, p, &t, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(trainer_shape(t)->layer[0].kind, LAYER_CONV);
	ck_assert_int_eq(trainer_run(t, NULL), 0);
	model_digest(trainer_params(t), trainer_param_count(t), hex);
	double loss;
	trainer_evaluate(t, 1, &loss, acc);
	trainer_free(t);
	pool_free(p);
}

START_TEST(test_cnn_weights_bit_identical_for_1_to_4_workers)
{
	struct dataset *d = blobs(600, 100, 2);
	struct job_config c = cnn_config();
	char ref[17], got[17];
	double acc;
	train_cnn(&c, d, ref, &acc);
	for (int w = 2; w <= 4; w++) {
		c.workers = w;
		train_cnn(&c, d, got, &acc);
		ck_assert_msg(strcmp(ref, got) == 0, "workers %d: %s != %s", w, got, ref);
	}
	dataset_free(d);
}
END_TEST

START_TEST(test_cnn_learns_blobs_above_chance)
{
	struct dataset *d = blobs(1200, 400, 3);
	struct job_config c = cnn_config();
	c.epochs = 4;
	c.workers = 2;
	char hex[17];
	double acc;
	train_cnn(&c, d, hex, &acc);
	ck_assert_msg(acc > 0.9, "test accuracy %.3f (chance 0.25)", acc);
	dataset_free(d);
}
END_TEST

/* Re-stamps a checkpoint's version and CRC. */
static void restamp(unsigned char *b, size_t len, uint32_t version)
{
	b[8] = (unsigned char)version;
	b[9] = b[10] = b[11] = 0;
	uLong crc = crc32(0L, b, (uInt)(len - 4));
	for (int i = 0; i < 4; i++)
		b[len - 4 + (size_t)i] = (unsigned char)(crc >> (8 * i));
}

static void probs_of(const struct model_shape *s, const float *params, const struct dataset *d,
		     float *out, int n)
{
	float *x = malloc(sizeof(float) * (size_t)n * (size_t)d->features);
	infer_bytes_to_inputs(d->test_x, (size_t)n * (size_t)d->features, x);
	struct td_error e;
	ck_assert_int_eq(infer_probs(s, params, x, n, out, &e), 0);
	free(x);
}

/* Version 2 carries the layer list and predicts what the trainer does; a
 * file whose rows disagree with its config is refused; a version 1 file
 * (a dense stack) still loads and predicts. */
START_TEST(test_checkpoint_v2_carries_the_layers_and_v1_still_loads)
{
	struct dataset *d = blobs(300, 40, 4);
	struct job_config c = cnn_config();
	c.epochs = 1;
	struct pool *p;
	struct trainer *t;
	struct td_error e;
	ck_assert_int_eq(pool_create(1, &p, &e), 0);
	ck_assert_int_eq(trainer_create(&c, d, p, &t, &e), 0);
	ck_assert_int_eq(trainer_run(t, NULL), 0);
	struct checkpoint ck, back;
	checkpoint_from_trainer(&ck, "j-cnn", t, d, 0.5);
	void *buf;
	size_t len;
	ck_assert_int_eq(checkpoint_encode(&ck, &buf, &len, &e), 0);
	ck_assert_int_eq(((unsigned char *)buf)[8], 2);
	ck_assert_msg(checkpoint_parse(buf, len, &back, &e) == 0, "%s", e.msg);
	ck_assert_int_eq(back.shape.n_layers, 5);
	ck_assert_int_eq(back.shape.layer[0].kind, LAYER_CONV);
	ck_assert_int_eq(back.shape.layer[1].kind, LAYER_MAXPOOL);
	ck_assert_int_eq(back.shape.layer[2].out_c, 6);
	ck_assert_int_eq(back.cfg.n_layer_specs, 4);
	float a[40 * 4], b[40 * 4];
	probs_of(trainer_shape(t), trainer_params(t), d, a, 40);
	probs_of(&back.shape, back.params, d, b, 40);
	ck_assert_int_eq(memcmp(a, b, sizeof(a)), 0);
	checkpoint_free(&back);
	/* the same file called version 1 is not a dense stack */
	unsigned char *copy = malloc(len);
	memcpy(copy, buf, len);
	restamp(copy, len, 1);
	ck_assert_int_eq(checkpoint_parse(copy, len, &back, &e), TD_EFORMAT);
	free(copy);
	free(buf);
	/* rows that are not what the config describes */
	ck.cfg.layer_specs[0].units = 5;
	ck_assert_int_eq(checkpoint_encode(&ck, &buf, &len, &e), 0);
	ck_assert_int_eq(checkpoint_parse(buf, len, &back, &e), TD_EFORMAT);
	ck_assert_str_eq(e.field, "model");
	free(buf);
	trainer_free(t);

	/* a dense model written as version 1 (no "model" rows needed) */
	struct job_config m = cnn_config();
	m.n_layer_specs = 0;
	ck_assert_int_eq(trainer_create(&m, d, p, &t, &e), 0);
	checkpoint_from_trainer(&ck, "j-mlp", t, d, 0.5);
	ck_assert_int_eq(checkpoint_encode(&ck, &buf, &len, &e), 0);
	restamp(buf, len, 1);
	ck_assert_msg(checkpoint_parse(buf, len, &back, &e) == 0, "%s", e.msg);
	probs_of(trainer_shape(t), trainer_params(t), d, a, 40);
	probs_of(&back.shape, back.params, d, b, 40);
	ck_assert_int_eq(memcmp(a, b, sizeof(a)), 0);
	/* and a version 1 file read back writes a version 2 file that reads
	 * (its input shape is the image's, as the config describes it; found
	 * by fuzz_checkpoint) */
	void *again;
	size_t again_len;
	struct checkpoint twice;
	ck_assert_int_eq(checkpoint_encode(&back, &again, &again_len, &e), 0);
	ck_assert_msg(checkpoint_parse(again, again_len, &twice, &e) == 0, "%s", e.msg);
	checkpoint_free(&twice);
	free(again);
	checkpoint_free(&back);
	free(buf);
	trainer_free(t);
	pool_free(p);
	dataset_free(d);
}
END_TEST

static int stop_after(void *arg)
{
	long *left = arg;
	return --*left < 0;
}

/* A CNN stopped mid-epoch, written to a checkpoint, read back into a new
 * trainer (as recovery after kill -9 does) and continued gives the
 * uninterrupted run's weights exactly. */
START_TEST(test_cnn_resume_from_checkpoint_is_bit_identical)
{
	struct dataset *d = blobs(500, 50, 6);
	struct job_config c = cnn_config();
	c.workers = 2;
	char ref[17], got[17];
	double acc;
	train_cnn(&c, d, ref, &acc);
	struct pool *p;
	struct trainer *t;
	struct td_error e;
	ck_assert_int_eq(pool_create(2, &p, &e), 0);
	ck_assert_int_eq(trainer_create(&c, d, p, &t, &e), 0);
	long left = 10; /* epoch 2's step 3 */
	struct train_hooks h = {.arg = &left, .should_stop = stop_after};
	ck_assert_int_eq(trainer_run(t, &h), 1);
	struct checkpoint ck, back;
	checkpoint_from_trainer(&ck, "j-r", t, d, NAN);
	void *buf;
	size_t len;
	ck_assert_int_eq(checkpoint_encode(&ck, &buf, &len, &e), 0);
	trainer_free(t);
	ck_assert_msg(checkpoint_parse(buf, len, &back, &e) == 0, "%s", e.msg);
	free(buf);
	ck_assert_int_eq(trainer_create(&back.cfg, d, p, &t, &e), 0);
	ck_assert_msg(trainer_restore(t, &back.state, back.params, back.n_params, back.moment,
				      back.n_moments, &e) == 0, "%s", e.msg);
	checkpoint_free(&back);
	ck_assert_int_eq(trainer_run(t, NULL), 0);
	model_digest(trainer_params(t), trainer_param_count(t), got);
	ck_assert_str_eq(ref, got);
	trainer_free(t);
	pool_free(p);
	dataset_free(d);
}
END_TEST

Suite *suite_conv(void)
{
	Suite *s = suite_create("conv");
	TCase *tc = tcase_create("conv");
	tcase_add_test(tc, test_conv_forward_is_the_definition_in_pytorch_layout);
	tcase_add_test(tc, test_maxpool_keeps_the_maximum_and_routes_its_gradient);
	tcase_add_test(tc, test_float_conv_kernels_match_the_double_reference);
	tcase_add_test(tc, test_float_pool_keeps_the_double_pools_winners);
	tcase_add_test(tc, test_gradcheck_conv_and_pool_below_1e_6);
	tcase_add_test(tc, test_shapes_are_checked_naming_the_field_and_input_size);
	tcase_add_test(tc, test_layers_field_parses_names_errors_and_reads_back);
	tcase_add_test(tc, test_cnn_weights_bit_identical_for_1_to_4_workers);
	tcase_add_test(tc, test_cnn_learns_blobs_above_chance);
	tcase_add_test(tc, test_checkpoint_v2_carries_the_layers_and_v1_still_loads);
	tcase_add_test(tc, test_cnn_resume_from_checkpoint_is_bit_identical);
	suite_add_tcase(s, tc);
	return s;
}
