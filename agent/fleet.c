/* A fleet of simulated devices in one thread, see fleet.h. */
#include "agent/fleet.h"

#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "agent/files.h"
#include "agent/report.h"
#include "agent/state.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/log.h"

#define FLEET_PENDING 16 /* report windows a device keeps unacknowledged, at most */
#define FLEET_MAGIC "RUMFLT\0\1"
#define FLEET_VERSION 1u
#define FLEET_SAVE_MS 30000 /* the store is saved this often */
/* After an unclean stop the devices skip this many windows: more than a
 * device can close between two saves (each window costs a round trip). */
#define FLEET_SKIP (1u << 20)
#define FLEET_DEFAULT_TAG \
	"regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53=1"

/* Device timers before the speed-up, as push.c's. */
#define FLEET_POLL_FIRST_S 60.0
#define FLEET_POLL_SECOND_S 300.0
#define FLEET_POLL_LATER_S 86400.0
#define FLEET_RETRY_S 3600.0

enum { KIND_HELLO, KIND_USAGE, KIND_POLL };
enum { DEV_HELLO_DONE = 1, DEV_BUSY = 2 }; /* flags, this run only */

/* The store: this header, then `count` records. Fixed sizes, native byte
 * order: a store belongs to the machine that made it. */
struct fleet_header {
	char magic[8];
	uint32_t version, count, n_ents, clean, record_size, reserved;
	int64_t created_s; /* report ids and window times count from here */
	char seed[72];     /* devices' secrets and instance ids derive from it */
	char pid[64];
	char format;
	char reserved2[7];
	char tags[RUM_AGENT_FLEET_MAX_ENTS][RUM_AGENT_STR];
	uint32_t counts[RUM_AGENT_FLEET_MAX_ENTS];
};

/* One device. Windows [seq_lo, seq_next) are closed and not acknowledged:
 * [seq_lo, seq_sent) were accepted by the server, the rest wait to be sent.
 * Window k runs from the end of window k-1 (lo_start for seq_lo) to
 * end[k % FLEET_PENDING], in seconds after created_s; it holds one report
 * per entitlement e, with id created_s + k * n_ents + e. */
struct fleet_dev {
	int64_t next_push_ms, next_poll_ms; /* epoch ms */
	uint32_t seq_lo, seq_sent, seq_next, lo_start;
	uint32_t end[FLEET_PENDING];
	uint32_t acks; /* ACK files installed */
	uint8_t ack_mask[FLEET_PENDING];
	char poll_id[24]; /* outstanding result poll, "" when none */
	uint8_t poll_stage, flags;
	uint8_t reserved[6];
};

struct fleet_heap_item {
	int64_t wake;
	uint32_t idx;
};

struct fleet {
	const struct rum_agent_fleet_opts *o;
	char path[1100];
	unsigned char *mem; /* header + records, saved as they are */
	size_t mem_len;
	struct fleet_header *h;
	struct fleet_dev *dev;
	struct fleet_heap_item *heap;
	size_t heap_n;
	/* Each device's seq_sent and seq_lo when this run began: rounds count
	 * the windows accepted and acknowledged since. */
	uint32_t *base_sent, *base_lo;
	struct rum_agent_http_pool *pool;
	struct rum_agent_state *st; /* identity of the device being built */
	struct rum_agent_ack *ack;
	int64_t period_ms, poll1_ms, poll2_ms, poll3_ms, retry_ms;
	/* tallies of this run */
	unsigned long sent[3], ok[3], failures, reports, acks;
	char last_error[400];
};

static volatile sig_atomic_t fleet_stop;

static void fleet_on_signal(int sig)
{
	(void)sig;
	fleet_stop = 1;
}

/* ---- identity and reports, all derived from the store ---- */

