# A ./venueless.cfg someone else could have written must not redirect the
# passwords of ~/.venueless.cfg: it is read only when it is ours and not
# writable by group or others, and a server chosen by another file than
# its password is warned about. Fake servers on a unix socket and on
# loopback show what a client would send them.
. "$(dirname "$0")/lib.sh"
V=$VENUELESS
umask 022
command -v python3 >/dev/null || vl_skip "python3 not installed"

fake=$VL_TMP/fake
mkdir -p "$fake"
python3 "$TOP_SRCDIR/tests/config-fakeserver.py" "$fake" &
fake_pid=$!
trap 'kill "$fake_pid" 2>/dev/null; vl_cleanup' EXIT
vl_wait_for test -f "$fake/ready"
port=$(cat "$fake/redis.port")

# The operator's own file: the real servers (here: nothing listens) and
# the passwords. Port 1 on loopback refuses at once.
printf '[database]\nhost = %s\npassword = dbpw-secret\n[redis]\nhost = 127.0.0.1\nport = 1\nauth = redispw-secret\n' \
    "$VL_TMP/real" >"$HOME/.venueless.cfg"
mkdir -p "$VL_TMP/work" && cd "$VL_TMP/work"
stray() {
	printf '[database]\nhost = %s\n[redis]\nport = %s\n' "$fake" "$port" >venueless.cfg
}
# Nothing of the passwords reached the fake servers.
not_sent() {
	[ -f "$fake/got" ] || return 0
	if grep -q -a -e dbpw-secret -e redispw-secret "$fake/got"; then
		vl_fail "$1: a password reached the stray file's server"
	fi
}

# Group or other writable: skipped with a warning, for the database and
# for Redis; nothing is sent to the stray servers.
stray
for mode in 664 646 666; do
	chmod "$mode" venueless.cfg
	vl_exit 0 "$V" shell -e 'return config.database.host, config.redis.urls[1], #config.files'
	vl_eq "$VL_TMP/real	redis://:redispw-secret@127.0.0.1:1/0	1" "$VL_OUT" "mode $mode"
	vl_eq "venueless: warning: ./venueless.cfg: ignored: writable by group or others" "$VL_ERR"
done
vl_exit 10 "$V" shell -e 'db.query("select 1")'
vl_contains "$VL_ERR" "venueless: warning: ./venueless.cfg: ignored"
vl_exit 11 "$V" shell -e 'redis.call("PING")'
not_sent "a group-writable file"

# Owned by someone else (root can give it away): skipped too.
if [ "$(id -u)" -eq 0 ] && id nobody >/dev/null 2>&1; then
	chmod 644 venueless.cfg
	chown nobody venueless.cfg
	vl_exit 10 "$V" shell -e 'db.query("select 1")'
	vl_contains "$VL_ERR" "venueless: warning: ./venueless.cfg: ignored: owned by uid $(id -u nobody), not by you"
	vl_exit 11 "$V" shell -e 'redis.call("PING")'
	vl_contains "$VL_ERR" "owned by uid $(id -u nobody)"
	not_sent "a file owned by nobody"
	vl_eq "$VL_TMP/real" "$("$V" shell -e 'return config.database.host' 2>/dev/null)"
	chown "$(id -u)" venueless.cfg
else
	echo "not root: the other-owner case is not tested" >&2
fi

# Before these checks the fake servers got both passwords: prove they
# would record them, with the file honoured (ours, 0644). It is read, and
# the split between the files is warned about.
chmod 644 venueless.cfg
vl_exit 10 "$V" shell -e 'db.query("select 1")'
vl_contains "$VL_ERR" "venueless: warning: [database] host is set in ./venueless.cfg, the password in $HOME/.venueless.cfg"
vl_exit 11 "$V" shell -e 'redis.call("PING")'
vl_contains "$VL_ERR" "venueless: warning: [redis] port is set in ./venueless.cfg, the password in $HOME/.venueless.cfg"
grep -q -a dbpw-secret "$fake/got" || vl_fail "the fake PostgreSQL got no password"
grep -q -a redispw-secret "$fake/got" || vl_fail "the fake Redis got no AUTH"

# No warning when each server and its password come from one file, from
# the environment, or when there is no password.
rm venueless.cfg
vl_exit 0 "$V" shell -e 'return config.database.host'
vl_eq "" "$VL_ERR" "one file"
printf '[database]\nhost = %s\n[redis]\nhost = 127.0.0.2\n' "$VL_TMP/other" >venueless.cfg
vl_exit 0 env VENUELESS_DB_PASS=x VENUELESS_REDIS_AUTH=y "$V" shell -e 'return config.database.host'
vl_eq "" "$VL_ERR" "passwords from the environment"
vl_exit 0 env VENUELESS_DB_HOST=/x VENUELESS_REDIS_HOST=h VENUELESS_REDIS_PORT=2 \
    "$V" shell -e 'return config.database.host'
vl_eq "" "$VL_ERR" "servers from the environment"
printf '[database]\nport = 5433\n' >venueless.cfg
vl_exit 0 env VENUELESS_REDIS_URLS=redis://h:1/0 "$V" shell -e 'return config.database.port'
vl_eq "venueless: warning: [database] port is set in ./venueless.cfg, the password in $HOME/.venueless.cfg" "$VL_ERR" "a port redirects too"
printf '[redis]\nurls = redis://other:1/0\n' >venueless.cfg
vl_exit 0 "$V" shell -e 'return config.redis.urls[1]'
vl_eq "" "$VL_ERR" "a URL list carries its own passwords"

# Only ./venueless.cfg is held to this: the explicit file is the
# operator's choice.
printf '[database]\nname = explicit\n' >"$VL_TMP/explicit.cfg"
chmod 666 "$VL_TMP/explicit.cfg"
vl_exit 0 "$V" -c "$VL_TMP/explicit.cfg" shell -e 'return config.database.name'
vl_eq explicit "$VL_OUT"
vl_eq "" "$VL_ERR"
echo "config-stray: ok"
