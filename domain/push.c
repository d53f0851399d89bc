#include "domain/push.h"

#include "db/db.h"
#include "db/store_captures.h"
#include "db/store_push.h"
#include "db/store_tenants.h"
#include "domain/internal.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/strict.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Captured bodies larger than this are not kept (they would let anyone fill
 * the database with 200-answered junk). */
#define RUM_CAPTURE_MAX_BYTES (1 << 20)

/* Device messages by kind and outcome, and the reports they carried. The
 * kinds are enum rum_msg_kind's, then "invalid" for a body that did not
 * parse; a GET is a hello. */
enum {
	RUM_PUSH_OUT_OK = 0,
	RUM_PUSH_OUT_REJECTED,    /* bad message */
	RUM_PUSH_OUT_NOT_FOUND,   /* unknown tenant or poll id */
	RUM_PUSH_OUT_UNAVAILABLE, /* database down or queue full: 503 */
	RUM_PUSH_OUT_ERROR,
	RUM_PUSH_OUTCOMES
};
#define RUM_PUSH_KINDS (RUM_MSG_TRUST + 2)
static const char *const rum_push_outcome_names[RUM_PUSH_OUTCOMES] = {"ok", "rejected", "not_found",
								      "unavailable", "error"};
static struct rum_metric rum_push_messages[RUM_PUSH_KINDS][RUM_PUSH_OUTCOMES];
static char rum_push_message_labels[RUM_PUSH_KINDS][RUM_PUSH_OUTCOMES][64];
static struct rum_metric rum_push_reports[] = {
	RUM_METRIC_COUNTER("rumd_reports_total", "outcome=\"stored\"",
			   "Reports in device messages: stored new, duplicate of one stored, "
			   "conflict (same id, other payload; kept beside the first)"),
	RUM_METRIC_COUNTER("rumd_reports_total", "outcome=\"duplicate\"", ""),
	RUM_METRIC_COUNTER("rumd_reports_total", "outcome=\"conflict\"", ""),
};

__attribute__((constructor)) static void rum_push_metrics_init(void)
{
	for (int k = 0; k < RUM_PUSH_KINDS; k++) {
		for (int o = 0; o < RUM_PUSH_OUTCOMES; o++) {
			char *l = rum_push_message_labels[k][o];

			snprintf(l, sizeof(rum_push_message_labels[k][o]),
				 "kind=\"%s\",outcome=\"%s\"",
				 k <= RUM_MSG_TRUST ? rum_msg_kind_name((enum rum_msg_kind)k)
						    : "invalid",
				 rum_push_outcome_names[o]);
			rum_push_messages[k][o] = (struct rum_metric)RUM_METRIC_COUNTER(
				"rumd_device_messages_total", l,
				"Device messages by kind and outcome (push, pull uploads, replays)");
			rum_metric_register(&rum_push_messages[k][o]);
		}
	}
	rum_metric_register_all(rum_push_reports, 3);
}

static void rum_push_count(const struct rum_push *p, int rc)
{
	int kind = p->msg                          ? (int)p->msg->kind
		   : strcmp(p->method, "GET") == 0 ? RUM_MSG_HELLO
						   : RUM_MSG_TRUST + 1; /* did not parse */
	int out = rc == 0                                 ? RUM_PUSH_OUT_OK
		  : rc == RUM_ENOTFOUND                   ? RUM_PUSH_OUT_NOT_FOUND
		  : rc == RUM_EUNAVAIL                    ? RUM_PUSH_OUT_UNAVAILABLE
		  : rc == RUM_EINVAL || rc == RUM_ETOOBIG ? RUM_PUSH_OUT_REJECTED
							  : RUM_PUSH_OUT_ERROR;

	rum_metric_inc(&rum_push_messages[kind][out]);
	if (rc == 0) {
		rum_metric_add(&rum_push_reports[0], p->n_new);
		rum_metric_add(&rum_push_reports[1], p->n_duplicate);
		rum_metric_add(&rum_push_reports[2], p->n_conflict);
	}
}

/* Tenant ids by name. Tenants are never renamed or removed while rumd runs
 * (when that changes, entries must be dropped here), so a found id stays
 * right; unknown names are not remembered, so a tenant added later works at
 * once. Bounded: beyond the limit names are simply looked up each time. */
#define RUM_TENANT_CACHE_MAX 4096

