/* venueless: the operator's command-line tool for venueless deployments. */
#ifndef VENUELESS_H
#define VENUELESS_H

#include <signal.h>
#include <stddef.h>
#include <stdio.h>

#include <lua.h>
#include <lauxlib.h>

/* Exit codes; documented under EXIT STATUS in man/venueless.1. */
enum vl_exit {
	VL_EXIT_OK = 0,
	VL_EXIT_FAILURE = 1,	/* the command failed */
	VL_EXIT_USAGE = 2,	/* bad command line */
	VL_EXIT_PENDING = 3,	/* migrate --check: migrations pending */
	VL_EXIT_LOCK = 4,	/* migrate: --lock-timeout expired */
	VL_EXIT_INCONSISTENT = 5, /* migrate: history part-way through a squash */
	VL_EXIT_NOPG = 10,	/* cannot reach PostgreSQL */
	VL_EXIT_NOREDIS = 11,	/* cannot reach Redis */
	VL_EXIT_INTERRUPTED = 130 /* SIGINT or SIGTERM */
};

/* Metatable names. */
#define VL_ERROR	"venueless.error"
#define VL_NULL		"venueless.null"
#define VL_JSON_ARRAY	"venueless.json.array"
#define VL_JSON_OBJECT	"venueless.json.object"
#define VL_DBRESULT	"venueless.db.result"	/* db.query results: rows in order */

/* file.c */
int	vl_write_private(const char *, int (*)(FILE *, void *), void *,
	    char **);

/* xmalloc.c */
void	*xmalloc(size_t);
void	*xcalloc(size_t, size_t);
void	*xrealloc(void *, size_t);
char	*xstrdup(const char *);
char	*xstrndup(const char *, size_t);

/* dl.c */
int	 vl_dlopen(const char *, const char *const[], void *const[], size_t,
	    void **, const char **);

/* interp.c */
extern volatile sig_atomic_t vl_interrupted;
extern volatile sig_atomic_t vl_terminated;
extern volatile sig_atomic_t vl_abort_fd;
lua_State *vl_newstate(int verbose);
void	 vl_signals(void);
int	 vl_error(lua_State *, int, const char *, ...)
	    __attribute__((format(printf, 3, 4)));
int	 vl_exit_for(const char *);
int	 vl_fail(lua_State *, const char *, const char *);
void	 vl_pushfailure(lua_State *, const char *, const char *);
void	 vl_check_interrupt(lua_State *);
void	 vl_pushnull(lua_State *);
int	 vl_isnull(lua_State *, int);
int	 vl_report(lua_State *, const char *, int);

/* glob.c */
int	 vl_glob_match(const char *, size_t, const char *, size_t);

/* redisurl.c */
struct vl_redisurl {
	int		 is_unix;
	char		*host;		/* host name or address, or socket path */
	int		 port;		/* 0 for unix:// */
	char		*user;		/* NULL when none */
	char		*password;	/* NULL when none (or empty) */
	long long	 db;
	char		*masked;	/* the URL with passwords as *** */
};
int	 vl_redisurl_parse(const char *, struct vl_redisurl *, const char **);
void	 vl_redisurl_free(struct vl_redisurl *);
char	*vl_redisurl_format(const char *, const char *, const char *,
	    const char *, const char *);

/* wait.c */
enum vl_wait {
	VL_WAIT_TIMEOUT = 0,	/* the deadline passed */
	VL_WAIT_ERROR = -1,	/* poll failed; errno is set */
	VL_WAIT_INTR = -2,	/* vl_interrupted is set */
	VL_WAIT_SIGNAL = -3	/* another signal arrived (VL_WAIT_SIGNALS) */
};
#define VL_WAIT_NOINTR	0x1	/* ignore vl_interrupted (draining) */
#define VL_WAIT_SIGNALS	0x2	/* return VL_WAIT_SIGNAL on other signals */
double	 vl_now(void);
int	 vl_wait_fd(int, int, double, int);

/* cmd.c */
enum vl_argtype {
	VL_ARG_STRING = 0,	/* the argument as given (or a flag) */
	VL_ARG_LIST,		/* every use collected in a list */
	VL_ARG_INTEGER,		/* a whole number in min .. max */
	VL_ARG_NUMBER		/* a decimal number in min .. max */
};
struct vl_option {
	const char	*name;		/* long name, also the key in opts */
	int		 shortc;	/* short letter or 0 */
	const char	*arg;		/* argument name, NULL for a flag */
	enum vl_argtype	 type;
	double		 min, max;	/* range of an INTEGER or NUMBER */
	const char	*help;
	const char	*complete;	/* its values for completion (below) */
};
/*
 * A completion spec (vl_cmd.complete, vl_option.complete): branches
 * separated by ';', each a list of positions separated by blanks; a
 * position is words separated by '|' or an @kind of live values (@world,
 * @label, @app, @migration, @file), and "..." after the last repeats it.
 */
