-- The shell's completer: Lua names and fields at any depth, methods
-- after ':' (strings and userdata too), and live values from the
-- deployment inside string arguments (world ids, room names, connection
-- labels, migration names). Called from the editor with the line and
-- the cursor; see complete.complete and venueless(1), SHELL.
local lexer = require "venueless.lexer"
local sources = require "venueless.complete.sources"
local mc = require "venueless.complete.models"

local M = {}

-- Lua source is read with venueless.lexer; the live values come from
-- venueless.complete.sources, whose settings (complete.limit, .ttl,
-- .timeout, .down_for, .connect_timeout) are read and set through here.
M.lex, M.keywords, M.is_keyword = lexer.lex, lexer.keywords, lexer.is_keyword
M.sources = sources.sources
M.like_escape, M.glob_escape = sources.like_escape, sources.glob_escape

local SETTINGS = { limit = true, ttl = true, timeout = true, down_for = true,
  connect_timeout = true }
setmetatable(M, {
  __index = function(_, k) if SETTINGS[k] then return sources[k] end end,
  __newindex = function(t, k, v)
    if SETTINGS[k] then sources[k] = v else rawset(t, k, v) end
  end,
})

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
    if type(k) == "string" and k:match("^[%a_][%w_]*$") and not lexer.is_keyword(k)
      and (not only_functions or type(v) == "function") then
      set[k] = set[k] or v
    end
  end
end

-- Fields reachable on v: its own keys and those of its __index tables;
-- a model class's, queryset's or object's from the model metadata.
local function fields(v, only_functions)
  if mc.kind(v) then return mc.candidates(v, only_functions) end
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
      if not only_functions then add_keys(set, mt._fields) end
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
  for _, k in ipairs(lexer.keywords) do set[k] = true end
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

-- The index of the bracket opening the one closed at toks[i], or nil.
local function opener(toks, i)
  local depth = 0
  for j = i, 1, -1 do
    local v = toks[j].type == "op" and toks[j].value
    if v == ")" or v == "]" or v == "}" then
      depth = depth + 1
    elseif v == "(" or v == "[" or v == "{" then
      depth = depth - 1
      if depth == 0 then return j end
    end
  end
end

-- A method call whose arguments end at toks[i] (")", "}" or a string):
-- its name and the index before its receiver, or nil.
local function call_step(toks, i)
  local t = toks[i]
  local j = t.type == "string" and i or opener(toks, i)
  local name, sep = j and toks[j - 1], j and toks[j - 2]
  if name and name.type == "name" and sep and sep.type == "op" and sep.value == ":" then
    return name.value, j - 3
  end
end

-- Parse the expression chain that ends before toks[last]: returns the
-- root ({name=} or {value=}) and the list of keys ({call = name} for a
-- method call, which resolve never runs), or nil when it involves
-- anything else we should not evaluate.
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
    elseif t.type == "op" and t.value == ")" and toks[i - 1] and toks[i - 1].type == "string"
      and toks[i - 2] and toks[i - 2].value == "("
      and not (toks[i - 3] and (toks[i - 3].type == "name" or toks[i - 3].value == "]"
        or toks[i - 3].value == ")")) then
      return { value = toks[i - 1].value }, keys
    elseif t.type == "string" and i == last then
      return { value = t.value }, keys
    elseif t.type == "string" or (t.type == "op" and (t.value == ")" or t.value == "}")) then
      local name, before = call_step(toks, i)
      if not name then return nil end
      table.insert(keys, 1, { call = name })
      i = before
    else
      return nil
    end
  end
end

-- Evaluate a chain from env; nil when any step fails. Calls and model
-- relations are not run: the model metadata says what they give.
local function resolve(env, root, keys)
  local v
  if root.name then v = get(env, root.name) else v = root.value end
  for _, k in ipairs(keys) do
    if v == nil then return nil end
    if type(k) == "table" then
      v = mc.call(v, k.call)
    elseif mc.kind(v) then
      v = mc.index(v, k)
    elseif type(v) == "string" then
      v = string[k]
    else
      v = get(v, k)
    end
  end
  return v
end

-- The model class and method of a call recv:method( or recv:method{
-- whose bracket is toks[j], when recv is a model class or queryset.
local function model_call(toks, j, env)
  local name, sep = toks[j - 1], toks[j - 2]
  if toks[j].value == "{" and name and name.value == "(" then
    name, sep, j = toks[j - 2], toks[j - 3], j - 1
  end
  if not (name and name.type == "name" and sep and sep.value == ":") then return nil end
  local root, keys = chain(toks, j - 3)
  local kind, cls = mc.kind(root and resolve(env, root, keys))
  if kind == "class" or kind == "queryset" then return cls, name.value end
end

-- The innermost bracket still open before toks[i], or nil.
local function open_bracket(toks, i)
  local depth = 0
  for j = i, 1, -1 do
    local v = toks[j].type == "op" and toks[j].value
    if v == ")" or v == "]" or v == "}" then
      depth = depth + 1
    elseif v == "(" or v == "[" or v == "{" then
      if depth == 0 then return j end
      depth = depth - 1
    end
  end
end

-- Field paths and lookups for a key of Model:filter{...} (or exclude,
-- get, update, new, create) being typed after toks[sepi]; nil elsewhere.
local function model_keys(toks, sepi, env, word)
  local t = toks[sepi]
  if not (t and t.type == "op" and (t.value == "{" or t.value == "," or t.value == ";")) then
    return nil
  end
  local j = open_bracket(toks, sepi)
  if not (j and toks[j].value == "{") then return nil end
  local cls, method = model_call(toks, j, env)
  return cls and mc.keys(cls, method, word)
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

---------------------------------------------------------------- arguments

-- Which live source completes argument argn of a call to fname.
M.arguments = {
  { "^worlds[%.:]", 1, "world" },
  -- only what the call accepts: rooms.get takes a room's uuid,
  -- rooms.list({world = "…"}) a world id
  { "^rooms[%.:]get$", 1, "room_id" },
  { "^rooms[%.:]list$", 1, "world" },
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

-- Completion inside an open string: live values for known calls, field
-- paths for a model's order, values and select_related.
local function in_string(toks, tok, after, env)
  local j = open_bracket(toks, #toks - 1)
  local cls, method
  if j and toks[j].value == "(" then cls, method = model_call(toks, j, env) end
  local paths = cls and mc.strings(cls, method, tok.value)
  if paths then return filter(paths, tok.value), tok.s + 1 end
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
  local list = filter(sources.values(src, word, extra), word)
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
  local toks = lexer.lex(text)
  local last = toks[#toks]
  if last and last.type == "comment" and (last.open or last.e == #text) then
    return {}, #text + 1
  end
  if last and last.open then
    if last.type == "string" and last.quote then return in_string(toks, last, after, env) end
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
    local keys = model_keys(toks, sepi, env, word)
    if keys then return filter(keys, word), start end
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
