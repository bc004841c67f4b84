/*
 * check_image.c - the image module: PNG and PGM decoding, resampling to
 * model inputs and the MNIST preprocessing.
 *
 * Every PNG here is made in memory by libpng's own writer, so each test
 * states exactly what it decodes; corrupt inputs are valid images with
 * bytes cut or patched (with the chunk CRC fixed up where the point is to
 * reach past the CRC check). The preprocessing tests check properties
 * (bounding box size, centre of mass) rather than exact pixel values.
 */
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check_suites.h"
#include "traind/image.h"

#define MAXPX ((size_t)1 << 20)

/* ---- making PNGs ---- */

struct membuf {
	unsigned char *p;
	size_t len, cap;
};

static void mem_write(png_structp png, png_bytep data, size_t n)
{
	struct membuf *m = png_get_io_ptr(png);
	if (m->len + n > m->cap) {
		size_t cap = (m->len + n) * 2;
		unsigned char *q = realloc(m->p, cap);
		if (!q)
			png_error(png, "out of memory");
		m->p = q;
		m->cap = cap;
	}
	memcpy(m->p + m->len, data, n);
	m->len += n;
}

static void mem_flush(png_structp png)
{
	(void)png;
}

struct png_spec {
	int w, h, color, depth, interlace;
	const uint8_t *data; /* rows as PNG stores them: packed, 16-bit big-endian */
	const png_color *pal;
	int npal;
	const uint8_t *trns; /* palette alphas */
	int ntrns;
	const png_color_16 *trns_color; /* gray or RGB transparent colour */
	int ancillary; /* add gAMA, pHYs, bKGD, tEXt and zTXt chunks */
};

