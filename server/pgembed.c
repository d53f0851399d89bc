#include "server/pgembed.h"

#include "domain/domain.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/proc.h"

#include <dirent.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct rum_pgembed {
	char bindir[512];
	char pgdata[1024];
	char logfile[1024];
	uid_t uid;
	gid_t gid;
	bool started; /* by this process: stop it on the way out */
};

/* The newest /usr/lib/postgresql/<N>/bin that holds program. */
static int rum_pgembed_find_bindir(char *out, size_t len, const char *program)
{
	DIR *d = opendir("/usr/lib/postgresql");
	struct dirent *e;
	long best = -1;

	if (!d)
		return rum_err_set(RUM_ENOTFOUND,
				   "no PostgreSQL server found in "
				   "/usr/lib/postgresql: install postgresql-15 or set pg_bindir");
	while ((e = readdir(d)) != NULL) {
		char path[600];
		char *end;
		long v = strtol(e->d_name, &end, 10);

		if (*end != '\0' || v <= best)
			continue;
		snprintf(path, sizeof(path), "/usr/lib/postgresql/%s/bin/%s", e->d_name, program);
		if (access(path, X_OK) == 0) {
			best = v;
			snprintf(out, len, "/usr/lib/postgresql/%s/bin", e->d_name);
		}
	}
	closedir(d);
	if (best < 0)
		return rum_err_set(RUM_ENOTFOUND,
				   "no PostgreSQL programs (%s) found in /usr/lib/postgresql: "
				   "install postgresql-15 or set pg_bindir",
				   program);
	return 0;
}

int rum_pgembed_bindir(char *out, size_t len, const char *configured, const char *program)
{
	char path[1100];

	if (!configured || !configured[0])
		return rum_pgembed_find_bindir(out, len, program);
	snprintf(out, len, "%s", configured);
	snprintf(path, sizeof(path), "%s/%s", configured, program);
	if (access(path, X_OK) != 0)
		return rum_err_set(RUM_ENOTFOUND, "pg_bindir %s: no %s in it: %s", configured,
				   program, strerror(errno));
	return 0;
}

static int rum_pgembed_mkdir(const char *path, mode_t mode, uid_t uid, gid_t gid)
{
	if (mkdir(path, mode) != 0 && errno != EEXIST)
		return rum_err_set(RUM_EIO, "cannot create %s: %s", path, strerror(errno));
	if (uid != (uid_t)-1 && chown(path, uid, gid) != 0)
		return rum_err_set(RUM_EIO, "cannot hand %s to the database user: %s", path,
				   strerror(errno));
	return 0;
}

/* Appends rumd's settings to postgresql.conf once, right after initdb:
 * Unix socket only, in a private directory. */
static int rum_pgembed_configure(struct rum_pgembed *pg, const char *sockdir)
{
	char conf[1100];
	FILE *f;

	snprintf(conf, sizeof(conf), "%s/postgresql.conf", pg->pgdata);
	f = fopen(conf, "a");
	if (!f)
		return rum_err_set(RUM_EIO, "cannot write %s: %s", conf, strerror(errno));
	fprintf(f,
		"\n# Added by rumd: a private cluster reachable only through its socket.\n"
		"listen_addresses = ''\nunix_socket_directories = '%s'\n"
		"unix_socket_permissions = 0700\nport = 5432\nmax_connections = 100\n"
		"shared_buffers = 128MB\n",
		sockdir);
	fclose(f);
	return 0;
}

static char *rum_pgembed_url(const char *sockdir, const char *dbname)
{
	size_t n = strlen(sockdir) * 2 + 128;
	char *url = malloc(n), *o;

	if (!url)
		abort();
	/* libpq keyword form; the value is quoted and escaped. */
	o = url + snprintf(url, n, "host='");
	for (const char *s = sockdir; *s; s++) {
		if (*s == '\'' || *s == '\\')
			*o++ = '\\';
		*o++ = *s;
	}
	snprintf(o, n - (size_t)(o - url), "' port=5432 user=rumd dbname=%s", dbname);
	return url;
}

