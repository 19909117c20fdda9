/*
 * venueless.redis: sharded Redis connections over hiredis. Every wait is a
 * vl_wait_fd (wait.c) so Ctrl-C abandons a call at once and connecting
 * times out; a pipeline streams commands and replies so memory stays
 * bounded. URLs are parsed by redisurl.c.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <hiredis.h>

#include "venueless.h"

/*
 * The hiredis functions we use, resolved with dlsym at the first connect:
 * a linked library costs every start its mapping and relocations
 * (bench/startup). The call sites keep hiredis' names, each a macro for
 * its pointer (defined after aux_load, which needs the plain names).
 */
#define HIREDIS_FUNCS \
	X(redisConnectNonBlock) X(redisConnectUnixNonBlock) X(redisFree) \
	X(redisBufferRead) X(redisBufferWrite) X(redisGetReplyFromReader) \
	X(redisAppendCommandArgv)

static struct {
#define X(f) __typeof__(f) *f;
	HIREDIS_FUNCS
#undef X
} hr;
static void	*hr_handle;

/* Load hiredis once; 0 or -1 with *cause (dlerror's text). */
static int
aux_load(const char **cause)
{
	static const char *const names[] = {
#define X(f) #f,
		HIREDIS_FUNCS
#undef X
	};
	static void *const slots[] = {
#define X(f) &hr.f,
		HIREDIS_FUNCS
#undef X
	};

	return vl_dlopen(VL_LIBHIREDIS_SONAME, names, slots,
	    sizeof names / sizeof names[0], &hr_handle, cause);
}

#define redisConnectNonBlock		hr.redisConnectNonBlock
#define redisConnectUnixNonBlock	hr.redisConnectUnixNonBlock
#define redisFree			hr.redisFree
#define redisBufferRead			hr.redisBufferRead
#define redisBufferWrite		hr.redisBufferWrite
#define redisGetReplyFromReader		hr.redisGetReplyFromReader
#define redisAppendCommandArgv		hr.redisAppendCommandArgv

#define VL_REDIS_CONN	"venueless.redis.conn"
#define CONNECT_TIMEOUT	5000		/* ms for connect, AUTH and SELECT */
#define PIPE_CHUNK	(64 * 1024)	/* bytes queued before writing more */

/*
 * Replies as hiredis builds them, in an arena of blocks (the reply
 * functions below) rather than a malloc per element: a connection's pool
 * is emptied after each reply is converted; a holder of kept replies
 * (a userdata, so that raising frees them: __gc) keeps them whole.
 */
struct block {
	struct block	*next;
	size_t		 used, cap;
	max_align_t	 data[];
};
struct kept {
	struct block	*blocks;
	redisReply	**r;	/* the replies, in order (malloc'd) */
	int		 n, cap;
	redisReply	*building;	/* the reply being read, or NULL */
	size_t		 read;	/* elements of its array read so far */
};
#define VL_REDIS_KEPT	"venueless.redis.kept"

/* A connection object: one shard, connected lazily. */
struct conn {
	int		 index;		/* shard number */
	int		 closed;
	struct vl_redisurl url;
	redisContext	*ctx;		/* NULL while disconnected */
	struct kept	 pool;		/* the replies being read */
	int		 busy;		/* an exchange is running (or raised) */
	const char	**argv;		/* scratch for one command */
	size_t		*argvlen;
	size_t		 argcap;
	int		 connect_ms;	/* connect + AUTH + SELECT budget */
};

/* One exchange: n commands out and n replies in, through callbacks. */
struct xfer {
	int	 n, sent, got;
	int	 (*append)(lua_State *, struct conn *, struct xfer *);
	void	 (*reply)(lua_State *, struct xfer *, redisReply *);
	int	 arg;		/* stack index of the command or cmds */
	int	 nargs;		/* arguments of a single call */
	int	 results;	/* stack index of a pipeline's results */
	int	 failed;	/* an error reply was seen */
	int	 grouped;	/* a command of the pipeline has a by */
	double	 deadline;	/* monotonic seconds, 0 for none */
	double	 timeout;	/* seconds without progress, 0 for none */
	struct kept *kept;	/* replies kept as they are, or NULL */
	void	*ud;		/* the callbacks' own state */
	/* once everything is written, work to do while Redis answers */
	void	 (*idle)(lua_State *, struct xfer *);
	/* before each write, set n and ready: commands that can go now */
	void	 (*plan)(lua_State *, struct xfer *);
	int	 ready;
};


/* What Redis says (and then closes) to a long unauthenticated command. */
#define UNAUTHENTICATED	"ERR Protocol error: unauthenticated"

#define ARENA_BLOCK	(64 * 1024)

/* Free the kept replies. */
static void
aux_freekept(struct kept *k)
{
	struct block	*b;

	while ((b = k->blocks) != NULL) {
		k->blocks = b->next;
		free(b);
	}
	free(k->r);
	k->r = NULL;
	k->n = k->cap = 0;
	k->building = NULL;
}

/* Empty a pool for the next reply, keeping one block to reuse. */
static void
aux_resetpool(struct kept *k)
{
	struct block	*b, *keep = NULL;

	while ((b = k->blocks) != NULL) {
		k->blocks = b->next;
		if (keep == NULL && b->cap == ARENA_BLOCK)
			keep = b;
		else
			free(b);
	}
	if (keep != NULL) {
		keep->used = 0;
		keep->next = NULL;
		k->blocks = keep;
	}
	k->building = NULL;
}

/* Keep a complete reply. */
static void
aux_keep(struct kept *k, redisReply *r)
{
	if (k->n == k->cap) {
		k->cap = k->cap == 0 ? 8 : 2 * k->cap;
		k->r = xrealloc(k->r, (size_t)k->cap * sizeof k->r[0]);
	}
	k->r[k->n++] = r;
	k->building = NULL;
}

/* __gc of a reply holder. */
static int
kept_gc(lua_State *L)
{
	aux_freekept(luaL_checkudata(L, 1, VL_REDIS_KEPT));
	return 0;
}

/* Push an empty reply holder. */
static struct kept *
aux_newkept(lua_State *L)
{
	struct kept	*k;

	k = lua_newuserdatauv(L, sizeof *k, 0);
	memset(k, 0, sizeof *k);
	luaL_setmetatable(L, VL_REDIS_KEPT);
	return k;
}

/* n bytes from k's arena, aligned for any object when align is set. */
static void *
aux_arena(struct kept *k, size_t n, int align)
{
	struct block	*b = k->blocks;
	size_t		 a = _Alignof(max_align_t), at;

	at = b == NULL ? 0 : align ? (b->used + a - 1) / a * a : b->used;
	if (b == NULL || b->cap < at || b->cap - at < n) {
		b = xmalloc(sizeof *b + (n > ARENA_BLOCK ? n : ARENA_BLOCK));
		b->cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		b->next = k->blocks;
		k->blocks = b;
		at = 0;
	}
	b->used = at + n;
	return (char *)b->data + at;
}

/* A reply object of task t in the arena. */
static redisReply *
arena_reply(const redisReadTask *t, int type)
{
	redisReply	*r = aux_arena(t->privdata, sizeof *r, 1);

	memset(r, 0, sizeof *r);
	r->type = type;
	return r;
}

/*
 * Link r, now filled in, into its parent; count it read when the parent
 * is the reply's array (a labels listing sends MGETs for the fields
 * read so far while the rest of HGETALL arrives).
 */
static void *
arena_link(const redisReadTask *t, redisReply *r)
{
	struct kept	*k = t->privdata;

	if (t->parent == NULL)
		k->building = r, k->read = 0;
	else {
		((redisReply *)t->parent->obj)->element[t->idx] = r;
		if (t->parent->parent == NULL)
			k->read = (size_t)t->idx + 1;
	}
	return r;
}

