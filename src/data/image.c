/*
 * image.c - decoding uploaded images to 8-bit grayscale and turning them
 * into model inputs (see image.h).
 *
 * Both decoders treat their buffer as hostile: the declared size is
 * checked against the caller's pixel limit before any pixel memory is
 * allocated, every read is bounded by the buffer's length, and every
 * error path frees what was allocated. The PNG decoder leaves the format
 * to libpng, whose errors come back through a longjmp into png_run();
 * everything that must survive that jump lives in a struct png_ctx owned
 * by the caller of png_run(), never in png_run()'s own locals.
 */
#include "traind/image.h"

#include "traind/byteorder.h"

#include <limits.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

#define FIELD "image"

static const uint8_t png_signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

void image_free(struct gray_image *img)
{
	if (!img)
		return;
	free(img->pixels);
	img->pixels = NULL;
	img->width = 0;
	img->height = 0;
}

static void image_clear(struct gray_image *img)
{
	img->width = 0;
	img->height = 0;
	img->pixels = NULL;
}

/* The shared size check: both sides positive, within int and the limit. */
static int check_size(uint64_t w, uint64_t h, size_t max_pixels, const char *fmt,
		      struct td_error *e)
{
	if (w == 0 || h == 0)
		return td_errorf(e, TD_EFORMAT, FIELD, "%s declares a zero size (%llux%llu)", fmt,
				 (unsigned long long)w, (unsigned long long)h);
	if (w > INT_MAX || h > INT_MAX || w * h > max_pixels)
		return td_errorf(e, TD_ETOOBIG, FIELD,
				 "%s is %llux%llu pixels, over the limit of %zu pixels", fmt,
				 (unsigned long long)w, (unsigned long long)h, max_pixels);
	return 0;
}

/* ---- PNG ---- */

struct png_ctx {
	const uint8_t *buf;
	size_t len, pos;
	size_t max_pixels;
	png_structp png;
	png_infop info;
	uint8_t *raw;    /* the decoded rows, 1-4 channels of 8 bits */
	png_bytep *rows; /* row pointers into raw */
	uint8_t *gray;   /* the result, handed to the caller on success */
	int width, height;
	struct td_error *e;
};

static void png_error_fn(png_structp png, png_const_charp msg)
{
	struct png_ctx *c = png_get_error_ptr(png);
	td_errorf(c->e, TD_EFORMAT, FIELD, "corrupt PNG: %s", msg ? msg : "unknown error");
	png_longjmp(png, 1);
}

static void png_warning_fn(png_structp png, png_const_charp msg)
{
	/* A library inside a daemon does not print; warnings change nothing. */
	(void)png;
	(void)msg;
}

static void png_read_fn(png_structp png, png_bytep data, size_t n)
{
	struct png_ctx *c = png_get_io_ptr(png);
	if (n > c->len - c->pos)
		png_error(png, "unexpected end of data (truncated file)");
	memcpy(data, c->buf + c->pos, n);
	c->pos += n;
}


/*
 * Looks at the IHDR chunk before libpng does, so a declared size over the
 * limit is reported as such (libpng's own user limits, set as a second
 * guard, would only say "exceeds user limit" as a format error). Anything
 * malformed is left for libpng to name.
 */
static int png_precheck(const uint8_t *b, size_t len, size_t max_pixels, struct td_error *e)
{
	if (len < sizeof(png_signature) || memcmp(b, png_signature, sizeof(png_signature)) != 0)
		return td_errorf(e, TD_EFORMAT, FIELD, "not a PNG: the signature is missing");
	if (len >= 8 + 8 + 13 && td_get_be32(b + 8) == 13 && memcmp(b + 12, "IHDR", 4) == 0) {
		uint32_t w = td_get_be32(b + 16), h = td_get_be32(b + 20);
		if (w != 0 && h != 0)
			return check_size(w, h, max_pixels, "PNG", e);
	}
	return 0;
}

