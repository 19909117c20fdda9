-- Querysets: immutable descriptions of a set of rows of one model that
-- compile to ONE SQL statement (venueless.models.sql builds it). Every
-- value is a $N parameter; every identifier comes from the metadata. See
-- venueless-lua(7), MODELS.
local db = require "venueless.db"
local sql = require "venueless.models.sql"

local Q = {}
local methods = {}
local state = setmetatable({}, { __mode = "k" })	-- queryset -> its description

local mt = {
  __name = "venueless.queryset",
  __index = function(qs, k)
    local m = methods[k]
    if m then return m end
    error(("queryset of %s has no method '%s'"):format(state[qs].cls._name, tostring(k)), 2)
  end,
  __newindex = function() error("querysets are immutable", 2) end,
  __tostring = function(qs) return ("<queryset %s>"):format(state[qs].cls._name) end,
  -- called, a queryset is its list: w:rooms() is w.rooms:list()
  __call = function(qs) return methods.list(qs) end,
}

-- A queryset of cls with description d (fields: cls, where, order,
-- limit, offset, related, raw).
local function make(d)
  local qs = setmetatable({}, mt)
  state[qs] = d
  return qs
end

-- A copy of qs's description with changes.
local function derive(qs, changes)
  local d = {}
  for k, v in pairs(state[qs]) do d[k] = v end
  for k, v in pairs(changes) do d[k] = v end
  return make(d)
end

-- fn(...), a check that raises error(msg, 0): blame the method's caller.
local function guard(fn, ...)
  local ok, r = pcall(fn, ...)
  if not ok then error(r, 3) end
  return r
end

