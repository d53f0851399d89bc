#include "server/http.h"

#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "server/config.h"
#include "server/http_guard.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct rum_http_server {
	struct MHD_Daemon *daemon;
	int listen_fd;
	uint16_t port;
	bool quiesced;
	bool draining;      /* atomic: answers close their connection */
	unsigned suspended; /* atomic: requests parked waiting for an answer */
	struct rum_http_options opts;
	char *cert_pem, *key_pem;
	unsigned in_flight; /* atomic */
	struct rum_http_guard *guard;
	int64_t busy_logged_ms; /* atomic: last "bodies budget spent" line */
};

/* One request, from its first byte to the completion callback. */
struct rum_http_exchange {
	struct rum_http_server *srv;
	struct MHD_Connection *conn;
	char *body;
	size_t len, cap, discarded;
	size_t reserved; /* bytes of the shared budget this body holds */
	bool too_big, busy, dispatched;
	char method[16];
	char *path;
	char addr[64];
	/* The answer, set by rum_http_respond() from any thread. */
	pthread_mutex_t lock;
	bool responded, suspended;
	int status;
	char *resp;
	size_t resp_len;
	int resp_fd; /* a file to send instead of resp, or -1 */
	const char *content_type;
	char header_name[64], header_value[256];
	const void *resp_static;           /* a body of static lifetime, or NULL */
	const char *const *static_headers; /* name, value, ..., NULL; or NULL */
	struct timespec started;           /* first byte of the request */
	struct rum_http_guard_conn *guard; /* the connection's deadlines */
	size_t declared;                   /* Content-Length, 0 when none */
	char request_id[RUM_HTTP_REQUEST_ID_MAX + 1];
	char tenant[96], device[96]; /* rum_http_note(), for the access line */
};

/* The transport's metrics, for every listener together. */
static struct rum_metric rum_http_m_connections =
	RUM_METRIC_GAUGE("rumd_http_connections", NULL,
			 "HTTP(S) connections open, on every listener");
static struct rum_metric rum_http_m_in_flight = RUM_METRIC_GAUGE("rumd_http_requests_in_flight",
								 NULL,
								 "Requests read or being answered");
static struct rum_metric rum_http_m_body_bytes =
	RUM_METRIC_GAUGE("rumd_http_body_bytes_held", NULL,
			 "Bytes of request bodies held in memory (bounded by http_max_body_total)");
static struct rum_metric rum_http_m_responses[] = {
	RUM_METRIC_COUNTER("rumd_http_responses_total", "class=\"1xx\"",
			   "Answers sent, by status class"),
	RUM_METRIC_COUNTER("rumd_http_responses_total", "class=\"2xx\"", ""),
	RUM_METRIC_COUNTER("rumd_http_responses_total", "class=\"3xx\"", ""),
	RUM_METRIC_COUNTER("rumd_http_responses_total", "class=\"4xx\"", ""),
	RUM_METRIC_COUNTER("rumd_http_responses_total", "class=\"5xx\"", ""),
};
static struct rum_metric rum_http_m_unavailable =
	RUM_METRIC_COUNTER("rumd_http_unavailable_total", NULL,
			   "503 answers: database down or behind, too many bodies held, stopping");
static struct rum_metric rum_http_m_refused[] = {
	RUM_METRIC_COUNTER("rumd_http_bodies_refused_total", "reason=\"too_big\"",
			   "Request bodies not read: over max_body_bytes, or over the shared "
			   "http_max_body_total budget (busy)"),
	RUM_METRIC_COUNTER("rumd_http_bodies_refused_total", "reason=\"busy\"", ""),
};
static struct rum_metric rum_http_m_seconds = RUM_METRIC_HISTOGRAM(
	"rumd_http_request_seconds", NULL,
	"Time from a request's first byte to its end (answer sent or connection lost)",
	{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30});

