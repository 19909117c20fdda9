/* venueless.json: JSON text to Lua values and back. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "venueless.h"

#define JSON_SIZES	"venueless.json.sizes"

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

/* {====== decode, 1: the strict scanner (validates, builds nothing) } */

/*
 * One strict pass over the text (RFC 8259: no byte order mark, no leading
 * zeros, no "1." or ".5", only space, tab, newline and carriage return
 * between tokens), so that a document that decodes here is one that
 * PostgreSQL's jsonb accepts too: import_config hands the server the text
 * it read. The builder (part 2) only ever sees text this scanner passed,
 * and counts on it: it checks nothing again. An error keeps
 * the offset of the offending character; its line and column are counted
 * only then. The text is a Lua string, so s[len] is a NUL: peeking one
 * byte past the end is safe and matches no token.
 */
struct jsizes {
	unsigned int	*n;	/* members of each container, in text order */
	size_t		 len, cap;
};

struct jscan {
	lua_State		*L;	/* for the range check of numbers */
	const unsigned char	*s;
	size_t			 len;
	size_t			 pos;	/* next byte */
	struct jsizes		*sizes;	/* for the builder to presize tables */
	const char		*err;	/* the whole message, or NULL for */
	const char		*after;	/* "unexpected <char>" and this */
	size_t			 errpos;
};

/* Record an error at pos with its whole message; returns -1. */
static int
scan_fail(struct jscan *d, size_t pos, const char *msg)
{
	d->err = msg;
	d->errpos = pos;
	return -1;
}

/* Record "unexpected <the character at pos>" + after; returns -1. */
static int
scan_unexpected(struct jscan *d, size_t pos, const char *after)
{
	d->err = NULL;
	d->after = after;
	d->errpos = pos;
	return -1;
}

/* Skip the four whitespace characters JSON has. */
static void
scan_ws(struct jscan *d)
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

/* Check the \uXXXX escape at i (its backslash); its code unit or -1. */
static long
scan_u4(struct jscan *d, size_t i)
{
	unsigned long	 u = 0;
	size_t		 k;

	for (k = i + 2; k < i + 6; k++) {
		if (k >= d->len || aux_hexval(d->s[k]) < 0)
			return scan_unexpected(d, k, " in a \\u escape, "
			    "expected a hex digit");
		u = u << 4 | (unsigned long)aux_hexval(d->s[k]);
	}
	return (long)u;
}

/*
 * Check the escape at i (its backslash) and set *n to its length. NUL
 * cannot be in a decoded string (nor in jsonb), nor can half of a
 * surrogate pair (it is not UTF-8).
 */
static int
scan_escape(struct jscan *d, size_t i, size_t *n)
{
	const unsigned char	*s = d->s;
	long			 u, lo;

	*n = 2;
	if (s[i + 1] != 'u') {
		if (s[i + 1] == '\0' || strchr("\"\\/bfnrt", s[i + 1]) == NULL)
			return scan_unexpected(d, i + 1, " after a backslash");
		return 0;
	}
	if ((u = scan_u4(d, i)) < 0)
		return -1;
	*n = 6;
	if (u == 0)
		return scan_fail(d, i, "\\u0000 in a string is not supported");
	if (u < 0xd800 || u > 0xdfff)
		return 0;
	if (u <= 0xdbff && s[i + 6] == '\\' && s[i + 7] == 'u') {
		if ((lo = scan_u4(d, i + 6)) < 0)
			return -1;
		*n = 12;
		if (lo >= 0xdc00 && lo <= 0xdfff)
			return 0;
	}
	return scan_fail(d, i, "unpaired surrogate escape in a string");
}

