-- venueless create_world [--id ID] [--title TITLE] [--domain DOMAIN] [--json]:
-- Django's three prompts (for what the options do not give), then the
-- secrets and the admin URL. Also the prompting and output clone_world uses.
local cli = require "venueless.cli"
local core = require "venueless.core"
local json = require "venueless.json"

local M = {}

M.PROMPTS = {
  id = "Enter the internal ID for the new world (alphanumeric): ",
  title = "Enter the title for the new world: ",
  domain = "Enter the domain of the new world (e.g. myevent.example.org): ",
}

local function strip(s)
  return (s:match("^%s*(.-)%s*$"))
end

-- A function prompt -> line or nil at end of input. On a terminal the
-- shell's line editor when it has one; otherwise plain reads, the prompt
-- on stderr so stdout carries only the result.
function M.reader()
  if core.isatty(0) then
    local ok, edit = pcall(require, "venueless.edit")
    if ok and type(edit) == "table" and type(edit.readline) == "function" then
      return edit.readline
    end
    return function(prompt)
      io.stdout:write(prompt)
      io.stdout:flush()
      return io.stdin:read("l")
    end
  end
  return function(prompt)
    io.stderr:write(prompt, "\n")
    return io.stdin:read("l")
  end
end

-- Ask until check(value) returns nil (it returns the complaint otherwise).
-- A value given as an option is checked once, and a complaint fails.
local function ask(read, what, given, check)
  if given ~= nil then
    local v = strip(given)
    local why = check(v)
    if why then cli.fail(why) end
    return v
  end
  while true do
    local line = read(M.PROMPTS[what])
    if line == nil then
      cli.fail(("end of input at the %s prompt; nothing was written"):format(what))
    end
    local v = strip(line)
    local why = check(v)
    if why == nil then return v end
    cli.note("venueless: %s: %s", M.command, why)
  end
end

-- The id, title and domain for a new world, from opts or the prompts.
function M.ask_new(opts, command)
  local worlds = require "venueless.worlds"
  local db = require "venueless.db"
  M.command = command
  local read = M.reader()
  local id = ask(read, "id", opts.id, function(v)
    if not worlds.valid_id(v) then
      return "the id must be " .. worlds.ID_RULE
    end
    if worlds.get(v) then return ("world %s already exists"):format(v) end
    return nil
  end)
  local title = ask(read, "title", opts.title, function(v)
    if v == "" then return "the title must not be empty" end
    if utf8.len(v) == nil then return "the title is not valid UTF-8" end
    if utf8.len(v) > 300 then return "the title is longer than 300 characters" end
    return nil
  end)
  local domain = ask(read, "domain", opts.domain, function(v)
    if v == "" then return nil end
    if v:find("[%s/]") or utf8.len(v) == nil or #v > 250 then
      return "the domain must be a host name (at most 250 characters, no spaces or slashes)"
    end
    local r = db.query("SELECT id FROM core_world WHERE domain = $1", v)
    if r[1] then return ("domain %s is already used by world %s"):format(v, r[1].id) end
    return nil
  end)
  return { id = id, title = title, domain = domain ~= "" and domain or nil }
end

---------------------------------------------------------------- output

-- Python's repr of a str.
local function py_str(s)
  local q = "'"
  if s:find("'", 1, true) and not s:find('"', 1, true) then q = '"' end
  return q .. s:gsub("[%c\\'\"]", function(c)
    if c == "\\" then return "\\\\" end
    if c == q then return "\\" .. q end
    if c == "'" or c == '"' then return c end
    local named = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
    return named[c] or ("\\x%02x"):format(c:byte())
  end) .. q
end

local FIRST = { issuer = 1, audience = 2, secret = 3 }

-- A dict's keys in the order upstream prints them: a dict read from the
-- database in the order it returned them (json.ordered's __order, see
-- clone_world), one we made as we made it: issuer, audience, secret,
-- then any others sorted.
local function py_keys(v)
  local mt = getmetatable(v)
  local order = type(mt) == "table" and rawget(mt, "__order") or nil
  if order then return order end
  local keys = {}
  for k in pairs(v) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local fa, fb = FIRST[a] or 99, FIRST[b] or 99
    if fa ~= fb then return fa < fb end
    return a < b
  end)
  return keys
end

-- Python's repr of a JSON value (the secrets list as upstream prints it).
function M.py_repr(v)
  local t = type(v)
  if v == json.null or v == nil then return "None" end
  if t == "boolean" then return v and "True" or "False" end
  if t == "number" then return tostring(v) end
  if t == "string" then return py_str(v) end
  if #v > 0 or getmetatable(v) == getmetatable(json.array({})) then
    local parts = {}
    for i, x in ipairs(v) do parts[i] = M.py_repr(x) end
    return "[" .. table.concat(parts, ", ") .. "]"
  end
  local parts = {}
  for i, k in ipairs(py_keys(v)) do parts[i] = py_str(k) .. ": " .. M.py_repr(v[k]) end
  return "{" .. table.concat(parts, ", ") .. "}"
end

-- The lines upstream prints after creating or cloning, or the JSON.
-- out: headline, and for a clone secrets (in the database's key order),
-- summary (the counts) and summary_line (them as text, printed last).
function M.report(w, url, opts, out)
  local secrets = out.secrets
    or type(w.config) == "table" and w.config.JWT_secrets or json.array({})
  if opts.json then
    -- The URL's token when there is one: the same JWT twice.
    local token = url and url:match("#token=(.*)$") or w:admin_token()
    cli.json(json.ordered({ id = w.id, title = w.title,
      domain = w.domain or json.null, version = w.version, secrets = secrets,
      admin_url = url or json.null, admin_token = token or json.null,
      summary = out.summary or json.null },
      { "id", "title", "domain", "version", "secrets", "admin_url", "admin_token",
        "summary" }))
    return
  end
  cli.say(out.headline)
  cli.say("Default API key secrets: %s", M.py_repr(secrets))
  if url then
    cli.say("Admin url:")
    cli.say(url)
  end
  if out.summary_line then cli.say(out.summary_line) end
end

-- What cli.committed hands the result of worlds.create/clone to: the
-- world is shown (also when its cache update failed). more(result) ->
-- the rest of report's out (clone_world's).
function M.reporter(headline, opts, more)
  return function(res)
    local out = more and more(res) or {}
    out.headline = headline
    M.report(res.world, res.url, opts, out)
  end
end

function M.run(opts, args)
  cli.max_args(args, 0)
  local worlds = require "venueless.worlds"
  cli.connect_db("create_world")
  local spec = M.ask_new(opts, "create_world")
  cli.committed(M.reporter("World created.", opts), worlds.create, spec)
end

return M
