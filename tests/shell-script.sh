# venueless shell in script mode: -e, FILE with arg, piped scripts, exit
# codes, the preloaded globals and LUA_PATH overriding embedded modules.
. "$(dirname "$0")/lib.sh"
V=$VENUELESS
cd "$VL_TMP"

vl_exit 0 "$V" shell -e 'return 1 + 1'
vl_eq 2 "$VL_OUT"
vl_exit 0 "$V" shell -e 'x = 40' -e 'return x + 2, "s"'
vl_eq "42	s" "$VL_OUT" "-e chunks run in order"
vl_exit 0 "$V" shell -e 'print("hi")'
vl_eq hi "$VL_OUT" "a statement prints nothing itself"

# Errors: non-zero exit, the message and a traceback on stderr.
vl_exit 1 "$V" shell -e 'error("boom")'
vl_contains "$VL_ERR" "boom"
vl_contains "$VL_ERR" "stack traceback"
vl_exit 1 "$V" shell -e 'return +'
vl_contains "$VL_ERR" "venueless: shell:"

# A script file gets arg as lua does; its first error stops it.
printf 'print(arg[0], arg[1], arg[2], select("#", ...))\n' >s.lua
vl_exit 0 "$V" shell s.lua a b
vl_eq "s.lua	a	b	2" "$VL_OUT"
printf 'print("before")\nerror("stop here")\nprint("after")\n' >e.lua
vl_exit 1 "$V" shell e.lua
vl_eq before "$VL_OUT"
vl_contains "$VL_ERR" "e.lua:2: stop here"
vl_exit 1 "$V" shell missing.lua
vl_contains "$VL_ERR" "missing.lua"

# A shebang line works.
printf '#!/usr/bin/env -S venueless shell\nprint("shebang", arg[1])\n' >sb.lua
vl_exit 0 "$V" shell sb.lua z
vl_eq "shebang	z" "$VL_OUT"

# An executable script with the shebang, venueless found through PATH.
printf '#!/usr/bin/env -S venueless shell\nprint("direct", ...)\nos.exit(3)\n' >run.lua
chmod +x run.lua
vl_exit 3 env PATH="$(dirname "$V"):$PATH" ./run.lua p q
vl_eq "direct	p	q" "$VL_OUT" "shebang script run directly"

# The first failing -e stops the rest.
vl_exit 1 "$V" shell -e 'print(1)' -e 'error("second")' -e 'print(3)'
vl_eq 1 "$VL_OUT" "chunks after the failing one do not run"
vl_contains "$VL_ERR" "second"

# -e results go through the pretty printer; strings stay raw.
vl_exit 0 "$V" shell -e 'return { b = 1, a = { "x" } }, "raw", json.null'
vl_eq '{ a = { "x" }, b = 1 }	raw	null' "$VL_OUT" "pretty -e results"

# -i after -e: the shell reads standard input in the same globals.
out=$(printf 'y1 * 3\n' | VENUELESS_HISTFILE= "$V" shell -e 'y1 = 14' -i); rc=$?
vl_eq "0 42" "$rc $out" "-i after -e"

# Piped scripts: a shebang line is skipped there too.
out=$(printf '#!/usr/bin/env -S venueless shell\nprint(7)\n' | "$V" shell); rc=$?
vl_eq "0 7" "$rc $out" "piped script with a shebang"

# Piped scripts: success, and failure is non-zero (unlike lua5.4).
out=$(echo 'print(6 * 7)' | "$V" shell); rc=$?
vl_eq "0 42" "$rc $out" "piped script"
echo 'print("a") error("piped failure") print("b")' | "$V" shell >out 2>err; rc=$?
vl_eq 1 "$rc" "failing piped script exit"
vl_eq a "$(cat out)"
vl_contains "$(cat err)" "piped failure"
vl_contains "$(cat err)" "stack traceback"

# The operator globals are there in every mode, loaded lazily.
for g in db redis json msgpack crypto config; do
	vl_exit 0 "$V" shell -e "return type($g)"
	vl_eq table "$VL_OUT" "global $g with -e"
	printf 'print(type(%s))\n' "$g" >g.lua
	vl_exit 0 "$V" shell g.lua
	vl_eq table "$VL_OUT" "global $g in a script"
	vl_eq table "$(printf 'print(type(%s))\n' "$g" | "$V" shell)" "global $g piped"
