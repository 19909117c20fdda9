/* The command table: dispatch, option parsing, --help and usage. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "venueless.h"

/*
 * Each option: long name, short letter, argument name (NULL for a flag),
 * how the argument converts and, for numbers, its range; then its help.
 */
static const struct vl_option migrate_opts[] = {
	{ "check", 0, NULL, 0, 0, 0,
	    "exit 3 if migrations are pending; change nothing" },
	{ "plan", 0, NULL, 0, 0, 0,
	    "show what would be applied; change nothing" },
	{ "verify", 0, NULL, 0, 0, 0,
	    "compare the schema with the migrations (exit 5 on drift)" },
	{ "json", 0, NULL, 0, 0, 0, "print the result as JSON" },
	/* PostgreSQL's lock_timeout is at most INT_MAX ms */
	{ "lock-timeout", 0, "SECONDS", VL_ARG_NUMBER, 0, 2147483,
	    "give up (exit 4) if another migrate holds the lock this long" },
	{ "verbosity", 'v', "LEVEL", VL_ARG_INTEGER, 0, 3,
	    "0 to 3, as in Django" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option showmigrations_opts[] = {
	{ "plan", 'p', NULL, 0, 0, 0, "list in the order they apply" },
	{ "list", 'l', NULL, 0, 0, 0, "list by app (the default)" },
	{ "json", 0, NULL, 0, 0, 0, "print the list as JSON" },
	{ "verbosity", 'v', "LEVEL", VL_ARG_INTEGER, 0, 3,
	    "2 or more shows when each was applied" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option create_world_opts[] = {
	{ "id", 0, "ID", 0, 0, 0,
	    "the world id (alphanumeric); skips the prompt" },
	{ "title", 0, "TITLE", 0, 0, 0, "the world title; skips the prompt" },
	{ "domain", 0, "DOMAIN", 0, 0, 0,
	    "the domain (empty for none); skips the prompt" },
	{ "json", 0, NULL, 0, 0, 0, "print the result as JSON" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option clone_world_opts[] = {
	{ "new-secrets", 0, NULL, 0, 0, 0, "give the clone new JWT secrets" },
	{ "id", 0, "ID", 0, 0, 0, "the new world id; skips the prompt" },
	{ "title", 0, "TITLE", 0, 0, 0, "the new title; skips the prompt" },
	{ "domain", 0, "DOMAIN", 0, 0, 0, "the new domain (empty for none)" },
	{ "json", 0, NULL, 0, 0, 0, "print the result as JSON" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option import_config_opts[] = {
	{ "dry-run", 'n', NULL, 0, 0, 0,
	    "import, print the summary, then roll back" },
	{ "diff", 0, NULL, 0, 0, 0,
	    "print what would change; exit 3 if anything would" },
	{ "json", 0, NULL, 0, 0, 0, "print the result as JSON" },
	{ "no-notify", 0, NULL, 0, 0, 0,
	    "do not tell open browsers of an updated world (world.update)" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option export_config_opts[] = {
	{ "no-secrets", 0, NULL, 0, 0, 0, "leave out the JWT secrets" },
	{ "output", 'o', "FILE", 0, 0, 0, "write to FILE, not stdout" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option list_worlds_opts[] = {
	{ "json", 0, NULL, 0, 0, 0, "print the list as JSON" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option connections_opts[] = {
	/* an hour apart is already absurd; the cap keeps sleeps finite */
	{ "interval", 0, "MS", VL_ARG_INTEGER, 0, 3600000,
	    "milliseconds between messages (drop, force_reload)" },
	{ "dry-run", 'n', NULL, 0, 0, 0,
	    "show what would be reached; send nothing" },
	{ "by", 0, "KIND", 0, 0, 0,
	    "list: count connections per KIND, world or room" },
	{ "world", 0, "ID", 0, 0, 0,
	    "drop, force_reload: the connections of this world" },
	{ "room", 0, "UUID", 0, 0, 0,
	    "drop, force_reload: the connections in this room" },
	{ "user", 0, "UUID", 0, 0, 0,
	    "drop, force_reload: the connections of this user" },
	{ "json", 0, NULL, 0, 0, 0, "print the result as JSON" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option announce_opts[] = {
	{ "until", 0, "TIME", 0, 0, 0,
	    "hide it at TIME (ISO 8601, or 30s, 15m, 2h, 1d from now)" },
	{ "show-until-hidden", 0, NULL, 0, 0, 0,
	    "no end time: shown until announce --deactivate" },
	{ "list", 0, NULL, 0, 0, 0, "list the world's announcements" },
	{ "deactivate", 0, "ID", 0, 0, 0,
	    "archive the announcement ID (hides it now)" },
	{ "json", 0, NULL, 0, 0, 0, "print the result as JSON" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option bbb_update_cost_opts[] = {
	/* a cron job every minute: an hour per server is already absurd */
	{ "timeout", 0, "SECONDS", VL_ARG_NUMBER, 0.001, 3600,
	    "give up on a server after this long (default 10)" },
	{ "json", 0, NULL, 0, 0, 0, "print the results as JSON" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option generate_token_opts[] = {
	{ "trait", 0, "TRAIT", VL_ARG_LIST, 0, 0,
	    "a trait of the token; repeat for more" },
	/* a century: beyond that exp is a typo */
	{ "days", 0, "DAYS", VL_ARG_INTEGER, 1, 36500,
	    "days until the token expires (default 90)" },
	{ "raw", 0, NULL, 0, 0, 0,
	    "print https://DOMAIN/#token=JWT; store no short token" },
	/* tokens.MAX_COUNT */
	{ "count", 0, "N", VL_ARG_INTEGER, 1, 100000,
	    "make N links, stored in one statement (default 1)" },
	{ "json", 0, NULL, 0, 0, 0, "print the links as JSON" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option token_opts[] = {
	{ "world", 0, "ID", 0, 0, 0,
	    "check against this world (a JWT alone does not name one)" },
	{ "json", 0, NULL, 0, 0, 0, "print the report as JSON" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option createsuperuser_opts[] = {
	{ "username", 0, "USERNAME", 0, 0, 0, "the username; skips the prompt" },
	{ "email", 0, "EMAIL", 0, 0, 0,
	    "the email address (empty for none); skips the prompt" },
	{ "password-stdin", 0, NULL, 0, 0, 0,
	    "read the password as one line of standard input" },
	/* taken, so that neither "--password x" nor an abbreviation of
	 * --password-stdin puts a password in argv and the usage error */
	{ "password", 0, "PASSWORD", 0, 0, 0,
	    "refused: a password is never an argument" },
	{ "json", 0, NULL, 0, 0, 0, "print the result as JSON" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option changepassword_opts[] = {
	{ "password-stdin", 0, NULL, 0, 0, 0,
	    "read the new password as one line of standard input" },
	{ "verify-old", 0, NULL, 0, 0, 0,
	    "ask for the current password first (with --password-stdin: line 1)" },
	{ "password", 0, "PASSWORD", 0, 0, 0,
	    "refused: a password is never an argument" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option check_opts[] = {
	{ "json", 0, NULL, 0, 0, 0, "print the report as JSON" },
	{ "quiet", 'q', NULL, 0, 0, 0, "print only the WARN and FAIL items" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option soft_delete_user_opts[] = {
	{ "world", 0, "WORLD_ID", 0, 0, 0,
	    "with --token-id: the user of this world with that token id" },
	{ "token-id", 0, "TOKEN_ID", 0, 0, 0,
	    "with --world: the user's token id (the JWT's uid)" },
	{ "dry-run", 'n', NULL, 0, 0, 0,
	    "print the receipt of what would be done; change nothing" },
	{ "json", 0, NULL, 0, 0, 0, "print the receipt as JSON" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option clear_world_data_opts[] = {
	{ "dry-run", 'n', NULL, 0, 0, 0,
	    "print the counts of what would be deleted; change nothing" },
	{ "yes", 'y', NULL, 0, 0, 0,
	    "do not ask (needed when standard input is not a terminal)" },
	{ "json", 0, NULL, 0, 0, 0, "print the receipt as JSON" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option clear_unused_worlds_opts[] = {
	{ "dry-run", 'n', NULL, 0, 0, 0,
	    "list the candidates and whether each would be cleared" },
	{ "json", 0, NULL, 0, 0, 0, "print the result as JSON" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option cleanup_opts[] = {
	{ "dry-run", 'n', NULL, 0, 0, 0,
	    "count what would be closed or deleted; change nothing" },
	{ "json", 0, NULL, 0, 0, 0, "print the counts as JSON" },
	/* PostgreSQL's lock_timeout is at most INT_MAX ms */
	{ "lock-timeout", 0, "SECONDS", VL_ARG_NUMBER, 0, 2147483,
	    "give up (exit 4) if another cleanup holds the lock this long"
	    " (default 5)" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

static const struct vl_option shell_opts[] = {
	{ "execute", 'e', "CHUNK", VL_ARG_LIST, 0, 0,
	    "run CHUNK and print what it returns" },
	{ "interactive", 'i', NULL, 0, 0, 0,
	    "enter the shell after -e or FILE" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
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
	{ "export_config", "venueless.cmd.export_config", "[options] WORLD_ID",
	    "write a world as the JSON import_config reads", 0,
	    export_config_opts },
	{ "list_worlds", "venueless.cmd.list_worlds", "[options]",
	    "list worlds with their URLs", 0, list_worlds_opts },
	{ "generate_token", "venueless.cmd.generate_token",
	    "[options] WORLD_ID", "make invitation links for a world", 0,
	    generate_token_opts },
	{ "token", "venueless.cmd.token", "[options] inspect TOKEN|URL",
	    "decode a login token or link and say whether it works", 0,
	    token_opts },
	{ "connections", "venueless.cmd.connections",
	    "[options] list [--by world|room] | drop|force_reload [PATTERN...]"
	    " | drop|force_reload --world ID|--room UUID|--user UUID",
	    "list, drop or reload the live websocket connections", 0,
	    connections_opts },
	{ "soft_delete_user", "venueless.cmd.soft_delete_user",
	    "[options] USER_ID | --world WORLD_ID --token-id TOKEN_ID",
	    "erase a user's personal data (GDPR), with a receipt", 0,
	    soft_delete_user_opts },
	{ "clear_world_data", "venueless.cmd.clear_world_data",
	    "[options] WORLD_ID",
	    "delete a world's users and their content, keep its setup", 0,
	    clear_world_data_opts },
	{ "clear_unused_worlds", "venueless.cmd.clear_unused_worlds",
	    "[options] DAYS",
	    "clear the worlds without activity in the last DAYS days", 0,
	    clear_unused_worlds_opts },
	{ "cleanup", "venueless.cmd.cleanup", "[options]",
	    "close stale views, delete expired rows and files (cron)", 0,
	    cleanup_opts },
	{ "announce", "venueless.cmd.announce",
	    "[options] WORLD_ID TEXT | --list WORLD_ID | --deactivate ID",
	    "show an announcement in a world's open browsers now", 0,
	    announce_opts },
	{ "bbb_update_cost", "venueless.cmd.bbb_update_cost", "[options]",
	    "update the cost of every active BigBlueButton server", 0,
	    bbb_update_cost_opts },
	{ "createsuperuser", "venueless.cmd.createsuperuser", "[options]",
	    "create a superuser of the /control/ panel", 0,
	    createsuperuser_opts },
	{ "changepassword", "venueless.cmd.changepassword",
	    "[options] [USERNAME]",
	    "set a /control/ user's password", 0, changepassword_opts },
	{ "check", "venueless.cmd.check", "[options]",
	    "check the deployment: config, PostgreSQL, schema, Redis, worlds",
	    0, check_opts },
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
	int	 w = 14;

	/* the longest name and two blanks, at least the old 16 columns */
	for (c = vl_cmds; c->name != NULL; c++)
		if ((int)strlen(c->name) > w)
			w = (int)strlen(c->name);
	fputs("usage: venueless [-v] [-c FILE] COMMAND [ARGS]\n"
	    "       venueless help COMMAND\n"
	    "       venueless --version\n\ncommands:\n", f);
	for (c = vl_cmds; c->name != NULL; c++)
		fprintf(f, "  %-*s  %s\n", w, c->name, c->summary);
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

/*
 * Build getopt_long's tables for all of the command's options, in one
 * userdata left on the stack (so a Lua error on the way frees it).
 */
static void
aux_getopt_tables(lua_State *L, const struct vl_cmd *c, struct option **lop,
    char **sop)
{
	const struct vl_option *o;
	struct option	*lo;
	char		*so;
	size_t		 n = 0;
	int		 i = 0;

	while (c->options[n].name != NULL)
		n++;
	/* n options and --help, then the terminator; "+:" letters 'h' NUL */
	lo = lua_newuserdatauv(L, (n + 2) * sizeof *lo + 2 * n + 4, 0);
	so = (char *)(lo + n + 2);
	*lop = lo;
	*sop = so;
	*so++ = c->stop_at_arg ? '+' : '-';
	*so++ = ':';
	for (o = c->options; o->name != NULL; o++, i++) {
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

/*
 * Push an option's argument converted to its type: a string, or a number
 * in the option's range. Anything else is a usage error: print it and
 * return -1.
 */
static int
aux_pushvalue(lua_State *L, const struct vl_cmd *c, const struct vl_option *o,
    const char *arg)
{
	char		*end;
	double		 d;
	long long	 ll = 0;
	int		 ok;

	errno = 0;
	if (o->type == VL_ARG_INTEGER) {
		ll = strtoll(arg, &end, 10);
		d = (double)ll;
		ok = strspn(arg, "+-0123456789") == strlen(arg) && errno == 0;
	} else if (o->type == VL_ARG_NUMBER) {
		/* decimal only: strtod also reads hex, "inf" and "nan" */
		d = strtod(arg, &end);
		ok = strspn(arg, "+-.0123456789eE") == strlen(arg) &&
		    isfinite(d);
	} else {
		lua_pushstring(L, arg);
		return 0;
	}
	if (!ok || end == arg || *end != '\0' || d < o->min || d > o->max) {
		fprintf(stderr, "venueless: %s: --%s: expected %s from %.15g "
		    "to %.15g, not \"%s\"\n", c->name, o->name,
		    o->type == VL_ARG_INTEGER ? "an integer" : "a number",
		    o->min, o->max, arg);
		return -1;
	}
	if (o->type == VL_ARG_INTEGER)
		lua_pushinteger(L, (lua_Integer)ll);
	else
		lua_pushnumber(L, d);
	return 0;
}

/* Store the value on top in opts (below args); a list option appends. */
static void
aux_setopt(lua_State *L, const struct vl_option *o)
{
	if (o->type != VL_ARG_LIST) {
		lua_setfield(L, -3, o->name);
		return;
	}
	if (lua_getfield(L, -3, o->name) != LUA_TTABLE) {
		lua_pop(L, 1);
		lua_newtable(L);
		lua_pushvalue(L, -1);
		lua_setfield(L, -5, o->name);	/* opts[name] = list */
	}
	lua_rotate(L, -2, 1);		/* list, value */
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

/* Report an unknown option or a missing argument from getopt. */
static void
aux_badopt(const struct vl_cmd *c, int ch, char **argv)
{
	const char	*what = ch == ':' ? "missing argument for" :
	    "unknown option";

	if (optopt != 0 && optopt < 256)
		fprintf(stderr, "venueless: %s: %s -%c\n", c->name, what,
		    optopt);
	else	/* never the "=value" part: it may be a secret */
		fprintf(stderr, "venueless: %s: %s %.*s\n", c->name, what,
		    (int)strcspn(argv[optind - 1], "="), argv[optind - 1]);
}

/*
 * Parse argv (argv[0] is the command name) into opts and args tables,
 * pushed in that order; numeric options are converted and range-checked
 * here, once. Returns 0, 1 for --help, or -1 for a usage error (the
 * message is printed).
 */
int
vl_cmd_parse(lua_State *L, const struct vl_cmd *c, int argc, char **argv)
{
	struct option	*lo;
	char		*so;
	const struct vl_option *o;
	int		 ch, nargs = 0, tables = lua_gettop(L) + 1;

	aux_getopt_tables(L, c, &lo, &so);
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
			aux_badopt(c, ch, argv);
			return -1;
		}
		if ((o = aux_findopt(c, ch)) == NULL)
			return -1;
		if (o->arg == NULL)
			lua_pushboolean(L, 1);
		else if (aux_pushvalue(L, c, o, optarg) != 0)
			return -1;
		aux_setopt(L, o);
	}
	for (; optind < argc; optind++) {
		lua_pushstring(L, argv[optind]);
		lua_seti(L, -2, ++nargs);
	}
	lua_remove(L, tables);
	return 0;
}
