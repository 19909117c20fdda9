# bbb_update_cost against tests/bbb-fakeserver.py playing BigBlueButton
# servers on loopback: the reference's request line and checksum, urljoin,
# the cost formula; slow, failing, malformed and non-SUCCESS servers each
# reported on one line while the others update; inactive servers never
# contacted; --json, -v, Ctrl-C, a dead database; libcurl and expat not
# loaded at start-up.
. "$(dirname "$0")/lib.sh"
V=$VENUELESS

vl_exit 0 "$V" bbb_update_cost --help
vl_contains "$VL_OUT" "--timeout SECONDS"
vl_exit 2 "$V" bbb_update_cost extra
vl_exit 2 "$V" bbb_update_cost --timeout 0
vl_contains "$VL_ERR" "--timeout: expected a number"
vl_exit 2 "$V" bbb_update_cost --bogus

# Start-up does not load libcurl or expat; the command does.
n=$(LD_DEBUG=libs "$V" shell -e 'return 1' 2>&1 | grep -c -E 'libcurl|libexpat')
vl_eq 0 "$n" "libcurl/expat loaded at start-up"
n=$(LD_DEBUG=libs "$V" shell -e 'require "venueless.http" require "venueless.xml"' 2>&1 |
    grep -c -E 'calling init: .*(libcurl|libexpat)')
[ "$n" -ge 2 ] || vl_fail "venueless.http and venueless.xml did not load libcurl and expat"

# A database that cannot be reached: exit 10.
VENUELESS_DB_HOST=$VL_TMP/nowhere vl_exit 10 "$V" bbb_update_cost
vl_contains "$VL_ERR" "venueless: bbb_update_cost:"

vl_pg_start
"$V" migrate -v 0 || vl_fail migrate

fake=$VL_TMP/fake
mkdir -p "$fake"
python3 "$TOP_SRCDIR/tests/bbb-fakeserver.py" "$fake" & fakepid=$!
trap 'kill $fakepid 2>/dev/null; vl_cleanup' EXIT
vl_wait_for test -s "$fake/port"
B=http://127.0.0.1:$(cat "$fake/port")
dead=http://127.0.0.1:$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')/

# server ID ACTIVE URL SECRET: a core_bbbserver row with cost 7.
server() {
	vl_psql -c "INSERT INTO core_bbbserver (id, active, url, secret, rooms_only, cost)
	    VALUES ('$1', $2, '$3', '$4', false, 7)"
}
u() { printf '%08d-0000-4000-8000-000000000000' "$1"; }
server "$(u 1)" true "$B/bigbluebutton/" s
server "$(u 2)" true "$B/empty/bigbluebutton" SECRET-empty
server "$(u 3)" true "$B/slow/" SECRET-slow1
server "$(u 4)" true "$B/slow/b/" SECRET-slow2
server "$(u 5)" true "$B/err500/" SECRET-500
server "$(u 6)" true "$B/malformed/" SECRET-malformed
server "$(u 7)" true "$B/failed/" SECRET-failed
server "$(u 8)" true "$dead" SECRET-dead
server "$(u 9)" true "bbb.example.org/bigbluebutton/" SECRET-nohttp
server "$(u 10)" false "$B/good/inactive/" SECRET-inactive
cost() { vl_psql -c "SELECT cost FROM core_bbbserver WHERE id = '$(u "$1")'"; }

# The reference's exact request for url .../bigbluebutton/ and secret s;
# a url without a trailing slash loses its last segment (urljoin). But
# /bigbluebutton/ is not /good/: answer the reference's meetings there.
vl_psql -c "UPDATE core_bbbserver SET url = '$B/good/bigbluebutton/' WHERE id = '$(u 1)'"
t0=$(date +%s.%N)
vl_exit 1 "$V" bbb_update_cost --timeout 2
t1=$(date +%s.%N)
sum_empty=$(printf 'getMeetingsSECRET-empty' | sha1sum | cut -d' ' -f1)
req=$(cat "$fake/requests")
vl_contains "$req" "GET /good/bigbluebutton/api/getMeetings?&checksum=bf7c3288722ebfdac8639afd9411acb73ba4beb7 HTTP/1.1"
vl_contains "$req" "GET /empty/api/getMeetings?&checksum=$sum_empty HTTP/1.1"
case $req in *inactive*) vl_fail "an inactive server was contacted: $req" ;; esac
vl_eq 7 "$(grep -c . "$fake/requests")" "requests (active http servers)"

# Both slow servers waited at once: well under two timeouts.
python3 -c "import sys; sys.exit(0 if $t1 - $t0 < 3.5 else 1)" ||
    vl_fail "servers were not queried concurrently: $(echo "$t1 - $t0" | bc) s"

