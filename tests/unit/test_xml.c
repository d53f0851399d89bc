/* lib/xml: refusals and parse error text. */
#include "check.h"
#include "lib/err.h"
#include "lib/xml.h"

#include <stdlib.h>
#include <string.h>

static int printable_line(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			return 0;
	return 1;
}

static void test_refusals(void)
{
	static const char laughs[] = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\">"
				     "<!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
				     "<!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">]>"
				     "<lolz>&lol2;</lolz>";
	/* "<!DOCTYPE" in UTF-16 is not visible as ASCII bytes: refused after parsing. */
	static const char utf16[] = "\xff\xfe<\0!\0D\0O\0C\0T\0Y\0P\0E\0 \0a\0>\0<\0a\0/\0>\0";
	struct rum_xml_doc *doc = (struct rum_xml_doc *)1;

	CHECK_INT(rum_xml_parse(&doc, laughs, strlen(laughs), "t"), RUM_EINVAL);
	CHECK(doc == NULL);
	CHECK_STR(rum_err_msg(), "t: declares a DTD (<!DOCTYPE>); refused");
	CHECK_INT(rum_xml_parse(&doc, utf16, sizeof(utf16) - 1, "t"), RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "declares a DTD") != NULL);
	/* An undeclared entity is not well-formed, and never fetched. */
	CHECK_INT(rum_xml_parse(&doc, "<a>&ext;</a>", 12, "t"), RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "not well-formed XML") != NULL);
}

/* Parser messages quote the input and span lines: they come back as one
 * printable line. */
static void test_error_text(void)
{
	static const char raw_uri[] = "<a xmlns=\"\x8e\x8b\x8fx\"/>", bad_utf8[] = "<a>\xff</a>";
	struct rum_xml_doc *doc;

	CHECK_INT(rum_xml_parse(&doc, raw_uri, sizeof(raw_uri) - 1, "t"), RUM_EINVAL);
	CHECK_STR(rum_err_msg(), "t: not well-formed XML: xmlns: '???x' is not a valid URI (line 1)");
	CHECK_INT(rum_xml_parse(&doc, bad_utf8, sizeof(bad_utf8) - 1, "t"), RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "Input is not proper UTF-8, indicate encoding ! Bytes: 0xFF") != NULL);
	CHECK(printable_line(rum_err_msg()));
}

int main(void)
{
	test_refusals();
	test_error_text();
	return rum_check_result("test_xml");
}
