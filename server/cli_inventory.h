/* rumd device list|show and rumd report list|show: the inventory from the
 * command line, as tables, or with --json as the admin API shapes it. */
#ifndef RUM_SERVER_CLI_INVENTORY_H
#define RUM_SERVER_CLI_INVENTORY_H

#include "domain/domain.h"
#include "server/config.h"

#include <stdbool.h>
#include <stdio.h>

/* Options of the verbs (those that take a value, and the flags). */
extern const char *const rum_cli_device_opts[];
extern const char *const rum_cli_report_opts[];
extern const char *const rum_cli_usage_opts[];
extern const char *const rum_cli_alert_opts[];
bool rum_cli_inventory_is_flag(const char *name);

/* rumd device --help / rumd report --help. */
void rum_cli_inventory_usage(FILE *out);
/* rumd usage --help. */
void rum_cli_usage_usage(FILE *out);

/* rumd alert --help. */
void rum_cli_alert_usage(FILE *out);

/* rumd alert list|ack: brings alerts up to date, then lists; or
 * acknowledges one (audited, actor "cli"). */
int rum_cli_alert(const struct rum_config *cfg, struct rum_domain *dom, const char *const *words,
		  int nwords, const char *(*opt)(const void *ctx, const char *name),
		  const void *ctx);

/* rumd usage: counts what is due, then prints the tenant's licence usage. */
int rum_cli_usage(const struct rum_config *cfg, struct rum_domain *dom,
		  const char *(*opt)(const void *ctx, const char *name), const void *ctx);

/* words[0] is "device" or "report"; opt(ctx, name) gives an option's value
 * or NULL ("" for a flag given). RUM_EINVAL for bad usage, else the
 * domain's errors. */
int rum_cli_inventory(const struct rum_config *cfg, struct rum_domain *dom,
		      const char *const *words, int nwords,
		      const char *(*opt)(const void *ctx, const char *name), const void *ctx);

#endif
