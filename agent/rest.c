/* Device REST API, see rest.h. */
#include "agent/rest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/ops.h"
#include "agent/report.h"
#include "agent/restconf.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/log.h"

#define BASE "/smartlic-service"
#define BODY_MAX RUM_AGENT_FILE_MAX

struct server {
	const char *dir;
	int restconf; /* RFC 8040 (restconf.h) instead of the device REST API */
	char user[128], password[256];
};

struct req {
	char *body;
	size_t len;
	int over;
	int authed; /* checked on the headers: a stranger's body is never buffered */
};

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	struct MHD_Response *r;
	enum MHD_Result ret;

	json_decref(j);
	if (!text)
		abort();
	r = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", "application/json");
	if (status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, "WWW-Authenticate", "Basic realm=\"smartlic-service\"");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Sends a RESTCONF reply, taking over its body. */
static enum MHD_Result send_restconf(struct MHD_Connection *c, struct rum_agent_restconf_reply *rr)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(rr->len, rr->body,
								 MHD_RESPMEM_MUST_FREE);
	enum MHD_Result ret;

	rr->body = NULL;
	MHD_add_response_header(r, "Content-Type", rr->content_type);
	if (rr->status == MHD_HTTP_UNAUTHORIZED)
		MHD_add_response_header(r, "WWW-Authenticate", "Basic realm=\"restconf\"");
	ret = MHD_queue_response(c, rr->status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result restconf_error(struct MHD_Connection *c, unsigned status, const char *tag,
				      const char *msg)
{
	struct rum_agent_restconf_reply rr;

	rum_agent_restconf_error(&rr, status, "protocol", tag, msg);
	return send_restconf(c, &rr);
}

static enum MHD_Result restconf(const struct server *s, struct MHD_Connection *c, const char *url,
				const char *method, struct req *q)
{
	struct rum_agent_restconf_req req = {
		.method = method,
		.path = url,
		.content_type = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
							    MHD_HTTP_HEADER_CONTENT_TYPE),
		.accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT),
		.body = q->body,
		.len = q->len};
	struct rum_agent_restconf_reply rr;

	rum_agent_restconf_handle(&rr, s->dir, &req);
	return send_restconf(c, &rr);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
	return send_json(c, status, json_pack("{s:s,s:s}", "status", "FAILED", "message", msg));
}

static int authorised(const struct server *s, struct MHD_Connection *c)
{
	char *pass = NULL;
	char *user = MHD_basic_auth_get_username_password(c, &pass);
	int ok = 0;

	if (user && pass && strlen(user) == strlen(s->user) && strlen(pass) == strlen(s->password))
		ok = CRYPTO_memcmp(user, s->user, strlen(user)) == 0 &&
		     CRYPTO_memcmp(pass, s->password, strlen(pass)) == 0;
	MHD_free(user);
	MHD_free(pass);
	return ok;
}

/* Reports for /all-reports and /days: every closed report, or those that
 * ended within days days (days < 0: all). Marks CLOSED ones as reported,
 * as a save usage would: the collector now holds them. */
static enum MHD_Result reports(const struct server *s, struct MHD_Connection *c, long days)
{
	struct rum_agent_state *st = calloc(1, sizeof(*st));
	json_t *usage = json_array();
	int fd = -1, rc;

	if (!st)
		abort();
	if ((rc = rum_agent_state_lock(s->dir, &fd)) < 0 ||
	    (rc = rum_agent_state_load(st, s->dir)) < 0) {
		rum_agent_state_unlock(fd);
		free(st);
		json_decref(usage);
		return send_error(c, 500, rum_err_msg());
	}
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; i < st->n_rep; i++) {
		struct rum_agent_report *r = &st->rep[i];
		json_error_t e;
		json_t *doc;

		if (r->state == RUM_AGENT_REPORT_OPEN || (days >= 0 && r->end < now - days * 86400))
			continue;
		doc = json_loads(r->doc, 0, &e);
		if (doc)
			json_array_append_new(usage, doc);
		if (r->state == RUM_AGENT_REPORT_CLOSED)
			r->state = RUM_AGENT_REPORT_UNACK;
	}
	rc = rum_agent_state_save(st);
	rum_agent_state_dispose(st);
	rum_agent_state_unlock(fd);
	free(st);
	if (rc < 0) {
		json_decref(usage);
		return send_error(c, 500, rum_err_msg());
	}
	return send_json(c, 200, json_pack("{s:o}", "usage", usage));
}

static enum MHD_Result list(const struct server *s, struct MHD_Connection *c)
{
	struct rum_agent_state *st = calloc(1, sizeof(*st));
	json_t *l = json_array();

