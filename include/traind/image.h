/*
 * image.h - uploaded images to model inputs: PNG (libpng) and PGM (P2 and
 * P5) decoding to 8-bit grayscale, resampling to the model's input size,
 * and the preprocessing the MNIST authors applied to their digits.
 *
 * Every decoder works on an untrusted buffer: sizes are checked against a
 * pixel limit before anything is allocated, and a corrupt image is an
 * error naming what is wrong, never a crash.
 */
#ifndef TRAIND_IMAGE_H
#define TRAIND_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#include "traind/error.h"

struct gray_image {
	int width, height;
	uint8_t *pixels; /* width * height, row-major, 0 = black; owned */
};

/*
 * The decoders share one contract: 0 and *out filled (free it with
 * image_free), or a negative code with *out empty (pixels NULL, sizes 0)
 * and `e` naming the fault. TD_EFORMAT: the bytes are corrupt, truncated
 * or not of this format; TD_ETOOBIG: width * height is over max_pixels
 * (checked on the declared size, before any pixel memory is allocated);
 * TD_ENOMEM.
 */

/* Any PNG: gray, gray+alpha, RGB, RGBA, palette, 1-16 bit. Alpha is
 * composited over white (a transparent canvas with dark strokes reads as
 * ink on paper). Colour becomes gray by the Rec. 601 luma weights (0.299,
 * 0.587, 0.114) on the stored values; 16-bit samples keep their high byte;
 * gamma chunks are ignored. The whole stream is read up to IEND: a
 * CRC error in a critical chunk is TD_EFORMAT (libpng skips an ancillary
 * chunk whose CRC is wrong). */
int image_decode_png(const void *buf, size_t len, size_t max_pixels, struct gray_image *out,
		     struct td_error *e);

/* Netpbm graymap, ASCII (P2) or binary (P5), maxval 1..65535, comments.
 * Samples are scaled to 0..255 (rounded); 16-bit P5 samples are
 * big-endian. Strict: a sample over maxval, too few samples, or anything
 * but whitespace and comments after the P2 samples (any byte after the P5
 * raster) is TD_EFORMAT. */
int image_decode_pgm(const void *buf, size_t len, size_t max_pixels, struct gray_image *out,
		     struct td_error *e);

/* Either of the above, chosen by the first bytes (PNG signature, or "P2"
 * or "P5"); anything else is TD_EUNSUPPORTED. */
int image_decode(const void *buf, size_t len, size_t max_pixels, struct gray_image *out,
		 struct td_error *e);

void image_free(struct gray_image *img);

/* Resamples to out_w x out_h floats in [0,1] (area averaging), with the
 * polarity made white ink on black: when the border is mostly light the
 * image is inverted, so black-on-white drawings read like MNIST.
 * ("Mostly light": the mean of the result's outermost rows and columns is
 * over 0.5.) TD_EINVAL for an empty image or a size below 1x1. */
int image_to_input(const struct gray_image *img, int out_w, int out_h, float *out,
		   struct td_error *e);

/* MNIST's own preprocessing on a w x h image with ink high, in place:
 * crop to the ink's bounding box, scale it to fit a 20x20 box keeping the
 * aspect ratio (for 28x28; proportionally for other sizes), and place it
 * so its centre of mass is at the image centre. An image without ink is
 * left as it is.
 * Ink is any value over 1/512; the box is scaled by area averaging (up or
 * down) so its longer side, relative to the target box, fills it; the
 * shift is rounded to whole pixels and whatever falls outside is clipped.
 * Up to about 44x44 it needs no memory; larger images need a scratch
 * buffer and are left as they are if it cannot be allocated. */
void image_preprocess_mnist(float *pixels, int w, int h);

#endif