/* Encodes `s` into a new buffer (free it) of *len bytes. */
static unsigned char *png_make(const struct png_spec *s, size_t *len)
{
	png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
	ck_assert_ptr_nonnull(png);
	png_infop info = png_create_info_struct(png);
	ck_assert_ptr_nonnull(info);
	struct membuf *m = calloc(1, sizeof(*m));
	png_bytep *rows = calloc((size_t)s->h, sizeof(*rows));
	ck_assert(m && rows);

	if (setjmp(png_jmpbuf(png)))
		ck_abort_msg("libpng could not write the test image");
	png_set_write_fn(png, m, mem_write, mem_flush);
	png_set_IHDR(png, info, (png_uint_32)s->w, (png_uint_32)s->h, s->depth, s->color,
		     s->interlace, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
	if (s->pal)
		png_set_PLTE(png, info, s->pal, s->npal);
	if (s->trns || s->trns_color)
		png_set_tRNS(png, info, s->trns, s->ntrns, s->trns_color);
	if (s->ancillary) {
		png_text text[2] = {
			{.compression = PNG_TEXT_COMPRESSION_NONE, .key = "Title", .text = "a test"},
			{.compression = PNG_TEXT_COMPRESSION_zTXt, .key = "Comment",
			 .text = "compressed text, compressed text, compressed text"},
		};
		png_color_16 bg = {.gray = 0};
		png_set_gAMA(png, info, 1.0);
		png_set_pHYs(png, info, 2835, 2835, PNG_RESOLUTION_METER);
		png_set_bKGD(png, info, &bg);
		png_set_text(png, info, text, 2);
	}
	png_write_info(png, info);
	size_t rowbytes = png_get_rowbytes(png, info);
	for (int y = 0; y < s->h; y++)
		rows[y] = (png_bytep)s->data + (size_t)y * rowbytes;
	png_write_image(png, rows);
	png_write_end(png, NULL);
	png_destroy_write_struct(&png, &info);

	unsigned char *p = m->p;
	*len = m->len;
	free(m);
	free(rows);
	return p;
}

/* An 8-bit gray PNG of w x h pixels from `px`. */
static unsigned char *png_gray8(int w, int h, const uint8_t *px, size_t *len)
{
	struct png_spec s = {.w = w, .h = h, .color = PNG_COLOR_TYPE_GRAY, .depth = 8,
			     .interlace = PNG_INTERLACE_NONE, .data = px};
	return png_make(&s, len);
}

/* A 16x16 8-bit gray test card. */
static unsigned char *png_card(size_t *len)
{
	uint8_t px[16 * 16];
	for (int i = 0; i < 16 * 16; i++)
		px[i] = (uint8_t)(i * 7);
	return png_gray8(16, 16, px, len);
}

static uint32_t get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Offset of the first chunk of `type` (its length field), or 0. */
static size_t find_chunk(const unsigned char *b, size_t len, const char *type)
{
	size_t off = 8;
	while (off + 12 <= len) {
		uint32_t n = get_be32(b + off);
		if (memcmp(b + off + 4, type, 4) == 0)
			return off;
		off += 12 + (size_t)n;
	}
	return 0;
}

/* Recomputes the CRC of the chunk at `off` after its data was patched. */
static void fix_crc(unsigned char *b, size_t off)
{
	uint32_t n = get_be32(b + off);
	uLong crc = crc32(0L, b + off + 4, (uInt)(n + 4));
	put_be32(b + off + 8 + n, (uint32_t)crc);
}

static void set_ihdr_size(unsigned char *b, uint32_t w, uint32_t h)
{
	put_be32(b + 16, w);
	put_be32(b + 20, h);
	fix_crc(b, 8);
}

static void expect_png(const void *buf, size_t len, size_t maxpx, int code, const char *needle)
{
	struct gray_image img = {7, 7, (uint8_t *)&img};
	struct td_error e = {{0}, {0}};
	int rc = image_decode_png(buf, len, maxpx, &img, &e);
	ck_assert_msg(rc == code, "decode gave %d (%s), expected %d", rc, e.msg, code);
	ck_assert_ptr_null(img.pixels);
	ck_assert_int_eq(img.width, 0);
	ck_assert_int_eq(img.height, 0);
	ck_assert_msg(e.msg[0] != '\0', "no message for error %d", rc);
	ck_assert_str_eq(e.field, "image");
	if (needle)
		ck_assert_msg(strstr(e.msg, needle), "message \"%s\" lacks \"%s\"", e.msg, needle);
}

static struct gray_image decode_png_ok(const void *buf, size_t len, int w, int h)
{
	struct gray_image img;
	struct td_error e = {{0}, {0}};
	int rc = image_decode_png(buf, len, MAXPX, &img, &e);
	ck_assert_msg(rc == 0, "decode failed: %d %s", rc, e.msg);
	ck_assert_int_eq(img.width, w);
	ck_assert_int_eq(img.height, h);
	ck_assert_ptr_nonnull(img.pixels);
	return img;
}

static void expect_pixels(const struct gray_image *img, const uint8_t *want, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(img->pixels[i] == want[i], "pixel %zu is %u, expected %u", i,
			      img->pixels[i], want[i]);
}

/* ---- PNG decoding ---- */

START_TEST(test_png_gray8)
{
	uint8_t px[5 * 3];
	for (int i = 0; i < 15; i++)
		px[i] = (uint8_t)(i * 17 + 3);
	size_t len;
	unsigned char *png = png_gray8(5, 3, px, &len);
	struct gray_image img = decode_png_ok(png, len, 5, 3);
	expect_pixels(&img, px, 15);
	image_free(&img);
	ck_assert_ptr_null(img.pixels);
	image_free(&img); /* twice is harmless */
	image_free(NULL);
	free(png);
}
END_TEST

START_TEST(test_png_gray_low_depth)
{
	/* 1-bit, 10 wide: 1011000111 / 0100111000, then 4-bit 0x0, 0x5, 0xF. */
	const uint8_t bits[] = {0xb1, 0xc0, 0x4e, 0x00};
	struct png_spec s = {.w = 10, .h = 2, .color = PNG_COLOR_TYPE_GRAY, .depth = 1,
			     .data = bits};
	size_t len;
	unsigned char *png = png_make(&s, &len);
	struct gray_image img = decode_png_ok(png, len, 10, 2);
	const uint8_t want1[] = {255, 0, 255, 255, 0, 0, 0, 255, 255, 255,
				 0, 255, 0, 0, 255, 255, 255, 0, 0, 0};
	expect_pixels(&img, want1, 20);
	image_free(&img);
	free(png);

	const uint8_t nibbles[] = {0x05, 0xf0};
	struct png_spec s4 = {.w = 3, .h = 1, .color = PNG_COLOR_TYPE_GRAY, .depth = 4,
			      .data = nibbles};
	png = png_make(&s4, &len);
	img = decode_png_ok(png, len, 3, 1);
	const uint8_t want4[] = {0, 0x55, 0xff};
	expect_pixels(&img, want4, 3);
	image_free(&img);
	free(png);
}
END_TEST

START_TEST(test_png_gray16)
{
	const uint8_t be[] = {0x00, 0x00, 0x12, 0xff, 0xff, 0xff, 0x80, 0x00};
	struct png_spec s = {.w = 4, .h = 1, .color = PNG_COLOR_TYPE_GRAY, .depth = 16,
			     .data = be};
	size_t len;
	unsigned char *png = png_make(&s, &len);
	struct gray_image img = decode_png_ok(png, len, 4, 1);
	const uint8_t want[] = {0, 0x12, 255, 0x80};
	expect_pixels(&img, want, 4);
	image_free(&img);
	free(png);
}
END_TEST

START_TEST(test_png_rgb)
{
	/* Rec. 601 luma: red 76, green 150, blue 29 (Rec. 709 would give 54, 182, 18). */
	const uint8_t rgb[] = {255, 0, 0, 0, 255, 0, 0, 0, 255,
			       255, 255, 255, 0, 0, 0, 100, 100, 100};
	struct png_spec s = {.w = 3, .h = 2, .color = PNG_COLOR_TYPE_RGB, .depth = 8,
			     .data = rgb};
	size_t len;
	unsigned char *png = png_make(&s, &len);
	struct gray_image img = decode_png_ok(png, len, 3, 2);
	const uint8_t want[] = {76, 150, 29, 255, 0, 100};
	expect_pixels(&img, want, 6);
	image_free(&img);
	free(png);

	const uint8_t rgb16[] = {0xff, 0xff, 0, 0, 0, 0, 0x80, 0x00, 0x80, 0x00, 0x80, 0x00};
	struct png_spec s16 = {.w = 2, .h = 1, .color = PNG_COLOR_TYPE_RGB, .depth = 16,
			       .data = rgb16};
	png = png_make(&s16, &len);
	img = decode_png_ok(png, len, 2, 1);
	const uint8_t want16[] = {76, 128};
	expect_pixels(&img, want16, 2);
	image_free(&img);
	free(png);
}
END_TEST

START_TEST(test_png_rgba_stroke)
{
	/* A transparent canvas (transparent *black*) with a dark opaque stroke
	 * on row 10 and one half-transparent black pixel. */
	enum { W = 20, H = 20 };
	uint8_t *rgba = calloc(W * H, 4);
	ck_assert_ptr_nonnull(rgba);
	for (int x = 3; x < 17; x++) {
		uint8_t *p = rgba + (10 * W + x) * 4;
		p[0] = 20, p[1] = 20, p[2] = 20, p[3] = 255;
	}
	rgba[(2 * W + 2) * 4 + 3] = 128;
	struct png_spec s = {.w = W, .h = H, .color = PNG_COLOR_TYPE_RGBA, .depth = 8,
			     .data = rgba};
	size_t len;
	unsigned char *png = png_make(&s, &len);
	struct gray_image img = decode_png_ok(png, len, W, H);
	ck_assert_uint_eq(img.pixels[0], 255);
	ck_assert_uint_eq(img.pixels[W * H - 1], 255);
	ck_assert_uint_eq(img.pixels[10 * W + 5], 20);
	ck_assert_uint_eq(img.pixels[2 * W + 2], 127);

	/* As a model input: ink (the stroke) high, the canvas zero. */
	float in[W * H];
	struct td_error e;
	ck_assert_int_eq(image_to_input(&img, W, H, in, &e), 0);
	ck_assert_float_eq_tol(in[0], 0.0f, 1e-6f);
	ck_assert_float_eq_tol(in[10 * W + 5], 1.0f - 20.0f / 255.0f, 1e-5f);
	image_free(&img);
	free(png);
	free(rgba);
}
END_TEST

START_TEST(test_png_gray_alpha)
{
	const uint8_t ga[] = {0, 0, 0, 255, 200, 255, 100, 0};
	struct png_spec s = {.w = 4, .h = 1, .color = PNG_COLOR_TYPE_GRAY_ALPHA, .depth = 8,
			     .data = ga};
	size_t len;
	unsigned char *png = png_make(&s, &len);
	struct gray_image img = decode_png_ok(png, len, 4, 1);
	const uint8_t want[] = {255, 0, 200, 255};
	expect_pixels(&img, want, 4);
	image_free(&img);
	free(png);
}
END_TEST

START_TEST(test_png_palette)
{
	/* 2-bit palette: black, white, transparent red, opaque red. */
	const png_color pal[] = {{0, 0, 0}, {255, 255, 255}, {255, 0, 0}, {255, 0, 0}};
	const uint8_t trns[] = {255, 255, 0};
	const uint8_t idx[] = {0x1b}; /* 0 1 2 3 */
	struct png_spec s = {.w = 4, .h = 1, .color = PNG_COLOR_TYPE_PALETTE, .depth = 2,
			     .data = idx, .pal = pal, .npal = 4, .trns = trns, .ntrns = 3};
	size_t len;
	unsigned char *png = png_make(&s, &len);
	struct gray_image img = decode_png_ok(png, len, 4, 1);
	const uint8_t want[] = {0, 255, 255, 76};
	expect_pixels(&img, want, 4);
	image_free(&img);
	free(png);

	/* The same without tRNS: index 2 is red, not white. */
	s.trns = NULL;
	s.ntrns = 0;
	png = png_make(&s, &len);
	img = decode_png_ok(png, len, 4, 1);
	ck_assert_uint_eq(img.pixels[2], 76);
	image_free(&img);
	free(png);
}
END_TEST

START_TEST(test_png_gray_trns)
{
	/* A gray image whose value 7 is declared transparent. */
	const uint8_t px[] = {7, 8, 0, 7};
	png_color_16 key = {.gray = 7};
	struct png_spec s = {.w = 2, .h = 2, .color = PNG_COLOR_TYPE_GRAY, .depth = 8,
			     .data = px, .trns_color = &key};
	size_t len;
	unsigned char *png = png_make(&s, &len);
	struct gray_image img = decode_png_ok(png, len, 2, 2);
	const uint8_t want[] = {255, 8, 0, 255};
	expect_pixels(&img, want, 4);
	image_free(&img);
	free(png);
}
END_TEST

START_TEST(test_png_interlaced)
{
	uint8_t px[9 * 11];
	for (int i = 0; i < 9 * 11; i++)
		px[i] = (uint8_t)(i * 37 + 1);
	struct png_spec s = {.w = 9, .h = 11, .color = PNG_COLOR_TYPE_GRAY, .depth = 8,
			     .interlace = PNG_INTERLACE_ADAM7, .data = px};
	size_t len;
	unsigned char *png = png_make(&s, &len);
	struct gray_image img = decode_png_ok(png, len, 9, 11);
	expect_pixels(&img, px, sizeof(px));
	image_free(&img);
	free(png);
}
END_TEST

START_TEST(test_png_ancillary_ignored)
{
	/* Gamma, background and text chunks change nothing, even a zTXt whose
	 * compressed text is damaged (with its CRC made right). */
	uint8_t px[4 * 4];
	for (int i = 0; i < 16; i++)
		px[i] = (uint8_t)(i * 16);
	struct png_spec s = {.w = 4, .h = 4, .color = PNG_COLOR_TYPE_GRAY, .depth = 8,
			     .data = px, .ancillary = 1};
	size_t len;
	unsigned char *png = png_make(&s, &len);
	size_t z = find_chunk(png, len, "zTXt");
	ck_assert_uint_gt(z, 0);
	ck_assert_uint_gt(find_chunk(png, len, "gAMA"), 0);
	struct gray_image img = decode_png_ok(png, len, 4, 4);
	expect_pixels(&img, px, 16);
	image_free(&img);

	uint32_t n = get_be32(png + z);
	memset(png + z + 8 + n - 8, 0xa5, 8);
	fix_crc(png, z);
	img = decode_png_ok(png, len, 4, 4);
	expect_pixels(&img, px, 16);
	image_free(&img);
	free(png);
}
END_TEST

START_TEST(test_png_large_downsampled)
{
	/* 280x280 in 10x10 blocks; inside a block the pixels run base ..
	 * base + 18, so a block's mean is base + 9 and no single pixel of it
	 * (nearest-neighbour) matches every block. */
	enum { N = 280 };
	uint8_t *px = malloc(N * N);
	ck_assert_ptr_nonnull(px);
	for (int y = 0; y < N; y++)
		for (int x = 0; x < N; x++)
			px[y * N + x] = (uint8_t)(((x / 10) * 7 + (y / 10) * 3) % 11 * 10 +
						  x % 10 + y % 10);
	size_t len;
	unsigned char *png = png_gray8(N, N, px, &len);
	struct gray_image img = decode_png_ok(png, len, N, N);
	expect_pixels(&img, px, (size_t)N * N);

	float in[28 * 28];
	struct td_error e;
	ck_assert_int_eq(image_to_input(&img, 28, 28, in, &e), 0);
	for (int by = 0; by < 28; by++) {
		for (int bx = 0; bx < 28; bx++) {
			float want = (float)((bx * 7 + by * 3) % 11 * 10 + 9) / 255.0f;
			ck_assert_msg(fabsf(in[by * 28 + bx] - want) < 1e-5f,
				      "block %d,%d is %f, expected %f", bx, by,
				      (double)in[by * 28 + bx], (double)want);
		}
	}
	image_free(&img);
	free(png);
	free(px);
}
END_TEST

START_TEST(test_png_size_limit)
{
	uint8_t px[100 * 100] = {0};
	size_t len;
	unsigned char *png = png_gray8(100, 100, px, &len);
	struct gray_image img;
	struct td_error e;
	ck_assert_int_eq(image_decode_png(png, len, 10000, &img, &e), 0);
	image_free(&img);
	expect_png(png, len, 9999, TD_ETOOBIG, "limit");
	free(png);
}
END_TEST

/* ---- corrupt PNGs ---- */

START_TEST(test_png_truncated)
{
	/* Every strict prefix of three images of different kinds fails cleanly. */
	size_t len[3];
	unsigned char *png[3];
	png[0] = png_card(&len[0]);
	uint8_t rgba[6 * 5 * 4];
	for (size_t i = 0; i < sizeof(rgba); i++)
		rgba[i] = (uint8_t)(i * 13);
	struct png_spec s = {.w = 6, .h = 5, .color = PNG_COLOR_TYPE_RGBA, .depth = 8,
			     .interlace = PNG_INTERLACE_ADAM7, .data = rgba};
	png[1] = png_make(&s, &len[1]);
	const png_color pal[] = {{0, 0, 0}, {9, 9, 9}};
	const uint8_t trns[] = {0};
	const uint8_t idx[] = {0x40, 0x80};
	struct png_spec sp = {.w = 3, .h = 2, .color = PNG_COLOR_TYPE_PALETTE, .depth = 1,
			      .data = idx, .pal = pal, .npal = 2, .trns = trns, .ntrns = 1};
	png[2] = png_make(&sp, &len[2]);

	for (int k = 0; k < 3; k++) {
		for (size_t n = 0; n < len[k]; n++)
			expect_png(png[k], n, MAXPX, TD_EFORMAT, NULL);
		free(png[k]);
	}
	size_t l;
	unsigned char *p = png_card(&l);
	expect_png(p, l - 30, MAXPX, TD_EFORMAT, "truncated");
	free(p);
	expect_png(NULL, 0, MAXPX, TD_EFORMAT, NULL);
}
END_TEST

START_TEST(test_png_garbage)
{
	const char text[] = "this is not a PNG at all, just some words";
	expect_png(text, sizeof(text), MAXPX, TD_EFORMAT, "signature");

	/* A signature followed by noise. */
	unsigned char buf[200];
	uint32_t x = 12345;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x = x * 1103515245u + 12345u;
		buf[i] = (unsigned char)(x >> 16);
	}
	memcpy(buf, "\x89PNG\r\n\x1a\n", 8);
	expect_png(buf, sizeof(buf), MAXPX, TD_EFORMAT, "corrupt PNG");
}
END_TEST

