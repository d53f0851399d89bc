/* rum-agent device state, see state.h. */
#include "agent/state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/report.h"
#include "lib/err.h"

#define STATE_MAX_BYTES (256u * 1024 * 1024)

static const char *state_names[] = {"OPEN", "CLOSED", "UNACK", "ACK"};
static const char *pol_keys[RUM_AGENT_POL_N] = {"perpetual", "subscription", "enforced", "export"};

const char *rum_agent_report_state_name(enum rum_agent_report_state s)
{
	return (unsigned)s < 4 ? state_names[s] : "INVALID";
}

void rum_agent_policy_default(struct rum_agent_policy *p)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->name, sizeof(p->name), "%s", "Cisco default");
	p->ack_required = 1;
	p->attrs[RUM_AGENT_POL_PERPETUAL] = (struct rum_agent_policy_attrs){365, 0, 90};
	p->attrs[RUM_AGENT_POL_SUBSCRIPTION] = (struct rum_agent_policy_attrs){90, 90, 90};
}

uint32_t rum_agent_state_interval_days(const struct rum_agent_state *st)
{
	uint32_t best = 0;

	if (st->interval_days)
		return st->interval_days;
	for (int i = 0; i < RUM_AGENT_POL_N; i++) {
		uint32_t d = st->policy.attrs[i].ongoing;
		if (d && (!best || d < best))
			best = d;
	}
	return best ? best : 30;
}

void rum_agent_state_udi_key(const struct rum_agent_state *st, char *buf, size_t size)
{
	snprintf(buf, size, "P:%s,S:%s", st->pid, st->serial);
}

void rum_agent_short_name(char *buf, size_t size, const char *tag)
{
	const char *s = strstr(tag, "com.cisco.");
	const char *e;

	s = s ? s + strlen("com.cisco.") : tag;
	e = strchr(s, ',');
	if (!e)
		e = s + strlen(s);
	snprintf(buf, size, "%.*s", (int)(e - s), s);
}

int rum_agent_parse_usage_arg(char *tag, uint32_t *count, const char *arg)
{
	const char *eq = strrchr(arg, '=');
	char *end;
	unsigned long v;

	if (!eq || eq == arg || (size_t)(eq - arg) >= RUM_AGENT_STR)
		return rum_err_set(RUM_EINVAL, "usage must be TAG=COUNT (tag 1..%d chars): %s",
				   RUM_AGENT_STR - 1, arg);
	errno = 0;
	v = strtoul(eq + 1, &end, 10);
	if (errno || end == eq + 1 || *end || v > 1000000000ul || eq[1] == '-')
		return rum_err_set(RUM_EINVAL, "bad count in %s (0..1000000000)", arg);
	for (const char *p = arg; p < eq; p++)
		if ((unsigned char)*p < 0x21 || *p == '"')
			return rum_err_set(RUM_EINVAL,
					   "entitlement tag has a space or control character");
	snprintf(tag, RUM_AGENT_STR, "%.*s", (int)(eq - arg), arg);
	*count = (uint32_t)v;
	return 0;
}

/* ---- reports ---- */

static struct rum_agent_report *report_add(struct rum_agent_state *st)
{
	if (st->n_rep == st->cap_rep) {
		size_t cap = st->cap_rep ? st->cap_rep * 2 : 16;
		struct rum_agent_report *p = realloc(st->rep, cap * sizeof(*p));
		if (!p)
			abort();
		st->rep = p;
		st->cap_rep = cap;
	}
	memset(&st->rep[st->n_rep], 0, sizeof(st->rep[0]));
	return &st->rep[st->n_rep++];
}

/* Keeps the report list bounded: drops the oldest acknowledged reports
 * (never an unreported one) once the ceiling is passed. */
static void prune(struct rum_agent_state *st)
{
	size_t w = 0,
	       excess = st->n_rep > RUM_AGENT_MAX_REPORTS ? st->n_rep - RUM_AGENT_MAX_REPORTS : 0;

	for (size_t i = 0; i < st->n_rep; i++) {
		if (excess && st->rep[i].state == RUM_AGENT_REPORT_ACK) {
			free(st->rep[i].doc);
			excess--;
			continue;
		}
		st->rep[w++] = st->rep[i];
	}
	st->n_rep = w;
}

