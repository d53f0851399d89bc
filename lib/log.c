#include "lib/log.h"

#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum rum_log_level rum_log_threshold = RUM_LOG_INFO;
static const char *const rum_log_names[] = {"debug", "info", "warn", "error"};

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

/* The level may change while threads log (serve reloads it on SIGHUP). */
void rum_log_set_level(enum rum_log_level level)
{
	__atomic_store_n(&rum_log_threshold, level, __ATOMIC_RELAXED);
}

bool rum_log_wanted(enum rum_log_level level)
{
	return level >= __atomic_load_n(&rum_log_threshold, __ATOMIC_RELAXED);
}

void rum_log(enum rum_log_level level, const char *fmt, ...)
{
	char line[2048];
	struct timespec ts;
	struct tm tm;
	size_t n;
	va_list ap;

	if (!rum_log_wanted(level))
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ", ts.tv_nsec / 1000000,
			      rum_log_names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	/* One fputs per line keeps lines whole when several threads log. */
	n = strlen(line);
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	line[n] = '\n';
	line[n + 1] = '\0';
	fputs(line, stderr);
}
