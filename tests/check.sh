# venueless check and migrate --verify against real servers: a clean
# deployment passes; schema drift of each kind, serial ids, pending,
# unknown and part-way migrations, an evicting, full, password-protected
# or dead Redis, a dead PostgreSQL, worlds without or with duplicate
# domains, broken secrets and keys, a chat room without its channel,
# full process keys and stale labels each give their line and exit.
. "$(dirname "$0")/lib.sh"

[ -n "$VL_REFERENCE" ] || vl_fail "the reference (../shared/reference) is missing"
V=$VENUELESS

vl_exit 0 "$V" check --help
vl_contains "$VL_OUT" "--quiet"
vl_exit 2 "$V" check --bogus
vl_exit 2 "$V" check extra
vl_exit 0 "$V" migrate --help
vl_contains "$VL_OUT" "--verify"
vl_exit 2 "$V" migrate --verify --plan
vl_exit 2 "$V" migrate --verify core

vl_pg_start
vl_redis_start 2
BINDIR=$(vl_pg_bindir)
"$V" migrate -v 0 || vl_fail "migrate"
"$V" import_config "$TOP_SRCDIR/tests/data/sample-world.json" >/dev/null ||
    vl_fail "import_config"
vl_psql -c "update core_world set domain = 'sample.example.org'"

# json_ok LUA [WHAT]: $VL_OUT decoded as d makes the Lua expression true.
json_ok() {
	printf '%s' "$VL_OUT" | "$V" shell -e "local d = assert(json.decode(io.read('a'))) assert($1, 'unexpected JSON')" >/dev/null 2>"$VL_TMP/json.err" ||
	    vl_fail "${2:-JSON}: $(cat "$VL_TMP/json.err"): $VL_OUT"
}

# lacks HAYSTACK NEEDLE [WHAT]
lacks() {
	case "$1" in *"$2"*) vl_fail "${3:-output}: [$2] in [$1]" ;; esac
}

# --- A clean deployment: everything passes, --quiet prints nothing.
vl_exit 0 "$V" check
vl_contains "$VL_OUT" "PASS  postgresql: PostgreSQL 15"
vl_contains "$VL_OUT" "PASS  migrations: all 6 applied"
vl_contains "$VL_OUT" "PASS  schema: the catalog matches the 6 applied migrations (57 tables)"
vl_contains "$VL_OUT" "PASS  worlds: 1 worlds: domains set and unique"
vl_contains "$VL_OUT" "PASS  redis shard 1: unix://$VL_TMP/redis1.sock?db=0: Redis "
vl_contains "$VL_OUT" "PASS  redis shard 0: maxmemory-policy noeviction"
vl_contains "$VL_OUT" "PASS  channel layer: 0 process keys"
vl_contains "$VL_OUT" "variables VENUELESS_DB_NAME, VENUELESS_DB_USER, VENUELESS_DB_HOST, VENUELESS_REDIS_URLS"
vl_eq "13 PASS, 0 WARN, 0 FAIL" "$(printf '%s\n' "$VL_OUT" | tail -1)" "clean summary"
lacks "$VL_OUT" "hint:" "clean report"
vl_exit 0 "$V" check --quiet
vl_eq "" "$VL_OUT" "check --quiet on a clean deployment"
vl_exit 0 "$V" check --json
vl_eq 1 "$(printf '%s\n' "$VL_OUT" | wc -l)" "check --json: one line"
json_ok 'd.exit == 0 and d.counts.FAIL == 0 and d.counts.PASS == #d.items
    and d.items[1].check == "config" and d.items[1].hint == json.null' "check --json"
vl_exit 0 "$V" migrate --verify
vl_eq "PASS  schema: the catalog matches the 6 applied migrations (57 tables)
1 PASS, 0 WARN, 0 FAIL" "$VL_OUT" "migrate --verify"
vl_exit 0 "$V" migrate --verify --json
json_ok '#d.items == 1 and d.items[1].check == "schema" and d.exit == 0' "--verify --json"
# check changes nothing (the reference is built in a rolled-back pg_temp).
vl_eq 0 "$(vl_psql -c "select count(*) from pg_class where relnamespace::regnamespace::text like 'pg_temp%' and relname = 'core_world'")" "no temp tables left"