__attribute__((constructor)) static void rum_http_metrics_init(void)
{
	rum_metric_register(&rum_http_m_connections);
	rum_metric_register(&rum_http_m_in_flight);
	rum_metric_register(&rum_http_m_body_bytes);
	rum_metric_register_all(rum_http_m_responses, 5);
	rum_metric_register(&rum_http_m_unavailable);
	rum_metric_register_all(rum_http_m_refused, 2);
	rum_metric_register(&rum_http_m_seconds);
}

/* A too-big body sent without Content-Length is read and dropped up to this
 * many times the limit before the connection is cut. */
#define RUM_HTTP_DISCARD_FACTOR 4

static void rum_http_answer(struct rum_http_exchange *x, int status, const char *content_type,
			    char *body, size_t body_len, int fd, const char *header_name,
			    const char *header_value)
{
	struct MHD_Connection *conn;
	bool resume;

	pthread_mutex_lock(&x->lock);
	x->status = status;
	x->resp = body;
	x->resp_len = body || fd >= 0 || x->resp_static ? body_len : 0;
	x->resp_fd = fd;
	x->content_type = content_type;
	if (header_name && header_value) {
		snprintf(x->header_name, sizeof(x->header_name), "%s", header_name);
		snprintf(x->header_value, sizeof(x->header_value), "%s", header_value);
	}
	x->responded = true;
	resume = x->suspended;
	x->suspended = false;
	conn = x->conn;
	if (resume)
		__atomic_sub_fetch(&x->srv->suspended, 1, __ATOMIC_SEQ_CST);
	pthread_mutex_unlock(&x->lock);
	/* After the resume the transport may send the answer and free x at
	 * once: x must not be touched from here on. A parked connection stays
	 * valid until it is resumed, so conn is safe to use. */
	if (resume)
		MHD_resume_connection(conn);
}

void rum_http_respond(struct rum_http_exchange *x, int status, const char *content_type, char *body,
		      size_t body_len, const char *header_name, const char *header_value)
{
	rum_http_answer(x, status, content_type, body, body_len, -1, header_name, header_value);
}

void rum_http_respond_static(struct rum_http_exchange *x, int status, const char *content_type,
			     const void *body, size_t body_len, const char *const *headers)
{
	/* Set before the answer is published: rum_http_answer's lock orders it. */
	pthread_mutex_lock(&x->lock);
	x->resp_static = body;
	x->static_headers = headers;
	pthread_mutex_unlock(&x->lock);
	rum_http_answer(x, status, content_type, NULL, body_len, -1, NULL, NULL);
}

void rum_http_respond_file(struct rum_http_exchange *x, int status, const char *content_type,
			   int fd, size_t size, const char *header_name, const char *header_value)
{
	rum_http_answer(x, status, content_type, NULL, size, fd, header_name, header_value);
}

static enum MHD_Result rum_http_header_add(void *cls, enum MHD_ValueKind kind, const char *key,
					   const char *value)
{
	json_t *obj = cls;

	if (strcasecmp(key, "Authorization") != 0 && strcasecmp(key, "Cookie") != 0)
		json_object_set_new(obj, key, json_string(value ? value : ""));
	return MHD_YES;
}

char *rum_http_headers_json(struct rum_http_exchange *x)
{
	json_t *obj = json_object();
	char *text;

	MHD_get_connection_values(x->conn, MHD_HEADER_KIND, rum_http_header_add, obj);
	text = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	if (!text)
		abort();
	return text;
}

struct rum_http_query_walk {
	int (*cb)(void *arg, const char *name, const char *value);
	void *arg;
	int rc;
};

/* Query text is left escaped by the transport (paths must reach the router
 * as sent): decodes %XX and '+' (a space) in place. -1 on a bad escape or
 * an encoded NUL. */
