# The README's commands for using the tool against make run's servers
# from a second terminal work as written (on servers of our own).
. "${TOP_SRCDIR:-.}/tests/lib.sh"
command -v redis-cli >/dev/null || vl_skip "redis-cli not installed"

readme=$TOP_SRCDIR/README.md
block=$(awk '/^### Using the tool against the `make run` servers/ { on = 1 }
    on && /^```sh/ { code = 1; next } code && /^```/ { exit } code' "$readme")
[ -n "$block" ] || vl_fail "README: no commands for the make run servers"
vl_contains "$(sed -n 4,5p "$readme")" "make run"
vl_contains "$(sed -n 4,5p "$readme")" "bash .ci/run"

run=$VL_TMP/run
export VL_RUN_DIR=$run
trap 'bash "$TOP_SRCDIR/tests/devserver.sh" stop >/dev/null 2>&1; vl_cleanup' EXIT
bash "$TOP_SRCDIR/tests/devserver.sh" start >/dev/null || vl_fail "devserver start"
"$VENUELESS" -c "$run/venueless.cfg" migrate -v 0 || vl_fail migrate
"$VENUELESS" -c "$run/venueless.cfg" import_config \
    "$TOP_SRCDIR/tests/data/sample-world.json" >/dev/null || vl_fail import

# Run each line as written, with the checkout's paths pointing at ours.
mkdir -p "$VL_TMP/top" && ln -s "$run" "$VL_TMP/top/.run" &&
    ln -s "$VENUELESS" "$VL_TMP/top/venueless"
n=0
while IFS= read -r line; do
	cmd=${line%%#*}
	[ -n "${cmd// /}" ] || continue
	n=$((n + 1))
	# An export line is checked by the command it is there for.
	(cd "$VL_TMP/top" && eval "$cmd" && case $cmd in
	export*) "$VENUELESS" list_worlds | grep -q sample ;; esac) \
	    </dev/null >"$VL_TMP/out" 2>&1 ||
	    vl_fail "README line '$cmd': $(cat "$VL_TMP/out")"
done <<<"$block"
[ "$n" -ge 2 ] || vl_fail "README: only $n commands"
(cd "$VL_TMP/top" && ./venueless -c .run/venueless.cfg list_worlds) >"$VL_TMP/out" ||
    vl_fail "list_worlds"
vl_contains "$(cat "$VL_TMP/out")" "sample"
exit 0
