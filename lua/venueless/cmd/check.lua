-- venueless check: the readiness report (venueless.check), as text
-- lines or one JSON line; exit 0, or the class of the first FAIL.
local cli = require "venueless.cli"

local M = {}

-- The report's items to show: all, or with quiet only WARN and FAIL.
local function shown_items(rep, quiet)
  local t = {}
  for _, it in ipairs(rep.items) do
    if not quiet or it.status ~= "PASS" then t[#t + 1] = it end
  end
  return t
end

-- The report as one JSON line.
local function print_json(rep, items)
  local json = require "venueless.json"
  local a = json.array({})
  for i, it in ipairs(items) do
    a[i] = json.ordered({ status = it.status, check = it.check, reason = it.reason,
      hint = it.hint or json.null }, { "status", "check", "reason", "hint" })
  end
  cli.json(json.ordered({ exit = rep.exit, counts = json.ordered({ PASS = rep.counts.PASS,
    WARN = rep.counts.WARN, FAIL = rep.counts.FAIL }, { "PASS", "WARN", "FAIL" }),
    items = a }, { "exit", "counts", "items" }))
end

-- "FAIL  schema: column core_world.domain: missing", its hint below.
local function print_text(rep, items, quiet)
  for _, it in ipairs(items) do
    cli.say("%-4s  %s: %s", it.status, it.check, cli.shown(it.reason))
    if it.hint then cli.say("      hint: %s", cli.shown(it.hint)) end
  end
  if not quiet then
    cli.say("%d PASS, %d WARN, %d FAIL", rep.counts.PASS, rep.counts.WARN, rep.counts.FAIL)
  end
end

-- Print a report as check and migrate --verify do; its exit status.
function M.print(rep, opts)
  local items = shown_items(rep, opts.quiet)
  if opts.json then print_json(rep, items) else print_text(rep, items, opts.quiet) end
  return rep.exit
end

function M.run(opts, args)
  cli.max_args(args, 0)
  return M.print(require("venueless.check").run(), opts)
end

return M