	if (!st)
		abort();
	if (rum_agent_op_load(st, s->dir) < 0) {
		free(st);
		json_decref(l);
		return send_error(c, 500, rum_err_msg());
	}
	for (size_t i = 0; i < st->n_rep; i++)
		json_array_append_new(l, json_pack("{s:I,s:s,s:I,s:I,s:s}", "report_id",
						   (json_int_t)st->rep[i].id, "entitlement_tag",
						   st->rep[i].tag, "start_time",
						   (json_int_t)st->rep[i].start, "end_time",
						   (json_int_t)st->rep[i].end, "state",
						   rum_agent_report_state_name(st->rep[i].state)));
	rum_agent_state_dispose(st);
	free(st);
	return send_json(c, 200, json_pack("{s:o}", "usage_list", l));
}

/* POST /import: raw XML (first non-blank byte '<') or base64 of it. */
static enum MHD_Result import(const struct server *s, struct MHD_Connection *c, struct req *q)
{
	char summary[512], *xml = NULL;
	size_t i = 0, len;
	int rc;

	while (i < q->len && (q->body[i] == ' ' || q->body[i] == '\n' || q->body[i] == '\r' ||
			      q->body[i] == '\t'))
		i++;
	if (i < q->len && q->body[i] == '<') {
		rc = rum_agent_op_import_buf(s->dir, q->body, q->len, summary, sizeof(summary));
	} else {
		rc = rum_crypto_base64_decode(&xml, &len, q->body, q->len, BODY_MAX);
		if (rc < 0)
			rum_err_set(RUM_EINVAL, "import body is neither XML nor base64");
		else
			rc = rum_agent_op_import_buf(s->dir, xml, len, summary, sizeof(summary));
		free(xml);
	}
	if (rc < 0)
		return send_error(c, rc == RUM_EINVAL || rc == RUM_ETOOBIG ? 400 : 500,
				  rum_err_msg());
	return send_json(c, 200, json_pack("{s:s,s:s}", "status", "SUCCESS", "message", summary));
}

static enum MHD_Result route(const struct server *s, struct MHD_Connection *c, const char *url,
			     const char *method, struct req *q)
{
	int get = strcmp(method, "GET") == 0, post = strcmp(method, "POST") == 0;
	char *end;
	long days;

	if (strncmp(url, BASE "/", strlen(BASE) + 1) != 0)
		return send_error(c, 404, "not found");
	url += strlen(BASE);
	if (strcmp(url, "/close-reports") == 0 && post) {
		int n = rum_agent_op_close_reports(s->dir);
		if (n < 0)
			return send_error(c, 500, rum_err_msg());
		return send_json(c, 200, json_pack("{s:s,s:i}", "status", "SUCCESS", "closed", n));
	}
	if (strcmp(url, "/list") == 0 && get)
		return list(s, c);
	if (strcmp(url, "/all-reports") == 0 && get)
		return reports(s, c, -1);
	if (strcmp(url, "/days") == 0 && get)
		return reports(s, c, 90);
	if (strncmp(url, "/days/", 6) == 0 && get) {
		errno = 0;
		days = strtol(url + 6, &end, 10);
		if (errno || end == url + 6 || *end || days < 0 || days > 3650)
			return send_error(c, 400, "days must be 0..3650");
		return reports(s, c, days);
	}
	if (strcmp(url, "/import") == 0 && post)
		return import(s, c, q);
	if (strcmp(url, "/close-reports") == 0 || strcmp(url, "/list") == 0 ||
	    strcmp(url, "/all-reports") == 0 || strcmp(url, "/days") == 0 ||
	    strcmp(url, "/import") == 0)
		return send_error(c, 405, "method not allowed");
	return send_error(c, 404, "not found");
}

/* Answers only after the whole body has arrived (keeps keep-alive working). */
static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url,
			       const char *method, const char *version, const char *data,
			       size_t *size, void **ctx)
{
	struct server *s = cls;
	struct req *q = *ctx;

	if (!q) {
		q = calloc(1, sizeof(*q));
		if (!q)
			abort();
		/* The RESTCONF root is discovered before logging in (RFC 8040 3.1). */
		q->authed = authorised(s, c) ||
			    (s->restconf && strcmp(url, "/.well-known/host-meta") == 0 &&
			     strcmp(method, "GET") == 0);
		*ctx = q;
		return MHD_YES;
	}
	if (*size) {
		if (!q->authed) {
			/* dropped: answered 401 once the upload is over */
		} else if (q->len + *size >
			   (s->restconf ? RUM_AGENT_RESTCONF_BODY_MAX : BODY_MAX)) {
			q->over = 1;
		} else {
			char *p = realloc(q->body, q->len + *size + 1);
			if (!p)
				abort();
			memcpy(p + q->len, data, *size);
			q->body = p;
			q->len += *size;
			q->body[q->len] = '\0';
		}
		*size = 0;
		return MHD_YES;
	}
	if (!q->authed)
		return s->restconf
			       ? restconf_error(c, MHD_HTTP_UNAUTHORIZED, "access-denied",
						"authentication required")
			       : send_error(c, MHD_HTTP_UNAUTHORIZED, "authentication required");
	if (q->over)
		return s->restconf ? restconf_error(c, 413, "too-big", "body too large")
				   : send_error(c, 413, "body too large");
	if (!q->body)
		q->body = strdup("");
	if (!q->body)
		abort();
	return s->restconf ? restconf(s, c, url, method, q) : route(s, c, url, method, q);
}

