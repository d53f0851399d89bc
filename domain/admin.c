#include "domain/admin.h"

#include "db/db.h"
#include "db/store.h"
#include "db/store_admin.h"
#include "domain/export.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/text.h"
#include "lib/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define RUM_ADMIN_PATH_MAX 4096

int rum_admin_role_parse(enum rum_admin_role *out, const char *text)
{
	if (text && strcmp(text, "admin") == 0)
		*out = RUM_ADMIN_ADMIN;
	else if (text && strcmp(text, "operator") == 0)
		*out = RUM_ADMIN_OPERATOR;
	else if (text && strcmp(text, "reader") == 0)
		*out = RUM_ADMIN_READER;
	else
		return rum_err_set(RUM_EINVAL, "a role is admin, operator or reader");
	return 0;
}

static void rum_admin_token_hash(char out[2 * RUM_SHA256_LEN + 1], const char *token)
{
	uint8_t sha[RUM_SHA256_LEN];

	rum_crypto_sha256(sha, token, strlen(token));
	rum_text_hex(out, sha, sizeof(sha));
}

/* --- audit --- */

/* Who is acting, once known. */
struct rum_admin_audit_txn {
	struct rum_store_admin_audit a;
};

static int rum_admin_audit_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_admin_audit_txn *t = arg;
	return rum_store_admin_audit(txn, &t->a);
}

/* Records one audit row in its own transaction; steals details (NULL: {}).
 * The caller's error message survives it. A row that cannot be written is
 * logged, not fatal to what was done. */
void rum_admin_audit(const struct rum_admin_env *env, const struct rum_admin_who *who,
		     const char *action, const char *tenant, const char *target, int result,
		     json_t *details)
{
	char saved[512];
	struct rum_admin_audit_txn t = {{who->actor, who->token_id, action, tenant, target,
					 result == 0, NULL}};
	char *text;
	int rc;

	snprintf(saved, sizeof(saved), "%s", rum_err_msg());
	if (!details)
		details = json_object();
	if (result != 0) {
		json_object_set_new(details, "error", json_string(saved));
		json_object_set_new(details, "code", json_string(rum_err_name(result)));
	}
	text = json_dumps(details, JSON_COMPACT);
	json_decref(details);
	if (!text)
		abort();
	t.a.details_json = text;
	rc = rum_db_run_once(env->url, env->timeout_ms, rum_admin_audit_run, &t);
	if (rc != 0)
		rum_log_error("audit: cannot record %s by %s: %s", action, who->actor, rum_err_msg());
	free(text);
	if (result != 0)
		rum_err_set(result, "%s", saved);
	else
		rum_err_clear();
}

/* --- tokens --- */

struct rum_admin_token_txn {
	const char *role, *tenant, *description;
	const char *hash, *prefix;
	int64_t id;
	char revoked_prefix[24];
};

static int rum_admin_token_create_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_admin_token_txn *t = arg;
	int64_t tenant_id = 0;
	char target[24];
	int rc = 0;
	struct rum_store_admin_audit a = {"cli", 0, "token-create", t->tenant, target, true, NULL};
	json_t *details;

	if (t->tenant) {
		rc = rum_store_tenant_find(txn, t->tenant, &tenant_id);
		if (rc == RUM_ENOTFOUND)
			rc = rum_err_set(rc, "no tenant named '%s' (see rumd tenant list)", t->tenant);
	}
	if (rc == 0)
		rc = rum_store_admin_token_insert(txn, t->hash, t->prefix, t->role, tenant_id,
						  t->description, &t->id);
	if (rc != 0)
		return rc;
	snprintf(target, sizeof(target), "%" PRId64, t->id);
	details = json_pack("{s:s,s:s}", "role", t->role, "prefix", t->prefix);
	a.details_json = json_dumps(details, JSON_COMPACT);
	json_decref(details);
	if (!a.details_json)
		abort();
	rc = rum_store_admin_audit(txn, &a);
	free((char *)a.details_json);
	return rc;
}

