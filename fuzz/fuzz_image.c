/*
 * fuzz_image.c - libFuzzer harness for the image decoders and the input
 * pipeline (image.h).
 *
 * Each input goes to image_decode_png, image_decode_pgm and the sniffing
 * image_decode, which must give the same answer as the decoder its magic
 * picks. A decoded image is then resampled by image_to_input to 28x28 and
 * to a second size derived from its own (1..64 each way, so the scratch
 * buffer of image_preprocess_mnist is used as well as its stack), and both
 * go through image_preprocess_mnist. Besides the sanitizers it checks
 * image.h's contract: a failed decode leaves an empty image, a named
 * fault (in UTF-8) and one of the documented codes; a decoded image is
 * within the pixel limit; every model input is a finite value in [0,1].
 *
 * The build defines FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION, which makes
 * the PNG decoder ignore CRCs: a mutated chunk still reaches libpng's
 * parsing instead of stopping at its checksum.
 *
 * fuzz-sources: src/core/error.c src/data/image.c
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "traind/image.h"

/* The daemon allows 4096x4096; the checks against the limit are the same
 * code at any limit, and a smaller one keeps each execution fast. */
#define FUZZ_MAX_PIXELS ((size_t)512 * 512)

static void check_decoded(int rc, const struct gray_image *img, const struct td_error *e,
			  const char *how)
{
	if (rc != 0) {
		FUZZ_CHECK(rc == TD_EFORMAT || rc == TD_ETOOBIG || rc == TD_ENOMEM ||
				   rc == TD_EUNSUPPORTED,
			   "%s returned %d (%s): %s", how, rc, td_strerror(rc), e->msg);
		FUZZ_CHECK(img->pixels == NULL && img->width == 0 && img->height == 0,
			   "%s failed but left an image", how);
		FUZZ_CHECK(e->msg[0] != '\0', "%s failed without a message", how);
		FUZZ_CHECK_ERROR_TEXT(e, how);
		return;
	}
	FUZZ_CHECK(img->pixels != NULL && img->width > 0 && img->height > 0,
		   "%s succeeded with an empty image", how);
	FUZZ_CHECK((size_t)img->width * (size_t)img->height <= FUZZ_MAX_PIXELS,
		   "%s decoded %dx%d, over the limit", how, img->width, img->height);
}

static int same_image(const struct gray_image *x, const struct gray_image *y)
{
	return x->width == y->width && x->height == y->height &&
	       memcmp(x->pixels, y->pixels, (size_t)x->width * (size_t)x->height) == 0;
}

static void check_unit(const float *v, size_t n, const char *how)
{
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(isfinite(v[i]) && v[i] >= 0.0f && v[i] <= 1.0f,
			   "%s: value %zu is %g", how, i, (double)v[i]);
}

static void to_model_input(const struct gray_image *img, int w, int h)
{
	struct td_error e;
	size_t n = (size_t)w * (size_t)h;
	float *in = malloc(n * sizeof(*in));
	FUZZ_CHECK(in != NULL, "out of memory");
	td_error_clear(&e);
	int rc = image_to_input(img, w, h, in, &e);
	FUZZ_CHECK(rc == 0, "image_to_input %dx%d of a %dx%d image: %s", w, h, img->width,
		   img->height, e.msg);
	check_unit(in, n, "image_to_input");
	image_preprocess_mnist(in, w, h);
	check_unit(in, n, "image_preprocess_mnist");
	free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
	struct gray_image png, pgm, any;
	struct td_error e;

	td_error_clear(&e);
	int rpng = image_decode_png(data, size, FUZZ_MAX_PIXELS, &png, &e);
	check_decoded(rpng, &png, &e, "image_decode_png");
	td_error_clear(&e);
	int rpgm = image_decode_pgm(data, size, FUZZ_MAX_PIXELS, &pgm, &e);
	check_decoded(rpgm, &pgm, &e, "image_decode_pgm");
	td_error_clear(&e);
	int rany = image_decode(data, size, FUZZ_MAX_PIXELS, &any, &e);
	check_decoded(rany, &any, &e, "image_decode");

	int is_png = size >= 8 && memcmp(data, png_sig, 8) == 0;
	int is_pgm = size >= 2 && data[0] == 'P' && (data[1] == '2' || data[1] == '5');
	if (is_png) {
		FUZZ_CHECK(rany == rpng, "image_decode %d, image_decode_png %d", rany, rpng);
		if (rany == 0)
			FUZZ_CHECK(same_image(&any, &png), "image_decode and _png differ");
	} else if (is_pgm) {
		FUZZ_CHECK(rany == rpgm, "image_decode %d, image_decode_pgm %d", rany, rpgm);
		if (rany == 0)
			FUZZ_CHECK(same_image(&any, &pgm), "image_decode and _pgm differ");
	} else {
		FUZZ_CHECK(rany == TD_EUNSUPPORTED, "image_decode %d on neither format", rany);
	}
	FUZZ_CHECK(rpng != 0 || rpgm != 0, "decoded as both PNG and PGM");

	if (rany == 0) {
		to_model_input(&any, 28, 28);
		int w = 1 + (any.width * 7 + any.height) % 64;
		int h = 1 + (any.height * 5 + any.width) % 64;
		to_model_input(&any, w, h);
	}
	image_free(&png);
	image_free(&pgm);
	image_free(&any);
	return 0;
}
