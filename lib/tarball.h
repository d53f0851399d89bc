/* Writing and reading gzip-compressed tar archives: the one module that
 * includes libarchive. Entries are plain files (ustar, mode 0644, owner 0) with names
 * exactly as given: no "./" prefix, no directory entries.
 *
 * An entry can be written piecewise without knowing its size first: its
 * bytes are held in memory up to a ceiling, then spooled to an unlinked
 * temporary file, and the entry goes into the archive when it ends. Memory
 * use stays bounded whatever the entry's size.
 *
 * Every function returns 0 or a negative RUM_E* code (RUM_EIO for I/O,
 * RUM_EINVAL for a bad name) with the thread's error message set; after an
 * error the archive is unusable and should be freed. */
#ifndef RUM_UTIL_TARBALL_H
#define RUM_UTIL_TARBALL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct rum_tarball;

/* Starts an archive written to fd (which stays the caller's: never closed
 * here), gzip level 0-9, entries dated mtime. Spooled entries go to unlinked
 * files in spool_dir. */
int rum_tarball_new(struct rum_tarball **out, int fd, int level, time_t mtime,
		    const char *spool_dir);

/* Begins an entry; no other entry may be open. */
int rum_tarball_entry_begin(struct rum_tarball *tb, const char *name);
/* Appends bytes to the open entry. */
int rum_tarball_entry_write(struct rum_tarball *tb, const void *data, size_t len);
/* Writes the open entry into the archive. */
int rum_tarball_entry_end(struct rum_tarball *tb);

/* Adds an entry holding the whole content of the regular file open on fd
 * (read from offset 0 to its size; fd stays the caller's). */
int rum_tarball_add_fd(struct rum_tarball *tb, const char *name, int fd);

/* Ends the archive and flushes it to fd. */
int rum_tarball_finish(struct rum_tarball *tb);

/* Frees the archive, finished or not. Accepts NULL. */
void rum_tarball_free(struct rum_tarball *tb);

/* --- reading ---
 * Archives from outside are read in memory, never extracted: each regular
 * entry's bytes are handed to a callback. Limits hold across every archive
 * read with the same budget (nested archives share their parent's), and are
 * enforced while streaming: an entry whose header announces more than
 * max_entry_size is refused before any of its data is inflated, and the
 * inflated total is counted a chunk at a time, so a gzip bomb stops after at
 * most max_total bytes. Links (symbolic or hard), directories, devices,
 * FIFOs, absolute names and names with a ".." component are refused, as are
 * truncated or corrupt streams. Only tar (ustar, pax, GNU), gzip-compressed
 * or not. */
struct rum_tarball_budget {
	size_t max_entries;    /* entries (headers) in all */
	size_t max_entry_size; /* bytes of one entry */
	size_t max_total;      /* bytes of entries in all */
	size_t entries, total; /* used so far; start at 0 */
};

/* An entry as the callback sees it: name as stored (without a leading
 * "./"), base the part after the last '/', data valid during the call
 * (NUL-terminated for convenience; len excludes it). */
struct rum_tarball_entry {
	const char *name, *base;
	const char *data;
	size_t len;
};

/* Reads the archive in data[0..len) (which may itself be an entry of an
 * outer archive), calling cb for each regular entry in order; cb's non-zero
 * return stops the walk and is returned. what names the archive in error
 * messages. Errors: RUM_EINVAL (not a tar archive, corrupt, truncated, a
 * refused entry type or name), RUM_ETOOBIG (a limit), with the message
 * naming the archive and entry. */
int rum_tarball_read_mem(const void *data, size_t len, const char *what,
			 struct rum_tarball_budget *budget,
			 int (*cb)(void *ctx, const struct rum_tarball_entry *e), void *ctx);

/* Reads the archive on fd (the caller's; read from where it stands) with
 * the same refusals and limits, streaming each regular entry instead of
 * holding it: begin(ctx, name, size), then data(ctx, buf, len) for each
 * chunk, then end(ctx) once the entry is complete and as long as announced.
 * A callback's non-zero return stops the walk and is returned. For archives
 * too large for memory. Errors as rum_tarball_read_mem. */
struct rum_tarball_sink {
	int (*begin)(void *ctx, const char *name, size_t size);
	int (*data)(void *ctx, const void *buf, size_t len);
	int (*end)(void *ctx);
	void *ctx;
};
int rum_tarball_read_fd(int fd, const char *what, struct rum_tarball_budget *budget,
			const struct rum_tarball_sink *sink);

/* Reads the archive on fd (the caller's; read from where it stands) with
 * the same refusals and limits, entries inside entries included, without
 * holding any archive: for each regular entry cb(ctx, item) is called with
 * its name, announced size and first bytes (head). The callback may take
 * the rest of it into memory (rum_tarball_item_read_all), walk it as an
 * archive in its turn, streamed through the same budget
 * (rum_tarball_item_walk), or leave it: what it leaves is read, counted and
 * discarded. Memory stays a few chunks per nesting level whatever the
 * archive holds. cb's non-zero return stops the walk and is returned.
 * Errors as rum_tarball_read_mem. */
#define RUM_TARBALL_HEAD 512
struct rum_tarball_item {
	const char *name, *base; /* as in struct rum_tarball_entry */
	size_t size;             /* announced, within the budget's max_entry_size */
	const char *head;        /* the first min(size, RUM_TARBALL_HEAD) bytes */
	size_t head_len;
	struct rum_tarball_stream *stream; /* private */
};
typedef int (*rum_tarball_item_cb)(void *ctx, struct rum_tarball_item *item);
int rum_tarball_walk_fd(int fd, const char *what, struct rum_tarball_budget *budget,
			rum_tarball_item_cb cb, void *ctx);

/* The whole entry (head included) into *out, malloc'd and NUL-terminated
 * (the caller frees it), its length in *len. Once per item, during cb. */
int rum_tarball_item_read_all(struct rum_tarball_item *item, char **out, size_t *len);

/* Walks the entry as a tar archive (gzip-compressed or not) under the walk's
 * budget, calling cb for its entries as above; what names it in messages.
 * Once per item, during cb. */
int rum_tarball_item_walk(struct rum_tarball_item *item, const char *what, rum_tarball_item_cb cb,
			  void *ctx);

/* True when data starts like a gzip stream. */
bool rum_tarball_is_gzip(const void *data, size_t len);

#endif
