-- The interactive shell: lua.c's read-eval-print loop (expression first,
-- then statement, ">> " for incomplete chunks) over venueless.edit, with
-- top-level locals that survive, results in _ and _1, _2, …, the pretty
-- printer, completion, a secret-free history file and a prompt naming
-- the database, the environment and an open transaction.
local core = require "venueless.core"
local edit = require "venueless.edit"

local lexer = require "venueless.lexer"

-- The completer (on the first Tab) and the printer load on first use:
-- the prompt comes sooner.
local function complete() return require "venueless.complete" end
local function pretty() return require "venueless.pretty" end

local M = {}

M.continuation = ">> "

---------------------------------------------------------------- session

-- A session: env is the chunks' _ENV. Names declared local at the top
-- level live in values; everything else reads and writes _G.
function M.session()
  local declared, values, pending = {}, {}, {}
  local s = { n = 0, declared = declared, values = values, pending = pending }
  s.env = setmetatable({}, {
    __index = function(_, k)
      if declared[k] then return values[k] end
      return _G[k]
    end,
    __newindex = function(_, k, v)
      if declared[k] or pending[k] then
        declared[k] = true
        values[k] = v
      else
        _G[k] = v
      end
    end,
    __locals = function()
      local out = {}
      for k in pairs(declared) do
        if values[k] ~= nil then out[k] = values[k] else out[k] = true end
      end
      return out
    end,
  })
  return s
end

-- Make name a session local holding v.
local function set_local(s, name, v)
  s.declared[name] = true
  s.values[name] = v
end

-- Block openers and closers, for finding the top level of a chunk.
local OPEN = { ["function"] = true, ["do"] = true, ["if"] = true, ["repeat"] = true }
local CLOSE = { ["end"] = true, ["until"] = true }

