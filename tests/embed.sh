# The build checks its own lists: LUA_FILES in Makefile.am names exactly
# the Lua files under lua/; the binary, with LUA_PATH unset and away from
# the source tree, embeds each of them under the module name embed.sh
# gives it and loads it from its embedded copy; and every module the Lua
# code requires by name (or the migration index names) is in the binary.
. "$(dirname "$0")/lib.sh"
src=$TOP_SRCDIR
export LC_ALL=C

# LUA_FILES as make reads it: the words after "=", over continued lines.
awk '/^LUA_FILES[[:space:]]*=/ { on = 1; sub(/^[^=]*=/, "") }
    on { cont = sub(/\\$/, ""); n = split($0, w); for (i = 1; i <= n; i++) print w[i]
        if (!cont) exit }' "$src/Makefile.am" | sort >"$VL_TMP/listed"
(cd "$src" && find lua -name '*.lua') | sort >"$VL_TMP/present"
[ -s "$VL_TMP/listed" ] || vl_fail "no LUA_FILES in Makefile.am"
missing=$(comm -13 "$VL_TMP/listed" "$VL_TMP/present")
[ -z "$missing" ] || vl_fail "not in LUA_FILES (Makefile.am):" $missing
gone=$(comm -23 "$VL_TMP/listed" "$VL_TMP/present")
[ -z "$gone" ] || vl_fail "in LUA_FILES but not under lua/:" $gone
dups=$(uniq -d "$VL_TMP/listed")
[ -z "$dups" ] || vl_fail "listed twice in LUA_FILES:" $dups

# What the binary must show for each file, listed or not: module, chunk
# name, and the two arguments its chunk is called with (name,
# ":embedded:"). Module names as build-aux/embed.sh derives them.
sort -u "$VL_TMP/listed" "$VL_TMP/present" | while read -r f; do
	mod=$(echo "$f" | sed -e 's|^lua/||' -e 's|\.lua$||' -e 's|/init$||' -e 's|/|.|g')
	printf 'chunk %s @%s %s :embedded:\n' "$mod" "$f" "$mod"
done | sort >"$VL_TMP/expected"

# Require every venueless.* module in package.preload afresh, with a call
# hook that records each main chunk as it starts: its source and the
# varargs the loader passed (debug.getlocal with negative indices).
cat >"$VL_TMP/check.lua" <<'EOF'
local names, seen = {}, {}
for name in pairs(package.preload) do
  if name:match("^venueless%.") then names[#names + 1] = name end
end
table.sort(names)
for _, name in ipairs(names) do
  print("preload " .. name)
  package.loaded[name] = nil
end
debug.sethook(function()
  local info = debug.getinfo(2, "S")
  if info.what ~= "main" then return end
  local _, a1 = debug.getlocal(2, -1)
  local _, a2 = debug.getlocal(2, -2)
  seen[#seen + 1] = ("chunk %s %s %s %s"):format(tostring(a1), info.source,
    tostring(a1), tostring(a2))
end, "c")
for _, name in ipairs(names) do
  local ok, err = pcall(require, name)
  if not ok then seen[#seen + 1] = "FAIL require " .. name .. ": " .. tostring(err) end
end
debug.sethook()
for _, line in ipairs(seen) do print(line) end
local index = require "venueless.migrations.index"
for _, m in ipairs(index.migrations) do print("needs " .. m) end
print("needs " .. index.post_migrate)
EOF
cd "$VL_TMP" || exit 99
env -u LUA_PATH -u LUA_PATH_5_4 "$VENUELESS" shell check.lua >out 2>err ||
    vl_fail "check.lua: $(cat err)"
cd - >/dev/null || exit 99
failed=$(grep '^FAIL' "$VL_TMP/out")
[ -z "$failed" ] || vl_fail "$failed"
grep '^chunk ' "$VL_TMP/out" | sort >"$VL_TMP/actual"
unembedded=$(comm -23 "$VL_TMP/expected" "$VL_TMP/actual")
[ -z "$unembedded" ] || vl_fail "not loaded from the binary's embedded copy:
$unembedded
the binary loaded:
$(cat "$VL_TMP/actual")"
extra=$(comm -13 "$VL_TMP/expected" "$VL_TMP/actual")
[ -z "$extra" ] || vl_fail "loaded, but not from LUA_FILES as embedded: $extra"

# Every module named in a require "venueless.x" (also pcall(require, ...)
# and package.preload["..."]) or in the migration index exists.
sed -n 's/^preload //p' "$VL_TMP/out" | sort >"$VL_TMP/modules"
{
	(cd "$src" && grep -ohE "(require[[:space:]]*\(?|pcall\(require,|package\.preload\[)[[:space:]]*[\"'][^\"']+[\"']" $(cat "$VL_TMP/listed")) |
	    sed -E "s/.*[\"']([^\"']+)[\"']$/\1/"
	sed -n 's/^needs //p' "$VL_TMP/out"
} | grep '^venueless\.' | sort -u >"$VL_TMP/required"
[ "$(wc -l <"$VL_TMP/required")" -gt 10 ] || vl_fail "found too few requires: $(cat "$VL_TMP/required")"
unknown=$(comm -23 "$VL_TMP/required" "$VL_TMP/modules")
[ -z "$unknown" ] || vl_fail "required but not in the binary:" $unknown
echo "embed: ok ($(wc -l <"$VL_TMP/expected") embedded modules, $(wc -l <"$VL_TMP/required") required by name)"