/* Fills f->st with device i's identity. */
static int fleet_identity(struct fleet *f, uint32_t i)
{
	struct rum_agent_state *st = f->st;
	char msg[64], hex[65];
	int rc;

	snprintf(st->pid, sizeof(st->pid), "%s", f->h->pid);
	snprintf(st->serial, sizeof(st->serial), "FLT%08u", i);
	snprintf(st->hostname, sizeof(st->hostname), "fleet-%05u", i);
	snprintf(msg, sizeof(msg), "secret:%u", i);
	if ((rc = rum_agent_derive_hex(hex, f->h->seed, msg)) < 0)
		return rc;
	snprintf(st->secret, sizeof(st->secret), "%s", hex);
	snprintf(msg, sizeof(msg), "instance:%u", i);
	if ((rc = rum_agent_derive_hex(hex, f->h->seed, msg)) < 0)
		return rc;
	snprintf(st->pi_uuid, sizeof(st->pi_uuid), "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8,
		 hex + 12, hex + 16, hex + 20);
	snprintf(st->sw_tag, sizeof(st->sw_tag), "regid.2017-05.com.cisco.%s,v1_%s", st->pid,
		 st->pi_uuid);
	snprintf(st->sw_version, sizeof(st->sw_version), "17.09.04");
	st->rum_format = f->h->format;
	return 0;
}

static uint32_t fleet_window_start(const struct fleet_dev *d, uint32_t k)
{
	return k == d->seq_lo ? d->lo_start : d->end[(k - 1) % FLEET_PENDING];
}

static uint64_t fleet_report_id(const struct fleet *f, uint32_t k, uint32_t e)
{
	return (uint64_t)f->h->created_s + (uint64_t)k * f->h->n_ents + e;
}

/* The report object (JSON text, caller frees) of window k, entitlement e
 * of the device whose identity is in f->st. */
static char *fleet_report(struct fleet *f, const struct fleet_dev *d, uint32_t k, uint32_t e)
{
	struct rum_agent_report r = {0};

	r.id = fleet_report_id(f, k, e);
	snprintf(r.tag, sizeof(r.tag), "%s", f->h->tags[e]);
	r.state = RUM_AGENT_REPORT_OPEN;
	r.count = f->h->counts[e];
	r.start = f->h->created_s + fleet_window_start(d, k);
	if (rum_agent_report_close(f->st, &r, f->h->created_s + d->end[k % FLEET_PENDING],
				   "ReportingRequested") < 0)
		return NULL;
	return r.doc;
}

/* ---- messages ---- */

static char *fleet_dumps(json_t *m)
{
	char *body = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);

	json_decref(m);
	if (!body)
		abort();
	return body;
}

static char *fleet_hello(struct fleet *f)
{
	json_t *m = rum_agent_envelope(f->st);

	json_object_set_new(m, "hostname", json_string(f->st->hostname));
	json_object_set_new(m, "software_tag_identifier", json_string(f->st->sw_tag));
	return fleet_dumps(m);
}

/* The reports of windows [seq_sent, seq_next) in one usage message. */
static char *fleet_usage(struct fleet *f, const struct fleet_dev *d)
{
	json_t *usage = json_array(), *m, *rep;

	for (uint32_t k = d->seq_sent; k < d->seq_next; k++)
		for (uint32_t e = 0; e < f->h->n_ents; e++) {
			char *doc = fleet_report(f, d, k, e);
			json_t *v = doc ? json_loads(doc, 0, NULL) : NULL;

			free(doc);
			if (!v) {
				json_decref(usage);
				return NULL;
			}
			json_array_append_new(usage, v);
		}
	m = rum_agent_envelope(f->st);
	rep = json_pack("{s:{s:s,s:s},s:s,s:s,s:[],s:o}", "sudi", "udi_pid", f->st->pid,
			"udi_serial_number", f->st->serial, "hostname", f->st->hostname,
			"software_tag_identifier", f->st->sw_tag, "trust_requests", "usage", usage);
	json_object_set_new(m, "reports", json_pack("[o]", rep));
	return fleet_dumps(m);
}

static char *fleet_poll(const struct fleet_dev *d)
{
	char nonce[20];

	rum_agent_random_hex(nonce, sizeof(nonce), 8);
	return fleet_dumps(json_pack("{s:s,s:I,s:s,s:s}", "poll_id", d->poll_id, "timestamp",
				     (json_int_t)rum_agent_now_ms(), "nonce", nonce, "action",
				     "acknowledgements"));
}

/* ---- the schedule: a min-heap of devices by their next work ---- */

static void fleet_heap_push(struct fleet *f, uint32_t idx, int64_t wake)
{
	size_t i = f->heap_n++;

	while (i > 0) {
		size_t up = (i - 1) / 2;

		if (f->heap[up].wake <= wake)
			break;
		f->heap[i] = f->heap[up];
		i = up;
	}
	f->heap[i] = (struct fleet_heap_item){wake, idx};
}

