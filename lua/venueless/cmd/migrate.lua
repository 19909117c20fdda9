-- venueless migrate: bring the database schema up to date, printing
-- what Django's migrate prints.
local cli = require "venueless.cli"

local M = {}

-- Write to stdout; a reader that went away (| head) must not stop us.
local function out(...)
  io.stdout:write(...)
end

-- Django's header for the targets; when the initial schema's squashes
-- come along, the apps line names theirs too, before a specific target.
local function header(h)
  out("Operations to perform:\n")
  if h.apps and (#h.apps > 0 or not h.target) then
    out("  Apply all migrations: ", #h.apps > 0 and table.concat(h.apps, ", ") or "(none)", "\n")
  end
  if h.target then
    out(("  Target specific migration: %s, from %s\n"):format(h.target.name, h.target.app))
  end
  out("Running migrations:\n")
end

-- Django's --plan line for an operation: its description, " -> " and
-- the code, cut to 40 characters with an ellipsis.
local function describe(kind, code)
  local action = code and (" -> " .. code:gsub("\n", "")) or ""
  if #action > 40 then action = action:sub(1, 39) .. "\u{2026}" end
  return "    " .. kind .. action .. "\n"
end

-- migrate --plan: Django's "Planned operations:" listing.
local function print_plan(plan)
  out("Planned operations:\n")
  if #plan == 0 then
    out("  No planned migration operations.\n")
    return
  end
  for _, u in ipairs(plan) do
    out(u.key, "\n")
    if u.description then out("    ", u.description, "\n") end
    if u.sql then out(describe("Raw SQL operation", u.sql)) end
    if u.run then out(describe("Lua operation", nil)) end
    if u.replaces and not (#u.replaces == 1 and u.replaces[1] == u.name) then
      out(("    Replaces %s %s\u{2026}%s (%d migrations)\n"):format(u.app,
        u.replaces[1], u.replaces[#u.replaces], #u.replaces))
    end
  end
end

-- A migration for --json: app, name and what it replaces.
local function unit_json(json, u)
  return json.ordered({ app = u.app, name = u.name,
    replaces = json.array({ table.unpack(u.replaces or {}) }) },
    { "app", "name", "replaces" })
end

local function units_json(json, list)
  local a = json.array({})
  for i, u in ipairs(list) do a[i] = unit_json(json, u) end
  return a
end

-- migrate --verify: the drift part of check alone, changing nothing.
local function verify(opts, args)
  if opts.check or opts.plan then cli.usage("--verify excludes --check and --plan") end
  cli.max_args(args, 0)
  cli.connect_db("migrate")
  local rep = require("venueless.check").schema()
  return require("venueless.cmd.check").print(rep, { json = opts.json,
    quiet = (opts.verbosity or 1) == 0 })
end

function M.run(opts, args)
  if opts.verify then return verify(opts, args) end
  cli.max_args(args, 2)
  -- src/cmd.c checked both: -v 0..3, --lock-timeout a number of seconds
  local v = opts.verbosity or 1
  local timeout = opts["lock-timeout"]
  io.stdout:setvbuf("line")
  local migrations = require "venueless.migrations"
  cli.connect_db("migrate")
  local text = v >= 1 and not opts.json
  local open_line = false	-- "  Applying x..." waits for its " OK"
  local ok, res = pcall(migrations.apply, {
    check = opts.check, plan = opts.plan, app = args[1], target = args[2],
    lock_timeout = timeout, timing = text and v >= 2,
    progress = function(event, unit, info, extra)
      if event == "lock_wait" then
        io.stderr:write("venueless: migrate: waiting for the migration lock held by ",
          migrations.describe_holder(info), "\n")
      elseif not text then
        return
      elseif event == "plan" then
        header(extra)
        if #info == 0 then out("  No migrations to apply.\n") end
      elseif event == "apply_start" then
        out("  Applying ", unit.key, "...")
        io.stdout:flush()
        open_line = true
      elseif event == "apply_success" then
        out(info and (" OK (%.3fs)\n"):format(info) or " OK\n")
        open_line = false
      end
    end,
  })
  if not ok then
    if open_line then out("\n") end
    error(res, 0)
  end
  if opts.json then
    local json = require "venueless.json"
    local doc
    if opts.check or opts.plan then
      doc = json.ordered({ pending = res.pending, plan = units_json(json, res.plan) },
        { "pending", "plan" })
    else
      local pm = res.post_migrate
      doc = json.ordered({ applied = units_json(json, res.applied),
        post_migrate = pm and json.ordered({ content_types = pm.content_types,
          permissions = pm.permissions }, { "content_types", "permissions" })
          or json.null }, { "applied", "post_migrate" })
    end
    cli.json(doc)
  elseif opts.plan and v >= 1 then
    print_plan(res.plan)
  end
  if opts.check and res.pending then return cli.exit.pending end
  return 0
end

return M
