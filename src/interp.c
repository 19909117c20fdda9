/* The Lua state: module loading, error objects, interrupts, reporting. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/socket.h>

#include <lualib.h>

#include "venueless.h"

/* Set by SIGINT/SIGTERM; polled by the bindings around blocking I/O. */
volatile sig_atomic_t vl_interrupted;

/* Set by SIGTERM only: the shell survives Ctrl-C, not a kill. */
volatile sig_atomic_t vl_terminated;

/*
 * A socket a blocking write is on (pg.c's big sends), else -1: SIGINT and
 * SIGTERM shut it down so the write ends (a unix socket only wakes a
 * writer blocked on a full buffer when both directions are shut), and
 * reset it.
 */
volatile sig_atomic_t vl_abort_fd = -1;

/* The state a signal handler may hook; lua.c keeps the same global. */
static lua_State *sig_state;

static const luaL_Reg preload_c[] = {
	{ "venueless.config", luaopen_venueless_config },
	{ "venueless.db", luaopen_venueless_db },
	{ "venueless.redis", luaopen_venueless_redis },
	{ "venueless.json", luaopen_venueless_json },
	{ "venueless.msgpack", luaopen_venueless_msgpack },
	{ "venueless.crypto", luaopen_venueless_crypto },
	{ "venueless.core", luaopen_venueless_core },
	{ "venueless.edit", luaopen_venueless_edit },
	{ "venueless.http", luaopen_venueless_http },
	{ "venueless.xml", luaopen_venueless_xml },
	{ NULL, NULL }
};

/* Operator globals, required on first use so start-up stays cheap. */
static const char *const lazy_globals[][2] = {
	{ "db", "venueless.db" },
	{ "redis", "venueless.redis" },
	{ "json", "venueless.json" },
	{ "msgpack", "venueless.msgpack" },
	{ "crypto", "venueless.crypto" },
	{ "config", "venueless.config" },
	{ "migrations", "venueless.migrations" },
	{ "worlds", "venueless.worlds" },
	{ "rooms", "venueless.rooms" },
	{ "connections", "venueless.connections" },
	{ "models", "venueless.models" },
	{ "http", "venueless.http" },
	{ "xml", "venueless.xml" },
	{ "bbb", "venueless.bbb" },
	{ "admin", "venueless.admin" },
	{ "check", "venueless.check" },
	{ "announce", "venueless.announce" },
	{ NULL, NULL }
};

/*
 * The models by their Django names (auth.User as AuthUser), lazy globals
 * that resolve to venueless.models[name]; in the order of
 * lua/venueless/models/meta.lua, which tests/models.lua checks.
 */
static const char *const model_globals[] = {
	"Group", "Permission", "AuthUser", "ContentType", "LogEntry",
	"Announcement", "AnonymousInvite", "AuditLog", "BBBCall",
	"BBBServer", "Channel", "ChatEvent", "ChatEventNotification",
	"ChatEventReaction", "ContactRequest", "DigitalSambaCall",
	"Exhibitor", "ExhibitorLink", "ExhibitorSocialMediaLink",
	"ExhibitorStaff", "ExhibitorView", "Feedback", "JanusServer",
	"Membership", "PlannedUsage", "Poll", "PollOption", "PollVote",
	"Poster", "PosterLink", "PosterPresenter", "PosterVote", "Question",
	"QuestionVote", "Reaction", "Room", "RoomGrant", "RoomView",
	"RoulettePairing", "RouletteRequest", "ShortToken",
	"StreamingServer", "TurnServer", "User", "WebPushClient", "World",
	"WorldGrant", "WorldView", "Session", "StoredFile", NULL
};

/* Hook installed from the signal handler: raise at the next Lua step. */
static void
aux_hook(lua_State *L, lua_Debug *ar)
{
	(void)ar;
	lua_sethook(L, NULL, 0, 0);
	vl_check_interrupt(L);
}

