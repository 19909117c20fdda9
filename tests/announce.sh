# venueless announce: core_announcement rows as the server's admin UI
# writes them, and announcement.created_or_updated pushed to group
# world.<id> when visible before or after the change, read back by
# tests/connections-helper.py (its own RESP client and msgpack decoder).
# CONN_SHARDS (default 1) sets the number of Redis servers.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || vl_skip "python3 not installed"
command -v psql >/dev/null || vl_skip "psql not installed"
shards=${CONN_SHARDS:-3}
vl_pg_start
vl_redis_start "$shards"
V=$VENUELESS
H="python3 $TOP_SRCDIR/tests/connections-helper.py"
"$V" migrate -v 0 || vl_fail migrate
"$V" import_config "$TOP_SRCDIR/tests/data/sample-world.json" >/dev/null || vl_fail import
$H join "$VL_TMP/w.json" --groups world.sample --procs 2 --conns 5 --stale-members 2 ||
    vl_fail join

# clear: delete every process key of the joined websockets.
clear() {
	local i
	for i in $(seq 0 $((shards - 1))); do
		vl_redis_cli "$i" --scan --pattern 'venueless:0:asgi:specific.*' |
		    xargs -r redis-cli -s "$VL_TMP/redis$i.sock" DEL >/dev/null
	done
}
# isoformat ID COLUMN: Python's isoformat of the stored UTC time.
isoformat() {
	python3 -c 'import sys, datetime; print(datetime.datetime.fromtimestamp(float(sys.argv[1]), datetime.timezone.utc).isoformat())' \
	    "$(vl_psql -c "SELECT extract(epoch FROM $2) FROM core_announcement WHERE id = '$1'")"
}
# expect ID TEXT SHOW_UNTIL_JSON STATE: the message each server process got.
expect() {
	python3 - "$VL_TMP/w.json" "$@" <<'EOF'
import json, sys
w = json.load(open(sys.argv[1]))
a = {"id": sys.argv[2], "text": sys.argv[3], "show_until": json.loads(sys.argv[4]),
     "state": sys.argv[5]}
out = []
for p in w["procs"]:
    chans = sorted(c for c in w["channels"] if c.startswith(p))
    out.append(json.dumps({"type": "announcement.created_or_updated", "announcement": a,
                           "__asgi_channel__": chans}))
print("\n".join(sorted(out)))
EOF
}

# ---- usage ----
vl_exit 0 "$V" announce --help
vl_contains "$VL_OUT" "usage: venueless announce"
vl_contains "$VL_OUT" "--show-until-hidden"
vl_exit 2 "$V" announce sample
vl_contains "$VL_ERR" "venueless: announce: expected WORLD_ID and TEXT"
vl_exit 2 "$V" announce sample "hello"
vl_contains "$VL_ERR" "give either --until TIME or --show-until-hidden"
vl_exit 2 "$V" announce sample "hello" --until 5m --show-until-hidden
vl_exit 2 "$V" announce --list sample --until 5m
vl_exit 2 "$V" announce --list sample --deactivate x
vl_exit 2 "$V" announce --bogus sample hi
vl_exit 2 "$V" announce sample hi there --show-until-hidden

# ---- refusals: one line, nothing written, nothing sent ----
vl_exit 1 "$V" announce nosuch "hello" --show-until-hidden
vl_eq "venueless: announce: world nosuch does not exist" "$VL_ERR"
vl_exit 1 "$V" announce --list nosuch
vl_eq "venueless: announce: world nosuch does not exist" "$VL_ERR"
vl_exit 1 "$V" announce sample "hello" --until 2001-01-01T00:00:00Z
vl_eq "venueless: announce: show_until: 2001-01-01T00:00:00Z is not in the future" "$VL_ERR"
vl_exit 1 "$V" announce sample "hello" --until soonish
vl_contains "$VL_ERR" "venueless: announce: show_until: soonish: "
vl_exit 1 "$V" announce sample "  " --show-until-hidden
vl_eq "venueless: announce: text is empty" "$VL_ERR"
vl_eq 0 "$(vl_psql -c 'SELECT count(*) FROM core_announcement')" "refusals wrote nothing"
vl_eq "" "$($H group-messages "$VL_TMP/w.json")" "refusals sent nothing"

# ---- --until 15m: an active row, pushed to every server process once ----
vl_exit 0 "$V" announce sample "Pause in 10 minutes" --until 15m
id=$(vl_psql -c "SELECT id FROM core_announcement")
vl_eq "$(vl_psql -c "SELECT world_id, text, state,
    show_until BETWEEN now() + interval '14 min' AND now() + interval '16 min',
    \"timestamp\" BETWEEN now() - interval '1 min' AND now()
    FROM core_announcement")" "sample|Pause in 10 minutes|active|t|t" "the row"
until=$(isoformat "$id" show_until)
vl_eq "Announcement $id shown in world sample until $until" "$VL_OUT"
vl_eq "pushed to 5 connections" "$VL_ERR"
vl_eq "$(expect "$id" "Pause in 10 minutes" "\"$until\"" active)" \
    "$($H group-messages "$VL_TMP/w.json")" "the push"