static struct {
	pthread_mutex_t lock;
	size_t n;
	char *name[RUM_TENANT_CACHE_MAX];
	int64_t id[RUM_TENANT_CACHE_MAX];
} rum_tenant_cache = {PTHREAD_MUTEX_INITIALIZER, 0, {0}, {0}};

static bool rum_tenant_cache_get(const char *name, int64_t *id)
{
	bool found = false;

	pthread_mutex_lock(&rum_tenant_cache.lock);
	for (size_t i = 0; i < rum_tenant_cache.n && !found; i++) {
		if (strcmp(rum_tenant_cache.name[i], name) == 0) {
			*id = rum_tenant_cache.id[i];
			found = true;
		}
	}
	pthread_mutex_unlock(&rum_tenant_cache.lock);
	return found;
}

static void rum_tenant_cache_put(const char *name, int64_t id)
{
	int64_t known;

	if (rum_tenant_cache_get(name, &known))
		return;
	pthread_mutex_lock(&rum_tenant_cache.lock);
	if (rum_tenant_cache.n < RUM_TENANT_CACHE_MAX) {
		rum_tenant_cache.name[rum_tenant_cache.n] = strdup(name);
		if (!rum_tenant_cache.name[rum_tenant_cache.n])
			abort();
		rum_tenant_cache.id[rum_tenant_cache.n++] = id;
	}
	pthread_mutex_unlock(&rum_tenant_cache.lock);
}

/* prepare(): resolves the tenant before the batch (usually from the cache).
 * An unknown tenant is this message's outcome, not a database error. */
static int rum_push_prepare(struct rum_db_txn *txn, void *arg)
{
	struct rum_push *p = arg;
	int rc;

	p->tenant_id = 0;
	if (rum_tenant_cache_get(p->tenant, &p->tenant_id))
		return 0;
	/* Only messages that bring data create a tenant: hellos, GETs and
	 * polls to made-up paths must not. */
	if (p->settings.auto_create_tenants && p->msg &&
	    (p->msg->kind == RUM_MSG_USAGE || p->msg->kind == RUM_MSG_TRUST ||
	     p->msg->kind == RUM_MSG_AUTHORIZATION))
		rc = rum_store_tenant_ensure(txn, p->tenant, &p->tenant_id);
	else
		rc = rum_store_tenant_find(txn, p->tenant, &p->tenant_id);
	if (rc == RUM_ENOTFOUND) {
		p->tenant_id = 0;
		return 0;
	}
	if (rc == 0)
		rum_tenant_cache_put(p->tenant, p->tenant_id);
	return rc;
}

static bool rum_push_same_udi(const struct rum_udi *a, const struct rum_udi *b)
{
	return strcmp(a->pid, b->pid) == 0 && strcmp(a->sn, b->sn) == 0;
}

/* The UDI a message speaks for: its own, else its first report's; NULL when
 * it names none. */
static const struct rum_udi *rum_push_udi(const struct rum_message *m)
{
	return m->has_udi ? &m->udi : m->n_reports ? &m->reports[0].udi : NULL;
}

/* The device a message speaks for (rum_push_udi); hostname and tag from the
 * message, else from its first report of that device. False when the
 * message names no device. */
static bool rum_push_device(const struct rum_push *p, struct rum_store_device *dev,
			    const struct rum_udi **udi_out)
{
	const struct rum_message *m = p->msg;
	const struct rum_udi *udi = rum_push_udi(m);
	const struct rum_report *first = NULL;

	*udi_out = NULL;
	if (!udi)
		return false;
	for (size_t i = 0; i < m->n_reports && !first; i++)
		if (rum_push_same_udi(&m->reports[i].udi, udi))
			first = &m->reports[i];
	*dev = (struct rum_store_device){
		.tenant_id = p->tenant_id,
		.pid = udi->pid,
		.sn = udi->sn,
		.hostname = m->hostname[0] || !first ? m->hostname : first->hostname,
		.software_tag = m->software_tag[0] || !first ? m->software_tag
							     : first->software_tag,
		.software_version = first ? first->software_version : "",
		.address = p->address};
	*udi_out = udi;
	return true;
}

/* Touches every distinct device of a usage message, the message's own device
 * (rum_push_device) first. Its software version, and in the reports[] shape
 * its hostname and tag, come from its first report. */
