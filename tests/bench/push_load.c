/* push_load: load generator for rumd's device push endpoint (CSLU transport).
 *
 * C virtual clients, one keep-alive HTTP/1.1 connection each, all driven by
 * one epoll loop over loopback. Each client is one device (distinct UDI) that
 * posts CSSM-shaped usage messages (PROTOCOL 1.3) carrying R RUM reports in
 * format A, each padded with measurements to a size drawn between --min-kb
 * and --max-kb, with distinct, increasing report ids; after each OK_POLL
 * reply it sends one result poll for that poll_id (unless --no-poll).
 *
 * Message bodies are generated before the timed phase; at send time only the
 * fixed-width timestamp, nonce and report ids are patched in place, so the
 * generator's own CPU stays small.
 *
 * Prints requests/s, reports/s, latency percentiles, errors by status, and a
 * final machine-readable "RESULT key=value ..." line. Never fails on timing:
 * the exit status is 0 unless the arguments are bad or nothing could be sent.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RID_DIGITS 16 /* report ids: base (epoch s * 1e6) + per-client counter */
#define TS_DIGITS 13  /* epoch milliseconds */
#define NONCE_CHARS 16
#define MAX_STATUS 600
#define POLL_ID_MAX 64
#define RESP_MAX (4u << 20)

/* ---------------------------------------------------------------- utils */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("push_load: ", stderr);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		die("out of memory (%zu bytes)", n);
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (!q)
		die("out of memory (%zu bytes)", n);
	return q;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* xorshift64*: deterministic for a given --seed */
