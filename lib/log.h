/* Logging: one line per event on stderr, with context as key=value pairs
 * written by the caller (tenant=, device=, req=, duration_ms=). Never log a
 * secret, a password or a token. Thread-safe.
 *
 * Two formats. text: "TIME LEVEL message". json: one object per line,
 * {"time", "level", "event", "msg", then the message's key=value pairs as
 * fields}: "event" is the message's "subject:" prefix ("db"), joined by the
 * word after it when key=value pairs follow that word ("http: request
 * method=GET ..." is "http.request"); a value in double quotes may hold
 * spaces; numbers become JSON numbers. A line logged while a request is
 * handled on this thread carries its id (req=) in both formats. */
#ifndef RUM_UTIL_LOG_H
#define RUM_UTIL_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum rum_log_level { RUM_LOG_DEBUG = 0, RUM_LOG_INFO, RUM_LOG_WARN, RUM_LOG_ERROR };

/* Parses "debug|info|warn|error"; returns 0 or RUM_EINVAL. */
int rum_log_parse_level(enum rum_log_level *out, const char *name);
void rum_log_set_level(enum rum_log_level level);

enum rum_log_format { RUM_LOG_TEXT = 0, RUM_LOG_JSON };
/* Parses "text|json"; returns 0 or RUM_EINVAL. */
int rum_log_parse_format(enum rum_log_format *out, const char *name);
void rum_log_set_format(enum rum_log_format format);

/* The request this thread handles now (NULL: none); the text is not
 * copied and must stay valid until cleared. */
void rum_log_set_request(const char *id);
/* Whether a line of this level would be written: lets a hot path skip
 * building one nobody reads. */
bool rum_log_wanted(enum rum_log_level level);
void rum_log(enum rum_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* value as a log field value: as it is when it is plain, else in double
 * quotes with '"', '\\' and control characters escaped (\", \\, \xNN), so
 * that device input can neither split a line nor forge a field. Returns
 * buf (cut to size). */
const char *rum_log_quote(char *buf, size_t size, const char *value);

#define rum_log_debug(...) rum_log(RUM_LOG_DEBUG, __VA_ARGS__)
#define rum_log_info(...) rum_log(RUM_LOG_INFO, __VA_ARGS__)
#define rum_log_warn(...) rum_log(RUM_LOG_WARN, __VA_ARGS__)
#define rum_log_error(...) rum_log(RUM_LOG_ERROR, __VA_ARGS__)

#endif
