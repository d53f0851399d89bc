#include "domain/backup.h"

#include "db/db.h"
#include "domain/internal.h"
#include "domain/targets.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/proc.h"
#include "lib/tarball.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RUM_BACKUP_FORMAT "rumd-backup"
#define RUM_BACKUP_FORMAT_VERSION 1
#define RUM_BACKUP_MANIFEST "manifest.json"
#define RUM_BACKUP_KEY "secret.key"
#define RUM_BACKUP_DUMP "rumd.dump"
/* Entries other than the dump are small; the dump is streamed to disk. */
#define RUM_BACKUP_SMALL_MAX (64u << 10)

struct rum_backup {
	char dir[4096]; /* private work directory */
	char dump[4200];
	char bindir[1024];
	struct rum_backup_manifest m;
	char key[256]; /* secret.key as stored, when included */
	size_t key_len;
	/* reading */
	int dump_fd;
	char *small;
	size_t small_len;
	const char *entry; /* the entry being read */
	bool seen_manifest, seen_key, seen_dump;
};

static double rum_backup_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The last non-empty line a program wrote to its log, for an error message. */
static void rum_backup_last_line(const char *log, char *out, size_t size)
{
	char buf[4096];
	ssize_t n = 0;
	int fd = open(log, O_RDONLY | O_CLOEXEC);

	out[0] = '\0';
	if (fd >= 0) {
		off_t end = lseek(fd, 0, SEEK_END);

		if (end > (off_t)sizeof(buf) - 1)
			lseek(fd, end - (off_t)sizeof(buf) + 1, SEEK_SET);
		else
			lseek(fd, 0, SEEK_SET);
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
		n--;
	if (n <= 0)
		return;
	buf[n] = '\0';
	snprintf(out, size, "%.*s", (int)size - 1,
		 strrchr(buf, '\n') ? strrchr(buf, '\n') + 1 : buf);
}

/* Runs a PostgreSQL program of bindir with the database's settings in its
 * environment; a failure names the program and its last words. */
static int rum_backup_tool(const char *url, const char *bindir, const char *const argv[],
			   const char *log)
{
	char prog[4200], last[512];
	const char *args[16];
	char **env = NULL;
	int rc = url ? rum_db_url_env(&env, url) : 0, n = 0;

	if (rc != 0)
		return rc;
	snprintf(prog, sizeof(prog), "%s/%s", bindir, argv[0]);
	args[n++] = prog;
	for (int i = 1; argv[i] && n < 15; i++)
		args[n++] = argv[i];
	args[n] = NULL;
	rc = rum_proc_run_env(args, (const char *const *)env, (uid_t)-1, (gid_t)-1, log);
	rum_db_url_env_free(env);
	if (rc != 0) {
		rum_backup_last_line(log, last, sizeof(last));
		rc = rum_err_set(RUM_EIO, "%s failed: %s", argv[0], last[0] ? last : rum_err_msg());
	}
	return rc;
}

/* A private directory (0700) under parent for the dump and the programs'
 * logs. */
static int rum_backup_workdir(char *out, size_t size, const char *parent)
{
	if (snprintf(out, size, "%s/.rumd-backup-XXXXXX", parent) >= (int)size)
		return rum_err_set(RUM_EINVAL, "directory name too long: %s", parent);
	if (!mkdtemp(out))
		return rum_err_set(RUM_EIO, "cannot make a work directory in %s: %s", parent,
				   strerror(errno));
	return 0;
}

static void rum_backup_workdir_remove(const char *dir)
{
	static const char *const names[] = {RUM_BACKUP_DUMP, "pg_dump.log", "pg_restore.log",
					    "toc.txt", NULL};
	char path[4300];

	if (!dir[0])
		return;
	for (const char *const *n = names; *n; n++) {
		snprintf(path, sizeof(path), "%s/%s", dir, *n);
		unlink(path);
	}
	rmdir(dir);
}

/* --- the key file --- */

/* Reads a key file as stored (at most size-1 bytes), checked to be a key.
 * *len 0 when there is none. */
static int rum_backup_key_read(const char *path, char *out, size_t size, size_t *len)
{
	uint8_t key[RUM_SECRET_KEY_LEN];
	ssize_t n;
	int fd, rc;

	*len = 0;
	if (!path || !path[0])
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0)
		return rum_err_set(RUM_EIO, "secret_key_file %s: %s", path, strerror(errno));
	n = read(fd, out, size - 1);
	close(fd);
	if (n < 0)
		return rum_err_set(RUM_EIO, "secret_key_file %s: %s", path, strerror(errno));
	rc = rum_targets_key_load(key, path, false);
	rum_crypto_wipe(key, sizeof(key));
	if (rc != 0)
		return rc;
	*len = (size_t)n;
	return 0;
}

