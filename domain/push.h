/* What rumd does with one device message on the CSLU push endpoint
 * (PROTOCOL.md 1.2-1.6): parse and classify it, then store it and look up
 * what to answer in one unit of database work, committed with others.
 * Knows neither HTTP nor SQL. */
#ifndef RUM_DOMAIN_PUSH_H
#define RUM_DOMAIN_PUSH_H

#include "domain/domain.h"
#include "domain/message.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rum_db_work;

struct rum_push_settings {
	bool auto_create_tenants;
	bool capture_all;
	size_t max_reports;
};

struct rum_push {
	/* Inputs, set by the caller and kept alive until done(). */
	const char *tenant;   /* decoded tenant name */
	const char *sub_path; /* decoded path below the tenant, "" when none */
	const char *method;   /* "GET" answers as a hello with no body */
	const char *path;     /* raw request path, for captures */
	const char *address;  /* peer address */
	const char *body;
	size_t body_len;
	char *headers_json; /* for captures; owned by the push (may be NULL) */
	/* When set, called (during submit, on the caller's thread) for the
	 * request headers as a new JSON object text, only if the message is to
	 * be captured. */
	char *(*headers_fn)(void *ctx);
	void *headers_ctx;
	const char *source; /* uploads.source: NULL = "push" */

	/* Results, valid in done(). rc: 0, RUM_ENOTFOUND (unknown tenant or poll
	 * id: see err), RUM_EUNAVAIL, or another error with err set. */
	int rc;
	char err[256];
	struct rum_message *msg; /* the parsed message (kind, nonce, ...) */
	int64_t poll_id;         /* poll id answered with OK_POLL; poll: the one asked */
	char *ack;               /* ACK file bytes to deliver, or NULL */
	size_t ack_len;
	unsigned n_new, n_duplicate, n_conflict;

	/* Private. */
	struct rum_push_settings settings;
	int64_t tenant_id;   /* 0 = unknown tenant */
	int64_t new_poll_id; /* poll id for the upload this message may create */
	char order_key[3 * 130 + 2];
	uint8_t (*hashes)[32];
	bool capture;
	const char *capture_reason;
	struct rum_db_work *work; /* the database's unit, while submitted */
	void (*done)(struct rum_push *p, void *arg);
	void *done_arg;
};

/* Parses p->body and, when it is a valid message, submits its storage; done()
 * is then called once from a database worker thread. Returns 0 when
 * submitted, or RUM_EINVAL / RUM_ETOOBIG for a bad message, RUM_EUNAVAIL when
 * the database queue is full (nothing stored, done() not called; the
 * thread's error says what was wrong). */
int rum_push_submit(struct rum_push *p, struct rum_domain *dom, const struct rum_push_settings *s,
		    void (*done)(struct rum_push *p, void *arg), void *arg);

/* Processes p->body now, waiting for the outcome, as if the device had
 * sent it (rumd replay of a captured message): same parsing, storage and
 * outcome fields as rum_push_submit; never captured again. Returns 0 when
 * processed (the outcome is in p->rc), or the parse/database error. */
int rum_push_run_once(struct rum_push *p, struct rum_domain *dom,
		      const struct rum_push_settings *s);

/* Frees what the push owns (message, ACK, hashes, headers); not p itself. */
void rum_push_dispose(struct rum_push *p);

#endif
