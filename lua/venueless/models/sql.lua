-- The SQL of querysets: field paths (world__title), Django's lookups,
-- joins t0, t1, ... along forward foreign keys, and the statements. Every
-- value goes through ctx:param as $N; identifiers come only from the
-- generated metadata (all [a-z0-9_], double-quoted). Checks raise plain
-- errors without a position (error(msg, 0)); venueless.models.queryset
-- adds the caller's.
local db = require "venueless.db"
local json = require "venueless.json"

local S = {}

-- A metadata identifier, quoted (tests/models.lua checks they are all
-- plain lowercase names, so this cannot be wrong).
local function q(name)
  return '"' .. name .. '"'
end
S.q = q

local function class(label)
  return require("venueless.models").class(label)
end

local function is_object(v)
  return require("venueless.models.object").is(v)
end

local function bad(fmt, ...)
  error(fmt:format(...), 0)
end

---------------------------------------------------------------- context

local Ctx = {}
Ctx.__index = Ctx

local function new_ctx()
  return setmetatable({ params = { n = 0 }, joins = {}, from = {}, n = 0 }, Ctx)
end
S.new_ctx = new_ctx

function Ctx:param(v)
  local p = self.params
  p.n = p.n + 1
  p[p.n] = v
  return "$" .. p.n
end

-- The alias of path's table, joined along foreign key f from alias.
function Ctx:join(alias, path, f, target)
  local a = self.joins[path]
  if a then return a end
  self.n = self.n + 1
  a = "t" .. self.n
  self.joins[path] = a
  self.from[#self.from + 1] = ("%s %s %s ON %s.%s = %s.%s"):format(
    f.null and "LEFT JOIN" or "JOIN", q(target._meta.table), a, a,
    q(f.fk.target_column), alias, q(f.column))
  return a
end

---------------------------------------------------------------- paths

local LOOKUPS = {}

-- The field p names in cls: a field's name or attname, or pk.
local function field_of(cls, p)
  if p == "pk" then return cls._pk end
  return cls._by_key[p]
end

