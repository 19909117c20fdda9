-- venueless __complete SHELL [--] WORD... CURRENT: what the completion
-- scripts (venueless completion) run on a Tab. Prints the candidates for
-- CURRENT, the last word of the command line after "venueless", one a
-- line, then a last line ":" (":f" when file names fit there too).
-- Commands, options and subcommands come from the command table
-- (src/cmd.c, core.commands()); live values (world ids, connection
-- labels, migration names) from complete/sources.lua, whose cache and
-- back-off live in a file between runs, so a dead or slow server costs
-- one short timeout, not one per Tab. Never fails: at worst nothing.
local core = require "venueless.core"

local M = {}

local FILE = "venueless-complete.json"

-- Split s at each sep (a plain character).
local function split(s, sep)
  local out = {}
  for part in (s .. sep):gmatch("(.-)" .. sep:gsub("%p", "%%%0")) do out[#out + 1] = part end
  return out
end

local function starts(s, prefix)
  return s:sub(1, #prefix) == prefix
end

-- The state file: in $XDG_CACHE_HOME or ~/.cache when that exists.
local function state_path()
  local dir = os.getenv("XDG_CACHE_HOME")
  if dir == nil or dir == "" then
    local home = os.getenv("HOME")
    if home == nil or home == "" then return nil end
    dir = home .. "/.cache"
  end
  return dir .. "/" .. FILE
end

-- Which deployment the config names (the state of each is kept apart).
local function deployment()
  local config = require "venueless.config"
  local d = config.database
  return table.concat({ d.host, d.port, d.name, d.user, config.redis.urls[1] or "" }, "\1")
end

-- Read the state file: { [deployment] = sources.save() }, or {}.
local function read_state(path)
  local f = path and io.open(path, "r")
  if not f then return {} end
  local s = f:read("a")
  f:close()
  local ok, t = pcall(require("venueless.json").decode, s)
  return ok and type(t) == "table" and t or {}	-- decode's nil, msg too
end

-- Write it whole, through a new file renamed over the old one.
local function write_state(path, all)
  if path == nil then return end
  local tmp = ("%s.%d.%s"):format(path, math.floor(core.time("monotonic") * 1e6) % 1e9,
    tostring({}):match("0x(%x+)") or "x")
  local f = io.open(tmp, "w")
  if not f then return end
  local ok = f:write(require("venueless.json").encode(all))
  f:close()
  if not ok or not os.rename(tmp, path) then os.remove(tmp) end
end

-- Live values of a source, through the saved cache and back-off.
local function live(kind, prefix, extra)
  local sources = require "venueless.complete.sources"
  local ok, key = pcall(deployment)
  if not ok then return {} end	-- a config error: nothing to ask
  local path = state_path()
  local all = read_state(path)
  local saved = all[key]
  if type(saved) == "table" and type(saved.cache) == "table" then
    local cache = {}
    for k, c in pairs(saved.cache) do cache[k:gsub("\1", "\0")] = c end
    sources.load({ cache = cache, down = saved.down })
  end
  local ok_, list = pcall(sources.values, kind, prefix, extra)
  if not ok_ then
    if core.is_error(list) and list.code == "interrupted" then error(list, 0) end
    list = {}
  end
  -- keep this deployment's state only: a file never grows past it
  -- (JSON strings hold no NUL: the cache keys' separators become \1)
  local state = sources.save()
  local cache = {}
  for k, c in pairs(state.cache) do cache[k:gsub("\0", "\1")] = c end
  write_state(path, { [key] = { cache = cache, down = state.down } })
  return list
end

-- The candidates of one spec position (e.g. "list|drop", "@world").
local function position(pos, cur, prev, out)
  pos = pos:gsub("%.%.%.$", "")
  if pos == "@file" then
    out.files = true
  elseif pos == "@world" or pos == "@label" then
    for _, v in ipairs(live(pos:sub(2), cur)) do out[#out + 1] = { v } end
  elseif pos == "@app" then
    local ok, index = pcall(require, "venueless.migrations.index")
    for _, a in ipairs(ok and index.apps or {}) do out[#out + 1] = { a } end
  elseif pos == "@migration" then
    if prev then
      for _, v in ipairs(live("app_migration", cur, prev)) do out[#out + 1] = { v } end
    end
  elseif pos ~= "" then
    for _, w in ipairs(split(pos, "|")) do out[#out + 1] = { w } end
  end
end

-- The candidates for positional argument n (args: those before it)
-- by the command's spec: branches ";", positions " ", "..." repeats.
local function positional(spec, args, cur, out)
  local n = #args + 1
  for _, branch in ipairs(split(spec or "", ";")) do
    local slots = split(branch, " ")
    local first = slots[1]
    local fits = n == 1 or starts(first, "@")
    for _, w in ipairs(split(first, "|")) do
      if w == args[1] then fits = true end
    end
    local slot = slots[n]
    if slot == nil and slots[#slots]:match("%.%.%.$") then slot = slots[#slots] end
    if fits and slot then position(slot, cur, args[n - 1], out) end
  end
end

-- The options a command takes: its own, then the global ones it does
-- not shadow (migrate's -v is its --verbosity).
local function options_of(cmd, globals)
  local list, long, short = {}, {}, {}
  for _, o in ipairs(cmd.options) do
    list[#list + 1] = o
    long[o.name] = o
    if o.short then short[o.short] = o end
  end
  for _, g in ipairs(globals) do
    if not long[g.name] then
      list[#list + 1] = g
      long[g.name] = g
      if g.short and not short[g.short] then short[g.short] = g end
    end
  end
  list[#list + 1] = { name = "help", short = "h", help = "show this help" }
  return list, long, short
end

-- The option a long word names: exact, or the one it abbreviates.
local function long_option(long, name)
  if long[name] then return long[name] end
  local found
  for n, o in pairs(long) do
    if starts(n, name) then
      if found then return nil end
      found = o
    end
  end
  return found
end

-- The option values for o: its spec, or file names for a FILE.
local function option_values(o, cur, out)
  if o.complete then return positional(o.complete, {}, cur, out) end
  if o.arg == "FILE" then out.files = true end
end

-- Walk the words after the command: the positional arguments so far,
-- or the option whose value is being completed.
local function walk(cmd, long, short, words)
  local args, ended = {}, false
  local i = 1
  while i <= #words do
    local w = words[i]
    local o
    if ended or w == "-" or not starts(w, "-") then
      args[#args + 1] = w
      if cmd.stop_at_arg then ended = true end
    elseif w == "--" then
      ended = true
    elseif starts(w, "--") then
      o = long_option(long, w:match("^%-%-([^=]*)"))
      if w:find("=", 1, true) then o = nil end
    else	-- a cluster of letters: the one taking an argument ends it
      for k = 2, #w do
        local s = short[w:sub(k, k)]
        if s and s.arg then
          o = k == #w and s or nil
          break
        end
      end
    end
    if o and o.arg then
      if i == #words then return args, o end
      if o.name == "config" then pcall(core.use_config, words[i + 1]) end
      i = i + 1
    end
    i = i + 1
  end
  return args, nil, ended
end

-- The candidates for cur after the global options and command words.
local function candidates(table_, words, cur)
  local out = {}
  local globals = table_.globals
  local gl, gs = {}, {}
  for _, g in ipairs(globals) do
    gl[g.name] = g
    gs[g.short] = g
  end
  -- global options before the command
  local i = 1
  while i <= #words and starts(words[i], "-") and words[i] ~= "-" do
    local w = words[i]
    local g = starts(w, "--") and not w:find("=", 1, true) and long_option(gl, w:sub(3))
      or (not starts(w, "--") and gs[w:sub(-1)])
    if g and g.arg then
      if i == #words then
        option_values(g, cur, out)
        return out
      end
      if g.name == "config" then pcall(core.use_config, words[i + 1]) end
      i = i + 1
    elseif starts(w, "--config=") then
      pcall(core.use_config, w:sub(10))
    end
    i = i + 1
  end
  if i > #words then
    if starts(cur, "-") then
      for _, g in ipairs(globals) do out[#out + 1] = { "--" .. g.name, g.help } end
      out[#out + 1] = { "--help", "show the usage and the commands" }
      out[#out + 1] = { "--version", "show the version" }
    else
      for _, c in ipairs(table_) do
        if not c.hidden then out[#out + 1] = { c.name, c.summary } end
      end
      out[#out + 1] = { "help", "show a command's usage and options" }
    end
    return out
  end
  local name = words[i]:gsub("-", "_")
  if name == "help" then
    if #words == i then return candidates(table_, {}, cur) end
    return out
  end
  local cmd
  for _, c in ipairs(table_) do
    if c.name == name then cmd = c end
  end
  if cmd == nil then return out end
  local list, long, short = options_of(cmd, globals)
  local rest = table.move(words, i + 1, #words, 1, {})
  local args, o, ended = walk(cmd, long, short, rest)
  if o then
    option_values(o, cur, out)
  elseif starts(cur, "--") and cur:find("=", 1, true) and not ended then
    local oname, value = cur:match("^%-%-([^=]*)=(.*)$")
    local opt = long_option(long, oname)
    if opt and opt.arg then
      local vals = {}
      option_values(opt, value, vals)
      for _, v in ipairs(vals) do out[#out + 1] = { "--" .. opt.name .. "=" .. v[1] } end
      out.files = vals.files
    end
  elseif starts(cur, "-") and not ended then
    for _, opt in ipairs(list) do out[#out + 1] = { "--" .. opt.name, opt.help } end
  else
    positional(cmd.complete, args, cur, out)
  end
  return out
end

-- Print the candidates starting with cur, for shell (bash: the words;
-- fish: word TAB description; zsh: word:description), then the directive.
function M.run(_, args)
  local shell = table.remove(args, 1) or "bash"
  if args[1] == "--" then table.remove(args, 1) end
  local cur = table.remove(args) or ""
  local ok, out = pcall(candidates, core.commands(), args, cur)
  if not ok then
    if core.is_error(out) and out.code == "interrupted" then error(out, 0) end
    out = {}
  end
  local lines, seen = {}, {}
  for _, c in ipairs(out) do
    local w, d = c[1], c[2]
    if type(w) == "string" and starts(w, cur) and not seen[w] and not w:find("[%c]") then
      seen[w] = true
      if shell == "fish" and d then
        w = w .. "\t" .. d
      elseif shell == "zsh" then
        w = w:gsub("[\\:]", "\\%0") .. (d and ":" .. d or "")
      end
      lines[#lines + 1] = w
    end
  end
  lines[#lines + 1] = out.files and ":f" or ":"
  io.stdout:write(table.concat(lines, "\n"), "\n")
end

return M
