-- venueless cleanup [--dry-run] [--json] [--lock-timeout SECONDS]: the
-- cron job (venueless.cleanup). Silent on success unless -v or --json.
local cli = require "venueless.cli"
local core = require "venueless.core"
local json = require "venueless.json"

local M = {}

local function report_json(r)
  local rows, files = {}, {}
  for i, c in ipairs(r.counts) do
    rows[i] = json.ordered({ table = c.table, action = c.action, what = c.what, count = c.count },
      { "table", "action", "what", "count" })
  end
  for i, f in ipairs(r.files) do
    files[i] = json.ordered({ id = f.id, file = f.file or json.null, state = f.state,
      error = f.error or json.null }, { "id", "file", "state", "error" })
  end
  cli.json(json.ordered({ dry_run = r.dry_run, seconds = r.seconds, rows = json.array(rows),
    files = json.array(files), digitalsamba_done = not r.digitalsamba and json.null or false },
    { "dry_run", "seconds", "rows", "files", "digitalsamba_done" }))
end

local function report_text(r)
  local verb = r.dry_run and "would be " or ""
  local out = { ("cleanup: %s in %.3f s"):format(r.dry_run and "dry run, nothing written"
    or "committed", r.seconds) }
  for _, c in ipairs(r.counts) do
    out[#out + 1] = ("  %-28s %7d %s%s (%s)"):format(c.table, c.count, verb,
      c.action == "delete" and "deleted" or "updated", c.what)
  end
  for _, f in ipairs(r.files) do
    out[#out + 1] = ("  file %s %s%s"):format(cli.shown(f.file or "(none)"), f.state,
      f.error and ": " .. cli.shown(f.error) or "")
  end
  cli.say(table.concat(out, "\n"))
end

function M.run(opts, args)
  cli.max_args(args, 0)
  cli.connect_db("cleanup")
  local r = require("venueless.cleanup").run({ dry_run = opts["dry-run"],
    lock_timeout = opts["lock-timeout"] })
  if opts.json then
    report_json(r)
  elseif core.verbose then
    report_text(r)
  end
  if r.digitalsamba then
    cli.note("venueless: cleanup: VENUELESS_DIGITALSAMBA_TEAM is set, but the DigitalSamba"
      .. " cleanup (rooms, old recordings) is not done here")
  end
  local failed = 0
  for _, f in ipairs(r.files) do
    if f.state == "failed" then failed = failed + 1 end
  end
  if failed > 0 then
    cli.fail(("committed, but %s not removed"):format(cli.plural(failed, "stored file")))
  end
end

return M
