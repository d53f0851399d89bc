#include "lib/tarball.h"

#include "lib/err.h"

#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* An entry's bytes stay in memory up to this many, then go to a spool file. */
#define RUM_TARBALL_SPOOL_MEM (8u << 20)
/* Copy buffer for spooled entries and added files. */
#define RUM_TARBALL_COPY (256u << 10)
/* ustar's name field. */
#define RUM_TARBALL_NAME_MAX 99

struct rum_tarball {
	struct archive *a;
	time_t mtime;
	char *spool_dir;
	/* the open entry */
	bool open;
	char name[RUM_TARBALL_NAME_MAX + 1];
	char *mem;
	size_t mem_len, mem_cap;
	int spool_fd; /* -1 until the entry outgrows memory */
	size_t spool_len;
	char *copy; /* RUM_TARBALL_COPY bytes */
};

static int rum_tarball_fail(struct rum_tarball *tb, const char *what)
{
	const char *why = archive_error_string(tb->a);
	int e = archive_errno(tb->a);

	/* libarchive's text for a failed write() is only "Write error". */
	return rum_err_set(RUM_EIO, "%s: %s%s%s", what, why ? why : "archive error",
			   e > 0 ? ": " : "", e > 0 ? strerror(e) : "");
}

int rum_tarball_new(struct rum_tarball **out, int fd, int level, time_t mtime,
		    const char *spool_dir)
{
	struct rum_tarball *tb = calloc(1, sizeof(*tb));
	char lv[4];
	int rc = 0;

	*out = NULL;
	if (!tb)
		abort();
	tb->spool_fd = -1;
	tb->mtime = mtime;
	tb->spool_dir = strdup(spool_dir);
	tb->copy = malloc(RUM_TARBALL_COPY);
	tb->a = archive_write_new();
	if (!tb->spool_dir || !tb->copy || !tb->a)
		abort();
	snprintf(lv, sizeof(lv), "%d", level < 0 ? 0 : level > 9 ? 9 : level);
	if (archive_write_set_format_ustar(tb->a) != ARCHIVE_OK ||
	    archive_write_add_filter_gzip(tb->a) != ARCHIVE_OK ||
	    archive_write_set_filter_option(tb->a, "gzip", "compression-level", lv) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(tb->a, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(tb->a, fd) != ARCHIVE_OK)
		rc = rum_tarball_fail(tb, "starting an archive");
	if (rc != 0) {
		rum_tarball_free(tb);
		return rc;
	}
	*out = tb;
	return 0;
}

static bool rum_tarball_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > RUM_TARBALL_NAME_MAX || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (name[i] <= 0x20 || name[i] >= 0x7f || name[i] == '/' || name[i] == '\\')
			return false;
	return true;
}

/* Writes an entry header for a regular file of size bytes. */
static int rum_tarball_header(struct rum_tarball *tb, const char *name, size_t size)
{
	struct archive_entry *e = archive_entry_new();
	int rc = 0;

	if (!e)
		abort();
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, tb->mtime, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	if (archive_write_header(tb->a, e) != ARCHIVE_OK)
		rc = rum_tarball_fail(tb, name);
	archive_entry_free(e);
	return rc;
}

