#include "server/http_guard.h"

#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUM_GUARD_BUCKETS 1024
/* A limit that keeps biting is logged at most this often, with a count. */
#define RUM_GUARD_LOG_EVERY_MS 10000
/* How often deadlines are checked. */
#define RUM_GUARD_TICK_MS 500

enum rum_guard_state {
	RUM_GUARD_NEW,       /* open, first request's headers due */
	RUM_GUARD_IDLE,      /* kept alive after an answer, next headers due */
	RUM_GUARD_BODY,      /* headers in, body arriving */
	RUM_GUARD_ANSWERING, /* body complete, answer being made or sent */
};

enum rum_guard_reason {
	RUM_GUARD_PER_ADDRESS, /* refused: the address holds its share */
	RUM_GUARD_LIMIT,       /* refused: the listener is full */
	RUM_GUARD_HEADERS,     /* cut: no complete request in time */
	RUM_GUARD_SLOW_BODY,   /* cut: body under the rate floor */
	RUM_GUARD_IDLE_CUT,    /* cut: kept-alive connection idle too long (normal) */
	RUM_GUARD_REASONS
};

static struct rum_metric rum_guard_m[RUM_GUARD_REASONS] = {
	RUM_METRIC_COUNTER("rumd_http_connections_refused_total", "reason=\"per_address\"",
			   "Connections refused at accept because the address holds "
			   "http_max_connections_per_address"),
	RUM_METRIC_COUNTER("rumd_http_full_total", NULL,
			   "Times a listener reached http_max_connections (or refused a "
			   "connection for it)"),
	RUM_METRIC_COUNTER("rumd_http_connections_cut_total", "reason=\"header_timeout\"",
			   "Connections closed by rumd: headers not complete in time, body slower "
			   "than the floor, kept-alive connection idle too long"),
	RUM_METRIC_COUNTER("rumd_http_connections_cut_total", "reason=\"body_too_slow\"", ""),
	RUM_METRIC_COUNTER("rumd_http_connections_cut_total", "reason=\"idle\"", ""),
};

__attribute__((constructor)) static void rum_guard_metrics_init(void)
{
	rum_metric_register_all(rum_guard_m, RUM_GUARD_REASONS);
}

struct rum_guard_addr {
	unsigned char key[16];
	size_t len;
	unsigned count;
	struct rum_guard_addr *next;
};

struct rum_http_guard_conn {
	struct rum_http_guard *g;
	int fd;
	struct rum_guard_addr *addr;
	char addr_text[64];
	enum rum_guard_state state; /* guarded by g->lock */
	int64_t since_ms;           /* when the state began */
	size_t body_bytes;          /* atomic */
	bool cut;
	struct rum_http_guard_conn *prev, *next;
};

struct rum_guard_note {
	int64_t last_ms;
	unsigned count;
	char example[64];
};

struct rum_http_guard {
	struct rum_http_guard_options o;
	char listen[128];
	pthread_mutex_t lock;
	pthread_cond_t wake;
	pthread_t thread;
	bool stopping;
	unsigned nconns;
	struct rum_http_guard_conn *conns;
	struct rum_guard_addr *buckets[RUM_GUARD_BUCKETS];
	struct rum_guard_note notes[RUM_GUARD_REASONS];
};

static int64_t rum_guard_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The address bytes a per-address count is kept under (port left out). */
static size_t rum_guard_key(unsigned char key[16], const struct sockaddr *sa)
{
	if (sa && sa->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, 4);
		return 4;
	}
	if (sa && sa->sa_family == AF_INET6) {
		memcpy(key, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, 16);
		return 16;
	}
	return 0;
}

static unsigned rum_guard_hash(const unsigned char *key, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ key[i]) * 16777619u;
	return h % RUM_GUARD_BUCKETS;
}

/* Under g->lock. NULL when the address has no connection here. */
static struct rum_guard_addr *rum_guard_find(struct rum_http_guard *g, const unsigned char *key,
					     size_t len)
{
	for (struct rum_guard_addr *a = g->buckets[rum_guard_hash(key, len)]; a; a = a->next)
		if (a->len == len && memcmp(a->key, key, len) == 0)
			return a;
	return NULL;
}

