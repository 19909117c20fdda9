# venueless connections: list, drop and force_reload against real Redis
# servers, read back by tests/connections-helper.py, a stand-in for the
# venueless servers with its own RESP client and msgpack decoder.
# CONN_SHARDS (default 1) sets the number of Redis servers;
# tests/connections-shards.sh runs this file with 3.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || vl_skip "python3 not installed"
command -v redis-cli >/dev/null || vl_skip "redis-cli not installed"
shards=${CONN_SHARDS:-1}
vl_redis_start "$shards"
V=$VENUELESS
H="python3 $TOP_SRCDIR/tests/connections-helper.py"
# This file runs longer than a label's 60 s on a loaded machine.
export VL_LABEL_TTL=3600
P=venueless:0:asgi:

# reg FILE LABEL PROCS CONNS [helper options]: register websockets.
reg() {
	local f=$1 label=$2 procs=$3 conns=$4
	shift 4
	$H register "$VL_TMP/$f.json" --label "$label" --procs "$procs" \
	    --conns "$conns" "$@" || vl_fail "register $label"
}

# all_keys: every key on every shard with its type and a digest of its
# content, sorted; to prove that something changed nothing.
all_keys() {
	local i
	for i in $(seq 0 $((shards - 1))); do
		vl_redis_cli "$i" --scan 2>/dev/null | sort | while read -r k; do
			printf '%s %s %s\n' "$i" "$k" \
			    "$(vl_redis_cli "$i" DUMP "$k" 2>/dev/null | md5sum | cut -c1-8)"
		done
	done
}

# Keys that are not ours to delete, on every shard.
for i in $(seq 0 $((shards - 1))); do
	vl_redis_cli "$i" SET "${P}unrelated" keep >/dev/null
	vl_redis_cli "$i" ZADD "${P}:group:chat.1" 1 "specific.x!y" >/dev/null
	vl_redis_cli "$i" ZADD "${P}specific.feedfeedfeedfeedfeedfeedfeedfeed!" \
	    "$(date +%s)" "a message" >/dev/null
	vl_redis_cli "$i" SET "other:key" 1 >/dev/null
done
unrelated() {
	all_keys | grep -e "${P}unrelated" -e ":group:chat.1" -e feedfeed \
	    -e other:key
}
before=$(unrelated)

# ---- usage ----
vl_exit 0 "$V" connections --help
vl_contains "$VL_OUT" "usage: venueless connections"
vl_exit 2 "$V" connections
vl_contains "$VL_ERR" "venueless: connections: expected list, drop or force_reload"
vl_exit 2 "$V" connections frob
vl_contains "$VL_ERR" "unknown subcommand frob"
vl_exit 2 "$V" connections drop --interval soon
vl_contains "$VL_ERR" 'venueless: connections: --interval: expected an integer from 0 to 3600000, not "soon"'
vl_exit 2 "$V" connections --bogus list
vl_exit 2 "$V" connections list extra

# ---- list: format, stale labels ----
vl_exit 0 "$V" connections list
vl_eq "filter                                                       est. number of connections" \
    "$VL_OUT" "empty list"
reg a aaa.production 3 40 --stale-members 3
reg b bbb.production 2 7
reg c ccc.staging 1 3
vl_redis_cli HSET connections gone.nokey 5 >/dev/null
vl_redis_cli HSET connections gone.zero 0 >/dev/null
vl_redis_cli SETEX connections:gone.zero 60 exists >/dev/null
vl_exit 0 "$V" connections list --dry-run
vl_eq 5 "$(vl_redis_cli HLEN connections)" "--dry-run list prunes nothing"
vl_exit 0 "$V" connections list
vl_eq "filter                                                       est. number of connections
aaa.production                                               40
bbb.production                                               7
ccc.staging                                                  3" "$VL_OUT" "list"
vl_eq "aaa.production
bbb.production
ccc.staging" "$(vl_redis_cli HKEYS connections | sort)" "stale labels pruned"
vl_eq exists "$(vl_redis_cli GET connections:gone.zero)" "connections:L untouched"
vl_exit 0 "$V" connections list --json
vl_eq '{"aaa.production":40,"bbb.production":7,"ccc.staging":3}' "$VL_OUT" "list --json"

