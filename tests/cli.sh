# The binary's command line: help, version, usage errors, exit codes.
. "$(dirname "$0")/lib.sh"

vl_exit 0 "$VENUELESS" --help
vl_contains "$VL_OUT" "usage: venueless"
help=$VL_OUT
# Every entry of the command table (src/cmd.c), so a new command is
# checked without a line here.
# Entries marked VL_CMD_HIDDEN (__complete) are left out of --help and
# the man page's list; they are checked below.
entries=$(awk '/^\t{ "[a-z_]*", "venueless\.cmd\./ { e = $0; open = 1 }
    open && !/^\t{/ { e = e $0 }
    open && /}/ { match(e, /"[a-z_]*"/); n = substr(e, RSTART + 1, RLENGTH - 2)
        print (e ~ /VL_CMD_HIDDEN/ ? "hidden " : "shown ") n; open = 0 }' "$TOP_SRCDIR/src/cmd.c")
cmds=$(printf '%s\n' "$entries" | sed -n 's/^shown //p')
hidden=$(printf '%s\n' "$entries" | sed -n 's/^hidden //p')
vl_eq "__complete" "$hidden" "hidden commands"
for c in $hidden; do
	case "$help" in *"  $c "*) vl_fail "--help lists the hidden $c" ;; esac
	grep -q "^\.It Cm $c" "$TOP_SRCDIR/man/venueless.1" && vl_fail "the man page lists the hidden $c"
	vl_exit 0 "$VENUELESS" "$c" --help
	vl_contains "$VL_OUT" "usage: venueless $c" "$c --help"
done
[ "$(printf '%s\n' "$cmds" | wc -l)" -ge 10 ] || vl_fail "commands from src/cmd.c: [$cmds]"
for c in $cmds; do
	vl_contains "$help" "  $c" "--help lists $c"
	vl_exit 0 "$VENUELESS" "$c" --help
	vl_contains "$VL_OUT" "usage: venueless $c" "$c --help"
	# Every option line: the option, two or more spaces, its help text,
	# which starts in the same column on every line.
	cols=$(printf '%s\n' "$VL_OUT" | sed -n '/^options:/,/^$/p' | sed '1d;/^$/d' |
	    awk '{ if (!match($0, /^  (-[a-zA-Z], |    )--[a-z-]+( [A-Z_]+)?  +/)) { print "bad: " $0; next }
	        print RLENGTH }' | sort -u)
	vl_eq 1 "$(printf '%s\n' "$cols" | wc -l)" "$c --help columns: $cols"
	# getopt would silently take the first of two options spelled alike.
	dup=$(printf '%s\n' "$VL_OUT" | sed -n '/^options:/,$p' | sed '1d;/^$/d;/^global options/d' |
	    awk '$1 ~ /^-[a-zA-Z],$/ { print $1; print $2; next } { print $1 }' | sort | uniq -d)
	vl_eq "" "$dup" "$c: options spelled twice"
	vl_exit 0 "$VENUELESS" help "$c"
	vl_contains "$VL_OUT" "usage: venueless $c" "help $c"
	vl_exit 2 "$VENUELESS" "$c" --no-such-option
	vl_eq "venueless: $c: unknown option --no-such-option" \
	    "$(echo "$VL_ERR" | head -1)" "$c bad option"