struct vl_cmd {
	const char		*name;
	const char		*module;	/* Lua module with run(opts, args) */
	const char		*usage;		/* after "venueless NAME " */
	const char		*summary;
	int			 stop_at_arg;	/* options end at the first argument */
	const struct vl_option	*options;
	const char		*complete;	/* its arguments, a spec */
	int			 hidden;	/* VL_CMD_HIDDEN: not in --help */
};
#define VL_CMD_HIDDEN	1
extern const struct vl_cmd vl_cmds[];
extern const struct vl_option vl_global_opts[];
const struct vl_cmd *vl_cmd_find(const char *);
void	 vl_cmd_usage(const struct vl_cmd *, FILE *);
void	 vl_usage(FILE *);
void	 vl_usage_short(FILE *);
void	 vl_cmd_unknown(const char *, const char *);
int	 vl_cmd_parse(lua_State *, const struct vl_cmd *, int, char **);
int	 vl_cmds_push(lua_State *);
int	 vl_cmd_use_config(lua_State *);

/* embed.c (generated) */
struct vl_embedded {
	const char		*module;	/* venueless.worlds */
	const char		*chunkname;	/* @lua/venueless/worlds.lua */
	const unsigned char	*source;
	size_t			 len;
};
extern const struct vl_embedded vl_embedded[];

/* walk.c: the table walker of json.encode and msgpack.encode */
#define VL_MAXDEPTH	200	/* nesting limit of json and msgpack, both ways */
struct vl_buf {				/* growable output, freed by __gc */
	char	*p;
	size_t	 len;
	size_t	 cap;
};
struct vl_walk;
struct vl_walkfmt {			/* a format: its key policy, emitters */
	const char	*name;		/* "json.encode", for stack errors */
	const char	*objname;	/* "an object": bad key messages */
	int		 strkeys;	/* integer keys become decimal names */
	void	(*start)(struct vl_walk *);	/* w->out is ready, or NULL */
	void	(*null)(struct vl_walk *);
	void	(*boolean)(struct vl_walk *, int);
	void	(*integer)(struct vl_walk *, lua_Integer);
	void	(*number)(struct vl_walk *, lua_Number);
	void	(*string)(struct vl_walk *, const char *, size_t);
	void	(*open)(struct vl_walk *, int isarray, lua_Integer n);
	void	(*next)(struct vl_walk *, int isarray, lua_Integer i); /* or NULL */
	void	(*colon)(struct vl_walk *);	/* after a key, or NULL */
	void	(*close)(struct vl_walk *, int isarray, lua_Integer n);
};
struct vl_walk {
	lua_State		*L;
	const struct vl_walkfmt	*fmt;
	struct vl_buf		*out;	/* where the emitters write */
	void			*ud;	/* the format's own state */
	int			 depth;	/* of the value being written */
	struct vl_buf		*keys;	/* walk.c: keys of the open objects */
	int			 amt;	/* walk.c: the array metatable's slot */
	int			 omt;
	const void		*path[VL_MAXDEPTH];	/* tables being written */
};
struct vl_buf *vl_buf_new(lua_State *);
char	*vl_buf_reserve(struct vl_buf *, size_t);
void	 vl_buf_add(struct vl_buf *, const void *, size_t);
void	 vl_walk_encode(lua_State *, int, const struct vl_walkfmt *, void *);
int	 vl_walk_openlib(lua_State *, const luaL_Reg *, const char *,
	    lua_CFunction);

/* msgpack.c: one str as msgpack.encode writes it (NULL: only its size) */
size_t	 vl_msgpack_str(char *, const char *, size_t);

/* Lua bindings, one file each. */
int	luaopen_venueless_config(lua_State *);	/* config.c */
int	luaopen_venueless_db(lua_State *);	/* pg.c */
int	luaopen_venueless_redis(lua_State *);	/* redis.c */
int	luaopen_venueless_json(lua_State *);	/* json.c */
int	luaopen_venueless_msgpack(lua_State *);	/* msgpack.c */
int	luaopen_venueless_crypto(lua_State *);	/* crypto.c */
int	luaopen_venueless_core(lua_State *);	/* interp.c: cli helpers */
int	luaopen_venueless_edit(lua_State *);	/* edit.c: libedit */
int	luaopen_venueless_http(lua_State *);	/* http.c: libcurl */
int	luaopen_venueless_xml(lua_State *);	/* xml.c: expat */

#endif
