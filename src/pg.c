/* venueless.db: PostgreSQL through libpq, loaded with dlopen on first use. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "venueless.h"

#define VL_PGCONN	"venueless.pg.conn"
#define VL_PGRESULT	"venueless.pg.result"
#define VL_PGCURSOR	"venueless.pg.cursor"

#define VL_PG_TIMEOUT	10	/* default connect timeout, seconds */
#define VL_PG_DRAIN	5	/* seconds to wait for a cancelled query */
#define VL_PG_BIGSEND	(1 << 20) /* bytes of query and parameters sent blocking */
#define VL_PG_MAXKW	32	/* connection keywords */
#define VL_PG_MAXPARAMS	65535
#define VL_PG_NOCOPY	"COPY FROM STDIN and COPY TO STDOUT are not supported " \
	"through db.exec or db.query (use INSERT, or psql's \\copy)"

/* Type OIDs (catalog/pg_type_d.h is not part of libpq-dev). */
#define OID_BOOL	16
#define OID_INT8	20
#define OID_INT2	21
#define OID_INT4	23
#define OID_OID		26
#define OID_JSON	114
#define OID_FLOAT4	700
#define OID_FLOAT8	701
#define OID_JSONB	3802

/* The libpq functions we use, resolved with dlsym. */
#define PQ_FUNCS \
	X(PQconnectStartParams) X(PQconnectPoll) X(PQstatus) \
	X(PQerrorMessage) X(PQfinish) X(PQsocket) X(PQsetnonblocking) \
	X(PQconnectionNeedsPassword) X(PQsendQuery) X(PQsendQueryParams) \
	X(PQsetSingleRowMode) X(PQflush) X(PQconsumeInput) X(PQisBusy) \
	X(PQgetResult) X(PQclear) X(PQresultStatus) X(PQresultErrorField) \
	X(PQresultErrorMessage) X(PQntuples) X(PQnfields) X(PQfname) \
	X(PQftype) X(PQgetisnull) X(PQgetvalue) X(PQgetlength) \
	X(PQcmdTuples) X(PQcmdStatus) X(PQgetCancel) X(PQcancel) \
	X(PQfreeCancel) X(PQescapeIdentifier) X(PQfreemem) \
	X(PQbackendPID) X(PQdb) X(PQuser) X(PQhost) X(PQport) \
	X(PQparameterStatus) X(PQtransactionStatus) X(PQputCopyEnd) \
	X(PQgetCopyData)

static struct {
#define X(f) __typeof__(f) *f;
	PQ_FUNCS
#undef X
} pq;
static void	*pq_handle;

/* The one connection; a userdata so __gc closes it with the state. */
struct conn {
	PGconn		*pg;
	int		 depth;		/* db.transaction nesting */
	int		 busy;		/* a db.rows loop owns the connection */
	int		 intr;		/* interrupted: raise after cleaning up */
	int		 draining;	/* cancel sent: ignore signals, deadline */
	int		 lost;		/* the socket failed while waiting */
	int		 traced;	/* a db.trace hook is set (registry[c]) */
	int		 tracing;	/* the hook runs: its own statements are not traced */
	double		 deadline;
	unsigned	 generation;	/* bumped on every (dis)connect */
	char		*errmsg;	/* last failure */
	char		 errcode[6];
	int		 errpos;	/* its PG_DIAG_STATEMENT_POSITION, or 0 */
	lua_Integer	 nstmt;		/* db.stats: statements run */
	lua_Integer	 nrows;		/* rows returned or affected */
	double		 ms;		/* waiting for them */
};

/* A PGresult or libpq string owned by Lua until converted. */
struct box {
	PGresult	*res;
	char		*mem;
};

/*
 * A db.rows loop: in single-row mode, or with opts.batch through a
 * server-side cursor read batch rows per FETCH. User values: 1 the
 * connection, 2 json.decode, 3 and 4 sql and params for db.trace, 5 the
 * one box holding the current result, 6 the column names, 7 the sql (a
 * failure's statement).
 */
struct cursor {
	struct conn	*c;
	unsigned	 generation;
	int		 active;	/* results still to read */
	int		 timed;		/* restore statement_timeout at the end */
	int		 batch;		/* rows per FETCH, 0 in single-row mode */
	int		 nested;	/* in a savepoint, not its own transaction */
	int		 row, nrows;	/* the next row of the current batch */
	int		 last;		/* the current batch was the last */
	int		 inflight;	/* the next FETCH is sent */
	int		 nonull;	/* NULL columns left out of rows */
	char		 old[64];
	double		 t0;		/* sent at, for db.trace */
	double		 tcall;		/* the current call began at */
	double		 ms;		/* db.stats: waiting in the calls so far */
	lua_Integer	 count;		/* db.stats: rows read */
	int		 counted;	/* db.stats has this statement */
};

/* Options of query/exec/rows, and where the arguments are. */
struct qopts {
	lua_Integer	 timeout;	/* ms, -1 for none */
	lua_Integer	 batch;		/* db.rows: rows per FETCH, 0 for none */
	int		 json;
	int		 nonull;	/* opts.nulls = false: NULLs left out */
	int		 decode;	/* stack index of json.decode or 0 */
	const char	*sql;
	int		 n;		/* parameters, -1 for the simple protocol */
	const char	**vals;
};

/* Load libpq once; 0 or -1 with *cause (dlerror's text). */
static int
aux_load(const char **cause)
{
	static const char *const names[] = {
#define X(f) #f,
		PQ_FUNCS
#undef X
	};
	static void *const slots[] = {
#define X(f) &pq.f,
		PQ_FUNCS
#undef X
	};

	return vl_dlopen(VL_LIBPQ_SONAME, names, slots,
	    sizeof names / sizeof names[0], &pq_handle, cause);
}

/* Record a failure on the connection, without trailing newlines. */
static void
aux_seterr(struct conn *c, const char *msg, const char *code)
{
	size_t	 len;

	free(c->errmsg);
	c->errmsg = xstrdup(msg != NULL && *msg != '\0' ? msg : "unknown error");
	len = strlen(c->errmsg);
	while (len > 0 && (c->errmsg[len - 1] == '\n' ||
	    c->errmsg[len - 1] == ' '))
		c->errmsg[--len] = '\0';
	snprintf(c->errcode, sizeof c->errcode, "%s", code);
	c->errpos = 0;
}

/*
 * Join libpq's connection message and its indented hint ("\n\tIs the
 * server running…") into one line: the CLI reports a failure in one line.
 */
static void
aux_oneline(char *msg)
{
	char	*r, *w;

	for (r = w = msg; *r != '\0'; r++) {
		if (*r != '\n') {
			*w++ = *r;
			continue;
		}
		if (r[1] != '\t' && r[1] != ' ' && r[1] != '\n') {
			*w++ = ' ';
			continue;
		}
		while (r[1] == '\t' || r[1] == ' ' || r[1] == '\n')
			r++;
		*w++ = ';';		/* r moved two or more: w stays behind */
		*w++ = ' ';
	}
	*w = '\0';
}

/* Record an error result's message: primary, detail; its SQLSTATE. */
static void
aux_reserrmsg(struct conn *c, const PGresult *res)
{
	const char	*prim, *detail, *state;
	char		*msg;
	size_t		 len;

	prim = pq.PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	detail = pq.PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	state = pq.PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (prim == NULL) {	/* libpq's own: its first line (aux_connerr) */
		prim = pq.PQresultErrorMessage(res);
		if (prim == NULL || *prim == '\0')
			prim = pq.PQerrorMessage(c->pg);
		aux_seterr(c, prim, state != NULL ? state : "XX000");
		c->errmsg[strcspn(c->errmsg, "\n")] = '\0';
		return;
	}
	if (detail == NULL) {
		aux_seterr(c, prim, state != NULL ? state : "XX000");
		return;
	}
	len = strlen(prim) + strlen(detail) + 10;
	msg = xmalloc(len);
	snprintf(msg, len, "%s\nDETAIL: %s", prim, detail);
	aux_seterr(c, msg, state != NULL ? state : "XX000");
	free(msg);
}

