/* Fleet of simulated devices, see fleet.h. */
#include "agent/fleet.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/state.h"
#include "lib/err.h"
#include "lib/log.h"

#define FLEET_THREADS 8
#define DEFAULT_TAG "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53=1"

struct fleet {
	const struct rum_agent_fleet_opts *o;
	pthread_mutex_t mu;
	char (*dirs)[1100];
	int64_t *wake;
	unsigned char *busy, *hello_done;
	unsigned long steps, errors;
};

static volatile int stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static int make_device(const struct rum_agent_fleet_opts *o, const char *dir, int i)
{
	struct rum_agent_state *st;
	struct stat sb;
	char path[1200];
	int rc = 0;

	snprintf(path, sizeof(path), "%s/state.json", dir);
	if (stat(path, &sb) == 0)
		return 0; /* reuse the device from an earlier run */
	st = calloc(1, sizeof(*st));
	if (!st)
		abort();
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	snprintf(st->pid, sizeof(st->pid), "%s", o->pid ? o->pid : "C9300-24P");
	snprintf(st->serial, sizeof(st->serial), "FLT%08d", i);
	snprintf(st->hostname, sizeof(st->hostname), "fleet-%05d", i);
	snprintf(st->url, sizeof(st->url), "%s", o->push.url);
	st->rum_format = o->format;
	for (int k = 0; k < (o->n_ents ? o->n_ents : 1) && rc == 0; k++) {
		rc = rum_agent_parse_usage_arg(st->ent[k].tag, &st->ent[k].count,
					       o->n_ents ? o->ents[k] : DEFAULT_TAG);
		st->n_ent++;
	}
	if (rc == 0)
		rc = rum_agent_state_create(st, (int64_t)time(NULL));
	rum_agent_state_dispose(st);
	free(st);
	return rc;
}

static void *worker(void *arg)
{
	struct fleet *f = arg;

	while (!stop_flag) {
		int64_t now = rum_agent_now_ms(), wake;
		int pick = -1, first;

		pthread_mutex_lock(&f->mu);
		for (int i = 0; i < f->o->count; i++)
			if (!f->busy[i] && f->wake[i] <= now &&
			    (pick < 0 || f->wake[i] < f->wake[pick]))
				pick = i;
		if (pick >= 0) {
			f->busy[pick] = 1;
			first = !f->hello_done[pick];
		}
		pthread_mutex_unlock(&f->mu);
		if (pick < 0) {
			struct timespec ts = {0, 20 * 1000000L};
			nanosleep(&ts, NULL);
			continue;
		}
		int rc = rum_agent_push_step(f->dirs[pick], &f->o->push, now, first, &wake);
		pthread_mutex_lock(&f->mu);
		f->busy[pick] = 0;
		f->hello_done[pick] = 1;
		f->steps++;
		if (rc < 0) {
			f->errors++;
			wake = now + 1000;
		}
		f->wake[pick] = wake;
		pthread_mutex_unlock(&f->mu);
	}
	return NULL;
}

int rum_agent_fleet_run(const struct rum_agent_fleet_opts *o)
{
	struct fleet f = {.o = o, .mu = PTHREAD_MUTEX_INITIALIZER};
	struct sigaction sa = {.sa_handler = on_signal};
	pthread_t th[FLEET_THREADS];
	int n_th, rc = 0;

	if (o->count < 1)
		return rum_err_set(RUM_EINVAL, "fleet needs --count N (>= 1)");
	if (!o->push.url)
		return rum_err_set(RUM_EINVAL, "fleet needs --url");
	if (mkdir(o->root, 0700) != 0 && errno != EEXIST)
		return rum_err_set(RUM_EIO, "cannot create %s: %s", o->root, strerror(errno));
	f.dirs = calloc((size_t)o->count, sizeof(*f.dirs));
	f.wake = calloc((size_t)o->count, sizeof(*f.wake));
	f.busy = calloc((size_t)o->count, 1);
	f.hello_done = calloc((size_t)o->count, 1);
	if (!f.dirs || !f.wake || !f.busy || !f.hello_done)
		abort();
	for (int i = 0; i < o->count && rc == 0; i++) {
		if (snprintf(f.dirs[i], sizeof(f.dirs[i]), "%s/dev-%05d", o->root, i) >=
		    (int)sizeof(f.dirs[i]))
			rc = rum_err_set(RUM_EINVAL, "fleet root path too long");
		else
			rc = make_device(o, f.dirs[i], i);
	}
	if (rc < 0)
		goto out;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	n_th = o->count < FLEET_THREADS ? o->count : FLEET_THREADS;
	for (int i = 0; i < n_th; i++)
		pthread_create(&th[i], NULL, worker, &f);
	for (int i = 0; i < n_th; i++)
		pthread_join(th[i], NULL);
	printf("fleet: %d devices, %lu steps, %lu errors\n", o->count, f.steps, f.errors);
out:
	free(f.dirs);
	free(f.wake);
	free(f.busy);
	free(f.hello_done);
	return rc;
}
