/*
 * fnmatch globs as Python's fnmatch.fnmatchcase reads them (the label
 * patterns of `venueless connections`): *, ?, [seq], [!seq], ranges a-z
 * (empty when reversed), '-' first or last and a backslash literal, an
 * unclosed '[' literal. Matched in place with the two-pointer star
 * backtrack (only the last star is ever retried), so the cost is at
 * most the glob's length times the name's, never exponential as the
 * Lua patterns (or regular expressions) a glob can be translated to.
 */
#include <stddef.h>
#include <stdint.h>

#include "venueless.h"

/* Steps between two looks at vl_interrupted. */
#define GLOB_CHECK	(1UL << 20)

/* Is byte c in the bracket body b[0..n), Python's reading of ranges? */
static int
aux_inset(const unsigned char *b, size_t n, unsigned char c)
{
	size_t	 k = 0;

	while (k < n) {
		if (k + 2 < n && b[k + 1] == '-') {
			if (b[k] <= c && c <= b[k + 2])
				return 1;
			k += 3;
		} else if (b[k++] == c)
			return 1;
	}
	return 0;
}

/*
 * The element of g (not a star) at p: its length in g, and in *match
 * whether byte c matches it.
 */
static size_t
aux_elem(const unsigned char *g, size_t gn, size_t p, unsigned char c,
    int *match)
{
	size_t	 j = p + 1, body;
	int	 negate = 0;

	if (g[p] == '?') {
		*match = 1;
		return 1;
	}
	if (g[p] != '[') {
		*match = g[p] == c;
		return 1;
	}
	if (j < gn && g[j] == '!')
		negate = 1, j++;
	body = j;
	if (j < gn && g[j] == ']')
		j++;
	while (j < gn && g[j] != ']')
		j++;
	if (j >= gn) {		/* unclosed: a literal '[' */
		*match = c == '[';
		return 1;
	}
	*match = aux_inset(g + body, j - body, c) != negate;
	return j + 1 - p;
}

/*
 * Does name s[0..sn) match glob g[0..gn)? 1 or 0; -1 when SIGINT or
 * SIGTERM arrived during a long match (the caller raises).
 */
int
vl_glob_match(const char *glob, size_t gn, const char *name, size_t sn)
{
	const unsigned char	*g = (const unsigned char *)glob;
	const unsigned char	*s = (const unsigned char *)name;
	size_t			 p = 0, i = 0, star = SIZE_MAX, from = 0, len;
	unsigned long		 steps = 0;
	int			 match;

	while (i < sn) {
		if (p < gn && g[p] == '*') {
			while (p < gn && g[p] == '*')
				p++;
			star = p, from = i;	/* the star takes nothing yet */
			continue;
		}
		match = 0;
		len = p < gn ? aux_elem(g, gn, p, s[i], &match) : 1;
		if ((steps += len) >= GLOB_CHECK) {
			if (vl_interrupted)
				return -1;
			steps = 0;
		}
		if (match) {
			p += len, i++;
		} else if (star != SIZE_MAX) {
			p = star, i = ++from;	/* the star takes one more */
		} else
			return 0;
	}
	while (p < gn && g[p] == '*')
		p++;
	return p == gn;
}