/* Record an error result: message, SQLSTATE, error position. */
static void
aux_reserr(struct conn *c, const PGresult *res)
{
	const char	*pos;

	pos = pq.PQresultErrorField(res, PG_DIAG_STATEMENT_POSITION);
	aux_reserrmsg(c, res);
	c->errpos = pos != NULL ? atoi(pos) : 0;
}

/* Forget the connection; the next call reconnects. */
static void
aux_drop(struct conn *c)
{
	if (c->pg != NULL)
		pq.PQfinish(c->pg);
	c->pg = NULL;
	c->busy = c->lost = c->draining = 0;
	c->generation++;
}

/*
 * Wait for events on the connection's socket: signals cancel the query,
 * except while a cancelled one drains (then the drain deadline holds).
 */
static int
aux_wait(struct conn *c, int events)
{
	return vl_wait_fd(pq.PQsocket(c->pg), events,
	    c->draining ? c->deadline : 0, c->draining ? VL_WAIT_NOINTR : 0);
}

/* Ask the server to cancel the running query; then drain with a deadline. */
static void
aux_cancel(struct conn *c)
{
	PGcancel	*cn;
	char		 buf[256];

	if ((cn = pq.PQgetCancel(c->pg)) != NULL) {
		pq.PQcancel(cn, buf, sizeof buf);
		pq.PQfreeCancel(cn);
	}
	c->draining = 1;
	c->deadline = vl_now() + VL_PG_DRAIN;
}

/* Map a connection failure message to a SQLSTATE. */
static const char *
aux_connstate(PGconn *pg, const char *msg)
{
	if (strstr(msg, "password authentication failed") != NULL ||
	    pq.PQconnectionNeedsPassword(pg))
		return "28P01";
	if ((strstr(msg, "role \"") != NULL &&
	    strstr(msg, "does not exist") != NULL) ||
	    strstr(msg, "no pg_hba.conf entry") != NULL)
		return "28000";
	return "08006";
}

/* Run the asynchronous connect; 0 ok, -1 failed, 1 interrupted. */
static int
aux_startconn(struct conn *c, const char **kw, const char **val,
    double timeout)
{
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	double		 deadline = timeout > 0 ? vl_now() + timeout : 0;
	int		 r;

	if ((c->pg = pq.PQconnectStartParams(kw, val, 0)) == NULL) {
		aux_seterr(c, "out of memory", "08006");
		return -1;
	}
	while (pq.PQstatus(c->pg) != CONNECTION_BAD) {
		if (st == PGRES_POLLING_OK) {
			pq.PQsetnonblocking(c->pg, 1);
			c->generation++;
			return 0;
		}
		if (st == PGRES_POLLING_FAILED)
			break;
		r = vl_wait_fd(pq.PQsocket(c->pg), st == PGRES_POLLING_READING ?
		    POLLIN : POLLOUT, deadline, 0);
		if (r == VL_WAIT_INTR || r == VL_WAIT_TIMEOUT) {
			if (r == VL_WAIT_TIMEOUT)
				aux_seterr(c, "timeout expired", "08006");
			aux_drop(c);
			return r == VL_WAIT_INTR ? 1 : -1;
		}
		if (r < 0)
			break;
		st = pq.PQconnectPoll(c->pg);
	}
	aux_seterr(c, pq.PQerrorMessage(c->pg), "08006");
	aux_oneline(c->errmsg);
	snprintf(c->errcode, sizeof c->errcode, "%s",
	    aux_connstate(c->pg, c->errmsg));
	aux_drop(c);
	return -1;
}

/* require(name), leaving the module on the stack. */
static void
aux_require(lua_State *L, const char *name)
{
	lua_getglobal(L, "require");
	lua_pushstring(L, name);
	lua_call(L, 1, 1);
}

/* Push the connection keywords: defaults, config.database, overrides. */
static void
aux_connparams(lua_State *L, int connidx)
{
	static const char *const map[][2] = {
		{ "name", "dbname" }, { "user", "user" },
		{ "password", "password" }, { "host", "host" },
		{ "port", "port" }, { NULL, NULL }
	};
	int	 i;

	lua_newtable(L);
	lua_pushliteral(L, "venueless");
	lua_setfield(L, -2, "application_name");
	aux_require(L, "venueless.config");
	if (lua_getfield(L, -1, "database") == LUA_TTABLE) {
		for (i = 0; map[i][0] != NULL; i++) {
			lua_getfield(L, -1, map[i][0]);
			lua_setfield(L, -4, map[i][1]);
		}
	}
	lua_pop(L, 2);
	if (lua_getiuservalue(L, connidx, 1) == LUA_TTABLE) {
		lua_pushnil(L);
		while (lua_next(L, -2)) {
			if (lua_type(L, -1) == LUA_TNUMBER)
				lua_tostring(L, -1);	/* the value, in place */
			lua_pushvalue(L, -2);
			lua_insert(L, -2);	/* key, key, value */
			lua_settable(L, -5);
		}
	}
	lua_pop(L, 1);
	lua_pushliteral(L, "UTF8");
	lua_setfield(L, -2, "client_encoding");
}

/* Connect from the settings; 0 ok, -1 failed, 1 interrupted. */
static int
aux_connect(lua_State *L, struct conn *c, int connidx)
{
	const char	*kw[VL_PG_MAXKW + 1], *val[VL_PG_MAXKW + 1], *cause;
	double		 timeout = VL_PG_TIMEOUT;
	char		 buf[512];
	int		 n = 0, top = lua_gettop(L), r;

	if (aux_load(&cause) == -1) {
		snprintf(buf, sizeof buf, "cannot load %s: %s", VL_LIBPQ_SONAME,
		    cause != NULL ? cause : "unknown error");
		aux_seterr(c, buf, "08006");
		return -1;
	}
	aux_connparams(L, connidx);
	lua_pushnil(L);
	while (lua_next(L, -2) && n < VL_PG_MAXKW) {
		kw[n] = lua_tostring(L, -2);
		val[n] = lua_tostring(L, -1);
		if (strcmp(kw[n], "connect_timeout") == 0)
			timeout = lua_tonumber(L, -1);
		if (val[n] != NULL && *val[n] != '\0')
			n++;
		lua_pop(L, 1);
	}
	kw[n] = val[n] = NULL;
	r = aux_startconn(c, kw, val, timeout);
	lua_settop(L, top);
	return r;
}

/* The connection userdata, the module functions' upvalue. */
static struct conn *
aux_conn(lua_State *L)
{
	return lua_touserdata(L, lua_upvalueindex(1));
}

/* Connect if needed; 0 ok, -1 failed (raise c->intr after cleanup). */
static int
aux_ready(lua_State *L, struct conn *c)
{
	int	 r;

	if (c->busy)
		luaL_error(L, "db: the connection is busy with a db.rows loop");
	if (c->pg != NULL)
		return 0;
	if (c->depth > 0) {
		aux_seterr(c, "connection lost during a transaction", "08006");
		return -1;
	}
	if ((r = aux_connect(L, c, lua_upvalueindex(1))) == 1)
		c->intr = 1;
	return r == 0 ? 0 : -1;
}

/* Raise "interrupted" if a signal stopped the last operation. */
static void
aux_intr(lua_State *L, struct conn *c)
{
	if (!c->intr)
		return;
	c->intr = c->draining = 0;
	vl_interrupted = 1;
	vl_check_interrupt(L);
}

/* Raise the last failure (vl_fail picks the exit from the SQLSTATE). */
static int
aux_raise(lua_State *L, struct conn *c)
{
	aux_intr(L, c);
	c->draining = 0;
	return vl_fail(L, c->errmsg != NULL ? c->errmsg : "unknown error",
	    c->errcode);
}

/*
 * Raise the last failure of sql: with the statement and the server's
 * error position (a character index from 1) when it gave one. The server
 * ran sql after skip characters of our own (db.rows' DECLARE): a
 * position in those is not shown.
 */
