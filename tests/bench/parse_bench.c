/* parse_bench: times rum_message_parse on realistic CSSM-shaped usage
 * messages (PROTOCOL 1.3, 1.4) and prints microseconds per message and MB/s.
 * A benchmark, not a test: it never fails on timing.
 *
 *   parse_bench [SECONDS_PER_CASE]      (default 1)
 *
 * Reports have the shape push_load sends (tests/bench/push_load.c): a format
 * A payload whose measurements are repeated until the report object reaches
 * its size, a signature with a 344-byte base64 value. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "domain/message.h"
#include "lib/err.h"

struct buf {
	char *p;
	size_t len, cap;
};

static void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	if (b->len + (size_t)n + 1 > b->cap) {
		b->cap = (b->len + (size_t)n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static uint64_t rnd_state = 0x9e3779b97f4a7c15u;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static const char sw_tag[] =
	"regid.2019-10.com.cisco.C8000V,1.0_e361c3dc-27c2-4084-b4a4-cae639cff335";

/* One measurement, escaped: it lives inside the payload string. */
static void add_measurement(struct buf *b, uint64_t *t, int first)
{
	uint64_t start = *t, end = start + 300 + rnd() % 28500;

	*t = end + rnd() % 60;
	buf_printf(b,
		   "%s{\\\"log_time\\\":%" PRIu64 ",\\\"metric_name\\\":\\\"ENTITLEMENT\\\","
		   "\\\"start_time\\\":%" PRIu64 ",\\\"end_time\\\":%" PRIu64
		   ",\\\"sample_interval\\\":%" PRIu64 ",\\\"num_samples\\\":%" PRIu64
		   ",\\\"meta\\\":{\\\"termination_reason\\\":"
		   "\\\"CurrentUsageRequested\\\"},\\\"value\\\":{\\\"type\\\":\\\"COUNT\\\","
		   "\\\"value\\\":\\\"%" PRIu64 "\\\"}}",
		   first ? "" : ",", end + rnd() % 600, start, end, end - start, 1 + rnd() % 48,
		   1 + rnd() % 64);
}

/* Appends one RUM report object of about `target` bytes. */
static void add_report(struct buf *b, const char *serial, uint64_t rid, size_t target)
{
	size_t start = b->len, tail = 560;
	uint64_t t = 1790000000 + rnd() % 86400;
	int first = 1;

	buf_printf(
		b,
		"{\"payload\":\"{\\\"asset_identification\\\":{\\\"asset\\\":{\\\"name\\\":\\\"%s\\\"},"
		"\\\"instance\\\":{\\\"sudi\\\":{\\\"udi_pid\\\":\\\"C8000V\\\",\\\"udi_serial_"
		"number\\\":"
		"\\\"%s\\\"}},\\\"signature\\\":{\\\"signing_type\\\":\\\"builtin\\\",\\\"key\\\":\\\"%"
		"s\\\","
		"\\\"value\\\":\\\"%s\\\"}},\\\"meta\\\":{\\\"entitlement_tag\\\":\\\"regid.2017-03."
		"com."
		"cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53\\\",\\\"report_id\\\":"
		"%" PRIu64
		",\\\"software_version\\\":\\\"17.06.02\\\",\\\"ha_udi\\\":[{\\\"role\\\":"
		"\\\"Active\\\",\\\"sudi\\\":{\\\"udi_pid\\\":\\\"C8000V\\\",\\\"udi_serial_number\\\":"
		"\\\"%s\\\"}}]},\\\"measurements\\\":[",
		sw_tag, serial, sw_tag, serial, rid, serial);
	do {
		add_measurement(b, &t, first);
		first = 0;
	} while (b->len - start + tail < target);
	buf_printf(b,
		   "]}\",\"header\":{\"type\":\"rum\"},\"signature\":{\"sudi\":{\"udi_pid\":\"C8000V\","
		   "\"udi_serial_number\":\"%s\"},\"signing_type\":\"builtin\",\"key\":\"%s\",\"value\":"
		   "\"",
		   serial, sw_tag);
	for (int i = 0; i < 344; i++)
		buf_printf(b, "%c",
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[rnd() &
											      63]);
	buf_printf(b, "\"}}");
}

/* A reportusage message (PROTOCOL 1.3) with n reports of about `size` bytes. */
static struct buf make_message(int n, size_t size)
{
	const char *serial = "FBN631c1dfe";
	struct buf b = {0};

	buf_printf(&b,
		   "{\"sudi\":{\"udi_pid\":\"C8000V\",\"udi_serial_number\":\"%s\"},\"timestamp\":"
		   "1790000000000,\"nonce\":\"a1b2c3d4e5f60718\",\"product_instance_identifier\":"
		   "\"f804e59b-7296-4c6d-a4f4-e61207ddf150\",\"reports\":[{\"sudi\":{\"udi_pid\":"
		   "\"C8000V\",\"udi_serial_number\":\"%s\"},\"hostname\":\"sw-core-1\","
		   "\"software_tag_identifier\":\"%s\",\"trust_requests\":[],\"usage\":[",
		   serial, serial, sw_tag);
	for (int i = 0; i < n; i++) {
		if (i)
			buf_printf(&b, ",");
		add_report(&b, serial, 1795894659000000u + (uint64_t)i, size);
	}
	buf_printf(&b, "]}]}");
	return b;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run(int n, size_t size, double seconds)
{
	struct buf b = make_message(n, size);
	struct rum_message *m;
	double t0, t;
	long iters = 0;

	t0 = now();
	do {
		for (int i = 0; i < 20; i++, iters++) {
			if (rum_message_parse(&m, b.p, b.len, NULL) != 0 ||
			    m->n_reports != (size_t)n) {
				fprintf(stderr, "parse_bench: %s\n", rum_err_msg());
				exit(1);
			}
			rum_message_free(m);
		}
		t = now() - t0;
	} while (t < seconds);
	printf("%3d report(s) of %2zu KB: message %7zu bytes: %9.1f us/message %7.1f MB/s\n", n,
	       size / 1024, b.len, t / (double)iters * 1e6,
	       (double)b.len * (double)iters / t / 1e6);
	free(b.p);
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? strtod(argv[1], NULL) : 1.0;

	if (!(seconds > 0)) {
		fprintf(stderr, "usage: parse_bench [SECONDS_PER_CASE]\n");
		return 2;
	}
	run(1, 4 * 1024, seconds);
	run(1, 12 * 1024, seconds);
	run(1, 20 * 1024, seconds);
	run(50, 12 * 1024, seconds);
	return 0;
}
