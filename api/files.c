/* /cslu/v1/files/<token>: one-time URLs the pull collector hands to a device
 * (transfer=http) in place of SCP: the device PUTs (or POSTs) the usage file
 * it was asked to save, or GETs the ACK file it was asked to import. Each
 * token works once, for one direction, until it expires; anything else is
 * 404, so that a token cannot be probed. Parse, one domain call, render. */
#include "api/api.h"
#include "api/call.h"

#include "domain/collections.h"
#include "lib/err.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

struct rum_api_file_call {
	struct rum_api *api;
	struct rum_http_exchange *x;
	char token[RUM_COLLECTIONS_TOKEN_HEX + 1];
	struct rum_collection_file f;
};

static void rum_api_file_done(struct rum_collection_file *f, void *arg)
{
	struct rum_api_file_call *c = arg;

	if (f->rc != 0)
		rum_api_reply_error(c->api, c->x, f->rc, f->err);
	else if (f->upload)
		rum_api_reply_json(c->x, 200, json_pack("{s:s}", "status", "OK"));
	else
		rum_http_respond(c->x, 200, "application/xml", f->content, f->len, NULL, NULL);
	if (f->rc != 0 || f->upload)
		free(f->content);
	free(c);
}

void rum_api_files(struct rum_api *api, struct rum_http_exchange *x,
		   const struct rum_http_request *req, const char *rest)
{
	bool get = strcmp(req->method, "GET") == 0;
	bool put = strcmp(req->method, "PUT") == 0 || strcmp(req->method, "POST") == 0;
	struct rum_api_file_call *c;
	int rc;

	if (rest[0] != '/' || strlen(rest + 1) > RUM_COLLECTIONS_TOKEN_HEX) {
		rum_api_reply_error(api, x, RUM_ENOTFOUND, "no such file");
		return;
	}
	if (!get && !put) {
		rum_api_reply_error(api, x, RUM_EMETHOD,
				    "use PUT or POST to hand over a file, GET "
				    "to fetch one");
		return;
	}
	if (req->body_too_big) {
		rum_api_reply_error(api, x, RUM_ETOOBIG, "file is larger than max_body_bytes");
		return;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	c->api = api;
	c->x = x;
	memcpy(c->token, rest + 1, strlen(rest + 1) + 1);
	c->f.token = c->token;
	c->f.upload = put;
	c->f.body = req->body;
	c->f.body_len = req->body_len;
	rc = rum_collections_file_submit(&c->f, api->dom, rum_api_file_done, c);
	if (rc != 0) {
		rum_api_reply_error(api, x, rc, rum_err_msg());
		free(c);
	}
}
