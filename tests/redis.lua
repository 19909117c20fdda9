-- venueless.redis against one throwaway server on a unix socket.
local redis = require "venueless.redis"
local core = require "venueless.core"
local config = require "venueless.config"

local urls = config.redis.urls
local base = urls[1]
local sock = assert(base:match("^unix://([^?]+)"))
local tmp = os.getenv("VL_TMP")

-- Run f with config.redis.urls replaced, on fresh connections.
local function with_urls(list, f)
  redis.close()
  config.redis.urls = list
  local good, err = pcall(f)
  redis.close()
  config.redis.urls = urls
  if not good then error(err, 0) end
end

-- Wall-clock seconds, fractional.
local function now()
  local out = sh("date +%s.%N")
  return tonumber(out)
end

test("shards and connection objects", function()
  eq(1, redis.shards())
  local c = redis.conn(0)
  ok(rawequal(c, redis.conn(0)), "connection objects are cached")
  eq(0, c.index)
  eq(base, c.url)
  eq("<redis shard 0 " .. base .. ">", tostring(c))
  raises(function() redis.conn(1) end, "no redis shard 1")
  raises(function() redis.conn(-1) end, "no redis shard")
  raises(function() redis.conn("x") end, "number expected")
end)

test("reply types with call and pcall", function()
  redis.call("FLUSHDB")
  for _, call in ipairs({ "call", "pcall" }) do
    local c = redis.conn(0)
    eq("OK", c[call](c, "SET", "s", "value"))        -- status
    eq("PONG", c[call](c, "PING"))                    -- status
    eq("value", c[call](c, "GET", "s"))               -- bulk
    eq(false, c[call](c, "GET", "nosuchkey"))         -- nil
    eq(3, c[call](c, "RPUSH", call, "a", "b", "c"))   -- integer
    eq(math.type(1), math.type(c[call](c, "LLEN", call)))
    eq({ "a", "b", "c" }, c[call](c, "LRANGE", call, 0, -1))  -- array
    eq({}, c[call](c, "LRANGE", "nosuchkey", 0, -1))  -- empty array
    eq({ 1, { "x", { 2, false } }, "y" }, c[call](c, "EVAL",
      "return {1, {'x', {2, false}}, 'y'}", 0))       -- nested, nil inside
    eq(-5, c[call](c, "INCRBY", "neg" .. call, -5))
    eq(math.maxinteger, c[call](c, "INCRBY", "big" .. call, math.maxinteger))
  end
  eq("OK", redis.call("SET", "t", "v"))
  eq("v", redis.pcall("GET", "t"))
end)

test("error replies: pcall returns nil, message, code; call raises", function()
  redis.call("DEL", "l")
  redis.call("RPUSH", "l", "x")
  local msg, code = fails("^WRONGTYPE Operation against a key", redis.pcall("GET", "l"))
  eq("WRONGTYPE", code)
  msg, code = fails("^ERR unknown command", redis.pcall("NOSUCHCOMMAND", "x"))
  eq("ERR", code)
  local e = raises(function() redis.call("GET", "l") end, "WRONGTYPE")
  ok(core.is_error(e), "an error object")
  eq("WRONGTYPE", e.code)
  eq(core.exit.failure, e.exit)
  ok(e.message:find("^WRONGTYPE"))
  -- the connection is still usable after an error reply
  eq("PONG", redis.call("PING"))
end)