/* Check the string at the cursor and move past it. */
static int
scan_string(struct jscan *d)
{
	const unsigned char	*s = d->s;
	size_t			 i, n;

	for (i = d->pos + 1;; i += n) {
		while (s[i] >= 0x20 && s[i] < 0x80 && s[i] != '"' &&
		    s[i] != '\\')
			i++;		/* plain ASCII; s[len] is a NUL */
		if (i >= d->len)
			return scan_unexpected(d, d->len, NULL);
		n = 1;
		if (s[i] == '"') {
			d->pos = i + 1;
			return 0;
		}
		if (s[i] == '\\') {
			if (scan_escape(d, i, &n) != 0)
				return -1;
		} else if (s[i] < 0x20)
			return scan_unexpected(d, i, " in a string");
		else if ((n = aux_utf8len(s + i, d->len - i)) == 0)
			return scan_fail(d, i, "invalid UTF-8 in a string");
	}
}

/*
 * Push the n-byte number text at s as Lua reads it: an integer when it has
 * no fraction nor exponent and fits in 64 bits (exact beyond 2^53), else a
 * float. Returns 0, pushing nothing, when it is out of range.
 */
static int
aux_pushnum(lua_State *L, const unsigned char *s, size_t n)
{
	char		 buf[64];
	const char	*num = buf;
	int		 ok;

	if (n < sizeof buf) {
		memcpy(buf, s, n);
		buf[n] = '\0';
	} else
		num = lua_pushlstring(L, (const char *)s, n);
	ok = lua_stringtonumber(L, num) != 0;
	if (n >= sizeof buf)
		lua_remove(L, ok ? -2 : -1);	/* the copy */
	if (ok && !lua_isinteger(L, -1) && isinf(lua_tonumber(L, -1))) {
		lua_pop(L, 1);
		ok = 0;
	}
	return ok;
}

/* Move past a run of digits; returns its length. */
static size_t
scan_digits(struct jscan *d)
{
	size_t	 start = d->pos;

	while (d->s[d->pos] >= '0' && d->s[d->pos] <= '9')
		d->pos++;
	return d->pos - start;
}

/*
 * Check the range of the number from start to the cursor. Without an
 * exponent, 200 digits are far from overflowing a double (and within what
 * Lua converts in any locale), so only those numbers are converted here.
 */
static int
scan_range(struct jscan *d, size_t start, int exp)
{
	size_t	 n = d->pos - start;

	if (!exp && n <= 200)
		return 0;
	if (!aux_pushnum(d->L, d->s + start, n))
		return scan_fail(d, start, "number out of range");
	lua_pop(d->L, 1);
	return 0;
}

/* Check the number at the cursor and move past it. */
static int
scan_number(struct jscan *d)
{
	size_t	 start = d->pos;
	int	 exp = 0;

	if (d->s[d->pos] == '-')
		d->pos++;
	if (d->s[d->pos] == '0') {
		if (d->s[++d->pos] >= '0' && d->s[d->pos] <= '9')
			return scan_unexpected(d, d->pos, " after a leading zero");
	} else if (scan_digits(d) == 0)
		return scan_unexpected(d, d->pos, ", expected a digit");
	if (d->s[d->pos] == '.') {
		d->pos++;
		if (scan_digits(d) == 0)
			return scan_unexpected(d, d->pos, ", expected a digit "
			    "after '.'");
	}
	if (d->s[d->pos] == 'e' || d->s[d->pos] == 'E') {
		exp = 1;
		d->pos++;
		if (d->s[d->pos] == '+' || d->s[d->pos] == '-')
			d->pos++;
		if (scan_digits(d) == 0)
			return scan_unexpected(d, d->pos, ", expected a digit "
			    "in the exponent");
	}
	return scan_range(d, start, exp);
}

/* Check true, false or null (word), spelled exactly. */
static int
scan_literal(struct jscan *d, const char *word, const char *expect)
{
	size_t	 i;

	for (i = 0; word[i] != '\0'; i++) {
		if (d->s[d->pos + i] != (unsigned char)word[i])
			return scan_unexpected(d, d->pos + i, expect);
	}
	d->pos += i;
	return 0;
}

static int scan_value(struct jscan *, int, const char *);

/* Reserve the size slot of the container at the cursor: its index. */
static size_t
scan_open(struct jscan *d)
{
	struct jsizes	*z = d->sizes;
	unsigned int	*n;
	size_t		 cap;

	if (z->len == z->cap) {
		cap = z->cap < 64 ? 64 : z->cap * 2;
		if ((n = realloc(z->n, cap * sizeof *n)) == NULL)
			luaL_error(d->L, "json.decode: out of memory");
		z->n = n;
		z->cap = cap;
	}
	z->n[z->len] = 0;
	return z->len++;
}

