/*
 * venueless.edit: line editing on libedit for the shell and prompts,
 * loaded with dlopen on first use so that other commands start faster.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>
#include <wchar.h>

#include <histedit.h>

#include "venueless.h"

#define VL_EDITOR	"venueless.edit.editor"
#define EDIT_HISTSIZE	1000	/* entries kept in memory and in the file */
#define EDIT_LISTMAX	200	/* candidates listed at most */
#define EDIT_PASSMAX	4096	/* a canonical-mode line is at most 4095 bytes */

/* The libedit functions we use, resolved with dlsym. */
#define EL_FUNCS \
	X(el_init) X(el_end) X(el_set) X(el_wset) X(el_get) X(el_gets) \
	X(el_line) X(el_insertstr) X(el_deletestr) X(el_source) X(el_resize) \
	X(history_init) X(history_end) X(history)

static struct {
#define X(f) __typeof__(f) *f;
	EL_FUNCS
#undef X
} le;
static void	*le_handle;

/* Set by SIGWINCH / SIGCONT; the reader redraws the line for them. */
static volatile sig_atomic_t resized, continued;

/*
 * One editor. The completion callback finds it through EL_CLIENTDATA;
 * L is the thread inside gets(), valid only while el_gets runs.
 */
struct editor {
	EditLine	*el;
	History		*hist;
	lua_State	*L;
	int		 completer;	/* registry ref, LUA_NOREF for none */
	char		*prompt;
	int		 fd;		/* input */
	int		 intr;		/* the last el_gets ended by a signal */
};

/* The editor behind an EditLine, from its client data. */
static struct editor *
aux_editor(EditLine *el)
{
	void	*p = NULL;

	le.el_get(el, EL_CLIENTDATA, &p);
	return p;
}

/* EL_PROMPT: the prompt of the running gets(). */
static char *
aux_prompt(EditLine *el)
{
	struct editor	*e = aux_editor(el);

	return e != NULL && e->prompt != NULL ? e->prompt : (char *)"";
}

/* SIGWINCH and SIGCONT: note it for the reader. */
static void
aux_sigtty(int sig)
{
	if (sig == SIGWINCH)
		resized = 1;
	else
		continued = 1;
}

/*
 * Catch SIGWINCH and SIGCONT while editing. SA_RESTART, so that other
 * reads are not disturbed; poll in the reader returns EINTR regardless.
 */
static void
aux_ttysignals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = aux_sigtty;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGWINCH, &sa, NULL);
	sigaction(SIGCONT, &sa, NULL);
}

/* After a resize or a stop: new size, raw mode again, redraw the line. */
static void
aux_redraw(struct editor *e)
{
	if (continued) {
		continued = 0;
		le.el_set(e->el, EL_PREP_TERM, 0);	/* re-read the tty's modes */
		le.el_set(e->el, EL_PREP_TERM, 1);
	}
	resized = 0;
	le.el_resize(e->el);
	le.el_set(e->el, EL_REFRESH);
}

/* Wait for one byte: 1 read, 0 end of file, -1 error or interrupted. */
static int
aux_readbyte(struct editor *e, char *c)
{
	ssize_t		 n;
	int		 r;

	for (;;) {
		if (vl_interrupted) {
			e->intr = 1;
			errno = EINTR;
			return -1;
		}
		if (resized || continued)
			aux_redraw(e);
		/* SIGWINCH and SIGCONT end the wait too, to redraw at once. */
		if ((r = vl_wait_fd(e->fd, POLLIN, 0, VL_WAIT_SIGNALS)) ==
		    VL_WAIT_ERROR)
			return -1;
		if (r <= 0)
			continue;
		if ((n = read(e->fd, c, 1)) == 1)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR && errno != EAGAIN)
			return -1;
	}
}

/*
 * EL_GETCFN: read a character ourselves, so that a signal ends el_gets
 * at once (libedit's own reader retries the first EINTR).
 */