int rum_admin_token_create(const struct rum_admin_env *env, const char *role, const char *tenant,
			   const char *description, char **token, int64_t *id)
{
	struct rum_admin_who cli = {"cli", 0, 0};
	uint8_t secret[32];
	char hash[2 * RUM_SHA256_LEN + 1], prefix[RUM_ADMIN_PREFIX_LEN + 1];
	struct rum_admin_token_txn t = {role, tenant, description ? description : "", hash,
					prefix, 0, ""};
	enum rum_admin_role r;
	char *tok = malloc(RUM_ADMIN_TOKEN_LEN + 1);
	int rc = rum_admin_role_parse(&r, role);

	if (!tok)
		abort();
	*token = NULL;
	memcpy(tok, "rumd_", 5);
	rum_crypto_random(secret, sizeof(secret));
	rum_text_hex(tok + 5, secret, sizeof(secret));
	memset(secret, 0, sizeof(secret));
	rum_admin_token_hash(hash, tok);
	snprintf(prefix, sizeof(prefix), "%.*s", RUM_ADMIN_PREFIX_LEN, tok);
	if (rc == 0)
		rc = rum_db_run_once(env->url, env->timeout_ms, rum_admin_token_create_run, &t);
	if (rc != 0) {
		if (rc != RUM_EUNAVAIL)
			rum_admin_audit(env, &cli, "token-create", tenant, "", rc,
					json_pack("{s:s}", "role", role ? role : ""));
		memset(tok, 0, RUM_ADMIN_TOKEN_LEN + 1);
		free(tok);
		return rc;
	}
	*id = t.id;
	*token = tok;
	return 0;
}

static void rum_admin_token_row(void *arg, const struct rum_store_admin_token_row *t)
{
	printf("%" PRId64 "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t->id, t->prefix, t->role, t->tenant,
	       t->created_at, t->last_used_at[0] ? t->last_used_at : "-",
	       t->revoked_at[0] ? t->revoked_at : "-", t->description);
}

static int rum_admin_token_list_run(struct rum_db_txn *txn, void *arg)
{
	printf("ID\tPREFIX\tROLE\tTENANT\tCREATED\tLAST_USED\tREVOKED\tDESCRIPTION\n");
	return rum_store_admin_token_list(txn, rum_admin_token_row, arg);
}

int rum_admin_token_print(const struct rum_admin_env *env)
{
	return rum_db_run_once(env->url, env->timeout_ms, rum_admin_token_list_run, NULL);
}

struct rum_admin_revoke_txn {
	int64_t id;
	char *prefix;
};

static int rum_admin_token_revoke_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_admin_revoke_txn *t = arg;
	char target[24];
	struct rum_store_admin_audit a = {"cli", 0, "token-revoke", NULL, target, true, NULL};
	int rc;

	snprintf(target, sizeof(target), "%" PRId64, t->id);
	rc = rum_store_admin_token_revoke(txn, t->id, t->prefix, 24);
	return rc ? rc : rum_store_admin_audit(txn, &a);
}

int rum_admin_token_revoke(const struct rum_admin_env *env, int64_t id, char *prefix)
{
	struct rum_admin_who cli = {"cli", 0, 0};
	struct rum_admin_revoke_txn t = {id, prefix};
	char target[24];
	int rc = rum_db_run_once(env->url, env->timeout_ms, rum_admin_token_revoke_run, &t);

	if (rc != 0 && rc != RUM_EUNAVAIL) {
		snprintf(target, sizeof(target), "%" PRId64, id);
		rum_admin_audit(env, &cli, "token-revoke", NULL, target, rc, NULL);
	}
	return rc;
}

/* --- authentication and authorization --- */

/* The token of an "Authorization: Bearer <token>" value, checked for shape
 * only; NULL when there is none. */