static int
aux_raisesql(lua_State *L, struct conn *c, const char *sql, int skip)
{
	aux_intr(L, c);
	c->draining = 0;
	if (c->errpos - skip <= 0 || sql == NULL)
		return aux_raise(L, c);
	vl_pushfailure(L, c->errmsg != NULL ? c->errmsg : "unknown error",
	    c->errcode);
	lua_pushstring(L, sql);
	lua_setfield(L, -2, "statement");
	lua_pushinteger(L, c->errpos - skip);
	lua_setfield(L, -2, "position");
	return lua_error(L);
}

/* Count a statement that ended for db.stats: rows, time since t0. */
static void
aux_account(struct conn *c, double t0, lua_Integer rows)
{
	c->nstmt++;
	c->nrows += rows;
	c->ms += (vl_now() - t0) * 1000;
}

/*
 * The connection broke: record it as 08006 and forget it. libpq's own
 * message is its first line: the rest is a hint ("\tThis probably
 * means…") and the errors of the calls after it ("invalid socket").
 */
static int
aux_connerr(struct conn *c, int keep)
{
	if (!keep || c->errmsg == NULL) {
		aux_seterr(c, pq.PQerrorMessage(c->pg), "08006");
		c->errmsg[strcspn(c->errmsg, "\n")] = '\0';
	}
	snprintf(c->errcode, sizeof c->errcode, "08006");
	aux_drop(c);
	return -1;
}

/* Hand the query to libpq; 1 or 0. n < 0 uses the simple protocol. */
static int
aux_queue(struct conn *c, const char *sql, int n, const char *const *vals)
{
	if (n < 0)
		return pq.PQsendQuery(c->pg, sql);
	return pq.PQsendQueryParams(c->pg, sql, n, NULL, vals, NULL, NULL, 0);
}

/* Is the query text with its parameters over VL_PG_BIGSEND bytes? */
static int
aux_isbig(const char *sql, int n, const char *const *vals)
{
	size_t	 size = strlen(sql);
	int	 i;

	for (i = 0; i < n && size <= VL_PG_BIGSEND; i++)
		if (vals[i] != NULL)
			size += strlen(vals[i]);
	return size > VL_PG_BIGSEND;
}

/*
 * Send a big query with libpq in blocking mode: in non-blocking mode
 * every partial write moves the rest of libpq's output buffer to its
 * front, quadratic in the size (200 MB took minutes). While it blocks, a
 * signal shuts the socket down (vl_abort_fd, interp.c) so the
 * write ends; then the query is cancelled and the connection dropped.
 * 1 sent, 0 failed, -1 interrupted.
 */
static int
aux_queuebig(struct conn *c, const char *sql, int n, const char *const *vals)
{
	int	 ok = 0, shut;

	pq.PQsetnonblocking(c->pg, 0);
	vl_abort_fd = pq.PQsocket(c->pg);
	if (!vl_interrupted)	/* a signal from here on shuts the socket */
		ok = aux_queue(c, sql, n, vals) && pq.PQflush(c->pg) == 0;
	shut = vl_abort_fd == -1;
	vl_abort_fd = -1;
	pq.PQsetnonblocking(c->pg, 1);
	if (shut || vl_interrupted) {
		c->intr = 1;
		if (shut) {	/* it may have gone out whole before the signal */
			aux_cancel(c);
			aux_drop(c);
		}
		return -1;
	}
	return ok;
}

/* Send a query and flush it; n < 0 uses the simple protocol. */
static int
aux_send(struct conn *c, const char *sql, int n, const char *const *vals,
    int single)
{
	int	 r, ok;

	if (aux_isbig(sql, n, vals)) {
		if ((ok = aux_queuebig(c, sql, n, vals)) == -1)
			return -1;
	} else
		ok = aux_queue(c, sql, n, vals);
	if (!ok) {
		if (pq.PQstatus(c->pg) == CONNECTION_BAD)
			return aux_connerr(c, 0);
		aux_seterr(c, pq.PQerrorMessage(c->pg), "XX000");
		return -1;
	}
	if (single)
		pq.PQsetSingleRowMode(c->pg);
	while ((r = pq.PQflush(c->pg)) == 1) {
		r = aux_wait(c, POLLIN | POLLOUT);
		if (r == VL_WAIT_INTR) {
			c->intr = 1;
			aux_cancel(c);
		} else if (r <= 0 || !pq.PQconsumeInput(c->pg))
			return aux_connerr(c, 0);
	}
	return r == 0 ? 0 : aux_connerr(c, 0);
}

/* The next result, waiting with poll; a signal cancels the query. */
static PGresult *
aux_next(struct conn *c)
{
	int	 r;

	while (pq.PQisBusy(c->pg)) {
		r = aux_wait(c, POLLIN);
		if (r == VL_WAIT_INTR) {
			c->intr = 1;
			aux_cancel(c);
			continue;
		}
		if (r <= 0) {
			aux_seterr(c, r == VL_WAIT_TIMEOUT ? "the server did not answer "
			    "the cancel request" : "lost the connection",
			    "08006");
			c->lost = 1;
			return NULL;
		}
		if (!pq.PQconsumeInput(c->pg))
			break;
	}
	return pq.PQgetResult(c->pg);
}

/* The affected row count of a command result. */
static lua_Integer
aux_count(const PGresult *res)
{
	return strtoll(pq.PQcmdTuples((PGresult *)res), NULL, 10);
}

/* Wait for input during a COPY; a signal cancels it. -1 when lost. */
static int
aux_copywait(struct conn *c)
{
	int	 r = aux_wait(c, POLLIN);

	if (r == VL_WAIT_INTR) {
		c->intr = 1;
		aux_cancel(c);
		return 0;
	}
	if (r <= 0 || !pq.PQconsumeInput(c->pg))
		return -1;
	return 0;
}

/*
 * The server started a COPY we cannot feed or read: end it (COPY FROM
 * STDIN fails with our message, COPY TO STDOUT's data is discarded) so
 * the connection stays usable, and record 0A000 if seterr. COPY BOTH
 * (replication) cannot be ended: the connection is lost.
 */
static void
aux_copy(struct conn *c, const PGresult *res, int seterr)
{
	char	*buf;
	int	 n;

	if (pq.PQresultStatus(res) == PGRES_COPY_IN) {
		while ((n = pq.PQputCopyEnd(c->pg, "not supported")) == 0)
			if (aux_wait(c, POLLOUT) <= 0)
				break;
		while (n == 1 && (n = pq.PQflush(c->pg)) == 1)
			if (aux_wait(c, POLLIN | POLLOUT) <= 0 ||
			    !pq.PQconsumeInput(c->pg))
				n = -1;
		c->lost = n != 0;
	} else if (pq.PQresultStatus(res) == PGRES_COPY_OUT) {
		while ((n = pq.PQgetCopyData(c->pg, &buf, 1)) >= 0) {
			if (n > 0)
				pq.PQfreemem(buf);
			else if (aux_copywait(c) == -1)
				break;
		}
		c->lost = n != -1;
	} else
		c->lost = 1;
	if (seterr)
		aux_seterr(c, VL_PG_NOCOPY, "0A000");
}

/*
 * Read every result of the current query. The last successful one goes
 * to *out (if given), counts are summed into *count; 0 or -1.
 */
static int
aux_collect(struct conn *c, PGresult **out, lua_Integer *count)
{
	PGresult	*res;
	int		 failed = 0;

	while ((res = aux_next(c)) != NULL) {
		switch (pq.PQresultStatus(res)) {
		case PGRES_TUPLES_OK:
		case PGRES_COMMAND_OK:
		case PGRES_EMPTY_QUERY:
			if (count != NULL)
				*count += aux_count(res);
			if (out != NULL && !failed) {
				pq.PQclear(*out);
				*out = res;
				res = NULL;
			}
			break;
		case PGRES_COPY_IN:
		case PGRES_COPY_OUT:
		case PGRES_COPY_BOTH:
			aux_copy(c, res, !failed);
			failed = 1;
			break;
		default:
			if (!failed)
				aux_reserr(c, res);
			failed = 1;
		}
		pq.PQclear(res);
		if (c->lost)
			break;
	}
	if (c->lost || pq.PQstatus(c->pg) == CONNECTION_BAD)
		return aux_connerr(c, failed || c->lost);
	return failed ? -1 : 0;
}