/* SIGINT/SIGTERM: flag it, and stop running Lua code at the next step. */
static void
aux_signal(int sig)
{
	vl_interrupted = 1;
	if (sig == SIGTERM)
		vl_terminated = 1;
	if (vl_abort_fd >= 0) {
		shutdown(vl_abort_fd, SHUT_RDWR);	/* async-signal-safe */
		vl_abort_fd = -1;
	}
	if (sig_state != NULL)
		lua_sethook(sig_state, aux_hook,
		    LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

/* Install the handlers; no SA_RESTART, so blocking waits see EINTR. */
void
vl_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = aux_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* Push a new error object {message=, exit=, code=}. */
static void
aux_pusherror(lua_State *L, int exitcode, const char *msg, const char *code)
{
	lua_createtable(L, 0, 3);
	lua_pushstring(L, msg);
	lua_setfield(L, -2, "message");
	lua_pushinteger(L, exitcode);
	lua_setfield(L, -2, "exit");
	if (code != NULL) {
		lua_pushstring(L, code);
		lua_setfield(L, -2, "code");
	}
	luaL_setmetatable(L, VL_ERROR);
}

/*
 * The one failure -> exit mapping (man venueless(1), EXIT STATUS): a
 * PostgreSQL connection class (08) or failed login (28P01, 28000) means
 * the database was not reached, Redis' "connection" or an authentication
 * refusal (NOAUTH, WRONGPASS) that Redis was not; anything else is a
 * plain failure.
 */
int
vl_exit_for(const char *code)
{
	static const char *const noredis[] = { "connection", "NOAUTH",
	    "WRONGPASS", NULL };
	int	 i;

	if (code == NULL)
		return VL_EXIT_FAILURE;
	if (strcmp(code, "interrupted") == 0)
		return VL_EXIT_INTERRUPTED;
	if (strlen(code) == 5 && (strncmp(code, "08", 2) == 0 ||
	    strcmp(code, "28P01") == 0 || strcmp(code, "28000") == 0))
		return VL_EXIT_NOPG;
	for (i = 0; noredis[i] != NULL; i++)
		if (strcmp(code, noredis[i]) == 0)
			return VL_EXIT_NOREDIS;
	return VL_EXIT_FAILURE;
}

/* Push a failure's error object (to add fields to before raising it). */
void
vl_pushfailure(lua_State *L, const char *msg, const char *code)
{
	aux_pusherror(L, vl_exit_for(code), msg, code);
}

/* Raise a failure: an error object whose exit comes from its code. */
int
vl_fail(lua_State *L, const char *msg, const char *code)
{
	vl_pushfailure(L, msg, code);
	return lua_error(L);
}

/* Raise a venueless error with an exit code and a formatted message. */
int
vl_error(lua_State *L, int exitcode, const char *fmt, ...)
{
	va_list	 ap;
	char	 buf[1024];

	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	aux_pusherror(L, exitcode, buf, NULL);
	return lua_error(L);
}

/* Raise "interrupted" if a signal arrived since the last check. */
void
vl_check_interrupt(lua_State *L)
{
	if (!vl_interrupted)
		return;
	vl_interrupted = 0;
	aux_pusherror(L, VL_EXIT_INTERRUPTED, "interrupted", "interrupted");
	lua_error(L);
}

/* Push the null sentinel shared by json, msgpack and db. */
void
vl_pushnull(lua_State *L)
{
	lua_getfield(L, LUA_REGISTRYINDEX, VL_NULL);
}

int
vl_isnull(lua_State *L, int idx)
{
	int	 r;

	idx = lua_absindex(L, idx);
	vl_pushnull(L);
	r = lua_rawequal(L, idx, -1);
	lua_pop(L, 1);
	return r;
}

/* error object __tostring */
static int
err_tostring(lua_State *L)
{
	lua_getfield(L, 1, "message");
	return 1;
}

/* null __tostring */
static int
null_tostring(lua_State *L)
{
	lua_pushliteral(L, "null");
	return 1;
}

/* Create the error metatable and the null sentinel in the registry. */
static void
aux_registry(lua_State *L)
{
	luaL_newmetatable(L, VL_ERROR);
	lua_pushcfunction(L, err_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_pushliteral(L, "venueless.error");
	lua_setfield(L, -2, "__name");
	lua_pop(L, 1);
	lua_newuserdatauv(L, 0, 0);
	luaL_newmetatable(L, VL_NULL);
	lua_pushcfunction(L, null_tostring);
	lua_setfield(L, -2, "__tostring");
	lua_setmetatable(L, -2);
	lua_setfield(L, LUA_REGISTRYINDEX, VL_NULL);
}

/* Load an embedded module, or its file from LUA_PATH when one is set. */
static int
aux_loadembedded(lua_State *L)
{
	const struct vl_embedded *e;
	const char	*path;

	e = lua_touserdata(L, lua_upvalueindex(1));
	if (getenv("LUA_PATH") != NULL || getenv("LUA_PATH_5_4") != NULL) {
		lua_getglobal(L, "package");
		lua_getfield(L, -1, "searchpath");
		lua_pushstring(L, e->module);
		lua_getfield(L, -3, "path");
		lua_call(L, 2, 1);
		if ((path = lua_tostring(L, -1)) != NULL) {
			if (luaL_loadfilex(L, path, "t") != LUA_OK)
				return lua_error(L);
			lua_pushstring(L, e->module);
			lua_pushstring(L, path);
			lua_call(L, 2, 1);
			return 1;
		}
		lua_pop(L, 2);
	}
	if (luaL_loadbufferx(L, (const char *)e->source, e->len,
	    e->chunkname, "t") != LUA_OK)
		return lua_error(L);
	lua_pushstring(L, e->module);
	lua_pushliteral(L, ":embedded:");
	lua_call(L, 2, 1);
	return 1;
}

/*
 * Push the package.preload loader of module name (a C binding, or an
 * embedded module), or return 0 and push nothing.
 */
static int
aux_pushloader(lua_State *L, const char *name)
{
	const struct vl_embedded *e;
	const luaL_Reg	*r;

	for (r = preload_c; r->name != NULL; r++)
		if (strcmp(r->name, name) == 0) {
			lua_pushcfunction(L, r->func);
			return 1;
		}
	for (e = vl_embedded; e->module != NULL; e++)
		if (strcmp(e->module, name) == 0) {
			lua_pushlightuserdata(L, (void *)e);
			lua_pushcclosure(L, aux_loadembedded, 1);
			return 1;
		}
	return 0;
}

/*
 * package.preload's __index: the loader of a C binding or an embedded
 * module, made on first use and kept in the table; start-up pays for
 * no module it does not load (bench/startup).
 */
static int
aux_preload_index(lua_State *L)
{
	if (lua_type(L, 2) != LUA_TSTRING ||
	    !aux_pushloader(L, lua_tostring(L, 2)))
		return 0;
	lua_pushvalue(L, 2);
	lua_pushvalue(L, -2);
	lua_rawset(L, 1);	/* preload[name] = loader */
	return 1;
}

/*
 * package.preload's __pairs: every loader is made first, then the
 * standard next (upvalue 1) walks the table.
 */
static int
aux_preload_pairs(lua_State *L)
{
	const struct vl_embedded *e;
	const luaL_Reg	*r;

	for (r = preload_c; r->name != NULL; r++)
		if (lua_getfield(L, 1, r->name) != LUA_TNIL)
			lua_pop(L, 1);
	for (e = vl_embedded; e->module != NULL; e++)
		if (lua_getfield(L, 1, e->module) != LUA_TNIL)
			lua_pop(L, 1);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_pushvalue(L, 1);
	lua_pushnil(L);
	return 3;
}

/* Make package.preload hold the C bindings and the embedded Lua. */
static void
aux_preload(lua_State *L)
{
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	lua_createtable(L, 0, 2);
	lua_pushcfunction(L, aux_preload_index);
	lua_setfield(L, -2, "__index");
	lua_getglobal(L, "next");
	lua_pushcclosure(L, aux_preload_pairs, 1);
	lua_setfield(L, -2, "__pairs");
	lua_setmetatable(L, -2);
	lua_pop(L, 1);
}

/* The registry's set of the lazy globals that are a field of their module. */
#define VL_LAZYFIELDS	"venueless.lazyfields"

/*
 * __index of _G's metatable's metatable: mt.__lazy (name -> module, for
 * the completer too) and registry[VL_LAZYFIELDS] (the models) are built
 * the first time either is needed, not at every start.
 */
static int
aux_lazy_index(lua_State *L)
{
	int	 i;

	if (lua_type(L, 2) != LUA_TSTRING ||
	    strcmp(lua_tostring(L, 2), "__lazy") != 0)
		return 0;
	lua_createtable(L, 0, 80);	/* __lazy */
	for (i = 0; lazy_globals[i][0] != NULL; i++) {
		lua_pushstring(L, lazy_globals[i][1]);
		lua_setfield(L, -2, lazy_globals[i][0]);
	}
	lua_createtable(L, 0, 64);	/* the names that are fields */
	for (i = 0; model_globals[i] != NULL; i++) {
		lua_pushliteral(L, "venueless.models");
		lua_setfield(L, -3, model_globals[i]);
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, model_globals[i]);
	}
	lua_setfield(L, LUA_REGISTRYINDEX, VL_LAZYFIELDS);
	lua_pushvalue(L, -1);
	lua_setfield(L, 1, "__lazy");	/* mt.__lazy, from now on raw */
	return 1;
}

/*
 * _G.__index: require an operator global the first time it is named;
 * upvalue 1 is _G's metatable, whose __lazy maps a name to its module.
 */
static int
aux_lazyglobal(lua_State *L)
{
	const char	*mod;

	if (lua_type(L, 2) != LUA_TSTRING)
		return 0;
	if (lua_getfield(L, lua_upvalueindex(1), "__lazy") != LUA_TTABLE)
		return 0;
	lua_pushvalue(L, 2);
	if (lua_rawget(L, -2) != LUA_TSTRING)
		return 0;
	mod = lua_tostring(L, -1);
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_PRELOAD_TABLE);
	if (lua_getfield(L, -1, mod) == LUA_TNIL)
		return 0;
	lua_getglobal(L, "require");
	lua_pushstring(L, mod);
	lua_call(L, 1, 1);
	if (lua_getfield(L, LUA_REGISTRYINDEX, VL_LAZYFIELDS) == LUA_TTABLE) {
		lua_pushvalue(L, 2);
		if (lua_rawget(L, -2) != LUA_TNIL) {
			lua_pop(L, 2);
			lua_pushvalue(L, 2);
			lua_gettable(L, -2);	/* venueless.models[name] */
		} else
			lua_pop(L, 2);
	} else
		lua_pop(L, 1);
	lua_pushvalue(L, 2);
	lua_pushvalue(L, -2);
	lua_settable(L, 1);	/* cache it in _G */
	return 1;
}

/* Make operator globals resolve lazily through _G's metatable. */
static void
aux_globals(lua_State *L)
{
	lua_pushglobaltable(L);
	lua_createtable(L, 0, 2);	/* mt */
	lua_createtable(L, 0, 1);
	lua_pushcfunction(L, aux_lazy_index);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);	/* mt.__lazy on demand */
	lua_pushvalue(L, -1);
	lua_pushcclosure(L, aux_lazyglobal, 1);
	lua_setfield(L, -2, "__index");
	lua_setmetatable(L, -2);
	lua_pop(L, 1);
}