static void done(void *cls, struct MHD_Connection *c, void **ctx, enum MHD_RequestTerminationCode t)
{
	struct req *q = *ctx;

	if (q) {
		free(q->body);
		free(q);
	}
	*ctx = NULL;
}

static int read_secret(char *out, size_t size, const char *path)
{
	char *buf;
	size_t len;
	int rc = rum_agent_read_file(&buf, &len, path, 4096);

	if (rc < 0)
		return rc;
	len = strcspn(buf, "\r\n");
	if (len == 0 || len >= size) {
		free(buf);
		return rum_err_set(RUM_EINVAL,
				   "%s: password must be 1..%zu characters on the first line", path,
				   size - 1);
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	OPENSSL_cleanse(buf, strlen(buf));
	free(buf);
	return 0;
}

int rum_agent_rest_serve(const char *dir, const struct rum_agent_rest_opts *o)
{
	struct server s = {.dir = dir, .restconf = o->restconf};
	struct sockaddr_in sa = {.sin_family = AF_INET};
	struct rum_agent_state probe;
	char host[64], *cert = NULL, *key = NULL;
	const char *colon;
	char *end;
	unsigned long port;
	struct MHD_Daemon *d = NULL;
	const union MHD_DaemonInfo *info;
	sigset_t set;
	size_t len;
	int rc, sig;

	if (!o->listen || !o->user || !o->password_file || !o->cert || !o->key)
		return rum_err_set(RUM_EINVAL,
				   "%s needs --listen, --user, --password-file, --cert and --key",
				   o->restconf ? "restconf" : "rest");
	colon = strrchr(o->listen, ':');
	if (!colon || (size_t)(colon - o->listen) >= sizeof(host))
		return rum_err_set(RUM_EINVAL, "--listen must be ADDR:PORT");
	snprintf(host, sizeof(host), "%.*s", (int)(colon - o->listen), o->listen);
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || errno || end == colon + 1 || *end ||
	    colon[1] == '-' || port > 65535)
		return rum_err_set(RUM_EINVAL, "--listen must be an IPv4 ADDR:PORT: %s", o->listen);
	sa.sin_port = htons((uint16_t)port);
	if (strlen(o->user) >= sizeof(s.user) || !o->user[0] || strchr(o->user, ':'))
		return rum_err_set(RUM_EINVAL, "--user must be 1..127 characters without ':'");
	snprintf(s.user, sizeof(s.user), "%s", o->user);
	if ((rc = read_secret(s.password, sizeof(s.password), o->password_file)) < 0)
		return rc;
	if ((rc = rum_agent_op_load(&probe, dir)) < 0)
		return rc;
	rum_agent_state_dispose(&probe);
	if ((rc = rum_agent_read_file(&cert, &len, o->cert, 1 << 20)) < 0 ||
	    (rc = rum_agent_read_file(&key, &len, o->key, 1 << 20)) < 0)
		goto out;
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		rc = rum_err_set(RUM_EUNAVAIL, "this libmicrohttpd has no TLS support");
		goto out;
	}
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL); /* the daemon's threads inherit the mask */
	d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_TLS | MHD_USE_ERROR_LOG, 0,
			     NULL, NULL, handler, &s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
			     MHD_OPTION_HTTPS_MEM_CERT, cert, MHD_OPTION_HTTPS_MEM_KEY, key,
			     MHD_OPTION_NOTIFY_COMPLETED, done, NULL, MHD_OPTION_CONNECTION_TIMEOUT,
			     (unsigned)30, MHD_OPTION_END);
	if (!d) {
		rc = rum_err_set(RUM_EIO, "cannot start HTTPS server on %s", o->listen);
		goto out;
	}
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	printf("listening on https://%s:%u\n", host, info ? info->port : (unsigned)port);
	fflush(stdout);
	while (sigwait(&set, &sig) != 0)
		;
	MHD_stop_daemon(d);
	rc = 0;
out:
	free(cert);
	if (key) {
		OPENSSL_cleanse(key, strlen(key));
		free(key);
	}
	OPENSSL_cleanse(s.password, sizeof(s.password));
	return rc;
}
