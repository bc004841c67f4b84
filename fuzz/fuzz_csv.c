/*
 * fuzz_csv.c - libFuzzer harness for the CSV reader (csv.h).
 *
 * csv_parse runs on each input with four shapes (1 pixel column and 2
 * classes, 4 and 10, 784 and 10 as MNIST, 4 and 256), so short seeds reach
 * the success path and the 784-column one exercises long lines. csv_load
 * then reads the same bytes as a file, and a gzip stream of them, with the
 * 4-column shape: both must give csv_parse's answer. Besides the
 * sanitizers it checks csv.h's contract: on failure the data are empty and
 * the error has a message (in UTF-8); on success every label is below
 * n_classes.
 *
 * fuzz-sources: src/core/ src/data/csv.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "traind/csv.h"

#define FUZZ_CSV_MAX_BYTES ((size_t)64 << 20)

static const struct {
	int features, n_classes;
} shapes[] = {{1, 2}, {4, 10}, {784, 10}, {4, 256}};

static void check_result(int rc, const struct csv_data *d, const struct td_error *e,
			 int features, int n_classes, const char *how)
{
	if (rc != 0) {
		FUZZ_CHECK(rc < 0, "%s returned %d", how, rc);
		FUZZ_CHECK(d->n == 0 && d->images == NULL && d->labels == NULL,
			   "%s failed but left data", how);
		FUZZ_CHECK(e->msg[0] != '\0', "%s failed without a message", how);
		FUZZ_CHECK_ERROR_TEXT(e, how);
		return;
	}
	FUZZ_CHECK(d->n > 0 && d->images && d->labels, "%s succeeded with no samples", how);
	FUZZ_CHECK(d->features == features, "%s: %d features, not %d", how, d->features,
		   features);
	for (size_t i = 0; i < d->n; i++)
		FUZZ_CHECK(d->labels[i] < n_classes, "%s: label %u of sample %zu", how,
			   d->labels[i], i);
}

static int same_data(const struct csv_data *x, const struct csv_data *y)
{
	return x->n == y->n && x->features == y->features &&
	       memcmp(x->labels, y->labels, x->n) == 0 &&
	       memcmp(x->images, y->images, x->n * (size_t)x->features) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct csv_data d, four, loaded;
	struct td_error e;
	int rfour = 0;

	memset(&four, 0, sizeof(four));
	for (size_t s = 0; s < sizeof(shapes) / sizeof(shapes[0]); s++) {
		int f = shapes[s].features, k = shapes[s].n_classes;
		td_error_clear(&e);
		int rc = csv_parse(text, size, "fuzz.csv", f, k, &d, &e);
		check_result(rc, &d, &e, f, k, "csv_parse");
		if (f == 4 && k == 10) {
			rfour = rc;
			four = d;
		} else {
			csv_free(&d);
		}
	}

	td_error_clear(&e);
	int rl = csv_load(fuzz_file(data, size), FUZZ_CSV_MAX_BYTES, 4, 10, &loaded, &e);
	check_result(rl, &loaded, &e, 4, 10, "csv_load");
	if (!fuzz_is_gzip(data, size)) {
		FUZZ_CHECK(rl == rfour, "csv_parse %d but csv_load %d: %s", rfour, rl, e.msg);
		if (rl == 0)
			FUZZ_CHECK(same_data(&four, &loaded), "csv_parse and csv_load differ");
	}
	csv_free(&loaded);

	size_t zlen;
	uint8_t *z = fuzz_gzip(data, size, &zlen);
	td_error_clear(&e);
	int rz = csv_load(fuzz_file(z, zlen), FUZZ_CSV_MAX_BYTES, 4, 10, &loaded, &e);
	free(z);
	check_result(rz, &loaded, &e, 4, 10, "csv_load (gzip)");
	FUZZ_CHECK(rz == rfour, "csv_parse %d but csv_load of its gzip %d: %s", rfour, rz, e.msg);
	if (rz == 0)
		FUZZ_CHECK(same_data(&four, &loaded), "csv_parse and csv_load (gzip) differ");
	csv_free(&loaded);
	csv_free(&four);
	return 0;
}