/* A new state with the standard libraries and our modules preloaded. */
lua_State *
vl_newstate(int verbose)
{
	lua_State	*L;

	if ((L = luaL_newstate()) == NULL)
		return NULL;
	luaL_openlibs(L);
	aux_registry(L);
	aux_preload(L);
	aux_globals(L);
	lua_pushboolean(L, verbose);
	lua_setfield(L, LUA_REGISTRYINDEX, "venueless.verbose");
	sig_state = L;
	return L;
}

/*
 * Print an error value as "venueless: CMD: message" and return its exit
 * code; a Lua error gets its traceback only when verbose.
 */
int
vl_report(lua_State *L, const char *cmd, int verbose)
{
	const char	*msg, *tb = NULL;
	int		 code = VL_EXIT_FAILURE;

	if (lua_type(L, -1) == LUA_TTABLE) {
		if (lua_getfield(L, -1, "exit") == LUA_TNUMBER)
			code = (int)lua_tointeger(L, -1);
		lua_pop(L, 1);
		if (lua_getfield(L, -1, "traceback") == LUA_TSTRING && verbose)
			tb = lua_tostring(L, -1);
		lua_pop(L, 1);
		if (lua_getfield(L, -1, "reported") == LUA_TBOOLEAN &&
		    lua_toboolean(L, -1)) {
			lua_pop(L, 1);
			return code;
		}
		lua_pop(L, 1);
	}
	msg = luaL_tolstring(L, -1, NULL);
	fprintf(stderr, "venueless: %s%s%s\n", cmd != NULL ? cmd : "",
	    cmd != NULL ? ": " : "", msg);
	if (tb != NULL)
		fprintf(stderr, "%s\n", tb);
	lua_pop(L, 1);
	return code;
}