static int
aux_getc(EditLine *el, wchar_t *wc)
{
	struct editor	*e = aux_editor(el);
	char		 buf[MB_LEN_MAX];
	mbstate_t	 mbs;
	size_t		 n = 0, r;
	int		 got;

	for (;;) {
		if ((got = aux_readbyte(e, &buf[n])) <= 0) {
			*wc = L'\0';
			return got;
		}
		n++;
		memset(&mbs, 0, sizeof mbs);
		r = mbrtowc(wc, buf, n, &mbs);
		if (r == (size_t)-2 && n < sizeof buf)
			continue;	/* incomplete sequence */
		if (r == (size_t)-1 || r == (size_t)-2) {
			n = 0;		/* invalid: drop it */
			continue;
		}
		return 1;
	}
}

/* Forget a signal that ended or interrupted editing, and its Lua hook. */
static void
aux_clearintr(lua_State *L)
{
	vl_interrupted = 0;
	if (L != NULL)
		lua_sethook(L, NULL, 0, 0);
}

/* Number of characters in the UTF-8 bytes s[0..len). */
static int
aux_nchars(const char *s, size_t len)
{
	size_t	 i;
	int	 n = 0;

	for (i = 0; i < len; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	return n;
}

/* Width of the terminal on stdout, or 0 when it is not one. */
static int
aux_termwidth(void)
{
	struct winsize	 ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 0;
}

/* Terminal width for listing candidates. */
static int
aux_columns(void)
{
	int	 w = aux_termwidth();

	return w > 0 ? w : 80;
}

/* edit.columns() -> the terminal's width and height, or nil off a terminal */
static int
ledit_columns(lua_State *L)
{
	struct winsize	 ws;

	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0)
		return 0;
	lua_pushinteger(L, ws.ws_col);
	lua_pushinteger(L, ws.ws_row);
	return 2;
}

/* Print the candidates in the table at idx in columns, below the line. */
static void
aux_list(lua_State *L, int idx, lua_Integer n)
{
	size_t		 len, width = 0;
	lua_Integer	 i, shown = n < EDIT_LISTMAX ? n : EDIT_LISTMAX;
	int		 cols, col = 0;

	for (i = 1; i <= shown; i++) {
		lua_rawgeti(L, idx, i);
		lua_tolstring(L, -1, &len);
		if (len > width)
			width = len;
		lua_pop(L, 1);
	}
	width += 2;
	cols = (int)(aux_columns() / width);
	if (cols < 1)
		cols = 1;
	fputc('\n', stdout);
	for (i = 1; i <= shown; i++) {
		lua_rawgeti(L, idx, i);
		if (++col == cols || i == shown) {
			printf("%s\n", lua_tostring(L, -1));
			col = 0;
		} else
			printf("%-*s", (int)width, lua_tostring(L, -1));
		lua_pop(L, 1);
	}
	if (shown < n)
		printf("(%lld more)\n", (long long)(n - shown));
	fflush(stdout);
}

/* The longest common prefix length of the strings in the table at idx. */
static size_t
aux_common(lua_State *L, int idx, lua_Integer n)
{
	const char	*first, *s;
	size_t		 common, len, j;
	lua_Integer	 i;

	lua_rawgeti(L, idx, 1);
	first = lua_tolstring(L, -1, &common);
	for (i = 2; i <= n && common > 0; i++) {
		lua_rawgeti(L, idx, i);
		s = lua_tolstring(L, -1, &len);
		for (j = 0; j < common && j < len && s[j] == first[j]; j++)
			continue;
		/* Never end inside a UTF-8 sequence. */
		while (j > 0 && j < common && ((unsigned char)first[j] & 0xc0) == 0x80)
			j--;
		common = j;
		lua_pop(L, 1);
	}
	lua_pop(L, 1);
	return common;
}

/* True if the n entries of the table at idx are all strings. */
static int
aux_allstrings(lua_State *L, int idx, lua_Integer n)
{
	lua_Integer	 i;
	int		 ok = 1;

	for (i = 1; i <= n && ok; i++) {
		ok = lua_rawgeti(L, idx, i) == LUA_TSTRING;
		lua_pop(L, 1);
	}
	return ok;
}