START_TEST(test_png_bad_crc)
{
	size_t len;
	unsigned char *png = png_card(&len);
	size_t idat = find_chunk(png, len, "IDAT");
	ck_assert_uint_gt(idat, 0);
	png[idat + 8 + get_be32(png + idat)] ^= 0x20;
	expect_png(png, len, MAXPX, TD_EFORMAT, "CRC");
	free(png);

	/* Damaged compressed data (with its own CRC wrong too). */
	png = png_card(&len);
	png[idat + 8 + 3] ^= 0x20;
	expect_png(png, len, MAXPX, TD_EFORMAT, "IDAT");
	free(png);

	/* The CRC of IHDR itself. */
	png = png_card(&len);
	png[8 + 8 + 13] ^= 0x01;
	expect_png(png, len, MAXPX, TD_EFORMAT, "CRC");
	free(png);

	/* The CRC of IEND: caught because the stream is read to the end. */
	png = png_card(&len);
	png[len - 1] ^= 0x01;
	expect_png(png, len, MAXPX, TD_EFORMAT, "CRC");
	free(png);
}
END_TEST

START_TEST(test_png_bad_header)
{
	size_t len;
	unsigned char *png = png_card(&len);
	set_ihdr_size(png, 0, 16);
	expect_png(png, len, MAXPX, TD_EFORMAT, NULL);
	set_ihdr_size(png, 16, 0);
	expect_png(png, len, MAXPX, TD_EFORMAT, NULL);

	/* Declared sizes over the limit, caught before anything is read. */
	set_ihdr_size(png, 100000, 100000);
	expect_png(png, len, MAXPX, TD_ETOOBIG, "100000x100000");
	set_ihdr_size(png, 0x7fffffff, 0x7fffffff);
	expect_png(png, len, MAXPX, TD_ETOOBIG, NULL);
	set_ihdr_size(png, 2000, 1);
	expect_png(png, len, 1999, TD_ETOOBIG, NULL);

	/* Within the limit but more rows than the data holds. */
	set_ihdr_size(png, 16, 64);
	expect_png(png, len, MAXPX, TD_EFORMAT, NULL);

	/* An invalid bit depth for gray. */
	set_ihdr_size(png, 16, 16);
	png[24] = 3;
	fix_crc(png, 8);
	expect_png(png, len, MAXPX, TD_EFORMAT, NULL);
	free(png);
}
END_TEST