/* core.error(exit, message [, code]): raise a venueless error object. */
static int
core_error(lua_State *L)
{
	int		 exitcode;
	const char	*msg;

	exitcode = (int)luaL_checkinteger(L, 1);
	msg = luaL_checkstring(L, 2);
	aux_pusherror(L, exitcode, msg, luaL_optstring(L, 3, NULL));
	return lua_error(L);
}

/* core.exit_for(code): the exit status for a failure's code. */
static int
core_exit_for(lua_State *L)
{
	lua_pushinteger(L, vl_exit_for(luaL_optstring(L, 1, NULL)));
	return 1;
}

/* core.fail(message [, code]): raise a failure, exit from its code. */
static int
core_fail(lua_State *L)
{
	const char	*msg = luaL_checkstring(L, 1);

	return vl_fail(L, msg, luaL_optstring(L, 2, NULL));
}

/* core.try continuation: results, or nil, message, code for a failure. */
static int
aux_try_done(lua_State *L, int status, lua_KContext base)
{
	if (status == LUA_OK || status == LUA_YIELD)
		return lua_gettop(L) - (int)base;
	if (lua_getmetatable(L, -1)) {
		luaL_getmetatable(L, VL_ERROR);
		if (lua_rawequal(L, -1, -2)) {
			lua_pop(L, 2);
			if (lua_getfield(L, -1, "exit") == LUA_TNUMBER &&
			    lua_tointeger(L, -1) != VL_EXIT_INTERRUPTED) {
				lua_pushnil(L);
				lua_getfield(L, -3, "message");
				lua_getfield(L, -4, "code");
				return 3;
			}
			lua_pop(L, 1);
		} else
			lua_pop(L, 2);
	}
	return lua_error(L);	/* misuse and interrupts propagate */
}

