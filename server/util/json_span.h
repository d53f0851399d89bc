/* Byte spans of JSON values inside a text buffer, for passing values through
 * byte-exact (jansson gives no offsets).
 *
 * The scanner is meant for text that a real JSON parser has already
 * accepted: it checks structure (strings terminated, brackets matched,
 * separators where they belong at the level being walked) but not everything
 * (number syntax, escapes, UTF-8). On any input it reads only inside the
 * span it is given and never recurses; nesting deeper than
 * RUM_JSON_SPAN_MAX_DEPTH is RUM_EINVAL. Spans point into the caller's buffer
 * and own nothing. */
#ifndef RUM_UTIL_JSON_SPAN_H
#define RUM_UTIL_JSON_SPAN_H

#include <stdbool.h>
#include <stddef.h>

#define RUM_JSON_SPAN_MAX_DEPTH 2048 /* jansson's own default limit */

struct rum_json_span {
	const char *p;
	size_t len;
};

/* Walks the members of an object or the elements of an array, in text order. */
struct rum_json_span_iter {
	const char *buf; /* the container's span, brackets included */
	size_t len;
	size_t pos;
	char close;      /* '}' or ']' */
	bool started;
	bool done;
};

/* The span of the one JSON value that fills buf[0..len), leading and
 * trailing JSON whitespace excluded. Errors: RUM_EINVAL (empty, malformed,
 * too deep, or anything but whitespace after the value). */
int rum_json_span_value(struct rum_json_span *out, const char *buf, size_t len);

/* Starts walking `container`, a span that begins with '{' or '[' and ends
 * with the matching bracket (as rum_json_span_value returns).
 * Errors: RUM_EINVAL when it is neither an object nor an array. */
int rum_json_span_iter_init(struct rum_json_span_iter *it, struct rum_json_span container);

/* The next member or element. For an object *key is the member name's raw
 * text between the quotes (escapes undecoded); for an array key->p is NULL.
 * key may be NULL. Returns 1 with *value set, 0 after the last one, or
 * RUM_EINVAL on malformed text (and keeps returning it). */
int rum_json_span_iter_next(struct rum_json_span_iter *it, struct rum_json_span *key,
			    struct rum_json_span *value);

/* True when the raw member name `key` (as rum_json_span_iter_next gives it)
 * decodes to the UTF-8 string `name`. Malformed escapes compare unequal. */
bool rum_json_span_key_equals(struct rum_json_span key, const char *name);

/* The value of member `name` of object `obj`; with duplicate names the last
 * one, as jansson keeps it. Errors: RUM_ENOTFOUND, RUM_EINVAL (obj is not an
 * object or is malformed). */
int rum_json_span_member(struct rum_json_span *out, struct rum_json_span obj, const char *name);

#endif
