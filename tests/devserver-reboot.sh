# make run's servers (tests/devserver.sh) after a reboot wiped the temp
# dir that .run/pg links to: start makes a new one, stop removes it all.
. "${TOP_SRCDIR:-.}/tests/lib.sh"
command -v redis-cli >/dev/null || vl_skip "redis-cli not installed"

run=$VL_TMP/run
export VL_RUN_DIR=$run
dev() { bash "$TOP_SRCDIR/tests/devserver.sh" "$@"; }
mkdir -p "$run"
ln -s "$VL_TMP/wiped-by-reboot" "$run/pg"
dev start >"$VL_TMP/start.out" 2>&1 || { cat "$VL_TMP/start.out"; vl_fail "start after a reboot"; }
grep -q "File exists" "$VL_TMP/start.out" && vl_fail "start: $(cat "$VL_TMP/start.out")"
pg=$(readlink -f "$run/pg")
[ -f "$pg/data/PG_VERSION" ] || vl_fail "no new cluster behind $run/pg"
vl_exit 0 "$VENUELESS" -c "$run/venueless.cfg" shell -e \
    'return db.query("select 41 + 1 as n")[1].n, redis.call("PING")'
vl_contains "$VL_OUT" "42"
vl_contains "$VL_OUT" "PONG"
dev stop >/dev/null 2>&1
[ -e "$run" ] && vl_fail "stop left $run"
[ -e "$pg" ] && vl_fail "stop left $pg"
exit 0
