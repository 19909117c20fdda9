# venueless migrate against a throwaway PostgreSQL: the catalog and rows
# equal the reference, output as Django prints it, idempotence,
# concurrency, partial histories, --check/--plan/--json, locking,
# interrupts, serial ids, and migrations added after the squash.
. "$(dirname "$0")/lib.sh"

[ -n "$VL_REFERENCE" ] || vl_fail "the reference (../shared/reference) is missing"
REF=$VL_REFERENCE
V=$VENUELESS
LOCK_KEY=6216460988796650835	# migrations.lock_key, "VENUELES"

vl_exit 0 "$V" migrate --help
vl_contains "$VL_OUT" "--lock-timeout SECONDS"
vl_exit 2 "$V" migrate --verbosity 7
vl_exit 2 "$V" migrate --lock-timeout soon
vl_exit 2 "$V" migrate a b c

vl_pg_start
BINDIR=$(vl_pg_bindir)
PG_DUMP=$BINDIR/pg_dump
[ -x "$PG_DUMP" ] || PG_DUMP=pg_dump

# Nobody listening: exit 10.
VENUELESS_DB_HOST=$VL_TMP/nowhere vl_exit 10 "$V" migrate
vl_contains "$VL_ERR" "venueless: migrate: "
# libpq's message has an indented hint on a second line; we print one line.
vl_eq 1 "$(printf '%s\n' "$VL_ERR" | wc -l)" "one line on stderr: $VL_ERR"
vl_contains "$VL_ERR" "$VL_TMP/nowhere"

# json_ok LUA [WHAT]: decode $VL_OUT with our json as d; LUA, a Lua
# expression, must be true.
json_ok() {
	printf '%s' "$VL_OUT" | "$V" shell -e "local d = assert(json.decode(io.read('a'))) assert($1, 'unexpected JSON')" >/dev/null 2>"$VL_TMP/json.err" ||
	    vl_fail "${2:-JSON}: $(cat "$VL_TMP/json.err"): $VL_OUT"
}

# dump_schema DB: pg_dump --schema-only without the header lines that
# name the server and pg_dump versions.
dump_schema() {
	"$PG_DUMP" --schema-only --no-owner "$1" |
	    grep -v '^-- Dumped \|^\\restrict \|^\\unrestrict '
}

# dump_rows DB: the content types and permissions as sorted INSERTs.
dump_rows() {
	"$PG_DUMP" --data-only --column-inserts --no-owner \
	    -t django_content_type -t auth_permission "$1" | grep '^INSERT' | sort
}

# history DB: "app name" per django_migrations row, in id order.
history() {
	vl_psql -d "$1" -c "select app || ' ' || name from django_migrations order by id"
}

# On (db): run venueless against database db.
on() {
	local db=$1
	shift
	VENUELESS_DB_NAME=$db "$@"
}

ref_rows() {
	grep '^INSERT INTO public\.\(django_content_type\|auth_permission\) ' \
	    "$REF/post_migrate_data.sql" | sort
}

# --- --check and --plan on an empty database change nothing.
vl_exit 3 "$V" migrate --check
vl_eq "" "$VL_OUT" "--check output"
vl_exit 0 "$V" migrate --plan
vl_eq "Planned operations:" "$(echo "$VL_OUT" | head -1)" "--plan heading"
vl_contains "$VL_OUT" "
core.0001_initial_squashed_0067_world_vapid_private_key_world_vapid_public_key_and_more
    Raw SQL operation -> CREATE TABLE "
vl_contains "$VL_OUT" "    Replaces core 0001_initial…0067_world_vapid_private_key_world_vapid_public_key_and_more (67 migrations)"
vl_exit 3 "$V" migrate --plan --check
vl_exit 3 "$V" migrate --check --json
json_ok 'd.pending == true and #d.plan == 6 and d.plan[1].app == "contenttypes"
    and #d.plan[4].replaces == 67 and d.plan[5].name == "0001_initial"' "migrate --check --json"
vl_eq 1 "$(printf '%s\n' "$VL_OUT" | wc -l)" "migrate --check --json: one line"
vl_eq "" "$(vl_psql -c "select to_regclass('django_migrations')")" "nothing created"

# --- A fresh migrate: Django's output, the reference catalog and rows.
vl_exit 0 "$V" migrate
printf '%s\n' "$VL_OUT" > "$VL_TMP/fresh.txt"
head -3 "$REF/migrate-fresh.txt" | diff - <(head -3 "$VL_TMP/fresh.txt") ||
    vl_fail "migrate header differs from migrate-fresh.txt"
