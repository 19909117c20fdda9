/*
 * src/redisurl.c, the one Redis URL codec. Any bytes as a URL: a parsed
 * URL whose fields are in range, or a message; a parsed redis:// URL
 * formatted again from its parts parses to the same parts. Input with a
 * 0xff byte is instead the five parts of vl_redisurl_format (host, port,
 * db, user, password, split at 0xff): whatever it formats either parses
 * back to those parts or is refused for its port or database.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"

/* Are the two strings equal, NULL meaning the same as a NULL? */
static int
aux_same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* The field invariants of a parsed URL. */
static void
aux_check(const struct vl_redisurl *u, const char *s)
{
	if (u->host == NULL || u->masked == NULL)
		fuzz_crash("parsed without host or masked URL: %s", s);
	if (u->is_unix ? u->port != 0 || u->host[0] != '/' :
	    u->port < 1 || u->port > 65535)
		fuzz_crash("parsed with a bad port or path: %s", s);
	if (u->db < 0 || u->db > 2147483647)
		fuzz_crash("parsed with a bad db: %s", s);
	if (u->password != NULL && u->password[0] == '\0')
		fuzz_crash("parsed with an empty password: %s", s);
}

/* Format u from its parts and parse that: the same parts back. */
static void
aux_reformat(const struct vl_redisurl *u, const char *s)
{
	struct vl_redisurl	 v;
	const char		*cause;
	char			 port[16], db[32], *url;

	snprintf(port, sizeof port, "%d", u->port);
	snprintf(db, sizeof db, "%lld", u->db);
	url = vl_redisurl_format(u->host, port, db, u->user, u->password);
	if (vl_redisurl_parse(url, &v, &cause) != 0)
		fuzz_crash("%s formatted as %s: %s", s, url, cause);
	if (!aux_same(u->host, v.host) || !aux_same(u->user, v.user) ||
	    !aux_same(u->password, v.password) || u->port != v.port ||
	    u->db != v.db || v.is_unix)
		fuzz_crash("%s formatted as %s parses differently", s, url);
	vl_redisurl_free(&v);
	free(url);
}

/* Parse s as a URL. */
static void
aux_url(const char *s)
{
	struct vl_redisurl	 u;
	const char		*cause = NULL;

	if (vl_redisurl_parse(s, &u, &cause) != 0) {
		if (cause == NULL || u.host != NULL || u.masked != NULL)
			fuzz_crash("refused without a message: %s", s);
		return;
	}
	aux_check(&u, s);
	if (!u.is_unix)
		aux_reformat(&u, s);
	vl_redisurl_free(&u);
}

/* An empty part (user, password) is the same as none. */
static const char *
aux_nonempty(const char *s)
{
	return *s != '\0' ? s : NULL;
}

/* Format the parts p[0..5) and parse the result. */
static void
aux_parts(char *p[5])
{
	struct vl_redisurl	 u;
	const char		*cause;
	char			*url;

	url = vl_redisurl_format(p[0], p[1], p[2], p[3], p[4]);
	if (vl_redisurl_parse(url, &u, &cause) != 0) {
		if (strcmp(cause, "bad port number") != 0 &&
		    strcmp(cause, "bad database number") != 0)
			fuzz_crash("formatted %s: %s", url, cause);
		free(url);
		return;
	}
	aux_check(&u, url);
	if (!aux_same(*p[0] != '\0' ? p[0] : "127.0.0.1", u.host) ||
	    !aux_same(aux_nonempty(p[3]), u.user) ||
	    !aux_same(aux_nonempty(p[4]), u.password) ||
	    u.port != atoi(p[1]) || u.db != atoll(p[2]))
		fuzz_crash("formatted %s parses to other parts", url);
	vl_redisurl_free(&u);
	free(url);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	*s, *p[5], *q;
	int	 i;

	s = xstrndup((const char *)data, size);	/* up to a NUL byte */
	if (strchr(s, '\xff') == NULL) {
		aux_url(s);
		free(s);
		return 0;
	}
	for (i = 0, q = s; i < 5; i++) {
		p[i] = q;
		if ((q = strchr(q, '\xff')) != NULL)
			*q++ = '\0';
		else
			q = p[i] + strlen(p[i]);
	}
	aux_parts(p);
	free(s);
	return 0;
}
