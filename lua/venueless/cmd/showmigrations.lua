-- venueless showmigrations: list the migrations as Django does, with
-- [X] for the applied ones.
local cli = require "venueless.cli"

local M = {}

local function out(...)
  io.stdout:write(...)
end

function M.run(opts, args)
  local v = opts.verbosity or 1 -- 0..3, checked by src/cmd.c
  if opts.plan and opts.list then cli.usage("--plan and --list exclude each other") end
  io.stdout:setvbuf("line")
  local migrations = require "venueless.migrations"
  cli.connect_db("showmigrations")
  local apps = #args > 0 and args or nil
  local list = migrations.list({ apps = apps, dependencies = opts.plan })
  if opts.json then
    local json = require "venueless.json"
    local a = json.array({})
    for i, m in ipairs(list) do
      a[i] = json.ordered({ app = m.app, name = m.name, applied = m.applied,
        applied_at = m.applied_at or json.null },
        { "app", "name", "applied", "applied_at" })
    end
    cli.json(a)
    return 0
  end
  local function when(m)
    return v >= 2 and m.applied_at and (" (applied at %s)"):format(m.applied_at) or ""
  end
  -- Django's -v 2 plan adds what each migration depends on.
  local function deps(m)
    if v < 2 or #m.dependencies == 0 then return "" end
    return " ... (" .. table.concat(m.dependencies, ", ") .. ")"
  end
  if opts.plan then
    for _, m in ipairs(list) do
      out(m.applied and "[X]  " or "[ ]  ", m.app, ".", m.name, deps(m), "\n")
    end
    if #list == 0 then out("(no migrations)\n") end
    return 0
  end
  local by_app = {}
  for _, m in ipairs(list) do
    by_app[m.app] = by_app[m.app] or {}
    table.insert(by_app[m.app], m)
  end
  for _, app in ipairs(apps or list.apps) do
    out(app, "\n")
    local ms = by_app[app]
    if not ms then
      out(" (no migrations)\n")
    else
      for _, m in ipairs(ms) do
        out(m.applied and " [X] " or " [ ] ", m.name, when(m), "\n")
      end
    end
  end
  return 0
end

return M
