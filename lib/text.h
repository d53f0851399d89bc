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

/* The parts of an http:// or https:// URL, pointing into the URL split. */
#define RUM_TEXT_URL_MAX 2048
struct rum_text_url {
	bool https;
	bool has_user;     /* user-info before an '@' */
	bool has_password; /* the user-info holds a ':' (a password follows it) */
	const char *host;  /* a name, an IPv4 address or a [bracketed] IPv6 one */
	size_t host_len;
	int port;         /* 0 when not given */
	const char *rest; /* path and query: "" or from its '/' or '?' on */
};

/* Splits url, an http:// or https:// URL (scheme in either case) of at most
 * RUM_TEXT_URL_MAX bytes of printable ASCII without spaces or a #fragment,
 * whose host is letters, digits, '.', '-' and '_' or a bracketed IPv6
 * address, with an optional port 1..65535. Returns 0, or -1 with *why
 * saying what is wrong without quoting the URL (it may hold a password). */
int rum_text_url_split(struct rum_text_url *out, const char *url, const char **why);

/* v in decimal into out (size bytes; RUM_TEXT_I64_MAX always suffice). */
void rum_text_i64(char *out, size_t size, int64_t v);

#endif
