/* The admin console in the browser: its page at "/" and its files below
 * /assets/<build>/, all built into the binary (cmake/embed_web.cmake).
 * Everything the page shows or does goes through the admin API with the
 * browser session's rights; nothing here reads the database.
 *
 * Headers: a Content-Security-Policy that allows only this origin's own
 * scripts, styles and connections (no inline script, no framing), no MIME
 * sniffing, no referrer. The page is revalidated on every visit; assets are
 * immutable (their URL changes with any change of the tree). */
#include "api/api.h"
#include "api/call.h"
#include "api/web_assets.h"

#include "lib/err.h"

#include <string.h>

#define RUM_WEB_CSP                                                                 \
	"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " \
	"connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
#define RUM_WEB_COMMON                                                               \
	"Content-Security-Policy", RUM_WEB_CSP, "X-Content-Type-Options", "nosniff", \
		"X-Frame-Options", "DENY", "Referrer-Policy", "no-referrer", "Vary", \
		"Accept-Encoding"

static const char *const rum_web_page_headers[] = {RUM_WEB_COMMON, "Cache-Control", "no-cache",
						   NULL};
static const char *const rum_web_page_gz_headers[] = {
	RUM_WEB_COMMON, "Cache-Control", "no-cache", "Content-Encoding", "gzip", NULL};
static const char *const rum_web_asset_headers[] = {RUM_WEB_COMMON, "Cache-Control",
						    "public, max-age=31536000, immutable", NULL};
static const char *const rum_web_asset_gz_headers[] = {
	RUM_WEB_COMMON,     "Cache-Control", "public, max-age=31536000, immutable",
	"Content-Encoding", "gzip",          NULL};

static const struct rum_web_asset *rum_web_find(const char *name, size_t len)
{
	for (size_t i = 0; i < rum_web_assets_count; i++)
		if (strlen(rum_web_assets[i].name) == len &&
		    memcmp(rum_web_assets[i].name, name, len) == 0)
			return &rum_web_assets[i];
	return NULL;
}

/* Whether the client takes gzip (a "gzip" coding not refused with q=0). */
static bool rum_web_gzip_ok(struct rum_http_exchange *x)
{
	const char *ae = rum_http_header(x, "Accept-Encoding");
	const char *g = ae ? strstr(ae, "gzip") : NULL;

	return g && strncmp(g + 4, ";q=0", 4) != 0 && strncmp(g + 4, "; q=0", 5) != 0;
}

static void rum_web_send(struct rum_http_exchange *x, const struct rum_web_asset *a,
			 const char *const *plain, const char *const *gz)
{
	if (a->gz && rum_web_gzip_ok(x))
		rum_http_respond_static(x, 200, a->content_type, a->gz, a->gz_len, gz);
	else
		rum_http_respond_static(x, 200, a->content_type, a->data, a->len, plain);
}

static bool rum_web_method_ok(struct rum_api *api, struct rum_http_exchange *x,
			      const struct rum_http_request *req)
{
	if (strcmp(req->method, "GET") == 0 || strcmp(req->method, "HEAD") == 0)
		return true;
	rum_api_reply_error(api, x, RUM_EMETHOD, "use GET here");
	return false;
}

void rum_api_web_page(struct rum_api *api, struct rum_http_exchange *x,
		      const struct rum_http_request *req, const char *rest)
{
	const struct rum_web_asset *a = rum_web_find("index.html", 10);

	(void)rest;
	if (!rum_web_method_ok(api, x, req))
		return;
	if (!a)
		rum_api_reply_error(api, x, RUM_ENOTFOUND, "this rumd was built without web/");
	else
		rum_web_send(x, a, rum_web_page_headers, rum_web_page_gz_headers);
}

void rum_api_web_asset(struct rum_api *api, struct rum_http_exchange *x,
		       const struct rum_http_request *req, const char *rest)
{
	size_t build = strlen(rum_web_build);
	const struct rum_web_asset *a = NULL;

	if (!rum_web_method_ok(api, x, req))
		return;
	/* rest: "/<build>/<name>"; another build's files are gone (the page
	 * that names them is stale: reloading it names this build's). */
	if (rest[0] == '/' && strncmp(rest + 1, rum_web_build, build) == 0 &&
	    rest[1 + build] == '/' && strcmp(rest + 2 + build, "index.html") != 0)
		a = rum_web_find(rest + 2 + build, strlen(rest + 2 + build));
	if (!a)
		rum_api_reply_error(api, x, RUM_ENOTFOUND, "no such file of the console");
	else
		rum_web_send(x, a, rum_web_asset_headers, rum_web_asset_gz_headers);
}
