-- Messages to a channel-layer group (user.<uuid>, world.<id>) with
-- venueless.channel_layer.group_send: the bytes stored on the default
-- layer, expired members, capacity, and PUBLISH on the pub/sub layer
-- (shared/reference/commands.md, "Messages to a group of connections").
local layer = require "venueless.channel_layer"
local redis = require "venueless.redis"
local core = require "venueless.core"

local function hex(n)
  local t = {}
  for i = 1, n do t[i] = ("%x"):format(math.random(0, 15)) end
  return table.concat(t)
end

-- The msgpack str of a 74-byte channel name (str8).
local function str74(s)
  eq(74, #s)
  return "\xd9\x4a" .. s
end

test("the layer's key layout and limits", function()
  eq("venueless:0:asgi:", layer.channel_prefix)
  eq({ "venueless:0:asgi::group:user.1", 0 }, { layer.group_key("user.1") })
  eq({ "venueless:0:asgi:__group__world.x", 0 }, { layer.group_channel("world.x") })
  eq({ "venueless:0:asgi:specific.ab!", 0 }, { layer.process_key("specific.ab!cd") })
  eq(10000, layer.capacity); eq(60, layer.expiry); eq(86400, layer.group_expiry)
  eq(true, layer.is_channel("specific.ab!cd", false))
  eq(false, layer.is_channel("user.1", false))
  eq(true, layer.is_channel("venueless:0:asgi:specific.ab", true))
end)

test("default layer: one message per process key, expired members dropped", function()
  local group = "user." .. core.time()
  local key = "venueless:0:asgi::group:" .. group
  local p1, p2 = "specific." .. hex(32) .. "!", "specific." .. hex(32) .. "!"
  local a, b, c = p1 .. hex(32), p1 .. hex(32), p2 .. hex(32)
  local old = p2 .. hex(32)
  local now = core.time()
  redis.call("ZADD", key, now, a, now, b, now, c, now - 86401, old)
  local r = layer.group_send(group, { type = "connection.reload" })
  eq({ layer = "default", channels = 3, process_keys = 2, sent = 3,
    over_capacity = 0, over_capacity_channels = 0 }, r)
  eq(0, redis.call("ZSCORE", key, old) and 1 or 0, "the expired member is gone")
  local head = "\x82\xa4type\xb1connection.reload\xb0__asgi_channel__"
  local items = redis.call("ZRANGE", "venueless:0:asgi:" .. p1, 0, -1, "WITHSCORES")
  eq(2, #items)
  local got = items[1]:sub(13)
  ok(got == head .. "\x92" .. str74(a) .. str74(b) or got == head .. "\x92" .. str74(b) .. str74(a),
    "both channels of p1 in one message")
  ok(math.abs(tonumber(items[2]) - now) < 5, "score is now")
  eq({ head .. "\x91" .. str74(c) },
    { redis.call("ZRANGE", "venueless:0:asgi:" .. p2, 0, -1)[1]:sub(13) })
  local ttl = redis.call("TTL", "venueless:0:asgi:" .. p2)
  ok(ttl > 55 and ttl <= 60, "expiry 60")
  eq({ layer = "default", channels = 0, process_keys = 0, sent = 0, over_capacity = 0,
    over_capacity_channels = 0 }, layer.group_send("user.nobody", { type = "x" }))
end)

test("default layer: a full process key is counted, not written", function()
  local group = "world.full"
  local p = "specific." .. hex(32) .. "!"
  local pkey = "venueless:0:asgi:" .. p
  local cmds = {}
  for i = 1, 10000 do cmds[i] = { "ZADD", pkey, i, "m" .. i } end
  redis.pipeline(cmds)
  redis.call("ZADD", "venueless:0:asgi::group:" .. group, core.time(), p .. "x", core.time(), p .. "y")
  local r = layer.group_send(group, { type = "world.update" })
  eq(0, r.sent); eq(1, r.over_capacity); eq(2, r.over_capacity_channels)
  eq(10000, redis.call("ZCARD", pkey))
end)

test("pub/sub layer: PUBLISH to P__group__G with the bare msgpack", function()
  local chan = "venueless:0:asgi:__group__world.sample"
  local out = os.getenv("VL_TMP") .. "/sub.out"
  local pid = sh(("redis-cli -s %s/redis0.sock SUBSCRIBE %s >%s 2>&1 </dev/null & echo $!")
    :format(os.getenv("VL_TMP"), chan, out)):match("%d+")
  local ready = false
  for _ = 1, 250 do
    ready = redis.call("PUBSUB", "NUMSUB", chan)[2] == 1
    if ready then break end
    core.sleep(20)
  end
  ok(ready, "subscribed")
  local r = layer.group_send("world.sample", { type = "world.update" }, { pubsub = true })
  eq({ layer = "pubsub", channel = chan, delivered = 1 }, r)
  local want = "message\n" .. chan .. "\n\x81\xa4type\xacworld.update\n"
  local data = ""
  for _ = 1, 250 do
    local f = io.open(out, "rb")
    data = f and f:read("a") or ""
    if f then f:close() end
    if data:find(want, 1, true) then break end
    core.sleep(20)
  end
  os.execute("kill " .. pid)
  ok(data:find(want, 1, true), "received: " .. data)
end)

test("misuse raises, an unreachable Redis exits 11", function()
  raises(function() layer.group_send(1, { type = "x" }) end, "group name")
  raises(function() layer.group_send("user.1", { "x" }) end, "message table")
  local out, code = sh(("VENUELESS_REDIS_URLS=unix://%s/none.sock %s shell -e '%s'"):format(
    os.getenv("VL_TMP"), os.getenv("VENUELESS"),
    [[require("venueless.channel_layer").group_send("user.1", { type = "connection.reload" })]]))
  eq(11, code, out)
end)