done
vl_exit 0 "$V" shell -e 'return rawget(_G, "db") == nil'
vl_eq true "$VL_OUT" "db is not loaded before use"

# Interrupt: SIGINT stops a busy loop with exit 130.
"$V" shell -e 'while true do end' & pid=$!
sleep 0.3
kill -INT $pid
wait $pid; rc=$?
vl_eq 130 "$rc" "SIGINT exit status"
"$V" shell -e 'while true do end' & pid=$!
sleep 0.3
kill -TERM $pid
wait $pid; rc=$?
vl_eq 130 "$rc" "SIGTERM exit status"

# -v adds a traceback to command errors.
vl_exit 1 "$V" -v shell -e 'require("venueless.cli").fail("plain failure")'
vl_contains "$VL_ERR" "venueless: shell: plain failure"
vl_contains "$VL_ERR" "traceback"
vl_exit 1 "$V" shell -e 'require("venueless.cli").fail("plain failure")'
vl_eq "venueless: shell: plain failure" "$VL_ERR" "no traceback without -v"

# LUA_PATH overrides the embedded copy of a module.
mkdir -p lp/venueless
printf 'return { fail = function() error("from LUA_PATH", 0) end }\n' >lp/venueless/cli.lua
vl_exit 1 env LUA_PATH="$VL_TMP/lp/?.lua;;" "$V" shell -e 'require("venueless.cli").fail("x")'
vl_contains "$VL_ERR" "from LUA_PATH"
vl_exit 0 env LUA_PATH="$VL_TMP/nothing/?.lua;;" "$V" shell -e 'return require("venueless.cli").say ~= nil'
vl_eq true "$VL_OUT" "embedded copy when LUA_PATH lacks the module"

# Chunk names keep real paths.
vl_exit 0 "$V" shell -e 'return debug.getinfo(require("venueless.cli").fail, "S").source'
vl_eq "@lua/venueless/cli.lua" "$VL_OUT"
# An SQL error that ends -e or a script: the one-line message first,
# then the statement's line and a caret under the server's error
# position (psql's form); other commands keep their one line.
vl_pg_start
caret='LINE 2:   2 FORM x
                 ^'
vl_exit 1 "$V" shell -e 'db.query("SELECT 1,\n  2 FORM x")'
vl_eq "venueless: shell: syntax error at or near \"x\"
$caret" "$VL_ERR" "-e: the caret"
vl_exit 1 "$V" shell -e 'for r in db.rows("SELECT 1,\n  2 FORM x") do end'
vl_eq "venueless: shell: syntax error at or near \"x\"
$caret" "$VL_ERR" "-e: a db.rows failure's caret"
printf 'print("before")\ndb.exec("UPDATE nosuchtable SET a = 1")\n' >sql.lua
vl_exit 1 "$V" shell sql.lua
vl_eq before "$VL_OUT"
vl_eq 'venueless: shell: relation "nosuchtable" does not exist
LINE 1: UPDATE nosuchtable SET a = 1
               ^' "$VL_ERR" "a script: the caret"
# cli.explain's message for our own tables keeps the caret after it
printf '%s\n' 'db.query("SELECT *\n FROM core_world")' | "$V" shell >out 2>err; rc=$?
vl_eq 1 "$rc" "piped script's SQL error"
vl_eq 'venueless: shell: the database has no venueless schema (relation "core_world" does not exist): run venueless migrate
LINE 2:  FROM core_world
              ^' "$(cat err)" "a piped script: explained, with the caret"
# -v: the traceback after them
vl_exit 1 "$V" -v shell -e 'db.query("SELECT * FORM x")'
vl_contains "$VL_ERR" 'venueless: shell: syntax error at or near "FORM"
LINE 1: SELECT * FORM x
                 ^
stack traceback'
# a failure without a position, and other commands: one line
vl_exit 1 "$V" shell -e 'db.query("SELECT 1/0")'
vl_eq "venueless: shell: division by zero" "$VL_ERR" "no position, no caret"
vl_exit 1 "$V" list_worlds
vl_eq 'venueless: list_worlds: the database has no venueless schema (relation "core_world" does not exist): run venueless migrate' \
    "$VL_ERR" "another command: one line"
echo "shell-script: ok"
