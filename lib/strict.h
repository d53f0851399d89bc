/* Strict number parsing for text from outside: the whole string must be the
 * number (no sign unless allowed, no spaces, no trailing junk, no overflow). */
#ifndef RUM_UTIL_STRICT_H
#define RUM_UTIL_STRICT_H

#include <stddef.h>
#include <stdint.h>

/* Optional '-' then decimal digits; fits int64. 0 or RUM_EINVAL. */
int rum_strict_int64(int64_t *out, const char *text);

/* Decimal digits only (no sign), 1..19 of them, fits int64; len bytes of text
 * (need not be NUL-terminated). 0 or RUM_EINVAL. */
int rum_strict_uint_n(int64_t *out, const char *text, size_t len);

/* A size: digits with an optional unit B, K/KB/KiB, M/MB/MiB, G/GB/GiB
 * (all binary multiples). 0 or RUM_EINVAL. */
int rum_strict_bytes(int64_t *out, const char *text);

/* A duration in seconds: digits with an optional unit s, m, h, d or w
 * ("90", "15m", "24h", "7d"). 0 or RUM_EINVAL (also on overflow). */
int rum_strict_duration(int64_t *out, const char *text);

#endif
