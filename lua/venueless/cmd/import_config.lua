-- venueless import_config FILE [--json]: create or update a world from
-- the venueless JSON format ("-" reads stdin), in one transaction.
local cli = require "venueless.cli"
local json = require "venueless.json"

local M = {}

-- One line saying what was written.
local function summary_line(s)
  local plural = cli.plural
  return cli.summary(("World %s %s"):format(s.world, s.created and "created" or "updated"),
    ("%s (%d new)"):format(plural(s.rooms, "room"), s.rooms_created),
    ("%s (%d new)"):format(plural(s.exhibitors, "exhibitor"), s.exhibitors_created),
    plural(s.channels_created, "new chat channel"), plural(s.links, "link"),
    plural(s.social_links, "social media link"))
end

local function report(opts, w, s)
  if opts.json then
    cli.json(json.ordered({ world = s.world, created = s.created,
      version = w.version, rooms = s.rooms, rooms_created = s.rooms_created,
      channels_created = s.channels_created, exhibitors = s.exhibitors,
      exhibitors_created = s.exhibitors_created, links = s.links,
      social_links = s.social_links, secrets_removed = s.secrets_removed },
      { "world", "created", "version", "rooms", "rooms_created", "channels_created",
        "exhibitors", "exhibitors_created", "links", "social_links", "secrets_removed" }))
  else
    cli.say(summary_line(s))
  end
  -- As upstream, the file's world keys replace the config whole; a file
  -- without JWT_secrets silently breaking every admin token deserves a word.
  if s.secrets_removed then
    cli.note("venueless: import_config: warning: the file has no JWT_secrets: world %s's "
      .. "secrets are removed and tokens signed with them no longer work", s.world)
  end
end

function M.run(opts, args)
  cli.max_args(args, 1)
  if args[1] == nil then cli.usage("expected a FILE argument (- for stdin)") end
  local worlds = require "venueless.worlds"
  local function connect()
    cli.connect_db("import_config")
  end
  cli.committed(function(res)
    report(opts, res.world, res.summary)
  end, worlds.import, args[1], { before_write = connect })
end

return M