static const char *rum_admin_bearer(const char *authorization)
{
	const char *t;
	size_t n;

	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	t = authorization + 7;
	while (*t == ' ')
		t++;
	n = strcspn(t, " ");
	if (n != RUM_ADMIN_TOKEN_LEN || t[n] != '\0' || strncmp(t, "rumd_", 5) != 0)
		return NULL;
	for (size_t i = 5; i < n; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
			return NULL;
	return t;
}

struct rum_admin_auth_txn {
	const char *hash;
	const char *tenant;
	enum rum_admin_role need;
	struct rum_admin_who *who;
};

static const char *rum_admin_need_text(enum rum_admin_role need)
{
	return need == RUM_ADMIN_ADMIN ? "an admin token" : "an operator or admin token";
}

static int rum_admin_auth_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_admin_auth_txn *t = arg;
	struct rum_store_admin_token tok;
	enum rum_admin_role role;
	int64_t tenant_id = 0;
	int rc = rum_store_admin_token_use(txn, t->hash, &tok);

	if (rc == RUM_ENOTFOUND)
		return rum_err_set(RUM_EAUTH, "unknown or revoked token");
	if (rc != 0)
		return rc;
	/* The lookup was by hash; the check in C does not leak by timing. */
	if (!rum_crypto_equal(tok.hash, t->hash, 2 * RUM_SHA256_LEN))
		return rum_err_set(RUM_EAUTH, "unknown or revoked token");
	snprintf(t->who->actor, sizeof(t->who->actor), "token %" PRId64 " (%s)", tok.id,
		 tok.prefix);
	t->who->token_id = tok.id;
	if (tok.revoked)
		return rum_err_set(RUM_EAUTH, "unknown or revoked token");
	if (rum_admin_role_parse(&role, tok.role) != 0)
		return rum_err_set(RUM_EINTERNAL, "token %" PRId64 " has a bad role", tok.id);
	rc = rum_store_tenant_find(txn, t->tenant, &tenant_id);
	/* Another tenant than the token's is reported exactly as a missing one. */
	if (rc == RUM_ENOTFOUND || (rc == 0 && tok.tenant_id && tok.tenant_id != tenant_id))
		return rum_err_set(RUM_ENOTFOUND, "no tenant named '%s'", t->tenant);
	if (rc != 0)
		return rc;
	if (role < t->need)
		return rum_err_set(RUM_EFORBIDDEN, "this needs %s; the token is a %s token",
				   rum_admin_need_text(t->need), tok.role);
	t->who->tenant_id = tenant_id;
	return 0;
}

/* Authenticates and authorizes; a refusal of a write (need > reader) is
 * audited under action. */
int rum_admin_begin(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
		    enum rum_admin_role need, const char *action, struct rum_admin_who *who)
{
	char hash[2 * RUM_SHA256_LEN + 1];
	struct rum_admin_auth_txn t = {hash, auth->tenant, need, who};
	const char *token = rum_admin_bearer(auth->authorization);
	int rc;

	memset(who, 0, sizeof(*who));
	snprintf(who->actor, sizeof(who->actor), "anonymous");
	if (!token) {
		rc = rum_err_set(RUM_EAUTH, auth->authorization
						    ? "the Authorization header is not a rumd bearer token"
						    : "no bearer token (Authorization: Bearer rumd_...)");
	} else {
		rum_admin_token_hash(hash, token);
		rc = rum_db_run_once(env->url, env->timeout_ms, rum_admin_auth_run, &t);
	}
	if (rc != 0 && rc != RUM_EUNAVAIL && need > RUM_ADMIN_READER)
		rum_admin_audit(env, who, action, auth->tenant, "", rc, NULL);
	return rc;
}

/* --- exports --- */

static int rum_admin_mkdirs(char *out, size_t size, const struct rum_admin_env *env,
			    const char *kind, int64_t tenant_id)
{
	int n;

	snprintf(out, size, "%s/%s", env->data_dir, kind);
	if (mkdir(env->data_dir, 0700) != 0 && errno != EEXIST)
		return rum_err_set(RUM_EIO, "cannot create %s: %s", env->data_dir, strerror(errno));
	if (mkdir(out, 0750) != 0 && errno != EEXIST)
		return rum_err_set(RUM_EIO, "cannot create %s: %s", out, strerror(errno));
	n = snprintf(out, size, "%s/%s/%" PRId64, env->data_dir, kind, tenant_id);
	if (n < 0 || (size_t)n >= size)
		return rum_err_set(RUM_EINVAL, "data_dir is too long");
	if (mkdir(out, 0750) != 0 && errno != EEXIST)
		return rum_err_set(RUM_EIO, "cannot create %s: %s", out, strerror(errno));
	return 0;
}

int rum_admin_export(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
		     const struct rum_admin_export_request *req,
		     struct rum_admin_export_result *res)
{
	struct rum_admin_who who;
	struct rum_export_result er = {0};
	char dir[RUM_ADMIN_PATH_MAX], target[24] = "";
	struct rum_export_options o = {auth->tenant, dir, req->all, req->since, req->devices,
				       req->ndevices, false, 6};
	int rc = rum_admin_begin(env, auth, RUM_ADMIN_OPERATOR, "export", &who);

	memset(res, 0, sizeof(*res));
	if (rc != 0)
		return rc;
	rc = rum_admin_mkdirs(dir, sizeof(dir), env, "exports", who.tenant_id);
	if (rc == 0)
		rc = rum_export_run(&o, env->url, env->timeout_ms, &er);
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
		rum_admin_audit(env, &who, "export", auth->tenant, target, rc,
				rc != 0 ? NULL
					: json_pack("{s:b,s:s,s:I,s:I}", "nothing", res->nothing,
						    "file", res->file_name, "devices",
						    (json_int_t)res->devices, "reports",
						    (json_int_t)res->reports));
	return rc;
}

