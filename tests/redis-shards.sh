# venueless.redis in its own process: three shards, a shard going down
# (fails fast, naming itself), Ctrl-C and SIGTERM during a blocking command.
. "$(dirname "$0")/lib.sh"
vl_redis_start 3

# Each shard is reachable through its own URL.
vl_exit 0 "$VENUELESS" shell -e 'redis.shards()'
vl_eq 3 "$VL_OUT" "shards"
for i in 0 1 2; do
	vl_exit 0 "$VENUELESS" shell -e "redis.conn($i):call('SET', 'who', 'shard$i')" \
	    -e "redis.conn($i).index"
	vl_eq "OK
$i" "$VL_OUT" "shard $i"
	vl_eq "shard$i" "$(vl_redis_cli "$i" GET who)" "shard $i holds its key"
done
vl_exit 0 "$VENUELESS" shell -e 'tostring(redis.conn(2))'
vl_eq "<redis shard 2 unix://$VL_TMP/redis2.sock?db=0>" "$VL_OUT" "tostring"

# A shard down among three: it fails quickly, naming itself; the others work.
kill -9 "$(cat "$VL_TMP/redis1.pid")"
sleep 0.2
start=$(date +%s%N)
vl_exit 0 "$VENUELESS" shell -e 'redis.conn(1):pcall("PING")'
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$elapsed" -lt 2000 ] || vl_fail "a down shard took ${elapsed} ms"
vl_contains "$VL_OUT" "nil	redis shard 1 (unix://$VL_TMP/redis1.sock?db=0): "
vl_contains "$VL_OUT" "	connection"
vl_exit 11 "$VENUELESS" shell -e 'redis.conn(1):call("PING")'
vl_contains "$VL_ERR" "redis shard 1 (unix://$VL_TMP/redis1.sock?db=0): "
vl_exit 11 "$VENUELESS" shell -e 'local r, msg, code = redis.conn(1):pipeline({{"PING"}})
    if r == nil then require("venueless.core").fail(msg, code) end'
vl_contains "$VL_ERR" "redis shard 1 ("

vl_exit 0 "$VENUELESS" shell -e 'redis.conn(0):call("PING")' \
    -e 'redis.conn(2):call("PING")'
vl_eq "PONG
PONG" "$VL_OUT" "the other shards"

# Shard 0 down: redis.call fails with exit 11 (noredis), naming shard 0.
kill -9 "$(cat "$VL_TMP/redis0.pid")"
sleep 0.2
vl_exit 11 "$VENUELESS" shell -e 'redis.call("PING")'
vl_contains "$VL_ERR" "venueless: shell: redis shard 0 (unix://$VL_TMP/redis0.sock?db=0): "

# Ctrl-C during BLPOP with no timeout: exit 130 within about a second.
"$VENUELESS" shell -e 'redis.conn(2):call("BLPOP", "nosuchkey", 0)' \
    >"$VL_TMP/out" 2>"$VL_TMP/err" &
pid=$!
sleep 0.5
vl_eq 1 "$(vl_redis_cli 2 CLIENT LIST | grep -c 'cmd=blpop')" "BLPOP is waiting"
start=$(date +%s%N)
kill -INT "$pid"
wait "$pid"
rc=$?
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
vl_eq 130 "$rc" "exit status after SIGINT ($(cat "$VL_TMP/err"))"
[ "$elapsed" -lt 1000 ] || vl_fail "SIGINT took ${elapsed} ms"
vl_contains "$(cat "$VL_TMP/err")" "interrupted"
vl_wait_for sh -c "! redis-cli -s '$VL_TMP/redis2.sock' CLIENT LIST | grep -q cmd=blpop"

# SIGTERM too.
"$VENUELESS" shell -e 'redis.conn(2):pipeline({{"PING"}, {"BLPOP", "k", 0}})' \
    >/dev/null 2>&1 &
pid=$!
sleep 0.5
kill -TERM "$pid"
wait "$pid"
vl_eq 130 "$?" "exit status after SIGTERM"
exit 0