/* Move past the ] or } at the cursor, recording n members at slot i. */
static int
scan_close(struct jscan *d, size_t i, unsigned int n)
{
	d->sizes->n[i] = n;
	d->pos++;
	return 0;
}

/* Check the array at the cursor, at depth. */
static int
scan_array(struct jscan *d, int depth)
{
	size_t		 slot;
	unsigned int	 n;

	if (depth >= VL_MAXDEPTH)
		return scan_fail(d, d->pos, "nested too deeply");
	slot = scan_open(d);
	d->pos++;
	scan_ws(d);
	if (d->s[d->pos] == ']')
		return scan_close(d, slot, 0);
	for (n = 0;; n++) {
		if (scan_value(d, depth + 1, n == 0 ? ", expected a value or "
		    "']'" : ", expected a value after ','") != 0)
			return -1;
		scan_ws(d);
		if (d->s[d->pos] == ']')
			return scan_close(d, slot, n + 1);
		if (d->s[d->pos] != ',')
			return scan_unexpected(d, d->pos, ", expected ',' or ']'");
		d->pos++;
		scan_ws(d);
	}
}

/* Check one member at the cursor, name to value; n members came before. */
static int
scan_member(struct jscan *d, int depth, unsigned int n)
{
	if (d->s[d->pos] != '"')
		return scan_unexpected(d, d->pos, n == 0 ? ", expected a "
		    "member name or '}'" : ", expected a member name after ','");
	if (scan_string(d) != 0)
		return -1;
	scan_ws(d);
	if (d->s[d->pos] != ':')
		return scan_unexpected(d, d->pos, ", expected ':'");
	d->pos++;
	scan_ws(d);
	return scan_value(d, depth + 1, ", expected a value");
}

/* Check the object at the cursor, at depth. */
static int
scan_object(struct jscan *d, int depth)
{
	size_t		 slot;
	unsigned int	 n;

	if (depth >= VL_MAXDEPTH)
		return scan_fail(d, d->pos, "nested too deeply");
	slot = scan_open(d);
	d->pos++;
	scan_ws(d);
	if (d->s[d->pos] == '}')
		return scan_close(d, slot, 0);
	for (n = 0;; n++) {
		if (scan_member(d, depth, n) != 0)
			return -1;
		scan_ws(d);
		if (d->s[d->pos] == '}')
			return scan_close(d, slot, n + 1);
		if (d->s[d->pos] != ',')
			return scan_unexpected(d, d->pos, ", expected ',' or '}'");
		d->pos++;
		scan_ws(d);
	}
}

/* Check the value at the cursor; expect says what was wanted there. */
static int
scan_value(struct jscan *d, int depth, const char *expect)
{
	switch (d->s[d->pos]) {
	case '{':
		return scan_object(d, depth);
	case '[':
		return scan_array(d, depth);
	case '"':
		return scan_string(d);
	case 't':
		return scan_literal(d, "true", ", expected true");
	case 'f':
		return scan_literal(d, "false", ", expected false");
	case 'n':
		return scan_literal(d, "null", ", expected null");
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return scan_number(d);
	}
	return scan_unexpected(d, d->pos, expect);
}

/* Check the whole text: one value between blanks. */
static int
scan_text(struct jscan *d)
{
	scan_ws(d);
	if (scan_value(d, 0, ", expected a value") != 0)
		return -1;
	scan_ws(d);
	if (d->pos == d->len)
		return 0;
	return scan_unexpected(d, d->pos, " after the value");
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
scan_pushchar(struct jscan *d, size_t pos)
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
scan_error(struct jscan *d)
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
		scan_pushchar(d, d->errpos);
		lua_pushstring(L, d->after != NULL ? d->after : "");
	}
	lua_concat(L, lua_gettop(L) - top - 1);
	return 2;
}

/* }====== */

