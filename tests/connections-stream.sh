# venueless connections drop to a group too big to hold: the members are
# read in pages (never one ZRANGE 0 -1), the messages' bytes go to scratch
# keys on the process keys' shards as they are read (APPEND), and each
# process key still gets exactly one message listing every live channel,
# read back by tests/connections-helper.py's own decoder. Redis's slow log
# (every command, with its arguments) shows what venueless sent; memory
# figures belong in bench/connections.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || vl_skip "python3 not installed"
command -v redis-cli >/dev/null || vl_skip "redis-cli not installed"
shards=3
vl_redis_start "$shards"
V=$VENUELESS
H="python3 $TOP_SRCDIR/tests/connections-helper.py"
P=venueless:0:asgi:

# 70,000 websockets of 3 server processes: 5.3 MB of channel names in the
# messages, more than the 4 MB a send holds; 5 expired members.
$H register "$VL_TMP/s.json" --label big.production --procs 3 --conns 70000 \
    --stale-members 5 || vl_fail "register"
$H register "$VL_TMP/t.json" --label small.production --procs 2 --conns 30 ||
    vl_fail "register"

# slowlog_all: log every command from now on, on every shard.
slowlog_all() {
	local i
	for i in $(seq 0 $((shards - 1))); do
		vl_redis_cli "$i" CONFIG SET slowlog-log-slower-than 0 >/dev/null
		vl_redis_cli "$i" CONFIG SET slowlog-max-len 100000 >/dev/null
		vl_redis_cli "$i" SLOWLOG RESET >/dev/null
	done
}
# logged: the commands every shard logged, one per line, arguments
# (cut by Redis to 128 bytes) separated by spaces.
logged() {
	local i
	for i in $(seq 0 $((shards - 1))); do
		vl_redis_cli "$i" SLOWLOG GET -1 | python3 -c '
import sys
lines = sys.stdin.read().split("\n")
# an entry: id, time, duration, arguments..., client address, client name
i, out = 0, []
while i + 3 < len(lines):
    j = i + 3
    while j < len(lines) and not lines[j].startswith("/"):
        j += 1
    out.append(" ".join(lines[i + 3:j]))
    i = j + 2
print("\n".join(reversed(out)))'
	done
}

# ---- a dry run reads pages too, and writes nothing ----
slowlog_all
vl_exit 0 "$V" connections drop --dry-run 'big.*'
vl_eq "would send connection.drop to 70000 connections of 1 label (3 process keys)" \
    "$VL_ERR" "dry run counts"
log=$(logged)
case $log in *"ZRANGE ${P}:group:version.big.production 0 -1"*) vl_fail "dry run read the whole group" ;; esac
writes=$(echo "$log" | grep -c -E '^(APPEND|ZADD|EVAL|DEL|EXPIRE|ZREMRANGEBYSCORE) ' || true)
vl_eq 0 "$writes" "dry run writes"

# ---- drop ----
slowlog_all
vl_exit 0 "$V" connections drop 'big.*' 'small.*'
vl_eq "sent connection.drop to 70030 connections of 2 labels" "$VL_ERR" "drop summary"
$H check "$VL_TMP/s.json" "$VL_TMP/t.json" --type connection.drop >/dev/null ||
    vl_fail "drop did not reach every channel exactly once, one message per process key"
