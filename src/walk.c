/*
 * The table walker json.encode and msgpack.encode share: it classifies
 * each Lua value, decides array or object, orders object keys, refuses
 * cycles and deep nesting, and hands every piece to a format's emitters.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "venueless.h"

#define WALK_BUF	"venueless.walk.buffer"

/* One key of an object being written. */
struct wkey {
	const char	*s;	/* a string key, anchored in its table, or NULL */
	size_t		 len;	/* of the name */
	lua_Integer	 n;	/* an integer key */
	size_t		 seq;	/* found seq-th: ties keep the first one found */
	int		 isname;	/* emitted as a string */
	char		 num[24];	/* strkeys: an integer key's decimal name */
};

/* Free a buffer's memory (__gc). */
static int
buf_gc(lua_State *L)
{
	struct vl_buf	*b = luaL_checkudata(L, 1, WALK_BUF);

	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
	return 0;
}

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

/* Push a new empty buffer, a userdata so that raising frees it (__gc). */
struct vl_buf *
vl_buf_new(lua_State *L)
{
	struct vl_buf	*b;

	b = lua_newuserdatauv(L, sizeof *b, 0);
	b->p = NULL;
	b->len = b->cap = 0;
	aux_gcmeta(L, WALK_BUF, buf_gc);
	luaL_setmetatable(L, WALK_BUF);
	return b;
}

/* Make room for n more bytes; returns where they go. */
char *
vl_buf_reserve(struct vl_buf *b, size_t n)
{
	size_t	 cap;

	if (b->cap - b->len < n) {
		cap = b->cap != 0 ? b->cap : 256;
		while (cap - b->len < n)
			cap *= 2;
		b->p = xrealloc(b->p, cap);
		b->cap = cap;
	}
	return b->p + b->len;
}

/* Append n bytes. */
void
vl_buf_add(struct vl_buf *b, const void *p, size_t n)
{
	memcpy(vl_buf_reserve(b, n), p, n);
	b->len += n;
}

/* The name a key is emitted and sorted by. */
static const char *
aux_name(const struct wkey *k)
{
	return k->s != NULL ? k->s : k->num;
}

/* Integer keys (msgpack) by value first, then names bytewise, then seq. */
static int
aux_keycmp(const void *a, const void *b)
{
	const struct wkey	*x = a, *y = b;
	int			 c;

	if (x->isname != y->isname)
		return x->isname - y->isname;
	if (!x->isname)
		return x->n < y->n ? -1 : x->n > y->n;
	c = memcmp(aux_name(x), aux_name(y), x->len < y->len ? x->len : y->len);
	if (c == 0)
		c = x->len < y->len ? -1 : x->len > y->len;
	if (c == 0)
		c = x->seq < y->seq ? -1 : x->seq > y->seq;
	return c;
}

