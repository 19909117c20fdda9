-- venueless soft_delete_user USER_ID | --world W --token-id T
-- [--dry-run] [--json]: GDPR erasure of one user (User.soft_delete) in
-- one transaction; the receipt is printed either way.
local cli = require "venueless.cli"
local retention = require "venueless.retention"

local M = {}

-- Print the receipt (text, or one JSON line).
function M.report(opts, r)
  if opts.json then
    cli.json(retention.receipt_json(r))
  else
    cli.say(table.concat(retention.receipt_lines(r, cli.shown), "\n"))
  end
  local n = retention.failed_files(r)
  if n > 0 then
    cli.fail(("committed, but %s could not be removed from %s"):format(
      cli.plural(n, "file"), require("venueless.storage").media_root()))
  end
end

-- The user: USER_ID, or --world and --token-id together.
local function who(opts, args)
  cli.max_args(args, 1)
  if opts.world or opts["token-id"] then
    if args[1] then cli.usage("give USER_ID or --world and --token-id, not both") end
    if not (opts.world and opts["token-id"]) then
      cli.usage("--world and --token-id go together")
    end
    return { world = opts.world, token_id = opts["token-id"] }
  end
  if args[1] == nil then cli.usage("expected a USER_ID argument (or --world and --token-id)") end
  return args[1]
end

function M.run(opts, args)
  local user = who(opts, args)
  cli.connect_db("soft_delete_user")
  cli.committed(function(r, msg, code)
    if r == nil then cli.fail(msg, nil, code) end
    M.report(opts, r)
  end, retention.soft_delete, user, { dry_run = opts["dry-run"] })
end

return M