-- Rewrite the top-level locals of chunk into assignments to session
-- names: "local x, y = 1" -> "x, y = 1", "local function f" -> "function
-- f", "local x" -> "x = nil". Returns the new chunk and the names.
function M.rewrite_locals(chunk)
  local toks = lexer.lex(chunk)
  local depth, edits, names = 0, {}, {}
  local i = 1
  while i <= #toks do
    local t = toks[i]
    if t.type == "keyword" then
      if OPEN[t.value] then depth = depth + 1
      elseif CLOSE[t.value] then depth = depth - 1 end
    end
    if depth == 0 and t.type == "keyword" and t.value == "local" then
      local nt = toks[i + 1]
      if nt and nt.type == "keyword" and nt.value == "function" and toks[i + 2]
        and toks[i + 2].type == "name" then
        names[#names + 1] = toks[i + 2].value
        edits[#edits + 1] = { t.s, nt.s - 1, "" }
      elseif nt and nt.type == "name" then
        local j, list, close = i + 1, {}, false
        while toks[j] and toks[j].type == "name" do
          list[#list + 1] = toks[j].value
          local a = toks[j + 1]
          if a and a.value == "<" and toks[j + 2] and toks[j + 3] and toks[j + 3].value == ">" then
            if toks[j + 2].value == "close" then close = true end
            edits[#edits + 1] = { a.s, toks[j + 3].e, "", j }
            a = toks[j + 4]
            j = j + 3
          end
          if a and a.value == "," then j = j + 2 else j = j + 1; break end
        end
        if close then
          -- a <close> variable keeps its meaning: leave the statement alone
          while #edits > 0 and edits[#edits][4] and edits[#edits][4] > i do
            edits[#edits] = nil
          end
        else
          for _, n in ipairs(list) do names[#names + 1] = n end
          edits[#edits + 1] = { t.s, nt.s - 1, "" }
          local after = toks[j]
          if not (after and after.value == "=") then
            edits[#edits + 1] = { toks[j - 1].e + 1, toks[j - 1].e, " = nil" }
          end
        end
      end
    end
    i = i + 1
  end
  table.sort(edits, function(a, b) return a[1] > b[1] end)
  for _, e in ipairs(edits) do
    chunk = chunk:sub(1, e[1] - 1) .. e[3] .. chunk:sub(e[2] + 1)
  end
  return chunk, names
end

-- Is this syntax error an incomplete chunk (lua.c's incomplete())?
local function incomplete(err)
  return err:sub(-5) == "<eof>"
end

-- Compile a complete chunk for s: "return" .. chunk first, then the chunk
-- with its top-level locals rewritten. Returns f, names | nil, err.
function M.compile(s, chunk)
  local f = load("return " .. chunk .. ";", "=stdin", "t", s.env)
  if f then return f, {} end
  local g, err = load(chunk, "=stdin", "t", s.env)
  if not g then return nil, err end
  local code, names = M.rewrite_locals(chunk)
  local h = load(code, "=stdin", "t", s.env)
  if h then return h, names end
  return g, {}
end

---------------------------------------------------------------- running

-- A traceback that ends at the user's code: the runner's own frames
-- (xpcall and what called it: this file, cmd/shell.lua, the C entry)
-- and the tail call of the shell's "return <chunk>" are cut off.
function M.trim_traceback(tb)
  tb = tb:gsub("\n%s*%[C%]: in function 'xpcall'.*$", "")
  tb = tb:gsub("\n%s*%(%.%.%.tail calls%.%.%.%)$", "")
  return tb
end

-- Error handler: venueless errors as they are, Lua errors with a
-- traceback that stops at the shell's own frames.
local function handler(e)
  if core.is_error(e) then return e end
  local tb = M.trim_traceback(debug.traceback(tostring(e), 2))
  return { message = tostring(e), traceback = tb }
end
M.handler = handler

-- The widest statement line shown around an SQL error's caret.
M.context_width = 72

-- psql's error context: the statement's line holding the server's error
-- position pos (a character index from 1) and a caret under it, a long
-- line cut around the caret with "...". Returns the two lines.
function M.sql_context(sql, pos)
  local chars = {}
  for _, c in utf8.codes(sql, true) do chars[#chars + 1] = utf8.char(c) end
  if #chars == 0 then chars = { sql } end
  pos = math.max(1, math.min(pos, #chars))
  local first, lineno = 1, 1
  for i = 1, pos - 1 do
    if chars[i] == "\n" then first, lineno = i + 1, lineno + 1 end
  end
  local last = #chars
  for i = pos, #chars do
    if chars[i] == "\n" then last = i - 1; break end
  end
  local from, to = first, last
  local pre, post = "", ""
  if to - from + 1 > M.context_width then
    from = math.max(first, pos - M.context_width // 2)
    to = math.min(last, from + M.context_width - 1)
    if from > first then pre = "..." end
    if to < last then post = "..." end
  end
  local text = table.concat(chars, "", from, to):gsub("[\t\r]", " ")
  local head = ("LINE %d: "):format(lineno) .. pre
  local caret = (" "):rep(utf8.len(head) + pos - from) .. "^"
  return head .. text .. post, caret
end

-- The message of error e (a table with one); an SQL error's with the
-- statement's line and a caret after its first line, before any DETAIL,
-- as psql prints them.
function M.sql_message(e)
  local msg = tostring(e.message)
  if type(e.statement) == "string" and math.type(e.position) == "integer" then
    local l, caret = M.sql_context(e.statement, e.position)
    local head, rest = msg:match("^([^\n]*)(.*)$")
    msg = head .. "\n" .. l .. "\n" .. caret .. rest
  end
  return msg
end

-- Print an error from a chunk (or from the shell itself) on stderr; an
-- SQL error with its statement and a caret at the error position.
function M.report(e)
  local msg
  if type(e) == "table" and e.traceback and not core.is_error(e) then
    msg = e.traceback
  elseif type(e) == "table" and e.message then
    msg = M.sql_message(e)
  else
    msg = tostring(e)
  end
  -- after the terminal's "^C", start a new line
  local nl = type(e) == "table" and e.code == "interrupted" and "\n" or ""
  io.stderr:write(nl, "venueless: shell: ", msg, "\n")
  io.stderr:flush()
end

-- Keep the results: _ is the first, _N the N-th evaluation's first.
local function keep(s, res)
  if res.n == 0 then return end
  s.n = s.n + 1
  set_local(s, "_", res[1])
  set_local(s, "_" .. s.n, res[1])
end

---------------------------------------------------------------- output

-- The shell's output settings (the meta-commands change them): timing
-- (\timing), pager (\pager), out and out_name (\o FILE).
M.settings = { timing = false, pager = true }

-- The pager command: $PAGER ("" or unset: less, if installed), or nil.
function M.pager_command()
  local p = os.getenv("PAGER")
  if p and p:match("%S") then return p end
  for dir in (os.getenv("PATH") or ""):gmatch("[^:]+") do
    local f = io.open(dir .. "/less", "r")
    if f then
      f:close()
      return "less"
    end
  end
end

-- Does text fit the terminal (fewer lines than its rows, none wider)?
local function fits(text)
  local cols, rows = edit.columns()
  if not cols then return true end
  local n = 0
  for l in text:gmatch("[^\n]*") do
    n = n + 1
    if n >= rows or pretty().display_width(l) > cols then return false end
  end
  return true
end

-- Show text through the pager, without colours; false if there is none.
local function page(text)
  local cmd = M.pager_command()
  if not cmd then return false end
  local ok = pcall(function()
    local p = io.popen(cmd, "w")
    if not p then error("no pager") end
    p:write((text:gsub("\27%[[%d;]*m", "")), "\n")
    p:close()
  end)
  -- Ctrl-C in the pager reached the shell too: it ended only the pager
  core.clear_interrupt()
  return ok
end

-- Write a chunk's output: to the \o file, else to the terminal (through
-- the pager when it does not fit and paging is on), else to stdout.
function M.emit(text, opts)
  opts = opts or {}
  local set = M.settings
  if set.out then
    set.out:write(text, "\n")
    set.out:flush()
    return
  end
  if set.pager and opts.pager ~= false and core.isatty(1) and core.isatty(0)
    and not fits(text) and page(text) then
    return
  end
  io.stdout:write(text, "\n")
  io.stdout:flush()
end

-- Print results: tab-separated, one per line when any spans lines.
function M.print_results(res, opts)
  if res.n == 0 then return end
  local out, multi = {}, false
  -- a file gets no colours
  local fopts = M.settings.out and { color = false } or nil
  for i = 1, res.n do
    out[i] = pretty().format(res[i], fopts)
    if out[i]:find("\n") then multi = true end
  end
  M.emit(table.concat(out, multi and "\n" or "\t"), opts)
end

-- Run a compiled chunk; names become session locals when they are set.
-- opts.pager = false: never page its results (\watch).
function M.run_chunk(s, f, names, opts)
  for _, n in ipairs(names) do s.pending[n] = true end
  local res = table.pack(xpcall(f, handler))
  for _, n in ipairs(names) do s.pending[n] = nil end
  if not res[1] then
    M.report(res[2])
    return false
  end
  local out = table.pack(table.unpack(res, 2, res.n))
  keep(s, out)
  M.print_results(out, opts)
  return true
end

-- Run the startup file in session s: $VENUELESS_INIT (empty: none), else
-- $XDG_CONFIG_HOME/venueless/init.lua or ~/.config/venueless/init.lua
-- if it exists. Its top-level locals become session locals. An error is
-- reported and the shell goes on; returns whether it ran without one.
function M.init_file()
  local f = os.getenv("VENUELESS_INIT")
  if f then return f ~= "" and f or nil, true end
  local base = os.getenv("XDG_CONFIG_HOME")
  if not base or base == "" then
    local home = os.getenv("HOME")
    if not home or home == "" then return nil end
    base = home .. "/.config"
  end
  return base .. "/venueless/init.lua", false
end

function M.run_init(s)
  local path, explicit = M.init_file()
  if not path then return true end
  local fh, err = io.open(path, "r")
  if not fh then
    if explicit then M.report("init file: " .. err) end
    return not explicit
  end
  local src = fh:read("a"):gsub("^#[^\n]*", "")
  fh:close()
  local code, names = M.rewrite_locals(src)
  local fn = load(code, "@" .. path, "t", s.env)
  if not fn then
    names = {}
    fn, err = load(src, "@" .. path, "t", s.env)
    if not fn then
      M.report("init file: " .. err)
      return false
    end
  end
  for _, n in ipairs(names) do s.pending[n] = true end
  local ok, e = xpcall(fn, handler)
  for _, n in ipairs(names) do s.pending[n] = nil end
  if not ok then
    if type(e) == "table" and e.traceback then e.traceback = "init file: " .. e.traceback
    elseif type(e) == "table" and e.message then e = "init file: " .. tostring(e.message) end
    M.report(e)
  end
  return ok
end

---------------------------------------------------------------- history

-- Lines that may carry credentials never reach the history.
M.secret_patterns = {
  "password", "passwd", "secret", "token", "api[_%-]?key", "private[_%-]?key",
  "credential", "%a[%w+.%-]*://[^%s/@]*:[^%s/@]*@",
}

-- CONFIG SET parameters that are credentials.
local CONFIG_SECRETS = { masterauth = true, masteruser = true, requirepass = true }

-- Do these words hold a Redis command that carries credentials? The
-- command words redis-cli's isSensitiveCommand keeps out of its
-- history: AUTH, ACL SETUSER, CONFIG SET masterauth|masteruser|
-- requirepass, HELLO … AUTH, MIGRATE … AUTH|AUTH2.
local function secret_command(words)
  for i, w in ipairs(words) do
    if w == "auth" or w == "auth2" then return true end
    if w == "acl" and words[i + 1] == "setuser" then return true end
    if w == "config" and words[i + 1] == "set" then
      for j = i + 2, #words do
        if CONFIG_SECRETS[words[j]] then return true end
      end
    end
  end
  return false
end

-- The words of a chunk's string literals, lowercase, split at blanks:
-- redis.call("ACL", "SETUSER", …) and a pipeline's {"CONFIG SET …"}
-- give the same list.
local function literal_words(chunk)
  local words = {}
  for _, t in ipairs(lexer.lex(chunk)) do
    if t.type == "string" then
      for w in t.value:gmatch("%S+") do words[#words + 1] = w:lower() end
    end
  end
  return words
end

function M.is_secret(line)
  local l = line:lower()
  for _, p in ipairs(M.secret_patterns) do
    if l:find(p) then return true end
  end
  return secret_command(literal_words(line))
end

-- The history file: $VENUELESS_HISTFILE (empty: none), else
-- ~/.venueless_history.
function M.histfile()
  local f = os.getenv("VENUELESS_HISTFILE")
  if f then return f ~= "" and f or nil end
  local home = os.getenv("HOME")
  return home and home ~= "" and home .. "/.venueless_history" or nil
end

---------------------------------------------------------------- prompt

-- "DBNAME(ENVIRONMENT)> ", with "*" before ">" inside a transaction.
function M.prompt()
  local ok, config = pcall(require, "venueless.config")
  local dbname = ok and config.database and config.database.name or "venueless"
  local envname = ok and config.environment or "unknown"
  local tx = ""
  local db = package.loaded["venueless.db"]
  if db and db.in_transaction() then tx = "*" end
  return ("%s(%s)%s> "):format(dbname, envname, tx)
end

---------------------------------------------------------------- the loop

-- psql's \x: "\x" toggles the expanded layout of query results,
-- "\x auto" goes back to choosing by width.
local function meta_x(_, arg)
  if arg ~= "" and arg ~= "auto" and arg ~= "on" and arg ~= "off" then
    return "expected \\x [on|off|auto]"
  end
  local p = pretty()
  if arg == "auto" then p.expanded = nil
  elseif arg == "on" then p.expanded = true
  elseif arg == "off" then p.expanded = false
  else p.expanded = not p.expanded end
  local state = p.expanded == nil and "auto" or p.expanded and "on" or "off"
  io.stdout:write("Expanded display is ", state, ".\n")
end

-- An on/off switch of M.settings: no argument toggles it.
local function switch(name, label)
  return function(_, arg)
    local set = M.settings
    if arg == "on" then set[name] = true
    elseif arg == "off" then set[name] = false
    elseif arg == "" then set[name] = not set[name]
    else return ("expected \\%s [on|off]"):format(name) end
    io.stdout:write(label, " is ", set[name] and "on" or "off", ".\n")
  end
end

-- \o FILE sends results to FILE (truncated), \o alone back to stdout.
local function meta_o(_, arg)
  local set = M.settings
  if set.out then set.out:close() end
  set.out, set.out_name = nil, nil
  if arg == "" then return end
  local f, err = io.open(arg, "w")
  if not f then return err end
  set.out, set.out_name = f, arg
end

-- \format aligned|csv|json|ndjson: how query results print.
local function meta_format(_, arg)
  local p = pretty()
  if arg == "" then
    io.stdout:write("Output format is ", p.result_format, ".\n")
    return
  end
  if not p.FORMATS[arg] then return "expected \\format aligned|csv|json|ndjson" end
  p.result_format = arg
  io.stdout:write("Output format is ", arg, ".\n")
end

-- A chunk on one line, for \watch's heading.
local function one_line(chunk)
  local l = chunk:gsub("%s*\n%s*", " ")
  if #l > 60 then l = l:sub(1, 57) .. "..." end
  return l
end

-- \watch [SEC] [c=N]: run the last chunk every SEC seconds (2), at most
-- N times, redrawn in place on a terminal; Ctrl-C or an error ends it.
local function meta_watch(st, arg)
  local sec, count = 2, nil
  for w in arg:gmatch("%S+") do
    local k, v = w:match("^(%a+)=(.*)$")
    if k == "c" or k == "count" then count = math.tointeger(tonumber(v))
    elseif k == "i" or k == "interval" then sec = tonumber(v)
    elseif not k then sec = tonumber(w)
    else return "unknown \\watch option " .. w end
    if (k == "c" or k == "count") and (not count or count < 1) then
      return "\\watch: c= expects a count of 1 or more"
    end
    if not sec or sec <= 0 then return "\\watch: expected seconds, more than 0" end
  end
  local last = st.last
  if not last then return "\\watch: no chunk to repeat yet" end
  local redraw = core.isatty(1) and not M.settings.out
  local n = 0
  local ok, e = pcall(function()
    while true do
      n = n + 1
      if redraw then io.stdout:write("\27[H\27[2J") end
      local head = ("%s (every %gs)"):format(os.date("%c"), sec)
      if M.settings.out then M.emit(head .. "\n") else io.stdout:write(head, "\n\n") end
      io.stdout:flush()
      if not M.run_chunk(st.session, last.f, last.names, { pager = false }) then break end
      if count and n >= count then break end
      core.sleep(math.floor(sec * 1000 + 0.5))
    end
  end)
  core.clear_interrupt()
  if not ok and not (type(e) == "table" and e.code == "interrupted") then error(e, 0) end
  if not ok then io.stdout:write("\n") end
end

-- \e: edit the pending chunk (or the last one) in $VISUAL or $EDITOR
-- (vi); the result is read back as if typed.
local function meta_e(st, arg)
  local editor = os.getenv("VISUAL")
  if not editor or editor == "" then editor = os.getenv("EDITOR") end
  if not editor or editor == "" then editor = "vi" end
  local text = st.buffer or (st.last and st.last.chunk) or ""
  local path = arg ~= "" and arg or os.tmpname()
  local exists = io.open(path, "r")
  if exists then exists:close() end
  if arg == "" or not exists then
    local f, err = io.open(path, "w")
    if not f then return err end
    f:write(text, text ~= "" and "\n" or "")
    f:close()
  end
  local ok = os.execute(editor .. " '" .. path:gsub("'", "'\\''") .. "'")
  core.clear_interrupt()
  local f = io.open(path, "r")
  local edited = f and f:read("a") or ""
  if f then f:close() end
  if arg == "" then os.remove(path) end
  if not ok then return "the editor failed: " .. editor end
  edited = edited:gsub("%s+$", "")
  st.buffer = nil
  if edited == "" then return end
  io.stdout:write(edited, "\n")
  return nil, edited
end

local META_HELP = {
  { "\\q", "leave the shell (also exit(), Ctrl-D)" },
  { "\\timing [on|off]", "show how long each chunk took, with its db statements, rows and time" },
  { "\\watch [SEC] [c=N]", "run the last chunk again every SEC seconds (2), N times; Ctrl-C stops" },
  { "\\o [FILE]", "send results to FILE; \\o alone: back to the terminal" },
  { "\\format [aligned|csv|json|ndjson]", "how query results print" },
  { "\\x [on|off|auto]", "expanded (one field per line) query results" },
  { "\\pager [on|off]", "results taller or wider than the terminal go through $PAGER" },
  { "\\e [FILE]", "edit the current or last chunk (or FILE) in $VISUAL or $EDITOR, then run it" },
  { "\\?", "this list" },
}

local function meta_help()
  local out = {}
  for _, h in ipairs(META_HELP) do out[#out + 1] = ("  %-34s %s"):format(h[1], h[2]) end
  out[#out + 1] = "Lua: help() lists the modules, help(name) describes one."
  io.stdout:write(table.concat(out, "\n"), "\n")
end

M.meta = {
  x = meta_x,
  q = function(st) st.quit = true end,
  timing = switch("timing", "Timing"),
  pager = switch("pager", "Pager usage"),
  o = meta_o,
  out = meta_o,
  format = meta_format,
  watch = meta_watch,
  e = meta_e,
  edit = meta_e,
  ["?"] = meta_help,
}

-- Run a meta-command line (\name [args]) for state st. Returns false
-- when line is not one; else true and the chunk to run in its place.
function M.backslash(line, st)
  local name, arg = line:match("^%s*\\([%a?]+)%s*(.-)%s*$")
  if not name then
    if line:match("^%s*\\") then name, arg = line:match("^%s*\\(%S*)"), "" else return false end
  end
  st = st or {}
  local fn = M.meta[name]
  if not fn then
    io.stderr:write("venueless: shell: invalid command \\", name, "; \\? lists them\n")
    return true
  end
  local err, chunk = fn(st, arg)
  if err then io.stderr:write("venueless: shell: ", err, "\n") end
  return true, chunk
end

-- The bare names the shell answers with what to type instead.
M.friendly = {
  help = "help() lists the modules; help(name) describes a module, function or model",
  exit = "exit() or \\q leaves the shell, as does Ctrl-D",
  quit = "exit() or \\q leaves the shell, as does Ctrl-D",
}

-- Run chunk with \timing's report after it: wall time, and the db
-- statements, rows and time spent waiting on PostgreSQL if there were any.
local function timed(st, f, names)
  if not M.settings.timing then return M.run_chunk(st.session, f, names) end
  local db0 = package.loaded["venueless.db"]
  local before = db0 and db0.stats() or { statements = 0, rows = 0, ms = 0 }
  local t0 = core.time("monotonic")
  local ok = M.run_chunk(st.session, f, names)
  local ms = (core.time("monotonic") - t0) * 1000
  local db = package.loaded["venueless.db"]
  local after = db and db.stats() or before
  local line = ("Time: %.3f ms"):format(ms)
  local n = after.statements - before.statements
  if n > 0 then
    line = line .. ("; db: %d statement%s, %d row%s, %.3f ms"):format(n, n == 1 and "" or "s",
      after.rows - before.rows, after.rows - before.rows == 1 and "" or "s",
      after.ms - before.ms)
  end
  io.stdout:write(line, "\n")
  io.stdout:flush()
  return ok
end

-- A complete (or incomplete) chunk typed or edited: compile, remember,
-- run.
local function submit(st, chunk)
  local s = st.session
  local f, names = M.compile(s, chunk)
  if not f and incomplete(names) then
    st.buffer = chunk
    return
  end
  st.buffer = nil
  if chunk:match("%S") and not M.is_secret(chunk) then
    st.ed:history_add(chunk)
    if st.histfile then
      local saved, err = st.ed:history_save(st.histfile)
      if not saved then
        -- say it once, then keep the history in memory only
        io.stderr:write("venueless: shell: cannot save the history: ", err, "\n")
        st.histfile = nil
      end
    end
  end
  if not f then
    M.report(names)
    return
  end
  local bare = chunk:match("^%s*([%a_]+)%s*;?%s*$")
  if bare and M.friendly[bare] and rawequal(s.env[bare], st.builtins[bare]) then
    io.stdout:write(M.friendly[bare], "\n")
    return
  end
  if not chunk:match("^%s*$") then st.last = { chunk = chunk, f = f, names = names } end
  -- help(NAME) of a nil NAME names it
  local hname = chunk:match("^%s*help%s*%(%s*([%a_][%w_%.:]*)%s*%)%s*;?%s*$")
  local doc = hname and require("venueless.doc")
  if doc then doc.nil_name = hname end
  timed(st, f, names)
  if doc then doc.nil_name = nil end
end

-- One line of input into the pending chunk; runs it once complete.
local function feed(st, line)
  if not st.buffer or line:match("^%s*\\e") then
    local meta, chunk = M.backslash(line, st)
    if meta then
      if chunk then submit(st, chunk) end
      return
    end
  end
  submit(st, st.buffer and st.buffer .. "\n" .. line or line)
end

-- One step of the loop: read, evaluate, print. False at end of input.
local function step(st)
  local line, why = st.ed:gets(st.buffer and M.continuation or M.prompt())
  if line == nil then
    if why == "interrupted" then
      io.stdout:write("^C\n")
      st.buffer = nil
      return true
    end
    if core.isatty(0) then io.stdout:write("\n") end
    return false
  end
  feed(st, line)
  return not st.quit
end

-- The completer the editor calls with the whole line and the cursor.
function M.completer(s)
  return function(line, cursor)
    return complete().complete(line:sub(1, cursor), s.env, line:sub(cursor + 1))
  end
end

-- The shell's own globals: exit([status]) and quit() end it, help is
-- cmd/shell.lua's; kept to recognise them when typed bare.
local function builtins(st)
  local function leave(code)
    st.quit = true
    st.status = math.tointeger(code) or 0
  end
  local b = { exit = leave, quit = leave, help = rawget(_G, "help") }
  for k, v in pairs(b) do
    if rawget(_G, k) == nil then rawset(_G, k, v) end
  end
  return b
end

-- run([opts]): the interactive shell until end of input, \q or exit();
-- returns its exit status (0, or exit(N)'s). opts.session reuses a session.
function M.run(opts)
  opts = opts or {}
  -- only what a person typed goes to the history file, not piped input
  local st = { session = opts.session or M.session(),
    histfile = core.isatty(0) and M.histfile() or nil }
  st.builtins = builtins(st)
  st.ed = edit.new({ name = "venueless" })
  st.ed:set_completer(M.completer(st.session))
  if st.histfile then st.ed:history_load(st.histfile) end
  edit.loop(function() return step(st) end, function(e)
    st.buffer = nil
    M.report(e)
  end)
  st.ed:close()
  if M.settings.out then M.settings.out:close(); M.settings.out = nil end
  return st.status or 0
end

return M