static int rum_http_query_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%') {
			int v = 0;

			for (int k = 1; k <= 2; k++) {
				char h = s[k];

				v <<= 4;
				if (h >= '0' && h <= '9')
					v |= h - '0';
				else if (h >= 'a' && h <= 'f')
					v |= h - 'a' + 10;
				else if (h >= 'A' && h <= 'F')
					v |= h - 'A' + 10;
				else
					return -1;
			}
			if (v == 0)
				return -1;
			*o++ = (char)v;
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
	return 0;
}

static enum MHD_Result rum_http_query_one(void *cls, enum MHD_ValueKind kind, const char *key,
					  const char *value)
{
	struct rum_http_query_walk *w = cls;
	char *k = strdup(key), *v = value ? strdup(value) : NULL;

	(void)kind;
	if (!k || (value && !v))
		abort();
	if (rum_http_query_decode(k) != 0 || (v && rum_http_query_decode(v) != 0))
		w->rc = rum_err_set(RUM_EINVAL, "bad percent escape in the query string");
	else
		w->rc = w->cb(w->arg, k, v);
	free(k);
	free(v);
	return w->rc == 0 ? MHD_YES : MHD_NO;
}

int rum_http_query_each(struct rum_http_exchange *x,
			int (*cb)(void *arg, const char *name, const char *value), void *arg)
{
	struct rum_http_query_walk w = {cb, arg, 0};

	MHD_get_connection_values(x->conn, MHD_GET_ARGUMENT_KIND, rum_http_query_one, &w);
	return w.rc;
}

const char *rum_http_header(struct rum_http_exchange *x, const char *name)
{
	return MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, name);
}

static void rum_http_client_addr(struct MHD_Connection *conn, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	socklen_t salen = sa && sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							  : sizeof(struct sockaddr_in);

	if (!sa || getnameinfo(sa, salen, out, (socklen_t)len, NULL, 0, NI_NUMERICHOST) != 0)
		snprintf(out, len, "unknown");
}

static enum MHD_Result rum_http_queue(struct rum_http_exchange *x)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (x->resp_fd >= 0)
		r = MHD_create_response_from_fd((uint64_t)x->resp_len, x->resp_fd);
	else if (x->resp_static)
		r = MHD_create_response_from_buffer(x->resp_len, (void *)x->resp_static,
						    MHD_RESPMEM_PERSISTENT);
	else
		r = MHD_create_response_from_buffer(x->resp_len, x->resp ? x->resp : (void *)"",
						    x->resp ? MHD_RESPMEM_MUST_FREE
							    : MHD_RESPMEM_PERSISTENT);
	if (r)
		x->resp_fd = -1; /* the response owns it now */
	x->resp = NULL;
	if (!r)
		return MHD_NO;
	if (x->content_type)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, x->content_type);
	if (x->header_name[0])
		MHD_add_response_header(r, x->header_name, x->header_value);
	for (const char *const *h = x->static_headers; h && h[0] && h[1]; h += 2)
		MHD_add_response_header(r, h[0], h[1]);
	MHD_add_response_header(r, "X-Request-Id", x->request_id);
	/* While stopping, keep-alive clients are told to go, so that the
	 * requests in flight run out. */
	if (__atomic_load_n(&x->srv->draining, __ATOMIC_SEQ_CST))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(x->conn, (unsigned)x->status, r);
	MHD_destroy_response(r);
	/* Counted as queued, before a byte goes out: a client that reads the
	 * answer and then scrapes /metrics finds it counted. */
	if (ret == MHD_YES && x->status >= 100 && x->status < 600)
		rum_metric_inc(&rum_http_m_responses[x->status / 100 - 1]);
	if (ret == MHD_YES && x->status == 503)
		rum_metric_inc(&rum_http_m_unavailable);
	return ret;
}

/* A request id a client or a balancer sent is kept when it is short and
 * plain (it goes into log lines); otherwise, or without one, the request
 * gets a new id: this process's random prefix and a sequence number. */
