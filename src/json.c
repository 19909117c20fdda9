/* venueless.json: JSON text to Lua values and back. */
#include "config.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "venueless.h"

/*
 * The cJSON functions we use, resolved with dlsym when venueless.json is
 * first required: a linked library costs every start its mapping and
 * relocations (bench/startup). The call sites keep cJSON's names, each a
 * macro for its pointer (defined after aux_load, which needs the plain
 * names).
 */
#define CJSON_FUNCS \
	X(cJSON_ParseWithLengthOpts) X(cJSON_Delete) X(cJSON_IsArray) \
	X(cJSON_IsTrue) X(cJSON_GetArraySize)

static struct {
#define X(f) __typeof__(f) *f;
	CJSON_FUNCS
#undef X
} cj;
static void	*cj_handle;

/* Load cJSON once; 0 or -1 with *cause (dlerror's text). */
static int
aux_load(const char **cause)
{
	static const char *const names[] = {
#define X(f) #f,
		CJSON_FUNCS
#undef X
	};
	static void *const slots[] = {
#define X(f) &cj.f,
		CJSON_FUNCS
#undef X
	};

	return vl_dlopen(VL_LIBCJSON_SONAME, names, slots,
	    sizeof names / sizeof names[0], &cj_handle, cause);
}

#define cJSON_ParseWithLengthOpts	cj.cJSON_ParseWithLengthOpts
#define cJSON_Delete			cj.cJSON_Delete
#define cJSON_IsArray			cj.cJSON_IsArray
#define cJSON_IsTrue			cj.cJSON_IsTrue
#define cJSON_GetArraySize		cj.cJSON_GetArraySize

#define JSON_TREE	"venueless.json.tree"
#define JSON_NUMCUT	63	/* bytes of a number old cJSON reads */

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
 * it read. cJSON takes all of these, and its error pointer lands after the
 * culprit, so it only ever sees text this scanner passed. An error keeps
 * the offset of the offending character; its line and column are counted
 * only then. The text is a Lua string, so s[len] is a NUL: peeking one
 * byte past the end is safe and matches no token.
 */
struct jscan {
	lua_State		*L;	/* for the range check of numbers */
	const unsigned char	*s;
	size_t			 len;
	size_t			 pos;	/* next byte */
	int			 longnum; /* a number longer than JSON_NUMCUT */
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

	if (n > JSON_NUMCUT)
		d->longnum = 1;
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

/* Move past the ] or } at the cursor. */
static int
scan_close(struct jscan *d)
{
	d->pos++;
	return 0;
}

/* Check the array at the cursor, at depth. */
static int
scan_array(struct jscan *d, int depth)
{
	int	 n;

	if (depth >= VL_MAXDEPTH)
		return scan_fail(d, d->pos, "nested too deeply");
	d->pos++;
	scan_ws(d);
	if (d->s[d->pos] == ']')
		return scan_close(d);
	for (n = 0;; n++) {
		if (scan_value(d, depth + 1, n == 0 ? ", expected a value or "
		    "']'" : ", expected a value after ','") != 0)
			return -1;
		scan_ws(d);
		if (d->s[d->pos] == ']')
			return scan_close(d);
		if (d->s[d->pos] != ',')
			return scan_unexpected(d, d->pos, ", expected ',' or ']'");
		d->pos++;
		scan_ws(d);
	}
}

/* Check one member at the cursor, name to value; n members came before. */
static int
scan_member(struct jscan *d, int depth, int n)
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
	int	 n;

