/* The command table: dispatch, option parsing, --help and usage. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "venueless.h"

/* The tables below leave out trailing fields they do not use (complete,
 * hidden): zero, as C says. */
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

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
	{ "output", 'o', "FILE", 0, 0, 0, "write to FILE, not stdout", "@file" },
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
	    "list: count connections per KIND, world or room", "world|room" },
	{ "world", 0, "ID", 0, 0, 0,
	    "drop, force_reload: the connections of this world", "@world" },
	{ "yes", 'y', NULL, 0, 0, 0,
	    "drop, force_reload of every label: do not ask on a terminal" },
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
	    "check against this world (a JWT alone does not name one)",
	    "@world" },
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
	    "with --token-id: the user of this world with that token id",
	    "@world" },
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

static const struct vl_option no_opts[] = {
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

/*
 * The global options: before the command, or after it where the command
 * has no option of that name or letter (migrate's -v is its verbosity).
 */
const struct vl_option vl_global_opts[] = {
	{ "config", 'c', "FILE", 0, 0, 0,
	    "read only FILE, not the usual config files", "@file" },
	{ "verbose", 'v', NULL, 0, 0, 0,
	    "say more: a traceback with an error, details of some commands" },
	{ NULL, 0, NULL, 0, 0, 0, NULL }
};

const struct vl_cmd vl_cmds[] = {
	{ "migrate", "venueless.cmd.migrate", "[options] [APP [MIGRATION]]",
	    "bring the database schema up to date", 0, migrate_opts,
	    "@app @migration" },
	{ "showmigrations", "venueless.cmd.showmigrations", "[options] [APP...]",
	    "list migrations and whether they are applied", 0,
	    showmigrations_opts, "@app..." },
	{ "create_world", "venueless.cmd.create_world", "[options]",
	    "create a world and print its admin URL", 0, create_world_opts },
	{ "clone_world", "venueless.cmd.clone_world", "[options] WORLD_ID",
	    "copy a world with its rooms and exhibitors", 0, clone_world_opts,
	    "@world" },
	{ "import_config", "venueless.cmd.import_config", "[options] FILE",
	    "create or update a world from its JSON configuration", 0,
	    import_config_opts, "@file" },
	{ "export_config", "venueless.cmd.export_config", "[options] WORLD_ID",
	    "write a world as the JSON import_config reads", 0,
	    export_config_opts, "@world" },
	{ "list_worlds", "venueless.cmd.list_worlds", "[options]",
	    "list worlds with their URLs", 0, list_worlds_opts },
	{ "generate_token", "venueless.cmd.generate_token",
	    "[options] WORLD_ID", "make invitation links for a world", 0,
	    generate_token_opts, "@world" },
	{ "token", "venueless.cmd.token", "[options] inspect TOKEN|URL",
	    "decode a login token or link and say whether it works", 0,
	    token_opts, "inspect" },
	{ "connections", "venueless.cmd.connections",
	    "[options] list [--by world|room] | drop|force_reload [PATTERN...]"
	    " | drop|force_reload --world ID|--room UUID|--user UUID",
	    "list, drop or reload the live websocket connections", 0,
	    connections_opts, "list;drop|force_reload @label..." },
	{ "soft_delete_user", "venueless.cmd.soft_delete_user",
	    "[options] USER_ID | --world WORLD_ID --token-id TOKEN_ID",
	    "erase a user's personal data (GDPR), with a receipt", 0,
	    soft_delete_user_opts },
	{ "clear_world_data", "venueless.cmd.clear_world_data",
	    "[options] WORLD_ID",
	    "delete a world's users and their content, keep its setup", 0,
	    clear_world_data_opts, "@world" },
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
	    announce_opts, "@world" },
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
	    shell_opts, "@file..." },
	{ "completion", "venueless.cmd.completion", "bash|zsh|fish",
	    "print a completion script for the shell", 0, no_opts,
	    "bash|zsh|fish" },
	/* what the completion scripts run on a Tab (venueless(1), COMPLETION) */
	{ "__complete", "venueless.cmd.complete_words", "[WORD...] CURRENT",
	    "the candidates for the last word of a command line", 1, no_opts,
	    NULL, VL_CMD_HIDDEN },
	{ NULL, NULL, NULL, NULL, 0, NULL, NULL, 0 }
};

/* Are a and b the same letter of a name, '-' matching '_'? */
static int
aux_samechar(char a, char b)
{
	return a == b || ((a == '-' || a == '_') && (b == '-' || b == '_'));
}