-- Resolve "channel__room__world_id__in": the field, its table's alias
-- and the lookup (lookups = false: a plain field path).
local function resolve(ctx, cls, key, lookups)
  local parts = {}
  for p in (key .. "__"):gmatch("(.-)__") do parts[#parts + 1] = p end
  local alias, path = "t0", ""
  for i, p in ipairs(parts) do
    local f = field_of(cls, p)
    if f == nil then bad("%s has no field '%s' (in '%s')", cls._name, p, key) end
    if i == #parts then return f, alias, "exact" end
    local nxt = parts[i + 1]
    local rel = f.fk and p == f.name
    if lookups and i + 1 == #parts and LOOKUPS[nxt]
        and not (rel and field_of(class(f.fk.target), nxt)) then
      return f, alias, nxt
    end
    if not rel then
      if i + 1 == #parts and lookups then bad("unknown lookup '%s' (in '%s')", nxt, key) end
      bad("%s.%s is not a foreign key (in '%s')", cls._name, p, key)
    end
    local target = class(f.fk.target)
    path = path .. p
    alias = ctx:join(alias, path, f, target)
    path = path .. "__"
    cls = target
  end
  bad("empty field name")
end

---------------------------------------------------------------- values

local function json_list(v, what)
  if type(v) ~= "table" then bad("%s: expected a list", what) end
  local t = {}
  for i, x in ipairs(v) do t[i] = x end
  return json.array(t)
end

-- A plain value for field f: an object stands for its key.
local function scalar(f, v, what)
  if is_object(v) then
    if f.fk then
      local target = class(f.fk.target)
      local tf = target._by_column[f.fk.target_column]
      return require("venueless.models.object").row(v)[tf.attname]
    end
    return v.pk
  end
  local t = type(v)
  if t == "string" or t == "number" or t == "boolean" then return v end
  bad("%s: expected a string, number, boolean or object, got %s", what, t)
end

S.scalar = scalar

local JSONISH = { JSONField = true, ArrayField = true }

local ARRAY_MT = getmetatable(json.array({}))

-- An empty plain table for a JSONField whose default is a list (feature
-- flags, module_config) is the empty list, not {}.
local function empty_list(f, v)
  return type(v) == "table" and next(v) == nil and getmetatable(v) == nil
    and f.default and type(f.default.value) == "table"
    and getmetatable(f.default.value) == ARRAY_MT
end

-- A parameter of f's type: jsonb as JSON text, arrays through jsonb.
local function placeholder(ctx, f, v, what)
  if f.type == "JSONField" then
    if empty_list(f, v) then v = json.array({}) end
    return ctx:param(json.encode(v)) .. "::jsonb"
  elseif f.type == "ArrayField" then
    return "ARRAY(SELECT jsonb_array_elements_text(" .. ctx:param(json.encode(json_list(v, what)))
      .. "::jsonb))::" .. f.db_type
  end
  return ctx:param(scalar(f, v, what))
end
S.placeholder = placeholder

-- A LIKE pattern: the value with \ % _ escaped, between pre and post.
local function like(ctx, v, pre, post, what)
  if type(v) ~= "string" then bad("%s: expected a string", what) end
  return ctx:param(pre .. v:gsub("[\\%%_]", "\\%0") .. post)
end

local function text_lookup(pre, post, upper)
  return function(ctx, f, col, v, what)
    if upper then
      return ("UPPER(%s::text) LIKE UPPER(%s)"):format(col, like(ctx, v, pre, post, what))
    end
    return ("%s::text LIKE %s"):format(col, like(ctx, v, pre, post, what))
  end
end

local function compare(op)
  return function(ctx, f, col, v, what)
    if v == nil then bad("%s: nil cannot be compared", what) end
    return ("%s %s %s"):format(col, op, placeholder(ctx, f, v, what))
  end
end

local function json_only(op)
  return function(ctx, f, col, v, what)
    if not JSONISH[f.type] then bad("%s: only for JSON and array fields", what) end
    return ("%s %s %s"):format(col, op, placeholder(ctx, f, v, what))
  end
end

LOOKUPS.exact = function(ctx, f, col, v, what)
  if v == nil then return col .. " IS NULL" end
  return compare("=")(ctx, f, col, v, what)
end
LOOKUPS.iexact = function(ctx, f, col, v, what)
  if type(v) ~= "string" then bad("%s: expected a string", what) end
  return ("UPPER(%s::text) = UPPER(%s)"):format(col, ctx:param(v))
end
LOOKUPS.contains = function(ctx, f, col, v, what)
  if JSONISH[f.type] then return json_only("@>")(ctx, f, col, v, what) end
  return text_lookup("%", "%")(ctx, f, col, v, what)
end
LOOKUPS.icontains = text_lookup("%", "%", true)
LOOKUPS.startswith = text_lookup("", "%")
LOOKUPS.istartswith = text_lookup("", "%", true)
LOOKUPS.endswith = text_lookup("%", "")
LOOKUPS.iendswith = text_lookup("%", "", true)
LOOKUPS.gt, LOOKUPS.gte = compare(">"), compare(">=")
LOOKUPS.lt, LOOKUPS.lte = compare("<"), compare("<=")
LOOKUPS.contained_by = json_only("<@")
LOOKUPS.overlap = json_only("&&")
LOOKUPS.has_key = function(ctx, f, col, v, what)
  if f.type ~= "JSONField" or type(v) ~= "string" then bad("%s: a string key of a JSON field", what) end
  return ("%s ? %s"):format(col, ctx:param(v))
end
LOOKUPS.isnull = function(_, _, col, v, what)
  if type(v) ~= "boolean" then bad("%s: expected a boolean", what) end
  return col .. (v and " IS NULL" or " IS NOT NULL")
end
LOOKUPS.range = function(ctx, f, col, v, what)
  if type(v) ~= "table" or v[1] == nil or v[2] == nil then bad("%s: expected {low, high}", what) end
  return ("%s BETWEEN %s AND %s"):format(col, placeholder(ctx, f, v[1], what),
    placeholder(ctx, f, v[2], what))
end
LOOKUPS["in"] = function(ctx, f, col, v, what)
  if type(v) ~= "table" or is_object(v) then bad("%s: expected a list", what) end
  local t = {}
  for i, x in ipairs(v) do t[i] = scalar(f, x, what) end
  local elems = f.type == "JSONField" and "jsonb_array_elements" or "jsonb_array_elements_text"
  local typ = f.type == "JSONField" and "jsonb" or f.db_type
  return ("%s = ANY(ARRAY(SELECT %s(%s::jsonb))::%s[])"):format(col, elems,
    ctx:param(json.encode(json.array(t))), typ)
end
S.LOOKUPS = LOOKUPS

---------------------------------------------------------------- conditions

local function sorted_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys)
  return keys
end

