-- venueless list_worlds [--json]: id, title and URL of every world, in
-- upstream's "{:18}  {:32.32}  {}" columns.
local cli = require "venueless.cli"
local json = require "venueless.json"
local db = require "venueless.db"

local M = {}

-- Python's "{:N}" (pad) or "{:N.N}" (pad and cut), counting characters.
local function column(s, width, cut)
  local n = utf8.len(s)
  if n == nil then	-- not UTF-8: count bytes
    if cut and #s > width then s = s:sub(1, width) end
    return s .. (" "):rep(math.max(0, width - #s))
  end
  if cut and n > width then
    s = s:sub(1, utf8.offset(s, width + 1) - 1)
    n = width
  end
  return s .. (" "):rep(math.max(0, width - n))
end
M.column = column

local function line(id, title, url)
  return column(cli.shown(id), 18) .. "  " .. column(cli.shown(title), 32, true)
    .. "  " .. cli.shown(url)
end

-- A world's URL; none for a NULL or empty domain (the real create_world
-- stores '' for an empty answer).
local function url_of(w)
  if w.domain == db.NULL or w.domain == "" then return nil end
  return "https://" .. w.domain
end

-- Only the columns shown: a world's config can be megabytes.
local LIST = "SELECT id, title, domain, version FROM core_world ORDER BY id"

function M.run(opts, args)
  cli.max_args(args, 0)
  cli.connect_db("list_worlds")
  local list = db.query(LIST)
  if opts.json then
    local out = json.array({})
    for i, w in ipairs(list) do
      out[i] = json.ordered({ id = w.id, title = w.title, domain = w.domain,
        url = url_of(w) or json.null, version = w.version },
        { "id", "title", "domain", "url", "version" })
    end
    cli.json(out)
    return
  end
  local out = { line("ID", "Title", "URL") }
  for _, w in ipairs(list) do
    out[#out + 1] = line(w.id, w.title, url_of(w) or "")
  end
  cli.say(table.concat(out, "\n"))
end

return M
