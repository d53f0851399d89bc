#include "json_span.h"

#include <stdint.h>
#include <string.h>

#include "err.h"

static int bad(const char *what, size_t at)
{
	return rum_err_set(RUM_EINVAL, "malformed JSON text at byte %zu: %s", at, what);
}

static size_t skip_ws(const char *b, size_t len, size_t i)
{
	while (i < len && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
		i++;
	return i;
}

/* b[*pos] is the opening quote; on success *pos is just past the closing one.
 * A quote ends the string when an even number of backslashes precede it
 * inside the string; each backslash run is counted once, so this is linear. */
static int skip_string(const char *b, size_t len, size_t *pos)
{
	size_t start = *pos + 1, i = start;

	while (i < len) {
		const char *q = memchr(b + i, '"', len - i);
		size_t at, bs = 0;

		if (!q)
			break;
		at = (size_t)(q - b);
		while (at - bs > start && b[at - bs - 1] == '\\')
			bs++;
		if (bs % 2 == 0) {
			*pos = at + 1;
			return 0;
		}
		i = at + 1;
	}
	return bad("unterminated string", *pos);
}

/* b[*pos] is '{' or '['; on success *pos is just past the matching bracket.
 * Depth is tracked in a bit stack (1 = object), not by recursion. */
static int skip_container(const char *b, size_t len, size_t *pos)
{
	unsigned char stack[RUM_JSON_SPAN_MAX_DEPTH / 8];
	size_t depth = 0, i = *pos;

	while (i < len) {
		char c = b[i];

		if (c == '"') {
			if (skip_string(b, len, &i) != 0)
				return RUM_EINVAL;
			continue;
		}
		if (c == '{' || c == '[') {
			if (depth == RUM_JSON_SPAN_MAX_DEPTH)
				return bad("nested too deeply", i);
			if (c == '{')
				stack[depth / 8] |= (unsigned char)(1u << (depth % 8));
			else
				stack[depth / 8] &= (unsigned char)~(1u << (depth % 8));
			depth++;
		} else if (c == '}' || c == ']') {
			bool obj;

			if (depth == 0)
				return bad("unbalanced bracket", i);
			depth--;
			obj = (stack[depth / 8] >> (depth % 8)) & 1u;
			if (obj != (c == '}'))
				return bad("mismatched bracket", i);
			if (depth == 0) {
				*pos = i + 1;
				return 0;
			}
		}
		i++;
	}
	return bad("unterminated object or array", *pos);
}

static int skip_literal(const char *b, size_t len, size_t *pos, const char *word)
{
	size_t n = strlen(word);

	if (len - *pos < n || memcmp(b + *pos, word, n) != 0)
		return bad("unexpected token", *pos);
	*pos += n;
	return 0;
}

/* Skips one value starting exactly at b[*pos] (*pos < len). */
static int skip_value(const char *b, size_t len, size_t *pos)
{
	size_t i = *pos;

	switch (b[i]) {
	case '"':
		return skip_string(b, len, pos);
	case '{':
	case '[':
		return skip_container(b, len, pos);
	case 't':
		return skip_literal(b, len, pos, "true");
	case 'f':
		return skip_literal(b, len, pos, "false");
	case 'n':
		return skip_literal(b, len, pos, "null");
	default:
		break;
	}
	if (b[i] != '-' && (b[i] < '0' || b[i] > '9'))
		return bad("unexpected token", i);
	i++;
	while (i < len && ((b[i] >= '0' && b[i] <= '9') || b[i] == '.' || b[i] == 'e' ||
			   b[i] == 'E' || b[i] == '+' || b[i] == '-'))
		i++;
	*pos = i;
	return 0;
}

int rum_json_span_value(struct rum_json_span *out, const char *buf, size_t len)
{
	size_t start, i;

	if (!buf)
		return bad("no text", 0);
	i = skip_ws(buf, len, 0);
	if (i == len)
		return bad("no value", i);
	start = i;
	if (skip_value(buf, len, &i) != 0)
		return RUM_EINVAL;
	out->p = buf + start;
	out->len = i - start;
	if (skip_ws(buf, len, i) != len)
		return bad("text after the value", i);
	return 0;
}

int rum_json_span_iter_init(struct rum_json_span_iter *it, struct rum_json_span container)
{
	const char *p = container.p;
	size_t n = container.len;

	memset(it, 0, sizeof(*it));
	if (!p || n < 2 || !((p[0] == '{' && p[n - 1] == '}') || (p[0] == '[' && p[n - 1] == ']')))
		return bad("not an object or an array", 0);
	it->buf = p;
	it->len = n;
	it->pos = 1;
	it->close = p[n - 1];
	return 0;
}

static int iter_fail(struct rum_json_span_iter *it, const char *what, size_t at)
{
	it->close = '\0';
	return bad(what, at);
}

int rum_json_span_iter_next(struct rum_json_span_iter *it, struct rum_json_span *key,
			    struct rum_json_span *value)
{
	const char *b = it->buf;
	size_t limit, i, start;

	if (it->close == '\0')
		return bad("iterator in error", it->pos);
	if (it->done)
		return 0;
	limit = it->len - 1; /* the closing bracket; members lie before it */
	i = skip_ws(b, limit, it->pos);
	if (it->started) {
		if (i == limit)
			goto end;
		if (b[i] != ',')
			return iter_fail(it, "expected ','", i);
		i = skip_ws(b, limit, i + 1);
		if (i == limit)
			return iter_fail(it, "trailing ','", i);
	} else if (i == limit) {
		goto end;
	}
	it->started = true;
	if (key) {
		key->p = NULL;
		key->len = 0;
	}
	if (it->close == '}') {
		if (b[i] != '"')
			return iter_fail(it, "expected a member name", i);
		start = i;
		if (skip_string(b, limit, &i) != 0)
			return iter_fail(it, "unterminated member name", start);
		if (key) {
			key->p = b + start + 1;
			key->len = i - start - 2;
		}
		i = skip_ws(b, limit, i);
		if (i == limit || b[i] != ':')
			return iter_fail(it, "expected ':'", i);
		i = skip_ws(b, limit, i + 1);
		if (i == limit)
			return iter_fail(it, "expected a value", i);
	}
	start = i;
	if (skip_value(b, limit, &i) != 0) {
		it->close = '\0';
		return RUM_EINVAL;
	}
	value->p = b + start;
	value->len = i - start;
	it->pos = i;
	return 1;
end:
	it->done = true;
	it->pos = limit;
	return 0;
}

static int hex4(const char *p, size_t avail, uint32_t *out)
{
	uint32_t v = 0;

	if (avail < 4)
		return -1;
	for (int k = 0; k < 4; k++) {
		char c = p[k];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (uint32_t)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

/* Decodes the escape at p[0] == '\\' into UTF-8 bytes; returns the number of
 * input bytes consumed, or 0 when malformed (or \u0000, which jansson refuses). */
static size_t decode_escape(const char *p, size_t avail, unsigned char *u8, size_t *n8)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	uint32_t cp, lo;
	const char *m;

	if (avail < 2)
		return 0;
	if (p[1] != 'u') {
		m = p[1] ? strchr(from, p[1]) : NULL;
		if (!m)
			return 0;
		u8[0] = (unsigned char)to[m - from];
		*n8 = 1;
		return 2;
	}
	if (hex4(p + 2, avail - 2, &cp) != 0 || cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff))
		return 0;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (avail < 12 || p[6] != '\\' || p[7] != 'u' ||
		    hex4(p + 8, avail - 8, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
			return 0;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	if (cp < 0x80) {
		u8[0] = (unsigned char)cp;
		*n8 = 1;
	} else if (cp < 0x800) {
		u8[0] = (unsigned char)(0xc0 | (cp >> 6));
		u8[1] = (unsigned char)(0x80 | (cp & 0x3f));
		*n8 = 2;
	} else if (cp < 0x10000) {
		u8[0] = (unsigned char)(0xe0 | (cp >> 12));
		u8[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u8[2] = (unsigned char)(0x80 | (cp & 0x3f));
		*n8 = 3;
	} else {
		u8[0] = (unsigned char)(0xf0 | (cp >> 18));
		u8[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		u8[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		u8[3] = (unsigned char)(0x80 | (cp & 0x3f));
		*n8 = 4;
	}
	return cp >= 0x10000 ? 12 : 6;
}

bool rum_json_span_key_equals(struct rum_json_span key, const char *name)
{
	const unsigned char *nm = (const unsigned char *)name;
	size_t i = 0, j = 0;

	if (!key.p)
		return false;
	while (i < key.len) {
		unsigned char u8[4];
		size_t n8, used;

		if (key.p[i] != '\\') {
			if (nm[j] == '\0' || (unsigned char)key.p[i] != nm[j])
				return false;
			i++;
			j++;
			continue;
		}
		used = decode_escape(key.p + i, key.len - i, u8, &n8);
		if (used == 0)
			return false;
		for (size_t k = 0; k < n8; k++, j++)
			if (nm[j] == '\0' || nm[j] != u8[k])
				return false;
		i += used;
	}
	return nm[j] == '\0';
}

int rum_json_span_member(struct rum_json_span *out, struct rum_json_span obj, const char *name)
{
	struct rum_json_span_iter it;
	struct rum_json_span k, v;
	bool found = false;
	int rc;

	if (obj.len == 0 || !obj.p || obj.p[0] != '{')
		return bad("not an object", 0);
	if (rum_json_span_iter_init(&it, obj) != 0)
		return RUM_EINVAL;
	while ((rc = rum_json_span_iter_next(&it, &k, &v)) == 1) {
		if (rum_json_span_key_equals(k, name)) {
			*out = v;
			found = true;
		}
	}
	if (rc < 0)
		return rc;
	if (!found)
		return rum_err_set(RUM_ENOTFOUND, "no member \"%s\"", name);
	return 0;
}
