-- Model classes and their objects: strict fields (Django's attnames,
-- and a foreign key's name for the related object), read-only primary
-- key and version, jsonb as Lua tables, arrays as lists, NULL as nil;
-- forward relations fetched on first access, reverse and many-to-many
-- relations as querysets. Writes live in venueless.models.write. See
-- venueless-lua(7), MODELS.
local core = require "venueless.core"
local json = require "venueless.json"
local db = require "venueless.db"
local Q = require "venueless.models.queryset"
local sql = require "venueless.models.sql"

local O = {}

-- object -> {cls=, row= (attname -> value), dirty= (attname -> true),
-- rel= (name -> object or false), snap= (attname -> JSON text as read),
-- saved= (whether the row exists), lazy= (whether row still holds the
-- server's JSON text of jsonb and array fields not in decoded=)}
local state = setmetatable({}, { __mode = "k" })

-- Lazy decoding: an object read by a queryset keeps its jsonb and array
-- fields as the server's JSON text until one is read (obj.profile: that
-- field decoded), or until anything sees the whole row (O.row, O.state,
-- pairs: all decoded). :each() over rows whose jsonb nobody reads then
-- decodes none. A field never read is unchanged for save (no snapshot);
-- one read is snapshotted as before, so a change in place is saved.
local decode = json.decode

local function decode_field(s, a)
  local text = s.row[a]
  if text ~= nil then
    local v, err = decode(text)
    if v == nil then error("db: json.decode: " .. tostring(err or "failed"), 0) end
    s.row[a] = v
  end
  s.decoded[a] = true
end

local function decode_all(s)
  local decoded = s.decoded
  for _, a in ipairs(s.cls._jsonish) do
    if not decoded[a] then decode_field(s, a) end
  end
  s.lazy = false
  return s
end

-- The state of an object, its row decoded (write.lua, schema.lua and the
-- completer use the row as a whole); nil for anything else.
O.state = setmetatable({}, {
  __index = function(_, obj)
    local s = state[obj]
    if s and s.lazy then decode_all(s) end
    return s
  end,
  __newindex = function() error("O.state is read-only", 2) end,
})

function O.is(v)
  return type(v) == "table" and state[v] ~= nil
end

function O.row(obj)
  local s = state[obj]
  if s.lazy then decode_all(s) end
  return s.row
end

local function class(label)
  return require("venueless.models").class(label)
end

---------------------------------------------------------------- values

local INTEGER = { AutoField = true, BigAutoField = true, IntegerField = true,
  BigIntegerField = true, PositiveIntegerField = true }
local STRING = { CharField = true, TextField = true, UUIDField = true, DateTimeField = true,
  DateField = true, FileField = true }
O.JSONISH = { JSONField = true, ArrayField = true }
local JSONISH = O.JSONISH

-- Raise (error(msg, 0)) unless v fits field f; key: how it was named.
function O.check_value(cls, f, v, key)
  local what = cls._name .. "." .. (key or f.attname)
  if f.fk and key == f.name then
    if v ~= nil and not (O.is(v) and state[v].cls == class(f.fk.target)) then
      error(("%s: expected a %s object or nil"):format(what, class(f.fk.target)._name), 0)
    end
    return
  end
  if f.fk then f = class(f.fk.target)._by_column[f.fk.target_column] end
  local t = type(v)
  local good = v == nil
    or (f.type == "BooleanField" and t == "boolean")
    or (INTEGER[f.type] and math.type(v) == "integer")
    or (STRING[f.type] and t == "string")
    or (f.type == "ArrayField" and t == "table")
    or (f.type == "JSONField" and t ~= "function" and t ~= "userdata" and t ~= "thread")
  if not good then
    error(("%s: a %s cannot hold a %s"):format(what, f.type, math.type(v) or t), 0)
  end
end

local function deep_copy(v)
  if v == json.null then return nil end
  if type(v) ~= "table" then return v end
  local t = {}
  for k, x in pairs(v) do t[k] = deep_copy(x) end
  return setmetatable(t, getmetatable(v))
end

-- Django's timezone.now(), as PostgreSQL writes a timestamptz in UTC.
local function now()
  local t = core.time()
  local s = math.floor(t)
  return os.date("!%Y-%m-%d %H:%M:%S", s) .. (".%06d+00"):format(math.floor((t - s) * 1e6))
end

-- The callable defaults (build-aux/gen-models.py names them). Upstream's
-- short tokens and BBB keys are 24 random characters of [A-Za-z0-9].
O.GENERATORS = {
  uuid4 = function() return require("venueless.crypto").uuid4() end,
  now = now,
  short_token = function() return require("venueless.crypto").random_string(24) end,
  bbb_random_key = function() return require("venueless.crypto").random_string(24) end,
}

-- Django's empty_strings_allowed: these types default to "" when NOT NULL.
local EMPTY_STRING = { CharField = true, TextField = true, FileField = true }

-- The value a new object gets for f (Field.get_default). A FileField
-- stores '' even when nullable: its empty FieldFile is str()'d to ''.
local function default_of(f)
  local d = f.default
  if d and d.generator then return O.GENERATORS[d.generator]() end
  if d then return deep_copy(d.value) end
  if f.type == "FileField" then return "" end
  if not f.null and EMPTY_STRING[f.type] and not f.primary_key then return "" end
  return nil
end

---------------------------------------------------------------- relations

-- The forward relation f of obj: fetched once, then cached.
local function forward(s, f)
  local c = s.rel[f.name]
  if c ~= nil then return c or nil end
  local v = s.row[f.attname]
  if v == nil then return nil end
  local target = class(f.fk.target)
  local o = target:filter({ [target._by_column[f.fk.target_column].attname] = v }):first()
  s.rel[f.name] = o or false
  return o
end

-- t0.<pk> IN (SELECT <want> FROM <through> WHERE <have> = <value>)
local function through(cls, tbl, want, have, value)
  return Q.new(cls, function(ctx, alias)
    return ("%s.%s IN (SELECT %s FROM %s WHERE %s = %s)"):format(alias,
      sql.q(cls._pk.column), sql.q(want), sql.q(tbl), sql.q(have), ctx:param(value))
  end)
end

-- A reverse accessor: a queryset, or for a one-to-one the object or nil.
local function reverse(obj, s, r)
  local cls = class(r.model)
  if r.kind == "ManyToManyRel" then
    for _, m in ipairs(cls._meta.m2m) do
      if m.name == r.field then
        return through(cls, m.through, m.source_column, m.target_column, obj.pk)
      end
    end
  end
  local qs = Q.new(cls):filter({ [r.field] = obj })
  if r.kind ~= "OneToOneRel" then return qs end
  local c = s.rel[r.accessor]
  if c == nil then
    c = qs:first() or false
    s.rel[r.accessor] = c
  end
  return c or nil
end

function O.set_related(obj, name, rel)
  state[obj].rel[name] = rel
end

---------------------------------------------------------------- objects

local function indexer(cls, methods)
  return function(obj, k)
    local s = state[obj]
    local f = cls._by_key[k]
    if f then
      if f.fk and k == f.name then return forward(s, f) end
      if s.lazy and JSONISH[f.type] and not s.decoded[f.attname] then decode_field(s, f.attname) end
      local v = s.row[f.attname]
      if type(v) == "table" and s.snap[f.attname] == nil then
        s.snap[f.attname] = json.encode(v)	-- it may be changed in place
      end
      return v
    end
    local m = methods[k]
    if m then return m end
    if k == "pk" then return s.row[cls._pk.attname] end
    local m2 = cls._m2m[k]
    if m2 then return through(class(m2.target), m2.through, m2.target_column, m2.source_column, obj.pk) end
    local r = cls._rev[k]
    if r then return reverse(obj, s, r) end
    error(("%s has no field '%s'"):format(cls._name, tostring(k)), 2)
  end
end

local function newindexer(cls)
  return function(obj, k, v)
    local s = state[obj]
    local f = cls._by_key[k]
    if f == nil then
      if cls._rev[k] or cls._m2m[k] then error(("%s.%s is a relation"):format(cls._name, k), 2) end
      error(("%s has no field '%s'"):format(cls._name, tostring(k)), 2)
    end
    if f.primary_key or (cls._meta.versioned and f.name == "version") or cls._readonly[k] then
      error(("%s.%s is read-only"):format(cls._name, k), 2)
    end
    local ok, err = pcall(O.check_value, cls, f, v, k)
    if not ok then error(err, 2) end
    if f.fk and k == f.name then
      s.row[f.attname] = v and sql.scalar(f, v)
      s.rel[f.name] = v or false
    else
      s.row[f.attname] = v
      if f.fk then s.rel[f.name] = nil end
    end
    s.dirty[f.attname] = true
    if s.lazy then s.decoded[f.attname] = true end
  end
end

-- __pairs: the fields by attname in Django's order, NULL ones skipped.
local function pairser(cls)
  return function(obj)
    local i, row, fields = 0, O.row(obj), cls._meta.fields
    return function()
      repeat
        i = i + 1
        local f = fields[i]
        if f == nil then return nil end
        if row[f.attname] ~= nil then return f.attname, row[f.attname] end
      until false
    end, obj, nil
  end
end

-- An object's dirty, rel and snap tables are made on first use: most
-- objects streamed by :each() are only read, so only their state and row
-- are allocated (one metatable for all of them, no closure per object).
local LAZY = { dirty = true, rel = true, snap = true, decoded = true }
local lazy_mt = {
  __index = function(s, k)
    if not LAZY[k] then return nil end
    local t = {}
    rawset(s, k, t)
    return t
  end,
}

-- A new object of cls over row; saved: whether it is in the database;
-- lazy: row holds its jsonb and array fields as JSON text.
function O.make(cls, row, saved, lazy)
  local obj = {}
  state[obj] = setmetatable({ cls = cls, row = row, saved = saved, lazy = lazy or false }, lazy_mt)
  return setmetatable(obj, cls._object_mt)
end

-- Model:new{...}: an unsaved object with Django's defaults; fields by
-- attname, or a foreign key's name with an object.
local function new(cls, spec)
  if spec ~= nil and type(spec) ~= "table" then error("bad argument #1 to 'new' (table expected)", 2) end
  local obj = O.make(cls, {}, false)
  local s = state[obj]
  for _, f in ipairs(cls._meta.fields) do s.row[f.attname] = default_of(f) end
  for k, v in pairs(spec or {}) do
    local f = type(k) == "string" and cls._by_key[k]
    if not f then error(("%s has no field '%s'"):format(cls._name, tostring(k)), 2) end
    local ok, err = pcall(O.check_value, cls, f, v, k)
    if not ok then error(err, 2) end
    if f.fk and k == f.name then
      s.row[f.attname] = v and sql.scalar(f, v)
      s.rel[f.name] = v or false
    else
      s.row[f.attname] = v
    end
  end
  return obj
end

---------------------------------------------------------------- classes

local QS_METHODS = { "all", "filter", "exclude", "order", "order_by", "limit", "offset",
  "select_related", "count", "exists", "first", "get", "list", "each", "values", "sql" }

local class_methods = { new = new }
for _, name in ipairs(QS_METHODS) do
  local m = Q.methods[name]
  class_methods[name] = function(cls, ...) return m(Q.new(cls), ...) end
end

-- Model:create{...} -> the saved object, or nil, message, code.
function class_methods.create(cls, spec)
  local obj = new(cls, spec)
  local r, msg, code = obj:save()
  if r == nil then return nil, msg, code end
  return obj
end
O.class_methods = class_methods

local class_mt = {
  __name = "venueless.model",
  __index = function(cls, k)
    local m = class_methods[k]
    if m then return m end
    if k == "objects" then return Q.new(cls) end
    error(("%s has no attribute '%s'"):format(rawget(cls, "_name"), tostring(k)), 2)
  end,
  __newindex = function(cls) error(("%s is read-only"):format(rawget(cls, "_name")), 2) end,
  __call = new,
  __tostring = function(cls) return ("<model %s>"):format(rawget(cls, "_label")) end,
}

-- Methods of one model's objects beyond the common ones (save, delete,
-- reload, touch): the server's own operations on them (World's are in
-- worlds.lua, its domain module).
O.MODEL_METHODS = {
  ["core.User"] = {
    soft_delete = function(obj, opts) return require("venueless.retention").soft_delete(obj, opts) end,
  },
}

