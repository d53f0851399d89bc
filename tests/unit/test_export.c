/* Pure parts of the export: <ts> names and CDATA content. */
#include "check.h"
#include "domain/export.h"

#include <stdio.h>
#include <string.h>

struct buf {
	char data[512];
	size_t len;
};

static int sink(void *ctx, const void *data, size_t len)
{
	struct buf *b = ctx;

	if (b->len + len >= sizeof(b->data))
		return -1;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = '\0';
	return 0;
}

static const char *cdata(const char *in)
{
	static struct buf b;

	b.len = 0;
	b.data[0] = '\0';
	CHECK_INT(rum_export_write_cdata(sink, &b, in, strlen(in)), 0);
	return b.data;
}

static void test_ts(void)
{
	char ts[32];
	struct timespec t = {1795887910, 123456789}; /* 2026-11-28 17:45:10.123 UTC */

	rum_export_format_ts(ts, sizeof(ts), &t);
	CHECK_STR(ts, "26Nov28_17_45_10_123");
	t = (struct timespec){946684800, 5000000}; /* 2000-01-01 00:00:00.005 */
	rum_export_format_ts(ts, sizeof(ts), &t);
	CHECK_STR(ts, "00Jan01_00_00_00_005");
}

static void test_cdata(void)
{
	CHECK_STR(cdata(""), "");
	CHECK_STR(cdata("{\"a\":\"<&>\"}"), "{\"a\":\"<&>\"}");
	CHECK_STR(cdata("a]]>b"), "a]]]]><![CDATA[>b");
	CHECK_STR(cdata("]]>"), "]]]]><![CDATA[>");
	CHECK_STR(cdata("]]]>"), "]]]]]><![CDATA[>");
	CHECK_STR(cdata("]]"), "]]");
	CHECK_STR(cdata("x]"), "x]");
	CHECK_STR(cdata("a\r\nb"), "a]]>&#13;<![CDATA[\nb");
	CHECK_STR(cdata("]]>\r"), "]]]]><![CDATA[>]]>&#13;<![CDATA[");
}

int main(void)
{
	test_ts();
	test_cdata();
	return rum_check_result("test_export");
}
