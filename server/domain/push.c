#include "push.h"

#include "db/migrate.h"
#include "db/store.h"
#include "util/crypto.h"
#include "util/err.h"
#include "util/strict.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The device ids of the distinct UDIs in one message, looked up once each. */
struct rum_push_devices {
	const struct rum_udi *udi[8];
	int64_t id[8];
	unsigned n;
};

static int rum_push_device(struct rum_db_txn *txn, struct rum_push *p, int64_t tenant_id,
			   struct rum_push_devices *cache, const struct rum_udi *udi,
			   const char *hostname, const char *tag, const char *version,
			   int64_t *device_id)
{
	int rc;

	for (unsigned i = 0; i < cache->n; i++) {
		if (strcmp(cache->udi[i]->pid, udi->pid) == 0 &&
		    strcmp(cache->udi[i]->sn, udi->sn) == 0) {
			*device_id = cache->id[i];
			return 0;
		}
	}
	rc = rum_store_device_touch(txn, tenant_id, udi->pid, udi->sn, hostname, tag, version,
				    p->address, device_id);
	if (rc == 0) {
		/* A small round-robin cache: messages rarely carry many devices. */
		unsigned slot = cache->n < 8 ? cache->n++ : (unsigned)(*device_id % 8);

		cache->udi[slot] = udi;
		cache->id[slot] = *device_id;
	}
	return rc;
}

static int rum_push_tenant(struct rum_db_txn *txn, struct rum_push *p, int64_t *tenant_id)
{
	if (p->settings.auto_create_tenants)
		return rum_store_tenant_ensure(txn, p->tenant, tenant_id);
	return rum_store_tenant_find(txn, p->tenant, tenant_id);
}

static int rum_push_store_usage(struct rum_db_txn *txn, struct rum_push *p, int64_t tenant_id)
{
	struct rum_message *m = p->msg;
	struct rum_push_devices devices = {.n = 0};
	int64_t upload_device = 0;
	struct rum_store_upload up = {tenant_id, 0, "usage", "push", p->address, p->sub_path,
				      NULL, 0};
	int rc = 0;

	if (m->has_udi || m->n_reports > 0) {
		/* The envelope names the device; its first report of that device
		 * tells its software version (and hostname/tag in reports[]). */
		const struct rum_udi *udi = m->has_udi ? &m->udi : &m->reports[0].udi;
		const struct rum_report *first = NULL;

		for (size_t i = 0; i < m->n_reports && !first; i++)
			if (strcmp(m->reports[i].udi.pid, udi->pid) == 0 &&
			    strcmp(m->reports[i].udi.sn, udi->sn) == 0)
				first = &m->reports[i];
		rc = rum_push_device(txn, p, tenant_id, &devices, udi,
				     m->hostname[0] || !first ? m->hostname : first->hostname,
				     m->software_tag[0] || !first ? m->software_tag
								  : first->software_tag,
				     first ? first->software_version : "", &upload_device);
	}
	up.device_id = upload_device;
	if (rc == 0)
		rc = rum_store_upload_insert(txn, &up, &p->poll_id);
	for (size_t i = 0; rc == 0 && i < m->n_reports; i++) {
		const struct rum_report *r = &m->reports[i];
		struct rum_store_report sr = {
			.tenant_id = tenant_id, .upload_id = p->poll_id, .report_id = r->report_id,
			.pid = r->udi.pid, .sn = r->udi.sn, .format = r->format,
			.entitlement_tag = r->entitlement_tag,
			.software_version = r->software_version, .metric_name = r->metric_name,
			.last_value = r->last_value, .first_start = r->first_start,
			.last_end = r->last_end, .payload_sha256 = p->hashes[i],
			.report = r->raw, .report_len = r->raw_len};
		enum rum_store_outcome outcome;

		rc = rum_push_device(txn, p, tenant_id, &devices, &r->udi, r->hostname,
				     r->software_tag, r->software_version, &sr.device_id);
		if (rc == 0)
			rc = rum_store_report_put(txn, &sr, &outcome);
		if (rc == 0) {
			p->n_new += outcome == RUM_STORE_NEW;
			p->n_duplicate += outcome == RUM_STORE_DUPLICATE;
			p->n_conflict += outcome == RUM_STORE_CONFLICT;
		}
	}
	return rc;
}

static int rum_push_store_request(struct rum_db_txn *txn, struct rum_push *p, int64_t tenant_id)
{
	struct rum_message *m = p->msg;
	struct rum_store_upload up = {tenant_id, 0, rum_msg_kind_name(m->kind), "push",
				      p->address, p->sub_path, p->body, p->body_len};
	int rc = 0;

	if (m->has_udi)
		rc = rum_store_device_touch(txn, tenant_id, m->udi.pid, m->udi.sn, m->hostname,
					    m->software_tag, "", p->address, &up.device_id);
	if (rc == 0)
		rc = rum_store_upload_insert(txn, &up, &p->poll_id);
	return rc;
}

