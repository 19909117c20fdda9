# The interactive shell through a real pseudo-terminal (tmux): completion
# (globals, nested fields, string methods, live world ids and connection
# labels), multi-line input, locals that survive, Ctrl-C at the prompt,
# in Lua code, in a PostgreSQL query and in a blocking Redis call, the
# prompt, and the history file.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pty.sh"
vl_pg_start
vl_redis_start
"$VENUELESS" migrate -v 0 || vl_fail "migrate failed"

# Worlds to complete: every NOT NULL column filled.
for w in sample sahara other; do
	vl_psql -c "INSERT INTO core_world (id, title, version, locale, timezone,
	    feature_flags, vapid_private_key, vapid_public_key)
	    VALUES ('$w', 'Title $w', 0, 'en', 'UTC', '{}', 'priv', 'pub')"
done
vl_redis_cli HSET connections 411b261.prod 3 >/dev/null

export VENUELESS_HISTFILE="$VL_TMP/history" VENUELESS_ENVIRONMENT=test
unset NO_COLOR
pty_start
# ~/.editrc is read: a key bound to an editor command.
printf 'venueless:bind ^X ed-move-to-beg\n' >"$HOME/.editrc"

PROMPT='venueless(test)> '
$TM new-session -d -s vl -x 150 -y 50 \
    "'$VENUELESS' shell; echo EXIT=\$?; sleep 600"
mark
prompt

mark; keys '0 + 2'; wait_for "${PROMPT}0 + 2"
$TM send-keys -t vl C-x; keys '4'; $TM send-keys -t vl Enter; wait_for $'\n42'

# Colours on a terminal (NO_COLOR is unset here).
mark; line '{ a = "x" }'; wait_for '{ a = "x" }'
$TM capture-pane -p -e -t vl | grep -qF "$(printf '\033[32m"x"')" ||
    vl_fail "no colour for a string on a terminal"

# Expression first, then statement; results print as the printer shows them.
mark; line '1 + 1'; wait_for $'\n2'
mark; line 'x0 = 7'; prompt; absent 'error'
mark; line '{ b = 2, a = "x", 3 }'; wait_for '{ 3, a = "x", b = 2 }'

# Completion: a global, a nested field, string methods, live values.
mark; keys 'type(conne'; $TM send-keys -t vl Tab
wait_for 'type(connections'
line ')'; wait_for $'\ntable'
mark; line 'tt = { alpha = { beta = { gamma = 42 } } }'; prompt
mark; keys 'tt.alpha.be'; $TM send-keys -t vl Tab; wait_for 'tt.alpha.beta'
keys '.ga'; $TM send-keys -t vl Tab; wait_for 'tt.alpha.beta.gamma'
line ''; wait_for $'\n42'
mark; keys 'string.for'; $TM send-keys -t vl Tab; wait_for 'string.format('
line '"%03d", 7)'; wait_for $'\n007'
mark; line 's = "hello"'; prompt
mark; keys 's:up'; $TM send-keys -t vl Tab; wait_for 's:upper('
line ')'; wait_for $'\nHELLO'
mark; keys '("abc"):re'; $TM send-keys -t vl Tab
wait_for '("abc"):re'
$TM send-keys -t vl Tab; wait_for 'rep'; wait_for 'reverse'
keys 'v'; $TM send-keys -t vl Tab; wait_for '("abc"):reverse('
line ')'; wait_for $'\ncba'
mark; keys 'db.qu'; $TM send-keys -t vl Tab
$TM send-keys -t vl Tab; wait_for 'query'; wait_for 'quote_ident'
cancel

# Argument hints: Tab after "(" shows the signature.
mark; keys 'migrations.plan('; $TM send-keys -t vl Tab
wait_for 'migrations.plan([{app=, target=, set=}])'
cancel

# psql's \x for query results.
mark; line '\x'; wait_for 'Expanded display is on.'
mark; line 'db.query("select 1 as one")'; wait_for '-[ RECORD 1 ]'; wait_for 'one | 1'
mark; line '\x auto'; wait_for 'Expanded display is auto.'

# Live world ids: unique, then two candidates listed.
mark; keys 'worlds.get("sam'; $TM send-keys -t vl Tab
wait_for 'worlds.get("sample"'
cancel
mark; keys 'worlds.get("sa'; $TM send-keys -t vl Tab
wait_for 'sahara'; wait_for 'sample'; absent 'other'
cancel
mark; keys 'connections.drop("411'; $TM send-keys -t vl Tab
wait_for 'connections.drop("411b261.prod"'
cancel

