/* NETCONF client session, see netconf_client.h. Bytes come from the SSH
 * subsystem channel into a small buffer and go through the framing decoder,
 * which stops after each complete message; what is left in the buffer is fed
 * after the framing switch that follows the hellos. */
#include "collector/netconf_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/netconf_framing.h"
#include "lib/text.h"

#define DEFAULT_MAX_REPLY (64u * 1024 * 1024)
#define DEFAULT_RPC_MS 60000
#define CLOSE_WAIT_MS 2000 /* close-session is a courtesy: not worth longer */
#define QUOTE_MAX 200      /* bytes of the device's output quoted in an error */
#define QUOTE_SIZE (QUOTE_MAX * 4 + 1)

struct rum_netconf {
	struct rum_ssh *ssh;
	struct rum_netconf_options o;
	struct rum_netconf_framing dec;
	enum rum_netconf_framing_mode mode;
	struct rum_netconf_hello peer;
	unsigned long long last_id; /* message-id of the last rpc sent */
	int broken;                 /* after an error: no more RPCs */
	char head[QUOTE_MAX];       /* first raw bytes of the message being read */
	size_t head_len, msg_bytes; /* raw bytes of that message: kept, seen */
	size_t in_off, in_len;      /* unconsumed bytes in in[] */
	char in[16384];
};

/* What a device sent, safe for a one-line message (rum_text_quote), for
 * use inside a format's arguments. */
static const char *quote(char out[QUOTE_SIZE], const char *text, size_t len)
{
	rum_text_quote(out, QUOTE_SIZE, text, len, QUOTE_MAX);
	return out;
}

