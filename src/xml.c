/*
 * venueless.xml: XML text as a tree of tables (expat, loaded with dlopen
 * when the module is first required, so start-up does not pay for it).
 * An element is { tag = name, attrs = { name = value }, child, ... }:
 * its children (elements and text strings) in order in the array part.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <expat.h>

#include "venueless.h"

#define VL_XMLPARSER	"venueless.xml.parser"

/* The expat functions we use, resolved with dlsym. */
#define EXPAT_FUNCS \
	X(XML_ParserCreate) X(XML_ParserFree) X(XML_SetUserData) \
	X(XML_SetElementHandler) X(XML_SetCharacterDataHandler) \
	X(XML_SetStartDoctypeDeclHandler) X(XML_Parse) X(XML_StopParser) \
	X(XML_GetErrorCode) X(XML_ErrorString) X(XML_GetCurrentLineNumber) \
	X(XML_GetCurrentColumnNumber)

static struct {
#define X(f) __typeof__(f) *f;
	EXPAT_FUNCS
#undef X
} xp;
static void	*xp_handle;

/*
 * A parse in progress, boxed so that raising (out of memory inside a
 * callback) frees it (__gc). The open elements are on the Lua stack, the
 * innermost on top; text collects in a buffer until the next tag.
 */
struct xparse {
	XML_Parser	 p;
	lua_State	*L;
	struct vl_buf	 text;
	int		 depth;
	const char	*refusal;	/* why we stopped the parser, or NULL */
};

/* Free the parser and the text buffer (__gc; idempotent). */
static int
parser_gc(lua_State *L)
{
	struct xparse	*x = luaL_checkudata(L, 1, VL_XMLPARSER);

	if (x->p != NULL)
		xp.XML_ParserFree(x->p);
	x->p = NULL;
	free(x->text.p);
	x->text.p = NULL;
	x->text.len = x->text.cap = 0;
	return 0;
}

/* Append the value on top of the stack to the table below it. */
static void
aux_append(lua_State *L)
{
	lua_rawseti(L, -2, (lua_Integer)lua_rawlen(L, -2) + 1);
}

/* Add the text collected so far to the innermost open element. */
static void
aux_flush(struct xparse *x)
{
	if (x->text.len > 0 && x->depth > 0) {
		lua_pushlstring(x->L, x->text.p, x->text.len);
		aux_append(x->L);
	}
	x->text.len = 0;
}

/* Stop parsing with our own reason. */
static void
aux_refuse(struct xparse *x, const char *why)
{
	x->refusal = why;
	xp.XML_StopParser(x->p, XML_FALSE);
}

/* expat: an element opens; push its table. */
static void XMLCALL
aux_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
	struct xparse	*x = ud;
	lua_State	*L = x->L;

	if (x->refusal != NULL)
		return;
	aux_flush(x);
	if (x->depth >= VL_MAXDEPTH) {
		aux_refuse(x, "nested too deeply");
		return;
	}
	luaL_checkstack(L, 4, "xml.parse");
	lua_createtable(L, 0, 2);
	lua_pushstring(L, name);
	lua_setfield(L, -2, "tag");
	lua_newtable(L);
	for (; atts[0] != NULL; atts += 2) {
		lua_pushstring(L, atts[1]);
		lua_setfield(L, -2, atts[0]);	/* attrs[name] = value */
	}
	lua_setfield(L, -2, "attrs");
	x->depth++;
}

/* expat: an element closes; it becomes its parent's last child. */
static void XMLCALL
aux_end(void *ud, const XML_Char *name)
{
	struct xparse	*x = ud;

	(void)name;
	if (x->refusal != NULL)	/* expat may still call it once */
		return;
	aux_flush(x);
	aux_append(x->L);
	x->depth--;
}

/* expat: text, in pieces of its choosing. */
static void XMLCALL
aux_text(void *ud, const XML_Char *s, int len)
{
	struct xparse	*x = ud;

	if (x->depth > 0 && len > 0 && x->refusal == NULL)
		vl_buf_add(&x->text, s, (size_t)len);
}

/* expat: a DOCTYPE; refused, so no entity can be declared or expanded. */
static void XMLCALL
aux_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
    const XML_Char *pubid, int has_internal_subset)
{
	(void)name, (void)sysid, (void)pubid, (void)has_internal_subset;
	aux_refuse(ud, "a DOCTYPE is not accepted");
}

/* A new parser in a box at the top of the stack. */
static struct xparse *
aux_newparser(lua_State *L)
{
	struct xparse	*x;

	x = lua_newuserdatauv(L, sizeof *x, 0);
	memset(x, 0, sizeof *x);
	luaL_setmetatable(L, VL_XMLPARSER);
	if ((x->p = xp.XML_ParserCreate(NULL)) == NULL)
		luaL_error(L, "xml.parse: out of memory");
	x->L = L;
	xp.XML_SetUserData(x->p, x);
	xp.XML_SetElementHandler(x->p, aux_start, aux_end);
	xp.XML_SetCharacterDataHandler(x->p, aux_text);
	xp.XML_SetStartDoctypeDeclHandler(x->p, aux_doctype);
	return x;
}

/* Push "line L, column C: why" for the parser's position. */
static void
aux_pusherror(lua_State *L, struct xparse *x)
{
	const char	*why = x->refusal;

	if (why == NULL)
		why = xp.XML_ErrorString(xp.XML_GetErrorCode(x->p));
	lua_pushfstring(L, "line %d, column %d: %s",
	    (int)xp.XML_GetCurrentLineNumber(x->p),
	    (int)xp.XML_GetCurrentColumnNumber(x->p) + 1, why);
}

/* xml.parse(text) -> the root element, or nil, message, "invalid" */
static int
lxml_parse(lua_State *L)
{
	struct xparse	*x;
	const char	*s;
	size_t		 len;
	int		 ok;

	s = luaL_checklstring(L, 1, &len);
	luaL_argcheck(L, len <= INT_MAX, 1, "text too long");
	lua_settop(L, 1);
	x = aux_newparser(L);			/* 2: the box */
	lua_newtable(L);			/* 3: holds the root */
	ok = xp.XML_Parse(x->p, s, (int)len, 1) == XML_STATUS_OK &&
	    x->refusal == NULL;
	if (!ok) {
		aux_pusherror(L, x);
		lua_pushnil(L);
		lua_insert(L, -2);
		lua_pushliteral(L, "invalid");
	} else
		lua_rawgeti(L, 3, 1);
	lua_pushcfunction(L, parser_gc);
	lua_pushvalue(L, 2);
	lua_call(L, 1, 0);		/* free now, not at the next cycle */
	return ok ? 1 : 3;
}

static const luaL_Reg lxml_funcs[] = {
	{ "parse", lxml_parse },
	{ NULL, NULL }
};

/* Load expat once; 0 or -1 with *cause (dlerror's text). */
static int
aux_load(const char **cause)
{
	static const char *const names[] = {
#define X(f) #f,
		EXPAT_FUNCS
#undef X
	};
	static void *const slots[] = {
#define X(f) &xp.f,
		EXPAT_FUNCS
#undef X
	};

	return vl_dlopen(VL_LIBEXPAT_SONAME, names, slots,
	    sizeof names / sizeof names[0], &xp_handle, cause);
}

int
luaopen_venueless_xml(lua_State *L)
{
	const char	*cause;

	if (aux_load(&cause) == -1)
		return luaL_error(L, "cannot load expat: %s", cause);
	if (luaL_newmetatable(L, VL_XMLPARSER)) {
		lua_pushcfunction(L, parser_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
	luaL_newlib(L, lxml_funcs);
	return 1;
}