/* Print the hint at idx below the line, if there is one; else return r. */
static unsigned char
aux_hint(lua_State *L, int idx, unsigned char r)
{
	if (lua_type(L, idx) != LUA_TSTRING)
		return r;
	printf("\n%s\n", lua_tostring(L, idx));
	fflush(stdout);
	return CC_REDISPLAY;
}

/*
 * Apply the completer's answer at base: candidates, the 1-based start of
 * the word they replace, an optional hint line.
 */
static unsigned char
aux_apply(EditLine *el, lua_State *L, int base, size_t cursor)
{
	const char	*cand, *word;
	lua_Integer	 n, start;
	size_t		 common, wlen;
	char		*ins;
	int		 r = CC_REFRESH, isnum;

	/* Raw access only: nothing here may raise inside el_gets. */
	if (lua_type(L, base) != LUA_TTABLE ||
	    (n = (lua_Integer)lua_rawlen(L, base)) == 0)
		return aux_hint(L, base + 2, CC_REFRESH_BEEP);
	if (!aux_allstrings(L, base, n))
		return CC_REFRESH_BEEP;
	start = lua_tointegerx(L, base + 1, &isnum);
	if (!isnum)
		start = (lua_Integer)cursor + 1;
	if (start < 1 || (size_t)start > cursor + 1)
		return CC_REFRESH_BEEP;
	word = le.el_line(el)->buffer + start - 1;
	wlen = cursor - (size_t)(start - 1);
	common = aux_common(L, base, n);
	if (n == 1 || common > wlen) {
		lua_rawgeti(L, base, 1);
		cand = lua_tostring(L, -1);
		ins = xstrndup(cand, n == 1 ? strlen(cand) : common);
		le.el_deletestr(el, aux_nchars(word, wlen));
		if (*ins != '\0')
			le.el_insertstr(el, ins);
		free(ins);
		lua_pop(L, 1);
	} else {
		aux_list(L, base, n);
		r = CC_REDISPLAY;
	}
	return aux_hint(L, base + 2, r);
}

/* Tab: ask the Lua completer (line, cursor) and apply its answer. */
static unsigned char
aux_complete(EditLine *el, int ch)
{
	struct editor	*e = aux_editor(el);
	const LineInfo	*li;
	lua_State	*L;
	unsigned char	 r;
	size_t		 cursor;
	int		 top;

	(void)ch;
	if (e == NULL || (L = e->L) == NULL || e->completer == LUA_NOREF)
		return CC_ERROR;
	if (!lua_checkstack(L, 8))
		return CC_ERROR;
	li = le.el_line(el);
	cursor = (size_t)(li->cursor - li->buffer);
	top = lua_gettop(L);
	lua_rawgeti(L, LUA_REGISTRYINDEX, e->completer);
	lua_pushlstring(L, li->buffer, (size_t)(li->lastchar - li->buffer));
	lua_pushinteger(L, (lua_Integer)cursor);
	if (lua_pcall(L, 2, 3, 0) != LUA_OK)
		r = CC_REFRESH_BEEP;	/* a failing completer only beeps */
	else
		r = aux_apply(el, L, top + 1, cursor);
	lua_settop(L, top);
	aux_clearintr(L);	/* Ctrl-C stopped the completer, not the line */
	return r;
}

/* Load libedit once; 0 or -1 with *cause (dlerror's text). */
static int
aux_load(const char **cause)
{
	static const char *const names[] = {
#define X(f) #f,
		EL_FUNCS
#undef X
	};
	static void *const slots[] = {
#define X(f) &le.f,
		EL_FUNCS
#undef X
	};

	return vl_dlopen(VL_LIBEDIT_SONAME, names, slots,
	    sizeof names / sizeof names[0], &le_handle, cause);
}

