-- What the domain modules and the model layer share: the failure
-- conventions, the defaults Django gives new rows, the world lock and
-- the Redis model cache update after a commit (objects are the model
-- layer's, venueless.models) (shared/reference/README.md, "Worlds and rooms").
local core = require "venueless.core"
local db = require "venueless.db"
local json = require "venueless.json"
local config = require "venueless.config"

local M = {}

-- The server's cache keeps a model's version a week.
M.CACHE_EXPIRY = 604800

-- For each key, set the cached version if ours is higher, and refresh
-- the expiry, in one step so a concurrent writer cannot lower it.
-- KEYS: the version keys; ARGV: their versions, then the expiry.
M.CACHE_SCRIPT = [[
local expiry = ARGV[#KEYS + 1]
for i, key in ipairs(KEYS) do
  local cur = tonumber(redis.call('GET', key) or '')
  if cur == nil or tonumber(ARGV[i]) > cur then redis.call('SET', key, ARGV[i]) end
  redis.call('EXPIRE', key, expiry)
end
return #KEYS
]]

-- Keys per EVAL: big enough that 10,000 rooms are a handful of calls,
-- small enough not to stall the server for long.
M.CACHE_BATCH = 500

-- Values Django gives a new world and room (shared/reference/defaults.json),
-- exhibitor and link (models.json).
local ADMIN = {
  "world:view", "world:exhibition.contact", "world:chat.direct", "room:view",
  "room:chat.read", "room:digitalsamba.join", "room:chat.join", "room:chat.send",
  "room:question.read", "room:question.ask", "room:question.vote", "room:poll.read",
  "room:poll.vote", "room:roulette.join", "room:bbb.join", "room:digitalsamba.join",
  "room:digitalsamba.speak", "room:januscall.join", "room:zoom.join",
  "room:bbb.moderate", "room:digitalsamba.speak", "room:januscall.moderate",
  "room:poll.early_results", "room:viewers", "room:chat.moderate", "room:announce",
  "room:bbb.recordings", "room:digitalsamba.moderate", "room:digitalsamba.recordings",
  "room:question.moderate", "room:poll.early_results", "room:poll.manage",
  "world:announce", "world:rooms.create.chat", "world:update", "room:delete",
  "room:update", "world:rooms.create.bbb", "world:rooms.create.stage",
  "world:rooms.create.exhibition", "world:rooms.create.poster", "world:users.list",
  "world:users.manage", "world:graphs", "world:connections.unlimited",
}

-- The first n entries of the admin list (the roles are its prefixes).
local function prefix(n, extra)
  local t = table.move(ADMIN, 1, n, 1, {})
  for _, v in ipairs(extra or {}) do t[#t + 1] = v end
  return json.array(t)
end

-- A fresh copy each call: callers may change what they get.
function M.world_defaults()
  return {
    roles = json.object({
      admin = prefix(#ADMIN),
      viewer = prefix(6),
      apiuser = prefix(#ADMIN, { "world:api", "world:secrets" }),
      speaker = prefix(23),
      attendee = prefix(3),
      moderator = prefix(33),
      room_owner = prefix(19, { "room:invite", "room:delete" }),
      participant = prefix(19),
      room_creator = json.array({ "world:rooms.create.chat" }),
      scheduleuser = json.array({ "world:api" }),
    }),
    trait_grants = json.object({
      admin = json.array({ "admin" }), attendee = json.array({ "attendee" }),
      scheduleuser = json.array({ "schedule-update" }),
    }),
    feature_flags = json.array({ "chat-moderation" }),
    locale = "en",
    timezone = "Europe/Berlin",
  }
end

-- picture: Django stores a FileField left empty as '' (never NULL).
function M.room_defaults()
  return {
    trait_grants = json.object({ viewer = json.array({}) }),
    module_config = json.array({}),
    picture = "",
  }
end

-- An exhibitor's model defaults (contact_enabled: the contact button
-- shows), and its links' (only exhibitors get their list position).
function M.exhibitor_defaults()
  return { contact_enabled = true, size = "1x1", text_content = json.array({}),
    sorting_priority = 0 }
end

function M.link_defaults()
  return { category = "profile", sorting_priority = 0 }
end

---------------------------------------------------------------- failures

-- Raise a failure carrying extra fields.
local function fail_with(msg, code, fields)
  local _, e = pcall(core.fail, msg, code)
  for k, v in pairs(fields) do e[k] = v end
  error(e, 0)
end

-- Raise a refusal from inside a transaction (so it rolls back), for
-- M.refused to turn back into nil, message, code.
function M.refuse(msg, code)
  fail_with(msg, code, { refused = true })
end

-- fn(...)'s results, or nil, message, code for a refusal it raised
-- (M.refuse); failures and misuse propagate.
function M.refused(fn, ...)
  local r = table.pack(pcall(fn, ...))
  if r[1] then return table.unpack(r, 2, r.n) end
  local e = r[2]
  if core.is_error(e) and e.refused then return nil, e.message, e.code end
  error(e, 0)
end

-- The one world id rule, for create, clone and import: ASCII (usable in
-- URLs and Redis keys), and never `..`, `.` or an option like `-rf`;
-- '_', '.' and '-' are allowed because imported worlds use them.
M.WORLD_ID_RULE = "1 to 50 ASCII letters, digits, '_', '.' or '-', not starting with '.' or '-'"

function M.valid_world_id(id)
  return type(id) == "string" and #id >= 1 and #id <= 50
    and id:find("^[A-Za-z0-9_][A-Za-z0-9_.-]*$") ~= nil
end

-- A string of at most max characters, valid UTF-8 without NUL; else
-- the reason it is not.
function M.bad_string(s, max)
  if type(s) ~= "string" then return "expected a string" end
  if s:find("\0", 1, true) then return "contains a NUL byte" end
  local n = utf8.len(s)
  if n == nil then return "is not valid UTF-8" end
  if max and n > max then return ("longer than %d characters"):format(max) end
  return nil
end

---------------------------------------------------------------- world lock

-- Writers of one world (import, clone into it, saves) serialise on a
-- transaction-scoped advisory lock, taken in its own statement after
-- BEGIN: a statement's snapshot is taken when it starts, so a big
-- statement run after the lock sees every earlier writer's commit.
-- Without it two imports of one world both insert its rooms (the real
-- schema has no unique key to catch that). The two-key form keeps it
-- apart from migrate's one-key lock: class "VLWD", then 32 bits of the
-- id's md5 (a collision only serialises two worlds' writers).
M.WORLD_LOCK_CLASS = 0x564C5744
local LOCK_WORLD = "SELECT pg_advisory_xact_lock($1::int,"
  .. " ('x' || left(md5($2::text), 8))::bit(32)::int)"

-- The lock and, in the same statement, no JIT for the rest of the
-- transaction: the plan of an import's one statement costs more the
-- bigger the world's tables are (their statistics), and from about
-- 100,000 rooms past jit_optimize_above_cost, where LLVM then spent 2.5 s
-- inlining and optimizing 196 functions for a statement that runs once.
local LOCK_WORLD_NOJIT = LOCK_WORLD .. ", set_config('jit', 'off', true)"

local function lock(sql, id)
  if type(id) ~= "string" then error("bad argument #1 to 'lock' (world id expected)", 3) end
  if not db.in_transaction() then
    error("lock: the world lock needs a transaction (worlds.transaction)", 3)
  end
  db.query(sql, M.WORLD_LOCK_CLASS, id)
end

-- Take world id's writer lock in the current transaction (held until it
-- ends; waits for the writer holding it, Ctrl-C cancels the wait).
function M.lock_world(id)
  lock(LOCK_WORLD, id)
end

-- lock_world(id), and the JIT off until the transaction ends (set_config
-- local to it): for the set-based statements of an import or a clone.
function M.lock_world_nojit(id)
  lock(LOCK_WORLD_NOJIT, id)
end

-- fn(...) holding world id's lock: in the current transaction, or in
-- one of its own.
function M.locked(id, fn, ...)
  if db.in_transaction() then
    M.lock_world(id)
    return fn(...)
  end
  return db.transaction(function(...)
    M.lock_world(id)
    return fn(...)
  end, ...)
end

---------------------------------------------------------------- filters

-- The filter table of a list{} call (nil is {}); raises, blaming the
-- caller of list, on a non-table or a key not in allowed.
function M.filters(f, allowed)
  f = f or {}
  if type(f) ~= "table" then error("bad argument #1 to 'list' (table expected)", 3) end
  for k in pairs(f) do
    if not allowed[k] then error(("list: unknown filter '%s'"):format(tostring(k)), 3) end
  end
  return f
end

---------------------------------------------------------------- cache

local pending		-- versions waiting for an outer transaction's commit
local undo		-- what to put back in the objects if it rolls back

-- Redis's name for a model's cache entry (the shard key).
function M.cache_name(model, id)
  return ("modelcache:core.%s:%s"):format(model, id)
end

-- Tell the servers' cache the new versions: entries = {{model, id,
-- version or "deleted"}, ...}. One pipeline per shard. Returns true, or
-- nil, message, "connection" (or the error reply's code).
function M.publish(entries)
  if #entries == 0 then return true end
  local redis = require "venueless.redis"
  local by_shard, order = {}, {}
  -- one shard: no crc32 per key (8% of clone_world's own instructions
  -- for 10,000 rooms went to shard_for)
  local shard_for = redis.shards() > 1 and redis.shard_for or function() return 0 end
  for _, e in ipairs(entries) do
    local name = M.cache_name(e[1], e[2])
    local s = shard_for(name)
    if not by_shard[s] then by_shard[s] = {}; order[#order + 1] = s end
    local keys = by_shard[s]
    keys[#keys + 1] = name .. ":version"
    keys[#keys + 1] = e[3]
  end
  table.sort(order)
  for _, s in ipairs(order) do
    local ok, msg, code = M.publish_shard(redis, s, by_shard[s])
    if not ok then return nil, msg, code end
  end
  return M.notify_worlds(entries)
end

-- Tell the open browsers of a changed world to fetch its config, as the
-- server's API does after a config change: {"type": "world.update"} to
-- group world.<id> (venueless.channel_layer: the configured layer, the
-- group's shard). Set M.notify = false to skip (--no-notify). A world
-- stored for the first time (version 2, commands.md) has no browsers.
M.notify = true

function M.notify_worlds(entries)
  if not M.notify then return true end
  for _, e in ipairs(entries) do
    if e[1] == "World" and tonumber(e[3]) and tonumber(e[3]) > 2 then
      local layer = require "venueless.channel_layer"
      local r, msg, code = core.try(layer.group_send, "world." .. e[2],
        { type = "world.update" })
      if r == nil then return nil, msg, code end
    end
  end
  return true
end

-- One shard's keys and versions (alternating), in EVALs of CACHE_BATCH
-- keys, pipelined. The version "deleted" (a deleted object, as
-- VersionedModel.delete writes it) is SET as it is, without expiry.
function M.publish_shard(redis, s, kv0)
  local cmds, kv = {}, {}
  for i = 1, #kv0, 2 do
    if kv0[i + 1] == "deleted" then
      cmds[#cmds + 1] = { "SET", kv0[i], "deleted" }
    else
      kv[#kv + 1], kv[#kv + 2] = kv0[i], kv0[i + 1]
    end
  end
  for first = 1, #kv, 2 * M.CACHE_BATCH do
    local last = math.min(#kv, first + 2 * M.CACHE_BATCH - 1)
    local n = (last - first + 1) // 2
    local cmd = { "EVAL", M.CACHE_SCRIPT, n }
    for i = 0, n - 1 do cmd[4 + i] = kv[first + 2 * i] end
    for i = 0, n - 1 do cmd[4 + n + i] = kv[first + 2 * i + 1] end
    cmd[#cmd + 1] = M.CACHE_EXPIRY
    cmds[#cmds + 1] = cmd
  end
  -- a shard that accepts and never answers must not hang the command
  local conn, opts = redis.conn(s), { timeout = config.redis.timeout * 1000 }
  local replies, msg, code = core.try(conn.pipeline, conn, cmds, opts)
  if replies == nil then return nil, msg, code end
  for _, r in ipairs(replies) do
    if type(r) == "table" and r.err then
      return nil, ("redis shard %d: %s"):format(s, r.err), r.err:match("^%S+")
    end
  end
  return true
end

-- A Redis failure after the commit: raise it (exit 11 when Redis was not
-- reached) with committed = the results the call would have returned, so
-- a command can show what was committed before it fails.
function M.cache_failure(msg, code, ...)
  fail_with(M.redis_message(msg), code, { committed = table.pack(...) })
end

-- After a change: publish now, or, inside M.transaction, at its commit;
-- returns ... (the caller's results), or raises M.cache_failure. A save
-- inside a bare db.transaction cannot know when (or whether) it
-- commits, so it is refused (M.check_outside).
function M.after_commit(entries, ...)
  if pending then
    table.move(entries, 1, #entries, #pending + 1, pending)
    return ...
  end
  local ok, msg, code = M.publish(entries)
  if not ok then M.cache_failure(msg, code, ...) end
  return ...
end

-- True inside M.transaction (worlds.transaction), whose commit publishes.
function M.in_transaction()
  return pending ~= nil
end

-- Inside M.transaction: remember how to restore an object's version if
-- the transaction rolls back.
function M.on_rollback(fn)
  if undo then undo[#undo + 1] = fn end
end

-- Refuse saving inside a db.transaction we do not own.
function M.check_outside(what)
  if not pending and db.in_transaction() then
    error(what .. ": inside db.transaction the cache cannot follow the commit;"
      .. " use worlds.transaction(fn)", 3)
  end
end

-- worlds.transaction(fn, ...): fn's saves in one transaction, the cache
-- updated after it commits. Returns fn's results (raising as
-- db.transaction does); a Redis failure after the commit raises
-- M.cache_failure with fn's results.
function M.transaction(fn, ...)
  if pending then return fn(...) end
  pending, undo = {}, {}
  local r = table.pack(pcall(db.transaction, fn, ...))
  local entries, restore = pending, undo
  pending, undo = nil, nil
  if not r[1] then
    for i = #restore, 1, -1 do restore[i]() end
    error(r[2], 0)
  end
  local ok, msg, code = M.publish(entries)
  if not ok then M.cache_failure(msg, code, table.unpack(r, 2, r.n)) end
  return table.unpack(r, 2, r.n)
end

-- The message for a cache update that failed after the commit.
function M.redis_message(msg)
  return "committed, but the server cache was not updated (running servers"
    .. " may serve the old configuration until they reload): " .. tostring(msg)
end

return M