# ---- --show-until-hidden: show_until NULL, null in the push ----
clear
vl_exit 0 "$V" announce --json sample "Wir sind gleich zurück" --show-until-hidden
id2=$(vl_psql -c "SELECT id FROM core_announcement WHERE show_until IS NULL")
ts=$(isoformat "$id2" '"timestamp"')
vl_eq "{\"id\":\"$id2\",\"world_id\":\"sample\",\"text\":\"Wir sind gleich zurück\",\"show_until\":null,\"timestamp\":\"$ts\",\"state\":\"active\",\"visible\":true}" \
    "$VL_OUT" "--json"
vl_eq "$(expect "$id2" "Wir sind gleich zurück" null active)" \
    "$($H group-messages "$VL_TMP/w.json")" "the push of a hidden-only one"

# ---- --list ----
vl_exit 0 "$V" announce --list sample
vl_eq 2 "$(printf '%s\n' "$VL_OUT" | wc -l)" "two lines"
vl_contains "$VL_OUT" "$id  active    shown    until $until  Pause in 10 minutes"
vl_contains "$VL_OUT" "$id2  active    shown    until hidden"
vl_exit 0 "$V" announce --list --json sample
vl_eq 2 "$(printf '%s' "$VL_OUT" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')"

# ---- --deactivate: archived, pushed while it was shown ----
clear
vl_exit 0 "$V" announce --deactivate "$id"
vl_eq "Announcement $id archived" "$VL_OUT"
vl_eq "archived" "$(vl_psql -c "SELECT state FROM core_announcement WHERE id = '$id'")"
vl_eq "$(expect "$id" "Pause in 10 minutes" "\"$until\"" archived)" \
    "$($H group-messages "$VL_TMP/w.json")" "the push of the archive"
vl_exit 1 "$V" announce --deactivate "$id"
vl_eq "venueless: announce: announcement $id is archived, not active: only an active one is archived" "$VL_ERR"
vl_exit 1 "$V" announce --deactivate 6b1c7e7e-0000-4000-8000-000000000000
vl_eq "venueless: announce: announcement 6b1c7e7e-0000-4000-8000-000000000000 does not exist" "$VL_ERR"
vl_exit 1 "$V" announce --deactivate "x'; DROP TABLE core_announcement; --"
vl_contains "$VL_ERR" "is not an announcement id (a UUID)"
# a draft cannot be archived (draft -> active -> archived)
vl_psql -c "INSERT INTO core_announcement VALUES ('1b1c7e7e-0000-4000-8000-000000000001',
    'draft', NULL, now(), 'sample', 'draft')"
vl_exit 1 "$V" announce --deactivate 1b1c7e7e-0000-4000-8000-000000000001
vl_contains "$VL_ERR" "is draft, not active"

# ---- an expired one is archived without a push (nobody shows it) ----
vl_psql -c "INSERT INTO core_announcement VALUES ('2b1c7e7e-0000-4000-8000-000000000002',
    'old', now() - interval '1 hour', now() - interval '2 hours', 'sample', 'active')"
clear
vl_exit 0 "$V" announce --deactivate 2B1C7E7E-0000-4000-8000-000000000002
vl_eq "not pushed: not shown before or after" "$VL_ERR"
vl_eq "" "$($H group-messages "$VL_TMP/w.json")" "no push for an expired one"
vl_exit 0 "$V" announce --list sample
vl_contains "$VL_OUT" "2b1c7e7e-0000-4000-8000-000000000002  archived  -        until "

# ---- pub/sub layer: PUBLISH to P__group__world.sample ----
$H group-subscribe "$VL_TMP/sub.out" 1 world.sample >"$VL_TMP/sub.ready" &
sub=$!
vl_wait_for grep -q ready "$VL_TMP/sub.ready"
VENUELESS_REDIS_USE_PUBSUB=true vl_exit 0 "$V" announce sample "on pubsub" --show-until-hidden
vl_eq "pushed to 1 server process (pub/sub layer)" "$VL_ERR"
wait "$sub"
id3=$(vl_psql -c "SELECT id FROM core_announcement WHERE text = 'on pubsub'")
vl_eq "[\"venueless:0:asgi:__group__world.sample\", {\"type\": \"announcement.created_or_updated\", \"announcement\": {\"id\": \"$id3\", \"text\": \"on pubsub\", \"show_until\": null, \"state\": \"active\"}}]" \
    "$(python3 -c 'import json,sys; m = json.loads(open(sys.argv[1]).read()); print(json.dumps([m[0], m[2]]))' "$VL_TMP/sub.out")" "pub/sub message"

# ---- Redis down: the row is committed and said so, exit 11 ----
VENUELESS_REDIS_URLS="unix://$VL_TMP/none.sock" vl_exit 11 "$V" announce sample "no redis" --show-until-hidden
vl_contains "$VL_OUT" "Announcement "
vl_contains "$VL_ERR" "venueless: announce: committed, but open browsers were not told: "
vl_eq 1 "$(vl_psql -c "SELECT count(*) FROM core_announcement WHERE text = 'no redis'")"
# PostgreSQL down: exit 10
VENUELESS_DB_HOST=$VL_TMP/nopg vl_exit 10 "$V" announce --list sample
echo "announce: ok"