static uint64_t rng_state = 88172645463325252ull;
static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}
static uint64_t rnd_range(uint64_t lo, uint64_t hi) /* inclusive */
{
	return hi <= lo ? lo : lo + rnd() % (hi - lo + 1);
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Writes v as exactly `width` decimal digits (zero padded) at p. */
static void put_digits(char *p, uint64_t v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

static void put_hex(char *p, uint64_t v, int width)
{
	static const char hx[] = "0123456789abcdef";
	for (int i = width - 1; i >= 0; i--) {
		p[i] = hx[v & 15];
		v >>= 4;
	}
}

/* growable byte buffer */
struct buf {
	char *p;
	size_t len, cap;
};

static void buf_reserve(struct buf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < b->len + extra + 1)
		cap *= 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

static void buf_add(struct buf *b, const char *s, size_t n)
{
	buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		die("vsnprintf failed");
	buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* ------------------------------------------------------------- options */

struct opts {
	char host[256];
	int port;
	char path[1024];
	char hosthdr[300];
	long clients;
	double duration;
	double warmup;
	long requests; /* 0: run for duration */
	long rpm;      /* reports per message */
	long min_kb, max_kb;
	int poll;
	uint64_t seed;
	uint64_t rid_base;
	long templates; /* pre-generated messages per client */
	double timeout;
	long print_report; /* >0: print one report object of about this many bytes and exit */
	int timeline;
};

static void usage(FILE *f)
{
	fputs("usage: push_load [options]\n"
	      "  --url URL                 http://127.0.0.1:PORT/cslu/v1/pi[/tenant] (default http://127.0.0.1:8182/cslu/v1/pi)\n"
	      "  --clients N               concurrent clients, one connection and one device each (64)\n"
	      "  --duration S              measured seconds (20)\n"
	      "  --requests N              stop after N measured usage messages instead (0 = use --duration)\n"
	      "  --warmup S                unmeasured seconds before (3)\n"
	      "  --reports-per-message R   RUM reports per usage message (1)\n"
	      "  --min-kb K, --max-kb K    size range of one RUM report in KiB (4, 20)\n"
	      "  --no-poll                 do not follow each usage message with a result poll\n"
	      "  --seed N                  seed for sizes, UDIs and content (1)\n"
	      "  --report-id-base N        first report id (default: epoch seconds * 1000000)\n"
	      "  --templates N             pre-generated messages per client (default: up to 8, within ~256 MiB)\n"
	      "  --timeout S               per-request timeout (30)\n"
	      "  --timeline                print usage replies per second of the measured phase\n"
	      "  --print-report BYTES      print one RUM report object of about BYTES bytes and exit\n",
	      f);
}

static void parse_url(struct opts *o, const char *url)
{
	const char *p = url;
	if (strncmp(p, "http://", 7) != 0)
		die("--url must start with http:// (got %s)", url);
	p += 7;
	const char *slash = strchr(p, '/');
	const char *hp_end = slash ? slash : p + strlen(p);
	const char *colon = memchr(p, ':', (size_t)(hp_end - p));
	const char *host_end = colon ? colon : hp_end;
	size_t hl = (size_t)(host_end - p);
	if (hl == 0 || hl >= sizeof o->host)
		die("bad host in --url %s", url);
	memcpy(o->host, p, hl);
	o->host[hl] = '\0';
	o->port = 80;
	if (colon) {
		char tmp[16];
		size_t pl = (size_t)(hp_end - colon - 1);
		long v;
		if (pl == 0 || pl >= sizeof tmp)
			die("bad port in --url %s", url);
		memcpy(tmp, colon + 1, pl);
		tmp[pl] = '\0';
		if (parse_long(tmp, 1, 65535, &v))
			die("bad port in --url %s", url);
		o->port = (int)v;
	}
	const char *path = slash ? slash : "/";
	if (strlen(path) >= sizeof o->path)
		die("--url path too long");
	snprintf(o->path, sizeof o->path, "%s", path);
	snprintf(o->hosthdr, sizeof o->hosthdr, "%.*s", (int)(hp_end - p), p);
}

static double parse_secs(const char *name, const char *s)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || v < 0 || v > 86400)
		die("bad value for %s: %s", name, s);
	return v;
}

static long parse_opt_long(const char *name, const char *s, long lo, long hi)
{
	long v;
	if (parse_long(s, lo, hi, &v))
		die("bad value for %s: %s (expected %ld..%ld)", name, s, lo, hi);
	return v;
}

static void parse_args(struct opts *o, int argc, char **argv)
{
	memset(o, 0, sizeof *o);
	parse_url(o, "http://127.0.0.1:8182/cslu/v1/pi");
	o->clients = 64;
	o->duration = 20;
	o->warmup = 3;
	o->rpm = 1;
	o->min_kb = 4;
	o->max_kb = 20;
	o->poll = 1;
	o->seed = 1;
	o->timeout = 30;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEEDV()                                     \
	do {                                        \
		if (!v)                             \
			die("%s needs a value", a); \
		i++;                                \
	} while (0)
		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		} else if (!strcmp(a, "--url")) {
			NEEDV();
			parse_url(o, v);
		} else if (!strcmp(a, "--clients")) {
			NEEDV();
			o->clients = parse_opt_long(a, v, 1, 100000);
		} else if (!strcmp(a, "--duration")) {
			NEEDV();
			o->duration = parse_secs(a, v);
		} else if (!strcmp(a, "--warmup")) {
			NEEDV();
			o->warmup = parse_secs(a, v);
		} else if (!strcmp(a, "--requests")) {
			NEEDV();
			o->requests = parse_opt_long(a, v, 0, LONG_MAX);
		} else if (!strcmp(a, "--reports-per-message")) {
			NEEDV();
			o->rpm = parse_opt_long(a, v, 1, 10000);
		} else if (!strcmp(a, "--min-kb")) {
			NEEDV();
			o->min_kb = parse_opt_long(a, v, 1, 100000);
		} else if (!strcmp(a, "--max-kb")) {
			NEEDV();
			o->max_kb = parse_opt_long(a, v, 1, 100000);
		} else if (!strcmp(a, "--no-poll")) {
			o->poll = 0;
		} else if (!strcmp(a, "--seed")) {
			NEEDV();
			o->seed = (uint64_t)parse_opt_long(a, v, 0, LONG_MAX);
		} else if (!strcmp(a, "--report-id-base")) {
			NEEDV();
			o->rid_base = (uint64_t)parse_opt_long(a, v, 1, 8999999999999999L);
		} else if (!strcmp(a, "--templates")) {
			NEEDV();
			o->templates = parse_opt_long(a, v, 1, 1000);
		} else if (!strcmp(a, "--timeout")) {
			NEEDV();
			o->timeout = parse_secs(a, v);
		} else if (!strcmp(a, "--timeline")) {
			o->timeline = 1;
		} else if (!strcmp(a, "--print-report")) {
			NEEDV();
			o->print_report = parse_opt_long(a, v, 512, 100L << 20);
		} else {
			usage(stderr);
			die("unknown option %s", a);
		}
#undef NEEDV
	}
	if (o->min_kb > o->max_kb)
		die("--min-kb is larger than --max-kb");
	if (o->duration <= 0 && o->requests <= 0)
		die("need --duration > 0 or --requests > 0");
	if (o->timeout <= 0)
		o->timeout = 30;
	if (!o->rid_base)
		o->rid_base = (uint64_t)time(NULL) * 1000000ull;
	if (o->rid_base > 8999999999999999ull)
		die("report id base too large");
}

/* ---------------------------------------------------- message content */

static const char *const sw_tag =
	"regid.2019-10.com.cisco.C8000V,1.0_e361c3dc-27c2-4084-b4a4-cae639cff335";
static const char *const ent_tags[] = {
	"regid.2018-12.com.cisco.DNA_P_50M_A,1.0_100fb8b2-f5cc-459c-9253-ac77b827fd71",
	"regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53",
	"regid.2018-06.com.cisco.DNA_NWStack,1.0_e7244e71-3ad5-4608-8bf0-d12f67c80896",
	"regid.2019-03.com.cisco.DNA_HSEC,1.0_9a1b6ec2-27b1-4c4b-8b8e-4a5f40f4d0c2",
	"regid.2018-12.com.cisco.DNA_A_100M_A,1.0_2a5e2a34-0d5a-4b43-9a6f-3c5a2c7f7e21",
};
static const char *const term_reasons[] = {
	"CurrentUsageRequested",
	"ReportingIntervalExpired",
	"Reload",
	"LicenseRelease",
};

