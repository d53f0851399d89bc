/* Text checks for strings from outside. */
#ifndef RUM_UTIL_TEXT_H
#define RUM_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>

/* True when s[0..len) is well-formed UTF-8 (no overlongs, no surrogates) with
 * no control characters (below 0x20, or 0x7f). */
bool rum_text_printable_utf8(const char *s, size_t len);

#endif
