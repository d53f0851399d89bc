#include "domain/export.h"

#include "db/db.h"
#include "db/store_export.h"
#include "domain/audit.h"
#include "domain/internal.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/metrics.h"
#include "lib/strict.h"
#include "lib/tarball.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes of reports fetched from the cursor at a time (at least one report). */
#define RUM_EXPORT_FETCH_BYTES (4u << 20)
/* The outer archive holds an already compressed file: compress it lightly. */
#define RUM_EXPORT_OUTER_LEVEL 1
/* JAR manifests: lines of at most 72 bytes, continued after a space. */
#define RUM_EXPORT_MANIFEST_LINE 72

static const char *const rum_export_months[12] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
						  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

struct rum_export {
	const struct rum_export_options *o;
	struct timespec now;
	char ts[32];
	char dir[PATH_MAX], final_path[PATH_MAX], outer_tmp[PATH_MAX];
	int outer_fd, inner_fd;
	struct rum_tarball *inner, *outer;
	struct rum_store_export_tenant tenant;
	int64_t batch_id, selected, devices, reports, device; /* device: open entry's id, 0 = none
							       */
	bool nothing;
	struct timespec last_progress;
};

void rum_export_format_ts(char *out, size_t size, const struct timespec *when)
{
	struct tm tm;
	time_t t = when->tv_sec;

	gmtime_r(&t, &tm);
	snprintf(out, size, "%02d%s%02d_%02d_%02d_%02d_%03ld", tm.tm_year % 100,
		 rum_export_months[tm.tm_mon], tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
		 when->tv_nsec / 1000000L);
}

int rum_export_write_cdata(int (*sink)(void *ctx, const void *data, size_t len), void *ctx,
			   const char *s, size_t len)
{
	static const char split[] = "]]]]><![CDATA[>"; /* for "]]>" */
	static const char cr[] = "]]>&#13;<![CDATA[";  /* for "\r" */
	size_t from = 0;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < len; i++) {
		if (s[i] == '\r') {
			rc = sink(ctx, s + from, i - from);
			if (rc == 0)
				rc = sink(ctx, cr, sizeof(cr) - 1);
			from = i + 1;
		} else if (s[i] == ']' && i + 2 < len && s[i + 1] == ']' && s[i + 2] == '>') {
			rc = sink(ctx, s + from, i - from);
			if (rc == 0)
				rc = sink(ctx, split, sizeof(split) - 1);
			i += 2;
			from = i + 1;
		}
	}
	if (rc == 0 && from < len)
		rc = sink(ctx, s + from, len - from);
	return rc;
}

static int rum_export_sink(void *ctx, const void *data, size_t len)
{
	return rum_tarball_entry_write(ctx, data, len);
}

static int rum_export_put(struct rum_export *x, const char *s)
{
	return rum_tarball_entry_write(x->inner, s, strlen(s));
}

/* Text content: & < > escaped (the JSON holds no other markup). */
static int rum_export_put_escaped(struct rum_export *x, const char *s)
{
	size_t from = 0, i;
	int rc = 0;

	for (i = 0; rc == 0 && s[i]; i++) {
		const char *rep = s[i] == '&'   ? "&amp;"
				  : s[i] == '<' ? "&lt;"
				  : s[i] == '>' ? "&gt;"
						: NULL;
		if (!rep)
			continue;
		rc = rum_tarball_entry_write(x->inner, s + from, i - from);
		if (rc == 0)
			rc = rum_export_put(x, rep);
		from = i + 1;
	}
	if (rc == 0)
		rc = rum_tarball_entry_write(x->inner, s + from, i - from);
	return rc;
}

/* smartLicenseSystemInfo's JSON for a device, as `save usage` writes it. */
static char *rum_export_system_info(const struct rum_export *x,
				    const struct rum_store_export_row *row)
{
	json_t *o = json_object(), *sudi = json_object();
	char nonce_bytes[8], nonce[17];
	char *text;

	if (!o || !sudi)
		abort();
	rum_crypto_random(nonce_bytes, sizeof(nonce_bytes));
	for (size_t i = 0; i < sizeof(nonce_bytes); i++)
		snprintf(nonce + 2 * i, 3, "%02x", (unsigned char)nonce_bytes[i]);
	json_object_set_new(sudi, "udi_pid", json_string(row->pid));
	json_object_set_new(sudi, "udi_serial_number", json_string(row->sn));
	json_object_set_new(o, "sudi", sudi);
	json_object_set_new(o, "timestamp",
			    json_integer((json_int_t)x->now.tv_sec * 1000 +
					 x->now.tv_nsec / 1000000L));
	json_object_set_new(o, "nonce", json_string(nonce));
	if (row->hostname[0])
		json_object_set_new(o, "hostname", json_string(row->hostname));
	if (row->software_tag[0])
		json_object_set_new(o, "software_tag_identifier", json_string(row->software_tag));
	text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!text)
		abort();
	return text;
}

