/* venueless: argv, dispatch and exit codes. */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "venueless.h"

struct pmain_args {
	const struct vl_cmd	*cmd;
	int			 argc;
	char			**argv;
	int			 status;
};

/* Message handler: keep error objects, attach a traceback to them. */
static int
aux_msgh(lua_State *L)
{
	const char	*msg;

	if (lua_type(L, 1) == LUA_TTABLE) {
		luaL_traceback(L, L, NULL, 1);
		lua_setfield(L, 1, "traceback");
		lua_settop(L, 1);
		return 1;
	}
	if ((msg = lua_tostring(L, 1)) == NULL)
		msg = luaL_tolstring(L, 1, NULL);
	lua_createtable(L, 0, 3);
	lua_pushstring(L, msg);
	lua_setfield(L, -2, "message");
	lua_pushinteger(L, VL_EXIT_FAILURE);
	lua_setfield(L, -2, "exit");
	luaL_traceback(L, L, NULL, 1);
	lua_setfield(L, -2, "traceback");
	luaL_setmetatable(L, VL_ERROR);
	return 1;
}

/* Run the command's module: require(module).run(opts, args). */
static int
pmain(lua_State *L)
{
	struct pmain_args *a = lua_touserdata(L, 1);
	int	 r;

	lua_settop(L, 0);
	r = vl_cmd_parse(L, a->cmd, a->argc, a->argv);
	if (r != 0) {
		vl_cmd_usage(a->cmd, r > 0 ? stdout : stderr);
		a->status = r > 0 ? VL_EXIT_OK : VL_EXIT_USAGE;
		return 0;
	}
	lua_getglobal(L, "require");
	lua_pushstring(L, a->cmd->module);
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "run");
	lua_pushvalue(L, 1);
	lua_pushvalue(L, 2);
	lua_call(L, 2, 1);
	a->status = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : 0;
	return 0;
}

/*
 * Let venueless.cli explain a failure before it is reported (a missing
 * schema: run migrate): err = cli.explain(err), in a protected call so
 * that an error in there leaves err as it was.
 */
static int
aux_explain(lua_State *L)
{
	lua_getglobal(L, "require");
	lua_pushliteral(L, "venueless.cli");
	lua_call(L, 1, 1);
	lua_getfield(L, -1, "explain");
	lua_pushvalue(L, 1);
	lua_call(L, 1, 1);
	return 1;
}

/* Flush stdout; a reader that went away (| head) is not our failure. */
static int
aux_close_stdout(int status)
{
	if (fclose(stdout) != 0 && errno != EPIPE) {
		fprintf(stderr, "venueless: write error: %s\n",
		    strerror(errno));
		return status == 0 ? VL_EXIT_FAILURE : status;
	}
	return status;
}

/* Run one command in a fresh Lua state and return its exit status. */
static int
aux_run(const struct vl_cmd *cmd, int argc, char **argv, int verbose)
{
	struct pmain_args a = { cmd, argc, argv, 0 };
	lua_State	*L;
	int		 status;

	if ((L = vl_newstate(verbose)) == NULL) {
		fputs("venueless: cannot create the Lua state\n", stderr);
		return VL_EXIT_FAILURE;
	}
	vl_signals();
	lua_pushcfunction(L, aux_msgh);
	lua_pushcfunction(L, pmain);
	lua_pushlightuserdata(L, &a);
	if (lua_pcall(L, 1, 0, 1) != LUA_OK) {
		lua_pushcfunction(L, aux_explain);
		lua_pushvalue(L, -2);		/* err, aux_explain, err */
		if (lua_pcall(L, 1, 1, 0) == LUA_OK)
			lua_remove(L, -2);	/* the explained err */
		else
			lua_pop(L, 1);		/* its error; err stays */
		/* a --verbose after the command set the flag (cmd.c) */
		lua_getfield(L, LUA_REGISTRYINDEX, "venueless.verbose");
		verbose = lua_toboolean(L, -1);
		lua_pop(L, 1);
		status = vl_report(L, cmd->name, verbose);
		if (status == VL_EXIT_USAGE)
			vl_cmd_usage(cmd, stderr);
	} else
		status = a.status;
	lua_close(L);
	return status;
}

/* "venueless help [COMMAND]" */
static int
aux_help(int argc, char **argv)
{
	const struct vl_cmd *c;

	if (argc < 2) {
		vl_usage(stdout);
		return VL_EXIT_OK;
	}
	if ((c = vl_cmd_find(argv[1])) == NULL) {
		vl_cmd_unknown("help: ", argv[1]);
		return VL_EXIT_USAGE;
	}
	vl_cmd_usage(c, stdout);
	return VL_EXIT_OK;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	const struct vl_cmd *cmd;
	int	 ch, verbose = 0;

	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:c:vhV", lo, NULL)) != -1) {
		switch (ch) {
		case 'c':
			setenv("VENUELESS_CONFIG_FILE", optarg, 1);
			break;
		case 'v':
			verbose = 1;
			break;
		case 'h':
			vl_usage(stdout);
			return aux_close_stdout(VL_EXIT_OK);
		case 'V':
			printf("venueless %s\n", PACKAGE_VERSION);
			return aux_close_stdout(VL_EXIT_OK);
		default:
			fprintf(stderr, "venueless: %s %s\n", ch == ':' ?
			    "missing argument for" : "unknown option",
			    argv[optind - 1]);
			vl_usage_short(stderr);
			return VL_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		fputs("venueless: expected a command\n", stderr);
		vl_usage_short(stderr);
		fputs("(venueless --help lists the commands)\n", stderr);
		return VL_EXIT_USAGE;
	}
	if (strcmp(argv[0], "help") == 0)
		return aux_close_stdout(aux_help(argc, argv));
	if ((cmd = vl_cmd_find(argv[0])) == NULL) {
		vl_cmd_unknown("", argv[0]);
		return VL_EXIT_USAGE;
	}
	return aux_close_stdout(aux_run(cmd, argc, argv, verbose));
}
