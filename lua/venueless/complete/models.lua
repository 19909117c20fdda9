-- Completion over the model layer, from the metadata alone: an object's
-- fields, relations and methods, a queryset's and a class's methods, and
-- the field paths and lookups inside filter{...}, order("..."), ... No
-- query runs and no call is evaluated: what User:filter{}: is (a queryset
-- of User) follows from the syntax, so steps whose value is not at hand
-- are typed stand-ins {kind =, cls =}. Loaded by venueless.complete.
local M = {}

local TYPED = {}	-- metatable of the stand-ins

local function typed(kind, cls)
  return setmetatable({ kind = kind, cls = cls }, TYPED)
end

-- The kind ("class", "queryset", "object") and class of v, a value or a
-- stand-in; nil for anything else. Without the model layer loaded there
-- are no model values.
function M.kind(v)
  if getmetatable(v) == TYPED then return v.kind, v.cls end
  local models = package.loaded["venueless.models"]
  if models and type(v) == "table" then return models.kind(v) end
end

local function class(label)
  return require("venueless.models").class(label)
end

-- Methods whose result is a queryset of the same model, or one object.
local GIVES_QS = { all = true, filter = true, exclude = true, order = true, order_by = true,
  limit = true, offset = true, select_related = true }
local GIVES_OBJ = { first = true, get = true }

-- What v:name(...) gives, or nil when that is not known from the syntax.
function M.call(v, name)
  local kind, cls = M.kind(v)
  if kind ~= "class" and kind ~= "queryset" then return nil end
  if GIVES_QS[name] then return typed("queryset", cls) end
  if GIVES_OBJ[name] then return typed("object", cls) end
end

-- A relation's stand-in: the related object or queryset of r.
local function reverse(r)
  return typed(r.kind == "OneToOneRel" and "object" or "queryset", class(r.model))
end

-- v.k for a model value or stand-in: a relation is never fetched (its
-- stand-in instead), a stored field of a real object is read as it is.
function M.index(v, k)
  local kind, cls = M.kind(v)
  if kind == "class" then
    if k == "objects" then return typed("queryset", cls) end
    return getmetatable(v) ~= TYPED and rawget(v, k) or nil
  end
  if kind ~= "object" then return nil end
  local f = cls._by_key[k]
  if f and f.fk and k == f.name then return typed("object", class(f.fk.target)) end
  local real = getmetatable(v) ~= TYPED
  local O = package.loaded["venueless.models.object"]
  if f then return real and O.row(v)[f.attname] or nil end
  if k == "pk" then return real and O.row(v)[cls._pk.attname] or nil end
  if cls._m2m[k] then return typed("queryset", class(cls._m2m[k].target)) end
  if cls._rev[k] then return reverse(cls._rev[k]) end
end

-- name -> value after "." or ":" (methods) on v; functions get a "(" and
-- the hint of their _doc entry (the queryset method a class method runs).
function M.candidates(v, methods)
  local kind, cls = M.kind(v)
  local Q = require "venueless.models.queryset"
  local set = {}
  if kind == "class" then
    local O = require "venueless.models.object"
    for k, f in pairs(O.class_methods) do set[k] = Q.methods[k] or f end
    if not methods then
      set = { objects = true }
      for k in pairs(getmetatable(v) ~= TYPED and v or {}) do set[k] = true end
    end
  elseif kind == "queryset" then
    for k, f in pairs(Q.methods) do set[k] = f end
  elseif kind == "object" then
    local W = require "venueless.models.write"
    if methods then
      -- the class's merged methods: the domain module's too (world:add_room)
      for k, f in pairs(cls._methods or W.methods) do set[k] = f end
    else
      set.pk = true
      for _, f in ipairs(cls._meta.fields) do set[f.attname], set[f.name] = true, true end
      for k in pairs(cls._rev) do set[k] = true end
      for k in pairs(cls._m2m) do set[k] = true end
    end
  end
  return set
end

---------------------------------------------------------------- field paths

local JSON_ONLY = { contained_by = true, overlap = true, has_key = true }
local JSONISH = { JSONField = true, ArrayField = true }

-- The lookups that apply to field f.
local function lookups(f)
  local out = {}
  for name in pairs(require("venueless.models.sql").LOOKUPS) do
    if not JSON_ONLY[name] or JSONISH[f.type] and (name ~= "has_key" or f.type == "JSONField") then
      out[#out + 1] = name
    end
  end
  return out
end

local function field_of(cls, p)
  if p == "pk" then return cls._pk end
  return cls._by_key[p]
end

-- Candidates for a field path being typed: word's complete "__" parts
-- walk the foreign keys; then cls's fields (a key's name with "__" to
-- go on), or after a plain field (with_lookups) its lookups.
local function paths(cls, word, with_lookups, only_fk)
  local parts = {}
  for p in word:gmatch("(.-)__") do parts[#parts + 1] = p end
  local prefix, out, fk = "", {}, nil
  for i, p in ipairs(parts) do
    local f = field_of(cls, p)
    if f == nil then return {} end
    if f.fk and p == f.name then
      fk, cls, prefix = f, class(f.fk.target), prefix .. p .. "__"
    elseif with_lookups and i == #parts then
      for _, l in ipairs(lookups(f)) do out[#out + 1] = prefix .. p .. "__" .. l end
      return out
    else
      return {}
    end
  end
  for _, f in ipairs(cls._meta.fields) do
    if f.fk then out[#out + 1] = prefix .. f.name .. "__" end
    if f.fk and only_fk then out[#out + 1] = prefix .. f.name end
    if not only_fk then out[#out + 1] = prefix .. f.attname end
  end
  if not only_fk then out[#out + 1] = prefix .. "pk" end
  if fk and with_lookups then
    for _, l in ipairs(lookups(fk)) do
      if not field_of(cls, l) then out[#out + 1] = prefix .. l end
    end
  end
  return out
end

-- The keys of a table argument of cls:method{...} starting as word, or
-- nil when method takes none.
function M.keys(cls, method, word)
  if method == "filter" or method == "exclude" or method == "get" then
    return paths(cls, word, true)
  end
  if method == "update" or method == "new" or method == "create" then
    local out = {}
    for _, f in ipairs(cls._meta.fields) do
      out[#out + 1] = f.attname
      if f.fk then out[#out + 1] = f.name end
    end
    return out
  end
end

-- The values of a string argument of cls:method("...") starting as word,
-- or nil: field paths for order and values, foreign keys for
-- select_related.
function M.strings(cls, method, word)
  if method == "order" or method == "order_by" then
    local sign = word:match("^%-") or ""
    local out = paths(cls, word:sub(#sign + 1), false)
    for i, p in ipairs(out) do out[i] = sign .. p end
    return out
  end
  if method == "values" then return paths(cls, word, false) end
  if method == "select_related" then return paths(cls, word, false, true) end
end

return M
