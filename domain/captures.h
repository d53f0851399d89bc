/* Captures: device messages kept whole for an operator to look at (messages
 * rumd could not classify, or every message with capture_all), and replayed
 * through the push domain once rumd knows better (rumd replay). */
#ifndef RUM_DOMAIN_CAPTURES_H
#define RUM_DOMAIN_CAPTURES_H

#include "domain/domain.h"

#include <stddef.h>
#include <stdint.h>

/* A stored capture; strings valid during the callback. */
struct rum_capture {
	int64_t id;
	const char *received_at, *tenant_name, *method, *path, *headers_json, *address, *reason;
	const char *body;
	size_t body_len;
};

/* Newest first; tenant "" = every tenant; at most `limit`. */
int rum_captures_list(struct rum_domain *dom, const char *tenant, int64_t limit,
		      void (*cb)(void *arg, const struct rum_capture *c), void *arg);

/* Capture id. RUM_ENOTFOUND when there is none. */
int rum_captures_get(struct rum_domain *dom, int64_t id,
		     void (*cb)(void *arg, const struct rum_capture *c), void *arg);

#endif
