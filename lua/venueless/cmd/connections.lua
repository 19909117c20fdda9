-- venueless connections list [--by world|room] | drop|force_reload
-- [PATTERN...] | drop|force_reload --world ID|--room UUID|--user UUID
local cli = require "venueless.cli"
local json = require "venueless.json"
local connections = require "venueless.connections"

local M = {}

-- Python's "{:60}": pad to 60 characters, never cut.
local function pad60(s)
  local len = utf8.len(s) or #s
  return s .. (" "):rep(math.max(0, 60 - len))
end

-- The labels sorted by name.
local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

-- list --by world|room: connections per world or room, most first.
local function list_by(opts)
  local by = opts.by
  if by ~= "world" and by ~= "room" then cli.usage("--by: expected world or room, not " .. by) end
  if by == "room" then cli.connect_db("connections") end
  local counts = connections.count(by, { dry_run = opts["dry-run"] })
  local what = counts.layer == "pubsub" and "server processes" or "connections"
  if counts.layer == "pubsub" then
    cli.note("venueless: connections: the pub/sub layer keeps no group members: counting the"
      .. " server processes subscribed to each group, not connections")
  end
  if opts.json then
    local out = json.array({})
    for i, c in ipairs(counts) do
      local t = { [by] = c[by], [what:gsub(" ", "_")] = c.connections }
      local keys = { by, (what:gsub(" ", "_")) }
      if by == "room" then
        t.name, t.world = c.name or json.null, c.world or json.null
        t.viewers = c.viewers
        keys = { "room", "name", "world", keys[2], "viewers" }
      end
      out[i] = json.ordered(t, keys)
    end
    cli.json(out)
    return
  end
  local out = { by == "room" and ("%-36s  %-18s  %-30s  %11s  %7s"):format("room", "world", "name",
    what == "connections" and "connections" or "processes", "viewers")
    or ("%-50s  %s"):format("world", what) }
  for _, c in ipairs(counts) do
    if by == "room" then
      out[#out + 1] = ("%-36s  %-18s  %-30s  %11d  %7d"):format(c.room, cli.shown(c.world or "?"),
        cli.shown(c.name or "(not in the database)"), c.connections, c.viewers)
    else
      out[#out + 1] = ("%-50s  %d"):format(cli.shown(c.world), c.connections)
    end
  end
  cli.say(table.concat(out, "\n"))
end

-- list: label and estimated count, stale labels pruned.
local function list(opts, args)
  cli.max_args(args, 1)
  if opts.interval then cli.usage("--interval applies to drop and force_reload") end
  if opts.world or opts.room or opts.user then
    cli.usage("--world, --room and --user apply to drop and force_reload")
  end
  if opts.by then return list_by(opts) end
  local live = connections.list({ dry_run = opts["dry-run"] })
  if opts.json then
    cli.json(json.object(live))
    return
  end
  local out = { pad60("filter") .. " est. number of connections" }
  for _, label in ipairs(sorted_keys(live)) do
    out[#out + 1] = pad60(cli.shown(label)) .. " " .. tostring(live[label])
  end
  cli.say(table.concat(out, "\n"))
end

-- The result of a send for --json: the counts and the matched labels.
local function result_json(r)
  return json.ordered({
    type = r.type, layer = r.layer, dry_run = r.dry_run or false,
    labels = json.array(r.matched or {}), channels = r.channels,
    process_keys = r.process_keys or json.null, sent = r.sent,
    over_capacity = r.over_capacity,
    over_capacity_connections = r.over_capacity_channels,
    delivered = r.delivered or json.null, scope = r.scope,
  }, { "type", "layer", "dry_run", "labels", "channels", "process_keys",
    "sent", "over_capacity", "over_capacity_connections", "delivered", "scope" })
end

-- drop / force_reload: send to every connection of the matching labels.
local function send(kind, opts, args)
  local interval = opts.interval or 0 -- whole ms >= 0, checked by src/cmd.c
  local patterns = table.move(args, 2, #args, 1, {})
  if opts.by then cli.usage("--by applies to list") end
  local n = (opts.world and 1 or 0) + (opts.room and 1 or 0) + (opts.user and 1 or 0)
  if n > 1 then cli.usage("give one of --world, --room or --user") end
  if n == 1 then
    if #patterns > 0 then cli.usage("a PATTERN and --world, --room or --user exclude each other") end
    patterns = { world = opts.world, room = opts.room, user = opts.user }
  end
  local ok, r = pcall(connections[kind], patterns, {
    interval = interval, dry_run = opts["dry-run"] })
  if not ok then
    local err = r
    if type(err) == "table" and err.result and err.code == "interrupted" then
      err.message = "interrupted; " .. connections.summary(err.result)
    end
    error(err, 0)
  end
  if opts.json then
    cli.json(result_json(r))
  elseif r.dry_run then
    for _, label in ipairs(r.matched or {}) do cli.say(cli.shown(label)) end
  end
  local summary = connections.summary(r)
  if r.dry_run and r.process_keys then
    summary = summary .. (" (%d process key%s)"):format(r.process_keys,
      r.process_keys == 1 and "" or "s")
  end
  cli.note(summary)
end

-- Dispatch on the subcommand.
function M.run(opts, args)
  local sub = args[1]
  if sub == "list" then
    return list(opts, args)
  elseif sub == "drop" or sub == "force_reload" then
    return send(sub, opts, args)
  elseif sub == nil then
    cli.usage("expected list, drop or force_reload")
  end
  cli.usage("unknown subcommand " .. sub)
end

return M