static bool rum_http_request_id_usable(const char *id)
{
	size_t n = id ? strlen(id) : 0;

	if (n == 0 || n > RUM_HTTP_REQUEST_ID_MAX)
		return false;
	return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") ==
	       n;
}

static void rum_http_request_id_init(struct rum_http_exchange *x)
{
	static uint32_t prefix;
	static uint64_t seq;
	const char *sent = MHD_lookup_connection_value(x->conn, MHD_HEADER_KIND, "X-Request-Id");
	uint32_t p = __atomic_load_n(&prefix, __ATOMIC_RELAXED);

	if (rum_http_request_id_usable(sent)) {
		snprintf(x->request_id, sizeof(x->request_id), "%s", sent);
		return;
	}
	if (p == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		p = ((uint32_t)getpid() * 2654435761u) ^ (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec;
		p |= 1;
		__atomic_store_n(&prefix, p, __ATOMIC_RELAXED);
	}
	snprintf(x->request_id, sizeof(x->request_id), "%08x%08llx", p,
		 (unsigned long long)__atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED));
}

const char *rum_http_request_id(struct rum_http_exchange *x)
{
	return x->request_id;
}

void rum_http_note(struct rum_http_exchange *x, const char *tenant, const char *device)
{
	if (tenant)
		snprintf(x->tenant, sizeof(x->tenant), "%s", tenant);
	if (device)
		snprintf(x->device, sizeof(x->device), "%s", device);
}

static struct rum_http_exchange *rum_http_exchange_new(struct rum_http_server *srv,
						       struct MHD_Connection *conn, const char *url,
						       const char *method)
{
	struct rum_http_exchange *x = calloc(1, sizeof(*x));

	if (!x)
		abort();
	x->srv = srv;
	x->conn = conn;
	x->resp_fd = -1;
	pthread_mutex_init(&x->lock, NULL);
	snprintf(x->method, sizeof(x->method), "%s", method);
	x->path = strdup(url);
	if (!x->path)
		abort();
	rum_http_client_addr(conn, x->addr, sizeof(x->addr));
	clock_gettime(CLOCK_MONOTONIC, &x->started);
	rum_http_request_id_init(x);
	{
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

		x->guard = ci ? ci->socket_context : NULL;
		rum_http_guard_headers_done(x->guard);
	}
	__atomic_add_fetch(&srv->in_flight, 1, __ATOMIC_SEQ_CST);
	rum_metric_inc(&rum_http_m_in_flight);
	return x;
}

/* Takes n more bytes from the shared body budget; false when over it. */
static bool rum_http_reserve(struct rum_http_exchange *x, size_t n)
{
	struct rum_http_budget *b = x->srv->opts.budget;

	if (!b)
		return true;
	if (__atomic_add_fetch(&b->used, n, __ATOMIC_SEQ_CST) > b->max) {
		__atomic_sub_fetch(&b->used, n, __ATOMIC_SEQ_CST);
		return false;
	}
	x->reserved += n;
	rum_metric_add(&rum_http_m_body_bytes, (int64_t)n);
	return true;
}

static void rum_http_release(struct rum_http_exchange *x)
{
	if (x->srv->opts.budget && x->reserved) {
		__atomic_sub_fetch(&x->srv->opts.budget->used, x->reserved, __ATOMIC_SEQ_CST);
		rum_metric_add(&rum_http_m_body_bytes, -(int64_t)x->reserved);
	}
	x->reserved = 0;
}

static void rum_http_exchange_free(struct rum_http_exchange *x)
{
	rum_http_release(x);
	__atomic_sub_fetch(&x->srv->in_flight, 1, __ATOMIC_SEQ_CST);
	rum_metric_add(&rum_http_m_in_flight, -1);
	pthread_mutex_destroy(&x->lock);
	free(x->body);
	free(x->path);
	free(x->resp);
	if (x->resp_fd >= 0)
		close(x->resp_fd);
	free(x);
}