/* True when two stored keys hold the same key (line ends aside). */
static bool rum_backup_key_same(const char *a, size_t alen, const char *b, size_t blen)
{
	while (alen > 0 && (a[alen - 1] == '\n' || a[alen - 1] == '\r'))
		alen--;
	while (blen > 0 && (b[blen - 1] == '\n' || b[blen - 1] == '\r'))
		blen--;
	return alen == blen && rum_crypto_equal(a, b, alen);
}

/* Writes data to path whole or not at all: a temporary file (0600) in the
 * same directory, synced, then renamed over path. */
static int rum_backup_write_file(const char *path, const void *data, size_t len)
{
	char tmp[4200];
	int fd, rc = 0;

	snprintf(tmp, sizeof(tmp), "%s.restore-XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return rum_err_set(RUM_EIO, "%s: %s", tmp, strerror(errno));
	if (fchmod(fd, 0600) != 0 || write(fd, data, len) != (ssize_t)len || fsync(fd) != 0)
		rc = rum_err_set(RUM_EIO, "%s: %s", tmp, strerror(errno));
	if (close(fd) != 0 && rc == 0)
		rc = rum_err_set(RUM_EIO, "%s: %s", tmp, strerror(errno));
	if (rc == 0 && rename(tmp, path) != 0)
		rc = rum_err_set(RUM_EIO, "%s: %s", path, strerror(errno));
	if (rc != 0)
		unlink(tmp);
	return rc;
}

/* --- backup --- */

static char *rum_backup_manifest_json(const struct rum_backup_manifest *m, size_t *len)
{
	json_t *j = json_pack("{s:s, s:i, s:s, s:i, s:s, s:s, s:s, s:b, s:b, s:I, s:s, s:I}",
			      "format", RUM_BACKUP_FORMAT, "format_version",
			      RUM_BACKUP_FORMAT_VERSION, "rumd_version", m->rumd_version,
			      "schema_version", m->schema_version, "created_at", m->created_at,
			      "database", m->database, "postgresql_version", m->server_version,
			      "embedded", m->embedded, "secret_key_included",
			      m->secret_key_included, "reports", (json_int_t)m->reports, "dump",
			      RUM_BACKUP_DUMP, "dump_bytes", (json_int_t)m->dump_bytes);
	char *text;

	if (!j)
		abort();
	text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!text)
		abort();
	*len = strlen(text);
	return text;
}

/* The output's temporary file beside it (created 0600), or standard output. */
static int rum_backup_output_open(const char *output, char *tmp, size_t size, int *fd)
{
	const char *slash = strrchr(output, '/');
	int n;

	if (strcmp(output, "-") == 0) {
		tmp[0] = '\0';
		*fd = STDOUT_FILENO;
		return 0;
	}
	if (slash)
		n = snprintf(tmp, size, "%.*s/.%s.tmp-XXXXXX", (int)(slash - output), output,
			     slash + 1);
	else
		n = snprintf(tmp, size, ".%s.tmp-XXXXXX", output);
	if (n < 0 || (size_t)n >= size)
		return rum_err_set(RUM_EINVAL, "output name too long");
	*fd = mkostemp(tmp, O_CLOEXEC);
	if (*fd < 0)
		return rum_err_set(RUM_EIO, "cannot write beside %s: %s", output, strerror(errno));
	if (fchmod(*fd, 0600) != 0) {
		int rc = rum_err_set(RUM_EIO, "%s: %s", tmp, strerror(errno));

		close(*fd);
		unlink(tmp);
		return rc;
	}
	return 0;
}

