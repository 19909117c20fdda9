-- venueless clear_world_data WORLD_ID [--dry-run] [--yes] [--json]:
-- World.clear_data in one transaction. On a terminal the counts come
-- first and it asks; elsewhere it needs --yes (or --dry-run).
local cli = require "venueless.cli"
local core = require "venueless.core"
local retention = require "venueless.retention"

local M = {}

-- Whether the operator confirms, after seeing what would go.
local function confirmed(opts, id)
  local preview, msg, code = retention.clear_world_data(id, { dry_run = true })
  if preview == nil then cli.fail(msg, nil, code) end
  cli.say(table.concat(retention.receipt_lines(preview, cli.shown), "\n"))
  io.stdout:flush()
  local read = require("venueless.cmd.create_world").reader()
  local answer = read(("Clear world %s? This cannot be undone [y/N]: "):format(cli.shown(id)))
  return answer ~= nil and (answer:lower():match("^%s*y") ~= nil)
end

function M.run(opts, args)
  cli.max_args(args, 1)
  local id = args[1]
  if id == nil then cli.usage("expected a WORLD_ID argument") end
  local dry = opts["dry-run"]
  if not dry and not opts.yes and not core.isatty(0) then
    cli.fail("not on a terminal: give --yes to clear world " .. cli.shown(id)
      .. " (or --dry-run to see what would be deleted)", cli.exit.usage)
  end
  cli.connect_db("clear_world_data")
  if not dry and not opts.yes and not confirmed(opts, id) then
    cli.note("venueless: clear_world_data: not confirmed; nothing was cleared")
    return cli.exit.failure
  end
  local report = require("venueless.cmd.soft_delete_user").report
  cli.committed(function(r, msg, code)
    if r == nil then cli.fail(msg, nil, code) end
    report(opts, r)
  end, retention.clear_world_data, id, { dry_run = dry })
end

return M
