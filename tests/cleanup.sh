#!/bin/sh
# venueless cleanup: the reference's verified cases (views closed after
# 6 h / 24 h, untracked views deleted, tokens and invites 90 days after
# expiry, roulette requests, expired stored files with their files,
# sessions), --dry-run, silence, the lock, the DigitalSamba note, and
# kill -9 at 50 random moments of a run over a large database (tens of
# thousands of views, sessions, tokens and invites): either nothing
# changed or everything did, and a good share of the kills landed inside
# the transaction after it had written (a probe reads pg_stat_activity
# just before each kill).
. "$(dirname "$0")/lib.sh"
vl_pg_start
vl_redis_start
PATH="$(vl_pg_bindir):$PATH"
V=$VENUELESS
export VENUELESS_DATA_DIR="$VL_TMP/data"
unset VENUELESS_DIGITALSAMBA_TEAM
vl_exit 0 "$V" migrate
for w in cw nt; do
	vl_psql -v w=$w -v n=4 -v e=5 -f "$TOP_SRCDIR/tests/data/retention-world.sql" >/dev/null ||
	    vl_fail "generating world $w"
done
vl_psql -c "update core_world set config = '{\"track_room_views\": false, \"track_world_views\": false}' where id = 'nt'" >/dev/null
# The generated views are open for 400 days: leave only ours.
vl_psql -c "delete from core_roomview" -c "delete from core_worldview" >/dev/null
R=$(vl_psql -c "select md5('cw/r/1')::uuid")
RN=$(vl_psql -c "select md5('nt/r/1')::uuid")
U=$(vl_psql -c "select md5('cw/u/1')::uuid")
UN=$(vl_psql -c "select md5('nt/u/1')::uuid")
rv() {	# rv ROOM USER HOURS_AGO END -> id
	vl_psql -c "insert into core_roomview (start, \"end\", room_id, user_id)
	    values (now() - interval '$3 hours', $4, '$1', '$2') returning id" | head -1
}
wv() {	# wv WORLD USER HOURS_AGO END -> id
	vl_psql -c "insert into core_worldview (start, \"end\", user_id, world_id)
	    values (now() - interval '$3 hours', $4, '$2', '$1') returning id" | head -1
}
RV7=$(rv "$R" "$U" 7 NULL)
RV5=$(rv "$R" "$U" 5 NULL)
RVC=$(rv "$R" "$U" 2 "now()")
RVN=$(rv "$RN" "$UN" 2 "now()")
RVN7=$(rv "$RN" "$UN" 7 NULL)
RVN5=$(rv "$RN" "$UN" 5 NULL)
WV25=$(wv cw "$U" 25 NULL)
WV23=$(wv cw "$U" 23 NULL)
WVN=$(wv nt "$UN" 2 "now()")
WVN23=$(wv nt "$UN" 23 NULL)
vl_psql -c "insert into core_shorttoken (expires, short_token, long_token, world_id) values
    (now() - interval '91 days', 'old', 'jwt', 'cw'), (now() - interval '89 days', 'young', 'jwt', 'cw')" \
    -c "insert into core_anonymousinvite (short_token, expires, room_id, world_id) values
    ('iold', now() - interval '91 days', '$R', 'cw'), ('iyoung', now() - interval '89 days', '$R', 'cw')" \
    -c "insert into core_rouletterequest (id, socket_id, expiry, room_id, user_id) values
    (md5('rr-old')::uuid, md5('s1')::uuid, now() - interval '61 minutes', '$R', '$U'),
    (md5('rr-new')::uuid, md5('s2')::uuid, now() - interval '30 minutes', '$R', '$U')" \
    -c "insert into storage_storedfile (id, expires, date, filename, type, file, public, user_id, world_id)
    values (md5('f-old')::uuid, now() - interval '1 minute', now(), 'a.png', 'image/png', 'pub/cw/old.png', true, '$U', 'cw'),
    (md5('f-new')::uuid, now() + interval '1 day', now(), 'b.png', 'image/png', 'pub/cw/new.png', true, '$U', 'cw')" \
    -c "insert into django_session values ('old', 'x', now() - interval '1 second'), ('new', 'x', now() + interval '1 day')" >/dev/null
mkdir -p "$VENUELESS_DATA_DIR/media/pub/cw"
touch "$VENUELESS_DATA_DIR/media/pub/cw/old.png" "$VENUELESS_DATA_DIR/media/pub/cw/new.png"

