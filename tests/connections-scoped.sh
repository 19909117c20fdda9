# venueless connections list --by world|room and drop|force_reload
# --world|--room|--user: counts from the channel-layer groups the server
# puts each websocket in (expired members dropped, room names from the
# database) and sends to them, on 1 and then 3 Redis shards, read back by
# tests/connections-helper.py (its own RESP client and msgpack decoder).
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || vl_skip "python3 not installed"
command -v redis-cli >/dev/null || vl_skip "redis-cli not installed"
vl_pg_start
vl_redis_start 3
all_urls=$VENUELESS_REDIS_URLS
V=$VENUELESS
H="python3 $TOP_SRCDIR/tests/connections-helper.py"
P=venueless:0:asgi:
"$V" migrate -v 0 || vl_fail migrate
"$V" import_config "$TOP_SRCDIR/tests/data/sample-world.json" >/dev/null || vl_fail import
r1=$(vl_psql -c "SELECT id FROM core_room WHERE world_id = 'sample' ORDER BY sorting_priority, id LIMIT 1")
r1name=$(vl_psql -c "SELECT name FROM core_room WHERE id = '$r1'")
ghost=0d5e7c1a-0000-4000-8000-00000000abcd
user=7f3e9b2c-1111-4222-8333-444455556666

# One count per world or room, whatever the shard count.
pass() {
	local shards=$1 i out
	for i in 0 1 2; do vl_redis_cli "$i" FLUSHALL >/dev/null; done
	$H join "$VL_TMP/a.json" --groups "world.sample,room.$r1" --procs 2 --conns 4 \
	    --stale-members 2 || vl_fail join
	$H join "$VL_TMP/b.json" --groups "world.sample,room.$r1,room.$r1.viewers" \
	    --procs 1 --conns 1 || vl_fail join
	$H join "$VL_TMP/c.json" --groups "world.other,room.$ghost" --procs 1 --conns 3 ||
	    vl_fail join
	$H join "$VL_TMP/u.json" --groups "world.sample,user.$user" --procs 2 --conns 2 ||
	    vl_fail join
	key="${P}:group:world.sample"
	ks=$(python3 -c "import binascii,sys; n=int(sys.argv[2]); print(0 if n == 1 else int((binascii.crc32(sys.argv[1].encode()) & 0xFFF) / (4096 / n)))" \
	    world.sample "$shards")

	# ---- list --by world ----
	vl_exit 0 "$V" connections list --by world --dry-run
	vl_eq 9 "$(vl_redis_cli "$ks" ZCARD "$key")" "--dry-run keeps expired members ($shards)"
	vl_exit 0 "$V" connections list --by world
	vl_eq "world                                               connections
sample                                              7
other                                               3" "$VL_OUT" "list --by world ($shards)"
	vl_eq 7 "$(vl_redis_cli "$ks" ZCARD "$key")" "expired members dropped ($shards)"
	vl_exit 0 "$V" connections list --by world --json
	vl_eq '[{"world":"sample","connections":7},{"world":"other","connections":3}]' "$VL_OUT"

	# ---- list --by room: names from the database ----
	vl_exit 0 "$V" connections list --by room --json
	vl_eq "[{\"room\":\"$r1\",\"name\":\"$r1name\",\"world\":\"sample\",\"connections\":5,\"viewers\":1},{\"room\":\"$ghost\",\"name\":null,\"world\":null,\"connections\":3,\"viewers\":0}]" \
	    "$VL_OUT" "list --by room ($shards)"
	vl_exit 0 "$V" connections list --by room
	vl_contains "$VL_OUT" "$ghost  ?                   (not in the database)"

	# ---- drop --world --dry-run: counted, nothing sent ----
	vl_exit 0 "$V" connections drop --world other --dry-run
	vl_eq "would send connection.drop to 3 connections of world other (1 process key)" "$VL_ERR"
	vl_eq "" "$($H group-messages "$VL_TMP/c.json")" "dry run sent nothing"

	# ---- drop --room: room.<uuid> and .viewers, each socket once ----
	vl_exit 0 "$V" connections drop --room "$r1"
	vl_eq "sent connection.drop to 5 connections of room $r1" "$VL_ERR"
	out=$(python3 - "$VL_TMP/a.json" "$VL_TMP/b.json" <<'EOF'
import json, sys
lines = []
for path in sys.argv[1:]:
    w = json.load(open(path))
    for p in w["procs"]:
        lines.append(json.dumps({"type": "connection.drop", "__asgi_channel__":
            sorted(c for c in w["channels"] if c.startswith(p))}))
print("\n".join(sorted(lines)))
EOF
)
	vl_eq "$out" "$($H group-messages "$VL_TMP/a.json" "$VL_TMP/b.json")" "drop --room ($shards)"
	vl_eq "" "$($H group-messages "$VL_TMP/c.json" "$VL_TMP/u.json")" "other rooms untouched"

	# ---- force_reload --user --interval: one message per socket ----
	vl_exit 0 "$V" connections force_reload --user "$user" --interval 20 --json
	vl_contains "$VL_OUT" '"sent":2'
	vl_contains "$VL_OUT" "\"scope\":\"user $user\""
	out=$(python3 - "$VL_TMP/u.json" <<'EOF'
import json, sys
w = json.load(open(sys.argv[1]))
print("\n".join(sorted(json.dumps({"type": "connection.reload", "__asgi_channel__": [c]})
                       for c in w["channels"])))
EOF
)
	vl_eq "$out" "$($H group-messages "$VL_TMP/u.json")" "force_reload --user ($shards)"
}

