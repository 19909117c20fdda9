-- Deletion with Django's on_delete semantics, set-based and atomic.
-- The database's foreign keys are NO ACTION, DEFERRABLE INITIALLY
-- DEFERRED (models.md): CASCADE, SET_NULL and PROTECT exist only in
-- Django's delete collector, so we do its work here. delete.plan walks
-- the metadata once and writes a fixed list of statements (their number
-- depends on the models involved, never on the rows); delete.run runs
-- them in one transaction (a savepoint inside one), each affected
-- model's primary keys collected once into a temporary table.
local core = require "venueless.core"
local db = require "venueless.db"
local meta = require "venueless.models.meta"
local model = require "venueless.model"

local M = {}

-- The blocking rows a refusal names per relation.
M.BLOCKERS_SHOWN = 5

---------------------------------------------------------------- the graph

local graph	-- label -> model; who refers to whom (built on first use)

local function pk_field(m)
  for _, f in ipairs(m.fields) do
    if f.primary_key then return f end
  end
end

-- Every foreign key and auto-created many-to-many column, indexed by
-- the model it points at.
local function build_graph()
  local g = { by = {}, refs = {}, m2m = {} }
  for _, m in ipairs(meta.models) do
    g.by[m.label], g.refs[m.label], g.m2m[m.label] = m, {}, {}
  end
  for _, m in ipairs(meta.models) do
    for _, f in ipairs(m.fields) do
      if f.fk then table.insert(g.refs[f.fk.target], { model = m, field = f }) end
    end
    for _, r in ipairs(m.m2m or {}) do
      if r.auto_created then
        table.insert(g.m2m[m.label], { through = r.through, column = r.source_column })
        table.insert(g.m2m[r.target], { through = r.through, column = r.target_column })
      end
    end
  end
  return g
end

local function get_graph()
  graph = graph or build_graph()
  return graph
end