/* Create the EditLine and its history for e. */
static int
aux_open(struct editor *e, const char *name, int editrc, char **cause)
{
	HistEvent	 ev;
	const char	*why = NULL;

	if (aux_load(&why) == -1) {
		*cause = xstrdup(why != NULL ? why : "cannot load " VL_LIBEDIT_SONAME);
		return -1;
	}
	setlocale(LC_CTYPE, "");	/* libedit decodes input by locale */
	aux_ttysignals();
	e->fd = fileno(stdin);
	if ((e->el = le.el_init(name, stdin, stdout, stderr)) == NULL) {
		*cause = xstrdup("cannot initialise libedit");
		return -1;
	}
	e->hist = le.history_init();
	le.history(e->hist, &ev, H_SETSIZE, EDIT_HISTSIZE);
	le.history(e->hist, &ev, H_SETUNIQUE, 1);
	le.el_set(e->el, EL_CLIENTDATA, (void *)e);
	le.el_set(e->el, EL_EDITOR, "emacs");
	le.el_set(e->el, EL_PROMPT, aux_prompt);
	le.el_set(e->el, EL_HIST, le.history, e->hist);
	le.el_set(e->el, EL_GETCFN, aux_getc);
	/* The wide call: narrow EL_ADDFN leaks its copies of the strings. */
	le.el_wset(e->el, EL_ADDFN, L"vl-complete",
	    L"complete Lua names and venueless values", aux_complete);
	le.el_set(e->el, EL_BIND, "^I", "vl-complete", NULL);
	le.el_set(e->el, EL_BIND, "^R", "em-inc-search-prev", NULL);
	if (editrc)
		le.el_source(e->el, NULL);	/* ~/.editrc, after our bindings */
	return 0;
}

/* Check that arg 1 is an open editor. */
static struct editor *
aux_check(lua_State *L)
{
	struct editor	*e = luaL_checkudata(L, 1, VL_EDITOR);

	if (e->el == NULL)
		luaL_error(L, "edit: the editor is closed");
	return e;
}

/* editor:close(), also __gc and __close; idempotent. */
static int
ed_close(lua_State *L)
{
	struct editor	*e = luaL_checkudata(L, 1, VL_EDITOR);

	if (e->el != NULL)
		le.el_end(e->el);
	if (e->hist != NULL)
		le.history_end(e->hist);
	luaL_unref(L, LUA_REGISTRYINDEX, e->completer);
	free(e->prompt);
	e->el = NULL;
	e->hist = NULL;
	e->prompt = NULL;
	e->completer = LUA_NOREF;
	return 0;
}

/* Push a new editor: created closed, then opened. */
static struct editor *
aux_new(lua_State *L, const char *name, int editrc)
{
	struct editor	*e;
	char		*cause = NULL;

	e = lua_newuserdatauv(L, sizeof *e, 0);
	memset(e, 0, sizeof *e);
	e->completer = LUA_NOREF;
	luaL_setmetatable(L, VL_EDITOR);
	if (aux_open(e, name, editrc, &cause) == -1) {
		lua_pushstring(L, cause);
		free(cause);
		lua_error(L);
	}
	return e;
}

/* edit.new([{name=, editrc=}]) -> editor */
static int
ledit_new(lua_State *L)
{
	const char	*name = "venueless";
	int		 editrc = 1;

	if (!lua_isnoneornil(L, 1)) {
		luaL_checktype(L, 1, LUA_TTABLE);
		if (lua_getfield(L, 1, "name") == LUA_TSTRING)
			name = lua_tostring(L, -1);
		if (lua_getfield(L, 1, "editrc") != LUA_TNIL)
			editrc = lua_toboolean(L, -1);
		lua_pop(L, 2);
	}
	aux_new(L, name, editrc);
	return 1;
}

/*
 * Read a line with prompt; push it without its newline, or nil at end
 * of file, or nil, "interrupted" after Ctrl-C. Returns the count pushed.
 */
static int
aux_gets(lua_State *L, struct editor *e, const char *prompt)
{
	const char	*line;
	int		 count, err;

	free(e->prompt);
	e->prompt = xstrdup(prompt);
	e->L = L;
	e->intr = 0;
	aux_clearintr(L);
	/* Raw mode before the prompt shows: a Ctrl-D typed at once counts. */
	if (isatty(e->fd))
		le.el_set(e->el, EL_PREP_TERM, 1);
	line = le.el_gets(e->el, &count);
	err = errno;
	e->L = NULL;
	if (e->intr || (line == NULL && count < 0 && err == EINTR)) {
		aux_clearintr(L);
		lua_pushnil(L);
		lua_pushliteral(L, "interrupted");
		return 2;
	}
	if (line == NULL || count <= 0) {
		lua_pushnil(L);
		return 1;
	}
	while (count > 0 && (line[count - 1] == '\n' || line[count - 1] == '\r'))
		count--;
	lua_pushlstring(L, line, (size_t)count);
	return 1;
}