/* Send and collect; 0 or -1. */
static int
aux_run(struct conn *c, const char *sql, int n, const char *const *vals,
    PGresult **out, lua_Integer *count)
{
	if (aux_send(c, sql, n, vals, 0) == -1)
		return -1;
	return aux_collect(c, out, count);
}

/* Set statement_timeout to ms, saving the old value in old[64]. */
static int
aux_settimeout(struct conn *c, lua_Integer ms, char *old)
{
	PGresult	*res = NULL;
	char		 buf[32];
	const char	*v[1] = { buf };

	snprintf(buf, sizeof buf, LUA_INTEGER_FMT, ms);
	if (aux_run(c, "SELECT current_setting('statement_timeout'), "
	    "set_config('statement_timeout', $1, false)", 1, v, &res,
	    NULL) == -1) {
		pq.PQclear(res);
		return -1;
	}
	snprintf(old, 64, "%s", pq.PQntuples(res) == 1 ?
	    pq.PQgetvalue(res, 0, 0) : "0");
	pq.PQclear(res);
	return 0;
}

/* Send sql (NULL: only collect the query in flight) and collect, keeping
 * the recorded failure; 0 or -1. */
static int
aux_quiet(struct conn *c, const char *sql, int n, const char *const *vals)
{
	char	*msg = c->errmsg;
	char	 code[6];
	int	 r, pos = c->errpos;

	memcpy(code, c->errcode, sizeof code);
	c->errmsg = NULL;
	r = sql != NULL ? aux_run(c, sql, n, vals, NULL, NULL) :
	    aux_collect(c, NULL, NULL);
	free(c->errmsg);
	c->errmsg = msg;
	memcpy(c->errcode, code, sizeof code);
	c->errpos = pos;
	return r;
}

/* Put statement_timeout back, keeping the recorded failure. */
static void
aux_restoretimeout(struct conn *c, const char *old)
{
	const char	*v[1] = { old };

	if (c->pg == NULL)
		return;
	aux_quiet(c, "SELECT set_config('statement_timeout', $1, false)", 1,
	    v);
}

/* Run the query with opts.timeout applied around it. */
static int
aux_timed(struct conn *c, const struct qopts *o, PGresult **out,
    lua_Integer *count)
{
	char	 old[64];
	int	 r;

	if (o->timeout >= 0 && aux_settimeout(c, o->timeout, old) == -1)
		return -1;
	r = aux_run(c, o->sql, o->n, o->vals, out, count);
	if (o->timeout >= 0)
		aux_restoretimeout(c, old);
	return r;
}

/* A new empty box, owned by Lua. */
static struct box *
aux_newbox(lua_State *L)
{
	struct box	*b;

	b = lua_newuserdatauv(L, sizeof *b, 0);
	b->res = NULL;
	b->mem = NULL;
	luaL_setmetatable(L, VL_PGRESULT);
	return b;
}

/* Push a Lua value as parameter text in place; 0, or -1 for a NUL. */
static int
aux_param(lua_State *L, struct conn *c, int idx, int i)
{
	char		 buf[64];
	const char	*s;
	size_t		 len;
	lua_Number	 d;
	int		 prec;

	switch (lua_type(L, idx)) {
	case LUA_TNUMBER:
		if (lua_isinteger(L, idx)) {
			lua_pushfstring(L, "%I", lua_tointeger(L, idx));
			break;
		}
		d = lua_tonumber(L, idx);
		if (isnan(d) || isinf(d))
			snprintf(buf, sizeof buf, "%s", isnan(d) ? "NaN" :
			    d > 0 ? "Infinity" : "-Infinity");
		else
			for (prec = 15; prec <= 17; prec++) {
				snprintf(buf, sizeof buf, "%.*g", prec, d);
				if (strtod(buf, NULL) == d)
					break;
			}
		lua_pushstring(L, buf);
		break;
	case LUA_TBOOLEAN:
		lua_pushstring(L, lua_toboolean(L, idx) ? "true" : "false");
		break;
	case LUA_TSTRING:
		s = lua_tolstring(L, idx, &len);
		if (memchr(s, '\0', len) == NULL)
			return 0;
		snprintf(buf, sizeof buf, "parameter $%d contains a NUL byte",
		    i);
		aux_seterr(c, buf, "22021");
		return -1;
	case LUA_TTABLE:
		aux_require(L, "venueless.json");
		if (lua_getfield(L, -1, "encode") != LUA_TFUNCTION)
			luaL_error(L, "db: venueless.json.encode is missing");
		lua_pushvalue(L, idx);
		lua_call(L, 1, 1);
		lua_remove(L, -2);
		break;
	default:
		luaL_argexpected(L, 0, idx, "parameter (string, number, "
		    "boolean, table, nil or db.NULL)");
	}
	lua_replace(L, idx);
	return 0;
}

/* Convert the parameters after the SQL; 0, or -1 with the failure set. */
static int
aux_params(lua_State *L, struct conn *c, int base, struct qopts *o,
    int simple)
{
	int	 i, n = lua_gettop(L) - base;

	if (n > VL_PG_MAXPARAMS)
		luaL_error(L, "db: too many parameters");
	o->n = simple && n == 0 ? -1 : n;
	o->vals = lua_newuserdatauv(L, (n > 0 ? n : 1) * sizeof *o->vals, 0);
	for (i = 0; i < n; i++) {
		if (lua_isnil(L, base + 1 + i) || vl_isnull(L, base + 1 + i)) {
			o->vals[i] = NULL;
			continue;
		}
		if (lua_type(L, base + 1 + i) == LUA_TUSERDATA)
			luaL_argexpected(L, 0, base + 1 + i, "parameter");
		if (aux_param(L, c, base + 1 + i, i + 1) == -1)
			return -1;
		o->vals[i] = lua_tostring(L, base + 1 + i);
	}
	return 0;
}

/* Parse [opts,] sql, ... and the parameters; push json.decode if asked. */
static int
aux_args(lua_State *L, struct conn *c, struct qopts *o, int simple)
{
	int	 base = 1;
	size_t	 len;

	o->timeout = -1;
	o->batch = 0;
	o->json = o->decode = o->nonull = 0;
	if (lua_type(L, 1) == LUA_TTABLE) {
		base = 2;
		o->json = lua_getfield(L, 1, "json") != LUA_TNIL &&
		    lua_toboolean(L, -1);
		o->nonull = lua_getfield(L, 1, "nulls") != LUA_TNIL &&
		    !lua_toboolean(L, -1);
		if (lua_getfield(L, 1, "timeout") != LUA_TNIL) {
			if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
				luaL_argerror(L, 1, "timeout must be a "
				    "non-negative integer (ms)");
			o->timeout = lua_tointeger(L, -1);
		}
		if (lua_getfield(L, 1, "batch") != LUA_TNIL) {
			if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 ||
			    lua_tointeger(L, -1) > INT_MAX)
				luaL_argerror(L, 1, "batch must be a positive "
				    "integer (rows)");
			o->batch = lua_tointeger(L, -1);
		}
		lua_pop(L, 4);
	}
	o->sql = luaL_checklstring(L, base, &len);
	if (strlen(o->sql) != len)
		luaL_argerror(L, base, "contains a NUL byte");
	if (aux_params(L, c, base, o, simple) == -1)
		return -1;
	if (o->json) {
		aux_require(L, "venueless.json");
		if (lua_getfield(L, -1, "decode") != LUA_TFUNCTION)
			luaL_error(L, "db: venueless.json.decode is missing");
		o->decode = lua_gettop(L);
	}
	return aux_ready(L, c);
}

