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

/* Any PNG: gray, gray+alpha, RGB, RGBA, palette, 1-16 bit. Alpha is
 * composited over white (a transparent canvas with dark strokes reads as
 * ink on paper). */
int image_decode_png(const void *buf, size_t len, size_t max_pixels, struct gray_image *out,
		     struct td_error *e);

/* Netpbm graymap, ASCII (P2) or binary (P5), maxval 1..65535, comments. */
int image_decode_pgm(const void *buf, size_t len, size_t max_pixels, struct gray_image *out,
		     struct td_error *e);

void image_free(struct gray_image *img);

/* Resamples to out_w x out_h floats in [0,1] (area averaging), with the
 * polarity made white ink on black: when the border is mostly light the
 * image is inverted, so black-on-white drawings read like MNIST. */
int image_to_input(const struct gray_image *img, int out_w, int out_h, float *out,
		   struct td_error *e);

/* MNIST's own preprocessing on a w x h image with ink high, in place:
 * crop to the ink's bounding box, scale it to fit a 20x20 box keeping the
 * aspect ratio (for 28x28; proportionally for other sizes), and place it
 * so its centre of mass is at the image centre. An image without ink is
 * left as it is. */
void image_preprocess_mnist(float *pixels, int w, int h);

#endif
