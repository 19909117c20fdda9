/*
 * The harnesses' Lua state, made as main.c makes it (vl_newstate, the
 * embedded modules), and the one way a harness reports a finding: a
 * message, then abort() for libFuzzer.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz.h"

/* Report a finding and stop: libFuzzer saves the input as a crash. */
void
fuzz_crash(const char *fmt, ...)
{
	va_list	 ap;

	fputs("fuzz: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/*
 * The state, made once and reused. No vl_signals(): libFuzzer keeps
 * SIGINT for itself (it ends the run and prints its figures).
 */
lua_State *
fuzz_state(void)
{
	static lua_State	*L;

	if (L == NULL && (L = vl_newstate(0)) == NULL)
		fuzz_crash("cannot create the Lua state");
	lua_settop(L, 0);
	return L;
}

/*
 * The end of an input: a full collection frees what it made, so that it
 * frees as much as it allocated and libFuzzer's leak check (run after
 * an input that did not) stays for real leaks.
 */
int
fuzz_done(lua_State *L)
{
	lua_settop(L, 0);
	lua_gc(L, LUA_GCCOLLECT);
	return 0;
}

/* Push require(module)[name]. */
void
fuzz_push(lua_State *L, const char *module, const char *name)
{
	lua_getglobal(L, "require");
	lua_pushstring(L, module);
	if (lua_pcall(L, 1, 1, 0) != LUA_OK)
		fuzz_crash("require %s: %s", module, lua_tostring(L, -1));
	lua_getfield(L, -1, name);
	lua_remove(L, -2);
}

/* Message handler: the error with a traceback, for the report. */
static int
aux_msgh(lua_State *L)
{
	luaL_traceback(L, L, luaL_tolstring(L, 1, NULL), 1);
	return 1;
}

/* Call the function below nargs arguments; what raises is a finding. */
void
fuzz_call(lua_State *L, int nargs, int nresults, const char *what)
{
	int	 base = lua_gettop(L) - nargs;

	lua_pushcfunction(L, aux_msgh);
	lua_insert(L, base);
	if (lua_pcall(L, nargs, nresults, base) != LUA_OK)
		fuzz_crash("%s raised: %s", what, lua_tostring(L, -1));
	lua_remove(L, base);
}