static void *
arena_string(const redisReadTask *t, char *s, size_t len)
{
	redisReply	*r = arena_reply(t, t->type);

	r->str = aux_arena(t->privdata, len + 1, 0);
	memcpy(r->str, s, len);
	r->str[len] = '\0';
	r->len = len;
	return arena_link(t, r);
}

static void *
arena_array(const redisReadTask *t, int n)
{
	redisReply	*r = arena_reply(t, REDIS_REPLY_ARRAY);

	r->elements = n > 0 ? (size_t)n : 0;
	if (n > 0)
		r->element = aux_arena(t->privdata, r->elements *
		    sizeof r->element[0], 1);
	return arena_link(t, r);
}

static void *
arena_integer(const redisReadTask *t, long long v)
{
	redisReply	*r = arena_reply(t, REDIS_REPLY_INTEGER);

	r->integer = v;
	return arena_link(t, r);
}

static void *
arena_nil(const redisReadTask *t)
{
	return arena_link(t, arena_reply(t, REDIS_REPLY_NIL));
}

/* The arena is freed whole, by the holder. */
static void
arena_free(void *r)
{
	(void)r;
}

static redisReplyObjectFunctions arena_functions = {
	arena_string, arena_array, arena_integer, arena_nil, arena_free
};


/* zlib's crc32 table (IEEE 802.3, reflected polynomial 0xedb88320). */
static const uint32_t crc_table[256] = {
	0x00000000, 0x77073096, 0xee0e612c, 0x990951ba, 0x076dc419, 0x706af48f,
	0xe963a535, 0x9e6495a3, 0x0edb8832, 0x79dcb8a4, 0xe0d5e91e, 0x97d2d988,
	0x09b64c2b, 0x7eb17cbd, 0xe7b82d07, 0x90bf1d91, 0x1db71064, 0x6ab020f2,
	0xf3b97148, 0x84be41de, 0x1adad47d, 0x6ddde4eb, 0xf4d4b551, 0x83d385c7,
	0x136c9856, 0x646ba8c0, 0xfd62f97a, 0x8a65c9ec, 0x14015c4f, 0x63066cd9,
	0xfa0f3d63, 0x8d080df5, 0x3b6e20c8, 0x4c69105e, 0xd56041e4, 0xa2677172,
	0x3c03e4d1, 0x4b04d447, 0xd20d85fd, 0xa50ab56b, 0x35b5a8fa, 0x42b2986c,
	0xdbbbc9d6, 0xacbcf940, 0x32d86ce3, 0x45df5c75, 0xdcd60dcf, 0xabd13d59,
	0x26d930ac, 0x51de003a, 0xc8d75180, 0xbfd06116, 0x21b4f4b5, 0x56b3c423,
	0xcfba9599, 0xb8bda50f, 0x2802b89e, 0x5f058808, 0xc60cd9b2, 0xb10be924,
	0x2f6f7c87, 0x58684c11, 0xc1611dab, 0xb6662d3d, 0x76dc4190, 0x01db7106,
	0x98d220bc, 0xefd5102a, 0x71b18589, 0x06b6b51f, 0x9fbfe4a5, 0xe8b8d433,
	0x7807c9a2, 0x0f00f934, 0x9609a88e, 0xe10e9818, 0x7f6a0dbb, 0x086d3d2d,
	0x91646c97, 0xe6635c01, 0x6b6b51f4, 0x1c6c6162, 0x856530d8, 0xf262004e,
	0x6c0695ed, 0x1b01a57b, 0x8208f4c1, 0xf50fc457, 0x65b0d9c6, 0x12b7e950,
	0x8bbeb8ea, 0xfcb9887c, 0x62dd1ddf, 0x15da2d49, 0x8cd37cf3, 0xfbd44c65,
	0x4db26158, 0x3ab551ce, 0xa3bc0074, 0xd4bb30e2, 0x4adfa541, 0x3dd895d7,
	0xa4d1c46d, 0xd3d6f4fb, 0x4369e96a, 0x346ed9fc, 0xad678846, 0xda60b8d0,
	0x44042d73, 0x33031de5, 0xaa0a4c5f, 0xdd0d7cc9, 0x5005713c, 0x270241aa,
	0xbe0b1010, 0xc90c2086, 0x5768b525, 0x206f85b3, 0xb966d409, 0xce61e49f,
	0x5edef90e, 0x29d9c998, 0xb0d09822, 0xc7d7a8b4, 0x59b33d17, 0x2eb40d81,
	0xb7bd5c3b, 0xc0ba6cad, 0xedb88320, 0x9abfb3b6, 0x03b6e20c, 0x74b1d29a,
	0xead54739, 0x9dd277af, 0x04db2615, 0x73dc1683, 0xe3630b12, 0x94643b84,
	0x0d6d6a3e, 0x7a6a5aa8, 0xe40ecf0b, 0x9309ff9d, 0x0a00ae27, 0x7d079eb1,
	0xf00f9344, 0x8708a3d2, 0x1e01f268, 0x6906c2fe, 0xf762575d, 0x806567cb,
	0x196c3671, 0x6e6b06e7, 0xfed41b76, 0x89d32be0, 0x10da7a5a, 0x67dd4acc,
	0xf9b9df6f, 0x8ebeeff9, 0x17b7be43, 0x60b08ed5, 0xd6d6a3e8, 0xa1d1937e,
	0x38d8c2c4, 0x4fdff252, 0xd1bb67f1, 0xa6bc5767, 0x3fb506dd, 0x48b2364b,
	0xd80d2bda, 0xaf0a1b4c, 0x36034af6, 0x41047a60, 0xdf60efc3, 0xa867df55,
	0x316e8eef, 0x4669be79, 0xcb61b38c, 0xbc66831a, 0x256fd2a0, 0x5268e236,
	0xcc0c7795, 0xbb0b4703, 0x220216b9, 0x5505262f, 0xc5ba3bbe, 0xb2bd0b28,
	0x2bb45a92, 0x5cb36a04, 0xc2d7ffa7, 0xb5d0cf31, 0x2cd99e8b, 0x5bdeae1d,
	0x9b64c2b0, 0xec63f226, 0x756aa39c, 0x026d930a, 0x9c0906a9, 0xeb0e363f,
	0x72076785, 0x05005713, 0x95bf4a82, 0xe2b87a14, 0x7bb12bae, 0x0cb61b38,
	0x92d28e9b, 0xe5d5be0d, 0x7cdcefb7, 0x0bdbdf21, 0x86d3d2d4, 0xf1d4e242,
	0x68ddb3f8, 0x1fda836e, 0x81be16cd, 0xf6b9265b, 0x6fb077e1, 0x18b74777,
	0x88085ae6, 0xff0f6a70, 0x66063bca, 0x11010b5c, 0x8f659eff, 0xf862ae69,
	0x616bffd3, 0x166ccf45, 0xa00ae278, 0xd70dd2ee, 0x4e048354, 0x3903b3c2,
	0xa7672661, 0xd06016f7, 0x4969474d, 0x3e6e77db, 0xaed16a4a, 0xd9d65adc,
	0x40df0b66, 0x37d83bf0, 0xa9bcae53, 0xdebb9ec5, 0x47b2cf7f, 0x30b5ffe9,
	0xbdbdf21c, 0xcabac28a, 0x53b39330, 0x24b4a3a6, 0xbad03605, 0xcdd70693,
	0x54de5729, 0x23d967bf, 0xb3667a2e, 0xc4614ab8, 0x5d681b02, 0x2a6f2b94,
	0xb40bbe37, 0xc30c8ea1, 0x5a05df1b, 0x2d02ef8d,
};

/* crc32 as zlib and Python's binascii.crc32 compute it. */
static uint32_t
aux_crc32(const unsigned char *p, size_t len)
{
	uint32_t	 crc = 0xffffffffU;

	while (len-- > 0)
		crc = crc_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return crc ^ 0xffffffffU;
}

