#include "lib/log.h"

#include "lib/err.h"
#include "lib/text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static enum rum_log_level rum_log_threshold = RUM_LOG_INFO;
static enum rum_log_format rum_log_fmt = RUM_LOG_TEXT;
static __thread const char *rum_log_request;
static const char *const rum_log_names[] = {"debug", "info", "warn", "error"};

/* A line is cut to this many bytes of message; JSON escaping may make the
 * written line longer. */
#define RUM_LOG_LINE_MAX 2048

int rum_log_parse_level(enum rum_log_level *out, const char *name)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, rum_log_names[i]) == 0) {
			*out = (enum rum_log_level)i;
			return 0;
		}
	}
	return rum_err_set(RUM_EINVAL, "log level '%s' is not one of debug, info, warn, error",
			   name);
}

void rum_log_set_level(enum rum_log_level level)
{
	__atomic_store_n(&rum_log_threshold, level, __ATOMIC_RELAXED);
}

int rum_log_parse_format(enum rum_log_format *out, const char *name)
{
	if (strcmp(name, "text") == 0)
		*out = RUM_LOG_TEXT;
	else if (strcmp(name, "json") == 0)
		*out = RUM_LOG_JSON;
	else
		return rum_err_set(RUM_EINVAL, "log format '%s' is not one of text, json", name);
	return 0;
}

void rum_log_set_format(enum rum_log_format format)
{
	rum_log_fmt = format;
}

void rum_log_set_request(const char *id)
{
	rum_log_request = id;
}

const char *rum_log_quote(char *buf, size_t size, const char *value)
{
	size_t n = 0;
	bool plain = value[0] != '\0';

	for (const unsigned char *c = (const unsigned char *)value; *c && plain; c++)
		plain = *c > 0x20 && *c != 0x7f && *c != '"' && *c != '\\';
	if (plain) {
		snprintf(buf, size, "%s", value);
		return buf;
	}
	if (size < 3) {
		buf[0] = '\0';
		return buf;
	}
	buf[n++] = '"';
	for (const unsigned char *c = (const unsigned char *)value; *c && n + 5 < size; c++) {
		if (*c == '"' || *c == '\\') {
			buf[n++] = '\\';
			buf[n++] = (char)*c;
		} else if (*c < 0x20 || *c == 0x7f) {
			n += (size_t)snprintf(buf + n, size - n, "\\x%02x", *c);
		} else {
			buf[n++] = (char)*c;
		}
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return buf;
}

bool rum_log_wanted(enum rum_log_level level)
{
	return level >= __atomic_load_n(&rum_log_threshold, __ATOMIC_RELAXED);
}

/* A bounded output line. */
struct rum_log_out {
	char buf[3 * RUM_LOG_LINE_MAX];
	size_t n;
};

static void rum_log_put(struct rum_log_out *o, const char *s, size_t len)
{
	if (len > sizeof(o->buf) - 2 - o->n)
		len = sizeof(o->buf) - 2 - o->n;
	memcpy(o->buf + o->n, s, len);
	o->n += len;
}

static void rum_log_puts(struct rum_log_out *o, const char *s)
{
	rum_log_put(o, s, strlen(s));
}

/* A JSON string body: quotes, backslashes and control characters escaped;
 * bytes that are not well-formed UTF-8 become U+FFFD. */
static void rum_log_json_text(struct rum_log_out *o, const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			rum_log_put(o, esc, 2);
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			rum_log_puts(o, esc);
			i++;
		} else if (c < 0x80) {
			rum_log_put(o, (const char *)&c, 1);
			i++;
		} else {
			size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2;

			if (i + n <= len && rum_text_printable_utf8(s + i, n)) {
				rum_log_put(o, s + i, n);
				i += n;
			} else {
				rum_log_puts(o, "\xef\xbf\xbd");
				i++;
			}
		}
	}
}

/* A field value; a quoted one has its \" and \\ undone (\xNN stays). */
static void rum_log_json_value(struct rum_log_out *o, const char *v, size_t len, bool quoted)
{
	size_t from = 0;

	for (size_t i = 0; quoted && i + 1 < len; i++) {
		if (v[i] == '\\' && (v[i + 1] == '"' || v[i + 1] == '\\')) {
			rum_log_json_text(o, v + from, i - from);
			from = ++i;
		}
	}
	rum_log_json_text(o, v + from, len - from);
}

static bool rum_log_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || c == '_' || (c >= '0' && c <= '9');
}

/* Length of a key=value token's key at s, or 0 when s is not one. */
static size_t rum_log_key_len(const char *s)
{
	size_t k = 0;

	while (rum_log_key_char(s[k]))
		k++;
	return k > 0 && k <= 32 && s[k] == '=' && !(s[0] >= '0' && s[0] <= '9') ? k : 0;
}

