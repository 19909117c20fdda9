# What start-up loads (bench/startup): shell -e maps no shared library
# but Lua's and the C library's, requires no module but its own, and
# makes no package.preload loader or lazy-global table it does not use;
# each dlopen()ed library is mapped once its binding is used.
. "$(dirname "$0")/lib.sh"
V=$VENUELESS
umask 022

# maps(): the shared objects mapped into this venueless, sorted.
maps='function maps()
  local seen, out = {}, {}
  for line in io.lines("/proc/self/maps") do
    local so = line:match("/([^/]-%.so[.%d]*)$")
    if so and not seen[so] then seen[so] = true; out[#out + 1] = so end
  end
  table.sort(out)
  return table.concat(out, " ")
end'
[ -r /proc/self/maps ] || vl_skip "no /proc/self/maps"

vl_exit 0 "$V" shell -e "$maps" -e 'return maps()'
at_start=$VL_OUT
vl_contains "$at_start" "liblua5.4" "mapped at start"
for lib in libhiredis libcjson libmsgpackc libinih libpq libcrypto libedit \
    libcurl libexpat; do
	case " $at_start" in
	*" $lib"*) vl_fail "$lib is mapped by shell -e 'return 1': $at_start" ;;
	esac
done

# Only the command's module and venueless.core are required.
vl_exit 0 "$V" shell -e 'local t = {}
  for k in pairs(package.loaded) do
    if k:match("^venueless") then t[#t + 1] = k end
  end
  table.sort(t)
  return table.concat(t, " ")'
vl_eq "venueless.cmd.shell venueless.core" "$VL_OUT" "modules after shell -e"

# package.preload makes a loader when it is first asked for, and pairs()
# still lists every module.
vl_exit 0 "$V" shell -e 'local before = rawget(package.preload, "venueless.worlds")
  local f = package.preload["venueless.worlds"]
  local n, seen = 0, {}
  for k, v in pairs(package.preload) do n = n + 1; seen[k] = type(v) end
  return before == nil, type(f), rawget(package.preload, "venueless.worlds") == f,
    seen["venueless.json"], seen["venueless.cmd.shell"], n > 20,
    package.preload["venueless.nosuch"] == nil'
vl_eq "true	function	true	function	function	true	true" "$VL_OUT" "preload"

# The operator globals' __lazy table is built on first use.
vl_exit 0 "$V" shell -e 'local mt = getmetatable(_G)
  return rawget(mt, "__lazy") == nil, mt.__lazy.World, mt.__lazy.worlds,
    rawget(mt, "__lazy") ~= nil, type(World), type(json), nosuch == nil'
vl_eq "true	venueless.models	venueless.worlds	true	table	table	true" "$VL_OUT" \
    "lazy globals"

# Each library is mapped once it is needed.
vl_exit 0 "$V" shell -e "$maps" -e 'json.encode({})' -e 'return maps()'
vl_contains "$VL_OUT" "libcjson" "after json.encode"
vl_exit 0 "$V" shell -e "$maps" -e 'msgpack.decode(msgpack.encode({1}))' -e 'return maps()'
vl_contains "$VL_OUT" "libmsgpackc" "after msgpack.decode"
printf '[redis]\nport = 1\n' >"$VL_TMP/venueless.cfg"
vl_exit 0 "$V" --config "$VL_TMP/venueless.cfg" shell -e "$maps" \
    -e 'assert(config.files[1])' -e 'return maps()'
vl_contains "$VL_OUT" "libinih" "after reading a config file"
case " $VL_OUT" in
*" libhiredis"*) vl_fail "libhiredis mapped before a connection: $VL_OUT" ;;
esac
if command -v "${REDIS_SERVER:-redis-server}" >/dev/null; then
	vl_redis_start
	vl_exit 0 "$V" shell -e "$maps" -e 'assert(redis.call("PING") == "PONG")' \
	    -e 'return maps()'
	vl_contains "$VL_OUT" "libhiredis" "after a Redis command"
fi
exit 0