	if (depth >= VL_MAXDEPTH)
		return scan_fail(d, d->pos, "nested too deeply");
	d->pos++;
	scan_ws(d);
	if (d->s[d->pos] == '}')
		return scan_close(d);
	for (n = 0;; n++) {
		if (scan_member(d, depth, n) != 0)
			return -1;
		scan_ws(d);
		if (d->s[d->pos] == '}')
			return scan_close(d);
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

/* {====== decode, 2: cJSON builds the tree, converted to Lua values } */

/* A parsed cJSON tree, boxed so that a raise while converting frees it. */
struct jtree {
	cJSON	*root;
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

/*
 * The text for cJSON: the scanned text itself or, when it has a number
 * longer than JSON_NUMCUT bytes, a copy (pushed) with each such number
 * blanked to "0": a cJSON without the fix for CVE-2023-26819 reads 63
 * bytes of a number, then fails on the rest. cJSON's numbers are never
 * used (see build_number).
 */
static const char *
tree_text(lua_State *L, const struct jscan *d)
{
	unsigned char	*t;
	size_t		 i, n;
	int		 instr = 0;

	if (!d->longnum)
		return (const char *)d->s;
	t = lua_newuserdatauv(L, d->len + 1, 0);
	memcpy(t, d->s, d->len + 1);
	for (i = 0; i < d->len; i += n) {
		n = 1;
		if (instr && t[i] == '\\')
			n = 2;
		else if (t[i] == '"')
			instr = !instr;
		else if (!instr && (t[i] == '-' ||
		    (t[i] >= '0' && t[i] <= '9'))) {
			n = strspn((const char *)t + i, "0123456789+-.eE");
			if (n > JSON_NUMCUT) {
				t[i] = '0';
				memset(t + i + 1, ' ', n - 1);
			}
		}
	}
	return (const char *)t;
}

/*
 * Converter state: cJSON's items, and a cursor over the scanned text in
 * document order, for the numbers: cJSON keeps a double, which would lose
 * integers beyond 2^53 and the difference between 1 and 1.0.
 */
struct jbuild {
	lua_State		*L;
	const unsigned char	*s;	/* the scanned text */
	size_t			 len;
	size_t			 pos;
	int			 amt;	/* stack slots of the metatables */
	int			 omt;
};

/* Move the cursor to the next token: past blanks, commas and colons. */
static void
build_skip(struct jbuild *b)
{
	for (;; b->pos++) {
		switch (b->s[b->pos]) {
		case ' ': case '\t': case '\n': case '\r': case ',': case ':':
			continue;
		}
		return;
	}
}

/* Move the cursor past the (scanned) string at it. */
static void
build_skipstr(struct jbuild *b)
{
	const unsigned char	*q = b->s + b->pos, *p;

	for (;;) {
		q = memchr(q + 1, '"', (size_t)(b->s + b->len - q - 1));
		/* Count backslashes with a pointer: q[-1 - k] with a size_t k
		 * is pointer overflow (UB), which clang's UBSan reports. */
		for (p = q - 1; *p == '\\'; p--)
			;		/* the opening quote stops this */
		if ((q - 1 - p) % 2 == 0)
			break;		/* not an escaped quote */
	}
	b->pos = (size_t)(q - b->s) + 1;
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

static void build_value(struct jbuild *, const cJSON *);

/* Push the array or object item as a table of its kind. */
static void
build_container(struct jbuild *b, const cJSON *item)
{
	lua_State	*L = b->L;
	const cJSON	*c;
	lua_Integer	 i = 0;
	int		 isarray = cJSON_IsArray(item), n;

	luaL_checkstack(L, 4, "json.decode");
	n = cJSON_GetArraySize(item);
	lua_createtable(L, isarray ? n : 0, isarray ? 0 : n);
	b->pos++;		/* [ or { */
	for (c = item->child; c != NULL; c = c->next) {
		if (!isarray) {
			build_skip(b);
			build_skipstr(b);
			lua_pushlstring(L, c->string, strlen(c->string));
		}
		build_value(b, c);
		if (isarray)
			lua_rawseti(L, -2, ++i);
		else
			lua_rawset(L, -3);	/* of repeated names the last */
	}
	build_skip(b);
	b->pos++;		/* ] or } */
	lua_pushvalue(L, isarray ? b->amt : b->omt);
	lua_setmetatable(L, -2);
}

/* Push the Lua value of item, moving the cursor past its text. */
static void
build_value(struct jbuild *b, const cJSON *item)
{
	build_skip(b);
	switch (item->type & 0xff) {
	case cJSON_NULL:
		vl_pushnull(b->L);
		b->pos += 4;
		break;
	case cJSON_False:
	case cJSON_True:
		lua_pushboolean(b->L, cJSON_IsTrue(item));
		b->pos += cJSON_IsTrue(item) ? 4 : 5;
		break;
	case cJSON_Number:
		build_number(b);
		break;
	case cJSON_String:
		build_skipstr(b);
		lua_pushlstring(b->L, item->valuestring,
		    strlen(item->valuestring));
		break;
	default:
		build_container(b, item);
	}
}

/* Push the value of the scanned text d, built by cJSON. */
static void
build_text(lua_State *L, const struct jscan *d)
{
	struct jbuild	 b;
	struct jtree	*t;
	const char	*text, *end = NULL;

	t = lua_newuserdatauv(L, sizeof *t, 0);
	t->root = NULL;
	luaL_setmetatable(L, JSON_TREE);
	text = tree_text(L, d);
	t->root = cJSON_ParseWithLengthOpts(text, d->len, &end, 0);
	if (t->root == NULL)	/* it takes all the scanner passes */
		luaL_error(L, "json.decode: cJSON failed at byte %I (out of "
		    "memory?)", (lua_Integer)(end != NULL ? end - text : 0));
	b.L = L;
	b.s = d->s;
	b.len = d->len;
	b.pos = 0;
	luaL_getmetatable(L, VL_JSON_ARRAY);
	b.amt = lua_gettop(L);
	luaL_getmetatable(L, VL_JSON_OBJECT);
	b.omt = lua_gettop(L);
	build_value(&b, t->root);
	cJSON_Delete(t->root);
	t->root = NULL;
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
	if (scan_text(&d) != 0)
		return scan_error(&d);
	build_text(L, &d);
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
	const char	*cause;

	if (aux_load(&cause) == -1)
		return luaL_error(L, "cannot load %s: %s", VL_LIBCJSON_SONAME,
		    cause);
	return vl_walk_openlib(L, ljson_funcs, JSON_TREE, tree_gc);
}
