/* venueless.json: JSON text to Lua values and back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "venueless.h"

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

/* {====== decode: RFC 8259 text straight to Lua values } */

/*
 * One strict pass over the text (RFC 8259: no byte order mark, no leading
 * zeros, no "1." or ".5", only space, tab, newline and carriage return
 * between tokens), so that a document that decodes here is one that
 * PostgreSQL's jsonb accepts too: import_config hands the server the text
 * it read. An error keeps the offset of the offending character; its line
 * and column are counted only then. The text is a Lua string, so
 * s[len] is a NUL: peeking one byte past the end is safe and matches no
 * token.
 */
struct jdec {
	lua_State		*L;
	const unsigned char	*s;
	size_t			 len;
	size_t			 pos;	/* next byte */
	int			 amt;	/* stack slots of the metatables */
	int			 omt;
	const char		*err;	/* the whole message, or NULL for */
	const char		*after;	/* "unexpected <char>" and this */
	size_t			 errpos;
};

/* Record an error at pos with its whole message; returns -1. */
static int
dec_fail(struct jdec *d, size_t pos, const char *msg)
{
	d->err = msg;
	d->errpos = pos;
	return -1;
}

/* Record "unexpected <the character at pos>" + after; returns -1. */
static int
dec_unexpected(struct jdec *d, size_t pos, const char *after)
{
	d->err = NULL;
	d->after = after;
	d->errpos = pos;
	return -1;
}

/* Skip the four whitespace characters JSON has. */
static void
dec_ws(struct jdec *d)
{
	for (;; d->pos++) {
		switch (d->s[d->pos]) {
		case ' ': case '\t': case '\n': case '\r':
			continue;
		}
		return;
	}
}