cat > "$VL_TMP/fresh.expected" <<'EOF'
Operations to perform:
  Apply all migrations: auth, contenttypes, control, core, sessions, storage
Running migrations:
  Applying contenttypes.0001_initial_squashed_0002_remove_content_type_name... OK
  Applying auth.0001_initial_squashed_0012_alter_user_first_name_max_length... OK
  Applying control.0001_initial_squashed_0002_auto_20210601_1751... OK
  Applying core.0001_initial_squashed_0067_world_vapid_private_key_world_vapid_public_key_and_more... OK
  Applying sessions.0001_initial... OK
  Applying storage.0001_initial_squashed_0003_auto_20201002_1604... OK
EOF
diff "$VL_TMP/fresh.expected" "$VL_TMP/fresh.txt" || vl_fail "fresh migrate output"
# Each squash names the first and last migration it replaces, in the
# order of the reference run.
grep '^  Applying' "$REF/migrate-fresh.txt" | sed 's/^  Applying \([a-z]*\)\..*/\1/' | uniq |
    diff - <(grep '^  Applying' "$VL_TMP/fresh.txt" | sed 's/^  Applying \([a-z]*\)\..*/\1/') ||
    vl_fail "apps not applied in the reference order"
vl_eq "" "$VL_ERR" "fresh migrate stderr"

grep -v '^-- Dumped ' "$REF/schema.sql" > "$VL_TMP/schema.ref"
dump_schema venueless > "$VL_TMP/schema.ours"
diff "$VL_TMP/schema.ref" "$VL_TMP/schema.ours" || vl_fail "catalog differs from schema.sql"
ref_rows > "$VL_TMP/rows.ref"
dump_rows venueless > "$VL_TMP/rows.ours"
vl_eq 250 "$(wc -l < "$VL_TMP/rows.ref")" "reference rows"
diff "$VL_TMP/rows.ref" "$VL_TMP/rows.ours" || vl_fail "content types/permissions differ"
history venueless | diff "$REF/migrations.txt" - || vl_fail "django_migrations rows"
vl_eq "1 87" "$(vl_psql -F' ' -c "select min(id), max(id) from django_migrations")" "ids"

# --- Idempotence: nothing to do, nothing changed.
vl_exit 0 "$V" migrate
vl_eq "Operations to perform:
  Apply all migrations: auth, contenttypes, control, core, sessions, storage
Running migrations:
  No migrations to apply." "$VL_OUT" "no-op migrate"
vl_exit 0 "$V" migrate --check
vl_eq "" "$VL_OUT" "--check when up to date"
vl_exit 0 "$V" migrate --plan
vl_eq "Planned operations:
  No planned migration operations." "$VL_OUT" "--plan when up to date"
vl_exit 0 "$V" migrate --json
vl_eq '{"applied":[],"post_migrate":null}' "$VL_OUT" "migrate --json no-op: one line"
dump_schema venueless | diff "$VL_TMP/schema.ref" - || vl_fail "catalog changed"
vl_eq 87 "$(vl_psql -c 'select count(*) from django_migrations')" "rows after no-op"
vl_exit 0 "$V" migrate -v 0
vl_eq "" "$VL_OUT" "-v 0"

# Named targets.
vl_exit 0 "$V" migrate core
vl_eq "Operations to perform:
  Apply all migrations: core
Running migrations:
  No migrations to apply." "$VL_OUT" "migrate core"
vl_exit 0 "$V" migrate core 0067
vl_contains "$VL_OUT" "  Target specific migration: 0001_initial_squashed_0067_world_vapid_private_key_world_vapid_public_key_and_more, from core"
# An app or migration that names nothing: Django's message, a usage
# error (exit 2, the command's usage after it).
# bad_arg MESSAGE ARG...: migrate ARG... exits 2 saying MESSAGE.
bad_arg() {
	local msg=$1
	shift
	vl_exit 2 "$V" migrate "$@"
	vl_eq "venueless: migrate: $msg" "$(echo "$VL_ERR" | head -1)" "migrate $*"
	vl_contains "$VL_ERR" "usage: venueless migrate "
	vl_eq "" "$VL_OUT" "migrate $*: stdout"
}
bad_arg "No installed app with label 'nosuchapp'." nosuchapp
bad_arg "No installed app with label 'nosuchapp'." --check nosuchapp
bad_arg "No installed app with label 'nosuchapp'." nosuchapp 0001
bad_arg "App 'social' does not have migrations." social
bad_arg "Cannot find a migration matching '9999' from app 'core'." core 9999
bad_arg "Cannot find a migration matching '9999' from app 'core'." --plan core 9999
vl_exit 1 "$V" migrate core zero
vl_contains "$VL_ERR" "unapplying migrations is not supported"