/* Appends one measurement (escaped, it lives inside the payload string). */
static void add_measurement(struct buf *b, uint64_t *t, int first)
{
	uint64_t interval = rnd_range(300, 28800);
	uint64_t start = *t, end = start + interval;
	*t = end + rnd_range(0, 60);
	int telemetry = rnd() % 8 == 0;
	if (!first)
		buf_puts(b, ",");
	buf_printf(b,
		   "{\\\"log_time\\\":%" PRIu64
		   ",\\\"metric_name\\\":\\\"%s\\\",\\\"start_time\\\":%" PRIu64
		   ",\\\"end_time\\\":%" PRIu64 ",\\\"sample_interval\\\":%" PRIu64
		   ",\\\"num_samples\\\":%" PRIu64
		   ",\\\"meta\\\":{\\\"termination_reason\\\":\\\"%s\\\"},\\\"value\\\":{\\\"type\\\":\\\"COUNT\\\","
		   "\\\"value\\\":\\\"%" PRIu64 "\\\"}}",
		   end + rnd_range(0, 600), telemetry ? "TELEMETRY" : "ENTITLEMENT", start, end,
		   interval, rnd_range(1, 48), term_reasons[rnd() % 4],
		   telemetry ? rnd_range(0, 100000) : rnd_range(1, 64));
}

static void add_base64(struct buf *b, size_t n)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	buf_reserve(b, n);
	for (size_t i = 0; i < n; i++)
		b->p[b->len + i] = b64[rnd() & 63];
	b->len += n;
	b->p[b->len] = '\0';
}

/* Appends one RUM report object of about `target` bytes. The report id is
 * written as RID_DIGITS digits; its offset (relative to b->p) is returned. */
static size_t add_report(struct buf *b, const char *serial, uint64_t rid, size_t target)
{
	size_t start = b->len;
	const char *tag = ent_tags[rnd() % (sizeof ent_tags / sizeof ent_tags[0])];
	buf_printf(b,
		   "{\"payload\":\"{\\\"asset_identification\\\":{\\\"asset\\\":{\\\"name\\\":\\\"%s\\\"},"
		   "\\\"instance\\\":{\\\"sudi\\\":{\\\"udi_pid\\\":\\\"C8000V\\\",\\\"udi_serial_number\\\":\\\"%s\\\"}},"
		   "\\\"signature\\\":{\\\"signing_type\\\":\\\"builtin\\\",\\\"key\\\":\\\"%s\\\",\\\"value\\\":\\\"%s\\\"}},"
		   "\\\"meta\\\":{\\\"entitlement_tag\\\":\\\"%s\\\",\\\"report_id\\\":",
		   sw_tag, serial, sw_tag, serial, tag);
	size_t rid_off = b->len;
	char digits[RID_DIGITS + 1];
	put_digits(digits, rid, RID_DIGITS);
	buf_add(b, digits, RID_DIGITS);
	buf_printf(b,
		   ",\\\"software_version\\\":\\\"17.06.02\\\",\\\"ha_udi\\\":[{\\\"role\\\":\\\"Active\\\","
		   "\\\"sudi\\\":{\\\"udi_pid\\\":\\\"C8000V\\\",\\\"udi_serial_number\\\":\\\"%s\\\"}}]},"
		   "\\\"measurements\\\":[",
		   serial);
	/* the tail after the measurements, to know how much room they may take */
	struct buf tail = {0};
	buf_printf(&tail,
		   "]}\",\"header\":{\"type\":\"rum\"},\"signature\":{\"sudi\":{\"udi_pid\":\"C8000V\","
		   "\"udi_serial_number\":\"%s\"},\"signing_type\":\"builtin\",\"key\":\"%s\",\"value\":\"",
		   serial, sw_tag);
	const size_t sig_len = 344; /* base64 of a 256-byte signature */
	size_t fixed_tail = tail.len + sig_len + 3;
	uint64_t t = (uint64_t)time(NULL) - 86400 * 30 + rnd_range(0, 86400);
	int first = 1;
	do { /* at least one measurement; then until the report reaches its size */
		add_measurement(b, &t, first);
		first = 0;
	} while (b->len - start + fixed_tail < target);
	buf_add(b, tail.p, tail.len);
	add_base64(b, sig_len);
	buf_puts(b, "\"}}");
	free(tail.p);
	return rid_off;
}

/* One pre-generated request: head + body, with patch offsets. */
struct tmpl {
	char *data;
	size_t len;
	size_t ts_off, nonce_off;
	size_t *rid_off; /* rpm entries */
	size_t report_bytes;
};

struct client;

struct stats {
	uint32_t *lat; /* microseconds */
	size_t n, cap;
};

static void stats_add(struct stats *s, double secs)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 4096;
		s->lat = xrealloc(s->lat, s->cap * sizeof *s->lat);
	}
	double us = secs * 1e6;
	s->lat[s->n++] = us > 4e9 ? 4000000000u : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

static double pct_ms(const struct stats *s, double p)
{
	if (!s->n)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)s->n);
	if (i >= s->n)
		i = s->n - 1;
	return s->lat[i] / 1000.0;
}