static int rum_export_device_end(struct rum_export *x)
{
	int rc;

	if (x->device == 0)
		return 0;
	rc = rum_export_put(x, "</smartLicense>\n");
	if (rc == 0)
		rc = rum_tarball_entry_end(x->inner);
	x->device = 0;
	x->devices++;
	return rc;
}

static int rum_export_device_begin(struct rum_export *x, const struct rum_store_export_row *row)
{
	char name[128], *info;
	int rc;

	snprintf(name, sizeof(name), "dev_%" PRId64 "_%s.txt", row->device_id, x->ts);
	rc = rum_tarball_entry_begin(x->inner, name);
	if (rc != 0)
		return rc;
	x->device = row->device_id;
	info = rum_export_system_info(x, row);
	rc = rum_export_put(x, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<smartLicense>\n"
			       "<smartLicenseSystemInfo><data>");
	if (rc == 0)
		rc = rum_export_put_escaped(x, info);
	if (rc == 0)
		rc = rum_export_put(x, "</data></smartLicenseSystemInfo>\n");
	free(info);
	return rc;
}

static void rum_export_progress(struct rum_export *x, bool last)
{
	struct timespec now;

	if (!x->o->progress)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!last && (now.tv_sec - x->last_progress.tv_sec) * 1000 +
				     (now.tv_nsec - x->last_progress.tv_nsec) / 1000000 <
			     200)
		return;
	x->last_progress = now;
	fprintf(stderr, "\rexport: %" PRId64 " devices, %" PRId64 " of %" PRId64 " reports%s",
		x->devices + (x->device != 0), x->reports, x->selected, last ? "\n" : "");
	fflush(stderr);
}

static int rum_export_row(void *arg, const struct rum_store_export_row *row)
{
	struct rum_export *x = arg;
	int rc = 0;

	if (row->device_id != x->device) {
		rc = rum_export_device_end(x);
		if (rc == 0)
			rc = rum_export_device_begin(x, row);
	}
	if (rc == 0)
		rc = rum_export_put(x, "<RUMReport><![CDATA[");
	if (rc == 0)
		rc = rum_export_write_cdata(rum_export_sink, x->inner, row->report,
					    row->report_len);
	if (rc == 0)
		rc = rum_export_put(x, "]]></RUMReport>\n");
	x->reports++;
	if ((x->reports & 255) == 0)
		rum_export_progress(x, false);
	return rc;
}

/* One manifest field, wrapped as JAR manifests are (continuation lines start
 * with a space), never inside a UTF-8 sequence. */
static void rum_export_manifest_field(FILE *f, const char *key, const char *value)
{
	char line[512];
	size_t len, at = 0, limit = RUM_EXPORT_MANIFEST_LINE;

	snprintf(line, sizeof(line), "%s: ", key);
	fputs(line, f);
	len = strlen(value);
	at = 0;
	limit -= strlen(line);
	while (len - at > limit) {
		size_t cut = at + limit;

		while (cut > at + 1 && ((unsigned char)value[cut] & 0xc0) == 0x80)
			cut--;
		fwrite(value + at, 1, cut - at, f);
		fputs("\n ", f);
		at = cut;
		limit = RUM_EXPORT_MANIFEST_LINE - 1;
	}
	fputs(value + at, f);
	fputc('\n', f);
}

