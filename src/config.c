/* venueless.config: venueless.cfg files and VENUELESS_* variables. */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "venueless.h"

/*
 * inih's one function, resolved with dlsym when a config file is first
 * parsed: a linked library costs every start its mapping and
 * relocations, and shell -e reads no config (bench/startup).
 */
static __typeof__(ini_parse_stream) *ini_parse_stream_fn;
static void	*ini_handle;

/* The settings we read, in section/key order, with their defaults. */
static const struct setting {
	const char	*section;
	const char	*key;
	const char	*env;
	const char	*def;
} settings[] = {
	{ "database", "name", "VENUELESS_DB_NAME", "venueless" },
	{ "database", "user", "VENUELESS_DB_USER", "venueless" },
	{ "database", "password", "VENUELESS_DB_PASS", "" },
	{ "database", "host", "VENUELESS_DB_HOST", "" },
	{ "database", "port", "VENUELESS_DB_PORT", "" },
	{ "redis", "urls", "VENUELESS_REDIS_URLS", "" },
	{ "redis", "host", "VENUELESS_REDIS_HOST", "127.0.0.1" },
	{ "redis", "port", "VENUELESS_REDIS_PORT", "6379" },
	{ "redis", "db", "VENUELESS_REDIS_DB", "0" },
	{ "redis", "auth", "VENUELESS_REDIS_AUTH", "" },
	{ "redis", "use_pubsub", "VENUELESS_REDIS_USE_PUBSUB", "false" },
	{ "redis", "timeout", "VENUELESS_REDIS_TIMEOUT", "5" },
	/* upstream's is data/ beside the server code: ours, the working dir */
	{ "filesystem", "data", "VENUELESS_DATA_DIR", "data" },
	{ "urls", "nanocdn", "VENUELESS_NANOCDN", "" },
	{ NULL, NULL, NULL, NULL }
};
#define NSETTINGS (sizeof settings / sizeof settings[0] - 1)

/*
 * The other sections and keys of upstream's venueless.cfg: the server
 * reads them, we do not, and a file shared with it must not warn.
 */
static const char *const upstream_keys[] = {
	"database", "backend", "django", "secret", "django", "debug",
	"venueless", "url", "venueless", "short_url",
	"venueless", "multifactor_require", "mail", "from", "mail", "host",
	"mail", "port", "mail", "user", "mail", "password", "mail", "tls",
	"mail", "ssl", "urls", "static", "urls", "media",
	"websocket", "protocol", "zoom", "key", "zoom", "secret",
	"digitalsamba", "domain", "digitalsamba", "team", "digitalsamba", "key",
	"digitalsamba", "retention_days", "control", "secret",
	"statsd", "host", "statsd", "port", "twitter", "client_id",
	"twitter", "client_secret", "linkedin", "client_id",
	"linkedin", "client_secret", "sentry", "dsn",
	"filesystem", "logs", "filesystem", "media", "filesystem", "static",
	NULL
};

/* The INI library's line buffer holds this much before '\r', '\n', '\0'. */
#define VL_CFG_MAXLINE	(INI_MAX_LINE - 3)
#define VL_CFG_MAXSIZE	(1024 * 1024)	/* bytes; no config file is bigger */
#define VL_CFG_MAXFILES	3

/* How a file is looked for. */
#define VL_CFG_REQUIRED	0x1	/* missing is an error (VENUELESS_CONFIG_FILE) */
#define VL_CFG_OWNED	0x2	/* only ours and not group/other writable */

struct values {
	char	*v[NSETTINGS];
	int	 src[NSETTINGS];	/* 1 + index in files[] that set it; 0 none */
	int	 line[NSETTINGS];	/* the line in that file */
	char	*files[VL_CFG_MAXFILES];	/* the files read, in order */
	int	 nfiles;
	/* while a file is parsed: its text, the line the reader is at */
	const char	*path, *at;
	int		 lineno;
	int		 secline;	/* of the last line starting with [ */
	char		 lastsec[VL_CFG_MAXLINE + 1];	/* of the last warning */
	char		 lastkey[VL_CFG_MAXLINE + 1];
};

