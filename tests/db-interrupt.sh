# venueless.db in its own process: libpq loaded lazily, Ctrl-C cancels a
# running query (also in db.rows and a transaction), a stopped server fails
# fast with exit 10.
. "$(dirname "$0")/lib.sh"
vl_pg_start

# libpq is not loaded until the first query.
vl_exit 0 "$VENUELESS" shell -e 'return io.open("/proc/self/maps"):read("a"):find("libpq") == nil'
vl_eq true "$VL_OUT" "libpq not loaded at start"
vl_exit 0 "$VENUELESS" shell -e 'db.query("select 1") return io.open("/proc/self/maps"):read("a"):find("libpq") ~= nil'
vl_eq true "$VL_OUT" "libpq loaded after a query"

# A failing query raises: message and exit 1, also when nothing checks it.
vl_exit 1 "$VENUELESS" shell -e 'db.query("selec 1")' -e 'print("went on")'
vl_contains "$VL_ERR" "venueless: shell: syntax error"
vl_eq "" "$VL_OUT" "the script stopped at the failure"

# SIGINT during a query: cancelled, exit 130, backend idle again.
"$VENUELESS" shell -e 'db.query("select pg_sleep(30)")' >"$VL_TMP/int.out" 2>&1 &
pid=$!
active() {
	[ "$(vl_psql -c "select count(*) from pg_stat_activity
	    where application_name = 'venueless' and state = 'active'
	    and query like '%pg_sleep(30)%'")" = "$1" ]
}
vl_wait_for active 1
kill -INT "$pid"
start=$(date +%s)
wait "$pid"
rc=$?
vl_eq 130 "$rc" "exit after SIGINT ($(cat "$VL_TMP/int.out"))"
[ $(($(date +%s) - start)) -le 2 ] || vl_fail "SIGINT took too long"
vl_contains "$(cat "$VL_TMP/int.out")" "interrupted"
vl_wait_for active 0

# SIGINT inside db.rows and inside a transaction.
"$VENUELESS" shell -e 'db.transaction(function() for r in db.rows("select pg_sleep(30)") do end end)' >"$VL_TMP/int.out" 2>&1 &
pid=$!
vl_wait_for active 1
kill -INT "$pid"
wait "$pid"
vl_eq 130 "$?" "exit after SIGINT in db.rows ($(cat "$VL_TMP/int.out"))"
vl_wait_for active 0

# After a Ctrl-C the connection is still usable in the same process.
vl_exit 0 "$VENUELESS" shell -e '
local core = require "venueless.core"
local t = os.time()
local ok, err = pcall(function()
	-- the signal arrives while the query is running
	os.execute("(sleep 0.5; kill -INT " .. core.getpid() .. ") &")
	db.query("select pg_sleep(20)")
end)
assert(not ok and core.is_error(err) and err.exit == 130, tostring(err))
core.clear_interrupt()
assert(os.time() - t < 5)
return db.query("select 42 x")[1].x'
vl_eq 42 "$VL_OUT" "query after an interrupt"

# Server down: db.query raises 08006 quickly, exit 10; core.try gives
# nil, msg, 08006.
vl_as_pg "$PG_CTL" -D "$VL_PGDATA" -m fast stop >/dev/null
vl_exit 0 "$VENUELESS" shell -e 'local v, msg, code = require("venueless.core").try(db.query, "select 1") return code, (v == nil)'
vl_eq "08006	true" "$VL_OUT" "server down"
vl_exit 10 "$VENUELESS" shell -e 'db.query("select 1")'
vl_contains "$VL_ERR" "venueless: shell: "
exit 0