int rum_pgembed_start(struct rum_pgembed **out, char **url, const char *data_dir,
		      const char *bindir, int timeout_ms, bool own)
{
	struct rum_pgembed *pg = calloc(1, sizeof(*pg));
	char sockdir[1024], version_file[1100], initdb[600], pg_ctl[600];
	char *admin_url = NULL;
	struct stat st;
	int rc;

	if (!pg)
		abort();
	pg->uid = (uid_t)-1;
	pg->gid = (gid_t)-1;
	if (bindir && bindir[0])
		snprintf(pg->bindir, sizeof(pg->bindir), "%s", bindir);
	else if ((rc = rum_pgembed_find_bindir(pg->bindir, sizeof(pg->bindir), "initdb")) != 0)
		goto fail;
	if (geteuid() == 0) {
		struct passwd *pw = getpwnam("postgres");

		if (!pw)
			pw = getpwnam("nobody");
		if (!pw) {
			rc = rum_err_set(RUM_EIO,
					 "running as root and no unprivileged user "
					 "(postgres or nobody) exists to run the database");
			goto fail;
		}
		pg->uid = pw->pw_uid;
		pg->gid = pw->pw_gid;
	}
	snprintf(pg->pgdata, sizeof(pg->pgdata), "%s/pg", data_dir);
	snprintf(pg->logfile, sizeof(pg->logfile), "%s/postgresql.log", data_dir);
	snprintf(sockdir, sizeof(sockdir), "%s/pg-socket", data_dir);
	snprintf(version_file, sizeof(version_file), "%s/PG_VERSION", pg->pgdata);
	snprintf(initdb, sizeof(initdb), "%s/initdb", pg->bindir);
	snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", pg->bindir);

	if ((rc = rum_pgembed_mkdir(data_dir, 0755, (uid_t)-1, (gid_t)-1)) != 0 ||
	    (rc = rum_pgembed_mkdir(sockdir, 0700, pg->uid, pg->gid)) != 0)
		goto fail;
	/* The database user must pass through data_dir to reach its own. */
	if (pg->uid != (uid_t)-1 && stat(data_dir, &st) == 0 && !(st.st_mode & S_IXOTH) &&
	    !(st.st_gid == pg->gid && (st.st_mode & S_IXGRP))) {
		rc = rum_err_set(RUM_EIO,
				 "data_dir %s (mode %04o) cannot be entered by the database user "
				 "(uid %u): run `chmod o+x %s`, or run rumd as its own user",
				 data_dir, (unsigned)(st.st_mode & 07777), (unsigned)pg->uid,
				 data_dir);
		goto fail;
	}
	if (stat(version_file, &st) != 0) {
		const char *argv[] = {initdb,  "-D", pg->pgdata, "-U",          "rumd", "-A",
				      "trust", "-E", "UTF8",     "--no-locale", NULL};

		rum_log_info("creating the embedded PostgreSQL cluster in %s", pg->pgdata);
		if ((rc = rum_pgembed_mkdir(pg->pgdata, 0700, pg->uid, pg->gid)) != 0)
			goto fail;
		rc = rum_proc_run(argv, pg->uid, pg->gid, pg->logfile);
		if (rc == 0)
			rc = rum_pgembed_configure(pg, sockdir);
		if (rc != 0) {
			rc = rum_err_set(rc, "initdb failed (%s): see %s%s", rum_err_msg(),
					 pg->logfile,
					 pg->uid != (uid_t)-1
						 ? "; the database runs unprivileged and "
						   "must be able to reach data_dir"
						 : "");
			goto fail;
		}
	}
	admin_url = rum_pgembed_url(sockdir, "postgres");
	if (rum_domain_database_ping(admin_url, timeout_ms) != 0) {
		/* No JIT: rumd's queries are short, and without it the database
		 * needs no writable-executable memory (the systemd unit's
		 * MemoryDenyWriteExecute=yes). */
		const char *argv[] = {pg_ctl, "-D",  pg->pgdata, "-l",         pg->logfile, "-w",
				      "-t",   "120", "-o",       "-c jit=off", "start",     NULL};

		rum_log_info("starting the embedded PostgreSQL cluster");
		rc = rum_proc_run(argv, pg->uid, pg->gid, pg->logfile);
		if (rc != 0) {
			rc = rum_err_set(rc, "cannot start PostgreSQL (%s): see %s", rum_err_msg(),
					 pg->logfile);
			goto fail;
		}
		pg->started = true;
	} else if (own) {
		rum_log_info("using the embedded PostgreSQL cluster already running in %s",
			     pg->pgdata);
		pg->started = true;
	}
	rc = rum_domain_database_create(admin_url, "rumd", timeout_ms);
	if (rc != 0)
		goto fail;
	free(admin_url);
	*url = rum_pgembed_url(sockdir, "rumd");
	*out = pg;
	return 0;
fail:
	free(admin_url);
	rum_pgembed_stop(pg);
	return rc;
}

void rum_pgembed_stop(struct rum_pgembed *pg)
{
	if (!pg)
		return;
	if (pg->started) {
		char pg_ctl[600];
		const char *argv[] = {pg_ctl, "-D", pg->pgdata, "-m", "fast", "-w", "stop", NULL};

		snprintf(pg_ctl, sizeof(pg_ctl), "%s/pg_ctl", pg->bindir);
		rum_log_info("stopping the embedded PostgreSQL cluster");
		if (rum_proc_run(argv, pg->uid, pg->gid, pg->logfile) != 0)
			rum_log_warn("stopping PostgreSQL: %s", rum_err_msg());
	}
	free(pg);
}
