/* Running helper programs (PostgreSQL's initdb, pg_ctl, pg_dump) without a shell. */
#ifndef RUM_UTIL_PROC_H
#define RUM_UTIL_PROC_H

#include <sys/types.h>

/* Runs argv[0] (a path) with argv, optionally as uid/gid (when uid != -1:
 * drops root privileges first), stdout and stderr appended to log_path (or
 * inherited when NULL), stdin from /dev/null; waits for it.
 * Returns 0 when it exited 0; RUM_EIO otherwise, with a message naming the
 * program and its exit status. */
int rum_proc_run(const char *const argv[], uid_t uid, gid_t gid, const char *log_path);

/* rum_proc_run with env (NULL-terminated "NAME=value" strings, may be NULL)
 * set over the inherited environment: the way to hand a program a secret,
 * such as PGPASSWORD, that must not show on its argument list. */
int rum_proc_run_env(const char *const argv[], const char *const env[], uid_t uid, gid_t gid,
		     const char *log_path);

#endif