static int rum_export_manifest(struct rum_export *x, char **out, size_t *len)
{
	const char *va = x->tenant.virtual_account[0] ? x->tenant.virtual_account : x->o->tenant;
	char created[128], name[64];
	FILE *f;

	if (strpbrk(x->tenant.smart_account, "\r\n") || strpbrk(va, "\r\n"))
		return rum_err_set(RUM_EINVAL,
				   "tenant '%s': its smart or virtual account name "
				   "holds a line break, which a manifest cannot carry",
				   x->o->tenant);
	f = open_memstream(out, len);
	if (!f)
		abort();
	snprintf(created, sizeof(created), "{\"uuid\": \"%s\"}", x->tenant.instance_uuid);
	snprintf(name, sizeof(name), "/UD_VA_%s.tar.gz", x->ts);
	rum_export_manifest_field(f, "Manifest-Version", "1.0");
	rum_export_manifest_field(f, "Created-By", created);
	rum_export_manifest_field(f, "Smart-Account", x->tenant.smart_account);
	rum_export_manifest_field(f, "Smart-Account-ID", "");
	fputc('\n', f);
	rum_export_manifest_field(f, "Name", name);
	rum_export_manifest_field(f, "Specification-VA", va);
	rum_export_manifest_field(f, "Specification-VA-ID", "");
	if (fclose(f) != 0)
		abort();
	return 0;
}