static uint32_t fleet_heap_pop(struct fleet *f)
{
	uint32_t top = f->heap[0].idx;
	struct fleet_heap_item last = f->heap[--f->heap_n];
	size_t i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= f->heap_n)
			break;
		if (c + 1 < f->heap_n && f->heap[c + 1].wake < f->heap[c].wake)
			c++;
		if (last.wake <= f->heap[c].wake)
			break;
		f->heap[i] = f->heap[c];
		i = c;
	}
	if (f->heap_n > 0)
		f->heap[i] = last;
	return top;
}

static int64_t fleet_wake(const struct fleet_dev *d)
{
	int64_t w = d->next_push_ms;

	if (d->poll_id[0] && d->next_poll_ms < w)
		w = d->next_poll_ms;
	return w;
}

/* ---- the store ---- */

static int fleet_save(struct fleet *f, int clean)
{
	f->h->clean = (uint32_t)clean;
	return rum_agent_write_file_atomic(f->path, (const char *)f->mem, f->mem_len);
}

static int fleet_alloc(struct fleet *f, uint32_t count)
{
	f->mem_len = sizeof(struct fleet_header) + (size_t)count * sizeof(struct fleet_dev);
	f->mem = calloc(1, f->mem_len);
	if (!f->mem)
		return rum_err_set(RUM_EIO, "no memory for %u devices", count);
	f->h = (struct fleet_header *)f->mem;
	f->dev = (struct fleet_dev *)(f->mem + sizeof(struct fleet_header));
	return 0;
}

/* Checks what a store file says before anything trusts it. */
static int fleet_check(const struct fleet *f, size_t file_len)
{
	const struct fleet_header *h = f->h;

	if (file_len < sizeof(*h) || memcmp(h->magic, FLEET_MAGIC, 8) != 0)
		return rum_err_set(RUM_EINVAL, "%s is not a rum-agent fleet store", f->path);
	if (h->version != FLEET_VERSION || h->record_size != sizeof(struct fleet_dev))
		return rum_err_set(RUM_EINVAL, "%s: store version %u (record %u bytes) is not %u",
				   f->path, h->version, h->record_size, FLEET_VERSION);
	if (h->count < 1 || h->count > RUM_AGENT_FLEET_MAX ||
	    file_len != sizeof(*h) + (size_t)h->count * sizeof(struct fleet_dev))
		return rum_err_set(RUM_EINVAL, "%s: %zu bytes do not hold the %u devices it names",
				   f->path, file_len, h->count);
	if (h->n_ents < 1 || h->n_ents > RUM_AGENT_FLEET_MAX_ENTS ||
	    (h->format != 'A' && h->format != 'B') || !memchr(h->pid, 0, sizeof(h->pid)) ||
	    !memchr(h->seed, 0, sizeof(h->seed)))
		return rum_err_set(RUM_EINVAL, "%s: header is damaged", f->path);
	for (uint32_t e = 0; e < h->n_ents; e++)
		if (!memchr(h->tags[e], 0, sizeof(h->tags[e])) || !h->tags[e][0])
			return rum_err_set(RUM_EINVAL, "%s: entitlement %u is damaged", f->path, e);
	for (uint32_t i = 0; i < h->count; i++) {
		const struct fleet_dev *d = &f->dev[i];

		if (d->seq_lo > d->seq_sent || d->seq_sent > d->seq_next ||
		    d->seq_next - d->seq_lo > FLEET_PENDING ||
		    !memchr(d->poll_id, 0, sizeof(d->poll_id)))
			return rum_err_set(RUM_EINVAL, "%s: device %u is damaged", f->path, i);
	}
	return 0;
}

/* Reads the store into f. RUM_ENOTFOUND when there is none. */
static int fleet_load(struct fleet *f)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = rum_agent_read_file(&buf, &len, f->path,
				     sizeof(struct fleet_header) +
					     (size_t)RUM_AGENT_FLEET_MAX *
						     sizeof(struct fleet_dev));

	if (rc < 0) {
		struct stat sb;

		return stat(f->path, &sb) != 0 && errno == ENOENT
			       ? rum_err_set(RUM_ENOTFOUND, "no fleet store at %s", f->path)
			       : rc;
	}
	f->mem = (unsigned char *)buf;
	f->mem_len = len;
	f->h = (struct fleet_header *)f->mem;
	f->dev = (struct fleet_dev *)(f->mem + sizeof(struct fleet_header));
	rc = fleet_check(f, len);
	if (rc < 0) {
		free(buf);
		f->mem = NULL;
	}
	return rc;
}