struct rum_admin_batch_txn {
	int64_t tenant_id, batch_id;
	char *file_name;
};

static int rum_admin_batch_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_admin_batch_txn *t = arg;
	return rum_store_admin_batch_file(txn, t->tenant_id, t->batch_id, &t->file_name);
}

int rum_admin_export_file(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
			  int64_t batch_id, int *fd, size_t *size, char *file_name)
{
	struct rum_admin_who who;
	struct rum_admin_batch_txn t = {0, batch_id, NULL};
	char path[RUM_ADMIN_PATH_MAX];
	struct stat st;
	int rc = rum_admin_begin(env, auth, RUM_ADMIN_READER, "export-download", &who);

	*fd = -1;
	if (rc != 0)
		return rc;
	t.tenant_id = who.tenant_id;
	rc = rum_db_run_once(env->url, env->timeout_ms, rum_admin_batch_run, &t);
	if (rc == 0 && (strchr(t.file_name, '/') || strlen(t.file_name) >= 96))
		rc = rum_err_set(RUM_EINTERNAL, "export %" PRId64 " has a bad file name", batch_id);
	if (rc == 0) {
		snprintf(path, sizeof(path), "%s/exports/%" PRId64 "/%s", env->data_dir,
			 who.tenant_id, t.file_name);
		*fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*fd < 0 || fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode))
			rc = rum_err_set(RUM_ENOTFOUND, "the file of export %" PRId64 " is not on "
					 "this server (written elsewhere, or removed)", batch_id);
	}
	if (rc != RUM_EUNAVAIL) {
		char target[24];

		snprintf(target, sizeof(target), "%" PRId64, batch_id);
		rum_admin_audit(env, &who, "export-download", auth->tenant, target, rc,
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

/* --- imports --- */

static int rum_admin_write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc = 0;

	if (fd < 0)
		return rum_err_set(RUM_EIO, "cannot create %s: %s", path, strerror(errno));
	while (rc == 0 && len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = rum_err_set(RUM_EIO, "cannot write %s: %s", path, strerror(errno));
		else {
			data += n;
			len -= (size_t)n;
		}
	}
	if (close(fd) != 0 && rc == 0)
		rc = rum_err_set(RUM_EIO, "cannot write %s: %s", path, strerror(errno));
	return rc;
}

static json_t *rum_admin_import_details(const char *name, const struct rum_import_result *r)
{
	return json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I}", "file", name, "already", r->already,
			 "import_id", (json_int_t)r->import_id, "devices", (json_int_t)r->devices,
			 "acks_new", (json_int_t)r->acks_new, "reports_acked",
			 (json_int_t)r->reports_acked, "skipped", (json_int_t)r->n_skipped);
}

int rum_admin_import(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
		     const char *body, size_t len, const char *file_name,
		     struct rum_import_result *res)
{
	struct rum_admin_who who;
	char dir[RUM_ADMIN_PATH_MAX], path[RUM_ADMIN_PATH_MAX + 128];
	const char *name = file_name;
	struct rum_import_options o = {path, auth->tenant, NULL, 0, rum_import_default_limits};
	bool made = false;
	int rc = rum_admin_begin(env, auth, RUM_ADMIN_OPERATOR, "import", &who);

	memset(res, 0, sizeof(*res));
	if (rc != 0)
		return rc;
	if (!name)
		name = len >= 2 && (uint8_t)body[0] == 0x1f && (uint8_t)body[1] == 0x8b
			       ? "upload.tar.gz"
			       : "upload.xml";
	rc = rum_admin_mkdirs(dir, sizeof(dir), env, "imports", who.tenant_id);
	/* The import domain reads a file: the body goes into a private
	 * directory of its own, removed afterwards whatever happens. */
	if (rc == 0 && strlen(dir) + 16 >= sizeof(dir))
		rc = rum_err_set(RUM_EINVAL, "data_dir is too long");
	if (rc == 0) {
		memcpy(dir + strlen(dir), "/upload-XXXXXX", 15);
		if (!mkdtemp(dir))
			rc = rum_err_set(RUM_EIO, "cannot create a directory for the upload in "
					 "%s/imports: %s", env->data_dir, strerror(errno));
	}
	if (rc == 0) {
		made = true;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		rc = rum_admin_write_file(path, body, len);
	}
	if (rc == 0)
		rc = rum_import_run(&o, env->url, env->timeout_ms, res);
	if (made) {
		unlink(path);
		rmdir(dir);
	}
	if (rc != RUM_EUNAVAIL)
		rum_admin_audit(env, &who, "import", auth->tenant, name, rc,
				rc == 0 ? rum_admin_import_details(name, res)
					: json_pack("{s:s,s:I}", "file", name, "bytes",
						    (json_int_t)len));
	if (rc != 0)
		rum_import_result_dispose(res);
	return rc;
}