# --- Passwords in the config stay masked.
cat >"$VL_TMP/pw.cfg" <<EOF
[database]
password = hunter2
EOF
VENUELESS_CONFIG_FILE=$VL_TMP/pw.cfg \
    VENUELESS_REDIS_URLS="unix://:redispw@$VL_TMP/redis0.sock?db=0" \
    vl_exit 1 "$V" check
vl_contains "$VL_OUT" "PASS  config: files $VL_TMP/pw.cfg; variables "
# a password the server does not ask for: its ERR reply, exit 1
vl_contains "$VL_OUT" "FAIL  redis shard 0: redis shard 0 (unix://:***@$VL_TMP/redis0.sock?db=0): ERR AUTH"
vl_contains "$VL_OUT" "VENUELESS_CONFIG_FILE"
vl_contains "$VL_OUT" "(password ***)"
lacks "$VL_OUT$VL_ERR" "hunter2" "the database password"
lacks "$VL_OUT$VL_ERR" "redispw" "the redis password"

# --- Schema drift, one kind per copy of the clean database.
# drift NAME SQL: database NAME, a copy of the clean one, with SQL run.
drift() {
	"$BINDIR/createdb" -T venueless "$1" || vl_fail "createdb $1"
	vl_psql -d "$1" -c "$2" >/dev/null || vl_fail "drift $1"
}
drift dropcol "alter table core_room drop column schedule_data"
VENUELESS_DB_NAME=dropcol vl_exit 5 "$V" migrate --verify
vl_contains "$VL_OUT" "FAIL  schema: column core_room.schedule_data: missing (jsonb)
      hint: a hand-made change or half-applied DDL"
# The full report: the schema FAIL is the first, exit 1.
VENUELESS_DB_NAME=dropcol vl_exit 1 "$V" check
vl_contains "$VL_OUT" "FAIL  schema: column core_room.schedule_data: missing (jsonb)"
vl_contains "$VL_OUT" "PASS  redis shard 0"

drift addcol "alter table core_room add column note text"
VENUELESS_DB_NAME=addcol vl_exit 0 "$V" migrate --verify
vl_contains "$VL_OUT" "WARN  schema: column core_room.note: extra column text, not in the migrations"
drift addnn "alter table core_feedback add column x integer not null"
VENUELESS_DB_NAME=addnn vl_exit 5 "$V" migrate --verify
vl_contains "$VL_OUT" "FAIL  schema: column core_feedback.x: extra column integer NOT NULL without a default: the server's inserts fail"

drift retype "alter table core_world alter column title type text"
VENUELESS_DB_NAME=retype vl_exit 5 "$V" migrate --verify
vl_contains "$VL_OUT" "FAIL  schema: column core_world.title: type text, expected character varying(300)"

drift nullable "alter table core_room alter column name drop not null"
VENUELESS_DB_NAME=nullable vl_exit 5 "$V" migrate --verify
vl_contains "$VL_OUT" "FAIL  schema: column core_room.name: NULL allowed, expected NOT NULL"

drift dropidx "drop index core_channel_world_id_79823bbb"
VENUELESS_DB_NAME=dropidx vl_exit 5 "$V" migrate --verify
vl_contains "$VL_OUT" "FAIL  schema: index core_channel_world_id_79823bbb: missing on core_channel (CREATE INDEX ON core_channel USING btree (world_id))"

drift rename "alter table core_room rename constraint core_room_version_check to room_version_ok"
VENUELESS_DB_NAME=rename vl_exit 5 "$V" migrate --verify
vl_contains "$VL_OUT" "FAIL  schema: constraint core_room_version_check: on core_room is named room_version_ok"
vl_contains "$VL_OUT" "0 PASS, 0 WARN, 1 FAIL" "a renamed constraint is one finding"

drift extratab "create table core_world_backup as select * from core_world"
VENUELESS_DB_NAME=extratab vl_exit 0 "$V" migrate --verify
vl_contains "$VL_OUT" "WARN  schema: table core_world_backup: not in the migrations"
vl_contains "$VL_OUT" "0 PASS, 1 WARN, 0 FAIL"

