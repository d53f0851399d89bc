/* The air-gap verbs of the rumd command line: `import` (CSSM's ACK files),
 * `ack-file` (an ACK for `license smart import`) and `import-usage` (a
 * device's usage file). Each runs one domain call and prints its outcome on
 * stdout; errors return a RUM_E* code with the message set. */
#ifndef RUM_CLI_IMPORT_H
#define RUM_CLI_IMPORT_H

#include "domain/domain.h"
#include "server/config.h"

#include <stddef.h>
#include <stdint.h>

int rum_cli_import(const struct rum_config *cfg, struct rum_domain *dom, const char *file,
		   const char *tenant, const int64_t *devices, size_t ndevices);
int rum_cli_ack_file(const struct rum_config *cfg, struct rum_domain *dom, int64_t device,
		     const char *output);
int rum_cli_import_usage(const struct rum_config *cfg, struct rum_domain *dom, const char *file,
			 const char *tenant);

#endif