/* The directory that holds output, for the work directory. */
static void rum_backup_output_dir(const char *output, const char *data_dir, char *out, size_t size)
{
	const char *slash = strrchr(output, '/');
	struct stat st;

	if (strcmp(output, "-") == 0) {
		const char *tmp = getenv("TMPDIR");

		if (data_dir[0] && stat(data_dir, &st) == 0 && S_ISDIR(st.st_mode) &&
		    access(data_dir, W_OK) == 0)
			snprintf(out, size, "%s", data_dir);
		else
			snprintf(out, size, "%s", tmp && tmp[0] ? tmp : "/tmp");
	} else if (slash == output) {
		snprintf(out, size, "/");
	} else if (slash) {
		snprintf(out, size, "%.*s", (int)(slash - output), output);
	} else {
		snprintf(out, size, ".");
	}
}

/* The archive: manifest, key, dump, in that order (a reader learns what it
 * holds before the large part). */
static int rum_backup_archive(int fd, const char *dir, const struct rum_backup_manifest *m,
			      const char *key, size_t key_len)
{
	struct rum_tarball *tb = NULL;
	char *manifest, dump[4200];
	size_t mlen;
	int dfd, rc;

	manifest = rum_backup_manifest_json(m, &mlen);
	snprintf(dump, sizeof(dump), "%s/%s", dir, RUM_BACKUP_DUMP);
	dfd = open(dump, O_RDONLY | O_CLOEXEC);
	if (dfd < 0) {
		rc = rum_err_set(RUM_EIO, "%s: %s", dump, strerror(errno));
		goto out;
	}
	/* The dump is compressed already: gzip only frames and check-sums it. */
	rc = rum_tarball_new(&tb, fd, 0, time(NULL), dir);
	if (rc == 0)
		rc = rum_tarball_entry_begin(tb, RUM_BACKUP_MANIFEST);
	if (rc == 0)
		rc = rum_tarball_entry_write(tb, manifest, mlen);
	if (rc == 0)
		rc = rum_tarball_entry_end(tb);
	if (rc == 0 && key_len > 0) {
		rc = rum_tarball_entry_begin(tb, RUM_BACKUP_KEY);
		if (rc == 0)
			rc = rum_tarball_entry_write(tb, key, key_len);
		if (rc == 0)
			rc = rum_tarball_entry_end(tb);
	}
	if (rc == 0)
		rc = rum_tarball_add_fd(tb, RUM_BACKUP_DUMP, dfd);
	if (rc == 0)
		rc = rum_tarball_finish(tb);
	close(dfd);
out:
	rum_tarball_free(tb);
	free(manifest);
	return rc;
}

static void rum_backup_utc_now(char *out, size_t size)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int rum_backup_create(struct rum_domain *dom, const struct rum_backup_options *o,
		      struct rum_backup_result *res)
{
	struct rum_backup_manifest *m = &res->m;
	struct rum_db_inspection before, after;
	char dir[4096] = "", parent[4096], tmp[4200] = "", dump[4200], log[4200];
	char key[256];
	size_t key_len = 0;
	double t0 = rum_backup_now();
	struct stat st;
	int fd = -1, rc;