drift droptab "drop table core_feedback"
VENUELESS_DB_NAME=droptab vl_exit 5 "$V" migrate --verify --json
json_ok 'd.exit == 5 and d.items[1].status == "FAIL" and d.items[1].reason == "table core_feedback: missing"' "dropped table"

# --- A database migrated before Django 4.1 (serial ids) has no drift;
# an id that lost its sequence default has.
"$BINDIR/createdb" serial
perl -0pe 's/ALTER TABLE (public\.\w+) ALTER COLUMN (\w+) ADD GENERATED BY DEFAULT AS IDENTITY \(\n\s+SEQUENCE NAME (public\.\w+)\n.*?\n\);/CREATE SEQUENCE $3;\nALTER SEQUENCE $3 OWNED BY $1.$2;\nALTER TABLE ONLY $1 ALTER COLUMN $2 SET DEFAULT nextval(\x27$3\x27::regclass);/gs' \
    "$VL_REFERENCE/schema.sql" > "$VL_TMP/serial.sql"
vl_psql -d serial -f "$VL_TMP/serial.sql" >/dev/null
vl_psql -d serial -f "$VL_REFERENCE/post_migrate_data.sql" >/dev/null
vl_eq 0 "$(vl_psql -d serial -c "select count(*) from information_schema.columns where is_identity = 'YES'")" "serial database"
VENUELESS_DB_NAME=serial vl_exit 0 "$V" migrate --verify
vl_contains "$VL_OUT" "PASS  schema: the catalog matches"
vl_psql -d serial -c "alter table core_auditlog alter column id drop default"
VENUELESS_DB_NAME=serial vl_exit 5 "$V" migrate --verify
vl_contains "$VL_OUT" "FAIL  schema: column core_auditlog.id: no identity or sequence default: the server's inserts fail"

