# venueless.redis with AUTH: passwords from the URL (TCP and unix socket),
# ACL users, wrong passwords that never leak into messages.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || vl_skip "python3 not installed"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
vl_redis_start 1 --port "$port" --bind 127.0.0.1 --requirepass secret
sock="$VL_TMP/redis0.sock"
export REDISCLI_AUTH=secret
vl_redis_cli ACL SETUSER bob on '>p@ss:w/rd' '~*' '+@all' >/dev/null

# Run venueless with VENUELESS_REDIS_URLS=$1; the rest as for vl_exit.
vl_with_url() {
	local url=$1 want=$2
	shift 2
	VENUELESS_REDIS_URLS=$url vl_exit "$want" "$@"
}

vl_with_url "unix://$sock?password=secret" 0 "$VENUELESS" shell -e 'redis.call("PING")' \
    -e 'redis.conn(0).url'
vl_eq "PONG
unix://$sock?password=***" "$VL_OUT" "unix socket with ?password="

vl_with_url "unix://$sock?db=2&password=secret" 0 "$VENUELESS" shell \
    -e 'redis.call("SET", "k", "in2")'
vl_eq in2 "$(vl_redis_cli -n 2 GET k)" "unix socket with db and password"

vl_with_url "redis://:secret@127.0.0.1:$port/1" 0 "$VENUELESS" shell \
    -e 'redis.call("SET", "k", "in1")' -e 'redis.conn(0).url'
vl_eq "OK
redis://:***@127.0.0.1:$port/1" "$VL_OUT" "TCP with password and db"
vl_eq in1 "$(vl_redis_cli -n 1 GET k)" "db 1 from /1"
vl_eq "" "$(vl_redis_cli -n 0 GET k)" "db 0 untouched"

vl_with_url "redis://:secret@127.0.0.1:$port" 0 "$VENUELESS" shell \
    -e 'redis.call("SET", "k", "in0")'
vl_eq in0 "$(vl_redis_cli -n 0 GET k)" "no /db is db 0"
vl_eq in1 "$(vl_redis_cli -n 1 GET k)" "db 1 isolated"

vl_with_url "redis://bob:p%40ss%3Aw%2Frd@127.0.0.1:$port/0" 0 "$VENUELESS" shell \
    -e 'redis.call("ACL", "WHOAMI")' -e 'redis.conn(0).url'
vl_eq "bob
redis://bob:***@127.0.0.1:$port/0" "$VL_OUT" "user:password, percent-encoded"

vl_with_url "redis://default:secret@127.0.0.1:$port/0" 0 "$VENUELESS" shell \
    -e 'redis.call("ACL", "WHOAMI")'
vl_eq default "$VL_OUT" "default user"

# A wrong password: pcall gives nil, message naming the shard, WRONGPASS;
# call raises it, exit 11 (Redis not reached); no password shown.
vl_with_url "redis://:wrongpw@127.0.0.1:$port/0" 0 "$VENUELESS" shell \
    -e 'redis.pcall("PING")'
vl_contains "$VL_OUT" "nil	redis shard 0 (redis://:***@127.0.0.1:$port/0): WRONGPASS "
vl_contains "$VL_OUT" "	WRONGPASS"
case "$VL_OUT" in *wrongpw*) vl_fail "password in [$VL_OUT]" ;; esac
vl_with_url "unix://$sock?password=wrongpw" 11 "$VENUELESS" shell -e 'redis.call("PING")'
vl_contains "$VL_ERR" "redis shard 0 (unix://$sock?password=***): WRONGPASS"
case "$VL_ERR" in *wrongpw*) vl_fail "password in [$VL_ERR]" ;; esac
vl_with_url "redis://bob:wrongpw@127.0.0.1:$port/0" 0 "$VENUELESS" shell \
    -e 'redis.pcall("PING")'
vl_contains "$VL_OUT" "	WRONGPASS"
case "$VL_OUT" in *wrongpw*) vl_fail "password in [$VL_OUT]" ;; esac

# No password at all: the command's NOAUTH error reply.
vl_with_url "redis://127.0.0.1:$port/0" 0 "$VENUELESS" shell -e 'redis.pcall("PING")'
vl_contains "$VL_OUT" "nil	NOAUTH "
vl_contains "$VL_OUT" "	NOAUTH"
vl_with_url "redis://127.0.0.1:$port/0" 11 "$VENUELESS" shell -e 'redis.call("PING")'
vl_contains "$VL_ERR" "venueless: shell: NOAUTH "

# No password and a long command (EVAL of many keys, as the model cache
# update sends): Redis answers "ERR Protocol error: unauthenticated
# multibulk length" and drops us. That is an authentication failure too.
long='redis.pipeline({ { "MSET", "a", 1, "b", 2, "c", 3, "d", 4, "e", 5, "f", 6 } })'
vl_with_url "redis://127.0.0.1:$port/0" 11 "$VENUELESS" shell -e "$long"
vl_eq "venueless: shell: redis shard 0 (redis://127.0.0.1:$port/0): authentication required: the server needs a password and the URL has none (it said: ERR Protocol error: unauthenticated multibulk length)" "$VL_ERR"
vl_with_url "redis://127.0.0.1:$port/0" 0 "$VENUELESS" shell \
    -e 'redis.pcall("MSET", "a", 1, "b", 2, "c", 3, "d", 4, "e", 5, "f", 6)'
