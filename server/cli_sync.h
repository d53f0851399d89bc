/* rumd sync [status]: a tenant's connected sync from the command line, and
 * the options serve's scheduler runs syncs with. */
#ifndef RUM_SERVER_CLI_SYNC_H
#define RUM_SERVER_CLI_SYNC_H

#include "domain/domain.h"
#include "server/config.h"
#include "sync/engine.h"

#include <stdbool.h>
#include <stdio.h>

extern const char *const rum_cli_sync_opts[];
bool rum_cli_sync_is_flag(const char *name);
void rum_cli_sync_usage(FILE *out);

/* The node's settings as sync options (tenant, trigger, wait left to the
 * caller). node and owner (128 bytes each) are filled; *proxy_password
 * (malloc'd, wipe and free it) is read from upstream_proxy_password_file.
 * RUM_EIO/RUM_ETOOBIG when that file cannot be read. */
int rum_cli_sync_options(const struct rum_config *cfg, struct rum_sync_options *o, char *node,
			 char *owner, char **proxy_password);

/* words[0] is "sync". RUM_EINVAL for bad usage. */
int rum_cli_sync(const struct rum_config *cfg, struct rum_domain *dom, const char *const *words,
		 int nwords, const char *(*opt)(const void *ctx, const char *name),
		 const void *ctx);

#endif
