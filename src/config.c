/* venueless.config: venueless.cfg files and VENUELESS_* variables. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ini.h>

#include "venueless.h"

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
	{ NULL, NULL, NULL, NULL }
};
#define NSETTINGS (sizeof settings / sizeof settings[0] - 1)

struct values {
	char	*v[NSETTINGS];
};

/* inih callback: keep the keys we know, later files win. */
static int
aux_handler(void *arg, const char *section, const char *key,
    const char *value)
{
	struct values	*vals = arg;
	size_t		 i;

	for (i = 0; i < NSETTINGS; i++) {
		if (strcmp(settings[i].section, section) != 0 ||
		    strcasecmp(settings[i].key, key) != 0)
			continue;
		free(vals->v[i]);
		vals->v[i] = xstrdup(value);
	}
	return 1;
}

/* Parse one file into vals; -1 with *cause set on failure. */
static int
aux_parse(const char *path, struct values *vals, int required,
    char **cause)
{
	int	 r;
	char	 buf[512];

	r = ini_parse(path, aux_handler, vals);
	if (r == -1 && !required)
		return 0;
	if (r == -1)
		snprintf(buf, sizeof buf, "%s: cannot open the file", path);
	else if (r > 0)
		snprintf(buf, sizeof buf, "%s:%d: malformed line", path, r);
	else
		return 1;
	*cause = xstrdup(buf);
	return -1;
}

/* Read the config files in order; pushes the list of files read. */
static int
aux_files(lua_State *L, struct values *vals, char **cause)
{
	const char	*explicit, *home;
	char		 path[4096];
	int		 n = 0, r;

	lua_newtable(L);
	if ((explicit = getenv("VENUELESS_CONFIG_FILE")) != NULL &&
	    *explicit != '\0') {
		if (aux_parse(explicit, vals, 1, cause) < 0)
			return -1;
		lua_pushstring(L, explicit);
		lua_seti(L, -2, ++n);
		return 0;
	}
	home = getenv("HOME");
	snprintf(path, sizeof path, "%s/.venueless.cfg", home ? home : "/");
	{
		const char *paths[] = { "/etc/venueless/venueless.cfg", path,
		    "venueless.cfg", NULL };
		const char **p;

		for (p = paths; *p != NULL; p++) {
			if ((r = aux_parse(*p, vals, 0, cause)) < 0)
				return -1;
			if (r > 0) {
				lua_pushstring(L, *p);
				lua_seti(L, -2, ++n);
			}
		}
	}
	return 0;
}

/* The value of setting i: environment, then files, then default. */
static const char *
aux_get(const struct values *vals, size_t i)
{
	const char	*e;

	if ((e = getenv(settings[i].env)) != NULL)
		return e;
	return vals->v[i] != NULL ? vals->v[i] : settings[i].def;
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
		return;
	}
	for (p = urls; *p != '\0'; p = *q ? q + 1 : q) {
		q = p + strcspn(p, ",");
		aux_pushtrimmed(L, p, (size_t)(q - p), &n);
	}
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

/* Build the config table from parsed values (at the stack top). */
static void
aux_build(lua_State *L, const struct values *vals)
{
	lua_Integer	 db = strtoll(aux_get(vals, 8), NULL, 10);
	double		 timeout;

	lua_insert(L, -2);	/* config, files */
	lua_setfield(L, -2, "files");
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
	aux_pushenv(L, "VENUELESS_COMMIT_SHA");
	lua_setfield(L, -2, "commit_sha");
	aux_pushenv(L, "VENUELESS_ENVIRONMENT");
	lua_setfield(L, -2, "environment");
}

/* venueless.config: the merged configuration as a plain table. */
int
luaopen_venueless_config(lua_State *L)
{
	struct values	 vals;
	char		*cause = NULL;
	size_t		 i;
	double		 t;

	memset(&vals, 0, sizeof vals);
	if (aux_files(L, &vals, &cause) < 0) {
		for (i = 0; i < NSETTINGS; i++)
			free(vals.v[i]);
		lua_pushstring(L, cause);
		free(cause);
		return vl_error(L, VL_EXIT_FAILURE, "%s", lua_tostring(L, -1));
	}
	if (aux_timeout(aux_get(&vals, 11), &t) == -1) {
		lua_pushfstring(L, "[redis] timeout (VENUELESS_REDIS_TIMEOUT): "
		    "expected seconds from 0 to 86400, not \"%s\"",
		    aux_get(&vals, 11));
		for (i = 0; i < NSETTINGS; i++)
			free(vals.v[i]);
		return vl_error(L, VL_EXIT_FAILURE, "%s", lua_tostring(L, -1));
	}
	lua_newtable(L);
	aux_build(L, &vals);
	for (i = 0; i < NSETTINGS; i++)
		free(vals.v[i]);
	return 1;
}
