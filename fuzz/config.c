/*
 * venueless.config from a config file and VENUELESS_* variables. The
 * input is the file up to the first 0xff byte; after it, 0xff-separated
 * values for the variables of vars[] in order (an empty one is unset).
 * Loading gives the config table or raises a venueless error with a
 * message (an unreadable or malformed file), nothing else; every Redis
 * URL of the table parses or is refused with a message.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz.h"

static const char *const vars[] = {
	"VENUELESS_DB_NAME", "VENUELESS_DB_USER", "VENUELESS_DB_PASS",
	"VENUELESS_DB_HOST", "VENUELESS_DB_PORT", "VENUELESS_REDIS_URLS",
	"VENUELESS_REDIS_HOST", "VENUELESS_REDIS_PORT", "VENUELESS_REDIS_DB",
	"VENUELESS_REDIS_AUTH", "VENUELESS_REDIS_USE_PUBSUB",
	"VENUELESS_COMMIT_SHA", "VENUELESS_ENVIRONMENT", NULL
};

/* The config file: a memfd, named by its /proc path; made once. */
static int
aux_file(void)
{
	static int	 fd = -1;
	char		 path[64];

	if (fd != -1)
		return fd;
	if ((fd = memfd_create("venueless.cfg", 0)) == -1)
		fuzz_crash("memfd_create failed");
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	setenv("VENUELESS_CONFIG_FILE", path, 1);
	return fd;
}

/* Make the file hold exactly s[0..len). */
static void
aux_write(const char *s, size_t len)
{
	int	 fd = aux_file();

	if (ftruncate(fd, 0) == -1 ||
	    (len > 0 && pwrite(fd, s, len, 0) != (ssize_t)len))
		fuzz_crash("cannot write the config file");
}

/*
 * Set variable i to v, or unset it for NULL. Through putenv and buffers
 * of our own: glibc's setenv keeps every value it was ever given, which
 * over millions of inputs is gigabytes.
 */
static void
aux_setvar(int i, const char *v, size_t len)
{
	static char	*buf[sizeof vars / sizeof vars[0]];
	size_t		 n = strlen(vars[i]);

	unsetenv(vars[i]);	/* before buf[i] moves */
	if (v == NULL)
		return;
	buf[i] = xrealloc(buf[i], n + len + 2);
	memcpy(buf[i], vars[i], n);
	buf[i][n] = '=';
	memcpy(buf[i] + n + 1, v, len);
	buf[i][n + 1 + len] = '\0';
	putenv(buf[i]);
}

/* Set the variables from the 0xff-separated values in [p, end). */
static void
aux_vars(const char *p, const char *end)
{
	const char	*q;
	size_t		 len;
	int		 i;

	for (i = 0; vars[i] != NULL; i++) {
		if (p >= end) {
			aux_setvar(i, NULL, 0);
			continue;
		}
		if ((q = memchr(p, '\xff', (size_t)(end - p))) == NULL)
			q = end;
		len = strnlen(p, (size_t)(q - p));	/* up to a NUL */
		aux_setvar(i, len > 0 ? p : NULL, len);
		p = q + 1;
	}
}

/* Every URL in config.redis.urls (the table at the top) parses or not. */
static void
aux_urls(lua_State *L)
{
	struct vl_redisurl	 u;
	const char		*cause;
	lua_Integer		 i, n;

	if (lua_getfield(L, -1, "redis") != LUA_TTABLE ||
	    lua_getfield(L, -1, "urls") != LUA_TTABLE)
		fuzz_crash("config.redis.urls is not a table");
	n = luaL_len(L, -1);
	for (i = 1; i <= n; i++) {
		if (lua_geti(L, -1, i) != LUA_TSTRING)
			fuzz_crash("config.redis.urls[%lld] is not a string",
			    (long long)i);
		cause = NULL;
		if (vl_redisurl_parse(lua_tostring(L, -1), &u, &cause) == 0)
			vl_redisurl_free(&u);
		else if (cause == NULL)
			fuzz_crash("a URL refused without a message");
		lua_pop(L, 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lua_State	*L = fuzz_state();
	const char	*s = (const char *)data, *sep;

	sep = memchr(s, '\xff', size);
	aux_write(s, sep != NULL ? (size_t)(sep - s) : size);
	aux_vars(sep != NULL ? sep + 1 : s + size, s + size);
	lua_pushcfunction(L, luaopen_venueless_config);
	if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
		if (!lua_istable(L, -1) || lua_getfield(L, -1, "message") !=
		    LUA_TSTRING)
			fuzz_crash("venueless.config raised: %s",
			    luaL_tolstring(L, -1, NULL));
		return fuzz_done(L);
	}
	if (!lua_istable(L, -1))
		fuzz_crash("venueless.config is not a table");
	aux_urls(L);
	return fuzz_done(L);
}
