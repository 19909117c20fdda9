# tests/lib.sh: sourced by every test. Makes a temp dir, clears the
# environment, starts throwaway PostgreSQL and Redis servers on unix
# sockets in it, and stops them on exit whatever happens.
#
# Variables set: VL_TMP, VENUELESS (the binary), TOP_SRCDIR, and once the
# servers run, VENUELESS_DB_* / VENUELESS_REDIS_URLS for the binary and
# PGHOST/PGUSER/PGDATABASE for psql (through vl_psql).

set -u

: "${VENUELESS:=$(cd "$(dirname "$0")/.." && pwd)/venueless}"
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/.." && pwd)}"
export VENUELESS TOP_SRCDIR

# Clear what could point the tests at a real deployment.
for v in $(env | sed -n 's/^\(PG[A-Z_]*\|VENUELESS_[A-Z_]*\)=.*/\1/p'); do
	unset "$v"
done
unset LUA_PATH LUA_PATH_5_4 LUA_INIT LUA_INIT_5_4 NO_COLOR

# The compatibility reference: VL_REFERENCE_DIR (.ci/run's copy of the
# sources sets it), else shared/ beside the checkout, or one level further
# up for make distcheck's unpacked copy.
VL_REFERENCE=
for d in "${VL_REFERENCE_DIR:-}" "$TOP_SRCDIR/../shared/reference" \
    "$TOP_SRCDIR/../../shared/reference"; do
	[ -f "$d/schema.sql" ] && { VL_REFERENCE=$(cd "$d" && pwd); break; }
done
export VL_REFERENCE

VL_TMP=$(mktemp -d "${TMPDIR:-/tmp}/venueless-test.XXXXXX") || exit 99
chmod 755 "$VL_TMP"
export VL_TMP HOME="$VL_TMP/home"
mkdir -p "$HOME"
VL_PGDATA= VL_REDIS_PIDS=

# Run a command as the unprivileged owner of the cluster when we are root.
vl_as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

vl_cleanup() {
	local pid
	if [ -n "$VL_PGDATA" ]; then
		vl_as_pg "$PG_CTL" -D "$VL_PGDATA" -m immediate stop >/dev/null 2>&1
	fi
	for pid in $VL_REDIS_PIDS; do
		kill -9 "$pid" 2>/dev/null
	done
	rm -rf "$VL_TMP"
}
trap 'vl_cleanup' EXIT
trap 'exit 130' INT TERM

vl_fail() {
	echo "FAIL: $*" >&2
	exit 1
}

vl_skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# Find pg_ctl and initdb; Debian keeps them out of PATH.
vl_pg_bindir() {
	local d
	if [ -n "${PG_CTL:-}" ] && [ -x "$PG_CTL" ]; then
		dirname "$(readlink -f "$PG_CTL")"
		return
	fi
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && { echo "$d"; return; }
	done
	command -v initdb >/dev/null && dirname "$(command -v initdb)"
}

# An initdb'd cluster, made once per machine and copied per test.
vl_pg_template() {
	local cache="${VL_TEST_CACHE:-${TMPDIR:-/tmp}/venueless-test-cache-$(id -u)}"
	mkdir -p "$cache"
	[ "$(id -u)" -eq 0 ] && chown postgres "$cache" && chmod 755 "$cache"
	(
		flock 9
		if [ ! -f "$cache/template/PG_VERSION" ]; then
			rm -rf "$cache/template"
			vl_as_pg "$1/initdb" -D "$cache/template" -U venueless \
			    --auth=trust -N -E UTF8 --locale=C.UTF-8 \
			    >"$cache/initdb.log" 2>&1 || exit 1
		fi
	) 9>"$cache/lock" || vl_fail "initdb failed: $(cat "$cache/initdb.log")"
	echo "$cache/template"
}

# Start a PostgreSQL with socket in $VL_TMP/pg and database "venueless".
vl_pg_start() {
	local bindir tpl
	bindir=$(vl_pg_bindir)
	[ -n "$bindir" ] || vl_skip "PostgreSQL server binaries not installed"
	[ "$(id -u)" -ne 0 ] || id postgres >/dev/null 2>&1 ||
	    vl_fail "running as root needs the postgres user"
	PG_CTL="$bindir/pg_ctl"
	tpl=$(vl_pg_template "$bindir") || exit 1
	VL_PGDATA="$VL_TMP/pg/data"
	mkdir -p "$VL_TMP/pg"
	[ "$(id -u)" -eq 0 ] && chown postgres "$VL_TMP/pg"
	vl_as_pg cp -a "$tpl" "$VL_PGDATA" || vl_fail "cannot copy the template"
	vl_as_pg "$PG_CTL" -D "$VL_PGDATA" -w -t 30 -l "$VL_TMP/pg/log" \
	    -o "-k $VL_TMP/pg -c listen_addresses= -c fsync=off \
	    -c synchronous_commit=off -c full_page_writes=off" start >/dev/null ||
	    vl_fail "postgres did not start: $(cat "$VL_TMP/pg/log")"
	export PGHOST="$VL_TMP/pg" PGUSER=venueless PGDATABASE=venueless
	export VENUELESS_DB_HOST="$VL_TMP/pg" VENUELESS_DB_USER=venueless
	export VENUELESS_DB_NAME=venueless
	"$bindir/createdb" venueless 2>/dev/null ||
	    PATH="$bindir:$PATH" createdb venueless ||
	    vl_fail "createdb failed"
}