# --- Migrations: pending, unknown, part-way, none.
# A migration after the squashes that the database lacks (a throwaway
# set under LUA_PATH adds core 0068): pending, and no drift, since the
# reference is what the applied ones define. Once applied, the schema
# has its column and matches; without the set, 0068 is unknown and its
# column is drift.
mkdir -p "$VL_TMP/lua"
cat > "$VL_TMP/lua/laterset.lua" <<'EOF'
local base = require "venueless.migrations.index"
local list = table.move(base.migrations, 1, #base.migrations, 1, {})
list[#list + 1] = { app = "core", name = "0068_room_note",
  sql = "ALTER TABLE core_room ADD COLUMN note text" }
return { apps = base.apps, migrations = list, post_migrate = base.post_migrate }
EOF
"$BINDIR/createdb" -T venueless later
later() {
	VENUELESS_DB_NAME=later LUA_PATH="$VL_TMP/lua/?.lua;;" \
	    VENUELESS_MIGRATIONS=laterset "$@"
}
later vl_exit 1 "$V" check
vl_contains "$VL_OUT" "FAIL  migrations: 1 of 7 pending: core.0068_room_note
      hint: run venueless migrate"
vl_contains "$VL_OUT" "PASS  schema: the catalog matches the 6 applied migrations (57 tables)"
later "$V" migrate -v 0 || vl_fail "migrate laterset"
later vl_exit 0 "$V" check
vl_contains "$VL_OUT" "PASS  migrations: all 7 applied"
vl_contains "$VL_OUT" "PASS  schema: the catalog matches the 7 applied migrations (57 tables)"
VENUELESS_DB_NAME=later vl_exit 0 "$V" check --quiet
vl_contains "$VL_OUT" "WARN  migrations: recorded but unknown to this venueless: core.0068_room_note"
vl_contains "$VL_OUT" "WARN  schema: column core_room.note: extra column text"
# A squash only partly recorded.
drift partial "delete from django_migrations where app = 'core' and name = '0067_world_vapid_private_key_world_vapid_public_key_and_more'"
VENUELESS_DB_NAME=partial vl_exit 1 "$V" check
vl_contains "$VL_OUT" "FAIL  migrations: database part-way through the migrations squashed into"
VENUELESS_DB_NAME=partial vl_exit 5 "$V" migrate --verify
vl_contains "$VL_ERR" "venueless: migrate: database part-way"
"$BINDIR/createdb" empty
VENUELESS_DB_NAME=empty vl_exit 1 "$V" check
vl_contains "$VL_OUT" "FAIL  migrations: 6 of 6 pending"
vl_contains "$VL_OUT" "FAIL  schema: no migrations applied: no venueless schema"
vl_contains "$VL_OUT" "FAIL  worlds: "
VENUELESS_DB_NAME=empty vl_exit 5 "$V" migrate --verify

# --- Worlds: no domain, duplicate domains, secrets, VAPID keys, a chat
# room without its channel.
"$BINDIR/createdb" -T venueless worlds
VENUELESS_DB_NAME=worlds "$V" clone_world sample --id other --title Other \
    --domain SAMPLE.example.org >/dev/null || vl_fail "clone_world"
VENUELESS_DB_NAME=worlds "$V" clone_world sample --id third --title Third \
    --domain '' >/dev/null || vl_fail "clone_world"
VENUELESS_DB_NAME=worlds vl_exit 1 "$V" check --quiet
vl_contains "$VL_OUT" "WARN  worlds: no domain: third"
vl_contains "$VL_OUT" "FAIL  worlds: duplicate domains (host names ignore case): other, sample share sample.example.org"
vl_psql -d worlds -c "update core_world set domain = '' where id = 'other'"
VENUELESS_DB_NAME=worlds vl_exit 0 "$V" check --quiet
vl_contains "$VL_OUT" "WARN  worlds: no domain: other, third"
vl_eq "" "$(printf '%s\n' "$VL_OUT" | grep FAIL)" "no FAIL without duplicates"
vl_psql -d worlds -c "update core_world set config = config - 'JWT_secrets' where id = 'other'"
vl_psql -d worlds -c "update core_world set vapid_public_key = (select vapid_public_key from core_world where id = 'sample') where id = 'third'"
vl_psql -d worlds -c "update core_world set vapid_private_key = 'garbage' where id = 'sample'"
vl_psql -d worlds -c "delete from core_channel where room_id = (select id from core_room where world_id = 'third' and name = 'Lobby')"
VENUELESS_DB_NAME=worlds vl_exit 1 "$V" check
vl_contains "$VL_OUT" "FAIL  worlds: other: no JWT_secrets"
vl_contains "$VL_OUT" "FAIL  worlds: sample: VAPID keys: the private key is not a PEM private key"
vl_contains "$VL_OUT" "FAIL  worlds: third: VAPID keys: the public key is not the private key's"
room=$(vl_psql -d worlds -c "select id from core_room where world_id = 'third' and name = 'Lobby'")
[ -n "$room" ] || vl_fail "the sample world has a room Lobby"
vl_contains "$VL_OUT" "FAIL  rooms: third: room $room (Lobby) has a chat.native module but no channel
      hint: its chat cannot work: rooms.get(id):save() adds the channel"

# --- Redis: process keys near and over capacity, stale labels, a
# password, an evicting policy, memory, a dead shard.
KEY="venueless:0:asgi:specific.0123abcd!"
SHARD=$("$V" shell -e "print(redis.shard_for('specific.0123abcd!'))")
vl_redis_cli "$SHARD" EVAL "for i = 1, tonumber(ARGV[1]) do redis.call('ZADD', KEYS[1], i, 'm' .. i) end" 1 "$KEY" 8500 >/dev/null
vl_exit 0 "$V" check --quiet
vl_contains "$VL_OUT" "WARN  channel layer: 1 process keys, the fullest 8500 of 10000 messages; near capacity: specific.0123abcd! (8500)"
vl_redis_cli "$SHARD" EVAL "for i = 1, tonumber(ARGV[1]) do redis.call('ZADD', KEYS[1], i, 'm' .. i) end" 1 "$KEY" 10000 >/dev/null
vl_exit 1 "$V" check --quiet
vl_contains "$VL_OUT" "FAIL  channel layer: 1 process keys, the fullest 10000 of 10000 messages; full, so messages to them are dropped: specific.0123abcd! (10000)"
vl_redis_cli "$SHARD" DEL "$KEY" >/dev/null
VENUELESS_REDIS_USE_PUBSUB=true vl_exit 0 "$V" check
vl_contains "$VL_OUT" "PASS  channel layer: pub/sub layer: no process keys to fill"

vl_redis_cli HSET connections old.label 3 >/dev/null
vl_redis_cli HSET connections live.label 2 >/dev/null
vl_redis_cli SET connections:live.label exists EX 60 >/dev/null
vl_exit 0 "$V" check --quiet
vl_contains "$VL_OUT" "WARN  connection labels: 1 live, 1 stale: old.label
      hint: venueless connections list removes the stale ones"
vl_eq 1 "$(vl_redis_cli HEXISTS connections old.label)" "check does not prune"

vl_redis_cli 1 CONFIG SET maxmemory-policy allkeys-lru >/dev/null
vl_exit 0 "$V" check --quiet
vl_contains "$VL_OUT" "WARN  redis shard 1: maxmemory-policy allkeys-lru: nothing is evicted while maxmemory is 0"
vl_redis_cli 1 CONFIG SET maxmemory 200mb >/dev/null
vl_exit 1 "$V" check --quiet
vl_contains "$VL_OUT" "FAIL  redis shard 1: maxmemory-policy allkeys-lru with maxmemory 200.00M: an evicting policy drops channel-layer keys"
vl_redis_cli 1 CONFIG SET maxmemory-policy noeviction >/dev/null
used=$(vl_redis_cli 1 INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
vl_redis_cli 1 CONFIG SET maxmemory $((used * 100 / 85)) >/dev/null
vl_exit 0 "$V" check --quiet
vl_contains "$VL_OUT" "WARN  redis shard 1: used "
vl_contains "$VL_OUT" "% full"
vl_redis_cli 1 CONFIG SET maxmemory 0 >/dev/null

vl_redis_cli CONFIG SET requirepass s3cret >/dev/null
vl_exit 11 "$V" check
vl_contains "$VL_OUT" "FAIL  redis shard 0: unix://$VL_TMP/redis0.sock?db=0: NOAUTH"
vl_contains "$VL_OUT" "hint: check the password in [redis] urls or auth"
vl_contains "$VL_OUT" "PASS  redis shard 1"
VENUELESS_REDIS_URLS="unix://:s3cret@$VL_TMP/redis0.sock?db=0,unix://$VL_TMP/redis1.sock?db=0" \
    vl_exit 0 "$V" check
vl_contains "$VL_OUT" "PASS  redis shard 0: unix://:***@$VL_TMP/redis0.sock?db=0: Redis "
vl_contains "$VL_OUT" ", db 0, authenticated"
lacks "$VL_OUT" "s3cret" "the redis password"
vl_redis_cli -a s3cret --no-auth-warning CONFIG SET requirepass "" >/dev/null

VENUELESS_REDIS_URLS="unix://$VL_TMP/redis0.sock?db=0,unix://$VL_TMP/nowhere.sock" \
    vl_exit 11 "$V" check --json
json_ok 'd.exit == 11 and d.counts.FAIL == 1' "a dead shard"
VENUELESS_REDIS_URLS="unix://$VL_TMP/redis0.sock?db=0,unix://$VL_TMP/nowhere.sock" \
    vl_exit 11 "$V" check
vl_contains "$VL_OUT" "FAIL  redis shard 1: redis shard 1 (unix://$VL_TMP/nowhere.sock): "
vl_contains "$VL_OUT" "PASS  channel layer: 0 process keys, the fullest 0 of 10000 messages (shard 1 not reached)"
vl_contains "$VL_OUT" "hint: is the server running at that address?"
vl_contains "$VL_OUT" "PASS  schema: the catalog matches"

# --- A dead PostgreSQL: exit 10, Redis still checked; a drift FAIL
# before it decides the exit.
VENUELESS_DB_HOST=$VL_TMP/nowhere vl_exit 10 "$V" check
vl_contains "$VL_OUT" "FAIL  postgresql: "
vl_contains "$VL_OUT" "; migrations, schema and worlds not checked"
vl_contains "$VL_OUT" "PASS  redis shard 0"
lacks "$VL_OUT" "migrations:" "a dead PostgreSQL"
VENUELESS_DB_HOST=$VL_TMP/nowhere vl_exit 10 "$V" migrate --verify
vl_contains "$VL_ERR" "venueless: migrate: "
VENUELESS_DB_NAME=dropcol \
    VENUELESS_REDIS_URLS="unix://$VL_TMP/nowhere.sock" vl_exit 1 "$V" check

exit 0
