/* Text checks for strings from outside. */
#ifndef RUM_UTIL_TEXT_H
#define RUM_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for any int64_t in decimal with its sign and NUL. */
#define RUM_TEXT_I64_MAX 24

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates) with
 * no control characters (below 0x20, or 0x7f). */
bool rum_text_printable_utf8(const char *s, size_t len);

/* Number of characters (code points) in well-formed UTF-8 s[0..len). */
size_t rum_text_utf8_chars(const char *s, size_t len);

/* A tenant name: 1 to 128 characters of printable UTF-8, no '/'. */
bool rum_text_tenant_name_ok(const char *name);

/* Lower-case hex of data[0..len) into out (2 * len + 1 bytes, NUL-terminated). */
void rum_text_hex(char *out, const void *data, size_t len);

/* Decodes exactly 2 * len hex digits (either case) of hex into out[0..len).
 * Returns 0, or -1 when a character is not a hex digit (out is then partly
 * written). */
int rum_text_unhex(void *out, const char *hex, size_t len);

/* What came from outside (a device's bytes), safe for a one-line message:
 * at most max bytes of text[0..len), printable ASCII as it is, anything else
 * (and a backslash) as \xNN, "..." when cut; always NUL-terminated within size. */
void rum_text_quote(char *out, size_t size, const char *text, size_t len, size_t max);

/* v in decimal into out (size bytes; RUM_TEXT_I64_MAX always suffice). */
void rum_text_i64(char *out, size_t size, int64_t v);

#endif