static int64_t earlier(int64_t a, int64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

/* The deadline of one exchange (the hellos, or one RPC). */
static int64_t exchange_deadline(const struct rum_netconf *nc)
{
	return earlier(rum_ssh_now_ms() + nc->o.rpc_timeout_ms, nc->o.deadline_ms);
}

static int fail(struct rum_netconf *nc, int code)
{
	nc->broken = 1;
	return code;
}

/* Remembers the first raw bytes of the message being read, for errors. */
static void keep_head(struct rum_netconf *nc, const char *p, size_t n)
{
	size_t room = sizeof(nc->head) - nc->head_len;

	memcpy(nc->head + nc->head_len, p, n < room ? n : room);
	nc->head_len += n < room ? n : room;
	nc->msg_bytes += n;
}

/* Feeds buffered input to the decoder: 1 with a message ready, 0 when the
 * buffer is used up, or a framing error (the raw bytes quoted). */
static int feed(struct rum_netconf *nc, const char *what)
{
	char q[QUOTE_SIZE];
	size_t used = 0;
	int rc = rum_netconf_framing_feed(&nc->dec, nc->in + nc->in_off, nc->in_len - nc->in_off,
					  &used);

	/* On a framing error, quote the offending bytes too. */
	keep_head(nc, nc->in + nc->in_off, rc < 0 ? nc->in_len - nc->in_off : used);
	nc->in_off += used;
	if (rc < 0)
		return rum_err_set(rc, "%s: %s; device sent: \"%s\"", what, rum_err_msg(),
				   quote(q, nc->head, nc->head_len));
	return rc;
}

/* Reads one complete message (*msg malloc'd, NUL-terminated) before
 * deadline. */
static int read_msg(struct rum_netconf *nc, char **msg, size_t *len, int64_t deadline,
		    const char *what)
{
	char q[QUOTE_SIZE];
	ssize_t n;
	int rc;

	nc->head_len = nc->msg_bytes = 0;
	while ((rc = feed(nc, what)) == 0) {
		n = rum_ssh_read(nc->ssh, nc->in, sizeof(nc->in), deadline);
		if (n == RUM_ETIMEDOUT)
			return fail(nc, rum_err_set(RUM_ETIMEDOUT,
						    "%s: no complete answer in time "
						    "(%zu bytes received; %s)",
						    what, nc->msg_bytes, rum_err_msg()));
		if (n < 0)
			return fail(nc, rum_err_set((int)n, "%s: %s", what, rum_err_msg()));
		if (n == 0 && nc->msg_bytes == 0)
			return fail(nc,
				    rum_err_set(RUM_EIO, "%s: device closed the session", what));
		if (n == 0)
			return fail(nc, rum_err_set(RUM_EIO,
						    "%s: device closed the session after %zu bytes "
						    "of a message: \"%s\"",
						    what, nc->msg_bytes,
						    quote(q, nc->head, nc->head_len)));
		nc->in_off = 0;
		nc->in_len = (size_t)n;
	}
	if (rc < 0)
		return fail(nc, rc);
	return rum_netconf_framing_take(&nc->dec, msg, len);
}

static int send_msg(struct rum_netconf *nc, const char *msg, size_t len, int64_t deadline,
		    const char *what)
{
	char *framed;
	size_t framed_len;
	int rc = rum_netconf_framing_encode(&framed, &framed_len, nc->mode, msg, len);

	if (rc < 0)
		return fail(nc, rc);
	rc = rum_ssh_write(nc->ssh, framed, framed_len, deadline);
	free(framed);
	if (rc < 0)
		return fail(nc, rum_err_set(rc, "%s: %s", what, rum_err_msg()));
	return 0;
}

/* ---- hello ---- */

static int send_hello(struct rum_netconf *nc, int64_t deadline)
{
	char hello[512];
	int n = snprintf(hello, sizeof(hello),
			 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			 "<hello xmlns=\"" RUM_NETCONF_NS "\"><capabilities>"
			 "<capability>" RUM_NETCONF_BASE10 "</capability>%s"
			 "</capabilities></hello>",
			 nc->o.base10_only ? ""
					   : "<capability>" RUM_NETCONF_BASE11 "</capability>");

	return send_msg(nc, hello, (size_t)n, deadline, "netconf hello");
}

/* Reads the device's hello and picks the framing: chunked when both speak
 * base:1.1, end-of-message when the device speaks base:1.0. */
static int read_hello(struct rum_netconf *nc, int64_t deadline)
{
	char *msg = NULL, q[QUOTE_SIZE];
	size_t len = 0;
	int rc;

	if ((rc = read_msg(nc, &msg, &len, deadline, "netconf hello")) < 0)
		goto out;
	if ((rc = rum_netconf_xml_hello(&nc->peer, msg, len)) < 0) {
		rc = fail(nc, rum_err_set(rc, "netconf hello: %s; device sent: \"%s\"",
					  rum_err_msg(), quote(q, msg, len)));
		goto out;
	}
	if (nc->peer.base11 && !nc->o.base10_only)
		nc->mode = RUM_NETCONF_FRAMING_CHUNKED;
	else if (nc->peer.base10)
		nc->mode = RUM_NETCONF_FRAMING_EOM;
	else
		rc = fail(nc,
			  rum_err_set(RUM_EINVAL,
				      "netconf hello: no common base (device offers %s, we offer %s)",
				      nc->peer.base11 ? "only base:1.1" : "neither base",
				      nc->o.base10_only ? "only base:1.0" : "base:1.0 and 1.1"));
	if (rc == 0)
		rc = rum_netconf_framing_set_mode(&nc->dec, nc->mode);
out:
	free(msg);
	return rc;
}

int rum_netconf_open(struct rum_netconf **out, struct rum_ssh *ssh,
		     const struct rum_netconf_options *o)
{
	struct rum_netconf *nc = calloc(1, sizeof(*nc));
	int64_t deadline;
	int rc;

	if (!nc)
		abort();
	*out = NULL;
	nc->ssh = ssh;
	nc->o = *o;
	if (!nc->o.max_reply)
		nc->o.max_reply = DEFAULT_MAX_REPLY;
	if (nc->o.rpc_timeout_ms <= 0)
		nc->o.rpc_timeout_ms = DEFAULT_RPC_MS;
	nc->mode = RUM_NETCONF_FRAMING_EOM;
	rum_netconf_framing_init(&nc->dec, nc->o.max_reply);
	deadline = exchange_deadline(nc);
	if ((rc = rum_ssh_subsystem_open(ssh, "netconf")) < 0 ||
	    (rc = send_hello(nc, deadline)) < 0 || (rc = read_hello(nc, deadline)) < 0) {
		rum_netconf_framing_dispose(&nc->dec);
		free(nc);
		return rc;
	}
	*out = nc;
	return 0;
}

const struct rum_netconf_hello *rum_netconf_peer(const struct rum_netconf *nc)
{
	return &nc->peer;
}

int rum_netconf_base(const struct rum_netconf *nc)
{
	return nc->mode == RUM_NETCONF_FRAMING_CHUNKED ? 11 : 10;
}

/* ---- rpc ---- */

static int send_rpc(struct rum_netconf *nc, const char *op, int64_t deadline)
{
	size_t size = strlen(op) + 128;
	char *rpc = malloc(size);
	int n, rc;

	if (!rpc)
		abort();
	n = snprintf(rpc, size, "<rpc message-id=\"%llu\" xmlns=\"" RUM_NETCONF_NS "\">%s</rpc>",
		     ++nc->last_id, op);
	rc = send_msg(nc, rpc, (size_t)n, deadline, "netconf rpc");
	free(rpc);
	return rc;
}

/* A reply must answer our last rpc: a missing message-id is accepted (some
 * IOS-XE releases leave it out; one RPC is outstanding, so order matches). */
static int check_reply(struct rum_netconf *nc, const char *msg, size_t len,
		       struct rum_netconf_reply *r)
{
	char q[QUOTE_SIZE], qid[QUOTE_SIZE], want[24];
	int rc = rum_netconf_xml_reply(r, msg, len);

	if (rc < 0)
		return fail(nc, rum_err_set(rc, "netconf rpc: %s; device sent: \"%s\"",
					    rum_err_msg(), quote(q, msg, len)));
	snprintf(want, sizeof(want), "%llu", nc->last_id);
	if (r->message_id && strcmp(r->message_id, want) != 0) {
		rc = fail(nc,
			  rum_err_set(RUM_EINVAL,
				      "netconf rpc: reply to message-id \"%.40s\", expected \"%s\"; "
				      "device sent: \"%s\"",
				      quote(qid, r->message_id, strlen(r->message_id)), want,
				      quote(q, msg, len)));
		rum_netconf_reply_dispose(r);
		memset(r, 0, sizeof(*r));
	}
	return rc;
}

int rum_netconf_rpc(struct rum_netconf *nc, const char *op, char **reply_text, size_t *reply_len,
		    struct rum_netconf_reply *reply)
{
	int64_t deadline = exchange_deadline(nc);
	struct rum_netconf_reply local;
	struct rum_netconf_reply *r = reply ? reply : &local;
	char *msg = NULL;
	size_t len = 0;
	int rc;

	memset(r, 0, sizeof(*r));
	if (reply_text)
		*reply_text = NULL;
	if (reply_len)
		*reply_len = 0;
	if (nc->broken)
		return rum_err_set(RUM_EIO, "netconf session unusable after an earlier error");
	if ((rc = send_rpc(nc, op, deadline)) < 0 ||
	    (rc = read_msg(nc, &msg, &len, deadline, "netconf rpc")) < 0 ||
	    (rc = check_reply(nc, msg, len, r)) < 0)
		goto out;
	if (!reply)
		rum_netconf_reply_dispose(r);
	if (reply_text) {
		*reply_text = msg;
		msg = NULL;
	}
	if (reply_len)
		*reply_len = len;
out:
	free(msg);
	return rc;
}

void rum_netconf_close(struct rum_netconf *nc)
{
	char saved[512];

	if (!nc)
		return;
	if (!nc->broken) {
		/* Best effort, and the caller's error message survives it. */
		snprintf(saved, sizeof(saved), "%s", rum_err_msg());
		nc->o.deadline_ms = earlier(rum_ssh_now_ms() + CLOSE_WAIT_MS, nc->o.deadline_ms);
		rum_netconf_rpc(nc, "<close-session/>", NULL, NULL, NULL);
		rum_err_set(0, "%s", saved);
	}
	rum_netconf_framing_dispose(&nc->dec);
	free(nc);
}
