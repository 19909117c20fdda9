#!/bin/sh
# kill -9 at 50 random moments of clear_world_data and soft_delete_user on
# a large world (500 users, 20,000 chat events: the user soft-deleted is
# the last member of a DM channel of 10,000 of them, which goes with it),
# and at chosen ones (inside the statement, in COMMIT, held by
# advisory-lock triggers as in tests/import_config.sh): every time the
# database is either as before or as after a whole run, never in between.
# Just before each kill a probe reads pg_stat_activity: a good share of
# the kills must land after the command's transaction had written rows
# (it had an xid) and still change nothing.
. "$(dirname "$0")/lib.sh"
vl_pg_start
vl_redis_start
# the server's own psql, not the wrapper script that finds it on each call
PATH="$(vl_pg_bindir):$PATH"
V=$VENUELESS
export VENUELESS_DATA_DIR="$VL_TMP/data"
vl_exit 0 "$V" migrate
vl_psql -v w=big -v n=500 -v e=10000 -f "$TOP_SRCDIR/tests/data/retention-world.sql" ||
    vl_fail "generating the world"
U1=$(vl_psql -c "select md5('big/u/1')::uuid")
# DM channel 1 (user 1 its last live member): 10,000 more events, with
# reactions and notifications, that soft_delete_user deletes with it.
vl_psql -c "insert into core_chatevent (id, \"timestamp\", event_type, content, channel_id,
      sender_id, edited, replaces_id)
    select m.b + i, now() - interval '1 day', 'channel.message',
      jsonb_build_object('type', 'text', 'body', 'dm ' || i), md5('big/dm/1')::uuid,
      md5('big/u/' || (i % 2 + 1))::uuid, null, null
    from (select max(id) b from core_chatevent) m, generate_series(1, 10000) i" \
    -c "insert into core_chateventreaction (reaction, chat_event_id, sender_id)
    select '+1', id, md5('big/u/1')::uuid from core_chatevent
    where channel_id = md5('big/dm/1')::uuid and id % 2 = 0" \
    -c "insert into core_chateventnotification (chat_event_id, recipient_id)
    select id, md5('big/u/2')::uuid from core_chatevent
    where channel_id = md5('big/dm/1')::uuid and id % 3 = 0" \
    -c "analyze" >/dev/null || vl_fail "generating the DM channel"

