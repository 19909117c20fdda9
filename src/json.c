/* venueless.json: JSON text to Lua values and back. */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cJSON.h>

#include "venueless.h"

#define JSON_TREE	"venueless.json.tree"

/* A parsed cJSON tree, boxed for the same reason. */
struct jtree {
	cJSON	*root;
};

/* Decoder state: the tree plus a cursor over the text in document order. */
struct jdec {
	lua_State	*L;
	const char	*s;
	size_t		 len;
	size_t		 pos;	/* next token */
	int		 amt;
	int		 omt;
	const char	*err;	/* static message, or NULL */
	size_t		 errpos;
};

/* Free a parsed tree (__gc). */
static int
tree_gc(lua_State *L)
{
	struct jtree	*t = luaL_checkudata(L, 1, JSON_TREE);

	cJSON_Delete(t->root);
	t->root = NULL;
	return 0;
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t
aux_utf8len(const unsigned char *s, size_t n)
{
	size_t		 need, i;
	unsigned char	 lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2 || s[0] > 0xf4)
		return 0;
	if (s[0] < 0xe0)
		need = 2;
	else if (s[0] < 0xf0) {
		need = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;	/* no surrogates */
	} else {
		need = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;	/* up to U+10FFFF */
	}
	if (n < need || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	}
	return need;
}