/* --- ACK download --- */

struct rum_admin_ack_txn {
	int64_t tenant_id, device_id, ack_id;
	char *content;
	size_t len;
};

static int rum_admin_ack_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_admin_ack_txn *t = arg;
	return rum_store_admin_ack(txn, t->tenant_id, t->device_id, &t->ack_id, &t->content,
				   &t->len);
}

int rum_admin_ack(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
		  int64_t device_id, char **content, size_t *len)
{
	struct rum_admin_who who;
	struct rum_admin_ack_txn t = {0, device_id, 0, NULL, 0};
	char target[24];
	int rc = rum_admin_begin(env, auth, RUM_ADMIN_READER, "ack-download", &who);

	*content = NULL;
	*len = 0;
	if (rc != 0)
		return rc;
	t.tenant_id = who.tenant_id;
	snprintf(target, sizeof(target), "%" PRId64, device_id);
	rc = rum_db_run_once(env->url, env->timeout_ms, rum_admin_ack_run, &t);
	if (rc != RUM_EUNAVAIL)
		rum_admin_audit(env, &who, "ack-download", auth->tenant, target, rc,
				rc ? NULL
				   : json_pack("{s:I,s:I}", "ack_id", (json_int_t)t.ack_id, "bytes",
					       (json_int_t)t.len));
	if (rc == 0) {
		*content = t.content;
		*len = t.len;
	}
	return rc;
}

/* --- worker threads --- */

struct rum_admin_job {
	void (*run)(void *arg, bool cancelled);
	void *arg;
	struct rum_admin_job *next;
};

struct rum_admin_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct rum_admin_job *head, *tail;
	int queued, queue_max, nthreads;
	bool stopping;
	pthread_t *threads;
};

static void *rum_admin_worker(void *arg)
{
	struct rum_admin_pool *p = arg;

	for (;;) {
		struct rum_admin_job *j;

		pthread_mutex_lock(&p->lock);
		while (!p->head && !p->stopping)
			pthread_cond_wait(&p->cond, &p->lock);
		if (p->stopping) {
			pthread_mutex_unlock(&p->lock);
			return NULL;
		}
		j = p->head;
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->queued--;
		pthread_mutex_unlock(&p->lock);
		j->run(j->arg, false);
		free(j);
	}
}

struct rum_admin_pool *rum_admin_pool_new(int threads, int queue_max)
{
	struct rum_admin_pool *p = calloc(1, sizeof(*p));

	if (!p || threads < 1)
		abort();
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->queue_max = queue_max;
	p->nthreads = threads;
	p->threads = calloc((size_t)threads, sizeof(*p->threads));
	if (!p->threads)
		abort();
	for (int i = 0; i < threads; i++)
		if (pthread_create(&p->threads[i], NULL, rum_admin_worker, p) != 0)
			abort();
	return p;
}

int rum_admin_pool_submit(struct rum_admin_pool *p, void (*run)(void *arg, bool cancelled),
			  void *arg)
{
	struct rum_admin_job *j;
	int rc = 0;

	pthread_mutex_lock(&p->lock);
	if (p->stopping || p->queued >= p->queue_max) {
		rc = rum_err_set(RUM_EUNAVAIL, "the admin workers are busy; try again later");
		goto out;
	}
	j = calloc(1, sizeof(*j));
	if (!j)
		abort();
	*j = (struct rum_admin_job){run, arg, NULL};
	if (p->tail)
		p->tail->next = j;
	else
		p->head = j;
	p->tail = j;
	p->queued++;
	pthread_cond_signal(&p->cond);
out:
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void rum_admin_pool_free(struct rum_admin_pool *p)
{
	struct rum_admin_job *j;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nthreads; i++)
		pthread_join(p->threads[i], NULL);
	while ((j = p->head) != NULL) {
		p->head = j->next;
		j->run(j->arg, true);
		free(j);
	}
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p->threads);
	free(p);
}
