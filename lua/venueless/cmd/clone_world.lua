-- venueless clone_world WORLD_ID [--new-secrets] [--id ID] [--title TITLE]
-- [--domain DOMAIN] [--json]: copy a world, its rooms and exhibitors.
local cli = require "venueless.cli"
local db = require "venueless.db"
local json = require "venueless.json"
local create = require "venueless.cmd.create_world"

local M = {}

-- The keys of each JWT_secrets entry of world id in the order the
-- database returns the jsonb object (shorter keys first, then bytewise):
-- upstream prints the copied dicts in that order. Entry i -> key list.
local KEY_ORDER = [[
SELECT e.i, (SELECT json_agg(k.key ORDER BY k.n) FROM jsonb_object_keys(e.v)
    WITH ORDINALITY AS k(key, n)) AS keys
FROM core_world w, jsonb_array_elements(CASE jsonb_typeof(w.config -> 'JWT_secrets')
    WHEN 'array' THEN w.config -> 'JWT_secrets' ELSE '[]' END) WITH ORDINALITY AS e(v, i)
WHERE w.id = $1 AND jsonb_typeof(e.v) = 'object']]

-- The clone's secrets as stored, each dict in the database's key order.
local function copied_secrets(w)
  local secrets = type(w.config) == "table" and w.config.JWT_secrets
  if type(secrets) ~= "table" then return nil end
  for _, r in ipairs(db.query({ json = true }, KEY_ORDER, w.id)) do
    local s = secrets[r.i]
    if type(s) == "table" and type(r.keys) == "table" then
      json.ordered(s, { table.unpack(r.keys) })
    end
  end
  return secrets
end

-- The counts as import_config gives them (cli.summary).
local function summary_line(w, source, s)
  return cli.summary(("World %s cloned from %s"):format(w.id, source),
    cli.plural(s.rooms, "room"), cli.plural(s.exhibitors, "exhibitor"),
    cli.plural(s.channels, "chat channel"), cli.plural(s.links, "link"),
    cli.plural(s.social_links, "social media link"))
end

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
  cli.committed(create.reporter("World cloned.", opts, function(res)
    -- New secrets are printed as they were made, copied ones as stored.
    local w, summary = res.world, res.summary
    return { summary = summary, summary_line = summary_line(w, src.id, summary),
      secrets = not spec.new_secrets and copied_secrets(w) or nil }
  end), worlds.clone, src.id, spec)
end

return M
