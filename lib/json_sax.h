/* A strict streaming (SAX) JSON reader for C, on RapidJSON's Reader.
 *
 * JSON as RFC 8259 has it and nothing more: exactly one value, followed by
 * nothing but JSON whitespace (space, tab, LF, CR); no comments, trailing
 * commas, NaN or Infinity; strict UTF-8 (no overlong forms, no surrogates,
 * nothing past U+10FFFF); no NUL byte anywhere; no \u0000 escape and no
 * unpaired surrogate escape; containers nested no deeper than the parse's
 * limit (the parser recurses once per level: the limit bounds the C stack
 * it uses, about 50 bytes a level, 130 under AddressSanitizer).
 *
 * This module is the only one that includes RapidJSON. */
#ifndef RUM_UTIL_JSON_SAX_H
#define RUM_UTIL_JSON_SAX_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the reader calls, in document order. Each returns nonzero to go on,
 * 0 to cancel the parse (rum_json_sax_parse then returns
 * RUM_JSON_SAX_CANCELLED). `ctx` is the parse's. Text passed to a callback
 * (s, len) is valid only during the call and is not NUL-terminated; it may
 * hold any byte but NUL. */
struct rum_json_sax_ops {
	int (*null)(void *ctx);
	int (*boolean)(void *ctx, int value);
	/* A number as written in the text ("-0", "1e400", 40 digits): its
	 * grammar is checked, its size never. */
	int (*number)(void *ctx, const char *s, size_t len);
	/* A string value, decoded (escapes resolved, UTF-8). */
	int (*string)(void *ctx, const char *s, size_t len);
	/* An object member's name, decoded; its value follows. */
	int (*key)(void *ctx, const char *s, size_t len);
	/* `at`: byte offset of the '{' or '['. */
	int (*start_object)(void *ctx, size_t at);
	int (*start_array)(void *ctx, size_t at);
	/* `end`: byte offset just past the '}' or ']'. */
	int (*end_object)(void *ctx, size_t end);
	int (*end_array)(void *ctx, size_t end);
};

enum rum_json_sax_status {
	RUM_JSON_SAX_OK = 0,
	RUM_JSON_SAX_INVALID,   /* the text is not JSON */
	RUM_JSON_SAX_TOO_DEEP,  /* JSON nested deeper than the limit */
	RUM_JSON_SAX_CANCELLED, /* a callback returned 0 */
};

/* The deepest nesting a parse allows, in levels of objects and arrays (the
 * top-level one is level 1): 2048 levels take about 100 KB of C stack (260
 * KB under AddressSanitizer); rumd's threads have 1 MiB or more. */
#define RUM_JSON_SAX_MAX_DEPTH 2048

struct rum_json_sax_error {
	/* A short static reason ("trailing garbage", "NUL byte", "invalid
	 * UTF-8 in a string"...), printable ASCII; "nesting too deep",
	 * "cancelled" for those statuses. */
	const char *reason;
	/* Byte offset in the text where the parse failed: the offending byte
	 * (a NUL byte's own offset), the end of the value for trailing
	 * garbage, the '\' of a refused escape, the '{' or '[' one level too
	 * deep; for a cancel, the offset just past the token whose callback
	 * cancelled. */
	size_t offset;
};

/* Parses text[0..len) (need not be NUL-terminated; NULL with len 0 is the
 * empty text), calling ops on ctx for each event; all callbacks must be
 * set. Containers may nest max_depth levels (0 or more than
 * RUM_JSON_SAX_MAX_DEPTH: that many). When the text is not JSON, events up
 * to the fault will have been delivered. Returns RUM_JSON_SAX_OK, or
 * another status with *err filled (err may be NULL); a NUL byte anywhere
 * in the text is the fault reported, whatever else is wrong, but for a
 * cancel. Allocates heap memory for decoded strings, and frees it; out of
 * memory aborts, as everywhere in rumd. */
enum rum_json_sax_status rum_json_sax_parse(const char *text, size_t len, unsigned max_depth,
					    const struct rum_json_sax_ops *ops, void *ctx,
					    struct rum_json_sax_error *err);

#ifdef __cplusplus
}
#endif

#endif
