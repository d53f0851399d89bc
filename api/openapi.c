/* GET /api/v1/openapi.json: the admin API's OpenAPI 3.1 description,
 * api/openapi.json as compiled in. tests/integration/test_openapi.py keeps
 * it and api/routes.c in step and validates real answers against it. */
#include "api/call.h"

#include <stdlib.h>
#include <string.h>

/* api/openapi.json, compiled in (cmake/embed_file.cmake). */
extern const char rum_api_openapi[];
extern const size_t rum_api_openapi_len;

int rum_api_openapi_run(struct rum_api_call *c)
{
	char *body = malloc(rum_api_openapi_len + 1);

	if (!body)
		abort();
	memcpy(body, rum_api_openapi, rum_api_openapi_len + 1);
	rum_http_respond(c->x, 200, "application/json", body, rum_api_openapi_len, NULL, NULL);
	return 0;
}
