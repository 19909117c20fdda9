# delete.run killed with -9 in the middle of a cascading delete: inside
# its SET_NULL update and inside the root's DELETE (every cascaded
# DELETE before it already run) the database is left exactly as it was;
# killed in its COMMIT, the delete is all there.
. "$(dirname "$0")/lib.sh"

V=$VENUELESS
vl_pg_start
vl_redis_start
"$V" migrate -v 0 || vl_fail "migrate"

# A world of 500 users with grants, views and questions in a room of
# another world, and chat in a channel without a room.
vl_psql -c "
INSERT INTO core_world (id, version, title, config, roles, trait_grants, domain, locale, timezone,
  feature_flags, vapid_private_key, vapid_public_key)
  VALUES ('doomed', 2, 'D', '{}', '{}', '{}', NULL, 'en', 'UTC', '[]', '', ''),
  ('other', 2, 'O', '{}', '{}', '{}', NULL, 'en', 'UTC', '[]', '', '');
INSERT INTO core_room (id, version, world_id, name, sorting_priority, trait_grants, module_config,
  deleted, pretalx_id, force_join)
  VALUES (gen_random_uuid(), 2, 'other', 'R', 0, '{}', '[]', false, 0, false);
INSERT INTO core_channel (id, world_id) VALUES (gen_random_uuid(), 'doomed');
WITH u AS (
  INSERT INTO core_user (id, version, world_id, moderation_state, type, show_publicly, profile,
    client_state, traits, deleted)
  SELECT gen_random_uuid(), 1, 'doomed', '', 'person', true, '{}', '{}', '{}', false
  FROM generate_series(1, 500) RETURNING id),
g AS (INSERT INTO core_worldgrant (world_id, user_id, role) SELECT 'doomed', id, 'attendee' FROM u),
v AS (INSERT INTO core_roomview (room_id, user_id, start)
  SELECT (SELECT id FROM core_room), id, now() FROM u),
q AS (INSERT INTO core_question (id, room_id, sender_id, content, state, answered, timestamp,
  is_pinned) SELECT gen_random_uuid(), (SELECT id FROM core_room), id, 'q', 'mod_queue', false,
  now(), false FROM u)
INSERT INTO core_chatevent (id, channel_id, sender_id, timestamp, event_type, content)
SELECT row_number() OVER (), (SELECT id FROM core_channel), id, now(), 'channel.message', '{}' FROM u;
UPDATE core_chatevent SET replaces_id = id - 1 WHERE id > 1" >/dev/null || vl_fail "rows"

# snap: a digest of every row of every table.
q=$(vl_psql -c "select string_agg(format('select %L || row_to_json(x)::text t from %I x', tablename, tablename), ' union all ')
  from pg_tables where schemaname = 'public'")
snap() {
	vl_psql -c "select md5(coalesce(string_agg(t, '|' order by t), '')) from ($q) y"
}
s0=$(snap)

# Pause points: a row trigger takes a shared advisory lock that a locker
# session holds exclusively; a deferred constraint trigger does so at COMMIT.
vl_psql -c "CREATE FUNCTION vl_pause() RETURNS trigger LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM pg_advisory_lock_shared(TG_ARGV[0]::int); PERFORM pg_advisory_unlock_shared(TG_ARGV[0]::int);
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END \$\$" \
  -c "CREATE TRIGGER vl_pause_null BEFORE UPDATE ON core_question FOR EACH ROW EXECUTE FUNCTION vl_pause(4241)" \
  -c "CREATE TRIGGER vl_pause_root BEFORE DELETE ON core_world FOR EACH ROW EXECUTE FUNCTION vl_pause(4242)" \
  -c "CREATE CONSTRAINT TRIGGER vl_pause_commit AFTER DELETE ON core_world
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION vl_pause(4243)"

locker() {	# locker KEY: hold advisory lock KEY from another session
	psql -X -q -c "SELECT pg_advisory_lock($1), pg_sleep(120)" >/dev/null 2>&1 &
	LOCKER=$!
	vl_wait_for sh -c "[ \$(psql -X -At -c \"select count(*) from pg_locks where locktype = 'advisory' and objid = $1 and mode = 'ExclusiveLock' and granted\") = 1 ]"
}
unlock() {
	vl_psql -c "select pg_terminate_backend(pid) from pg_stat_activity where query like '%pg_sleep(120)%' and pid <> pg_backend_pid()" >/dev/null
	wait "$LOCKER" 2>/dev/null
}
waiting() {	# until the delete's backend waits for a lock
	vl_wait_for sh -c "[ \$(psql -X -At -c \"select count(*) from pg_stat_activity where application_name = 'venueless' and wait_event_type = 'Lock' and state = 'active'\") = 1 ]"
}
gone() {
	vl_wait_for sh -c "[ \$(psql -X -At -c \"select count(*) from pg_stat_activity where application_name = 'venueless'\") = 0 ]"
}
RUN='assert(require("venueless.models.delete").run("core.World", "SELECT id FROM core_world WHERE id = $1", { "doomed" }))'
# killed_at KEY: run the delete until it waits at KEY, kill -9 it.
killed_at() {
	locker "$1"
	"$V" shell -e "$RUN" >/dev/null 2>&1 &
	pid=$!
	waiting
	KILLED_QUERY=$(vl_psql -c "select left(query, 30) from pg_stat_activity where application_name = 'venueless'")
	kill -9 "$pid"
	wait "$pid"
	unlock
	gone
}

killed_at 4241
vl_eq 'UPDATE "core_question" x SET "' "$KILLED_QUERY" "stopped in the SET_NULL update"
vl_eq "$s0" "$(snap)" "killed in the update"
killed_at 4242
vl_eq 'DELETE FROM "core_world" WHERE' "$KILLED_QUERY" "stopped in the last DELETE"
vl_eq "$s0" "$(snap)" "killed in the root's DELETE"

# Once COMMIT is sent the server finishes it without us.
killed_at 4243
vl_eq "COMMIT" "$KILLED_QUERY" "stopped in COMMIT"
vl_eq "0|0|0|0|0|500|0" "$(vl_psql -c "select (select count(*) from core_world where id = 'doomed'),
  (select count(*) from core_user), (select count(*) from core_worldgrant),
  (select count(*) from core_roomview), (select count(*) from core_chatevent),
  (select count(*) from core_question where sender_id is null),
  (select count(*) from core_channel)")" "committed whole"
echo "models-delete-kill: ok"