static uint8_t luma(unsigned r, unsigned g, unsigned b)
{
	/* Rec. 601 weights on the stored (gamma-encoded) values, rounded. */
	return (uint8_t)((299 * r + 587 * g + 114 * b + 500) / 1000);
}

static uint8_t over_white(unsigned v, unsigned a)
{
	return (uint8_t)((v * a + 255 * (255 - a) + 127) / 255);
}

static void png_to_gray(struct png_ctx *c, int channels)
{
	size_t n = (size_t)c->width * (size_t)c->height;
	const uint8_t *s = c->raw;
	uint8_t *d = c->gray;

	for (size_t i = 0; i < n; i++, s += channels) {
		switch (channels) {
		case 1:
			d[i] = s[0];
			break;
		case 2:
			d[i] = over_white(s[0], s[1]);
			break;
		case 3:
			d[i] = luma(s[0], s[1], s[2]);
			break;
		default:
			d[i] = over_white(luma(s[0], s[1], s[2]), s[3]);
			break;
		}
	}
}

/* The part that runs under setjmp: it touches no local it relies on after a jump. */
static int png_run(struct png_ctx *c)
{
	png_uint_32 w, h;
	int depth, color, interlace;

	if (setjmp(png_jmpbuf(c->png)))
		return TD_EFORMAT; /* png_error_fn has filled the message */

	png_set_read_fn(c->png, c, png_read_fn);
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	/* A fuzzer cannot forge CRCs: let its inputs reach past them. */
	png_set_crc_action(c->png, PNG_CRC_QUIET_USE, PNG_CRC_QUIET_USE);
#endif
	png_uint_32 lim = c->max_pixels > 0x7fffffffu ? 0x7fffffffu : (png_uint_32)c->max_pixels;
	png_set_user_limits(c->png, lim ? lim : 1, lim ? lim : 1);
#ifdef PNG_HANDLE_AS_UNKNOWN_SUPPORTED
	/* Only IHDR, PLTE, tRNS, IDAT and IEND matter here: skip the parsing
	 * (and the decompression of iCCP, zTXt, iTXt) of everything else. */
	static const png_byte ignored[] = "bKGD\0cHRM\0eXIf\0gAMA\0hIST\0iCCP\0iTXt\0oFFs\0"
					  "pCAL\0pHYs\0sBIT\0sCAL\0sPLT\0sRGB\0tEXt\0tIME\0zTXt";
	png_set_keep_unknown_chunks(c->png, PNG_HANDLE_CHUNK_NEVER, NULL, 0);
	png_set_keep_unknown_chunks(c->png, PNG_HANDLE_CHUNK_NEVER, ignored,
				    (int)(sizeof(ignored) / 5));
#endif

	png_read_info(c->png, c->info);
	png_get_IHDR(c->png, c->info, &w, &h, &depth, &color, &interlace, NULL, NULL);
	int rc = check_size(w, h, c->max_pixels, "PNG", c->e);
	if (rc)
		return rc;
	c->width = (int)w;
	c->height = (int)h;

	if (color == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(c->png);
	if (color == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(c->png);
	if (png_get_valid(c->png, c->info, PNG_INFO_tRNS))
		png_set_tRNS_to_alpha(c->png);
	if (depth == 16)
		png_set_strip_16(c->png);
	png_set_interlace_handling(c->png);
	png_read_update_info(c->png, c->info);

	int channels = png_get_channels(c->png, c->info);
	size_t rowbytes = png_get_rowbytes(c->png, c->info);
	if (png_get_bit_depth(c->png, c->info) != 8 || channels < 1 || channels > 4 ||
	    rowbytes != (size_t)channels * w)
		return td_errorf(c->e, TD_EINTERNAL, FIELD,
				 "PNG transforms gave %d channels of %d bits, not 8-bit samples",
				 channels, png_get_bit_depth(c->png, c->info));

	/* w * h <= max_pixels, which is a size_t, so only the factor can overflow. */
	size_t n = (size_t)w * h;
	if (n > SIZE_MAX / 4)
		return td_errorf(c->e, TD_ETOOBIG, FIELD, "PNG of %zu pixels is too large", n);
	c->raw = malloc(n * (size_t)channels);
	c->rows = malloc((size_t)h * sizeof(*c->rows));
	c->gray = malloc(n);
	if (!c->raw || !c->rows || !c->gray)
		return td_errorf(c->e, TD_ENOMEM, FIELD, "out of memory decoding a %ux%u PNG",
				 (unsigned)w, (unsigned)h);
	for (png_uint_32 y = 0; y < h; y++)
		c->rows[y] = c->raw + (size_t)y * rowbytes;

	png_read_image(c->png, c->rows);
	png_read_end(c->png, NULL); /* checks the CRCs up to IEND */

	png_to_gray(c, channels);
	return 0;
}

int image_decode_png(const void *buf, size_t len, size_t max_pixels, struct gray_image *out,
		     struct td_error *e)
{
	image_clear(out);
	if (!buf)
		len = 0;
	int rc = png_precheck(buf, len, max_pixels, e);
	if (rc)
		return rc;

	struct png_ctx c = {
		.buf = buf, .len = len, .pos = 0, .max_pixels = max_pixels, .e = e,
	};
	c.png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &c, png_error_fn, png_warning_fn);
	if (!c.png)
		return td_errorf(e, TD_ENOMEM, FIELD, "out of memory starting the PNG decoder");
	c.info = png_create_info_struct(c.png);
	if (!c.info) {
		png_destroy_read_struct(&c.png, NULL, NULL);
		return td_errorf(e, TD_ENOMEM, FIELD, "out of memory starting the PNG decoder");
	}

	rc = png_run(&c);

	png_destroy_read_struct(&c.png, &c.info, NULL);
	free(c.rows);
	free(c.raw);
	if (rc) {
		free(c.gray);
		return rc;
	}
	out->width = c.width;
	out->height = c.height;
	out->pixels = c.gray;
	return 0;
}

/* ---- PGM ---- */

struct pgm_reader {
	const uint8_t *p;
	size_t len, pos;
};

static int pgm_space(int ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\v' || ch == '\f';
}

static void pgm_skip_comment(struct pgm_reader *r)
{
	while (r->pos < r->len && r->p[r->pos] != '\n' && r->p[r->pos] != '\r')
		r->pos++;
}

static void pgm_skip_space(struct pgm_reader *r)
{
	while (r->pos < r->len) {
		if (pgm_space(r->p[r->pos]))
			r->pos++;
		else if (r->p[r->pos] == '#')
			pgm_skip_comment(r);
		else
			break;
	}
}

/* A decimal number ending at whitespace, a comment or the end of data. */
static int pgm_number(struct pgm_reader *r, const char *what, uint32_t *v, struct td_error *e)
{
	pgm_skip_space(r);
	if (r->pos >= r->len)
		return td_errorf(e, TD_EFORMAT, FIELD, "PGM ends before the %s", what);
	uint64_t x = 0;
	size_t start = r->pos;
	while (r->pos < r->len && r->p[r->pos] >= '0' && r->p[r->pos] <= '9') {
		x = x * 10 + (uint64_t)(r->p[r->pos] - '0');
		if (x > UINT32_MAX)
			return td_errorf(e, TD_EFORMAT, FIELD, "PGM %s is too large a number", what);
		r->pos++;
	}
	if (r->pos == start)
		return td_errorf(e, TD_EFORMAT, FIELD, "PGM %s is not a decimal number", what);
	if (r->pos < r->len && !pgm_space(r->p[r->pos]) && r->p[r->pos] != '#')
		return td_errorf(e, TD_EFORMAT, FIELD, "PGM %s is followed by a stray character",
				 what);
	*v = (uint32_t)x;
	return 0;
}

static uint8_t pgm_scale(uint32_t v, uint32_t maxval)
{
	return (uint8_t)((v * 255u + maxval / 2) / maxval);
}

static int pgm_raster_p5(struct pgm_reader *r, size_t n, uint32_t maxval, uint8_t *px,
			 struct td_error *e)
{
	const uint8_t *s = r->p + r->pos;
	for (size_t i = 0; i < n; i++) {
		uint32_t v = maxval > 255 ? (uint32_t)s[2 * i] << 8 | s[2 * i + 1] : s[i];
		if (v > maxval)
			return td_errorf(e, TD_EFORMAT, FIELD,
					 "PGM sample %zu is %u, over the maxval of %u", i,
					 (unsigned)v, (unsigned)maxval);
		px[i] = pgm_scale(v, maxval);
	}
	return 0;
}

static int pgm_raster_p2(struct pgm_reader *r, size_t n, uint32_t maxval, uint8_t *px,
			 struct td_error *e)
{
	for (size_t i = 0; i < n; i++) {
		uint32_t v;
		pgm_skip_space(r);
		if (r->pos >= r->len)
			return td_errorf(e, TD_EFORMAT, FIELD,
					 "PGM raster is truncated: %zu of %zu samples", i, n);
		int rc = pgm_number(r, "sample", &v, e);
		if (rc)
			return rc;
		if (v > maxval)
			return td_errorf(e, TD_EFORMAT, FIELD,
					 "PGM sample %zu is %u, over the maxval of %u", i,
					 (unsigned)v, (unsigned)maxval);
		px[i] = pgm_scale(v, maxval);
	}
	pgm_skip_space(r);
	if (r->pos != r->len)
		return td_errorf(e, TD_EFORMAT, FIELD, "PGM has data after its %zu samples", n);
	return 0;
}

int image_decode_pgm(const void *buf, size_t len, size_t max_pixels, struct gray_image *out,
		     struct td_error *e)
{
	struct pgm_reader r = {.p = buf, .len = buf ? len : 0, .pos = 0};
	uint32_t w, h, maxval;
	int rc;

	image_clear(out);
	if (r.len < 2 || r.p[0] != 'P' || (r.p[1] != '2' && r.p[1] != '5'))
		return td_errorf(e, TD_EFORMAT, FIELD, "not a PGM: the magic is not P2 or P5");
	int binary = r.p[1] == '5';
	r.pos = 2;
	if (r.pos < r.len && !pgm_space(r.p[r.pos]) && r.p[r.pos] != '#')
		return td_errorf(e, TD_EFORMAT, FIELD, "PGM magic is followed by a stray character");
	if ((rc = pgm_number(&r, "width", &w, e)) || (rc = pgm_number(&r, "height", &h, e)) ||
	    (rc = pgm_number(&r, "maxval", &maxval, e)))
		return rc;
	if (maxval < 1 || maxval > 65535)
		return td_errorf(e, TD_EFORMAT, FIELD, "PGM maxval is %u, not within 1..65535",
				 (unsigned)maxval);
	if ((rc = check_size(w, h, max_pixels, "PGM", e)))
		return rc;

	/* Exactly one whitespace character (or a comment line) ends the header. */
	if (r.pos >= r.len)
		return td_errorf(e, TD_EFORMAT, FIELD, "PGM ends after its header");
	if (r.p[r.pos] == '#') {
		pgm_skip_comment(&r);
		if (r.pos >= r.len)
			return td_errorf(e, TD_EFORMAT, FIELD, "PGM ends after its header");
	}
	r.pos++;

	size_t n = (size_t)w * h;
	size_t left = r.len - r.pos;
	if (binary) {
		size_t bps = maxval > 255 ? 2 : 1;
		if (n > SIZE_MAX / bps || left < n * bps)
			return td_errorf(e, TD_EFORMAT, FIELD,
					 "PGM raster is truncated: %zu bytes for %zu samples of %zu bytes",
					 left, n, bps);
		if (left > n * bps)
			return td_errorf(e, TD_EFORMAT, FIELD, "PGM has %zu bytes after its raster",
					 left - n * bps);
	} else if ((left + 1) / 2 < n) {
		/* n samples need n digits and n - 1 separators: 2n - 1 bytes. */
		return td_errorf(e, TD_EFORMAT, FIELD,
				 "PGM raster is truncated: %zu bytes cannot hold %zu samples", left, n);
	}

	uint8_t *px = malloc(n);
	if (!px)
		return td_errorf(e, TD_ENOMEM, FIELD, "out of memory decoding a %ux%u PGM",
				 (unsigned)w, (unsigned)h);
	rc = binary ? pgm_raster_p5(&r, n, maxval, px, e) : pgm_raster_p2(&r, n, maxval, px, e);
	if (rc) {
		free(px);
		return rc;
	}
	out->width = (int)w;
	out->height = (int)h;
	out->pixels = px;
	return 0;
}

int image_decode(const void *buf, size_t len, size_t max_pixels, struct gray_image *out,
		 struct td_error *e)
{
	const uint8_t *b = buf;

	image_clear(out);
	if (b && len >= sizeof(png_signature) &&
	    memcmp(b, png_signature, sizeof(png_signature)) == 0)
		return image_decode_png(buf, len, max_pixels, out, e);
	if (b && len >= 2 && b[0] == 'P' && (b[1] == '2' || b[1] == '5'))
		return image_decode_pgm(buf, len, max_pixels, out, e);
	return td_errorf(e, TD_EUNSUPPORTED, FIELD, "the image is neither a PNG nor a PGM (P2/P5)");
}

/* ---- resampling and preprocessing ---- */

/*
 * Area averaging: each destination pixel is the mean of the source area
 * it covers, partly covered source pixels counting by their overlap. The
 * source is either 8-bit (u8, scaled to [0,1]) or float (f), with `stride`
 * elements per row.
 */
static void resample_area(const uint8_t *u8, const float *f, size_t stride, int sw, int sh,
			  float *dst, int dw, int dh)
{
	for (int oy = 0; oy < dh; oy++) {
		double y0 = (double)oy * sh / dh, y1 = (double)(oy + 1) * sh / dh;
		int iy0 = (int)y0, iy1 = (int)ceil(y1);
		if (iy1 > sh)
			iy1 = sh;
		for (int ox = 0; ox < dw; ox++) {
			double x0 = (double)ox * sw / dw, x1 = (double)(ox + 1) * sw / dw;
			int ix0 = (int)x0, ix1 = (int)ceil(x1);
			if (ix1 > sw)
				ix1 = sw;
			double acc = 0.0, wsum = 0.0;
			for (int iy = iy0; iy < iy1; iy++) {
				double wy = fmin(iy + 1.0, y1) - fmax((double)iy, y0);
				if (wy <= 0.0)
					continue;
				size_t row = (size_t)iy * stride;
				for (int ix = ix0; ix < ix1; ix++) {
					double wx = fmin(ix + 1.0, x1) - fmax((double)ix, x0);
					if (wx <= 0.0)
						continue;
					double v = u8 ? u8[row + ix] / 255.0 : f[row + ix];
					acc += wx * wy * v;
					wsum += wx * wy;
				}
			}
			double v = wsum > 0.0 ? acc / wsum : 0.0;
			dst[(size_t)oy * dw + ox] = (float)(v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v);
		}
	}
}

int image_to_input(const struct gray_image *img, int out_w, int out_h, float *out,
		   struct td_error *e)
{
	if (!img || !img->pixels || img->width < 1 || img->height < 1)
		return td_errorf(e, TD_EINVAL, FIELD, "there is no image to resample");
	if (out_w < 1 || out_h < 1 || !out)
		return td_errorf(e, TD_EINVAL, FIELD, "the input size %dx%d is not positive", out_w,
				 out_h);

	resample_area(img->pixels, NULL, (size_t)img->width, img->width, img->height, out, out_w,
		      out_h);

	double border = 0.0;
	size_t nborder = 0;
	for (int y = 0; y < out_h; y++) {
		for (int x = 0; x < out_w; x++) {
			if (y == 0 || y == out_h - 1 || x == 0 || x == out_w - 1) {
				border += out[(size_t)y * out_w + x];
				nborder++;
			}
		}
	}
	if (border / (double)nborder > 0.5) {
		size_t n = (size_t)out_w * (size_t)out_h;
		for (size_t i = 0; i < n; i++)
			out[i] = 1.0f - out[i];
	}
	return 0;
}

/* Anything above this counts as ink: under half of one 8-bit gray level. */
#define INK_EPSILON (1.0f / 512.0f)

/* Scratch for the scaled digit: enough for images up to about 44x44. */
#define PREPROCESS_STACK 1024

void image_preprocess_mnist(float *pixels, int w, int h)
{
	if (!pixels || w < 1 || h < 1)
		return;

	int bx0 = w, by0 = h, bx1 = -1, by1 = -1;
	for (int y = 0; y < h; y++) {
		for (int x = 0; x < w; x++) {
			if (pixels[(size_t)y * w + x] > INK_EPSILON) {
				bx0 = x < bx0 ? x : bx0;
				bx1 = x > bx1 ? x : bx1;
				by0 = y < by0 ? y : by0;
				by1 = y > by1 ? y : by1;
			}
		}
	}
	if (bx1 < 0)
		return;
	int bw = bx1 - bx0 + 1, bh = by1 - by0 + 1;

	/* The target box: 20x20 of 28x28, proportionally otherwise. */
	int tw = (int)lround(w * 20.0 / 28.0), th = (int)lround(h * 20.0 / 28.0);
	tw = tw < 1 ? 1 : tw;
	th = th < 1 ? 1 : th;
	double s = fmin((double)tw / bw, (double)th / bh);
	int nw = (int)lround(bw * s), nh = (int)lround(bh * s);
	nw = nw < 1 ? 1 : nw > tw ? tw : nw;
	nh = nh < 1 ? 1 : nh > th ? th : nh;

	float stack[PREPROCESS_STACK];
	size_t nn = (size_t)nw * (size_t)nh;
	float *tmp = nn <= PREPROCESS_STACK ? stack : malloc(nn * sizeof(*tmp));
	if (!tmp)
		return; /* documented: left as it is */

	resample_area(NULL, pixels + (size_t)by0 * w + bx0, (size_t)w, bw, bh, tmp, nw, nh);

	/* Centre of mass of the scaled digit, pixel i's centre at i + 0.5. */
	double mass = 0.0, mx = 0.0, my = 0.0;
	for (int y = 0; y < nh; y++) {
		for (int x = 0; x < nw; x++) {
			double v = tmp[(size_t)y * nw + x];
			mass += v;
			mx += v * (x + 0.5);
			my += v * (y + 0.5);
		}
	}
	double cx = mass > 0.0 ? mx / mass : nw / 2.0;
	double cy = mass > 0.0 ? my / mass : nh / 2.0;
	long ox = lround(w / 2.0 - cx), oy = lround(h / 2.0 - cy);

	memset(pixels, 0, (size_t)w * (size_t)h * sizeof(*pixels));
	for (int y = 0; y < nh; y++) {
		long ty = y + oy;
		if (ty < 0 || ty >= h)
			continue;
		for (int x = 0; x < nw; x++) {
			long tx = x + ox;
			if (tx >= 0 && tx < w)
				pixels[(size_t)ty * w + (size_t)tx] = tmp[(size_t)y * nw + x];
		}
	}
	if (tmp != stack)
		free(tmp);
}
