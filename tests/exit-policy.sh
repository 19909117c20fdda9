# One failure -> exit policy: the same failure exits with the same code
# from every entry point (db.query, db.exec, db.rows, redis.call,
# worlds.list, a command, a script file), and a script that ignores what
# a call returned never exits 0 against a dead or refusing server.
. "$(dirname "$0")/lib.sh"
vl_pg_start
vl_redis_start 1 --requirepass rsecret
export REDISCLI_AUTH=rsecret
sock="$VL_TMP/redis0.sock"
export VENUELESS_REDIS_URLS="unix://$sock?password=rsecret"

# PostgreSQL asks for a password; the tables are never created, so every
# entry point's query below is an SQL error (42P01) while the server is up.
vl_psql -c "alter role venueless password 'pgsecret'"
vl_as_pg sh -c "echo 'local all all scram-sha-256' > '$VL_PGDATA/pg_hba.conf'"
vl_as_pg "$PG_CTL" -D "$VL_PGDATA" reload >/dev/null
export PGPASSWORD=pgsecret VENUELESS_DB_PASS=pgsecret
vl_wait_for sh -c "! PGPASSWORD=wrong psql -X -At -c 'select 1' >/dev/null 2>&1"

SQL="select id from core_world"
cat >"$VL_TMP/pg.lua" <<EOF
db.query("$SQL")
print("carried on")
EOF
cat >"$VL_TMP/redis.lua" <<'EOF'
redis.call("HLEN", "connections")
print("carried on")
EOF

# check WANT MESSAGE CMD...: exit WANT, MESSAGE in the one-line report on
# stderr, and nothing after the failure ran.
check() {
	local want=$1 msg=$2
	shift 2
	vl_exit "$want" "$@"
	reported "$msg" "$@"
}

# reported MESSAGE CMD...: the checks of check, on $VL_OUT and $VL_ERR.
reported() {
	local msg=$1
	shift
	vl_contains "$VL_ERR" "venueless: " "$*"
	vl_contains "$VL_ERR" "$msg" "$*"
	case "$VL_OUT" in *"carried on"*) vl_fail "$*: the script went on" ;; esac
}

# Every PostgreSQL entry point, one failure: exit WANT, MESSAGE, SQLSTATE.
pg_all() {
	local want=$1 msg=$2 code=$3
	check "$want" "$msg" "$VENUELESS" shell -e "db.query('$SQL')" -e 'print("carried on")'
	check "$want" "$msg" "$VENUELESS" shell -e "return db.query('$SQL')"
	check "$want" "$msg" "$VENUELESS" shell -e "db.exec('$SQL')" -e 'print("carried on")'
	check "$want" "$msg" "$VENUELESS" shell -e "for _ in db.rows('$SQL') do end"
	check "$want" "$msg" "$VENUELESS" shell -e 'worlds.list()' -e 'print("carried on")'
	check "$want" "$msg" "$VENUELESS" list_worlds
	check "$want" "$msg" "$VENUELESS" shell "$VL_TMP/pg.lua"
	"$VENUELESS" shell <"$VL_TMP/pg.lua" >"$VL_TMP/out" 2>"$VL_TMP/err"
	vl_exited $? "$want" "shell <pg.lua"
	reported "$msg" "shell <pg.lua"
	# the non-raising form gives nil, message, code; and the code maps to WANT
	vl_exit 0 "$VENUELESS" shell -e "local core = require 'venueless.core'
	    local v, _, code = core.try(db.query, '$SQL')
	    return v, code, core.exit_for(code)"
	vl_eq "nil	$code	$want" "$VL_OUT" "core.try: $msg"
}

# Every Redis entry point, one failure: exit WANT, MESSAGE, code.
redis_all() {
	local want=$1 msg=$2 code=$3
	check "$want" "$msg" "$VENUELESS" shell -e 'redis.call("HLEN", "connections")' \
	    -e 'print("carried on")'
	check "$want" "$msg" "$VENUELESS" shell -e 'redis.conn(0):call("HLEN", "connections")'
	check "$want" "$msg" "$VENUELESS" connections list
	check "$want" "$msg" "$VENUELESS" shell "$VL_TMP/redis.lua"
	vl_exit 0 "$VENUELESS" shell -e 'local core = require "venueless.core"
	    local v, _, code = redis.pcall("HLEN", "connections")
	    return v, code, core.exit_for(code)'
	vl_eq "nil	$code	$want" "$VL_OUT" "redis.pcall: $msg"
}

# SQL error: exit 1.
pg_all 1 'relation "core_world" does not exist' 42P01
check 1 "syntax error" "$VENUELESS" shell -e 'db.exec("selec 1")'

# Wrong PostgreSQL password (28P01): exit 10.
VENUELESS_DB_PASS=wrong pg_all 10 "password authentication failed" 28P01

# Redis error reply (WRONGTYPE): exit 1.
vl_redis_cli SET connections not-a-hash >/dev/null
redis_all 1 "WRONGTYPE" WRONGTYPE

# Wrong Redis password (WRONGPASS): exit 11.
VENUELESS_REDIS_URLS="unix://$sock?password=wrong" redis_all 11 "WRONGPASS" WRONGPASS

# No Redis password at all (NOAUTH): exit 11.
VENUELESS_REDIS_URLS="unix://$sock" redis_all 11 "NOAUTH" NOAUTH

# Redis unreachable: exit 11.
VENUELESS_REDIS_URLS="unix://$VL_TMP/nowhere.sock" redis_all 11 "redis shard 0 (" connection
# a pipeline to a shard that cannot be reached raises too
VENUELESS_REDIS_URLS="unix://$VL_TMP/nowhere.sock" check 11 "redis shard 0 (" \
    "$VENUELESS" shell -e 'redis.pipeline({ { "PING" } })' -e 'print("carried on")'

# PostgreSQL stopped (08006): exit 10.
vl_as_pg "$PG_CTL" -D "$VL_PGDATA" -m fast stop >/dev/null
pg_all 10 "$VL_TMP/pg/.s.PGSQL.5432" 08006
exit 0