static void open_report(struct rum_agent_state *st, const char *tag, uint32_t count, int64_t now)
{
	struct rum_agent_report *r = report_add(st);

	r->id = st->next_report_id++;
	snprintf(r->tag, sizeof(r->tag), "%s", tag);
	r->state = RUM_AGENT_REPORT_OPEN;
	r->start = now;
	r->count = count;
}

static int close_one(struct rum_agent_state *st, struct rum_agent_report *r, int64_t now,
		     const char *reason)
{
	return rum_agent_report_close(st, r, now, reason);
}

int rum_agent_state_close_open(struct rum_agent_state *st, int64_t now, const char *reason)
{
	int closed = 0, rc;
	size_t n = st->n_rep;

	for (size_t i = 0; i < n; i++) {
		if (st->rep[i].state != RUM_AGENT_REPORT_OPEN)
			continue;
		rc = close_one(st, &st->rep[i], now, reason);
		if (rc < 0)
			return rc;
		closed++;
	}
	for (size_t i = 0; i < st->n_ent; i++)
		if (st->ent[i].count > 0)
			open_report(st, st->ent[i].tag, st->ent[i].count, now);
	prune(st);
	return closed;
}

int rum_agent_state_set_usage(struct rum_agent_state *st, const char *tag, uint32_t count,
			      int64_t now)
{
	size_t i;
	int rc;

	for (i = 0; i < st->n_ent; i++)
		if (strcmp(st->ent[i].tag, tag) == 0)
			break;
	if (i == st->n_ent) {
		if (st->n_ent == RUM_AGENT_MAX_ENT)
			return rum_err_set(RUM_ETOOBIG, "at most %d entitlements",
					   RUM_AGENT_MAX_ENT);
		snprintf(st->ent[i].tag, sizeof(st->ent[i].tag), "%s", tag);
		st->n_ent++;
	}
	st->ent[i].count = count;
	for (size_t j = 0; j < st->n_rep; j++) {
		if (st->rep[j].state == RUM_AGENT_REPORT_OPEN && strcmp(st->rep[j].tag, tag) == 0) {
			rc = close_one(st, &st->rep[j], now, "UsageChanged");
			if (rc < 0)
				return rc;
		}
	}
	if (count > 0)
		open_report(st, tag, count, now);
	prune(st);
	return 0;
}

/* ---- files ---- */

int rum_agent_write_file_atomic(const char *path, const char *data, size_t len)
{
	char tmp[4200], dir[4200];
	char *slash;
	int fd, dfd, rc = 0;
	size_t off = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp))
		return rum_err_set(RUM_EINVAL, "path too long: %s", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return rum_err_set(RUM_EIO, "cannot create %s: %s", tmp, strerror(errno));
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = rum_err_set(RUM_EIO, "write %s: %s", tmp, strerror(errno));
			break;
		}
		off += (size_t)n;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = rum_err_set(RUM_EIO, "fsync %s: %s", tmp, strerror(errno));
	close(fd);
	if (rc == 0 && rename(tmp, path) != 0)
		rc = rum_err_set(RUM_EIO, "rename %s: %s", path, strerror(errno));
	if (rc < 0) {
		unlink(tmp);
		return rc;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int rum_agent_read_file(char **out, size_t *out_len, const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat sb;
	char *buf;
	size_t off = 0;

	if (fd < 0)
		return rum_err_set(errno == ENOENT ? RUM_ENOTFOUND : RUM_EIO, "cannot open %s: %s",
				   path, strerror(errno));
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return rum_err_set(RUM_EINVAL, "%s is not a regular file", path);
	}
	if ((uint64_t)sb.st_size > max) {
		close(fd);
		return rum_err_set(RUM_ETOOBIG, "%s is larger than %zu bytes", path, max);
	}
	buf = malloc((size_t)sb.st_size + 1);
	if (!buf)
		abort();
	while (off < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)sb.st_size - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	close(fd);
	buf[off] = '\0';
	*out = buf;
	*out_len = off;
	return 0;
}

int rum_agent_state_lock(const char *dir, int *fd_out)
{
	char path[1100];
	int fd;

	snprintf(path, sizeof(path), "%s/lock", dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return rum_err_set(RUM_EIO, "cannot open %s: %s", path, strerror(errno));
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			close(fd);
			return rum_err_set(RUM_EIO, "flock %s: %s", path, strerror(errno));
		}
	}
	*fd_out = fd;
	return 0;
}

