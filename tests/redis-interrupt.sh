# Ctrl-C ends a blocking Redis command every time: 50 runs of BLPOP k 0,
# each sent SIGINT, half of them once the server shows the BLPOP waiting,
# half after a short delay that lands anywhere from start-up to the
# wait. Each must exit 130 within 5 s (a signal lost just before the wait
# would leave BLPOP k 0 blocked for ever).
. "$(dirname "$0")/lib.sh"
vl_redis_start
# A background job of a script starts with SIGINT ignored, so a signal
# sent before venueless installs its handler would be dropped; a terminal's
# Ctrl-C reaches a process with the default action, as env gives it here.
env --default-signal=INT true 2>/dev/null ||
    vl_skip "env --default-signal (GNU coreutils 8.31) not available"

# Is a BLPOP waiting on the server?
blocked() {
	vl_redis_cli CLIENT LIST | grep -q 'cmd=blpop'
}

# Wait up to 5 s (of wall time: a loaded machine stretches a count of
# polls) for pid to end; fail the test if it does not.
ends_soon() {
	local end=$(($(date +%s%N) + 5000000000))
	while [ "$(date +%s%N)" -lt "$end" ]; do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.01
	done
	kill -9 "$1"
	vl_fail "try $2: still running 5 s after SIGINT ($(cat "$VL_TMP/err"))"
}

for try in $(seq 1 50); do
	env --default-signal=INT "$VENUELESS" shell -e 'redis.call("BLPOP", "k", 0)' \
	    >"$VL_TMP/out" 2>"$VL_TMP/err" </dev/null &
	pid=$!
	if [ $((try % 2)) -eq 0 ]; then
		vl_wait_for blocked
	else
		sleep "0.0$((try % 10))"
	fi
	start=$(date +%s%N)
	kill -INT "$pid"
	ends_soon "$pid" "$try"
	wait "$pid"
	vl_exited $? 130 "try $try: BLPOP k 0 then SIGINT"
	elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
	[ "$elapsed" -lt 2000 ] || vl_fail "try $try: SIGINT took $elapsed ms"
	if [ $((try % 2)) -eq 0 ]; then
		vl_contains "$VL_ERR" "venueless: shell: interrupted" "try $try"
	fi
	vl_wait_for sh -c "! redis-cli -s '$VL_TMP/redis0.sock' CLIENT LIST | grep -q cmd=blpop"
done

# The same in one process, through pcall: the wait is interrupted each
# time and the next call reconnects.
vl_exit 0 "$VENUELESS" shell -e '
local core = require "venueless.core"
for i = 1, 20 do
  os.execute(("(sleep 0.1%d; kill -INT %d) &"):format(i % 10, core.getpid()))
  local t0 = core.time("monotonic")
  local good, e = pcall(redis.call, "BLPOP", "k", 0)
  assert(not good and core.is_error(e) and e.code == "interrupted", tostring(e))
  assert(core.time("monotonic") - t0 < 2, "took too long")
  core.clear_interrupt()
end
return redis.call("PING")'
vl_eq PONG "$VL_OUT" "after 20 interrupted calls"
exit 0