static void rum_guard_addr_text(char *out, size_t size, const struct sockaddr *sa, socklen_t len)
{
	if (!sa || getnameinfo(sa, len, out, (socklen_t)size, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(out, size, "unknown");
}

/* Writes a note's line when due. Under g->lock. */
static void rum_guard_flush(struct rum_http_guard *g, enum rum_guard_reason r, int64_t now,
			    bool force)
{
	struct rum_guard_note *n = &g->notes[r];

	if (n->count == 0 || (!force && now - n->last_ms < RUM_GUARD_LOG_EVERY_MS))
		return;
	switch (r) {
	case RUM_GUARD_PER_ADDRESS:
		rum_log_warn("http: %s: refused %u connection(s) from an address already holding "
			     "http_max_connections_per_address=%u (e.g. %s)",
			     g->listen, n->count, g->o.per_address, n->example);
		break;
	case RUM_GUARD_LIMIT:
		rum_log_warn("http: %s: full (http_max_connections=%u) %u time(s); new connections "
			     "wait or are refused (e.g. from %s)",
			     g->listen, g->o.max_connections, n->count, n->example);
		break;
	case RUM_GUARD_HEADERS:
		rum_log_warn("http: %s: closed %u connection(s) that sent no complete request "
			     "within http_header_timeout_s=%d (e.g. from %s)",
			     g->listen, n->count, g->o.header_timeout_s, n->example);
		break;
	case RUM_GUARD_SLOW_BODY:
		rum_log_warn("http: %s: closed %u connection(s) sending a body slower than "
			     "http_body_min_rate=%zu bytes/s (e.g. from %s)",
			     g->listen, n->count, g->o.body_min_rate, n->example);
		break;
	default:
		rum_log_debug("http: %s: closed %u kept-alive connection(s) idle for "
			      "http_idle_timeout_s=%d",
			      g->listen, n->count, g->o.idle_timeout_s);
	}
	n->count = 0;
	n->last_ms = now;
}

/* Counts one event of reason r. Under g->lock. */
static void rum_guard_note(struct rum_http_guard *g, enum rum_guard_reason r, const char *example,
			   int64_t now)
{
	rum_metric_inc(&rum_guard_m[r]);
	if (g->notes[r].count++ == 0)
		snprintf(g->notes[r].example, sizeof(g->notes[r].example), "%s", example);
	rum_guard_flush(g, r, now, false);
}

/* Shuts c's socket down: the transport sees its peer gone and closes it. */
static void rum_guard_cut(struct rum_http_guard *g, struct rum_http_guard_conn *c,
			  enum rum_guard_reason r, int64_t now)
{
	c->cut = true;
	shutdown(c->fd, SHUT_RDWR);
	rum_guard_note(g, r, c->addr_text, now);
}

static void rum_guard_check(struct rum_http_guard *g, int64_t now)
{
	int64_t header_ms = (int64_t)g->o.header_timeout_s * 1000;
	int64_t idle_ms = (int64_t)g->o.idle_timeout_s * 1000;

	for (struct rum_http_guard_conn *c = g->conns; c; c = c->next) {
		int64_t age = now - c->since_ms;

		if (c->cut)
			continue;
		if (c->state == RUM_GUARD_NEW && age > header_ms) {
			rum_guard_cut(g, c, RUM_GUARD_HEADERS, now);
		} else if (c->state == RUM_GUARD_IDLE && age > idle_ms) {
			rum_guard_cut(g, c, RUM_GUARD_IDLE_CUT, now);
		} else if (c->state == RUM_GUARD_BODY && g->o.body_min_rate && age > header_ms) {
			size_t got = __atomic_load_n(&c->body_bytes, __ATOMIC_RELAXED);

			if ((double)got < (double)g->o.body_min_rate * (double)age / 1000.0)
				rum_guard_cut(g, c, RUM_GUARD_SLOW_BODY, now);
		}
	}
	for (int r = 0; r < RUM_GUARD_REASONS; r++)
		rum_guard_flush(g, (enum rum_guard_reason)r, now, false);
}

static void *rum_guard_main(void *arg)
{
	struct rum_http_guard *g = arg;

	pthread_mutex_lock(&g->lock);
	while (!g->stopping) {
		struct timespec until;

		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += RUM_GUARD_TICK_MS * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&g->wake, &g->lock, &until);
		if (!g->stopping)
			rum_guard_check(g, rum_guard_now_ms());
	}
	for (int r = 0; r < RUM_GUARD_REASONS; r++)
		rum_guard_flush(g, (enum rum_guard_reason)r, rum_guard_now_ms(), true);
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

int rum_http_guard_new(struct rum_http_guard **out, const struct rum_http_guard_options *o)
{
	struct rum_http_guard *g = calloc(1, sizeof(*g));
	pthread_condattr_t ca;

	if (!g)
		abort();
	g->o = *o;
	snprintf(g->listen, sizeof(g->listen), "%s", o->listen ? o->listen : "");
	g->o.listen = g->listen;
	pthread_mutex_init(&g->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&g->thread, NULL, rum_guard_main, g) != 0) {
		pthread_cond_destroy(&g->wake);
		pthread_mutex_destroy(&g->lock);
		free(g);
		return rum_err_set(RUM_EIO, "cannot start the connection watchdog");
	}
	*out = g;
	return 0;
}

void rum_http_guard_free(struct rum_http_guard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->stopping = true;
	pthread_cond_signal(&g->wake);
	pthread_mutex_unlock(&g->lock);
	pthread_join(g->thread, NULL);
	for (size_t i = 0; i < RUM_GUARD_BUCKETS; i++) {
		while (g->buckets[i]) {
			struct rum_guard_addr *a = g->buckets[i];

			g->buckets[i] = a->next;
			free(a);
		}
	}
	pthread_cond_destroy(&g->wake);
	pthread_mutex_destroy(&g->lock);
	free(g);
}

bool rum_http_guard_admit(struct rum_http_guard *g, const struct sockaddr *addr, socklen_t addr_len)
{
	unsigned char key[16];
	size_t len = rum_guard_key(key, addr);
	struct rum_guard_addr *a;
	enum rum_guard_reason refused = RUM_GUARD_REASONS;
	char text[64];

	pthread_mutex_lock(&g->lock);
	a = len ? rum_guard_find(g, key, len) : NULL;
	if (g->o.max_connections && g->nconns >= g->o.max_connections)
		refused = RUM_GUARD_LIMIT;
	else if (g->o.per_address && a && a->count >= g->o.per_address)
		refused = RUM_GUARD_PER_ADDRESS;
	if (refused != RUM_GUARD_REASONS) {
		rum_guard_addr_text(text, sizeof(text), addr, addr_len);
		rum_guard_note(g, refused, text, rum_guard_now_ms());
	}
	pthread_mutex_unlock(&g->lock);
	return refused == RUM_GUARD_REASONS;
}

struct rum_http_guard_conn *rum_http_guard_open(struct rum_http_guard *g, int fd,
						const struct sockaddr *addr, socklen_t addr_len)
{
	struct rum_http_guard_conn *c = calloc(1, sizeof(*c));
	unsigned char key[16];
	size_t len = rum_guard_key(key, addr);

	if (!c)
		abort();
	c->g = g;
	c->fd = fd;
	c->state = RUM_GUARD_NEW;
	c->since_ms = rum_guard_now_ms();
	rum_guard_addr_text(c->addr_text, sizeof(c->addr_text), addr, addr_len);
	pthread_mutex_lock(&g->lock);
	if (len) {
		c->addr = rum_guard_find(g, key, len);
		if (!c->addr) {
			unsigned h = rum_guard_hash(key, len);

			c->addr = calloc(1, sizeof(*c->addr));
			if (!c->addr)
				abort();
			memcpy(c->addr->key, key, len);
			c->addr->len = len;
			c->addr->next = g->buckets[h];
			g->buckets[h] = c->addr;
		}
		c->addr->count++;
	}
	c->next = g->conns;
	if (g->conns)
		g->conns->prev = c;
	g->conns = c;
	/* Full: the transport stops accepting; further connections wait in the
	 * kernel's listen queue (or are refused in rum_http_guard_admit). */
	if (++g->nconns == g->o.max_connections)
		rum_guard_note(g, RUM_GUARD_LIMIT, c->addr_text, c->since_ms);
	pthread_mutex_unlock(&g->lock);
	return c;
}

void rum_http_guard_close(struct rum_http_guard_conn *c)
{
	struct rum_http_guard *g;

	if (!c)
		return;
	g = c->g;
	pthread_mutex_lock(&g->lock);
	if (c->addr && --c->addr->count == 0) {
		struct rum_guard_addr **pp = &g->buckets[rum_guard_hash(c->addr->key, c->addr->len)];

		while (*pp != c->addr)
			pp = &(*pp)->next;
		*pp = c->addr->next;
		free(c->addr);
	}
	if (c->prev)
		c->prev->next = c->next;
	else
		g->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	g->nconns--;
	pthread_mutex_unlock(&g->lock);
	free(c);
}

static void rum_guard_set(struct rum_http_guard_conn *c, enum rum_guard_state s)
{
	if (!c)
		return;
	pthread_mutex_lock(&c->g->lock);
	c->state = s;
	c->since_ms = rum_guard_now_ms();
	__atomic_store_n(&c->body_bytes, 0, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&c->g->lock);
}

void rum_http_guard_headers_done(struct rum_http_guard_conn *c)
{
	rum_guard_set(c, RUM_GUARD_BODY);
}

void rum_http_guard_body(struct rum_http_guard_conn *c, size_t n)
{
	if (c)
		__atomic_add_fetch(&c->body_bytes, n, __ATOMIC_RELAXED);
}

void rum_http_guard_answering(struct rum_http_guard_conn *c)
{
	rum_guard_set(c, RUM_GUARD_ANSWERING);
}

void rum_http_guard_idle(struct rum_http_guard_conn *c)
{
	rum_guard_set(c, RUM_GUARD_IDLE);
}
