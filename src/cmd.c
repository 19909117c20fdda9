/* The command table: dispatch, option parsing, --help and usage. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "venueless.h"

#define MAX_OPTIONS 16

static const struct vl_option migrate_opts[] = {
	{ "check", 0, NULL, 0, "exit 3 if migrations are pending; change nothing" },
	{ "plan", 0, NULL, 0, "show what would be applied; change nothing" },
	{ "json", 0, NULL, 0, "print the result as JSON" },
	{ "lock-timeout", 0, "SECONDS", 0,
	    "give up (exit 4) if another migrate holds the lock this long" },
	{ "verbosity", 'v', "LEVEL", 0, "0 to 3, as in Django" },
	{ NULL, 0, NULL, 0, NULL }
};

static const struct vl_option showmigrations_opts[] = {
	{ "plan", 'p', NULL, 0, "list in the order they apply" },
	{ "list", 'l', NULL, 0, "list by app (the default)" },
	{ "json", 0, NULL, 0, "print the list as JSON" },
	{ "verbosity", 'v', "LEVEL", 0, "2 or more shows when each was applied" },
	{ NULL, 0, NULL, 0, NULL }
};

static const struct vl_option create_world_opts[] = {
	{ "id", 0, "ID", 0, "the world id (alphanumeric); skips the prompt" },
	{ "title", 0, "TITLE", 0, "the world title; skips the prompt" },
	{ "domain", 0, "DOMAIN", 0, "the domain (empty for none); skips the prompt" },
	{ "json", 0, NULL, 0, "print the result as JSON" },
	{ NULL, 0, NULL, 0, NULL }
};

static const struct vl_option clone_world_opts[] = {
	{ "new-secrets", 0, NULL, 0, "give the clone new JWT secrets" },
	{ "id", 0, "ID", 0, "the new world id; skips the prompt" },
	{ "title", 0, "TITLE", 0, "the new title; skips the prompt" },
	{ "domain", 0, "DOMAIN", 0, "the new domain (empty for none)" },
	{ "json", 0, NULL, 0, "print the result as JSON" },
	{ NULL, 0, NULL, 0, NULL }
};

static const struct vl_option import_config_opts[] = {
	{ "json", 0, NULL, 0, "print the result as JSON" },
	{ NULL, 0, NULL, 0, NULL }
};

static const struct vl_option list_worlds_opts[] = {
	{ "json", 0, NULL, 0, "print the list as JSON" },
	{ NULL, 0, NULL, 0, NULL }
};

static const struct vl_option connections_opts[] = {
	{ "interval", 0, "MS", 0, "milliseconds between messages (drop, force_reload)" },
	{ "dry-run", 'n', NULL, 0, "show what would be reached; send nothing" },
	{ "json", 0, NULL, 0, "print the result as JSON" },
	{ NULL, 0, NULL, 0, NULL }
};

static const struct vl_option shell_opts[] = {
	{ "execute", 'e', "CHUNK", 1, "run CHUNK and print what it returns" },
	{ "interactive", 'i', NULL, 0, "enter the shell after -e or FILE" },
	{ NULL, 0, NULL, 0, NULL }
};

const struct vl_cmd vl_cmds[] = {
	{ "migrate", "venueless.cmd.migrate", "[options] [APP [MIGRATION]]",
	    "bring the database schema up to date", 0, migrate_opts },
	{ "showmigrations", "venueless.cmd.showmigrations", "[options] [APP...]",
	    "list migrations and whether they are applied", 0,
	    showmigrations_opts },
	{ "create_world", "venueless.cmd.create_world", "[options]",
	    "create a world and print its admin URL", 0, create_world_opts },
	{ "clone_world", "venueless.cmd.clone_world", "[options] WORLD_ID",
	    "copy a world with its rooms and exhibitors", 0, clone_world_opts },
	{ "import_config", "venueless.cmd.import_config", "[options] FILE",
	    "create or update a world from its JSON configuration", 0,
	    import_config_opts },
	{ "list_worlds", "venueless.cmd.list_worlds", "[options]",
	    "list worlds with their URLs", 0, list_worlds_opts },
	{ "connections", "venueless.cmd.connections",
	    "[options] list | drop [PATTERN...] | force_reload [PATTERN...]",
	    "list, drop or reload the live websocket connections", 0,
	    connections_opts },
	{ "shell", "venueless.cmd.shell", "[-i] [-e CHUNK]... [FILE [ARGS...]]",
	    "the Lua shell: interactive, -e chunks, or a script", 1,
	    shell_opts },
	{ NULL, NULL, NULL, NULL, 0, NULL }
};

/* Look a command up by name. */
const struct vl_cmd *
vl_cmd_find(const char *name)
{
	const struct vl_cmd *c;

	for (c = vl_cmds; c->name != NULL; c++)
		if (strcmp(c->name, name) == 0)
			return c;
	return NULL;
}

/* The global usage and command list. */
void
vl_usage(FILE *f)
{
	const struct vl_cmd *c;

	fputs("usage: venueless [-v] [-c FILE] COMMAND [ARGS]\n"
	    "       venueless help COMMAND\n"
	    "       venueless --version\n\ncommands:\n", f);
	for (c = vl_cmds; c->name != NULL; c++)
		fprintf(f, "  %-16s%s\n", c->name, c->summary);
}

