# The model cache on four Redis shards: each version key lands on the
# shard the reference's function picks for its name without ":version",
# computed here with Python's zlib.crc32.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
V=$VENUELESS
vl_pg_start
vl_redis_start 4
"$V" migrate -v 0 || vl_fail "migrate"
vl_exit 0 "$V" import_config "$TOP_SRCDIR/tests/data/sample-world.json"
vl_exit 0 "$V" create_world --id shard --title Shard --domain ''

names="modelcache:core.World:sample modelcache:core.World:shard"
for id in $(vl_psql -c "select id from core_room where world_id = 'sample'"); do
	names="$names modelcache:core.Room:$id"
done
used=
for name in $names; do
	want=$("$PY" -c 'import sys, zlib; print(int((zlib.crc32(sys.argv[1].encode()) & 0xFFF) / (4096 / 4)))' "$name")
	used="$used $want"
	for s in 0 1 2 3; do
		got=$(vl_redis_cli "$s" GET "$name:version")
		if [ "$s" = "$want" ]; then
			vl_eq 2 "$got" "$name:version on shard $s"
		else
			vl_eq "" "$got" "$name:version not on shard $s"
		fi
	done
done
# The sample's ten keys spread over more than one shard.
[ "$(printf '%s\n' $used | sort -u | wc -l)" -gt 1 ] || vl_fail "all keys on one shard: $used"

# The world's shard down after the commit: exit 11, the database has the change.
ws=$("$PY" -c 'import zlib; print(int((zlib.crc32(b"modelcache:core.World:sample") & 0xFFF) / 1024))')
kill -9 "$(cat "$VL_TMP/redis$ws.pid")"
vl_exit 11 "$V" import_config "$TOP_SRCDIR/tests/data/sample-world.json"
vl_contains "$VL_ERR" "venueless: import_config: committed, but the server cache was not updated"
vl_eq 3 "$(vl_psql -c "select version from core_world where id = 'sample'")"
echo "worlds-shards: ok"
