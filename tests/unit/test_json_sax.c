/* lib/json_sax: events and their offsets, strictness, errors, and string
 * decoding checked against a plain reference decoder (every UTF-8 sequence
 * of up to three bytes, the four-byte ones by their first two, random
 * strings with escapes at every alignment). */
#include "check.h"
#include "lib/json_sax.h"
#include "lib/text.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* A recorder: each event as one line of text */

struct rec {
	char log[8192];
	size_t n;
	int cancel_at; /* cancel on event number cancel_at (1-based), 0: never */
	int events;
	char str[4096]; /* the last string or key, decoded */
	size_t str_len;
	int nested; /* parse a nested text from the first string callback */
};

static void rec_add(struct rec *r, const char *fmt, const char *s, size_t len, size_t off)
{
	char line[1024];
	int n;

	if (s)
		n = snprintf(line, sizeof(line), fmt, (int)len, s);
	else
		n = snprintf(line, sizeof(line), fmt, off);
	if (n > 0 && (size_t)n < sizeof(line) && r->n + (size_t)n + 1 < sizeof(r->log)) {
		memcpy(r->log + r->n, line, (size_t)n);
		r->n += (size_t)n;
		r->log[r->n++] = ' ';
		r->log[r->n] = '\0';
	}
}

static int rec_go(struct rec *r)
{
	return ++r->events != r->cancel_at;
}

static int on_null(void *ctx)
{
	rec_add(ctx, "null", NULL, 0, 0);
	return rec_go(ctx);
}

static int on_bool(void *ctx, int b)
{
	rec_add(ctx, b ? "true" : "false", NULL, 0, 0);
	return rec_go(ctx);
}

static int on_number(void *ctx, const char *s, size_t len)
{
	rec_add(ctx, "n:%.*s", s, len, 0);
	return rec_go(ctx);
}

static const struct rum_json_sax_ops rec_ops;

static int on_string(void *ctx, const char *s, size_t len)
{
	struct rec *r = ctx;

	if (len < sizeof(r->str)) {
		memcpy(r->str, s, len);
		r->str_len = len;
	}
	rec_add(ctx, "s:%.*s", s, len, 0);
	if (r->nested) {
		struct rec inner;
		struct rum_json_sax_error err;

		r->nested = 0;
		memset(&inner, 0, sizeof(inner));
		CHECK_INT(rum_json_sax_parse("[\"\\u00e9\"]", 10, 0, &rec_ops, &inner, &err),
			  RUM_JSON_SAX_OK);
		CHECK_STR(inner.log, "[@0 s:\xc3\xa9 ]@10 ");
	}
	return rec_go(ctx);
}

static int on_key(void *ctx, const char *s, size_t len)
{
	struct rec *r = ctx;

	if (len < sizeof(r->str)) {
		memcpy(r->str, s, len);
		r->str_len = len;
	}
	rec_add(ctx, "k:%.*s", s, len, 0);
	return rec_go(ctx);
}

static int on_start_object(void *ctx, size_t at)
{
	rec_add(ctx, "{@%zu", NULL, 0, at);
	return rec_go(ctx);
}

static int on_start_array(void *ctx, size_t at)
{
	rec_add(ctx, "[@%zu", NULL, 0, at);
	return rec_go(ctx);
}

static int on_end_object(void *ctx, size_t end)
{
	rec_add(ctx, "}@%zu", NULL, 0, end);
	return rec_go(ctx);
}

static int on_end_array(void *ctx, size_t end)
{
	rec_add(ctx, "]@%zu", NULL, 0, end);
	return rec_go(ctx);
}

static const struct rum_json_sax_ops rec_ops = {
	.null = on_null,
	.boolean = on_bool,
	.number = on_number,
	.string = on_string,
	.key = on_key,
	.start_object = on_start_object,
	.start_array = on_start_array,
	.end_object = on_end_object,
	.end_array = on_end_array,
};