/* An unlinked file in the output directory for the inner archive. */
static int rum_export_open_inner(struct rum_export *x)
{
	char path[PATH_MAX];

	x->inner_fd = open(x->dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (x->inner_fd < 0 && (size_t)snprintf(path, sizeof(path), "%s/.UD_VA_%s.XXXXXX", x->dir,
						x->ts) < sizeof(path)) {
		x->inner_fd = mkostemp(path, O_CLOEXEC);
		if (x->inner_fd >= 0)
			unlink(path);
	}
	if (x->inner_fd < 0)
		return rum_err_set(RUM_EIO, "cannot create a temporary file in %s: %s", x->dir,
				   strerror(errno));
	return 0;
}

static int rum_export_open_outer(struct rum_export *x)
{
	if ((size_t)snprintf(x->outer_tmp, sizeof(x->outer_tmp), "%s.tmp-XXXXXX", x->final_path) >=
	    sizeof(x->outer_tmp))
		return rum_err_set(RUM_EINVAL, "output path too long");
	x->outer_fd = mkostemp(x->outer_tmp, O_CLOEXEC);
	if (x->outer_fd < 0) {
		int e = errno;

		x->outer_tmp[0] = '\0';
		return rum_err_set(RUM_EIO, "cannot create a file in %s: %s", x->dir, strerror(e));
	}
	return 0;
}

/* The archives, once the batch is recorded and its cursor open. */
static int rum_export_write(struct rum_db_txn *txn, struct rum_export *x)
{
	char inner_name[64], *manifest = NULL;
	size_t manifest_len = 0, nrows;
	int rc = rum_export_open_inner(x);

	if (rc == 0)
		rc = rum_export_open_outer(x);
	if (rc == 0)
		rc = rum_tarball_new(&x->inner, x->inner_fd, x->o->level, x->now.tv_sec, x->dir);
	do {
		if (rc == 0)
			rc = rum_store_export_fetch(txn, RUM_EXPORT_FETCH_BYTES, rum_export_row, x,
						    &nrows);
	} while (rc == 0 && nrows > 0);
	if (rc == 0)
		rc = rum_export_device_end(x);
	if (rc == 0)
		rc = rum_tarball_finish(x->inner);
	if (rc == 0)
		rc = rum_export_manifest(x, &manifest, &manifest_len);
	if (rc == 0)
		rc = rum_tarball_new(&x->outer, x->outer_fd, RUM_EXPORT_OUTER_LEVEL, x->now.tv_sec,
				     x->dir);
	if (rc == 0)
		rc = rum_tarball_entry_begin(x->outer, "manifest.mf");
	if (rc == 0)
		rc = rum_tarball_entry_write(x->outer, manifest, manifest_len);
	if (rc == 0)
		rc = rum_tarball_entry_end(x->outer);
	snprintf(inner_name, sizeof(inner_name), "UD_VA_%s.tar.gz", x->ts);
	if (rc == 0)
		rc = rum_tarball_add_fd(x->outer, inner_name, x->inner_fd);
	if (rc == 0)
		rc = rum_tarball_finish(x->outer);
	if (rc == 0 && fsync(x->outer_fd) != 0)
		rc = rum_err_set(RUM_EIO, "%s: %s", x->outer_tmp, strerror(errno));
	free(manifest);
	return rc;
}

static const char *rum_export_selection(const struct rum_export_options *o, char *buf, size_t size)
{
	snprintf(buf, size, "%s%s%s%s",
		 o->since ? "since "
		 : o->all ? "all"
			  : "unacknowledged",
		 o->since ? o->since : "", o->ndevices ? ", devices " : "",
		 o->ndevices ? "listed" : "");
	return buf;
}

static int rum_export_txn(struct rum_db_txn *txn, void *arg)
{
	struct rum_export *x = arg;
	char selection[256];
	const char *file_name = strrchr(x->final_path, '/') + 1;
	struct rum_store_export_query q = {0,
					   x->o->all,
					   x->o->since,
					   x->o->devices,
					   x->o->ndevices,
					   file_name,
					   x->ts,
					   rum_export_selection(x->o, selection,
								sizeof(selection))};
	int rc = rum_store_export_start(txn);

	if (rc == 0)
		rc = rum_store_export_tenant(txn, x->o->tenant, &x->tenant);
	q.tenant_id = x->tenant.id;
	if (rc == 0)
		rc = rum_store_export_check(txn, &q);
	if (rc == 0)
		rc = rum_store_export_begin(txn, &q, &x->batch_id, &x->selected);
	if (rc == 0 && x->selected == 0) {
		x->nothing = true;
		return rum_err_set(RUM_ENOTFOUND, "nothing to export"); /* rolls back */
	}
	if (rc == 0)
		rc = rum_export_write(txn, x);
	if (rc == 0)
		rum_export_progress(x, true);
	else if (x->o->progress && x->reports > 0)
		fputc('\n', stderr);
	if (rc == 0)
		rc = rum_store_export_finish(txn, x->batch_id, x->devices, x->reports);
	return rc;
}

/* Where the file goes: a directory (named file inside) or a file path. */
static int rum_export_paths(struct rum_export *x)
{
	const char *out = x->o->output && x->o->output[0] ? x->o->output : ".";
	struct stat st;
	size_t n;

	if (stat(out, &st) == 0 && S_ISDIR(st.st_mode)) {
		n = (size_t)snprintf(x->dir, sizeof(x->dir), "%s", out);
		while (n > 1 && x->dir[n - 1] == '/')
			x->dir[--n] = '\0';
		n = (size_t)snprintf(x->final_path, sizeof(x->final_path), "%s/UD_SA_%s.tar.gz",
				     x->dir, x->ts);
	} else {
		const char *slash = strrchr(out, '/');

		if (slash && slash[1] == '\0')
			return rum_err_set(RUM_EINVAL, "output directory %s does not exist", out);
		if (!slash)
			snprintf(x->dir, sizeof(x->dir), ".");
		else if (slash == out)
			snprintf(x->dir, sizeof(x->dir), "/");
		else
			snprintf(x->dir, sizeof(x->dir), "%.*s", (int)(slash - out), out);
		n = (size_t)snprintf(x->final_path, sizeof(x->final_path), "%s/%s", x->dir,
				     slash ? slash + 1 : out);
		if (stat(x->dir, &st) != 0 || !S_ISDIR(st.st_mode))
			return rum_err_set(RUM_EINVAL, "output directory %s does not exist",
					   x->dir);
	}
	if (n >= sizeof(x->final_path) - 16)
		return rum_err_set(RUM_EINVAL, "output path too long");
	if (access(x->final_path, F_OK) == 0)
		return rum_err_set(RUM_ECONFLICT, "%s exists; not overwriting it", x->final_path);
	if (access(x->dir, W_OK | X_OK) != 0)
		return rum_err_set(RUM_EIO, "output directory %s is not writable: %s", x->dir,
				   strerror(errno));
	return 0;
}

/* Puts the finished file in place, never over an existing one. */
static int rum_export_publish(struct rum_export *x)
{
	int dfd;

	if (renameat2(AT_FDCWD, x->outer_tmp, AT_FDCWD, x->final_path, RENAME_NOREPLACE) != 0) {
		if (errno != EINVAL || rename(x->outer_tmp, x->final_path) != 0)
			return rum_err_set(errno == EEXIST ? RUM_ECONFLICT : RUM_EIO,
					   "cannot rename %s to %s: %s", x->outer_tmp,
					   x->final_path, strerror(errno));
	}
	x->outer_tmp[0] = '\0';
	dfd = open(x->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd); /* the rename itself, durably */
		close(dfd);
	}
	return 0;
}

