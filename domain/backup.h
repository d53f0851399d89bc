/* Backups of rumd: the database and what data_dir must keep beside it, in
 * one file, a gzip'd tar of
 *   manifest.json  what the backup is: rumd version, schema version, time,
 *                  database, whether the secret key is in it
 *   secret.key     the key sealing pull-target credentials, when one exists
 *   rumd.dump      pg_dump's custom format: one snapshot of the database
 * pg_dump and pg_restore run as programs (lib/proc.h) with the connection
 * settings in their environment, never on their argument lists. */
#ifndef RUM_DOMAIN_BACKUP_H
#define RUM_DOMAIN_BACKUP_H

#include <stdbool.h>
#include <stdint.h>

struct rum_domain;

/* What a backup's manifest.json says. */
struct rum_backup_manifest {
	char rumd_version[64];
	int schema_version;
	char created_at[32]; /* UTC, ISO-8601 */
	char database[128];
	char server_version[64]; /* PostgreSQL's, where the dump was taken */
	bool embedded;           /* taken from the embedded cluster */
	bool secret_key_included;
	int64_t reports;    /* rows of rum_reports in the dump */
	int64_t dump_bytes; /* size of rumd.dump */
};

struct rum_backup_options {
	const char *output; /* file, or "-" for standard output */
	const char *bindir; /* where pg_dump is */
	bool embedded;
};

struct rum_backup_result {
	struct rum_backup_manifest m;
	int64_t bytes;   /* of the file written */
	double seconds;  /* from the start to the file in place */
	char path[4096]; /* the file, or "-" */
	char key_file[4096];
};

/* Writes a backup of dom's database and key file to o->output: the file
 * appears whole (mode 0600) under its name or not at all; "-" streams to
 * standard output. Works while rumd serve runs on the same database (the
 * dump is one snapshot). Errors: RUM_EUNAVAIL (database), RUM_ECONFLICT (no
 * rumd schema in the database, or it changed during the dump), RUM_EIO
 * (pg_dump failed: its message; the file), RUM_EINVAL (key file unreadable
 * as a key). */
int rum_backup_create(struct rum_domain *dom, const struct rum_backup_options *o,
		      struct rum_backup_result *res);

/* A backup file read and checked, its dump unpacked into a private
 * directory until rum_backup_close. */
struct rum_backup;

/* Reads path (a file, or "-" for standard input) and checks it without
 * touching any database: a rumd backup whose entries are all there and whole
 * (gzip's check sums), whose manifest this rumd understands (schema not
 * newer than this binary's) and whose dump pg_restore can read. The dump is
 * unpacked into a private directory made under work_dir. Errors: RUM_EINVAL
 * (naming what is wrong: not a rumd backup, truncated, corrupt, from a newer
 * rumd), RUM_EIO. */
int rum_backup_open(struct rum_backup **out, const char *path, const char *bindir,
		    const char *work_dir);

/* The manifest of an open backup. */
const struct rum_backup_manifest *rum_backup_manifest(const struct rum_backup *b);

struct rum_restore_result {
	char database[128];
	char key_file[4096];
	bool key_written;     /* false: the same key was there, or none in the backup */
	char key_moved[4096]; /* --force replaced a different key, kept here; or "" */
	int64_t reports;      /* rows of rum_reports after the restore */
};

/* Restores b into dom's database in one transaction (pg_restore
 * --single-transaction: on failure the database is as it was), then puts
 * the secret key in place (0600). Refuses, changing nothing, when another
 * session uses the database (rumd serve), when the database already holds
 * rumd data (unless force: the backup's objects replace it, which a database
 * newer than the backup refuses even so) and when a different key is at
 * key_file (unless force: the old one is kept as key_file.replaced-<time>).
 * The caller brings the schema up to date afterwards.
 * Errors: RUM_ECONFLICT (each refusal, naming why), RUM_EUNAVAIL, RUM_EIO
 * (pg_restore failed: its message). */
int rum_backup_restore(struct rum_domain *dom, struct rum_backup *b, bool force,
		       struct rum_restore_result *res);

/* Removes the unpacked dump and frees. Accepts NULL. */
void rum_backup_close(struct rum_backup *b);

#endif