/* Decodes every one-byte mutation of every chunk's data in `orig`, with
 * the CRC fixed so the damage reaches inflate and the header checks; the
 * decoder must succeed with an image or fail with an empty one. Returns
 * the number of failures. */
static int mutate_all(const unsigned char *orig, size_t len)
{
	unsigned char *buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	int failures = 0;
	for (size_t off = 8; off + 12 <= len; off += 12 + get_be32(orig + off)) {
		uint32_t n = get_be32(orig + off);
		for (uint32_t i = 0; i < n; i++) {
			for (int v = 0; v < 3; v++) {
				memcpy(buf, orig, len);
				buf[off + 8 + i] = (unsigned char)(v == 0 ? 0 : v == 1 ? 0xff :
								   buf[off + 8 + i] ^ 0x10);
				fix_crc(buf, off);
				struct gray_image img;
				struct td_error e;
				int rc = image_decode_png(buf, len, 4096, &img, &e);
				if (rc == 0) {
					ck_assert_ptr_nonnull(img.pixels);
					ck_assert(img.width > 0 && img.height > 0);
					ck_assert((size_t)img.width * img.height <= 4096);
					image_free(&img);
				} else {
					ck_assert_msg(rc == TD_EFORMAT || rc == TD_ETOOBIG,
						      "unexpected %d: %s", rc, e.msg);
					ck_assert_ptr_null(img.pixels);
					failures++;
				}
			}
		}
	}
	free(buf);
	return failures;
}