static bool rum_log_reserved(const char *key, size_t len)
{
	static const char *const names[] = {"time", "level", "event", "msg"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == len && memcmp(names[i], key, len) == 0)
			return true;
	return false;
}

static bool rum_log_is_number(const char *v, size_t len)
{
	char tmp[40], *end;

	if (len == 0 || len >= sizeof(tmp) || !((v[0] >= '0' && v[0] <= '9') || v[0] == '-'))
		return false;
	memcpy(tmp, v, len);
	tmp[len] = '\0';
	strtod(tmp, &end);
	return *end == '\0';
}

/* The key=value fields of msg, each as ,"key":value. */
static void rum_log_json_fields(struct rum_log_out *o, const char *msg, bool *has_req)
{
	for (const char *p = msg; *p;) {
		size_t k = (p == msg || p[-1] == ' ') ? rum_log_key_len(p) : 0;
		const char *v, *end, *vend;
		bool quoted;

		if (k == 0) {
			p++;
			continue;
		}
		v = p + k + 1;
		quoted = *v == '"';
		if (quoted) {
			/* To the closing quote; \" and \\ are escapes (rum_log_quote). */
			for (end = ++v; *end && *end != '"'; end++)
				if (*end == '\\' && end[1])
					end++;
		} else {
			end = v + strcspn(v, " ");
		}
		/* "key=value: text" ends the value before its colon. */
		vend = end;
		if (!quoted && vend > v && (vend[-1] == ':' || vend[-1] == ','))
			vend--;
		if (!rum_log_reserved(p, k)) {
			*has_req |= k == 3 && memcmp(p, "req", 3) == 0;
			rum_log_puts(o, ",\"");
			rum_log_put(o, p, k);
			rum_log_puts(o, "\":");
			if (!quoted && rum_log_is_number(v, (size_t)(vend - v))) {
				rum_log_put(o, v, (size_t)(vend - v));
			} else {
				rum_log_puts(o, "\"");
				rum_log_json_value(o, v, (size_t)(vend - v), quoted);
				rum_log_puts(o, "\"");
			}
		}
		p = *end ? end + 1 : end;
		if (quoted && *p == ' ')
			p++;
	}
}

/* "subject: word key=..." gives "subject.word"; "subject: ..." gives
 * "subject"; anything else "log". */
static void rum_log_json_event(struct rum_log_out *o, const char *msg)
{
	size_t s = strspn(msg, "abcdefghijklmnopqrstuvwxyz_-.");
	const char *rest = msg + s + 2;
	size_t w;

	if (s == 0 || s > 24 || msg[s] != ':' || msg[s + 1] != ' ') {
		rum_log_puts(o, "log");
		return;
	}
	rum_log_put(o, msg, s);
	w = strspn(rest, "abcdefghijklmnopqrstuvwxyz_");
	if (w > 0 && w <= 24 && rest[w] == ' ' && rum_log_key_len(rest + w + 1) > 0) {
		rum_log_puts(o, ".");
		rum_log_put(o, rest, w);
	}
}

void rum_log(enum rum_log_level level, const char *fmt, ...)
{
	static struct rum_log_out zero;
	char msg[RUM_LOG_LINE_MAX], when[40];
	struct rum_log_out *o;
	struct timespec ts;
	struct tm tm;
	const char *req = rum_log_request;
	bool has_req = false;
	va_list ap;
	size_t n;

	if (!rum_log_wanted(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + n, sizeof(when) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	o = malloc(sizeof(*o));
	if (!o)
		abort();
	*o = zero;
	if (rum_log_fmt == RUM_LOG_JSON) {
		rum_log_puts(o, "{\"time\":\"");
		rum_log_puts(o, when);
		rum_log_puts(o, "\",\"level\":\"");
		rum_log_puts(o, rum_log_names[level]);
		rum_log_puts(o, "\",\"event\":\"");
		rum_log_json_event(o, msg);
		rum_log_puts(o, "\",\"msg\":\"");
		rum_log_json_text(o, msg, strlen(msg));
		rum_log_puts(o, "\"");
		rum_log_json_fields(o, msg, &has_req);
		if (req && !has_req) {
			rum_log_puts(o, ",\"req\":\"");
			rum_log_json_text(o, req, strlen(req));
			rum_log_puts(o, "\"");
		}
		rum_log_puts(o, "}");
	} else {
		rum_log_puts(o, when);
		rum_log_puts(o, " ");
		rum_log_puts(o, rum_log_names[level]);
		rum_log_puts(o, " ");
		rum_log_puts(o, msg);
		if (req && !strstr(msg, "req=")) {
			rum_log_puts(o, " req=");
			rum_log_puts(o, req);
		}
	}
	/* One fputs per line keeps lines whole when several threads log. */
	o->buf[o->n++] = '\n';
	o->buf[o->n] = '\0';
	fputs(o->buf, stderr);
	free(o);
}