# --- A fresh "migrate auth": the squashes of the initial schema apply
# together, so the header names every app they bring, not only auth.
"$BINDIR/createdb" authonly
on authonly vl_exit 0 "$V" migrate auth
vl_eq "Operations to perform:
  Apply all migrations: auth, contenttypes, control, core, sessions, storage
Running migrations:" "$(echo "$VL_OUT" | head -3)" "fresh migrate auth: header"
vl_eq 6 "$(echo "$VL_OUT" | grep -c '^  Applying ')" "fresh migrate auth applies every squash"
history authonly | diff "$REF/migrations.txt" - || vl_fail "fresh migrate auth: rows"
on authonly vl_exit 0 "$V" migrate auth
vl_eq "Operations to perform:
  Apply all migrations: auth
Running migrations:
  No migrations to apply." "$VL_OUT" "migrate auth when up to date"
# A specific target inside the initial schema: the others are named on
# the apps line, the target on its own.
"$BINDIR/createdb" authtarget
on authtarget vl_exit 0 "$V" migrate auth 0003
vl_eq "Operations to perform:
  Apply all migrations: contenttypes, control, core, sessions, storage
  Target specific migration: 0001_initial_squashed_0012_alter_user_first_name_max_length, from auth
Running migrations:" "$(echo "$VL_OUT" | head -4)" "fresh migrate auth 0003: header"
vl_eq 6 "$(echo "$VL_OUT" | grep -c '^  Applying ')" "fresh migrate auth 0003 applies every squash"

# --- -v 2 adds Django's timings; a fresh database for it.
"$BINDIR/createdb" verbose
on verbose vl_exit 0 "$V" migrate -v 2
echo "$VL_OUT" | sed -n '4,$p' | grep -vqE '^  Applying [a-z]+\.[0-9a-z_]+\.\.\. OK \([0-9]+\.[0-9]{3}s\)$' &&
    vl_fail "-v 2 lines: $VL_OUT"
vl_eq 9 "$(echo "$VL_OUT" | wc -l)" "-v 2 line count"

# --- | head: the migration finishes although stdout went away.
"$BINDIR/createdb" piped
(VENUELESS_DB_NAME=piped "$V" migrate | head -1 > "$VL_TMP/head.out";
    echo "${PIPESTATUS[0]}" > "$VL_TMP/head.rc")
vl_eq "Operations to perform:" "$(cat "$VL_TMP/head.out")" "| head -1"
vl_eq 0 "$(cat "$VL_TMP/head.rc")" "exit status under | head"
history piped | diff "$REF/migrations.txt" - || vl_fail "| head: rows"
(VENUELESS_DB_NAME=piped "$V" migrate | true; echo "${PIPESTATUS[0]}" > "$VL_TMP/head.rc")
vl_eq 0 "$(cat "$VL_TMP/head.rc")" "exit status with a closed pipe"

# --- Four concurrent runs on an empty database: all succeed, one
# applies, the others wait and find nothing to do; no row twice.
"$BINDIR/createdb" concurrent
pids=
for i in 1 2 3 4; do
	# Half of them with a default isolation level that would keep a
	# waiting run from seeing what the first one committed.
	opt=
	[ $((i % 2)) -eq 0 ] && opt='-c default_transaction_isolation=repeatable\ read'
	PGOPTIONS=$opt VENUELESS_DB_NAME=concurrent "$V" migrate \
	    >"$VL_TMP/c$i.out" 2>"$VL_TMP/c$i.err" &
	pids="$pids $!"
done
i=0
for p in $pids; do
	i=$((i + 1))
	wait "$p" || vl_fail "concurrent migrate $i failed: $(cat "$VL_TMP/c$i.err")"
