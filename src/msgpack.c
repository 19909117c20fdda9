/* venueless.msgpack: MessagePack bytes to Lua values and back. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "venueless.h"

#define MP_BUF		"venueless.msgpack.buffer"
#define MP_UNPACKED	"venueless.msgpack.unpacked"
#define MP_MAXDEPTH	200
#define MP_UNPACKDEPTH	32	/* msgpack-c's MSGPACK_EMBED_STACK_SIZE */

/* Growable output buffer, a userdata so that raising frees it (__gc). */
struct mpbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

/* An unpacked object and its zone, boxed for the same reason. */
struct mpbox {
	msgpack_unpacked	 u;
	int			 live;
};

/* One map key being encoded: an integer or a string. */
struct mpkey {
	int		 isstr;
	const char	*s;	/* anchored in the entries table */
	size_t		 len;
	lua_Integer	 n;
	lua_Integer	 i;	/* entries[2i - 1] = key, entries[2i] = value */
};

/* Encoder state: the stack slots stay put for one encode. */
struct mpenc {
	lua_State	*L;
	msgpack_packer	 pk;
	int		 amt;	/* array metatable */
	int		 omt;	/* object metatable */
	int		 seen;	/* tables on the current path */
};

/* Free a buffer's memory (__gc). */
static int
buf_gc(lua_State *L)
{
	struct mpbuf	*b = luaL_checkudata(L, 1, MP_BUF);

	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	return 0;
}

