-- The channels_redis channel layer as venueless servers use it, stated
-- once: key layout, shard routing, the message wire format, the limits,
-- the connection label, and sending one message to a group on either
-- layer (shared/reference/README.md "Connections", commands.md
-- "Messages to a group of connections").
--
--   P = channel_prefix = "venueless:<[redis] db>:asgi:"
--   P:group:G            default layer group, zset     (shard_for(G))
--   P..specific.<hex>!   a server process's messages   (shard_for("specific.<hex>!"))
--   P__group__G          pub/sub layer group channel   (shard_for(P.."__group__"..G))
local core = require "venueless.core"
local config = require "venueless.config"
local redis = require "venueless.redis"
local msgpack = require "venueless.msgpack"

local M = {}

M.capacity = 10000      -- messages a process key holds before refusing more
M.expiry = 60           -- s a process key lives after its last message
M.group_expiry = 86400  -- s a group member counts as joined
M.channel_prefix = ("venueless:%d:asgi:"):format(config.redis.db)
-- A server process's connection label, "<commit>.<environment>".
M.label = config.commit_sha .. "." .. config.environment
-- The options of the tool's own pipelines: a shard that stops answering
-- fails after [redis] timeout seconds (exit 11) instead of hanging.
-- (One table, defined beside the label listing that loads alone.)
M.redis_opts = require("venueless.connections.labels").redis_opts