/* A new store for o->count devices, their first reports due over `ramp_ms`. */
static int fleet_create(struct fleet *f, int64_t now_ms, int64_t ramp_ms)
{
	const struct rum_agent_fleet_opts *o = f->o;
	int rc = fleet_alloc(f, (uint32_t)o->count);

	if (rc < 0)
		return rc;
	memcpy(f->h->magic, FLEET_MAGIC, 8);
	f->h->version = FLEET_VERSION;
	f->h->record_size = sizeof(struct fleet_dev);
	f->h->count = (uint32_t)o->count;
	f->h->created_s = now_ms / 1000;
	f->h->format = o->format ? o->format : 'B';
	snprintf(f->h->pid, sizeof(f->h->pid), "%s", o->pid ? o->pid : "C9300-24P");
	if ((rc = rum_agent_random_hex(f->h->seed, sizeof(f->h->seed), 32)) < 0)
		return rc;
	f->h->n_ents = (uint32_t)(o->n_ents ? o->n_ents : 1);
	for (uint32_t e = 0; e < f->h->n_ents; e++) {
		rc = rum_agent_parse_usage_arg(f->h->tags[e], &f->h->counts[e],
					       o->n_ents ? o->ents[e] : FLEET_DEFAULT_TAG);
		if (rc < 0)
			return rc;
	}
	for (uint32_t i = 0; i < f->h->count; i++) {
		/* Spread evenly (by a multiplicative hash) over the ramp. */
		uint64_t spread = ramp_ms > 0 ? ((uint64_t)i * 2654435761u) % (uint64_t)ramp_ms : 0;

		f->dev[i].next_push_ms = now_ms + (int64_t)spread;
	}
	return 0;
}

/* A store left by a kill: ids used after its last save are unknown, so
 * every device starts past them, forgetting the windows it had open. */
static void fleet_recover(struct fleet *f, int64_t now_ms)
{
	uint32_t now_off = (uint32_t)(now_ms / 1000 - f->h->created_s);

	for (uint32_t i = 0; i < f->h->count; i++) {
		struct fleet_dev *d = &f->dev[i];

		d->seq_next += FLEET_SKIP;
		d->seq_lo = d->seq_sent = d->seq_next;
		d->lo_start = now_off;
		d->poll_id[0] = '\0';
		memset(d->ack_mask, 0, sizeof(d->ack_mask));
	}
}

/* Opens (or makes) the store at o->root. */
static int fleet_open(struct fleet *f, int create, int64_t ramp_ms)
{
	const struct rum_agent_fleet_opts *o = f->o;
	int64_t now = rum_agent_now_ms();
	int rc;

	if (snprintf(f->path, sizeof(f->path), "%s/fleet.store", o->root) >= (int)sizeof(f->path))
		return rum_err_set(RUM_EINVAL, "fleet directory path too long");
	rc = fleet_load(f);
	if (rc == RUM_ENOTFOUND && create) {
		if (mkdir(o->root, 0700) != 0 && errno != EEXIST)
			return rum_err_set(RUM_EIO, "cannot create %s: %s", o->root,
					   strerror(errno));
		if ((rc = fleet_create(f, now, ramp_ms)) == 0)
			rc = fleet_save(f, 0);
		return rc;
	}
	if (rc < 0 || !create)
		return rc;
	if (o->count && (uint32_t)o->count != f->h->count)
		return rum_err_set(RUM_EINVAL,
				   "the fleet store %s holds %u devices, not --count %d (remove "
				   "it to start a new fleet)",
				   f->path, f->h->count, o->count);
	if (!f->h->clean)
		fleet_recover(f, now);
	for (uint32_t i = 0; i < f->h->count; i++) {
		struct fleet_dev *d = &f->dev[i];

		d->flags = 0;
		/* Timers set under another speed-up: none later than one interval. */
		if (d->next_push_ms > now + f->period_ms)
			d->next_push_ms = now + f->period_ms;
		if (d->next_poll_ms > now + f->poll3_ms)
			d->next_poll_ms = now + f->poll3_ms;
	}
	/* In use from now on: a kill before the clean save at the end must
	 * not leave a store that looks clean. */
	return fleet_save(f, 0);
}

/* ---- exchanges ---- */

