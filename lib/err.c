#include "lib/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char rum_err_buf[512];

int rum_err_set(int code, const char *fmt, ...)
{
	char msg[sizeof(rum_err_buf)];
	va_list ap;

	/* Formatted aside first: callers may pass rum_err_msg() as an argument
	 * to add context to the message already set. */
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memcpy(rum_err_buf, msg, sizeof(msg));
	return code;
}

const char *rum_err_msg(void)
{
	return rum_err_buf;
}

void rum_err_clear(void)
{
	rum_err_buf[0] = '\0';
}

const char *rum_err_name(int code)
{
	switch (code) {
	case RUM_OK: return "OK";
	case RUM_EINVAL: return "EINVAL";
	case RUM_ENOTFOUND: return "ENOTFOUND";
	case RUM_ETOOBIG: return "ETOOBIG";
	case RUM_EUNAVAIL: return "EUNAVAIL";
	case RUM_ECONFLICT: return "ECONFLICT";
	case RUM_EIO: return "EIO";
	case RUM_EINTERNAL: return "EINTERNAL";
	case RUM_EMETHOD: return "EMETHOD";
	case RUM_EAUTH: return "EAUTH";
	case RUM_EFORBIDDEN: return "EFORBIDDEN";
	case RUM_ETIMEDOUT: return "ETIMEDOUT";
	}
	return "EUNKNOWN";
}