# Costs: the reference's 80, 0 for no meetings; the rest unchanged.
vl_eq 80 "$(cost 1)" "good server's cost"
vl_eq 0 "$(cost 2)" "empty server's cost"
for i in 3 4 5 6 7 8 9 10; do vl_eq 7 "$(cost "$i")" "server $i's cost"; done
vl_eq "" "$VL_OUT" "stdout"

# One line per failed server naming its id and url, then the summary.
line() { echo "$VL_ERR" | grep -F "server $(u "$1") ($2): "; }
vl_contains "$(line 3 "$B/slow/")" "timed out"
vl_contains "$(line 4 "$B/slow/b/")" "timed out"
vl_contains "$(line 5 "$B/err500/")" ": HTTP status 500"
vl_contains "$(line 6 "$B/malformed/")" ": malformed XML: line "
vl_contains "$(line 7 "$B/failed/")" ': returncode "FAILED": You did not pass the checksum'
vl_contains "$(line 8 "$dead")" "onnect"
vl_contains "$(line 9 bbb.example.org/bigbluebutton/)" ": not an http(s) URL"
vl_eq "venueless: bbb_update_cost: 7 of 9 servers failed; the others were updated" \
    "$(echo "$VL_ERR" | tail -1)"
vl_eq 8 "$(echo "$VL_ERR" | grep -c '^venueless: bbb_update_cost: ')" "one line each"
case $VL_ERR in *SECRET-*) vl_fail "a secret was printed: $VL_ERR" ;; esac

# --json: one line with every server, exit 1 all the same.
vl_psql -c "UPDATE core_bbbserver SET active = false WHERE id IN ('$(u 3)', '$(u 4)')"
vl_psql -c "UPDATE core_bbbserver SET cost = 7"
vl_exit 1 "$V" bbb_update_cost --json
vl_eq 1 "$(echo "$VL_OUT" | wc -l)" "--json lines"
echo "$VL_OUT" | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert (d["updated"], d["failed"]) == (2, 5), d
s = {x["id"][:8]: x for x in d["servers"]}
assert len(s) == 7, s
good = s["00000001"]
assert good == {"id": good["id"], "url": good["url"], "ok": True, "cost": 80,
    "previous": 7, "meetings": 2, "error": None, "code": None}, good
assert s["00000002"]["cost"] == 0 and s["00000002"]["meetings"] == 0
assert s["00000005"]["code"] == "http" and not s["00000005"]["ok"]
assert s["00000006"]["code"] == "invalid" and s["00000007"]["code"] == "failed"
assert s["00000008"]["code"] == "transport" and s["00000009"]["code"] == "invalid"
assert all(x["cost"] is None for k, x in s.items() if k > "00000004")
' || vl_fail "--json: $VL_OUT"
vl_eq 80 "$(cost 1)" "cost after --json"

# Only good servers: silent and exit 0; -v lists each.
vl_psql -c "UPDATE core_bbbserver SET active = id IN ('$(u 1)', '$(u 2)'), cost = 7"
vl_exit 0 "$V" bbb_update_cost
vl_eq "" "$VL_OUT$VL_ERR" "output on success"
vl_eq 80 "$(cost 1)"
vl_exit 0 "$V" -v bbb_update_cost
vl_contains "$VL_OUT" "$(u 1)  $B/good/bigbluebutton/  cost 80 (2 meetings)"
vl_contains "$VL_OUT" "$(u 2)  $B/empty/bigbluebutton  cost 0 (0 meetings)"

# The Lua function returns the same results.
# (ordered by url: /empty/ before /good/)
out=$("$V" shell -e 'local r = bbb.update_cost{ timeout = 5 } return #r, r[2].id, r[2].cost, r[2].previous, r[1].meetings')
vl_eq "2	$(u 1)	80	80	0" "$out" "bbb.update_cost"

# No active server: nothing to do.
vl_psql -c "UPDATE core_bbbserver SET active = false"
vl_exit 0 "$V" bbb_update_cost
vl_eq "" "$VL_OUT$VL_ERR"

# Ctrl-C while a server hangs: exit 130 at once, nothing written.
vl_psql -c "UPDATE core_bbbserver SET active = true, cost = 7 WHERE id IN ('$(u 1)', '$(u 3)')"
: >"$fake/requests"
"$V" bbb_update_cost --timeout 60 >"$VL_TMP/out" 2>"$VL_TMP/err" & pid=$!
vl_wait_for grep -q /slow/ "$fake/requests"
kill -INT "$pid"
t0=$(date +%s)
wait "$pid"
vl_exited $? 130 "bbb_update_cost interrupted"
[ $(($(date +%s) - t0)) -le 3 ] || vl_fail "Ctrl-C took more than 3 s"
vl_contains "$VL_ERR" "venueless: bbb_update_cost: interrupted"
vl_eq 7 "$(cost 1)" "cost after Ctrl-C"
echo "bbb_update_cost: ok"
