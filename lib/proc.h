/* Running helper programs (PostgreSQL's initdb and pg_ctl) without a shell. */
#ifndef RUM_UTIL_PROC_H
#define RUM_UTIL_PROC_H

#include <sys/types.h>

/* Runs argv[0] (a path) with argv, optionally as uid/gid (when uid != -1:
 * drops root privileges first), stdout and stderr appended to log_path (or
 * inherited when NULL), stdin from /dev/null; waits for it.
 * Returns 0 when it exited 0; RUM_EIO otherwise, with a message naming the
 * program and its exit status. */
int rum_proc_run(const char *const argv[], uid_t uid, gid_t gid, const char *log_path);

#endif