/* Grows the body buffer to hold `need` bytes (plus a NUL), within the
 * shared budget; false when the budget is spent. */
static bool rum_http_grow(struct rum_http_exchange *x, size_t need)
{
	size_t cap = x->cap ? x->cap : 16384;

	if (need + 1 <= x->cap)
		return true;
	while (cap < need + 1)
		cap *= 2;
	if (cap > x->srv->opts.max_body_bytes + 1)
		cap = x->srv->opts.max_body_bytes + 1;
	if (x->declared && cap > x->declared + 1 && need <= x->declared)
		cap = x->declared + 1;
	if (!rum_http_reserve(x, cap - x->cap))
		return false;
	x->body = realloc(x->body, cap);
	if (!x->body)
		abort();
	x->cap = cap;
	return true;
}

/* Drops what was read of a body that will not be processed. */
static void rum_http_drop_body(struct rum_http_exchange *x)
{
	free(x->body);
	x->body = NULL;
	x->len = x->cap = 0;
	rum_http_release(x);
}

/* The bodies budget is spent: said at most every 10 s, as devices get 503. */
static void rum_http_log_busy(struct rum_http_exchange *x)
{
	struct timespec now;
	int64_t ms, last = __atomic_load_n(&x->srv->busy_logged_ms, __ATOMIC_RELAXED);

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
	if ((last && ms - last < 10000) ||
	    !__atomic_compare_exchange_n(&x->srv->busy_logged_ms, &last, ms, false,
					 __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		return;
	rum_log_warn("http: request bodies hold %zu of http_max_body_total=%zu bytes; answering "
		     "503 (e.g. %s from %s)",
		     __atomic_load_n(&x->srv->opts.budget->used, __ATOMIC_RELAXED),
		     x->srv->opts.budget->max, x->method, x->addr);
}

static bool rum_http_append(struct rum_http_exchange *x, const char *data, size_t n)
{
	size_t max = x->srv->opts.max_body_bytes;

	if (!x->too_big && !x->busy && x->len + n > max) {
		x->too_big = true;
		rum_http_drop_body(x);
	}
	rum_http_guard_body(x->guard, n);
	if (!x->too_big && !x->busy && !rum_http_grow(x, x->len + n)) {
		x->busy = true;
		rum_http_log_busy(x);
		rum_http_drop_body(x);
	}
	if (x->too_big || x->busy) {
		x->discarded += n;
		return x->discarded <= RUM_HTTP_DISCARD_FACTOR * max;
	}
	memcpy(x->body + x->len, data, n);
	x->len += n;
	return true;
}

static enum MHD_Result rum_http_on_request(void *cls, struct MHD_Connection *conn, const char *url,
					   const char *method, const char *version,
					   const char *upload_data, size_t *upload_data_size,
					   void **con_cls)
{
	struct rum_http_server *srv = cls;
	struct rum_http_exchange *x = *con_cls;
	struct rum_http_request req;

	if (!x) {
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);

		unsigned long long declared = cl ? strtoull(cl, NULL, 10) : 0;

		x = rum_http_exchange_new(srv, conn, url, method);
		*con_cls = x;
		/* A declared length over the limit is refused before reading it.
		 * One within it is taken from the shared budget as its bytes
		 * arrive (the buffer doubles, up to the declared length): a
		 * client that declares much and sends little holds little. */
		if (declared > srv->opts.max_body_bytes)
			x->too_big = true;
		else
			x->declared = (size_t)declared;
		return MHD_YES;
	}
	if (*upload_data_size) {
		bool keep = rum_http_append(x, upload_data, *upload_data_size);

		*upload_data_size = 0;
		return keep ? MHD_YES : MHD_NO;
	}
	if (!x->dispatched) {
		x->dispatched = true;
		rum_http_guard_answering(x->guard);
		if (x->too_big || x->busy) {
			rum_metric_inc(&rum_http_m_refused[x->too_big ? 0 : 1]);
			rum_http_drop_body(x);
		}
		if (!x->body) {
			x->body = malloc(1);
			if (!x->body)
				abort();
		}
		x->body[x->len] = '\0';
		req = (struct rum_http_request){
			x->method,  x->path, x->body, x->len,
			x->too_big, x->busy, x->addr, srv->opts.tls_cert && srv->opts.tls_cert[0]};
		rum_log_set_request(x->request_id);
		srv->opts.handler(srv->opts.handler_ctx, x, &req);
		rum_log_set_request(NULL);
		pthread_mutex_lock(&x->lock);
		if (!x->responded) {
			x->suspended = true;
			__atomic_add_fetch(&srv->suspended, 1, __ATOMIC_SEQ_CST);
			MHD_suspend_connection(conn);
			pthread_mutex_unlock(&x->lock);
			return MHD_YES;
		}
		pthread_mutex_unlock(&x->lock);
	}
	return rum_http_queue(x);
}

static const char *rum_http_toe_name(enum MHD_RequestTerminationCode toe)
{
	switch (toe) {
	case MHD_REQUEST_TERMINATED_COMPLETED_OK: return "completed";
	case MHD_REQUEST_TERMINATED_WITH_ERROR: return "error";
	case MHD_REQUEST_TERMINATED_TIMEOUT_REACHED: return "timed out";
	case MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN: return "shut down";
	case MHD_REQUEST_TERMINATED_READ_ERROR: return "client went away";
	case MHD_REQUEST_TERMINATED_CLIENT_ABORT: return "client aborted";
	default: return "ended";
	}
}

/* One line per request as it ends (info with log_requests, else debug):
 * what, for whom, how it ended, how long it took, as key=value fields. A
 * one-time file URL's token is a credential and is not logged, nor is a
 * query string. */
static void rum_http_log_exchange(const struct rum_http_exchange *x,
				  enum MHD_RequestTerminationCode toe, double seconds,
				  enum rum_log_level level)
{
	int n = (int)strcspn(x->path, "?");
	char tenant[2 * sizeof(x->tenant) + 8], device[2 * sizeof(x->device) + 8];

	if (strncmp(x->path, "/cslu/v1/files/", 15) == 0)
		n = 15;
	rum_log_quote(tenant, sizeof(tenant), x->tenant);
	rum_log_quote(device, sizeof(device), x->device);
	rum_log(level,
		"http: request method=%s path=%.*s%s status=%d bytes_in=%zu end=\"%s\" "
		"duration_ms=%.1f client=%s req=%s%s%s%s%s",
		x->method, n > 200 ? 200 : n, x->path, n < (int)strlen(x->path) ? "..." : "",
		x->responded ? x->status : 0, x->len + x->discarded, rum_http_toe_name(toe),
		seconds * 1000.0, x->addr, x->request_id, x->tenant[0] ? " tenant=" : "",
		x->tenant[0] ? tenant : "", x->device[0] ? " device=" : "",
		x->device[0] ? device : "");
}

static void rum_http_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
				  enum MHD_RequestTerminationCode toe)
{
	struct rum_http_server *srv = cls;
	struct rum_http_exchange *x = *con_cls;