START_TEST(test_png_mutations)
{
	/* A small fuzz over an interlaced RGBA with ancillary chunks and a
	 * palette image with tRNS. */
	uint8_t rgba[7 * 6 * 4];
	for (size_t i = 0; i < sizeof(rgba); i++)
		rgba[i] = (uint8_t)(i * 29 + 5);
	struct png_spec s = {.w = 7, .h = 6, .color = PNG_COLOR_TYPE_RGBA, .depth = 8,
			     .interlace = PNG_INTERLACE_ADAM7, .data = rgba, .ancillary = 1};
	size_t len;
	unsigned char *png = png_make(&s, &len);
	ck_assert_int_gt(mutate_all(png, len), 0);
	free(png);

	const png_color pal[] = {{0, 0, 0}, {90, 9, 9}, {9, 90, 9}, {9, 9, 90}};
	const uint8_t trns[] = {0, 128};
	const uint8_t idx[] = {0x1b, 0xe4, 0x00, 0xff};
	struct png_spec sp = {.w = 4, .h = 4, .color = PNG_COLOR_TYPE_PALETTE, .depth = 2,
			      .data = idx, .pal = pal, .npal = 4, .trns = trns, .ntrns = 2};
	png = png_make(&sp, &len);
	ck_assert_int_gt(mutate_all(png, len), 0);
	free(png);
}
END_TEST

/* ---- PGM ---- */

static struct gray_image decode_pgm_ok(const char *buf, size_t len, int w, int h)
{
	struct gray_image img;
	struct td_error e = {{0}, {0}};
	int rc = image_decode_pgm(buf, len, MAXPX, &img, &e);
	ck_assert_msg(rc == 0, "decode failed: %d %s", rc, e.msg);
	ck_assert_int_eq(img.width, w);
	ck_assert_int_eq(img.height, h);
	ck_assert_ptr_nonnull(img.pixels);
	return img;
}

static void expect_pgm_len(const char *buf, size_t len, size_t maxpx, int code,
			   const char *needle)
{
	struct gray_image img = {7, 7, (uint8_t *)&img};
	struct td_error e = {{0}, {0}};
	int rc = image_decode_pgm(buf, len, maxpx, &img, &e);
	ck_assert_msg(rc == code, "decode of \"%.*s\" gave %d (%s), expected %d", (int)len, buf,
		      rc, e.msg, code);
	ck_assert_ptr_null(img.pixels);
	ck_assert_int_eq(img.width, 0);
	ck_assert_msg(e.msg[0] != '\0', "no message for error %d", rc);
	if (needle)
		ck_assert_msg(strstr(e.msg, needle), "message \"%s\" lacks \"%s\"", e.msg, needle);
}

static void expect_pgm(const char *text, int code, const char *needle)
{
	expect_pgm_len(text, strlen(text), MAXPX, code, needle);
}

START_TEST(test_pgm_p2_comments)
{
	const char *t = "P2\n# made by hand\n3 2 # the size\n# maxval next\n15\n"
			"0 15 7\n# a comment between rows\n8\t1 14\n\n";
	struct gray_image img = decode_pgm_ok(t, strlen(t), 3, 2);
	const uint8_t want[] = {0, 255, 119, 136, 17, 238};
	expect_pixels(&img, want, 6);
	image_free(&img);

	/* All on one line, no trailing newline. */
	t = "P2 2 1 255 0 200";
	img = decode_pgm_ok(t, strlen(t), 2, 1);
	ck_assert_uint_eq(img.pixels[1], 200);
	image_free(&img);
}
END_TEST

START_TEST(test_pgm_p5)
{
	const char t[] = "P5\n4 2\n255\n\x00\x01\x7f\x80\xfe\xff\x10\x20";
	struct gray_image img = decode_pgm_ok(t, sizeof(t) - 1, 4, 2);
	const uint8_t want[] = {0, 1, 0x7f, 0x80, 0xfe, 0xff, 0x10, 0x20};
	expect_pixels(&img, want, 8);
	image_free(&img);

	/* maxval 100 scales up; the raster may begin with a whitespace byte. */
	const char t2[] = "P5 3 1 100 \x20\x32\x64";
	img = decode_pgm_ok(t2, sizeof(t2) - 1, 3, 1);
	const uint8_t want2[] = {82, 128, 255};
	expect_pixels(&img, want2, 3);
	image_free(&img);

	/* Comments in the header, one ending right after the maxval. */
	const char t3[] = "P5#c1\n#c2\n2#c3\n1\n255# c4\n\x0a\x23";
	img = decode_pgm_ok(t3, sizeof(t3) - 1, 2, 1);
	ck_assert_uint_eq(img.pixels[0], 0x0a);
	ck_assert_uint_eq(img.pixels[1], 0x23);
	image_free(&img);
}
END_TEST

START_TEST(test_pgm_p5_16bit)
{
	/* Big-endian: 0x1234 -> 18 (read little-endian it would be 51);
	 * 0x0080 -> 0 and 0x8000 -> 128 (swapped they would be 128 and 0). */
	const char t[] = "P5\n4 1\n65535\n\x12\x34\xff\xff\x00\x80\x80\x00";
	struct gray_image img = decode_pgm_ok(t, sizeof(t) - 1, 4, 1);
	const uint8_t want[] = {18, 255, 0, 128};
	expect_pixels(&img, want, 4);
	image_free(&img);

	const char t2[] = "P5 2 1 1000\n\x01\xf4\x03\xe8";
	img = decode_pgm_ok(t2, sizeof(t2) - 1, 2, 1);
	ck_assert_uint_eq(img.pixels[0], 128);
	ck_assert_uint_eq(img.pixels[1], 255);
	image_free(&img);

	/* A P2 with 16-bit samples. */
	const char *t3 = "P2 2 1 65535 65535 32768";
	img = decode_pgm_ok(t3, strlen(t3), 2, 1);
	ck_assert_uint_eq(img.pixels[0], 255);
	ck_assert_uint_eq(img.pixels[1], 128);
	image_free(&img);
}
END_TEST

