/* Allocation wrappers: out of memory is fatal outside Lua. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "venueless.h"

/* Abort with a message; nothing sensible is left to do. */
static void
aux_oom(void)
{
	fputs("venueless: out of memory\n", stderr);
	abort();
}

void *
xmalloc(size_t n)
{
	void	*p;

	if ((p = malloc(n == 0 ? 1 : n)) == NULL)
		aux_oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void	*p;

	if ((p = calloc(n == 0 ? 1 : n, size == 0 ? 1 : size)) == NULL)
		aux_oom();
	return p;
}

void *
xrealloc(void *old, size_t n)
{
	void	*p;

	if ((p = realloc(old, n == 0 ? 1 : n)) == NULL)
		aux_oom();
	return p;
}

char *
xstrndup(const char *s, size_t n)
{
	char	*p;

	p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}