/* {====== reading a file ============================================ */

static int	aux_known(const char *, const char *);
static void	aux_warnunknown(struct values *, const char *, const char *);

/*
 * inih callback: keep the keys we know (later files win) with their
 * line, for a bad value's message; warn of the others.
 */
static int
aux_handler(void *arg, const char *section, const char *key,
    const char *value)
{
	struct values	*vals = arg;
	size_t		 i;

	aux_warnunknown(vals, section, key);
	for (i = 0; i < NSETTINGS; i++) {
		if (strcmp(settings[i].section, section) != 0 ||
		    strcasecmp(settings[i].key, key) != 0)
			continue;
		free(vals->v[i]);
		vals->v[i] = xstrdup(value);
		vals->src[i] = vals->nfiles + 1;
		vals->line[i] = vals->lineno;
	}
	return 1;
}

/* Set *cause to "path: what", "path:line: what" or, path NULL, "what". */
static void
aux_cause(char **cause, const char *path, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
aux_cause(char **cause, const char *path, int line, const char *fmt, ...)
{
	char	 buf[512];
	int	 n;
	va_list	 ap;

	if (path == NULL)
		n = 0;
	else if (line > 0)
		n = snprintf(buf, sizeof buf, "%s:%d: ", path, line);
	else
		n = snprintf(buf, sizeof buf, "%s: ", path);
	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < sizeof buf)
		vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	va_end(ap);
	*cause = xstrdup(buf);
}

/*
 * A ./venueless.cfg that someone else could have put or changed would
 * send our passwords to their server: 0 (and a warning) if st is one.
 */
static int
aux_trusted(const char *path, const struct stat *st)
{
	if (st->st_uid != getuid()) {
		fprintf(stderr, "venueless: warning: %s: ignored: owned by "
		    "uid %ld, not by you\n", path, (long)st->st_uid);
		return 0;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0) {
		fprintf(stderr, "venueless: warning: %s: ignored: writable "
		    "by group or others\n", path);
		return 0;
	}
	return 1;
}

/* Is st /dev/null, the usual way to say "no config file"? */
static int
aux_isdevnull(const struct stat *st)
{
	struct stat	 null;

	return S_ISCHR(st->st_mode) && stat("/dev/null", &null) == 0 &&
	    S_ISCHR(null.st_mode) && null.st_rdev == st->st_rdev;
}

/*
 * Open a config file without blocking (a FIFO, a device); 1 with *fdp
 * set, 0 to skip it (missing, or not trusted), -1 with *cause set.
 */
static int
aux_open(const char *path, int flags, int *fdp, char **cause)
{
	struct stat	 st;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) == -1 || fstat(fd, &st) == -1) {
		if (fd != -1)
			close(fd);
		if (!(flags & VL_CFG_REQUIRED))
			return 0;
		aux_cause(cause, path, 0, "cannot open the file");
		return -1;
	}
	if ((flags & VL_CFG_OWNED) && !aux_trusted(path, &st)) {
		close(fd);
		return 0;
	}
	if (!S_ISREG(st.st_mode) && !aux_isdevnull(&st)) {
		close(fd);
		aux_cause(cause, path, 0, "not a regular file");
		return -1;
	}
	*fdp = fd;
	return 1;
}

