/* venueless.msgpack: MessagePack bytes to Lua values and back. */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <msgpack.h>

#include "venueless.h"

/*
 * The msgpack-c functions we use (the packer is inline in its headers),
 * resolved with dlsym when venueless.msgpack is first required, as
 * json.c does with cJSON (bench/startup).
 */
#define MSGPACK_FUNCS X(msgpack_unpack_next) X(msgpack_zone_free)

static struct {
#define X(f) __typeof__(f) *f;
	MSGPACK_FUNCS
#undef X
} mp;
static void	*mp_handle;

/* Load msgpack-c once; 0 or -1 with *cause (dlerror's text). */
static int
aux_load(const char **cause)
{
	static const char *const names[] = {
#define X(f) #f,
		MSGPACK_FUNCS
#undef X
	};
	static void *const slots[] = {
#define X(f) &mp.f,
		MSGPACK_FUNCS
#undef X
	};

	return vl_dlopen(VL_LIBMSGPACK_SONAME, names, slots,
	    sizeof names / sizeof names[0], &mp_handle, cause);
}

#define msgpack_unpack_next	mp.msgpack_unpack_next

#define MP_UNPACKED	"venueless.msgpack.unpacked"
#define MP_UNPACKDEPTH	32	/* msgpack-c's MSGPACK_EMBED_STACK_SIZE */

/* An unpacked object and its zone, boxed for the same reason. */
struct mpbox {
	msgpack_unpacked	 u;
	int			 live;
};

/* The packer's write callback: append n bytes. */
static int
aux_write(void *data, const char *p, size_t n)
{
	vl_buf_add(data, p, n);
	return 0;
}

/*
 * msgpack_unpacked_destroy, which the header inlines with a call of
 * msgpack_zone_free that would link the library.
 */
static void
aux_destroy(msgpack_unpacked *u)
{
	if (u->zone != NULL) {
		mp.msgpack_zone_free(u->zone);
		u->zone = NULL;
		memset(&u->data, 0, sizeof u->data);
	}
}

/* Destroy an unpacked object's zone (__gc). */
static int
box_gc(lua_State *L)
{
	struct mpbox	*box = luaL_checkudata(L, 1, MP_UNPACKED);

	if (box->live)
		aux_destroy(&box->u);
	box->live = 0;
	return 0;
}

/* Write nil. */
static void
enc_null(struct vl_walk *w)
{
	msgpack_pack_nil(w->ud);
}

/* Write true or false. */
static void
enc_boolean(struct vl_walk *w, int b)
{
	if (b)
		msgpack_pack_true(w->ud);
	else
		msgpack_pack_false(w->ud);
}

/* Write an integer in its smallest format. */
static void
enc_integer(struct vl_walk *w, lua_Integer i)
{
	msgpack_pack_int64(w->ud, i);
}

/* Write a float as float64. */
static void
enc_number(struct vl_walk *w, lua_Number d)
{
	msgpack_pack_double(w->ud, d);
}

/* Write a string as str, never bin. */
static void
enc_string(struct vl_walk *w, const char *s, size_t len)
{
	if ((uint64_t)len > UINT32_MAX)
		luaL_error(w->L, "cannot encode: string too long");
	msgpack_pack_str(w->ud, len);
	msgpack_pack_str_body(w->ud, s, len);
}

/* The packer's write callback for vl_msgpack_str: copy. */
static int
aux_put(void *data, const char *p, size_t n)
{
	char	**at = data;

	memcpy(*at, p, n);
	*at += n;
	return 0;
}

/* Its counting twin. */
static int
aux_count(void *data, const char *p, size_t n)
{
	(void)p;
	*(size_t *)data += n;
	return 0;
}

/*
 * The msgpack str of s (as msgpack.encode writes a string) at out, or
 * nowhere when out is NULL; returns its size. For redis.c, which groups
 * channel names into message bodies without making them Lua strings.
 */
size_t
vl_msgpack_str(char *out, const char *s, size_t len)
{
	msgpack_packer	 pk;
	size_t		 n = 0;
	char		*at = out;

	if (out == NULL) {
		msgpack_packer_init(&pk, &n, aux_count);
		msgpack_pack_str(&pk, len);
		return n + len;
	}
	msgpack_packer_init(&pk, &at, aux_put);
	msgpack_pack_str(&pk, len);
	msgpack_pack_str_body(&pk, s, len);
	return (size_t)(at - out);
}

/* Write an array or a map header for n elements. */
static void
enc_open(struct vl_walk *w, int isarray, lua_Integer n)
{
	if ((uint64_t)n > UINT32_MAX)
		luaL_error(w->L, "cannot encode: %s too large", isarray ?
		    "array" : "map");
	if (isarray)
		msgpack_pack_array(w->ud, (size_t)n);
	else
		msgpack_pack_map(w->ud, (size_t)n);
}

/* Nothing ends a msgpack container. */
static void
enc_close(struct vl_walk *w, int isarray, lua_Integer n)
{
	(void)w;
	(void)isarray;
	(void)n;
}

/* Point the packer at the walker's buffer. */
static void
enc_start(struct vl_walk *w)
{
	msgpack_packer_init(w->ud, w->out, aux_write);
}

/* msgpack for the walker: map keys are strings or integers, as they are. */
static const struct vl_walkfmt mp_fmt = {
	.name = "msgpack.encode", .objname = "a map", .strkeys = 0,
	.start = enc_start, .null = enc_null, .boolean = enc_boolean,
	.integer = enc_integer, .number = enc_number, .string = enc_string,
	.open = enc_open, .next = NULL, .colon = NULL, .close = enc_close,
};

/* msgpack.encode(v) -> bytes */
static int
lmp_encode(lua_State *L)
{
	msgpack_packer	 pk;

	luaL_checkany(L, 1);
	lua_settop(L, 1);
	vl_walk_encode(L, 1, &mp_fmt, &pk);
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

	if (depth >= VL_MAXDEPTH)
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
	aux_destroy(&box->u);
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

int
luaopen_venueless_msgpack(lua_State *L)
{
	const char	*cause;

	if (aux_load(&cause) == -1)
		return luaL_error(L, "cannot load %s: %s",
		    VL_LIBMSGPACK_SONAME, cause);
	return vl_walk_openlib(L, lmp_funcs, MP_UNPACKED, box_gc);
}