/*
 * core.try(fn, ...): fn's results, or nil, message, code when it raised
 * a venueless failure; the non-raising form of any call.
 */
static int
core_try(lua_State *L)
{
	luaL_checkany(L, 1);
	return aux_try_done(L, lua_pcallk(L, lua_gettop(L) - 1, LUA_MULTRET,
	    0, 0, aux_try_done), 0);
}

/* core.is_error(v): true for a venueless error object. */
static int
core_is_error(lua_State *L)
{
	lua_pushboolean(L, lua_getmetatable(L, 1) &&
	    (luaL_getmetatable(L, VL_ERROR), lua_rawequal(L, -1, -2)));
	return 1;
}

/* core.check_interrupt(): raise "interrupted" if a signal arrived. */
static int
core_check_interrupt(lua_State *L)
{
	vl_check_interrupt(L);
	return 0;
}

/* core.clear_interrupt(): forget a pending signal (the shell prompt). */
static int
core_clear_interrupt(lua_State *L)
{
	vl_interrupted = 0;
	lua_sethook(L, NULL, 0, 0);
	return 0;
}

/* core.isatty(fd) */
static int
core_isatty(lua_State *L)
{
	lua_pushboolean(L, isatty((int)luaL_checkinteger(L, 1)));
	return 1;
}

/* core.getpid() */
static int
core_getpid(lua_State *L)
{
	lua_pushinteger(L, (lua_Integer)getpid());
	return 1;
}

/* core.sleep(ms): wait; a signal ends the wait and raises "interrupted". */
static int
core_sleep(lua_State *L)
{
	lua_Number	 ms = luaL_checknumber(L, 1);
	struct timespec	 ts;

	if (ms <= 0)
		return 0;
	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)((ms - (lua_Number)ts.tv_sec * 1000) * 1e6);
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !vl_interrupted)
		continue;
	vl_check_interrupt(L);
	return 0;
}

/* core.time([clock]): wall-clock seconds as a float; "monotonic" for intervals. */
static int
core_time(lua_State *L)
{
	static const char *const clocks[] = { "realtime", "monotonic", NULL };
	struct timespec	 ts;
	int		 which = luaL_checkoption(L, 1, "realtime", clocks);

	clock_gettime(which ? CLOCK_MONOTONIC : CLOCK_REALTIME, &ts);
	lua_pushnumber(L, (lua_Number)ts.tv_sec + (lua_Number)ts.tv_nsec / 1e9);
	return 1;
}

/*
 * core.glob_match(name, glob) -> boolean: Python's fnmatch.fnmatchcase
 * (glob.c), never slower than the product of the lengths; Ctrl-C and
 * SIGTERM stop a long one.
 */
static int
core_glob_match(lua_State *L)
{
	size_t		 sn, gn;
	const char	*s = luaL_checklstring(L, 1, &sn);
	const char	*g = luaL_checklstring(L, 2, &gn);
	int		 r;

	if ((r = vl_glob_match(g, gn, s, sn)) == -1)
		vl_check_interrupt(L);
	lua_pushboolean(L, r == 1);
	return 1;
}

