/*
 * check_oip_fast.c - the one-pass reader of a binary infer request's
 * header (oip_fast.c) against the general reader (oip_parse.c): on headers
 * plain and odd, valid and not, both give the same answer - the same
 * error and field, or the same id, range, preprocessing, outputs and
 * inputs - and the plain ones are the ones read in one pass.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_suites.h"
#include "traind/oip_internal.h"

#define ONE "{\"name\":\"input\",\"shape\":[1,784],\"datatype\":\"FP32\"," \
	    "\"parameters\":{\"binary_data_size\":3136}}"
#define TWO_U8 "{\"name\":\"input\",\"shape\":[2,28,28],\"datatype\":\"UINT8\"," \
	       "\"parameters\":{\"binary_data_size\":1568}}"

struct header_case {
	const char *json;
	size_t bytes; /* binary bytes after it */
	int one_pass; /* oip_fast_header takes it */
	int nul;      /* a NUL byte ends the header */
};

static const struct header_case cases[] = {
	/* plain: what clients send */
	{"{\"inputs\":[" ONE "]}", 3136, 1, 0},
	{"{\"inputs\": [{\"name\": \"input\", \"shape\": [1, 784], \"datatype\": \"FP32\", "
	 "\"parameters\": {\"binary_data_size\": 3136}}], \"parameters\": "
	 "{\"binary_data_output\": true}}", 3136, 1, 0},
	{"{\"id\":\"req-7\",\"inputs\":[" ONE "],\"outputs\":[{\"name\":\"label\"}]}", 3136, 1, 0},
	{"{\"outputs\":[{\"name\":\"probabilities\",\"parameters\":{\"binary_data\":false}},"
	 "{\"name\":\"label\",\"parameters\":{\"binary_data\":true}}],\"inputs\":[" ONE "],"
	 "\"parameters\":{\"binary_data_output\":true}}", 3136, 1, 0},
	{"{\"parameters\":{\"binary_data_output\":true},\"outputs\":[{\"name\":\"label\"}],"
	 "\"inputs\":[" ONE "]}", 3136, 1, 0},
	{"{\"inputs\":[" ONE "],\"outputs\":[{\"parameters\":{\"binary_data\":true},"
	 "\"name\":\"probabilities\"}]}", 3136, 1, 0},
	{"{\"inputs\":[" TWO_U8 "],\"parameters\":{\"pixel_range\":255,\"preprocess\":\"mnist\","
	 "\"priority\":1,\"timeout\":0}}", 1568, 1, 0},
	{"{\"inputs\":[" TWO_U8 "],\"parameters\":{\"pixel_range\":1}}", 1568, 1, 0},
	{"{\"inputs\":[{\"parameters\":{\"binary_data_size\":784},\"datatype\":\"UINT8\","
	 "\"shape\":[1,1,28,28],\"name\":\"input\"}],\"parameters\":{\"preprocess\":\"none\"}}",
	 784, 1, 0},
	{"{\"inputs\":[" ONE "],\"parameters\":{\"pixel_range\":255}}", 3136, 1, 0},
	{" \r\n\t{ \"inputs\" :\n[ " ONE " ] , \"id\" : \"\" }\n ", 3136, 1, 0},
	{"{\"inputs\":[" ONE "],\"parameters\":{}}", 3136, 1, 0},
	/* plain headers the common part then refuses */
	{"{\"inputs\":[" ONE "]}", 3000, 1, 0},
	{"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],\"datatype\":\"FP32\","
	 "\"parameters\":{\"binary_data_size\":3135}}]}", 3135, 1, 0},
	{"{\"inputs\":[" ONE "],\"parameters\":{\"pixel_range\":1}}", 3136, 1, 0},
	/* odd but valid: the general reader's */
	{"{\"id\":\"a\\u0041\",\"inputs\":[" ONE "]}", 3136, 0, 0},
	{"{\"id\":\"caf\xc3\xa9\",\"inputs\":[" ONE "]}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"parameters\":{\"pixel_range\":255.0}}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"parameters\":{\"priority\":\"high\",\"timeout\":-1}}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"outputs\":[{\"name\":\"label\",\"parameters\":{}}]}", 3136, 0, 0},
	{"{\"inputs\":[{\"name\":\"input\",\"shape\":[1.0,784],\"datatype\":\"FP32\","
	 "\"parameters\":{\"binary_data_size\":3136}}]}", 3136, 0, 0},
	{"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],\"datatype\":\"FP32\","
	 "\"parameters\":{\"binary_data_size\":3.136e3}}]}", 3136, 0, 0},
	/* errors: the general reader's words */
	{"{\"inputs\":[" ONE "],\"inputs\":[" ONE "]}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"extra\":1}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "]} x", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],}", 3136, 0, 0},
	{"{\"inputs\":[" ONE ",]}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "]", 3136, 0, 0},
	{"[{\"inputs\":[" ONE "]}]", 3136, 0, 0},
	{"{\"inputs\":[]}", 0, 0, 0},
	{"{\"inputs\":[" ONE "," ONE "]}", 6272, 0, 0},
	{"{\"inputs\":null}", 0, 0, 0},
	{"{\"id\":null,\"inputs\":[" ONE "]}", 3136, 0, 0},
	{"{\"id\":7,\"inputs\":[" ONE "]}", 3136, 0, 0},
	{"{\"inputs\":[{\"name\":\"input\",\"shape\":[9,784],\"datatype\":\"FP32\","
	 "\"parameters\":{\"binary_data_size\":28224}}]}", 28224, 0, 0},
	{"{\"inputs\":[{\"name\":\"input\",\"shape\":[0,784],\"datatype\":\"FP32\","
	 "\"parameters\":{\"binary_data_size\":0}}]}", 0, 0, 0},
	{"{\"inputs\":[{\"name\":\"input\",\"shape\":[-1,784],\"datatype\":\"FP32\","
	 "\"parameters\":{\"binary_data_size\":3136}}]}", 3136, 0, 0},
	{"{\"inputs\":[{\"name\":\"input\",\"shape\":[01,784],\"datatype\":\"FP32\","
	 "\"parameters\":{\"binary_data_size\":3136}}]}", 3136, 0, 0},
	{"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,783],\"datatype\":\"FP32\","
	 "\"parameters\":{\"binary_data_size\":3132}}]}", 3132, 0, 0},
	{"{\"inputs\":[{\"name\":\"image\",\"shape\":[1,784],\"datatype\":\"FP32\","
	 "\"parameters\":{\"binary_data_size\":3136}}]}", 3136, 0, 0},
	{"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],\"datatype\":\"FP16\","
	 "\"parameters\":{\"binary_data_size\":1568}}]}", 1568, 0, 0},
	{"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],\"datatype\":\"FP32\"}]}", 3136, 0, 0},
	{"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],\"datatype\":\"FP32\","
	 "\"parameters\":{\"binary_data_size\":3136},\"data\":[1]}]}", 3136, 0, 0},
	{"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],\"datatype\":\"FP32\","
	 "\"parameters\":{\"binary_data_size\":3136,\"x\":1}}]}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"parameters\":{\"pixel_range\":7}}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"parameters\":{\"preprocess\":\"invert\"}}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"parameters\":{\"binary_data_output\":1}}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"parameters\":{\"binary_data_output\":truex}}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"parameters\":{\"binary_data_output\":tru}}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"parameters\":[]}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"outputs\":[]}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"outputs\":[{\"name\":\"label\"},{\"name\":\"label\"}]}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"outputs\":[{\"name\":\"label\"},{\"name\":\"probabilities\"},"
	 "{\"name\":\"label\"}]}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"outputs\":[{\"name\":\"logits\"}]}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"outputs\":[{}]}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"outputs\":[{\"name\":\"label\",\"shape\":[1]}]}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "],\"outputs\":[{\"name\":\"label\",\"parameters\":"
	 "{\"binary_data\":true,\"binary_data\":false}}]}", 3136, 0, 0},
	{"{\"id\":\"x\x01y\",\"inputs\":[" ONE "]}", 3136, 0, 0},
	{"{\"inputs\":[" ONE "]}", 3136, 0, 1},
	{"", 3136, 0, 0},
	{"{", 3136, 0, 0},
	{"{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],\"datatype\":\"FP32\","
	 "\"parameters\":{\"binary_data_size\":31360000000000000}}]}", 3136, 0, 0},
};