/* Push one field: integer, float, boolean, null, decoded json, string. */
static void
aux_pushvalue(lua_State *L, const PGresult *res, int r, int f, int decode)
{
	const char	*v;
	int		 len;

	if (pq.PQgetisnull(res, r, f)) {
		vl_pushnull(L);
		return;
	}
	v = pq.PQgetvalue(res, r, f);
	len = pq.PQgetlength(res, r, f);
	switch (pq.PQftype(res, f)) {
	case OID_BOOL:
		lua_pushboolean(L, v[0] == 't');
		break;
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_OID:
		lua_pushinteger(L, (lua_Integer)strtoll(v, NULL, 10));
		break;
	case OID_FLOAT4:
	case OID_FLOAT8:
		lua_pushnumber(L, (lua_Number)strtod(v, NULL));
		break;
	case OID_JSON:
	case OID_JSONB:
		if (decode == 0) {
			lua_pushlstring(L, v, len);
			break;
		}
		lua_pushvalue(L, decode);
		lua_pushlstring(L, v, len);
		lua_call(L, 1, 2);
		if (lua_isnil(L, -2))
			luaL_error(L, "db: json.decode: %s",
			    luaL_optstring(L, -1, "failed"));
		lua_pop(L, 1);
		break;
	default:
		lua_pushlstring(L, v, len);
	}
}

/*
 * Push row r as a table keyed by column name (names at colidx or fresh);
 * nonull: NULL columns left out (they read as nil, and the table is
 * smaller: a model row has several).
 */
static void
aux_pushrow(lua_State *L, const PGresult *res, int r, int colidx,
    int decode, int nonull)
{
	int	 f, nf = pq.PQnfields(res);

	lua_createtable(L, 0, nf);
	for (f = 0; f < nf; f++) {
		if (nonull && pq.PQgetisnull(res, r, f))
			continue;
		if (colidx != 0)
			lua_rawgeti(L, colidx, f + 1);
		else
			lua_pushstring(L, pq.PQfname(res, f));
		aux_pushvalue(L, res, r, f, decode);
		lua_rawset(L, -3);
	}
}

/* Push the column names of res, a list. */
static void
aux_pushnames(lua_State *L, const PGresult *res)
{
	int	 f, nf = pq.PQnfields(res);

	lua_createtable(L, nf, 0);
	for (f = 0; f < nf; f++) {
		lua_pushstring(L, pq.PQfname(res, f));
		lua_rawseti(L, -2, f + 1);
	}
}

/* Push a whole result: rows, columns, count. */
static void
aux_pushresult(lua_State *L, const PGresult *res, int decode, int nonull)
{
	int	 r, nr = pq.PQntuples(res), cols;

	lua_createtable(L, nr, 2);
	aux_pushnames(L, res);
	cols = lua_gettop(L);
	for (r = 0; r < nr; r++) {
		aux_pushrow(L, res, r, cols, decode, nonull);
		lua_rawseti(L, -3, r + 1);
	}
	lua_setfield(L, -2, "columns");
	lua_pushinteger(L, aux_count(res));
	lua_setfield(L, -2, "count");
	luaL_setmetatable(L, VL_DBRESULT);	/* json.encode: rows in order */
}

/* {====== trace */

/*
 * Push the db.trace hook, sql and its parameters (a list with n, NULL as
 * nil, as the server got them); 0 and nothing pushed when not tracing.
 */
static int
aux_tracepush(lua_State *L, struct conn *c, const char *sql, int n,
    const char *const *vals)
{
	int	 i;

	if (!c->traced || c->tracing)
		return 0;
	lua_rawgetp(L, LUA_REGISTRYINDEX, c);
	lua_pushstring(L, sql);
	lua_createtable(L, n > 0 ? n : 0, 1);
	for (i = 0; i < n; i++) {
		if (vals[i] == NULL)
			continue;
		lua_pushstring(L, vals[i]);
		lua_rawseti(L, -2, i + 1);
	}
	lua_pushinteger(L, n > 0 ? n : 0);
	lua_setfield(L, -2, "n");
	return 1;
}

/*
 * Call the hook pushed below sql and params with the time since t0 (ms)
 * and the failure if failed. An interrupt inside it is raised again (call
 * this holding nothing); its other errors are warnings.
 */
static void
aux_tracecall(lua_State *L, struct conn *c, double t0, int failed)
{
	int	 r, interrupted = 0;

	lua_pushnumber(L, (vl_now() - t0) * 1000);
	if (failed)
		lua_pushstring(L, c->intr ? "interrupted" : c->errmsg != NULL ?
		    c->errmsg : "failed");
	else
		lua_pushnil(L);
	c->tracing = 1;
	r = lua_pcall(L, 4, 0, 0);
	c->tracing = 0;
	if (r == LUA_OK)
		return;
	if (lua_type(L, -1) == LUA_TTABLE) {
		lua_getfield(L, -1, "code");
		interrupted = lua_type(L, -1) == LUA_TSTRING &&
		    strcmp(lua_tostring(L, -1), "interrupted") == 0;
		lua_pop(L, 1);
	}
	if (interrupted)
		lua_error(L);
	fprintf(stderr, "venueless: warning: db.trace: %s\n",
	    luaL_tolstring(L, -1, NULL));
	lua_pop(L, 2);
}

/* Trace a statement that ended (see aux_tracecall). */
static void
aux_trace(lua_State *L, struct conn *c, const char *sql, int n,
    const char *const *vals, double t0, int failed)
{
	if (aux_tracepush(L, c, sql, n, vals))
		aux_tracecall(L, c, t0, failed);
}

/* db.stats() -> {statements=, rows=, ms=}: totals since start */
static int
lpg_stats(lua_State *L)
{
	struct conn	*c = aux_conn(L);

	lua_createtable(L, 0, 3);
	lua_pushinteger(L, c->nstmt);
	lua_setfield(L, -2, "statements");
	lua_pushinteger(L, c->nrows);
	lua_setfield(L, -2, "rows");
	lua_pushnumber(L, c->ms);
	lua_setfield(L, -2, "ms");
	return 1;
}

/* db.trace(on | fn) -> whether it was on; fn(sql, params, ms, err) */
static int
lpg_trace(lua_State *L)
{
	struct conn	*c = aux_conn(L);
	int		 was = c->traced;

	if (lua_type(L, 1) == LUA_TBOOLEAN && lua_toboolean(L, 1)) {
		aux_require(L, "venueless.trace");
		if (lua_getfield(L, -1, "hook") != LUA_TFUNCTION)
			luaL_error(L, "db: venueless.trace.hook is missing");
	} else if (lua_type(L, 1) == LUA_TFUNCTION)
		lua_pushvalue(L, 1);
	else if (lua_type(L, 1) == LUA_TBOOLEAN || lua_isnil(L, 1))
		lua_pushnil(L);
	else
		return luaL_typeerror(L, 1, "boolean or function");
	c->traced = !lua_isnil(L, -1);
	lua_rawsetp(L, LUA_REGISTRYINDEX, c);
	lua_pushboolean(L, was);
	return 1;
}

/* }====== */

/* db.query([opts,] sql, ...) -> result; raises failures */
static int
lpg_query(lua_State *L)
{
	struct conn	*c = aux_conn(L);
	struct qopts	 o;
	struct box	*b;
	int		 r;

	double		 t0;

	if (aux_args(L, c, &o, 0) == -1)
		return aux_raise(L, c);
	b = aux_newbox(L);
	t0 = vl_now();
	r = aux_timed(c, &o, &b->res, NULL);
	aux_account(c, t0, r == 0 && b->res != NULL ? pq.PQntuples(b->res) : 0);
	if (r == -1 || c->intr) {
		pq.PQclear(b->res);
		b->res = NULL;
		aux_trace(L, c, o.sql, o.n, o.vals, t0, 1);
		return aux_raisesql(L, c, o.sql, 0);
	}
	aux_pushresult(L, b->res, o.decode, o.nonull);
	pq.PQclear(b->res);
	b->res = NULL;
	aux_trace(L, c, o.sql, o.n, o.vals, t0, 0);
	return 1;
}

/* db.exec([opts,] sql, ...) -> affected rows; raises failures */
static int
lpg_exec(lua_State *L)
{
	struct conn	*c = aux_conn(L);
	struct qopts	 o;
	lua_Integer	 count = 0;
	double		 t0;
	int		 r;

	if (aux_args(L, c, &o, 1) == -1)
		return aux_raise(L, c);
	t0 = vl_now();
	r = aux_timed(c, &o, NULL, &count);
	aux_account(c, t0, count);
	aux_trace(L, c, o.sql, o.n, o.vals, t0, r == -1 || c->intr);
	if (r == -1)
		return aux_raisesql(L, c, o.sql, 0);
	aux_intr(L, c);
	lua_pushinteger(L, count);
	return 1;
}