	if (x) {
		enum rum_log_level level = srv->opts.log_requests ? RUM_LOG_INFO : RUM_LOG_DEBUG;
		struct timespec now;
		double seconds;

		clock_gettime(CLOCK_MONOTONIC, &now);
		seconds = (double)(now.tv_sec - x->started.tv_sec) +
			  (double)(now.tv_nsec - x->started.tv_nsec) / 1e9;
		rum_metric_observe(&rum_http_m_seconds, seconds);
		if (rum_log_wanted(level))
			rum_http_log_exchange(x, toe, seconds, level);
		rum_http_guard_idle(x->guard);
		rum_http_exchange_free(x);
	}
	*con_cls = NULL;
}

/* Counts connections as the transport opens and closes them, and puts
 * each under the guard's deadlines. The guard's record lives until the
 * close, which comes before the socket is closed. */
static void rum_http_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
				   enum MHD_ConnectionNotificationCode toe)
{
	struct rum_http_server *srv = cls;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *fd =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		const union MHD_ConnectionInfo *ca =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
		const struct sockaddr *sa = ca ? ca->client_addr : NULL;
		socklen_t len = sa && sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
								: sizeof(struct sockaddr_in);

		rum_metric_inc(&rum_http_m_connections);
		if (fd)
			*socket_context = rum_http_guard_open(srv->guard, fd->connect_fd, sa, len);
	} else {
		rum_metric_add(&rum_http_m_connections, -1);
		rum_http_guard_close(*socket_context);
		*socket_context = NULL;
	}
}