# A resize while editing: the line is kept and still edits.
mark; keys 'string.rep("ab", 3'; wait_for "${PROMPT}string.rep"
$TM resize-window -t vl -x 60 -y 40; sleep 0.2
$TM resize-window -t vl -x 150 -y 50
line ')'; wait_for $'\nababab'

# Ctrl-C at the prompt clears the line.
mark; keys 'abc'; wait_for "${PROMPT}abc"
cancel
mark; line '1 + 2'; wait_for $'\n3'; absent 'abc1'

# Multi-line input with the continuation prompt.
mark; line 'for i = 1, 3 do'; wait_for '>> '
line 'print(i * 10)'; line 'end'
wait_for $'10\n20\n30'

# Ctrl-C at the continuation prompt drops the unfinished chunk.
mark; line 'if true then'; wait_for '>> '
cancel
mark; line '"fresh"'; wait_for $'\nfresh'; absent 'error'

# Ctrl-R searches the history.
mark; $TM send-keys -t vl C-r; keys 'i * 1'; wait_for 'print(i * 10)'
cancel

# Top-level locals survive to later lines; results in _ and _N.
mark; line 'local lx = 41'; prompt
mark; line 'lx + 1'; wait_for $'\n42'
mark; line 'local function sq(n) return n * n end'; prompt
mark; line 'sq(9)'; wait_for $'\n81'
mark; line '_ + 1'; wait_for $'\n82'
mark; line 'rawget(_G, "lx") == nil and lx'; wait_for $'\n41'

# Ctrl-C in running Lua code, twice in a row; the session goes on.
for n in 1 2; do
	mark; line 'while true do end'; sleep 0.2
	$TM send-keys -t vl C-c
	wait_for 'interrupted'; prompt
done
mark; line 'lx'; wait_for $'\n41'

# Ctrl-C in a PostgreSQL query cancels it on the server.
sleeping() {
	vl_psql -c "SELECT count(*) FROM pg_stat_activity
	    WHERE state = 'active' AND query LIKE '%pg_sleep(30)%'
	    AND pid <> pg_backend_pid()"
}
sleeping_is() {
	[ "$(sleeping)" = "$1" ]
}
mark; line 'db.query("select pg_sleep(30)")'
vl_wait_for sleeping_is 1
$TM send-keys -t vl C-c
wait_for 'interrupted'; prompt
for i in $(seq 1 20); do
	[ "$(sleeping)" = 0 ] && break
	sleep 0.05
done
vl_eq 0 "$(sleeping)" "pg_sleep still running 1 s after Ctrl-C"
mark; line 'db.query("select 6 * 7 as answer")'; wait_for ' answer'
wait_for ' 42'; wait_for '(1 row)'
# ... and again.
mark; line 'db.query("select pg_sleep(30)")'
vl_wait_for sleeping_is 1
$TM send-keys -t vl C-c
wait_for 'interrupted'; prompt

# Ctrl-C in a blocking Redis call abandons it and resets the connection.
blocked() {
	vl_redis_cli CLIENT LIST | grep -c 'cmd=blpop'
}
blocked_is() {
	[ "$(blocked)" = "$1" ]
}
for n in 1 2; do
	mark; line 'redis.call("BLPOP", "k", 0)'
	vl_wait_for blocked_is 1
	$TM send-keys -t vl C-c
	wait_for 'interrupted'; prompt
	vl_wait_for blocked_is 0
	mark; line 'redis.call("PING")'; wait_for $'\nPONG'
done

# The prompt marks an open transaction.
mark; line 'db.exec("BEGIN")'; prompt 'venueless(test)*> '
mark; line 'db.exec("ROLLBACK")'; prompt

# Errors are reported and the session continues.
mark; line 'error("boom")'; wait_for 'boom'; prompt
mark; line 'return +'; wait_for 'venueless: shell:'; prompt

# History: duplicates once, lines with secrets never.
mark; line 'pw = "password123"'; prompt
mark; line 'u = "postgres://u:p4ss@db.example/x"'; prompt
mark; line 'r = "redis://:hunter2@cache:6379/0"'; prompt
mark; line '1 + 1'; wait_for $'\n2'
mark; line '1 + 1'; wait_for $'\n2'

# Ctrl-D leaves with status 0.
mark; $TM send-keys -t vl C-d; wait_for 'EXIT=0'

hist=$(cat "$VENUELESS_HISTFILE")
vl_eq 1 "$(grep -cxF '1 + 1' "$VENUELESS_HISTFILE")" "1 + 1 once in the history"
vl_contains "$hist" "local lx = 41"
vl_contains "$hist" $'for i = 1, 3 do\\nprint(i * 10)\\nend'
case "$hist" in *password123*|*p4ss*|*hunter2*)
	vl_fail "a secret reached the history: $hist" ;;