done
vl_exit 0 "$VENUELESS" --version
vl_contains "$VL_OUT" "venueless "
vl_exit 2 "$VENUELESS"
vl_exit 2 "$VENUELESS" frobnicate
vl_eq "venueless: unknown command frobnicate" "$(echo "$VL_ERR" | head -1)"
# no suggestion when nothing is near, and a short usage, not the list
case "$VL_ERR" in *"did you mean"*|*list_worlds*) vl_fail "frobnicate: $VL_ERR" ;; esac
vl_contains "$VL_ERR" "usage: venueless [-v] [-c FILE] COMMAND [ARGS]"
vl_contains "$VL_ERR" "(venueless --help lists the commands)"
[ "$(printf '%s\n' "$VL_ERR" | wc -l)" -le 7 ] || vl_fail "unknown command: a long usage: $VL_ERR"
vl_exit 2 "$VENUELESS" help frobnicate
vl_eq "venueless: help: unknown command frobnicate" "$(echo "$VL_ERR" | head -1)"
# A typo names the nearest real commands (edit distance; a prefix).
near() {	# WORD SUGGESTION
	vl_exit 2 "$VENUELESS" "$1"
	vl_eq "venueless: unknown command $1
did you mean $2?" "$(echo "$VL_ERR" | head -2)" "$1"
}
near list_world list_worlds
near lsit_worlds list_worlds
near showmigration showmigrations
near migrat migrate
near conn connections
near clone-wrld clone_world
near create_wrold create_world
near chek check
vl_exit 2 "$VENUELESS" help list_world
vl_contains "$VL_ERR" "did you mean list_worlds?"
# Dashes for underscores, in every command name.
for c in $cmds; do
	d=$(printf '%s' "$c" | tr _ -)
	vl_exit 0 "$VENUELESS" "$d" --help
	vl_contains "$VL_OUT" "usage: venueless $c" "$d --help"
done
vl_exit 0 "$VENUELESS" help create-world
vl_contains "$VL_OUT" "usage: venueless create_world"
# Global options before or after the command; a command's own letter
# wins (migrate -v is --verbosity), and --help says both.
vl_contains "$help" "options (before or after the command):"
vl_contains "$help" "-c, --config FILE"
vl_contains "$help" "-v, --verbose"
printf '[database]\nname = fromfile\n' >"$VL_TMP/g.cfg"
vl_exit 0 "$VENUELESS" shell -c "$VL_TMP/g.cfg" -e 'return config.database.name'
vl_eq fromfile "$VL_OUT" "-c after the command"
vl_exit 0 "$VENUELESS" shell --config="$VL_TMP/g.cfg" -e 'return config.database.name'
vl_eq fromfile "$VL_OUT" "--config= after the command"
vl_exit 0 "$VENUELESS" shell -e 'return require("venueless.core").verbose' -v
vl_eq true "$VL_OUT" "-v after the command"
mkdir -p "$VL_TMP/boom/venueless/cmd"
echo 'return { run = function() error("boom") end }' >"$VL_TMP/boom/venueless/cmd/check.lua"
vl_exit 1 env LUA_PATH="$VL_TMP/boom/?.lua;;" "$VENUELESS" check --verbose
vl_contains "$VL_ERR" "stack traceback:" "--verbose after the command: a traceback"
vl_exit 1 env LUA_PATH="$VL_TMP/boom/?.lua;;" "$VENUELESS" check
case "$VL_ERR" in *traceback*) vl_fail "a traceback without -v: $VL_ERR" ;; esac
vl_exit 0 "$VENUELESS" migrate --help
vl_contains "$VL_OUT" "global options (before or after the command):"
vl_contains "$VL_OUT" "      --verbose "
case "$VL_OUT" in *"-v, --verbose"*) vl_fail "migrate --help: -v is --verbosity there" ;; esac
vl_exit 0 "$VENUELESS" list_worlds --help
vl_contains "$VL_OUT" "-v, --verbose"
vl_contains "$VL_OUT" "-c, --config FILE"
vl_exit 2 "$VENUELESS" --bogus
vl_exit 2 "$VENUELESS" shell -e
vl_contains "$VL_ERR" "missing argument for -e"

# Numeric options are converted and range-checked by the command table,
# before anything connects: one line naming the option and its range, then
# the usage, exit 2.
bad_value() {	# COMMAND OPTION VALUE EXPECTED
	vl_exit 2 "$VENUELESS" "$1" "$2" "$3"
	vl_eq "venueless: $1: $4, not \"$3\"" "$(echo "$VL_ERR" | head -1)" "$1 $2 '$3'"
	vl_contains "$VL_ERR" "usage: venueless $1 " "$1 $2 '$3': usage"
}
for c in migrate showmigrations; do
	for v in x 4 -1 1.5 '' ' 1' 1x 0x1 99999999999999999999; do
		bad_value "$c" --verbosity "$v" "--verbosity: expected an integer from 0 to 3"
	done
	bad_value "$c" -v 7 "--verbosity: expected an integer from 0 to 3"
