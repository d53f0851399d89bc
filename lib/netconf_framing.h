/* NETCONF message framing (RFC 6242), pure: no I/O, no XML. Shared by
 * rum-agent's NETCONF server and rumd's collector.
 *
 * Two framings exist: end-of-message (base:1.0, each message followed by
 * "]]>]]>") and chunked (base:1.1, "\n#<len>\n<data>" ... "\n##\n"). A
 * session starts in end-of-message framing and switches to chunked after the
 * hellos when both peers advertise base:1.1; the caller decides when, between
 * two messages, by calling rum_netconf_framing_set_mode().
 *
 * Decoding is incremental: feed any slice of the byte stream (down to one byte,
 * split anywhere, including inside a UTF-8 sequence or a chunk header); the
 * decoder stops right after a complete message so that the caller can switch
 * framing before feeding the rest. */
#ifndef RUM_NETCONF_FRAMING_H
#define RUM_NETCONF_FRAMING_H

#include <stddef.h>

enum rum_netconf_framing_mode {
	RUM_NETCONF_FRAMING_EOM = 0,    /* base:1.0, "]]>]]>" */
	RUM_NETCONF_FRAMING_CHUNKED = 1 /* base:1.1 */
};

/* Decoder state. Fields are private; use the functions below. */
struct rum_netconf_framing {
	enum rum_netconf_framing_mode mode;
	size_t max_msg; /* ceiling on one decoded message, bytes */
	char *msg;      /* message being assembled (NUL-terminated when done) */
	size_t len, cap;
	int state;                     /* chunked parser state */
	unsigned long long chunk_left; /* bytes left in the current chunk / size being read */
	int done;                      /* a complete message waits in msg */
	int failed;                    /* a framing error happened: the stream is unusable */
};

/* Prepares a decoder in end-of-message mode. max_msg bounds one message
 * (the decoder fails with RUM_ETOOBIG past it); 0 means 64 MiB. */
void rum_netconf_framing_init(struct rum_netconf_framing *f, size_t max_msg);

/* Frees what the decoder holds; safe on an initialised or zeroed decoder. */
void rum_netconf_framing_dispose(struct rum_netconf_framing *f);

/* Selects the framing for the next message. Only between messages: a partly
 * decoded message is an error (RUM_EINVAL). */
int rum_netconf_framing_set_mode(struct rum_netconf_framing *f, enum rum_netconf_framing_mode mode);

/* Consumes bytes from data. Returns 1 when a complete message is ready (take
 * it with rum_netconf_framing_take before feeding more), 0 when all input was
 * consumed without completing one, or a negative RUM_E* code on a framing
 * error (bad chunk header: RUM_EINVAL; message over max_msg: RUM_ETOOBIG),
 * after which the decoder refuses further input. *consumed is always set to the
 * number of bytes used. */
int rum_netconf_framing_feed(struct rum_netconf_framing *f, const char *data, size_t len,
			     size_t *consumed);

/* Hands over the completed message: *out (NUL-terminated, caller frees) and
 * *out_len, without the framing bytes. Returns RUM_ENOTFOUND when no message
 * is complete. */
int rum_netconf_framing_take(struct rum_netconf_framing *f, char **out, size_t *out_len);

/* Frames msg for sending: *out is malloc'd (caller frees), *out_len its size.
 * Chunked output is one chunk (or just the end marker for an empty message,
 * which RFC 6242 forbids: RUM_EINVAL). */
int rum_netconf_framing_encode(char **out, size_t *out_len, enum rum_netconf_framing_mode mode,
			       const char *msg, size_t len);

#endif