/* Shortest "%.*g" form of a finite double that reads back exactly. */
static void
aux_fmtdouble(char *out, size_t size, double d)
{
	size_t	 n;
	int	 prec;

	for (prec = 15; prec < 17; prec++) {
		snprintf(out, size, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(out, size, "%.17g", d);
	n = strlen(out);
	if (strpbrk(out, ".en") == NULL && n + 3 <= size)
		memcpy(out + n, ".0", 3);	/* stays a float */
}

/* Write a newline and indentation for depth when pretty-printing. */
static void
enc_newline(struct vl_walk *w, int depth)
{
	int	 i;

	if (!*(const int *)w->ud)
		return;
	vl_buf_add(w->out, "\n", 1);
	for (i = 0; i < depth; i++)
		vl_buf_add(w->out, "  ", 2);
}

/* Write a quoted string; raises on invalid UTF-8. */
static void
enc_string(struct vl_walk *w, const char *str, size_t len)
{
	const unsigned char	*s = (const unsigned char *)str;
	size_t			 i, start, n;
	char			 esc[8];

	vl_buf_add(w->out, "\"", 1);
	for (i = start = 0; i < len; i += n) {
		if ((n = aux_utf8len(s + i, len - i)) == 0)
			luaL_error(w->L, "cannot encode string: invalid UTF-8 "
			    "at byte %d", (int)(i + 1));
		if (n > 1 || (s[i] >= 0x20 && s[i] != '"' && s[i] != '\\'))
			continue;
		vl_buf_add(w->out, s + start, i - start);
		start = i + 1;
		switch (s[i]) {
		case '"': vl_buf_add(w->out, "\\\"", 2); break;
		case '\\': vl_buf_add(w->out, "\\\\", 2); break;
		case '\n': vl_buf_add(w->out, "\\n", 2); break;
		case '\r': vl_buf_add(w->out, "\\r", 2); break;
		case '\t': vl_buf_add(w->out, "\\t", 2); break;
		case '\b': vl_buf_add(w->out, "\\b", 2); break;
		case '\f': vl_buf_add(w->out, "\\f", 2); break;
		default:
			snprintf(esc, sizeof esc, "\\u%04x", s[i]);
			vl_buf_add(w->out, esc, 6);
		}
	}
	vl_buf_add(w->out, s + start, len - start);
	vl_buf_add(w->out, "\"", 1);
}

/* Write null. */
static void
enc_null(struct vl_walk *w)
{
	vl_buf_add(w->out, "null", 4);
}

/* Write true or false. */
static void
enc_boolean(struct vl_walk *w, int b)
{
	if (b)
		vl_buf_add(w->out, "true", 4);
	else
		vl_buf_add(w->out, "false", 5);
}

/* Write an integer exactly. */
static void
enc_integer(struct vl_walk *w, lua_Integer i)
{
	char	 num[32];
	int	 n;

	n = snprintf(num, sizeof num, LUA_INTEGER_FMT, (LUAI_UACINT)i);
	vl_buf_add(w->out, num, (size_t)n);
}

/* Write a float so that it reads back as the same float. */
static void
enc_number(struct vl_walk *w, lua_Number d)
{
	char	 num[64];

	if (isnan(d) || isinf(d))
		luaL_error(w->L, "cannot encode %s", isnan(d) ? "NaN" :
		    "infinity");
	aux_fmtdouble(num, sizeof num, d);
	vl_buf_add(w->out, num, strlen(num));
}

/* Open an array or an object. */
static void
enc_open(struct vl_walk *w, int isarray, lua_Integer n)
{
	(void)n;
	vl_buf_add(w->out, isarray ? "[" : "{", 1);
}

/* Before element or member i: the comma and the indentation. */
static void
enc_next(struct vl_walk *w, int isarray, lua_Integer i)
{
	(void)isarray;
	if (i > 0)
		vl_buf_add(w->out, ",", 1);
	enc_newline(w, w->depth + 1);
}

/* Between a member's name and its value. */
static void
enc_colon(struct vl_walk *w)
{
	if (*(const int *)w->ud)
		vl_buf_add(w->out, ": ", 2);
	else
		vl_buf_add(w->out, ":", 1);
}

/* Close an array or an object of n elements. */
static void
enc_close(struct vl_walk *w, int isarray, lua_Integer n)
{
	if (n > 0)
		enc_newline(w, w->depth);
	vl_buf_add(w->out, isarray ? "]" : "}", 1);
}

/* JSON for the walker: object keys are strings, integer keys their names. */
static const struct vl_walkfmt json_fmt = {
	.name = "json.encode", .objname = "an object", .strkeys = 1,
	.start = NULL,
	.null = enc_null, .boolean = enc_boolean, .integer = enc_integer,
	.number = enc_number, .string = enc_string, .open = enc_open,
	.next = enc_next, .colon = enc_colon, .close = enc_close,
};

/* json.encode(v [, {indent = true}]) -> string */
static int
ljson_encode(lua_State *L)
{
	int	 indent = 0;

	luaL_checkany(L, 1);
	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		lua_getfield(L, 2, "indent");
		indent = lua_toboolean(L, -1);
	}
	lua_settop(L, 2);
	vl_walk_encode(L, 1, &json_fmt, &indent);
	return 1;
}

/* Record a decode error at pos; returns -1. */
static int
dec_fail(struct jdec *d, size_t pos, const char *msg)
{
	d->err = msg;
	d->errpos = pos;
	return -1;
}

/* Skip what cJSON skips between tokens (it takes any byte <= 32 as space). */
static int
dec_skip(struct jdec *d, const char *also)
{
	unsigned char	 c;

	for (; d->pos < d->len; d->pos++) {
		c = (unsigned char)d->s[d->pos];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r')
			continue;
		if (c < 0x20)
			return dec_fail(d, d->pos, "control character in input");
		if (strchr(also, c) == NULL)
			break;
	}
	return 0;
}

/* Check the string token at the cursor and move past it. */
static int
dec_string(struct jdec *d)
{
	const unsigned char	*s = (const unsigned char *)d->s;
	size_t			 n;

	if (dec_skip(d, ",:") != 0)
		return -1;
	for (d->pos++; d->pos < d->len && s[d->pos] != '"'; d->pos += n) {
		n = 1;
		if (s[d->pos] == '\\') {
			if (d->pos + 5 < d->len &&
			    memcmp(s + d->pos + 1, "u0000", 5) == 0)
				return dec_fail(d, d->pos,
				    "\\u0000 in a string is not supported");
			n = 2;
		} else if (s[d->pos] < 0x20)
			return dec_fail(d, d->pos, "control character in string");
		else if ((n = aux_utf8len(s + d->pos, d->len - d->pos)) == 0)
			return dec_fail(d, d->pos, "invalid UTF-8 in string");
	}
	d->pos++;
	return 0;
}

/* Push the number at the cursor: integer literals that fit stay exact. */
static int
dec_number(struct jdec *d)
{
	char		 num[64], *end;
	size_t		 n;
	double		 v;
	lua_Integer	 i;

	n = strspn(d->s + d->pos, "0123456789+-eE.");
	if (n >= sizeof num)
		n = sizeof num - 1;	/* as cJSON does */
	memcpy(num, d->s + d->pos, n);
	num[n] = '\0';
	v = strtod(num, &end);
	*end = '\0';
	if (strpbrk(num, ".eE") == NULL) {
		errno = 0;
		i = strtoll(num, NULL, 10);
		if (errno == 0) {
			lua_pushinteger(d->L, i);
			d->pos += (size_t)(end - num);
			return 0;
		}
	}
	if (isinf(v))
		return dec_fail(d, d->pos, "number out of range");
	lua_pushnumber(d->L, v);
	d->pos += (size_t)(end - num);
	return 0;
}

static int dec_value(struct jdec *, const cJSON *, int);

/* Push a container: the items of an array or the members of an object. */
static int
dec_container(struct jdec *d, const cJSON *item, int depth)
{
	lua_State	*L = d->L;
	const cJSON	*c;
	lua_Integer	 i = 1;
	int		 isarray = cJSON_IsArray(item);

	if (depth >= VL_MAXDEPTH)
		return dec_fail(d, d->pos, "nested too deeply");
	d->pos++;		/* [ or { */
	lua_newtable(L);
	for (c = item->child; c != NULL; c = c->next) {
		if (isarray) {
			if (dec_value(d, c, depth + 1) != 0)
				return -1;
			lua_rawseti(L, -2, i++);
			continue;
		}
		if (dec_string(d) != 0)
			return -1;
		lua_pushstring(L, c->string);
		if (dec_value(d, c, depth + 1) != 0)
			return -1;
		lua_rawset(L, -3);
	}
	if (dec_skip(d, ",:") != 0)
		return -1;
	d->pos++;		/* ] or } */
	lua_pushvalue(L, isarray ? d->amt : d->omt);
	lua_setmetatable(L, -2);
	return 0;
}

/* Push the Lua value for item, moving the cursor past its text. */
static int
dec_value(struct jdec *d, const cJSON *item, int depth)
{
	lua_State	*L = d->L;
	size_t		 start;

	if (!lua_checkstack(L, 4))
		return dec_fail(d, d->pos, "out of stack space");
	if (dec_skip(d, ",:") != 0)
		return -1;
	start = d->pos;
	switch (item->type & 0xff) {
	case cJSON_NULL:
		vl_pushnull(L);
		d->pos += 4;
		return 0;
	case cJSON_False:
	case cJSON_True:
		lua_pushboolean(L, cJSON_IsTrue(item));
		d->pos += cJSON_IsTrue(item) ? 4 : 5;
		return 0;
	case cJSON_Number:
		return dec_number(d);
	case cJSON_String:
		if (dec_string(d) != 0)
			return -1;
		lua_pushstring(L, item->valuestring);
		return 0;
	case cJSON_Array:
	case cJSON_Object:
		return dec_container(d, item, depth);
	}
	return dec_fail(d, start, "unexpected value");
}

/* Refuse nesting beyond the limit before cJSON recurses into it. */
static int
dec_depth(struct jdec *d)
{
	size_t	 i;
	int	 depth = 0, instr = 0;

	for (i = d->pos; i < d->len; i++) {
		if (instr) {
			if (d->s[i] == '\\')
				i++;
			else if (d->s[i] == '"')
				instr = 0;
		} else if (d->s[i] == '"')
			instr = 1;
		else if (d->s[i] == '[' || d->s[i] == '{') {
			if (++depth > VL_MAXDEPTH)
				return dec_fail(d, i, "nested too deeply");
		} else if (d->s[i] == ']' || d->s[i] == '}')
			depth--;
	}
	return 0;
}

/* Parse the whole text with cJSON; -1 and a positioned error on failure. */
static int
dec_parse(struct jdec *d, struct jtree *t)
{
	const char	*end = NULL, *ep;
	size_t		 start;

	if (d->len >= 3 && memcmp(d->s, "\xef\xbb\xbf", 3) == 0)
		d->pos = 3;	/* cJSON skips a byte order mark */
	if (dec_skip(d, "") != 0)
		return -1;
	start = d->pos;
	if (d->pos == d->len)
		return dec_fail(d, d->pos, "unexpected end of input");
	if (dec_depth(d) != 0)
		return -1;
	t->root = cJSON_ParseWithLengthOpts(d->s, d->len, &end, 0);
	if (t->root == NULL) {
		ep = cJSON_GetErrorPtr();
		if (ep == NULL || ep < d->s || ep > d->s + d->len)
			ep = end != NULL ? end : d->s + d->len;
		return dec_fail(d, (size_t)(ep - d->s), NULL);
	}
	d->pos = (size_t)(end - d->s);
	if (dec_skip(d, "") != 0)
		return -1;
	if (d->pos != d->len)
		return dec_fail(d, d->pos, "unexpected text after the value");
	d->pos = start;
	return 0;
}

/* Push nil and "line L column C: message" for the recorded error. */
static int
dec_error(struct jdec *d)
{
	size_t		 i, line = 1, col = 1;
	unsigned char	 c;
	char		 hex[8];

	for (i = 0; i < d->errpos && i < d->len; i++) {
		col++;
		if (d->s[i] == '\n') {
			line++;
			col = 1;
		}
	}
	lua_pushnil(d->L);
	lua_pushfstring(d->L, "line %d column %d: ", (int)line, (int)col);
	c = d->errpos < d->len ? (unsigned char)d->s[d->errpos] : 0;
	if (d->err != NULL)
		lua_pushstring(d->L, d->err);
	else if (c > 0x20 && c < 0x7f)
		lua_pushfstring(d->L, "syntax error near '%c'", c);
	else if (d->errpos < d->len) {
		snprintf(hex, sizeof hex, "0x%02x", c);
		lua_pushfstring(d->L, "syntax error near byte %s", hex);
	}
	else
		lua_pushliteral(d->L, "unexpected end of input");
	lua_concat(d->L, 2);
	return 2;
}

/* json.decode(s) -> value, or nil, "line L column C: message" */
static int
ljson_decode(lua_State *L)
{
	struct jdec	 d;
	struct jtree	*t;
	int		 r;

	memset(&d, 0, sizeof d);
	d.L = L;
	d.s = luaL_checklstring(L, 1, &d.len);
	lua_settop(L, 1);
	luaL_getmetatable(L, VL_JSON_ARRAY);
	d.amt = lua_gettop(L);
	luaL_getmetatable(L, VL_JSON_OBJECT);
	d.omt = lua_gettop(L);
	t = lua_newuserdatauv(L, sizeof *t, 0);
	t->root = NULL;
	luaL_setmetatable(L, JSON_TREE);
	r = dec_parse(&d, t);
	if (r == 0)
		r = dec_value(&d, t->root, 0);
	cJSON_Delete(t->root);
	t->root = NULL;
	if (r != 0) {
		lua_settop(L, 4);
		return dec_error(&d);
	}
	return 1;
}

/* Set metatable `name` on the table argument (or a new table); return it. */
static int
aux_mark(lua_State *L, const char *name)
{
	if (lua_isnoneornil(L, 1)) {
		lua_settop(L, 0);
		lua_newtable(L);
	} else
		luaL_checktype(L, 1, LUA_TTABLE);
	lua_settop(L, 1);
	luaL_setmetatable(L, name);
	return 1;
}

/* json.array(t) -> t, encoded as an array */
static int
ljson_array(lua_State *L)
{
	return aux_mark(L, VL_JSON_ARRAY);
}

/* json.object(t) -> t, encoded as an object */
static int
ljson_object(lua_State *L)
{
	return aux_mark(L, VL_JSON_OBJECT);
}

/* json.ordered(t, keys) -> t, an object written in the order of keys */
static int
ljson_ordered(lua_State *L)
{
	luaL_checktype(L, 1, LUA_TTABLE);
	luaL_checktype(L, 2, LUA_TTABLE);
	lua_settop(L, 2);
	lua_createtable(L, 0, 2);
	lua_pushvalue(L, 2);
	lua_setfield(L, -2, "__order");		/* mt.__order = keys */
	lua_pushliteral(L, VL_JSON_OBJECT);
	lua_setfield(L, -2, "__name");
	lua_setmetatable(L, 1);
	lua_settop(L, 1);
	return 1;
}

static const luaL_Reg ljson_funcs[] = {
	{ "encode", ljson_encode },
	{ "decode", ljson_decode },
	{ "array", ljson_array },
	{ "object", ljson_object },
	{ "ordered", ljson_ordered },
	{ NULL, NULL }
};

int
luaopen_venueless_json(lua_State *L)
{
	return vl_walk_openlib(L, ljson_funcs, JSON_TREE, tree_gc);
}