# ---- on a terminal, control characters in labels are escaped ----
evil=$(printf 'evil\033]0;p\007\033[2J\302\233.x')
vl_redis_cli HSET connections "$evil" 2 >/dev/null
vl_redis_cli SETEX "connections:$evil" 60 exists >/dev/null
tty_out=$(script -qec "$(printf '%q ' "$V" connections list)" /dev/null </dev/null) ||
    vl_fail "connections list on a tty: $tty_out"
case $tty_out in *$'\033'*|*$'\007'*|*$'\302\233'*) vl_fail "raw control characters on the terminal: $(printf '%s' "$tty_out" | od -c | head)" ;; esac
vl_contains "$tty_out" "$(printf '%-60s 2\r' 'evil\x1b]0;p\a\x1b[2J\u{9b}.x')" "escaped label on a tty"
tty_out=$(script -qec "$(printf '%q ' "$V" connections drop --dry-run 'evil*')" /dev/null </dev/null) ||
    vl_fail "connections drop --dry-run on a tty: $tty_out"
vl_contains "$tty_out" 'evil\x1b]0;p\a\x1b[2J\u{9b}.x' "escaped dry-run label on a tty"
case $tty_out in *$'\033'*) vl_fail "raw ESC in the dry run on a terminal" ;; esac
vl_exit 0 "$V" connections list
vl_contains "$VL_OUT" "$evil" "raw label into a pipe"
vl_exit 0 "$V" connections list --json
vl_contains "$VL_OUT" '"evil\u001b]0;p\u0007\u001b[2J' "--json escapes as JSON"
vl_redis_cli HDEL connections "$evil" >/dev/null
vl_redis_cli DEL "connections:$evil" >/dev/null

# ---- drop --dry-run sends nothing ----
snap=$(all_keys)
vl_exit 0 "$V" connections drop --dry-run '*.production'
vl_eq "aaa.production
bbb.production" "$VL_OUT" "dry run lists the labels"
vl_eq "would send connection.drop to 47 connections of 2 labels (5 process keys)" \
    "$VL_ERR" "dry run summary"
vl_eq "$snap" "$(all_keys)" "dry run changed nothing"

# ---- drop: default layer, patterns ----
# A pattern that matches no label is a typo: a warning naming it (and,
# a bare commit, the COMMIT.* it may have meant), exit 1, nothing sent,
# even when another pattern matches.
snap=$(all_keys)
vl_exit 1 "$V" connections drop '*.production' 'nomatch'
vl_eq "venueless: connections: warning: pattern nomatch matches no label (labels are COMMIT.ENVIRONMENT: try nomatch.*)
venueless: connections: no label matches nomatch; nothing sent (connections list shows the labels)" "$VL_ERR"
vl_exit 1 "$V" connections force_reload 'aaa' 'zzz.*'
vl_contains "$VL_ERR" "warning: pattern aaa matches no label (labels are COMMIT.ENVIRONMENT: try aaa.*)"
vl_contains "$VL_ERR" "warning: pattern zzz.* matches no label
"
vl_contains "$VL_ERR" "no label matches aaa, zzz.*; nothing sent"
vl_exit 1 "$V" connections drop --dry-run 'nomatch'
vl_contains "$VL_ERR" "no label matches nomatch"
vl_eq "$snap" "$(all_keys)" "a pattern matching nothing sent nothing"
vl_exit 0 "$V" connections drop '*.production'
vl_eq "" "$VL_OUT" "drop prints nothing on stdout"
vl_eq "sent connection.drop to 47 connections of 2 labels" "$VL_ERR" "drop summary"
$H check "$VL_TMP/a.json" "$VL_TMP/b.json" --type connection.drop >/dev/null ||
    vl_fail "drop did not reach every channel exactly once"
