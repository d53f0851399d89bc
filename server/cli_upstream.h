/* rumd upstream set|show|remove: a tenant's upstream for connected mode
 * (CSSM or another collector) from the command line. Secrets are read from
 * a file or standard input, never from the command line, where every user
 * of the host could read them (ps, /proc). */
#ifndef RUM_SERVER_CLI_UPSTREAM_H
#define RUM_SERVER_CLI_UPSTREAM_H

#include "domain/domain.h"
#include "server/config.h"

#include <stdbool.h>
#include <stdio.h>

/* Options of the verb (value-taking and flags) and the flags alone. */
extern const char *const rum_cli_upstream_opts[];
bool rum_cli_upstream_is_flag(const char *name);

void rum_cli_upstream_usage(FILE *out);

/* words[0] is "upstream"; opt(ctx, name) gives an option's value or NULL.
 * Prints results on stdout. RUM_EINVAL for bad usage (nothing changed). */
int rum_cli_upstream(const struct rum_config *cfg, struct rum_domain *dom, const char *const *words,
		     int nwords, const char *(*opt)(const void *ctx, const char *name),
		     const void *ctx);

#endif
