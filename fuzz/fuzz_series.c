/*
 * fuzz_series.c - libFuzzer harness for a job's layers.bin and hist.bin
 * (layerseries.h, histseries.h): the decoders on untrusted bytes, as
 * recovery reads them from the state dir.
 *
 * The first input byte picks the format and the step (or epoch) limit;
 * so that the fuzzer gets past the CRC, the harness fixes up the CRC of
 * the rest half of the time. Beyond the sanitizers it checks that what
 * decodes stays within the series' bounds and round-trips: encoding it
 * and decoding that gives the same points.
 *
 * fuzz-sources: src/core/error.c src/store/layerseries.c src/store/histseries.c
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fuzz.h"
#include "traind/histseries.h"
#include "traind/layerseries.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void layers(const uint8_t *b, size_t n, long max_step)
{
	struct layer_series s, back;
	struct td_error e;
	FUZZ_CHECK(layer_series_init(&s, 64) == 0, "init");
	if (layer_series_decode(&s, b, n, max_step, &e) == 0) {
		FUZZ_CHECK(s.n <= s.cap && s.tensors >= 0 && s.tensors <= MODEL_MAX_LAYERS,
			   "%zu points of %d tensors", s.n, s.tensors);
		for (size_t i = 0; i < s.n; i++)
			FUZZ_CHECK(s.points[i].step >= 0 && s.points[i].step <= max_step, "step %ld",
				   s.points[i].step);
		uint8_t *enc;
		size_t len;
		FUZZ_CHECK(layer_series_encode(&s, &enc, &len, &e) == 0, "encode: %s", e.msg);
		FUZZ_CHECK(layer_series_init(&back, 64) == 0, "init");
		FUZZ_CHECK(layer_series_decode(&back, enc, len, max_step, &e) == 0, "%s", e.msg);
		FUZZ_CHECK(back.n == s.n, "%zu points back, not %zu", back.n, s.n);
		for (size_t i = 0; i < s.n; i++)
			FUZZ_CHECK(back.points[i].step == s.points[i].step, "point %zu", i);
		free(enc);
		layer_series_free(&back);
	}
	layer_series_free(&s);
}

static void hists(const uint8_t *b, size_t n, int max_epoch)
{
	struct hist_series s, back;
	struct td_error e;
	hist_series_init(&s, 16);
	if (hist_series_decode(&s, b, n, max_epoch, &e) == 0) {
		FUZZ_CHECK(s.n <= s.cap, "%zu epochs", s.n);
		for (size_t i = 0; i < s.n; i++)
			FUZZ_CHECK(s.e[i].epoch >= 1 && s.e[i].epoch <= max_epoch &&
					   s.e[i].rows >= 0 && s.e[i].rows <= HIST_MAX_ROWS,
				   "epoch %d rows %d", s.e[i].epoch, s.e[i].rows);
		uint8_t *enc;
		size_t len;
		FUZZ_CHECK(hist_series_encode(&s, &enc, &len, &e) == 0, "encode: %s", e.msg);
		hist_series_init(&back, 16);
		FUZZ_CHECK(hist_series_decode(&back, enc, len, max_epoch, &e) == 0, "%s", e.msg);
		FUZZ_CHECK(back.n == s.n, "%zu epochs back, not %zu", back.n, s.n);
		free(enc);
		hist_series_free(&back);
	}
	hist_series_free(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1 || size > (1u << 20))
		return 0;
	uint8_t pick = data[0];
	size_t n = size - 1;
	uint8_t *b = malloc(n ? n : 1);
	memcpy(b, data + 1, n);
	if (n >= 4 && (pick & 1)) {
		uLong crc = crc32(0L, b, (uInt)(n - 4));
		for (int i = 0; i < 4; i++)
			b[n - 4 + (size_t)i] = (uint8_t)(crc >> (8 * i));
	}
	long limit = (pick >> 2) & 1 ? 1L << 40 : (long)(pick >> 3) * 7;
	if (pick & 2)
		hists(b, n, (int)(limit > 100000 ? 100000 : limit));
	else
		layers(b, n, limit);
	free(b);
	return 0;
}