static int rum_push_poll(struct rum_db_txn *txn, struct rum_push *p, int64_t tenant_id)
{
	int64_t device_id = 0;
	int rc;

	if (rum_strict_uint_n(&p->poll_id, p->msg->poll_id, strlen(p->msg->poll_id)) != 0) {
		p->rc = rum_err_set(RUM_ENOTFOUND, "unknown poll_id");
		return 0;
	}
	rc = rum_store_upload_device(txn, tenant_id, p->poll_id, &device_id);
	if (rc == RUM_ENOTFOUND) {
		p->rc = rc;
		return 0;
	}
	if (rc == 0 && device_id)
		rc = rum_store_ack_take(txn, device_id, p->address, "poll", &p->ack, &p->ack_len);
	return rc;
}

static int rum_push_hello(struct rum_db_txn *txn, struct rum_push *p, int64_t tenant_id)
{
	struct rum_message *m = p->msg;
	int64_t device_id;
	int rc = 0;

	if (!m || !m->has_udi)
		return 0;
	rc = rum_store_device_touch(txn, tenant_id, m->udi.pid, m->udi.sn, m->hostname,
				    m->software_tag, "", p->address, &device_id);
	if (rc == 0)
		rc = rum_store_ack_take(txn, device_id, p->address, "hello", &p->ack, &p->ack_len);
	return rc;
}

/* One device message as one unit of work. Returns non-zero only for database
 * errors (which roll the batch back); outcomes such as an unknown tenant are
 * results in p->rc, so they never cost the other messages of the batch. */
static int rum_push_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_push *p = arg;
	int64_t tenant_id;
	int rc;

	/* run() may be repeated after a rollback: start from a clean result. */
	free(p->ack);
	p->ack = NULL;
	p->ack_len = 0;
	p->poll_id = 0;
	p->rc = 0;
	p->n_new = p->n_duplicate = p->n_conflict = 0;

	rc = rum_push_tenant(txn, p, &tenant_id);
	if (rc == RUM_ENOTFOUND) {
		p->rc = rum_err_set(RUM_ENOTFOUND, "unknown tenant '%s'", p->tenant);
		snprintf(p->err, sizeof(p->err), "%s", rum_err_msg());
		return 0;
	}
	if (rc != 0)
		return rc;
	switch (p->msg ? p->msg->kind : RUM_MSG_HELLO) {
	case RUM_MSG_USAGE:
		rc = rum_push_store_usage(txn, p, tenant_id);
		break;
	case RUM_MSG_AUTHORIZATION:
	case RUM_MSG_TRUST:
		rc = rum_push_store_request(txn, p, tenant_id);
		break;
	case RUM_MSG_POLL:
		rc = rum_push_poll(txn, p, tenant_id);
		break;
	case RUM_MSG_HELLO:
		rc = rum_push_hello(txn, p, tenant_id);
		break;
	}
	if (rc == 0 && p->capture) {
		struct rum_store_capture c = {p->tenant, p->method, p->path,
					      p->headers_json ? p->headers_json : "{}", p->address,
					      p->body, p->body_len, p->capture_reason};

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
	p->done(p, p->done_arg);
}

int rum_push_submit(struct rum_push *p, struct rum_db *db, const struct rum_push_settings *s,
		    void (*done)(struct rum_push *p, void *arg), void *arg)
{
	struct rum_message_limits limits = {s->max_reports};
	int rc;

	p->settings = *s;
	p->done = done;
	p->done_arg = arg;
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
	p->work.run = rum_push_run;
	p->work.done = rum_push_done;
	p->work.arg = p;
	rum_db_submit(db, &p->work);
	return 0;
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
}

static int rum_ready_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_ready_check *c = arg;

	return rum_store_schema_version(txn, &c->version);
}

static void rum_ready_done(void *arg, int rc, const char *errmsg)
{
	struct rum_ready_check *c = arg;

	c->rc = rc;
	snprintf(c->err, sizeof(c->err), "%s", errmsg);
	if (rc == 0 && c->version != rum_migrate_newest()) {
		c->rc = RUM_ECONFLICT;
		snprintf(c->err, sizeof(c->err), "schema version %d, this rumd needs %d",
			 c->version, rum_migrate_newest());
	}
	c->done(c, c->done_arg);
}

void rum_ready_submit(struct rum_ready_check *c, struct rum_db *db,
		      void (*done)(struct rum_ready_check *c, void *arg), void *arg)
{
	c->done = done;
	c->done_arg = arg;
	c->work.run = rum_ready_run;
	c->work.done = rum_ready_done;
	c->work.arg = c;
	rum_db_submit(db, &c->work);
}