test("arguments: integers, floats, binary-safe strings", function()
  redis.call("SET", "i", 42)
  eq("42", redis.call("GET", "i"))
  redis.call("SET", "i", math.mininteger)
  eq(tostring(math.mininteger), redis.call("GET", "i"))
  redis.call("SET", "f", 0.1)
  eq("0.10000000000000001", redis.call("GET", "f"))
  redis.call("SET", "f", 1e300)
  eq("1.0000000000000001e+300", redis.call("GET", "f"))
  redis.call("SET", "f", 2.5)
  eq("2.5", redis.call("GET", "f"))
  local bin = "a\0b\0\255\254\192\128 \r\n$3\r\n" .. string.char(0, 1, 2, 200)
  redis.call("SET", bin, bin)
  eq(bin, redis.call("GET", bin))
  local all = {}
  for i = 0, 255 do all[#all + 1] = string.char(i) end
  all = table.concat(all)
  redis.call("SET", "all", all)
  eq(all, redis.call("GET", "all"))
  eq(256, redis.call("STRLEN", "all"))
  redis.call("SET", "empty", "")
  eq("", redis.call("GET", "empty"))
end)

test("bad argument types raise", function()
  raises(function() redis.call("SET", "k", {}) end, "string or number expected")
  raises(function() redis.call("SET", "k", true) end, "string or number expected")
  raises(function() redis.call("SET", "k", nil) end, "string or number expected")
  raises(function() redis.pcall("SET", "k", print) end, "string or number expected")
  raises(function() redis.call() end, "string expected")
  raises(function() redis.call({}) end, "string expected")
  raises(function() redis.pipeline("x") end, "table expected")
  raises(function() redis.pipeline({ "PING" }) end, "command 1 is not a table")
  raises(function() redis.pipeline({ { "PING" }, {} }) end, "command 2 is empty")
  raises(function() redis.pipeline({ { "SET", "k", {} } }) end,
    "command 1 argument 3: string or number expected, got table")
  eq("PONG", redis.call("PING"))
end)

test("a pipeline raising half-way leaves no stale replies behind", function()
  redis.call("SET", "stale", "x")
  local cmds = {}
  for i = 1, 20000 do cmds[i] = { "GET", "stale" } end
  local huge = { "DEL" }
  for i = 2, 1100000 do huge[i] = "k" end
  cmds[#cmds + 1] = huge
  raises(function() redis.pipeline(cmds) end, "too many redis arguments")
  eq("PONG", redis.call("PING"))
  eq(2, redis.call("INCRBY", "fresh", 2))
end)

test("large values (10 MB) round trip", function()
  local big = string.rep("0123456789abcdef\0\255", 10 * 1024 * 1024 // 18 + 1)
  ok(#big >= 10 * 1024 * 1024)
  eq("OK", redis.call("SET", "big", big))
  local got = redis.call("GET", "big")
  eq(#big, #got)
  ok(got == big, "10 MB value round trip")
  local r = redis.pipeline({ { "GET", "big" }, { "STRLEN", "big" }, { "GET", "big" } })
  ok(r[1] == big and r[3] == big)
  eq(#big, r[2])
  redis.call("DEL", "big")
end)

test("pipeline of 100,000 commands", function()
  redis.call("FLUSHDB")
  local n = 100000
  local cmds = {}
  for i = 1, n do cmds[i] = { "SET", "k" .. i, i } end
  local r = redis.pipeline(cmds)
  eq(n, #r)
  for i = 1, n do if r[i] ~= "OK" then error("reply " .. i .. ": " .. tostring(r[i])) end end
  eq(n, redis.call("DBSIZE"))
  for i = 1, n do cmds[i] = { "GET", "k" .. i } end
  r = redis.pipeline(cmds)
  eq(n, #r)
  for i = 1, n do if r[i] ~= tostring(i) then error("GET " .. i .. ": " .. tostring(r[i])) end end
  for i = 1, n do cmds[i] = { "INCR", "counter" } end
  r = redis.pipeline(cmds)
  eq(n, r[n])
  eq(1, r[1])
  redis.call("FLUSHDB")
end)

test("pipeline: error replies in place, replies of every type", function()
  redis.call("DEL", "l", "s")
  local r = redis.conn(0):pipeline({
    { "SET", "s", "v" },
    { "RPUSH", "l", "x", "y" },
    { "GET", "l" },
    { "GET", "s" },
    { "GET", "nosuchkey" },
    { "LRANGE", "l", 0, -1 },
    { "NOSUCHCOMMAND" },
    { "MULTI" }, { "INCR", "s" }, { "INCR", "ctr" }, { "EXEC" },
    { "PING" },
  })
  eq(12, #r)
  eq("OK", r[1])
  eq(2, r[2])
  ok(type(r[3]) == "table" and r[3].err:find("^WRONGTYPE"), "WRONGTYPE in place")
  eq("v", r[4])
  eq(false, r[5])
  eq({ "x", "y" }, r[6])
  ok(r[7].err:find("^ERR unknown command"))
  eq("OK", r[8])
  eq("QUEUED", r[9])
  eq("QUEUED", r[10])
  ok(r[11][1].err:find("^ERR value is not an integer"), "error inside EXEC")
  eq(1, r[11][2])
  eq("PONG", r[12])
  eq({}, redis.pipeline({}))
end)

-- What a reply read with by = "!" must equal, made from the plain reply
-- with Lua and msgpack.encode.
local function grouped_in_lua(list, by)
  local msgpack = require "venueless.msgpack"
  local out, at = { n = #list, last = list[#list] }, {}
  for _, m in ipairs(list) do
    local d = m:find(by, 1, true)
    local name = d and m:sub(1, d) or m
    local g = at[name]
    if g == nil then
      g = { name = name, n = 0, parts = {} }
      at[name] = g
      out[#out + 1] = g
    end
    g.n = g.n + 1
    g.parts[#g.parts + 1] = msgpack.encode(m)
  end
  for _, g in ipairs(out) do g.body = table.concat(g.parts); g.parts = nil end
  return out
end

test("pipeline by: arrays of strings grouped by a prefix, in C", function()
  redis.call("DEL", "z", "zempty")
  math.randomseed(31)
  -- names of every msgpack str size, without the byte, empty, repeated
  -- prefixes in any order, hundreds of distinct names
  local cmds, members = {}, {}
  for i = 1, 3000 do
    local p = ("p%d"):format(math.random(1, i < 2000 and 7 or 900))
    local tail = ("x"):rep(({ 0, 5, 30, 31, 40, 254, 300, 70000 })[i % 8 + 1])
    local m = i % 11 == 0 and ("nobang" .. i) or (p .. "!" .. i .. tail)
    if i == 17 then m = "" end
    if i == 18 then m = "!" end
    members[#members + 1] = m
    cmds[#cmds + 1] = { "ZADD", "z", i, m }
  end
  redis.pipeline(cmds)
  local c = redis.conn(0)
  local plain = c:pipeline({ { "ZRANGE", "z", 0, -1 } })[1]
  eq(#members, #plain)
  local r = c:pipeline({
    { "ZRANGE", "z", 0, -1, by = "!" },
    { "ZRANGE", "zempty", 0, -1, by = "!" },
    { "MULTI" }, { "ZRANK", "z", plain[10] }, { "ZRANGE", "z", 10, 19 },
    { "EXEC", by = "!" },
    { "ZRANGE", "z", 0, 4 },
    { "GET", "nosuchkey", by = "!" },
    { "ZRANGE", "z", 0, 2, by = "x" },
  })
  eq(grouped_in_lua(plain, "!"), r[1])
  ok(#r[1] > 500, "many groups")
  eq({ n = 0 }, r[2])
  eq(9, r[6][1])
  eq(grouped_in_lua(table.move(plain, 11, 20, 1, {}), "!"), r[6][2])
  eq(table.move(plain, 1, 5, 1, {}), r[7])
  eq(false, r[8])
  eq(grouped_in_lua(table.move(plain, 1, 3, 1, {}), "x"), r[9])
  raises(function() c:pipeline({ { "PING", by = "ab" } }) end, "by must be one byte")
  raises(function() c:pipeline({ { "PING", by = 1 } }) end, "by must be one byte")
  redis.call("DEL", "z")
end)

test("db selection from the URL isolates databases", function()
  local db1 = "unix://" .. sock .. "?db=1"
  with_urls({ base, db1 }, function()
    eq(2, redis.shards())
    redis.conn(0):call("SET", "where", "db0")
    redis.conn(1):call("SET", "where", "db1")
    redis.conn(1):call("SET", "only1", "x")
    eq("db0", redis.conn(0):call("GET", "where"))
    eq("db1", redis.conn(1):call("GET", "where"))
    eq(false, redis.conn(0):call("GET", "only1"))
  end)
  local out = sh("redis-cli -s " .. sock .. " -n 1 GET where")
  eq("db1\n", out)
  out = sh("redis-cli -s " .. sock .. " -n 0 GET where")
  eq("db0\n", out)
end)

test("URL forms and password masking", function()
  local list = {
    "redis://:s3cret@127.0.0.1:1/2",
    "redis://user:s3cret@localhost/3",
    "unix://" .. sock .. "?db=0&password=s3cret",
    "redis://127.0.0.1",
    "redis://[::1]:6390/0",
  }
  with_urls(list, function()
    eq("redis://:***@127.0.0.1:1/2", redis.conn(0).url)
    eq("redis://user:***@localhost/3", redis.conn(1).url)
    eq("unix://" .. sock .. "?db=0&password=***", redis.conn(2).url)
    eq("redis://127.0.0.1", redis.conn(3).url)
    eq("redis://[::1]:6390/0", redis.conn(4).url)
    ok(not tostring(redis.conn(0)):find("s3cret"))
    -- shard 0 is a closed TCP port: a connection failure, without the password
    local msg, code = fails("^redis shard 0 %(redis://:%*%*%*@127.0.0.1:1/2%): ",
      redis.pcall("PING"))
    eq("connection", code)
    ok(not msg:find("s3cret"), "password not in the message")
  end)
  for _, bad in ipairs({ "rediss://h:6379/0", "http://x", "redis://h:99999/0",
      "redis://h/x", "unix://relative?db=0", "unix:///s?db=x" }) do
    with_urls({ bad }, function()
      local e = raises(function() redis.conn(0) end, "redis shard 0: ")
      ok(core.is_error(e))
    end)
  end
  with_urls({ "rediss://:pw@h:6379/0" }, function()
    raises(function() redis.call("PING") end, "rediss:// %(TLS%) URLs are not supported")
  end)
end)

test("connection failures: nil, message naming the shard, connection", function()
  local gone = "unix://" .. tmp .. "/nosuch.sock?db=0"
  with_urls({ base, gone }, function()
    local c = redis.conn(1)
    local t0 = now()
    local msg, code = fails("^redis shard 1 %(" .. gone:gsub("%p", "%%%0") .. "%): ",
      c:pcall("PING"))
    eq("connection", code)
    ok(now() - t0 < 1, "fails quickly")
    local r
    local pe = raises(function() c:pipeline({ { "PING" } }) end, "^redis shard 1 ")
    eq(core.exit.noredis, pe.exit)
    eq("connection", pe.code)
    r, msg, code = core.try(c.pipeline, c, { { "PING" } })
    eq(nil, r)
    eq("connection", code)
    ok(msg:find("^redis shard 1 "))
    local e = raises(function() c:call("PING") end, "^redis shard 1 ")
    eq(core.exit.noredis, e.exit)
    eq("connection", e.code)
    eq("PONG", redis.conn(0):call("PING"))
  end)
end)

test("close, <close>, closed handles and reconnecting", function()
  local c = redis.conn(0)
  eq("PONG", c:call("PING"))
  c:close()
  c:close()
  eq("<redis shard 0 (closed)>", tostring(c))
  raises(function() c:call("PING") end, "closed redis connection")
  raises(function() c:pipeline({ { "PING" } }) end, "closed redis connection")
  local c2 = redis.conn(0)
  ok(not rawequal(c, c2), "a new object after close")
  eq("PONG", c2:call("PING"))
  do
    local c3 <close> = redis.conn(0)
    eq("PONG", c3:call("PING"))
  end
  eq("PONG", redis.call("PING"))
  redis.close()
  eq("PONG", redis.call("PING"))
  local id1 = redis.call("CLIENT", "ID")
  redis.close()
  ok(redis.call("CLIENT", "ID") ~= id1, "redis.close() reconnects lazily")
end)

test("shard_for matches binascii.crc32 for n = 1..4", function()
  local names = { "", "a", "abc", "version.unknown.unknown",
    "specific.0123456789abcdef0123456789abcdef!",
    "modelcache:core.World:sample", "venueless:0:asgi:specific.abc!def",
    "\0\255binary\128", "ünïcödé" }
  for i = 1, 500 do names[#names + 1] = "name-" .. i .. string.rep("x", i % 7) end
  local hex = {}
  for i, n in ipairs(names) do
    hex[i] = n:gsub(".", function(ch) return ("%02x"):format(ch:byte()) end)
    if hex[i] == "" then hex[i] = "-" end
  end
  local path = tmp .. "/names.txt"
  local f = assert(io.open(path, "w"))
  f:write(table.concat(hex, "\n"), "\n")
  f:close()
  local py = [[
import binascii, sys
for line in open(sys.argv[1]):
    v = bytes.fromhex("" if line.strip() == "-" else line.strip())
    print(" ".join(str(int((binascii.crc32(v) & 0xFFF) / (4096 / n))) for n in (1, 2, 3, 4)))
]]
  local pyf = assert(io.open(tmp .. "/shard.py", "w"))
  pyf:write(py)
  pyf:close()
  local out, code = sh("python3 " .. tmp .. "/shard.py " .. path)
  eq(0, code)
  local expect = {}
  for line in out:gmatch("[^\n]+") do expect[#expect + 1] = line end
  eq(#names, #expect)
  local seen = {}
  for n = 1, 4 do
    local list = {}
    for i = 1, n do list[i] = base end
    with_urls(list, function()
      for i, name in ipairs(names) do
        local want = math.tointeger(select(n, expect[i]:match("(%d+) (%d+) (%d+) (%d+)")) + 0)
        local got = redis.shard_for(name)
        if got ~= want then
          error(("n=%d %q: expected %d, got %d"):format(n, name, want, got))
        end
        seen[n .. ":" .. got] = true
      end
    end)
  end
  ok(seen["3:0"] and seen["3:1"] and seen["3:2"] and seen["4:3"], "every shard used")
  eq(0, redis.shard_for("anything"))
end)

test("Ctrl-C abandons a blocking call; the next call reconnects", function()
  local pid = core.getpid()
  redis.call("SET", "before", "1")
  local id1 = redis.call("CLIENT", "ID")
  os.execute(("(sleep 0.3; kill -INT %d) &"):format(pid))
  local t0 = now()
  local good, e = pcall(redis.call, "BLPOP", "nosuchlist", 0)
  ok(not good, "interrupted")
  ok(core.is_error(e) and e.code == "interrupted", "interrupted error: " .. tostring(e))
  eq(core.exit.interrupted, e.exit)
  ok(now() - t0 < 1.5, "promptly")
  core.clear_interrupt()
  eq("1", redis.call("GET", "before"))
  ok(redis.call("CLIENT", "ID") ~= id1, "a new connection")
  -- during a pipeline
  os.execute(("(sleep 0.3; kill -INT %d) &"):format(pid))
  good, e = pcall(redis.pipeline, { { "PING" }, { "BLPOP", "nosuchlist", 0 }, { "PING" } })
  ok(not good and core.is_error(e) and e.code == "interrupted")
  core.clear_interrupt()
  eq({ "PONG", false }, redis.pipeline({ { "PING" }, { "LPOP", "nosuchlist" } }))
end)

test("connect_timeout bounds connecting to a server that never answers", function()
  eq(5000, redis.connect_timeout())
  raises(function() redis.connect_timeout(0) end, "out of range")
  -- listens (the connect succeeds) but never replies to AUTH
  local path = tmp .. "/silent.sock"
  local stop = silent_server(path)
  local good, err = pcall(with_urls, { "unix://:pw@" .. path }, function()
    eq(300, redis.connect_timeout(300))
    local t0 = now()
    local _, code = fails("timed out", redis.conn(0):pcall("PING"))
    eq("connection", code)
    local took = now() - t0
    ok(took >= 0.25 and took < 1.5, "about 300 ms, took " .. took)
  end)
  redis.connect_timeout(5000)
  stop()
  if not good then error(err, 0) end
end)

test("pipeline timeout: a silent server fails after it, nothing else does", function()
  raises(function() redis.pipeline({ { "PING" } }, { timeout = -1 }) end, "out of range")
  raises(function() redis.pipeline({ { "PING" } }, { timeout = "x" }) end, "milliseconds")
  raises(function() redis.pipeline({ { "PING" } }, 5) end, "table expected")
  eq({ "PONG" }, redis.pipeline({ { "PING" } }, { timeout = 300 }))
  eq({ "PONG" }, redis.pipeline({ { "PING" } }, {}))
  local path = tmp .. "/silent2.sock"
  local stop = silent_server(path)
  local good, err = pcall(with_urls, { "unix://" .. path }, function()
    local conn = redis.conn(0)
    for _, cmds in ipairs { { { "PING" } }, { { "SET", "k", ("x"):rep(1e6) }, { "GET", "k" } } } do
      local t0 = now()
      local msg, code, exit = failure("timed out %(no reply for 0.3 s%)", conn.pipeline, conn,
        cmds, { timeout = 300 })
      eq("connection", code)
      eq(core.exit.noredis, exit)
      ok(msg:find("^redis shard 0 %(unix://"), msg)
      local took = now() - t0
      ok(took >= 0.25 and took < 1.5, "about 300 ms, took " .. took)
    end
  end)
  stop()
  if not good then error(err, 0) end
end)

test("pipeline timeout counts from the last progress, not the start", function()
  -- 25 scripts that each keep the server busy 100 ms: 2.5 s in all,
  -- never 800 ms without a reply (Redis answers what one read brought
  -- in at once: the padding makes that one script)
  local busy = [[
local s = redis.call('TIME')
local t0 = s[1] * 1000000 + s[2]
repeat s = redis.call('TIME') until s[1] * 1000000 + s[2] - t0 > 100000
return 1]]
  local cmds = {}
  for i = 1, 25 do cmds[i] = { "EVAL", busy, 0, ("x"):rep(65536) } end
  local t0 = now()
  local r = redis.pipeline(cmds, { timeout = 800 })
  ok(now() - t0 >= 2.4, "the scripts did not run")
  for i = 1, 25 do eq(1, r[i]) end
end)
