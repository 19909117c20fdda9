#!/usr/bin/env bash
# Throwaway local PostgreSQL and Redis for trying venueless by hand.
# Usage: devserver.sh start|stop|status   (from the top of the checkout)
# Everything lives under .run/ (git ignores it; VL_RUN_DIR overrides it, for
# tests); as root, PostgreSQL runs as the postgres user with its data in
# /tmp, linked from .run/pg.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
run=${VL_RUN_DIR:-$top/.run}

as_pg() {
	if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

bindir() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/initdb" ] && { echo "$d"; return; }
	done
	dirname "$(command -v initdb)"
}

start() {
	local bin pg
	bin=$(bindir)
	mkdir -p "$run"
	# A link into a /tmp that a reboot wiped: start over with a new one.
	[ -L "$run/pg" ] && [ ! -e "$run/pg" ] && rm -f "$run/pg"
	if [ ! -e "$run/pg" ]; then
		if [ "$(id -u)" -eq 0 ]; then
			pg=$(mktemp -d /tmp/venueless-run.XXXXXX)
			chown postgres "$pg"
			ln -s "$pg" "$run/pg"
		else
			mkdir "$run/pg"
		fi
	fi
	pg=$(readlink -f "$run/pg")
	if [ ! -f "$pg/data/PG_VERSION" ]; then
		as_pg "$bin/initdb" -D "$pg/data" -U venueless --auth=trust \
		    -E UTF8 --locale=C.UTF-8 >"$run/initdb.log" 2>&1 ||
		    { cat "$run/initdb.log"; exit 1; }
	fi
	if ! as_pg "$bin/pg_ctl" -D "$pg/data" status >/dev/null 2>&1; then
		as_pg "$bin/pg_ctl" -D "$pg/data" -w -l "$pg/log" \
		    -o "-k $pg -c listen_addresses=" start >/dev/null ||
		    { cat "$pg/log"; exit 1; }
		"$bin/createdb" -h "$pg" -U venueless venueless 2>/dev/null || true
	fi
	if ! redis-cli -s "$run/redis.sock" ping >/dev/null 2>&1; then
		redis-server --port 0 --unixsocket "$run/redis.sock" --save '' \
		    --appendonly no --daemonize yes --pidfile "$run/redis.pid" \
		    --logfile "$run/redis.log" --dir "$run" >/dev/null
		for _ in $(seq 50); do [ -S "$run/redis.sock" ] && break; sleep 0.1; done
	fi
	cat >"$run/venueless.cfg" <<CFG
[database]
name = venueless
user = venueless
host = $pg

[redis]
urls = unix://$run/redis.sock?db=0
CFG
	echo "PostgreSQL and Redis are running under $run"
	echo "config: $run/venueless.cfg (venueless -c $run/venueless.cfg ...)"
	echo "stop them with: make stop"
}

stop() {
	local bin pg
	bin=$(bindir)
	if [ -e "$run/pg" ]; then
		pg=$(readlink -f "$run/pg")
		as_pg "$bin/pg_ctl" -D "$pg/data" -m fast stop >/dev/null 2>&1
		[ -L "$run/pg" ] && rm -rf "$pg"
	fi
	rm -rf "$run/pg"
	[ -f "$run/redis.pid" ] && kill "$(cat "$run/redis.pid")" 2>/dev/null
	rm -rf "$run"
	echo "stopped and removed $run"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
status) ls -la "$run" 2>/dev/null || echo "not running" ;;
*) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
