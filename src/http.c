/*
 * venueless.http: HTTP GETs to many servers at once, each with its own
 * timeout, on libcurl's multi interface. libcurl is loaded with dlopen
 * when the module is first required: linking it would load TLS, IDN,
 * LDAP and HTTP/2 libraries at every start of the binary.
 */
#include "config.h"

#define CURL_DISABLE_TYPECHECK	/* setopt through a pointer, not the macro */

#include <sys/socket.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "venueless.h"

#define VL_HTTPBATCH	"venueless.http.batch"
#define HTTP_TIMEOUT	10.0		/* seconds, when opts.timeout is not given */
#define HTTP_MAXSIZE	(16 << 20)	/* bytes of body kept per answer */
#define HTTP_REDIRECTS	5L

/* The libcurl functions we use, resolved with dlsym. */
#define CURL_FUNCS \
	X(curl_global_init) X(curl_easy_init) X(curl_easy_setopt) \
	X(curl_easy_getinfo) X(curl_easy_cleanup) X(curl_easy_strerror) \
	X(curl_multi_init) X(curl_multi_add_handle) \
	X(curl_multi_remove_handle) X(curl_multi_perform) X(curl_multi_poll) \
	X(curl_multi_info_read) X(curl_multi_cleanup) X(curl_multi_strerror)

static struct {
#define X(f) __typeof__(f) *f;
	CURL_FUNCS
#undef X
} cu;
static void	*cu_handle;

/* One request and what came back. */
struct req {
	CURL		*easy;
	int		 added;		/* to the multi handle */
	int		 done;
	CURLcode	 rc;
	long		 status;
	int		 toolarge;
	size_t		 max;
	struct vl_buf	 body;
	char		 err[CURL_ERROR_SIZE];
};

/*
 * A batch of requests, boxed so that raising frees everything (__gc).
 * sp: a socket pair; while we wait, vl_abort_fd is sp[0], which the
 * signal handler shuts down, waking the poll on sp[1].
 */
struct batch {
	CURLM		*multi;
	struct req	*reqs;
	size_t		 n;
	int		 sp[2];
};

/* Free every handle, buffer and descriptor (__gc; idempotent). */
static int
batch_gc(lua_State *L)
{
	struct batch	*b = luaL_checkudata(L, 1, VL_HTTPBATCH);
	struct req	*r;
	size_t		 i;

	for (i = 0; b->reqs != NULL && i < b->n; i++) {
		r = &b->reqs[i];
		if (r->added)
			cu.curl_multi_remove_handle(b->multi, r->easy);
		if (r->easy != NULL)
			cu.curl_easy_cleanup(r->easy);
		free(r->body.p);
	}
	free(b->reqs);
	b->reqs = NULL;
	b->n = 0;
	if (b->multi != NULL)
		cu.curl_multi_cleanup(b->multi);
	b->multi = NULL;
	for (i = 0; i < 2; i++) {
		if (b->sp[i] >= 0)
			close(b->sp[i]);
		b->sp[i] = -1;
	}
	return 0;
}

/* libcurl: body bytes; refuse (an error) past the request's limit. */
static size_t
aux_write(char *p, size_t size, size_t nmemb, void *ud)
{
	struct req	*r = ud;
	size_t		 len = size * nmemb;

	if (len > r->max - r->body.len) {
		r->toolarge = 1;
		return 0;
	}
	vl_buf_add(&r->body, p, len);
	return len;
}

/* Set up one easy handle for url; CURLE_OK or why not. */
static CURLcode
aux_setup(struct req *r, const char *url, long timeout_ms)
{
	CURL		*e = r->easy;
	CURLcode	 rc;

	if ((rc = cu.curl_easy_setopt(e, CURLOPT_URL, url)) != CURLE_OK ||
	    (rc = cu.curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR,
	    "http,https")) != CURLE_OK ||
	    (rc = cu.curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR,
	    "http,https")) != CURLE_OK)
		return rc;
	cu.curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->err);
	cu.curl_easy_setopt(e, CURLOPT_PRIVATE, (void *)r);
	cu.curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, aux_write);
	cu.curl_easy_setopt(e, CURLOPT_WRITEDATA, (void *)r);
	cu.curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
	cu.curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);	/* our handlers */
	cu.curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
	cu.curl_easy_setopt(e, CURLOPT_MAXREDIRS, HTTP_REDIRECTS);
	cu.curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	cu.curl_easy_setopt(e, CURLOPT_USERAGENT, "venueless/" PACKAGE_VERSION);
	return CURLE_OK;
}