static int64_t fleet_after(double seconds, double speedup)
{
	int64_t d = (int64_t)(seconds * 1000.0 / speedup);
	return d > 0 ? d : 1;
}

/* Installs the ACKs of a reply; returns how many applied to this device. */
static int fleet_install(struct fleet *f, uint32_t i, json_t *reply)
{
	struct fleet_dev *d = &f->dev[i];
	uint64_t udi = rum_agent_udi_hash(f->st->pid, f->st->serial);
	uint32_t full = (1u << f->h->n_ents) - 1;
	json_t *v;
	size_t n;
	int installed = 0;

	json_array_foreach(json_object_get(reply, "acknowledgements"), n, v) {
		const char *b64 = json_string_value(json_object_get(v, "smart_license"));
		char *xml = NULL;
		size_t len = 0;

		if (!b64 ||
		    rum_crypto_base64_decode(&xml, &len, b64, strlen(b64), RUM_AGENT_FILE_MAX) <
			    0 ||
		    rum_agent_ack_parse(f->ack, xml, len) < 0) {
			snprintf(f->last_error, sizeof(f->last_error),
				 "device %u: an ACK that is not one: %s", i, rum_err_msg());
			free(xml);
			continue;
		}
		free(xml);
		for (size_t k = 0; k < f->ack->n_ids; k++) {
			uint64_t id = f->ack->ids[k], base = fleet_report_id(f, d->seq_lo, 0);
			uint64_t seq;

			if ((f->ack->id_udi[k] && f->ack->id_udi[k] != udi) || id < base)
				continue;
			seq = (id - (uint64_t)f->h->created_s) / f->h->n_ents;
			if (seq >= d->seq_sent)
				continue;
			d->ack_mask[seq % FLEET_PENDING] |=
				(uint8_t)(1u << ((id - (uint64_t)f->h->created_s) % f->h->n_ents));
		}
		while (d->seq_lo < d->seq_sent && d->ack_mask[d->seq_lo % FLEET_PENDING] == full) {
			d->ack_mask[d->seq_lo % FLEET_PENDING] = 0;
			d->lo_start = d->end[d->seq_lo % FLEET_PENDING];
			d->seq_lo++;
		}
		d->acks++;
		f->acks++;
		installed++;
	}
	if (installed)
		d->poll_id[0] = '\0'; /* what the poll waited for is here */
	return installed;
}

/* The next exchange of device i, due at now; 0 when one went out. */
static int fleet_start(struct fleet *f, uint32_t i, int64_t now)
{
	struct fleet_dev *d = &f->dev[i];
	char *body;
	int kind;

	if (fleet_identity(f, i) < 0)
		return -1;
	if (!(d->flags & DEV_HELLO_DONE)) {
		kind = KIND_HELLO;
		body = fleet_hello(f);
	} else if (d->poll_id[0] && now >= d->next_poll_ms) {
		kind = KIND_POLL;
		body = fleet_poll(d);
	} else if (now >= d->next_push_ms) {
		/* Close the open window (room allowing) and send what is unsent. */
		if (d->seq_next - d->seq_lo < FLEET_PENDING) {
			uint32_t start = fleet_window_start(d, d->seq_next);
			uint32_t end = (uint32_t)(now / 1000 - f->h->created_s);

			d->end[d->seq_next % FLEET_PENDING] = end > start ? end : start + 1;
			d->ack_mask[d->seq_next % FLEET_PENDING] = 0;
			d->seq_next++;
		}
		if (d->seq_sent == d->seq_next) {
			d->next_push_ms = now + f->period_ms; /* all sent, ACKs awaited */
			return 1;
		}
		kind = KIND_USAGE;
		body = fleet_usage(f, d);
	} else {
		return 1;
	}
	if (!body)
		return -1;
	if (rum_agent_http_pool_post(f->pool, f->o->url, body,
				     ((uint64_t)i << 2) | (uint64_t)kind) < 0) {
		free(body);
		return -1;
	}
	d->flags |= DEV_BUSY;
	f->sent[kind]++;
	return 0;
}

static void fleet_failed(struct fleet *f, uint32_t i, const char *what, const char *why)
{
	f->failures++;
	snprintf(f->last_error, sizeof(f->last_error), "device %u %s: %s", i, what, why);
}