/* A string of a table being sorted, and where it was. */
struct sortstr {
	const char	*s;
	size_t		 len;
	lua_Integer	 at;
};

/* Byte order, a prefix first: Lua's < on strings in the C locale. */
static int
aux_cmpstr(const void *a, const void *b)
{
	const struct sortstr	*x = a, *y = b;
	int			 r = memcmp(x->s, y->s, x->len < y->len ? x->len :
	    y->len);

	if (r != 0)
		return r;
	return (x->len > y->len) - (x->len < y->len);
}

/*
 * core.sort_strings(t) -> t: the strings t[1..#t] sorted in place in byte
 * order, as table.sort(t) orders them in the C locale (venueless never
 * sets LC_COLLATE) but without a Lua comparison per step: a sort of
 * 10,000 labels costs a tenth of table.sort's instructions.
 */
static int
core_sort_strings(lua_State *L)
{
	struct sortstr	*v;
	lua_Integer	 n, i;

	luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	n = (lua_Integer)lua_rawlen(L, 1);
	for (i = 1; i <= n; i++) {
		if (lua_rawgeti(L, 1, i) != LUA_TSTRING)
			luaL_argerror(L, 1, lua_pushfstring(L, "string expected "
			    "at index %I, got %s", (LUAI_UACINT)i,
			    luaL_typename(L, -1)));
		lua_pop(L, 1);
	}
	if (n < 2)
		return 1;
	v = xmalloc((size_t)n * sizeof *v);
	for (i = 1; i <= n; i++) {
		lua_rawgeti(L, 1, i);	/* t keeps it alive */
		v[i - 1].s = lua_tolstring(L, -1, &v[i - 1].len);
		v[i - 1].at = i;
		lua_pop(L, 1);
	}
	qsort(v, (size_t)n, sizeof *v, aux_cmpstr);
	/* Into a new array first: t holds every string until it is copied. */
	lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
	for (i = 1; i <= n; i++) {
		lua_rawgeti(L, 1, v[i - 1].at);
		lua_rawseti(L, 2, i);
	}
	free(v);
	for (i = 1; i <= n; i++) {
		lua_rawgeti(L, 2, i);
		lua_rawseti(L, 1, i);
	}
	lua_settop(L, 1);
	return 1;
}

/* Characters of s as utf8.len counts them; bytes when it is not UTF-8. */
static size_t
aux_chars(lua_State *L, const char *s, size_t len)
{
	size_t		 i, n;

	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] >= 0x80)
			break;
	if (i == len)
		return len;
	lua_getfield(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	lua_getfield(L, -1, LUA_UTF8LIBNAME);
	lua_getfield(L, -1, "len");
	lua_pushlstring(L, s, len);
	lua_call(L, 1, 1);
	n = lua_isinteger(L, -1) ? (size_t)lua_tointeger(L, -1) : len;
	lua_pop(L, 3);
	return n;
}

/* Append integer v in decimal (tostring's text, without a snprintf). */
static void
aux_addinteger(struct vl_buf *b, lua_Integer v)
{
	char		 buf[24], *p = buf + sizeof buf;
	lua_Unsigned	 u = v < 0 ? 0 - (lua_Unsigned)v : (lua_Unsigned)v;

	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		*--p = '-';
	vl_buf_add(b, p, (size_t)(buf + sizeof buf - p));
}

/*
 * core.padded_lines(names, values, width [, shown]) -> text: a line per
 * name of the array, shown(name) (the name when shown is nil) padded
 * with spaces to width characters (never cut), a space,
 * tostring(values[name]) and a newline: Python's "{:60} {}" per line,
 * the `connections list` table (10,000 lines cost as much again as the
 * listing when built in Lua).
 */