static void build_template(struct tmpl *t, const struct opts *o, const char *serial, long client,
			   uint64_t *next_rid)
{
	struct buf body = {0};
	buf_printf(&body,
		   "{\"sudi\":{\"udi_pid\":\"C8000V\",\"udi_serial_number\":\"%s\"},\"timestamp\":",
		   serial);
	size_t ts_off = body.len;
	buf_add(&body, "0000000000000", TS_DIGITS);
	buf_puts(&body, ",\"nonce\":\"");
	size_t nonce_off = body.len;
	buf_add(&body, "0000000000000000", NONCE_CHARS);
	buf_printf(&body,
		   "\",\"product_instance_identifier\":\"%08" PRIx64 "-%04x-4%03x-8%03x-%012" PRIx64
		   "\","
		   "\"reports\":[{\"sudi\":{\"udi_pid\":\"C8000V\",\"udi_serial_number\":\"%s\"},"
		   "\"hostname\":\"bench-edge-%05ld\",\"software_tag_identifier\":\"%s\",\"trust_requests\":[],"
		   "\"usage\":[",
		   o->seed & 0xffffffffu, (unsigned)(client & 0xffff), (unsigned)(rnd() & 0xfff),
		   (unsigned)(rnd() & 0xfff), (uint64_t)(rnd() & 0xffffffffffffull), serial, client,
		   sw_tag);
	t->rid_off = xmalloc((size_t)o->rpm * sizeof *t->rid_off);
	t->report_bytes = 0;
	for (long r = 0; r < o->rpm; r++) {
		if (r)
			buf_puts(&body, ",");
		size_t target = (size_t)rnd_range((uint64_t)o->min_kb * 1024,
						  (uint64_t)o->max_kb * 1024);
		size_t before = body.len;
		t->rid_off[r] = add_report(&body, serial, (*next_rid)++, target);
		t->report_bytes += body.len - before;
	}
	buf_puts(&body, "]}]}");

	struct buf req = {0};
	buf_printf(&req,
		   "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: push_load\r\nContent-Type: application/json\r\n"
		   "Accept: application/json\r\nContent-Length: %zu\r\n\r\n",
		   o->path, o->hosthdr, body.len);
	size_t head = req.len;
	buf_add(&req, body.p, body.len);
	free(body.p);
	t->data = req.p;
	t->len = req.len;
	t->ts_off = head + ts_off;
	t->nonce_off = head + nonce_off;
	for (long r = 0; r < o->rpm; r++)
		t->rid_off[r] += head;
}

/* -------------------------------------------------------------- clients */

enum cstate { C_IDLE, C_CONNECTING, C_SENDING, C_READING };
enum kind { K_USAGE, K_POLL };

struct client {
	long idx;
	int fd;
	enum cstate st;
	enum kind kind;
	char serial[32];
	struct tmpl *tmpls;
	long ntmpl, next_tmpl;
	uint64_t next_rid;
	uint64_t nonce_ctr;
	/* current request */
	const char *out;
	size_t out_len, out_pos;
	struct buf pollreq;
	double t_start;
	int want_out;
	/* response */
	struct buf in;
	char poll_id[POLL_ID_MAX];
	int have_poll;
	int close_after;
};

struct run {
	struct opts o;
	struct sockaddr_in addr;
	int ep;
	struct client *cl;
	double t0, t_meas, t_end; /* t_end 0 while running by --requests */
	int measuring, stopping;
	/* measured */
	struct stats usage_lat, poll_lat;
	uint64_t usage_ok, poll_ok, completed, reports_ok;
	uint64_t status_cnt[2][MAX_STATUS];
	uint64_t bad_reply[2], timeouts, conn_errors, connects;
	uint64_t warm_completed;
	uint64_t *per_sec;
	size_t per_sec_n;
	uint64_t bytes_sent;
};

