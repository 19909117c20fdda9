-- Writes the seed corpora fuzz/corpus/<target>/ from the test data: the
-- string literals the tests decode or parse, tests/data/sample-world.json
-- and encodings of them. Run from the top of the source tree:
--   ./venueless shell fuzz/seeds.lua
-- It replaces the seeds it writes (seed-*), not other files there.
local json = require "venueless.json"
local msgpack = require "venueless.msgpack"

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

-- The Lua string literals right after each `prefix` in src (a call's
-- first argument); a literal that is not plain text is skipped.
local function literals(src, prefix)
  local out, from = {}, 1
  while true do
    local _, e = src:find(prefix, from, true)
    if not e then return out end
    from = e + 1
    local q = src:sub(from, from)
    if q == "'" or q == '"' then
      local i = from + 1
      while i <= #src and src:sub(i, i) ~= q do
        i = i + (src:sub(i, i) == "\\" and 2 or 1)
      end
      local f = load("return " .. src:sub(from, i))
      local ok, v = pcall(f or error)
      if ok and type(v) == "string" then out[#out + 1] = v end
    end
  end
end

-- The single-quoted arguments of printf in a shell test, unescaped.
local function printfs(src)
  local out = {}
  for s in src:gmatch("printf '([^']*)'") do
    out[#out + 1] = s:gsub("\\n", "\n"):gsub("\\t", "\t"):gsub("\\\\", "\\")
  end
  return out
end

local function unhex(h)
  return (h:gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end

local seeds = {}
local function add(target, s)
  local t = seeds[target] or {}
  seeds[target] = t
  for _, x in ipairs(t) do if x == s then return end end
  t[#t + 1] = s
end

local sample = slurp("tests/data/sample-world.json")
for _, s in ipairs(literals(slurp("tests/json.lua"), "json.decode(")) do add("json", s) end
add("json", sample)
add("json", json.encode(json.decode(sample), { indent = true }))

local mp_src = slurp("tests/msgpack.lua")
for _, s in ipairs(literals(mp_src, "mp.decode(")) do add("msgpack", s) end
for _, h in ipairs(literals(mp_src, "unhex(")) do add("msgpack", unhex(h)) end
for h in mp_src:gmatch('{ *[^{}]-"(%x+)" *}') do add("msgpack", unhex(h)) end
add("msgpack", msgpack.encode(json.decode(sample)))
add("msgpack", msgpack.encode({ type = "connection.drop", __asgi_channel__ = "x!y" })
  .. msgpack.encode({ 1, 2.5, "s", true, msgpack.null }))

for _, s in ipairs(printfs(slurp("tests/config.sh"))) do add("config", s) end
add("config", "[database]\nname = n\nuser = u\npassword = p\nhost = h\nport = 5432\n"
  .. "[redis]\nurls = redis://:pw@h:1/2, unix:///s?db=3\nuse_pubsub = yes\n"
  .. "\xffdbname\xffuser\xffpass\xff/tmp\xff5433\xff\xffrh\xff6380\xff2\xffa b\xfftrue"
  .. "\xffsha\xffprod")
add("config", "[redis]\nhost = ::1\nport = 6390\ndb = 1\nauth = p@ss/w:rd\n")
add("config", "\xff\xff\xff\xff\xff\xffredis://a,redis://b:1/1,,")

for _, f in ipairs({ "tests/redis-url.lua", "tests/redis.lua", "tests/config.sh",
    "tests/redis-auth.sh", "tests/redis-shards.sh" }) do
  local src = slurp(f)
  for url in src:gmatch('"([%a]+://[^"]*)"') do add("redisurl", url) end
  for url in src:gmatch("'([%a]+://[^']*)'") do add("redisurl", url) end
end
add("redisurl", "::1\xff6380\xff2\xffbob\xffp@ss")
add("redisurl", "h\xff1\xff0\xff\xffa%41/b")

add("import", sample)
add("import", '{"world": {"id": "w", "title": "T"}, "rooms": []}')
add("import", '{"world": {"id": "w", "title": "T", "JWT_secrets": [{"issuer": "i", '
  .. '"audience": "a", "secret": "s"}]}, "roles": {"admin": ["world.update"]}, '
  .. '"trait_grants": {"admin": ["admin"]}, "rooms": [{"id": 1, "name": "R", '
  .. '"modules": [{"type": "chat.native", "config": {}}], "pretalx_id": 3}], '
  .. '"exhibitors": [{"name": "E", "room": 1, "links": [{"display_text": "d", '
  .. '"url": "u", "category": "profile"}], "social_media_links": []}]}')

for target, list in pairs(seeds) do
  local dir = "fuzz/corpus/" .. target
  os.execute("mkdir -p " .. dir .. " && rm -f " .. dir .. "/seed-*")
  for i, s in ipairs(list) do
    local f = assert(io.open(("%s/seed-%03d"):format(dir, i), "wb"))
    f:write(s)
    f:close()
  end
  print(target, #list)
end