local function append(list, v)
  local t = table.move(list or {}, 1, #(list or {}), 1, {})
  t[#t + 1] = v
  return t
end

function Q.is(v)
  return type(v) == "table" and state[v] ~= nil
end

-- All rows of cls; raw, if given, a condition builder fn(ctx, alias).
function Q.new(cls, raw)
  return make({ cls = cls, where = {}, raw = raw and { raw } or nil })
end

-- The description behind a queryset (for the SQL builder).
function Q.describe(qs)
  return state[qs]
end

---------------------------------------------------------------- building

local function check_kwargs(name, f)
  if type(f) ~= "table" then error(("bad argument #1 to '%s' (table expected)"):format(name), 3) end
  local copy = {}
  for k, v in pairs(f) do
    if type(k) ~= "string" then error(("%s: field names are strings"):format(name), 3) end
    copy[k] = v
  end
  return copy
end

function methods.filter(qs, f)
  local d = state[qs]
  local kw = check_kwargs("filter", f)
  guard(sql.check, d.cls, kw)
  return derive(qs, { where = append(d.where, { kw = kw }) })
end

function methods.exclude(qs, f)
  local d = state[qs]
  local kw = check_kwargs("exclude", f)
  guard(sql.check, d.cls, kw)
  return derive(qs, { where = append(d.where, { kw = kw, negate = true }) })
end

function methods.all(qs)
  return derive(qs, {})
end

-- :order("-timestamp", "name"): replaces any earlier order.
function methods.order(qs, ...)
  local keys = table.pack(...)
  for i = 1, keys.n do
    if type(keys[i]) ~= "string" then error("bad argument #" .. i .. " to 'order' (string expected)", 2) end
    guard(sql.check_order, state[qs].cls, keys[i])
  end
  keys.n = nil
  return derive(qs, { order = keys })
end
methods.order_by = methods.order

local function count_arg(name, n)
  if math.type(n) ~= "integer" or n < 0 then
    error(("bad argument #1 to '%s' (non-negative integer expected)"):format(name), 3)
  end
  return n
end

function methods.limit(qs, n)
  return derive(qs, { limit = count_arg("limit", n) })
end

function methods.offset(qs, n)
  return derive(qs, { offset = count_arg("offset", n) })
end

-- :select_related("world", "channel__room"): fetch these forward
-- relations in the same statement.
function methods.select_related(qs, ...)
  local d = state[qs]
  local rel = table.move(d.related or {}, 1, #(d.related or {}), 1, {})
  for i, path in ipairs({ ... }) do
    if type(path) ~= "string" then error("bad argument #" .. i .. " to 'select_related' (string expected)", 2) end
    guard(sql.check_related, d.cls, path)
    rel[#rel + 1] = path
  end
  return derive(qs, { related = rel })
end

---------------------------------------------------------------- reading

-- :sql() -> the SELECT statement and its parameters (a list).
function methods.sql(qs)
  local s, params = sql.select(state[qs])
  return s, params
end

local READ = { nulls = false }

function methods.list(qs)
  local d = state[qs]
  local s, params = sql.select(d)
  -- jsonb as text (sql.wrap's objects decode a field when it is read),
  -- NULL columns left out of the rows
  local r = db.query(READ, s, table.unpack(params, 1, params.n))
  local out = {}
  for i, row in ipairs(r) do out[i] = sql.wrap(d, row) end
  return out
end

-- Rows per FETCH of :each(): a round trip per batch costs little beside
-- converting its rows, and a batch of objects stays well under a MB.
local EACH_BATCH = 1000

-- for obj in qs:each() do ... end: batches of rows through a server-side
-- cursor (db.rows' batch), so memory stays bounded; leaving the loop
-- early closes it. The connection is busy meanwhile: fetch relations with
-- select_related.
--
-- While the loop runs the collector is in generational mode (the mode
-- before it is restored at the end, on break or error): nearly every
-- object the loop makes dies young, and the incremental collector's
-- sweeps of the whole heap cost a third of the loop's CPU time (user CPU
-- over 300,000 rows: 2.1 s incremental, 1.45 s generational).
function methods.each(qs)
  local d = state[qs]
  local s, params = sql.select(d)
  local it, st, _, close = db.rows({ batch = EACH_BATCH, nulls = false }, s,
    table.unpack(params, 1, params.n))
  local mode = collectgarbage("generational")
  local function restore()
    if mode then
      collectgarbage(mode)
      mode = nil
    end
  end
  local closing = setmetatable({}, { __close = function(_, err)
    restore()
    getmetatable(close).__close(close, err)
  end })
  local next_row
  if not d.related then	-- the common case, one call less per row
    local wrap = d.cls._wrap
    next_row = function()
      local row = it(st)
      if row ~= nil then return wrap(row, "", true, true) end
      restore()
    end
  else
    local wrap = sql.wrap
    next_row = function()
      local row = it(st)
      if row ~= nil then return wrap(d, row) end
      restore()
    end
  end
  return next_row, nil, nil, closing
end

local function scalar(s, params)
  local r = db.query(s, table.unpack(params, 1, params.n))
  return r[1][r.columns[1]]
end

function methods.count(qs)
  return scalar(sql.count(state[qs]))
end

function methods.exists(qs)
  return scalar(sql.exists(state[qs]))
end

-- :first() -> the first object (by the order, else the primary key) or nil.
function methods.first(qs)
  local d = state[qs]
  local q = qs
  if not d.order and not d.cls._meta.ordering then q = methods.order(qs, "pk") end
  return methods.list(methods.limit(q, 1))[1]
end

-- :get{...} -> the one object matching, or nil, message, "notfound" /
-- "multiple".
function methods.get(qs, f)
  local q = f and methods.filter(qs, f) or qs
  local r = methods.list(methods.limit(q, 2))
  local name = state[qs].cls._name
  if #r == 0 then return nil, name .. " matching query does not exist", "notfound" end
  if #r > 1 then return nil, "get() returned more than one " .. name, "multiple" end
  return r[1]
end

-- :values("id", "world__title") -> plain tables of those fields (all
-- concrete fields without arguments).
function methods.values(qs, ...)
  local d = state[qs]
  local names = { ... }
  for i, n in ipairs(names) do
    if type(n) ~= "string" then error("bad argument #" .. i .. " to 'values' (string expected)", 2) end
    guard(sql.check_order, d.cls, n)
  end
  local s, params, keys = sql.values(d, names)
  local r = db.query({ json = true }, s, table.unpack(params, 1, params.n))
  local out = {}
  for i, row in ipairs(r) do
    local t = {}
    for _, k in ipairs(keys) do
      local v = row[k]
      if v ~= db.NULL then t[k] = v end
    end
    out[i] = t
  end
  return out
end

---------------------------------------------------------------- writing

-- :update{field = value, ...} -> the number of rows changed. Versioned
-- models: version + 1 and the cache told after the commit.
function methods.update(qs, f)
  local d = state[qs]
  local kw = check_kwargs("update", f)
  local sets = guard(sql.check_update, d.cls, kw)
  return require("venueless.models.write").update(d, sets)
end

-- :delete([opts]) -> venueless.models.delete's result for these rows,
-- following each foreign key's on_delete.
function methods.delete(qs, opts)
  local d = state[qs]
  local s, params = sql.pks(d)
  if type(opts) == "table" and opts.dry_run then
    return require("venueless.models.delete").run(d.cls._meta, s, params, opts)
  end
  return require("venueless.models.write").delete_set(d.cls, s, params, opts)
end

Q.methods = methods
return Q