static enum MHD_Result rum_http_accept(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct rum_http_server *srv = cls;

	return rum_http_guard_admit(srv->guard, addr, addrlen) ? MHD_YES : MHD_NO;
}

/* Leaves the request target as received: the API decodes each path segment
 * itself, so that an escaped '/' or NUL cannot change how a path splits. */
static size_t rum_http_no_unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	return strlen(s);
}

static void rum_http_mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	rum_log_debug("http: %s", msg);
}

static int rum_http_read_file(char **out, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (!f)
		return rum_err_set(RUM_EINVAL, "cannot read %s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	if (n <= 0 || n > 1 << 20) {
		fclose(f);
		return rum_err_set(RUM_EINVAL, "%s: not a PEM file of a sensible size", path);
	}
	buf = malloc((size_t)n + 1);
	if (!buf)
		abort();
	if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return rum_err_set(RUM_EINVAL, "cannot read %s", path);
	}
	buf[n] = '\0';
	fclose(f);
	*out = buf;
	return 0;
}

static int rum_http_bind(struct rum_http_server *srv, const char *listen_text)
{
	char host[128], port_text[8];
	uint16_t port;
	struct addrinfo hints = {0}, *ai = NULL;
	struct sockaddr_storage ss;
	socklen_t sslen = sizeof(ss);
	int fd, one = 1, rc;

	rc = rum_config_parse_listen(listen_text, host, sizeof(host), &port);
	if (rc != 0)
		return rc;
	snprintf(port_text, sizeof(port_text), "%u", port);
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if (getaddrinfo(host, port_text, &hints, &ai) != 0 || !ai)
		return rum_err_set(RUM_EINVAL, "cannot resolve listen address %s", listen_text);
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		freeaddrinfo(ai);
		return rum_err_set(RUM_EIO, "socket: %s", strerror(errno));
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 1024) != 0) {
		rc = rum_err_set(RUM_EIO, "cannot listen on %s: %s", listen_text, strerror(errno));
		freeaddrinfo(ai);
		close(fd);
		return rc;
	}
	freeaddrinfo(ai);
	getsockname(fd, (struct sockaddr *)&ss, &sslen);
	srv->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						   : ((struct sockaddr_in *)&ss)->sin_port);
	srv->listen_fd = fd;
	return 0;
}

