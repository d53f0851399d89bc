/* Upstream wire helpers, see wire.h. */
#include "sync/wire.h"

#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/text.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void rum_sync_put(char *out, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out, size, fmt, ap);
	va_end(ap);
}

struct rum_http_client_options rum_sync_http_options(const struct rum_cssm_net *net,
						     const char *label, size_t max_reply)
{
	return (struct rum_http_client_options){.label = label,
						.allow_http = net->allow_http,
						.verify = true,
						.ca_file = net->ca_file,
						.proxy = net->proxy,
						.proxy_user = net->proxy_user,
						.proxy_password = net->proxy_password,
						.connect_timeout_ms = net->connect_timeout_ms,
						.timeout_ms = net->timeout_ms,
						.max_reply = max_reply,
						.cancel = net->cancel};
}

void rum_sync_nonce(char out[33])
{
	uint8_t n[16];

	rum_crypto_random(n, sizeof(n));
	rum_text_hex(out, n, sizeof(n));
}

long long rum_sync_now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (long long)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

static char *rum_sync_dumps(json_t *v, size_t flags)
{
	char *s = json_dumps(v, flags);

	json_decref(v);
	if (!s)
		abort();
	return s;
}

char *rum_sync_usage_message(const struct rum_sync_call *call, const char *reports, size_t len,
			     bool in_data, size_t *out_len)
{
	char *sudi = rum_sync_dumps(json_pack("{s:s,s:s}", "udi_pid", call->pid,
					      "udi_serial_number", call->sn),
				    JSON_COMPACT | JSON_PRESERVE_ORDER);
	char *host = rum_sync_dumps(json_string(call->hostname), JSON_ENCODE_ANY);
	char *tag = rum_sync_dumps(json_string(call->software_tag), JSON_ENCODE_ANY);
	size_t cap = 2 * strlen(sudi) + strlen(host) + strlen(tag) + len + 256, n;
	char nonce[33], *body = malloc(cap);

	if (!body)
		abort();
	rum_sync_nonce(nonce);
	n = (size_t)snprintf(body, cap,
			     "%s{\"timestamp\":%lld,\"nonce\":\"%s\",\"sudi\":%s,\"reports\":[{"
			     "\"sudi\":%s,\"hostname\":%s,\"software_tag_identifier\":%s,"
			     "\"usage\":",
			     in_data ? "{\"data\":" : "", rum_sync_now_ms(), nonce, sudi, sudi,
			     host, tag);
	memcpy(body + n, reports, len);
	n += len;
	n += (size_t)snprintf(body + n, cap - n, "}]}%s", in_data ? "}" : "");
	free(sudi);
	free(host);
	free(tag);
	*out_len = n;
	return body;
}

int rum_sync_acks_decode(json_t *list, struct rum_cssm_answer *a)
{
	size_t i;
	json_t *e;

	if (!json_is_array(list) || json_array_size(list) == 0)
		return rum_err_set(RUM_EINVAL, "COMPLETE without acknowledgements");
	if (json_array_size(list) > RUM_SYNC_MAX_ACKS)
		return rum_err_set(RUM_ETOOBIG, "more than %d acknowledgements", RUM_SYNC_MAX_ACKS);
	a->docs = calloc(json_array_size(list), sizeof(*a->docs));
	a->lens = calloc(json_array_size(list), sizeof(*a->lens));
	if (!a->docs || !a->lens)
		abort();
	json_array_foreach(list, i, e) {
		const char *b64 = json_string_value(json_object_get(e, "smart_license"));
		int rc;

		if (!b64)
			return rum_err_set(RUM_EINVAL, "acknowledgement %zu has no smart_license",
					   i + 1);
		rc = rum_crypto_base64_decode(&a->docs[a->ndocs], &a->lens[a->ndocs], b64,
					      strlen(b64), RUM_SYNC_MAX_ACK);
		if (rc < 0)
			return rum_err_set(rc, "acknowledgement %zu: %s", i + 1, rum_err_msg());
		a->ndocs++;
	}
	return 0;
}
