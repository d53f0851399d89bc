/* libFuzzer target: upstream, collector and proxy URLs through
 * rum_text_url_split, and the check every URL an admin gives goes through.
 * What is split out must lie within the URL; a URL holding a password is
 * refused, and the message never quotes the password. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/upstreams.h"
#include "lib/err.h"
#include "lib/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)            \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rum_text_url u;
	const char *why = NULL;
	char *url;
	int rc;

	if (size > RUM_TEXT_URL_MAX + 16)
		return 0;
	url = malloc(size + 1);
	REQUIRE(url);
	memcpy(url, data, size);
	url[size] = '\0';
	rc = rum_text_url_split(&u, url, &why);
	if (rc == 0) {
		size_t n = strlen(url);

		REQUIRE(u.host >= url && u.host_len > 0 && u.host + u.host_len <= url + n);
		REQUIRE(u.rest >= u.host + u.host_len && u.rest <= url + n);
		REQUIRE(u.port >= 0 && u.port <= 65535);
		REQUIRE(!u.has_password || u.has_user);
		REQUIRE(!memchr(u.host, '@', u.host_len) && !memchr(u.host, '/', u.host_len));
	} else {
		REQUIRE(rc == -1 && why && why[0]);
	}
	for (int with_user = 0; with_user < 2; with_user++) {
		rc = rum_upstreams_url_check("url", url, with_user);
		REQUIRE(rc == 0 || rc == RUM_EINVAL);
	}
	/* The same text behind a user and password: always refused, and the
	 * password (a marker no message holds) is never in the message. */
	free(url);
	url = malloc(size + 32);
	REQUIRE(url);
	memcpy(url, "http://u:Zq9Xv7Wk@", 18);
	memcpy(url + 18, data, size);
	url[18 + size] = '\0';
	for (int with_user = 0; with_user < 2; with_user++) {
		rc = rum_upstreams_url_check("url", url, with_user);
		REQUIRE(rc == RUM_EINVAL);
		REQUIRE(!strstr(rum_err_msg(), "Zq9Xv7Wk"));
	}
	free(url);
	return 0;
}
