-- venueless connections list [--by world|room] | drop|force_reload
-- [PATTERN...] | drop|force_reload --world ID|--room UUID|--user UUID
-- A plain list loads only cli and connections/labels.lua; --by and the
-- sends are in cmd/connections/send.lua with the rest of
-- venueless.connections (compiling that was a tenth of a listing).
local cli = require "venueless.cli"
local core = require "venueless.core"

local M = {}

-- list: label and estimated count, stale labels pruned. Python's
-- "{:60}" pads to 60 characters, never cuts (core.padded_lines).
local function list(opts, args)
  cli.max_args(args, 1)
  if opts.interval then cli.usage("--interval applies to drop and force_reload") end
  if opts.world or opts.room or opts.user then
    cli.usage("--world, --room and --user apply to drop and force_reload")
  end
  if opts.by then return require("venueless.cmd.connections.send").list_by(opts) end
  local live, _, names = require("venueless.connections.labels").list({
    dry_run = opts["dry-run"] })
  if opts.json then
    local json = require "venueless.json"
    cli.json(json.object(live))
    return
  end
  -- On a terminal a label's control characters are escaped (cli.shown).
  io.stdout:write("filter", (" "):rep(54), " est. number of connections\n",
    core.padded_lines(names, live, 60, core.isatty(1) and cli.shown or nil))
end

-- Dispatch on the subcommand.
function M.run(opts, args)
  local sub = args[1]
  if sub == "list" then
    return list(opts, args)
  elseif sub == "drop" or sub == "force_reload" then
    return require("venueless.cmd.connections.send").send(sub, opts, args)
  elseif sub == nil then
    cli.usage("expected list, drop or force_reload")
  end
  cli.usage("unknown subcommand " .. sub)
end

return M