/* The URL of request i (a string, or a table with a url field). */
static const char *
aux_url(lua_State *L, int i)
{
	const char	*url;
	size_t		 len;

	if (lua_rawgeti(L, 1, i) == LUA_TTABLE) {
		lua_getfield(L, -1, "url");
		lua_remove(L, -2);
	}
	if ((url = lua_tolstring(L, -1, &len)) == NULL)
		luaL_error(L, "bad request #%d to 'get_many' (a URL string or "
		    "{url=} expected)", i);
	if (strlen(url) != len)
		luaL_error(L, "bad request #%d to 'get_many' (NUL in URL)", i);
	lua_pop(L, 1);		/* still referenced from the requests table */
	return url;
}

/* A request finished: keep its result and take it off the multi handle. */
static void
aux_finished(struct batch *b, CURLMsg *m)
{
	struct req	*r;
	char		*p = NULL;

	cu.curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &p);
	if ((r = (struct req *)p) == NULL)
		return;
	r->done = 1;
	r->rc = m->data.result;
	cu.curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &r->status);
	cu.curl_multi_remove_handle(b->multi, r->easy);
	r->added = 0;
}

/*
 * Run the transfers until all are done or a signal came: 0, 1 when
 * interrupted, or -1 with *cause.
 */
static int
aux_run(struct batch *b, const char **cause)
{
	struct curl_waitfd	 wake;
	CURLMsg			*m;
	CURLMcode		 mc = CURLM_OK;
	int			 running = 1, left, intr;

	wake.fd = b->sp[1];
	wake.events = CURL_WAIT_POLLIN;
	vl_abort_fd = b->sp[0];	/* from here a signal wakes the poll */
	while (!vl_interrupted && running > 0) {
		if ((mc = cu.curl_multi_perform(b->multi, &running)) != CURLM_OK)
			break;
		while ((m = cu.curl_multi_info_read(b->multi, &left)) != NULL)
			if (m->msg == CURLMSG_DONE)
				aux_finished(b, m);
		if (running > 0 && (mc = cu.curl_multi_poll(b->multi, &wake, 1,
		    1000, NULL)) != CURLM_OK)
			break;
	}
	vl_abort_fd = -1;
	intr = vl_interrupted != 0;
	if (mc != CURLM_OK && !intr) {
		*cause = cu.curl_multi_strerror(mc);
		return -1;
	}
	return intr;
}

/* Push the result table of one request. */
static void
aux_pushresult(lua_State *L, struct req *r)
{
	lua_createtable(L, 0, 3);
	if (r->done && r->rc == CURLE_OK) {
		lua_pushinteger(L, r->status);
		lua_setfield(L, -2, "status");
		lua_pushlstring(L, r->body.p != NULL ? r->body.p : "", r->body.len);
		lua_setfield(L, -2, "body");
		return;
	}
	if (r->toolarge)
		lua_pushfstring(L, "answer larger than %d bytes", (int)r->max);
	else
		lua_pushstring(L, r->err[0] != '\0' ? r->err :
		    cu.curl_easy_strerror(r->rc));
	lua_setfield(L, -2, "error");
	lua_pushstring(L, r->toolarge ? "toolarge" :
	    r->rc == CURLE_OPERATION_TIMEDOUT ? "timeout" : "transport");
	lua_setfield(L, -2, "code");
}

/* Read opts (argument 2): the timeout in ms and the body limit. */
static void
aux_opts(lua_State *L, long *timeout_ms, size_t *max)
{
	lua_Number	 t = HTTP_TIMEOUT;
	lua_Integer	 m = HTTP_MAXSIZE;

	if (!lua_isnoneornil(L, 2)) {
		luaL_checktype(L, 2, LUA_TTABLE);
		if (lua_getfield(L, 2, "timeout") != LUA_TNIL)
			t = luaL_checknumber(L, -1);
		if (lua_getfield(L, 2, "max_size") != LUA_TNIL)
			m = luaL_checkinteger(L, -1);
		lua_pop(L, 2);
	}
	luaL_argcheck(L, t > 0 && t <= 86400, 2, "timeout: 0 < seconds <= 86400");
	luaL_argcheck(L, m >= 0 && m <= INT32_MAX, 2, "max_size out of range");
	*timeout_ms = (long)(t * 1000 + 0.5) > 0 ? (long)(t * 1000 + 0.5) : 1;
	*max = (size_t)m;
}