static int rum_push_touch_devices(struct rum_db_txn *txn, struct rum_push *p,
				  const struct rum_udi **upload_udi)
{
	struct rum_message *m = p->msg;
	const struct rum_udi *udi;
	struct rum_store_device dev;
	int rc;

	*upload_udi = NULL;
	if (!rum_push_device(p, &dev, &udi))
		return 0;
	rc = rum_store_device_touch(txn, dev.tenant_id, dev.pid, dev.sn, dev.hostname,
				    dev.software_tag, dev.software_version, dev.address);
	*upload_udi = udi;
	for (size_t i = 0; rc == 0 && i < m->n_reports; i++) {
		const struct rum_report *r = &m->reports[i];
		bool seen = rum_push_same_udi(&r->udi, udi);

		/* Quadratic only in the number of distinct devices of one message,
		 * which a stack or HA pair keeps small. */
		for (size_t j = 0; j < i && !seen; j++)
			seen = rum_push_same_udi(&m->reports[j].udi, &r->udi);
		if (!seen)
			rc = rum_store_device_touch(txn, p->tenant_id, r->udi.pid, r->udi.sn,
						    r->hostname, r->software_tag,
						    r->software_version, p->address);
	}
	return rc;
}

/* Extracted times only index reports (the report itself is kept whole), so
 * one outside what the database can hold is stored as unknown rather than
 * refusing the report. */
static int64_t rum_push_time(int64_t t)
{
	return t >= 0 && t <= INT64_C(253402300799) ? t : -1; /* up to 9999-12-31 */
}

/* The upload row of a usage message (its device: `udi`, or none). */
static struct rum_store_upload rum_push_usage_upload(const struct rum_push *p,
						     const struct rum_udi *udi)
{
	/* Trust requests riding on usage keep the whole message as pending. */
	bool pending = p->msg->n_trust_requests > 0;

	return (struct rum_store_upload){
		p->tenant_id,  udi ? udi->pid : NULL,          udi ? udi->sn : NULL,
		"usage",       p->source ? p->source : "push", p->address,
		p->sub_path,   pending ? p->body : NULL,       pending ? p->body_len : 0,
		p->new_poll_id};
}

static struct rum_store_report rum_push_usage_report(const struct rum_push *p, size_t i)
{
	const struct rum_report *r = &p->msg->reports[i];

	return (struct rum_store_report){.tenant_id = p->tenant_id,
					 .report_id = r->report_id,
					 .pid = r->udi.pid,
					 .sn = r->udi.sn,
					 .format = r->format,
					 .entitlement_tag = r->entitlement_tag,
					 .software_version = r->software_version,
					 .metric_name = r->metric_name,
					 .last_value = r->last_value,
					 .first_start = rum_push_time(r->first_start),
					 .last_end = rum_push_time(r->last_end),
					 .payload_sha256 = p->hashes[i],
					 .report = r->raw,
					 .report_len = r->raw_len};
}

/* Messages larger than this are stored by their own statements: a batch's
 * usage statement then carries at most batch_max times twice this (the
 * reports, and the whole body when it is kept as a pending request). */
#define RUM_PUSH_GROUP_MAX_BYTES (256 * 1024)

/* A usage message whose reports are all of its own device: when the batch
 * runs grouped, its upload and reports are stored by the batch's one usage
 * statement (rum_push_group_run), its device by the batch's device statement.
 * Messages that are not (a stack's, carrying other devices' reports) store
 * theirs in their own run(), before the group: when one of them and a
 * grouped message carry the same report in one batch, its copy is the one
 * stored first. Concurrent messages have no order of their own (a batch is
 * sorted by device), so either copy is a first arrival; both are kept. */
static bool rum_push_groupable(const struct rum_push *p)
{
	const struct rum_message *m = p->msg;
	const struct rum_udi *udi;

	if (p->tenant_id == 0 || !m || m->kind != RUM_MSG_USAGE || p->rc != 0 ||
	    p->body_len > RUM_PUSH_GROUP_MAX_BYTES)
		return false;
	udi = rum_push_udi(m);
	for (size_t i = 0; udi && i < m->n_reports; i++)
		if (!rum_push_same_udi(&m->reports[i].udi, udi))
			return false;
	return true;
}