/* Parses text (len bytes); the status, with err filled. */
static enum rum_json_sax_status parse_n(struct rec *r, const char *text, size_t len,
					unsigned max_depth, struct rum_json_sax_error *err)
{
	memset(r, 0, sizeof(*r));
	err->reason = "(none)";
	err->offset = (size_t)-1;
	return rum_json_sax_parse(text, len, max_depth, &rec_ops, r, err);
}

static void expect_ok(const char *text, const char *log, int line)
{
	struct rec r;
	struct rum_json_sax_error err;
	enum rum_json_sax_status st = parse_n(&r, text, strlen(text), 0, &err);

	if (st != RUM_JSON_SAX_OK || strcmp(r.log, log) != 0) {
		fprintf(stderr,
			"test_json_sax.c:%d: %s: status %d (%s at %zu), events \"%s\", expected \"%s\"\n",
			line, text, (int)st, err.reason, err.offset, r.log, log);
		rum_check_failures++;
	}
}

static void expect_bad_n(const char *text, size_t len, enum rum_json_sax_status want,
			 const char *reason, size_t offset, int line)
{
	struct rec r;
	struct rum_json_sax_error err;
	enum rum_json_sax_status st = parse_n(&r, text, len, 0, &err);

	if (st != want || (reason && strcmp(err.reason, reason) != 0) ||
	    (offset != (size_t)-1 && err.offset != offset)) {
		fprintf(stderr,
			"test_json_sax.c:%d: %.*s: status %d \"%s\" at %zu, expected %d \"%s\" at %zu\n",
			line, (int)len, text, (int)st, err.reason, err.offset, (int)want,
			reason ? reason : "(any)", offset);
		rum_check_failures++;
	}
}

#define EXPECT_OK(text, log) expect_ok(text, log, __LINE__)
#define EXPECT_BAD(text, reason, offset) \
	expect_bad_n(text, strlen(text), RUM_JSON_SAX_INVALID, reason, offset, __LINE__)
#define ANY ((size_t)-1)

/* ------------------------------------------------------------------------ */

static void test_events(void)
{
	EXPECT_OK("{\"a\":[1,true,false,null,\"x\",{}],\"b\":{\"c\":[]}}",
		  "{@0 k:a [@5 n:1 true false null s:x {@28 }@30 ]@31 k:b {@36 k:c [@41 ]@43 }@44 "
		  "}@45 ");
	EXPECT_OK(" \t\r\n[ 1 , 2 ]\n ", "[@4 n:1 n:2 ]@13 ");
	EXPECT_OK("\"top\"", "s:top ");
	EXPECT_OK("-0.5e+10", "n:-0.5e+10 ");
	EXPECT_OK("null", "null ");
	EXPECT_OK("[[[]],{}]", "[@0 [@1 [@2 ]@4 ]@5 {@6 }@8 ]@9 ");
	/* Duplicate keys are both delivered, in order. */
	EXPECT_OK("{\"a\":1,\"a\":2}", "{@0 k:a n:1 k:a n:2 }@13 ");
	/* Numbers as written, whatever their size. */
	EXPECT_OK("[1e400,-1e-400,123456789012345678901234567890,-0,0,1E2,2.50]",
		  "[@0 n:1e400 n:-1e-400 n:123456789012345678901234567890 n:-0 n:0 n:1E2 n:2.50 "
		  "]@60 ");
	/* Only len bytes are read. */
	{
		struct rec r;
		struct rum_json_sax_error err;

		CHECK_INT(parse_n(&r, "[1]garbage", 3, 0, &err), RUM_JSON_SAX_OK);
		CHECK_STR(r.log, "[@0 n:1 ]@3 ");
		CHECK_INT(parse_n(&r, "12345", 2, 0, &err), RUM_JSON_SAX_OK);
		CHECK_STR(r.log, "n:12 ");
		CHECK_INT(parse_n(&r, "\"abc\"", 4, 0, &err), RUM_JSON_SAX_INVALID);
		CHECK_INT(parse_n(&r, NULL, 0, 0, &err), RUM_JSON_SAX_INVALID);
		CHECK_STR(err.reason, "no value");
	}
	/* A 400-digit integer. */
	{
		char big[410];
		struct rec r;
		struct rum_json_sax_error err;

		memset(big, '9', 400);
		CHECK_INT(parse_n(&r, big, 400, 0, &err), RUM_JSON_SAX_OK);
		CHECK_INT(strlen(r.log), 2 + 400 + 1);
	}
}

