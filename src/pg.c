/* venueless.db: placeholder until the binding lands. */
#include "venueless.h"

int
luaopen_venueless_db(lua_State *L)
{
	lua_newtable(L);
	return 1;
}