/* Drop the server connection; the next call reconnects. */
static void
aux_disconnect(struct conn *c)
{
	if (c->ctx != NULL) {
		redisFree(c->ctx);
		c->ctx = NULL;
	}
	aux_freekept(&c->pool);
	c->busy = 0;
}

/* Push "redis shard N (URL): msg" and "connection", disconnect; -1. */
static int
aux_fail(lua_State *L, struct conn *c, const char *msg)
{
	lua_pushfstring(L, "redis shard %d (%s): %s", c->index, c->url.masked,
	    msg);
	lua_pushliteral(L, "connection");
	aux_disconnect(c);
	return -1;
}

/* Ctrl-C: abandon the call, closing the connection, and raise. */
static void
aux_abandon(lua_State *L, struct conn *c)
{
	aux_disconnect(c);
	vl_check_interrupt(L);
}

/* Wait for events: revents, 0 on timeout, -1; Ctrl-C abandons the call. */
static int
aux_poll(lua_State *L, struct conn *c, short events, double deadline)
{
	int	 r = vl_wait_fd(c->ctx->fd, events, deadline, 0);

	if (r == VL_WAIT_INTR)
		aux_abandon(L, c);
	return r;
}

/* Push the first word of the error message at the top: its code. */
static void
aux_pushcode(lua_State *L)
{
	size_t		 len;
	const char	*msg = lua_tolstring(L, -1, &len);

	lua_pushlstring(L, msg, strcspn(msg, " "));
}

/* Push a reply as a Lua value; an error inside an array is {err=}. */
static void
aux_pushreply(lua_State *L, const redisReply *r)
{
	size_t	 i;

	luaL_checkstack(L, 4, "redis reply nested too deeply");
	switch (r->type) {
	case REDIS_REPLY_STATUS:
	case REDIS_REPLY_STRING:
		lua_pushlstring(L, r->str, r->len);
		break;
	case REDIS_REPLY_INTEGER:
		lua_pushinteger(L, (lua_Integer)r->integer);
		break;
	case REDIS_REPLY_ERROR:
		lua_createtable(L, 0, 1);
		lua_pushlstring(L, r->str, r->len);
		lua_setfield(L, -2, "err");
		break;
	case REDIS_REPLY_ARRAY:
		lua_createtable(L, r->elements > INT_MAX ? 0 :
		    (int)r->elements, 0);
		for (i = 0; i < r->elements; i++) {
			aux_pushreply(L, r->element[i]);
			lua_seti(L, -2, (lua_Integer)i + 1);
		}
		break;
	default:	/* REDIS_REPLY_NIL */
		lua_pushboolean(L, 0);
		break;
	}
}

/*
 * A password is needed: Redis answers a long command from a client that
 * did not authenticate with a protocol error and drops it (a short one
 * gets NOAUTH). Push the failure as NOAUTH and disconnect; -1.
 */
static int
aux_unauthenticated(lua_State *L, struct conn *c, redisReply *r)
{
	lua_pushfstring(L, "redis shard %d (%s): authentication required: "
	    "the server needs a password%s (it said: %s)", c->index,
	    c->url.masked, c->url.password == NULL ? " and the URL has none" :
	    "", r->str);
	lua_pushliteral(L, "NOAUTH");
	aux_disconnect(c);
	return -1;
}

/* Read what arrived and hand every complete reply to the exchange. */
static int
aux_readreplies(lua_State *L, struct conn *c, struct xfer *x)
{
	redisReply	*r;

	if (redisBufferRead(c->ctx) != REDIS_OK)
		return aux_fail(L, c, c->ctx->errstr);
	while (x->got < x->n) {
		if (redisGetReplyFromReader(c->ctx, (void **)&r) != REDIS_OK)
			return aux_fail(L, c, c->ctx->errstr);
		if (r == NULL)
			break;
		if (r->type == REDIS_REPLY_ERROR && strncmp(r->str,
		    UNAUTHENTICATED, sizeof UNAUTHENTICATED - 1) == 0)
			return aux_unauthenticated(L, c, r);
		if (x->kept != NULL)
			aux_keep(x->kept, r);
		else {
			x->reply(L, x, r);
			aux_resetpool(&c->pool);
		}
		x->got++;
	}
	return 0;
}

/* The exchange's next deadline: its own, or timeout from now if sooner. */
static double
aux_deadline(const struct xfer *x)
{
	double	 d;

	if (x->timeout <= 0)
		return x->deadline;
	d = vl_now() + x->timeout;
	return x->deadline > 0 && x->deadline < d ? x->deadline : d;
}

/* Fail an exchange whose deadline passed; -1. */
static int
aux_timedout(lua_State *L, struct conn *c, const struct xfer *x)
{
	char	 buf[64];

	if (x->timeout <= 0)
		return aux_fail(L, c, "timed out");
	snprintf(buf, sizeof buf, "timed out (no reply for %g s)", x->timeout);
	return aux_fail(L, c, buf);
}

/*
 * Run an exchange on the connection: queue commands while less than a
 * chunk waits to be written, write as the socket accepts, read replies
 * as they come; with a timeout, every wait ends after that long without
 * progress. 0, or -1 with message and code pushed.
 */
static int
aux_exchange(lua_State *L, struct conn *c, struct xfer *x)
{
	int	 ev, done;

	c->busy = 1;
	for (;;) {
		if (x->plan != NULL)
			x->plan(L, x);
		if (x->got >= x->n)
			break;
		while (x->sent < (x->plan != NULL ? x->ready : x->n) &&
		    sdslen(c->ctx->obuf) < PIPE_CHUNK) {
			if (x->append(L, c, x) != REDIS_OK)
				return aux_fail(L, c, "out of memory");
			x->sent++;
		}
		if (x->idle != NULL && x->sent == x->n &&
		    sdslen(c->ctx->obuf) == 0) {
			x->idle(L, x);
			x->idle = NULL;
		}
		ev = aux_poll(L, c, POLLIN |
		    (sdslen(c->ctx->obuf) > 0 ? POLLOUT : 0), aux_deadline(x));
		if (ev == 0)
			return aux_timedout(L, c, x);
		if (ev == -1)
			return aux_fail(L, c, strerror(errno));
		if ((ev & (POLLOUT | POLLERR)) && sdslen(c->ctx->obuf) > 0 &&
		    redisBufferWrite(c->ctx, &done) != REDIS_OK)
			return aux_fail(L, c, c->ctx->errstr);
		if ((ev & (POLLIN | POLLHUP | POLLERR)) &&
		    aux_readreplies(L, c, x) == -1)
			return -1;
	}
	c->busy = 0;
	return 0;
}

/* Make room for n arguments in the scratch vectors. */
static void
aux_reserve(struct conn *c, size_t n)
{
	if (n <= c->argcap)
		return;
	c->argv = xrealloc(c->argv, n * sizeof *c->argv);
	c->argvlen = xrealloc(c->argvlen, n * sizeof *c->argvlen);
	c->argcap = n;
}

/* Push argument idx as a string: integers in decimal, floats %.17g. */
static void
aux_pusharg(lua_State *L, int idx)
{
	char	 buf[32];

	if (lua_type(L, idx) == LUA_TSTRING)
		lua_pushvalue(L, idx);
	else if (lua_isinteger(L, idx))
		lua_pushfstring(L, "%I", (LUAI_UACINT)lua_tointeger(L, idx));
	else {
		snprintf(buf, sizeof buf, "%.17g",
		    (double)lua_tonumber(L, idx));
		lua_pushstring(L, buf);
	}
}

/* Append the command whose n arguments start at stack index first. */
static int
aux_append(lua_State *L, struct conn *c, int first, int n)
{
	int	 i, r;

	first = lua_absindex(L, first);
	luaL_checkstack(L, n, "too many redis arguments");
	aux_reserve(c, (size_t)n);
	for (i = 0; i < n; i++)
		aux_pusharg(L, first + i);
	for (i = 0; i < n; i++)
		c->argv[i] = lua_tolstring(L, -n + i, &c->argvlen[i]);
	r = redisAppendCommandArgv(c->ctx, n, c->argv, c->argvlen);
	lua_pop(L, n);
	return r;
}

