/* Private to api/admin.c and api/targets.c: one admin API request on its
 * way from an HTTP thread to a worker thread. */
#ifndef RUM_API_ADMIN_CALL_H
#define RUM_API_ADMIN_CALL_H

#include "api/api.h"
#include "domain/admin.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define RUM_ADMIN_TENANT_MAX (128 * 4)
#define RUM_ADMIN_AUTH_MAX 256
#define RUM_ADMIN_FILE_NAME_MAX 128

enum rum_admin_kind {
	RUM_ADMIN_EXPORT, RUM_ADMIN_EXPORT_FILE, RUM_ADMIN_IMPORT, RUM_ADMIN_ACK,
	RUM_ADMIN_TARGETS, RUM_ADMIN_TARGET_ADD, RUM_ADMIN_TARGET, RUM_ADMIN_TARGET_REMOVE,
	RUM_ADMIN_COLLECT, RUM_ADMIN_COLLECTION
};

struct rum_admin_call {
	struct rum_api *api;
	struct rum_http_exchange *x;
	enum rum_admin_kind kind;
	char tenant[RUM_ADMIN_TENANT_MAX + 1];
	char authorization[RUM_ADMIN_AUTH_MAX + 1];
	bool has_authorization;
	int64_t id; /* batch or device */
	struct rum_admin_export_request export;
	char *since;
	int64_t *devices;
	const char *body; /* the exchange's, valid until the answer */
	size_t body_len;
	char file_name[RUM_ADMIN_FILE_NAME_MAX + 1];
	json_t *body_json;            /* a parsed JSON body, freed with the call */
	struct rum_target_spec spec;  /* pull-target add: points into body_json */
};

/* "'text' is not a WHAT id" unless text is a positive decimal id. */
int rum_admin_parse_id(int64_t *out, const char *text, const char *what);

/* api/targets.c: routes pull-targets/... and collections/... (RUM_ENOTFOUND
 * when the path is not one of them), parsing the body; then runs the call
 * on a worker and answers it (0), or returns the error to answer. */
int rum_api_targets_route(struct rum_admin_call *c, const struct rum_http_request *req,
			  char seg[][24], int nseg);
int rum_api_targets_work(struct rum_admin_call *c, const struct rum_admin_env *env,
			 const struct rum_admin_auth *auth);

#endif