static void fleet_done(void *ctx, uint64_t tag, int rc, const struct rum_agent_http_reply *r,
		       const char *err)
{
	static const char *const names[] = {"hello", "usage", "poll"};
	struct fleet *f = ctx;
	uint32_t i = (uint32_t)(tag >> 2);
	int kind = (int)(tag & 3);
	struct fleet_dev *d = &f->dev[i];
	int64_t now = rum_agent_now_ms();
	json_t *reply = NULL;
	const char *status = NULL;
	char why[300];

	d->flags &= (uint8_t)~DEV_BUSY;
	if (rc == 0) {
		reply = json_loadb(r->body, r->len, 0, NULL);
		status = json_string_value(json_object_get(reply, "status"));
		snprintf(why, sizeof(why), "HTTP %ld %s", r->status,
			 status ? status : "(no JSON status)");
	} else {
		snprintf(why, sizeof(why), "%s", err);
	}
	fleet_identity(f, i);
	switch (kind) {
	case KIND_HELLO:
		if (rc == 0 && r->status == 200) {
			d->flags |= DEV_HELLO_DONE;
			f->ok[kind]++;
			fleet_install(f, i, reply);
		} else {
			fleet_failed(f, i, names[kind], why);
			d->next_push_ms = now + f->retry_ms; /* and hello again then */
		}
		break;
	case KIND_USAGE:
		if (status && (strcmp(status, "OK_POLL") == 0 || strcmp(status, "OK") == 0)) {
			json_t *pid = json_object_get(reply, "poll_id");

			f->ok[kind]++;
			f->reports += (d->seq_next - d->seq_sent) * f->h->n_ents;
			d->seq_sent = d->seq_next;
			d->next_push_ms = now + f->period_ms;
			if (strcmp(status, "OK") == 0)
				fleet_install(f, i, reply);
			if (json_is_integer(pid))
				snprintf(d->poll_id, sizeof(d->poll_id), "%lld",
					 (long long)json_integer_value(pid));
			else if (json_is_string(pid) && json_string_length(pid) > 0 &&
				 json_string_length(pid) < sizeof(d->poll_id))
				snprintf(d->poll_id, sizeof(d->poll_id), "%s",
					 json_string_value(pid));
			if (strcmp(status, "OK_POLL") == 0 && d->poll_id[0]) {
				d->poll_stage = 0;
				d->next_poll_ms = now + f->poll1_ms;
			}
		} else {
			fleet_failed(f, i, names[kind], why);
			d->next_push_ms = now + f->retry_ms;
		}
		break;
	case KIND_POLL:
		if (rc == 0 && r->status == 404) {
			/* The server forgot the upload: send those reports again,
			 * byte for byte. */
			fleet_failed(f, i, names[kind], why);
			d->seq_sent = d->seq_lo;
			d->poll_id[0] = '\0';
			d->next_push_ms = now + f->retry_ms;
		} else if (status &&
			   (strcmp(status, "OK") == 0 || strcmp(status, "OK_POLL") == 0)) {
			f->ok[kind]++;
			if (!(strcmp(status, "OK") == 0 && fleet_install(f, i, reply) > 0)) {
				d->poll_stage++;
				d->next_poll_ms = now +
						  (d->poll_stage == 1 ? f->poll2_ms : f->poll3_ms);
			}
		} else {
			fleet_failed(f, i, names[kind], why);
			d->next_poll_ms = now + f->poll3_ms;
		}
		break;
	}
	json_decref(reply);
	fleet_heap_push(f, i, (d->flags & DEV_HELLO_DONE) ? fleet_wake(d) : d->next_push_ms);
}

/* ---- the run ---- */

struct fleet_counts {
	unsigned long with_ack, all_sent, all_acked;
};

static void fleet_count(const struct fleet *f, struct fleet_counts *c)
{
	memset(c, 0, sizeof(*c));
	for (uint32_t i = 0; i < f->h->count; i++) {
		const struct fleet_dev *d = &f->dev[i];

		c->with_ack += d->acks > 0;
		c->all_sent += (int64_t)d->seq_sent >= (int64_t)f->base_sent[i] + f->o->rounds;
		c->all_acked += (int64_t)d->seq_lo >= (int64_t)f->base_lo[i] + f->o->rounds_acked;
	}
}

