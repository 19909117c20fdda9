-- venueless list_worlds [--json]: id, title and URL of every world, in
-- upstream's "{:18}  {:32.32}  {}" columns.
local cli = require "venueless.cli"
local json = require "venueless.json"

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
  return column(id, 18) .. "  " .. column(title, 32, true) .. "  " .. url
end

function M.run(opts, args)
  cli.max_args(args, 0)
  local worlds = require "venueless.worlds"
  cli.connect_db("list_worlds")
  local list = worlds.list()
  if opts.json then
    local out = json.array({})
    for i, w in ipairs(list) do
      out[i] = json.ordered({ id = w.id, title = w.title, domain = w.domain or json.null,
        url = w.domain and ("https://" .. w.domain) or json.null, version = w.version },
        { "id", "title", "domain", "url", "version" })
    end
    cli.say(json.encode(out))
    return
  end
  local out = { line("ID", "Title", "URL") }
  for _, w in ipairs(list) do
    out[#out + 1] = line(w.id, w.title, w.domain and ("https://" .. w.domain) or "")
  end
  cli.say(table.concat(out, "\n"))
end

return M