/* Are a and b the same name, a dash in either matching '_'? */
static int
aux_samename(const char *a, const char *b)
{
	for (; *a != '\0' && *b != '\0'; a++, b++)
		if (!aux_samechar(*a, *b))
			return 0;
	return *a == *b;
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

/* The index of c's option named name, or with letter shortc; -1. */
static int
aux_optindex(const struct vl_cmd *c, const char *name, int shortc)
{
	int	 i;

	for (i = 0; c->options[i].name != NULL; i++)
		if ((name != NULL && strcmp(c->options[i].name, name) == 0) ||
		    (shortc != 0 && c->options[i].shortc == shortc))
			return i;
	return -1;
}

/* Look a command up by name; create-world names create_world. */
const struct vl_cmd *
vl_cmd_find(const char *name)
{
	const struct vl_cmd *c;

	for (c = vl_cmds; c->name != NULL; c++)
		if (aux_samename(c->name, name))
			return c;
	return NULL;
}

#define VL_GLOBALS_W	17	/* strlen("-c, --config FILE") */

/* The global options' help, aligned; those c takes itself left out. */
static void
aux_globals_usage(const struct vl_cmd *c, FILE *f)
{
	const struct vl_option *g;
	char	 left[64];

	for (g = vl_global_opts; g->name != NULL; g++) {
		if (c != NULL && aux_optindex(c, g->name, 0) >= 0)
			continue;
		if (c != NULL && aux_optindex(c, NULL, g->shortc) >= 0)
			snprintf(left, sizeof left, "    --%s%s%s", g->name,
			    g->arg ? " " : "", g->arg ? g->arg : "");
		else
			aux_optleft(g, left, sizeof left);
		fprintf(f, "  %-*s  %s\n", VL_GLOBALS_W, left, g->help);
	}
}

/* The first lines of the global usage. */
void
vl_usage_short(FILE *f)
{
	fputs("usage: venueless [-v] [-c FILE] COMMAND [ARGS]\n"
	    "       venueless help COMMAND\n"
	    "       venueless completion bash|zsh|fish\n"
	    "       venueless --version\n", f);
}

/* The global usage, options and command list. */
void
vl_usage(FILE *f)
{
	const struct vl_cmd *c;
	int	 w = 14;

	/* the longest name and two blanks, at least the old 16 columns */
	for (c = vl_cmds; c->name != NULL; c++)
		if (!c->hidden && (int)strlen(c->name) > w)
			w = (int)strlen(c->name);
	vl_usage_short(f);
	fputs("\noptions (before or after the command):\n", f);
	aux_globals_usage(NULL, f);
	fprintf(f, "  %-*s  %s\n  %-*s  %s\n", VL_GLOBALS_W, "-h, --help",
	    "show this help", VL_GLOBALS_W, "-V, --version",
	    "show the version");
	fputs("\ncommands (create-world works for create_world):\n", f);
	for (c = vl_cmds; c->name != NULL; c++)
		if (!c->hidden)
			fprintf(f, "  %-*s  %s\n", w, c->name, c->summary);
}

/*
 * The edit distance of a and b (optimal string alignment: insertions,
 * deletions, substitutions, adjacent swaps), '-' counted as '_'; long
 * names are not compared (a large distance).
 */
static int
aux_distance(const char *a, const char *b)
{
	int	 d[33][33], i, j, la = (int)strlen(a), lb = (int)strlen(b), x;

	if (la > 32 || lb > 32)
		return 99;
	for (i = 0; i <= la; i++)
		d[i][0] = i;
	for (j = 0; j <= lb; j++)
		d[0][j] = j;
	for (i = 1; i <= la; i++) {
		for (j = 1; j <= lb; j++) {
			x = d[i - 1][j - 1] + !aux_samechar(a[i - 1], b[j - 1]);
			if (d[i - 1][j] + 1 < x)
				x = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < x)
				x = d[i][j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < x)
				x = d[i - 2][j - 2] + 1;
			d[i][j] = x;
		}
	}
	return d[la][lb];
}

/* How far name is from command c: its distance, or 1 for a prefix. */
static int
aux_nearness(const struct vl_cmd *c, const char *name)
{
	size_t	 n = strlen(name);

	if (n >= 3 && strncmp(c->name, name, n) == 0)
		return 1;
	return aux_distance(c->name, name);
}

/*
 * Report an unknown command (what: "" or "help: "), suggest the nearest
 * commands (up to a third of the name's length away, at least 1, at most
 * 3) and print the short usage.
 */
