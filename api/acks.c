/* ACKs in the admin API (routes in api/routes.c):
 *   GET .../devices/<id>/ack   the device's newest ACK, byte-exact */
#include "api/call.h"

#include "domain/acks.h"

#include <inttypes.h>
#include <stdio.h>

int rum_api_ack_run(struct rum_api_call *c)
{
	char disposition[160], *content;
	size_t len;
	int rc = rum_acks_download_by(c->api->dom, &c->by, c->id, &content, &len);

	if (rc == 0) {
		snprintf(disposition, sizeof(disposition),
			 "attachment; filename=\"ACK_device_%" PRId64 ".xml\"", c->id);
		rum_http_respond(c->x, 200, "application/xml", content, len, "Content-Disposition",
				 disposition);
	}
	return rc;
}