static int rum_push_store_usage(struct rum_db_txn *txn, struct rum_push *p)
{
	struct rum_message *m = p->msg;
	const struct rum_udi *udi;
	struct rum_store_upload up;
	int rc;

	if (rum_db_txn_grouped(txn) && rum_push_groupable(p))
		return 0; /* rum_push_group_run stores it */
	rc = rum_push_touch_devices(txn, p, &udi);
	if (rc != 0)
		return rc;
	up = rum_push_usage_upload(p, udi);
	rc = rum_store_upload_insert(txn, &up, &p->poll_id);
	for (size_t i = 0; rc == 0 && i < m->n_reports; i++) {
		struct rum_store_report sr = rum_push_usage_report(p, i);
		enum rum_store_outcome outcome = RUM_STORE_NEW;

		rc = rum_store_report_put(txn, &sr, &outcome);
		if (rc == 0 && rum_db_txn_has_results(txn)) {
			p->n_new += outcome == RUM_STORE_NEW;
			p->n_duplicate += outcome == RUM_STORE_DUPLICATE;
			p->n_conflict += outcome == RUM_STORE_CONFLICT;
		}
	}
	return rc;
}

/* The batch's groupable usage messages (see rum_push_groupable): their
 * devices touched by one statement, then their uploads and reports stored by
 * another. Called after every unit's own run(), in both phases. The device
 * rows this locks come after those the batch's own units (hellos, stacks,
 * requests) locked, not in one device order with them: two batches crossing
 * that way may deadlock, which the pool retries. */
static int rum_push_group_run(struct rum_db_txn *txn, struct rum_db_work **units, size_t n)
{
	struct rum_store_usage *items = calloc(n ? n : 1, sizeof(*items));
	struct rum_store_upload *ups = calloc(n ? n : 1, sizeof(*ups));
	struct rum_push **pushes = calloc(n ? n : 1, sizeof(*pushes));
	struct rum_store_device *devs = calloc(n ? n : 1, sizeof(*devs));
	size_t k = 0, total = 0, at = 0, n_devs = 0;
	struct rum_store_report *reports;
	int rc = 0;

	if (!items || !ups || !pushes || !devs)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct rum_push *p = units[i]->arg;

		if (rum_push_groupable(p)) {
			pushes[k++] = p;
			total += p->msg->n_reports;
		}
	}
	reports = calloc(total ? total : 1, sizeof(*reports));
	if (!reports)
		abort();
	for (size_t i = 0; i < k; i++) {
		const struct rum_message *m = pushes[i]->msg;
		const struct rum_udi *udi;

		n_devs += rum_push_device(pushes[i], &devs[n_devs], &udi);
		ups[i] = rum_push_usage_upload(pushes[i], udi);
		items[i].upload = &ups[i];
		items[i].reports = &reports[at];
		items[i].n_reports = m->n_reports;
		for (size_t j = 0; j < m->n_reports; j++)
			reports[at++] = rum_push_usage_report(pushes[i], j);
	}
	/* The devices first: the uploads refer to them. */
	if (n_devs)
		rc = rum_store_device_batch(txn, devs, n_devs);
	if (rc == 0 && k)
		rc = rum_store_usage_batch(txn, items, k);
	for (size_t i = 0; rc == 0 && i < k && rum_db_txn_has_results(txn); i++) {
		pushes[i]->poll_id = ups[i].poll_id;
		pushes[i]->n_new = items[i].n_new;
		pushes[i]->n_duplicate = items[i].n_duplicate;
		pushes[i]->n_conflict = items[i].n_conflict;
	}
	free(reports);
	free(devs);
	free(pushes);
	free(ups);
	free(items);
	return rc;
}

static const struct rum_db_group rum_push_usage_group = {rum_push_group_run};

static int rum_push_store_request(struct rum_db_txn *txn, struct rum_push *p)
{
	struct rum_message *m = p->msg;
	struct rum_store_upload up = {p->tenant_id,
				      NULL,
				      NULL,
				      rum_msg_kind_name(m->kind),
				      p->source ? p->source : "push",
				      p->address,
				      p->sub_path,
				      p->body,
				      p->body_len,
				      p->new_poll_id};
	int rc = 0;

	if (m->has_udi) {
		up.pid = m->udi.pid;
		up.sn = m->udi.sn;
		rc = rum_store_device_touch(txn, p->tenant_id, m->udi.pid, m->udi.sn, m->hostname,
					    m->software_tag, "", p->address);
	}
	if (rc == 0)
		rc = rum_store_upload_insert(txn, &up, &p->poll_id);
	return rc;
}

static bool rum_push_poll_groupable(const struct rum_push *p)
{
	return p->tenant_id != 0 && p->msg && p->msg->kind == RUM_MSG_POLL;
}