int rum_http_start(struct rum_http_server **out, const struct rum_http_options *opts)
{
	struct rum_http_server *srv = calloc(1, sizeof(*srv));
	bool tls = opts->tls_cert && opts->tls_cert[0];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	char host[128];
	uint16_t port;
	int rc;

	if (!srv)
		abort();
	srv->opts = *opts;
	srv->listen_fd = -1;
	if (tls) {
		rc = rum_http_read_file(&srv->cert_pem, opts->tls_cert);
		if (rc == 0)
			rc = rum_http_read_file(&srv->key_pem, opts->tls_key);
		if (rc != 0)
			goto fail;
		flags |= MHD_USE_TLS;
	}
	rc = rum_http_bind(srv, opts->listen);
	if (rc == 0)
		rc = rum_http_guard_new(&srv->guard,
					&(struct rum_http_guard_options){
						opts->listen,
						opts->max_connections ? opts->max_connections
								      : 4096u,
						opts->per_address,
						opts->header_timeout_s ? opts->header_timeout_s
								       : 10,
						opts->idle_timeout_s ? opts->idle_timeout_s : 30,
						opts->body_min_rate});
	if (rc != 0)
		goto fail;
	srv->daemon = MHD_start_daemon(flags, 0, rum_http_accept, srv, rum_http_on_request, srv,
				       MHD_OPTION_LISTEN_SOCKET, srv->listen_fd,
				       MHD_OPTION_THREAD_POOL_SIZE,
				       opts->threads > 1 ? (unsigned)opts->threads : 0u,
				       MHD_OPTION_NOTIFY_COMPLETED, rum_http_on_completed, srv,
				       MHD_OPTION_NOTIFY_CONNECTION, rum_http_on_connection, srv,
				       MHD_OPTION_CONNECTION_LIMIT,
				       opts->max_connections ? opts->max_connections : 4096u,
				       MHD_OPTION_CONNECTION_TIMEOUT, 120u,
				       MHD_OPTION_UNESCAPE_CALLBACK, rum_http_no_unescape, NULL,
				       MHD_OPTION_EXTERNAL_LOGGER, rum_http_mhd_log, srv,
				       tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END,
				       srv->cert_pem, MHD_OPTION_HTTPS_MEM_KEY, srv->key_pem,
				       MHD_OPTION_END);
	if (!srv->daemon) {
		rc = rum_err_set(RUM_EIO, "cannot start the HTTP%s server on %s", tls ? "S" : "",
				 opts->listen);
		goto fail;
	}
	rum_config_parse_listen(opts->listen, host, sizeof(host), &port);
	rum_log_info("%s%s http%s://%s%s%s:%u%s%s", opts->what ? opts->what : "listening",
		     opts->what ? " at" : " on", tls ? "s" : "", strchr(host, ':') ? "[" : "", host,
		     strchr(host, ':') ? "]" : "", srv->port, opts->what ? "/" : "",
		     opts->what ? opts->what : "");
	*out = srv;
	return 0;
fail:
	rum_http_guard_free(srv->guard);
	if (srv->listen_fd >= 0)
		close(srv->listen_fd);
	free(srv->cert_pem);
	free(srv->key_pem);
	free(srv);
	return rc;
}

void rum_http_quiesce(struct rum_http_server *srv)
{
	if (!srv || srv->quiesced)
		return;
	__atomic_store_n(&srv->draining, true, __ATOMIC_SEQ_CST);
	MHD_socket fd = MHD_quiesce_daemon(srv->daemon);

	if (fd != MHD_INVALID_SOCKET)
		close(fd);
	srv->quiesced = true;
}

unsigned rum_http_in_flight(struct rum_http_server *srv)
{
	return srv ? __atomic_load_n(&srv->in_flight, __ATOMIC_SEQ_CST) : 0;
}

uint16_t rum_http_port(struct rum_http_server *srv)
{
	return srv->port;
}

unsigned rum_http_parked(struct rum_http_server *srv)
{
	return srv ? __atomic_load_n(&srv->suspended, __ATOMIC_SEQ_CST) : 0;
}

void rum_http_stop(struct rum_http_server *srv)
{
	if (!srv)
		return;
	/* libmicrohttpd aborts when stopped with parked connections: then the
	 * process exits without stopping it (the caller's choice, logged). */
	if (rum_http_parked(srv) > 0)
		return;
	MHD_stop_daemon(srv->daemon);
	rum_http_guard_free(srv->guard);
	free(srv->cert_pem);
	free(srv->key_pem);
	free(srv);
}
