#include "lib/xml.h"

#include "lib/err.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <stdlib.h>
#include <string.h>

/* No XML_PARSE_NOENT (substitution), DTDLOAD, DTDATTR, DTDVALID, XINCLUDE or
 * HUGE (which lifts libxml2's depth and text-size ceilings). */
#define RUM_XML_OPTIONS (XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)

struct rum_xml_doc {
	xmlDoc *doc;
};

static const xmlNode *rum_xml_node_of(const struct rum_xml_node *n)
{
	return (const xmlNode *)n;
}

static const struct rum_xml_node *rum_xml_view(const xmlNode *n)
{
	return (const struct rum_xml_node *)n;
}

/* The writable views of rum_xml_new and rum_xml_add: only documents built
 * here are ever handed out as such. */
static xmlNode *rum_xml_node_mut(struct rum_xml_node *n)
{
	return (xmlNode *)n;
}

static struct rum_xml_node *rum_xml_view_mut(xmlNode *n)
{
	return (struct rum_xml_node *)n;
}

void rum_xml_init(void)
{
	xmlInitParser();
}

/* "<!DOCTYPE" anywhere before the root element (or at all: it cannot
 * appear in content unescaped). */
static int rum_xml_has_doctype(const char *buf, size_t len)
{
	static const char needle[] = "<!DOCTYPE";
	size_t n = sizeof(needle) - 1;

	for (size_t i = 0; i + n <= len; i++)
		if (buf[i] == '<' && memcmp(buf + i, needle, n) == 0)
			return 1;
	return 0;
}

/* libxml2 reports some errors (input encoding ones) through its generic
 * handler whatever the parser options say; by default that writes to
 * stderr, which would let a device put lines into rumd's log. The error
 * still reaches the caller through the parser context. */
static void rum_xml_silent(void *ctx, const char *msg, ...)
{
}

/* libxml2's message for a parse error, as one line of printable ASCII:
 * messages quote the input (names, namespace URIs, raw bytes) and span
 * lines, and they go on into log lines and NETCONF replies, which must not
 * carry a device's control characters or invalid UTF-8. */
static void rum_xml_error_text(char *msg, size_t size, const char *raw)
{
	size_t n = 0;

	for (; raw && *raw && n + 1 < size; raw++) {
		unsigned char c = (unsigned char)*raw;

		if (c == '\n' || c == '\r' || c == '\t')
			c = ' ';
		else if (c < 0x20 || c > 0x7e)
			c = '?';
		msg[n++] = (char)c;
	}
	while (n > 0 && msg[n - 1] == ' ')
		n--;
	msg[n] = '\0';
}

/* Where the construct opened at p ends (just past close), or end when it
 * never does. */
static const char *rum_xml_skip_past(const char *p, const char *end, const char *close)
{
	size_t n = strlen(close);
	const char *q = memmem(p, (size_t)(end - p), close, n);

	return q ? q + n : end;
}

/* Past the start tag at p (just after its '<'), counting its attributes
 * (one '=' outside quotes each) into *nodes. */
static const char *rum_xml_skip_tag(const char *p, const char *end, size_t *nodes)
{
	char quote = 0;

	for (; p < end; p++) {
		if (quote) {
			if (*p == quote)
				quote = 0;
		} else if (*p == '"' || *p == '\'') {
			quote = *p;
		} else if (*p == '=') {
			++*nodes;
		} else if (*p == '>') {
			return p + 1;
		}
	}
	return end;
}

/* The nodes a parser would build of buf, counted until past max. */
static size_t rum_xml_count_nodes(const char *buf, size_t len, size_t max)
{
	const char *p = buf, *end = buf + len;
	size_t nodes = 0;

	while (nodes <= max && (p = memchr(p, '<', (size_t)(end - p))) != NULL) {
		size_t left = (size_t)(end - p);

		if (left >= 4 && memcmp(p, "<!--", 4) == 0) {
			p = rum_xml_skip_past(p + 4, end, "-->");
			nodes++;
		} else if (left >= 9 && memcmp(p, "<![CDATA[", 9) == 0) {
			p = rum_xml_skip_past(p + 9, end, "]]>");
			nodes++;
		} else if (left >= 2 && p[1] == '?') {
			p = rum_xml_skip_past(p + 2, end, "?>");
			nodes++;
		} else if (left >= 2 && (p[1] == '/' || p[1] == '!')) {
			p = rum_xml_skip_past(p + 2, end, ">");
		} else {
			nodes++;
			p = rum_xml_skip_tag(p + 1, end, &nodes);
		}
	}
	return nodes;
}

