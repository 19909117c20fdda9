/*
 * The Redis URL codec: formatting a shard URL from its parts (config.c,
 * from [redis] host/port/db/auth) and parsing one (redis.c), side by side
 * so that both agree on the escaping. Userinfo and host are
 * percent-encoded outside RFC 3986's unreserved set, so a password of any
 * printable characters survives the round trip. The parser is total:
 * every input gives a parsed URL or one constant message.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "venueless.h"

#define DEFAULT_HOST	"127.0.0.1"
#define DEFAULT_PORT	6379

/* One name[=value] parameter of a query, as spans of the URL. */
struct param {
	const char	*name;
	size_t		 namelen;
	const char	*value;		/* NULL when there is no '=' */
	size_t		 valuelen;
};

/* A span of the URL. */
struct span {
	const char	*p;		/* NULL when absent */
	size_t		 len;
};

/* {====== escaping } */

/* Is c in RFC 3986's unreserved set (never escaped)? */
static int
aux_unreserved(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
	    c == '~';
}

/* Copy s to o, escaping all but the unreserved set and keep; the end. */
static char *
aux_escape(char *o, const char *s, int keep)
{
	static const char	 hex[] = "0123456789ABCDEF";
	unsigned char		 c;

	for (; (c = (unsigned char)*s) != '\0'; s++) {
		if (aux_unreserved(c) || (keep != 0 && c == keep)) {
			*o++ = (char)c;
			continue;
		}
		*o++ = '%';
		*o++ = hex[c >> 4];
		*o++ = hex[c & 0xf];
	}
	return o;
}

/* The value of hex digit c, or -1. */
static int
aux_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * A new string from s[0..len) with %XX decoded; a '%' not followed by
 * two hex digits stays as it is. NULL with *cause for %00, which a C
 * string cannot carry.
 */
static char *
aux_unescape(const char *s, size_t len, const char **cause)
{
	char	*out, *o;
	size_t	 i;
	int	 hi, lo;

	o = out = xmalloc(len + 1);
	for (i = 0; i < len; i++) {
		if (s[i] == '%' && i + 2 < len &&
		    (hi = aux_hexval((unsigned char)s[i + 1])) != -1 &&
		    (lo = aux_hexval((unsigned char)s[i + 2])) != -1) {
			if ((*o++ = (char)(hi << 4 | lo)) == '\0') {
				free(out);
				*cause = "%00 (a NUL byte) in the URL";
				return NULL;
			}
			i += 2;
		} else
			*o++ = s[i];
	}
	*o = '\0';
	return out;
}

/* {====== format } */

/*
 * The redis:// URL for host, port and db (strings as the config gives
 * them), with [user]:password when either is non-empty. An IPv6 host
 * (one with ':') is put in brackets. Invalid ports or databases are
 * escaped, not checked: vl_redisurl_parse rejects them with a message.
 */
char *
vl_redisurl_format(const char *host, const char *port, const char *db,
    const char *user, const char *password)
{
	const char	*u = user != NULL ? user : "";
	const char	*pw = password != NULL ? password : "";
	int		 v6 = strchr(host, ':') != NULL;
	char		*out, *o;

	out = xmalloc(16 + 3 * (strlen(host) + strlen(port) + strlen(db) +
	    strlen(u) + strlen(pw)));
	memcpy(out, "redis://", 8);
	o = out + 8;
	if (*u != '\0' || *pw != '\0') {
		o = aux_escape(o, u, 0);
		if (*pw != '\0') {
			*o++ = ':';
			o = aux_escape(o, pw, 0);
		}
		*o++ = '@';
	}
	if (v6)
		*o++ = '[';
	o = aux_escape(o, host, v6 ? ':' : 0);
	if (v6)
		*o++ = ']';
	*o++ = ':';
	o = aux_escape(o, port, 0);
	*o++ = '/';
	o = aux_escape(o, db, 0);
	*o = '\0';
	return out;
}

/* {====== parse } */