$H check "$VL_TMP/c.json" --absent >/dev/null || vl_fail "ccc.staging was sent to"
gshard=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["group_shard"])' "$VL_TMP/a.json")
vl_eq 40 "$(vl_redis_cli "$gshard" ZCARD "${P}:group:version.aaa.production")" \
    "old group members dropped"

# ---- force_reload, JSON result ----
vl_exit 0 "$V" connections force_reload --json 'c?c.[!x]*'
vl_eq '{"type":"connection.reload","layer":"default","dry_run":false,"labels":["ccc.staging"],"channels":3,"process_keys":1,"sent":3,"over_capacity":0,"over_capacity_connections":0,"delivered":null}' \
    "$VL_OUT" "force_reload --json"
$H check "$VL_TMP/c.json" --type connection.reload >/dev/null ||
    vl_fail "force_reload did not reach ccc.staging"

# ---- staggered ----
reg d ddd.canary 2 6
vl_exit 0 "$V" connections drop --interval 20 ddd.canary
vl_eq "sent connection.drop to 6 connections of 1 label" "$VL_ERR" "staggered summary"
$H check "$VL_TMP/d.json" --type connection.drop --staggered >/dev/null ||
    vl_fail "staggered drop"

# ---- over capacity ----
reg e eee.full 2 10
full=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["procs"][0])' "$VL_TMP/e.json")
other=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["procs"][1])' "$VL_TMP/e.json")
fshard=$(python3 -c 'import binascii,sys; n=int(sys.argv[2]); print(0 if n == 1 else int((binascii.crc32(sys.argv[1].encode()) & 0xFFF) / (4096 / n)))' "$full" "$shards")
oshard=$(python3 -c 'import binascii,sys; n=int(sys.argv[2]); print(0 if n == 1 else int((binascii.crc32(sys.argv[1].encode()) & 0xFFF) / (4096 / n)))' "$other" "$shards")
python3 -c 'import sys
for i in range(10000): print("ZADD %s %d filler%d" % (sys.argv[1], 2000000000, i))' \
    "$P$full" | vl_redis_cli "$fshard" >/dev/null
vl_exit 0 "$V" connections drop eee.full
vl_eq "sent connection.drop to 5 connections of 1 label; 1 process key over capacity (5 connections not reached)" \
    "$VL_ERR" "over capacity summary"
vl_eq 10000 "$(vl_redis_cli "$fshard" ZCARD "$P$full")" "full key unchanged"
vl_eq 1 "$(vl_redis_cli "$oshard" ZCARD "$P$other")" "the other key got its message"

# ---- send() from a script, to one channel ----
chan=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["channels"][0])' "$VL_TMP/c.json")
vl_redis_cli "$(python3 -c 'import binascii,sys; n=int(sys.argv[2]); print(0 if n == 1 else int((binascii.crc32(sys.argv[1].encode()) & 0xFFF) / (4096 / n)))' "${chan%%!*}!" "$shards")" \
    DEL "$P${chan%%!*}!" >/dev/null
vl_exit 0 "$V" shell -e "r = connections.send('$chan', {type = 'connection.drop'})" \
    -e 'r.sent, r.process_keys, r.channels'
vl_eq "1	1	1" "$VL_OUT" "send to one channel"

# ---- pub/sub layer ----
export VENUELESS_REDIS_USE_PUBSUB=true
reg p ppp.production 2 30 --pubsub --stale-members 4
reg q qqq.staging 1 5 --pubsub
vl_exit 0 "$V" connections list
vl_contains "$VL_OUT" "ppp.production                                               30"

# subscribe FILE EXPECT...: a subscriber in the background until ready.
subscribe() {
	local out=$1
	shift
	: >"$VL_TMP/$out.ready"
	$H subscribe "$VL_TMP/$out" "$@" >>"$VL_TMP/$out.ready" &
	sub_pid=$!
	vl_wait_for grep -q ready "$VL_TMP/$out.ready"
}
snap=$(all_keys)
vl_exit 0 "$V" connections drop -n 'ppp.*'
vl_eq "would send connection.drop to 30 connections of 1 label" "$VL_ERR" "pubsub dry run"
vl_eq "$snap" "$(all_keys)" "pubsub dry run changed nothing"