static int rum_export_unbatch(struct rum_db_txn *txn, void *arg)
{
	return rum_store_export_delete(txn, *(int64_t *)arg);
}

static struct rum_metric rum_export_m_total[] = {
	RUM_METRIC_COUNTER("rumd_exports_total", "outcome=\"written\"",
			   "Usage exports: a file written, nothing to export, failed"),
	RUM_METRIC_COUNTER("rumd_exports_total", "outcome=\"empty\"", ""),
	RUM_METRIC_COUNTER("rumd_exports_total", "outcome=\"failed\"", ""),
};
static struct rum_metric rum_export_m_reports =
	RUM_METRIC_COUNTER("rumd_exported_reports_total", NULL, "Reports written to export files");

__attribute__((constructor)) static void rum_export_metrics_init(void)
{
	rum_metric_register_all(rum_export_m_total, 3);
	rum_metric_register(&rum_export_m_reports);
}

int rum_export_run(struct rum_domain *dom, const struct rum_export_options *o,
		   struct rum_export_result *res)
{
	struct rum_export x = {.o = o, .outer_fd = -1, .inner_fd = -1};
	int rc;

	memset(res, 0, sizeof(*res));
	clock_gettime(CLOCK_REALTIME, &x.now);
	rum_export_format_ts(x.ts, sizeof(x.ts), &x.now);
	rc = rum_export_paths(&x);
	if (rc == 0)
		rc = rum_db_transact(dom->db, rum_export_txn, &x);
	if (rc != 0 && x.nothing) {
		rum_err_clear();
		res->nothing = true;
		rc = 0;
	} else if (rc == 0) {
		rc = rum_export_publish(&x);
		if (rc != 0) {
			char msg[512];

			snprintf(msg, sizeof(msg), "%s", rum_err_msg());
			if (rum_db_transact(dom->db, rum_export_unbatch, &x.batch_id) != 0)
				snprintf(msg + strlen(msg), sizeof(msg) - strlen(msg),
					 " (and export batch %" PRId64 " could not be removed: %s)",
					 x.batch_id, rum_err_msg());
			rc = rum_err_set(RUM_EIO, "%s", msg);
		}
	}
	rum_tarball_free(x.inner);
	rum_tarball_free(x.outer);
	if (x.inner_fd >= 0)
		close(x.inner_fd);
	if (x.outer_fd >= 0)
		close(x.outer_fd);
	if (x.outer_tmp[0])
		unlink(x.outer_tmp);
	if (rc == 0 && !res->nothing) {
		res->path = strdup(x.final_path);
		if (!res->path)
			abort();
		res->batch_id = x.batch_id;
		res->devices = x.devices;
		res->reports = x.reports;
		rum_metric_add(&rum_export_m_reports, x.reports);
	}
	rum_metric_inc(&rum_export_m_total[rc != 0 ? 2 : res->nothing ? 1 : 0]);
	rum_store_export_tenant_dispose(&x.tenant);
	return rc;
}

void rum_export_result_dispose(struct rum_export_result *res)
{
	free(res->path);
	memset(res, 0, sizeof(*res));
}

/* --- for the admin API --- */

int rum_export_by(struct rum_domain *dom, const struct rum_actor *by,
		  const struct rum_export_request *req, struct rum_export_summary *res)
{
	struct rum_export_result er = {0};
	char dir[RUM_DOMAIN_PATH_MAX], target[24] = "";
	struct rum_export_options o = {by->tenant,   dir,           req->all, req->since,
				       req->devices, req->ndevices, false,    6};
	int rc;

	memset(res, 0, sizeof(*res));
	rc = rum_domain_dir(dom, dir, sizeof(dir), "exports", by->tenant_id);
	if (rc == 0)
		rc = rum_export_run(dom, &o, &er);
	if (rc == 0 && !er.nothing) {
		const char *base = strrchr(er.path, '/') ? strrchr(er.path, '/') + 1 : er.path;

		snprintf(res->file_name, sizeof(res->file_name), "%s", base);
		res->batch_id = er.batch_id;
		res->devices = er.devices;
		res->reports = er.reports;
		snprintf(target, sizeof(target), "%" PRId64, er.batch_id);
	}
	if (rc == 0) {
		res->nothing = er.nothing;
		rum_export_result_dispose(&er);
	}
	if (rc != RUM_EUNAVAIL)
		rum_audit_record(dom, by, "export", by->tenant, target, rc,
				 rc != 0 ? NULL
					 : json_pack("{s:b,s:s,s:I,s:I}", "nothing", res->nothing,
						     "file", res->file_name, "devices",
						     (json_int_t)res->devices, "reports",
						     (json_int_t)res->reports));
	return rc;
}