# Every table's count and content hash.
snap() {
	vl_psql -d "${1:-venueless}" -c "select string_agg(format('%s:%s', tablename,
	    (xpath('/row/c/text()', query_to_xml(format('select count(*) || md5(coalesce(string_agg(t::text, '','' order by t::text), '''')) as c from %I t', tablename), false, true, '')))[1]::text), ' ' order by tablename)
	    from pg_tables where schemaname = 'public'"
}
gone() {
	vl_wait_for sh -c "[ \$(psql -X -At -c \"select count(*) from pg_stat_activity where application_name like 'venueless%'\") = 0 ]"
}
# The database as generated, kept as a template to start each run from.
vl_psql -d postgres -c "create database base template venueless"
fresh() {
	gone
	vl_psql -d postgres -c "drop database venueless with (force)" -c "create database venueless template base strategy file_copy"
}
S0=$(snap)

# The state after a whole run of each command, and how long each takes
# (ms, the range of the random moments).
ms() { echo $(($(date +%s%N) / 1000000)); }
t=$(ms)
vl_exit 0 "$V" clear_world_data --yes big
T_clear=$(($(ms) - t))
S_CLEAR=$(snap)
fresh
t=$(ms)
vl_exit 0 "$V" soft_delete_user "$U1"
T_soft=$(($(ms) - t))
S_SOFT=$(snap)
echo "whole runs: clear_world_data $T_clear ms, soft_delete_user $T_soft ms"
[ "$S_SOFT" != "$S0" ] && [ "$S_CLEAR" != "$S0" ] || vl_fail "the commands changed nothing"

# check WANT DELAY PHASE: the database is as before or as after a whole
# run (WANT); PHASE (the probe's, below) 2 and nothing changed: the kill
# landed inside the transaction after it had written.
check() {
	local s
	gone
	s=$(snap)
	if [ "$s" = "$S0" ]; then
		NONE=$((NONE + 1))
		[ "$3" != 2 ] || INSIDE=$((INSIDE + 1))
		return
	fi
	[ "$s" = "$1" ] && { ALL=$((ALL + 1)); return; }
	vl_fail "killed after $2 s (phase $3): half done"
}

# The command's session just before the kill: -1 none (not connected yet,
# or gone), 0 idle, 1 in a transaction, 2 in a transaction that wrote.
vl_probe_start
phase() {
	vl_probe "select coalesce(max(case when backend_xid is not null then 2
	    when xact_start is not null then 1 else 0 end), -1)
	    from pg_stat_activity where application_name = 'venueless $1'"
	case "$VL_PROBED" in -1|0|1|2) ;; *) vl_fail "probe: $VL_PROBED" ;; esac
}

# Random moments: a delay from 0 to 1.5 times a whole run (a kill in the
# COMMIT ends it too: "everything" needs one after the whole run), then kill -9.
# The server notices the lost client within 20 ms and ends the statement
# (or COMMIT) there, rather than finishing it and rolling back at the end:
# the kill lands in the statement's middle on the server too, and the next
# run need not wait for the dead one.
vl_psql -c "alter role venueless set client_connection_check_interval = 20" >/dev/null
for cmd in clear soft; do
	NONE=0 ALL=0 INSIDE=0
	eval "span=\$((T_$cmd * 15 / 10 + 1))"
	for i in $(seq 1 50); do
		fresh
		delay=$(awk -v r="$(od -An -N2 -tu2 /dev/urandom)" -v s="$span" 'BEGIN { printf "%.3f", r % s / 1000 }')
		if [ "$cmd" = clear ]; then
			"$V" clear_world_data --yes big >/dev/null 2>&1 &
			want=$S_CLEAR name=clear_world_data
		else
			"$V" soft_delete_user "$U1" >/dev/null 2>&1 &
			want=$S_SOFT name=soft_delete_user
		fi
		pid=$!
		sleep "$delay"
		phase $name
		kill -9 "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		check "$want" "$delay" "$VL_PROBED"
	done
	echo "$cmd: 50 kills: $NONE times nothing ($INSIDE of them inside the transaction after it wrote), $ALL times everything"
	[ "$NONE" -gt 0 ] && [ "$ALL" -gt 0 ] || vl_fail "$cmd: the kills missed one of the outcomes"
	[ "$INSIDE" -ge 10 ] || vl_fail "$cmd: only $INSIDE of 50 kills landed inside the transaction (want 10)"
done
# (below, a COMMIT held by a lock must go on after its client is killed)
vl_psql -c "alter role venueless reset client_connection_check_interval" >/dev/null

# Chosen moments: inside the statement (a row trigger waits on advisory
# lock 4242) and in COMMIT (a deferred constraint trigger on 4243).
vl_psql -d base -c "CREATE FUNCTION vl_pause_row() RETURNS trigger LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM pg_advisory_lock_shared(4242); PERFORM pg_advisory_unlock_shared(4242); RETURN OLD; END \$\$" \
  -c "CREATE FUNCTION vl_pause_commit() RETURNS trigger LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM pg_advisory_lock_shared(4243); PERFORM pg_advisory_unlock_shared(4243); RETURN NULL; END \$\$" \
  -c "CREATE TRIGGER vl_pause_mid BEFORE DELETE ON core_roomgrant FOR EACH ROW EXECUTE FUNCTION vl_pause_row()" \
  -c "CREATE CONSTRAINT TRIGGER vl_pause_end AFTER UPDATE OR DELETE ON core_user
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION vl_pause_commit()"
S0=$(snap base)
for at in 4242 4243; do
	for cmd in clear_world_data soft_delete_user; do
		fresh
		psql -X -q -c "select pg_advisory_lock($at), pg_sleep(120)" >/dev/null 2>&1 &
		locker=$!
		vl_wait_for sh -c "[ \$(psql -X -At -c \"select count(*) from pg_locks where locktype = 'advisory' and objid = $at and granted\") = 1 ]"
		if [ $cmd = clear_world_data ]; then
			"$V" clear_world_data --yes big >/dev/null 2>&1 &
		else
			"$V" soft_delete_user "$U1" >/dev/null 2>&1 &
		fi
		pid=$!
		vl_wait_for sh -c "[ \$(psql -X -At -c \"select count(*) from pg_stat_activity where application_name = 'venueless $cmd' and wait_event_type = 'Lock'\") = 1 ]"
		q=$(vl_psql -c "select left(query, 30) from pg_stat_activity where application_name = 'venueless $cmd'")
		kill -9 "$pid"
		wait "$pid" 2>/dev/null
		vl_psql -c "select pg_terminate_backend(pid) from pg_stat_activity where query like '%pg_sleep(120)%' and pid <> pg_backend_pid()" >/dev/null
		wait "$locker" 2>/dev/null
		gone
		s=$(snap)
		if [ $at = 4242 ]; then
			vl_contains "$q" "WITH RECURSIVE" "$cmd held in its statement"
			vl_eq "$S0" "$s" "$cmd killed in its statement: nothing changed"
		else
			vl_eq "COMMIT" "$q" "$cmd held in COMMIT"
			[ "$s" != "$S0" ] || vl_fail "$cmd killed in COMMIT: the commit is the server's"
		fi
	done
done
echo "retention kill: ok"