void rum_agent_state_unlock(int fd)
{
	if (fd >= 0)
		close(fd); /* releases the flock */
}

/* ---- JSON (de)serialisation ---- */

static json_t *to_json(const struct rum_agent_state *st)
{
	json_t *o = json_object(), *ents = json_array(), *reps = json_array(),
	       *attrs = json_object();
	char fmt[2] = {st->rum_format, 0};

	json_object_set_new(o, "version", json_integer(1));
	json_object_set_new(o, "pid", json_string(st->pid));
	json_object_set_new(o, "serial", json_string(st->serial));
	json_object_set_new(o, "hostname", json_string(st->hostname));
	json_object_set_new(o, "sw_tag", json_string(st->sw_tag));
	json_object_set_new(o, "sw_version", json_string(st->sw_version));
	json_object_set_new(o, "pi_uuid", json_string(st->pi_uuid));
	json_object_set_new(o, "secret", json_string(st->secret));
	json_object_set_new(o, "rum_format", json_string(fmt));
	json_object_set_new(o, "created", json_integer(st->created));
	json_object_set_new(o, "transport", json_string(st->transport));
	json_object_set_new(o, "url", json_string(st->url));
	json_object_set_new(o, "interval_days", json_integer(st->interval_days));
	json_object_set_new(o, "next_report_id", json_integer((json_int_t)st->next_report_id));
	for (size_t i = 0; i < st->n_ent; i++)
		json_array_append_new(ents, json_pack("{s:s,s:I}", "tag", st->ent[i].tag, "count",
						      (json_int_t)st->ent[i].count));
	json_object_set_new(o, "entitlements", ents);
	for (size_t i = 0; i < st->n_rep; i++) {
		const struct rum_agent_report *r = &st->rep[i];
		json_t *jr = json_pack("{s:I,s:s,s:s,s:I,s:I,s:I}", "id", (json_int_t)r->id, "tag",
				       r->tag, "state", state_names[r->state], "start",
				       (json_int_t)r->start, "end", (json_int_t)r->end, "count",
				       (json_int_t)r->count);
		if (r->doc)
			json_object_set_new(jr, "doc", json_string(r->doc));
		json_array_append_new(reps, jr);
	}
	json_object_set_new(o, "reports", reps);
	for (int i = 0; i < RUM_AGENT_POL_N; i++)
		json_object_set_new(attrs, pol_keys[i],
				    json_pack("[III]", (json_int_t)st->policy.attrs[i].first,
					      (json_int_t)st->policy.attrs[i].ongoing,
					      (json_int_t)st->policy.attrs[i].macd));
	json_object_set_new(o, "policy",
			    json_pack("{s:b,s:s,s:I,s:b,s:I,s:o}", "installed",
				      st->policy.installed, "name", st->policy.name, "version",
				      (json_int_t)st->policy.version, "ack_required",
				      st->policy.ack_required, "install_time",
				      (json_int_t)st->policy.install_time, "attrs", attrs));
	json_object_set_new(o, "trust_time", json_integer(st->trust_time));
	json_object_set_new(o, "last_ack_time", json_integer(st->last_ack_time));
	json_object_set_new(o, "smart_account", json_string(st->smart_account));
	json_object_set_new(o, "virtual_account", json_string(st->virtual_account));
	json_object_set_new(o, "last_push", json_integer(st->last_push));
	json_object_set_new(o, "next_push_ms", json_integer(st->next_push_ms));
	json_object_set_new(o, "last_file_write", json_integer(st->last_file_write));
	json_object_set_new(o, "poll_id", json_string(st->poll_id));
	json_object_set_new(o, "next_poll_ms", json_integer(st->next_poll_ms));
	json_object_set_new(o, "poll_stage", json_integer(st->poll_stage));
	json_object_set_new(o, "last_push_error", json_string(st->last_push_error));
	return o;
}

static int get_str(char *dst, size_t size, json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s)
		return rum_err_set(RUM_EINVAL, "state: %s missing", key);
	if (strlen(s) >= size)
		return rum_err_set(RUM_EINVAL, "state: %s too long", key);
	memcpy(dst, s, strlen(s) + 1);
	return 0;
}

static int64_t get_int(json_t *o, const char *key)
{
	return (int64_t)json_integer_value(json_object_get(o, key));
}

static int parse_state_name(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (s && strcmp(s, state_names[i]) == 0)
			return i;
	return -1;
}