/* editor:gets([prompt]) -> line | nil (end of file) | nil, "interrupted" */
static int
ed_gets(lua_State *L)
{
	struct editor	*e = aux_check(L);

	return aux_gets(L, e, luaL_optstring(L, 2, "> "));
}

/* editor:set_completer(fn | nil): fn(line, cursor) -> cands, start [, hint] */
static int
ed_set_completer(lua_State *L)
{
	struct editor	*e = aux_check(L);

	if (!lua_isnil(L, 2))
		luaL_checktype(L, 2, LUA_TFUNCTION);
	luaL_unref(L, LUA_REGISTRYINDEX, e->completer);
	lua_settop(L, 2);
	e->completer = lua_isnil(L, 2) ? LUA_NOREF :
	    luaL_ref(L, LUA_REGISTRYINDEX);
	return 0;
}

/* Delete every entry equal to line, so the history keeps one of each. */
static void
aux_histdedup(History *h, const char *line)
{
	HistEvent	 ev;
	int		 nums[64], n = 0, i;

	for (i = le.history(h, &ev, H_FIRST); i == 0 && n < 64;
	    i = le.history(h, &ev, H_NEXT))
		if (strcmp(ev.str, line) == 0)
			nums[n++] = ev.num;
	/* H_DEL hands back a copy of the deleted entry: ours to free. */
	for (i = 0; i < n; i++)
		if (le.history(h, &ev, H_DEL, nums[i]) == 0)
			free((void *)ev.str);
}

/* editor:history_add(line): the newest entry, earlier copies removed. */
static int
ed_history_add(lua_State *L)
{
	struct editor	*e = aux_check(L);
	const char	*line = luaL_checkstring(L, 2);
	HistEvent	 ev;

	if (*line == '\0')
		return 0;
	aux_histdedup(e->hist, line);
	le.history(e->hist, &ev, H_ENTER, line);
	return 0;
}

/* editor:history_list() -> entries, oldest first */
static int
ed_history_list(lua_State *L)
{
	struct editor	*e = aux_check(L);
	HistEvent	 ev;
	lua_Integer	 n = 0;
	int		 r;

	lua_newtable(L);
	for (r = le.history(e->hist, &ev, H_LAST); r == 0;
	    r = le.history(e->hist, &ev, H_PREV)) {
		lua_pushstring(L, ev.str);
		lua_rawseti(L, -2, ++n);
	}
	return 1;
}

/* Decode one history file line in place: \\ and \n escapes. */
static void
aux_unescape(char *s)
{
	char	*w = s;

	for (; *s != '\0'; s++) {
		if (*s == '\\' && (s[1] == '\\' || s[1] == 'n')) {
			*w++ = s[1] == 'n' ? '\n' : '\\';
			s++;
		} else if (*s != '\n')
			*w++ = *s;
	}
	*w = '\0';
}

/* editor:history_load(path) -> true | nil, message; a missing file is empty. */
static int
ed_history_load(lua_State *L)
{
	struct editor	*e = aux_check(L);
	const char	*path = luaL_checkstring(L, 2);
	HistEvent	 ev;
	FILE		*f;
	char		*line = NULL;
	size_t		 cap = 0;

	if ((f = fopen(path, "r")) == NULL) {
		if (errno == ENOENT) {
			lua_pushboolean(L, 1);
			return 1;
		}
		return luaL_fileresult(L, 0, path);
	}
	while (getline(&line, &cap, f) != -1) {
		aux_unescape(line);
		if (*line != '\0')
			le.history(e->hist, &ev, H_ENTER, line);
	}
	free(line);
	fclose(f);
	lua_pushboolean(L, 1);
	return 1;
}

