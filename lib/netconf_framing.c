/* NETCONF framing (RFC 6242 section 4), see netconf_framing.h. */
#include "lib/netconf_framing.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"

#define EOM_MARK "]]>]]>"
#define EOM_MARK_LEN 6
#define DEFAULT_MAX (64u * 1024 * 1024)
#define MAX_CHUNK 4294967295ull

enum { S_LF = 0, S_HASH, S_FIRST, S_SIZE, S_DATA, S_ENDLF };

void rum_netconf_framing_init(struct rum_netconf_framing *f, size_t max_msg)
{
	memset(f, 0, sizeof(*f));
	f->max_msg = max_msg ? max_msg : DEFAULT_MAX;
	f->mode = RUM_NETCONF_FRAMING_EOM;
}

void rum_netconf_framing_dispose(struct rum_netconf_framing *f)
{
	free(f->msg);
	f->msg = NULL;
	f->len = f->cap = 0;
}

int rum_netconf_framing_set_mode(struct rum_netconf_framing *f, enum rum_netconf_framing_mode mode)
{
	if (f->len != 0 || f->state != S_LF || f->done)
		return rum_err_set(RUM_EINVAL, "netconf framing: mode change inside a message");
	f->mode = mode;
	return 0;
}

/* Ensures room for n more bytes plus a NUL, within max_msg (+ the EOM marker
 * in that framing, which is appended before it is recognised and removed). Out of memory is
 * fatal, as everywhere in the project. */
static int reserve(struct rum_netconf_framing *f, size_t n)
{
	size_t need = f->len + n + 1;
	size_t limit = f->max_msg + 1 + (f->mode == RUM_NETCONF_FRAMING_EOM ? EOM_MARK_LEN : 0);

	if (need > limit || need < f->len)
		return rum_err_set(RUM_ETOOBIG, "netconf framing: message exceeds %zu bytes",
				   f->max_msg);
	if (need <= f->cap)
		return 0;
	size_t cap = f->cap ? f->cap : 4096;
	while (cap < need)
		cap *= 2;
	if (cap > limit)
		cap = limit;
	char *p = realloc(f->msg, cap);
	if (!p)
		abort();
	f->msg = p;
	f->cap = cap;
	return 0;
}

static int fail(struct rum_netconf_framing *f, int code)
{
	f->failed = 1;
	return code;
}

static int feed_eom(struct rum_netconf_framing *f, const char *data, size_t len, size_t *consumed)
{
	for (size_t i = 0; i < len; i++) {
		int rc = reserve(f, 1);
		if (rc < 0) {
			*consumed = i;
			return fail(f, rc);
		}
		f->msg[f->len++] = data[i];
		if (f->len >= EOM_MARK_LEN &&
		    memcmp(f->msg + f->len - EOM_MARK_LEN, EOM_MARK, EOM_MARK_LEN) == 0) {
			f->len -= EOM_MARK_LEN;
			f->msg[f->len] = '\0';
			f->done = 1;
			*consumed = i + 1;
			return 1;
		}
	}
	*consumed = len;
	return 0;
}

static int bad_header(struct rum_netconf_framing *f, size_t used, size_t *consumed, unsigned char c)
{
	*consumed = used;
	rum_err_set(RUM_EINVAL, "netconf framing: bad chunk header byte 0x%02x", c);
	return fail(f, RUM_EINVAL);
}

static int feed_chunked(struct rum_netconf_framing *f, const char *data, size_t len,
			size_t *consumed)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = (unsigned char)data[i];

		switch (f->state) {
		case S_LF:
			if (c != '\n')
				return bad_header(f, i, consumed, c);
			f->state = S_HASH;
			i++;
			break;
		case S_HASH:
			if (c != '#')
				return bad_header(f, i, consumed, c);
			f->state = S_FIRST;
			i++;
			break;
		case S_FIRST:
			if (c == '#') {
				f->state = S_ENDLF;
			} else if (c >= '1' && c <= '9') {
				f->chunk_left = c - '0';
				f->state = S_SIZE;
			} else {
				return bad_header(f, i, consumed, c);
			}
			i++;
			break;
		case S_SIZE:
			if (c == '\n') {
				f->state = S_DATA;
			} else if (c >= '0' && c <= '9') {
				f->chunk_left = f->chunk_left * 10 + (c - '0');
				if (f->chunk_left > MAX_CHUNK)
					return bad_header(f, i, consumed, c);
			} else {
				return bad_header(f, i, consumed, c);
			}
			i++;
			break;
		case S_DATA: {
			size_t n = len - i;
			int rc;

			if (n > f->chunk_left)
				n = (size_t)f->chunk_left;
			rc = reserve(f, n);
			if (rc < 0) {
				*consumed = i;
				return fail(f, rc);
			}
			memcpy(f->msg + f->len, data + i, n);
			f->len += n;
			f->chunk_left -= n;
			i += n;
			if (f->chunk_left == 0)
				f->state = S_LF;
			break;
		}
		case S_ENDLF:
			if (c != '\n')
				return bad_header(f, i, consumed, c);
			i++;
			f->state = S_LF;
			if (f->len == 0) {
				*consumed = i;
				rum_err_set(RUM_EINVAL,
					    "netconf framing: end of chunks with no chunk");
				return fail(f, RUM_EINVAL);
			}
			if (reserve(f, 0) < 0) /* room for the NUL is always there; kept for clarity
						*/
				return fail(f, RUM_ETOOBIG);
			f->msg[f->len] = '\0';
			f->done = 1;
			*consumed = i;
			return 1;
		}
	}
	*consumed = len;
	return 0;
}

int rum_netconf_framing_feed(struct rum_netconf_framing *f, const char *data, size_t len,
			     size_t *consumed)
{
	*consumed = 0;
	if (f->failed)
		return rum_err_set(RUM_EINVAL, "netconf framing: stream already failed");
	if (f->done)
		return 1;
	if (f->mode == RUM_NETCONF_FRAMING_EOM)
		return feed_eom(f, data, len, consumed);
	return feed_chunked(f, data, len, consumed);
}

int rum_netconf_framing_take(struct rum_netconf_framing *f, char **out, size_t *out_len)
{
	if (!f->done)
		return rum_err_set(RUM_ENOTFOUND, "netconf framing: no complete message");
	*out = f->msg;
	*out_len = f->len;
	f->msg = NULL;
	f->len = f->cap = 0;
	f->done = 0;
	return 0;
}

int rum_netconf_framing_encode(char **out, size_t *out_len, enum rum_netconf_framing_mode mode,
			       const char *msg, size_t len)
{
	char head[32];
	int hl = 0;
	size_t total;
	char *p;

	if (mode == RUM_NETCONF_FRAMING_CHUNKED) {
		if (len == 0 || (unsigned long long)len > MAX_CHUNK)
			return rum_err_set(RUM_EINVAL, "netconf framing: cannot chunk %zu bytes",
					   len);
		hl = snprintf(head, sizeof(head), "\n#%zu\n", len);
		total = (size_t)hl + len + 4;
	} else {
		total = len + EOM_MARK_LEN;
	}
	p = malloc(total + 1);
	if (!p)
		abort();
	memcpy(p, head, (size_t)hl);
	memcpy(p + hl, msg, len);
	if (mode == RUM_NETCONF_FRAMING_CHUNKED)
		memcpy(p + hl + len, "\n##\n", 4);
	else
		memcpy(p + len, EOM_MARK, EOM_MARK_LEN);
	p[total] = '\0';
	*out = p;
	*out_len = total;
	return 0;
}
