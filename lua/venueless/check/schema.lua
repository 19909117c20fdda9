-- Schema drift: the live catalog against the schema the applied
-- migrations define. The reference catalog is made by running the
-- applied migrations' SQL into this session's temporary schema inside a
-- transaction that is rolled back, so it is exactly what migrate would
-- have produced, and nothing of it outlives the call. Identity and
-- serial ids (Django before 4.1) are both "auto"; everything else is
-- compared by name: tables, columns (type, NOT NULL), indexes and
-- constraints (their definitions).
local db = require "venueless.db"

local M = {}

-- One row per object of namespace $1: kind, table, name and what is
-- compared. Index and constraint definitions lose their own name and
-- the schema prefix, so equal objects in two schemas compare equal and
-- a renamed one is found by its definition. Indexes that back a
-- constraint are compared as the constraint.
local CATALOG_SQL = [[
SELECT 'table' AS kind, c.relname AS tbl, c.relname AS name, '' AS def,
       false AS notnull, false AS auto, false AS hasdefault
FROM pg_class c WHERE c.relnamespace = $1::oid AND c.relkind IN ('r', 'p')
UNION ALL
SELECT 'column', c.relname, a.attname, format_type(a.atttypid, a.atttypmod),
       a.attnotnull,
       a.attidentity <> '' OR coalesce(pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false),
       d.adbin IS NOT NULL OR a.attidentity <> '' OR a.attgenerated <> ''
FROM pg_class c
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
WHERE c.relnamespace = $1::oid AND c.relkind IN ('r', 'p')
UNION ALL
SELECT 'index', c.relname, x.relname,
       regexp_replace(pg_get_indexdef(i.indexrelid),
         '^CREATE (UNIQUE )?INDEX \S+ ON (ONLY )?([^ .]+\.)?', 'CREATE \1INDEX ON \2'),
       false, false, false
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_class x ON x.oid = i.indexrelid
WHERE c.relnamespace = $1::oid AND c.relkind IN ('r', 'p')
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid
                  AND k.conrelid = i.indrelid AND k.contype IN ('p', 'u', 'x'))
UNION ALL
SELECT 'constraint', c.relname, k.conname, pg_get_constraintdef(k.oid),
       false, false, false
FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid
WHERE c.relnamespace = $1::oid AND k.contype IN ('c', 'f', 'p', 'u', 'x')
ORDER BY 1, 2, 3]]