/* Write the entries oldest first, escaped, to f; 0 or -1. */
static int
aux_histwrite(History *h, FILE *f)
{
	HistEvent	 ev;
	const char	*s;
	int		 r;

	for (r = le.history(h, &ev, H_LAST); r == 0; r = le.history(h, &ev, H_PREV)) {
		for (s = ev.str; *s != '\0'; s++) {
			if (*s == '\\')
				fputs("\\\\", f);
			else if (*s == '\n')
				fputs(s[1] == '\0' ? "" : "\\n", f);
			else
				fputc(*s, f);
		}
		fputc('\n', f);
	}
	return ferror(f) ? -1 : 0;
}

/* fill for vl_write_private */
static int
aux_histfill(FILE *f, void *hist)
{
	return aux_histwrite(hist, f);
}

/*
 * editor:history_save(path) -> true | nil, message; mode 0600, atomic:
 * the history may hold data worth protecting, only the owner reads it.
 */
static int
ed_history_save(lua_State *L)
{
	struct editor	*e = aux_check(L);
	const char	*path = luaL_checkstring(L, 2);
	char		*failed = NULL;
	int		 r;

	if (vl_write_private(path, aux_histfill, e->hist, &failed) == 0) {
		lua_pushboolean(L, 1);
		return 1;
	}
	r = luaL_fileresult(L, 0, failed);
	free(failed);
	return r;
}

/*
 * edit.readline(prompt) -> line | nil at end of file; raises
 * "interrupted" on Ctrl-C. One hidden editor, made on first use.
 */
static int
ledit_readline(lua_State *L)
{
	const char	*prompt = luaL_optstring(L, 1, "");
	struct editor	*e;
	int		 n;

	if (lua_getiuservalue(L, lua_upvalueindex(1), 1) != LUA_TUSERDATA) {
		lua_pop(L, 1);
		aux_new(L, "venueless", 1);
		lua_pushvalue(L, -1);
		lua_setiuservalue(L, lua_upvalueindex(1), 1);
	}
	e = lua_touserdata(L, -1);
	n = aux_gets(L, e, prompt);
	/* End the prompt's line so that what the caller prints next starts afresh. */
	if ((n == 2 || lua_isnil(L, -1)) && isatty(e->fd)) {
		fputc('\n', stdout);
		fflush(stdout);
	}
	if (n == 2) {
		vl_interrupted = 1;
		vl_check_interrupt(L);
	}
	return 1;
}

/*
 * Read one line from fd into buf, byte by byte through the one
 * interruptible wait: 1 a line (*len bytes, no newline), 0 end of file
 * before any byte, -1 an error or a line of cap bytes or more (errno
 * EMSGSIZE), VL_WAIT_INTR after Ctrl-C or SIGTERM.
 */
static int
aux_passline(int fd, char *buf, size_t cap, size_t *len)
{
	ssize_t		 n;
	int		 r;
	char		 c;

	for (*len = 0;;) {
		if ((r = vl_wait_fd(fd, POLLIN, 0, 0)) == VL_WAIT_INTR)
			return VL_WAIT_INTR;
		if (r < 0)
			return -1;
		if ((n = read(fd, &c, 1)) == 0)
			return *len > 0;
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		if (c == '\n' || c == '\r')
			return 1;
		if (*len + 1 >= cap) {
			errno = EMSGSIZE;
			return -1;
		}
		buf[(*len)++] = c;
	}
}

/*
 * Read a line from the terminal fd with echo off, the prompt on stderr;
 * the terminal's modes are restored before returning, whatever ended
 * the read. Canonical mode and signals on, whatever the caller left
 * (libedit's raw mode), so the kernel edits the line and Ctrl-C is
 * SIGINT. TCSAFLUSH first: nothing typed before the prompt counts.
 */
static int
aux_readpass(int fd, const char *prompt, char *buf, size_t cap, size_t *len)
{
	struct termios	 old, quiet;
	int		 r, err;

	if (tcgetattr(fd, &old) == -1)
		return -1;
	quiet = old;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	quiet.c_lflag |= ICANON | ISIG;
	quiet.c_iflag |= ICRNL;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) == -1)
		return -1;
	fputs(prompt, stderr);
	fflush(stderr);
	r = aux_passline(fd, buf, cap, len);
	err = errno;
	tcsetattr(fd, TCSADRAIN, &old);
	fputc('\n', stderr);	/* the Enter (or ^C) that was not echoed */
	fflush(stderr);
	errno = err;
	return r;
}