static void fleet_progress(const struct fleet *f, double secs, const char *prefix)
{
	struct fleet_counts c;
	unsigned long msgs = f->sent[0] + f->sent[1] + f->sent[2];

	fleet_count(f, &c);
	printf("%s%.1f s, %lu messages (%.1f/s: %lu hello, %lu usage, %lu poll), %lu failures, "
	       "%lu reports sent, %lu devices with their ACK (%lu ACKs installed)\n",
	       prefix, secs, msgs, secs > 0 ? msgs / secs : 0.0, f->sent[0], f->sent[1], f->sent[2],
	       f->failures, f->reports, c.with_ack, f->acks);
	fflush(stdout);
}

static int fleet_finished(const struct fleet *f)
{
	struct fleet_counts c;

	if (!f->o->rounds && !f->o->rounds_acked)
		return 0;
	fleet_count(f, &c);
	return c.all_sent == f->h->count && c.all_acked == f->h->count;
}

static int fleet_loop(struct fleet *f)
{
	const struct rum_agent_fleet_opts *o = f->o;
	int64_t start = rum_agent_now_ms(), last_save = start, last_progress = start,
		last_check = start;
	double progress_ms = (o->progress_s > 0 ? o->progress_s : 10.0) * 1000.0;

	for (uint32_t i = 0; i < f->h->count; i++)
		fleet_heap_push(f, i, f->dev[i].next_push_ms);
	while (!fleet_stop) {
		int64_t now = rum_agent_now_ms();
		int timeout;

		while (f->heap_n > 0 && f->heap[0].wake <= now &&
		       rum_agent_http_pool_busy(f->pool) < o->concurrency) {
			uint32_t i = fleet_heap_pop(f);
			int rc = fleet_start(f, i, now);

			if (rc < 0) {
				fleet_failed(f, i, "message", rum_err_msg());
				f->dev[i].next_push_ms = now + f->retry_ms;
			}
			if (rc != 0)
				fleet_heap_push(f, i, fleet_wake(&f->dev[i]));
		}
		if (o->duration > 0 && now - start >= (int64_t)(o->duration * 1000.0))
			break;
		if (now - last_check >= 200) {
			last_check = now;
			if (fleet_finished(f))
				break;
		}
		if (!o->quiet && now - last_progress >= (int64_t)progress_ms) {
			last_progress = now;
			fleet_progress(f, (double)(now - start) / 1000.0, "fleet at ");
		}
		if (now - last_save >= FLEET_SAVE_MS) {
			last_save = now;
			if (fleet_save(f, 0) < 0)
				fprintf(stderr, "rum-agent fleet: %s\n", rum_err_msg());
		}
		timeout = 100;
		if (f->heap_n > 0 && rum_agent_http_pool_busy(f->pool) < o->concurrency) {
			int64_t until = f->heap[0].wake - now;
			timeout = until < 0 ? 0 : until < 100 ? (int)until : 100;
		}
		if (rum_agent_http_pool_busy(f->pool) > 0) {
			rum_agent_http_pool_run(f->pool, timeout, fleet_done, f);
		} else if (timeout > 0) {
			struct timespec ts = {0, (long)timeout * 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	/* Let what is in flight land (its outcome goes into the store). */
	for (int64_t until = rum_agent_now_ms() + 10000;
	     rum_agent_http_pool_busy(f->pool) > 0 && rum_agent_now_ms() < until;)
		rum_agent_http_pool_run(f->pool, 100, fleet_done, f);
	fleet_progress(f, (double)(rum_agent_now_ms() - start) / 1000.0, "fleet at ");
	printf("fleet: %u devices, ", f->h->count);
	fleet_progress(f, (double)(rum_agent_now_ms() - start) / 1000.0, "");
	if (f->last_error[0])
		printf("fleet: last failure: %s\n", f->last_error);
	return rum_agent_http_pool_busy(f->pool) == 0 ? 0 : -1;
}

static void fleet_dispose(struct fleet *f)
{
	rum_agent_http_pool_free(f->pool);
	free(f->mem);
	free(f->heap);
	free(f->base_sent);
	free(f->base_lo);
	free(f->st);
	free(f->ack);
}

int rum_agent_fleet_run(const struct rum_agent_fleet_opts *o)
{
	struct fleet f = {.o = o};
	struct sigaction sa = {.sa_handler = fleet_on_signal};
	double speedup = o->speedup >= 1 ? o->speedup : 1;
	double interval_s = (o->interval_days ? o->interval_days : 90) * 86400.0;
	int drained, rc;

	if (o->count < 1 || o->count > RUM_AGENT_FLEET_MAX)
		return rum_err_set(RUM_EINVAL, "fleet needs --count N (1..%d)",
				   RUM_AGENT_FLEET_MAX);
	if (!o->url || !o->url[0])
		return rum_err_set(RUM_EINVAL, "fleet needs --url");
	if (o->n_ents > RUM_AGENT_FLEET_MAX_ENTS)
		return rum_err_set(RUM_EINVAL, "a fleet device has at most %d entitlements",
				   RUM_AGENT_FLEET_MAX_ENTS);
	if (o->concurrency < 1)
		return rum_err_set(RUM_EINVAL, "--concurrency must be at least 1");
	f.period_ms = fleet_after(interval_s, speedup);
	f.poll1_ms = fleet_after(FLEET_POLL_FIRST_S, speedup);
	f.poll2_ms = fleet_after(FLEET_POLL_SECOND_S, speedup);
	f.poll3_ms = fleet_after(FLEET_POLL_LATER_S, speedup);
	f.retry_ms = fleet_after(FLEET_RETRY_S, speedup);
	f.st = calloc(1, sizeof(*f.st));
	f.ack = calloc(1, sizeof(*f.ack));
	if (!f.st || !f.ack)
		abort();
	/* First reports over one interval, and no longer than 10 s. */
	rc = fleet_open(&f, 1,
			o->ramp_s > 0 ? (int64_t)(o->ramp_s * 1000.0)
				      : (f.period_ms < 10000 ? f.period_ms : 10000));
	if (rc < 0)
		goto out;
	f.heap = calloc(f.h->count, sizeof(*f.heap));
	f.base_sent = calloc(f.h->count, sizeof(*f.base_sent));
	f.base_lo = calloc(f.h->count, sizeof(*f.base_lo));
	if (!f.heap || !f.base_sent || !f.base_lo)
		abort();
	for (uint32_t i = 0; i < f.h->count; i++) {
		f.base_sent[i] = f.dev[i].seq_sent;
		f.base_lo[i] = f.dev[i].seq_lo;
	}
	f.pool = rum_agent_http_pool_new(o->concurrency);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	drained = fleet_loop(&f);
	/* Clean only when nothing is in flight: an answer not seen could have
	 * stored reports the store does not know it sent. */
	rc = fleet_save(&f, drained == 0);
out:
	fleet_dispose(&f);
	return rc;
}

int rum_agent_fleet_dump(const char *root, long index)
{
	struct rum_agent_fleet_opts o = {.root = root};
	struct fleet f = {.o = &o};
	int rc;

	f.st = calloc(1, sizeof(*f.st));
	if (!f.st)
		abort();
	rc = fleet_open(&f, 0, 0);
	if (rc == 0 && index >= (long)f.h->count)
		rc = rum_err_set(RUM_EINVAL, "--device %ld: the fleet has devices 0..%u", index,
				 f.h->count - 1);
	for (uint32_t i = index >= 0 ? (uint32_t)index : 0; rc == 0 && i < f.h->count; i++) {
		const struct fleet_dev *d = &f.dev[i];
		json_t *reps = json_array(), *out;
		char *line;

		if ((rc = fleet_identity(&f, i)) < 0)
			break;
		for (uint32_t k = d->seq_lo; k < d->seq_next && rc == 0; k++)
			for (uint32_t e = 0; e < f.h->n_ents; e++) {
				char *doc = fleet_report(&f, d, k, e);
				const char *state = (d->ack_mask[k % FLEET_PENDING] >> e) & 1
							    ? "ACK"
						    : k < d->seq_sent ? "UNACK"
								      : "CLOSED";

				if (!doc) {
					rc = -1;
					break;
				}
				json_array_append_new(reps,
						      json_pack("{s:I,s:s,s:s}", "id",
								(json_int_t)fleet_report_id(&f, k,
											    e),
								"state", state, "doc", doc));
				free(doc);
			}
		out = json_pack("{s:i,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:o}", "index", (int)i, "pid",
				f.st->pid, "serial", f.st->serial, "hostname", f.st->hostname,
				"version", f.st->sw_version, "format",
				f.h->format == 'A' ? "A" : "B", "acks", (json_int_t)d->acks,
				"windows_acknowledged", (json_int_t)d->seq_lo, "poll_id",
				d->poll_id, "reports", reps);
		line = fleet_dumps(out);
		puts(line);
		free(line);
		if (index >= 0)
			break;
	}
	fleet_dispose(&f);
	return rc;
}