/* xfer append for call: the arguments on the stack. */
static int
aux_appendcall(lua_State *L, struct conn *c, struct xfer *x)
{
	return aux_append(L, c, x->arg, x->nargs);
}

/* xfer append for a pipeline: cmds[sent + 1]. */
static int
aux_appendpipe(lua_State *L, struct conn *c, struct xfer *x)
{
	int	 n, r;

	lua_geti(L, x->arg, x->sent + 1);
	n = (int)lua_rawlen(L, -1);
	luaL_checkstack(L, n, "too many redis arguments");
	for (r = 1; r <= n; r++)
		lua_geti(L, -r, r);
	r = aux_append(L, c, -n, n);
	lua_pop(L, n + 1);
	return r;
}

/* xfer append for connecting: AUTH [user] password, then SELECT db. */
static int
aux_appendhello(lua_State *L, struct conn *c, struct xfer *x)
{
	const char	*argv[3];
	char		 db[24];
	int		 n = 0;

	if (x->sent == 0 && c->url.password != NULL) {
		argv[n++] = "AUTH";
		if (c->url.user != NULL)
			argv[n++] = c->url.user;
		argv[n++] = c->url.password;
	} else {
		snprintf(db, sizeof db, "%lld", c->url.db);
		argv[n++] = "SELECT";
		argv[n++] = db;
	}
	return redisAppendCommandArgv(c->ctx, n, argv, NULL);
}

/* xfer reply for call: push the value, or the error message. */
static void
aux_callreply(lua_State *L, struct xfer *x, redisReply *r)
{
	if (r->type == REDIS_REPLY_ERROR) {
		lua_pushlstring(L, r->str, r->len);
		x->failed = 1;
	} else
		aux_pushreply(L, r);
}

/*
 * Members grouped by server process, for a send that streams a group's
 * members (connections.lua) without a Lua string per member: with
 * by = "!", a reply array of strings becomes {n =, last =, {name =,
 * n =, body =}, ...}: n members, the last one, and a group per name
 * (each member's text up to and including the first "!", all of it
 * without one) in order of first appearance, body the msgpack strs of
 * its members in order. Other replies are as without it.
 */
struct group {
	const char	*name;
	size_t		 len, n, bytes, at;
};