done
for v in soon -1 3600001 1.5 1e3 -9223372036854775809 18446744073709551616; do
	bad_value connections --interval "$v" "--interval: expected an integer from 0 to 3600000"
done
for v in soon -1 -0.5 2147483.5 1e999 inf nan 0x10 '' . 1e 1..2; do
	bad_value migrate --lock-timeout "$v" "--lock-timeout: expected a number from 0 to 2147483"
done
vl_exit 2 "$VENUELESS" migrate --lock-timeout=-1 --plan
vl_contains "$VL_ERR" '--lock-timeout: expected a number from 0 to 2147483, not "-1"'

# Good values reach the command's run() converted: integers for -v and
# --interval, floats for --lock-timeout (stand-in modules through LUA_PATH).
mkdir -p "$VL_TMP/lua/venueless/cmd"
for c in migrate showmigrations connections shell; do
	cat >"$VL_TMP/lua/venueless/cmd/$c.lua" <<'EOF'
return { run = function(opts)
  local keys = {}
  for k in pairs(opts) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local v = opts[k]
    v = type(v) == "table" and table.concat(v, ",") or v
    io.write(k, "=", math.type(v) or type(v), ":", tostring(v), " ")
  end
  print()
end }
EOF
done
typed() {	# EXPECTED COMMAND ARGS...
	local want=$1
	shift
	vl_exit 0 env LUA_PATH="$VL_TMP/lua/?.lua;;" "$VENUELESS" "$@"
	vl_eq "$want" "$VL_OUT" "$*"
}
typed "verbosity=integer:0 " migrate -v 0
typed "lock-timeout=float:2147483.0 verbosity=integer:3 " migrate --verbosity=3 --lock-timeout 2147483
typed "lock-timeout=float:0.5 " migrate --lock-timeout .5
typed "lock-timeout=float:1000.0 " migrate --lock-timeout 1e3
typed "lock-timeout=float:0.0 " migrate --lock-timeout 0
typed "plan=boolean:true verbosity=integer:2 " showmigrations --plan -v +2
typed "interval=integer:3600000 " connections --interval 3600000 drop
typed "interval=integer:0 " connections --interval 0 drop
typed "execute=string:a,b " shell -e a -e b

# Every command in the table is documented in the man page.
man=$TOP_SRCDIR/man/venueless.1
for c in $("$VENUELESS" --help | sed -n 's/^  \([a-z_]*\) .*/\1/p'); do
	grep -q "^\.It Cm $c" "$man" || vl_fail "man page lacks command $c"
done
# Every exit code in the enum is documented under EXIT STATUS.
codes=$("$VENUELESS" shell -e 'local t = {} for _, v in pairs(require("venueless.core").exit) do t[#t+1] = v end table.sort(t) return table.concat(t, " ")')
[ -n "$codes" ] || vl_fail "no exit codes"
for n in $codes; do
	sed -n '/^\.Sh EXIT STATUS/,/^\.Sh EXAMPLES/p' "$man" | grep -qx "\.It $n" ||
	    vl_fail "EXIT STATUS lacks $n"
done

# | head is not a failure, and not a crash.
out=$("$VENUELESS" shell -e 'for i = 1, 100000 do print(i) end' | head -1)
vl_eq 1 "$out"
"$VENUELESS" shell -e 'for i = 1, 100000 do print(i) end' | head -1 >/dev/null
vl_eq 0 "${PIPESTATUS[0]}" "exit status under | head"

# A full disk is.
if [ -w /dev/full ]; then
	"$VENUELESS" --help >/dev/full 2>"$VL_TMP/err"; rc=$?
	vl_eq 1 "$rc" "--help to /dev/full"
	vl_contains "$(cat "$VL_TMP/err")" "write error"
fi
echo "cli: ok"