static int rum_push_poll(struct rum_db_txn *txn, struct rum_push *p)
{
	bool found = false;
	int rc;

	if (rum_db_txn_grouped(txn) && rum_push_poll_groupable(p))
		return 0; /* rum_push_poll_group_run answers it */
	rc = rum_store_poll_take(txn, p->tenant_id, p->poll_id, p->address, &found, &p->ack,
				 &p->ack_len);
	if (rc == 0 && rum_db_txn_has_results(txn) && !found)
		p->rc = rum_err_set(RUM_ENOTFOUND, "unknown poll_id");
	return rc;
}

/* The batch's result polls, answered by one statement. Called after every
 * unit's own run(), in both phases. The ACKs it takes are locked after those
 * the batch's hellos took, not in device order: two batches crossing that
 * way may deadlock, which the pool retries. */
static int rum_push_poll_group_run(struct rum_db_txn *txn, struct rum_db_work **units, size_t n)
{
	struct rum_store_poll *items = calloc(n ? n : 1, sizeof(*items));
	struct rum_push **pushes = calloc(n ? n : 1, sizeof(*pushes));
	size_t k = 0;
	int rc = 0;

	if (!items || !pushes)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct rum_push *p = units[i]->arg;

		if (!rum_push_poll_groupable(p))
			continue;
		items[k] = (struct rum_store_poll){p->tenant_id, p->poll_id, p->address,
						   false,        NULL,       0};
		pushes[k++] = p;
	}
	if (k)
		rc = rum_store_poll_batch(txn, items, k);
	for (size_t i = 0; rc == 0 && i < k && rum_db_txn_has_results(txn); i++) {
		struct rum_push *p = pushes[i];

		free(p->ack);
		p->ack = items[i].content;
		p->ack_len = items[i].len;
		if (!items[i].found) {
			p->rc = RUM_ENOTFOUND;
			snprintf(p->err, sizeof(p->err), "unknown poll_id");
		}
	}
	free(pushes);
	free(items);
	return rc;
}

static const struct rum_db_group rum_push_poll_group = {rum_push_poll_group_run};

static int rum_push_hello(struct rum_db_txn *txn, struct rum_push *p)
{
	struct rum_message *m = p->msg;
	int rc;

	if (!m || !m->has_udi)
		return 0;
	rc = rum_store_device_touch(txn, p->tenant_id, m->udi.pid, m->udi.sn, m->hostname,
				    m->software_tag, "", p->address);
	if (rc == 0)
		rc = rum_store_ack_take(txn, p->tenant_id, m->udi.pid, m->udi.sn, p->address,
					"hello", &p->ack, &p->ack_len);
	return rc;
}

/* One device message as one unit of work: the same statements whether
 * sending or reading (see rum_db_work). Returns non-zero only for database
 * errors (which roll the batch back); outcomes such as an unknown tenant or
 * poll id are results in p->rc, so they never cost the other messages of the
 * batch. */
static int rum_push_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_push *p = arg;
	int rc = 0;

	free(p->ack);
	p->ack = NULL;
	p->ack_len = 0;
	p->rc = 0;
	p->n_new = p->n_duplicate = p->n_conflict = 0;
	if (p->tenant_id == 0) {
		p->rc = rum_err_set(RUM_ENOTFOUND, "unknown tenant '%s'", p->tenant);
		snprintf(p->err, sizeof(p->err), "%s", rum_err_msg());
		return 0;
	}
	switch (p->msg ? p->msg->kind : RUM_MSG_HELLO) {
	case RUM_MSG_USAGE: rc = rum_push_store_usage(txn, p); break;
	case RUM_MSG_AUTHORIZATION:
	case RUM_MSG_TRUST: rc = rum_push_store_request(txn, p); break;
	case RUM_MSG_POLL: rc = rum_push_poll(txn, p); break;
	case RUM_MSG_HELLO: rc = rum_push_hello(txn, p); break;
	}
	if (rc == 0 && p->capture) {
		struct rum_store_capture c = {p->tenant,   p->method,
					      p->path,     p->headers_json ? p->headers_json : "{}",
					      p->address,  p->body,
					      p->body_len, p->capture_reason};

		rc = rum_store_capture_insert(txn, &c);
	}
	if (rc == 0 && p->rc != 0)
		snprintf(p->err, sizeof(p->err), "%s", rum_err_msg());
	return rc;
}

static void rum_push_done(void *arg, int rc, const char *errmsg)
{
	struct rum_push *p = arg;

	if (rc != 0) {
		p->rc = rc;
		snprintf(p->err, sizeof(p->err), "%s", errmsg);
	}
	rum_push_count(p, p->rc);
	p->done(p, p->done_arg);
}

