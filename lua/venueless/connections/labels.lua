-- The connection labels (connections.list) and the raising pipeline the
-- rest of venueless.connections shares: all that `connections list`
-- loads, so listing compiles neither the send machinery nor the channel
-- layer (bench/connections: compiling them was a tenth of a listing).
--   connections            hash label -> estimated count      (shard 0)
--   connections:L          "exists", 60 s TTL                 (shard 0)
local core = require "venueless.core"
local redis = require "venueless.redis"

local M = {}

-- The tool's deadline on its own Redis traffic, as channel_layer.redis_opts
-- (which is this table): [redis] timeout.
M.redis_opts = { timeout = require("venueless.config").redis.timeout * 1000 }

-- Commands per pipeline round trip.
M.PIPELINE_CMDS = 10000

-- Remove a label from the hash only if it is still stale, so a label
-- whose servers came back meanwhile is kept.
local PRUNE_SCRIPT = [[
local label = ARGV[1]
local count = redis.call('HGET', KEYS[1], label)
if not count then return 0 end
if redis.call('EXISTS', KEYS[2]) == 0 or tonumber(count) == 0 then
  return redis.call('HDEL', KEYS[1], label)
end
return 0
]]

-- Raise a binding failure as a venueless error (exit 11 when Redis
-- cannot be reached or refuses our password); extra says what was or
-- was not done.
function M.redis_fail(msg, code, extra, shard)
  local exit = core.exit_for(code)
  msg = tostring(msg)
  if shard and not msg:find("^redis shard") then
    msg = ("redis shard %d (%s): %s"):format(shard, redis.conn(shard).url, msg)
  end
  core.error(exit, msg .. (extra and "; " .. extra or ""), code)
end

-- Raise on error replies among r, the replies of a round trip from
-- shard i.
local function check(i, r, extra)
  for k = 1, #r do
    local x = r[k]
    if type(x) == "table" and x.err then
      M.redis_fail(x.err, x.err:match("^%u+") or "ERR", extra, i)
    end
  end
  return r
end
M.check = check

-- Run a pipeline on shard i in round trips of at most PIPELINE_CMDS
-- commands; an error reply raises. Returns the replies in order.
function M.pipeline(i, cmds, extra)
  local conn, step = redis.conn(i), M.PIPELINE_CMDS
  if #cmds <= step then
    local r, msg, code = core.try(conn.pipeline, conn, cmds, M.redis_opts)
    if r == nil then M.redis_fail(msg, code, extra, i) end
    return check(i, r, extra)
  end
  local replies = {}
  for first = 1, #cmds, step do
    local chunk = table.move(cmds, first, math.min(first + step - 1, #cmds), 1, {})
    local r, msg, code = core.try(conn.pipeline, conn, chunk, M.redis_opts)
    if r == nil then M.redis_fail(msg, code, extra, i) end
    table.move(check(i, r, extra), 1, #r, first, replies)
  end
  return replies
end

-- One command on shard i, raising on failure (with the timeout).
function M.call(i, extra, ...)
  return M.pipeline(i, { { ... } }, extra)[1]
end

-- Labels with their estimated counts: {label = count}, the list of
-- stale labels (removed from the hash unless opts.dry_run) and the list
-- of live labels, both sorted. A label is live while connections:L
-- exists and its count is a non-zero number; conn:labels does the
-- HGETALL and the MGETs in C (bench/connections).
function M.list(opts)
  opts = opts or {}
  local conn = redis.conn(0)
  local live, stale, names = core.try(conn.labels, conn, "connections", "connections:",
    M.redis_opts)
  if live == nil then M.redis_fail(stale, names, nil, 0) end
  if #stale > 0 and not opts.dry_run then
    local prune = {}
    for k, label in ipairs(stale) do
      prune[k] = { "EVAL", PRUNE_SCRIPT, 2, "connections", "connections:" .. label, label }
    end
    M.pipeline(0, prune)
  end
  return live, stale, names
end

return M