/* Is the plain table at t an array (keys exactly 1..n, n >= 1)? */
static int
aux_isarray(lua_State *L, int t)
{
	lua_Integer	 n = 0, max = 0, k;

	lua_pushnil(L);
	while (lua_next(L, t) != 0) {
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

/* Array (1) or object (0)? Pushes the metatable's __order, or nil. */
static int
walk_kind(struct vl_walk *w, int t)
{
	lua_State	*L = w->L;
	int		 isarray;

	if (lua_getmetatable(L, t)) {
		isarray = lua_rawequal(L, -1, w->amt);
		if (isarray || lua_rawequal(L, -1, w->omt)) {
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
	return aux_isarray(L, t);
}

/* Append the key at the top of the stack (not popped) to the key stack. */
static void
walk_addkey(struct vl_walk *w, int k)
{
	lua_State	*L = w->L;
	struct wkey	*key;

	key = (struct wkey *)vl_buf_reserve(w->keys, sizeof *key);
	key->seq = w->keys->len / sizeof *key;
	key->s = NULL;
	key->isname = 1;
	if (lua_type(L, k) == LUA_TSTRING)
		key->s = lua_tolstring(L, k, &key->len);
	else if (lua_isinteger(L, k)) {
		key->n = lua_tointeger(L, k);
		key->isname = w->fmt->strkeys;
		key->len = (size_t)snprintf(key->num, sizeof key->num,
		    LUA_INTEGER_FMT, (LUAI_UACINT)key->n);
	} else
		luaL_error(L, "cannot encode %s key in %s", luaL_typename(L, k),
		    w->fmt->objname);
	w->keys->len += sizeof *key;
}

/* Was the key at k written already through __order (set at index set)? */
static int
walk_inorder(struct vl_walk *w, int set, int k)
{
	lua_State	*L = w->L;
	int		 found;

	if (set == 0)
		return 0;
	if (w->fmt->strkeys && lua_isinteger(L, k))	/* by its name */
		lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, k));
	else
		lua_pushvalue(L, k);
	found = lua_rawget(L, set) != LUA_TNIL;
	lua_pop(L, 1);
	return found;
}

/* Is t[key], key at the top of the stack, nil? */
static int
aux_absent(lua_State *L, int t)
{
	lua_pushvalue(L, -1);
	if (lua_rawget(L, t) == LUA_TNIL) {
		lua_pop(L, 1);
		return 1;
	}
	lua_pop(L, 1);
	return 0;
}

/*
 * Push the keys __order names, in that order: each must be a string; keys
 * absent from t and repeats are skipped. Leaves the set of them on the stack
 * (or a nil without __order) and returns how many there are.
 */
static size_t
walk_order(struct vl_walk *w, int t, int order)
{
	lua_State	*L = w->L;
	lua_Integer	 i, len;
	size_t		 n = 0;

	if (!lua_istable(L, order)) {
		lua_pushnil(L);
		return 0;
	}
	lua_newtable(L);				/* the set */
	len = (lua_Integer)lua_rawlen(L, order);
	for (i = 1; i <= len; i++) {
		if (lua_rawgeti(L, order, i) != LUA_TSTRING)
			luaL_error(L, "cannot encode: __order[%d] is not a string",
			    (int)i);
		if (walk_inorder(w, lua_gettop(L) - 1, lua_gettop(L)) ||
		    aux_absent(L, t)) {
			lua_pop(L, 1);
			continue;
		}
		walk_addkey(w, lua_gettop(L));
		lua_pushboolean(L, 1);
		lua_rawset(L, -3);			/* set[key] = true */
		n++;
	}
	return n;
}

/* Drop names that repeat after sorting (strkeys: 1 and "1"); new count. */
static size_t
walk_dedup(struct wkey *keys, size_t n)
{
	size_t	 i, m = 0;

	for (i = 0; i < n; i++) {
		if (m > 0 && keys[m - 1].isname && keys[i].isname &&
		    keys[m - 1].len == keys[i].len &&
		    memcmp(aux_name(&keys[m - 1]), aux_name(&keys[i]),
		    keys[i].len) == 0)
			continue;
		keys[m++] = keys[i];
	}
	return m;
}

/* Collect t's keys at the top of the key stack: __order's, then sorted. */
static size_t
walk_keys(struct vl_walk *w, int t, int order, size_t base)
{
	lua_State	*L = w->L;
	struct wkey	*keys;
	size_t		 nord, n;
	int		 set;

	nord = walk_order(w, t, order);
	set = lua_isnil(L, -1) ? 0 : lua_gettop(L);
	lua_pushnil(L);
	while (lua_next(L, t) != 0) {
		lua_pop(L, 1);				/* the value */
		if (!walk_inorder(w, set, lua_gettop(L)))
			walk_addkey(w, lua_gettop(L));
	}
	lua_pop(L, 1);					/* the set */
	n = (w->keys->len - base) / sizeof *keys;
	if (n - nord < 2)		/* nothing to sort (keys->p may be NULL) */
		return n;
	keys = (struct wkey *)(w->keys->p + base);
	qsort(keys + nord, n - nord, sizeof *keys, aux_keycmp);
	if (w->fmt->strkeys)
		n = nord + walk_dedup(keys + nord, n - nord);
	w->keys->len = base + n * sizeof *keys;
	return n;
}

static void walk_value(struct vl_walk *, int);

/* Write an object; order is the stack index of __order (or a nil). */
static void
walk_object(struct vl_walk *w, int t, int order)
{
	lua_State		*L = w->L;
	const struct vl_walkfmt	*fmt = w->fmt;
	const struct wkey	*k;
	size_t			 i, n, base = w->keys->len;

	n = walk_keys(w, t, order, base);
	fmt->open(w, 0, (lua_Integer)n);
	for (i = 0; i < n; i++) {
		k = (const struct wkey *)(w->keys->p + base) + i;
		if (fmt->next != NULL)
			fmt->next(w, 0, (lua_Integer)i);
		if (k->isname)
			fmt->string(w, aux_name(k), k->len);
		else
			fmt->integer(w, k->n);
		if (fmt->colon != NULL)
			fmt->colon(w);
		if (k->s != NULL) {
			lua_pushlstring(L, k->s, k->len);
			lua_rawget(L, t);
		} else
			lua_rawgeti(L, t, k->n);
		w->depth++;
		walk_value(w, lua_gettop(L));	/* may move keys->p */
		w->depth--;
		lua_pop(L, 1);
	}
	w->keys->len = base;
	fmt->close(w, 0, (lua_Integer)n);
}

/* Write an array of t[1..#t]; holes are null. */
static void
walk_array(struct vl_walk *w, int t)
{
	lua_Integer	 i, n;

	n = (lua_Integer)lua_rawlen(w->L, t);
	w->fmt->open(w, 1, n);
	for (i = 1; i <= n; i++) {
		if (w->fmt->next != NULL)
			w->fmt->next(w, 1, i - 1);
		lua_rawgeti(w->L, t, i);
		w->depth++;
		walk_value(w, lua_gettop(w->L));
		w->depth--;
		lua_pop(w->L, 1);
	}
	w->fmt->close(w, 1, n);
}

/* Enter the table at t: refuse cycles and deep nesting. */
static void
walk_enter(struct vl_walk *w, int t)
{
	lua_State	*L = w->L;
	const void	*p = lua_topointer(L, t);
	int		 i;

	if (w->depth >= VL_MAXDEPTH)
		luaL_error(L, "cannot encode: nested more than %d deep",
		    VL_MAXDEPTH);
	for (i = 0; i < w->depth; i++) {
		if (w->path[i] == p)
			luaL_error(L, "cannot encode a table that contains "
			    "itself");
	}
	luaL_checkstack(L, 12, w->fmt->name);
	w->path[w->depth] = p;
}

/* Is the table at t a db.query result (metatable VL_DBRESULT)? */
static int
aux_isresult(lua_State *L, int t)
{
	int	 r;

	if (!lua_getmetatable(L, t))
		return 0;
	luaL_getmetatable(L, VL_DBRESULT);
	r = lua_rawequal(L, -1, -2);
	lua_pop(L, 2);
	return r;
}

/*
 * Write a db.query result as an array of its rows, each a plain table
 * written as an object with its keys in the order of t.columns.
 */
static void
walk_rows(struct vl_walk *w, int t)
{
	lua_State	*L = w->L;
	lua_Integer	 i, n = (lua_Integer)lua_rawlen(L, t);
	int		 cols, row;

	lua_pushliteral(L, "columns");
	lua_rawget(L, t);
	cols = lua_gettop(L);
	w->fmt->open(w, 1, n);
	for (i = 1; i <= n; i++) {
		if (w->fmt->next != NULL)
			w->fmt->next(w, 1, i - 1);
		row = lua_rawgeti(L, t, i) == LUA_TTABLE ? lua_gettop(L) : 0;
		w->depth++;
		if (row != 0 && lua_getmetatable(L, row) == 0) {
			walk_enter(w, row);
			walk_object(w, row, cols);
		} else {
			lua_settop(L, cols + 1);	/* a metatable, if pushed */
			walk_value(w, cols + 1);
		}
		w->depth--;
		lua_settop(L, cols);
	}
	w->fmt->close(w, 1, n);
	lua_pop(L, 1);					/* columns */
}

/* Write a table, refusing cycles and deep nesting. */
static void
walk_table(struct vl_walk *w, int t)
{
	lua_State	*L = w->L;

	walk_enter(w, t);
	if (aux_isresult(L, t)) {
		walk_rows(w, t);
		return;
	}
	if (walk_kind(w, t))
		walk_array(w, t);
	else
		walk_object(w, t, lua_gettop(L));
	lua_pop(L, 1);				/* __order */
}

/* Write the value at absolute index idx through the format's emitters. */
static void
walk_value(struct vl_walk *w, int idx)
{
	lua_State	*L = w->L;
	size_t		 len;
	const char	*s;

	switch (lua_type(L, idx)) {
	case LUA_TNIL:
		w->fmt->null(w);
		break;
	case LUA_TBOOLEAN:
		w->fmt->boolean(w, lua_toboolean(L, idx));
		break;
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx))
			w->fmt->integer(w, lua_tointeger(L, idx));
		else
			w->fmt->number(w, lua_tonumber(L, idx));
		break;
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		w->fmt->string(w, s, len);
		break;
	case LUA_TTABLE:
		walk_table(w, idx);
		break;
	default:
		if (!vl_isnull(L, idx))
			luaL_error(L, "cannot encode %s", luaL_typename(L, idx));
		w->fmt->null(w);
	}
}