/* {====== decode, 2: Lua values built from the scanned text } */

/*
 * One pass over text the scanner passed, so nothing is checked again: a
 * string ends at its first unescaped quote, its escapes are well formed
 * (no \u0000, surrogates paired), numbers are in range. Tables are sized
 * from the member counts the scanner recorded, in the same order. Of
 * repeated member names the last one wins, as in jsonb.
 */
struct jbuild {
	lua_State		*L;
	const unsigned char	*s;	/* the scanned text */
	size_t			 pos;
	const unsigned int	*sizes;	/* the scanner's, in text order */
	size_t			 next;	/* the next container's */
	int			 amt;	/* stack slots of the metatables */
	int			 omt;
};

/* Free the scanner's member counts (also their box's __gc, after a raise). */
static void
aux_freesizes(struct jsizes *z)
{
	free(z->n);
	z->n = NULL;
	z->len = z->cap = 0;
}

static int
sizes_gc(lua_State *L)
{
	aux_freesizes(luaL_checkudata(L, 1, JSON_SIZES));
	return 0;
}

/* Move the cursor past blanks. */
static void
build_ws(struct jbuild *b)
{
	for (;; b->pos++) {
		switch (b->s[b->pos]) {
		case ' ': case '\t': case '\n': case '\r':
			continue;
		}
		return;
	}
}

/* The 4 hex digits at p, checked by the scanner. */
static unsigned long
build_u4(const unsigned char *p)
{
	unsigned long	 u = 0;
	int		 k;

	for (k = 0; k < 4; k++)
		u = u << 4 | (unsigned long)aux_hexval(p[k]);
	return u;
}

/* Append code point u as UTF-8. */
static void
build_utf8(luaL_Buffer *buf, unsigned long u)
{
	char	 o[4];
	size_t	 n;

	if (u < 0x80) {
		o[0] = (char)u;
		n = 1;
	} else if (u < 0x800) {
		o[0] = (char)(0xc0 | u >> 6);
		o[1] = (char)(0x80 | (u & 0x3f));
		n = 2;
	} else if (u < 0x10000) {
		o[0] = (char)(0xe0 | u >> 12);
		o[1] = (char)(0x80 | (u >> 6 & 0x3f));
		o[2] = (char)(0x80 | (u & 0x3f));
		n = 3;
	} else {
		o[0] = (char)(0xf0 | u >> 18);
		o[1] = (char)(0x80 | (u >> 12 & 0x3f));
		o[2] = (char)(0x80 | (u >> 6 & 0x3f));
		o[3] = (char)(0x80 | (u & 0x3f));
		n = 4;
	}
	luaL_addlstring(buf, o, n);
}

/* Push the string with escapes at the cursor (at its first backslash). */
static void
build_escaped(struct jbuild *b, size_t start)
{
	const unsigned char	*s = b->s;
	luaL_Buffer		 buf;
	size_t			 i = b->pos, run;
	unsigned long		 u, lo;

	luaL_buffinit(b->L, &buf);
	luaL_addlstring(&buf, (const char *)s + start, i - start);
	for (;;) {
		for (run = i; s[i] != '"' && s[i] != '\\'; i++)
			;
		luaL_addlstring(&buf, (const char *)s + run, i - run);
		if (s[i] == '"')
			break;
		switch (s[i + 1]) {
		case 'b': luaL_addchar(&buf, '\b'); break;
		case 'f': luaL_addchar(&buf, '\f'); break;
		case 'n': luaL_addchar(&buf, '\n'); break;
		case 'r': luaL_addchar(&buf, '\r'); break;
		case 't': luaL_addchar(&buf, '\t'); break;
		case 'u':
			u = build_u4(s + i + 2);
			if (u >= 0xd800 && u <= 0xdbff) {
				lo = build_u4(s + i + 8);
				u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			}
			build_utf8(&buf, u);
			i += 4;
			break;
		default:	/* " \ / */
			luaL_addchar(&buf, (char)s[i + 1]);
		}
		i += 2;
	}
	b->pos = i + 1;
	luaL_pushresult(&buf);
}

