/* A fixed set of threads running jobs in order from a bounded queue: work
 * that must not run on the thread that accepted it (an HTTP thread), such
 * as an admin request's database and file work. */
#ifndef RUM_LIB_WORKQ_H
#define RUM_LIB_WORKQ_H

#include <stdbool.h>

struct rum_workq;

/* threads >= 1; queue_max jobs may wait (beyond the running ones). */
struct rum_workq *rum_workq_new(int threads, int queue_max);

/* Queues run(arg); RUM_EUNAVAIL (not queued) when the queue is full or the
 * pool stops. run(arg, false) is called on a worker; jobs still queued when
 * the pool is freed are called with cancelled = true. */
int rum_workq_submit(struct rum_workq *q, void (*run)(void *arg, bool cancelled), void *arg);

/* Lets the running jobs finish, cancels the queued ones, joins. NULL ok. */
void rum_workq_free(struct rum_workq *q);

#endif
