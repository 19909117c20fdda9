/*
 * json.decode on any bytes: a value, or nil and "line L column C: ...",
 * never a raise. A decoded value encodes (plain and indented), and the
 * encoding decodes back to a value that encodes the same: json.encode's
 * canonical form is a fixed point.
 */
#include <string.h>

#include "fuzz.h"

/* Push json.encode(v at idx [, {indent = true}]); it must not raise. */
static void
aux_encode(lua_State *L, int idx, int indent)
{
	idx = lua_absindex(L, idx);
	fuzz_push(L, "venueless.json", "encode");
	lua_pushvalue(L, idx);
	if (indent) {
		lua_createtable(L, 0, 1);
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, "indent");
	}
	fuzz_call(L, 1 + indent, 1, "json.encode of a decoded value");
}

/* Push json.decode(s); 0 with the value, or -1 with the message. */
static int
aux_decode(lua_State *L, const char *s, size_t len)
{
	fuzz_push(L, "venueless.json", "decode");
	lua_pushlstring(L, s, len);
	fuzz_call(L, 1, 2, "json.decode");
	if (!lua_isnil(L, -2)) {
		lua_pop(L, 1);
		return 0;
	}
	if (lua_type(L, -1) != LUA_TSTRING ||
	    strncmp(lua_tostring(L, -1), "line ", 5) != 0)
		fuzz_crash("json.decode: nil without a positioned message");
	lua_remove(L, -2);
	return -1;
}

/* The encoding of the value decoded from the string at idx: pushed. */
static void
aux_again(lua_State *L, int idx, const char *what)
{
	size_t		 len;
	const char	*s = lua_tolstring(L, idx, &len);

	if (aux_decode(L, s, len) != 0)
		fuzz_crash("json.decode of %s: %s\n%s", what,
		    lua_tostring(L, -1), s);
	aux_encode(L, -1, 0);
	lua_remove(L, -2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lua_State	*L = fuzz_state();

	if (aux_decode(L, (const char *)data, size) != 0)
		return fuzz_done(L);
	aux_encode(L, 1, 0);		/* 2: canonical */
	aux_encode(L, 1, 1);		/* 3: indented */
	aux_again(L, 2, "json.encode output");
	if (!lua_rawequal(L, 2, -1))
		fuzz_crash("json.encode is not stable:\n%s\n%s",
		    lua_tostring(L, 2), lua_tostring(L, -1));
	aux_again(L, 3, "indented json.encode output");
	if (!lua_rawequal(L, 2, -1))
		fuzz_crash("indented json.encode differs:\n%s\n%s",
		    lua_tostring(L, 2), lua_tostring(L, -1));
	return fuzz_done(L);
}