done
vl_eq 1 "$(grep -l 'Applying core' "$VL_TMP"/c?.out | wc -l)" "one run applies"
vl_eq 3 "$(grep -l 'No migrations to apply' "$VL_TMP"/c?.out | wc -l)" "three find nothing"
vl_eq "87 87" "$(vl_psql -d concurrent -F' ' -c 'select count(*), count(distinct (app, name)) from django_migrations')" "concurrent rows"
history concurrent | diff "$REF/migrations.txt" - || vl_fail "concurrent: rows"
dump_rows concurrent | diff "$VL_TMP/rows.ref" - || vl_fail "concurrent: content types"

# --- A database part-way through the 87 is refused, naming per app the
# last applied migration; nothing changes.
"$BINDIR/createdb" partial
on partial vl_exit 0 "$V" migrate
vl_psql -d partial -c "delete from django_migrations where app = 'core' and name >= '0060'"
vl_psql -d partial -c "delete from django_migrations where app = 'storage'"
on partial vl_exit 5 "$V" migrate
vl_eq "" "$VL_OUT" "partial: stdout"
vl_contains "$VL_ERR" "venueless: migrate: database part-way through"
vl_contains "$VL_ERR" "76 of 87 applied"
vl_contains "$VL_ERR" "contenttypes 0002_remove_content_type_name, auth 0012_alter_user_first_name_max_length, control 0002_auto_20210601_1751, core 0059_user_pretalx_id, sessions 0001_initial, storage (none)"
vl_eq 1 "$(echo "$VL_ERR" | wc -l)" "partial: one line"
on partial vl_exit 5 "$V" migrate --check
on partial vl_exit 5 "$V" migrate --plan
vl_eq 76 "$(vl_psql -d partial -c 'select count(*) from django_migrations')" "partial untouched"
# Only the first migrations recorded (Django stopped early): refused too.
"$BINDIR/createdb" early
on early vl_exit 0 "$V" migrate
vl_psql -d early -c "delete from django_migrations where id > 3"
on early vl_exit 5 "$V" migrate
vl_contains "$VL_ERR" "3 of 87 applied; last applied: contenttypes 0002_remove_content_type_name, auth 0001_initial, control (none)"

# --- Lock: a session holding the advisory lock makes migrate wait,
# naming the holder; --lock-timeout gives up with exit 4.
PGAPPNAME=lockholder psql -X -q -c "select pg_advisory_lock($LOCK_KEY)" \
    -c "select pg_sleep(60)" >/dev/null 2>&1 &
holder=$!
vl_wait_for sh -c "[ \"\$(psql -X -At -c \"select count(*) from pg_locks where locktype = 'advisory' and granted and objid = 1162626387\")\" = 1 ]"
start=$(date +%s)
vl_exit 4 "$V" migrate --lock-timeout 1
end=$(date +%s)
[ $((end - start)) -lt 10 ] || vl_fail "--lock-timeout 1 took $((end - start)) s"
vl_contains "$VL_ERR" "venueless: migrate: waiting for the migration lock held by pid "
vl_contains "$VL_ERR" " (lockholder) for "
vl_contains "$VL_ERR" "venueless: migrate: migration lock not obtained within 1 s; held by pid"
echo "$VL_ERR" | tail -1 | grep -qE '^venueless: migrate: migration lock not obtained within 1 s; held by pid [0-9]+ \(lockholder\) for [0-9.]+ s$' ||
    vl_fail "lock timeout message: $VL_ERR"
vl_eq "" "$VL_OUT" "lock timeout: stdout"
vl_exit 4 "$V" migrate --lock-timeout 0
echo "$VL_ERR" | grep -qxE 'venueless: migrate: migration lock held by pid [0-9]+ \(lockholder\) for [0-9.]+ s' ||
    vl_fail "--lock-timeout 0 message: $VL_ERR"
# Interrupted while waiting for the lock: exit 130, nothing changed.
"$V" migrate >"$VL_TMP/int.out" 2>"$VL_TMP/int.err" &
mig=$!
vl_wait_for sh -c "[ \"\$(psql -X -At -c \"select count(*) from pg_locks where locktype = 'advisory' and not granted and objid = 1162626387\")\" = 1 ]"
kill -INT "$mig"
wait "$mig"
vl_eq 130 "$?" "interrupted while waiting: exit"
vl_contains "$(cat "$VL_TMP/int.err")" "interrupted while waiting for the migration lock; nothing was changed"
vl_psql -c "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'lockholder'" >/dev/null
wait "$holder" 2>/dev/null
# A holder that finishes: migrate waits for it, then has nothing to do.
PGAPPNAME=lockholder psql -X -q -c "select pg_advisory_lock($LOCK_KEY)" \
    -c "select pg_sleep(1.5)" >/dev/null 2>&1 &
