#include "lib/text.h"

#include <inttypes.h>
#include <stdio.h>

#include <stdint.h>
#include <string.h>

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
