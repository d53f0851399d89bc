#include "lib/text.h"

#include <inttypes.h>
#include <stdio.h>

#include <stdint.h>
#include <string.h>
#include <strings.h>

bool rum_text_printable_utf8(const char *str, size_t len)
{
	const uint8_t *s = (const uint8_t *)str;
	size_t i = 0;

	while (i < len) {
		uint8_t c = s[i];
		uint32_t cp;
		size_t n;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return false;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + n >= len)
			return false;
		for (size_t k = 1; k <= n; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n + 1;
	}
	return true;
}

size_t rum_text_utf8_chars(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

bool rum_text_tenant_name_ok(const char *name)
{
	size_t len = strlen(name), chars;

	if (len == 0 || strchr(name, '/') || !rum_text_printable_utf8(name, len))
		return false;
	chars = rum_text_utf8_chars(name, len);
	return chars >= 1 && chars <= 128;
}

void rum_text_hex(char *out, const void *data, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *d = data;

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[d[i] >> 4];
		out[2 * i + 1] = digits[d[i] & 15];
	}
	out[2 * len] = '\0';
}

static int rum_text_hexval(char c)
{
	return c >= '0' && c <= '9'   ? c - '0'
	       : c >= 'a' && c <= 'f' ? c - 'a' + 10
	       : c >= 'A' && c <= 'F' ? c - 'A' + 10
				      : -1;
}

int rum_text_unhex(void *out, const char *hex, size_t len)
{
	unsigned char *o = out;

	for (size_t i = 0; i < len; i++) {
		int hi = rum_text_hexval(hex[2 * i]),
		    lo = hi < 0 ? -1 : rum_text_hexval(hex[2 * i + 1]);

		if (lo < 0)
			return -1;
		o[i] = (unsigned char)(hi * 16 + lo);
	}
	return 0;
}

void rum_text_i64(char *out, size_t size, int64_t v)
{
	snprintf(out, size, "%" PRId64, v);
}

void rum_text_quote(char *out, size_t size, const char *text, size_t len, size_t max)
{
	size_t o = 0, i = 0;

	if (size == 0)
		return;
	for (; i < len && i < max && o + 5 < size; i++) {
		unsigned char c = (unsigned char)text[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
	}
	if (i < len && o + 4 <= size) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

static int rum_text_url_fail(const char **why, const char *reason)
{
	*why = reason;
	return -1;
}

/* The host and port part of a URL's authority, hp[0..n). */
static int rum_text_url_host(struct rum_text_url *u, const char *hp, size_t n, const char **why)
{
	const char *p = hp, *end = hp + n;
	int64_t port = 0;

	if (n == 0)
		return rum_text_url_fail(why, "no host");
	if (hp[0] == '[') {
		const char *close = memchr(hp, ']', n);

		if (!close || close == hp + 1)
			return rum_text_url_fail(why, "a [bracketed] IPv6 address is not closed");
		for (p = hp + 1; p < close; p++)
			if (!strchr("0123456789abcdefABCDEF:.", *p))
				return rum_text_url_fail(why, "not an IPv6 address in [brackets]");
		p = close + 1;
	} else {
		while (p < end && *p != ':') {
			if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == '_'))
				return rum_text_url_fail(
					why,
					"the host may hold letters, digits, '.', '-' and '_' only");
			p++;
		}
		if (p == hp)
			return rum_text_url_fail(why, "no host");
	}
	u->host = hp;
	u->host_len = (size_t)(p - hp);
	if (p == end)
		return 0;
	if (*p != ':' || p + 1 == end || end - p > 6)
		return rum_text_url_fail(why, "the port must be 1 to 65535");
	for (p++; p < end; p++) {
		if (*p < '0' || *p > '9')
			return rum_text_url_fail(why, "the port must be 1 to 65535");
		port = port * 10 + (*p - '0');
	}
	if (port < 1 || port > 65535)
		return rum_text_url_fail(why, "the port must be 1 to 65535");
	u->port = (int)port;
	return 0;
}

int rum_text_url_split(struct rum_text_url *u, const char *url, const char **why)
{
	size_t n = strlen(url), auth_len;
	const char *auth, *hp;

	memset(u, 0, sizeof(*u));
	if (n == 0)
		return rum_text_url_fail(why, "empty");
	if (n > RUM_TEXT_URL_MAX)
		return rum_text_url_fail(why, "longer than 2048 bytes");
	for (size_t i = 0; i < n; i++)
		if (url[i] <= ' ' || url[i] > '~')
			return rum_text_url_fail(why, "holds a space, a control or a non-ASCII "
						      "character (percent-encode it)");
	if (strchr(url, '#'))
		return rum_text_url_fail(why, "holds a #fragment");
	if (strncasecmp(url, "https://", 8) == 0)
		u->https = true;
	else if (strncasecmp(url, "http://", 7) != 0)
		return rum_text_url_fail(why, "not an http:// or https:// URL");
	auth = url + (u->https ? 8 : 7);
	auth_len = strcspn(auth, "/?");
	u->rest = auth + auth_len;
	hp = auth;
	/* The last '@' ends the user-info: the host cannot hold one. */
	for (size_t i = auth_len; i > 0; i--) {
		if (auth[i - 1] == '@') {
			u->has_user = true;
			u->has_password = memchr(auth, ':', i - 1) != NULL;
			if (i == 1 || auth[0] == ':')
				return rum_text_url_fail(why, "user-info without a user name");
			hp = auth + i;
			break;
		}
	}
	return rum_text_url_host(u, hp, auth_len - (size_t)(hp - auth), why);
}
