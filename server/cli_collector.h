/* rumd target add|list|show|remove and rumd collect: pull targets and
 * on-demand collections from the command line; and the collector settings
 * every node derives from the configuration (serve uses them too). */
#ifndef RUM_SERVER_CLI_COLLECTOR_H
#define RUM_SERVER_CLI_COLLECTOR_H

#include "collector/collect.h"
#include "server/config.h"

#include <stddef.h>

/* The secret key file: secret_key_file, or data_dir/secret.key. */
void rum_cli_key_file(const struct rum_config *cfg, char *out, size_t size);

/* Fills env from cfg for database pool db; node (at least 128 bytes) gets
 * this node's name and env->node points to it. Loads the key (creating the
 * file when create). Errors: those of rum_targets_key_load. */
int rum_cli_collect_env(struct rum_collect_env *env, const struct rum_config *cfg,
			struct rum_domain *dom, char *node, bool create);

/* Options of the verbs, for the command-line parser: those that take a value
 * and the flags that do not. */
extern const char *const rum_cli_target_opts[];
extern const char *const rum_cli_collect_opts[];
bool rum_cli_collector_is_flag(const char *name);

/* words[0] is "target" or "collect"; opt(ctx, name) gives an option's value
 * or NULL. Prints results on stdout. RUM_EINVAL for bad usage; collect
 * --wait returns RUM_EIO when a collection failed. */
int rum_cli_collector(const struct rum_config *cfg, struct rum_domain *dom,
		      const char *const *words, int nwords,
		      const char *(*opt)(const void *ctx, const char *name), const void *ctx);

#endif