# Every table's count and content hash.
snap() {
	vl_psql -d "${1:-venueless}" -c "select string_agg(format('%s:%s', tablename,
	    (xpath('/row/c/text()', query_to_xml(format('select count(*) || md5(coalesce(string_agg(t::text, '','' order by t::text), '''')) as c from %I t', tablename), false, true, '')))[1]::text), ' ' order by tablename)
	    from pg_tables where schemaname = 'public'"
}
S0=$(snap)

vl_exit 2 "$V" cleanup extra
vl_exit 0 "$V" cleanup --help
vl_contains "$VL_OUT" "usage: venueless cleanup [options]"

# dry run: the counts, nothing written, no file removed
vl_exit 0 "$V" cleanup --dry-run --json
J=$VL_OUT
vl_eq "$S0" "$(snap)" "a dry run writes nothing"
[ -e "$VENUELESS_DATA_DIR/media/pub/cw/old.png" ] || vl_fail "a dry run removed a file"
n() { printf '%s' "$J" | python3 -c "import json,sys; d=json.load(sys.stdin); print(*[r['count'] for r in d['rows'] if r['table']=='$1' and r['action']=='$2'])"; }
vl_eq "true" "$(printf '%s' "$J" | python3 -c "import json,sys; print(str(json.load(sys.stdin)['dry_run']).lower())")"
vl_eq "2 2" "$(n core_roomview update) $(n core_roomview delete)" "dry run: room views"
vl_eq "1 1" "$(n core_worldview update) $(n core_worldview delete)" "dry run: world views"
vl_eq "1 1 1 1 1" "$(n core_rouletterequest delete) $(n storage_storedfile delete) $(n core_shorttoken delete) $(n core_anonymousinvite delete) $(n django_session delete)"
vl_contains "$J" '"file":"pub/cw/old.png","state":"dry_run"'

# the run: silent, exit 0
vl_exit 0 "$V" cleanup
vl_eq "" "$VL_OUT" "cleanup is silent on stdout"
vl_eq "" "$VL_ERR" "cleanup is silent on stderr"
q() { vl_psql -c "$1"; }
vl_eq "01:00:00" "$(q "select \"end\" - start from core_roomview where id = $RV7")" "room view open 7 h"
vl_eq "" "$(q "select \"end\" from core_roomview where id = $RV5")" "room view open 5 h left open"
vl_eq "1" "$(q "select count(*) from core_roomview where id = $RVC")" "closed view of a tracking world kept"
vl_eq "0" "$(q "select count(*) from core_roomview where id in ($RVN, $RVN7)")" "untracked closed room views deleted"
vl_eq "1" "$(q "select count(*) from core_roomview where id = $RVN5 and \"end\" is null")" "untracked open view kept"
vl_eq "04:00:00" "$(q "select \"end\" - start from core_worldview where id = $WV25")" "world view open 25 h"
vl_eq "" "$(q "select \"end\" from core_worldview where id = $WV23")" "world view open 23 h left open"
vl_eq "0 1" "$(q "select count(*) filter (where id = $WVN) || ' ' || count(*) filter (where id = $WVN23) from core_worldview")" "untracked world views"
vl_eq "young" "$(q "select string_agg(short_token, ',') from core_shorttoken where short_token in ('old', 'young')")"
vl_eq "iyoung" "$(q "select string_agg(short_token, ',') from core_anonymousinvite")"
vl_eq "1" "$(q "select count(*) from core_rouletterequest where id = md5('rr-new')::uuid")"
vl_eq "0" "$(q "select count(*) from core_rouletterequest where id = md5('rr-old')::uuid")"
vl_eq "pub/cw/new.png" "$(q "select string_agg(file, ',') from storage_storedfile where expires is not null")"
[ ! -e "$VENUELESS_DATA_DIR/media/pub/cw/old.png" ] || vl_fail "the expired file is still on disk"
[ -e "$VENUELESS_DATA_DIR/media/pub/cw/new.png" ] || vl_fail "the kept file was removed"
vl_eq "new" "$(q "select string_agg(session_key, ',') from django_session")"

# a second run finds nothing; -v says so
vl_exit 0 "$V" -v cleanup
vl_contains "$VL_OUT" "cleanup: committed in "
vl_contains "$VL_OUT" "core_roomview                      0 updated"
vl_contains "$VL_OUT" "django_session                     0 deleted"

# DigitalSamba: a note on stderr, exit 0
VENUELESS_DIGITALSAMBA_TEAM=team vl_exit 0 "$V" cleanup
vl_eq "" "$VL_OUT"
vl_contains "$VL_ERR" "venueless: cleanup: VENUELESS_DIGITALSAMBA_TEAM is set, but the DigitalSamba cleanup"

# the lock: held by another session, a run waits --lock-timeout, then exit 4 naming it
PGAPPNAME=holder psql -X -q -c "select pg_advisory_lock(6218419180350295637), pg_sleep(120)" >/dev/null 2>&1 &
locker=$!
vl_wait_for sh -c "[ \$(psql -X -At -c \"select count(*) from pg_locks where locktype = 'advisory' and granted and objid = 1161907797\") = 1 ]"
HPID=$(vl_psql -c "select pid from pg_stat_activity where application_name = 'holder'")
vl_exit 4 "$V" cleanup --lock-timeout 0.3
vl_contains "$VL_ERR" "venueless: cleanup: another cleanup holds the lock: pid $HPID (holder)"
vl_exit 4 "$V" cleanup --lock-timeout 0
vl_contains "$VL_ERR" "pid $HPID (holder)"
vl_exit 0 "$V" cleanup --dry-run	# a dry run does not lock
vl_psql -c "select pg_terminate_backend($HPID)" >/dev/null
wait "$locker" 2>/dev/null
vl_exit 0 "$V" cleanup --lock-timeout 0

# kill -9 at random moments on a big database
vl_psql -c "insert into core_roomview (start, \"end\", room_id, user_id)
    select now() - interval '7 hours', case when i % 2 = 0 then now() end,
      case when i % 3 = 0 then '$RN'::uuid else '$R'::uuid end, '$U' from generate_series(1, 40000) i" \
    -c "insert into core_worldview (start, \"end\", user_id, world_id)
    select now() - interval '25 hours', null, '$U', case when i % 2 = 0 then 'nt' else 'cw' end
      from generate_series(1, 20000) i" \
    -c "insert into django_session select 's' || i, 'x', now() - interval '1 day' from generate_series(1, 20000) i" \
    -c "insert into core_shorttoken (expires, short_token, long_token, world_id)
    select now() - interval '91 days', 'k' || i, 'jwt', 'cw' from generate_series(1, 10000) i" \
    -c "insert into core_anonymousinvite (short_token, expires, room_id, world_id)
    select 'a' || i, now() - interval '91 days', '$R', 'cw' from generate_series(1, 10000) i" \
    -c "analyze" >/dev/null
gone() {
	vl_wait_for sh -c "[ \$(psql -X -At -c \"select count(*) from pg_stat_activity where application_name like 'venueless%'\") = 0 ]"
}
vl_psql -d postgres -c "create database base template venueless" >/dev/null
fresh() {
	gone
	vl_psql -d postgres -c "drop database venueless with (force)" -c "create database venueless template base strategy file_copy" >/dev/null
}
S0=$(snap)
ms() { echo $(($(date +%s%N) / 1000000)); }
t=$(ms)
vl_exit 0 "$V" cleanup
T=$(($(ms) - t))
S1=$(snap)
echo "whole run: $T ms"
[ "$S1" != "$S0" ] || vl_fail "the big cleanup changed nothing"
# The run's session just before the kill: -1 none (not connected yet, or
# gone), 0 idle, 1 in a transaction, 2 in a transaction that wrote. The
# server notices the lost client within 20 ms and ends the statement (or
# COMMIT) there, rather than finishing it and rolling back at the end.
vl_probe_start
vl_psql -c "alter role venueless set client_connection_check_interval = 20" >/dev/null
NONE=0 ALL=0 INSIDE=0
span=$((T * 15 / 10 + 1))	# a kill in the COMMIT ends it too
for i in $(seq 1 50); do
	fresh
	delay=$(awk -v r="$(od -An -N2 -tu2 /dev/urandom)" -v s="$span" 'BEGIN { printf "%.3f", r % s / 1000 }')
	"$V" cleanup >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	vl_probe "select coalesce(max(case when backend_xid is not null then 2
	    when xact_start is not null then 1 else 0 end), -1)
	    from pg_stat_activity where application_name = 'venueless cleanup'"
	case "$VL_PROBED" in -1|0|1|2) ;; *) vl_fail "probe: $VL_PROBED" ;; esac
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	gone
	s=$(snap)
	if [ "$s" = "$S0" ]; then
		NONE=$((NONE + 1))
		[ "$VL_PROBED" != 2 ] || INSIDE=$((INSIDE + 1))
	elif [ "$s" = "$S1" ]; then ALL=$((ALL + 1))
	else
		echo "$s" | tr ' ' '\n' >"$VL_TMP/s"; echo "$S1" | tr ' ' '\n' >"$VL_TMP/s1"
		diff "$VL_TMP/s" "$VL_TMP/s1"
		vl_fail "killed after $delay s: half done"
	fi
done
echo "50 kills: $NONE times nothing ($INSIDE of them inside the transaction after it wrote), $ALL times everything"
[ "$NONE" -gt 0 ] && [ "$ALL" -gt 0 ] || vl_fail "the kills missed one of the outcomes"
[ "$INSIDE" -ge 10 ] || vl_fail "only $INSIDE of 50 kills landed inside the transaction (want 10)"
echo "cleanup: ok"
