/*
 * fuzz_idx.c - libFuzzer harness for the IDX reader (idx.h).
 *
 * Each input goes three ways: idx_parse on the bytes; idx_load on the same
 * bytes as a file (so a gzip input takes zlib's inflate path, anything
 * else its transparent path); and idx_load on a gzip stream of the bytes
 * made here, so the gzip path also sees well-formed streams holding
 * arbitrary IDX data. Besides the sanitizers, it checks idx.h's contract:
 * on failure the array is zeroed and the error has a message (in UTF-8);
 * on success the dims, count and data match the bytes; and the three
 * readers agree.
 *
 * fuzz-sources: src/core/ src/data/idx.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "traind/idx.h"

/* Far above any input libFuzzer makes, so the limit never decides. */
#define FUZZ_IDX_MAX_BYTES ((size_t)64 << 20)

static void check_result(int rc, const struct idx_array *a, const struct td_error *e,
			 const char *how)
{
	if (rc != 0) {
		FUZZ_CHECK(rc < 0, "%s returned %d", how, rc);
		FUZZ_CHECK(a->ndim == 0 && a->count == 0 && a->data == NULL,
			   "%s failed but left an array", how);
		FUZZ_CHECK(e->msg[0] != '\0', "%s failed without a message", how);
		FUZZ_CHECK_ERROR_TEXT(e, how);
		return;
	}
	FUZZ_CHECK(a->ndim >= 1 && a->ndim <= IDX_MAX_DIMS, "%s: ndim %d", how, a->ndim);
	size_t count = 1;
	for (int i = 0; i < a->ndim; i++) {
		FUZZ_CHECK(a->dims[i] > 0, "%s: zero dimension", how);
		count *= a->dims[i];
	}
	FUZZ_CHECK(count == a->count, "%s: count %zu, dims say %zu", how, a->count, count);
	FUZZ_CHECK(a->data != NULL, "%s: no data", how);
}

static int same_array(const struct idx_array *x, const struct idx_array *y)
{
	return x->ndim == y->ndim && x->count == y->count &&
	       memcmp(x->dims, y->dims, sizeof(x->dims[0]) * (size_t)x->ndim) == 0 &&
	       memcmp(x->data, y->data, x->count) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct idx_array parsed, loaded, zipped;
	struct td_error e;

	td_error_clear(&e);
	int rp = idx_parse(data, size, "fuzz input", &parsed, &e);
	check_result(rp, &parsed, &e, "idx_parse");
	if (rp == 0) {
		size_t hdr = 4 + 4 * (size_t)parsed.ndim;
		FUZZ_CHECK(size == hdr + parsed.count, "idx_parse accepted %zu bytes for %zu",
			   size, hdr + parsed.count);
		FUZZ_CHECK(memcmp(parsed.data, data + hdr, parsed.count) == 0,
			   "idx_parse data differ from the input");
	}

	td_error_clear(&e);
	int rl = idx_load(fuzz_file(data, size), FUZZ_IDX_MAX_BYTES, &loaded, &e);
	check_result(rl, &loaded, &e, "idx_load");
	if (!fuzz_is_gzip(data, size)) {
		/* zlib reads a non-gzip file as it is: the same bytes as idx_parse. */
		FUZZ_CHECK((rp == 0) == (rl == 0), "idx_parse %d but idx_load %d: %s", rp, rl,
			   e.msg);
		if (rp == 0)
			FUZZ_CHECK(same_array(&parsed, &loaded), "idx_parse and idx_load differ");
	}

	size_t zlen;
	uint8_t *z = fuzz_gzip(data, size, &zlen);
	td_error_clear(&e);
	int rz = idx_load(fuzz_file(z, zlen), FUZZ_IDX_MAX_BYTES, &zipped, &e);
	free(z);
	check_result(rz, &zipped, &e, "idx_load (gzip)");
	FUZZ_CHECK((rp == 0) == (rz == 0), "idx_parse %d but idx_load of its gzip %d: %s", rp,
		   rz, e.msg);
	if (rp == 0)
		FUZZ_CHECK(same_array(&parsed, &zipped), "idx_parse and idx_load (gzip) differ");

	idx_free(&parsed);
	idx_free(&loaded);
	idx_free(&zipped);
	return 0;
}
