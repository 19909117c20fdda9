-- The connections API: fnmatch, the exact bytes stored, results, and
-- failures part-way (a shard dropping out, Ctrl-C), on one Redis.
local connections = require "venueless.connections"
local redis = require "venueless.redis"
local core = require "venueless.core"
local P = "venueless:0:asgi:"

-- Python 3.11 fnmatch.fnmatch on POSIX, checked by hand.
test("fnmatch matches like Python's fnmatch", function()
  local cases = {
    { "*", "", true }, { "*", "abc.production", true },
    { "abc.*", "abc.production", true }, { "abc.*", "abcxproduction", false },
    { "*.production", "ff350b4.production", true },
    { "*.production", "ff350b4.Production", false },   -- case-sensitive
    { "?bc", "abc", true }, { "?bc", "bc", false },
    { "[ab]c", "bc", true }, { "[!ab]c", "bc", false }, { "[!ab]c", "xc", true },
    { "[a-c]", "b", true }, { "[c-a]", "b", false },    -- reversed range: empty
    { "[]]", "]", true }, { "[!]]", "]", false }, { "[!]]", "a", true },
    { "[", "[", true }, { "[ab", "[ab", true },           -- unclosed: literal
    { "a[-]b", "a-b", true }, { "[a-]", "-", true },
    { "%d", "%d", true }, { "%d", "1", false },           -- Lua magic escaped
    { "a.b", "axb", false }, { "(x)+", "(x)+", true }, { "^$", "^$", true },
    { "a\\*", "a\\bc", true }, { "a\\*", "a*", false },   -- backslash is literal
    { "*a*", "bab\nc", true }, { "a?c", "a\nc", true },
  }
  for _, c in ipairs(cases) do
    eq(c[3], connections.fnmatch(c[2], c[1]), ("fnmatch(%q, %q)"):format(c[2], c[1]))
  end
end)

-- Globs are matched in C without backtracking over stars: 20 stars
-- against a long name that does not match took minutes as a Lua pattern.
test("a glob with many stars finishes at once", function()
  local v = os.getenv("VENUELESS")
  local out, code = sh("timeout -s KILL 5 " .. v .. [[ shell -e 'return connections.fnmatch(("a"):rep(5000), ("*a"):rep(20) .. "b"), connections.fnmatch(("a"):rep(5000) .. "b", ("*a"):rep(20) .. "b")']])
  eq(0, code, "exit status (137: killed after 5 s)")
  eq("false\ttrue\n", out)
end)

-- A match that is long even so (one star, a long literal, a long name:
-- length times length) stops at SIGTERM.
test("SIGTERM stops a long glob match", function()
  local v = os.getenv("VENUELESS")
  local out, code = sh("timeout -s TERM --preserve-status 1 timeout -s KILL 20 " .. v .. [[ shell -e 'return connections.fnmatch(("a"):rep(1000000), "*" .. ("a"):rep(20000) .. "b")']])
  eq(130, code, "exit status (137: killed after 20 s)")
  ok(out:find("interrupted", 1, true), out)
end)

