-- venueless connections list --by world|room, drop and force_reload: the
-- subcommands that need the whole of venueless.connections (group
-- counts and sends), loaded by cmd/connections.lua only for them, so a
-- plain `connections list` compiles none of it (bench/connections).
local cli = require "venueless.cli"
local core = require "venueless.core"
local json = require "venueless.json"
local connections = require "venueless.connections"

local M = {}

-- list --by world|room: connections per world or room, most first.
function M.list_by(opts)
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

-- The live labels and their counts, for a check before sending; a Redis
-- that cannot be reached fails as the send would ("; nothing sent").
local function live_labels()
  local ok, live = pcall(connections.list, { dry_run = true })
  if not ok then
    if core.is_error(live) and live.exit == core.exit.noredis then
      live.message = live.message .. "; nothing sent"
    end
    error(live, 0)
  end
  return live
end

-- Refuse patterns that match no live label: a warning for each (labels
-- are COMMIT.ENVIRONMENT, so a bare commit matches nothing; suggest
-- COMMIT.*), then a failure before anything is sent.
local function check_patterns(patterns, live)
  local glob = require "venueless.glob"
  local none = {}
  for _, g in ipairs(patterns) do
    local hit = false
    for label in pairs(live) do
      if glob.fnmatch(label, g) then hit = true break end
    end
    if not hit then
      local hint = ""
      if not g:find("[.*?%[]") then
        hint = (" (labels are COMMIT.ENVIRONMENT: try %s.*)"):format(cli.shown(g))
      end
      cli.note("venueless: connections: warning: pattern %s matches no label%s", cli.shown(g), hint)
      none[#none + 1] = cli.shown(g)
    end
  end
  if #none > 0 then
    cli.fail(("no label matches %s; nothing sent (connections list shows the labels)")
      :format(table.concat(none, ", ")))
  end
end

-- drop / force_reload of every label on a terminal: say how many it
-- reaches and how to go gently, then ask. Off a terminal (cron) it goes
-- ahead, as upstream's command does; --yes skips the question.
local function confirm_all(kind, live)
  local labels, n = 0, 0
  for _, c in pairs(live) do
    labels, n = labels + 1, n + c
  end
  cli.note("venueless: connections: %s reaches every connection: %s, about %s.", kind,
    cli.plural(labels, "label"), cli.plural(n, "connection"))
  cli.note("  --dry-run shows what would be reached; --interval MS spaces the messages out"
    .. " (a drop makes every browser reconnect at once); --yes does not ask.")
  local read = require("venueless.cmd.create_world").reader()
  local answer = read(("%s every connection? [y/N]: "):format(kind == "drop" and "Drop" or "Reload"))
  if not (answer and answer:lower():match("^%s*y")) then
    cli.fail("not confirmed; nothing sent")
  end
end

-- drop / force_reload: send to every connection of the matching labels.
function M.send(kind, opts, args)
  local interval = opts.interval or 0 -- whole ms >= 0, checked by src/cmd.c
  local patterns = table.move(args, 2, #args, 1, {})
  if opts.by then cli.usage("--by applies to list") end
  local n = (opts.world and 1 or 0) + (opts.room and 1 or 0) + (opts.user and 1 or 0)
  if n > 1 then cli.usage("give one of --world, --room or --user") end
  if n == 1 then
    if #patterns > 0 then cli.usage("a PATTERN and --world, --room or --user exclude each other") end
    patterns = { world = opts.world, room = opts.room, user = opts.user }
  else
    local all = #patterns == 0
    for _, g in ipairs(patterns) do
      if g == "*" then all = true end
    end
    local ask = all and not opts.yes and not opts["dry-run"] and core.isatty(0)
    if ask or not all then
      local live = live_labels()
      if not all then check_patterns(patterns, live) end
      if ask then confirm_all(kind, live) end
    end
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

return M
