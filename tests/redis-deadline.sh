# The tool's own Redis traffic has a deadline ([redis] timeout,
# VENUELESS_REDIS_TIMEOUT): a shard that accepts connections and never
# answers ends create_world, clone_world, import_config (after their
# commit) and connections drop with exit 11 and what was done; a user's
# redis.call in the shell keeps none (BLPOP k 0 is legitimate).
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || vl_skip "python3 not installed"
command -v redis-cli >/dev/null || vl_skip "redis-cli not installed"
V=$VENUELESS
H="python3 $TOP_SRCDIR/tests/connections-helper.py"
vl_pg_start
vl_redis_start
"$V" migrate -v 0 || vl_fail "migrate"
REAL=$VENUELESS_REDIS_URLS

# A unix socket that accepts connections and never answers.
SILENT=$VL_TMP/silent.sock
python3 -c 'import os, socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.bind(sys.argv[1] + ".tmp")
s.listen(64)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(300)' "$SILENT" &
silent_pid=$!
trap 'kill $silent_pid 2>/dev/null; vl_cleanup' EXIT
vl_wait_for test -S "$SILENT"

# within LO HI CODE CMD...: CMD exits CODE after LO to HI seconds.
within() {
	local lo=$1 hi=$2 want=$3 t0 t1
	shift 3
	t0=$(date +%s%N)
	vl_exit "$want" timeout 30 "$@"
	t1=$(date +%s%N)
	ELAPSED=$(( (t1 - t0) / 1000000 ))
	[ "$ELAPSED" -ge $((lo * 1000)) ] && [ "$ELAPSED" -le $((hi * 1000)) ] ||
	    vl_fail "$*: took $ELAPSED ms, expected $lo to $hi s"
}

export VENUELESS_REDIS_URLS="unix://$SILENT" VENUELESS_REDIS_TIMEOUT=1

# create_world: committed, the secrets printed, then exit 11 within 1 s.
within 1 4 11 "$V" create_world --id hung --title Hung --domain hung.example.org
vl_contains "$VL_OUT" "World created."
vl_contains "$VL_OUT" "https://hung.example.org/#token="
vl_eq "venueless: create_world: committed, but the server cache was not updated (running servers may serve the old configuration until they reload): redis shard 0 (unix://$SILENT): timed out (no reply for 1 s)" "$VL_ERR"
vl_eq 1 "$(vl_psql -c "select count(*) from core_world where id = 'hung'")" "hung stored"

# clone_world likewise.
within 1 4 11 "$V" clone_world hung --id hung2 --title Hung2 --domain ''
vl_contains "$VL_OUT" "World cloned."
vl_contains "$VL_ERR" "venueless: clone_world: committed, but the server cache was not updated"
vl_contains "$VL_ERR" "timed out (no reply for 1 s)"
vl_eq 1 "$(vl_psql -c "select count(*) from core_world where id = 'hung2'")" "hung2 stored"

# import_config: the summary, then exit 11; [redis] timeout from the file.
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); d['world']['id']='hung3'; print(json.dumps(d))" \
    "$TOP_SRCDIR/tests/data/sample-world.json" >"$VL_TMP/hung3.json"
printf '[redis]\ntimeout = 2\n' >"$VL_TMP/t.cfg"
within 2 5 11 env -u VENUELESS_REDIS_TIMEOUT \
    VENUELESS_CONFIG_FILE="$VL_TMP/t.cfg" "$V" import_config "$VL_TMP/hung3.json"
vl_contains "$VL_OUT" "World hung3 created: 8 rooms"
vl_contains "$VL_ERR" "venueless: import_config: committed, but the server cache was not updated"
vl_contains "$VL_ERR" "timed out (no reply for 2 s)"
vl_eq 8 "$(vl_psql -c "select count(*) from core_room where world_id = 'hung3'")" "hung3 stored"

# connections drop and list: nothing sent.
within 1 4 11 "$V" connections drop
vl_eq "venueless: connections: redis shard 0 (unix://$SILENT): timed out (no reply for 1 s); nothing sent" "$VL_ERR"
within 1 4 11 "$V" connections list
vl_contains "$VL_ERR" "timed out (no reply for 1 s)"

# A bad timeout is refused before anything is done.
VENUELESS_REDIS_TIMEOUT=soon vl_exit 1 "$V" create_world --id never --title X --domain ''
vl_contains "$VL_ERR" '[redis] timeout (VENUELESS_REDIS_TIMEOUT): expected seconds from 0 to 86400, not "soon"'
vl_eq 0 "$(vl_psql -c "select count(*) from core_world where id = 'never'")" "nothing stored"

# A shard that stops answering in the middle of a paced drop: the
# summary says how many were sent and how many not.
export VENUELESS_REDIS_URLS=$REAL
$H register "$VL_TMP/a.json" --label aaa.production --procs 2 --conns 30 ||
    vl_fail "register"
timeout 30 "$V" connections drop --interval 100 >"$VL_TMP/out" 2>"$VL_TMP/err" </dev/null &
drop=$!
vl_wait_for sh -c "[ \"\$(redis-cli -s '$VL_TMP/redis0.sock' --scan --pattern 'venueless:0:asgi:specific.*' | wc -l)\" -gt 0 ]"
sleep 0.3
redis_pid=$(cat "$VL_TMP/redis0.pid")
kill -STOP "$redis_pid"
t0=$(date +%s)
wait "$drop"
rc=$?
kill -CONT "$redis_pid"
vl_exited "$rc" 11 connections drop --interval 100
[ $(( $(date +%s) - t0 )) -le 4 ] || vl_fail "drop took too long after the stop"
vl_contains "$VL_ERR" "venueless: connections: redis shard 0 (unix://$VL_TMP/redis0.sock?db=0): timed out (no reply for 1 s); sent connection.drop to "
sent=$(echo "$VL_ERR" | sed -n 's/.*; sent connection.drop to \([0-9]*\) connections.*/\1/p')
[ -n "$sent" ] && [ "$sent" -gt 0 ] && [ "$sent" -lt 30 ] || vl_fail "sent [$sent] in [$VL_ERR]"
vl_contains "$VL_ERR" " connections not sent"
vl_contains "$VL_ERR" "1 connection unconfirmed"

# The shell's own redis.call has no deadline: BLPOP k 0 waits past it.
"$V" shell -e 'redis.call("BLPOP", "k", 0)' >"$VL_TMP/out" 2>"$VL_TMP/err" &
blpop=$!
sleep 2.5
kill -0 "$blpop" 2>/dev/null || vl_fail "BLPOP ended early: $(cat "$VL_TMP/err")"
vl_redis_cli RPUSH k v >/dev/null
wait "$blpop" || vl_fail "BLPOP failed: $(cat "$VL_TMP/err")"
vl_contains "$(cat "$VL_TMP/out")" "v"
exit 0
