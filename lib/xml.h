/* XML for rumd and rum-agent: reading documents from outside (ACK files,
 * usage files, NETCONF messages) and building the few that are sent
 * (NETCONF replies); the one module that includes libxml2. Documents are
 * parsed in memory with no network access, no DTD loading, no default
 * attributes from a DTD and no entity substitution; a document that
 * declares a DTD at all is refused, before parsing when the declaration is
 * visible in the bytes and after parsing otherwise. Nodes are views into
 * their document and live as long as it does; only the nodes of a document
 * built with rum_xml_new are writable. */
#ifndef RUM_UTIL_XML_H
#define RUM_UTIL_XML_H

#include <stddef.h>

/* Ceiling on a document handed to rum_xml_parse (libxml2 takes an int). */
#define RUM_XML_MAX_BYTES (64u << 20)

/* Initialises libxml2. A program that handles XML on several threads calls
 * it once from main() before starting them: libxml2 2.9 otherwise sets
 * itself up on first use, which races between threads. */
void rum_xml_init(void);

struct rum_xml_doc;
struct rum_xml_node;

/* Parses buf[0..len). what names the document in error messages.
 * Errors: RUM_EINVAL (not well-formed XML, declares a DTD, no root element),
 * RUM_ETOOBIG (over RUM_XML_MAX_BYTES). */
int rum_xml_parse(struct rum_xml_doc **out, const char *buf, size_t len, const char *what);

/* As rum_xml_parse, for documents whose size in nodes is bounded too: a
 * document holding more than max_nodes elements, attributes, comments,
 * processing instructions and CDATA sections in all is refused with
 * RUM_ETOOBIG ("more than N XML nodes") by a scan of its bytes, before
 * libxml2 builds anything, so that a few MiB of tiny elements cannot cost
 * hundreds of MiB of tree. The scan counts markup as a parser would see it
 * (quotes, comments, CDATA and processing instructions skipped whole); on
 * malformed input it may count differently, and the parse then refuses the
 * document anyway. max_nodes 0: no bound. */
int rum_xml_parse_bounded(struct rum_xml_doc **out, const char *buf, size_t len, const char *what,
			  size_t max_nodes);

/* Frees the document and every node view of it. Accepts NULL. */
void rum_xml_free(struct rum_xml_doc *doc);

const struct rum_xml_node *rum_xml_root(const struct rum_xml_doc *doc);

/* The element's local name (no namespace prefix). */
const char *rum_xml_name(const struct rum_xml_node *n);

/* First child element, next sibling element; NULL when none. */
const struct rum_xml_node *rum_xml_first(const struct rum_xml_node *n);
const struct rum_xml_node *rum_xml_next(const struct rum_xml_node *n);

/* First child element named name, or NULL; n may be NULL. */
const struct rum_xml_node *rum_xml_child(const struct rum_xml_node *n, const char *name);

/* The text content of n (text and CDATA of it and its descendants, in
 * order), malloc'd, NUL-terminated, its length in *len when len is not NULL.
 * n NULL gives "". The caller frees it with free(). */
char *rum_xml_text(const struct rum_xml_node *n, size_t *len);

/* The namespace URI of the element (from its prefix or the default
 * namespace in scope), or NULL when it is in no namespace. A view that lives
 * as long as the document. */
const char *rum_xml_ns(const struct rum_xml_node *n);

/* The value of the element's attribute with local name name, whatever its
 * namespace prefix, malloc'd and NUL-terminated (caller frees), or NULL when
 * the element has no such attribute. */
char *rum_xml_attr(const struct rum_xml_node *n, const char *name);

/* Calls fn(arg, ns, name, value) for each attribute of the element, in
 * document order: ns is the attribute's namespace URI, NULL for an
 * unprefixed one (unprefixed attributes are in no namespace, whatever the
 * default namespace); name is its local name. Namespace declarations
 * (xmlns, xmlns:p) are not attributes and are not visited. The strings
 * live until fn returns. Stops at, and returns, the first non-zero value fn
 * returns; 0 otherwise. */
int rum_xml_attrs(const struct rum_xml_node *n,
		  int (*fn)(void *arg, const char *ns, const char *name, const char *value),
		  void *arg);

/* ---- Building a document to send ----
 * Elements are appended in order and serialised by libxml2, which escapes
 * text and attribute values. Names are taken as given: callers pass
 * constants. Out of memory is fatal. */

/* A new document holding only its root element name, with ns declared as
 * its default namespace (NULL: none). Returns the root, which the caller
 * grows with rum_xml_add; the document is freed with rum_xml_free. */
struct rum_xml_node *rum_xml_new(struct rum_xml_doc **out, const char *name, const char *ns);

/* Appends element name as the last child of parent, in parent's namespace.
 * text NULL gives an empty element (<name/>); any other text, "" included,
 * becomes its content (<name></name> for ""). Returns the new element. */
struct rum_xml_node *rum_xml_add(struct rum_xml_node *parent, const char *name, const char *text);

/* Declares ns as the default namespace of n (xmlns="ns" on n) and puts n in
 * it, and with it the children added to n afterwards. Once per element. */
void rum_xml_set_ns(struct rum_xml_node *n, const char *ns);

/* Appends the attribute name="value" to n (value escaped on output). name
 * is written as given, so "xml:lang" gives xml:lang="...". */
void rum_xml_set_attr(struct rum_xml_node *n, const char *name, const char *value);

/* n and everything under it as text: no XML declaration, no indentation,
 * namespace declarations before attributes. malloc'd, NUL-terminated; the
 * caller frees it. */
char *rum_xml_dump(const struct rum_xml_node *n);

#endif