holder=$!
vl_wait_for sh -c "[ \"\$(psql -X -At -c \"select count(*) from pg_locks where locktype = 'advisory' and granted and objid = 1162626387\")\" = 1 ]"
vl_exit 0 "$V" migrate
vl_contains "$VL_ERR" "waiting for the migration lock held by pid "
vl_contains "$VL_OUT" "No migrations to apply."
wait "$holder"

# --- Migrations after the squash: a throwaway set under LUA_PATH adds
# core 0068 (SQL) and 0069 (Lua), and a slow demo migration.
mkdir -p "$VL_TMP/lua"
cat > "$VL_TMP/lua/futureset.lua" <<'EOF'
local base = require "venueless.migrations.index"
local list = {}
for i, m in ipairs(base.migrations) do list[i] = m end
list[#list + 1] = {
  app = "core", name = "0068_room_note",
  sql = "ALTER TABLE core_room ADD COLUMN note text",
}
list[#list + 1] = {
  app = "core", name = "0069_room_note_default",
  run = function(db)
    assert(db.exec("UPDATE core_room SET note = $1 WHERE note IS NULL", "none"))
    assert(db.exec("ALTER TABLE core_room ALTER COLUMN note SET DEFAULT ''"))
  end,
}
if os.getenv("BAD") then
  list[#list + 1] = {
    app = "demo", name = "0001_bad",
    sql = "CREATE TABLE demo_b (id int); SELECT no_such_column FROM core_room",
  }
end
if os.getenv("SLOW") then
  list[#list + 1] = {
    app = "demo", name = "0001_slow",
    dependencies = { { "core", "0069_room_note_default" } },
    sql = "CREATE TABLE demo_a (id int); SELECT pg_sleep(60)",
  }
end
return { apps = base.apps, migrations = list, post_migrate = base.post_migrate }
EOF
export LUA_PATH="$VL_TMP/lua/?.lua;;"
export VENUELESS_MIGRATIONS=futureset
vl_exit 3 "$V" migrate --check
vl_exit 0 "$V" migrate
vl_eq "Operations to perform:
  Apply all migrations: auth, contenttypes, control, core, sessions, storage
Running migrations:
  Applying core.0068_room_note... OK
  Applying core.0069_room_note_default... OK" "$VL_OUT" "future migrations"
vl_eq "core 0068_room_note
core 0069_room_note_default" "$(vl_psql -c "select app || ' ' || name from django_migrations where id > 87 order by id")" "future rows"
vl_eq "''::text" "$(vl_psql -c "select column_default from information_schema.columns where table_name = 'core_room' and column_name = 'note'")"
vl_exit 0 "$V" migrate
vl_contains "$VL_OUT" "No migrations to apply."
# A migration that fails: the error names it, nothing is kept.
BAD=1 vl_exit 1 "$V" migrate
vl_eq 'venueless: migrate: applying demo.0001_bad: column "no_such_column" does not exist; rolled back, nothing was committed' "$VL_ERR"
vl_eq "  Applying demo.0001_bad..." "$(tail -1 "$VL_TMP/out")" "failed migration: stdout"
vl_eq "" "$(vl_psql -c "select to_regclass('demo_b')")" "failed migration rolled back"
# A fresh database gets the squashes then the new ones.
"$BINDIR/createdb" future
on future vl_exit 0 "$V" migrate
vl_eq 8 "$(echo "$VL_OUT" | grep -c '^  Applying')" "fresh with future migrations"
vl_eq 89 "$(vl_psql -d future -c 'select count(*) from django_migrations')"
# Target one of them.
"$BINDIR/createdb" target
on target vl_exit 0 "$V" migrate core 0068
vl_eq "Operations to perform:
  Apply all migrations: auth, contenttypes, control, sessions, storage
  Target specific migration: 0068_room_note, from core
Running migrations:" "$(echo "$VL_OUT" | head -4)" "fresh migrate core 0068: header"
vl_contains "$VL_OUT" "  Applying core.0068_room_note... OK"
case $VL_OUT in *0069*) vl_fail "migrate core 0068 applied 0069" ;; esac
on target vl_exit 1 "$V" migrate core 0001
# 006 is a prefix of 0060..0067 (in the squash) and of 0068, 0069.
vl_exit 2 "$V" migrate core 006
vl_eq "venueless: migrate: More than one migration matches '006' in app 'core'. Please be more specific." \
    "$(echo "$VL_ERR" | head -1)" "ambiguous prefix"