/* Parses the message and readies p->work; shared by both ways of running. */
static int rum_push_init(struct rum_push *p, const struct rum_push_settings *s)
{
	struct rum_message_limits limits = {s->max_reports};
	int rc;

	p->settings = *s;
	p->work = calloc(1, sizeof(*p->work));
	if (!p->work)
		abort();
	if (strcmp(p->method, "GET") != 0) {
		rc = rum_message_parse(&p->msg, p->body, p->body_len, &limits);
		if (rc != 0)
			return rc;
		p->hashes = calloc(p->msg->n_reports ? p->msg->n_reports : 1, sizeof(*p->hashes));
		if (!p->hashes)
			abort();
		/* Hash once here, not in run(), which a retried batch repeats. */
		for (size_t i = 0; i < p->msg->n_reports; i++)
			rum_crypto_sha256(p->hashes[i], p->msg->reports[i].payload,
					  p->msg->reports[i].payload_len);
		if (!p->msg->confident) {
			p->capture = true;
			p->capture_reason = "unclassified";
		}
	}
	if (s->capture_all && !p->capture) {
		p->capture = true;
		p->capture_reason = "capture_all";
	}
	if (p->capture && p->body_len > RUM_CAPTURE_MAX_BYTES) {
		rum_log_info("not capturing a %zu-byte %s message from %s (over %d bytes)",
			     p->body_len, p->capture_reason, p->address, RUM_CAPTURE_MAX_BYTES);
		p->capture = false;
	}
	if (p->capture && !p->headers_json && p->headers_fn)
		p->headers_json = p->headers_fn(p->headers_ctx);
	/* The poll id this message gets if it is stored as an upload: random,
	 * chosen once so that a retried batch stores the same one. */
	rum_crypto_random(&p->new_poll_id, sizeof(p->new_poll_id));
	p->new_poll_id &= INT64_MAX;
	if (p->new_poll_id == 0)
		p->new_poll_id = 1;
	/* Messages of one device are ordered alike in every batch (rum_db_work). */
	if (p->msg && rum_push_udi(p->msg)) {
		const struct rum_udi *udi = rum_push_udi(p->msg);

		snprintf(p->order_key, sizeof(p->order_key), "%s\x1f%s\x1f%s", p->tenant, udi->pid,
			 udi->sn);
		p->work->order_key = p->order_key;
	}
	if (p->msg && p->msg->kind == RUM_MSG_POLL &&
	    rum_strict_uint_n(&p->poll_id, p->msg->poll_id, strlen(p->msg->poll_id)) != 0)
		p->poll_id = -1; /* past int64: no such upload, answered as unknown */
	p->work->prepare = rum_push_prepare;
	p->work->run = rum_push_run;
	p->work->group = !p->msg                         ? NULL
			 : p->msg->kind == RUM_MSG_USAGE ? &rum_push_usage_group
			 : p->msg->kind == RUM_MSG_POLL  ? &rum_push_poll_group
							 : NULL;
	p->work->done = rum_push_done;
	p->work->arg = p;
	return 0;
}

int rum_push_submit(struct rum_push *p, struct rum_domain *dom, const struct rum_push_settings *s,
		    void (*done)(struct rum_push *p, void *arg), void *arg)
{
	int rc = rum_push_init(p, s);

	if (rc == 0) {
		p->done = done;
		p->done_arg = arg;
		rc = rum_db_submit(dom->db, p->work);
	}
	if (rc != 0)
		rum_push_count(p, rc);
	return rc;
}

/* rum_push_run_once waits for its push's done() here. */
struct rum_push_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void rum_push_done_wake(struct rum_push *p, void *arg)
{
	struct rum_push_wait *w = arg;

	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int rum_push_run_once(struct rum_push *p, struct rum_domain *dom, const struct rum_push_settings *s)
{
	struct rum_push_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
	int rc = rum_push_init(p, s);

	if (rc != 0)
		return rc;
	p->capture = false;
	p->done = rum_push_done_wake;
	p->done_arg = &w;
	rc = rum_db_submit(dom->db, p->work);
	if (rc != 0)
		return rc;
	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	if (p->rc != 0)
		rum_err_set(p->rc, "%s", p->err);
	return p->rc;
}

void rum_push_dispose(struct rum_push *p)
{
	rum_message_free(p->msg);
	p->msg = NULL;
	free(p->ack);
	p->ack = NULL;
	free(p->hashes);
	p->hashes = NULL;
	free(p->headers_json);
	p->headers_json = NULL;
	free(p->work);
	p->work = NULL;
}
