/* Logging: one line per event on stderr, "TIME LEVEL message", with context
 * as key=value pairs written by the caller (tenant=, device=, req=).
 * Never log a secret, a password or a token. Thread-safe. */
#ifndef RUM_UTIL_LOG_H
#define RUM_UTIL_LOG_H

#include <stdbool.h>

enum rum_log_level { RUM_LOG_DEBUG = 0, RUM_LOG_INFO, RUM_LOG_WARN, RUM_LOG_ERROR };

/* Parses "debug|info|warn|error"; returns 0 or RUM_EINVAL. */
int rum_log_parse_level(enum rum_log_level *out, const char *name);
void rum_log_set_level(enum rum_log_level level);
/* Whether a line of this level would be written: lets a hot path skip
 * building one nobody reads. */
bool rum_log_wanted(enum rum_log_level level);
void rum_log(enum rum_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define rum_log_debug(...) rum_log(RUM_LOG_DEBUG, __VA_ARGS__)
#define rum_log_info(...) rum_log(RUM_LOG_INFO, __VA_ARGS__)
#define rum_log_warn(...) rum_log(RUM_LOG_WARN, __VA_ARGS__)
#define rum_log_error(...) rum_log(RUM_LOG_ERROR, __VA_ARGS__)

#endif
