-- venueless clone_world WORLD_ID [--new-secrets] [--id ID] [--title TITLE]
-- [--domain DOMAIN] [--json]: copy a world, its rooms and exhibitors.
local cli = require "venueless.cli"
local create = require "venueless.cmd.create_world"

local M = {}

function M.run(opts, args)
  cli.max_args(args, 1)
  if args[1] == nil then cli.usage("expected the WORLD_ID to copy") end
  local worlds = require "venueless.worlds"
  cli.connect_db("clone_world")
  -- The source must exist before anybody is asked anything.
  local src, msg, code = worlds.get(args[1])
  if src == nil then cli.fail(msg, nil, code) end
  local spec = create.ask_new(opts, "clone_world")
  spec.new_secrets = opts["new-secrets"] or nil
  cli.committed(create.reporter("World cloned.", opts), worlds.clone, src.id, spec)
end

return M