/* FNV-1a. */
static uint32_t
aux_hashname(const char *s, size_t len)
{
	uint32_t	 h = 2166136261u;

	while (len-- > 0)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* The group of name in g (ng of them, slots a table of cap), made if new. */
static size_t
aux_group(struct group *g, size_t *ng, uint32_t *slot, size_t cap,
    const char *name, size_t len)
{
	size_t		 h = aux_hashname(name, len) & (cap - 1);
	struct group	*x;

	for (; slot[h] != 0; h = (h + 1) & (cap - 1)) {
		x = &g[slot[h] - 1];
		if (x->len == len && memcmp(x->name, name, len) == 0)
			return slot[h] - 1;
	}
	g[*ng].name = name;
	g[*ng].len = len;
	g[*ng].n = g[*ng].bytes = 0;
	slot[h] = (uint32_t)++*ng;
	return *ng - 1;
}

/* Push the groups of the array of strings r (see struct group). */
static void
aux_pushgroups(lua_State *L, const redisReply *r, int by)
{
	size_t		 n = r->elements, cap = 16, ng = 0, i, total = 0;
	struct group	*g;
	uint32_t	*gid, *slot;
	char		*out;

	while (cap < 2 * n)
		cap *= 2;
	g = lua_newuserdatauv(L, n * sizeof *g + (n + cap) * sizeof *gid, 0);
	gid = (uint32_t *)(g + n);
	slot = gid + n;
	memset(slot, 0, cap * sizeof *slot);
	for (i = 0; i < n; i++) {
		const redisReply *e = r->element[i];
		const char	*d = e->len > 0 ? memchr(e->str, by, e->len) : NULL;

		gid[i] = (uint32_t)aux_group(g, &ng, slot, cap, e->str,
		    d != NULL ? (size_t)(d - e->str) + 1 : e->len);
		g[gid[i]].n++;
		g[gid[i]].bytes += vl_msgpack_str(NULL, e->str, e->len);
	}
	for (i = 0; i < ng; total += g[i++].bytes)
		g[i].at = total;
	out = lua_newuserdatauv(L, total + 1, 0);
	for (i = 0; i < n; i++)
		g[gid[i]].at += vl_msgpack_str(out + g[gid[i]].at,
		    r->element[i]->str, r->element[i]->len);
	lua_createtable(L, ng > INT_MAX ? 0 : (int)ng, 2);
	lua_pushinteger(L, (lua_Integer)n);
	lua_setfield(L, -2, "n");
	if (n > 0) {
		lua_pushlstring(L, r->element[n - 1]->str, r->element[n - 1]->len);
		lua_setfield(L, -2, "last");
	}
	for (i = 0; i < ng; i++) {
		lua_createtable(L, 0, 3);
		lua_pushlstring(L, g[i].name, g[i].len);
		lua_setfield(L, -2, "name");
		lua_pushinteger(L, (lua_Integer)g[i].n);
		lua_setfield(L, -2, "n");
		lua_pushlstring(L, out + g[i].at - g[i].bytes, g[i].bytes);
		lua_setfield(L, -2, "body");
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lua_insert(L, -3);
	lua_pop(L, 2);
}

/* Push r with its arrays of strings grouped by the byte by. */
static void
aux_pushgrouped(lua_State *L, const redisReply *r, int by)
{
	size_t	 i;

	if (r->type != REDIS_REPLY_ARRAY) {
		aux_pushreply(L, r);
		return;
	}
	for (i = 0; i < r->elements; i++)
		if (r->element[i]->type != REDIS_REPLY_STRING)
			break;
	if (i == r->elements) {
		aux_pushgroups(L, r, by);
		return;
	}
	luaL_checkstack(L, 4, "redis reply nested too deeply");
	lua_createtable(L, r->elements > INT_MAX ? 0 : (int)r->elements, 0);
	for (i = 0; i < r->elements; i++) {
		aux_pushgrouped(L, r->element[i], by);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
}

/* The by of cmds[got + 1] (a byte), or -1. */
static int
aux_by(lua_State *L, const struct xfer *x)
{
	size_t		 len;
	const char	*s;
	int		 by;

	lua_geti(L, x->arg, x->got + 1);
	lua_getfield(L, -1, "by");
	s = lua_tolstring(L, -1, &len);
	by = s != NULL && len == 1 ? (unsigned char)s[0] : -1;
	lua_pop(L, 2);
	return by;
}

/* xfer reply for a pipeline: store it in the results. */
static void
aux_pipereply(lua_State *L, struct xfer *x, redisReply *r)
{
	int	 by = x->grouped ? aux_by(L, x) : -1;

	if (by >= 0)
		aux_pushgrouped(L, r, by);
	else
		aux_pushreply(L, r);
	lua_seti(L, x->results, x->got + 1);
}

/* xfer reply for connecting: keep the first error message. */
static void
aux_helloreply(lua_State *L, struct xfer *x, redisReply *r)
{
	if (r->type == REDIS_REPLY_ERROR && !x->failed) {
		lua_pushlstring(L, r->str, r->len);
		x->failed = 1;
	}
}

/* Send AUTH and SELECT as the URL asks; 0, or -1 with message and code. */
static int
aux_handshake(lua_State *L, struct conn *c, double deadline)
{
	struct xfer	 x;

	memset(&x, 0, sizeof x);
	x.n = (c->url.password != NULL) + (c->url.db != 0);
	x.append = aux_appendhello;
	x.reply = aux_helloreply;
	x.deadline = deadline;
	if (x.n == 0)
		return 0;
	if (aux_exchange(L, c, &x) == -1)
		return -1;
	if (!x.failed)
		return 0;
	lua_pushfstring(L, "redis shard %d (%s): %s", c->index, c->url.masked,
	    lua_tostring(L, -1));
	lua_insert(L, -2);
	aux_pushcode(L);
	lua_remove(L, -2);	/* message, code */
	aux_disconnect(c);
	return -1;
}

/*
 * Connect if disconnected, within the connect budget or timeout (s, 0 for
 * none) if shorter; 0, or -1 with message and code pushed.
 */
static int
aux_connect(lua_State *L, struct conn *c, double timeout)
{
	double		 budget = c->connect_ms / 1000.0, deadline;
	socklen_t	 len = sizeof(int);
	int		 ev, err = 0;
	const char	*cause;
	char		 buf[512];

	if (timeout > 0 && timeout < budget)
		budget = timeout;
	deadline = vl_now() + budget;

	if (c->busy)
		aux_disconnect(c);	/* an exchange raised half-way */
	if (c->ctx != NULL)
		return 0;
	if (aux_load(&cause) == -1) {
		snprintf(buf, sizeof buf, "cannot load %s: %s",
		    VL_LIBHIREDIS_SONAME, cause != NULL ? cause : "unknown error");
		return aux_fail(L, c, buf);
	}
	if (c->url.is_unix)
		c->ctx = redisConnectUnixNonBlock(c->url.host);
	else
		c->ctx = redisConnectNonBlock(c->url.host, c->url.port);
	if (c->ctx == NULL)
		return aux_fail(L, c, "out of memory");
	if (c->ctx->err)
		return aux_fail(L, c, c->ctx->errstr);
	c->ctx->reader->fn = &arena_functions;
	c->ctx->reader->privdata = &c->pool;
	if ((ev = aux_poll(L, c, POLLOUT, deadline)) == 0)
		return aux_fail(L, c, "connection timed out");
	if (ev == -1 || getsockopt(c->ctx->fd, SOL_SOCKET, SO_ERROR, &err,
	    &len) == -1)
		err = errno;
	if (err != 0)
		return aux_fail(L, c, strerror(err));
	return aux_handshake(L, c, deadline);
}

/* Turn message and code at the top into nil, message, code; 3. */
static int
aux_failure(lua_State *L)
{
	lua_pushnil(L);
	lua_insert(L, -3);
	return 3;
}

/* Raise message and code at the top as a failure (vl_fail picks the exit). */
static int
aux_raise(lua_State *L)
{
	return vl_fail(L, lua_tostring(L, -2), lua_tostring(L, -1));
}

/* Check argument i is a string or a number, for a command. */
static void
aux_checkarg(lua_State *L, int i)
{
	int	 t = lua_type(L, i);

	if (t != LUA_TSTRING && t != LUA_TNUMBER)
		luaL_typeerror(L, i, "string or number");
}

/* The open connection object at stack index 1. */
static struct conn *
aux_checkconn(lua_State *L)
{
	struct conn	*c = luaL_checkudata(L, 1, VL_REDIS_CONN);

	if (c->closed)
		luaL_error(L, "attempt to use a closed redis connection");
	return c;
}

/* Run the command at 2..top: push the reply (1) or nil, msg, code (3). */
static int
aux_call(lua_State *L, struct conn *c)
{
	struct xfer	 x;
	int		 i, top = lua_gettop(L);

	luaL_checkstring(L, 2);
	for (i = 3; i <= top; i++)
		aux_checkarg(L, i);
	if (aux_connect(L, c, 0) == -1)
		return aux_failure(L);
	memset(&x, 0, sizeof x);
	x.n = 1;
	x.arg = 2;
	x.nargs = top - 1;
	x.append = aux_appendcall;
	x.reply = aux_callreply;
	if (aux_exchange(L, c, &x) == -1)
		return aux_failure(L);
	if (!x.failed)
		return 1;
	aux_pushcode(L);
	return aux_failure(L);
}

/* conn:pcall(cmd, ...) → reply, or nil, message, code. */
static int
conn_pcall(lua_State *L)
{
	return aux_call(L, aux_checkconn(L));
}

/* conn:call(cmd, ...) → reply; raises on an error reply or failure. */
static int
conn_call(lua_State *L)
{
	if (aux_call(L, aux_checkconn(L)) == 3)
		return aux_raise(L);
	return 1;
}

/*
 * Check cmds (stack index 2) is an array of argument arrays; its length.
 * *grouped is set when a command has a by (a one-byte string).
 */
static int
aux_checkcmds(lua_State *L, int *grouped)
{
	size_t		 len;
	lua_Integer	 n, i, j, m;

	luaL_checktype(L, 2, LUA_TTABLE);
	if ((n = luaL_len(L, 2)) > INT_MAX)
		luaL_argerror(L, 2, "too many commands");
	for (i = 1; i <= n; i++) {
		if (lua_geti(L, 2, i) != LUA_TTABLE)
			luaL_argerror(L, 2, lua_pushfstring(L,
			    "command %I is not a table", (LUAI_UACINT)i));
		if ((m = (lua_Integer)lua_rawlen(L, -1)) == 0 || m > INT_MAX)
			luaL_argerror(L, 2, lua_pushfstring(L,
			    "command %I is empty", (LUAI_UACINT)i));
		if (lua_getfield(L, -1, "by") != LUA_TNIL) {
			if (lua_type(L, -1) != LUA_TSTRING ||
			    (lua_tolstring(L, -1, &len), len != 1))
				luaL_argerror(L, 2, lua_pushfstring(L,
				    "command %I: by must be one byte",
				    (LUAI_UACINT)i));
			*grouped = 1;
		}
		lua_pop(L, 1);
		for (j = 1; j <= m; j++) {
			lua_geti(L, -1, j);
			if (lua_type(L, -1) != LUA_TSTRING &&
			    lua_type(L, -1) != LUA_TNUMBER)
				luaL_argerror(L, 2, lua_pushfstring(L,
				    "command %I argument %I: string or number "
				    "expected, got %s", (LUAI_UACINT)i,
				    (LUAI_UACINT)j, luaL_typename(L, -1)));
			lua_pop(L, 1);
		}
		lua_pop(L, 1);
	}
	return (int)n;
}

/* opts.timeout (stack index i) in ms as seconds; 0 when none. */
static double
aux_opttimeout(lua_State *L, int i)
{
	lua_Number	 ms;

	if (lua_isnoneornil(L, i))
		return 0;
	luaL_checktype(L, i, LUA_TTABLE);
	if (lua_getfield(L, i, "timeout") == LUA_TNIL)
		return 0;
	if (!lua_isnumber(L, -1))
		luaL_argerror(L, i, "timeout: number of milliseconds expected");
	ms = lua_tonumber(L, -1);
	luaL_argcheck(L, ms >= 0 && ms <= 1e9, i, "timeout: out of range");
	lua_pop(L, 1);
	return (double)ms / 1000.0;
}

/*
 * conn:pipeline(cmds [, {timeout = ms}]) → replies; a shard that cannot
 * be reached, or does not answer within the timeout, is a failure and
 * raises (core.try(conn.pipeline, conn, cmds) does not).
 */
static int
conn_pipeline(lua_State *L)
{
	struct conn	*c = aux_checkconn(L);
	struct xfer	 x;

	memset(&x, 0, sizeof x);
	x.n = aux_checkcmds(L, &x.grouped);
	x.timeout = aux_opttimeout(L, 3);
	lua_settop(L, 2);
	lua_createtable(L, x.n, 0);
	if (x.n == 0)
		return 1;
	if (aux_connect(L, c, x.timeout) == -1)
		return aux_raise(L);
	x.arg = 2;
	x.results = 3;
	x.append = aux_appendpipe;
	x.reply = aux_pipereply;
	if (aux_exchange(L, c, &x) == -1)
		return aux_raise(L);
	lua_settop(L, 3);
	return 1;
}

/*
 * The labels listing in C (connections/labels.lua): HGETALL of a hash,
 * then MGET of prefix..field for every field, never turning the replies
 * or the key names into Lua values (building them was most of a listing
 * of 10,000 labels: bench/connections).
 */
#define LABELS_BATCH	1000	/* keys per MGET: Redis reads the next while we write */


/* What a labels listing holds during its exchange. */
struct labels {
	const redisReply *h;	/* the HGETALL reply, maybe still being read */
	size_t		 nf;	/* its fields, once known */
	struct field	*v;	/* the fields, sorted while the MGETs run,
				   and as many for the sort */
	int		 names;	/* stack index of the sorted names */
};

/* The MGETs of nf fields. */
static int
aux_batches(size_t nf)
{
	return (int)((nf + LABELS_BATCH - 1) / LABELS_BATCH);
}

/*
 * xfer plan for labels: HGETALL first, then an MGET for each batch of
 * fields as soon as they are read, while the rest of the reply arrives.
 */
static void
aux_labelsplan(lua_State *L, struct xfer *x)
{
	struct labels	*lb = x->ud;
	const redisReply *h = x->kept->n > 0 ? x->kept->r[0] : x->kept->building;
	size_t		 read, want;

	(void)L;
	x->ready = 1;		/* HGETALL; the count is known once it is read */
	if (h == NULL)
		return;
	if (h->type != REDIS_REPLY_ARRAY) {
		if (x->kept->n > 0)
			x->n = 1;	/* an error reply */
		return;
	}
	lb->h = h;
	lb->nf = h->elements / 2;
	read = x->kept->n > 0 ? lb->nf : (x->kept->read + 1) / 2;
	x->n = 1 + aux_batches(lb->nf);
	want = (size_t)x->sent * LABELS_BATCH;	/* the next batch's end */
	x->ready = x->sent + (x->sent < x->n &&
	    read >= (want < lb->nf ? want : lb->nf));
}

/* xfer append for labels: HGETALL hash, then the MGETs of the fields. */
static int
aux_appendlabels(lua_State *L, struct conn *c, struct xfer *x)
{
	const redisReply *h = ((struct labels *)x->ud)->h;
	size_t		 plen, first, n, i, total = 0;
	const char	*prefix = lua_tolstring(L, x->arg + 1, &plen);
	char		*buf, *p;
	int		 r;

	if (x->sent == 0) {
		c->argv[0] = "HGETALL";
		c->argvlen[0] = 7;
		c->argv[1] = lua_tolstring(L, x->arg, &c->argvlen[1]);
		return redisAppendCommandArgv(c->ctx, 2, c->argv, c->argvlen);
	}
	first = (size_t)(x->sent - 1) * LABELS_BATCH;
	n = h->elements / 2 - first;
	if (n > LABELS_BATCH)
		n = LABELS_BATCH;
	for (i = 0; i < n; i++)
		total += plen + h->element[2 * (first + i)]->len;
	aux_reserve(c, n + 1);
	p = buf = xmalloc(total + 1);
	c->argv[0] = "MGET";
	c->argvlen[0] = 4;
	for (i = 0; i < n; i++) {
		const redisReply *f = h->element[2 * (first + i)];

		memcpy(p, prefix, plen);
		if (f->len > 0)
			memcpy(p + plen, f->str, f->len);
		c->argv[i + 1] = p;
		c->argvlen[i + 1] = plen + f->len;
		p += plen + f->len;
	}
	r = redisAppendCommandArgv(c->ctx, (int)n + 1, c->argv, c->argvlen);
	free(buf);
	return r;
}

/* Push nil, message, code for an error reply; 3. */
static int
aux_replyerror(lua_State *L, const redisReply *r)
{
	lua_pushnil(L);
	lua_pushlstring(L, r->str, r->len);
	aux_pushcode(L);
	return 3;
}

/* A field of the hash, for sorting (16 bytes: qsort moves them whole). */
struct field {
	uint64_t	 head;	/* its first 8 bytes, big-endian, 0-padded */
	redisReply	**at;	/* its place in the HGETALL reply */
};

/* Is x before y in byte order (as core.sort_strings)? */
static inline int
aux_before(const struct field *x, const struct field *y)
{
	const redisReply *f = *x->at, *g = *y->at;
	int		 d;

	if (x->head != y->head)		/* most labels differ in their head */
		return x->head < y->head;
	d = memcmp(f->str, g->str, f->len < g->len ? f->len : g->len);
	return d < 0 || (d == 0 && f->len < g->len);
}

/*
 * Sort v[0 .. n) into byte order, tmp as long: a merge sort comparing
 * inline (qsort's call per comparison was most of the sort).
 */
static void
aux_sortfields(struct field *v, struct field *tmp, size_t n)
{
	struct field	*src = v, *dst = tmp, *t;
	size_t		 w, lo, mid, hi, i, j, k;

	for (w = 1; w < n; w *= 2) {
		for (lo = 0; lo < n; lo += 2 * w) {
			mid = lo + w < n ? lo + w : n;
			hi = lo + 2 * w < n ? lo + 2 * w : n;
			for (i = lo, j = mid, k = lo; k < hi; k++)
				dst[k] = j >= hi || (i < mid &&
				    !aux_before(&src[j], &src[i])) ?
				    src[i++] : src[j++];
		}
		t = src, src = dst, dst = t;
	}
	if (src != v)
		memcpy(v, src, n * sizeof *v);
}

/* The first 8 bytes of s as a big-endian number, 0-padded. */
static uint64_t
aux_head(const char *s, size_t len)
{
	uint64_t	 h = 0;
	size_t		 i;

	for (i = 0; i < 8; i++)
		h = h << 8 | (i < len ? (unsigned char)s[i] : 0);
	return h;
}

/*
 * xfer idle for labels: while Redis runs the last MGETs, sort the fields
 * and push them, sorted, as an array of strings (lb->names).
 */
static void
aux_labelsidle(lua_State *L, struct xfer *x)
{
	struct labels	*lb = x->ud;
	size_t		 i;

	lb->v = lua_newuserdatauv(L, 2 * lb->nf * sizeof lb->v[0] + 1, 0);
	for (i = 0; i < lb->nf; i++) {
		lb->v[i].at = (redisReply **)&lb->h->element[2 * i];
		lb->v[i].head = aux_head(lb->v[i].at[0]->str,
		    lb->v[i].at[0]->len);
	}
	aux_sortfields(lb->v, lb->v + lb->nf, lb->nf);
	lua_createtable(L, lb->nf > INT_MAX ? 0 : (int)lb->nf, 0);
	for (i = 0; i < lb->nf; i++) {
		lua_pushlstring(L, lb->v[i].at[0]->str, lb->v[i].at[0]->len);
		lua_rawseti(L, -2, (lua_Integer)i + 1);
	}
	lb->names = lua_gettop(L);
}

/* Push value r as tonumber would: 1, or 0 (nothing pushed) when it is none. */
static int
aux_pushcount(lua_State *L, const redisReply *r)
{
	if (r->type != REDIS_REPLY_STRING || strlen(r->str) != r->len ||
	    lua_stringtonumber(L, r->str) == 0)
		return 0;
	if (lua_tonumber(L, -1) == 0) {
		lua_pop(L, 1);
		return 0;
	}
	return 1;
}

/*
 * Push live, stale and names from the sorted fields and the MGET replies
 * (m->r[1 ..]): a field is live when its key exists and its value is a
 * non-zero number.
 */
static int
aux_pushlabels(lua_State *L, const struct labels *lb, const struct kept *m)
{
	size_t		 nf = lb->nf, i, j;
	lua_Integer	 nlive = 0, nstale = 0;
	const redisReply *e;
	int		 top;

	lua_createtable(L, 0, nf > INT_MAX ? 0 : (int)nf);
	lua_newtable(L);
	lua_createtable(L, nf > INT_MAX ? 0 : (int)nf, 0);
	top = lua_gettop(L);	/* live, stale, names at top - 2 .. top */
	for (i = 0; i < nf; i++) {
		j = (size_t)(lb->v[i].at - lb->h->element) / 2;
		e = m->r[1 + j / LABELS_BATCH]->element[j % LABELS_BATCH];
		lua_rawgeti(L, lb->names, (lua_Integer)i + 1);
		if (e->type != REDIS_REPLY_NIL &&
		    aux_pushcount(L, lb->v[i].at[1])) {
			lua_pushvalue(L, -2);
			lua_rawseti(L, top, ++nlive);
			lua_rawset(L, top - 2);
		} else
			lua_rawseti(L, top - 1, ++nstale);
	}
	return 3;
}

/* Check the MGET replies (m->r[1 ..]); 0, or nil, message, code (3). */
static int
aux_checkmget(lua_State *L, size_t nf, const struct kept *m)
{
	int		 b;

	for (b = 1; b < m->n; b++) {
		const redisReply *r = m->r[b];
		size_t	 want = nf - (size_t)(b - 1) * LABELS_BATCH;

		if (r->type == REDIS_REPLY_ERROR)
			return aux_replyerror(L, r);
		if (r->type != REDIS_REPLY_ARRAY || r->elements !=
		    (want > LABELS_BATCH ? LABELS_BATCH : want))
			return luaL_error(L, "unexpected MGET reply");
	}
	return 0;
}

/* Check the HGETALL reply: 0, or nil, message, code pushed (3). */
static int
aux_checkhgetall(lua_State *L, const redisReply *h)
{
	size_t	 i;

	if (h->type == REDIS_REPLY_ERROR)
		return aux_replyerror(L, h);
	if (h->type != REDIS_REPLY_ARRAY || h->elements % 2 != 0)
		return luaL_error(L, "unexpected HGETALL reply");
	for (i = 0; i < h->elements; i++)
		if (h->element[i]->type != REDIS_REPLY_STRING)
			return luaL_error(L, "unexpected HGETALL reply");
	return 0;
}

/*
 * Run (or go on with) an exchange whose replies are kept in k's arena. A
 * failed exchange has disconnected, freeing the reader while its
 * functions still free nothing.
 */
static int
aux_exchangekept(lua_State *L, struct conn *c, struct xfer *x,
    struct kept *k)
{
	redisReader	*rd = c->ctx->reader;

	x->kept = k;
	rd->privdata = k;
	if (aux_exchange(L, c, x) == -1)
		return -1;
	rd->privdata = &c->pool;
	return 0;
}

/*
 * conn:labels(hash, prefix [, {timeout = ms}]) → live, stale, names: the
 * fields of hash whose key prefix..field exists and whose value is a
 * non-zero number (live: {field = tonumber(value)}; names: those fields,
 * sorted), and the others (stale, sorted); nil, message, code for an
 * error reply. A failure raises, as pipeline.
 */
static int
conn_labels(lua_State *L)
{
	struct conn	*c = aux_checkconn(L);
	struct xfer	 x;
	struct labels	 lb;
	struct kept	*k;
	int		 r;

	luaL_checkstring(L, 2);
	luaL_checkstring(L, 3);
	memset(&x, 0, sizeof x);
	memset(&lb, 0, sizeof lb);
	x.timeout = aux_opttimeout(L, 4);
	lua_settop(L, 3);
	if (aux_connect(L, c, x.timeout) == -1)
		return aux_raise(L);
	k = aux_newkept(L);
	aux_reserve(c, 2);
	x.arg = 2;
	x.n = INT_MAX;		/* until aux_labelsplan knows */
	x.ud = &lb;
	x.append = aux_appendlabels;
	x.plan = aux_labelsplan;
	x.idle = aux_labelsidle;
	if (aux_exchangekept(L, c, &x, k) == -1)
		return aux_raise(L);
	if ((r = aux_checkhgetall(L, k->r[0])) != 0)
		return r;
	if ((r = aux_checkmget(L, lb.nf, k)) == 0)
		r = aux_pushlabels(L, &lb, k);
	aux_freekept(k);	/* now, not at the next collection */
	return r;
}

/* conn:close(), __gc and __close: disconnect and free; idempotent. */
static int
conn_close(lua_State *L)
{
	struct conn	*c = luaL_checkudata(L, 1, VL_REDIS_CONN);

	if (c->closed)
		return 0;
	c->closed = 1;
	aux_disconnect(c);
	vl_redisurl_free(&c->url);
	free(c->argv);
	free(c->argvlen);
	c->argv = NULL;
	c->argvlen = NULL;
	c->argcap = 0;
	return 0;
}

/* __tostring: <redis shard 0 unix:///…>. */
static int
conn_tostring(lua_State *L)
{
	struct conn	*c = luaL_checkudata(L, 1, VL_REDIS_CONN);

	if (c->closed)
		lua_pushfstring(L, "<redis shard %d (closed)>", c->index);
	else
		lua_pushfstring(L, "<redis shard %d %s>", c->index,
		    c->url.masked);
	return 1;
}

/* __index: the methods, then the fields url (masked) and index. */
static int
conn_index(lua_State *L)
{
	struct conn	*c = luaL_checkudata(L, 1, VL_REDIS_CONN);
	const char	*key = lua_tostring(L, 2);

	if (lua_getfield(L, lua_upvalueindex(1), key ? key : "") != LUA_TNIL)
		return 1;
	if (key != NULL && strcmp(key, "index") == 0)
		lua_pushinteger(L, c->index);
	else if (key != NULL && strcmp(key, "url") == 0 && !c->closed)
		lua_pushstring(L, c->url.masked);
	else
		lua_pushnil(L);
	return 1;
}

static const luaL_Reg conn_meth[] = {
	{ "call", conn_call },
	{ "pcall", conn_pcall },
	{ "pipeline", conn_pipeline },
	{ "labels", conn_labels },
	{ "close", conn_close },
	{ NULL, NULL }
};

static const luaL_Reg conn_metameth[] = {
	{ "__index", NULL },
	{ "__gc", conn_close },
	{ "__close", conn_close },
	{ "__tostring", conn_tostring },
	{ NULL, NULL }
};

/* Create the connection metatable. */
static void
aux_createmeta(lua_State *L)
{
	luaL_newmetatable(L, VL_REDIS_KEPT);
	lua_pushcfunction(L, kept_gc);
	lua_setfield(L, -2, "__gc");
	lua_pop(L, 1);
	luaL_newmetatable(L, VL_REDIS_CONN);
	luaL_setfuncs(L, conn_metameth, 0);
	luaL_newlibtable(L, conn_meth);
	luaL_setfuncs(L, conn_meth, 0);
	lua_pushcclosure(L, conn_index, 1);
	lua_setfield(L, -2, "__index");	/* metatable.__index = methods */
	lua_pop(L, 1);
}

/* Push config.redis.urls and return how many shards it lists. */
static lua_Integer
aux_urls(lua_State *L)
{
	lua_Integer	 n;

	lua_getglobal(L, "require");
	lua_pushliteral(L, "venueless.config");
	lua_call(L, 1, 1);
	if (lua_getfield(L, -1, "redis") != LUA_TTABLE ||
	    lua_getfield(L, -1, "urls") != LUA_TTABLE)
		luaL_error(L, "config.redis.urls is not a list");
	lua_replace(L, -3);
	lua_pop(L, 1);
	if ((n = luaL_len(L, -1)) < 1)
		luaL_error(L, "config.redis.urls is empty");
	return n;
}

/* Push the cached connection object for shard i, made if needed. */
static struct conn *
aux_getconn(lua_State *L, lua_Integer i)
{
	struct conn	*c;
	const char	*url, *cause;
	lua_Integer	 n = aux_urls(L);

	if (i < 0 || i >= n)
		luaL_error(L, "no redis shard %I (there are %I)",
		    (LUAI_UACINT)i, (LUAI_UACINT)n);
	if (lua_geti(L, lua_upvalueindex(1), i) == LUA_TUSERDATA &&
	    !(c = lua_touserdata(L, -1))->closed) {
		lua_remove(L, -2);
		return c;
	}
	lua_pop(L, 1);
	c = lua_newuserdatauv(L, sizeof *c, 0);
	memset(c, 0, sizeof *c);
	c->closed = 1;
	c->index = (int)i;
	c->connect_ms = *(int *)lua_touserdata(L, lua_upvalueindex(2));
	luaL_setmetatable(L, VL_REDIS_CONN);
	if (lua_geti(L, -2, i + 1) != LUA_TSTRING)
		luaL_error(L, "config.redis.urls[%I] is not a string",
		    (LUAI_UACINT)i + 1);
	url = lua_tostring(L, -1);
	if (vl_redisurl_parse(url, &c->url, &cause) == -1)
		vl_error(L, VL_EXIT_FAILURE, "redis shard %d: %s", (int)i,
		    cause);
	c->closed = 0;
	lua_pop(L, 1);
	lua_remove(L, -2);	/* urls */
	lua_pushvalue(L, -1);
	lua_seti(L, lua_upvalueindex(1), i);	/* cache it */
	return c;
}

/* redis.conn(i) → the connection object for shard i. */
static int
lredis_conn(lua_State *L)
{
	aux_getconn(L, luaL_checkinteger(L, 1));
	return 1;
}

/* redis.shards() → the number of shards. */
static int
lredis_shards(lua_State *L)
{
	lua_pushinteger(L, aux_urls(L));
	return 1;
}

/* redis.shard_for(name): int((crc32(name) & 0xFFF) / (4096 / n)). */
static int
lredis_shard_for(lua_State *L)
{
	size_t		 len;
	const char	*name = luaL_checklstring(L, 1, &len);
	lua_Integer	 n = aux_urls(L);
	double		 v;

	v = (double)(aux_crc32((const unsigned char *)name, len) & 0xfff);
	lua_pushinteger(L, (lua_Integer)(v / (4096.0 / (double)n)));
	return 1;
}

/* Put shard 0's connection first, for redis.call and friends. */
static void
aux_shard0(lua_State *L)
{
	aux_getconn(L, 0);
	lua_insert(L, 1);
}

/* redis.call(cmd, ...) on shard 0. */
static int
lredis_call(lua_State *L)
{
	aux_shard0(L);
	return conn_call(L);
}

/* redis.pcall(cmd, ...) on shard 0. */
static int
lredis_pcall(lua_State *L)
{
	aux_shard0(L);
	return conn_pcall(L);
}

/* redis.pipeline(cmds) on shard 0. */
static int
lredis_pipeline(lua_State *L)
{
	aux_shard0(L);
	return conn_pipeline(L);
}

/* redis.close(): close every shard's connection; they reopen lazily. */
static int
lredis_close(lua_State *L)
{
	lua_settop(L, 0);
	lua_pushnil(L);
	while (lua_next(L, lua_upvalueindex(1)) != 0) {
		lua_pushcfunction(L, conn_close);
		lua_insert(L, -2);
		lua_call(L, 1, 0);
		lua_pushvalue(L, -1);
		lua_pushnil(L);
		lua_settable(L, lua_upvalueindex(1));
	}
	return 0;
}

/*
 * redis.connect_timeout([ms]) → the budget for connecting, AUTH and SELECT
 * of connections made from now on (default 5000); the shell's completer
 * sets a short one so a silent server cannot hold the prompt.
 */
static int
lredis_connect_timeout(lua_State *L)
{
	int		*ms = lua_touserdata(L, lua_upvalueindex(2));
	lua_Integer	 v;

	if (!lua_isnoneornil(L, 1)) {
		v = luaL_checkinteger(L, 1);
		luaL_argcheck(L, v > 0 && v <= INT_MAX, 1, "out of range");
		*ms = (int)v;
	}
	lua_pushinteger(L, *ms);
	return 1;
}

/* Set field k of the table at the top to s, unless s is NULL. */
static void
aux_setstr(lua_State *L, const char *k, const char *s)
{
	if (s == NULL)
		return;
	lua_pushstring(L, s);
	lua_setfield(L, -2, k);
}

/*
 * redis.parse_url(s) → {scheme=, host= (or path=), port=, db=, user=,
 * password=, url= (masked)}, or nil, message: what redis.conn would use.
 */
static int
lredis_parse_url(lua_State *L)
{
	struct vl_redisurl	 u;
	const char		*cause;

	if (vl_redisurl_parse(luaL_checkstring(L, 1), &u, &cause) == -1) {
		lua_pushnil(L);
		lua_pushstring(L, cause);
		return 2;
	}
	lua_createtable(L, 0, 7);
	aux_setstr(L, "scheme", u.is_unix ? "unix" : "redis");
	aux_setstr(L, u.is_unix ? "path" : "host", u.host);
	aux_setstr(L, "user", u.user);
	aux_setstr(L, "password", u.password);
	aux_setstr(L, "url", u.masked);
	lua_pushinteger(L, (lua_Integer)u.db);
	lua_setfield(L, -2, "db");
	if (!u.is_unix) {
		lua_pushinteger(L, u.port);
		lua_setfield(L, -2, "port");
	}
	vl_redisurl_free(&u);
	return 1;
}

/* Field k of the table at 1 as a string (numbers converted), or def. */
static const char *
aux_optfield(lua_State *L, const char *k, const char *def)
{
	int	 t = lua_getfield(L, 1, k);	/* stays on the stack */

	if (t == LUA_TNIL)
		return def;
	if (t != LUA_TSTRING && t != LUA_TNUMBER)
		luaL_argerror(L, 1, lua_pushfstring(L, "field '%s': string "
		    "expected, got %s", k, luaL_typename(L, -1)));
	return lua_tostring(L, -1);
}

/* redis.format_url{host=, port=, db=, user=, password=} → redis:// URL. */
static int
lredis_format_url(lua_State *L)
{
	const char	*host, *port, *db, *user, *password;
	char		*url;

	luaL_checktype(L, 1, LUA_TTABLE);
	host = aux_optfield(L, "host", "127.0.0.1");
	port = aux_optfield(L, "port", "6379");
	db = aux_optfield(L, "db", "0");
	user = aux_optfield(L, "user", NULL);
	password = aux_optfield(L, "password", NULL);
	url = vl_redisurl_format(host, port, db, user, password);
	lua_pushstring(L, url);
	free(url);
	return 1;
}

static const luaL_Reg lredis_funcs[] = {
	{ "conn", lredis_conn },
	{ "connect_timeout", lredis_connect_timeout },
	{ "shards", lredis_shards },
	{ "shard_for", lredis_shard_for },
	{ "call", lredis_call },
	{ "pcall", lredis_pcall },
	{ "pipeline", lredis_pipeline },
	{ "close", lredis_close },
	{ "parse_url", lredis_parse_url },
	{ "format_url", lredis_format_url },
	{ NULL, NULL }
};

/* The module: shard functions over a cache of connection objects. */
int
luaopen_venueless_redis(lua_State *L)
{
	aux_createmeta(L);
	luaL_newlibtable(L, lredis_funcs);
	lua_newtable(L);	/* shard index -> connection object */
	*(int *)lua_newuserdatauv(L, sizeof(int), 0) = CONNECT_TIMEOUT;
	luaL_setfuncs(L, lredis_funcs, 2);
	return 1;
}