int rum_xml_parse(struct rum_xml_doc **out, const char *buf, size_t len, const char *what)
{
	return rum_xml_parse_bounded(out, buf, len, what, 0);
}

int rum_xml_parse_bounded(struct rum_xml_doc **out, const char *buf, size_t len, const char *what,
			  size_t max_nodes)
{
	xmlParserCtxt *ctxt;
	xmlDoc *doc;
	int rc = 0;

	*out = NULL;
	if (len > RUM_XML_MAX_BYTES)
		return rum_err_set(RUM_ETOOBIG, "%s: larger than %u bytes", what,
				   RUM_XML_MAX_BYTES);
	if (rum_xml_has_doctype(buf, len))
		return rum_err_set(RUM_EINVAL, "%s: declares a DTD (<!DOCTYPE>); refused", what);
	if (max_nodes > 0 && rum_xml_count_nodes(buf, len, max_nodes) > max_nodes)
		return rum_err_set(RUM_ETOOBIG, "%s: more than %zu XML nodes; refused", what,
				   max_nodes);
	xmlSetGenericErrorFunc(NULL, rum_xml_silent); /* per thread in libxml2 */
	ctxt = xmlNewParserCtxt();
	if (!ctxt)
		abort();
	doc = xmlCtxtReadMemory(ctxt, buf, (int)len, what, NULL, RUM_XML_OPTIONS);
	if (!doc) {
		const xmlError *e = xmlCtxtGetLastError(ctxt);
		char msg[200];

		rum_xml_error_text(msg, sizeof(msg), e ? e->message : NULL);
		if (msg[0])
			rc = rum_err_set(RUM_EINVAL, "%s: not well-formed XML: %s (line %d)", what,
					 msg, e->line);
		else
			rc = rum_err_set(RUM_EINVAL, "%s: not well-formed XML", what);
		goto out;
	}
	if (doc->intSubset || doc->extSubset) {
		rc = rum_err_set(RUM_EINVAL, "%s: declares a DTD; refused", what);
		goto out;
	}
	if (!xmlDocGetRootElement(doc)) {
		rc = rum_err_set(RUM_EINVAL, "%s: no root element", what);
		goto out;
	}
	*out = calloc(1, sizeof(**out));
	if (!*out)
		abort();
	(*out)->doc = doc;
	doc = NULL;
out:
	if (doc)
		xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	return rc;
}

void rum_xml_free(struct rum_xml_doc *doc)
{
	if (!doc)
		return;
	xmlFreeDoc(doc->doc);
	free(doc);
}

const struct rum_xml_node *rum_xml_root(const struct rum_xml_doc *doc)
{
	return rum_xml_view(xmlDocGetRootElement(doc->doc));
}

const char *rum_xml_name(const struct rum_xml_node *n)
{
	return (const char *)rum_xml_node_of(n)->name;
}

static const xmlNode *rum_xml_element_from(const xmlNode *c)
{
	while (c && c->type != XML_ELEMENT_NODE)
		c = c->next;
	return c;
}

const struct rum_xml_node *rum_xml_first(const struct rum_xml_node *n)
{
	return n ? rum_xml_view(rum_xml_element_from(rum_xml_node_of(n)->children)) : NULL;
}

const struct rum_xml_node *rum_xml_next(const struct rum_xml_node *n)
{
	return n ? rum_xml_view(rum_xml_element_from(rum_xml_node_of(n)->next)) : NULL;
}

const struct rum_xml_node *rum_xml_child(const struct rum_xml_node *n, const char *name)
{
	for (const struct rum_xml_node *c = rum_xml_first(n); c; c = rum_xml_next(c))
		if (strcmp(rum_xml_name(c), name) == 0)
			return c;
	return NULL;
}

