/* The admin console's files (web/), built into the binary by
 * cmake/embed_web.cmake: each as it is and, for text, gzip'd. */
#ifndef RUM_API_WEB_ASSETS_H
#define RUM_API_WEB_ASSETS_H

#include <stddef.h>

struct rum_web_asset {
	const char *name; /* path below web/, e.g. "app.js", "index.html" */
	const char *content_type;
	const unsigned char *data;
	size_t len;
	const unsigned char *gz; /* NULL when gzip would not make it smaller */
	size_t gz_len;
};

extern const struct rum_web_asset rum_web_assets[];
extern const size_t rum_web_assets_count;
/* The hash of the whole tree: assets are served below /assets/<build>/. */
extern const char rum_web_build[];

#endif