esac
vl_eq 600 "$(stat -c %a "$VENUELESS_HISTFILE")" "history file mode"

# A new shell reads the history back: Up recalls the last entry.
$TM kill-session -t vl
$TM new-session -d -s vl -x 150 -y 50 \
    "NO_COLOR=1 '$VENUELESS' shell -e 'y0 = 5' -i; echo EXIT=\$?; sleep 600"
mark; prompt
mark; $TM send-keys -t vl Up; wait_for "${PROMPT}1 + 1"
cancel
mark; line 'y0 * 2'; wait_for $'\n10'
mark; line '{ a = "x" }'; wait_for '{ a = "x" }'
$TM capture-pane -p -e -t vl | grep -qF "$(printf '\033[32m')" &&
    vl_fail "colour despite NO_COLOR"
mark; $TM send-keys -t vl C-d; wait_for 'EXIT=0'

# SIGTERM ends the shell at the prompt (Ctrl-C does not).
$TM kill-session -t vl
$TM new-session -d -s vl -x 150 -y 50 "'$VENUELESS' shell; echo EXIT=\$?; sleep 600"
mark; prompt
cancel
pid=$(pgrep -P "$($TM display-message -p -t vl '#{pane_pid}')" venueless)
[ -n "$pid" ] || vl_fail "no venueless process in the pane"
mark; kill -TERM "$pid"; wait_for 'EXIT=130'

# edit.readline: a line without its newline, nil at Ctrl-D, Ctrl-C raises.
cat >"$VL_TMP/ask.lua" <<'LUA'
local edit = require "venueless.edit"
while true do
  local l = edit.readline("name? ")
  print("got[" .. tostring(l) .. "]")
  if l == nil then break end
end
edit.readline("again? ")
LUA
$TM kill-session -t vl
$TM new-session -d -s vl -x 150 -y 50 "'$VENUELESS' shell '$VL_TMP/ask.lua'; echo EXIT=\$?; sleep 600"
mark; wait_for 'name? '
line 'sample world'; wait_for 'got[sample world]'
mark; $TM send-keys -t vl C-d; wait_for 'got[nil]'; wait_for 'again? '
mark; $TM send-keys -t vl C-c; wait_for 'EXIT=130'
# Models: Tab completes an object's fields and relations, a queryset's
# methods and filter{} keys; objects print as their fields; db.trace.
$TM kill-session -t vl
$TM new-session -d -s vl -x 150 -y 50 "NO_COLOR=1 '$VENUELESS' shell; echo EXIT=\$?; sleep 600"
mark; prompt
mark; line 'u = User:create{world_id = "sample", profile = {}, traits = {}, client_id = "pty"}'; prompt
mark; keys 'u.wor'; $TM send-keys -t vl Tab; $TM send-keys -t vl Tab
wait_for 'world_grants'; wait_for 'world_views'
cancel
mark; keys 'u.world_i'; $TM send-keys -t vl Tab; wait_for "${PROMPT}u.world_id"
line ''; wait_for $'\nsample'
mark; keys 'u.world.tit'; $TM send-keys -t vl Tab; wait_for "${PROMPT}u.world.title"
line ''; wait_for $'\nTitle sample'
mark; keys 'User:filter{client'; $TM send-keys -t vl Tab; $TM send-keys -t vl Tab
wait_for 'client_id'; wait_for 'client_state'
cancel
mark; keys 'User:filter{client_i'; $TM send-keys -t vl Tab
wait_for "${PROMPT}User:filter{client_id"
keys ' = "pty"}:cou'; $TM send-keys -t vl Tab
wait_for 'User:filter{client_id = "pty"}:count('
line ')'; wait_for $'\n1'
mark; keys 'User:filter{last_login__gt'; $TM send-keys -t vl Tab; $TM send-keys -t vl Tab
wait_for 'last_login__gte'
cancel
mark; line 'w = worlds.get("sample")'; prompt
mark; keys 'w.tit'; $TM send-keys -t vl Tab; wait_for "${PROMPT}w.title"
cancel
mark; line 'u'; wait_for '<core.User '; wait_for 'client_id'; wait_for '= "pty"'
mark; line 'db.trace(true)'; prompt
mark; line 'User:filter{client_id = "pty"}:exists()'
wait_for 'SELECT EXISTS (SELECT 1 FROM "core_user" t0 WHERE t0."client_id" = $1'
wait_for "ms; \$1 = 'pty'"; wait_for $'\ntrue'
mark; line 'db.trace(false)'; wait_for $'\ntrue'
mark; $TM send-keys -t vl C-d; wait_for 'EXIT=0'
echo "shell-pty: ok"