subscribe s1 "$VL_TMP/p.json"
vl_exit 0 "$V" connections drop 'ppp.*'
vl_eq "sent connection.drop to 30 connections of 1 label" "$VL_ERR" "pubsub drop"
wait "$sub_pid"
$H verify-sub "$VL_TMP/s1" "$VL_TMP/p.json" --type connection.drop >/dev/null ||
    vl_fail "pubsub drop did not reach every channel once"
vl_eq 30 "$(vl_redis_cli ZCARD version.ppp.production)" "old members dropped"

subscribe s2 "$VL_TMP/p.json" "$VL_TMP/q.json"
vl_exit 0 "$V" connections force_reload --interval 10 'ppp.*' 'qqq.*'
vl_eq "sent connection.reload to 35 connections of 2 labels" "$VL_ERR" "pubsub staggered"
wait "$sub_pid"
$H verify-sub "$VL_TMP/s2" "$VL_TMP/p.json" "$VL_TMP/q.json" --type connection.reload \
    >/dev/null || vl_fail "pubsub staggered reload"
unset VENUELESS_REDIS_USE_PUBSUB

# ---- Ctrl-C during a staggered send ----
reg i iii.slow 1 50
"$V" connections drop --interval 100 iii.slow >"$VL_TMP/int.out" 2>"$VL_TMP/int.err" &
pid=$!
sleep 1
kill -INT "$pid"
wait "$pid"
vl_eq 130 "$?" "exit status after SIGINT"
int_err=$(cat "$VL_TMP/int.err")
vl_contains "$int_err" "venueless: connections: interrupted; sent connection.drop to "
vl_contains "$int_err" " connections of 1 label; "
vl_contains "$int_err" " connections not sent"
n=$(echo "$int_err" | sed -n 's/.*sent connection.drop to \([0-9]*\) connections.*/\1/p')
m=$(echo "$int_err" | sed -n 's/.*; \([0-9]*\) connections not sent.*/\1/p')
u=$(echo "$int_err" | sed -n 's/.*; \([0-9]*\) connections\{0,1\} unconfirmed.*/\1/p')
vl_eq 50 "$((n + m + ${u:-0}))" "sent + not sent + unconfirmed"
[ "$n" -gt 0 ] && [ "$n" -lt 50 ] || vl_fail "sent $n before SIGINT"

# ---- nothing of others' deleted ----
vl_eq "$before" "$(unrelated)" "keys we did not write"

# ---- Redis down ----
last=$((shards - 1))
[ -n "$(vl_redis_cli "$last" --scan --pattern "${P}specific.*")" ] ||
    vl_fail "no process key on shard $last to need it"
kill -9 "$(cat "$VL_TMP/redis$last.pid")"
vl_wait_for sh -c "! redis-cli -s '$VL_TMP/redis$last.sock' PING >/dev/null 2>&1"
if [ "$shards" -eq 1 ]; then
	vl_exit 11 "$V" connections list
	vl_contains "$VL_ERR" "venueless: connections: redis shard 0 ("
	vl_exit 11 "$V" connections drop
	vl_contains "$VL_ERR" "redis shard 0 ("
	vl_contains "$VL_ERR" "; nothing sent"
else
	# shard 0 (labels) still answers; the drop needs the dead shard,
	# which holds process keys from the sends above.
	vl_exit 0 "$V" connections list
	snap=$(all_keys)
	vl_exit 11 "$V" connections drop
	vl_contains "$VL_ERR" "venueless: connections: redis shard $last ("
	vl_contains "$VL_ERR" "; nothing sent"
	vl_eq "$snap" "$(all_keys)" "nothing sent with a shard down"
fi
exit 0
