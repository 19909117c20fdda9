-- Live websocket connections: list the connection labels, and send
-- connection.drop / connection.reload (or any message) to many
-- connections at once through the channel layer, on every shard, with
-- batching, pacing and an account of what was not reached. The wire
-- format and key layout are venueless.channel_layer's.
--
-- Redis layout (shared/reference/README.md, "Connections"):
--   connections            hash label -> estimated count      (shard 0)
--   connections:L          "exists", 60 s TTL                 (shard 0)
--   P:group:version.L      default layer group (channel_layer.group_key)
--   version.L              pub/sub layer channel set, zset    (shard 0)
local core = require "venueless.core"
local redis = require "venueless.redis"
local layer = require "venueless.channel_layer"
local glob = require "venueless.glob"
local labels = require "venueless.connections.labels"

local connections = {}

-- Bounds on what one call carries: keys per EVAL, bytes of messages per
-- EVAL, commands per pipeline round trip.
local BATCH_KEYS = 1000
local BATCH_BYTES = 4 * 1024 * 1024
local PIPELINE_CMDS = labels.PIPELINE_CMDS
-- A send to many connections streams them: group members read per ZRANGE,
-- msgpack of channel names held before it goes to scratch keys in Redis,
-- and how long a scratch key outlives a send that was killed.
local READ_BATCH = 10000
local FIRST_PAGE, SETS_PER_TRIP = 1000, 100
local BUFFER_BYTES = 4 * 1024 * 1024
local SCRATCH_TTL = 120

local MESSAGE_TYPES = { drop = "connection.drop", reload = "connection.reload" }

-- Label patterns are fnmatch globs; these stay part of this module's
-- documented API (venueless.glob does the work).
connections.glob_pattern = glob.pattern
connections.fnmatch = glob.fnmatch

---------------------------------------------------------------- helpers

-- The raising pipeline and one command on shard i (connections/labels.lua).
local redis_fail, pipeline, call = labels.redis_fail, labels.pipeline, labels.call

-- Raise a venueless error carrying extra fields (result, ...).
local function raise(exit, msg, code, fields)
  local _, e = pcall(core.error, exit, msg, code)
  for k, v in pairs(fields or {}) do e[k] = v end
  error(e, 0)
end

-- "1 label", "2 labels".
local function plural(n, word)
  return ("%d %s%s"):format(n, word, n == 1 and "" or "s")
end

-- The message table for a type name or a table.
local function message_for(what)
  if type(what) == "table" then return what end
  return { type = MESSAGE_TYPES[what] or what }
end

---------------------------------------------------------------- labels

-- connections.list([{dry_run=}]): {label = count} and the stale labels,
-- sorted (connections/labels.lua, all that `connections list` loads).
connections.list = labels.list