on target vl_exit 0 "$V" migrate
vl_eq "  Applying core.0069_room_note_default... OK" "$(echo "$VL_OUT" | tail -1)"
on target vl_exit 1 "$V" migrate core 0068
vl_contains "$VL_ERR" "unapplying migrations is not supported: core.0069_room_note_default is applied after core.0068_room_note"

# --- Ctrl-C / SIGTERM during a migration: the statement is cancelled,
# everything rolls back, exit 130, nothing recorded.
for sig in INT TERM; do
	SLOW=1 "$V" migrate >"$VL_TMP/slow.out" 2>"$VL_TMP/slow.err" &
	mig=$!
	vl_wait_for sh -c "[ \"\$(psql -X -At -c \"select count(*) from pg_stat_activity where application_name = 'venueless migrate' and query like '%pg_sleep(60)%' and state = 'active'\")\" = 1 ]"
	kill -"$sig" "$mig"
	wait "$mig"
	vl_eq 130 "$?" "SIG$sig during migrate: exit"
	vl_contains "$(cat "$VL_TMP/slow.out")" "  Applying demo.0001_slow..."
	vl_eq "venueless: migrate: interrupted while applying demo.0001_slow; rolled back, nothing was committed" \
	    "$(cat "$VL_TMP/slow.err")" "SIG$sig message"
	vl_eq "" "$(vl_psql -c "select to_regclass('demo_a')")" "SIG$sig: demo_a rolled back"
	vl_eq 0 "$(vl_psql -c "select count(*) from django_migrations where app = 'demo'")" "SIG$sig: nothing recorded"
	vl_eq 0 "$(vl_psql -c "select count(*) from pg_locks where locktype = 'advisory'")" "SIG$sig: lock released"
done
unset LUA_PATH VENUELESS_MIGRATIONS

# --- A database migrated before Django 4.1: serial ids, not identity
# columns. Built from the reference dump with the identities turned
# into sequences with nextval() defaults, and the reference rows.
"$BINDIR/createdb" serial
perl -0pe 's/ALTER TABLE (public\.\w+) ALTER COLUMN (\w+) ADD GENERATED BY DEFAULT AS IDENTITY \(\n\s+SEQUENCE NAME (public\.\w+)\n.*?\n\);/CREATE SEQUENCE $3;\nALTER SEQUENCE $3 OWNED BY $1.$2;\nALTER TABLE ONLY $1 ALTER COLUMN $2 SET DEFAULT nextval(\x27$3\x27::regclass);/gs' \
    "$REF/schema.sql" > "$VL_TMP/serial.sql"
vl_psql -d serial -f "$VL_TMP/serial.sql" >/dev/null
vl_psql -d serial -f "$REF/post_migrate_data.sql" >/dev/null
vl_eq "0 34" "$(vl_psql -d serial -F' ' -c "select count(*) filter (where is_identity = 'YES'), count(*) filter (where column_default like 'nextval%') from information_schema.columns where table_schema = 'public'")" "serial database"
on serial vl_exit 0 "$V" migrate
vl_contains "$VL_OUT" "  No migrations to apply."
on serial vl_exit 0 "$V" migrate --check
on serial vl_exit 0 "$V" showmigrations
diff "$REF/showmigrations.txt" <(printf '%s\n' "$VL_OUT") || vl_fail "serial: showmigrations"
# Our later migrations apply there too.
LUA_PATH="$VL_TMP/lua/?.lua;;" VENUELESS_MIGRATIONS=futureset on serial vl_exit 0 "$V" migrate
vl_contains "$VL_OUT" "  Applying core.0069_room_note_default... OK"
vl_eq 89 "$(vl_psql -d serial -c 'select count(*) from django_migrations')"

# --- A database Django migrated (the reference dump and rows) has
# nothing to apply.
"$BINDIR/createdb" django
vl_psql -d django -f "$REF/schema.sql" >/dev/null
vl_psql -d django -f "$REF/post_migrate_data.sql" >/dev/null
on django vl_exit 0 "$V" migrate
vl_contains "$VL_OUT" "  No migrations to apply."

exit 0