# psql against the test database, quiet and failing on errors.
vl_psql() {
	psql -X -q -v ON_ERROR_STOP=1 -At "$@"
}

# Start N (default 1) redis servers; VENUELESS_REDIS_URLS lists them.
# Extra arguments after N go to every redis-server.
vl_redis_start() {
	local n=${1:-1} i urls= sock
	[ $# -gt 0 ] && shift
	command -v "${REDIS_SERVER:-redis-server}" >/dev/null ||
	    vl_skip "redis-server not installed"
	for i in $(seq 0 $((n - 1))); do
		sock="$VL_TMP/redis$i.sock"
		"${REDIS_SERVER:-redis-server}" --port 0 --unixsocket "$sock" \
		    --save '' --appendonly no --daemonize yes \
		    --pidfile "$VL_TMP/redis$i.pid" \
		    --logfile "$VL_TMP/redis$i.log" --dir "$VL_TMP" "$@" ||
		    vl_fail "redis-server did not start"
		vl_wait_for test -S "$sock"
		vl_wait_for test -s "$VL_TMP/redis$i.pid"
		VL_REDIS_PIDS="$VL_REDIS_PIDS $(cat "$VL_TMP/redis$i.pid")"
		urls="$urls${urls:+,}unix://$sock?db=0"
	done
	export VENUELESS_REDIS_URLS="$urls"
}

# redis-cli against shard I (default 0).
vl_redis_cli() {
	local i=0
	case "${1:-}" in [0-9]) i=$1; shift ;; esac
	redis-cli -s "$VL_TMP/redis$i.sock" "$@"
}

# Retry a command for up to 10 s.
vl_wait_for() {
	local i
	for i in $(seq 1 100); do
		"$@" && return 0
		sleep 0.1
	done
	vl_fail "timed out waiting for: $*"
}

# A psql session kept open on the postgres database, so that a test can
# ask the server something at a chosen moment within a few ms (a new psql
# takes tens): vl_probe_start once, then vl_probe SQL sets $VL_PROBED to
# the first line of the answer (an error's text on failure).
vl_probe_start() {
	rm -f "$VL_TMP/probe.in" "$VL_TMP/probe.out"
	mkfifo "$VL_TMP/probe.in" "$VL_TMP/probe.out" || vl_fail "mkfifo"
	psql -X -At -d postgres <"$VL_TMP/probe.in" >"$VL_TMP/probe.out" 2>&1 &
	exec 8>"$VL_TMP/probe.in" 9<"$VL_TMP/probe.out"
}
vl_probe() {
	printf '%s;\n' "$1" >&8
	read -r VL_PROBED <&9 || vl_fail "the probe session ended"
}

# Assertions. Each prints what differed and exits 1.
vl_eq() {	# vl_eq EXPECTED ACTUAL [WHAT]
	[ "$1" = "$2" ] || vl_fail "${3:-value}: expected [$1], got [$2]"
}

vl_contains() {	# vl_contains HAYSTACK NEEDLE [WHAT]
	case "$1" in *"$2"*) ;; *) vl_fail "${3:-output}: [$2] not in [$1]" ;; esac
}

# vl_exit CODE CMD...: run CMD, require exit CODE; output in $VL_OUT/$VL_ERR.
vl_exit() {
	local want=$1
	shift
	"$@" >"$VL_TMP/out" 2>"$VL_TMP/err" </dev/null
	vl_exited $? "$want" "$@"
}

# vl_exited RC CODE CMD...: CMD has run with its output in $VL_TMP/out and
# err; load $VL_OUT/$VL_ERR and require that its exit status RC is CODE.
vl_exited() {
	local rc=$1 want=$2
	shift 2
	VL_OUT=$(cat "$VL_TMP/out")
	VL_ERR=$(cat "$VL_TMP/err")
	[ "$rc" -eq "$want" ] || vl_fail "$*: exit $rc, expected $want
stdout: $VL_OUT
stderr: $VL_ERR"
}
