#include "domain/acks.h"

#include "db/db.h"
#include "db/store_acks.h"
#include "db/store_import.h"
#include "domain/audit.h"
#include "domain/internal.h"
#include "lib/err.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rum_ack_dispose(struct rum_ack *a)
{
	free(a->content);
	memset(a, 0, sizeof(*a));
}

struct rum_acks_call {
	int64_t tenant_id, device_id, id;
	const char *pid, *sn, *address, *via;
	struct rum_ack *out;
};

static int rum_acks_pending_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_acks_call *c = arg;

	return rum_store_ack_pending(txn, c->tenant_id, c->pid, c->sn, &c->out->id,
				     &c->out->content, &c->out->len);
}

int rum_acks_pending(struct rum_domain *dom, int64_t tenant_id, const char *pid, const char *sn,
		     struct rum_ack *out)
{
	struct rum_acks_call c = {.tenant_id = tenant_id, .pid = pid, .sn = sn, .out = out};

	memset(out, 0, sizeof(*out));
	return rum_db_call(dom->db, rum_acks_pending_run, &c);
}

static int rum_acks_delivered_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_acks_call *c = arg;

	return rum_store_ack_delivered(txn, c->id, c->address, c->via);
}

int rum_acks_delivered(struct rum_domain *dom, int64_t id, const char *address, const char *via)
{
	struct rum_acks_call c = {.id = id, .address = address, .via = via};

	return rum_db_call(dom->db, rum_acks_delivered_run, &c);
}

static int rum_acks_file_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_acks_call *c = arg;

	return rum_store_ack_file(txn, c->tenant_id, c->device_id, &c->out->id, &c->out->content,
				  &c->out->len);
}

int rum_acks_file(struct rum_domain *dom, int64_t tenant_id, int64_t device_id, struct rum_ack *out)
{
	struct rum_acks_call c = {.tenant_id = tenant_id, .device_id = device_id, .out = out};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = rum_db_transact(dom->db, rum_acks_file_run, &c);
	if (rc != 0)
		rum_ack_dispose(out);
	return rc;
}

int rum_acks_download_by(struct rum_domain *dom, const struct rum_actor *by, int64_t device_id,
			 char **content, size_t *len)
{
	struct rum_ack ack = {0};
	char target[24];
	int rc;

	*content = NULL;
	*len = 0;
	snprintf(target, sizeof(target), "%" PRId64, device_id);
	rc = rum_acks_file(dom, by->tenant_id, device_id, &ack);
	if (rc != RUM_EUNAVAIL)
		rum_audit_record(dom, by, "ack-download", by->tenant, target, rc,
				 rc ? NULL
				    : json_pack("{s:I,s:I}", "ack_id", (json_int_t)ack.id, "bytes",
						(json_int_t)ack.len));
	if (rc == 0) {
		*content = ack.content; /* handed to the caller */
		*len = ack.len;
	}
	return rc;
}

/* RUM_ENOTFOUND naming the device when there is no such device. */
static int rum_acks_device_exists(struct rum_db_txn *txn, void *arg)
{
	struct rum_store_import_device d;

	return rum_store_import_device(txn, *(const int64_t *)arg, &d);
}

static int rum_acks_write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int rum_acks_save(struct rum_domain *dom, int64_t device_id, const char *path, int64_t *ack_id,
		  size_t *len)
{
	struct rum_ack f = {0};
	bool out = strcmp(path, "-") == 0;
	int fd = -1, rc;

	if (!out && access(path, F_OK) == 0)
		return rum_err_set(RUM_ECONFLICT, "%s exists; not overwriting it", path);
	rc = rum_db_call(dom->db, rum_acks_device_exists, &device_id);
	if (rc == 0)
		rc = rum_acks_file(dom, 0, device_id, &f);
	if (rc != 0)
		return rc;
	fd = out ? STDOUT_FILENO : open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		rc = rum_err_set(errno == EEXIST ? RUM_ECONFLICT : RUM_EIO, "cannot create %s: %s",
				 path, strerror(errno));
	else if (rum_acks_write_all(fd, f.content, f.len) != 0 || (!out && fsync(fd) != 0))
		rc = rum_err_set(RUM_EIO, "writing %s: %s", path, strerror(errno));
	if (fd >= 0 && !out && close(fd) != 0 && rc == 0)
		rc = rum_err_set(RUM_EIO, "writing %s: %s", path, strerror(errno));
	if (rc != 0 && fd >= 0 && !out)
		unlink(path);
	*ack_id = f.id;
	*len = f.len;
	rum_ack_dispose(&f);
	return rc;
}
