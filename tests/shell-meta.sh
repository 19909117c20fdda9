# The shell's meta-commands and friendly names on a real terminal (tmux):
# the startup file (and an error in it), \?, \timing, \watch (redrawn,
# c=N, Ctrl-C ends only the watch), \o, \format, \e through $EDITOR,
# $PAGER for a result taller than the window and \pager off, bare
# help/exit/quit, help(misspelt), the SQL error caret, a trimmed
# traceback, \q and exit(N).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pty.sh"
vl_pg_start

export VENUELESS_HISTFILE="" VENUELESS_ENVIRONMENT=test NO_COLOR=1
# The startup file: a helper local, a global, then an error.
mkdir -p "$HOME/.config/venueless"
cat >"$HOME/.config/venueless/init.lua" <<'LUA'
local function double(n) return 2 * n end
team_helper = "from init"
error("init is broken here")
LUA
# An editor that replaces the chunk, after keeping what it was given.
cat >"$VL_TMP/editor" <<SH
#!/bin/sh
cp "\$1" "$VL_TMP/edited-before"
printf 'return "edited " .. (6 * 7)\n' >"\$1"
SH
# A pager that keeps what it was given.
cat >"$VL_TMP/pager" <<SH
#!/bin/sh
cat >"$VL_TMP/paged"
echo PAGER-RAN
SH
chmod +x "$VL_TMP/editor" "$VL_TMP/pager"
export EDITOR="$VL_TMP/editor" PAGER="$VL_TMP/pager"
unset VISUAL XDG_CONFIG_HOME VENUELESS_INIT
pty_start

PROMPT='venueless(test)> '
$TM new-session -d -s vl -x 120 -y 30 "'$VENUELESS' shell; echo EXIT=\$?; sleep 600"
VL_MARK=0	# from the first line: the startup file may report before a mark
wait_for 'init is broken here'
wait_for "init file: $HOME/.config/venueless/init.lua:3:"
prompt
mark; line 'team_helper'; wait_for $'\nfrom init'
mark; line 'double(21)'; wait_for $'\n42'

# \? lists the meta-commands.
mark; line '\?'; wait_for '\watch [SEC] [c=N]'; wait_for '\format'; wait_for '\pager'; prompt

# Friendly names.
mark; line 'help'; wait_for 'help() lists the modules'; absent 'function: 0x'
mark; line 'exit'; wait_for 'exit() or \q leaves the shell'; prompt
mark; line 'quit'; wait_for 'exit() or \q leaves the shell'; prompt
mark; line 'help(wolrds)'; wait_for 'wolrds is nil'; absent 'Modules'
mark; line '\nosuch'; wait_for 'invalid command \nosuch'; prompt

# The SQL error caret and a traceback without the shell's frames.
mark; line 'db.query("select 1,\n 2 FORM x")'
wait_for 'syntax error at or near "x"'
wait_for $'LINE 2:  2 FORM x\n                ^'
mark; line 'local function boom() error("deep") end'; prompt
mark; line 'boom()'; wait_for 'stdin:1: in function <stdin:1>'; prompt; absent 'xpcall'

# \timing: wall time, and the db's statements, rows and time.
mark; line '\timing'; wait_for 'Timing is on.'
mark; line 'db.query("select generate_series(1, 3) as n")'
wait_for '(3 rows)'; wait_for 'db: 1 statement, 3 rows'
mark; line '\timing off'; wait_for 'Timing is off.'

# \format for query results.
mark; line '\format csv'; wait_for 'Output format is csv.'
mark; line 'db.query("select 1 as a, $1 as b", "x,y")'; wait_for $'a,b\n1,"x,y"'
mark; line '\format ndjson'; line 'db.query("select 1 as a union all select 2")'
wait_for $'{"a":1}\n{"a":2}'
mark; line '\format aligned'; line 'db.query("select 1 as a")'; wait_for '(1 row)'

# \o FILE: results go to the file.
mark; line "\\o $VL_TMP/out.txt"; prompt
mark; line '"to the file"'; prompt; absent 'to the file'$'\n'
mark; line '\o'; prompt
mark; line '"on screen"'; wait_for $'\non screen'
vl_eq "to the file" "$(cat "$VL_TMP/out.txt")" "\\o FILE content"

# \watch: repeats the last chunk, c=N times, redrawn on the terminal.
mark; line 'wcount = (wcount or 0) + 1; return "run " .. wcount'; wait_for 'run 1'
mark; line '\watch 0.2 c=3'; wait_for 'run 4'; prompt
# the screen was cleared before each run: only the last is on it
$TM capture-pane -p -t vl | grep -q 'run 2' && vl_fail "\\watch did not redraw in place"
$TM capture-pane -p -t vl | grep -q '(every 0.2s)' || vl_fail "no \\watch heading"
# Ctrl-C ends the watch only, the session goes on.
mark; line '\watch 0.2'; wait_for 'run 6'
$TM send-keys -t vl C-c; prompt
mark; line 'lx = "still here"'; line 'lx'; wait_for $'\nstill here'

# \e: the last chunk goes to $EDITOR; what it saves runs.
mark; line '1 + 1'; wait_for $'\n2'
mark; line '\e'; wait_for $'\nedited 42'; prompt
vl_eq "1 + 1" "$(cat "$VL_TMP/edited-before")" "\\e opened the last chunk"
# ... and the pending chunk while one is being typed.
mark; line 'for i = 1, 2 do'; wait_for '>> '
line '\e'; wait_for $'\nedited 42'
vl_eq "for i = 1, 2 do" "$(cat "$VL_TMP/edited-before")" "\\e opened the pending chunk"

# A result taller than the window goes through $PAGER; not with \pager off.
mark; line 'db.query("select generate_series(1, 50) as n")'; wait_for 'PAGER-RAN'; prompt
grep -q '^(50 rows)$' "$VL_TMP/paged" || vl_fail "the pager did not get the result: $(cat "$VL_TMP/paged")"
rm -f "$VL_TMP/paged"
mark; line 'db.query("select 1 as n")'; wait_for '(1 row)'
[ -e "$VL_TMP/paged" ] && vl_fail "a short result went to the pager"
mark; line '\pager off'; wait_for 'Pager usage is off.'
mark; line 'db.query("select generate_series(1, 50) as n")'; wait_for '(50 rows)'; absent 'PAGER-RAN'

# \q leaves.
mark; line '\q'; wait_for 'EXIT=0'

# exit(N) leaves with status N; VENUELESS_INIT names the startup file.
printf 'ok_init = true\n' >"$VL_TMP/init2.lua"
$TM kill-session -t vl
$TM new-session -d -s vl -x 120 -y 30 \
    "VENUELESS_INIT='$VL_TMP/init2.lua' '$VENUELESS' shell; echo EXIT=\$?; sleep 600"
VL_MARK=0; prompt; absent 'init is broken'
mark; line 'ok_init'; wait_for $'\ntrue'
mark; line 'exit(3)'; wait_for 'EXIT=3'
echo "shell-meta: ok"