/* {====== db.rows */

/* What a batched db.rows sends before the user's sql. */
#define ROWS_DECLARE	"DECLARE venueless_rows NO SCROLL CURSOR FOR "

/* The statements that end a batched db.rows: [nested], a savepoint. */
static const char *const rows_end[2] = {
	"CLOSE venueless_rows; COMMIT",
	"CLOSE venueless_rows; RELEASE SAVEPOINT venueless_rows"
};
static const char *const rows_undo[2] = {
	"ROLLBACK",
	"ROLLBACK TO SAVEPOINT venueless_rows; RELEASE SAVEPOINT venueless_rows"
};

/* End a db.rows query: cancel if asked, drain, restore the timeout. */
static void
aux_finish(struct conn *c, struct cursor *cur, int cancel)
{
	PGresult	*res;
	int		 draining = c->draining;

	if (!cur->active)
		return;
	cur->active = 0;
	if (c->pg == NULL || c->generation != cur->generation)
		return;
	c->busy = 0;
	if (cancel && !c->draining)
		aux_cancel(c);
	while ((res = aux_next(c)) != NULL) {
		pq.PQclear(res);
		if (c->lost)
			break;
	}
	if (c->lost || pq.PQstatus(c->pg) == CONNECTION_BAD) {
		aux_connerr(c, 1);
		return;
	}
	if (cur->timed)
		aux_restoretimeout(c, cur->old);
	c->draining = draining;
}

/* Undo a batched db.rows' transaction or savepoint, keeping the recorded
 * failure; a connection stuck in its own transaction is dropped. */
static void
aux_undobatch(struct conn *c, struct cursor *cur)
{
	if (aux_quiet(c, rows_undo[cur->nested], -1, NULL) == -1 &&
	    !cur->nested && c->pg != NULL)
		aux_drop(c);
}

/*
 * End a batched db.rows: close the cursor and commit (or release the
 * savepoint), or roll back if failed or that fails; 0 or -1.
 */
static int
aux_endbatch(struct conn *c, struct cursor *cur, int failed)
{
	if (!cur->active)
		return 0;
	cur->active = 0;
	if (c->pg == NULL || c->generation != cur->generation)
		return 0;
	c->busy = 0;
	if (cur->inflight && aux_quiet(c, NULL, 0, NULL) == -1)
		failed = 1;
	cur->inflight = 0;
	if (c->pg == NULL)
		return -1;
	if (!failed && aux_run(c, rows_end[cur->nested], -1, NULL, NULL,
	    NULL) == -1)
		failed = 1;
	if (failed && c->pg != NULL)
		aux_undobatch(c, cur);
	if (cur->timed && c->pg != NULL)
		aux_restoretimeout(c, cur->old);
	return failed ? -1 : 0;
}

/*
 * Open the server-side cursor of a batched db.rows inside its own
 * transaction, or a savepoint if one is open; 0 or -1.
 */
static int
aux_declare(lua_State *L, struct conn *c, struct cursor *cur,
    const struct qopts *o)
{
	const char	*sql;
	int		 r;

	cur->nested = c->depth > 0 ||
	    pq.PQtransactionStatus(c->pg) != PQTRANS_IDLE;
	if (aux_run(c, cur->nested ? "SAVEPOINT venueless_rows" : "BEGIN", -1,
	    NULL, NULL, NULL) == -1)
		return -1;
	sql = lua_pushfstring(L, ROWS_DECLARE "%s", o->sql);
	r = c->intr ? -1 : aux_run(c, sql, o->n, o->vals, NULL, NULL);
	lua_pop(L, 1);
	if (r == 0 && !c->intr)
		return 0;
	aux_undobatch(c, cur);
	return -1;
}

/* Trace a db.rows statement that ended: its sql and params are the
 * cursor's user values 3 and 4. */
static void
aux_tracerows(lua_State *L, struct cursor *cur, int failed)
{
	struct conn	*c = cur->c;

	if (!c->traced || c->tracing || lua_getiuservalue(L, 1, 3) !=
	    LUA_TSTRING) {
		lua_pop(L, 1);
		return;
	}
	lua_pop(L, 1);
	lua_rawgetp(L, LUA_REGISTRYINDEX, c);
	lua_getiuservalue(L, 1, 3);
	lua_getiuservalue(L, 1, 4);
	aux_tracecall(L, c, cur->t0, failed);
}

/*
 * Count a db.rows statement that ended in db.stats, once: the rows the
 * loop read and the time spent in its calls (the loop's body is not
 * waiting for the server), the current one until now.
 */
static void
aux_rowsdone(struct cursor *cur)
{
	struct conn	*c = cur->c;

	if (cur->counted)
		return;
	cur->counted = 1;
	c->nstmt++;
	c->nrows += cur->count;
	c->ms += cur->ms + (vl_now() - cur->tcall) * 1000;
}

/*
 * Raise the failure of the db.rows at 1: in single-row mode with its
 * statement and error position (a batched one's FETCH is not the sql).
 */
static int
aux_raiserows(lua_State *L, struct cursor *cur)
{
	const char	*sql = NULL;

	if (cur->batch == 0 && lua_getiuservalue(L, 1, 7) == LUA_TSTRING)
		sql = lua_tostring(L, -1);
	return aux_raisesql(L, cur->c, sql, 0);
}

/* Push the cursor's (at 1) column names, taken from res once; their index. */
static int
aux_columns(lua_State *L, const PGresult *res)
{
	if (lua_getiuservalue(L, 1, 6) != LUA_TTABLE) {
		lua_pop(L, 1);
		aux_pushnames(L, res);
		lua_pushvalue(L, -1);
		lua_setiuservalue(L, 1, 6);
	}
	return lua_gettop(L);
}

/* The next row in single-row mode (the result goes through box b). */
static int
aux_nextsingle(lua_State *L, struct cursor *cur, struct box *b, int decode)
{
	struct conn	*c = cur->c;
	int		 st;

	pq.PQclear(b->res);
	b->res = aux_next(c);
	st = b->res != NULL ? (int)pq.PQresultStatus(b->res) : -1;
	if (st == PGRES_SINGLE_TUPLE && !c->intr) {
		aux_pushrow(L, b->res, 0, aux_columns(L, b->res), decode,
		    cur->nonull);
		pq.PQclear(b->res);
		b->res = NULL;
		return 1;
	}
	if ((st == PGRES_COPY_IN || st == PGRES_COPY_OUT ||
	    st == PGRES_COPY_BOTH) && !c->intr)
		aux_copy(c, b->res, 1);
	else if (st != PGRES_TUPLES_OK && st != -1 && !c->intr)
		aux_reserr(c, b->res);
	pq.PQclear(b->res);
	b->res = NULL;
	aux_finish(c, cur, 0);
	aux_rowsdone(cur);
	aux_tracerows(L, cur, st != PGRES_TUPLES_OK || c->intr);
	if (st == PGRES_TUPLES_OK && !c->intr)
		return 0;
	return aux_raiserows(L, cur);
}

/* Send the next FETCH of a batched db.rows; 0 or -1. */
static int
aux_sendfetch(struct cursor *cur)
{
	char	 sql[64];

	snprintf(sql, sizeof sql, "FETCH FORWARD %d FROM venueless_rows",
	    cur->batch);
	if (aux_send(cur->c, sql, -1, NULL, 0) == -1)
		return -1;
	cur->inflight = 1;
	return 0;
}

/*
 * Collect the next batch into box b and send the FETCH after it at once:
 * the server reads that batch while the client converts this one (a
 * FETCH at a time would leave one of them idle); 0 or -1.
 */
static int
aux_fetch(struct cursor *cur, struct box *b)
{
	struct conn	*c = cur->c;

	pq.PQclear(b->res);
	b->res = NULL;
	if (!cur->inflight && aux_sendfetch(cur) == -1)
		return -1;
	cur->inflight = 0;
	if (aux_collect(c, &b->res, NULL) == -1 || c->intr || b->res == NULL)
		return -1;
	cur->row = 0;
	cur->nrows = pq.PQntuples(b->res);
	cur->last = cur->nrows < cur->batch;
	return cur->last ? 0 : aux_sendfetch(cur);
}

