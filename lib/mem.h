/* Allocation that cannot fail: out of memory is fatal (DESIGN.md 3.5), so
 * callers never carry a branch for it. Zero sizes allocate one byte, so a
 * result is never NULL. */
#ifndef RUM_LIB_MEM_H
#define RUM_LIB_MEM_H

#include <stddef.h>

void *rum_calloc(size_t n, size_t size);
void *rum_realloc(void *p, size_t size);
/* n bytes of s and a NUL. */
char *rum_memdup(const char *s, size_t n);
char *rum_strdup(const char *s);
/* Makes room for element n of an array of n elements grown one at a time:
 * the capacity doubles when n reaches a power of two, so appending stays
 * linear in all (a realloc per element copies the array each time, which is
 * quadratic on a 100000-entry archive). The caller keeps only n. */
void *rum_grow_one(void *p, size_t n, size_t size);

#endif
