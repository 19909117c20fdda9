# The live config push: after import_config of an existing world and
# world:save(), {"type": "world.update"} reaches group world.<id> after
# the commit, on either layer and the group's shard (read back by
# tests/connections-helper.py); not for a new world, not with --no-notify.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || vl_skip "python3 not installed"
shards=3
vl_pg_start
vl_redis_start "$shards"
V=$VENUELESS
H="python3 $TOP_SRCDIR/tests/connections-helper.py"
sample=$TOP_SRCDIR/tests/data/sample-world.json
"$V" migrate -v 0 || vl_fail migrate

clear() {
	local i
	for i in $(seq 0 $((shards - 1))); do
		vl_redis_cli "$i" --scan --pattern 'venueless:0:asgi:specific.*' |
		    xargs -r redis-cli -s "$VL_TMP/redis$i.sock" DEL >/dev/null
	done
}
# update: the world.update message each server process of FILE got.
update() {
	python3 - "$1" <<'EOF'
import json, sys
w = json.load(open(sys.argv[1]))
print("\n".join(sorted(json.dumps({"type": "world.update", "__asgi_channel__":
    sorted(c for c in w["channels"] if c.startswith(p))}) for p in w["procs"])))
EOF
}

$H join "$VL_TMP/w.json" --groups world.sample --procs 3 --conns 7 --stale-members 2 || vl_fail join
$H join "$VL_TMP/o.json" --groups world.other --procs 1 --conns 2 || vl_fail join

# A new world has no open browsers: nothing sent.
vl_exit 0 "$V" import_config "$sample"
vl_eq "" "$($H group-messages "$VL_TMP/w.json")" "import creating the world"

# Importing over it: world.update to world.sample only.
vl_exit 0 "$V" import_config "$sample"
vl_eq "$(update "$VL_TMP/w.json")" "$($H group-messages "$VL_TMP/w.json")" "import over it"
vl_eq "" "$($H group-messages "$VL_TMP/o.json")" "other worlds untouched"
clear

# --no-notify: written, not told.
vl_exit 0 "$V" import_config --no-notify "$sample"
vl_contains "$VL_OUT" "World sample updated"
vl_eq "" "$($H group-messages "$VL_TMP/w.json")" "--no-notify"

# world:save() in a script, and inside worlds.transaction: after the commit.
vl_exit 0 "$V" shell -e 'local w = worlds.get("sample"); w.title = "Neu"; w:save()'
vl_eq "$(update "$VL_TMP/w.json")" "$($H group-messages "$VL_TMP/w.json")" "world:save()"
clear
vl_exit 0 "$V" shell -e 'worlds.transaction(function()
  local w = worlds.get("sample"); w.title = "Neuer"; w:save()
  assert(redis.conn(0):call("DBSIZE") >= 0)
  local n = 0
  for i = 0, redis.shards() - 1 do
    for _, k in ipairs(redis.conn(i):call("KEYS", "venueless:0:asgi:specific.*")) do n = n + 1 end
  end
  assert(n == 0, "sent before the commit")
end)'
vl_eq "$(update "$VL_TMP/w.json")" "$($H group-messages "$VL_TMP/w.json")" "worlds.transaction"
clear
# a rolled back save tells nobody
vl_exit 1 "$V" shell -e 'worlds.transaction(function()
  local w = worlds.get("sample"); w.title = "Nie"; w:save(); error("stop")
end)'
vl_eq "" "$($H group-messages "$VL_TMP/w.json")" "rolled back"

# Pub/sub layer: one PUBLISH to P__group__world.sample on its shard.
$H group-subscribe "$VL_TMP/sub.out" 1 world.sample >"$VL_TMP/sub.ready" &
sub=$!
vl_wait_for grep -q ready "$VL_TMP/sub.ready"
VENUELESS_REDIS_USE_PUBSUB=true vl_exit 0 "$V" import_config "$sample"
wait "$sub"
vl_eq '["venueless:0:asgi:__group__world.sample", "81a474797065ac776f726c642e757064617465"]' \
    "$(python3 -c 'import json,sys; m = json.loads(open(sys.argv[1]).read()); print(json.dumps(m[:2]))' "$VL_TMP/sub.out")" \
    "the exact bytes"

# Redis down after the commit: said, exit 11 (the cache update fails first).
VENUELESS_REDIS_URLS="unix://$VL_TMP/none.sock" vl_exit 11 "$V" import_config "$sample"
vl_contains "$VL_OUT" "World sample updated"
echo "world-notify: ok"
