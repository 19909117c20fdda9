-- venueless import_config FILE [--dry-run | --diff] [--json]: create or
-- update a world from the venueless JSON format ("-" reads stdin), in
-- one transaction; or say what that would do.
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
      social_links = s.social_links, secrets_removed = s.secrets_removed,
      dry_run = s.dry_run },
      { "world", "created", "version", "rooms", "rooms_created", "channels_created",
        "exhibitors", "exhibitors_created", "links", "social_links", "secrets_removed",
        "dry_run" }))
  else
    cli.say((s.dry_run and "Dry run, rolled back: " or "") .. summary_line(s))
  end
  -- As upstream, the file's world keys replace the config whole; a file
  -- without JWT_secrets silently breaking every admin token deserves a word.
  if s.secrets_removed then
    cli.note("venueless: import_config: warning: the file has no JWT_secrets: world %s's "
      .. "secrets %s and tokens signed with them no longer work", s.world,
      s.dry_run and "would be removed" or "are removed")
  end
end

-- A value in a diff line: its JSON, cut to about 60 bytes on a
-- character boundary (json.encode escapes control characters).
local function shown(v)
  local t = json.encode(v)
  if #t <= 60 then return t end
  local n = 57
  while n > 1 and (t:byte(n + 1) or 0) & 0xC0 == 0x80 do n = n - 1 end
  return t:sub(1, n) .. "..."
end

local function diff_line(c)
  local secret = c.path:find("^world%.JWT_secrets") ~= nil
  if c.path == "world" then
    return ("+ world: new world %s"):format(shown(c.new))
  elseif c.path == "world.JWT_secrets" and c.op == "-" then
    return "- world.JWT_secrets: the file has none: the stored secrets would be removed"
      .. " and tokens signed with them stop working"
  elseif secret then
    return ("%s %s: (secret, not shown)"):format(c.op, c.path)
  elseif c.op == "+" and c.path:find("^rooms%[%d+%]$") then
    return ("+ %s: new room %s"):format(c.path, shown(c.new.id))
  elseif c.op == "+" and c.path:find("^exhibitors%[%d+%]$") then
    return ("+ %s: new exhibitor %s"):format(c.path, shown(c.new.name))
  elseif c.op == "~" then
    return ("~ %s: %s -> %s"):format(c.path, shown(c.old), shown(c.new))
  end
  return ("%s %s: %s"):format(c.op, c.path, shown(c.op == "+" and c.new or c.old))
end

-- The diff on stdout; exit 3 (pending) when the import would change
-- something, as migrate --check does.
local function report_diff(opts, d)
  if opts.json then
    local list = json.array({})
    for i, c in ipairs(d.changes) do
      list[i] = json.ordered({ op = c.op, path = c.path, old = c.old, new = c.new },
        { "op", "path", "old", "new" })
    end
    cli.json(json.ordered({ world = d.world, exists = d.exists, changes = list },
      { "world", "exists", "changes" }))
  else
    for _, c in ipairs(d.changes) do cli.say(diff_line(c)) end
  end
  if #d.changes > 0 then return cli.exit.pending end
end

function M.run(opts, args)
  cli.max_args(args, 1)
  if args[1] == nil then cli.usage("expected a FILE argument (- for stdin)") end
  if opts["dry-run"] and opts.diff then cli.usage("--dry-run and --diff exclude each other") end
  local worlds = require "venueless.worlds"
  -- open browsers of an updated world are told after the commit
  if opts["no-notify"] then require("venueless.model").notify = false end
  local function connect()
    cli.connect_db("import_config")
  end
  local how = { before_write = connect, dry_run = opts["dry-run"], diff = opts.diff }
  if opts.diff then
    local d, msg, code = worlds.import(args[1], how)
    if d == nil then cli.fail(msg, nil, code) end
    return report_diff(opts, d)
  end
  cli.committed(function(res)
    report(opts, res.world, res.summary)
  end, worlds.import, args[1], how)
end

return M
