-- venueless clear_unused_worlds DAYS [--dry-run] [--json]: clear every
-- world not cleared yet (domain set) without activity in the last DAYS
-- days, each in a transaction of its own.
local cli = require "venueless.cli"
local json = require "venueless.json"
local retention = require "venueless.retention"

local M = {}

-- One line per candidate: id, last activity, what happened.
local function line(w, dry)
  local what
  if not w.idle then
    what = "active, kept"
  elseif dry then
    what = "would be cleared"
  elseif w.cleared then
    local n = 0
    for _, c in ipairs(w.receipt.counts) do n = n + c.count end
    what = ("cleared: %d rows, %s"):format(n, cli.plural(#w.receipt.files, "file"))
  else
    what = "not cleared: " .. cli.shown(w.refused)
  end
  return ("%-20s %-20s %s"):format(cli.shown(w.world), w.last_activity or "never", what)
end

local function report(opts, r)
  if opts.json then
    local worlds = {}
    for i, w in ipairs(r.worlds) do
      worlds[i] = json.ordered({ world = w.world, last_activity = w.last_activity or json.null,
        last_login = w.last_login or json.null, idle = w.idle, cleared = w.cleared,
        refused = w.refused or json.null,
        receipt = w.receipt and retention.receipt_json(w.receipt) or json.null },
        { "world", "last_activity", "last_login", "idle", "cleared", "refused", "receipt" })
    end
    cli.json(json.ordered({ days = r.days, cutoff = r.cutoff, dry_run = r.dry_run,
      seconds = r.seconds, worlds = json.array(worlds) },
      { "days", "cutoff", "dry_run", "seconds", "worlds" }))
  else
    local out = { ("%-20s %-20s %s"):format("World", "Last activity", "Cutoff " .. r.cutoff) }
    for _, w in ipairs(r.worlds) do out[#out + 1] = line(w, r.dry_run) end
    cli.say(table.concat(out, "\n"))
  end
end

function M.run(opts, args)
  cli.max_args(args, 1)
  local days = args[1] and args[1]:match("^%d+$") and tonumber(args[1])
  if days == nil or days > 36500 then cli.usage("DAYS must be a whole number from 0 to 36500") end
  cli.connect_db("clear_unused_worlds")
  local worlds = require "venueless.worlds"
  cli.committed(function(r)
    report(opts, r)
    for _, w in ipairs(r.worlds) do
      if w.idle and not r.dry_run and not w.cleared and w.code ~= "active" then
        cli.fail(("world %s was not cleared: %s"):format(cli.shown(w.world), cli.shown(w.refused)))
      end
    end
  end, worlds.clear_unused, { days = math.tointeger(days), dry_run = opts["dry-run"] })
end

return M