/* The next row of a batched db.rows, from the batch held in box b. */
static int
aux_nextbatched(lua_State *L, struct cursor *cur, struct box *b,
    int decode)
{
	int	 failed = 0;

	if (cur->row >= cur->nrows && !cur->last && aux_fetch(cur, b) == -1)
		failed = 1;
	else if (cur->row < cur->nrows) {
		aux_pushrow(L, b->res, cur->row++, aux_columns(L, b->res),
		    decode, cur->nonull);
		return 1;
	}
	pq.PQclear(b->res);
	b->res = NULL;
	if (aux_endbatch(cur->c, cur, failed) == -1)
		failed = 1;
	aux_rowsdone(cur);
	aux_tracerows(L, cur, failed || cur->c->intr);
	if (failed || cur->c->intr)
		return aux_raise(L, cur->c);
	return 0;
}

/* The db.rows iterator: the next row, nil at the end; raises on error. */
static int
cursor_next(lua_State *L)
{
	struct cursor	*cur = luaL_checkudata(L, 1, VL_PGCURSOR);
	struct conn	*c = cur->c;
	struct box	*b;
	int		 decode = 0, n;

	if (!cur->active)
		return 0;
	cur->tcall = vl_now();
	if (c->pg == NULL || c->generation != cur->generation) {
		cur->active = 0;
		aux_rowsdone(cur);
		aux_seterr(c, "the connection closed during db.rows", "08006");
		return aux_raise(L, c);
	}
	if (lua_getiuservalue(L, 1, 2) == LUA_TFUNCTION)
		decode = lua_gettop(L);
	lua_getiuservalue(L, 1, 5);
	b = lua_touserdata(L, -1);
	if (cur->batch > 0)
		n = aux_nextbatched(L, cur, b, decode);
	else
		n = aux_nextsingle(L, cur, b, decode);
	if (n > 0) {			/* a row: db.stats counts it */
		cur->count++;
		cur->ms += (vl_now() - cur->tcall) * 1000;
	}
	return n;
}

/* The closing value of db.rows: stop a loop left early (arg 2: the error
 * it left with, if any, rolls a batched one back). */
static int
cursor_close(lua_State *L)
{
	struct cursor	*cur = luaL_checkudata(L, 1, VL_PGCURSOR);
	struct box	*b;
	int		 active = cur->active;

	cur->tcall = vl_now();
	if (lua_getiuservalue(L, 1, 5) == LUA_TUSERDATA) {
		b = lua_touserdata(L, -1);
		pq.PQclear(b->res);
		b->res = NULL;
	}
	lua_pop(L, 1);
	if (cur->batch > 0)
		aux_endbatch(cur->c, cur, !lua_isnoneornil(L, 2));
	else
		aux_finish(cur->c, cur, 1);
	if (active) {
		aux_rowsdone(cur);
		aux_tracerows(L, cur, 0);
	}
	return 0;
}

/* db.rows([opts,] sql, ...) -> iterator, cursor, nil, cursor */
static int
lpg_rows(lua_State *L)
{
	struct conn	*c = aux_conn(L);
	struct cursor	*cur;
	struct qopts	 o;
	int		 idx, r;

	if (aux_args(L, c, &o, 0) == -1)
		return aux_raise(L, c);
	cur = lua_newuserdatauv(L, sizeof *cur, 7);
	memset(cur, 0, sizeof *cur);
	cur->c = c;
	cur->batch = (int)o.batch;
	cur->nonull = o.nonull;
	luaL_setmetatable(L, VL_PGCURSOR);
	idx = lua_gettop(L);
	lua_pushvalue(L, lua_upvalueindex(1));
	lua_setiuservalue(L, idx, 1);	/* keep the connection alive */
	if (o.decode != 0) {
		lua_pushvalue(L, o.decode);
		lua_setiuservalue(L, idx, 2);
	}
	aux_newbox(L);
	lua_setiuservalue(L, idx, 5);
	lua_pushvalue(L, lua_type(L, 1) == LUA_TTABLE ? 2 : 1);
	lua_setiuservalue(L, idx, 7);	/* sql, for a failure */
	if (o.timeout >= 0) {
		if (aux_settimeout(c, o.timeout, cur->old) == -1)
			return aux_raise(L, c);
		cur->timed = 1;
	}
	if (aux_tracepush(L, c, o.sql, o.n, o.vals)) {
		lua_setiuservalue(L, idx, 4);	/* params */
		lua_setiuservalue(L, idx, 3);	/* sql */
		lua_pop(L, 1);
	}
	cur->t0 = cur->tcall = vl_now();
	r = o.batch > 0 ? aux_declare(L, c, cur, &o) :
	    aux_send(c, o.sql, o.n, o.vals, 1);
	if (r == -1) {
		if (cur->timed && c->pg != NULL)
			aux_restoretimeout(c, cur->old);
		aux_rowsdone(cur);
		return aux_raisesql(L, c, o.sql, o.batch > 0 ?
		    (int)strlen(ROWS_DECLARE) : 0);
	}
	cur->ms = (vl_now() - cur->t0) * 1000;
	cur->active = c->busy = 1;
	cur->generation = c->generation;
	lua_pushcfunction(L, cursor_next);
	lua_pushvalue(L, idx);
	lua_pushnil(L);
	lua_pushvalue(L, idx);	/* the closing value */
	return 4;
}

/* }====== */

/* Run a transaction control statement, quietly; 0 or -1. */
static int
aux_control(lua_State *L, struct conn *c, const char *verb, int depth,
    PGresult **out)
{
	char	 sql[128];
	double	 t0 = vl_now();
	int	 r;

	if (depth == 0)
		snprintf(sql, sizeof sql, "%s", verb);
	else if (strcmp(verb, "ROLLBACK") == 0)
		snprintf(sql, sizeof sql, "ROLLBACK TO SAVEPOINT "
		    "venueless_sp_%d; RELEASE SAVEPOINT venueless_sp_%d",
		    depth, depth);
	else
		snprintf(sql, sizeof sql, "%s venueless_sp_%d",
		    strcmp(verb, "BEGIN") == 0 ? "SAVEPOINT" :
		    "RELEASE SAVEPOINT", depth);
	r = aux_run(c, sql, -1, NULL, out, NULL);
	aux_trace(L, c, sql, 0, NULL, t0, r == -1);
	return r;
}

/* Roll back after fn raised; at the top level drop a stuck connection. */
static void
aux_rollback(lua_State *L, struct conn *c, int depth, unsigned gen)
{
	int	 intr = c->intr;

	if (c->pg == NULL || c->generation != gen)
		return;
	if (aux_control(L, c, "ROLLBACK", depth, NULL) == -1 && depth == 0 &&
	    c->pg != NULL)
		aux_drop(c);
	c->intr = intr;
	c->draining = 0;
}

/* Commit or release after fn returned; raises on failure. */
static void
aux_commit(lua_State *L, struct conn *c, int depth, unsigned gen)
{
	struct box	*b;
	int		 r;

	if (c->pg == NULL || c->generation != gen) {
		aux_seterr(c, "connection lost during the transaction",
		    "08006");
		aux_raise(L, c);
	}
	b = aux_newbox(L);
	r = aux_control(L, c, "COMMIT", depth, &b->res);
	if (r == 0 && depth == 0 && b->res != NULL &&
	    strcmp(pq.PQcmdStatus(b->res), "ROLLBACK") == 0) {
		aux_seterr(c, "the transaction was aborted and rolled back",
		    "25P02");
		r = -1;
	}
	pq.PQclear(b->res);
	b->res = NULL;
	lua_pop(L, 1);
	if (r == -1 && depth > 0)
		aux_rollback(L, c, depth, gen);
	if (r == -1 || c->intr)
		aux_raise(L, c);
}

