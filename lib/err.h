/* Errors: every fallible function returns int, 0 on success or a negative
 * RUM_E* code; the place that detects a failure sets a one-line, thread-local
 * message with rum_err_set(). The router maps codes to HTTP statuses. */
#ifndef RUM_UTIL_ERR_H
#define RUM_UTIL_ERR_H

enum {
	RUM_OK = 0,
	RUM_EINVAL = -1,      /* bad input from outside: message, file, flag */
	RUM_ENOTFOUND = -2,   /* a named thing does not exist */
	RUM_ETOOBIG = -3,     /* an outside size passed its ceiling */
	RUM_EUNAVAIL = -4,    /* a dependency (the database) is unreachable */
	RUM_ECONFLICT = -5,   /* the request clashes with existing state */
	RUM_EIO = -6,         /* OS-level I/O failure */
	RUM_EINTERNAL = -7,   /* a bug or an unexpected state */
	RUM_EMETHOD = -8,     /* wrong method for a resource */
	RUM_EAUTH = -9,       /* missing or bad credentials */
	RUM_EFORBIDDEN = -10, /* authenticated but not allowed */
	RUM_ETIMEDOUT = -11   /* a peer (device) did not answer in time */
};

/* Sets this thread's error message (printf format) and returns code, so that
 * callers can write `return rum_err_set(RUM_EINVAL, "...")`. The arguments
 * may include rum_err_msg() itself, to add context to the current message. */
int rum_err_set(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* This thread's last message; never NULL ("" when none was set). */
const char *rum_err_msg(void);

/* Clears this thread's message. */
void rum_err_clear(void);

/* Short stable name of a code, e.g. "EINVAL". */
const char *rum_err_name(int code);

#endif