VENUELESS_REDIS_URLS=${all_urls%%,*} pass 1
VENUELESS_REDIS_URLS=$all_urls pass 3

# ---- usage and refusals ----
vl_exit 2 "$V" connections drop --world sample --room "$r1"
vl_contains "$VL_ERR" "give one of --world, --room or --user"
vl_exit 2 "$V" connections drop --world sample 'x*'
vl_exit 2 "$V" connections drop --by world
vl_exit 2 "$V" connections list --world sample
vl_exit 2 "$V" connections list --by label
vl_contains "$VL_ERR" "--by: expected world or room, not label"
vl_exit 1 "$V" connections drop --room not-a-uuid
vl_eq "venueless: connections: room: not-a-uuid is not a UUID; nothing sent" "$VL_ERR"
vl_exit 1 "$V" connections drop --world ../x
vl_contains "$VL_ERR" "is not a world id"

# ---- pub/sub layer: server processes, not connections ----
export VENUELESS_REDIS_USE_PUBSUB=true
$H group-subscribe "$VL_TMP/sub.out" 1 world.sample >"$VL_TMP/sub.ready" &
sub=$!
vl_wait_for grep -q ready "$VL_TMP/sub.ready"
vl_exit 0 "$V" connections list --by world
vl_eq "world                                               server processes
sample                                              1" "$VL_OUT" "pubsub counts"
vl_contains "$VL_ERR" "the pub/sub layer keeps no group members"
vl_exit 1 "$V" connections drop --world sample --interval 10
vl_contains "$VL_ERR" "cannot stagger a group"
vl_exit 0 "$V" connections drop --world sample --dry-run
vl_eq "would send connection.drop to world sample: 1 server process subscribed (the pub/sub layer cannot count connections)" "$VL_ERR"
vl_exit 0 "$V" connections drop --world sample
vl_eq "sent connection.drop to world sample: 1 server process reached (the pub/sub layer cannot count connections)" "$VL_ERR"
wait "$sub"
vl_eq '["venueless:0:asgi:__group__world.sample", "81a474797065af636f6e6e656374696f6e2e64726f70"]' \
    "$(python3 -c 'import json,sys; m = json.loads(open(sys.argv[1]).read()); print(json.dumps(m[:2]))' "$VL_TMP/sub.out")" \
    "the exact bytes"
unset VENUELESS_REDIS_USE_PUBSUB

# ---- Redis down: exit 11, nothing sent ----
VENUELESS_REDIS_URLS="unix://$VL_TMP/none.sock" vl_exit 11 "$V" connections drop --world sample
vl_contains "$VL_ERR" "nothing sent"
VENUELESS_REDIS_URLS="unix://$VL_TMP/none.sock" vl_exit 11 "$V" connections list --by world
echo "connections-scoped: ok"
