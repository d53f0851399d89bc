/* Probes: /healthz (the process answers) and /readyz (the database answers
 * and its schema is current). */
#include "api/api.h"
#include "api/call.h"

#include "domain/domain.h"
#include "lib/err.h"

#include <jansson.h>
#include <stdlib.h>

struct rum_readyz_call {
	struct rum_domain_ready check; /* first */
	struct rum_api *api;
	struct rum_http_exchange *x;
};

void rum_api_healthz(struct rum_api *api, struct rum_http_exchange *x,
		     const struct rum_http_request *req, const char *rest)
{
	rum_api_reply_json(x, 200, json_pack("{s:s}", "status", "OK"));
}

static void rum_readyz_done(struct rum_domain_ready *c, void *arg)
{
	struct rum_readyz_call *call = arg;

	if (c->rc == 0)
		rum_api_reply_json(call->x, 200,
				   json_pack("{s:s,s:i}", "status", "OK", "schema_version",
					     c->version));
	else
		rum_api_reply_json(call->x, 503,
				   json_pack("{s:s,s:s}", "status", "FAILED", "message", c->err));
	free(call);
}

void rum_api_readyz(struct rum_api *api, struct rum_http_exchange *x,
		    const struct rum_http_request *req, const char *rest)
{
	struct rum_readyz_call *call = calloc(1, sizeof(*call));

	if (!call)
		abort();
	call->api = api;
	call->x = x;
	rum_domain_ready_submit(&call->check, api->dom, rum_readyz_done, call);
}
