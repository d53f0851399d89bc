#include "server/cli_backup.h"

#include "domain/backup.h"
#include "domain/domain.h"
#include "lib/err.h"
#include "lib/log.h"
#include "server/cli_collector.h"
#include "server/pgembed.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *const rum_cli_backup_opts[] = {"output", NULL};
const char *const rum_cli_restore_opts[] = {"force", NULL};

bool rum_cli_backup_is_flag(const char *name)
{
	return strcmp(name, "force") == 0;
}

void rum_cli_backup_usage(FILE *out)
{
	fprintf(out,
		"Usage: rumd backup -o FILE|DIR|-\n"
		"       rumd restore FILE|- [--force]\n\n"
		"backup writes one file (mode 0600, in place only when complete; into DIR as\n"
		"rumd-backup-<UTC time>.tar.gz; \"-\": standard output): a gzip'd tar of\n"
		"manifest.json (rumd and schema version, time, database, whether the key is in\n"
		"it), secret.key (the key sealing pull-target credentials, secret_key_file) and\n"
		"rumd.dump (pg_dump's custom format, one consistent snapshot). It runs beside a\n"
		"running rumd serve; with no database_url and no server running it starts the\n"
		"embedded cluster of data_dir for the time of the dump. With database_url the\n"
		"dump is of that database, and the key file is included as well.\n\n"
		"restore checks the whole file first (a truncated or foreign file changes\n"
		"nothing), then restores it into the database of data_dir (made when new) or\n"
		"database_url in one transaction, puts the key at secret_key_file (0600) and\n"
		"brings the schema up to date. It refuses a database in use (stop rumd serve\n"
		"first), one that already holds rumd data and a different key at\n"
		"secret_key_file, unless --force (the old key is then kept beside it).\n");
}

/* The database to work on: database_url, or the embedded cluster of
 * data_dir (reused when running, else started until *pg is stopped). */
static int rum_cli_backup_database(const struct rum_config *cfg, bool create, char **url,
				   struct rum_pgembed **pg)
{
	char version[4200];

	*pg = NULL;
	if (cfg->database_url[0]) {
		*url = strdup(cfg->database_url);
		if (!*url)
			abort();
		return 0;
	}
	snprintf(version, sizeof(version), "%s/pg/PG_VERSION", cfg->data_dir);
	if (!create && access(version, F_OK) != 0)
		return rum_err_set(RUM_ENOTFOUND,
				   "no embedded database in data_dir %s (and no database_url): "
				   "nothing to back up",
				   cfg->data_dir);
	return rum_pgembed_start(pg, url, cfg->data_dir, cfg->pg_bindir, (int)cfg->db_timeout_ms,
				 false);
}

static int rum_cli_backup_domain(const struct rum_config *cfg, const char *url, char *key_file,
				 size_t key_size, struct rum_domain **dom)
{
	struct rum_domain_options o = {url,      (int)cfg->db_timeout_ms,
				       0,        1,
				       1,        1,
				       16,       cfg->data_dir,
				       key_file, cfg->default_tenant,
				       0,        0,
				       0,        0,
				       0,        0,
				       0,        0,
				       0};

	rum_cli_key_file(cfg, key_file, key_size);
	return rum_domain_open(dom, &o);
}

static void rum_cli_backup_size(char *out, size_t size, int64_t bytes)
{
	if (bytes >= (1 << 20))
		snprintf(out, size, "%.1f MiB", (double)bytes / (1 << 20));
	else
		snprintf(out, size, "%.1f KiB", (double)bytes / 1024);
}

static int rum_cli_backup_write(const struct rum_config *cfg, const char *output)
{
	struct rum_backup_options o = {output, NULL, !cfg->database_url[0]};
	struct rum_backup_result res;
	struct rum_pgembed *pg = NULL;
	struct rum_domain *dom = NULL;
	char bindir[1024], key_file[4096], path[4096], size[32], when[32];
	char *url = NULL;
	FILE *say = strcmp(output, "-") == 0 ? stderr : stdout;
	struct stat st;
	int rc;

	if (strcmp(output, "-") != 0 && stat(output, &st) == 0 && S_ISDIR(st.st_mode)) {
		time_t now = time(NULL);
		struct tm tm;

		gmtime_r(&now, &tm);
		strftime(when, sizeof(when), "%Y%m%dT%H%M%SZ", &tm);
		snprintf(path, sizeof(path), "%s/rumd-backup-%s.tar.gz", output, when);
		o.output = path;
	}
	rc = rum_pgembed_bindir(bindir, sizeof(bindir), cfg->pg_bindir, "pg_dump");
	o.bindir = bindir;
	if (rc == 0)
		rc = rum_cli_backup_database(cfg, false, &url, &pg);
	if (rc == 0)
		rc = rum_cli_backup_domain(cfg, url, key_file, sizeof(key_file), &dom);
	if (rc == 0)
		rc = rum_backup_create(dom, &o, &res);
	if (rc == 0) {
		rum_cli_backup_size(size, sizeof(size), res.bytes);
		fprintf(say,
			"backup of database '%s' (%s, PostgreSQL %s, schema version %d, %lld "
			"reports) written to %s: %s in %.1f s%s\n",
			res.m.database, res.m.embedded ? "embedded cluster" : "database_url",
			res.m.server_version, res.m.schema_version, (long long)res.m.reports,
			strcmp(res.path, "-") == 0 ? "standard output" : res.path, size,
			res.seconds, strcmp(res.path, "-") == 0 ? "" : ", mode 0600");
		if (res.m.secret_key_included)
			fprintf(say,
				"the secret key file %s is included: keep the backup as "
				"private as the key\n",
				res.key_file);
		else
			fprintf(say,
				"no secret key file at %s (made with the first pull "
				"target's credential): none included\n",
				res.key_file);
	}
	rum_domain_close(dom);
	rum_pgembed_stop(pg);
	free(url);
	return rc;
}

