/* rumd backup -o FILE and rumd restore FILE: the database (the embedded
 * cluster's or database_url's) and the key sealing pull credentials, in one
 * file. Each verb starts what it needs itself (the embedded cluster, when it
 * is not running) and prints its outcome; errors return a RUM_E* code with
 * the message set. */
#ifndef RUM_CLI_BACKUP_H
#define RUM_CLI_BACKUP_H

#include "server/config.h"

#include <stdbool.h>

extern const char *const rum_cli_backup_opts[];
extern const char *const rum_cli_restore_opts[];

/* Verb options that take no value. */
bool rum_cli_backup_is_flag(const char *name);

void rum_cli_backup_usage(FILE *out);

/* words[0] is "backup" or "restore"; opt(arg, name) reads a verb option. */
int rum_cli_backup(const struct rum_config *cfg, const char *const *words, int nwords,
		   const char *(*opt)(const void *arg, const char *name), const void *arg);

#endif