/* db.transaction(fn, ...) -> fn's results; BEGIN/SAVEPOINT around fn. */
static int
lpg_transaction(lua_State *L)
{
	struct conn	*c = aux_conn(L);
	unsigned	 gen;
	int		 depth, r;

	luaL_checktype(L, 1, LUA_TFUNCTION);
	if (aux_ready(L, c) == -1)
		return aux_raise(L, c);
	depth = c->depth;
	gen = c->generation;
	if (aux_control(L, c, "BEGIN", depth, NULL) == -1 || c->intr)
		return aux_raise(L, c);
	c->depth++;
	r = lua_pcall(L, lua_gettop(L) - 1, LUA_MULTRET, 0);
	c->depth--;
	if (r != LUA_OK) {
		aux_rollback(L, c, depth, gen);
		return lua_error(L);
	}
	aux_commit(L, c, depth, gen);
	return lua_gettop(L);
}

/*
 * Misuse unless settings (argument 1) has no connect_timeout or one of
 * seconds >= 0 ("" = none): "abc" would otherwise mean no timeout.
 */
static void
aux_checktimeout(lua_State *L)
{
	lua_Number	 t;
	int		 isnum;

	if (lua_getfield(L, 1, "connect_timeout") == LUA_TNIL ||
	    (lua_type(L, -1) == LUA_TSTRING && lua_rawlen(L, -1) == 0)) {
		lua_pop(L, 1);
		return;
	}
	t = lua_tonumberx(L, -1, &isnum);
	if (!isnum || !(t >= 0))
		luaL_argerror(L, 1, "connect_timeout: expected seconds (a "
		    "number >= 0, 0 = none)");
	lua_pop(L, 1);
}

/* db.connect([settings]) -> true; raises failures */
static int
lpg_connect(lua_State *L)
{
	struct conn	*c = aux_conn(L);
	int		 r;

	if (!lua_isnoneornil(L, 1)) {
		luaL_checktype(L, 1, LUA_TTABLE);
		lua_pushnil(L);
		while (lua_next(L, 1)) {
			if (lua_type(L, -2) != LUA_TSTRING ||
			    (lua_type(L, -1) != LUA_TSTRING &&
			    lua_type(L, -1) != LUA_TNUMBER))
				luaL_argerror(L, 1, "expected string keys "
				    "with string or number values");
			lua_pop(L, 1);
		}
		aux_checktimeout(L);
	}
	if (c->depth > 0 || c->busy)
		luaL_error(L, "db: cannot reconnect inside a transaction or "
		    "a db.rows loop");
	lua_settop(L, 1);
	lua_setiuservalue(L, lua_upvalueindex(1), 1);
	aux_drop(c);
	if ((r = aux_connect(L, c, lua_upvalueindex(1))) == 1)
		c->intr = 1;
	if (r != 0)
		return aux_raise(L, c);
	lua_pushboolean(L, 1);
	return 1;
}

/* conn __gc/__close and db.close(): disconnect; idempotent. */
static int
conn_close(lua_State *L)
{
	struct conn	*c = luaL_checkudata(L, 1, VL_PGCONN);

	if (c->pg != NULL)
		aux_drop(c);
	free(c->errmsg);
	c->errmsg = NULL;
	return 0;
}

/* db.close() */
static int
lpg_close(lua_State *L)
{
	lua_settop(L, 0);
	lua_pushvalue(L, lua_upvalueindex(1));
	return conn_close(L);
}

/* db.quote_ident(name) -> "quoted"; raises failures (a NUL byte: 22021) */
static int
lpg_quote_ident(lua_State *L)
{
	struct conn	*c = aux_conn(L);
	struct box	*b;
	const char	*s;
	size_t		 len;

	s = luaL_checklstring(L, 1, &len);
	/* libpq would stop at the NUL: refuse it, as a parameter's */
	if (memchr(s, '\0', len) != NULL)
		return vl_fail(L, "identifier contains a NUL byte", "22021");
	if (aux_ready(L, c) == -1)
		return aux_raise(L, c);
	b = aux_newbox(L);
	if ((b->mem = pq.PQescapeIdentifier(c->pg, s, len)) == NULL) {
		aux_seterr(c, pq.PQerrorMessage(c->pg), "22021");
		return aux_raise(L, c);
	}
	lua_pushstring(L, b->mem);
	pq.PQfreemem(b->mem);
	b->mem = NULL;
	return 1;
}

/* db.backend_pid() -> integer; raises failures */
static int
lpg_backend_pid(lua_State *L)
{
	struct conn	*c = aux_conn(L);

	if (aux_ready(L, c) == -1)
		return aux_raise(L, c);
	lua_pushinteger(L, pq.PQbackendPID(c->pg));
	return 1;
}

/* db.info() -> {dbname=, user=, host=, port=, server_version=} */
static int
lpg_info(lua_State *L)
{
	struct conn	*c = aux_conn(L);

	if (aux_ready(L, c) == -1)
		return aux_raise(L, c);
	lua_createtable(L, 0, 5);
	lua_pushstring(L, pq.PQdb(c->pg));
	lua_setfield(L, -2, "dbname");
	lua_pushstring(L, pq.PQuser(c->pg));
	lua_setfield(L, -2, "user");
	lua_pushstring(L, pq.PQhost(c->pg));
	lua_setfield(L, -2, "host");
	lua_pushstring(L, pq.PQport(c->pg));
	lua_setfield(L, -2, "port");
	lua_pushstring(L, pq.PQparameterStatus(c->pg, "server_version"));
	lua_setfield(L, -2, "server_version");
	return 1;
}

/* db.in_transaction() -> boolean */
static int
lpg_in_transaction(lua_State *L)
{
	struct conn		*c = aux_conn(L);
	PGTransactionStatusType	 st;

	st = c->pg != NULL ? pq.PQtransactionStatus(c->pg) : PQTRANS_IDLE;
	lua_pushboolean(L, c->depth > 0 || st == PQTRANS_INTRANS ||
	    st == PQTRANS_INERROR);
	return 1;
}

/* box __gc: free what was not converted. */
static int
res_gc(lua_State *L)
{
	struct box	*b = luaL_checkudata(L, 1, VL_PGRESULT);

	if (b->res != NULL)
		pq.PQclear(b->res);
	if (b->mem != NULL)
		pq.PQfreemem(b->mem);
	b->res = NULL;
	b->mem = NULL;
	return 0;
}

static const luaL_Reg lpg_funcs[] = {
	{ "connect", lpg_connect },
	{ "close", lpg_close },
	{ "query", lpg_query },
	{ "exec", lpg_exec },
	{ "rows", lpg_rows },
	{ "transaction", lpg_transaction },
	{ "in_transaction", lpg_in_transaction },
	{ "quote_ident", lpg_quote_ident },
	{ "backend_pid", lpg_backend_pid },
	{ "info", lpg_info },
	{ "trace", lpg_trace },
	{ "stats", lpg_stats },
	{ NULL, NULL }
};

static const luaL_Reg conn_metameth[] = {
	{ "__gc", conn_close },
	{ "__close", conn_close },
	{ NULL, NULL }
};

static const luaL_Reg cursor_metameth[] = {
	{ "__gc", cursor_close },
	{ "__close", cursor_close },
	{ NULL, NULL }
};

static const luaL_Reg res_metameth[] = {
	{ "__gc", res_gc },
	{ NULL, NULL }
};

/* Create the three metatables. */
static void
createmeta(lua_State *L)
{
	luaL_newmetatable(L, VL_PGCONN);
	luaL_setfuncs(L, conn_metameth, 0);
	luaL_newmetatable(L, VL_PGCURSOR);
	luaL_setfuncs(L, cursor_metameth, 0);
	luaL_newmetatable(L, VL_PGRESULT);
	luaL_setfuncs(L, res_metameth, 0);
	luaL_newmetatable(L, VL_DBRESULT);	/* __name only */
	lua_pop(L, 4);
}

int
luaopen_venueless_db(lua_State *L)
{
	struct conn	*c;

	createmeta(L);
	luaL_newlibtable(L, lpg_funcs);
	c = lua_newuserdatauv(L, sizeof *c, 1);	/* closed until first use */
	memset(c, 0, sizeof *c);
	luaL_setmetatable(L, VL_PGCONN);
	luaL_setfuncs(L, lpg_funcs, 1);	/* the connection is the upvalue */
	vl_pushnull(L);
	lua_setfield(L, -2, "NULL");
	return 1;
}