static int from_json(struct rum_agent_state *st, json_t *o)
{
	json_t *v, *pol;
	size_t i;
	const char *fmt;
	int rc;

	if ((rc = get_str(st->pid, sizeof(st->pid), o, "pid")) < 0 ||
	    (rc = get_str(st->serial, sizeof(st->serial), o, "serial")) < 0 ||
	    (rc = get_str(st->hostname, sizeof(st->hostname), o, "hostname")) < 0 ||
	    (rc = get_str(st->sw_tag, sizeof(st->sw_tag), o, "sw_tag")) < 0 ||
	    (rc = get_str(st->sw_version, sizeof(st->sw_version), o, "sw_version")) < 0 ||
	    (rc = get_str(st->pi_uuid, sizeof(st->pi_uuid), o, "pi_uuid")) < 0 ||
	    (rc = get_str(st->secret, sizeof(st->secret), o, "secret")) < 0 ||
	    (rc = get_str(st->transport, sizeof(st->transport), o, "transport")) < 0 ||
	    (rc = get_str(st->url, sizeof(st->url), o, "url")) < 0 ||
	    (rc = get_str(st->smart_account, sizeof(st->smart_account), o, "smart_account")) < 0 ||
	    (rc = get_str(st->virtual_account, sizeof(st->virtual_account), o, "virtual_account")) <
		    0 ||
	    (rc = get_str(st->poll_id, sizeof(st->poll_id), o, "poll_id")) < 0 ||
	    (rc = get_str(st->last_push_error, sizeof(st->last_push_error), o, "last_push_error")) <
		    0)
		return rc;
	fmt = json_string_value(json_object_get(o, "rum_format"));
	st->rum_format = fmt && fmt[0] == 'B' ? 'B' : 'A';
	st->created = get_int(o, "created");
	st->interval_days = (uint32_t)get_int(o, "interval_days");
	st->next_report_id = (uint64_t)get_int(o, "next_report_id");
	json_array_foreach(json_object_get(o, "entitlements"), i, v) {
		if (st->n_ent == RUM_AGENT_MAX_ENT)
			return rum_err_set(RUM_EINVAL, "state: too many entitlements");
		if ((rc = get_str(st->ent[st->n_ent].tag, RUM_AGENT_STR, v, "tag")) < 0)
			return rc;
		st->ent[st->n_ent++].count = (uint32_t)get_int(v, "count");
	}
	json_array_foreach(json_object_get(o, "reports"), i, v) {
		struct rum_agent_report *r = report_add(st);
		int s = parse_state_name(json_string_value(json_object_get(v, "state")));
		const char *doc = json_string_value(json_object_get(v, "doc"));

		if (s < 0 || (rc = get_str(r->tag, sizeof(r->tag), v, "tag")) < 0)
			return rc < 0 ? rc : rum_err_set(RUM_EINVAL, "state: bad report state");
		if ((s != RUM_AGENT_REPORT_OPEN) != (doc != NULL))
			return rum_err_set(RUM_EINVAL,
					   "state: report document missing or misplaced");
		r->state = (enum rum_agent_report_state)s;
		r->id = (uint64_t)get_int(v, "id");
		r->start = get_int(v, "start");
		r->end = get_int(v, "end");
		r->count = (uint32_t)get_int(v, "count");
		r->doc = doc ? strdup(doc) : NULL;
	}
	pol = json_object_get(o, "policy");
	if ((rc = get_str(st->policy.name, sizeof(st->policy.name), pol, "name")) < 0)
		return rc;
	st->policy.installed = json_is_true(json_object_get(pol, "installed"));
	st->policy.ack_required = json_is_true(json_object_get(pol, "ack_required"));
	st->policy.version = (uint32_t)get_int(pol, "version");
	st->policy.install_time = get_int(pol, "install_time");
	for (int k = 0; k < RUM_AGENT_POL_N; k++) {
		json_t *a = json_object_get(json_object_get(pol, "attrs"), pol_keys[k]);
		st->policy.attrs[k].first = (uint32_t)json_integer_value(json_array_get(a, 0));
		st->policy.attrs[k].ongoing = (uint32_t)json_integer_value(json_array_get(a, 1));
		st->policy.attrs[k].macd = (uint32_t)json_integer_value(json_array_get(a, 2));
	}
	st->trust_time = get_int(o, "trust_time");
	st->last_ack_time = get_int(o, "last_ack_time");
	st->last_push = get_int(o, "last_push");
	st->next_push_ms = get_int(o, "next_push_ms");
	st->last_file_write = get_int(o, "last_file_write");
	st->next_poll_ms = get_int(o, "next_poll_ms");
	st->poll_stage = (int)get_int(o, "poll_stage");
	return 0;
}