-- The models whose rows a CASCADE from label's rows deletes, directly.
local function cascades(g, label)
  local out, seen = {}, {}
  for _, r in ipairs(g.refs[label]) do
    if r.field.fk.on_delete == "CASCADE" and not seen[r.model.label] then
      seen[r.model.label] = true
      out[#out + 1] = r.model.label
    end
  end
  return out
end

-- The strongly connected components of the CASCADE graph reachable from
-- root (Tarjan), in topological order: a component comes before every
-- component its deletions cascade to, so its key set is complete first.
local function components(g, root)
  local index, low, on, stack, out, n = {}, {}, {}, {}, {}, 0
  local function visit(v)
    n = n + 1
    index[v], low[v] = n, n
    stack[#stack + 1], on[v] = v, true
    for _, w in ipairs(cascades(g, v)) do
      if not index[w] then
        visit(w)
        low[v] = math.min(low[v], low[w])
      elseif on[w] then
        low[v] = math.min(low[v], index[w])
      end
    end
    if low[v] == index[v] then
      local comp = {}
      repeat
        local w = table.remove(stack)
        on[w] = nil
        table.insert(comp, 1, w)
      until w == v
      table.insert(out, 1, comp)	-- Tarjan emits components sinks first
    end
  end
  visit(root)
  return out
end

---------------------------------------------------------------- SQL pieces

-- The affected models as nodes: table, key column and type, and the
-- temporary table holding the keys of its rows to delete.
local function make_nodes(g, comps)
  local nodes, order = {}, {}
  for ci, comp in ipairs(comps) do
    local self_loop = false
    for _, label in ipairs(cascades(g, comp[1])) do
      if label == comp[1] then self_loop = true end
    end
    for _, label in ipairs(comp) do
      local m = g.by[label]
      local pk = pk_field(m)
      local node = { label = label, model = m, table = db.quote_ident(m.table),
        name = m.table, pk = db.quote_ident(pk.column), type = pk.db_type,
        tmp = "vl_delete_" .. (#order + 1), comp = ci, cyclic = #comp > 1 or self_loop }
      nodes[label] = node
      order[#order + 1] = node
    end
  end
  return nodes, order
end

-- "SELECT pk FROM t WHERE col IN (keys) UNION ...": the rows of table t
-- that refer to a deleted row through one of refs ({column=, node=}).
-- A UNION rather than OR, so each arm can use the column's index.
local function referring(t, pk, refs)
  local arms = {}
  for _, r in ipairs(refs) do
    arms[#arms + 1] = ("SELECT %s FROM %s WHERE %s IN (SELECT pk FROM %s)")
      :format(pk, t, db.quote_ident(r.column), r.node.tmp)
  end
  return table.concat(arms, " UNION ")
end

-- The CASCADE references into node from earlier components (outside)
-- and from its own component (inside): {column =, node = the target}.
local function cascade_refs(g, order, node)
  local outside, inside = {}, {}
  for _, n in ipairs(order) do
    for _, r in ipairs(g.refs[n.label]) do
      if r.model.label == node.label and r.field.fk.on_delete == "CASCADE" then
        local ref = { column = r.field.column, node = n }
        table.insert(n.comp == node.comp and inside or outside, ref)
      end
    end
  end
  return outside, inside
end

-- Collect an acyclic node's keys: the rows referring to deleted rows.
local function collect_simple(node, outside)
  return ("INSERT INTO %s (pk) %s"):format(node.tmp,
    referring(node.table, node.pk, outside))
end

-- Collect a cycle's keys (a self-reference such as ChatEvent.replaces,
-- or models referring to each other) in one recursive query over
-- (member, key as text); UNION drops rows seen before, so a cycle in the
-- data ends too.
local function collect_cycle(members, refs)
  local seeds, steps, inserts = {}, {}, {}
  for i, node in ipairs(members) do
    seeds[#seeds + 1] = ("SELECT %d, pk::text FROM %s"):format(i, node.tmp)
    if #refs[i].outside > 0 then
      seeds[#seeds + 1] = ("SELECT %d, k::text FROM (%s) s(k)")
        :format(i, referring(node.table, node.pk, refs[i].outside))
    end
    for _, r in ipairs(refs[i].inside) do
      steps[#steps + 1] = ("SELECT %d, x.%s::text FROM %s x WHERE r.m = %d AND x.%s = r.pk::%s")
        :format(i, node.pk, node.table, r.member, db.quote_ident(r.column), r.node.type)
    end
    inserts[#inserts + 1] = ("i%d AS (INSERT INTO %s (pk) SELECT pk::%s FROM r WHERE m = %d"
      .. " ON CONFLICT DO NOTHING)"):format(i, node.tmp, node.type, i)
  end
  return ("WITH RECURSIVE r(m, pk) AS (%s UNION SELECT e.m, e.pk FROM r"
    .. " CROSS JOIN LATERAL (%s) e(m, pk)), %s SELECT 1")
    :format(table.concat(seeds, " UNION "), table.concat(steps, " UNION ALL "),
      table.concat(inserts, ", "))
end

-- The statements filling every node's key set, in topological order.
local function collect_steps(g, order)
  local steps, comps = {}, {}
  for _, node in ipairs(order) do
    comps[node.comp] = comps[node.comp] or {}
    table.insert(comps[node.comp], node)
  end
  for ci, members in ipairs(comps) do
    if members[1].cyclic then
      local refs, pos = {}, {}
      for i, node in ipairs(members) do pos[node.label] = i end
      for i, node in ipairs(members) do
        local outside, inside = cascade_refs(g, order, node)
        for _, r in ipairs(inside) do r.member = pos[r.node.label] end
        refs[i] = { outside = outside, inside = inside }
      end
      steps[#steps + 1] = collect_cycle(members, refs)
    elseif ci > 1 then	-- the root's keys come from the caller's query
      steps[#steps + 1] = collect_simple(members[1], (cascade_refs(g, order, members[1])))
    end
  end
  return steps
end

---------------------------------------------------------------- actions

-- The references into deleted rows that are not cascades, per referring
-- model: { [label] = { model =, kind = {refs} } } in metadata order.
local function other_refs(g, nodes)
  local by, order = {}, {}
  for _, m in ipairs(meta.models) do
    for _, f in ipairs(m.fields) do
      local n = f.fk and nodes[f.fk.target]
      local kind = f.fk and f.fk.on_delete
      if n and kind ~= "CASCADE" and kind ~= "DO_NOTHING" then
        if kind ~= "SET_NULL" and kind ~= "PROTECT" and kind ~= "RESTRICT" then
          error(("delete: %s.%s: on_delete %s is not supported"):format(m.label, f.name, kind), 0)
        end
        if not by[m.label] then
          by[m.label] = { model = m }
          order[#order + 1] = by[m.label]
        end
        local t = by[m.label]
        t[kind] = t[kind] or {}
        table.insert(t[kind], { column = f.column, field = f, node = n })
      end
    end
  end
  return order
end

-- One query for every PROTECT and RESTRICT reference: its first blocking
-- keys, and how many there are (counted before the LIMIT).
local function protect_step(nodes, refs)
  local arms = {}
  for _, t in ipairs(refs) do
    local m, own = t.model, nodes[t.model.label]
    local pk = db.quote_ident(pk_field(m).column)
    for _, kind in ipairs({ "PROTECT", "RESTRICT" }) do
      for _, r in ipairs(t[kind] or {}) do
        local cond = ("%s IN (SELECT pk FROM %s)"):format(db.quote_ident(r.column), r.node.tmp)
        if kind == "RESTRICT" and own then	-- allowed when deleted anyway
          cond = cond .. (" AND NOT EXISTS (SELECT 1 FROM %s d WHERE d.pk = x.%s)"):format(own.tmp, pk)
        end
        arms[#arms + 1] = { model = m, column = r.column, kind = kind, target = r.node.name,
          sql = ("(SELECT %d AS arm, count(*) OVER () AS n, x.%s::text AS pk FROM %s x WHERE %s"
            .. " ORDER BY 3 LIMIT %d)"):format(#arms + 1, pk, db.quote_ident(m.table), cond,
            M.BLOCKERS_SHOWN) }
      end
    end
  end
  if #arms == 0 then return nil end
  local sqls = {}
  for i, a in ipairs(arms) do sqls[i] = a.sql end
  return { sql = table.concat(sqls, " UNION ALL "), arms = arms }
end

-- SET_NULL: one UPDATE per referring table, each column nulled where it
-- points at a deleted row; rows deleted anyway are left to the DELETE.
local function null_step(nodes, t)
  local m = t.model
  local tbl, pk = db.quote_ident(m.table), db.quote_ident(pk_field(m).column)
  local sets, cols = {}, {}
  for _, r in ipairs(t.SET_NULL) do
    local c = db.quote_ident(r.column)
    if not cols[c] then
      cols[c] = {}
      sets[#sets + 1] = c
    end
    table.insert(cols[c], r.node.tmp)
  end
  local assign = {}
  for i, c in ipairs(sets) do
    local ins = {}
    for j, tmp in ipairs(cols[c]) do ins[j] = ("%s IN (SELECT pk FROM %s)"):format(c, tmp) end
    assign[i] = ("%s = CASE WHEN %s THEN NULL ELSE %s END"):format(c, table.concat(ins, " OR "), c)
  end
  local where = ("%s IN (%s)"):format(pk, referring(tbl, pk, t.SET_NULL))
  local own = nodes[m.label]
  if own then where = where .. (" AND NOT EXISTS (SELECT 1 FROM %s d WHERE d.pk = x.%s)"):format(own.tmp, pk) end
  return { kind = "nulled", table = m.table,
    sql = ("UPDATE %s x SET %s WHERE %s"):format(tbl, table.concat(assign, ", "), where),
    count = ("SELECT count(*) AS n FROM %s x WHERE %s"):format(tbl, where) }
end

-- Auto-created many-to-many rows of deleted rows (either side).
local function m2m_steps(g, nodes)
  local by, order = {}, {}
  for _, node in ipairs(nodes) do
    for _, r in ipairs(g.m2m[node.label]) do
      if not by[r.through] then
        by[r.through] = {}
        order[#order + 1] = r.through
      end
      table.insert(by[r.through], { column = r.column, node = node })
    end
  end
  local steps = {}
  for _, through in ipairs(order) do
    local t = db.quote_ident(through)
    local where = ("id IN (%s)"):format(referring(t, "id", by[through]))
    steps[#steps + 1] = { kind = "deleted", table = through,
      sql = ("DELETE FROM %s WHERE %s"):format(t, where),
      count = ("SELECT count(*) AS n FROM %s WHERE %s"):format(t, where) }
  end
  return steps
end

-- The DELETE of a node's rows; versioned models return their keys.
local function delete_step(node)
  local where = ("%s IN (SELECT pk FROM %s)"):format(node.pk, node.tmp)
  local s = { kind = "deleted", table = node.name,
    sql = ("DELETE FROM %s WHERE %s"):format(node.table, where),
    count = ("SELECT count(*) AS n FROM %s"):format(node.tmp) }
  if node.model.versioned then
    s.label = node.label
    s.sql = s.sql .. (" RETURNING %s::text AS pk"):format(node.pk)
    s.count = ("SELECT pk::text AS pk FROM %s"):format(node.tmp)
  end
  return s
end

---------------------------------------------------------------- plan

-- The model entry for a label or an entry; raises at the caller's
-- caller on anything else.
local function resolve(g, m, fn)
  local label = type(m) == "table" and m.label or m
  if type(label) ~= "string" or not g.by[label] then
    error(("bad argument #1 to '%s' (a model or model label expected, got %s)")
      :format(fn, type(m) == "string" and ("'" .. m .. "'") or type(m)), 3)
  end
  return g.by[label]
end

local function plan(m, sql, fn)
  local g = get_graph()
  m = resolve(g, m, fn)
  if type(sql) ~= "string" then
    error(("bad argument #2 to '%s' (string expected, got %s)"):format(fn, type(sql)), 3)
  end
  local nodes, order = make_nodes(g, components(g, m.label))
  local create = {}
  for i, node in ipairs(order) do
    create[i] = ("CREATE TEMPORARY TABLE %s (pk %s PRIMARY KEY) ON COMMIT DROP"):format(node.tmp, node.type)
  end
  local drop = {}
  for i, node in ipairs(order) do drop[i] = node.tmp end
  local refs = other_refs(g, nodes)
  local p = { model = m.label, tables = {}, create = table.concat(create, "; "),
    seed = ("INSERT INTO %s (pk) SELECT DISTINCT * FROM (%s) s"):format(order[1].tmp, sql),
    collect = collect_steps(g, order), protect = protect_step(nodes, refs),
    actions = {}, drop = "DROP TABLE " .. table.concat(drop, ", ") }
  for _, t in ipairs(refs) do
    if t.SET_NULL then table.insert(p.actions, null_step(nodes, t)) end
  end
  for _, s in ipairs(m2m_steps(g, order)) do table.insert(p.actions, s) end
  for i = #order, 1, -1 do table.insert(p.actions, delete_step(order[i])) end
  for _, node in ipairs(order) do table.insert(p.tables, node.name) end
  return p
end

-- delete.plan(model, sql, params): what delete.run would do: the
-- statements it sends (create, seed, collect, protect, actions, drop)
-- and the affected tables; params are kept for the seed.
function M.plan(m, sql, params)
  local p = plan(m, sql, "plan")
  p.params = params or {}
  return p
end

---------------------------------------------------------------- run

-- Raise a refusal with the blockers, for run to return.
local function refuse(msg, blockers)
  local _, e = pcall(core.fail, msg, "protected")
  e.refused, e.blockers = true, blockers
  error(e, 0)
end

-- The PROTECT check: refuse, naming the relations and a few keys.
local function check_protect(p)
  if not p.protect then return end
  local rows = db.query(p.protect.sql)
  if rows.count == 0 then return end
  local blockers, by = {}, {}
  for _, row in ipairs(rows) do
    local a = p.protect.arms[row.arm]
    if not by[row.arm] then
      by[row.arm] = { table = a.model.table, model = a.model.label, column = a.column,
        on_delete = a.kind, target = a.target, count = row.n, pks = {} }
      blockers[#blockers + 1] = by[row.arm]
    end
    table.insert(by[row.arm].pks, row.pk)
  end
  local parts = {}
  for i, b in ipairs(blockers) do
    parts[i] = ("%s.%s refers to %s (%d row%s: %s%s)"):format(b.table, b.column, b.target,
      b.count, b.count == 1 and "" or "s", table.concat(b.pks, ", "),
      b.count > #b.pks and ", ..." or "")
  end
  refuse("protected: " .. table.concat(parts, "; "), blockers)
end

-- Run an action (or, dry, count what it would change) into result.
local function act(s, result, dry)
  local n
  if s.label then
    local rows = db.query(dry and s.count or s.sql)
    n = rows.count
    if n > 0 then
      local pks = {}
      for i, row in ipairs(rows) do pks[i] = row.pk end
      result.deleted[s.label] = pks
    end
  elseif dry then
    n = db.query(s.count)[1].n
  else
    n = db.exec(s.sql)
  end
  if n == 0 then return end
  local t = result.tables[s.table] or {}
  result.tables[s.table] = t
  t[s.kind] = (t[s.kind] or 0) + n
  if s.kind == "deleted" then result.total = result.total + n end
end

local DRY = {}	-- raised to roll a dry run back

local function execute(p, params, dry)
  local result = { model = p.model, tables = {}, deleted = {}, total = 0, dry_run = dry }
  db.exec(p.create)
  db.exec(p.seed, table.unpack(params, 1, params.n or #params))
  for _, sql in ipairs(p.collect) do db.exec(sql) end
  check_protect(p)
  for _, s in ipairs(p.actions) do act(s, result, dry) end
  if dry then error({ [DRY] = result }, 0) end
  db.exec(p.drop)	-- inside an outer transaction they would outlive us
  return result
end

-- delete.run(model, sql, params, {dry_run=}): delete the rows whose
-- keys sql selects, and what Django's collector would with them.
function M.run(m, sql, params, opts)
  local p = plan(m, sql, "run")
  params, opts = params or {}, opts or {}
  local r = table.pack(pcall(db.transaction, execute, p, params, opts.dry_run == true))
  if r[1] then return r[2] end
  local e = r[2]
  if type(e) == "table" and e[DRY] then return e[DRY] end
  if core.is_error(e) and e.refused then return nil, e.message, e.code, e.blockers end
  error(e, 0)
end

-- delete.publish(result): after the commit, write "deleted" to the model
-- cache entry of every deleted row of a versioned model, as the
-- server's VersionedModel.delete does (no expiry), so servers holding a
-- cached copy drop it. One pipeline of MSETs per shard. Returns true, or
-- nil, message, code when Redis fails.
function M.publish(result)
  local redis = require "venueless.redis"
  local by_shard, order = {}, {}
  for label, pks in pairs(result.deleted or {}) do
    local name = label:match("^core%.(.+)$")
    for _, id in ipairs(pks) do
      local key = model.cache_name(name, id)
      local s = redis.shard_for(key)
      if not by_shard[s] then by_shard[s] = {}; order[#order + 1] = s end
      table.insert(by_shard[s], key .. ":version")
    end
  end
  table.sort(order)
  for _, s in ipairs(order) do
    local ok, msg, code = M.publish_shard(redis, s, by_shard[s])
    if not ok then return nil, msg, code end
  end
  return true
end

-- One shard's keys, CACHE_BATCH per MSET, pipelined.
function M.publish_shard(redis, s, keys)
  local cmds = {}
  for first = 1, #keys, model.CACHE_BATCH do
    local cmd = { "MSET" }
    for i = first, math.min(#keys, first + model.CACHE_BATCH - 1) do
      cmd[#cmd + 1] = keys[i]
      cmd[#cmd + 1] = "deleted"
    end
    cmds[#cmds + 1] = cmd
  end
  local conn = redis.conn(s)
  local replies, msg, code = core.try(conn.pipeline, conn, cmds)
  if replies == nil then return nil, msg, code end
  for _, r in ipairs(replies) do
    if type(r) == "table" and r.err then
      return nil, ("redis shard %d: %s"):format(s, r.err), r.err:match("^%S+")
    end
  end
  return true
end

M._doc = {
  plan = { sig = "delete.plan(model, sql [, params])",
    text = "the statements delete.run sends for the rows whose keys sql selects" },
  run = { sig = "delete.run(model, sql, params [, {dry_run=}])",
    text = "delete those rows as Django does (CASCADE, SET_NULL, PROTECT), atomically;"
      .. " {tables=, deleted=, total=} or nil, msg, \"protected\", blockers" },
  publish = { sig = "delete.publish(result)",
    text = "after the commit: \"deleted\" into the cache entries of deleted versioned rows" },
}

return M