-- The catalog of namespace oid: {["kind tbl name"] = row}, and the
-- tables' names in order.
local function catalog(nsp)
  local objs, tables = {}, {}
  for _, r in ipairs(db.query(CATALOG_SQL, nsp)) do
    objs[r.kind .. " " .. r.tbl .. " " .. r.name] = r
    if r.kind == "table" then tables[#tables + 1] = r.tbl end
  end
  return objs, tables
end

local ROLLBACK = setmetatable({}, { __tostring = function() return "rollback" end })

-- The catalog the applied migrations make (state from migrations.state),
-- built in pg_temp and rolled back.
local function reference(state)
  local objs, tables
  local ok, e = pcall(db.transaction, function()
    db.exec("SET LOCAL search_path = pg_temp")
    if state.exists then db.exec(state.recorder) end
    for _, u in ipairs(state.applied) do
      if u.sql then db.exec(u.sql) end
      if u.run then u.run(db) end
    end
    local nsp = db.query("SELECT pg_my_temp_schema()::oid AS oid")[1].oid
    objs, tables = catalog(nsp)
    error(ROLLBACK, 0)
  end)
  if not ok and e ~= ROLLBACK then error(e, 0) end
  return objs, tables
end

-- The live catalog: the schema django_migrations is in, else the
-- current one.
local function live()
  local nsp = db.query([[SELECT coalesce(
    (SELECT relnamespace FROM pg_class WHERE oid = to_regclass('django_migrations')),
    (SELECT oid FROM pg_namespace WHERE nspname = current_schema()))::oid AS oid]])[1].oid
  return catalog(nsp)
end

---------------------------------------------------------------- comparing

local HINT_FIX = "a hand-made change or half-applied DDL: restore it as the "
  .. "migrations define it before the next migrate"

local function finding(list, status, object, reason, hint)
  list[#list + 1] = { status = status, object = object, reason = reason,
    hint = hint or (status == "FAIL" and HINT_FIX or nil) }
end

local function column_text(r)
  return r.def .. (r.notnull and " NOT NULL" or "")
end

-- A column present on both sides that differs.
local function compare_column(out, obj, want, have)
  if want.def ~= have.def then
    finding(out, "FAIL", obj, ("type %s, expected %s"):format(have.def, want.def))
  end
  if want.notnull ~= have.notnull then
    finding(out, "FAIL", obj, want.notnull
      and "NULL allowed, expected NOT NULL (rows the server reads may lack it)"
      or "NOT NULL, expected NULL allowed (the server's inserts without it fail)")
  end
  if want.auto ~= have.auto then
    finding(out, "FAIL", obj, want.auto
      and "no identity or sequence default: the server's inserts fail"
      or "an identity or sequence default the migrations do not define")
  end
end

-- An extra column: harmless unless NOT NULL without a default, which
-- makes every insert of the server fail.
local function extra_column(out, obj, have)
  if have.notnull and not have.hasdefault then
    finding(out, "FAIL", obj, ("extra column %s without a default: the server's "
      .. "inserts fail"):format(column_text(have)))
  else
    finding(out, "WARN", obj, ("extra column %s, not in the migrations")
      :format(column_text(have)), "hand-made; the server ignores it")
  end
end

-- Missing and extra indexes or constraints of one table; an extra one
-- with a missing one's definition is reported as that one renamed.
local function compare_named(out, kind, tbl, want, have)
  local missing, extra = {}, {}
  for k, w in pairs(want) do
    if w.kind == kind and w.tbl == tbl then
      local h = have[k]
      if not h then missing[#missing + 1] = w
      elseif h.def ~= w.def then
        finding(out, "FAIL", ("%s %s"):format(kind, w.name),
          ("on %s is %s, expected %s"):format(tbl, h.def, w.def))
      end
    end
  end
  for k, h in pairs(have) do
    if h.kind == kind and h.tbl == tbl and not want[k] then extra[#extra + 1] = h end
  end
  table.sort(missing, function(a, b) return a.name < b.name end)
  table.sort(extra, function(a, b) return a.name < b.name end)
  for _, w in ipairs(missing) do
    local renamed
    for i, h in ipairs(extra) do
      if h.def == w.def then renamed = table.remove(extra, i) break end
    end
    if renamed then
      finding(out, "FAIL", ("%s %s"):format(kind, w.name), ("on %s is named %s; "
        .. "later migrations refer to it by name"):format(tbl, renamed.name))
    else
      finding(out, "FAIL", ("%s %s"):format(kind, w.name), ("missing on %s (%s)")
        :format(tbl, w.def))
    end
  end
  for _, h in ipairs(extra) do
    finding(out, "WARN", ("%s %s"):format(kind, h.name), ("on %s, not in the "
      .. "migrations (%s)"):format(tbl, h.def), "hand-made; it may slow or refuse "
      .. "the server's writes")
  end
end

-- One table present on both sides: its columns, indexes, constraints.
local function compare_table(out, tbl, want, have)
  local cols = {}
  for k, r in pairs(want) do
    if r.kind == "column" and r.tbl == tbl then cols[#cols + 1] = k end
  end
  for k, r in pairs(have) do
    if r.kind == "column" and r.tbl == tbl and not want[k] then cols[#cols + 1] = k end
  end
  table.sort(cols)
  for _, k in ipairs(cols) do
    local w, h = want[k], have[k]
    local obj = ("column %s.%s"):format(tbl, (w or h).name)
    if not h then
      finding(out, "FAIL", obj, ("missing (%s)"):format(column_text(w)))
    elseif not w then
      extra_column(out, obj, h)
    else
      compare_column(out, obj, w, h)
    end
  end
  compare_named(out, "index", tbl, want, have)
  compare_named(out, "constraint", tbl, want, have)
end

-- The differences between two catalogs, table by table in name order.
local function compare(want, want_tables, have, have_tables)
  local out, names, seen = {}, {}, {}
  for _, t in ipairs(want_tables) do seen[t] = true names[#names + 1] = t end
  for _, t in ipairs(have_tables) do
    if not seen[t] then names[#names + 1] = t end
  end
  table.sort(names)
  for _, t in ipairs(names) do
    local key = "table " .. t .. " " .. t
    if not have[key] then
      finding(out, "FAIL", "table " .. t, "missing")
    elseif not want[key] then
      finding(out, "WARN", "table " .. t, "not in the migrations",
        "hand-made (a backup copy?); the server ignores it")
    else
      compare_table(out, t, want, have)
    end
  end
  return out
end

-- The drift of the live schema: { tables = n expected, migrations = n
-- applied, findings = {{status=, object=, reason=, hint=}} }. state is
-- migrations.state() (read when not given).
function M.drift(state)
  state = state or require("venueless.migrations").state()
  local want, want_tables = reference(state)
  local have, have_tables = live()
  return { tables = #want_tables, migrations = #state.applied,
    findings = compare(want, want_tables, have, have_tables) }
end

return M
