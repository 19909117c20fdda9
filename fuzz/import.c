/*
 * Import validation through the embedded Lua, without a database: the
 * input is decoded with json.decode, then validated by world_import's
 * validate(doc, decoded), the check worlds.import makes before it
 * writes. It accepts (a normalized table) or refuses ("invalid", a
 * message starting with the JSON path); any other raise is a bug. The
 * table path (decoded = false, as for worlds.import of a Lua table)
 * must judge a decoded document the same way, with the same message.
 */
#include <string.h>

#include "fuzz.h"

/* Validate the document at idx; pushes the message, or nil if valid. */
static void
aux_validate(lua_State *L, int idx, int decoded)
{
	idx = lua_absindex(L, idx);
	fuzz_push(L, "venueless.model", "refused");
	fuzz_push(L, "venueless.world_import", "validate");
	lua_pushvalue(L, idx);
	lua_pushboolean(L, decoded);
	fuzz_call(L, 3, 3, "world_import.validate");
	if (!lua_isnil(L, -3)) {
		if (!lua_istable(L, -3))
			fuzz_crash("validate accepted without a table");
		lua_pop(L, 3);
		lua_pushnil(L);
		return;
	}
	if (lua_type(L, -2) != LUA_TSTRING || lua_type(L, -1) != LUA_TSTRING ||
	    strcmp(lua_tostring(L, -1), "invalid") != 0)
		fuzz_crash("validate refused without a message or \"invalid\"");
	lua_pop(L, 1);
	lua_remove(L, -2);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	lua_State	*L = fuzz_state();

	fuzz_push(L, "venueless.json", "decode");
	lua_pushlstring(L, (const char *)data, size);
	fuzz_call(L, 1, 1, "json.decode");
	if (lua_isnil(L, 1))
		return fuzz_done(L);
	aux_validate(L, 1, 1);
	aux_validate(L, 1, 0);
	if (lua_isnil(L, 2) != lua_isnil(L, 3) ||
	    (!lua_isnil(L, 2) && strcmp(lua_tostring(L, 2),
	    lua_tostring(L, 3)) != 0))
		fuzz_crash("validate(doc, true) and (doc, false) differ: %s / %s",
		    lua_isnil(L, 2) ? "valid" : lua_tostring(L, 2),
		    lua_isnil(L, 3) ? "valid" : lua_tostring(L, 3));
	return fuzz_done(L);
}