/* Binary data every case can take: 0.5f as FP32, bytes 0 and 63 as UINT8. */
static char *body_for(const struct header_case *c, size_t *len, size_t *hlen)
{
	size_t n = strlen(c->json);
	*hlen = n + (size_t)c->nul;
	*len = *hlen + c->bytes;
	char *b = malloc(*len + 1);
	memcpy(b, c->json, n);
	if (c->nul)
		b[n] = '\0';
	static const unsigned char half[4] = {0, 0, 0, 0x3f};
	for (size_t k = 0; k < c->bytes; k++)
		b[*hlen + k] = (char)half[k % 4];
	return b;
}

static void ck_same_request(size_t i, const struct oip_request *a, const struct oip_request *b,
			    size_t features)
{
	ck_assert_msg((a->id == NULL) == (b->id == NULL), "case %zu: id", i);
	if (a->id)
		ck_assert_msg(strcmp(a->id, b->id) == 0, "case %zu: id %s, %s", i, a->id, b->id);
	ck_assert_msg(a->range == b->range && a->mnist == b->mnist &&
		      a->binary_all == b->binary_all && a->n == b->n && a->n_out == b->n_out,
		      "case %zu: range %g/%g mnist %d/%d binary %d/%d n %d/%d outputs %d/%d", i,
		      a->range, b->range, a->mnist, b->mnist, a->binary_all, b->binary_all, a->n,
		      b->n, a->n_out, b->n_out);
	for (int o = 0; o < a->n_out; o++)
		ck_assert_msg(a->out[o] == b->out[o] && a->out_binary[o] == b->out_binary[o],
			      "case %zu: output %d", i, o);
	ck_assert_msg(memcmp(a->x, b->x, sizeof(float) * features * (size_t)a->n) == 0,
		      "case %zu: inputs", i);
}