static void test_refused(void)
{
	static const char *const bad[] = {
		"",
		" ",
		"\n\t\r ",
		"{",
		"[",
		"[1",
		"{\"a\"",
		"{\"a\":",
		"{\"a\":1",
		"{\"a\" 1}",
		"{'a':1}",
		"{a:1}",
		"{\"a\":1,}",
		"[1,]",
		"[,1]",
		"{,}",
		"[1 2]",
		"{\"a\":1 \"b\":2}",
		"{/*c*/}",
		"{}// c",
		"/**/{}",
		"01",
		"-",
		"--1",
		"+1",
		".5",
		"1.",
		"1.e5",
		"1e",
		"1e+",
		"NaN",
		"-NaN",
		"Infinity",
		"-Infinity",
		"nul",
		"tru",
		"fals",
		"nulls",
		"True",
		"[\"a\\x\"]",
		"[\"\\u12\"]",
		"[\"\\u12G4\"]",
		"\"abc",
		"\"a\\\"",
		"{\v}",
		"{\f}",
		"\v{}",
		"{}\f",
		"[1]\v",
		"\xef\xbb\xbf{}",
		"{}\xc3\xa9",
		"[\"\\ud800\"]",
		"[\"\\ud800x\"]",
		"[\"\\ud800\\u0041\"]",
		"[\"\\udfff\"]",
		"[\"\\ud800\\ud800\"]",
		"[\"\\u0000\"]",
		"{\"\\u0000\":1}",
		"{\"a\\u0000b\":1}",
		"{} \"x",
		"{} tr",
		"{}\"",
		"\"\"\"",
		"1 \"",
		"{}{}",
		"1 2",
		"[][]",
		"{} x",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct rec r;
		struct rum_json_sax_error err;

		if (parse_n(&r, bad[i], strlen(bad[i]), 0, &err) != RUM_JSON_SAX_INVALID) {
			fprintf(stderr, "test_json_sax.c: accepted \"%s\"\n", bad[i]);
			rum_check_failures++;
		}
		CHECK(err.reason && err.reason[0] && !strchr(err.reason, '\n'));
		CHECK(err.offset <= strlen(bad[i]));
	}
	/* Control characters never stand raw in a string; DEL does. */
	for (int c = 1; c < 0x20; c++) {
		char t[8] = {'[', '"', 'a', (char)c, '"', ']', 0};

		expect_bad_n(t, 6, RUM_JSON_SAX_INVALID, "control character in a string", 3,
			     __LINE__);
	}
	EXPECT_OK("[\"\x7f\"]", "[@0 s:\x7f ]@5 ");

	/* Reasons and offsets. */
	EXPECT_BAD("", "no value", 0);
	EXPECT_BAD("  ", "no value", 2);
	EXPECT_BAD("{} x", "trailing garbage", 2);
	EXPECT_BAD("[1] \n 2", "trailing garbage", 3);
	EXPECT_BAD("{} tr", "trailing garbage", 2);
	EXPECT_BAD("[1,2", "unexpected end of text", 4);
	EXPECT_BAD("[\"abc", "unterminated string", 5);
	EXPECT_BAD("{\"a\" 1}", "expected ':'", 5);
	EXPECT_BAD("[1 2]", "expected ',' or ']'", 3);
	EXPECT_BAD("{\"a\":1 \"b\":2}", "expected ',' or '}'", 7);
	EXPECT_BAD("{1:2}", "expected a member name", 1);
	EXPECT_BAD("[1.]", "expected a digit after '.'", 3);
	EXPECT_BAD("[1e]", "expected a digit in the exponent", 3);
	EXPECT_BAD("[+1]", "invalid value", 1);
	EXPECT_BAD("[\"a\\qb\"]", "invalid escape", 3);
	EXPECT_BAD("[\"a\\u00zz\"]", "bad \\u escape", 3);
	EXPECT_BAD("[\"abcdefghijklmnopqrstuvwxyz\\u0000\"]", "\\u0000 is not allowed", 28);
	EXPECT_BAD("[\"\\\\\\\\\\u0000\"]", "\\u0000 is not allowed", 6);
	EXPECT_BAD("{\"k\\u0000\":1}", "\\u0000 is not allowed", 3);
	EXPECT_BAD("[\"\\ud83d\\ude00\\udc00\"]", "unpaired surrogate in a \\u escape", 14);
	EXPECT_BAD("[\"\\ud800\"]", "unpaired surrogate in a \\u escape", 2);
	EXPECT_BAD("[\"a\xff\"]", "invalid UTF-8 in a string", 3);
	EXPECT_BAD("[\"a\xed\xa0\x80\"]", "invalid UTF-8 in a string", 3);
	EXPECT_BAD("[\"0123456789abcdefghijklmnopqrstuvwxyz\xc0\x80\"]",
		   "invalid UTF-8 in a string", 38);
	/* A NUL byte is named wherever it is, whatever else is wrong. */
	expect_bad_n("{}\0", 3, RUM_JSON_SAX_INVALID, "NUL byte", 2, __LINE__);
	expect_bad_n("{\"a\":1\0}", 8, RUM_JSON_SAX_INVALID, "NUL byte", 6, __LINE__);
	expect_bad_n("[\"a\0\"]", 6, RUM_JSON_SAX_INVALID, "NUL byte", 3, __LINE__);
	expect_bad_n("\0{}", 3, RUM_JSON_SAX_INVALID, "NUL byte", 0, __LINE__);
	expect_bad_n("[x] \0", 5, RUM_JSON_SAX_INVALID, "NUL byte", 4, __LINE__);
	expect_bad_n("1\0", 2, RUM_JSON_SAX_INVALID, "NUL byte", 1, __LINE__);
}