vl_contains "$VL_OUT" "nil	redis shard 0 (redis://127.0.0.1:$port/0): authentication required: "
vl_contains "$VL_OUT" "	NOAUTH"
# import_config and clone_world: committed, then exit 11 saying why.
vl_pg_start
VENUELESS_REDIS_URLS="redis://:secret@127.0.0.1:$port/0" "$VENUELESS" migrate -v 0 ||
    vl_fail "migrate"
vl_with_url "redis://127.0.0.1:$port/0" 11 "$VENUELESS" import_config \
    "$TOP_SRCDIR/tests/data/sample-world.json"
vl_contains "$VL_OUT" "World sample created: 8 rooms"
vl_contains "$VL_ERR" "venueless: import_config: committed, but the server cache was not updated"
vl_contains "$VL_ERR" "authentication required: the server needs a password and the URL has none"
vl_with_url "redis://127.0.0.1:$port/0" 11 "$VENUELESS" clone_world sample \
    --id klon --title Klon --domain ''
vl_contains "$VL_OUT" "World cloned."
vl_contains "$VL_ERR" "venueless: clone_world: committed, but the server cache was not updated"
vl_contains "$VL_ERR" "authentication required: the server needs a password and the URL has none"

# A correct password but a database that does not exist.
vl_with_url "redis://:secret@127.0.0.1:$port/99" 0 "$VENUELESS" shell \
    -e 'redis.pcall("PING")'
vl_contains "$VL_OUT" "nil	redis shard 0 (redis://:***@127.0.0.1:$port/99): ERR DB index is out of range	ERR"
vl_with_url "redis://:secret@127.0.0.1:$port/99" 1 "$VENUELESS" shell \
    -e 'redis.call("PING")'
vl_contains "$VL_ERR" "ERR DB index is out of range"

# [redis] auth (config file) and VENUELESS_REDIS_AUTH: config escapes the
# password into the URL it builds and AUTH gets it back unchanged, for
# every printable character. The server's requirepass is set to each one
# in turn (CONFIG SET takes it as one argument), and a wrong password is
# refused, so a PONG proves the password arrived intact. INI values lose
# their outer blanks, so the file's password has its space inside.
all=$(python3 -c 's = "".join(map(chr, range(0x21, 0x7f))); print(s[:40] + " " + s[40:])')
[ ${#all} -eq 95 ] || vl_fail "the printable password has ${#all} characters"
cfg="$VL_TMP/auth.cfg"
unset VENUELESS_REDIS_URLS
# vl_auth HOW PASSWORD: PING with PASSWORD from the file or the variable.
vl_auth() {
	local pw=$2 want=${3:-0}
	printf '[redis]\nhost = 127.0.0.1\nport = %s\nauth = %s\n' "$port" "$pw" >"$cfg"
	case $1 in
	file)	VENUELESS_CONFIG_FILE=$cfg vl_exit "$want" "$VENUELESS" shell \
		    -e 'redis.call("PING")' -e 'redis.conn(0).url' ;;
	env)	VENUELESS_CONFIG_FILE=/dev/null VENUELESS_REDIS_PORT=$port \
		    VENUELESS_REDIS_AUTH=$pw vl_exit "$want" "$VENUELESS" shell \
		    -e 'redis.call("PING")' -e 'redis.conn(0).url' ;;
	esac
}
for pw in "$all" 'a/b' 'a%41' '#' '?' '@' ':' ' ' 'a b' '%' 'x@y:z/w?v#u' \
    "$(printf '%s' "$all" | rev)"; do
	vl_redis_cli CONFIG SET requirepass "$pw" >/dev/null ||
	    vl_fail "CONFIG SET requirepass [$pw]"
	export REDISCLI_AUTH=$pw
	for how in env file; do
		[ "$how" = file ] && [ "$pw" = ' ' ] && continue	# INI strips it
		vl_auth "$how" "$pw"
		vl_eq "PONG
redis://:***@127.0.0.1:$port/0" "$VL_OUT" "[$pw] from the $how"
		vl_auth "$how" "${pw}x" 11
		vl_contains "$VL_ERR" "WRONGPASS" "[${pw}x] from the $how"
	done
done
# a%41 is sent as it is, not decoded to aA
vl_redis_cli CONFIG SET requirepass aA >/dev/null
export REDISCLI_AUTH=aA
for how in env file; do
	vl_auth "$how" 'a%41' 11
	vl_contains "$VL_ERR" "WRONGPASS" "a%41 from the $how is not aA"
	vl_auth "$how" aA
	vl_contains "$VL_OUT" "PONG" "aA from the $how"
done

# The server going away: connection refused on the TCP port, quickly.
kill -9 "$(cat "$VL_TMP/redis0.pid")"
sleep 0.2
vl_with_url "redis://:secret@127.0.0.1:$port/0" 11 "$VENUELESS" shell \
    -e 'redis.call("PING")'
vl_contains "$VL_ERR" "redis shard 0 (redis://:***@127.0.0.1:$port/0): Connection refused"
exit 0
