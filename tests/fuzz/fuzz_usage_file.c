/* libFuzzer target: a device usage file (PROTOCOL 2.1) turned into a usage
 * message for the push domain, which must then parse as one or be refused. */
#include <stdint.h>
#include <stdlib.h>

#include "domain/import.h"
#include "domain/message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rum_message *m = NULL;
	char *body = NULL;
	size_t len = 0, n = 0;

	if (rum_import_usage_message(&body, &len, &n, (const char *)data, size, "fuzz") != 0)
		return 0;
	if (n == 0 || !body)
		abort();
	if (rum_message_parse(&m, body, len, NULL) == 0 && m->n_reports > n * 64 + 64)
		abort();
	rum_message_free(m);
	free(body);
	return 0;
}