static int rum_tarball_data(struct rum_tarball *tb, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		la_ssize_t n = archive_write_data(tb->a, p, len);

		if (n <= 0)
			return rum_tarball_fail(tb, tb->name);
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies size bytes of fd, from offset 0, into the open archive entry. */
static int rum_tarball_copy_fd(struct rum_tarball *tb, int fd, size_t size)
{
	off_t off = 0;
	int rc = 0;

	while (rc == 0 && (size_t)off < size) {
		size_t want = size - (size_t)off < RUM_TARBALL_COPY ? size - (size_t)off
								    : RUM_TARBALL_COPY;
		ssize_t n = pread(fd, tb->copy, want, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return rum_err_set(RUM_EIO, "%s: reading back: %s", tb->name,
					   n < 0 ? strerror(errno) : "file shrank");
		rc = rum_tarball_data(tb, tb->copy, (size_t)n);
		off += n;
	}
	return rc;
}

int rum_tarball_entry_begin(struct rum_tarball *tb, const char *name)
{
	if (tb->open)
		return rum_err_set(RUM_EINTERNAL, "tarball: entry %s is still open", tb->name);
	if (!rum_tarball_name_ok(name))
		return rum_err_set(RUM_EINVAL, "tarball: bad entry name '%s'", name);
	snprintf(tb->name, sizeof(tb->name), "%s", name);
	tb->open = true;
	tb->mem_len = 0;
	tb->spool_len = 0;
	return 0;
}

static int rum_tarball_write_all(int fd, const void *data, size_t len, const char *what)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return rum_err_set(RUM_EIO, "%s: spooling: %s", what, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* The spool file: anonymous (O_TMPFILE) where the file system allows it,
 * else a named one unlinked at once. */
static int rum_tarball_spool_open(struct rum_tarball *tb)
{
	char path[4096];
	int fd = open(tb->spool_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0) {
		if (snprintf(path, sizeof(path), "%s/.rum-spool-XXXXXX", tb->spool_dir) >=
		    (int)sizeof(path))
			return rum_err_set(RUM_EINVAL, "spool directory name too long");
		fd = mkostemp(path, O_CLOEXEC);
		if (fd >= 0)
			unlink(path);
	}
	if (fd < 0)
		return rum_err_set(RUM_EIO, "%s: cannot create a spool file in %s: %s", tb->name,
				   tb->spool_dir, strerror(errno));
	tb->spool_fd = fd;
	return 0;
}

int rum_tarball_entry_write(struct rum_tarball *tb, const void *data, size_t len)
{
	int rc;

	if (!tb->open)
		return rum_err_set(RUM_EINTERNAL, "tarball: no open entry");
	if (tb->spool_len == 0 && tb->mem_len + len <= RUM_TARBALL_SPOOL_MEM) {
		if (tb->mem_len + len > tb->mem_cap) {
			size_t cap = tb->mem_cap ? tb->mem_cap : 64u << 10;

			while (cap < tb->mem_len + len)
				cap *= 2;
			tb->mem = realloc(tb->mem, cap);
			if (!tb->mem)
				abort();
			tb->mem_cap = cap;
		}
		memcpy(tb->mem + tb->mem_len, data, len);
		tb->mem_len += len;
		return 0;
	}
	if (tb->spool_len == 0) { /* outgrew memory: move what is held to the spool */
		if (tb->spool_fd < 0 && (rc = rum_tarball_spool_open(tb)) != 0)
			return rc;
		if (ftruncate(tb->spool_fd, 0) != 0 || lseek(tb->spool_fd, 0, SEEK_SET) != 0)
			return rum_err_set(RUM_EIO, "%s: spool: %s", tb->name, strerror(errno));
		rc = rum_tarball_write_all(tb->spool_fd, tb->mem, tb->mem_len, tb->name);
		if (rc != 0)
			return rc;
		tb->spool_len = tb->mem_len;
		tb->mem_len = 0;
	}
	rc = rum_tarball_write_all(tb->spool_fd, data, len, tb->name);
	if (rc == 0)
		tb->spool_len += len;
	return rc;
}

int rum_tarball_entry_end(struct rum_tarball *tb)
{
	int rc;

	if (!tb->open)
		return rum_err_set(RUM_EINTERNAL, "tarball: no open entry");
	tb->open = false;
	if (tb->spool_len > 0) {
		rc = rum_tarball_header(tb, tb->name, tb->spool_len);
		if (rc == 0)
			rc = rum_tarball_copy_fd(tb, tb->spool_fd, tb->spool_len);
		return rc;
	}
	rc = rum_tarball_header(tb, tb->name, tb->mem_len);
	if (rc == 0)
		rc = rum_tarball_data(tb, tb->mem, tb->mem_len);
	return rc;
}

int rum_tarball_add_fd(struct rum_tarball *tb, const char *name, int fd)
{
	struct stat st;
	int rc;

	if (tb->open)
		return rum_err_set(RUM_EINTERNAL, "tarball: entry %s is still open", tb->name);
	if (!rum_tarball_name_ok(name))
		return rum_err_set(RUM_EINVAL, "tarball: bad entry name '%s'", name);
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		return rum_err_set(RUM_EIO, "%s: not a readable regular file", name);
	snprintf(tb->name, sizeof(tb->name), "%s", name);
	rc = rum_tarball_header(tb, name, (size_t)st.st_size);
	if (rc == 0)
		rc = rum_tarball_copy_fd(tb, fd, (size_t)st.st_size);
	return rc;
}

int rum_tarball_finish(struct rum_tarball *tb)
{
	if (tb->open)
		return rum_err_set(RUM_EINTERNAL, "tarball: entry %s is still open", tb->name);
	if (archive_write_close(tb->a) != ARCHIVE_OK)
		return rum_tarball_fail(tb, "finishing the archive");
	return 0;
}

void rum_tarball_free(struct rum_tarball *tb)
{
	if (!tb)
		return;
	if (tb->a)
		archive_write_free(tb->a); /* closes (flushes) an archive left open */
	if (tb->spool_fd >= 0)
		close(tb->spool_fd);
	free(tb->spool_dir);
	free(tb->mem);
	free(tb->copy);
	free(tb);
}

/* --- reading --- */

/* Bytes asked of libarchive at a time while reading an entry. */
#define RUM_TARBALL_READ_CHUNK (64u << 10)

bool rum_tarball_is_gzip(const void *data, size_t len)
{
	const unsigned char *p = data;

	return len >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

/* Refuses absolute names and ".." components; strips leading "./". */
static int rum_tarball_read_name(const char *name, const char *what, const char **out)
{
	const char *p;

	if (!name || !name[0])
		return rum_err_set(RUM_EINVAL, "%s: an entry has no name", what);
	if (name[0] == '/' || name[0] == '\\')
		return rum_err_set(RUM_EINVAL, "%s: entry '%s' has an absolute path; refused", what,
				   name);
	for (p = name; *p;) {
		size_t n = strcspn(p, "/\\");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return rum_err_set(RUM_EINVAL,
					   "%s: entry '%s' has a '..' component; refused", what,
					   name);
		p += n;
		if (*p)
			p++;
	}
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	*out = name;
	return 0;
}

static int rum_tarball_read_fail(struct archive *a, const char *what, const char *entry)
{
	const char *why = archive_error_string(a);

	return rum_err_set(RUM_EINVAL, "%s%s%s: %s", what, entry ? ": " : "", entry ? entry : "",
			   why ? why : "corrupt archive");
}

/* Reads the current entry (size bytes announced) into *buf, counting every
 * chunk against the budget as it is inflated. */
static int rum_tarball_read_entry(struct archive *a, const char *what, const char *name,
				  size_t size, struct rum_tarball_budget *b, char **buf,
				  size_t *len)
{
	size_t cap = size + 1, used = 0;
	char *p = malloc(cap);

	if (!p)
		abort();
	for (;;) {
		size_t want = cap - 1 - used < RUM_TARBALL_READ_CHUNK ? cap - 1 - used
								      : RUM_TARBALL_READ_CHUNK;
		la_ssize_t n;

		if (want == 0) { /* announced size reached: the format ends the entry */
			char probe;

			n = archive_read_data(a, &probe, 1);
			if (n == 0)
				break;
			free(p);
			if (n < 0)
				return rum_tarball_read_fail(a, what, name);
			return rum_err_set(RUM_EINVAL, "%s: %s: longer than its header says", what,
					   name);
		}
		n = archive_read_data(a, p + used, want);
		if (n < 0) {
			free(p);
			return rum_tarball_read_fail(a, what, name);
		}
		if (n == 0)
			break;
		used += (size_t)n;
		b->total += (size_t)n;
		if (b->total > b->max_total) {
			free(p);
			return rum_err_set(RUM_ETOOBIG,
					   "%s: %s: archive contents exceed %zu bytes in "
					   "all (a decompression bomb?); refused",
					   what, name, b->max_total);
		}
	}
	if (used != size) {
		free(p);
		return rum_err_set(RUM_EINVAL, "%s: %s: truncated (%zu of %zu bytes)", what, name,
				   used, size);
	}
	p[used] = '\0';
	*buf = p;
	*len = used;
	return 0;
}

/* Checks the current entry's header against the refusals and the budget:
 * *name the name without "./", *size its announced size. */
static int rum_tarball_entry_check(struct archive_entry *e, const char *what,
				   struct rum_tarball_budget *b, const char **name, size_t *size)
{
	const char *raw = archive_entry_pathname(e);
	la_int64_t announced = archive_entry_size(e);
	int rc;

	if (++b->entries > b->max_entries)
		return rum_err_set(RUM_ETOOBIG, "%s: more than %zu entries; refused", what,
				   b->max_entries);
	rc = rum_tarball_read_name(raw, what, name);
	if (rc != 0)
		return rc;
	if (archive_entry_hardlink(e) || archive_entry_symlink(e))
		return rum_err_set(RUM_EINVAL, "%s: entry '%s' is a %s link; refused", what, *name,
				   archive_entry_symlink(e) ? "symbolic" : "hard");
	if (archive_entry_filetype(e) != AE_IFREG)
		return rum_err_set(RUM_EINVAL, "%s: entry '%s' is not a regular file; refused",
				   what, *name);
	if (announced < 0 || (uint64_t)announced > b->max_entry_size)
		return rum_err_set(RUM_ETOOBIG,
				   "%s: entry '%s' announces %lld bytes, over the "
				   "%zu-byte limit; refused",
				   what, *name, (long long)announced, b->max_entry_size);
	if (b->total + (size_t)announced > b->max_total)
		return rum_err_set(RUM_ETOOBIG,
				   "%s: %s: archive contents exceed %zu bytes in all "
				   "(a decompression bomb?); refused",
				   what, *name, b->max_total);
	*size = (size_t)announced;
	return 0;
}

struct rum_tarball_mem_walk {
	int (*cb)(void *ctx, const struct rum_tarball_entry *e);
	void *ctx;
};

static int rum_tarball_read_one(struct archive *a, struct archive_entry *e, const char *what,
				struct rum_tarball_budget *b, void *arg)
{
	struct rum_tarball_mem_walk *w = arg;
	const char *name = NULL, *slash;
	struct rum_tarball_entry te;
	char *buf = NULL;
	size_t size = 0, len = 0;
	int rc = rum_tarball_entry_check(e, what, b, &name, &size);

	if (rc != 0)
		return rc;
	rc = rum_tarball_read_entry(a, what, name, size, b, &buf, &len);
	if (rc != 0)
		return rc;
	slash = strrchr(name, '/');
	te = (struct rum_tarball_entry){name, slash ? slash + 1 : name, buf, len};
	rc = w->cb(w->ctx, &te);
	free(buf);
	return rc;
}

/* Hands the current entry to the sink a chunk at a time. */
static int rum_tarball_stream_one(struct archive *a, struct archive_entry *e, const char *what,
				  struct rum_tarball_budget *b, void *arg)
{
	const struct rum_tarball_sink *sink = arg;
	const char *name = NULL;
	size_t size = 0, used = 0;
	char *buf;
	int rc = rum_tarball_entry_check(e, what, b, &name, &size);

	if (rc == 0)
		rc = sink->begin(sink->ctx, name, size);
	if (rc != 0)
		return rc;
	buf = malloc(RUM_TARBALL_READ_CHUNK);
	if (!buf)
		abort();
	while (rc == 0) {
		la_ssize_t n = archive_read_data(a, buf, RUM_TARBALL_READ_CHUNK);

		if (n < 0)
			rc = rum_tarball_read_fail(a, what, name);
		if (n <= 0)
			break;
		used += (size_t)n;
		b->total += (size_t)n;
		if (used > size)
			rc = rum_err_set(RUM_EINVAL, "%s: %s: longer than its header says", what,
					 name);
		else if (b->total > b->max_total)
			rc = rum_err_set(RUM_ETOOBIG,
					 "%s: %s: archive contents exceed %zu bytes in "
					 "all (a decompression bomb?); refused",
					 what, name, b->max_total);
		else
			rc = sink->data(sink->ctx, buf, (size_t)n);
	}
	free(buf);
	if (rc == 0 && used != size)
		rc = rum_err_set(RUM_EINVAL, "%s: %s: truncated (%zu of %zu bytes)", what, name,
				 used, size);
	if (rc == 0)
		rc = sink->end(sink->ctx);
	return rc;
}

/* Walks an opened archive, calling one() for each entry header; the stream
 * must then end cleanly (trailing garbage or a bad CRC shows at close). */
static int rum_tarball_walk(struct archive *a, const char *what, struct rum_tarball_budget *b,
			    int (*one)(struct archive *a, struct archive_entry *e, const char *what,
				       struct rum_tarball_budget *b, void *arg),
			    void *arg)
{
	struct archive_entry *e;
	int rc = 0, r;

	while (rc == 0) {
		r = archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r != ARCHIVE_OK) { /* ARCHIVE_WARN too: a header libarchive doubted */
			rc = rum_tarball_read_fail(a, what, NULL);
			break;
		}
		rc = one(a, e, what, b, arg);
	}
	if (rc == 0 && archive_read_close(a) != ARCHIVE_OK)
		rc = rum_tarball_read_fail(a, what, NULL);
	return rc;
}

static struct archive *rum_tarball_reader_new(void)
{
	struct archive *a = archive_read_new();

	if (!a)
		abort();
	if (archive_read_support_filter_gzip(a) != ARCHIVE_OK ||
	    archive_read_support_format_tar(a) != ARCHIVE_OK) {
		archive_read_free(a);
		return NULL;
	}
	return a;
}

int rum_tarball_read_mem(const void *data, size_t len, const char *what,
			 struct rum_tarball_budget *budget,
			 int (*cb)(void *ctx, const struct rum_tarball_entry *e), void *ctx)
{
	struct rum_tarball_mem_walk w = {cb, ctx};
	struct archive *a = rum_tarball_reader_new();
	int rc;

	if (!a)
		return rum_err_set(RUM_EINTERNAL, "%s: libarchive lacks tar or gzip", what);
	if (archive_read_open_memory(a, data, len) != ARCHIVE_OK)
		rc = rum_tarball_read_fail(a, what, NULL);
	else
		rc = rum_tarball_walk(a, what, budget, rum_tarball_read_one, &w);
	archive_read_free(a);
	return rc;
}

int rum_tarball_read_fd(int fd, const char *what, struct rum_tarball_budget *budget,
			const struct rum_tarball_sink *sink)
{
	struct archive *a = rum_tarball_reader_new();
	int rc;

	if (!a)
		return rum_err_set(RUM_EINTERNAL, "%s: libarchive lacks tar or gzip", what);
	if (archive_read_open_fd(a, fd, RUM_TARBALL_COPY) != ARCHIVE_OK)
		rc = rum_tarball_read_fail(a, what, NULL);
	else
		rc = rum_tarball_walk(a, what, budget, rum_tarball_stream_one, (void *)sink);
	archive_read_free(a);
	return rc;
}

/* --- reading, streamed through nested archives --- */

/* The entry being read: where its bytes come from (the enclosing archive)
 * and how many of them were taken. */
struct rum_tarball_stream {
	struct archive *a;
	const char *what, *name;
	struct rum_tarball_budget *b;
	size_t size, used;
	char head[RUM_TARBALL_HEAD];
	size_t head_len, head_given; /* head bytes handed to a nested reader */
	char *chunk;                 /* RUM_TARBALL_READ_CHUNK bytes, made on demand */
	int rc;                      /* a failure met by a nested reader's pull */
	char err[512];
};

/* Up to want bytes of the entry, counted against the budget: n >= 0 (0 at
 * its end, which must be where the header said), or a RUM_E* code. */
static la_ssize_t rum_tarball_pull(struct rum_tarball_stream *s, void *buf, size_t want)
{
	la_ssize_t n = archive_read_data(s->a, buf, want);

	if (n < 0)
		return rum_tarball_read_fail(s->a, s->what, s->name);
	if (n == 0 && s->used != s->size)
		return rum_err_set(RUM_EINVAL, "%s: %s: truncated (%zu of %zu bytes)", s->what,
				   s->name, s->used, s->size);
	s->used += (size_t)n;
	s->b->total += (size_t)n;
	if (s->used > s->size)
		return rum_err_set(RUM_EINVAL, "%s: %s: longer than its header says", s->what,
				   s->name);
	if (s->b->total > s->b->max_total)
		return rum_err_set(RUM_ETOOBIG,
				   "%s: %s: archive contents exceed %zu bytes in "
				   "all (a decompression bomb?); refused",
				   s->what, s->name, s->b->max_total);
	return n;
}

static char *rum_tarball_chunk(struct rum_tarball_stream *s)
{
	if (!s->chunk && !(s->chunk = malloc(RUM_TARBALL_READ_CHUNK)))
		abort();
	return s->chunk;
}

int rum_tarball_item_read_all(struct rum_tarball_item *item, char **out, size_t *len)
{
	struct rum_tarball_stream *s = item->stream;
	size_t have = s->head_len;
	char *p = malloc(s->size + 1);

	*out = NULL;
	*len = 0;
	if (!p)
		abort();
	memcpy(p, s->head, s->head_len);
	for (;;) {
		la_ssize_t n = rum_tarball_pull(s, p + have, s->size + 1 - have);

		if (n < 0) {
			free(p);
			return (int)n;
		}
		if (n == 0)
			break;
		have += (size_t)n;
	}
	p[have] = '\0';
	*out = p;
	*len = have;
	return 0;
}

/* libarchive's read callback for an archive inside an entry: the head
 * first, then the entry's bytes as the enclosing archive inflates them. */
static la_ssize_t rum_tarball_nested_source(struct archive *a, void *ctx, const void **buf)
{
	struct rum_tarball_stream *s = ctx;
	la_ssize_t n;

	if (s->head_given < s->head_len) {
		*buf = s->head + s->head_given;
		n = (la_ssize_t)(s->head_len - s->head_given);
		s->head_given = s->head_len;
		return n;
	}
	n = rum_tarball_pull(s, rum_tarball_chunk(s), RUM_TARBALL_READ_CHUNK);
	if (n < 0) {
		s->rc = (int)n;
		snprintf(s->err, sizeof(s->err), "%s", rum_err_msg());
		archive_set_error(a, EIO, "%s", s->err);
		return ARCHIVE_FATAL;
	}
	*buf = s->chunk;
	return n;
}

struct rum_tarball_item_walk {
	rum_tarball_item_cb cb;
	void *ctx;
};

/* One entry header of a streamed walk: checked, its head read, handed to
 * the callback, and what the callback left read and discarded. */
static int rum_tarball_item_one(struct archive *a, struct archive_entry *e, const char *what,
				struct rum_tarball_budget *b, void *arg)
{
	struct rum_tarball_item_walk *w = arg;
	struct rum_tarball_stream s = {.a = a, .what = what, .b = b};
	struct rum_tarball_item item;
	const char *slash;
	la_ssize_t n = 0;
	int rc = rum_tarball_entry_check(e, what, b, &s.name, &s.size);

	if (rc != 0)
		return rc;
	while (rc == 0 && s.head_len < sizeof(s.head) && s.used < s.size) {
		size_t want = sizeof(s.head) - s.head_len;

		n = rum_tarball_pull(&s, s.head + s.head_len, want);
		if (n < 0)
			rc = (int)n;
		else if (n == 0)
			break;
		else
			s.head_len += (size_t)n;
	}
	if (rc == 0) {
		slash = strrchr(s.name, '/');
		item = (struct rum_tarball_item){
			s.name, slash ? slash + 1 : s.name, s.size, s.head, s.head_len, &s};
		rc = w->cb(w->ctx, &item);
	}
	while (rc == 0 &&
	       (n = rum_tarball_pull(&s, rum_tarball_chunk(&s), RUM_TARBALL_READ_CHUNK)) > 0)
		;
	if (rc == 0 && n < 0)
		rc = (int)n;
	free(s.chunk);
	return rc;
}

int rum_tarball_walk_fd(int fd, const char *what, struct rum_tarball_budget *budget,
			rum_tarball_item_cb cb, void *ctx)
{
	struct rum_tarball_item_walk w = {cb, ctx};
	struct archive *a = rum_tarball_reader_new();
	int rc;

	if (!a)
		return rum_err_set(RUM_EINTERNAL, "%s: libarchive lacks tar or gzip", what);
	if (archive_read_open_fd(a, fd, RUM_TARBALL_COPY) != ARCHIVE_OK)
		rc = rum_tarball_read_fail(a, what, NULL);
	else
		rc = rum_tarball_walk(a, what, budget, rum_tarball_item_one, &w);
	archive_read_free(a);
	return rc;
}

int rum_tarball_item_walk(struct rum_tarball_item *item, const char *what, rum_tarball_item_cb cb,
			  void *ctx)
{
	struct rum_tarball_stream *s = item->stream;
	struct rum_tarball_item_walk w = {cb, ctx};
	struct archive *a = rum_tarball_reader_new();
	int rc;

	if (!a)
		return rum_err_set(RUM_EINTERNAL, "%s: libarchive lacks tar or gzip", what);
	if (archive_read_open(a, s, NULL, rum_tarball_nested_source, NULL) != ARCHIVE_OK)
		rc = rum_tarball_read_fail(a, what, NULL);
	else
		rc = rum_tarball_walk(a, what, s->b, rum_tarball_item_one, &w);
	archive_read_free(a);
	/* A failure of the enclosing archive's bytes is told as such, not as
	 * the nested reader's view of it. */
	if (rc != 0 && s->rc != 0)
		rc = rum_err_set(s->rc, "%s", s->err);
	return rc;
}
