# The binary's command line: help, version, usage errors, exit codes.
. "$(dirname "$0")/lib.sh"

vl_exit 0 "$VENUELESS" --help
vl_contains "$VL_OUT" "usage: venueless"
help=$VL_OUT
for c in migrate showmigrations create_world clone_world import_config \
    list_worlds connections shell; do
	vl_contains "$help" "  $c" "--help lists $c"
	vl_exit 0 "$VENUELESS" "$c" --help
	vl_contains "$VL_OUT" "usage: venueless $c" "$c --help"
	# Every option line: the option, two or more spaces, its help text,
	# which starts in the same column on every line.
	cols=$(printf '%s\n' "$VL_OUT" | sed -n '/^options:/,$p' | sed 1d |
	    awk '{ if (!match($0, /^  (-[a-zA-Z], |    )--[a-z-]+( [A-Z]+)?  +/)) { print "bad: " $0; next }
	        print RLENGTH }' | sort -u)
	vl_eq 1 "$(printf '%s\n' "$cols" | wc -l)" "$c --help columns: $cols"
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
vl_exit 2 "$VENUELESS" help frobnicate
vl_exit 2 "$VENUELESS" --bogus
vl_exit 2 "$VENUELESS" shell -e
vl_contains "$VL_ERR" "missing argument for -e"

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