local function condition(ctx, cls, key, v)
  local f, alias, lookup = resolve(ctx, cls, key, true)
  return LOOKUPS[lookup](ctx, f, alias .. "." .. q(f.column), v, key)
end

-- The WHERE clause of d (filters, excludes, raw conditions), or "".
local function where(ctx, d)
  local parts = {}
  for _, raw in ipairs(d.raw or {}) do parts[#parts + 1] = raw(ctx, "t0") end
  for _, node in ipairs(d.where) do
    local conds = {}
    for _, k in ipairs(sorted_keys(node.kw)) do
      conds[#conds + 1] = condition(ctx, d.cls, k, node.kw[k])
    end
    if #conds > 0 then
      local s = table.concat(conds, " AND ")
      -- exclude: a NULL comparison counts as not matching, so the row stays
      if node.negate then s = "NOT coalesce((" .. s .. "), false)" end
      parts[#parts + 1] = s
    end
  end
  if #parts == 0 then return "" end
  return " WHERE " .. table.concat(parts, " AND ")
end

-- Filters: raise (error(msg, 0)) on an unknown field, lookup or value.
function S.check(cls, kw)
  for _, k in ipairs(sorted_keys(kw)) do condition(new_ctx(), cls, k, kw[k]) end
end

function S.check_order(cls, key)
  if key == "?" then return end
  resolve(new_ctx(), cls, key:gsub("^%-", ""), false)
end

-- The forward relations path selects, parents first: {path=, prefix=,
-- parent= (a path or ""), name=, field=, cls=}.
local function related_plan(cls0, paths)
  local plan, seen = {}, {}
  for _, path in ipairs(paths or {}) do
    local cls, parent = cls0, ""
    for p in (path .. "__"):gmatch("(.-)__") do
      local f = cls._by_key[p]
      if not (f and f.fk and f.name == p) then
        bad("%s.%s is not a foreign key (in select_related '%s')", cls._name, p, path)
      end
      local full = parent == "" and p or parent .. "__" .. p
      cls = class(f.fk.target)
      if not seen[full] then
        seen[full] = true
        plan[#plan + 1] = { path = full, prefix = full .. "__", parent = parent,
          name = p, field = f, cls = cls }
      end
      parent = full
    end
  end
  return plan
end

local plans = setmetatable({}, { __mode = "k" })

-- d's related plan, made once per description (they never change).
local function plan_of(d)
  local p = plans[d]
  if p == nil then
    p = related_plan(d.cls, d.related)
    plans[d] = p
  end
  return p
end

function S.check_related(cls, path)
  related_plan(cls, { path })
end

-- update{...}: {field, value} pairs of this model's own fields.
function S.check_update(cls, kw)
  local sets = {}
  for _, k in ipairs(sorted_keys(kw)) do
    local f = field_of(cls, k)
    if f == nil then bad("%s has no field '%s'", cls._name, k) end
    if f.primary_key or (cls._meta.versioned and f.name == "version") then
      bad("%s.%s is read-only", cls._name, k)
    end
    require("venueless.models.object").check_value(cls, f, kw[k], k)
    sets[#sets + 1] = { f, kw[k] }
  end
  if #sets == 0 then bad("update: nothing to set") end
  return sets
end

---------------------------------------------------------------- statements

-- The select list of cls's fields from alias, named prefix .. attname.
local function columns(cls, alias, prefix, out)
  for _, f in ipairs(cls._meta.fields) do
    local expr = alias .. "." .. q(f.column)
    if f.type == "ArrayField" then expr = "to_jsonb(" .. expr .. ")" end
    local name = prefix .. f.attname
    if name ~= f.column or f.type == "ArrayField" then expr = expr .. " AS " .. q(name) end
    out[#out + 1] = expr
  end
  return out
end
S.columns = columns

local function order_by(ctx, d)
  local keys = d.order or d.cls._meta.ordering
  if not keys or #keys == 0 then return "" end
  local out = {}
  for i, key in ipairs(keys) do
    if key == "?" then
      out[i] = "random()"
    else
      local name = key:gsub("^%-", "")
      local f, alias = resolve(ctx, d.cls, name, false)
      out[i] = alias .. "." .. q(f.column) .. (key:sub(1, 1) == "-" and " DESC" or "")
    end
  end
  return " ORDER BY " .. table.concat(out, ", ")
end

local function slice(ctx, d)
  local s = ""
  if d.limit then s = s .. " LIMIT " .. ctx:param(d.limit) end
  if d.offset then s = s .. " OFFSET " .. ctx:param(d.offset) end
  return s
end

-- FROM ... WHERE ... [ORDER BY ...] [LIMIT OFFSET]; list: the select list
-- to add the related tables' columns to (or nil).
local function body(ctx, d, list, ordered)
  local w = where(ctx, d)
  if list then
    for _, r in ipairs(plan_of(d)) do
      local parent = r.parent == "" and "t0" or ctx.joins[r.parent]
      columns(r.cls, ctx:join(parent, r.path, r.field, r.cls), r.prefix, list)
    end
  end
  local o = ordered and order_by(ctx, d) or ""
  local from = " FROM " .. q(d.cls._meta.table) .. " t0"
  if #ctx.from > 0 then from = from .. " " .. table.concat(ctx.from, " ") end
  return from .. w .. o .. slice(ctx, d)
end

function S.select(d)
  local ctx = new_ctx()
  local list = columns(d.cls, "t0", "", {})
  local rest = body(ctx, d, list, true)
  return "SELECT " .. table.concat(list, ", ") .. rest, ctx.params
end

function S.count(d)
  local ctx = new_ctx()
  if d.limit or d.offset then
    return "SELECT count(*) AS n FROM (SELECT 1" .. body(ctx, d, nil, true) .. ") s", ctx.params
  end
  return "SELECT count(*) AS n" .. body(ctx, d, nil, false), ctx.params
end

function S.exists(d)
  local ctx = new_ctx()
  local lim = d.limit and d or setmetatable({ limit = 1 }, { __index = d })
  return "SELECT EXISTS (SELECT 1" .. body(ctx, lim, nil, d.limit or d.offset) .. ") AS e", ctx.params
end

-- SELECT t0.<pk> FROM ...: the rows an update or delete changes.
function S.pks(d)
  local ctx = new_ctx()
  return "SELECT t0." .. q(d.cls._pk.column) .. body(ctx, d, nil, d.limit or d.offset), ctx.params
end

-- UPDATE of d's rows: sets ({field, value}), version + 1 for versioned
-- models, which also return their primary keys and versions.
function S.update(d, sets)
  local ctx = new_ctx()
  local cls = d.cls
  local sub = "SELECT t0." .. q(cls._pk.column) .. body(ctx, d, nil, d.limit or d.offset)
  local list = {}
  for i, sv in ipairs(sets) do
    local f, v = sv[1], sv[2]
    list[i] = q(f.column) .. " = " .. (v == nil and "NULL" or placeholder(ctx, f, v, f.attname))
  end
  local ret = ""
  if cls._meta.versioned then
    list[#list + 1] = '"version" = "version" + 1'
    ret = " RETURNING " .. q(cls._pk.column) .. ' AS pk, "version"'
  end
  return ("UPDATE %s SET %s WHERE %s IN (%s)%s"):format(q(cls._meta.table),
    table.concat(list, ", "), q(cls._pk.column), sub, ret), ctx.params
end

-- values(names): the statement, its parameters and the result keys.
function S.values(d, names)
  local ctx = new_ctx()
  local list, keys = {}, {}
  if #names == 0 then
    columns(d.cls, "t0", "", list)
    for i, f in ipairs(d.cls._meta.fields) do keys[i] = f.attname end
  else
    for i, name in ipairs(names) do
      local f, alias = resolve(ctx, d.cls, name, false)
      local expr = alias .. "." .. q(f.column)
      if f.type == "ArrayField" then expr = "to_jsonb(" .. expr .. ")" end
      list[i] = expr .. " AS " .. q(name)
      keys[i] = name
    end
  end
  return "SELECT " .. table.concat(list, ", ") .. body(ctx, d, nil, true), ctx.params, keys
end

-- The object for a result row (jsonb and arrays as the server's JSON text,
-- decoded when read), with its select_related objects attached.
function S.wrap(d, row)
  local obj = d.cls._wrap(row, "", not d.related, true)
  if d.related then
    local O = require "venueless.models.object"
    local objs = { [""] = obj }
    for _, r in ipairs(plan_of(d)) do
      local parent = objs[r.parent]
      local pkcol = r.prefix .. r.cls._pk.attname
      local rel = row[pkcol] ~= db.NULL and row[pkcol] ~= nil and r.cls._wrap(row, r.prefix, false, true) or false
      objs[r.path] = rel or nil
      if parent then O.set_related(parent, r.name, rel) end
    end
  end
  return obj
end

return S