-- The methods of a class: the model layer's, the model's own
-- (O.MODEL_METHODS), and its domain module's (which win: World:save takes
-- the world lock).
local function methods_of(md, ext)
  local out = {}
  for k, f in pairs(require("venueless.models.write").methods) do out[k] = f end
  for k, f in pairs(O.MODEL_METHODS[md.label] or {}) do out[k] = f end
  for k, f in pairs(ext and ext.methods or {}) do out[k] = f end
  return out
end

-- The class of meta entry md, named name (models.User); ext: a domain
-- module's extension {methods=, readonly= (set of keys), tostring=}.
function O.class(md, name, ext)
  local cls = { _meta = md, _name = name, _label = md.label, _by_key = {}, _by_column = {},
    _rev = {}, _m2m = {}, _readonly = ext and ext.readonly or {} }
  for _, f in ipairs(md.fields) do
    cls._by_key[f.attname] = f
    cls._by_key[f.name] = f
    cls._by_column[f.column] = f
    if f.primary_key then cls._pk = f end
  end
  for _, r in ipairs(md.reverse or {}) do cls._rev[r.accessor] = r end
  for _, m in ipairs(md.m2m or {}) do cls._m2m[m.name] = m end
  local methods = methods_of(md, ext)
  cls._methods = methods
  local fields = md.fields
  cls._object_mt = {
    __name = "venueless." .. md.label,
    _methods = methods,
    __index = indexer(cls, methods),
    __newindex = newindexer(cls),
    __pairs = pairser(cls),
    __eq = function(a, b)
      local sa, sb = state[a], state[b]
      return sa and sb and sa.cls == sb.cls and sa.saved and sb.saved
        and sa.row[cls._pk.attname] == sb.row[cls._pk.attname] or false
    end,
    __tostring = function(obj)
      local s = state[obj]
      if not s.saved then return ("<%s unsaved>"):format(name) end
      if ext and ext.tostring then return ext.tostring(obj) end
      return ("<%s %s>"):format(name, tostring(s.row[cls._pk.attname]))
    end,
  }
  -- A result row (db.NULL for NULL) as a saved object; prefix: the
  -- select_related column prefix; own: the row holds exactly the fields
  -- by attname and may become the object's (NULLs cleared in place: only
  -- nullable columns can hold one); lazy: its jsonb and array fields are
  -- the server's JSON text, decoded when read.
  local attnames, nullable, jsonish, keys, NULL = {}, {}, {}, {}, db.NULL
  for i, f in ipairs(fields) do
    attnames[i] = f.attname
    if f.null then nullable[#nullable + 1] = f.attname end
    if JSONISH[f.type] then jsonish[#jsonish + 1] = f.attname end
  end
  cls._jsonish = jsonish
  cls._wrap = function(row, prefix, own, lazy)
    if own then
      for i = 1, #nullable do
        local a = nullable[i]
        if row[a] == NULL then row[a] = nil end
      end
      return O.make(cls, row, true, lazy)
    end
    local k = keys[prefix]
    if k == nil then
      k = {}
      for i, a in ipairs(attnames) do k[i] = prefix .. a end
      keys[prefix] = k
    end
    local r = {}
    for i = 1, #attnames do
      local v = row[k[i]]
      if v ~= NULL then r[attnames[i]] = v end
    end
    return O.make(cls, r, true, lazy)
  end
  return setmetatable(cls, class_mt)
end

return O
