/* Writing gzip-compressed tar archives: the one module that includes
 * libarchive. Entries are plain files (ustar, mode 0644, owner 0) with names
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

#endif
