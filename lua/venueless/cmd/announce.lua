-- venueless announce WORLD_ID TEXT (--until TIME | --show-until-hidden)
-- | --list WORLD_ID | --deactivate ID [--json]: announcements shown in
-- every open browser of a world now (venueless.announce).
local cli = require "venueless.cli"
local json = require "venueless.json"
local announce = require "venueless.announce"

local M = {}

local FIELDS = { "id", "world_id", "text", "show_until", "timestamp", "state", "visible" }

local function as_json(a)
  local t = {}
  for _, k in ipairs(FIELDS) do t[k] = a[k] == nil and json.null or a[k] end
  return json.ordered(t, FIELDS)
end

-- Who was told: "pushed to 3 connections", or the pub/sub layer's
-- server processes (it cannot see connections).
local function told(push)
  if push == nil then return "not pushed: not shown before or after" end
  if push.layer == "pubsub" then
    return ("pushed to %s (pub/sub layer)"):format(cli.plural(push.delivered, "server process"))
  end
  return "pushed to " .. cli.plural(push.sent, "connection")
end

-- Print what was written (also when the push failed after the commit:
-- push is false then, and the failure says so).
local function reporter(opts, head)
  return function(a, push)
    if opts.json then cli.json(as_json(a)) return end
    cli.say(head(a))
    if push ~= false then cli.note(told(push)) end
  end
end

-- The result or its refusal as a failure (exit 1).
local function run_refusing(report, fn, ...)
  cli.committed(function(a, b, code)
    if a == nil then cli.fail(b, nil, code) end
    report(a, b)
  end, fn, ...)
end

local function create(opts, args)
  cli.max_args(args, 2)
  if args[2] == nil then cli.usage("expected WORLD_ID and TEXT") end
  if (opts["until"] ~= nil) == (opts["show-until-hidden"] ~= nil) then
    cli.usage("give either --until TIME or --show-until-hidden (no end time)")
  end
  cli.connect_db("announce")
  run_refusing(reporter(opts, function(a)
    return ("Announcement %s shown in world %s %s"):format(a.id, cli.shown(a.world_id),
      a.show_until and "until " .. a.show_until or "until hidden (announce --deactivate)")
  end), announce.create, args[1], args[2], { show_until = opts["until"] })
end

local function list(opts, args)
  cli.max_args(args, 1)
  if args[1] == nil then cli.usage("expected the WORLD_ID to list") end
  cli.connect_db("announce")
  local all, msg, code = announce.list(args[1])
  if all == nil then cli.fail(msg, nil, code) end
  if opts.json then
    local out = json.array({})
    for i, a in ipairs(all) do out[i] = as_json(a) end
    cli.json(out)
    return
  end
  for _, a in ipairs(all) do
    cli.say("%s  %-8s  %-7s  until %-25s  %s", a.id, a.state, a.visible and "shown" or "-",
      a.show_until or "hidden", cli.shown(a.text))
  end
end

local function deactivate(opts, args)
  cli.max_args(args, 0)
  cli.connect_db("announce")
  run_refusing(reporter(opts, function(a)
    return ("Announcement %s archived"):format(a.id)
  end), announce.deactivate, opts.deactivate)
end

function M.run(opts, args)
  if opts.list and opts.deactivate then cli.usage("--list and --deactivate exclude each other") end
  if (opts.list or opts.deactivate) and (opts["until"] or opts["show-until-hidden"]) then
    cli.usage("--until and --show-until-hidden apply to a new announcement")
  end
  if opts.deactivate then return deactivate(opts, args) end
  if opts.list then return list(opts, args) end
  return create(opts, args)
end

return M
