/*
 * msgpack.decode on any bytes, value after value (the first four) as a
 * stream is read: each gives a value and a later position, or
 * nil and a message, never a raise. A decoded value either encodes
 * (only keys msgpack.encode does not take may stop it) or is refused;
 * what it encodes to decodes back to a value that encodes the same.
 */
#include <string.h>

#include "fuzz.h"

/* Push msgpack.encode(v at idx), or nothing if it refused; 0 or -1. */
static int
aux_encode(lua_State *L, int idx)
{
	const char	*msg;

	idx = lua_absindex(L, idx);
	fuzz_push(L, "venueless.msgpack", "encode");
	lua_pushvalue(L, idx);
	if (lua_pcall(L, 1, 1, 0) == LUA_OK)
		return 0;
	msg = lua_tostring(L, -1);
	if (msg == NULL || strstr(msg, " key") == NULL)
		fuzz_crash("msgpack.encode of a decoded value raised: %s",
		    msg != NULL ? msg : "(not a string)");
	lua_pop(L, 1);
	return -1;
}

/* Push msgpack.decode(s, pos): value, next; or nil, message. */
static void
aux_decode(lua_State *L, const char *s, size_t len, lua_Integer pos)
{
	fuzz_push(L, "venueless.msgpack", "decode");
	lua_pushlstring(L, s, len);
	lua_pushinteger(L, pos);
	fuzz_call(L, 2, 2, "msgpack.decode");
}

/* The value at idx survives encode, decode, encode unchanged. */
static void
aux_roundtrip(lua_State *L, int idx)
{
	int		 top = lua_gettop(L);
	size_t		 len;
	const char	*s;

	idx = lua_absindex(L, idx);
	if (aux_encode(L, idx) != 0)
		return;
	s = lua_tolstring(L, -1, &len);
	aux_decode(L, s, len, 1);
	if (lua_isnil(L, -2))
		fuzz_crash("msgpack.decode of msgpack.encode output: %s",
		    lua_tostring(L, -1));
	if (lua_tointeger(L, -1) != (lua_Integer)len + 1)
		fuzz_crash("msgpack.encode output has bytes after the value");
	if (aux_encode(L, -2) != 0 || !lua_rawequal(L, top + 1, -1))
		fuzz_crash("msgpack.encode is not stable");
	lua_settop(L, top);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lua_State	*L = fuzz_state();
	lua_Integer	 pos = 1, next;
	int		 n;

	for (n = 0; n < 4 && (size_t)pos <= size; n++) {
		aux_decode(L, (const char *)data, size, pos);
		if (lua_isnil(L, -2)) {
			if (lua_type(L, -1) != LUA_TSTRING)
				fuzz_crash("msgpack.decode: nil, no message");
			break;
		}
		next = lua_tointeger(L, -1);
		if (!lua_isinteger(L, -1) || next <= pos ||
		    (size_t)next > size + 1)
			fuzz_crash("msgpack.decode: next position %lld after "
			    "%lld of %zu", (long long)next, (long long)pos,
			    size);
		aux_roundtrip(L, -2);
		lua_settop(L, 0);
		pos = next;
	}
	lua_settop(L, 0);
	return fuzz_done(L);
}