void
vl_cmd_unknown(const char *what, const char *name)
{
	const struct vl_cmd *c;
	int	 best = 99, d, n = 0, max = (int)strlen(name) / 3;

	max = max < 1 ? 1 : max > 3 ? 3 : max;
	fprintf(stderr, "venueless: %sunknown command %s\n", what, name);
	for (c = vl_cmds; c->name != NULL; c++)
		if (!c->hidden && (d = aux_nearness(c, name)) < best)
			best = d;
	if (best <= max) {
		fputs("did you mean", stderr);
		for (c = vl_cmds; c->name != NULL; c++)
			if (!c->hidden && aux_nearness(c, name) == best)
				fprintf(stderr, "%s %s", n++ ? " or" : "",
				    c->name);
		fputs("?\n", stderr);
	}
	vl_usage_short(stderr);
	fputs("(venueless --help lists the commands)\n", stderr);
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
	fputs("\nglobal options (before or after the command):\n", f);
	aux_globals_usage(c, f);
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
	int		 i = 0, g;

	while (c->options[n].name != NULL)
		n++;
	n += sizeof vl_global_opts / sizeof vl_global_opts[0] - 1;
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
	/* the global options the command does not take itself, as 512 + g */
	for (g = 0, o = vl_global_opts; o->name != NULL; o++, g++) {
		if (aux_optindex(c, o->name, 0) >= 0)
			continue;
		lo[i].name = o->name;
		lo[i].has_arg = o->arg ? required_argument : no_argument;
		lo[i].flag = NULL;
		lo[i++].val = 512 + g;
		if (o->shortc && aux_optindex(c, NULL, o->shortc) < 0) {
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

	if (ch >= 512)
		return NULL;
	if (ch >= 256)
		return &c->options[ch - 256];
	for (o = c->options; o->name != NULL; o++)
		if (o->shortc == ch)
			return o;
	return NULL;
}

/* The global option for a getopt result, or NULL. */
static const struct vl_option *
aux_findglobal(const struct vl_cmd *c, int ch)
{
	const struct vl_option *o;

	if (ch >= 512)
		return &vl_global_opts[ch - 512];
	for (o = vl_global_opts; o->name != NULL; o++)
		if (o->shortc == ch && aux_optindex(c, NULL, ch) < 0)
			return o;
	return NULL;
}

/*
 * Apply a global option given after the command, as main does before
 * it: --config sets VENUELESS_CONFIG_FILE (read when venueless.config
 * loads), --verbose the registry flag and core.verbose.
 */
static void
aux_setglobal(lua_State *L, const struct vl_option *o, const char *arg)
{
	if (strcmp(o->name, "config") == 0) {
		setenv("VENUELESS_CONFIG_FILE", arg, 1);
		return;
	}
	lua_pushboolean(L, 1);
	lua_setfield(L, LUA_REGISTRYINDEX, "venueless.verbose");
	luaL_getsubtable(L, LUA_REGISTRYINDEX, LUA_LOADED_TABLE);
	if (lua_getfield(L, -1, "venueless.core") == LUA_TTABLE) {
		lua_pushboolean(L, 1);
		lua_setfield(L, -2, "verbose");	/* core.verbose = true */
	}
	lua_pop(L, 2);
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
		if ((o = aux_findopt(c, ch)) == NULL &&
		    (o = aux_findglobal(c, ch)) != NULL) {
			aux_setglobal(L, o, optarg);
			continue;
		}
		if (o == NULL)
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

/* {====== the table for Lua ========================================= */

/* Push an option as { name=, short=, arg=, type=, help=, complete= }. */
static void
aux_pushopt(lua_State *L, const struct vl_option *o)
{
	static const char *const types[] = { "string", "list", "integer",
	    "number" };

	lua_createtable(L, 0, 6);
	lua_pushstring(L, o->name);
	lua_setfield(L, -2, "name");
	if (o->shortc) {
		lua_pushfstring(L, "%c", o->shortc);
		lua_setfield(L, -2, "short");
	}
	if (o->arg) {
		lua_pushstring(L, o->arg);
		lua_setfield(L, -2, "arg");
	}
	lua_pushstring(L, types[o->type]);
	lua_setfield(L, -2, "type");
	lua_pushstring(L, o->help);
	lua_setfield(L, -2, "help");
	lua_pushstring(L, o->complete);	/* nil when NULL */
	lua_setfield(L, -2, "complete");
}

/* Push a list of options. */
static void
aux_pushopts(lua_State *L, const struct vl_option *opts)
{
	int	 i;

	lua_newtable(L);
	for (i = 0; opts[i].name != NULL; i++) {
		aux_pushopt(L, &opts[i]);
		lua_seti(L, -2, i + 1);
	}
}

/*
 * core.commands() -> the command table as Lua sees it: a list of
 * { name=, usage=, summary=, stop_at_arg=, hidden=, complete=,
 * options= }, and .globals, the global options. For the completion.
 */
int
vl_cmds_push(lua_State *L)
{
	const struct vl_cmd *c;
	int	 i = 0;

	lua_newtable(L);
	for (c = vl_cmds; c->name != NULL; c++) {
		lua_createtable(L, 0, 7);
		lua_pushstring(L, c->name);
		lua_setfield(L, -2, "name");
		lua_pushstring(L, c->usage);
		lua_setfield(L, -2, "usage");
		lua_pushstring(L, c->summary);
		lua_setfield(L, -2, "summary");
		lua_pushboolean(L, c->stop_at_arg);
		lua_setfield(L, -2, "stop_at_arg");
		lua_pushboolean(L, c->hidden);
		lua_setfield(L, -2, "hidden");
		lua_pushstring(L, c->complete);
		lua_setfield(L, -2, "complete");
		aux_pushopts(L, c->options);
		lua_setfield(L, -2, "options");
		lua_seti(L, -2, ++i);
	}
	aux_pushopts(L, vl_global_opts);
	lua_setfield(L, -2, "globals");
	return 1;
}

/*
 * core.use_config(path): read path as the config file, as -c does (for
 * the completion of a command line that gives -c; before the config is
 * first required).
 */
int
vl_cmd_use_config(lua_State *L)
{
	setenv("VENUELESS_CONFIG_FILE", luaL_checkstring(L, 1), 1);
	return 0;
}

/* }====== */