START_TEST(test_pgm_errors)
{
	expect_pgm("", TD_EFORMAT, "magic");
	expect_pgm("P6\n1 1\n255\n\x01\x02\x03", TD_EFORMAT, "magic");
	expect_pgm("P2", TD_EFORMAT, "width");
	expect_pgm("P22 1 1 255 0", TD_EFORMAT, NULL);
	expect_pgm("P2 2", TD_EFORMAT, "height");
	expect_pgm("P2 2 2", TD_EFORMAT, "maxval");
	expect_pgm("P2 x 2 255 0 0", TD_EFORMAT, "width");
	expect_pgm("P2 2x 2 255 0 0 0 0", TD_EFORMAT, "width");
	expect_pgm("P2 1 1 0 0", TD_EFORMAT, "maxval");
	expect_pgm("P5 1 1 0\n\x00", TD_EFORMAT, "maxval");
	expect_pgm("P2 1 1 65536 0", TD_EFORMAT, "maxval");
	expect_pgm("P2 0 1 255 ", TD_EFORMAT, "zero");
	expect_pgm("P5 3 0 255\n", TD_EFORMAT, "zero");
	expect_pgm("P2 99999999999 1 255 0", TD_EFORMAT, "number");
	expect_pgm("P2 2 1 255\n", TD_EFORMAT, "truncated");

	/* Sizes over the limit, before the (absent) raster is looked at. */
	expect_pgm("P5 100000 100000 255\n", TD_ETOOBIG, "limit");
	expect_pgm("P2 4294967295 4294967295 255\n", TD_ETOOBIG, "limit");
	expect_pgm_len("P5 10 10 255\n", 13, 99, TD_ETOOBIG, NULL);
	/* Within the limit but far too short to hold the samples. */
	expect_pgm("P2 1000 1000 255\n0 0 0 0\n", TD_EFORMAT, "truncated");

	/* P5 with short or extra data. */
	expect_pgm_len("P5 2 2 255\n\x01\x02\x03", 14, MAXPX, TD_EFORMAT, "truncated");
	expect_pgm_len("P5 2 1 65535\n\x01\x02\x03", 16, MAXPX, TD_EFORMAT, "truncated");
	expect_pgm_len("P5 1 1 255\n\x01\x02", 13, MAXPX, TD_EFORMAT, "after");
	expect_pgm("P5 1 1 255", TD_EFORMAT, "header");

	/* Samples over maxval, too few, too many, not numbers. */
	expect_pgm("P2 2 1 15 3 16", TD_EFORMAT, "maxval");
	expect_pgm_len("P5 1 1 1000\n\x03\xe9", 14, MAXPX, TD_EFORMAT, "maxval");
	expect_pgm_len("P5 1 1 100\n\x65", 12, MAXPX, TD_EFORMAT, "maxval");
	expect_pgm("P2 2 2 255 1 2 3                   ", TD_EFORMAT, "truncated");
	expect_pgm("P2 2 1 255 1 2 3", TD_EFORMAT, "after");
	expect_pgm("P2 2 1 255 1 x", TD_EFORMAT, "sample");
	expect_pgm("P2 2 1 255 1 2x", TD_EFORMAT, "sample");
}
END_TEST

START_TEST(test_pgm_truncated)
{
	/* Every strict prefix of a P5 fails; so does every prefix of a P2 that
	 * stops before its last sample begins. */
	const char p5[] = "P5\n# c\n3 2\n65535\n\x00\x01\x00\x02\x00\x03\x00\x04\x00\x05\x00\x06";
	size_t n5 = sizeof(p5) - 1;
	struct gray_image img = decode_pgm_ok(p5, n5, 3, 2);
	image_free(&img);
	for (size_t n = 0; n < n5; n++)
		expect_pgm_len(p5, n, MAXPX, TD_EFORMAT, NULL);

	const char *p2 = "P2\n# c\n3 2\n255\n1 2 3\n4 5 66\n";
	size_t last = (size_t)(strstr(p2, "66") - p2);
	for (size_t n = 0; n < last; n++)
		expect_pgm_len(p2, n, MAXPX, TD_EFORMAT, NULL);
}
END_TEST

START_TEST(test_decode_sniffs)
{
	size_t len;
	unsigned char *png = png_card(&len);
	struct gray_image img;
	struct td_error e;
	ck_assert_int_eq(image_decode(png, len, MAXPX, &img, &e), 0);
	ck_assert_int_eq(img.width, 16);
	ck_assert_uint_eq(img.pixels[3], 21);
	image_free(&img);
	free(png);

	const char p5[] = "P5 1 1 255\n\x2a";
	ck_assert_int_eq(image_decode(p5, sizeof(p5) - 1, MAXPX, &img, &e), 0);
	ck_assert_uint_eq(img.pixels[0], 42);
	image_free(&img);

	ck_assert_int_eq(image_decode("GIF89a....", 10, MAXPX, &img, &e), TD_EUNSUPPORTED);
	ck_assert_ptr_null(img.pixels);
	ck_assert_int_eq(image_decode(p5, 1, MAXPX, &img, &e), TD_EUNSUPPORTED);
}
END_TEST

/* ---- to model inputs ---- */

START_TEST(test_input_polarity)
{
	/* Black ink on white paper is inverted ... */
	uint8_t px[10 * 10];
	memset(px, 255, sizeof(px));
	for (int y = 2; y < 8; y++)
		px[y * 10 + 4] = 0;
	struct gray_image img = {10, 10, px};
	float in[100];
	struct td_error e;
	ck_assert_int_eq(image_to_input(&img, 10, 10, in, &e), 0);
	ck_assert_float_eq_tol(in[0], 0.0f, 1e-6f);
	ck_assert_float_eq_tol(in[5 * 10 + 4], 1.0f, 1e-6f);

	/* ... white ink on black is kept as it is. */
	for (int i = 0; i < 100; i++)
		px[i] = (uint8_t)(255 - px[i]);
	ck_assert_int_eq(image_to_input(&img, 10, 10, in, &e), 0);
	ck_assert_float_eq_tol(in[0], 0.0f, 1e-6f);
	ck_assert_float_eq_tol(in[5 * 10 + 4], 1.0f, 1e-6f);

	/* A mid-gray canvas (border mean just under 0.5) is not inverted. */
	memset(px, 127, sizeof(px));
	ck_assert_int_eq(image_to_input(&img, 10, 10, in, &e), 0);
	ck_assert_float_eq_tol(in[55], 127.0f / 255.0f, 1e-6f);
	memset(px, 128, sizeof(px));
	ck_assert_int_eq(image_to_input(&img, 10, 10, in, &e), 0);
	ck_assert_float_eq_tol(in[55], 127.0f / 255.0f, 1e-6f);
}
END_TEST