/* Read all of fd (at most VL_CFG_MAXSIZE); NULL with *cause set. */
static char *
aux_slurp(int fd, const char *path, size_t *lenp, char **cause)
{
	char	*buf = xmalloc(VL_CFG_MAXSIZE + 1);
	size_t	 len = 0;
	ssize_t	 r;

	while (len <= VL_CFG_MAXSIZE) {
		r = read(fd, buf + len, VL_CFG_MAXSIZE + 1 - len);
		if (r == 0)
			break;
		if (r > 0)
			len += (size_t)r;
		else if (errno != EINTR && errno != EAGAIN) {
			aux_cause(cause, path, 0, "%s", strerror(errno));
			free(buf);
			return NULL;
		}
	}
	if (len > VL_CFG_MAXSIZE) {
		aux_cause(cause, path, 0, "larger than %d bytes",
		    VL_CFG_MAXSIZE);
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/*
 * Refuse what the INI library would misread: a NUL byte ends its string
 * early, and it cuts a longer line and reads the rest as a new line.
 */
static int
aux_checktext(const char *path, const char *s, size_t len, char **cause)
{
	const char	*p = s, *end = s + len, *nl;
	int		 line;

	for (line = 1; p < end; line++, p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL) {
			aux_cause(cause, path, line, "contains a NUL byte");
			return -1;
		}
		if (nl - p > VL_CFG_MAXLINE) {
			aux_cause(cause, path, line, "line longer than %d "
			    "bytes", VL_CFG_MAXLINE);
			return -1;
		}
	}
	return 0;
}

/* Load inih once; 0, or -1 with *cause "path: cannot load ...". */
static int
aux_loadini(const char *path, char **cause)
{
	static const char *const names[] = { "ini_parse_stream" };
	static void *const slots[] = { &ini_parse_stream_fn };
	const char	*why;

	if (vl_dlopen(VL_LIBINIH_SONAME, names, slots, 1, &ini_handle,
	    &why) == 0)
		return 0;
	aux_cause(cause, path, 0, "cannot load %s: %s", VL_LIBINIH_SONAME,
	    why != NULL ? why : "unknown error");
	return -1;
}

/* Is section known (ours or upstream's), and key in it (key NULL: any)? */
static int
aux_known(const char *section, const char *key)
{
	const char *const *u;
	size_t	 i;

	if (strcmp(section, "DEFAULT") == 0)
		return 1;	/* configparser's defaults for every section */
	for (i = 0; i < NSETTINGS; i++)
		if (strcmp(settings[i].section, section) == 0 &&
		    (key == NULL || strcasecmp(settings[i].key, key) == 0))
			return 1;
	for (u = upstream_keys; *u != NULL; u += 2)
		if (strcmp(u[0], section) == 0 &&
		    (key == NULL || strcasecmp(u[1], key) == 0))
			return 1;
	return 0;
}

/*
 * Warn of a key outside a section, in an unknown section (once per
 * section) or unknown in its section (once: inih calls again for each
 * continuation line of a value). Upstream ignores them silently; a
 * warning, not an error, keeps upstream's files working.
 */
static void
aux_warnunknown(struct values *vals, const char *section, const char *key)
{
	int	 newsec = strcmp(vals->lastsec, section) != 0;

	if (!newsec && strcasecmp(vals->lastkey, key) == 0)
		return;
	snprintf(vals->lastkey, sizeof vals->lastkey, "%s", key);
	if (*section == '\0')
		fprintf(stderr, "venueless: warning: %s:%d: key \"%s\" outside "
		    "a section: ignored\n", vals->path, vals->lineno, key);
	else if (!aux_known(section, NULL)) {
		if (newsec)
			fprintf(stderr, "venueless: warning: %s:%d: unknown "
			    "section [%s]\n", vals->path, vals->secline, section);
	} else if (!aux_known(section, key))
		fprintf(stderr, "venueless: warning: %s:%d: unknown key "
		    "\"%s\" in [%s]\n", vals->path, vals->lineno, key, section);
	snprintf(vals->lastsec, sizeof vals->lastsec, "%s", section);
}

/*
 * inih reader over the checked text (no NUL, no line longer than inih's
 * buffer): one line a call, counted, so the handler knows its line.
 */
static char *
aux_reader(char *buf, int size, void *arg)
{
	struct values	*vals = arg;
	size_t		 n;

	if (*vals->at == '\0')
		return NULL;
	n = strcspn(vals->at, "\n");
	if (vals->at[n] == '\n')
		n++;
	if (n > (size_t)size - 1)
		n = (size_t)size - 1;	/* aux_checktext made this unreachable */
	memcpy(buf, vals->at, n);
	buf[n] = '\0';
	vals->at += n;
	vals->lineno++;
	/* inih says nothing of a section header: name its line ourselves */
	if (buf[strspn(buf, " \t")] == '[')
		vals->secline = vals->lineno;
	return buf;
}

/* Parse one file into vals; 1 read, 0 skipped, -1 with *cause set. */
static int
aux_parse(const char *path, struct values *vals, int flags, char **cause)
{
	char	*text;
	size_t	 len;
	int	 fd, r;

	if ((r = aux_open(path, flags, &fd, cause)) <= 0)
		return r;
	text = aux_slurp(fd, path, &len, cause);
	close(fd);
	if (text == NULL)
		return -1;
	if (aux_checktext(path, text, len, cause) == -1) {
		free(text);
		return -1;
	}
	if (aux_loadini(path, cause) == -1) {
		free(text);
		return -1;
	}
	vals->path = path;
	vals->at = text;
	vals->lineno = 0;
	vals->lastsec[0] = vals->lastkey[0] = '\0';
	r = ini_parse_stream_fn(aux_reader, vals, aux_handler, vals);
	free(text);
	if (r != 0) {
		aux_cause(cause, path, r, "malformed line");
		return -1;
	}
	vals->files[vals->nfiles++] = xstrdup(path);
	return 1;
}

/* Read the config files in order into vals. */
static int
aux_files(struct values *vals, char **cause)
{
	const char	*explicit, *home;
	char		 path[4096];

	if ((explicit = getenv("VENUELESS_CONFIG_FILE")) != NULL &&
	    *explicit != '\0')
		return aux_parse(explicit, vals, VL_CFG_REQUIRED, cause) < 0 ?
		    -1 : 0;
	home = getenv("HOME");
	snprintf(path, sizeof path, "%s/.venueless.cfg", home ? home : "/");
	if (aux_parse("/etc/venueless/venueless.cfg", vals, 0, cause) < 0 ||
	    aux_parse(path, vals, 0, cause) < 0 ||
	    aux_parse("./venueless.cfg", vals, VL_CFG_OWNED, cause) < 0)
		return -1;
	return 0;
}

/* }====== */

/* {====== values ==================================================== */

/* The value of setting i: environment, then files, then default. */
static const char *
aux_get(const struct values *vals, size_t i)
{
	const char	*e;

	if ((e = getenv(settings[i].env)) != NULL)
		return e;
	return vals->v[i] != NULL ? vals->v[i] : settings[i].def;
}

/* The file setting i's value comes from, or NULL (variable, default). */
static const char *
aux_from(const struct values *vals, size_t i)
{
	if (getenv(settings[i].env) != NULL || vals->src[i] == 0)
		return NULL;
	return vals->files[vals->src[i] - 1];
}

/*
 * Warn when the server that gets a password (setting pw) is chosen by
 * another file than the password (settings addr..addr+1: host, port).
 */
static void
aux_warnmix(const struct values *vals, size_t pw, size_t addr)
{
	const char	*pwfile = aux_from(vals, pw), *f;
	size_t		 i;

	if (pwfile == NULL || *aux_get(vals, pw) == '\0')
		return;
	for (i = addr; i < addr + 2; i++) {
		if ((f = aux_from(vals, i)) != NULL && strcmp(f, pwfile) != 0)
			fprintf(stderr, "venueless: warning: [%s] %s is set "
			    "in %s, the password in %s\n", settings[i].section,
			    settings[i].key, f, pwfile);
	}
}

/* Is this a true value as Python's venueless reads it? */
static int
aux_truthy(const char *s)
{
	return strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 ||
	    strcmp(s, "on") == 0 || strcmp(s, "True") == 0 ||
	    strcmp(s, "1") == 0;
}

/* Push s[0..len) without the blanks around it, unless that is empty. */
static void
aux_pushtrimmed(lua_State *L, const char *s, size_t len, int *n)
{
	while (len > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		len--;
	}
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0)
		return;
	lua_pushlstring(L, s, len);
	lua_seti(L, -2, ++*n);
}