/* Format one option's left column ("-v, --verbosity LEVEL"). */
static void
aux_optleft(const struct vl_option *o, char *buf, size_t len)
{
	if (o->shortc)
		snprintf(buf, len, "-%c, --%s%s%s", o->shortc, o->name,
		    o->arg ? " " : "", o->arg ? o->arg : "");
	else
		snprintf(buf, len, "    --%s%s%s", o->name, o->arg ? " " : "",
		    o->arg ? o->arg : "");
}

/* One command's usage line and options, help texts aligned. */
void
vl_cmd_usage(const struct vl_cmd *c, FILE *f)
{
	const struct vl_option *o;
	char	 left[64];
	int	 w = (int)strlen("-h, --help");

	for (o = c->options; o->name != NULL; o++) {
		aux_optleft(o, left, sizeof left);
		if ((int)strlen(left) > w)
			w = (int)strlen(left);
	}
	fprintf(f, "usage: venueless %s %s\n%s\n", c->name, c->usage,
	    c->summary);
	fputs("\noptions:\n", f);
	for (o = c->options; o->name != NULL; o++) {
		aux_optleft(o, left, sizeof left);
		fprintf(f, "  %-*s  %s\n", w, left, o->help);
	}
	fprintf(f, "  %-*s  %s\n", w, "-h, --help", "show this help");
}

/* Build getopt_long's tables from the command's options. */
static void
aux_getopt_tables(const struct vl_cmd *c, struct option *lo, char *so)
{
	const struct vl_option *o;
	int	 i = 0;

	*so++ = c->stop_at_arg ? '+' : '-';
	*so++ = ':';
	for (o = c->options; o->name != NULL && i < MAX_OPTIONS; o++, i++) {
		lo[i].name = o->name;
		lo[i].has_arg = o->arg ? required_argument : no_argument;
		lo[i].flag = NULL;
		lo[i].val = 256 + i;
		if (o->shortc) {
			*so++ = (char)o->shortc;
			if (o->arg)
				*so++ = ':';
		}
	}
	lo[i].name = "help";
	lo[i].has_arg = no_argument;
	lo[i].flag = NULL;
	lo[i].val = 'h';
	memset(&lo[i + 1], 0, sizeof lo[i + 1]);
	*so++ = 'h';
	*so = '\0';
}

/* Store one option into the opts table at the top of the stack. */
static void
aux_setopt(lua_State *L, const struct vl_option *o, const char *arg)
{
	if (!o->repeat) {
		if (arg != NULL)
			lua_pushstring(L, arg);
		else
			lua_pushboolean(L, 1);
		lua_setfield(L, -2, o->name);
		return;
	}
	if (lua_getfield(L, -1, o->name) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setfield(L, -3, o->name);
	}
	lua_pushstring(L, arg);
	lua_seti(L, -2, (lua_Integer)luaL_len(L, -2) + 1);
	lua_pop(L, 1);
}

/* Map a getopt result to the command's option; NULL if not ours. */
static const struct vl_option *
aux_findopt(const struct vl_cmd *c, int ch)
{
	const struct vl_option *o;

	if (ch >= 256)
		return &c->options[ch - 256];
	for (o = c->options; o->name != NULL; o++)
		if (o->shortc == ch)
			return o;
	return NULL;
}

/*
 * Parse argv (argv[0] is the command name) into opts and args tables,
 * pushed in that order. Returns 0, 1 for --help, or -1 for a usage error
 * (the message is printed).
 */
int
vl_cmd_parse(lua_State *L, const struct vl_cmd *c, int argc, char **argv)
{
	struct option	 lo[MAX_OPTIONS + 2];
	char		 so[2 * MAX_OPTIONS + 4];
	const struct vl_option *o;
	int		 ch, nargs = 0;

	aux_getopt_tables(c, lo, so);
	lua_newtable(L);	/* opts */
	lua_newtable(L);	/* args */
	optind = 0;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, so, lo, NULL)) != -1) {
		if (ch == 1) {	/* an argument, in order ('-' mode) */
			lua_pushstring(L, optarg);
			lua_seti(L, -2, ++nargs);
			continue;
		}
		if (ch == 'h')
			return 1;
		if (ch == '?' || ch == ':') {
			if (optopt != 0 && optopt < 256)
				fprintf(stderr, "venueless: %s: %s -%c\n",
				    c->name, ch == ':' ? "missing argument for"
				    : "unknown option", optopt);
			else
				fprintf(stderr, "venueless: %s: %s %s\n",
				    c->name, ch == ':' ? "missing argument for"
				    : "unknown option", argv[optind - 1]);
			return -1;
		}
		if ((o = aux_findopt(c, ch)) == NULL)
			return -1;
		lua_pushvalue(L, -2);
		aux_setopt(L, o, o->arg ? optarg : NULL);
		lua_pop(L, 1);
	}
	for (; optind < argc; optind++) {
		lua_pushstring(L, argv[optind]);
		lua_seti(L, -2, ++nargs);
	}
	return 0;
}