/* Where the dump is unpacked while it is checked: data_dir when it exists,
 * else the temporary directory. */
static void rum_cli_restore_workdir(const struct rum_config *cfg, char *out, size_t size)
{
	const char *tmp = getenv("TMPDIR");
	struct stat st;

	if (cfg->data_dir[0] && stat(cfg->data_dir, &st) == 0 && S_ISDIR(st.st_mode) &&
	    access(cfg->data_dir, W_OK) == 0)
		snprintf(out, size, "%s", cfg->data_dir);
	else
		snprintf(out, size, "%s", tmp && tmp[0] ? tmp : "/tmp");
}

static int rum_cli_restore(const struct rum_config *cfg, const char *file, bool force)
{
	struct rum_backup *b = NULL;
	struct rum_restore_result res;
	struct rum_pgembed *pg = NULL;
	struct rum_domain *dom = NULL;
	const struct rum_backup_manifest *m;
	char bindir[1024], key_file[4096], work[4096];
	char *url = NULL;
	int applied = 0, rc;

	rc = rum_pgembed_bindir(bindir, sizeof(bindir), cfg->pg_bindir, "pg_restore");
	rum_cli_restore_workdir(cfg, work, sizeof(work));
	if (rc == 0)
		rc = rum_backup_open(&b, file, bindir, work);
	if (rc != 0)
		goto out;
	m = rum_backup_manifest(b);
	printf("backup of database '%s' made %s by rumd %s (schema version %d, %lld reports, "
	       "secret key %sincluded)\n",
	       m->database, m->created_at, m->rumd_version, m->schema_version,
	       (long long)m->reports, m->secret_key_included ? "" : "not ");
	fflush(stdout);
	rc = rum_cli_backup_database(cfg, true, &url, &pg);
	if (rc == 0)
		rc = rum_cli_backup_domain(cfg, url, key_file, sizeof(key_file), &dom);
	if (rc == 0)
		rc = rum_backup_restore(dom, b, force, &res);
	if (rc != 0)
		goto out;
	printf("restored into database '%s': %lld reports\n", res.database, (long long)res.reports);
	if (res.key_moved[0])
		printf("the key that was at %s is kept as %s\n", res.key_file, res.key_moved);
	if (res.key_written)
		printf("secret key written to %s (mode 0600)\n", res.key_file);
	else if (m->secret_key_included)
		printf("secret key at %s is already the backup's\n", res.key_file);
	else
		printf("the backup holds no secret key: copy the key file of the old "
		       "installation to %s if its pull targets have credentials\n",
		       res.key_file);
	rc = rum_domain_migrate(dom, 0, &applied, NULL);
	if (rc == 0)
		printf("schema at version %d (%d migration%s applied)\n",
		       rum_domain_schema_version(), applied, applied == 1 ? "" : "s");
out:
	rum_backup_close(b);
	rum_domain_close(dom);
	rum_pgembed_stop(pg);
	free(url);
	return rc;
}

int rum_cli_backup(const struct rum_config *cfg, const char *const *words, int nwords,
		   const char *(*opt)(const void *arg, const char *name), const void *arg)
{
	if (strcmp(words[0], "backup") == 0) {
		const char *output = opt(arg, "output");

		if (nwords != 1 || !output || !output[0])
			return rum_err_set(RUM_EINVAL, "usage: rumd backup -o FILE|DIR|-");
		return rum_cli_backup_write(cfg, output);
	}
	if (nwords != 2)
		return rum_err_set(RUM_EINVAL, "usage: rumd restore FILE|- [--force]");
	return rum_cli_restore(cfg, words[1], opt(arg, "force") != NULL);
}
