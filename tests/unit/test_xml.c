/* lib/xml: refusals, parse error text, attribute visiting and building
 * documents (the serialised form NETCONF peers read). */
#include "check.h"
#include "lib/err.h"
#include "lib/xml.h"

#include <stdio.h>
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
	static const char laughs[] =
		"<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\">"
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
	CHECK_STR(rum_err_msg(),
		  "t: not well-formed XML: xmlns: '???x' is not a valid URI (line 1)");
	CHECK_INT(rum_xml_parse(&doc, bad_utf8, sizeof(bad_utf8) - 1, "t"), RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "Input is not proper UTF-8, indicate encoding ! Bytes: 0xFF") !=
	      NULL);
	CHECK(printable_line(rum_err_msg()));
}

struct seen {
	char text[256];
};

static int note_attr(void *arg, const char *ns, const char *name, const char *value)
{
	struct seen *s = arg;
	size_t n = strlen(s->text);

	snprintf(s->text + n, sizeof(s->text) - n, "[%s|%s|%s]", ns ? ns : "-", name, value);
	return strcmp(name, "stop") == 0 ? 7 : 0;
}

static void test_attrs(void)
{
	static const char xml[] =
		"<r xmlns=\"urn:d\" xmlns:p=\"urn:p\" p:x=\"1\" x=\"2\" e=\"\" q=\"&lt;&amp;\"/>";
	struct rum_xml_doc *doc;
	struct seen s = {""};
	char *v;

	CHECK_INT(rum_xml_parse(&doc, xml, strlen(xml), "t"), 0);
	CHECK_INT(rum_xml_attrs(rum_xml_root(doc), note_attr, &s), 0);
	CHECK_STR(s.text, "[urn:p|x|1][-|x|2][-|e|][-|q|<&]");
	v = rum_xml_attr(rum_xml_root(doc), "e");
	CHECK_STR(v, "");
	free(v);
	CHECK(rum_xml_attr(rum_xml_root(doc), "missing") == NULL);
	rum_xml_free(doc);

	s.text[0] = '\0';
	CHECK_INT(rum_xml_parse(&doc, "<r a=\"1\" stop=\"2\" b=\"3\"/>", 25, "t"), 0);
	CHECK_INT(rum_xml_attrs(rum_xml_root(doc), note_attr, &s), 7);
	CHECK_STR(s.text, "[-|a|1][-|stop|2]");
	rum_xml_free(doc);
}

static void test_build(void)
{
	struct rum_xml_doc *doc, *back;
	struct rum_xml_node *root = rum_xml_new(&doc, "rpc-reply", "urn:nc"), *e, *d;
	char *text, *t;

	rum_xml_set_attr(root, "message-id", "7\"<&\n\xc3\xa9");
	e = rum_xml_add(root, "rpc-error", NULL);
	rum_xml_set_attr(rum_xml_add(e, "error-message", "a < b & c > d\r"), "xml:lang", "en");
	rum_xml_add(e, "empty-text", "");
	rum_xml_add(e, "no-text", NULL);
	d = rum_xml_add(root, "data", NULL);
	rum_xml_set_ns(d, "urn:lic");
	rum_xml_add(d, "leaf", "x");
	text = rum_xml_dump(root);
	CHECK_STR(text,
		  "<rpc-reply xmlns=\"urn:nc\" message-id=\"7&quot;&lt;&amp;&#10;&#xE9;\">"
		  "<rpc-error><error-message xml:lang=\"en\">a &lt; b &amp; c &gt; d&#13;</error-message>"
		  "<empty-text></empty-text><no-text/></rpc-error>"
		  "<data xmlns=\"urn:lic\"><leaf>x</leaf></data></rpc-reply>");
	CHECK_STR(rum_xml_name(rum_xml_first(d)), "leaf");
	CHECK_STR(rum_xml_ns(rum_xml_first(d)), "urn:lic");

	/* What was built reads back as built. */
	CHECK_INT(rum_xml_parse(&back, text, strlen(text), "t"), 0);
	t = rum_xml_attr(rum_xml_root(back), "message-id");
	CHECK_STR(t, "7\"<&\n\xc3\xa9");
	free(t);
	t = rum_xml_text(rum_xml_child(rum_xml_child(rum_xml_root(back), "rpc-error"),
				       "error-message"),
			 NULL);
	CHECK_STR(t, "a < b & c > d\r");
	free(t);
	rum_xml_free(back);
	free(text);
	rum_xml_free(doc);

	root = rum_xml_new(&doc, "plain", NULL);
	text = rum_xml_dump(root);
	CHECK_STR(text, "<plain/>");
	free(text);
	rum_xml_free(doc);
}

/* The node bound counts elements, attributes, comments, PIs and CDATA
 * sections, not end tags nor markup inside quotes, comments or CDATA. */
static void test_node_bound(void)
{
	static const char doc5[] = "<?xml version=\"1.0\"?><r a=\"x>y='z'\"><c/><!-- <d/><e/> -->"
				   "<f><![CDATA[<g/><h/>]]></f></r>";
	struct rum_xml_doc *doc = NULL;
	size_t big = 200000;
	char *many = malloc(big * 4 + 8);

	/* PI, r, a=, c, comment, f, CDATA: 7 */
	CHECK_INT(rum_xml_parse_bounded(&doc, doc5, strlen(doc5), "t", 7), 0);
	rum_xml_free(doc);
	CHECK_INT(rum_xml_parse_bounded(&doc, doc5, strlen(doc5), "t", 6), RUM_ETOOBIG);
	CHECK(doc == NULL);
	CHECK_STR(rum_err_msg(), "t: more than 6 XML nodes; refused");
	/* A few hundred KB of tiny elements: refused before any tree. */
	memcpy(many, "<r>", 3);
	for (size_t i = 0; i < big; i++)
		memcpy(many + 3 + 4 * i, "<a/>", 4);
	memcpy(many + 3 + 4 * big, "</r>", 5);
	CHECK_INT(rum_xml_parse_bounded(&doc, many, strlen(many), "t", 10000), RUM_ETOOBIG);
	CHECK_INT(rum_xml_parse_bounded(&doc, many, strlen(many), "t", 0), 0);
	rum_xml_free(doc);
	free(many);
}

int main(void)
{
	rum_xml_init();
	test_refusals();
	test_node_bound();
	test_error_text();
	test_attrs();
	test_build();
	return rum_check_result("test_xml");
}