-- Random globs and names over the characters that mean something, as
-- Python's fnmatch.fnmatchcase (run here) decides.
test("fnmatch agrees with Python's fnmatchcase on random globs", function()
  local json = require "venueless.json"
  local GLOB, NAME = "ab-]![*?\\^c", "abc-]![\\^\n*?"
  local function word(alphabet, max)
    local t = {}
    for i = 1, math.random(0, max) do
      local k = math.random(1, #alphabet)
      t[i] = alphabet:sub(k, k)
    end
    return table.concat(t)
  end
  math.randomseed(11)
  local cases = {}
  for i = 1, 600 do
    local g = word(GLOB, 8)
    -- half the names from the glob itself, so that many match
    local n = i % 2 == 0 and word(NAME, 8) or (g:gsub("[%*%?%[%]]", function(c)
      return c == "*" and word(NAME, 3) or math.random(2) == 1 and c or word(NAME, 1)
    end))
    cases[i] = { g, n }
  end
  local dir = os.getenv("VL_TMP")
  local f = assert(io.open(dir .. "/globs.json", "w"))
  f:write(json.encode(cases))
  f:close()
  local out, code = sh("python3 -c 'import fnmatch, json, sys\n"
    .. "print(json.dumps([fnmatch.fnmatchcase(n, g) for g, n in json.load(open(sys.argv[1]))]))' "
    .. dir .. "/globs.json")
  eq(0, code, out)
  local want, hits = json.decode(out), 0
  for i, c in ipairs(cases) do
    eq(want[i], connections.fnmatch(c[2], c[1]), ("fnmatch(%q, %q)"):format(c[2], c[1]))
    if want[i] then hits = hits + 1 end
  end
  ok(hits > 50 and hits < 550, "both outcomes are exercised: " .. hits)
end)

local function hex(n)
  local t = {}
  for i = 1, n do t[i] = ("%x"):format(math.random(0, 15)) end
  return table.concat(t)
end

-- Join n websockets of label on one server process; returns the
-- process name and the channels.
local function join(label, n)
  local proc = "specific." .. hex(32) .. "!"
  local g = redis.conn(redis.shard_for("version." .. label))
  local chans = {}
  for i = 1, n do
    chans[i] = proc .. hex(32)
    g:call("ZADD", P .. ":group:version." .. label, core.time(), chans[i])
  end
  redis.call("HINCRBY", "connections", label, n)
  redis.call("SETEX", "connections:" .. label, 60, "exists")
  return proc, chans
end

test("the stored message, byte for byte", function()
  local proc, chans = join("bytes.test", 1)
  local r = connections.drop("bytes.test", { quiet = true })
  eq(1, r.sent); eq(1, r.labels); eq(1, r.process_keys); eq(0, r.over_capacity)
  local items = redis.conn(redis.shard_for(proc)):call("ZRANGE", P .. proc, 0, -1,
    "WITHSCORES")
  eq(2, #items)
  local data = items[1]
  local want = "\x82\xa4type\xafconnection.drop\xb0__asgi_channel__\x91\xd9\x4a"
    .. chans[1]
  eq(74, #chans[1])
  eq(12 + #want, #data)
  eq(want, data:sub(13))
  ok(math.abs(tonumber(items[2]) - core.time()) < 5, "score is now")
  ok(items[2]:find("%."), "score is a float")
  local ttl = redis.conn(redis.shard_for(proc)):call("TTL", P .. proc)
  ok(ttl > 55 and ttl <= 60, "expiry 60")
end)

test("list returns counts and prunes stale labels", function()
  redis.call("HSET", "connections", "stale.one", 3)
  local live, stale = connections.list({ dry_run = true })
  eq({ "stale.one" }, stale)
  eq(1, redis.call("HEXISTS", "connections", "stale.one"))
  live, stale = connections.list()
  eq(nil, live["stale.one"])
  eq(1, live["bytes.test"])
  eq(0, redis.call("HEXISTS", "connections", "stale.one"))
end)

test("list also gives the live labels sorted", function()
  for _, l in ipairs({ "b.z", "a.z", "\xc3\xa9.z", "A.z", "a.z2" }) do
    redis.call("HSET", "connections", l, 2)
    redis.call("SETEX", "connections:" .. l, 60, "exists")
  end
  local live, _, names = connections.list({ dry_run = true })
  local want = {}
  for l in pairs(live) do want[#want + 1] = l end
  table.sort(want)
  eq(want, names)
  eq("A.z", names[1])
  eq("\xc3\xa9.z", names[#names])
  for _, l in ipairs({ "b.z", "a.z", "\xc3\xa9.z", "A.z", "a.z2" }) do
    redis.call("HDEL", "connections", l)
    redis.call("DEL", "connections:" .. l)
  end
end)

-- The labels listing as it was written in Lua (HGETALL, MGET, tonumber),
-- the reference for conn:labels.
local function labels_in_lua(hash, prefix)
  local flat = redis.call("HGETALL", hash)
  local live, stale, names = {}, {}, {}
  for k = 1, #flat, 2 do
    local exists = redis.call("EXISTS", prefix .. flat[k]) == 1
    local count = tonumber(flat[k + 1]) or 0
    if not exists or count == 0 then
      stale[#stale + 1] = flat[k]
    else
      live[flat[k]] = count
      names[#names + 1] = flat[k]
    end
  end
  table.sort(stale)
  table.sort(names)
  return live, stale, names
end

test("conn:labels agrees with HGETALL, MGET and tonumber", function()
  local c = redis.conn(0)
  math.randomseed(23)
  -- counts of every kind, heads that tie in 8 bytes, NUL bytes, and more
  -- fields than one MGET takes (10,000)
  local values = { "3", "0", "0.0", "2.5", " 7 ", "x", "", "0x10", "-1", "1e3", "4\0" }
  local heads = { "abcdefgh", "abcdefg", "abcdefgh\0", "abcdefghi", "a", "", "\xff\xfe",
    "abcdefgh\xff" }
  local cmds = {}
  for i = 1, 10500 do
    local label = i <= #heads and heads[i] or ("%07x.env%d"):format(i * 7919, i % 5)
    if i % 97 == 0 then label = label .. "\0" .. i end
    cmds[#cmds + 1] = { "HSET", "labels.t", label, values[i % #values + 1] }
    if i % 13 ~= 0 then
      cmds[#cmds + 1] = { "SET", "labels.t:" .. label, "exists" }
    end
  end
  cmds[#cmds + 1] = { "SADD", "labels.t:" .. heads[2], "a set: MGET says nil" }
  for first = 1, #cmds, 5000 do
    c:pipeline(table.move(cmds, first, math.min(first + 4999, #cmds), 1, {}))
  end
  redis.call("DEL", "labels.t:" .. heads[2])
  redis.call("SADD", "labels.t:" .. heads[2], "a set: MGET says nil")
  local want_live, want_stale, want_names = labels_in_lua("labels.t", "labels.t:")
  local live, stale, names = c:labels("labels.t", "labels.t:", { timeout = 5000 })
  eq(#want_names, #names)
  eq(want_names, names)
  eq(want_stale, stale)
  eq(want_live, live)
  for k, v in pairs(live) do eq(math.type(want_live[k]), math.type(v), k) end
  ok(#stale > 3000 and #names > 4000, "both kinds")
  -- an empty hash, and one that is not a hash
  local e1, e2, e3 = c:labels("labels.none", "x:")
  eq({}, e1); eq({}, e2); eq({}, e3)
  redis.call("SET", "labels.str", "x")
  local r, msg, code = c:labels("labels.str", "x:")
  eq(nil, r)
  ok(msg:find("^WRONGTYPE"), msg)
  eq("WRONGTYPE", code)
  raises(function() c:labels(nil, "x:") end, "string expected")
  raises(function() c:labels("h", "x:", { timeout = "soon" }) end, "timeout")
  local keys = { "labels.t", "labels.str" }
  for _, l in ipairs(redis.call("HKEYS", "labels.t")) do keys[#keys + 1] = "labels.t:" .. l end
  for first = 1, #keys, 1000 do
    redis.call("DEL", table.unpack(keys, first, math.min(first + 999, #keys)))
  end
end)

-- The `connections list` lines as the Lua loop made them.
local function lines_in_lua(names, values, width, shown)
  local out = {}
  for _, n in ipairs(names) do
    local s = shown and shown(n) or n
    local w = utf8.len(s) or #s
    out[#out + 1] = s .. (" "):rep(width - w) .. " " .. tostring(values[n]) .. "\n"
  end
  return table.concat(out)
end

test("core.padded_lines pads by characters and never cuts", function()
  local names = { "a", "", "\xc3\xa9t\xc3\xa9", "\xff\xfe bad utf-8", ("x"):rep(70),
    "tab\there", "ok" }
  local values = { a = 1, [""] = -42, ["\xc3\xa9t\xc3\xa9"] = 2.5, ["\xff\xfe bad utf-8"] = 0,
    [("x"):rep(70)] = math.mininteger, ["tab\there"] = "str", ok = 10 ^ 20 }
  for _, width in ipairs({ 0, 1, 5, 33, 60, 100 }) do
    eq(lines_in_lua(names, values, width), core.padded_lines(names, values, width))
  end
  local esc = function(s) return (s:gsub("\t", "\\t")) end
  eq(lines_in_lua(names, values, 60, esc), core.padded_lines(names, values, 60, esc))
  eq("", core.padded_lines({}, {}, 60))
  eq("z" .. (" "):rep(9) .. " nil\n", core.padded_lines({ "z" }, {}, 10))
  raises(function() core.padded_lines({ {} }, {}, 10) end, "not a string")
  raises(function() core.padded_lines({}, {}, "w") end, "number expected")
end)

test("core.sort_strings sorts as table.sort does in the C locale", function()
  math.randomseed(17)
  for _, n in ipairs({ 0, 1, 2, 3, 50, 2000 }) do
    local t, u = {}, {}
    for i = 1, n do
      local b = {}
      for j = 1, math.random(0, 6) do b[j] = string.char(({ 0, 97, 98, 122, 200, 255 })[math.random(6)]) end
      t[i] = table.concat(b)
      u[i] = t[i]
    end
    table.sort(u)
    eq(t, core.sort_strings(t))
    eq(u, t)
  end
  raises(function() core.sort_strings({ "a", 1 }) end, "string expected at index 2")
  raises(function() core.sort_strings("a") end, "table expected")
end)

test("argument checks", function()
  raises(function() connections.send(1, { type = "x" }) end, "channel or group")
  raises(function() connections.send("g", { "x" }) end, "message table")
  raises(function() connections.drop("*", { interval = -1 }) end, "interval")
end)

-- Replace redis.conn with one whose pipeline fails as fake(cmds) says.
local function with_fake(fake, f)
  local real = redis.conn
  redis.conn = function(i)
    local c = real(i)
    return setmetatable({ url = c.url, index = i }, { __index = {
      pcall = function(_, ...) return c:pcall(...) end,
      call = function(_, ...) return c:call(...) end,
      labels = function(_, ...) return c:labels(...) end,
      pipeline = function(_, cmds)
        local r, msg, code = fake(cmds)
        if r ~= nil or msg ~= nil then return r, msg, code end
        return c:pipeline(cmds)
      end } })
  end
  local good, err = pcall(f)
  redis.conn = real
  if not good then error(err, 0) end
end

test("a shard failing part-way is reported with what was sent", function()
  join("fail.test", 4)
  local err
  with_fake(function(cmds)
    if cmds[1][1] == "EVAL" then
      return nil, "redis shard 0 (unix:///x): Connection reset by peer", "connection"
    end
  end, function()
    err = raises(function() connections.drop("fail.test", { quiet = true }) end)
  end)
  ok(core.is_error(err))
  eq(core.exit.noredis, err.exit)
  ok(tostring(err):find("^redis shard 0 %(unix:///x%): Connection reset by peer; "
    .. "sent connection.drop to 0 connections of 1 label; "
    .. "4 connections unconfirmed %(in flight when stopped%)"), tostring(err))
  eq(4, err.result.unconfirmed)
  eq(0, err.result.unsent)
  eq(0, err.result.sent)
end)

test("pub/sub: a shard failing part-way gets nothing more, the rest is counted", function()
  local cmds = {}
  for i = 1, 12000 do
    cmds[i] = { "ZADD", "version.pubfail.test", math.floor(core.time()), P .. "specific." .. hex(32) }
  end
  redis.pipeline(cmds)
  redis.call("HSET", "connections", "pubfail.test", 12000)
  redis.call("SETEX", "connections:pubfail.test", 60, "exists")
  local pages, err = 0, nil
  with_fake(function(c)
    if c[1][1] == "PUBLISH" then
      pages = pages + 1
      if pages == 2 then
        return nil, "redis shard 0 (unix:///x): Connection reset by peer", "connection"
      end
    end
  end, function()
    err = raises(function()
      connections.drop("pubfail.test", { quiet = true, pubsub = true })
    end)
  end)
  eq(2, pages, "the third page was not published")
  eq(core.exit.noredis, err.exit)
  eq(1000, err.result.sent)
  eq(10000, err.result.unconfirmed)
  eq(1000, err.result.unsent)
  eq(12000, err.result.channels)
  ok(tostring(err):find("^redis shard 0 %(unix:///x%): Connection reset by peer; "
    .. "sent connection.drop to 1000 connections of 1 label; 1000 connections not sent; "
    .. "10000 connections unconfirmed"), tostring(err))
  redis.call("DEL", "version.pubfail.test", "connections:pubfail.test")
  redis.call("HDEL", "connections", "pubfail.test")
end)

test("Ctrl-C in a staggered send stops and keeps the count", function()
  join("int.test", 5)
  local n, err = 0, nil
  with_fake(function(cmds)
    if cmds[1][1] == "ZADD" then
      n = n + 1
      if n == 3 then core.error(core.exit.interrupted, "interrupted", "interrupted") end
    end
  end, function()
    err = raises(function()
      connections.drop("int.test", { interval = 1, quiet = true })
    end, "interrupted")
  end)
  eq(core.exit.interrupted, err.exit)
  eq(2, err.result.sent)
  eq(2, err.result.unsent)
  eq(1, err.result.unconfirmed)
  eq("sent connection.drop to 2 connections of 1 label; 2 connections not sent; "
    .. "1 connection unconfirmed (in flight when stopped)",
    connections.summary(err.result))
end)

test("send to a group on the default layer", function()
  local g = "chat.42"
  local proc = "specific." .. hex(32) .. "!"
  redis.conn(redis.shard_for(g)):call("ZADD", P .. ":group:" .. g, core.time(),
    proc .. "a", core.time(), proc .. "b")
  local r = connections.send(g, { type = "chat.event", n = 1 })
  eq(2, r.sent); eq(1, r.process_keys)
  local data = redis.conn(redis.shard_for(proc)):call("ZRANGE", P .. proc, 0, -1)[1]
  local m = require("venueless.msgpack").decode(data:sub(13))
  eq("chat.event", m.type); eq(1, m.n)
  eq({ proc .. "a", proc .. "b" }, { m.__asgi_channel__[1], m.__asgi_channel__[2] })
  -- type first, then the other keys sorted, __asgi_channel__ last
  local want = "\x83\xa4type\xaachat.event\xa1n\x01\xb0__asgi_channel__\x92"
  eq(want, data:sub(13, 12 + #want))
end)