/*
 * Encode the value at idx with fmt, ud being the format's own state; push
 * the result. Four stack slots (metatables, buffers) stay put meanwhile.
 */
void
vl_walk_encode(lua_State *L, int idx, const struct vl_walkfmt *fmt, void *ud)
{
	struct vl_walk	 w;

	idx = lua_absindex(L, idx);
	w.L = L;
	w.fmt = fmt;
	w.ud = ud;
	w.depth = 0;
	luaL_getmetatable(L, VL_JSON_ARRAY);
	w.amt = lua_gettop(L);
	luaL_getmetatable(L, VL_JSON_OBJECT);
	w.omt = lua_gettop(L);
	w.out = vl_buf_new(L);
	w.keys = vl_buf_new(L);
	if (fmt->start != NULL)
		fmt->start(&w);
	walk_value(&w, idx);
	lua_pushlstring(L, w.out->p, w.out->len);
	free(w.out->p);
	w.out->p = NULL;
	w.out->len = w.out->cap = 0;
	free(w.keys->p);
	w.keys->p = NULL;
	w.keys->len = w.keys->cap = 0;
}

/*
 * Open a codec library (json, msgpack): the shared array and object
 * metatables, the walker's buffer, the codec's own boxed type boxname with
 * __gc gc (none when NULL), and the table of funcs with null. Pushes the
 * table; returns 1.
 */
int
vl_walk_openlib(lua_State *L, const luaL_Reg *funcs, const char *boxname,
    lua_CFunction gc)
{
	luaL_newmetatable(L, VL_JSON_ARRAY);
	luaL_newmetatable(L, VL_JSON_OBJECT);
	lua_pop(L, 2);
	aux_gcmeta(L, WALK_BUF, buf_gc);
	if (boxname != NULL)
		aux_gcmeta(L, boxname, gc);
	lua_newtable(L);
	luaL_setfuncs(L, funcs, 0);
	vl_pushnull(L);
	lua_setfield(L, -2, "null");
	return 1;
}