/*
 * edit.readpass([prompt]) -> line | nil at end of file: a password from
 * the terminal on stdin, not echoed, never in any history. Ctrl-C
 * raises "interrupted"; stdin not a terminal raises.
 */
static int
ledit_readpass(lua_State *L)
{
	const char	*prompt = luaL_optstring(L, 1, "Password: ");
	char		 buf[EDIT_PASSMAX];
	size_t		 len = 0;
	int		 r, err;

	if (!isatty(STDIN_FILENO))
		return luaL_error(L, "edit.readpass: standard input is not a "
		    "terminal");
	r = aux_readpass(STDIN_FILENO, prompt, buf, sizeof buf, &len);
	err = errno;
	if (r == 1)
		lua_pushlstring(L, buf, len);
	explicit_bzero(buf, sizeof buf);
	if (r == VL_WAIT_INTR) {
		vl_interrupted = 1;	/* raised here, as readline does */
		vl_check_interrupt(L);
	}
	if (r == -1)
		return luaL_error(L, "edit.readpass: %s", err == EMSGSIZE ?
		    "the line is longer than 4095 bytes" : strerror(err));
	if (r == 0)
		lua_pushnil(L);
	return 1;
}

/* Stop the loop after SIGTERM: raise "interrupted" for good. */
static void
aux_checkterm(lua_State *L)
{
	if (!vl_terminated)
		return;
	vl_interrupted = 1;
	vl_check_interrupt(L);
}

/*
 * edit.loop(step [, onerror]): call step() until it returns false, each
 * call protected, so Ctrl-C anywhere in the shell's own Lua code ends
 * that step only. An error goes to onerror(err), protected too.
 */
static int
ledit_loop(lua_State *L)
{
	int	 r;

	luaL_checktype(L, 1, LUA_TFUNCTION);
	lua_settop(L, 2);
	for (;;) {
		lua_pushvalue(L, 1);
		r = lua_pcall(L, 0, 1, 0);
		aux_clearintr(L);
		aux_checkterm(L);
		if (r == LUA_OK) {
			if (lua_toboolean(L, -1) == 0 && !lua_isnil(L, -1))
				return 0;
		} else if (!lua_isnil(L, 2)) {
			lua_pushvalue(L, 2);
			lua_insert(L, -2);
			lua_pcall(L, 1, 0, 0);
			aux_clearintr(L);
			aux_checkterm(L);
		}
		lua_settop(L, 2);
	}
}

static const luaL_Reg ed_meth[] = {
	{ "gets", ed_gets },
	{ "set_completer", ed_set_completer },
	{ "history_add", ed_history_add },
	{ "history_list", ed_history_list },
	{ "history_load", ed_history_load },
	{ "history_save", ed_history_save },
	{ "close", ed_close },
	{ NULL, NULL }
};

static const luaL_Reg ed_metameth[] = {
	{ "__gc", ed_close },
	{ "__close", ed_close },
	{ "__index", NULL },
	{ NULL, NULL }
};

static const luaL_Reg ledit_funcs[] = {
	{ "new", ledit_new },
	{ "loop", ledit_loop },
	{ "columns", ledit_columns },
	{ "readpass", ledit_readpass },
	{ NULL, NULL }
};

/* The editor metatable. */
static void
createmeta(lua_State *L)
{
	luaL_newmetatable(L, VL_EDITOR);
	luaL_setfuncs(L, ed_metameth, 0);
	luaL_newlib(L, ed_meth);
	lua_setfield(L, -2, "__index");	/* metatable.__index = methods */
	lua_pop(L, 1);
}

int
luaopen_venueless_edit(lua_State *L)
{
	createmeta(L);
	luaL_newlib(L, ledit_funcs);
	lua_newuserdatauv(L, 0, 1);	/* holds readline's editor */
	lua_pushcclosure(L, ledit_readline, 1);
	lua_setfield(L, -2, "readline");
	return 1;
}