/* A [redis] urls that lists no URL (","): -1 with *cause set. */
static int
aux_checkurls(const struct values *vals, char **cause)
{
	const char	*urls = aux_get(vals, 5), *f;

	if (*urls == '\0' || urls[strspn(urls, ", \t")] != '\0')
		return 0;
	if ((f = aux_from(vals, 5)) != NULL)
		aux_cause(cause, f, 0, "[redis] urls lists no URL");
	else
		*cause = xstrdup("VENUELESS_REDIS_URLS lists no URL");
	return -1;
}

static int	aux_timeout(const char *, double *);

/* Is s[0..len) a decimal integer from min to max? */
static int
aux_isint(const char *s, size_t len, long min, long max)
{
	char	 buf[16], *end;
	long	 v;

	if (len == 0 || len >= sizeof buf || strspn(s, "0123456789") < len)
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	v = strtol(buf, &end, 10);
	return *end == '\0' && v >= min && v <= max;
}

/* Is s a comma list of port numbers (libpq's, one per host), or empty? */
static int
aux_isports(const char *s)
{
	const char	*q;
	size_t		 n;

	if (*s == '\0')
		return 1;
	for (;; s = q + 1) {
		q = s + strcspn(s, ",");
		n = (size_t)(q - s);
		while (n > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
			n--;
		if (!aux_isint(s, n, 1, 65535))
			return 0;
		if (*q == '\0')
			return 1;
	}
}

/* Set *cause to setting i's value being no expected, naming its origin. */
static void
aux_badvalue(const struct values *vals, size_t i, const char *expected,
    char **cause)
{
	const char	*f = aux_from(vals, i);

	if (f != NULL)
		aux_cause(cause, f, vals->line[i], "[%s] %s: expected %s, not "
		    "\"%s\"", settings[i].section, settings[i].key, expected,
		    aux_get(vals, i));
	else
		aux_cause(cause, NULL, 0, "[%s] %s (%s): expected %s, not \"%s\"",
		    settings[i].section, settings[i].key, settings[i].env,
		    expected, aux_get(vals, i));
}

/*
 * The values that would only fail later, and misleadingly (a port of
 * "abc": "cannot reach PostgreSQL"): -1 with *cause set.
 */
static int
aux_checkvalues(const struct values *vals, char **cause)
{
	const char	*v;
	double		 t;

	if (!aux_isports(aux_get(vals, 4))) {
		aux_badvalue(vals, 4, "a port number from 1 to 65535", cause);
		return -1;
	}
	v = aux_get(vals, 7);
	if (*aux_get(vals, 5) == '\0' && !aux_isint(v, strlen(v), 1, 65535)) {
		aux_badvalue(vals, 7, "a port number from 1 to 65535", cause);
		return -1;
	}
	v = aux_get(vals, 8);
	if (!aux_isint(v, strlen(v), 0, 2147483647)) {
		aux_badvalue(vals, 8, "a database number (0 or more)", cause);
		return -1;
	}
	if (aux_timeout(aux_get(vals, 11), &t) == -1) {
		aux_badvalue(vals, 11, "seconds from 0 to 86400", cause);
		return -1;
	}
	return 0;
}

/* }====== */

/* {====== printing without the passwords ============================ */

/* A shallow copy of the table at idx, pushed. */
static void
aux_copy(lua_State *L, int idx)
{
	lua_newtable(L);
	lua_pushnil(L);
	while (lua_next(L, idx)) {
		lua_pushvalue(L, -2);
		lua_insert(L, -2);	/* copy, key, key, value */
		lua_settable(L, -4);
	}
}

/* config.database's __pretty: the table with its password masked. */
static int
cfg_pretty_database(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	aux_copy(L, 1);
	if (lua_getfield(L, -1, "password") == LUA_TSTRING &&
	    lua_rawlen(L, -1) > 0) {
		lua_pushliteral(L, "***");
		lua_setfield(L, -3, "password");
	}
	lua_pop(L, 1);
	return 1;
}

/* config.redis.urls's __pretty: the list with passwords masked. */
static int
cfg_pretty_urls(lua_State *L)
{
	struct vl_redisurl	 u;
	const char		*cause;
	lua_Integer		 i, n;

	luaL_checktype(L, 1, LUA_TTABLE);
	n = luaL_len(L, 1);
	lua_createtable(L, n > 0 && n < INT_MAX ? (int)n : 0, 0);
	for (i = 1; i <= n; i++) {
		if (lua_geti(L, 1, i) == LUA_TSTRING &&
		    vl_redisurl_parse(lua_tostring(L, -1), &u, &cause) == 0) {
			lua_pushstring(L, u.masked);
			vl_redisurl_free(&u);
		} else
			lua_pushliteral(L, "<unusable URL, not shown>");
		lua_seti(L, -3, i);
		lua_pop(L, 1);
	}
	return 1;
}

/* Give the table at the top a metatable name with __pretty = f. */
static void
aux_setpretty(lua_State *L, const char *name, lua_CFunction f)
{
	if (luaL_newmetatable(L, name)) {
		lua_pushcfunction(L, f);
		lua_setfield(L, -2, "__pretty");
	}
	lua_setmetatable(L, -2);
}

/* }====== */

/* {====== the table ================================================= */

/*
 * Push the list of redis URLs, one per shard: [redis] urls split at
 * commas, or one URL formatted (escaped) from host, port, db and auth.
 */
static void
aux_redis_urls(lua_State *L, const struct values *vals)
{
	const char	*urls = aux_get(vals, 5), *p, *q;
	char		*url;
	int		 n = 0;

	lua_newtable(L);
	if (*urls == '\0') {
		url = vl_redisurl_format(aux_get(vals, 6), aux_get(vals, 7),
		    aux_get(vals, 8), NULL, aux_get(vals, 9));
		lua_pushstring(L, url);
		free(url);
		lua_seti(L, -2, ++n);
	}
	for (p = urls; *p != '\0'; p = *q ? q + 1 : q) {
		q = p + strcspn(p, ",");
		aux_pushtrimmed(L, p, (size_t)(q - p), &n);
	}
	aux_setpretty(L, "venueless.config.urls", cfg_pretty_urls);
}

/* Push the database section. */
static void
aux_database(lua_State *L, const struct values *vals)
{
	size_t	 i;

	lua_createtable(L, 0, 5);
	for (i = 0; i < 5; i++) {
		lua_pushstring(L, aux_get(vals, i));
		lua_setfield(L, -2, settings[i].key);
	}
	aux_setpretty(L, "venueless.config.database", cfg_pretty_database);
}

/* [redis] timeout: seconds >= 0 (0 = none) in *t; -1 if it is not one. */
static int
aux_timeout(const char *s, double *t)
{
	char	*end;

	*t = strtod(s, &end);
	if (end == s || *end != '\0' || !(*t >= 0 && *t <= 86400))
		return -1;
	return 0;
}

/* Push an environment variable or "unknown". */
static void
aux_pushenv(lua_State *L, const char *name)
{
	const char	*v = getenv(name);

	lua_pushstring(L, v != NULL && *v != '\0' ? v : "unknown");
}

/* t[section] = { [key] = value } in the table on top. */
static void
aux_section(lua_State *L, const char *section, const char *key,
    const char *value)
{
	lua_createtable(L, 0, 1);
	lua_pushstring(L, value);
	lua_setfield(L, -2, key);
	lua_setfield(L, -2, section);
}

/* The list of files read, pushed. */
static void
aux_pushfiles(lua_State *L, const struct values *vals)
{
	int	 i;

	lua_createtable(L, vals->nfiles, 0);
	for (i = 0; i < vals->nfiles; i++) {
		lua_pushstring(L, vals->files[i]);
		lua_seti(L, -2, i + 1);
	}
}

/*
 * The VENUELESS_* variables that are set and that we read, pushed as a
 * list in settings order (so check can say where the values came from).
 */
static void
aux_pushvariables(lua_State *L)
{
	static const char *const others[] = { "VENUELESS_CONFIG_FILE",
	    "VENUELESS_COMMIT_SHA", "VENUELESS_ENVIRONMENT", NULL };
	size_t	 i;
	int	 n = 0;

	lua_newtable(L);
	for (i = 0; i < NSETTINGS; i++) {
		if (getenv(settings[i].env) == NULL)
			continue;
		lua_pushstring(L, settings[i].env);
		lua_seti(L, -2, ++n);
	}
	for (i = 0; others[i] != NULL; i++) {
		if (getenv(others[i]) == NULL)
			continue;
		lua_pushstring(L, others[i]);
		lua_seti(L, -2, ++n);
	}
}

/* Build the config table from parsed values, pushed. */
static void
aux_build(lua_State *L, const struct values *vals)
{
	lua_Integer	 db = strtoll(aux_get(vals, 8), NULL, 10);
	double		 timeout;

	lua_newtable(L);
	aux_pushfiles(L, vals);
	lua_setfield(L, -2, "files");
	aux_pushvariables(L);
	lua_setfield(L, -2, "variables");
	aux_database(L, vals);
	lua_setfield(L, -2, "database");
	lua_createtable(L, 0, 3);
	aux_redis_urls(L, vals);
	lua_setfield(L, -2, "urls");
	lua_pushboolean(L, aux_truthy(aux_get(vals, 10)));
	lua_setfield(L, -2, "use_pubsub");
	lua_pushinteger(L, db);
	lua_setfield(L, -2, "db");
	aux_timeout(aux_get(vals, 11), &timeout);	/* checked before */
	lua_pushnumber(L, timeout);
	lua_setfield(L, -2, "timeout");
	lua_setfield(L, -2, "redis");
	aux_section(L, "filesystem", "data", aux_get(vals, 12));
	aux_section(L, "urls", "nanocdn", aux_get(vals, 13));
	aux_pushenv(L, "VENUELESS_COMMIT_SHA");
	lua_setfield(L, -2, "commit_sha");
	aux_pushenv(L, "VENUELESS_ENVIRONMENT");
	lua_setfield(L, -2, "environment");
}

/* }====== */

/* Free what vals holds. */
static void
aux_freevals(struct values *vals)
{
	size_t	 i;
	int	 j;

	for (i = 0; i < NSETTINGS; i++)
		free(vals->v[i]);
	for (j = 0; j < vals->nfiles; j++)
		free(vals->files[j]);
}

/*
 * venueless.config: the merged configuration as a table (its database
 * and redis.urls tables print with their passwords masked).
 */
int
luaopen_venueless_config(lua_State *L)
{
	struct values	 vals;
	char		*cause = NULL;

	memset(&vals, 0, sizeof vals);
	if (aux_files(&vals, &cause) < 0 || aux_checkurls(&vals, &cause) < 0 ||
	    aux_checkvalues(&vals, &cause) < 0) {
		aux_freevals(&vals);
		lua_pushstring(L, cause);
		free(cause);
		return vl_error(L, VL_EXIT_FAILURE, "%s", lua_tostring(L, -1));
	}
	aux_warnmix(&vals, 2, 3);	/* [database] password; host, port */
	if (*aux_get(&vals, 5) == '\0')
		aux_warnmix(&vals, 9, 6);	/* [redis] auth; host, port */
	aux_build(L, &vals);
	aux_freevals(&vals);
	return 1;
}