log=$(logged)
pages=$(echo "$log" | python3 -c '
import sys
n = 0
for line in sys.stdin:
    a = line.split()
    if a and a[0] == "ZRANGE" and a[1].endswith("version.big.production"):
        start, stop = int(a[2]), int(a[3])
        if stop < 0 or stop - start + 1 > 10000:
            print("unbounded ZRANGE %s %s" % (start, stop)); sys.exit(1)
        n += 1
print(n)') || vl_fail "$pages"
[ "$pages" -ge 7 ] || vl_fail "70,000 members read in $pages pages"
appends=$(echo "$log" | grep -c '^APPEND venueless:send:' || true)
echo "read in $pages pages, $appends APPENDs to scratch keys" >&2
[ "$appends" -ge 3 ] || vl_fail "the messages were not spilled as they were read ($appends APPENDs)"
for i in $(seq 0 $((shards - 1))); do
	vl_eq "" "$(vl_redis_cli "$i" --scan --pattern 'venueless:send:*')" "scratch keys left on shard $i"
done

# ---- a shard refusing writes part-way: nothing visible, no scratch left ----
for i in $(seq 0 $((shards - 1))); do vl_redis_cli "$i" FLUSHALL >/dev/null; done
$H register "$VL_TMP/u.json" --label big.production --procs 6 --conns 70000 || vl_fail "register"
# the highest shard holding a process key refuses the APPENDs (out of
# memory) once the others took theirs
bad=$(python3 -c 'import binascii, json, sys
n = int(sys.argv[2])
print(max(int((binascii.crc32(p.encode()) & 0xFFF) / (4096 / n))
          for p in json.load(open(sys.argv[1]))["procs"]))' "$VL_TMP/u.json" "$shards")
[ "$bad" -gt 0 ] || vl_fail "every process key on shard 0"
vl_redis_cli "$bad" CONFIG SET maxmemory 1 >/dev/null
vl_exit 1 "$V" connections drop 'big.*'
vl_contains "$VL_ERR" "venueless: connections: redis shard $bad ("
vl_contains "$VL_ERR" "OOM"
vl_contains "$VL_ERR" "; nothing sent"
vl_redis_cli "$bad" CONFIG SET maxmemory 0 >/dev/null
$H check "$VL_TMP/u.json" --absent >/dev/null || vl_fail "a message was added"
for i in $(seq 0 $((shards - 1))); do
	vl_eq "" "$(vl_redis_cli "$i" --scan --pattern 'venueless:send:*')" \
	    "scratch keys left on shard $i after the failure"
done

# ---- pub/sub layer: published page by page as the members are read ----
for i in $(seq 0 $((shards - 1))); do vl_redis_cli "$i" FLUSHALL >/dev/null; done
export VENUELESS_REDIS_USE_PUBSUB=true
$H register "$VL_TMP/p.json" --label pub.production --procs 1 --conns 25000 --pubsub \
    --stale-members 3 || vl_fail "register"
: >"$VL_TMP/sub.ready"
$H subscribe "$VL_TMP/sub" "$VL_TMP/p.json" >>"$VL_TMP/sub.ready" &
sub=$!
vl_wait_for grep -q ready "$VL_TMP/sub.ready"
slowlog_all
vl_exit 0 "$V" connections drop 'pub.*'
vl_eq "sent connection.drop to 25000 connections of 1 label" "$VL_ERR" "pub/sub drop summary"
wait "$sub" || vl_fail "subscriber"
$H verify-sub "$VL_TMP/sub" "$VL_TMP/p.json" --type connection.drop >/dev/null ||
    vl_fail "pub/sub drop did not reach every channel exactly once"
# every ZRANGE bounded, and PUBLISHes logged between the pages: sent as read
order=$(logged | python3 -c '
import sys
seq = []
for line in sys.stdin:
    a = line.split()
    if not a:
        continue
    if a[0] == "ZRANGE" and a[1] == "version.pub.production":
        if int(a[3]) < 0 or int(a[3]) - int(a[2]) + 1 > 10000:
            print("unbounded ZRANGE"); sys.exit(1)
        seq.append("R")
    elif a[0] == "PUBLISH":
        seq.append("P")
s = "".join(seq)
# squeeze runs: R P R P ... when each page is published before the next
import re
print(re.sub(r"(.)\1+", r"\1", s))') || vl_fail "$order"
# shard 0 holds the set; every page is published before the next is read
# there (other shards log only PUBLISH)
case $order in *RPRP*) ;; *) vl_fail "pages not published as read: $order" ;; esac

# ---- with an interval too: one message per channel, as the pages come ----
$H register "$VL_TMP/q.json" --label slow.production --procs 1 --conns 2500 --pubsub ||
    vl_fail "register"
: >"$VL_TMP/subq.ready"
$H subscribe "$VL_TMP/subq" "$VL_TMP/q.json" >>"$VL_TMP/subq.ready" &
sub=$!
vl_wait_for grep -q ready "$VL_TMP/subq.ready"
slowlog_all
vl_exit 0 "$V" connections force_reload --interval 1 'slow.*'
vl_eq "sent connection.reload to 2500 connections of 1 label" "$VL_ERR" "staggered summary"
wait "$sub" || vl_fail "subscriber"
$H verify-sub "$VL_TMP/subq" "$VL_TMP/q.json" --type connection.reload >/dev/null ||
    vl_fail "staggered pub/sub reload did not reach every channel exactly once"
order=$(logged | awk '$1 == "ZRANGE" && $2 == "version.slow.production" { printf "R" }
    $1 == "PUBLISH" { printf "P" }' | sed 's/RR*/R/g; s/PP*/P/g')
case $order in *RPRP*) ;; *) vl_fail "staggered pages not sent as read: $order" ;; esac
unset VENUELESS_REDIS_USE_PUBSUB
exit 0