/* Parse len decimal digits at s into [min, max]; -1 if anything else. */
static int
aux_digits(const char *s, size_t len, long long min, long long max,
    long long *out)
{
	long long	 v = 0;
	size_t		 i;

	if (len == 0 || len > 18)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/* Free what a parsed URL owns; safe on a zeroed or freed one. */
void
vl_redisurl_free(struct vl_redisurl *u)
{
	free(u->host);
	free(u->user);
	free(u->password);
	free(u->masked);
	memset(u, 0, sizeof *u);
}

/* Replace u->password by s[0..len) decoded; empty means none. */
static int
url_setpassword(struct vl_redisurl *u, const char *s, size_t len,
    const char **cause)
{
	free(u->password);
	u->password = NULL;
	if (len == 0)
		return 0;
	return (u->password = aux_unescape(s, len, cause)) == NULL ? -1 : 0;
}

/* The next parameter at *q, up to '&', '#' or the end; 0 if none left. */
static int
aux_nextparam(const char **q, struct param *pa)
{
	const char	*p = *q, *end, *eq;

	if (*p == '\0' || *p == '#')
		return 0;
	end = p + strcspn(p, "&#");
	pa->name = p;
	if ((eq = memchr(p, '=', (size_t)(end - p))) == NULL) {
		pa->namelen = (size_t)(end - p);
		pa->value = NULL;
	} else {
		pa->namelen = (size_t)(eq - p);
		pa->value = eq + 1;
		pa->valuelen = (size_t)(end - eq - 1);
	}
	*q = *end == '&' ? end + 1 : end;
	return 1;
}

/* Is the parameter named name (with a value)? */
static int
aux_isparam(const struct param *pa, const char *name)
{
	return pa->value != NULL && pa->namelen == strlen(name) &&
	    memcmp(pa->name, name, pa->namelen) == 0;
}

/* The query after '?': db=N, password=X (each: the last one wins). */
static int
url_query(struct vl_redisurl *u, const char *q, const char **cause)
{
	struct param	 pa;

	while (aux_nextparam(&q, &pa)) {
		if (aux_isparam(&pa, "db") && aux_digits(pa.value,
		    pa.valuelen, 0, INT_MAX, &u->db) == -1) {
			*cause = "bad database number";
			return -1;
		}
		if (aux_isparam(&pa, "password") &&
		    url_setpassword(u, pa.value, pa.valuelen, cause) == -1)
			return -1;
	}
	return 0;
}

/*
 * The URL s with every password replaced by ***: the userinfo one at pw
 * if there is one, and each password= in the query at q (if not NULL).
 */
static char *
url_mask(const char *s, const struct span *pw, const char *q)
{
	struct param	 pa;
	char		*out, *o;
	const char	*from = s;

	o = out = xmalloc(4 * strlen(s) + 8);	/* *** per 9-byte password= */
	if (pw->p != NULL) {
		memcpy(o, from, (size_t)(pw->p - from));
		o += pw->p - from;
		memcpy(o, "***", 3);
		o += 3;
		from = pw->p + pw->len;
	}
	while (q != NULL && aux_nextparam(&q, &pa)) {
		if (!aux_isparam(&pa, "password"))
			continue;
		memcpy(o, from, (size_t)(pa.value - from));
		o += pa.value - from;
		memcpy(o, "***", 3);
		o += 3;
		from = pa.value + pa.valuelen;
	}
	strcpy(o, from);
	return out;
}

/* Parse [user][:password] in [p, end); the password's span in pw. */
static int
url_userinfo(struct vl_redisurl *u, const char *p, const char *end,
    struct span *pw, const char **cause)
{
	const char	*colon = memchr(p, ':', (size_t)(end - p));
	const char	*uend = colon != NULL ? colon : end;

	if (uend > p &&
	    (u->user = aux_unescape(p, (size_t)(uend - p), cause)) == NULL)
		return -1;
	if (colon == NULL)
		return 0;
	pw->p = colon + 1;
	pw->len = (size_t)(end - colon - 1);
	return url_setpassword(u, colon + 1, (size_t)(end - colon - 1), cause);
}

/* Parse the host of [p, hend): [v6] or a name, percent-decoded. */
static int
url_host(struct vl_redisurl *u, const char *p, const char *hend,
    const char **cause)
{
	if (*p == '[') {
		if (hend - p < 3 || memchr(p, ']', (size_t)(hend - p)) !=
		    hend - 1) {
			*cause = "expected [IPv6 address] then ':' or '/'";
			return -1;
		}
		p++;
		hend--;
	}
	if (hend == p) {
		u->host = xstrdup(DEFAULT_HOST);
		return 0;
	}
	u->host = aux_unescape(p, (size_t)(hend - p), cause);
	return u->host == NULL ? -1 : 0;
}

/* Parse host[:port][/db] of a redis:// URL in [p, end). */
static int
url_hostport(struct vl_redisurl *u, const char *p, const char *end,
    const char **cause)
{
	const char	*slash, *colon, *bracket;
	long long	 v = DEFAULT_PORT;

	if ((slash = memchr(p, '/', (size_t)(end - p))) == NULL)
		slash = end;
	colon = p;
	if (*p == '[' && (bracket = memchr(p, ']', (size_t)(slash - p))))
		colon = bracket + 1;	/* the port's ':' is after the ']' */
	if ((colon = memchr(colon, ':', (size_t)(slash - colon))) == NULL)
		colon = slash;
	if (url_host(u, p, colon, cause) == -1)
		return -1;
	if (colon < slash && aux_digits(colon + 1,
	    (size_t)(slash - colon - 1), 1, 65535, &v) == -1) {
		*cause = "bad port number";
		return -1;
	}
	u->port = (int)v;
	if (slash + 1 < end && aux_digits(slash + 1,
	    (size_t)(end - slash - 1), 0, INT_MAX, &u->db) == -1) {
		*cause = "bad database number";
		return -1;
	}
	return 0;
}

/* Check the scheme; the text after it, or NULL with *cause. */
static const char *
url_scheme(const char *s, struct vl_redisurl *u, const char **cause)
{
	if (strncmp(s, "rediss://", 9) == 0) {
		*cause = "rediss:// (TLS) URLs are not supported";
		return NULL;
	}
	if ((u->is_unix = strncmp(s, "unix://", 7) == 0))
		return s + 7;
	if (strncmp(s, "redis://", 8) == 0)
		return s + 8;
	*cause = "expected a redis:// or unix:// URL";
	return NULL;
}

/* Parse the part before the query, [p, end), as the scheme asks. */
static int
url_authority(struct vl_redisurl *u, const char *p, const char *end,
    struct span *pw, const char **cause)
{
	const char	*slash, *at;

	if ((slash = memchr(p, '/', (size_t)(end - p))) == NULL)
		slash = end;
	for (at = slash; at > p && at[-1] != '@'; at--)
		;
	if (at > p) {
		if (url_userinfo(u, p, at - 1, pw, cause) == -1)
			return -1;
		p = at;
	}
	if (!u->is_unix)
		return url_hostport(u, p, end, cause);
	if (*p != '/' || end == p + 1) {
		*cause = "expected unix:///path/to/socket";
		return -1;
	}
	u->host = xstrndup(p, (size_t)(end - p));
	return 0;
}

/*
 * Parse a shard URL into u (every string owned; free with
 * vl_redisurl_free). -1 with *cause (a constant) if it is not usable;
 * u is then empty.
 */
int
vl_redisurl_parse(const char *s, struct vl_redisurl *u, const char **cause)
{
	const char	*p, *end, *q = NULL;
	struct span	 pw = { NULL, 0 };

	memset(u, 0, sizeof *u);
	if ((p = url_scheme(s, u, cause)) == NULL)
		return -1;
	u->port = u->is_unix ? 0 : DEFAULT_PORT;
	end = p + strcspn(p, "?#");
	if (url_authority(u, p, end, &pw, cause) == -1)
		goto fail;
	if (*end == '?' && url_query(u, q = end + 1, cause) == -1)
		goto fail;
	u->masked = url_mask(s, &pw, q);
	return 0;
fail:
	vl_redisurl_free(u);
	return -1;
}
