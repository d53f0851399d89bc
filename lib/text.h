/* Text checks for strings from outside. */
#ifndef RUM_UTIL_TEXT_H
#define RUM_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>

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

#endif