/* Value of the hex digit c, or -1. */
static int
aux_hexval(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;		/* lowercase */
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The code unit of the four hex digits at p (checked already). */
static unsigned long
aux_hex4(const unsigned char *p)
{
	unsigned long	 u = 0;
	int		 k;

	for (k = 0; k < 4; k++)
		u = u << 4 | (unsigned long)aux_hexval(p[k]);
	return u;
}

/* Check the \uXXXX escape at i (its backslash); its code unit or -1. */
static long
dec_u4(struct jdec *d, size_t i)
{
	size_t	 k;

	for (k = i + 2; k < i + 6; k++) {
		if (k >= d->len || aux_hexval(d->s[k]) < 0)
			return dec_unexpected(d, k, " in a \\u escape, expected "
			    "a hex digit");
	}
	return (long)aux_hex4(d->s + i + 2);
}

/*
 * Check the escape at i (its backslash) and set *n to its length. NUL
 * cannot be in a decoded string (nor in jsonb), nor can half of a
 * surrogate pair (it is not UTF-8).
 */
static int
dec_escape(struct jdec *d, size_t i, size_t *n)
{
	const unsigned char	*s = d->s;
	long			 u, lo;

	*n = 2;
	if (s[i + 1] != 'u') {
		if (s[i + 1] == '\0' || strchr("\"\\/bfnrt", s[i + 1]) == NULL)
			return dec_unexpected(d, i + 1, " after a backslash");
		return 0;
	}
	if ((u = dec_u4(d, i)) < 0)
		return -1;
	*n = 6;
	if (u == 0)
		return dec_fail(d, i, "\\u0000 in a string is not supported");
	if (u < 0xd800 || u > 0xdfff)
		return 0;
	if (u <= 0xdbff && s[i + 6] == '\\' && s[i + 7] == 'u') {
		if ((lo = dec_u4(d, i + 6)) < 0)
			return -1;
		*n = 12;
		if (lo >= 0xdc00 && lo <= 0xdfff)
			return 0;
	}
	return dec_fail(d, i, "unpaired surrogate escape in a string");
}

/* Check the string at the cursor: where it ends, whether it has escapes. */
static int
dec_scanstr(struct jdec *d, size_t *end, int *esc)
{
	const unsigned char	*s = d->s;
	size_t			 i, n;

	*esc = 0;
	for (i = d->pos + 1; i < d->len; i += n) {
		n = 1;
		if (s[i] == '"') {
			*end = i;
			return 0;
		}
		if (s[i] == '\\') {
			*esc = 1;
			if (dec_escape(d, i, &n) != 0)
				return -1;
		} else if (s[i] < 0x20)
			return dec_unexpected(d, i, " in a string");
		else if (s[i] >= 0x80 &&
		    (n = aux_utf8len(s + i, d->len - i)) == 0)
			return dec_fail(d, i, "invalid UTF-8 in a string");
	}
	return dec_unexpected(d, d->len, NULL);
}

/* Add code point u as UTF-8. */
static void
aux_addutf8(luaL_Buffer *b, unsigned long u)
{
	char	 out[4];
	size_t	 n;

	if (u < 0x80) {
		out[0] = (char)u;
		n = 1;
	} else if (u < 0x800) {
		out[0] = (char)(0xc0 | u >> 6);
		n = 2;
	} else if (u < 0x10000) {
		out[0] = (char)(0xe0 | u >> 12);
		out[1] = (char)(0x80 | (u >> 6 & 0x3f));
		n = 3;
	} else {
		out[0] = (char)(0xf0 | u >> 18);
		out[1] = (char)(0x80 | (u >> 12 & 0x3f));
		out[2] = (char)(0x80 | (u >> 6 & 0x3f));
		n = 4;
	}
	if (n > 1)
		out[n - 1] = (char)(0x80 | (u & 0x3f));
	luaL_addlstring(b, out, n);
}

/* Add what the (checked) escape at p stands for; returns its length. */
static size_t
dec_addescape(luaL_Buffer *b, const unsigned char *p)
{
	static const char	 from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	unsigned long		 u;

	if (p[1] != 'u') {
		luaL_addchar(b, to[strchr(from, p[1]) - from]);
		return 2;
	}
	u = aux_hex4(p + 2);
	if (u < 0xd800 || u > 0xdbff) {
		aux_addutf8(b, u);
		return 6;
	}
	aux_addutf8(b, 0x10000 + ((u - 0xd800) << 10) + (aux_hex4(p + 8) - 0xdc00));
	return 12;
}

/* Push the string from the cursor's quote to end, escapes resolved. */
static void
dec_pushesc(struct jdec *d, size_t end)
{
	const unsigned char	*s = d->s;
	luaL_Buffer		 b;
	size_t			 i, run;

	luaL_buffinit(d->L, &b);
	for (i = run = d->pos + 1; i < end; ) {
		if (s[i] != '\\') {
			i++;
			continue;
		}
		luaL_addlstring(&b, (const char *)s + run, i - run);
		i += dec_addescape(&b, s + i);
		run = i;
	}
	luaL_addlstring(&b, (const char *)s + run, end - run);
	luaL_pushresult(&b);
}

/* Push the string at the cursor. */
static int
dec_string(struct jdec *d)
{
	size_t	 end;
	int	 esc;

	if (dec_scanstr(d, &end, &esc) != 0)
		return -1;
	if (esc)
		dec_pushesc(d, end);
	else
		lua_pushlstring(d->L, (const char *)d->s + d->pos + 1,
		    end - d->pos - 1);
	d->pos = end + 1;
	return 0;
}

/* Move past a run of digits; returns its length. */
static size_t
dec_digits(struct jdec *d)
{
	size_t	 start = d->pos;

	while (d->s[d->pos] >= '0' && d->s[d->pos] <= '9')
		d->pos++;
	return d->pos - start;
}

/* Push the number text from start to the cursor as Lua reads it. */
static int
dec_pushnum(struct jdec *d, size_t start)
{
	char		 buf[64];
	const char	*num = buf;
	size_t		 n = d->pos - start, ok;

	if (n < sizeof buf) {
		memcpy(buf, d->s + start, n);
		buf[n] = '\0';
	} else
		num = lua_pushlstring(d->L, (const char *)d->s + start, n);
	ok = lua_stringtonumber(d->L, num);
	if (n >= sizeof buf && ok)
		lua_remove(d->L, -2);
	if (ok && (lua_isinteger(d->L, -1) || !isinf(lua_tonumber(d->L, -1))))
		return 0;
	return dec_fail(d, start, "number out of range");
}

/*
 * Push the number at the cursor: an integer when it has no fraction nor
 * exponent and fits in 64 bits (exact beyond 2^53), else a float.
 */
static int
dec_number(struct jdec *d)
{
	size_t	 start = d->pos;

	if (d->s[d->pos] == '-')
		d->pos++;
	if (d->s[d->pos] == '0') {
		if (d->s[++d->pos] >= '0' && d->s[d->pos] <= '9')
			return dec_unexpected(d, d->pos, " after a leading zero");
	} else if (dec_digits(d) == 0)
		return dec_unexpected(d, d->pos, ", expected a digit");
	if (d->s[d->pos] == '.') {
		d->pos++;
		if (dec_digits(d) == 0)
			return dec_unexpected(d, d->pos, ", expected a digit "
			    "after '.'");
	}
	if (d->s[d->pos] == 'e' || d->s[d->pos] == 'E') {
		d->pos++;
		if (d->s[d->pos] == '+' || d->s[d->pos] == '-')
			d->pos++;
		if (dec_digits(d) == 0)
			return dec_unexpected(d, d->pos, ", expected a digit "
			    "in the exponent");
	}
	return dec_pushnum(d, start);
}

/* Push true, false or null (word), spelled exactly. */
static int
dec_literal(struct jdec *d, const char *word, const char *expect)
{
	size_t	 i;

	for (i = 0; word[i] != '\0'; i++) {
		if (d->s[d->pos + i] != (unsigned char)word[i])
			return dec_unexpected(d, d->pos + i, expect);
	}
	d->pos += i;
	if (word[0] == 'n')
		vl_pushnull(d->L);
	else
		lua_pushboolean(d->L, word[0] == 't');
	return 0;
}

static int dec_value(struct jdec *, int, const char *);

/* Give the table on top the array or object metatable; move past ] or }. */
static int
dec_close(struct jdec *d, int mt)
{
	d->pos++;
	lua_pushvalue(d->L, mt);
	lua_setmetatable(d->L, -2);
	return 0;
}

/* Push the array at the cursor, at depth. */
static int
dec_array(struct jdec *d, int depth)
{
	lua_Integer	 i = 0;

	if (depth >= VL_MAXDEPTH)
		return dec_fail(d, d->pos, "nested too deeply");
	d->pos++;
	lua_newtable(d->L);
	dec_ws(d);
	if (d->s[d->pos] == ']')
		return dec_close(d, d->amt);
	for (;;) {
		if (dec_value(d, depth + 1, i == 0 ? ", expected a value or ']'" :
		    ", expected a value after ','") != 0)
			return -1;
		lua_rawseti(d->L, -2, ++i);
		dec_ws(d);
		if (d->s[d->pos] == ']')
			return dec_close(d, d->amt);
		if (d->s[d->pos] != ',')
			return dec_unexpected(d, d->pos, ", expected ',' or ']'");
		d->pos++;
		dec_ws(d);
	}
}

/* Push the object at the cursor, at depth; of repeated names the last. */
static int
dec_object(struct jdec *d, int depth)
{
	int	 n = 0;

	if (depth >= VL_MAXDEPTH)
		return dec_fail(d, d->pos, "nested too deeply");
	d->pos++;
	lua_newtable(d->L);
	dec_ws(d);
	if (d->s[d->pos] == '}')
		return dec_close(d, d->omt);
	for (;; n++) {
		if (d->s[d->pos] != '"')
			return dec_unexpected(d, d->pos, n == 0 ? ", expected "
			    "a member name or '}'" : ", expected a member name "
			    "after ','");
		if (dec_string(d) != 0)
			return -1;
		dec_ws(d);
		if (d->s[d->pos] != ':')
			return dec_unexpected(d, d->pos, ", expected ':'");
		d->pos++;
		dec_ws(d);
		if (dec_value(d, depth + 1, ", expected a value") != 0)
			return -1;
		lua_rawset(d->L, -3);
		dec_ws(d);
		if (d->s[d->pos] == '}')
			return dec_close(d, d->omt);
		if (d->s[d->pos] != ',')
			return dec_unexpected(d, d->pos, ", expected ',' or '}'");
		d->pos++;
		dec_ws(d);
	}
}

/* Push the value at the cursor; expect says what was wanted there. */
static int
dec_value(struct jdec *d, int depth, const char *expect)
{
	if (!lua_checkstack(d->L, 4))
		return dec_fail(d, d->pos, "out of stack space");
	switch (d->s[d->pos]) {
	case '{':
		return dec_object(d, depth);
	case '[':
		return dec_array(d, depth);
	case '"':
		return dec_string(d);
	case 't':
		return dec_literal(d, "true", ", expected true");
	case 'f':
		return dec_literal(d, "false", ", expected false");
	case 'n':
		return dec_literal(d, "null", ", expected null");
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return dec_number(d);
	}
	return dec_unexpected(d, d->pos, expect);
}

/* Code point of the valid n-byte UTF-8 sequence at p. */
static unsigned long
aux_utf8dec(const unsigned char *p, size_t n)
{
	unsigned long	 u = n == 1 ? p[0] : p[0] & (0x7fu >> n);
	size_t		 i;

	for (i = 1; i < n; i++)
		u = u << 6 | (p[i] & 0x3f);
	return u;
}

/* Push a name for the character at pos: 'x', newline, U+00E9, byte 0xff. */
static void
dec_pushchar(struct jdec *d, size_t pos)
{
	const unsigned char	*p = d->s + pos;
	char			 name[48];
	unsigned long		 u;
	size_t			 n;

	if (*p == '\'')
		snprintf(name, sizeof name, "\"'\"");
	else if (*p > 0x20 && *p < 0x7f)
		snprintf(name, sizeof name, "'%c'", *p);
	else if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		snprintf(name, sizeof name, "%s", *p == ' ' ? "space" :
		    *p == '\t' ? "tab" : *p == '\n' ? "newline" :
		    "carriage return");
	else if ((n = aux_utf8len(p, d->len - pos)) == 0)
		snprintf(name, sizeof name, "byte 0x%02x", *p);
	else if ((u = aux_utf8dec(p, n)) < 0x20 || u == 0x7f)
		snprintf(name, sizeof name, "control character U+%04lX", u);
	else
		snprintf(name, sizeof name, "%sU+%04lX%s",
		    u == 0xfeff ? "byte order mark (" : u == 0xa0 ?
		    "no-break space (" : "", u, u == 0xfeff || u == 0xa0 ?
		    ")" : "");
	lua_pushstring(d->L, name);
}

/* Push nil and "line L column C: message" for the recorded error. */
static int
dec_error(struct jdec *d)
{
	lua_State	*L = d->L;
	size_t		 i, line = 1, col = 1;
	int		 top = lua_gettop(L);

	for (i = 0; i < d->errpos && i < d->len; i++) {
		if (d->s[i] == '\n') {
			line++;
			col = 1;
		} else if ((d->s[i] & 0xc0) != 0x80)
			col++;		/* columns count characters */
	}
	lua_pushnil(L);
	lua_pushfstring(L, "line %I column %I: ", (lua_Integer)line,
	    (lua_Integer)col);
	if (d->err != NULL)
		lua_pushstring(L, d->err);
	else if (d->errpos >= d->len)
		lua_pushliteral(L, "unexpected end of input");
	else {
		lua_pushliteral(L, "unexpected ");
		dec_pushchar(d, d->errpos);
		lua_pushstring(L, d->after != NULL ? d->after : "");
	}
	lua_concat(L, lua_gettop(L) - top - 1);
	return 2;
}

/* json.decode(s) -> value, or nil, "line L column C: message" */
static int
ljson_decode(lua_State *L)
{
	struct jdec	 d;
	size_t		 len;

	memset(&d, 0, sizeof d);
	d.L = L;
	d.s = (const unsigned char *)luaL_checklstring(L, 1, &len);
	d.len = len;
	lua_settop(L, 1);
	luaL_getmetatable(L, VL_JSON_ARRAY);
	d.amt = lua_gettop(L);
	luaL_getmetatable(L, VL_JSON_OBJECT);
	d.omt = lua_gettop(L);
	dec_ws(&d);
	if (dec_value(&d, 0, ", expected a value") == 0) {
		dec_ws(&d);
		if (d.pos == d.len)
			return 1;
		dec_unexpected(&d, d.pos, " after the value");
	}
	lua_settop(L, d.omt);
	return dec_error(&d);
}

/* }====== */

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
	return vl_walk_openlib(L, ljson_funcs, NULL, NULL);
}
