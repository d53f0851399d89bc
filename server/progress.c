#include "server/progress.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Shown after this long, then refreshed this often. */
#define RUM_PROGRESS_AFTER_MS 1000
#define RUM_PROGRESS_EVERY_MS 250

struct rum_progress {
	char what[96], unit[32];
	const atomic_llong *count;
	long long total;
	struct timespec t0;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool ending, shown;
};

static long long rum_progress_ms(const struct rum_progress *p)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - p->t0.tv_sec) * 1000LL + (now.tv_nsec - p->t0.tv_nsec) / 1000000;
}

/* Called with the lock held. "\r" and erase-to-end-of-line rewrite the line. */
static void rum_progress_line(struct rum_progress *p, const char *state, bool final)
{
	long long ms = rum_progress_ms(p);
	char counted[96] = "";

	if (p->count && p->total > 0)
		snprintf(counted, sizeof(counted), ", %lld of %lld %s", atomic_load(p->count),
			 p->total, p->unit);
	else if (p->count)
		snprintf(counted, sizeof(counted), ", %lld %s", atomic_load(p->count), p->unit);
	fprintf(stderr, "\r\033[K%s: %s%s, %lld.%lld s%s", p->what, state, counted, ms / 1000,
		ms % 1000 / 100, final ? "\n" : "");
	fflush(stderr);
	p->shown = true;
}

static void *rum_progress_main(void *arg)
{
	struct rum_progress *p = arg;

	pthread_mutex_lock(&p->lock);
	while (!p->ending) {
		long long ms = rum_progress_ms(p);
		long long wait = ms < RUM_PROGRESS_AFTER_MS ? RUM_PROGRESS_AFTER_MS - ms
							    : RUM_PROGRESS_EVERY_MS;
		struct timespec until;

		if (ms >= RUM_PROGRESS_AFTER_MS)
			rum_progress_line(p, "running", false);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += wait / 1000;
		until.tv_nsec += (wait % 1000) * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		if (!p->ending)
			pthread_cond_timedwait(&p->wake, &p->lock, &until);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

struct rum_progress *rum_progress_start(const char *what, const atomic_llong *count,
					const char *unit, long long total)
{
	struct rum_progress *p;

	if (isatty(STDERR_FILENO) != 1)
		return NULL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	snprintf(p->what, sizeof(p->what), "%s", what);
	snprintf(p->unit, sizeof(p->unit), "%s", unit ? unit : "");
	p->count = count;
	p->total = total;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->wake, NULL);
	if (pthread_create(&p->thread, NULL, rum_progress_main, p) != 0) {
		pthread_cond_destroy(&p->wake);
		pthread_mutex_destroy(&p->lock);
		free(p);
		return NULL;
	}
	return p;
}

void rum_progress_end(struct rum_progress *p, int ok)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->ending = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->lock);
	pthread_join(p->thread, NULL);
	if (p->shown)
		rum_progress_line(p, ok ? "done" : "failed", true);
	pthread_cond_destroy(&p->wake);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
