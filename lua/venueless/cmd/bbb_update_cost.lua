-- venueless bbb_update_cost [--timeout S] [--json]: every active
-- BigBlueButton server's cost from its getMeetings answer (bbb.lua).
-- Silent on success, as a cron job every minute should be (-v lists
-- each server); one line per failed server, then exit 1.
local cli = require "venueless.cli"
local core = require "venueless.core"
local json = require "venueless.json"
local bbb = require "venueless.bbb"

local M = {}

-- A result as --json shows it.
local function result_json(r)
  return json.ordered({ id = r.id, url = r.url, ok = r.error == nil,
    cost = r.cost or json.null, previous = r.previous,
    meetings = r.meetings or json.null, error = r.error or json.null,
    code = r.code or json.null },
    { "id", "url", "ok", "cost", "previous", "meetings", "error", "code" })
end

function M.run(opts, args)
  cli.max_args(args, 0)
  cli.connect_db("bbb_update_cost")
  local results = bbb.update_cost({ timeout = opts.timeout })
  local failed = 0
  for _, r in ipairs(results) do
    if r.error then
      failed = failed + 1
      cli.note("venueless: bbb_update_cost: server %s (%s): %s", r.id, r.url, r.error)
    elseif core.verbose and not opts.json then
      cli.say("%s  %s  cost %d (%s)", r.id, r.url, r.cost, cli.plural(r.meetings, "meeting"))
    end
  end
  if opts.json then
    local list = json.array({})
    for i, r in ipairs(results) do list[i] = result_json(r) end
    cli.json(json.ordered({ servers = list, updated = #results - failed, failed = failed },
      { "servers", "updated", "failed" }))
  end
  if failed > 0 then
    cli.fail(("%d of %s failed; the others were updated"):format(failed,
      cli.plural(#results, "server")))
  end
end

return M