int rum_agent_state_load(struct rum_agent_state *st, const char *dir)
{
	char path[1100];
	char *buf = NULL;
	size_t len;
	json_error_t e;
	json_t *o;
	int rc;

	memset(st, 0, sizeof(*st));
	if (strlen(dir) >= sizeof(st->dir))
		return rum_err_set(RUM_EINVAL, "state directory path too long");
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	snprintf(path, sizeof(path), "%s/state.json", dir);
	rc = rum_agent_read_file(&buf, &len, path, STATE_MAX_BYTES);
	if (rc == RUM_ENOTFOUND)
		return rum_err_set(RUM_ENOTFOUND, "no device in %s (run rum-agent init)", dir);
	if (rc < 0)
		return rc;
	o = json_loadb(buf, len, 0, &e);
	free(buf);
	if (!o || !json_is_object(o)) {
		json_decref(o);
		return rum_err_set(RUM_EINVAL, "%s is not valid JSON: %s", path, e.text);
	}
	rc = from_json(st, o);
	json_decref(o);
	if (rc < 0)
		rum_agent_state_dispose(st);
	return rc;
}

int rum_agent_state_save(const struct rum_agent_state *st)
{
	char path[1100];
	json_t *o = to_json(st);
	char *text = json_dumps(o, JSON_INDENT(1) | JSON_PRESERVE_ORDER);
	int rc;

	json_decref(o);
	if (!text)
		abort();
	snprintf(path, sizeof(path), "%s/state.json", st->dir);
	rc = rum_agent_write_file_atomic(path, text, strlen(text));
	free(text);
	return rc;
}

void rum_agent_state_dispose(struct rum_agent_state *st)
{
	for (size_t i = 0; i < st->n_rep; i++)
		free(st->rep[i].doc);
	free(st->rep);
	st->rep = NULL;
	st->n_rep = st->cap_rep = 0;
}

int rum_agent_state_create(struct rum_agent_state *st, int64_t now)
{
	char path[1100], uuid[40];
	struct stat sb;
	int rc;

	if (mkdir(st->dir, 0700) != 0 && errno != EEXIST)
		return rum_err_set(RUM_EIO, "cannot create %s: %s", st->dir, strerror(errno));
	snprintf(path, sizeof(path), "%s/state.json", st->dir);
	if (stat(path, &sb) == 0)
		return rum_err_set(RUM_ECONFLICT, "%s already holds a device", st->dir);
	snprintf(path, sizeof(path), "%s/bootflash", st->dir);
	if (mkdir(path, 0700) != 0 && errno != EEXIST)
		return rum_err_set(RUM_EIO, "cannot create %s: %s", path, strerror(errno));
	if ((rc = rum_agent_random_hex(st->secret, sizeof(st->secret), 32)) < 0 ||
	    (rc = rum_agent_random_hex(uuid, sizeof(uuid), 16)) < 0)
		return rc;
	snprintf(st->pi_uuid, sizeof(st->pi_uuid), "%.8s-%.4s-%.4s-%.4s-%.12s", uuid, uuid + 8,
		 uuid + 12, uuid + 16, uuid + 20);
	if (!st->sw_tag[0])
		snprintf(st->sw_tag, sizeof(st->sw_tag), "regid.2017-05.com.cisco.%s,v1_%s",
			 st->pid, st->pi_uuid);
	if (!st->sw_version[0])
		snprintf(st->sw_version, sizeof(st->sw_version), "17.09.04");
	if (!st->rum_format)
		st->rum_format = 'B';
	if (!st->transport[0])
		snprintf(st->transport, sizeof(st->transport), "%s", st->url[0] ? "cslu" : "off");
	st->created = now;
	st->next_report_id = (uint64_t)now;
	rum_agent_policy_default(&st->policy);
	for (size_t i = 0; i < st->n_ent; i++)
		if (st->ent[i].count > 0)
			open_report(st, st->ent[i].tag, st->ent[i].count, now);
	return rum_agent_state_save(st);
}