static void test_depth_and_cancel(void)
{
	struct rec r;
	struct rum_json_sax_error err;
	size_t n = 100000;
	char *deep = malloc(2 * n + 1);

	CHECK_INT(parse_n(&r, "[[[]]]", 6, 3, &err), RUM_JSON_SAX_OK);
	CHECK_INT(parse_n(&r, "[{\"a\":[[]]}]", 12, 3, &err), RUM_JSON_SAX_TOO_DEEP);
	CHECK_STR(err.reason, "nesting too deep");
	CHECK_INT(err.offset, 7);
	CHECK_STR(r.log, "[@0 {@1 k:a [@6 ");
	/* The default and largest limit; far deeper text fails cleanly. */
	memset(deep, '[', n);
	memset(deep + n, ']', n);
	CHECK_INT(parse_n(&r, deep + n - RUM_JSON_SAX_MAX_DEPTH, 2 * RUM_JSON_SAX_MAX_DEPTH, 0,
			  &err),
		  RUM_JSON_SAX_OK);
	CHECK_INT(parse_n(&r, deep + n - RUM_JSON_SAX_MAX_DEPTH - 1, 2 * RUM_JSON_SAX_MAX_DEPTH + 2,
			  1u << 30, &err),
		  RUM_JSON_SAX_TOO_DEEP);
	CHECK_INT(err.offset, RUM_JSON_SAX_MAX_DEPTH);
	CHECK_INT(parse_n(&r, deep, 2 * n, 0, &err), RUM_JSON_SAX_TOO_DEEP);
	CHECK_INT(parse_n(&r, deep, n, 0, &err), RUM_JSON_SAX_TOO_DEEP);
	/* A NUL byte is named before depth. */
	deep[2 * n - 1] = '\0';
	CHECK_INT(parse_n(&r, deep, 2 * n, 0, &err), RUM_JSON_SAX_INVALID);
	CHECK_STR(err.reason, "NUL byte");
	free(deep);

	/* A callback's 0 stops the parse at once; the offset is just past its
	 * token. */
	{
		static const char doc[] = "{\"ab\":[12,\"cd\",null,{}]}";
		static const size_t at[] = {1, 5, 7, 9, 14, 19, 21, 22, 23, 24};

		for (int k = 1; k <= 10; k++) {
			memset(&r, 0, sizeof(r));
			r.cancel_at = k;
			CHECK_INT(rum_json_sax_parse(doc, sizeof(doc) - 1, 0, &rec_ops, &r, &err),
				  RUM_JSON_SAX_CANCELLED);
			CHECK_INT(r.events, k);
			CHECK_INT(err.offset, at[k - 1]);
			CHECK_STR(err.reason, "cancelled");
		}
	}
	/* A parse from inside a callback. */
	memset(&r, 0, sizeof(r));
	r.nested = 1;
	CHECK_INT(rum_json_sax_parse("[\"x\",\"\\u00e8\"]", 14, 0, &rec_ops, &r, &err),
		  RUM_JSON_SAX_OK);
	CHECK_STR(r.log, "[@0 s:x s:\xc3\xa8 ]@14 ");
}

