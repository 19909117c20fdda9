-- venueless connections list [--by world|room] | drop|force_reload
-- [PATTERN...] | drop|force_reload --world ID|--room UUID|--user UUID
-- A plain list loads only cli and connections/labels.lua; --by and the
-- sends are in cmd/connections/send.lua with the rest of
-- venueless.connections (compiling that was a tenth of a listing).
local cli = require "venueless.cli"
local core = require "venueless.core"

local M = {}

-- list: label and estimated count, stale labels pruned. Python's
-- "{:60}" pads to 60 characters, never cuts; the lines are joined once.
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
  -- A count's text made once per value (counts repeat; tostring is a
  -- snprintf), a padding once per width.
  local pads, texts, ulen, shown, rep = {}, {}, utf8.len, cli.shown, string.rep
  local mtype = math.type
  local out = { "filter", rep(" ", 54) .. " est. number of connections\n" }
  local m = 2
  for k = 1, #names do
    local label = names[k]
    local s, count = shown(label), live[label]
    local w = ulen(s) or #s
    local int = mtype(count) == "integer"	-- texts[1.0] would be texts[1]
    local pad, text = pads[w], int and texts[count]
    if pad == nil then
      pad = rep(" ", 60 - w) .. " "
      pads[w] = pad
    end
    if not text then
      text = tostring(count) .. "\n"
      if int then texts[count] = text end
    end
    out[m + 1], out[m + 2], out[m + 3] = s, pad, text
    m = m + 3
  end
  io.stdout:write(table.concat(out))
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
