-- The shell's completer: Lua names and fields at any depth, methods
-- after ':' (strings and userdata too), and live values from the
-- deployment inside string arguments (world ids, room names, connection
-- labels, migration names). Called from the editor with the line and
-- the cursor; see complete.complete and venueless(1), SHELL.
local core = require "venueless.core"

local M = {}

M.limit = 50            -- live candidates per query
M.ttl = 5               -- seconds a live answer is reused
M.down_for = 10         -- seconds a server that failed is left alone
M.timeout = 300         -- ms statement timeout of a completion query
M.connect_timeout = 2   -- s, connecting for completion

M.keywords = {
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
  "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return",
  "then", "true", "until", "while",
}
local is_keyword = {}
for _, k in ipairs(M.keywords) do is_keyword[k] = true end

function M.is_keyword(k)
  return is_keyword[k] == true
end

---------------------------------------------------------------- lexer

-- Length of the long bracket opening at i ("[[", "[==["), or nil.
local function long_open(s, i)
  local eq = s:match("^%[(=*)%[", i)
  return eq and #eq
end

-- Tokens of Lua source s: {type=, value=, s=, e=}; type is "name",
-- "keyword", "string", "number", "op" or "comment". A string, long
-- string or comment left open at the end has open = true.
function M.lex(s)
  local toks, i, n = {}, 1, #s
  local function add(type, value, a, b, open)
    toks[#toks + 1] = { type = type, value = value, s = a, e = b, open = open }
  end
  while i <= n do
    local c = s:sub(i, i)
    if c:match("%s") then
      i = s:find("[^%s]", i) or n + 1
    elseif s:sub(i, i + 1) == "--" then
      local lv = long_open(s, i + 2)
      if lv then
        local close = "]" .. ("="):rep(lv) .. "]"
        local b = select(2, s:find(close, i + 4 + lv, true))
        add("comment", nil, i, b or n, b == nil)
        i = (b or n) + 1
      else
        local b = s:find("\n", i, true) or n + 1
        add("comment", nil, i, b - 1)
        i = b
      end
    elseif c:match("[%a_]") then
      local w = s:match("^[%w_]+", i)
      add(is_keyword[w] and "keyword" or "name", w, i, i + #w - 1)
      i = i + #w
    elseif c:match("%d") or (c == "." and s:sub(i + 1, i + 1):match("%d")) then
      local num = s:match("^0[xX][%x%.]*[pP]?[%+%-]?%x*", i)
        or s:match("^[%d%.]+[eE][%+%-]?%d*", i) or s:match("^[%d%.]+", i)
      add("number", num, i, i + #num - 1)
      i = i + #num
    elseif c == '"' or c == "'" then
      local j, buf = i + 1, {}
      while j <= n do
        local d = s:sub(j, j)
        if d == "\\" then
          buf[#buf + 1] = s:sub(j, j + 1)
          j = j + 2
        elseif d == c or d == "\n" then
          break
        else
          buf[#buf + 1] = d
          j = j + 1
        end
      end
      local open = j > n or s:sub(j, j) == "\n"
      add("string", table.concat(buf), i, math.min(j, n), open)
      toks[#toks].quote = c
      i = j + 1
    elseif c == "[" and long_open(s, i) then
      local lv = long_open(s, i)
      local close = "]" .. ("="):rep(lv) .. "]"
      local b = select(2, s:find(close, i + 2 + lv, true))
      add("string", s:sub(i + 2 + lv, (b or n + #close) - #close), i, b or n, b == nil)
      i = (b or n) + 1
    else
      local op = s:match("^%.%.%.", i) or s:match("^[=~<>]=", i) or s:match("^%.%.", i)
        or s:match("^::", i) or s:match("^//", i) or s:match("^<<", i)
        or s:match("^>>", i) or c
      add("op", op, i, i + #op - 1)
      i = i + #op
    end
  end
  return toks
end

---------------------------------------------------------------- values

-- Index v[k] without letting a failing __index escape.
local function get(v, k)
  local ok, r = pcall(function() return v[k] end)
  if ok then return r end
end

-- Does name resolve in env, through _G's lazy operator globals too?
local function lazy_names()
  local mt = getmetatable(_G)
  local out = {}
  if mt and type(mt.__lazy) == "table" then
    for name, mod in pairs(mt.__lazy) do
      if package.loaded[mod] or package.preload[mod]
        or package.searchpath(mod, package.path) then
        out[#out + 1] = name
      end
    end
  end
  return out
end

-- Add the identifier keys of t to set.
local function add_keys(set, t, only_functions)
  if type(t) ~= "table" then return end
  for k, v in next, t do
    if type(k) == "string" and k:match("^[%a_][%w_]*$") and not is_keyword[k]
      and (not only_functions or type(v) == "function") then
      set[k] = set[k] or v
    end
  end
end

-- Fields reachable on v: its own keys and those of its __index tables.
local function fields(v, only_functions)
  local set, seen = {}, {}
  local t = v
  if type(v) == "string" then t = string end
  for _ = 1, 8 do
    if t == nil or seen[t] then break end
    seen[t] = true
    if type(t) == "table" then add_keys(set, t, only_functions) end
    local mt = getmetatable(t)
    if type(mt) ~= "table" then break end
    if type(mt.__index) == "table" then
      t = mt.__index
    else
      add_keys(set, mt._methods, only_functions)
      if type(mt.__index) == "function" then
        -- a C __index (redis connections) keeps its methods in an upvalue
        for i = 1, 3 do
          local name, up = debug.getupvalue(mt.__index, i)
          if name == nil then break end
          if name == "" and type(up) == "table" then add_keys(set, up, only_functions) end
        end
      end
      break
    end
  end
  return set
end

-- Names visible at the top level of env: keywords, locals of the shell
-- session, globals and the lazy operator globals.
local function global_names(env)
  local set = {}
  for _, k in ipairs(M.keywords) do set[k] = true end
  local mt = getmetatable(env)
  if env ~= _G and mt and type(mt.__locals) == "function" then
    for k, v in pairs(mt.__locals()) do set[k] = v end
  end
  add_keys(set, _G)
  for _, k in ipairs(lazy_names()) do
    if set[k] == nil then set[k] = true end
  end
  return set
end

---------------------------------------------------------------- chains

-- Parse the expression chain that ends before toks[last]: returns the
-- root ({name=} or {value=}) and the list of keys, or nil when it
-- involves a call or anything else we should not evaluate.
local function chain(toks, last)
  local keys = {}
  local i = last
  while i >= 1 do
    local t = toks[i]
    if t.type == "name" then
      local p = toks[i - 1]
      if p and p.type == "op" and p.value == "." then
        table.insert(keys, 1, t.value)
        i = i - 2
      elseif p and p.type == "op" and p.value == ":" then
        return nil
      else
        return { name = t.value }, keys
      end
    elseif t.type == "op" and t.value == "]" then
      local k, o = toks[i - 1], toks[i - 2]
      if not (k and o and o.type == "op" and o.value == "["
        and (k.type == "string" or k.type == "number")) then return nil end
      table.insert(keys, 1, k.type == "number" and math.tointeger(tonumber(k.value))
        or tonumber(k.value) or k.value)
      i = i - 3
    elseif t.type == "op" and t.value == ")" then
      local str, o, before = toks[i - 1], toks[i - 2], toks[i - 3]
      if str and str.type == "string" and o and o.value == "("
        and not (before and (before.type == "name" or before.value == "]"
          or before.value == ")")) then
        return { value = str.value }, keys
      end
      return nil
    elseif t.type == "string" and i == last then
      return { value = t.value }, keys
    else
      return nil
    end
  end
end

-- Evaluate a chain from env; nil when any step fails.
local function resolve(env, root, keys)
  local v
  if root.name then v = get(env, root.name) else v = root.value end
  for _, k in ipairs(keys) do
    if v == nil then return nil end
    if type(v) == "string" then v = string[k] else v = get(v, k) end
  end
  return v
end

-- The dotted name of the function called by the innermost open '('
-- before toks[i], and which argument toks[i] is; nil if none.
local function callee(toks, i)
  local depth, arg = 0, 1
  for j = i - 1, 1, -1 do
    local t = toks[j]
    if t.type == "op" then
      local v = t.value
      if v == ")" or v == "]" or v == "}" then
        depth = depth + 1
      elseif v == "(" or v == "[" or v == "{" then
        if depth > 0 then
          depth = depth - 1
        elseif v == "(" then
          local parts, k = {}, j - 1
          while toks[k] and toks[k].type == "name" do
            table.insert(parts, 1, toks[k].value)
            local sep = toks[k - 1]
            if sep and sep.type == "op" and (sep.value == "." or sep.value == ":") then
              table.insert(parts, 1, sep.value)
              k = k - 2
            else
              break
            end
          end
          if #parts == 0 then return nil end
          return table.concat(parts), arg
        end
        -- inside a table constructor or index: keep looking outwards
      elseif v == "," and depth == 0 then
        arg = arg + 1
      end
    end
  end
end

---------------------------------------------------------------- live values

local cache, down = {}, {}
local pdb, predis       -- private db and redis module instances

-- A db module of our own (its own connection), so completion never
-- touches the session's transaction or settings. Connects on first use:
-- true; raises as db.connect does.
local function private_db()
  if pdb then return true end
  local d = package.preload["venueless.db"]("venueless.db")
  pdb = d
  return d.connect({ connect_timeout = M.connect_timeout,
    application_name = "venueless shell completion" })
end

local function private_redis()
  if not predis then
    predis = package.preload["venueless.redis"]("venueless.redis")
    predis.connect_timeout(M.connect_timeout * 1000)
  end
  return predis
end

-- Escape a LIKE pattern's special characters (backslash escapes).
function M.like_escape(s)
  return (s:gsub("[\\%%_]", "\\%0"))
end

-- Escape a Redis glob's special characters.
function M.glob_escape(s)
  return (s:gsub("[\\%*%?%[%]]", "\\%0"))
end

-- Run a completion query; rows, or {} when the server is slow or down.
local function query(sql, ...)
  local now = core.time("monotonic")
  if (down.db or 0) > now then return {} end
  local ok, res = pcall(function(...)
    private_db()
    return pdb.query({ timeout = M.timeout }, sql, ...)
  end, ...)
  if not ok then
    if core.is_error(res) and res.code == "interrupted" then error(res, 0) end
    if core.is_error(res) and res.exit == core.exit.nopg then
      down.db = now + M.down_for
    end
    return {}
  end
  return res
end

-- Cached answer of fetch(prefix, extra) for a few seconds.
local function cached(kind, prefix, extra, fetch)
  local key = kind .. "\0" .. prefix .. "\0" .. tostring(extra)
  local now = core.time("monotonic")
  local c = cache[key]
  if c and c.at + M.ttl > now then return c.list end
  local list = fetch(prefix, extra)
  local n = 0
  for _ in pairs(cache) do n = n + 1 end
  if n > 200 then cache = {} end
  cache[key] = { at = now, list = list }
  return list
end

local function column(rows, name, out)
  out = out or {}
  for _, r in ipairs(rows) do
    if type(r[name]) == "string" then out[#out + 1] = r[name] end
  end
  return out
end

M.sources = {}

function M.sources.world(prefix)
  return column(query("SELECT id FROM core_world WHERE id LIKE $1 ESCAPE '\\' " ..
    "ORDER BY id LIMIT " .. M.limit, M.like_escape(prefix) .. "%"), "id")
end

function M.sources.room(prefix, world)
  local rows = query("SELECT name, id::text AS id FROM core_room WHERE NOT deleted " ..
    "AND ($2::text IS NULL OR world_id = $2) " ..
    "AND (name LIKE $1 ESCAPE '\\' OR id::text LIKE $1 ESCAPE '\\') " ..
    "ORDER BY name, id LIMIT " .. M.limit, M.like_escape(prefix) .. "%", world)
  local out = {}
  for _, r in ipairs(rows) do
    out[#out + 1] = r.name:sub(1, #prefix) == prefix and r.name or r.id
  end
  return out
end

function M.sources.migration(prefix)
  local out = column(query("SELECT DISTINCT name FROM django_migrations " ..
    "WHERE name LIKE $1 ESCAPE '\\' ORDER BY name LIMIT " .. M.limit,
    M.like_escape(prefix) .. "%"), "name")
  local ok, index = pcall(require, "venueless.migrations.index")
  for _, a in ipairs(ok and index.apps or {}) do
    if a:sub(1, #prefix) == prefix then out[#out + 1] = a end
  end
  return out
end

function M.sources.label(prefix)
  local now = core.time("monotonic")
  if (down.redis or 0) > now then return {} end
  local ok, conn = pcall(function() return private_redis().conn(0) end)
  if not ok then return {} end
  local out, cursor = {}, "0"
  for _ = 1, 10 do
    local r, _, code = conn:pcall("HSCAN", "connections", cursor, "MATCH",
      M.glob_escape(prefix) .. "*", "COUNT", 1000)
    if not r then
      if code == "interrupted" then core.check_interrupt() end
      if code == "connection" then down.redis = now + M.down_for end
      return out
    end
    for k = 1, #r[2], 2 do out[#out + 1] = r[2][k] end
    cursor = r[1]
    if cursor == "0" or #out >= M.limit then break end
  end
  return out
end

-- Tables, views and their columns for SQL inside db.* strings, as psql.
function M.sources.relation(prefix)
  return column(query("SELECT relname AS name FROM pg_catalog.pg_class " ..
    "WHERE relkind IN ('r', 'v', 'm', 'p', 'f') " ..
    "AND relnamespace = 'public'::regnamespace AND relname LIKE $1 ESCAPE '\\' " ..
    "UNION SELECT DISTINCT attname FROM pg_catalog.pg_attribute a " ..
    "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid " ..
    "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p') " ..
    "AND a.attnum > 0 AND NOT a.attisdropped AND attname LIKE $1 ESCAPE '\\' " ..
    "ORDER BY 1 LIMIT " .. M.limit, M.like_escape(prefix) .. "%"), "name")
end

-- Which live source completes argument argn of a call to fname.
M.arguments = {
  { "^worlds[%.:]", 1, "world" },
  { "^rooms[%.:]", 1, "world" },
  { "^rooms[%.:]", 2, "room" },
  { "^connections[%.:]", 1, "label" },
  { "^migrations[%.:]", nil, "migration" },
  { "^db[%.:]", nil, "relation" },
}

-- Sources whose values are words inside the string (SQL), not all of it.
local in_text = { relation = true }

local function arg_source(fname, argn)
  for _, a in ipairs(M.arguments) do
    if fname:find(a[1]) and (a[2] == nil or a[2] == argn) then return a[3] end
  end
end

-- The first argument of the call, when it is a string literal.
local function first_string_arg(toks, i)
  for j = i - 1, 1, -1 do
    if toks[j].type == "op" and toks[j].value == "(" then
      local t = toks[j + 1]
      return t and t.type == "string" and not t.open and t.value or nil
    end
  end
end

---------------------------------------------------------------- entry

-- Keep the candidates starting with word, sorted, without duplicates.
local function filter(list, word)
  local out, seen = {}, {}
  for _, c in ipairs(list) do
    if c:sub(1, #word) == word and not seen[c] then
      seen[c] = true
      out[#out + 1] = c
    end
  end
  table.sort(out)
  return out
end

-- Completion inside an open string: live values for known calls.
local function in_string(toks, tok, after)
  local fname, argn = callee(toks, #toks)
  if not fname then return {}, tok.s + 1 end
  local src = arg_source(fname, argn)
  if not src then return {}, tok.s + 1 end
  local word, start = tok.value, tok.s + 1
  if in_text[src] then
    word = word:match("[%w_]*$")
    start = tok.e - #word + 1
    if word == "" then return {}, start end
  end
  local extra = src == "room" and first_string_arg(toks, #toks) or nil
  local list = filter(cached(src, word, extra, M.sources[src]), word)
  if #list == 1 and not in_text[src] and (after or ""):sub(1, 1) ~= tok.quote then
    list[1] = list[1] .. tok.quote
  end
  return list, start
end

-- The signature of fn from the modules' _doc tables, if known.
local function signature(fn)
  local ok, doc = pcall(require, "venueless.doc")
  if ok then
    local d = doc.find(fn)
    return d and d.sig
  end
end

-- The signature of the documented function called by the '(' at
-- toks[i] (argument hints, like redis-cli's), or nil.
function M.call_hint(toks, i, env)
  local root, keys = chain(toks, i - 1)
  if not root then return nil end
  local fn = resolve(env or _G, root, keys)
  if type(fn) ~= "function" then
    -- a method call: obj:m( resolves through obj
    local t, sep = toks[i - 1], toks[i - 2]
    if not (t and t.type == "name" and sep and sep.value == ":") then return nil end
    local r2, k2 = chain(toks, i - 3)
    local obj = r2 and resolve(env or _G, r2, k2)
    if obj == nil then return nil end
    fn = fields(obj, true)[t.value]
  end
  return type(fn) == "function" and signature(fn) or nil
end

-- complete(text, env [, after]) -> candidates, start [, hint]: text is
-- the line up to the cursor, after the rest of it; candidates replace
-- text:sub(start).
function M.complete(text, env, after)
  env = env or _G
  local toks = M.lex(text)
  local last = toks[#toks]
  if last and last.type == "comment" and (last.open or last.e == #text) then
    return {}, #text + 1
  end
  if last and last.open then
    if last.type == "string" and last.quote then return in_string(toks, last, after) end
    return {}, #text + 1
  end
  local word, start, sepi = "", #text + 1, #toks
  if last and (last.type == "name" or last.type == "keyword") and last.e == #text then
    word, start, sepi = last.value, last.s, #toks - 1
  end
  local sep = toks[sepi]
  if word == "" and sep and sep.type == "op" and sep.value == "(" and sep.e == #text then
    return {}, start, M.call_hint(toks, sepi, env)
  end
  local set, methods
  if sep and sep.type == "op" and (sep.value == "." or sep.value == ":")
    and sep.e == start - 1 then
    local root, keys = chain(toks, sepi - 1)
    if not root then return {}, start end
    local v = resolve(env, root, keys)
    if v == nil then return {}, start end
    methods = sep.value == ":"
    set = fields(v, methods)
  elseif sep and sep.type == "op" and (sep.value == "." or sep.value == ":") then
    return {}, start
  else
    set = global_names(env)
  end
  local names = {}
  for k in pairs(set) do
    if k:sub(1, #word) == word and (k:sub(1, 1) ~= "_" or word:sub(1, 1) == "_") then
      names[#names + 1] = k
    end
  end
  table.sort(names)
  local hint
  if #names == 1 and type(set[names[1]]) == "function" then
    hint = signature(set[names[1]])
    names[1] = names[1] .. "("
  end
  return names, start, hint
end

return M