	memset(res, 0, sizeof(*res));
	snprintf(res->path, sizeof(res->path), "%s", o->output);
	snprintf(res->key_file, sizeof(res->key_file), "%s", dom->key_file);
	rc = rum_db_inspect(dom->url, dom->timeout_ms, &before);
	if (rc == 0 && before.schema_version == 0)
		rc = rum_err_set(RUM_ECONFLICT,
				 "database '%s' holds no rumd schema: nothing to back up",
				 before.database);
	if (rc == 0)
		rc = rum_backup_key_read(dom->key_file, key, sizeof(key), &key_len);
	if (rc != 0)
		goto out;
	rum_backup_output_dir(o->output, dom->data_dir, parent, sizeof(parent));
	rc = rum_backup_workdir(dir, sizeof(dir), parent);
	if (rc != 0)
		goto out;
	snprintf(dump, sizeof(dump), "%s/%s", dir, RUM_BACKUP_DUMP);
	snprintf(log, sizeof(log), "%s/pg_dump.log", dir);
	{
		/* One snapshot of the whole database; -w: never ask for a
		 * password on a terminal. */
		const char *argv[] = {"pg_dump", "-Fc", "-w", "--lock-wait-timeout=60000",
				      "-f",      dump,  NULL};

		rc = rum_backup_tool(dom->url, o->bindir, argv, log);
	}
	/* A migration that ran meanwhile would make the manifest lie. */
	if (rc == 0)
		rc = rum_db_inspect(dom->url, dom->timeout_ms, &after);
	if (rc == 0 && after.schema_version != before.schema_version)
		rc = rum_err_set(RUM_ECONFLICT,
				 "the schema changed during the backup (version %d, now %d): "
				 "run it again",
				 before.schema_version, after.schema_version);
	if (rc == 0 && stat(dump, &st) != 0)
		rc = rum_err_set(RUM_EIO, "pg_dump left no dump: %s", strerror(errno));
	if (rc != 0)
		goto out;
	snprintf(m->rumd_version, sizeof(m->rumd_version), "%s", RUM_VERSION);
	m->schema_version = before.schema_version;
	rum_backup_utc_now(m->created_at, sizeof(m->created_at));
	snprintf(m->database, sizeof(m->database), "%s", before.database);
	snprintf(m->server_version, sizeof(m->server_version), "%s", before.server_version);
	m->embedded = o->embedded;
	m->secret_key_included = key_len > 0;
	m->reports = before.reports; /* at least this many: the snapshot came later */
	m->dump_bytes = (int64_t)st.st_size;
	rc = rum_backup_output_open(o->output, tmp, sizeof(tmp), &fd);
	if (rc == 0)
		rc = rum_backup_archive(fd, dir, m, key, key_len);
	if (rc == 0 && fd != STDOUT_FILENO && fsync(fd) != 0)
		rc = rum_err_set(RUM_EIO, "%s: %s", tmp, strerror(errno));
	if (rc == 0 && fstat(fd, &st) == 0)
		res->bytes = (int64_t)st.st_size;
	if (fd >= 0 && fd != STDOUT_FILENO && close(fd) != 0 && rc == 0)
		rc = rum_err_set(RUM_EIO, "%s: %s", tmp, strerror(errno));
	fd = -1;
	if (rc == 0 && tmp[0] && rename(tmp, o->output) != 0)
		rc = rum_err_set(RUM_EIO, "%s: %s", o->output, strerror(errno));
	if (rc == 0 && tmp[0]) {
		int dfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (dfd >= 0) {
			fsync(dfd); /* the rename itself survives a crash */
			close(dfd);
		}
	}
	res->seconds = rum_backup_now() - t0;
out:
	if (rc != 0 && tmp[0])
		unlink(tmp);
	rum_backup_workdir_remove(dir);
	rum_crypto_wipe(key, sizeof(key));
	return rc;
}

/* --- reading a backup --- */