-- Capacity check and add, atomic per key (channels_redis group_send).
-- KEYS: process keys; ARGV: one message per key, then capacity, now,
-- expiry. Returns the 1-based indices of the keys over capacity.
M.SEND_SCRIPT = [[
local n = #KEYS
local capacity = tonumber(ARGV[n + 1])
local now, expiry = ARGV[n + 2], ARGV[n + 3]
local over = {}
for i = 1, n do
  if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < capacity then
    redis.call('ZADD', KEYS[i], now, ARGV[i])
    redis.call('EXPIRE', KEYS[i], expiry)
  else
    over[#over + 1] = i
  end
end
return over
]]

---------------------------------------------------------------- layout

-- The pub/sub layer when opts.pubsub says so, else as configured.
function M.use_pubsub(opts)
  if opts and opts.pubsub ~= nil then return opts.pubsub and true or false end
  return config.redis.use_pubsub and true or false
end

-- Default layer: the sorted set of group G and its shard.
function M.group_key(group)
  return M.channel_prefix .. ":group:" .. group, redis.shard_for(group)
end

-- Pub/sub layer: the channel a group's messages are published on, and
-- its shard (the full name picks it).
function M.group_channel(group)
  local channel = M.channel_prefix .. "__group__" .. group
  return channel, redis.shard_for(channel)
end

-- A channel's server process name: up to and including "!".
function M.process_name(channel)
  local bang = channel:find("!", 1, true)
  return bang and channel:sub(1, bang) or channel
end

-- The process key that holds a channel's messages, and its shard.
function M.process_key(channel)
  local name = M.process_name(channel)
  return M.channel_prefix .. name, redis.shard_for(name)
end

-- Does name denote one channel (rather than a group) on this layer?
function M.is_channel(name, pubsub)
  if pubsub then
    local p = M.channel_prefix .. "specific."
    return name:sub(1, #p) == p
  end
  return name:find("!", 1, true) ~= nil
end

-- Group members joined before this are gone (ZREMRANGEBYSCORE 0 cutoff).
function M.cutoff(now)
  return math.floor(now or core.time()) - M.group_expiry
end

---------------------------------------------------------------- messages

-- A copy of message with its keys in order: type first, then the rest
-- sorted, then __asgi_channel__ when channels are given.
function M.ordered(message, channels)
  local t, keys = {}, {}
  for k, v in pairs(message) do
    if k ~= "__asgi_channel__" then
      t[k] = v
      if k ~= "type" then keys[#keys + 1] = k end
    end
  end
  table.sort(keys)
  if t.type ~= nil then table.insert(keys, 1, "type") end
  if channels then
    t.__asgi_channel__ = channels
    keys[#keys + 1] = "__asgi_channel__"
  end
  return setmetatable(t, { __order = keys })
end

-- The pub/sub payload: msgpack of the message, nothing else.
function M.encode(message)
  return msgpack.encode(M.ordered(message))
end

-- A process key member: 12 random bytes (so equal messages stay
-- distinct members) + msgpack with __asgi_channel__ = channels.
function M.stored(message, channels)
  return require("venueless.crypto").random_bytes(12)
    .. msgpack.encode(M.ordered(message, channels))
end

-- A stored message in parts, for a send too big to hold (connections.lua
-- streams a group's members): stored_head(message, n) is the 12 random
-- bytes and the msgpack map up to the header of an __asgi_channel__
-- array of n names, channels_body(list) the msgpack strs of list, so
-- stored_head(m, n) .. channels_body(l1) .. channels_body(l2) .. is
-- stored(m, l1 + l2) byte for byte when #l1 + #l2 == n.
function M.stored_head(message, n)
  local one = msgpack.encode(M.ordered(message, { "x" }))
  local head = one:sub(1, -4)   -- without "\x91\xa1x"
  local array
  if n < 16 then array = string.char(0x90 + n)
  elseif n < 0x10000 then array = string.pack(">BI2", 0xdc, n)
  else array = string.pack(">BI4", 0xdd, n) end
  return require("venueless.crypto").random_bytes(12) .. head .. array
end

function M.channels_body(list)
  local n = #list
  local s = msgpack.encode(list)
  return s:sub((n < 16 and 1 or n < 0x10000 and 3 or 5) + 1)
end

-- Capacity check and add of messages in parts (stored_head, the start
-- of the body in a scratch key on the same shard, the rest of the body).
-- ARGV[1] = n; for key i: ARGV[3i-1] head, ARGV[3i] tail, ARGV[3i+1]
-- "j:len" when KEYS[j] holds the first len bytes of the body, else "";
-- then capacity, now, expiry. Scratch keys are deleted. Returns the
-- indices over capacity and the indices whose scratch key was lost
-- (expired: nothing added).
M.SEND_PARTS_SCRIPT = [[
local n = tonumber(ARGV[1])
local capacity = tonumber(ARGV[3 * n + 2])
local now, expiry = ARGV[3 * n + 3], ARGV[3 * n + 4]
local over, lost = {}, {}
for i = 1, n do
  local j, len = string.match(ARGV[3 * i + 1], '^(%d+):(%d+)$')
  local body = ''
  if j then
    j = tonumber(j)
    if redis.call('STRLEN', KEYS[j]) == tonumber(len) then
      body = redis.call('GET', KEYS[j])
    else
      body = false
    end
    redis.call('DEL', KEYS[j])
  end
  if not body then
    lost[#lost + 1] = i
  elseif redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < capacity then
    redis.call('ZADD', KEYS[i], now, ARGV[3 * i - 1] .. body .. ARGV[3 * i])
    redis.call('EXPIRE', KEYS[i], expiry)
  else
    over[#over + 1] = i
  end
end
return { over, lost }
]]

-- The EVAL that adds messages[i] to keys[i] unless full, scored now.
function M.add_command(keys, messages, now)
  local cmd = { "EVAL", M.SEND_SCRIPT, #keys }
  table.move(keys, 1, #keys, #cmd + 1, cmd)
  table.move(messages, 1, #messages, #cmd + 1, cmd)
  cmd[#cmd + 1] = M.capacity
  cmd[#cmd + 1] = now or core.time()
  cmd[#cmd + 1] = M.expiry
  return cmd
end

---------------------------------------------------------------- group_send

-- conn's replies to cmds with the tool's deadline; a failure or an error
-- reply (NOAUTH before a password) raises with its code.
function M.pipeline(conn, cmds)
  local r = conn:pipeline(cmds, M.redis_opts)
  for _, reply in ipairs(r) do
    if type(reply) == "table" and reply.err then
      core.fail(reply.err, reply.err:match("^%u+") or "ERR")
    end
  end
  return r
end

-- Run cmds on shard i, as M.pipeline.
local function pipeline(i, cmds)
  return M.pipeline(redis.conn(i), cmds)
end

-- A group's live members, older ones dropped: {channels}.
local function members(group)
  local key, shard = M.group_key(group)
  return pipeline(shard, { { "ZREMRANGEBYSCORE", key, 0, M.cutoff() },
    { "ZRANGE", key, 0, -1 } })[2]
end

-- The members grouped by process key, by shard: {[shard] = {{key=,
-- channels=}...}}, and how many process keys.
local function by_process(channels)
  local shards, keys, n = {}, {}, 0
  for _, ch in ipairs(channels) do
    local key, shard = M.process_key(ch)
    local p = keys[key]
    if p == nil then
      p = { key = key, channels = {} }
      keys[key], n = p, n + 1
      shards[shard] = shards[shard] or {}
      table.insert(shards[shard], p)
    end
    p.channels[#p.channels + 1] = ch
  end
  return shards, n
end

-- Default layer: one message per process key, one EVAL per shard (a
-- group reaches a few server processes, not thousands).
local function send_default(group, message)
  local chans = members(group)
  local shards, nkeys = by_process(chans)
  local r = { layer = "default", channels = #chans, process_keys = nkeys,
    sent = 0, over_capacity = 0, over_capacity_channels = 0 }
  local now = core.time()
  for shard, procs in pairs(shards) do
    local keys, msgs = {}, {}
    for k, p in ipairs(procs) do keys[k], msgs[k] = p.key, M.stored(message, p.channels) end
    local over = {}
    for _, idx in ipairs(pipeline(shard, { M.add_command(keys, msgs, now) })[1]) do
      over[idx] = true
    end
    for k, p in ipairs(procs) do
      if over[k] then
        r.over_capacity = r.over_capacity + 1
        r.over_capacity_channels = r.over_capacity_channels + #p.channels
      else
        r.sent = r.sent + #p.channels
      end
    end
  end
  return r
end

-- group_send(group, message [, {pubsub=}]): send message (a table with a
-- string type) to every connection in group ("user.<uuid>",
-- "world.<id>"). Returns {layer=, channels=, process_keys=, sent=,
-- over_capacity=, over_capacity_channels=} on the default layer,
-- {layer=, channel=, delivered=} (server processes reached) on pub/sub.
-- Failures raise.
function M.group_send(group, message, opts)
  if type(group) ~= "string" then error("expected a group name", 2) end
  if type(message) ~= "table" or type(message.type) ~= "string" then
    error("expected a message table with a string type", 2)
  end
  if not M.use_pubsub(opts) then return send_default(group, message) end
  local channel, shard = M.group_channel(group)
  local n = pipeline(shard, { { "PUBLISH", channel, M.encode(message) } })[1]
  return { layer = "pubsub", channel = channel, delivered = n }
end

return M