char *rum_xml_text(const struct rum_xml_node *n, size_t *len)
{
	xmlChar *t = n ? xmlNodeGetContent(rum_xml_node_of(n)) : NULL;
	size_t l = t ? strlen((const char *)t) : 0;
	char *s = malloc(l + 1);

	if (!s || (n && !t))
		abort();
	if (t)
		memcpy(s, t, l);
	s[l] = '\0';
	xmlFree(t);
	if (len)
		*len = l;
	return s;
}

const char *rum_xml_ns(const struct rum_xml_node *n)
{
	const xmlNode *x = rum_xml_node_of(n);

	return x->ns && x->ns->href ? (const char *)x->ns->href : NULL;
}

/* xmlGetProp matches the local name whatever the prefix; with DTDs refused
 * it never supplies a default value from one. */
char *rum_xml_attr(const struct rum_xml_node *n, const char *name)
{
	xmlChar *v = xmlGetProp(rum_xml_node_of(n), BAD_CAST name);
	char *s;

	if (!v)
		return NULL;
	s = strdup((const char *)v);
	xmlFree(v);
	if (!s)
		abort();
	return s;
}

int rum_xml_attrs(const struct rum_xml_node *n,
		  int (*fn)(void *arg, const char *ns, const char *name, const char *value),
		  void *arg)
{
	int rc = 0;

	for (const xmlAttr *a = rum_xml_node_of(n)->properties; a && rc == 0; a = a->next) {
		/* inLine 1: entity references would be replaced, were any possible
		 * with DTDs refused. No children: the value is empty. */
		xmlChar *v = xmlNodeListGetString(a->doc, a->children, 1);

		if (!v && a->children)
			abort();
		rc = fn(arg, a->ns && a->ns->href ? (const char *)a->ns->href : NULL,
			(const char *)a->name, v ? (const char *)v : "");
		xmlFree(v);
	}
	return rc;
}

struct rum_xml_node *rum_xml_new(struct rum_xml_doc **out, const char *name, const char *ns)
{
	xmlDoc *doc = xmlNewDoc(BAD_CAST "1.0");
	xmlNode *root = doc ? xmlNewDocNode(doc, NULL, BAD_CAST name, NULL) : NULL;

	if (!root)
		abort();
	xmlDocSetRootElement(doc, root);
	if (ns)
		rum_xml_set_ns(rum_xml_view_mut(root), ns);
	*out = calloc(1, sizeof(**out));
	if (!*out)
		abort();
	(*out)->doc = doc;
	return rum_xml_view_mut(root);
}

/* xmlNewTextChild keeps text as text (it escapes on output); xmlNewChild
 * would read entity references in it. */
struct rum_xml_node *rum_xml_add(struct rum_xml_node *parent, const char *name, const char *text)
{
	xmlNode *p = rum_xml_node_mut(parent);
	xmlNode *c = text ? xmlNewTextChild(p, NULL, BAD_CAST name, BAD_CAST text)
			  : xmlNewChild(p, NULL, BAD_CAST name, NULL);

	if (!c)
		abort();
	return rum_xml_view_mut(c);
}

void rum_xml_set_ns(struct rum_xml_node *n, const char *ns)
{
	xmlNode *x = rum_xml_node_mut(n);
	xmlNs *d = xmlNewNs(x, BAD_CAST ns, NULL);

	if (!d)
		abort();
	xmlSetNs(x, d);
}

void rum_xml_set_attr(struct rum_xml_node *n, const char *name, const char *value)
{
	if (!xmlNewProp(rum_xml_node_mut(n), BAD_CAST name, BAD_CAST value))
		abort();
}

char *rum_xml_dump(const struct rum_xml_node *n)
{
	xmlNode *x = (xmlNode *)rum_xml_node_of(n);
	xmlBuffer *b = xmlBufferCreate();
	char *s;

	if (!b || xmlNodeDump(b, x->doc, x, 0, 0) < 0)
		abort();
	s = strdup((const char *)xmlBufferContent(b));
	xmlBufferFree(b);
	if (!s)
		abort();
	return s;
}