static int
core_padded_lines(lua_State *L)
{
	lua_Integer	 n, i, width = luaL_checkinteger(L, 3);
	struct vl_buf	*b;
	const char	*s;
	char		*p;
	size_t		 len, w, k;

	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checktype(L, 2, LUA_TTABLE);
	if (!lua_isnoneornil(L, 4))
		luaL_checktype(L, 4, LUA_TFUNCTION);
	lua_settop(L, 4);
	n = luaL_len(L, 1);
	b = vl_buf_new(L);				/* 5 */
	for (i = 1; i <= n; i++) {
		lua_rawgeti(L, 1, i);			/* 6: the name */
		lua_pushvalue(L, 6);
		lua_rawget(L, 2);			/* 7: its value */
		if (!lua_isnil(L, 4)) {
			lua_pushvalue(L, 4);
			lua_pushvalue(L, 6);
			lua_call(L, 1, 1);
			lua_replace(L, 6);
		}
		if ((s = lua_tolstring(L, 6, &len)) == NULL)
			return luaL_error(L, "name %I is not a string",
			    (LUAI_UACINT)i);
		w = aux_chars(L, s, len);
		k = (lua_Integer)w < width ? (size_t)width - w : 0;
		p = vl_buf_reserve(b, len + k + 1);
		memcpy(p, s, len);
		memset(p + len, ' ', k + 1);
		b->len += len + k + 1;
		if (lua_isinteger(L, 7))
			aux_addinteger(b, lua_tointeger(L, 7));
		else {
			s = luaL_tolstring(L, 7, &len);
			vl_buf_add(b, s, len);
		}
		vl_buf_add(b, "\n", 1);
		lua_settop(L, 5);
	}
	lua_pushlstring(L, b->p, b->len);
	return 1;
}

/* core.exit_codes: the enum, for Lua code and the man page test. */
static void
aux_exitcodes(lua_State *L)
{
	static const struct { const char *name; int code; } codes[] = {
		{ "ok", VL_EXIT_OK }, { "failure", VL_EXIT_FAILURE },
		{ "usage", VL_EXIT_USAGE }, { "pending", VL_EXIT_PENDING },
		{ "lock", VL_EXIT_LOCK },
		{ "inconsistent", VL_EXIT_INCONSISTENT },
		{ "nopg", VL_EXIT_NOPG }, { "noredis", VL_EXIT_NOREDIS },
		{ "interrupted", VL_EXIT_INTERRUPTED }, { NULL, 0 }
	};
	int	 i;

	lua_createtable(L, 0, 9);
	for (i = 0; codes[i].name != NULL; i++) {
		lua_pushinteger(L, codes[i].code);
		lua_setfield(L, -2, codes[i].name);
	}
}

/* fill for vl_write_private: the string in struct strbuf */
struct strbuf {
	const char	*s;
	size_t		 len;
};

static int
aux_strfill(FILE *f, void *arg)
{
	struct strbuf	*b = arg;

	return fwrite(b->s, 1, b->len, f) == b->len ? 0 : -1;
}

/*
 * core.write_private(path, text) -> true | nil, message: path replaced
 * whole with mode 0600 (a file holding secrets), or left as it was.
 */
static int
core_write_private(lua_State *L)
{
	const char	*path = luaL_checkstring(L, 1);
	struct strbuf	 b;
	char		*failed = NULL;
	int		 r;

	b.s = luaL_checklstring(L, 2, &b.len);
	if (vl_write_private(path, aux_strfill, &b, &failed) == 0) {
		lua_pushboolean(L, 1);
		return 1;
	}
	r = luaL_fileresult(L, 0, failed);
	free(failed);
	return r;
}

static const luaL_Reg core_funcs[] = {
	{ "error", core_error },
	{ "fail", core_fail },
	{ "exit_for", core_exit_for },
	{ "try", core_try },
	{ "is_error", core_is_error },
	{ "check_interrupt", core_check_interrupt },
	{ "clear_interrupt", core_clear_interrupt },
	{ "isatty", core_isatty },
	{ "getpid", core_getpid },
	{ "sleep", core_sleep },
	{ "time", core_time },
	{ "glob_match", core_glob_match },
	{ "sort_strings", core_sort_strings },
	{ "padded_lines", core_padded_lines },
	{ "write_private", core_write_private },
	{ "commands", vl_cmds_push },		/* cmd.c, for completion */
	{ "use_config", vl_cmd_use_config },	/* cmd.c, likewise */
	{ NULL, NULL }
};

/* venueless.core: error objects, exit codes, signals, the null sentinel. */
int
luaopen_venueless_core(lua_State *L)
{
	luaL_newlib(L, core_funcs);
	aux_exitcodes(L);
	lua_setfield(L, -2, "exit");
	vl_pushnull(L);
	lua_setfield(L, -2, "null");
	lua_getfield(L, LUA_REGISTRYINDEX, "venueless.verbose");
	lua_setfield(L, -2, "verbose");
	return 1;
}