START_TEST(test_input_resample)
{
	/* 3 -> 2 columns: the second output covers half of pixel 1 and pixel 2. */
	uint8_t px3[] = {0, 0, 255};
	struct gray_image img = {3, 1, px3};
	float out[16];
	struct td_error e;
	ck_assert_int_eq(image_to_input(&img, 2, 1, out, &e), 0);
	ck_assert_float_eq_tol(out[0], 0.0f, 1e-6f);
	ck_assert_float_eq_tol(out[1], 2.0f / 3.0f, 1e-6f);

	/* 2x2 -> 4x4: each source pixel becomes a 2x2 quadrant. */
	uint8_t px4[] = {0, 100, 50, 200};
	img = (struct gray_image){2, 2, px4};
	ck_assert_int_eq(image_to_input(&img, 4, 4, out, &e), 0);
	for (int y = 0; y < 4; y++)
		for (int x = 0; x < 4; x++)
			ck_assert_float_eq_tol(out[y * 4 + x], px4[(y / 2) * 2 + x / 2] / 255.0f,
					       1e-6f);

	/* 4x1 -> 1x1 is the mean. */
	uint8_t px1[] = {0, 40, 80, 120};
	img = (struct gray_image){4, 1, px1};
	ck_assert_int_eq(image_to_input(&img, 1, 1, out, &e), 0);
	ck_assert_float_eq_tol(out[0], 60.0f / 255.0f, 1e-6f);
}
END_TEST

START_TEST(test_input_invalid)
{
	uint8_t px[4] = {0};
	struct gray_image img = {2, 2, px};
	float out[4];
	struct td_error e;
	ck_assert_int_eq(image_to_input(&img, 0, 2, out, &e), TD_EINVAL);
	ck_assert_int_eq(image_to_input(&img, 2, -1, out, &e), TD_EINVAL);
	ck_assert_int_eq(image_to_input(NULL, 2, 2, out, &e), TD_EINVAL);
	struct gray_image empty = {0, 0, NULL};
	ck_assert_int_eq(image_to_input(&empty, 2, 2, out, &e), TD_EINVAL);
	ck_assert(e.msg[0] != '\0');
}
END_TEST

/* ---- MNIST preprocessing ---- */

struct stats {
	int x0, y0, x1, y1; /* bounding box of ink, inclusive; x1 < 0 if none */
	double cx, cy;      /* centre of mass, pixel i's centre at i + 0.5 */
	double mass;
};

static struct stats measure(const float *p, int w, int h)
{
	struct stats s = {w, h, -1, -1, 0, 0, 0};
	double mx = 0, my = 0;
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			float v = p[y * w + x];
			if (v > 1e-3f) {
				s.x0 = x < s.x0 ? x : s.x0;
				s.x1 = x > s.x1 ? x : s.x1;
				s.y0 = y < s.y0 ? y : s.y0;
				s.y1 = y > s.y1 ? y : s.y1;
			}
			s.mass += v;
			mx += v * (x + 0.5);
			my += v * (y + 0.5);
		}
	}
	if (s.mass > 0) {
		s.cx = mx / s.mass;
		s.cy = my / s.mass;
	}
	return s;
}

static void fill_rect(float *p, int w, int x0, int y0, int rw, int rh, float v)
{
	for (int y = y0; y < y0 + rh; y++)
		for (int x = x0; x < x0 + rw; x++)
			p[y * w + x] = v;
}

static void expect_centred(const struct stats *s, int w, int h)
{
	ck_assert_msg(fabs(s->cx - w / 2.0) <= 1.0 && fabs(s->cy - h / 2.0) <= 1.0,
		      "centre of mass at %.2f,%.2f, expected within 1 of %.1f,%.1f", s->cx, s->cy,
		      w / 2.0, h / 2.0);
}

START_TEST(test_mnist_offcentre_blob)
{
	/* A 5x8 blob with a soft edge in the top-left corner. */
	float p[28 * 28] = {0};
	fill_rect(p, 28, 1, 2, 5, 8, 1.0f);
	fill_rect(p, 28, 1, 2, 5, 1, 0.5f);
	image_preprocess_mnist(p, 28, 28);
	struct stats s = measure(p, 28, 28);
	ck_assert_int_eq(s.y1 - s.y0 + 1, 20);
	ck_assert_int_le(s.x1 - s.x0 + 1, 20);
	ck_assert_int_eq(s.x1 - s.x0 + 1, 13); /* 5 * 20/8 = 12.5, aspect kept */
	expect_centred(&s, 28, 28);
	for (int i = 0; i < 28 * 28; i++)
		ck_assert(p[i] >= 0.0f && p[i] <= 1.0f);
}
END_TEST

START_TEST(test_mnist_centre_of_mass_not_box)
{
	/* An L: its mass sits left of and below its box's centre, so centring
	 * the box would put the centre of mass about 4 pixels off. */
	float p[28 * 28] = {0};
	fill_rect(p, 28, 14, 3, 2, 12, 1.0f);
	fill_rect(p, 28, 14, 13, 12, 2, 1.0f);
	image_preprocess_mnist(p, 28, 28);
	struct stats s = measure(p, 28, 28);
	ck_assert_int_eq(s.x1 - s.x0 + 1, 20);
	ck_assert_int_eq(s.y1 - s.y0 + 1, 20);
	expect_centred(&s, 28, 28);
	double box_cx = (s.x0 + s.x1 + 1) / 2.0;
	ck_assert_msg(fabs(box_cx - 14.0) >= 2.0, "box centre %.1f: the L is centred by its box",
		      box_cx);
}
END_TEST

START_TEST(test_mnist_scales_up_and_down)
{
	/* A 2x2 dot grows to 20x20. */
	float p[28 * 28] = {0};
	fill_rect(p, 28, 25, 0, 2, 2, 0.8f);
	image_preprocess_mnist(p, 28, 28);
	struct stats s = measure(p, 28, 28);
	ck_assert_int_eq(s.x1 - s.x0 + 1, 20);
	ck_assert_int_eq(s.y1 - s.y0 + 1, 20);
	ck_assert_int_eq(s.x0, 4);
	ck_assert_int_eq(s.y0, 4);
	ck_assert_float_eq_tol(p[14 * 28 + 14], 0.8f, 1e-6f);

	/* A full frame shrinks to 20x20 in the middle. */
	for (int i = 0; i < 28 * 28; i++)
		p[i] = 1.0f;
	image_preprocess_mnist(p, 28, 28);
	s = measure(p, 28, 28);
	ck_assert_int_eq(s.x0, 4);
	ck_assert_int_eq(s.x1, 23);
	ck_assert_int_eq(s.y0, 4);
	ck_assert_int_eq(s.y1, 23);
	ck_assert_float_eq_tol(s.mass, 400.0, 1e-3);

	/* A wide bar keeps its aspect: 14x4 -> 20x6. */
	memset(p, 0, sizeof(p));
	fill_rect(p, 28, 0, 20, 14, 4, 1.0f);
	image_preprocess_mnist(p, 28, 28);
	s = measure(p, 28, 28);
	ck_assert_int_eq(s.x1 - s.x0 + 1, 20);
	ck_assert_int_eq(s.y1 - s.y0 + 1, 6);
	expect_centred(&s, 28, 28);
}
END_TEST

