#include "lib/workq.h"

#include "lib/err.h"

#include <pthread.h>
#include <stdlib.h>

struct rum_workq_job {
	void (*run)(void *arg, bool cancelled);
	void *arg;
	struct rum_workq_job *next;
};

struct rum_workq {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct rum_workq_job *head, *tail;
	int queued, queue_max, nthreads;
	bool stopping;
	pthread_t *threads;
};

static void *rum_workq_worker(void *arg)
{
	struct rum_workq *p = arg;

	for (;;) {
		struct rum_workq_job *j;

		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stopping) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->lock);
		j->run(j->arg, false);
		free(j);
	}
}

struct rum_workq *rum_workq_new(int threads, int queue_max)
{
	struct rum_workq *p = calloc(1, sizeof(*p));

	if (!p || threads < 1)
		abort();
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->queue_max = queue_max;
	p->nthreads = threads;
	p->threads = calloc((size_t)threads, sizeof(*p->threads));
	if (!p->threads)
		abort();
	for (int i = 0; i < threads; i++)
		if (pthread_create(&p->threads[i], NULL, rum_workq_worker, p) != 0)
			abort();
	return p;
}

int rum_workq_submit(struct rum_workq *p, void (*run)(void *arg, bool cancelled), void *arg)
{
	struct rum_workq_job *j;
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (p->stopping || p->queued >= p->queue_max) {
		rc = rum_err_set(RUM_EUNAVAIL, "the workers are busy; try again later");
		goto out;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		abort();
	*j = (struct rum_workq_job){run, arg, NULL};
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	pthread_cond_signal(&p->cond);
out:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void rum_workq_free(struct rum_workq *p)
{
	struct rum_workq_job *j;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	while ((j = p->head) != NULL) {
		p->head = j->next;
		j->run(j->arg, true);
		free(j);
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
}