/* The packer's write callback: append n bytes. */
static int
buf_write(void *data, const char *p, size_t n)
{
	struct mpbuf	*b = data;
	size_t		 cap;

	if (b->cap - b->len < n) {
		cap = b->cap != 0 ? b->cap : 256;
		while (cap - b->len < n)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	return 0;
}

/* Destroy an unpacked object's zone (__gc). */
static int
box_gc(lua_State *L)
{
	struct mpbox	*box = luaL_checkudata(L, 1, MP_UNPACKED);

	if (box->live)
		msgpack_unpacked_destroy(&box->u);
	box->live = 0;
	return 0;
}

/* Is the plain table at idx an array (keys exactly 1..n, n >= 1)? */
static int
aux_isarray(lua_State *L, int idx)
{
	lua_Integer	 n = 0, max = 0, k;

	lua_pushnil(L);
	while (lua_next(L, idx) != 0) {
		lua_pop(L, 1);		/* the value */
		if (!lua_isinteger(L, -1) || (k = lua_tointeger(L, -1)) < 1) {
			lua_pop(L, 1);	/* the key */
			return 0;
		}
		if (k > max)
			max = k;
		n++;
	}
	return n > 0 && max == n;
}

/* Array (1) or map (0)? Pushes the metatable's __order, or nil. */
static int
enc_kind(struct mpenc *e, int idx)
{
	lua_State	*L = e->L;
	int		 isarray;

	if (lua_getmetatable(L, idx)) {
		isarray = lua_rawequal(L, -1, e->amt);
		if (isarray || lua_rawequal(L, -1, e->omt)) {
			lua_pop(L, 1);
			lua_pushnil(L);
			return isarray;
		}
		lua_pushliteral(L, "__order");
		if (lua_rawget(L, -2) != LUA_TNIL) {	/* mt.__order */
			if (!lua_istable(L, -1))
				luaL_error(L, "cannot encode: __order is not a "
				    "table");
			lua_remove(L, -2);		/* the metatable */
			return 0;
		}
		lua_pop(L, 2);
	}
	lua_pushnil(L);
	return aux_isarray(L, idx);
}

/* Add the key at the top (popped) and t[key] to entries; 0 if skipped. */
static int
enc_addkey(struct mpenc *e, int t, int ents, int set, lua_Integer n)
{
	lua_State	*L = e->L;
	int		 k = lua_gettop(L);

	if (lua_type(L, k) != LUA_TSTRING && !lua_isinteger(L, k))
		return luaL_error(L, "cannot encode %s key in a map",
		    luaL_typename(L, k));
	lua_pushvalue(L, k);
	if (lua_rawget(L, set) != LUA_TNIL) {		/* already written */
		lua_settop(L, k - 1);
		return 0;
	}
	lua_pop(L, 1);
	lua_pushvalue(L, k);
	if (lua_rawget(L, t) == LUA_TNIL) {		/* absent */
		lua_settop(L, k - 1);
		return 0;
	}
	lua_pushvalue(L, k);
	lua_pushboolean(L, 1);
	lua_rawset(L, set);				/* set[key] = true */
	lua_rawseti(L, ents, 2 * n + 2);		/* the value */
	lua_rawseti(L, ents, 2 * n + 1);		/* the key */
	return 1;
}

/* Order map keys: integers by value first, then strings bytewise. */
static int
aux_keycmp(const void *a, const void *b)
{
	const struct mpkey	*x = a, *y = b;
	int			 c;

	if (x->isstr != y->isstr)
		return x->isstr - y->isstr;
	if (!x->isstr)
		return x->n < y->n ? -1 : x->n > y->n;
	c = memcmp(x->s, y->s, x->len < y->len ? x->len : y->len);
	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* Collect the keys: __order's first, then the rest sorted. */
static struct mpkey *
enc_keys(struct mpenc *e, int t, int order, int ents, lua_Integer *np)
{
	lua_State	*L = e->L;
	struct mpkey	*keys;
	lua_Integer	 i, n = 0, nord, len;
	int		 set;

	lua_newtable(L);
	set = lua_gettop(L);
	len = lua_istable(L, order) ? (lua_Integer)lua_rawlen(L, order) : 0;
	for (i = 1; i <= len; i++) {
		lua_rawgeti(L, order, i);
		n += enc_addkey(e, t, ents, set, n);
	}
	nord = n;
	lua_pushnil(L);
	while (lua_next(L, t) != 0) {
		lua_pop(L, 1);
		lua_pushvalue(L, -1);
		n += enc_addkey(e, t, ents, set, n);
	}
	lua_pop(L, 1);		/* the set */
	keys = lua_newuserdatauv(L, sizeof *keys * (n + 1), 0);
	for (i = 0; i < n; i++) {
		lua_rawgeti(L, ents, 2 * i + 1);
		keys[i].isstr = lua_type(L, -1) == LUA_TSTRING;
		keys[i].n = keys[i].isstr ? 0 : lua_tointeger(L, -1);
		keys[i].s = keys[i].isstr ? lua_tolstring(L, -1, &keys[i].len) :
		    NULL;
		keys[i].i = i + 1;
		lua_pop(L, 1);	/* still anchored in ents */
	}
	qsort(keys + nord, n - nord, sizeof *keys, aux_keycmp);
	*np = n;
	return keys;
}

static void enc_value(struct mpenc *, int, int);

/* Write a map; order is the stack index of __order (or a nil). */
static void
enc_map(struct mpenc *e, int t, int order, int depth)
{
	lua_State	*L = e->L;
	struct mpkey	*keys;
	lua_Integer	 i, n;
	int		 ents;

	lua_newtable(L);
	ents = lua_gettop(L);
	keys = enc_keys(e, t, order, ents, &n);
	if ((uint64_t)n > UINT32_MAX)
		luaL_error(L, "cannot encode: map too large");
	msgpack_pack_map(&e->pk, (size_t)n);
	for (i = 0; i < n; i++) {
		lua_rawgeti(L, ents, 2 * keys[i].i - 1);
		enc_value(e, lua_gettop(L), depth + 1);
		lua_rawgeti(L, ents, 2 * keys[i].i);
		enc_value(e, lua_gettop(L), depth + 1);
		lua_pop(L, 2);
	}
	lua_pop(L, 2);		/* keys, ents */
}

/* Write an array of t[1..#t]; holes are nil. */
static void
enc_array(struct mpenc *e, int t, int depth)
{
	lua_Integer	 i, n;

	n = (lua_Integer)lua_rawlen(e->L, t);
	if ((uint64_t)n > UINT32_MAX)
		luaL_error(e->L, "cannot encode: array too large");
	msgpack_pack_array(&e->pk, (size_t)n);
	for (i = 1; i <= n; i++) {
		lua_rawgeti(e->L, t, i);
		enc_value(e, lua_gettop(e->L), depth + 1);
		lua_pop(e->L, 1);
	}
}

/* Write a table, refusing cycles and deep nesting. */
static void
enc_table(struct mpenc *e, int t, int depth)
{
	lua_State	*L = e->L;

	if (depth >= MP_MAXDEPTH)
		luaL_error(L, "cannot encode: nested more than %d deep",
		    MP_MAXDEPTH);
	luaL_checkstack(L, 12, "msgpack.encode");
	lua_pushvalue(L, t);
	if (lua_rawget(L, e->seen) != LUA_TNIL)
		luaL_error(L, "cannot encode a table that contains itself");
	lua_pop(L, 1);
	lua_pushvalue(L, t);
	lua_pushboolean(L, 1);
	lua_rawset(L, e->seen);			/* seen[t] = true */
	if (enc_kind(e, t))
		enc_array(e, t, depth);
	else
		enc_map(e, t, lua_gettop(L), depth);
	lua_pop(L, 1);				/* __order */
	lua_pushvalue(L, t);
	lua_pushnil(L);
	lua_rawset(L, e->seen);			/* seen[t] = nil */
}

/* Write the value at absolute index idx. */
static void
enc_value(struct mpenc *e, int idx, int depth)
{
	lua_State	*L = e->L;
	const char	*s;
	size_t		 len;

	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		msgpack_pack_nil(&e->pk);
		break;
	case LUA_TBOOLEAN:
		if (lua_toboolean(L, idx))
			msgpack_pack_true(&e->pk);
		else
			msgpack_pack_false(&e->pk);
		break;
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			msgpack_pack_int64(&e->pk, lua_tointeger(L, idx));
		else
			msgpack_pack_double(&e->pk, lua_tonumber(L, idx));
		break;
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		if ((uint64_t)len > UINT32_MAX)
			luaL_error(L, "cannot encode: string too long");
		msgpack_pack_str(&e->pk, len);
		msgpack_pack_str_body(&e->pk, s, len);
		break;
	case LUA_TTABLE:
		enc_table(e, idx, depth);
		break;
	default:
		if (!vl_isnull(L, idx))
			luaL_error(L, "cannot encode %s", luaL_typename(L, idx));
		msgpack_pack_nil(&e->pk);
	}
}

/* msgpack.encode(v) -> bytes */
static int
lmp_encode(lua_State *L)
{
	struct mpenc	 e;
	struct mpbuf	*b;

	luaL_checkany(L, 1);
	lua_settop(L, 1);
	e.L = L;
	luaL_getmetatable(L, VL_JSON_ARRAY);
	e.amt = lua_gettop(L);
	luaL_getmetatable(L, VL_JSON_OBJECT);
	e.omt = lua_gettop(L);
	lua_newtable(L);
	e.seen = lua_gettop(L);
	b = lua_newuserdatauv(L, sizeof *b, 0);
	b->p = NULL;
	b->len = b->cap = 0;
	luaL_setmetatable(L, MP_BUF);
	msgpack_packer_init(&e.pk, b, buf_write);
	enc_value(&e, 1, 0);
	lua_pushlstring(L, b->p, b->len);
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	return 1;
}

static const char *dec_object(lua_State *, const msgpack_object *, int);

/* Push an array or a map with the shared json metatables. */
static const char *
dec_container(lua_State *L, const msgpack_object *o, int depth)
{
	const char	*err;
	uint32_t	 i, size;
	int		 isarray = o->type == MSGPACK_OBJECT_ARRAY;

	if (depth >= MP_MAXDEPTH)
		return "nested too deeply";
	if (!lua_checkstack(L, 4))
		return "out of stack space";
	size = isarray ? o->via.array.size : o->via.map.size;
	if (size > INT32_MAX)
		return "too many elements";
	lua_createtable(L, isarray ? (int)size : 0, isarray ? 0 : (int)size);
	for (i = 0; isarray && i < o->via.array.size; i++) {
		if ((err = dec_object(L, &o->via.array.ptr[i], depth + 1)))
			return err;
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	for (i = 0; !isarray && i < o->via.map.size; i++) {
		if ((err = dec_object(L, &o->via.map.ptr[i].key, depth + 1)))
			return err;
		if (lua_isnil(L, -1) || vl_isnull(L, -1) ||
		    (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) !=
		    lua_tonumber(L, -1)))
			return "map key is nil or NaN";
		if ((err = dec_object(L, &o->via.map.ptr[i].val, depth + 1)))
			return err;
		lua_rawset(L, -3);
	}
	luaL_getmetatable(L, isarray ? VL_JSON_ARRAY : VL_JSON_OBJECT);
	lua_setmetatable(L, -2);
	return NULL;
}

/* Push the Lua value of o; an error message on failure. */
static const char *
dec_object(lua_State *L, const msgpack_object *o, int depth)
{
	switch (o->type) {
	case MSGPACK_OBJECT_NIL:
		vl_pushnull(L);
		return NULL;
	case MSGPACK_OBJECT_BOOLEAN:
		lua_pushboolean(L, o->via.boolean);
		return NULL;
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		if (o->via.u64 > (uint64_t)LUA_MAXINTEGER)
			lua_pushnumber(L, (lua_Number)o->via.u64);
		else
			lua_pushinteger(L, (lua_Integer)o->via.u64);
		return NULL;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		lua_pushinteger(L, (lua_Integer)o->via.i64);
		return NULL;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		lua_pushnumber(L, (lua_Number)o->via.f64);
		return NULL;
	case MSGPACK_OBJECT_STR:
		lua_pushlstring(L, o->via.str.ptr, o->via.str.size);
		return NULL;
	case MSGPACK_OBJECT_BIN:
		lua_pushlstring(L, o->via.bin.ptr, o->via.bin.size);
		return NULL;
	case MSGPACK_OBJECT_ARRAY:
	case MSGPACK_OBJECT_MAP:
		return dec_container(L, o, depth);
	default:
		return "unsupported type (ext)";
	}
}

/* Read a k-byte big-endian length. */
static uint64_t
aux_be(const unsigned char *p, int k)
{
	uint64_t	 n = 0;

	while (k-- > 0)
		n = n << 8 | *p++;
	return n;
}

/*
 * Measure the value header at s: header and payload bytes, and the number
 * of elements that follow (2 per map entry). 0, or -1 if malformed, 1 if
 * truncated.
 */
static int
aux_head(const unsigned char *s, size_t len, size_t *hdr, uint64_t *body,
    uint64_t *elems)
{
	unsigned char	 b = s[0];
	int		 k, ext;

	*hdr = 1;
	*body = *elems = 0;
	if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
		return 0;
	if (b <= 0x9f) {
		*elems = b <= 0x8f ? 2 * (b & 15) : (b & 15);
		return 0;
	}
	if (b <= 0xbf || (b >= 0xca && b <= 0xd8)) {
		if (b <= 0xbf)
			*body = b & 31;
		else if (b >= 0xd4) {
			*hdr = 2;			/* fixext: the type */
			*body = 1u << (b - 0xd4);
		} else
			*body = b == 0xca ? 4 : b == 0xcb ? 8 :
			    1u << ((b - 0xcc) & 3);	/* ints */
		return 0;
	}
	if (b == 0xc1)
		return -1;
	k = (b == 0xdc || b == 0xde) ? 2 : (b == 0xdd || b == 0xdf) ? 4 :
	    1 << (b >= 0xd9 ? b - 0xd9 : b >= 0xc7 ? b - 0xc7 : b - 0xc4);
	ext = b >= 0xc7 && b <= 0xc9;
	*hdr = 1 + (size_t)k + (size_t)ext;
	if (len < *hdr)
		return 1;
	if (b >= 0xdc)
		*elems = aux_be(s + 1, k) * (b >= 0xde ? 2 : 1);
	else
		*body = aux_be(s + 1, k);
	return 0;
}

/*
 * Walk the value at s without building it: msgpack-c allocates what a
 * header claims before reading it, and stops at 32 levels of nesting.
 */
static const char *
aux_precheck(const unsigned char *s, size_t len)
{
	uint64_t	 left[MP_UNPACKDEPTH], body, elems, pending = 0;
	size_t		 i = 0, hdr;
	int		 top = 0, r;

	do {
		if (i >= len)
			return "truncated input";
		if ((r = aux_head(s + i, len - i, &hdr, &body, &elems)) != 0)
			return r < 0 ? "malformed input" : "truncated input";
		if (len - i - hdr < body)
			return "truncated input";
		i += hdr + (size_t)body;
		if (top > 0) {
			left[top - 1]--;
			pending--;
		}
		if (elems > 0) {
			if (pending + elems > len - i)
				return "truncated input";
			if (top == MP_UNPACKDEPTH)
				return "nested too deeply (more than 32)";
			left[top++] = elems;
			pending += elems;
		}
		while (top > 0 && left[top - 1] == 0)
			top--;
	} while (top > 0);
	return NULL;
}

/* The message for an unpack failure. */
static const char *
aux_unpackerr(msgpack_unpack_return r)
{
	switch (r) {
	case MSGPACK_UNPACK_CONTINUE:
		return "truncated input";
	case MSGPACK_UNPACK_NOMEM_ERROR:
		return "nested too deeply (more than 32) or out of memory";
	default:
		return "malformed input";
	}
}

/* msgpack.decode(s [, pos]) -> value, next_pos, or nil, message */
static int
lmp_decode(lua_State *L)
{
	struct mpbox		*box;
	const char		*s, *err = NULL;
	size_t			 len, off;
	lua_Integer		 pos;
	msgpack_unpack_return	 r;

	s = luaL_checklstring(L, 1, &len);
	pos = luaL_optinteger(L, 2, 1);
	luaL_argcheck(L, pos >= 1 && (lua_Unsigned)pos <= len + 1, 2,
	    "position out of range");
	lua_settop(L, 2);
	box = lua_newuserdatauv(L, sizeof *box, 0);
	box->live = 0;
	luaL_setmetatable(L, MP_UNPACKED);
	msgpack_unpacked_init(&box->u);
	box->live = 1;
	off = (size_t)pos - 1;
	if ((err = aux_precheck((const unsigned char *)s + off, len - off)) ==
	    NULL) {
		r = msgpack_unpack_next(&box->u, s, len, &off);
		if (r == MSGPACK_UNPACK_SUCCESS ||
		    r == MSGPACK_UNPACK_EXTRA_BYTES)
			err = dec_object(L, &box->u.data, 0);
		else
			err = aux_unpackerr(r);
	}
	msgpack_unpacked_destroy(&box->u);
	box->live = 0;
	if (err != NULL) {
		lua_settop(L, 3);
		lua_pushnil(L);
		lua_pushfstring(L, "value at byte %I: %s", (LUAI_UACINT)pos,
		    err);
		return 2;
	}
	lua_pushinteger(L, (lua_Integer)off + 1);
	return 2;
}

static const luaL_Reg lmp_funcs[] = {
	{ "encode", lmp_encode },
	{ "decode", lmp_decode },
	{ NULL, NULL }
};

/* Create a metatable whose __gc is fn, unless it exists. */
static void
aux_gcmeta(lua_State *L, const char *name, lua_CFunction fn)
{
	if (luaL_newmetatable(L, name)) {
		lua_pushcfunction(L, fn);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
}

int
luaopen_venueless_msgpack(lua_State *L)
{
	luaL_newmetatable(L, VL_JSON_ARRAY);	/* shared with json */
	luaL_newmetatable(L, VL_JSON_OBJECT);
	lua_pop(L, 2);
	aux_gcmeta(L, MP_BUF, buf_gc);
	aux_gcmeta(L, MP_UNPACKED, box_gc);
	luaL_newlib(L, lmp_funcs);
	vl_pushnull(L);
	lua_setfield(L, -2, "null");
	return 1;
}
