#include "lib/mem.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void *rum_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		abort();
	return p;
}

void *rum_realloc(void *p, size_t size)
{
	p = realloc(p, size ? size : 1);
	if (!p)
		abort();
	return p;
}

char *rum_memdup(const char *s, size_t n)
{
	char *p = malloc(n + 1);

	if (!p)
		abort();
	if (n)
		memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *rum_strdup(const char *s)
{
	return rum_memdup(s, strlen(s));
}

void *rum_grow_one(void *p, size_t n, size_t size)
{
	if (n != 0 && (n & (n - 1)) != 0)
		return p; /* capacity is the next power of two: room left */
	if (size == 0 || n > SIZE_MAX / 2 / size)
		abort();
	return rum_realloc(p, (n ? 2 * n : 1) * size);
}
