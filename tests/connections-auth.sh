# venueless connections against Redis servers that require a password,
# reached by unix socket (?password=) and TCP (redis://:password@).
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || vl_skip "python3 not installed"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
vl_redis_start 1 --port "$port" --bind 127.0.0.1 --requirepass 's3cret'
export REDISCLI_AUTH=s3cret
H="python3 $TOP_SRCDIR/tests/connections-helper.py"
sock="$VL_TMP/redis0.sock"

for url in "unix://$sock?password=s3cret" "redis://:s3cret@127.0.0.1:$port/0"; do
	export VENUELESS_REDIS_URLS=$url
	vl_redis_cli FLUSHALL >/dev/null
	$H register "$VL_TMP/a.json" --label aaa.production --procs 2 --conns 9 ||
	    vl_fail "register"
	vl_exit 0 "$VENUELESS" connections list
	vl_contains "$VL_OUT" "aaa.production                                               9"
	vl_exit 0 "$VENUELESS" connections drop
	vl_eq "sent connection.drop to 9 connections of 1 label" "$VL_ERR" "drop with AUTH"
	$H check "$VL_TMP/a.json" --type connection.drop >/dev/null || vl_fail "check $url"
done

# A wrong password or none: cannot reach Redis (exit 11), no password shown.
VENUELESS_REDIS_URLS="redis://:wrong@127.0.0.1:$port/0" vl_exit 11 \
    "$VENUELESS" connections drop
vl_contains "$VL_ERR" "venueless: connections: redis shard 0 (redis://:***@127.0.0.1:$port/0): WRONGPASS"
vl_contains "$VL_ERR" "; nothing sent"
case "$VL_ERR" in *wrong@*) vl_fail "password in [$VL_ERR]" ;; esac
VENUELESS_REDIS_URLS="unix://$sock" vl_exit 11 "$VENUELESS" connections list
vl_contains "$VL_ERR" "NOAUTH"
exit 0
