/* Progress of a long CLI verb, on a terminal: once an operation has run for
 * a second, a line on standard error says what it is doing, how far it got
 * and for how long, rewritten a few times a second; when it ends, the line
 * is replaced by a summary. Nothing is written when standard error is not a
 * terminal (scripts read the verb's own output, and --json keeps stdout
 * clean either way). */
#ifndef RUM_SERVER_PROGRESS_H
#define RUM_SERVER_PROGRESS_H

#include <stdatomic.h>

struct rum_progress;

/* Starts reporting `what` (for example "counting licence usage"). count,
 * when not NULL, is read as the operation advances it and shown with unit
 * (for example "values"); total, when above zero, is shown as "of total".
 * Returns NULL (and reports nothing) when standard error is not a terminal
 * or the reporting thread cannot start: the caller goes on regardless. */
struct rum_progress *rum_progress_start(const char *what, const atomic_llong *count,
					const char *unit, long long total);

/* Ends the report. When the line was shown, it becomes "what: done, N unit
 * in S s" (or "what: failed after S s" when ok is false). NULL: no-op. */
void rum_progress_end(struct rum_progress *p, int ok);

#endif
