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

-- Error handler: venueless errors as they are, Lua errors with a
-- traceback that stops at the shell's own frames.
local function handler(e)
  if core.is_error(e) then return e end
  local tb = debug.traceback(tostring(e), 2)
  tb = tb:gsub("\n%s*%[C%]: in function 'xpcall'.*$", "")
  return { message = tostring(e), traceback = tb }
end

-- Print an error from a chunk (or from the shell itself) on stderr.
function M.report(e)
  local msg
  if type(e) == "table" and e.traceback and not core.is_error(e) then
    msg = e.traceback
  elseif type(e) == "table" and e.message then
    msg = tostring(e.message)
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

-- Print results: tab-separated, one per line when any spans lines.
function M.print_results(res)
  if res.n == 0 then return end
  local out, multi = {}, false
  for i = 1, res.n do
    out[i] = pretty().format(res[i])
    if out[i]:find("\n") then multi = true end
  end
  io.stdout:write(table.concat(out, multi and "\n" or "\t"), "\n")
  io.stdout:flush()
end

-- Run a compiled chunk; names become session locals when they are set.
function M.run_chunk(s, f, names)
  for _, n in ipairs(names) do s.pending[n] = true end
  local res = table.pack(xpcall(f, handler))
  for _, n in ipairs(names) do s.pending[n] = nil end
  if not res[1] then
    M.report(res[2])
    return false
  end
  local out = table.pack(table.unpack(res, 2, res.n))
  keep(s, out)
  M.print_results(out)
  return true
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
-- "\x auto" goes back to choosing by width. True if line was one.
function M.backslash(line)
  local arg = line:match("^%s*\\x%s*(%a*)%s*$")
  if not arg or (arg ~= "" and arg ~= "auto" and arg ~= "on" and arg ~= "off") then
    return false
  end
  local p = pretty()
  if arg == "auto" then p.expanded = nil
  elseif arg == "on" then p.expanded = true
  elseif arg == "off" then p.expanded = false
  else p.expanded = not p.expanded end
  local state = p.expanded == nil and "auto" or p.expanded and "on" or "off"
  io.stdout:write("Expanded display is ", state, ".\n")
  return true
end

-- One line of input into the pending chunk; runs it once complete.
local function feed(st, line)
  if not st.buffer and M.backslash(line) then return end
  local s = st.session
  local chunk = st.buffer and st.buffer .. "\n" .. line or line
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
  M.run_chunk(s, f, names)
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
  return true
end

-- The completer the editor calls with the whole line and the cursor.
function M.completer(s)
  return function(line, cursor)
    return complete().complete(line:sub(1, cursor), s.env, line:sub(cursor + 1))
  end
end

-- run([opts]): the interactive shell until end of input; returns 0.
-- opts.session reuses a session.
function M.run(opts)
  opts = opts or {}
  -- only what a person typed goes to the history file, not piped input
  local st = { session = opts.session or M.session(),
    histfile = core.isatty(0) and M.histfile() or nil }
  st.ed = edit.new({ name = "venueless" })
  st.ed:set_completer(M.completer(st.session))
  if st.histfile then st.ed:history_load(st.histfile) end
  edit.loop(function() return step(st) end, function(e)
    st.buffer = nil
    M.report(e)
  end)
  st.ed:close()
  return 0
end

return M