static struct run R;
static volatile sig_atomic_t interrupted;
static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void set_interest(struct client *c, int out)
{
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0u),
				 .data.ptr = c};
	if (c->want_out == out)
		return;
	c->want_out = out;
	if (epoll_ctl(R.ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die("epoll_ctl: %s", strerror(errno));
}

static void client_close(struct client *c)
{
	if (c->fd >= 0) {
		epoll_ctl(R.ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->st = C_IDLE;
	c->in.len = 0;
}

static int client_connect(struct client *c)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket: %s", strerror(errno));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	R.connects++;
	int rc = connect(fd, (struct sockaddr *)&R.addr, sizeof R.addr);
	if (rc < 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	c->fd = fd;
	c->want_out = 1;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
	if (epoll_ctl(R.ep, EPOLL_CTL_ADD, fd, &ev) < 0)
		die("epoll_ctl add: %s", strerror(errno));
	c->st = rc == 0 ? C_SENDING : C_CONNECTING;
	return 0;
}

static void count_error_conn(void)
{
	if (R.measuring)
		R.conn_errors++;
}

static void client_try_write(struct client *c);

/* Starts the next request on this client: a poll if one is owed, else the
 * next usage message. */
static void client_start(struct client *c)
{
	if (R.stopping || interrupted)
		return;
	if (c->have_poll && R.o.poll) {
		c->kind = K_POLL;
		c->pollreq.len = 0;
		char body[256];
		uint64_t ms = wall_ms();
		int bl = snprintf(body, sizeof body,
				  "{\"poll_id\":\"%s\",\"timestamp\":%" PRIu64
				  ",\"nonce\":\"%016" PRIx64 "\",\"action\":\"acknowledgements\"}",
				  c->poll_id, ms, (c->nonce_ctr++ << 16) ^ (uint64_t)c->idx);
		if (bl < 0 || (size_t)bl >= sizeof body)
			die("poll body too long");
		buf_printf(&c->pollreq,
			   "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: push_load\r\nContent-Type: application/json\r\n"
			   "Accept: application/json\r\nContent-Length: %d\r\n\r\n%s",
			   R.o.path, R.o.hosthdr, bl, body);
		c->out = c->pollreq.p;
		c->out_len = c->pollreq.len;
		c->have_poll = 0;
	} else {
		c->have_poll = 0;
		c->kind = K_USAGE;
		struct tmpl *t = &c->tmpls[c->next_tmpl];
		c->next_tmpl = (c->next_tmpl + 1) % c->ntmpl;
		put_digits(t->data + t->ts_off, wall_ms(), TS_DIGITS);
		put_hex(t->data + t->nonce_off, (c->nonce_ctr++ << 16) ^ (uint64_t)c->idx,
			NONCE_CHARS);
		for (long r = 0; r < R.o.rpm; r++) {
			if (c->next_rid - R.o.rid_base >= 999999999999ull)
				die("report id counter exhausted");
			put_digits(t->data + t->rid_off[r], c->next_rid++, RID_DIGITS);
		}
		c->out = t->data;
		c->out_len = t->len;
	}
	c->out_pos = 0;
	c->in.len = 0;
	c->close_after = 0;
	c->t_start = now_s();
	if (c->fd < 0) {
		if (client_connect(c) < 0) {
			count_error_conn();
			c->st = C_IDLE;
			return;
		}
		if (c->st == C_CONNECTING)
			return;
	}
	c->st = C_SENDING;
	client_try_write(c);
}

static void client_fail(struct client *c)
{
	count_error_conn();
	client_close(c);
	c->have_poll = 0;
	/* next request reconnects; pause is the main loop's idle pass */
}

static void client_try_write(struct client *c)
{
	while (c->out_pos < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_pos, c->out_len - c->out_pos, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				set_interest(c, 1);
				return;
			}
			client_fail(c);
			return;
		}
		c->out_pos += (size_t)n;
		R.bytes_sent += (uint64_t)n;
	}
	c->st = C_READING;
	set_interest(c, 0);
}

static int ci_prefix(const char *s, const char *end, const char *pfx)
{
	size_t n = strlen(pfx);
	if ((size_t)(end - s) < n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char a = s[i], b = pfx[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != b)
			return 0;
	}
	return 1;
}

static const char *find_mem(const char *hay, size_t hl, const char *needle)
{
	size_t nl = strlen(needle);
	if (nl > hl)
		return NULL;
	return memmem(hay, hl, needle, nl);
}

/* Decodes a chunked body in place. Returns 1 complete (body_len set),
 * 0 need more, -1 malformed. */
static int dechunk(char *b, size_t len, size_t *body_len)
{
	size_t in = 0, out = 0;
	for (;;) {
		const char *eol = find_mem(b + in, len - in, "\r\n");
		if (!eol)
			return 0;
		char *end;
		unsigned long sz = strtoul(b + in, &end, 16);
		if (end == b + in)
			return -1;
		in = (size_t)(eol - b) + 2;
		if (sz == 0) {
			/* trailers end with an empty line */
			if (len - in >= 2 && b[in] == '\r' && b[in + 1] == '\n') {
				*body_len = out;
				return 1;
			}
			if (find_mem(b + in, len - in, "\r\n\r\n")) {
				*body_len = out;
				return 1;
			}
			return 0;
		}
		if (len - in < sz + 2)
			return 0;
		memmove(b + out, b + in, sz);
		out += sz;
		in += sz + 2;
	}
}

static void record(struct client *c, int status, int ok)
{
	double t = now_s();
	int in_window = R.measuring && c->t_start >= R.t_meas && (R.t_end == 0 || t <= R.t_end);
	if (!in_window) {
		R.warm_completed++;
		return;
	}
	int k = c->kind == K_USAGE ? 0 : 1;
	R.completed++;
	if (status > 0 && status < MAX_STATUS)
		R.status_cnt[k][status]++;
	if (status == 200 && !ok)
		R.bad_reply[k]++;
	if (c->kind == K_USAGE) {
		stats_add(&R.usage_lat, t - c->t_start);
		if (ok) {
			R.usage_ok++;
			R.reports_ok += (uint64_t)R.o.rpm;
			size_t sec = (size_t)(t - R.t_meas);
			if (sec < R.per_sec_n)
				R.per_sec[sec]++;
		}
	} else {
		stats_add(&R.poll_lat, t - c->t_start);
		if (ok)
			R.poll_ok++;
	}
}

/* Extracts "poll_id": "<x>" or "poll_id": <digits>. */
static int get_poll_id(const char *body, size_t len, char *out, size_t outsz)
{
	const char *p = find_mem(body, len, "\"poll_id\"");
	if (!p)
		return -1;
	const char *end = body + len;
	p += 9;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	if (p >= end || *p != ':')
		return -1;
	p++;
	while (p < end && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n'))
		p++;
	size_t n = 0;
	if (p < end && *p == '"') {
		p++;
		while (p < end && *p != '"') {
			if (*p == '\\' || (unsigned char)*p < 0x20 || n + 1 >= outsz)
				return -1;
			out[n++] = *p++;
		}
		if (p >= end)
			return -1;
	} else {
		while (p < end && *p >= '0' && *p <= '9' && n + 1 < outsz)
			out[n++] = *p++;
	}
	if (!n)
		return -1;
	out[n] = '\0';
	return 0;
}

/* Handles a complete response. */
static void response_done(struct client *c, int status, const char *body, size_t blen)
{
	int ok = 0;
	if (status == 200) {
		if (c->kind == K_USAGE) {
			if (find_mem(body, blen, "\"OK_POLL\"") &&
			    get_poll_id(body, blen, c->poll_id, sizeof c->poll_id) == 0) {
				ok = 1;
				c->have_poll = 1;
			}
		} else {
			ok = find_mem(body, blen, "\"OK_POLL\"") || find_mem(body, blen, "\"OK\"");
		}
	}
	record(c, status, ok);
	if (c->close_after)
		client_close(c);
	else
		c->st = C_IDLE;
	client_start(c);
}

/* Tries to parse what has been read; returns 1 when a response completed
 * (and was handled), 0 when more is needed, -1 on a broken response. */
static int try_parse(struct client *c, int eof)
{
	char *b = c->in.p;
	size_t len = c->in.len;
	if (!b)
		return eof ? -1 : 0;
	char *hend = (char *)find_mem(b, len, "\r\n\r\n");
	if (!hend)
		return eof ? -1 : 0;
	size_t hlen = (size_t)(hend - b) + 4;
	if (len < 12 || strncmp(b, "HTTP/1.", 7) != 0)
		return -1;
	int status = (b[9] - '0') * 100 + (b[10] - '0') * 10 + (b[11] - '0');
	if (status < 100 || status > 599)
		return -1;
	long clen = -1;
	int chunked = 0, conn_close = strncmp(b, "HTTP/1.0", 8) == 0;
	for (char *l = memchr(b, '\n', hlen); l && l < hend;
	     l = memchr(l, '\n', (size_t)(hend - l))) {
		l++;
		if (ci_prefix(l, hend, "content-length:")) {
			char *e;
			clen = strtol(l + 15, &e, 10);
		} else if (ci_prefix(l, hend, "transfer-encoding:")) {
			if (find_mem(l, (size_t)(hend - l) < 64 ? (size_t)(hend - l) : 64,
				     "chunked"))
				chunked = 1;
		} else if (ci_prefix(l, hend, "connection:")) {
			const char *v = l + 11;
			while (*v == ' ')
				v++;
			if (ci_prefix(v, hend, "close"))
				conn_close = 1;
			else if (ci_prefix(v, hend, "keep-alive"))
				conn_close = 0;
		}
	}
	c->close_after = conn_close;
	if (status == 100) { /* interim response: drop it */
		memmove(b, b + hlen, len - hlen);
		c->in.len -= hlen;
		return try_parse(c, eof);
	}
	char *body = b + hlen;
	size_t avail = len - hlen;
	if (chunked) {
		size_t blen;
		int r = dechunk(body, avail, &blen);
		if (r < 0)
			return -1;
		if (r == 0)
			return eof ? -1 : 0;
		response_done(c, status, body, blen);
		return 1;
	}
	if (clen >= 0) {
		if (avail < (size_t)clen)
			return eof ? -1 : 0;
		response_done(c, status, body, (size_t)clen);
		return 1;
	}
	if (!eof)
		return 0;
	c->close_after = 1;
	response_done(c, status, body, avail);
	return 1;
}

static void client_read(struct client *c)
{
	for (;;) {
		buf_reserve(&c->in, 16384);
		ssize_t n = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len - 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			client_fail(c);
			return;
		}
		if (n == 0) {
			if (c->st == C_READING && try_parse(c, 1) == 1)
				return;
			if (c->st == C_IDLE) { /* server closed an idle keep-alive connection */
				client_close(c);
				return;
			}
			client_fail(c);
			return;
		}
		c->in.len += (size_t)n;
		c->in.p[c->in.len] = '\0';
		if (c->in.len > RESP_MAX) {
			client_fail(c);
			return;
		}
	}
	if (c->st == C_READING) {
		int r = try_parse(c, 0);
		if (r < 0) {
			if (R.measuring)
				R.bad_reply[c->kind == K_USAGE ? 0 : 1]++;
			client_fail(c);
		}
	}
}

static void on_event(struct client *c, uint32_t ev)
{
	if (c->st == C_CONNECTING) {
		int err = 0;
		socklen_t l = sizeof err;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
		if (err || (ev & (EPOLLERR | EPOLLHUP))) {
			client_fail(c);
			return;
		}
		c->st = C_SENDING;
	}
	if (c->st == C_SENDING && (ev & EPOLLOUT))
		client_try_write(c);
	if (c->fd >= 0 && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
		client_read(c);
}

/* -------------------------------------------------------------- report */

static void print_latency(const char *name, struct stats *s)
{
	qsort(s->lat, s->n, sizeof *s->lat, cmp_u32);
	printf("%-6s latency ms: p50 %.2f  p90 %.2f  p99 %.2f  max %.2f  (n=%zu)\n", name,
	       pct_ms(s, 50), pct_ms(s, 90), pct_ms(s, 99), s->n ? s->lat[s->n - 1] / 1000.0 : 0.0,
	       s->n);
}

/* ---------------------------------------------------------------- main */

int main(int argc, char **argv)
{
	parse_args(&R.o, argc, argv);
	struct opts *o = &R.o;
	rng_state ^= (o->seed + 1) * 0x9E3779B97F4A7C15ull;
	for (int i = 0; i < 8; i++)
		rnd();

	if (o->print_report) {
		struct buf b = {0};
		char serial[32];
		snprintf(serial, sizeof serial, "FBN%08" PRIx64, rnd() & 0xffffffffu);
		add_report(&b, serial, o->rid_base, (size_t)o->print_report);
		fwrite(b.p, 1, b.len, stdout);
		putchar('\n');
		free(b.p);
		return 0;
	}

	struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *ai = NULL;
	int gai = getaddrinfo(o->host, NULL, &hints, &ai);
	if (gai || !ai)
		die("cannot resolve %s: %s", o->host, gai_strerror(gai));
	memcpy(&R.addr, ai->ai_addr, sizeof R.addr);
	R.addr.sin_port = htons((uint16_t)o->port);
	freeaddrinfo(ai);

	signal(SIGPIPE, SIG_IGN);
	signal(SIGINT, on_sigint);
	signal(SIGTERM, on_sigint);

	/* pre-generate: templates per client within a memory budget */
	double avg_report = (double)(o->min_kb + o->max_kb) / 2.0 * 1024.0;
	double per_msg = avg_report * (double)o->rpm + 1024;
	long ntmpl = o->templates;
	if (!ntmpl) {
		double budget = 256.0 * 1024 * 1024;
		ntmpl = (long)(budget / (per_msg * (double)o->clients));
		if (ntmpl > 8)
			ntmpl = 8;
		if (ntmpl < 1)
			ntmpl = 1;
	}
	double tg0 = now_s();
	R.cl = xmalloc((size_t)o->clients * sizeof *R.cl);
	uint64_t total_bytes = 0, total_reports = 0, total_report_bytes = 0;
	for (long i = 0; i < o->clients; i++) {
		struct client *c = &R.cl[i];
		memset(c, 0, sizeof *c);
		c->idx = i;
		c->fd = -1;
		c->want_out = -1;
		/* 11-char serial like real ones; distinct per client, varies with seed */
		snprintf(c->serial, sizeof c->serial, "FBN%02" PRIx64 "%06ld", o->seed & 0xff, i);
		c->ntmpl = ntmpl;
		c->tmpls = xmalloc((size_t)ntmpl * sizeof *c->tmpls);
		c->next_rid = o->rid_base;
		uint64_t scratch_rid = o->rid_base;
		for (long k = 0; k < ntmpl; k++) {
			build_template(&c->tmpls[k], o, c->serial, i, &scratch_rid);
			total_bytes += c->tmpls[k].len;
			total_report_bytes += c->tmpls[k].report_bytes;
			total_reports += (uint64_t)o->rpm;
		}
		c->nonce_ctr = rnd() & 0xffffffffu;
	}
	double tg1 = now_s();
	printf("push_load: %s:%d%s  clients %ld  reports/message %ld  report size %ld-%ld KiB (mean %.1f KiB)  "
	       "poll %s\n",
	       o->host, o->port, o->path, o->clients, o->rpm, o->min_kb, o->max_kb,
	       (double)total_report_bytes / (double)total_reports / 1024.0, o->poll ? "on" : "off");
	printf("pre-generated %ld messages per client, %.1f MiB, mean message %.1f KiB, in %.2f s\n",
	       ntmpl, (double)total_bytes / 1048576.0,
	       (double)total_bytes / (double)(ntmpl * o->clients) / 1024.0, tg1 - tg0);
	if (o->requests)
		printf("warm-up %.1f s, then %ld usage messages\n", o->warmup, o->requests);
	else
		printf("warm-up %.1f s, then %.1f s measured\n", o->warmup, o->duration);
	fflush(stdout);

	R.ep = epoll_create1(EPOLL_CLOEXEC);
	if (R.ep < 0)
		die("epoll_create1: %s", strerror(errno));
	size_t max_secs = (size_t)(o->duration > 0 ? o->duration : 3600) + 2;
	R.per_sec_n = max_secs;
	R.per_sec = calloc(max_secs, sizeof *R.per_sec);
	if (!R.per_sec)
		die("out of memory");

	R.t0 = now_s();
	R.t_meas = R.t0 + o->warmup;
	R.measuring = o->warmup <= 0;
	for (long i = 0; i < o->clients; i++)
		client_start(&R.cl[i]);

	struct epoll_event evs[256];
	double last_idle_pass = R.t0;
	double t_stop = 0;
	while (!interrupted) {
		int n = epoll_wait(R.ep, evs, 256, 20);
		if (n < 0 && errno != EINTR)
			die("epoll_wait: %s", strerror(errno));
		for (int i = 0; i < n; i++)
			on_event(evs[i].data.ptr, evs[i].events);
		double t = now_s();
		if (!R.measuring && t >= R.t_meas)
			R.measuring = 1;
		if (R.measuring && !R.stopping) {
			int done;
			if (o->requests)
				done = R.usage_lat.n >= (uint64_t)o->requests ||
				       t - R.t_meas >= (double)(R.per_sec_n - 1);
			else
				done = t >= R.t_meas + o->duration;
			if (done) {
				R.stopping = 1;
				R.t_end = t;
				t_stop = t;
				break;
			}
		}
		/* timeouts and reconnects of idle (failed) clients, a few times a second */
		if (t - last_idle_pass >= 0.1) {
			last_idle_pass = t;
			for (long i = 0; i < o->clients; i++) {
				struct client *c = &R.cl[i];
				if (c->st != C_IDLE && t - c->t_start > o->timeout) {
					if (R.measuring)
						R.timeouts++;
					client_close(c);
				}
				if (c->st == C_IDLE && c->fd < 0)
					client_start(c);
			}
		}
	}
	if (!t_stop) {
		t_stop = now_s();
		R.t_end = t_stop;
		printf("interrupted\n");
	}
	int inflight = 0;
	for (long i = 0; i < o->clients; i++) {
		if (R.cl[i].st != C_IDLE)
			inflight++;
		client_close(&R.cl[i]);
	}
	double secs = t_stop - R.t_meas;
	if (secs <= 0)
		secs = 1e-9;

	uint64_t usage_n = R.usage_lat.n, poll_n = R.poll_lat.n;
	uint64_t err_total = R.timeouts + R.conn_errors + R.bad_reply[0] + R.bad_reply[1];
	for (int k = 0; k < 2; k++)
		for (int s = 0; s < MAX_STATUS; s++)
			if (s != 200)
				err_total += R.status_cnt[k][s];
	printf("\nmeasured %.2f s: %" PRIu64 " usage messages, %" PRIu64
	       " polls, %d in flight at the end\n",
	       secs, usage_n, poll_n, inflight);
	printf("requests/s   %10.1f   (usage + poll replies)\n", (double)R.completed / secs);
	printf("messages/s   %10.1f   (usage replies OK_POLL)\n", (double)R.usage_ok / secs);
	printf("reports/s    %10.1f   (reports in OK_POLL messages)\n",
	       (double)R.reports_ok / secs);
	printf("upload       %10.1f   MiB/s\n", (double)R.bytes_sent / 1048576.0 / (t_stop - R.t0));
	print_latency("usage", &R.usage_lat);
	if (o->poll)
		print_latency("poll", &R.poll_lat);
	if (usage_n) {
		size_t full = (size_t)secs, lo_i = 0, zero = 0;
		uint64_t lo = UINT64_MAX, hi = 0;
		for (size_t s = 0; s < full && s < R.per_sec_n; s++) {
			if (R.per_sec[s] < lo) {
				lo = R.per_sec[s];
				lo_i = s;
			}
			if (R.per_sec[s] > hi)
				hi = R.per_sec[s];
			if (!R.per_sec[s])
				zero++;
		}
		if (full)
			printf("OK usage replies per second: min %" PRIu64
			       " (second %zu)  max %" PRIu64 "  seconds with none: %zu\n",
			       lo, lo_i, hi, zero);
		if (o->timeline) {
			printf("timeline (OK usage replies per second):");
			for (size_t s = 0; s < full && s < R.per_sec_n; s++)
				printf(" %" PRIu64, R.per_sec[s]);
			printf("\n");
		}
	}
	printf("errors: %" PRIu64 " total", err_total);
	for (int k = 0; k < 2; k++)
		for (int s = 0; s < MAX_STATUS; s++)
			if (s != 200 && R.status_cnt[k][s])
				printf("  %s HTTP %d: %" PRIu64, k ? "poll" : "usage", s,
				       R.status_cnt[k][s]);
	if (R.bad_reply[0])
		printf("  usage bad reply: %" PRIu64, R.bad_reply[0]);
	if (R.bad_reply[1])
		printf("  poll bad reply: %" PRIu64, R.bad_reply[1]);
	if (R.timeouts)
		printf("  timeouts: %" PRIu64, R.timeouts);
	if (R.conn_errors)
		printf("  connection errors: %" PRIu64, R.conn_errors);
	printf("  (connections opened: %" PRIu64 ")\n", R.connects);

	printf("RESULT requests_per_s=%.1f messages_per_s=%.1f reports_per_s=%.1f usage_p50_ms=%.2f "
	       "usage_p90_ms=%.2f usage_p99_ms=%.2f usage_max_ms=%.2f poll_p50_ms=%.2f poll_p99_ms=%.2f "
	       "errors=%" PRIu64 " usage_n=%" PRIu64 " poll_n=%" PRIu64 " seconds=%.2f\n",
	       (double)R.completed / secs, (double)R.usage_ok / secs, (double)R.reports_ok / secs,
	       pct_ms(&R.usage_lat, 50), pct_ms(&R.usage_lat, 90), pct_ms(&R.usage_lat, 99),
	       R.usage_lat.n ? R.usage_lat.lat[R.usage_lat.n - 1] / 1000.0 : 0.0,
	       pct_ms(&R.poll_lat, 50), pct_ms(&R.poll_lat, 99), err_total, usage_n, poll_n, secs);
	return R.completed || R.warm_completed ? 0 : 1;
}
