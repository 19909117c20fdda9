-- venueless generate_token WORLD_ID [--trait T]... [--days N] [--raw]
-- [--count N] [--json]: invitation links, one a line, as upstream prints
-- them; the rows in one statement (world:token).
local cli = require "venueless.cli"
local json = require "venueless.json"

local M = {}

-- Upstream's --trait takes several values (nargs); ours is one a use, so
-- "--trait a b" leaves b as an argument: say how to write it.
local function world_arg(args)
  if #args == 0 then cli.usage("expected a WORLD_ID argument") end
  if #args > 1 then
    cli.usage(("expected one WORLD_ID, got %s (one trait per --trait: "
      .. "--trait a --trait b)"):format(table.concat(args, " ")))
  end
  return args[1]
end

function M.run(opts, args)
  local id = world_arg(args)
  local worlds = require "venueless.worlds"
  cli.connect_db("generate_token")
  local w, msg, code = worlds.get(id)
  if w == nil then cli.fail(msg, nil, code) end
  local traits = opts.trait or {}
  local links, rows
  links, rows, code = w:token({ traits = traits, days = opts.days or 90,
    raw = opts.raw, count = opts.count or 1 })
  if links == nil then cli.fail(rows, nil, code) end
  if opts.json then
    local shorts = json.array({})
    for i, r in ipairs(rows) do shorts[i] = r.short_token end
    cli.json(json.ordered({ world = w.id, traits = json.array(traits),
      days = opts.days or 90, raw = opts.raw or false, links = json.array(links),
      short_tokens = shorts },
      { "world", "traits", "days", "raw", "links", "short_tokens" }))
    return
  end
  cli.say(table.concat(links, "\n"))
end

return M
