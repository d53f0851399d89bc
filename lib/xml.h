/* Reading XML from outside (ACK files, usage files, NETCONF replies): the
 * one rumd module that includes libxml2. Documents are parsed in memory with
 * no network access, no DTD loading, no default attributes from a DTD and no
 * entity substitution; a document that declares a DTD at all is refused,
 * before parsing when the declaration is visible in the bytes and after
 * parsing otherwise. Nodes are read-only views into their document and live
 * as long as it does. */
#ifndef RUM_UTIL_XML_H
#define RUM_UTIL_XML_H

#include <stddef.h>

/* Ceiling on a document handed to rum_xml_parse (libxml2 takes an int). */
#define RUM_XML_MAX_BYTES (64u << 20)

struct rum_xml_doc;
struct rum_xml_node;

/* Parses buf[0..len). what names the document in error messages.
 * Errors: RUM_EINVAL (not well-formed XML, declares a DTD, no root element),
 * RUM_ETOOBIG (over RUM_XML_MAX_BYTES). */
int rum_xml_parse(struct rum_xml_doc **out, const char *buf, size_t len, const char *what);

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

#endif