START_TEST(test_one_pass_matches_the_general_reader)
{
	int taken = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct header_case *c = &cases[i];
		size_t len, hlen;
		char *body = body_for(c, &len, &hlen);
		char hl[32];
		snprintf(hl, sizeof(hl), "%zu", hlen);
		struct oip_request fast = {0}, general;
		struct oip_tensor t;
		int took = oip_fast_header(body, hlen, 28, 28, 8, &fast, &t);
		ck_assert_msg(took == c->one_pass, "case %zu: one pass %d, wanted %d: %s", i, took,
			      c->one_pass, c->json);
		struct td_error ef, eg;
		memset(&ef, 0, sizeof(ef));
		memset(&eg, 0, sizeof(eg));
		int rf = oip_parse_infer(body, len, hl, 28, 28, 8, &fast, &ef);
		int rg = oip_parse_infer_general(body, len, hl, 28, 28, 8, &general, &eg);
		ck_assert_msg(rf == rg, "case %zu: %d, general %d (%s | %s): %s", i, rf, rg, ef.msg,
			      eg.msg, c->json);
		if (rf) {
			ck_assert_msg(strcmp(ef.msg, eg.msg) == 0 && strcmp(ef.field, eg.field) == 0,
				      "case %zu: \"%s\" (%s), general \"%s\" (%s)", i, ef.msg,
				      ef.field, eg.msg, eg.field);
		} else {
			ck_same_request(i, &fast, &general, 784);
			taken += took;
		}
		ck_assert_msg(took == 0 || fast.root == NULL, "case %zu: a tree was built", i);
		oip_request_free(&fast);
		oip_request_free(&general);
		free(body);
	}
	ck_assert_int_ge(taken, 10); /* the plain valid ones were answered, in one pass */
}
END_TEST

/* A header that says nothing of where it ends is all JSON: never one pass. */
START_TEST(test_no_header_length_is_the_general_reader)
{
	static const char json[] = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,784],"
				   "\"datatype\":\"FP32\",\"parameters\":{\"binary_data_size\":0}}]}";
	struct oip_request q;
	struct td_error e;
	ck_assert_int_eq(oip_parse_infer(json, sizeof(json) - 1, NULL, 28, 28, 8, &q, &e),
			 TD_EINVAL);
	ck_assert_str_eq(e.field, "inputs[0].parameters");
	ck_assert_ptr_nonnull(q.root);
	oip_request_free(&q);
}
END_TEST

Suite *suite_oip_fast(void)
{
	Suite *s = suite_create("oip_fast");
	TCase *tc = tcase_create("header");
	tcase_add_test(tc, test_one_pass_matches_the_general_reader);
	tcase_add_test(tc, test_no_header_length_is_the_general_reader);
	suite_add_tcase(s, tc);
	return s;
}