struct rum_export_file_txn {
	int64_t tenant_id, batch_id;
	char *file_name;
};

static int rum_export_file_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_export_file_txn *t = arg;
	return rum_store_export_file_name(txn, t->tenant_id, t->batch_id, &t->file_name);
}

int rum_export_file_by(struct rum_domain *dom, const struct rum_actor *by, int64_t batch_id,
		       int *fd, size_t *size, char *file_name)
{
	struct rum_export_file_txn t = {by->tenant_id, batch_id, NULL};
	char path[RUM_DOMAIN_PATH_MAX];
	struct stat st;
	int rc;

	*fd = -1;
	rc = rum_db_transact(dom->db, rum_export_file_run, &t);
	if (rc == 0 && (strchr(t.file_name, '/') || strlen(t.file_name) >= 96))
		rc = rum_err_set(RUM_EINTERNAL, "export %" PRId64 " has a bad file name", batch_id);
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/exports/%" PRId64 "/%s", dom->data_dir,
			 by->tenant_id, t.file_name);
		*fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*fd < 0 || fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode))
			rc = rum_err_set(RUM_ENOTFOUND,
					 "the file of export %" PRId64 " is not on "
					 "this server (written elsewhere, or removed)",
					 batch_id);
	}
	if (rc != RUM_EUNAVAIL) {
		char target[24];

		snprintf(target, sizeof(target), "%" PRId64, batch_id);
		rum_audit_record(dom, by, "export-download", by->tenant, target, rc,
				 rc ? NULL
				    : json_pack("{s:s,s:I}", "file", t.file_name, "bytes",
						(json_int_t)st.st_size));
	}
	if (rc == 0) {
		*size = (size_t)st.st_size;
		snprintf(file_name, 96, "%s", t.file_name);
	} else if (*fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	free(t.file_name);
	return rc;
}

struct rum_export_list_txn {
	int64_t tenant_id, before, last;
	int limit;
	size_t n;
	void (*cb)(void *arg, const struct rum_export_batch_info *b);
	void *arg;
};

static void rum_export_list_row(void *arg, const struct rum_store_export_batch *r)
{
	struct rum_export_list_txn *t = arg;
	struct rum_export_batch_info b = {
		r->id,         r->file_name,     r->selection,     r->devices,    r->reports,
		r->created_at, r->devices_acked, r->reports_acked, r->last_ack_at};

	/* limit + 1 rows were asked for: the extra one only says a next page
	 * exists. */
	if (t->n++ == (size_t)t->limit)
		return;
	t->last = r->id;
	t->cb(t->arg, &b);
}

static int rum_export_list_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_export_list_txn *t = arg;

	t->n = 0;
	return rum_store_export_batch_page(txn, t->tenant_id, t->before, t->limit + 1,
					   rum_export_list_row, t);
}

int rum_export_list_by(struct rum_domain *dom, const struct rum_actor *by, const char *cursor,
		       int limit, void (*cb)(void *arg, const struct rum_export_batch_info *b),
		       void *arg, char *next_cursor, size_t next_size)
{
	struct rum_export_list_txn t = {
		by->tenant_id, INT64_MAX, 0, limit ? limit : 20, 0, cb, arg};
	int rc;

	next_cursor[0] = '\0';
	if (t.limit < 1 || t.limit > 500)
		return rum_err_set(RUM_EINVAL, "limit: 1 to 500");
	if (cursor && cursor[0] &&
	    (strncmp(cursor, "e1.", 3) != 0 || rum_strict_int64(&t.before, cursor + 3) != 0 ||
	     t.before <= 0))
		return rum_err_set(RUM_EINVAL, "cursor: not a cursor of the export list");
	rc = rum_db_transact(dom->db, rum_export_list_run, &t);
	if (rc == 0 && t.n > (size_t)t.limit)
		snprintf(next_cursor, next_size, "e1.%" PRId64, t.last);
	return rc;
}