/* Push the string at the cursor and move past it. */
static void
build_string(struct jbuild *b)
{
	const unsigned char	*s = b->s;
	size_t			 start = b->pos + 1, i = start;

	while (s[i] != '"' && s[i] != '\\')
		i++;
	if (s[i] == '"') {
		lua_pushlstring(b->L, (const char *)s + start, i - start);
		b->pos = i + 1;
		return;
	}
	b->pos = i;
	build_escaped(b, start);
}

/* Push the number at the cursor, read from its own text. */
static void
build_number(struct jbuild *b)
{
	const unsigned char	*s = b->s + b->pos;
	size_t			 n = 0;

	while ((s[n] >= '0' && s[n] <= '9') || s[n] == '-' || s[n] == '+' ||
	    s[n] == '.' || s[n] == 'e' || s[n] == 'E')
		n++;
	if (!aux_pushnum(b->L, s, n))	/* the scanner checked the range */
		luaL_error(b->L, "json.decode: number out of range");
	b->pos += n;
}

static void build_value(struct jbuild *);

/* Push the array or object at the cursor as a table of its kind. */
static void
build_container(struct jbuild *b)
{
	lua_State	*L = b->L;
	unsigned int	 n = b->sizes[b->next++], i;
	int		 isarray = b->s[b->pos] == '[';

	luaL_checkstack(L, 4, "json.decode");
	lua_createtable(L, isarray ? (int)n : 0, isarray ? 0 : (int)n);
	b->pos++;		/* [ or { */
	for (i = 0; i < n; i++) {
		build_ws(b);
		if (i > 0) {
			b->pos++;	/* , */
			build_ws(b);
		}
		if (isarray) {
			build_value(b);
			lua_rawseti(L, -2, (lua_Integer)i + 1);
			continue;
		}
		build_string(b);
		build_ws(b);
		b->pos++;	/* : */
		build_value(b);
		lua_rawset(L, -3);
	}
	build_ws(b);
	b->pos++;		/* ] or } */
	lua_pushvalue(L, isarray ? b->amt : b->omt);
	lua_setmetatable(L, -2);
}

/* Push the value at the cursor and move past it. */
static void
build_value(struct jbuild *b)
{
	build_ws(b);
	switch (b->s[b->pos]) {
	case 'n':
		vl_pushnull(b->L);
		b->pos += 4;
		break;
	case 't':
		lua_pushboolean(b->L, 1);
		b->pos += 4;
		break;
	case 'f':
		lua_pushboolean(b->L, 0);
		b->pos += 5;
		break;
	case '"':
		build_string(b);
		break;
	case '[':
	case '{':
		build_container(b);
		break;
	default:
		build_number(b);
	}
}

/* Push the value of the scanned text d. */
static void
build_text(lua_State *L, const struct jscan *d)
{
	struct jbuild	 b;

	b.L = L;
	b.s = d->s;
	b.pos = 0;
	b.sizes = d->sizes->n;
	b.next = 0;
	luaL_getmetatable(L, VL_JSON_ARRAY);
	b.amt = lua_gettop(L);
	luaL_getmetatable(L, VL_JSON_OBJECT);
	b.omt = lua_gettop(L);
	build_value(&b);
}

/* json.decode(s) -> value, or nil, "line L column C: message" */
static int
ljson_decode(lua_State *L)
{
	struct jscan	 d;
	size_t		 len;

	memset(&d, 0, sizeof d);
	d.L = L;
	d.s = (const unsigned char *)luaL_checklstring(L, 1, &len);
	d.len = len;
	lua_settop(L, 1);
	d.sizes = lua_newuserdatauv(L, sizeof *d.sizes, 0);	/* 2 */
	memset(d.sizes, 0, sizeof *d.sizes);
	luaL_setmetatable(L, JSON_SIZES);
	if (scan_text(&d) != 0) {
		aux_freesizes(d.sizes);
		return scan_error(&d);
	}
	build_text(L, &d);
	aux_freesizes(d.sizes);
	return 1;
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
	return vl_walk_openlib(L, ljson_funcs, JSON_SIZES, sizes_gc);
}