/* Create the batch box (closed) and its requests, all added. */
static struct batch *
aux_newbatch(lua_State *L, size_t n, long timeout_ms, size_t max)
{
	struct batch	*b;
	struct req	*r;
	size_t		 i;

	b = lua_newuserdatauv(L, sizeof *b, 0);
	memset(b, 0, sizeof *b);
	b->sp[0] = b->sp[1] = -1;
	luaL_setmetatable(L, VL_HTTPBATCH);
	b->reqs = xcalloc(n > 0 ? n : 1, sizeof *b->reqs);
	b->n = n;
	if ((b->multi = cu.curl_multi_init()) == NULL ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, b->sp) == -1)
		vl_fail(L, "http: cannot set up the transfers", NULL);
	for (i = 0; i < n; i++) {
		r = &b->reqs[i];
		r->max = max;
		if ((r->easy = cu.curl_easy_init()) == NULL)
			vl_fail(L, "http: cannot set up the transfers", NULL);
		if ((r->rc = aux_setup(r, aux_url(L, (int)i + 1), timeout_ms)) !=
		    CURLE_OK)
			r->done = 1;
		else if (cu.curl_multi_add_handle(b->multi, r->easy) == CURLM_OK)
			r->added = 1;
		else
			vl_fail(L, "http: cannot set up the transfers", NULL);
	}
	return b;
}

/* http.get_many(requests [, {timeout=, max_size=}]) -> results in order */
static int
lhttp_get_many(lua_State *L)
{
	struct batch	*b;
	const char	*cause = NULL;
	long		 timeout_ms;
	size_t		 n, max, i;
	int		 r;

	luaL_checktype(L, 1, LUA_TTABLE);
	aux_opts(L, &timeout_ms, &max);
	n = (size_t)luaL_len(L, 1);
	lua_settop(L, 2);
	b = aux_newbatch(L, n, timeout_ms, max);	/* 3 */
	if ((r = aux_run(b, &cause)) != 0) {
		lua_pushcfunction(L, batch_gc);
		lua_pushvalue(L, 3);
		lua_call(L, 1, 0);	/* clean up, then raise */
		if (r == 1)
			vl_check_interrupt(L);
		return vl_error(L, VL_EXIT_FAILURE, "http: %s", cause);
	}
	lua_createtable(L, (int)n, 0);
	for (i = 0; i < n; i++) {
		aux_pushresult(L, &b->reqs[i]);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_pushcfunction(L, batch_gc);
	lua_pushvalue(L, 3);
	lua_call(L, 1, 0);		/* free now, not at the next cycle */
	return 1;
}

static const luaL_Reg lhttp_funcs[] = {
	{ "get_many", lhttp_get_many },
	{ NULL, NULL }
};

/* Load libcurl once and initialise it; 0 or -1 with *cause. */
static int
aux_load(const char **cause)
{
	static const char *const names[] = {
#define X(f) #f,
		CURL_FUNCS
#undef X
	};
	static void *const slots[] = {
#define X(f) &cu.f,
		CURL_FUNCS
#undef X
	};
	static int	 inited;

	if (vl_dlopen(VL_LIBCURL_SONAME, names, slots,
	    sizeof names / sizeof names[0], &cu_handle, cause) == -1)
		return -1;
	if (!inited && cu.curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		*cause = "curl_global_init failed";
		return -1;
	}
	inited = 1;
	return 0;
}

int
luaopen_venueless_http(lua_State *L)
{
	const char	*cause;

	if (aux_load(&cause) == -1)
		return luaL_error(L, "cannot load libcurl: %s", cause);
	if (luaL_newmetatable(L, VL_HTTPBATCH)) {
		lua_pushcfunction(L, batch_gc);
		lua_setfield(L, -2, "__gc");
	}
	lua_pop(L, 1);
	luaL_newlib(L, lhttp_funcs);
	return 1;
}
