/* libFuzzer target: an imported ACK file. The bytes go through the archive
 * reader (small limits, nested archives walked as rumd import does) and,
 * as a document, through the ACK/policy parser (libxml2, no DTD). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/import.h"
#include "lib/tarball.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int walk(void *ctx, const struct rum_tarball_entry *e)
{
	struct rum_tarball_budget *b = ctx;
	struct rum_import_ack a;
	int64_t id;
	char ts[64];

	(void)rum_import_ack_name(e->base, &id, ts, sizeof(ts));
	if (rum_tarball_is_gzip(e->data, e->len))
		return rum_tarball_read_mem(e->data, e->len, e->name, b, walk, b);
	if (rum_import_ack_parse(&a, e->data, e->len, e->name,
				 rum_import_default_limits.max_xml_nodes) == 0)
		rum_import_ack_dispose(&a);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rum_tarball_budget b = {64, 1 << 20, 4 << 20, 0, 0};
	struct rum_import_ack a;

	if (rum_import_ack_parse(&a, (const char *)data, size, "fuzz",
				 rum_import_default_limits.max_xml_nodes) == 0) {
		if (a.n_ids && !a.ids)
			abort();
		rum_import_ack_dispose(&a);
	}
	(void)rum_tarball_read_mem(data, size, "fuzz", &b, walk, &b);
	if (b.total > b.max_total || b.entries > b.max_entries + 1)
		abort();
	return 0;
}