static int rum_backup_entry_begin(void *ctx, const char *name, size_t size)
{
	struct rum_backup *b = ctx;
	bool *seen = strcmp(name, RUM_BACKUP_MANIFEST) == 0 ? &b->seen_manifest
		     : strcmp(name, RUM_BACKUP_KEY) == 0    ? &b->seen_key
		     : strcmp(name, RUM_BACKUP_DUMP) == 0   ? &b->seen_dump
							    : NULL;

	if (!seen)
		return rum_err_set(RUM_EINVAL, "not a rumd backup: it holds '%s'", name);
	if (*seen)
		return rum_err_set(RUM_EINVAL, "not a rumd backup: '%s' twice", name);
	*seen = true;
	b->entry = seen == &b->seen_manifest ? RUM_BACKUP_MANIFEST
		   : seen == &b->seen_key    ? RUM_BACKUP_KEY
					     : RUM_BACKUP_DUMP;
	b->small_len = 0;
	if (seen == &b->seen_dump) {
		if (!b->seen_manifest)
			return rum_err_set(RUM_EINVAL,
					   "not a rumd backup: the dump comes before any manifest");
		b->dump_fd = open(b->dump, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (b->dump_fd < 0)
			return rum_err_set(RUM_EIO, "%s: %s", b->dump, strerror(errno));
		return 0;
	}
	if (size > RUM_BACKUP_SMALL_MAX)
		return rum_err_set(RUM_EINVAL, "not a rumd backup: '%s' is %zu bytes", name, size);
	free(b->small);
	b->small = malloc(size + 1);
	if (!b->small)
		abort();
	return 0;
}

static int rum_backup_entry_data(void *ctx, const void *buf, size_t len)
{
	struct rum_backup *b = ctx;
	const char *p = buf;

	if (b->dump_fd < 0) {
		memcpy(b->small + b->small_len, buf, len); /* within the announced size */
		b->small_len += len;
		return 0;
	}
	while (len > 0) {
		ssize_t n = write(b->dump_fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return rum_err_set(RUM_EIO, "%s: %s", b->dump, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int rum_backup_manifest_parse(struct rum_backup *b)
{
	struct rum_backup_manifest *m = &b->m;
	const char *format = NULL, *version = "", *created = "", *database = "", *pgv = "";
	json_int_t fv = 0, schema = 0, reports = 0, dump_bytes = -1;
	int key = 0, embedded = 0;
	json_error_t err;
	json_t *j = json_loadb(b->small, b->small_len, 0, &err);
	int rc = 0;

	if (!j ||
	    json_unpack_ex(j, &err, 0, "{s:s, s:I, s:s, s:I, s:s, s:s, s?s, s?b, s:b, s?I, s:I}",
			   "format", &format, "format_version", &fv, "rumd_version", &version,
			   "schema_version", &schema, "created_at", &created, "database", &database,
			   "postgresql_version", &pgv, "embedded", &embedded, "secret_key_included",
			   &key, "reports", &reports, "dump_bytes", &dump_bytes) != 0) {
		rc = rum_err_set(RUM_EINVAL, "not a rumd backup: manifest.json: %s", err.text);
		goto out;
	}
	if (strcmp(format, RUM_BACKUP_FORMAT) != 0) {
		rc = rum_err_set(RUM_EINVAL, "not a rumd backup: manifest format '%s'", format);
		goto out;
	}
	if (fv != RUM_BACKUP_FORMAT_VERSION) {
		rc = rum_err_set(RUM_EINVAL,
				 "backup format version %lld: this rumd reads version %d only",
				 (long long)fv, RUM_BACKUP_FORMAT_VERSION);
		goto out;
	}
	if (schema < 1 || schema > rum_domain_schema_version()) {
		rc = rum_err_set(RUM_EINVAL,
				 "the backup is of schema version %lld, from rumd %s; this rumd "
				 "knows versions up to %d: restore it with a newer rumd",
				 (long long)schema, version, rum_domain_schema_version());
		goto out;
	}
	snprintf(m->rumd_version, sizeof(m->rumd_version), "%s", version);
	m->schema_version = (int)schema;
	snprintf(m->created_at, sizeof(m->created_at), "%s", created);
	snprintf(m->database, sizeof(m->database), "%s", database);
	snprintf(m->server_version, sizeof(m->server_version), "%s", pgv);
	m->embedded = embedded != 0;
	m->secret_key_included = key != 0;
	m->reports = (int64_t)reports;
	m->dump_bytes = (int64_t)dump_bytes;
out:
	json_decref(j);
	return rc;
}

static int rum_backup_entry_end(void *ctx)
{
	struct rum_backup *b = ctx;
	int rc = 0;

	if (b->dump_fd >= 0) {
		if (fsync(b->dump_fd) != 0)
			rc = rum_err_set(RUM_EIO, "%s: %s", b->dump, strerror(errno));
		close(b->dump_fd);
		b->dump_fd = -1;
		return rc;
	}
	b->small[b->small_len] = '\0';
	if (strcmp(b->entry, RUM_BACKUP_MANIFEST) == 0)
		return rum_backup_manifest_parse(b);
	if (b->small_len >= sizeof(b->key))
		return rum_err_set(RUM_EINVAL, "secret.key in the backup is not a key");
	memcpy(b->key, b->small, b->small_len);
	b->key_len = b->small_len;
	rum_crypto_wipe(b->small, b->small_len);
	return 0;
}

/* The key in the backup must read as a key before anything is restored. */
static int rum_backup_key_check(struct rum_backup *b)
{
	char path[4300];
	uint8_t key[RUM_SECRET_KEY_LEN];
	int rc;

	snprintf(path, sizeof(path), "%s/key-check", b->dir);
	rc = rum_backup_write_file(path, b->key, b->key_len);
	if (rc == 0)
		rc = rum_targets_key_load(key, path, false);
	unlink(path);
	rum_crypto_wipe(key, sizeof(key));
	if (rc != 0)
		rc = rum_err_set(RUM_EINVAL,
				 "secret.key in the backup is not a key (64 hex digits)");
	return rc;
}

int rum_backup_open(struct rum_backup **out, const char *path, const char *bindir,
		    const char *work_dir)
{
	struct rum_backup *b = calloc(1, sizeof(*b));
	/* A backup holds three entries; the dump may be as large as the disk. */
	struct rum_tarball_budget budget = {3, (size_t)1 << 50, (size_t)1 << 50, 0, 0};
	struct rum_tarball_sink sink = {rum_backup_entry_begin, rum_backup_entry_data,
					rum_backup_entry_end, b};
	struct stat st;
	char what[4200], log[4300], toc[4300];
	int fd, rc;

	if (!b)
		abort();
	*out = NULL;
	b->dump_fd = -1;
	fd = strcmp(path, "-") == 0 ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = rum_err_set(errno == ENOENT ? RUM_ENOTFOUND : RUM_EIO, "%s: %s", path,
				 strerror(errno));
		goto fail;
	}
	if (fd != STDIN_FILENO && (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))) {
		rc = rum_err_set(RUM_EINVAL, "%s is not a regular file", path);
		close(fd);
		goto fail;
	}
	rc = rum_backup_workdir(b->dir, sizeof(b->dir), work_dir);
	if (rc != 0) {
		if (fd != STDIN_FILENO)
			close(fd);
		goto fail;
	}
	snprintf(b->dump, sizeof(b->dump), "%s/%s", b->dir, RUM_BACKUP_DUMP);
	snprintf(b->bindir, sizeof(b->bindir), "%s", bindir);
	snprintf(what, sizeof(what), "%s", strcmp(path, "-") == 0 ? "standard input" : path);
	rc = rum_tarball_read_fd(fd, what, &budget, &sink);
	if (fd != STDIN_FILENO)
		close(fd);
	if (b->dump_fd >= 0) {
		close(b->dump_fd);
		b->dump_fd = -1;
	}
	if (rc == RUM_EINVAL && strstr(rum_err_msg(), "runcated"))
		rc = rum_err_set(RUM_EINVAL, "the backup is truncated: %s", rum_err_msg());
	else if (rc == RUM_EINVAL && !b->seen_manifest && !strstr(rum_err_msg(), "not a rumd"))
		rc = rum_err_set(RUM_EINVAL, "not a rumd backup: %s", rum_err_msg());
	else if (rc == RUM_EINVAL && !strstr(rum_err_msg(), "not a rumd"))
		rc = rum_err_set(RUM_EINVAL, "the backup is damaged: %s", rum_err_msg());
	if (rc == 0 && (!b->seen_manifest || !b->seen_dump))
		rc = rum_err_set(RUM_EINVAL, "%s: not a rumd backup, or truncated: no %s", what,
				 b->seen_manifest ? RUM_BACKUP_DUMP : RUM_BACKUP_MANIFEST);
	if (rc == 0 && b->m.secret_key_included != b->seen_key)
		rc = rum_err_set(RUM_EINVAL,
				 "%s: the manifest says the key is %sincluded, but it "
				 "is%s there",
				 what, b->m.secret_key_included ? "" : "not ",
				 b->seen_key ? "" : " not");
	if (rc == 0 && b->seen_key)
		rc = rum_backup_key_check(b);
	if (rc == 0 && (stat(b->dump, &st) != 0 || (int64_t)st.st_size != b->m.dump_bytes))
		rc = rum_err_set(RUM_EINVAL, "%s: the dump is %lld bytes, the manifest says %lld",
				 what, (long long)st.st_size, (long long)b->m.dump_bytes);
	if (rc == 0) {
		/* pg_restore reads the dump's table of contents: a dump it
		 * cannot read is refused before any database is touched. */
		const char *argv[] = {"pg_restore", "-l", "-f", toc, b->dump, NULL};

		snprintf(log, sizeof(log), "%s/pg_restore.log", b->dir);
		snprintf(toc, sizeof(toc), "%s/toc.txt", b->dir);
		rc = rum_backup_tool(NULL, bindir, argv, log);
		if (rc != 0)
			rc = rum_err_set(RUM_EINVAL, "%s: the dump does not read: %s", what,
					 rum_err_msg());
	}
	if (rc != 0)
		goto fail;
	*out = b;
	return 0;
fail:
	rum_backup_close(b);
	return rc;
}

const struct rum_backup_manifest *rum_backup_manifest(const struct rum_backup *b)
{
	return &b->m;
}

/* --- restore --- */

/* Refusals that leave everything as it is; *key_action: 0 nothing to do,
 * 1 write the key, 2 move a different key aside and write it. */
static int rum_backup_restore_check(struct rum_domain *dom, struct rum_backup *b, bool force,
				    const struct rum_db_inspection *in, int *key_action)
{
	char old[256];
	size_t old_len = 0;
	int rc;

	*key_action = 0;
	if (in->other_sessions > 0)
		return rum_err_set(RUM_ECONFLICT,
				   "database '%s' is in use (%lld other session%s: rumd serve?): "
				   "stop it before restoring",
				   in->database, (long long)in->other_sessions,
				   in->other_sessions == 1 ? "" : "s");
	if (in->tables > 0 && !force)
		return rum_err_set(RUM_ECONFLICT,
				   "database '%s' already holds %s (%lld tables%s%d, %lld reports): "
				   "restore into a new data_dir or database, or give --force to "
				   "replace it",
				   in->database, in->schema_version ? "rumd data" : "data",
				   (long long)in->tables,
				   in->schema_version ? ", schema version " : "",
				   in->schema_version, (long long)in->reports);
	if (in->tables > 0 && in->schema_version > b->m.schema_version)
		return rum_err_set(RUM_ECONFLICT,
				   "database '%s' is at schema version %d, newer than the "
				   "backup's %d: restore into a new database",
				   in->database, in->schema_version, b->m.schema_version);
	if (!b->seen_key)
		return 0;
	rc = rum_backup_key_read(dom->key_file, old, sizeof(old), &old_len);
	if (rc != 0 && !force)
		return rum_err_set(rc, "%s; give --force to replace it with the backup's key",
				   rum_err_msg());
	if (rc == 0 && old_len > 0 && rum_backup_key_same(old, old_len, b->key, b->key_len)) {
		rum_crypto_wipe(old, sizeof(old));
		return 0;
	}
	rum_crypto_wipe(old, sizeof(old));
	if ((rc != 0 || old_len > 0) && !force)
		return rum_err_set(RUM_ECONFLICT,
				   "secret_key_file %s holds a different key: credentials sealed "
				   "under it would be lost; give --force to replace it (it is kept "
				   "beside, as .replaced-<time>)",
				   dom->key_file);
	*key_action = rc != 0 || old_len > 0 ? 2 : 1;
	return 0;
}

static int rum_backup_key_put(struct rum_domain *dom, struct rum_backup *b, int action,
			      struct rum_restore_result *res)
{
	if (action == 0)
		return 0;
	if (action == 2) {
		char stamp[32];

		rum_backup_utc_now(stamp, sizeof(stamp));
		snprintf(res->key_moved, sizeof(res->key_moved), "%s.replaced-%s", dom->key_file,
			 stamp);
		if (rename(dom->key_file, res->key_moved) != 0)
			return rum_err_set(RUM_EIO, "cannot move %s aside: %s", dom->key_file,
					   strerror(errno));
	}
	res->key_written = true;
	return rum_backup_write_file(dom->key_file, b->key, b->key_len);
}

/* A libpq connection string naming only the database: the rest comes from
 * the environment. */
static void rum_backup_dbname_arg(char *out, size_t size, const char *name)
{
	size_t n = (size_t)snprintf(out, size, "dbname='");

	for (const char *s = name; *s && n + 4 < size; s++) {
		if (*s == '\'' || *s == '\\')
			out[n++] = '\\';
		out[n++] = *s;
	}
	snprintf(out + n, size - n, "'");
}

int rum_backup_restore(struct rum_domain *dom, struct rum_backup *b, bool force,
		       struct rum_restore_result *res)
{
	struct rum_db_inspection in;
	char log[4300], dbarg[400];
	int key_action = 0, rc;

	memset(res, 0, sizeof(*res));
	snprintf(res->key_file, sizeof(res->key_file), "%s", dom->key_file);
	rc = rum_db_inspect(dom->url, dom->timeout_ms, &in);
	if (rc == 0)
		rc = rum_backup_restore_check(dom, b, force, &in, &key_action);
	if (rc != 0)
		return rc;
	snprintf(res->database, sizeof(res->database), "%s", in.database);
	rum_backup_dbname_arg(dbarg, sizeof(dbarg), in.database);
	snprintf(log, sizeof(log), "%s/pg_restore.log", b->dir);
	{
		/* One transaction: any error leaves the database as it was.
		 * Owners and grants of the source are not carried over: the
		 * restoring user owns what it restores. With --force over
		 * rumd data, the backup's objects replace theirs (--clean). */
		const char *argv[12] = {"pg_restore",
					"--single-transaction",
					"--exit-on-error",
					"--no-owner",
					"--no-privileges",
					"-w",
					"-d",
					dbarg};
		int n = 8;

		if (in.tables > 0) {
			argv[n++] = "--clean";
			argv[n++] = "--if-exists";
		}
		argv[n++] = b->dump;
		argv[n] = NULL;
		rc = rum_backup_tool(dom->url, b->bindir, argv, log);
	}
	if (rc != 0)
		return rc;
	rc = rum_backup_key_put(dom, b, key_action, res);
	if (rc == 0 && rum_db_inspect(dom->url, dom->timeout_ms, &in) == 0)
		res->reports = in.reports;
	return rc;
}

void rum_backup_close(struct rum_backup *b)
{
	if (!b)
		return;
	if (b->dump_fd >= 0)
		close(b->dump_fd);
	rum_backup_workdir_remove(b->dir);
	rum_crypto_wipe(b->key, sizeof(b->key));
	free(b->small);
	free(b);
}