/* ------------------------------------------------------------------------ */
/* Strings against a reference decoder */

/* Length of the UTF-8 sequence at p (n > 0 bytes left), 0 when invalid:
 * overlong forms, surrogates and code points past U+10FFFF are. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	unsigned c = p[0];
	size_t len = c < 0x80 ? 1 : c < 0xc2 ? 0 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : c < 0xf5 ? 4 : 0;

	if (len == 0 || len > n)
		return 0;
	for (size_t i = 1; i < len; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] >= 0xa0) ||
	    (c == 0xf0 && p[1] < 0x90) || (c == 0xf4 && p[1] >= 0x90))
		return 0;
	return len;
}

static int hex4(const char *p, unsigned *out)
{
	unsigned char b[2];

	if (rum_text_unhex(b, p, 2) != 0)
		return -1;
	*out = (unsigned)b[0] << 8 | b[1];
	return 0;
}

static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decodes the JSON string body s[0..n) (no quotes) into out; -1 when it is
 * not a valid JSON string body by RFC 8259 and rumd's rules. */
static long ref_decode(const char *s, size_t n, char *out)
{
	size_t i = 0, o = 0, l;
	unsigned cp, lo;

	while (i < n) {
		unsigned char c = (unsigned char)s[i];

		if (c == '"' || c < 0x20)
			return -1;
		if (c != '\\') {
			if ((l = utf8_len((const unsigned char *)s + i, n - i)) == 0)
				return -1;
			memcpy(out + o, s + i, l);
			o += l;
			i += l;
			continue;
		}
		if (i + 1 >= n)
			return -1;
		switch (s[i + 1]) {
		case '"': out[o++] = '"'; break;
		case '\\': out[o++] = '\\'; break;
		case '/': out[o++] = '/'; break;
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'u':
			if (i + 6 > n || hex4(s + i + 2, &cp) != 0 || cp == 0 ||
			    (cp >= 0xdc00 && cp <= 0xdfff))
				return -1;
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (i + 12 > n || s[i + 6] != '\\' || s[i + 7] != 'u' ||
				    hex4(s + i + 8, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
					return -1;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			}
			o += put_utf8(out + o, cp);
			i += 4;
			break;
		default: return -1;
		}
		i += 2;
	}
	return (long)o;
}

/* Parses ["<body>"] and compares with the reference. */
static void check_string(const char *body, size_t n)
{
	char text[512], want[512];
	struct rec r;
	struct rum_json_sax_error err;
	long wl = ref_decode(body, n, want);
	enum rum_json_sax_status st;

	if (n + 4 > sizeof(text))
		return;
	text[0] = '[';
	text[1] = '"';
	memcpy(text + 2, body, n);
	text[n + 2] = '"';
	text[n + 3] = ']';
	st = parse_n(&r, text, n + 4, 0, &err);
	if (wl < 0 ? st != RUM_JSON_SAX_INVALID
		   : st != RUM_JSON_SAX_OK || r.str_len != (size_t)wl ||
			     memcmp(r.str, want, (size_t)wl) != 0) {
		fprintf(stderr, "test_json_sax.c: string [");
		for (size_t i = 0; i < n; i++)
			fprintf(stderr,
				(unsigned char)body[i] < 0x20 || (unsigned char)body[i] >= 0x7f
					? "\\x%02x"
					: "%c",
				(unsigned char)body[i]);
		fprintf(stderr, "]: status %d (%s), reference %s\n", (int)st, err.reason,
			wl < 0 ? "refuses" : "accepts");
		rum_check_failures++;
	}
}

/* Every byte sequence of one to three bytes, and the four-byte ones by
 * their first two bytes, inside a string at the start and after a plain
 * run longer than sixteen bytes. */
static void test_utf8(void)
{
	static const unsigned char tails[] = {0x00, 0x20, 0x41, 0x7f, 0x80, 0x8f, 0x90,
					      0x9f, 0xa0, 0xbf, 0xc0, 0xf4, 0xff};
	static const char pad[] = "0123456789abcdefghij";
	char b[64];
	int failures = rum_check_failures;

	for (int p = 0; p < 2; p++) {
		size_t k = p ? sizeof(pad) - 1 : 0;

		memcpy(b, pad, k);
		for (unsigned x = 0; x < 256; x++) {
			b[k] = (char)x;
			check_string(b, k + 1);
			for (unsigned y = 0; y < 256; y++) {
				b[k + 1] = (char)y;
				check_string(b, k + 2);
				if (x < 0xe0 || x > 0xf4 || (y & 0xc0) != 0x80)
					continue;
				for (unsigned z = 0; z < 256; z++) {
					b[k + 2] = (char)z;
					check_string(b, k + 3);
					b[k + 3] = 'x';
					check_string(b, k + 4);
					if (x < 0xf0)
						continue;
					for (size_t t = 0; t < sizeof(tails); t++) {
						b[k + 3] = (char)tails[t];
						check_string(b, k + 4);
					}
				}
			}
			if (rum_check_failures - failures > 20)
				return;
		}
	}
}

static uint64_t rnd_state = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

/* Random strings of pieces that are mostly valid: plain runs, all escapes,
 * multi-byte characters, surrogate pairs, and now and then a fault. */
static void test_random_strings(void)
{
	static const char *const pieces[] = {
		"a",        "bcdefgh",       "ijklmnopqrstuvwxyz0123456789",
		" ",        "\\\"",          "\\\\",
		"\\/",      "\\b",           "\\f",
		"\\n",      "\\r",           "\\t",
		"\\u00e9",  "\\u20AC",       "\\ud83d\\ude00",
		"\xc3\xa9", "\xe2\x82\xac",  "\xf0\x9f\x98\x80",
		"\x7f",     "{\\\"k\\\":1}", "\\\\u0000",
	};
	static const char *const faults[] = {
		"\\u0000",  "\\udc00",      "\\ud800",  "\\x", "\x01", "\xff",  "\xc3",
		"\xe2\x82", "\xed\xa0\x80", "\xc0\x80", "\\",  "\"",   "\\u12", "\t",
	};
	char b[400];
	int failures = rum_check_failures;

	for (int iter = 0; iter < 200000 && rum_check_failures - failures <= 20; iter++) {
		size_t n = 0, want = rnd() % 60;
		int fault = rnd() % 8 == 0;

		while (n < want) {
			const char *p = pieces[rnd() % (sizeof(pieces) / sizeof(pieces[0]))];
			size_t l = strlen(p);

			if (n + l + 16 > sizeof(b))
				break;
			memcpy(b + n, p, l);
			n += l;
		}
		if (fault) {
			const char *p = faults[rnd() % (sizeof(faults) / sizeof(faults[0]))];
			size_t at = n ? rnd() % (n + 1) : 0, l = strlen(p);

			memmove(b + at + l, b + at, n - at);
			memcpy(b + at, p, l);
			n += l;
		}
		check_string(b, n);
	}
}

int main(void)
{
	test_events();
	test_refused();
	test_depth_and_cancel();
	test_utf8();
	test_random_strings();
	return rum_check_result("test_json_sax");
}
