# Runs one Lua test file with our binary, against throwaway PostgreSQL and
# Redis servers. Usage: run-lua.sh TEST.lua
. "$(dirname "$0")/lib.sh"
case "$1" in
*redis*|*connections*) ;;
*) vl_pg_start ;;
esac
vl_redis_start "${VL_REDIS_SHARDS:-1}"
"$VENUELESS" shell "$TOP_SRCDIR/tests/testlib.lua" "$1"