START_TEST(test_mnist_other_sizes)
{
	/* 56x56: the box is 40x40 (and the scratch no longer fits the stack). */
	enum { N = 56 };
	float *p = calloc(N * N, sizeof(*p));
	ck_assert_ptr_nonnull(p);
	fill_rect(p, N, 40, 45, 9, 7, 1.0f);
	image_preprocess_mnist(p, N, N);
	struct stats s = measure(p, N, N);
	ck_assert_int_eq(s.x1 - s.x0 + 1, 40);
	expect_centred(&s, N, N);
	free(p);

	/* 28 wide, 14 high: the box is 20x10, so a square blob becomes 10x10. */
	float q[28 * 14] = {0};
	fill_rect(q, 28, 0, 0, 3, 3, 1.0f);
	image_preprocess_mnist(q, 28, 14);
	s = measure(q, 28, 14);
	ck_assert_int_eq(s.x1 - s.x0 + 1, 10);
	ck_assert_int_eq(s.y1 - s.y0 + 1, 10);
	expect_centred(&s, 28, 14);
}
END_TEST

START_TEST(test_mnist_empty_unchanged)
{
	float p[28 * 28] = {0}, before[28 * 28];
	p[3] = 1e-4f; /* below the ink threshold */
	p[700] = 1e-3f;
	memcpy(before, p, sizeof(p));
	image_preprocess_mnist(p, 28, 28);
	ck_assert_int_eq(memcmp(p, before, sizeof(p)), 0);
	image_preprocess_mnist(NULL, 28, 28);
	image_preprocess_mnist(p, 0, 28);
	ck_assert_int_eq(memcmp(p, before, sizeof(p)), 0);
}
END_TEST

START_TEST(test_pipeline_black_on_white_png)
{
	/* A dark pen stroke on white paper, off in a corner of a 200x150 PNG,
	 * comes out as an MNIST-like input: inverted, 20 high, centred. */
	enum { W = 200, H = 150 };
	uint8_t *rgb = malloc(W * H * 3);
	ck_assert_ptr_nonnull(rgb);
	memset(rgb, 255, W * H * 3);
	for (int y = 10; y < 60; y++)
		for (int x = 150; x < 160; x++)
			memset(rgb + (y * W + x) * 3, 10, 3);
	struct png_spec sp = {.w = W, .h = H, .color = PNG_COLOR_TYPE_RGB, .depth = 8,
			      .data = rgb};
	size_t len;
	unsigned char *png = png_make(&sp, &len);
	struct gray_image img = decode_png_ok(png, len, W, H);

	float in[28 * 28];
	struct td_error e;
	ck_assert_int_eq(image_to_input(&img, 28, 28, in, &e), 0);
	ck_assert_msg(in[0] < 0.05f, "paper is %f, not dark", (double)in[0]);
	image_preprocess_mnist(in, 28, 28);
	struct stats s = measure(in, 28, 28);
	ck_assert_int_eq(s.y1 - s.y0 + 1, 20);
	ck_assert_int_lt(s.x1 - s.x0 + 1, 20);
	expect_centred(&s, 28, 28);
	ck_assert_float_eq_tol(in[0], 0.0f, 1e-6f);
	float peak = 0.0f;
	for (int i = 0; i < 28 * 28; i++)
		peak = in[i] > peak ? in[i] : peak;
	ck_assert_msg(peak > 0.9f, "the stroke peaks at %f", (double)peak);
	image_free(&img);
	free(png);
	free(rgb);
}
END_TEST

Suite *suite_image(void)
{
	Suite *s = suite_create("image");

	TCase *tc = tcase_create("png");
	tcase_add_test(tc, test_png_gray8);
	tcase_add_test(tc, test_png_gray_low_depth);
	tcase_add_test(tc, test_png_gray16);
	tcase_add_test(tc, test_png_rgb);
	tcase_add_test(tc, test_png_rgba_stroke);
	tcase_add_test(tc, test_png_gray_alpha);
	tcase_add_test(tc, test_png_palette);
	tcase_add_test(tc, test_png_gray_trns);
	tcase_add_test(tc, test_png_interlaced);
	tcase_add_test(tc, test_png_ancillary_ignored);
	tcase_add_test(tc, test_png_large_downsampled);
	tcase_add_test(tc, test_png_size_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("png_corrupt");
	tcase_add_test(tc, test_png_truncated);
	tcase_add_test(tc, test_png_garbage);
	tcase_add_test(tc, test_png_bad_crc);
	tcase_add_test(tc, test_png_bad_header);
	tcase_add_test(tc, test_png_mutations);
	suite_add_tcase(s, tc);

	tc = tcase_create("pgm");
	tcase_add_test(tc, test_pgm_p2_comments);
	tcase_add_test(tc, test_pgm_p5);
	tcase_add_test(tc, test_pgm_p5_16bit);
	tcase_add_test(tc, test_pgm_errors);
	tcase_add_test(tc, test_pgm_truncated);
	tcase_add_test(tc, test_decode_sniffs);
	suite_add_tcase(s, tc);

	tc = tcase_create("input");
	tcase_add_test(tc, test_input_polarity);
	tcase_add_test(tc, test_input_resample);
	tcase_add_test(tc, test_input_invalid);
	suite_add_tcase(s, tc);

	tc = tcase_create("mnist");
	tcase_add_test(tc, test_mnist_offcentre_blob);
	tcase_add_test(tc, test_mnist_centre_of_mass_not_box);
	tcase_add_test(tc, test_mnist_scales_up_and_down);
	tcase_add_test(tc, test_mnist_other_sizes);
	tcase_add_test(tc, test_mnist_empty_unchanged);
	tcase_add_test(tc, test_pipeline_black_on_white_png);
	suite_add_tcase(s, tc);

	return s;
}