-- The live labels matching any of the globs (default "*"), sorted.
function connections.match(patterns, opts)
  if type(patterns) == "string" then patterns = { patterns } end
  if patterns == nil or #patterns == 0 then patterns = { "*" } end
  for i, g in ipairs(patterns) do
    if type(g) ~= "string" then
      error(("bad pattern #%d (a string expected, got %s)"):format(i, type(g)), 2)
    end
  end
  local live = connections.list(opts)
  local out = {}
  for label in pairs(live) do
    for _, g in ipairs(patterns) do
      if glob.fnmatch(label, g) then
        out[#out + 1] = label
        break
      end
    end
  end
  table.sort(out)
  return out, live
end

---------------------------------------------------------------- targets

-- Shard indices of a target set, ascending.
local function shard_list(t)
  local list = {}
  for i in pairs(t.shards) do list[#list + 1] = i end
  table.sort(list)
  return list
end


-- A page of members: a list of names, or (read with by = "!") the
-- names grouped by server process in C: {n =, last =, {name =, n =,
-- body =}, ...} (redis.c, "by").
local function page_size(list) return list.n or #list end
local function page_last(list) return list.last or list[#list] end

-- Call add(members) with each page of a sorted set after list, its
-- first page (of want members, at rank first). A large set is read in
-- pages of READ_BATCH by rank, each page in one MULTI with the rank of
-- the previous page's last member, so members that join or leave
-- meanwhile shift no page: every member there from start to end is read
-- once, as one ZRANGE would (a page whose last member left is read on
-- from its old rank). by: group the pages (see page_size).
local function read_pages(shard, key, list, first, want, add, by)
  while true do
    local n = page_size(list)
    if n > 0 then add(list) end
    if n < want then return end
    local last = first + n - 1
    local r = pipeline(shard, { { "MULTI" }, { "ZRANK", key, page_last(list) },
      { "ZRANGE", key, last + 1, last + READ_BATCH }, { "EXEC", by = by } },
      "nothing sent")[4]
    local rank
    rank, list = r[1], r[2]
    if rank and rank ~= last then
      last = rank
      list = pipeline(shard, { { "ZRANGE", key, last + 1, last + READ_BATCH, by = by } },
        "nothing sent")[1]
    end
    first, want = last + 1, READ_BATCH
  end
end

-- Read the members of sorted sets ({shard=, key=} each) newer than the
-- group expiry, dropping older ones first unless dry_run, calling
-- add(members) with each page. The first FIRST_PAGE members of up to
-- SETS_PER_TRIP sets of a shard come in one round trip (many labels of
-- a few connections each), bigger sets page on (a dry run from the rank
-- of its first live member). by: group the pages (see page_size).
local function read_sets(sets, dry_run, add, by)
  local cutoff, by_shard = layer.cutoff(), {}
  for _, s in ipairs(sets) do
    by_shard[s.shard] = by_shard[s.shard] or {}
    table.insert(by_shard[s.shard], s.key)
  end
  local order = {}
  for i in pairs(by_shard) do order[#order + 1] = i end
  table.sort(order)
  for _, shard in ipairs(order) do
    local keys = by_shard[shard]
    for from = 1, #keys, SETS_PER_TRIP do
      local cmds, chunk = {}, table.move(keys, from,
        math.min(from + SETS_PER_TRIP - 1, #keys), 1, {})
      for _, key in ipairs(chunk) do
        if dry_run then
          cmds[#cmds + 1] = { "ZCOUNT", key, "-inf", cutoff }
          cmds[#cmds + 1] = { "ZRANGEBYSCORE", key, "(" .. cutoff, "+inf",
            "LIMIT", 0, FIRST_PAGE, by = by }
        else
          cmds[#cmds + 1] = { "ZREMRANGEBYSCORE", key, 0, cutoff }
          cmds[#cmds + 1] = { "ZRANGE", key, 0, FIRST_PAGE - 1, by = by }
        end
      end
      local replies = pipeline(shard, cmds, "nothing sent")
      for j, key in ipairs(chunk) do
        local list = replies[2 * j]
        replies[2 * j] = false
        read_pages(shard, key, list, dry_run and replies[2 * j - 1] or 0, FIRST_PAGE, add,
          by)
      end
    end
  end
end

-- The target of a process key, created on its first channel.
local function new_key(t, name, channel)
  local pkey, shard = layer.process_key(channel)
  local s = t.shards[shard]
  if s == nil then
    s = { keys = {}, count = 0 }
    t.shards[shard] = s
  end
  local key = { key = pkey, channels = {}, n = 0, shard = s, index = shard,
    parts = {}, bytes = 0, spilled = 0 }
  s.keys[#s.keys + 1] = key
  t.keys = t.keys + 1
  return key
end

-- Default layer, all at once: write what the process keys' messages
-- hold so far (the msgpack of their channel names) to a scratch key
-- each, on the key's shard, and forget it. send_keys adds the message
-- from there; a scratch key lives SCRATCH_TTL s, so one left by a kill
-- goes away.
local function spill(t)
  local by_shard = {}
  for _, i in ipairs(shard_list(t)) do
    local cmds, checks = {}, {}
    for _, k in ipairs(t.shards[i].keys) do
      if #k.parts > 0 then
        if k.scratch == nil then
          t.nscratch = t.nscratch + 1
          k.scratch = ("venueless:send:%s:%d"):format(t.token, t.nscratch)
          t.scratch[i] = t.scratch[i] or {}
          table.insert(t.scratch[i], k.scratch)
        end
        for _, part in ipairs(k.parts) do
          k.spilled = k.spilled + #part
          cmds[#cmds + 1] = { "APPEND", k.scratch, part }
        end
        checks[#cmds] = k
        cmds[#cmds + 1] = { "EXPIRE", k.scratch, SCRATCH_TTL }
        k.parts, k.bytes = {}, 0
      end
    end
    by_shard[i] = { cmds, checks }
  end
  t.buffered = 0
  for _, i in ipairs(shard_list(t)) do
    local c = by_shard[i]
    local replies = pipeline(i, c[1], "nothing sent")
    for n, k in pairs(c[2]) do
      if replies[n] ~= k.spilled then
        core.fail(("redis shard %d: scratch key %s expired during the send; nothing sent")
          :format(i, k.scratch), "ERR")
      end
    end
  end
end

-- The add of a default-layer send all at once (or a dry run): group each
-- batch by process key and keep only the msgpack of the names (spilled
-- to Redis beyond BUFFER_BYTES), never the names themselves. A page
-- grouped in C (read with by) brings each key's part ready made.
local function stream_default(t, seen, dry_run)
  local names, process_name, body = {}, layer.process_name, layer.channels_body
  local function add_groups(page)
    for k = 1, #page do
      local g = page[k]
      local key = names[g.name]
      if key == nil then
        key = new_key(t, g.name, g.name)
        names[g.name] = key
      end
      key.n = key.n + g.n
      key.shard.count = key.shard.count + g.n
      t.channels = t.channels + g.n
      if not dry_run then
        key.parts[#key.parts + 1] = g.body
        key.bytes, t.buffered = key.bytes + #g.body, t.buffered + #g.body
      end
    end
    if t.buffered > BUFFER_BYTES then spill(t) end
  end
  return function(list)
    if list.n then return add_groups(list) end
    local touched = {}
    for k = 1, #list do
      local ch = list[k]
      if seen == nil or not seen[ch] then
        if seen then seen[ch] = true end
        local name = process_name(ch)
        local key = names[name]
        if key == nil then
          key = new_key(t, name, ch)
          names[name] = key
        end
        key.n = key.n + 1
        if dry_run then
          key.shard.count = key.shard.count + 1
          t.channels = t.channels + 1
        else
          local batch = key.batch
          if batch == nil then
            batch = {}
            key.batch = batch
            touched[#touched + 1] = key
          end
          batch[#batch + 1] = ch
        end
      end
    end
    for _, key in ipairs(touched) do
      local part, n = body(key.batch), #key.batch
      key.parts[#key.parts + 1] = part
      key.bytes, t.buffered = key.bytes + #part, t.buffered + #part
      key.shard.count = key.shard.count + n
      t.channels = t.channels + n
      key.batch = nil
    end
    if t.buffered > BUFFER_BYTES then spill(t) end
  end
end

-- Delete the scratch keys of a send that stopped (best effort: a shard
-- that does not answer, or a second Ctrl-C, lets them expire).
local function drop_scratch(t)
  for i, keys in pairs(t.scratch or {}) do
    local conn = redis.conn(i)
    for first = 1, #keys, 1000 do
      pcall(conn.pipeline, conn,
        { { "DEL", table.unpack(keys, first, math.min(first + 999, #keys)) } },
        layer.redis_opts)
    end
  end
  t.scratch = {}
end

-- A send that sends as it reads (t.counted): drop the sets' expired
-- members and count the others (ZCARD), every shard a target (each
-- channel picks its own).
local function count_sets(t, sets)
  local cutoff, by_shard = layer.cutoff(), {}
  for _, s in ipairs(sets) do
    local cmds = by_shard[s.shard] or {}
    by_shard[s.shard] = cmds
    cmds[#cmds + 1] = { "ZREMRANGEBYSCORE", s.key, 0, cutoff }
    cmds[#cmds + 1] = { "ZCARD", s.key }
  end
  for i, cmds in pairs(by_shard) do
    local replies = pipeline(i, cmds, "nothing sent")
    for k = 2, #replies, 2 do t.channels = t.channels + replies[k] end
  end
  for i = 0, redis.shards() - 1 do t.shards[i] = { count = 0 } end
  t.sets = sets
end

-- The targets of a send: for the default layer, process keys with their
-- channels grouped by shard; for pub/sub, channels by shard. Sent all at
-- once on the default layer (no interval), the channels are not kept:
-- each key has n channels and the msgpack of their names (parts, then a
-- scratch key). Disjoint groups on pub/sub or with an interval are only
-- counted (t.counted: count_sets), their members sent as they are read
-- again. groups: group names ("version.L"); channels: channel names;
-- disjoint: no channel is in two of the groups (label groups: a server
-- process has one label), so none is remembered to skip repeats.
local function collect(groups, channels, opts, disjoint)
  local pubsub = layer.use_pubsub(opts)
  local t = { shards = {}, channels = 0, keys = 0, pubsub = pubsub, buffered = 0,
    scratch = {}, nscratch = 0, token = require("venueless.crypto").hex(
      require("venueless.crypto").random_bytes(8)) }
  local shards, keys, shard_for = t.shards, {}, redis.shard_for
  local process_name = layer.process_name
  -- Members of one set are unique; dedupe only across sets.
  local seen = (#groups + #channels > 1 and not disjoint) and {} or nil
  t.streamed = not pubsub and (opts.dry_run or (tonumber(opts.interval) or 0) == 0)
  -- Pub/sub all at once, and either layer with an interval: the members
  -- are counted here and sent as they are read again (publish_sets,
  -- send_staggered), never all held.
  local interval = tonumber(opts.interval) or 0
  t.counted = (pubsub or interval > 0) and not opts.dry_run and seen == nil
    and #channels == 0
  t.published = t.counted and interval == 0

  local function add_pubsub(list)
    for _, channel in ipairs(list) do
      if seen == nil or not seen[channel] then
        if seen then seen[channel] = true end
        t.channels = t.channels + 1
        if not opts.dry_run then
          local shard = shard_for(channel)
          local s = shards[shard]
          if s == nil then
            s = { channels = {}, count = 0 }
            shards[shard] = s
          end
          s.count = s.count + 1
          s.channels[s.count] = channel
        end
      end
    end
  end

  local function add_default(list)
    for _, channel in ipairs(list) do
      if seen == nil or not seen[channel] then
        if seen then seen[channel] = true end
        local name = process_name(channel)
        local key = keys[name]
        if key == nil then
          key = new_key(t, name, channel)
          keys[name] = key
        end
        key.n = key.n + 1
        key.channels[key.n] = channel
        key.shard.count = key.shard.count + 1
        t.channels = t.channels + 1
      end
    end
  end

  local add = pubsub and add_pubsub
    or t.streamed and stream_default(t, seen, opts.dry_run) or add_default
  -- Pages grouped in C, when nothing needs the names themselves.
  local by = t.streamed and seen == nil and "!" or nil
  local sets = {}
  for _, g in ipairs(groups) do
    if pubsub then
      sets[#sets + 1] = { shard = 0, key = g }
    else
      local key, shard = layer.group_key(g)
      sets[#sets + 1] = { shard = shard, key = key }
    end
  end
  local ok, err = pcall(function()
    if t.counted then return count_sets(t, sets) end
    read_sets(sets, opts.dry_run, add, by)
    if #channels > 0 then add(channels) end
  end)
  if not ok then
    drop_scratch(t)
    error(err, 0)
  end
  return t
end

-- Make sure every shard we will write to answers before sending anything.
local function ping_all(t)
  for _, i in ipairs(shard_list(t)) do call(i, "nothing sent", "PING") end
end

---------------------------------------------------------------- sending

-- Run cmds on shard i in round trips of at most PIPELINE_CMDS. Returns
-- the replies, or the replies of the round trips that completed, the
-- failure's message and code, and how many commands the failed round
-- trip carried (Redis may or may not have run them).
local function try_pipeline(i, cmds)
  local conn, replies = redis.conn(i), {}
  for first = 1, #cmds, PIPELINE_CMDS do
    local last = math.min(first + PIPELINE_CMDS - 1, #cmds)
    local chunk = first == 1 and last == #cmds and cmds
      or table.move(cmds, first, last, 1, {})
    local r, msg, code = core.try(conn.pipeline, conn, chunk, layer.redis_opts)
    if r == nil then return replies, msg, code, last - first + 1 end
    table.move(r, 1, #r, first, replies)
  end
  return replies
end

-- Raise on an error reply (a bug or a server refusing the command).
local function check_reply(i, reply)
  if type(reply) == "table" and reply.err then
    redis_fail(reply.err, reply.err:match("^%u+") or "ERR", nil, i)
  end
  return reply
end

-- The EVAL that adds the messages of keys (process key targets with
-- their parts and scratch key), at now.
local function add_parts_command(keys, message, now)
  local names, args = {}, { #keys }
  for n, k in ipairs(keys) do
    names[n] = k.key
    args[3 * n - 1], args[3 * n], args[3 * n + 1] =
      layer.stored_head(message, k.n), k.tail, ""
  end
  for n, k in ipairs(keys) do
    if k.scratch then
      names[#names + 1] = k.scratch
      args[3 * n + 1] = ("%d:%d"):format(#names, k.spilled)
    end
  end
  local cmd = { "EVAL", layer.SEND_PARTS_SCRIPT, #names }
  table.move(names, 1, #names, #cmd + 1, cmd)
  table.move(args, 1, #args, #cmd + 1, cmd)
  cmd[#cmd + 1] = layer.capacity
  cmd[#cmd + 1] = now
  cmd[#cmd + 1] = layer.expiry
  return cmd
end

-- Default layer, all at once: one EVAL per batch of process keys, all
-- batches of a shard in one pipelined pass. A key's message is its head,
-- what its scratch key holds and the rest of its parts.
local function send_keys(i, s, message, result)
  local cmds, batches, batch, bytes = {}, {}, nil, 0
  local now = core.time()
  local function flush()
    cmds[#cmds + 1] = add_parts_command(batch, message, now)
    batches[#batches + 1] = batch
    batch = nil
  end
  for _, k in ipairs(s.keys) do
    k.tail = table.concat(k.parts)
    k.parts = nil
    if batch and (#batch >= BATCH_KEYS or bytes + #k.tail > BATCH_BYTES) then
      flush()
    end
    if batch == nil then batch, bytes = {}, 0 end
    batch[#batch + 1] = k
    bytes = bytes + #k.tail
  end
  if batch then flush() end
  local replies, msg, code, lost = try_pipeline(i, cmds)
  for b, keys in ipairs(batches) do
    local reply = replies[b]
    local over, gone = {}, {}
    if reply ~= nil then
      check_reply(i, reply)
      for _, idx in ipairs(reply[1]) do over[idx] = true end
      for _, idx in ipairs(reply[2]) do gone[idx] = true end
    end
    for idx, k in ipairs(keys) do
      if reply == nil and b <= #replies + lost then
        result.unconfirmed = result.unconfirmed + k.n
      elseif reply == nil or gone[idx] then
        result.unsent = result.unsent + k.n
        if gone[idx] and msg == nil then
          msg, code = ("scratch key %s expired during the send"):format(k.scratch), "ERR"
        end
      elseif over[idx] then
        result.over_capacity = result.over_capacity + 1
        result.over_capacity_channels = result.over_capacity_channels + k.n
      else
        result.sent = result.sent + k.n
      end
      k.tail = nil
    end
  end
  return msg, code
end

-- Run PUBLISH commands on shard i and count them in result; the
-- failure's message and code, if any. With t, its round trip is no
-- longer in flight once the replies are in (t.inflight = 0).
local function publish(i, cmds, result, t)
  local replies, msg, code, lost = try_pipeline(i, cmds)
  if t then t.inflight = 0 end
  for _, r in ipairs(replies) do
    result.delivered = result.delivered + check_reply(i, r)
  end
  result.sent = result.sent + #replies
  result.unconfirmed = result.unconfirmed + (lost or 0)
  result.unsent = result.unsent + #cmds - #replies - (lost or 0)
  return msg, code
end

-- Pub/sub layer, all at once: one PUBLISH per channel, pipelined.
local function send_publish(i, s, message, result)
  local payload = layer.encode(message)
  local cmds = {}
  for k, ch in ipairs(s.channels) do cmds[k] = { "PUBLISH", ch, payload } end
  return publish(i, cmds, result)
end

-- Pub/sub, all at once: read the sets again page by page and PUBLISH
-- each page's channels, pipelined per shard, as it comes. A shard that
-- fails gets nothing more (its channels count as not sent); members that
-- joined since the count are reached too.
local function publish_sets(t, message, result)
  local payload, shard_for, dead = layer.encode(message), redis.shard_for, {}
  local function add(list)
    local by_shard = {}
    for k = 1, #list do
      local ch = list[k]
      local i = shard_for(ch)
      local cmds = by_shard[i]
      if cmds == nil then
        cmds = {}
        by_shard[i] = cmds
      end
      cmds[#cmds + 1] = { "PUBLISH", ch, payload }
    end
    for _, i in ipairs(shard_list({ shards = by_shard })) do
      local cmds = by_shard[i]
      if dead[i] then
        result.unsent = result.unsent + #cmds
      else
        t.inflight = #cmds
        t.accounted = result.sent + result.unsent + result.unconfirmed
        local msg, code = publish(i, cmds, result, t)
        if msg ~= nil then
          dead[i] = true
          result.failed[#result.failed + 1] = { shard = i, message = msg, code = code }
        end
      end
    end
  end
  read_sets(t.sets, false, add)
  result.channels = result.sent + result.unsent + result.unconfirmed
end

-- The channels of a staggered send: how many, and a function calling
-- fn(shard, channel, process key or nil) for each, from the collected
-- targets or, for a counted send, read page by page.
local function stagger_items(t)
  if t.counted then
    return t.channels, function(fn)
      read_sets(t.sets, false, function(list)
        for k = 1, #list do
          local ch = list[k]
          if t.pubsub then
            fn(redis.shard_for(ch), ch)
          else
            local key, shard = layer.process_key(ch)
            fn(shard, ch, key)
          end
        end
      end)
    end
  end
  local n = 0
  for _, i in ipairs(shard_list(t)) do n = n + t.shards[i].count end
  return n, function(fn)
    for _, i in ipairs(shard_list(t)) do
      local s = t.shards[i]
      if t.pubsub then
        for _, ch in ipairs(s.channels) do fn(i, ch) end
      else
        for _, k in ipairs(s.keys) do
          for _, ch in ipairs(k.channels) do fn(i, ch, k.key) end
        end
      end
    end
  end
end

-- Staggered: one message per channel, interval ms apart, no capacity
-- check (upstream). Stops at the first failure.
local function send_staggered(t, message, interval, result, quiet)
  local total, each = stagger_items(t)
  local payload = t.pubsub and layer.encode(message)
  local update, finish = require("venueless.progress").start(total,
    { what = "connections", quiet = quiet })
  local stop, n = {}, 0	-- stop: raised to end the walk at a failure
  local ok, err = pcall(function()
    each(function(i, ch, key)
      n = n + 1
      if n > 1 then core.sleep(interval) end
      local cmds
      if t.pubsub then
        cmds = { { "PUBLISH", ch, payload } }
      else
        cmds = { { "ZADD", key, core.time(), layer.stored(message, { ch }) },
          { "EXPIRE", key, layer.expiry } }
      end
      t.inflight = 1
      local conn = redis.conn(i)
      local r, msg, code = core.try(conn.pipeline, conn, cmds, layer.redis_opts)
      if r == nil then
        result.failed[#result.failed + 1] = { shard = i, message = msg, code = code }
        error(stop, 0)
      end
      t.inflight = 0
      check_reply(i, r[1])
      check_reply(i, r[2])
      if t.pubsub then result.delivered = result.delivered + r[1] end
      result.sent = result.sent + 1
      update(math.min(result.sent, total))
    end)
  end)
  finish()
  if ok and t.counted then result.channels = n end	-- joined since the count
  if err == stop then ok = true end
  result.unconfirmed = t.inflight or 0
  result.unsent = math.max(0, result.channels - result.sent - result.unconfirmed)
  if not ok then error(err, 0) end
end

-- The summary of a send: "sent connection.drop to 12 connections of
-- 2 labels" and what was not reached.
function connections.summary(result)
  local s = ("%s %s to %s"):format(result.dry_run and "would send" or "sent",
    tostring(result.type), plural(result.sent, "connection"))
  if result.labels then s = s .. " of " .. plural(result.labels, "label") end
  if result.scope and result.layer == "pubsub" then
    return ("%s %s to %s: %s %s (the pub/sub layer cannot count connections)"):format(
      result.dry_run and "would send" or "sent", tostring(result.type), result.scope,
      plural(result.delivered, "server process"), result.dry_run and "subscribed" or "reached")
  end
  if result.scope then s = s .. " of " .. result.scope end
  if result.over_capacity > 0 then
    s = s .. ("; %s over capacity (%s not reached)"):format(
      plural(result.over_capacity, "process key"),
      plural(result.over_capacity_channels, "connection"))
  end
  if result.unsent > 0 then
    s = s .. ("; %s not sent"):format(plural(result.unsent, "connection"))
  end
  if result.unconfirmed > 0 then
    s = s .. ("; %s unconfirmed (in flight when stopped)"):format(
      plural(result.unconfirmed, "connection"))
  end
  return s
end

-- Send message to groups and channels. Returns the result table:
-- type, labels, channels, process_keys, sent, unsent, unconfirmed,
-- over_capacity,
-- over_capacity_channels, delivered (pub/sub subscribers reached),
-- shards (written to), failed ({shard=, message=} per failed shard).
-- A failure after the start raises with the partial result in err.result.
local function send(groups, channels, message, opts, labels)
  local t = collect(groups, channels, opts, labels ~= nil)
  local result = { type = message.type, labels = labels, channels = t.channels,
    process_keys = not t.pubsub and t.keys or nil, sent = 0, unsent = 0,
    unconfirmed = 0,
    over_capacity = 0, over_capacity_channels = 0,
    delivered = t.pubsub and 0 or nil, failed = {}, shards = shard_list(t),
    layer = t.pubsub and "pubsub" or "default" }
  if opts.dry_run then
    result.dry_run = true
    result.sent = t.channels
    return result
  end
  local interval = tonumber(opts.interval) or 0
  local ok, err = pcall(function()
    ping_all(t)
    t.started = true
    if t.published then return publish_sets(t, message, result) end
    if interval > 0 then
      return send_staggered(t, message, interval, result, opts.quiet)
    end
    for _, i in ipairs(result.shards) do
      local msg, code
      t.inflight = t.shards[i].count
      t.accounted = result.sent + result.over_capacity_channels
        + result.unsent + result.unconfirmed
      if t.pubsub then
        msg, code = send_publish(i, t.shards[i], message, result)
      else
        msg, code = send_keys(i, t.shards[i], message, result)
      end
      t.inflight = 0
      if msg ~= nil then
        result.failed[#result.failed + 1] = { shard = i, message = msg, code = code }
      end
    end
  end)
  if not ok or #result.failed > 0 then drop_scratch(t) end
  if not ok and not t.started then error(err, 0) end
  if not ok then
    if interval == 0 and (t.inflight or 0) > 0 then
      -- Stopped inside a shard's pass: what it did not account for may
      -- or may not have been stored.
      result.unconfirmed = result.unconfirmed + t.inflight - (result.sent
        + result.over_capacity_channels + result.unsent + result.unconfirmed
        - t.accounted)
    end
    result.unsent = math.max(0, result.channels - result.sent
      - result.over_capacity_channels - result.unconfirmed)
    if type(err) == "table" then err.result = result end
    error(err, 0)
  end
  if #result.failed > 0 then
    local f, names = result.failed[1], {}
    for _, x in ipairs(result.failed) do names[#names + 1] = tostring(x.shard) end
    local msg = ("%s; %s"):format(tostring(f.message), connections.summary(result))
    if #names > 1 then msg = msg .. "; failed shards: " .. table.concat(names, ", ") end
    raise(core.exit_for(f.code), msg, f.code, { result = result })
  end
  return result
end

-- Check the options of a send (interval, dry_run, quiet, pubsub).
local function send_opts(opts)
  opts = opts or {}
  local interval = opts.interval
  if interval ~= nil and (tonumber(interval) == nil or tonumber(interval) < 0) then
    error("interval: expected a number of milliseconds >= 0", 3)
  end
  return opts
end

---------------------------------------------------------------- scopes

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

-- The groups of a scope {world=}, {room=} or {user=} (exactly one), and
-- how the summary names it. A room's sockets are in room.<uuid> and,
-- for the viewer list, room.<uuid>.viewers: both, deduplicated on the
-- default layer.
local function scope_groups(scope)
  local kind, value
  for _, k in ipairs({ "world", "room", "user" }) do
    if scope[k] ~= nil then
      if kind then error("a scope names one of world, room or user", 3) end
      kind, value = k, scope[k]
    end
  end
  if kind == nil or type(value) ~= "string" then
    error("expected a scope {world=ID}, {room=UUID} or {user=UUID}", 3)
  end
  if kind == "world" and not require("venueless.model").valid_world_id(value) then
    core.fail(("world: %s is not a world id; nothing sent"):format(value), "invalid")
  elseif kind ~= "world" and not value:find(UUID) then
    core.fail(("%s: %s is not a UUID; nothing sent"):format(kind, value), "invalid")
  end
  local name = kind .. " " .. value
  if kind == "room" then return { "room." .. value, "room." .. value .. ".viewers" }, name end
  return { kind .. "." .. value }, name
end

-- Pub/sub layer: a group is one channel, its members unknown; PUBLISH
-- once per group (dry_run: count its subscribed server processes).
local function send_scope_pubsub(groups, message, opts, result)
  if (tonumber(opts.interval) or 0) > 0 then
    core.fail("the pub/sub layer cannot stagger a group: it does not know its members"
      .. "; nothing sent", "invalid")
  end
  for _, g in ipairs(groups) do
    local chan, shard = layer.group_channel(g)
    if opts.dry_run then
      result.delivered = result.delivered + call(shard, "nothing sent", "PUBSUB", "NUMSUB", chan)[2]
    else
      result.delivered = result.delivered + layer.group_send(g, message, { pubsub = true }).delivered
      result.sent = result.sent + 1
    end
  end
  return result
end

-- Send message to the connections of a scope: the default layer's
-- send (staggering, capacity, dry runs) over the scope's groups.
local function send_scope(scope, message, opts)
  local groups, name = scope_groups(scope)
  if layer.use_pubsub(opts) then
    return send_scope_pubsub(groups, message, opts, { type = message.type, layer = "pubsub",
      scope = name, groups = groups, sent = 0, unsent = 0, unconfirmed = 0, over_capacity = 0,
      over_capacity_channels = 0, delivered = 0, dry_run = opts.dry_run or nil, failed = {} })
  end
  local r = send(groups, {}, message, opts)
  r.scope, r.groups = name, groups
  return r
end

---------------------------------------------------------------- counts

-- Every key matching pattern on shard i (SCAN, so a big Redis is not
-- stalled).
local function scan(i, pattern)
  local keys, cursor = {}, "0"
  repeat
    local r = call(i, nil, "SCAN", cursor, "MATCH", pattern, "COUNT", 1000)
    cursor = r[1]
    table.move(r[2], 1, #r[2], #keys + 1, keys)
  until cursor == "0"
  return keys
end

-- Default layer: live members of every group key matching P:group:G*,
-- expired ones removed first (counted only with dry_run): {group = n}.
local function group_counts(glob, dry_run)
  local head, out, cutoff = layer.channel_prefix .. ":group:", {}, layer.cutoff()
  for i = 0, redis.shards() - 1 do
    local keys, cmds = scan(i, head .. glob), {}
    for _, k in ipairs(keys) do
      if not dry_run then cmds[#cmds + 1] = { "ZREMRANGEBYSCORE", k, 0, cutoff } end
      cmds[#cmds + 1] = { "ZCOUNT", k, "(" .. cutoff, "+inf" }
    end
    local r = #cmds > 0 and pipeline(i, cmds) or {}
    local step = dry_run and 1 or 2
    for n, k in ipairs(keys) do out[k:sub(#head + 1)] = r[n * step] end
  end
  return out
end

-- Pub/sub layer: server processes subscribed to every group channel
-- matching P__group__G* (PUBSUB CHANNELS, NUMSUB): {group = n}.
local function subscriber_counts(glob)
  local head, out = layer.channel_prefix .. "__group__", {}
  for i = 0, redis.shards() - 1 do
    local chans = call(i, nil, "PUBSUB", "CHANNELS", head .. glob)
    if #chans > 0 then
      local r = call(i, nil, "PUBSUB", "NUMSUB", table.unpack(chans))
      for k = 1, #r, 2 do out[r[k]:sub(#head + 1)] = r[k + 1] end
    end
  end
  return out
end

-- Rooms by uuid from the database: {uuid = {name=, world=}}.
local function room_rows(ids)
  if #ids == 0 then return {} end
  local db, json = require "venueless.db", require "venueless.json"
  local out = {}
  for _, r in ipairs(db.query("SELECT id::text AS id, name, world_id FROM core_room"
      .. " WHERE id = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb))::uuid[])",
      json.encode(json.array(ids)))) do
    out[r.id] = { name = r.name, world = r.world_id }
  end
  return out
end

-- The counts by room: {room=, name=, world=, connections=, viewers=}.
local function by_room(counts)
  local rooms, ids = {}, {}
  for g, n in pairs(counts) do
    local id, field = g:match("^room%.([%x%-]+)$"), "connections"
    if id == nil then id, field = g:match("^room%.([%x%-]+)%.viewers$"), "viewers" end
    if id and id:find(UUID) then
      if not rooms[id] then
        rooms[id] = { room = id, connections = 0, viewers = 0 }
        ids[#ids + 1] = id
      end
      rooms[id][field] = n
    end
  end
  local rows = room_rows(ids)
  local out = {}
  for _, id in ipairs(ids) do
    local r = rooms[id]
    r.name, r.world = rows[id] and rows[id].name, rows[id] and rows[id].world
    out[#out + 1] = r
  end
  return out
end

-- connections.count(by [, {dry_run=, pubsub=}]): live connections of
-- each world ("world") or room ("room"), most first. Default layer:
-- {world=, connections=} / {room=, name=, world=, connections=,
-- viewers=} from the group members younger than the group expiry;
-- pub/sub layer: the same with server processes subscribed in place of
-- connections (it keeps no members), layer tells which.
function connections.count(by, opts)
  opts = opts or {}
  if by ~= "world" and by ~= "room" then error("bad argument #1 to 'count' (\"world\" or \"room\" expected)", 2) end
  local pubsub = layer.use_pubsub(opts)
  local counts = pubsub and subscriber_counts(by .. ".*") or group_counts(by .. ".*", opts.dry_run)
  local out
  if by == "room" then
    out = by_room(counts)
  else
    out = {}
    for g, n in pairs(counts) do out[#out + 1] = { world = g:sub(7), connections = n } end
  end
  local key = by == "room" and "room" or "world"
  table.sort(out, function(a, b)
    if a.connections ~= b.connections then return a.connections > b.connections end
    return a[key] < b[key]
  end)
  out.layer = pubsub and "pubsub" or "default"
  return out
end

-- Send a message (a table, or "drop"/"reload") to every connection of
-- the labels matching patterns (fnmatch globs, default "*"), or of a
-- scope {world=}, {room=}, {user=}.
function connections.broadcast(patterns, message, opts)
  opts = send_opts(opts)
  message = message_for(message)
  if type(patterns) == "table" and (patterns.world or patterns.room or patterns.user) then
    return send_scope(patterns, message, opts)
  end
  local ok, labels = pcall(connections.match, patterns, opts)
  if not ok then
    if core.is_error(labels) and labels.exit == core.exit.noredis then
      labels.message = labels.message .. "; nothing sent"
    end
    error(labels, 0)
  end
  local groups = {}
  for k, label in ipairs(labels) do groups[k] = "version." .. label end
  local result = send(groups, {}, message, opts, #labels)
  result.matched = labels
  return result
end

-- connections.drop(patterns, opts): connection.drop to matching labels.
function connections.drop(patterns, opts)
  return connections.broadcast(patterns, "drop", opts)
end

-- connections.force_reload(patterns, opts): connection.reload likewise.
function connections.force_reload(patterns, opts)
  return connections.broadcast(patterns, "reload", opts)
end

-- Send message to one channel (a name with "!" or, on the pub/sub layer,
-- one starting with the prefix and "specific.") or to every member of a
-- group (default layer: P:group:NAME; pub/sub: the sorted set NAME).
function connections.send(name, message, opts)
  opts = send_opts(opts)
  if type(name) ~= "string" then error("expected a channel or group name", 2) end
  if type(message) ~= "table" or type(message.type) ~= "string" then
    error("expected a message table with a string type", 2)
  end
  if layer.is_channel(name, layer.use_pubsub(opts)) then
    return send({}, { name }, message, opts)
  end
  return send({ name }, {}, message, opts)
end

-- Metadata for help(), the completer and the man page test (doc.lua).
connections._doc = {
  list = { sig = "connections.list([{dry_run=}])",
    text = "live labels with their estimated counts, the stale labels, the live labels sorted" },
  match = { sig = "connections.match(patterns [, opts])",
    text = "the live labels matching any of the fnmatch globs, sorted" },
  broadcast = { sig = "connections.broadcast(patterns, message [, {interval=, dry_run=}])",
    text = "send a message to every connection of the matching labels" },
  drop = { sig = "connections.drop(patterns or {world=|room=|user=} [, opts])",
    text = "send connection.drop to the matching labels, or to a world's, room's or user's connections" },
  count = { sig = "connections.count(\"world\" or \"room\" [, {dry_run=}])",
    text = "live connections of each world or room (pub/sub layer: subscribed server processes)" },
  force_reload = { sig = "connections.force_reload(patterns [, opts])",
    text = "send connection.reload to the matching labels" },
  send = { sig = "connections.send(name, message [, opts])",
    text = "send a message to one channel or to every member of a group" },
  summary = { sig = "connections.summary(result)",
    text = "a send's result as one line of text" },
  glob_pattern = { sig = "connections.glob_pattern(glob)",
    text = "an fnmatch glob as an anchored Lua pattern" },
  fnmatch = { sig = "connections.fnmatch(name, glob)",
    text = "does name match the glob, as Python's fnmatch" },
}

return connections
