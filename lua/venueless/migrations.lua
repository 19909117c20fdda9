-- The migration engine: Django's history table (django_migrations),
-- squashed migrations that record the names they replace, a
-- transaction-scoped advisory lock, and everything applied in one
-- transaction.
--
-- A migration set is a module returning { apps = {...}, migrations =
-- {module names or tables, in the order they apply}, post_migrate = module
-- name or table, recorder = module name or SQL }. A migration is a table
-- { app =, name =, dependencies = {{app, name}, ...}, replaces = {names},
-- replaced_dependencies = {[name] = {{app, name}, ...}}, group =,
-- sql = "...", run = function(db) ... end, description = }.
-- See venueless-lua(7), MIGRATIONS.
local core = require "venueless.core"
local db = require "venueless.db"

local M = {}

-- The advisory lock key: "VENUELES" read as a big-endian 64-bit integer.
M.lock_key = 0x56454E55454C4553

M.default_set = "venueless.migrations.index"
local DEFAULT_RECORDER = "venueless.migrations.recorder"

local sets = {}		-- built sets by module name
local chosen		-- set module name chosen with migrations.use()

local function fail(msg, exit, code)
  core.error(exit or core.exit.failure, msg, code)
end

-- An app label or migration name that names nothing: a usage error
-- (exit 2) with Django's message, as Django's commands exit 2 for it.
local function bad_argument(fmt, ...)
  core.error(core.exit.usage, fmt:format(...), "notfound")
end

local function check_app(set, app)
  if not set.has_app[app] then bad_argument("No installed app with label '%s'.", app) end
end

-- One migration from its module name or table, validated.
local function load_unit(spec)
  local u = spec
  if type(spec) == "string" then u = require(spec) end
  local where = type(spec) == "string" and spec or "migration"
  if type(u) ~= "table" or type(u.app) ~= "string" or type(u.name) ~= "string" then
    fail(("migration set: %s: expected a table with app and name"):format(where))
  end
  if u.sql ~= nil and type(u.sql) ~= "string" then
    fail(("migration set: %s.%s: sql must be a string"):format(u.app, u.name))
  end
  if u.run ~= nil and type(u.run) ~= "function" then
    fail(("migration set: %s.%s: run must be a function"):format(u.app, u.name))
  end
  if u.replaced_dependencies ~= nil and type(u.replaced_dependencies) ~= "table" then
    fail(("migration set: %s.%s: replaced_dependencies must be a table")
      :format(u.app, u.name))
  end
  return {
    app = u.app, name = u.name, key = u.app .. "." .. u.name,
    replaces = u.replaces, records = u.replaces or { u.name },
    replaced_dependencies = u.replaced_dependencies,
    dependencies = u.dependencies or {}, group = u.group,
    sql = u.sql, run = u.run, description = u.description,
  }
end

-- Build a set: units in order, each with its resolved dependencies (the
-- listed ones and the previous migration of the same app).
local function build(def, name)
  if type(def) ~= "table" or type(def.migrations) ~= "table" then
    fail(("migration set %s: expected a table with a migrations list"):format(name))
  end
  local set = { name = name, units = {}, by_key = {}, by_record = {},
    by_app = {}, apps = {}, has_app = {}, post_migrate = def.post_migrate,
    recorder = def.recorder or DEFAULT_RECORDER }
  for _, a in ipairs(def.apps or {}) do
    if not set.has_app[a] then
      set.has_app[a] = true
      set.apps[#set.apps + 1] = a
    end
  end
  for i, spec in ipairs(def.migrations) do
    local u = load_unit(spec)
    if set.by_key[u.key] or set.by_record[u.key] then
      fail(("migration set %s: %s is listed twice"):format(name, u.key))
    end
    u.index = i
    u.deps = {}
    local list = set.by_app[u.app]
    if list then
      u.prev = list[#list]
      u.deps[1] = u.prev
    else
      list = {}
      set.by_app[u.app] = list
    end
    for _, d in ipairs(u.dependencies) do
      local dk = tostring(d[1]) .. "." .. tostring(d[2])
      local du = set.by_key[dk] or set.by_record[dk]
      if not du then
        fail(("migration set %s: %s depends on %s, which is not listed before it")
          :format(name, u.key, dk))
      end
      u.deps[#u.deps + 1] = du
    end
    list[#list + 1] = u
    set.units[i] = u
    set.by_key[u.key] = u
    for _, r in ipairs(u.records) do set.by_record[u.app .. "." .. r] = u end
    if not set.has_app[u.app] then
      set.has_app[u.app] = true
      set.apps[#set.apps + 1] = u.app
    end
  end
  table.sort(set.apps)
  return set
end

-- The set in use: the argument, migrations.use(), $VENUELESS_MIGRATIONS,
-- or the built-in one.
local function load_set(which)
  which = which or chosen or os.getenv("VENUELESS_MIGRATIONS") or M.default_set
  if type(which) == "table" then return build(which, "(table)") end
  local set = sets[which]
  if not set then
    set = build(require(which), which)
    sets[which] = set
  end
  return set
end

-- Choose the migration set (a module name or a table) for later calls.
function M.use(which)
  if which ~= nil and type(which) ~= "string" and type(which) ~= "table" then
    error("bad argument #1 to 'use' (module name or table expected)", 2)
  end
  chosen = which
  return true
end

local STATE_SQL = [[
SELECT app, name,
       to_char(applied AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS applied_at
FROM django_migrations ORDER BY id]]

-- The recorded history: state.at["app.name"] = applied time (UTC).
local function read_state(exists)
  local state = { at = {}, exists = false }
  if exists == nil then
    exists = db.query(
      "SELECT to_regclass('django_migrations') IS NOT NULL AS ok")[1].ok
  end
  if not exists then return state end
  state.exists = true
  for _, r in ipairs(db.query(STATE_SQL)) do
    local k = r.app .. "." .. r.name
    state.at[k] = state.at[k] or r.applied_at
  end
  return state
end

-- How many of a unit's recorded names are in the history.
local function recorded(u, state)
  local n = 0
  for _, r in ipairs(u.records) do
    if state.at[u.app .. "." .. r] then n = n + 1 end
  end
  return n
end

-- The message for a group of squashed migrations only partly recorded:
-- per app, the last applied migration.
local function partial_message(units, state)
  local apps, last, n, total = {}, {}, 0, 0
  for _, u in ipairs(units) do
    if last[u.app] == nil then
      apps[#apps + 1] = u.app
      last[u.app] = false
    end
    for _, r in ipairs(u.records) do
      total = total + 1
      if state.at[u.app .. "." .. r] then
        n = n + 1
        last[u.app] = r
      end
    end
  end
  local parts = {}
  for _, a in ipairs(apps) do parts[#parts + 1] = a .. " " .. (last[a] or "(none)") end
  return ("database part-way through the migrations squashed into %s: %d of %d "
    .. "applied; last applied: %s; finish them with the Django migrate that "
    .. "started them"):format(#units == 1 and units[1].key or "the initial schema",
    n, total, table.concat(parts, ", "))
end

-- Each unit's status ("applied" or "pending"); raises inconsistent
-- (exit 5) for a partly recorded squash group or a broken dependency.
local function analyse(set, state)
  local status, groups, order = {}, {}, {}
  for _, u in ipairs(set.units) do
    local n = recorded(u, state)
    status[u] = n == #u.records and "applied" or "pending"
    local g = u.group or u.key
    local gr = groups[g]
    if not gr then
      gr = { units = {}, applied = 0, total = 0 }
      groups[g] = gr
      order[#order + 1] = g
    end
    gr.units[#gr.units + 1] = u
    gr.applied = gr.applied + n
    gr.total = gr.total + #u.records
  end
  for _, g in ipairs(order) do
    local gr = groups[g]
    if gr.applied > 0 and gr.applied < gr.total then
      fail(partial_message(gr.units, state), core.exit.inconsistent)
    end
  end
  for _, u in ipairs(set.units) do
    if status[u] == "applied" then
      for _, d in ipairs(u.deps) do
        if status[d] ~= "applied" then
          fail(("inconsistent history: %s is applied but its dependency %s is not")
            :format(u.key, d.key), core.exit.inconsistent)
        end
      end
    end
  end
  return status
end

-- The unit a migration name or unique prefix (also of a replaced name)
-- names in one app's list; Django's messages when none or several do.
local function find_target(list, app, t)
  local exact, found = nil, {}
  for _, u in ipairs(list) do
    local match = u.name:sub(1, #t) == t
    if u.name == t then exact = u end
    for _, r in ipairs(u.records) do
      if r == t then exact = u end
      if r:sub(1, #t) == t then match = true end
    end
    if match then found[#found + 1] = u end
  end
  if exact then return exact end
  if #found > 1 then
    core.error(core.exit.usage, ("More than one migration matches '%s' in app '%s'. "
      .. "Please be more specific."):format(t, app), "ambiguous")
  end
  if not found[1] then
    bad_argument("Cannot find a migration matching '%s' from app '%s'.", t, app)
  end
  return found[1]
end

-- The units named by opts.app / opts.target and the header Django
-- prints for them; an app or name that names nothing raises a usage
-- error (exit 2) before anything is read.
local function resolve(set, opts)
  local app, t = opts.app, opts.target
  if app == nil then
    local apps = {}
    for _, a in ipairs(set.apps) do
      if set.by_app[a] then apps[#apps + 1] = a end
    end
    return set.units, { apps = apps }
  end
  check_app(set, app)
  local list = set.by_app[app]
  if not list then bad_argument("App '%s' does not have migrations.", app) end
  if t == nil then return list, { apps = { app } } end
  if t == "zero" then fail("unapplying migrations is not supported") end
  local u = find_target(list, app, t)
  return { u }, { target = u }
end

-- resolve, refusing a target that would need a later migration of its
-- app unapplied.
local function targets(set, status, opts)
  local ts, header = resolve(set, opts)
  local u = header.target
  if not u then return ts, header end
  local list = set.by_app[u.app]
  for i = #list, 1, -1 do
    local later = list[i]
    if later == u then break end
    if status[later] == "applied" then
      fail(("unapplying migrations is not supported: %s is applied after %s")
        :format(later.key, u.key))
    end
  end
  return ts, header
end

-- What callers see of a unit: app, name, key and replaces; the rest
-- (sql, run, description, deps) stays reachable behind __index, out of
-- the way of the shell's printer.
local function public(u)
  if not u.public then
    local replaces = u.replaces and { table.unpack(u.replaces) } or nil
    u.public = setmetatable({ app = u.app, name = u.name, key = u.key,
      replaces = replaces }, { __index = u })
  end
  return u.public
end

local function publics(list)
  local t = {}
  for i, u in ipairs(list) do t[i] = public(u) end
  return t
end

-- Mark u and what it depends on in need; with groups, also every unit
-- of a squash group it is in (such as the initial Django history: it
-- applies all or nothing) and what those depend on.
local function mark(set, u, need, groups)
  if need[u] then return end
  need[u] = true
  for _, d in ipairs(u.deps) do mark(set, d, need, groups) end
  if groups and u.group then
    for _, g in ipairs(set.units) do
      if g.group == u.group then mark(set, g, need, groups) end
    end
  end
end

-- The header made true for a plan that a squash group widened beyond
-- the targets and what they depend on: the apps line also names the
-- apps of that group's pending units (before a specific target, whose
-- own app it leaves to the target line).
local function widen(header, plan, direct)
  local groups, widened = {}, false
  for _, u in ipairs(plan) do
    if not direct[u] then
      groups[u.group] = true
      widened = true
    end
  end
  if not widened then return header end
  local seen, apps = {}, {}
  local function add(a)
    if not seen[a] then
      seen[a] = true
      apps[#apps + 1] = a
    end
  end
  if header.target then seen[header.target.app] = true end
  for _, a in ipairs(header.apps or {}) do add(a) end
  for _, u in ipairs(plan) do
    if u.group and groups[u.group] then add(u.app) end
  end
  table.sort(apps)
  return { apps = apps, target = header.target }
end

-- The pending units needed by the targets, in the set's order, and
-- the header that says what they are.
local function make_plan(set, status, opts)
  local ts, header = targets(set, status, opts)
  local direct, need = {}, {}
  for _, u in ipairs(ts) do
    mark(set, u, direct, false)
    mark(set, u, need, true)
  end
  local plan = {}
  for _, u in ipairs(set.units) do
    if need[u] and status[u] ~= "applied" then plan[#plan + 1] = u end
  end
  header = widen(header, plan, direct)
  if header.target then header.target = public(header.target) end
  return plan, header
end

-- A dependency {app, name} as a name in Django's graph: a squash stands
-- for the last name it replaces, as Django repoints it.
local function graph_name(set, app, name)
  local u = set.by_key[tostring(app) .. "." .. tostring(name)]
  if u then return { u.app, u.records[#u.records] } end
  return { tostring(app), tostring(name) }
end

-- What recorded name i of unit u depends on in Django's graph, as sorted
-- "app.name" keys (showmigrations --plan -v 2): the squash's
-- replaced_dependencies for that name, else the name before it, or for
-- a unit's first name the last name of its app's previous unit and the
-- unit's dependencies.
local function record_deps(set, u, i)
  local r, deps = u.records[i], {}
  local given = u.replaced_dependencies and u.replaced_dependencies[r]
  if given then
    for _, d in ipairs(given) do deps[#deps + 1] = graph_name(set, d[1], d[2]) end
  elseif i > 1 then
    deps[1] = { u.app, u.records[i - 1] }
  else
    if u.prev then deps[1] = { u.app, u.prev.records[#u.prev.records] } end
    for _, d in ipairs(u.dependencies) do deps[#deps + 1] = graph_name(set, d[1], d[2]) end
  end
  -- Django sorts the parents as (app, name) tuples.
  table.sort(deps, function(a, b) return a[1] < b[1] or a[1] == b[1] and a[2] < b[2] end)
  local keys, seen = {}, {}
  for _, d in ipairs(deps) do
    local k = d[1] .. "." .. d[2]
    if not seen[k] then
      seen[k] = true
      keys[#keys + 1] = k
    end
  end
  return keys
end

-- Every known migration as Django lists it: squashes expanded into the
-- names they replace. opts.apps restricts it to those apps (with
-- opts.dependencies, also what they depend on).
function M.list(opts)
  opts = opts or {}
  local set = load_set(opts.set)
  local want
  if opts.apps then
    want = {}
    local function visit(u)
      if want[u] then return end
      want[u] = true
      if opts.dependencies then
        for _, d in ipairs(u.deps) do visit(d) end
      end
    end
    for _, a in ipairs(opts.apps) do
      check_app(set, a)
      for _, u in ipairs(set.by_app[a] or {}) do visit(u) end
    end
  end
  local state = read_state()
  local out = { apps = {} }
  for i, a in ipairs(set.apps) do out.apps[i] = a end
  for _, u in ipairs(set.units) do
    if not want or want[u] then
      for i, r in ipairs(u.records) do
        local at = state.at[u.app .. "." .. r]
        out[#out + 1] = { app = u.app, name = r, applied = at ~= nil,
          applied_at = at, squashed_into = r ~= u.name and u.name or nil,
          dependencies = record_deps(set, u, i) }
      end
    end
  end
  return out
end

-- The migrations a migrate would apply, in order; raises inconsistent
-- (exit 5) for a partial history.
function M.plan(opts)
  opts = opts or {}
  local set = load_set(opts.set)
  resolve(set, opts)
  local status = analyse(set, read_state())
  return publics((make_plan(set, status, opts)))
end

-- The history against the set: { exists =, applied = {units},
-- pending = {units}, unknown = {"app.name" recorded but not in the set},
-- recorder = the SQL that creates django_migrations }; raises
-- inconsistent (exit 5) for a partial history, as plan does.
function M.state(opts)
  opts = opts or {}
  local set = load_set(opts.set)
  local state = read_state()
  local status = analyse(set, state)
  local rec = set.recorder
  if type(rec) == "string" and not rec:find("%s") then rec = require(rec) end
  local r = { exists = state.exists, applied = {}, pending = {}, unknown = {},
    recorder = rec }
  for _, u in ipairs(set.units) do
    local list = status[u] == "applied" and r.applied or r.pending
    list[#list + 1] = public(u)
  end
  for k in pairs(state.at) do
    if not set.by_record[k] then r.unknown[#r.unknown + 1] = k end
  end
  table.sort(r.unknown)
  return r
end

local HOLDER_SQL = [[
SELECT a.pid, coalesce(a.application_name, '') AS application_name,
       extract(epoch FROM clock_timestamp()
         - coalesce(a.xact_start, a.backend_start))::float8 AS seconds
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid::bigint = $1::bigint AND l.objid::bigint = $2::bigint
LIMIT 1]]

-- Who holds the migration lock (or the advisory lock key, as cleanup's):
-- { pid =, application_name =, seconds = } (seconds may be missing when
-- we may not see it), or nil.
function M.lock_holder(key)
  key = key or M.lock_key
  local r = db.query(HOLDER_SQL, key >> 32, key & 0xffffffff)[1]
  if not r then return nil end
  if type(r.seconds) ~= "number" then r.seconds = nil end
  if type(r.application_name) ~= "string" then r.application_name = "" end
  return r
end

-- "pid 123 (venueless migrate) for 1.5 s", for messages.
function M.describe_holder(h)
  if not h then return "another session" end
  local s = "pid " .. tostring(h.pid)
  if h.application_name ~= "" then s = s .. " (" .. h.application_name .. ")" end
  if h.seconds then s = s .. (" for %.1f s"):format(h.seconds) end
  return s
end

-- Take the advisory lock in the current transaction, waiting up to
-- timeout seconds (nil: for ever). Returns whether django_migrations
-- exists.
local function take_lock(timeout, progress)
  local r = db.query("SELECT pg_try_advisory_xact_lock($1::bigint) AS locked, "
    .. "to_regclass('django_migrations') IS NOT NULL AS exists", M.lock_key)[1]
  if r.locked then return r.exists end
  local holder = M.lock_holder()
  if timeout and timeout <= 0 then
    fail("migration lock held by " .. M.describe_holder(holder), core.exit.lock)
  end
  progress("lock_wait", nil, holder)
  if timeout then
    local old = db.query("SELECT current_setting('lock_timeout') AS old, "
      .. "set_config('lock_timeout', $1, true)",
      ("%dms"):format(math.max(1, math.ceil(timeout * 1000))))[1].old
    local ok, e = pcall(db.query, "SELECT pg_advisory_xact_lock($1::bigint)", M.lock_key)
    if not ok and core.is_error(e) and e.code == "55P03" then
      if holder and holder.seconds then holder.seconds = holder.seconds + timeout end
      fail(("migration lock not obtained within %g s; held by %s")
        :format(timeout, M.describe_holder(holder)), core.exit.lock, e.code)
    end
    if not ok then error(e, 0) end
    db.query("SELECT set_config('lock_timeout', $1, true)", old)
  else
    db.query("SELECT pg_advisory_xact_lock($1::bigint)", M.lock_key)
  end
  progress("lock_acquired")
  return db.query("SELECT to_regclass('django_migrations') IS NOT NULL AS ok")[1].ok
end

local RECORD_SQL = [[
INSERT INTO django_migrations (app, name, applied)
SELECT $1::text, e.name, clock_timestamp()
FROM jsonb_array_elements_text($2::jsonb) WITH ORDINALITY AS e(name, ord)
WHERE NOT EXISTS (SELECT 1 FROM django_migrations m
                  WHERE m.app = $1::text AND m.name = e.name)
ORDER BY e.ord]]

local CONTENT_TYPES_SQL = [[
INSERT INTO django_content_type (app_label, model)
SELECT e.v->>0, e.v->>1
FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(v, ord)
WHERE NOT EXISTS (SELECT 1 FROM django_content_type c
                  WHERE c.app_label = e.v->>0 AND c.model = e.v->>1)
ORDER BY e.ord]]

local PERMISSIONS_SQL = [[
INSERT INTO auth_permission (name, content_type_id, codename)
SELECT e.v->>0, c.id, e.v->>3
FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS e(v, ord)
JOIN django_content_type c ON c.app_label = e.v->>1 AND c.model = e.v->>2
WHERE NOT EXISTS (SELECT 1 FROM auth_permission p
                  WHERE p.content_type_id = c.id AND p.codename = e.v->>3)
ORDER BY e.ord]]

-- What Django's post_migrate handlers do: add the content types and
-- permissions that are missing, in order.
local function post_migrate(set)
  local pm = set.post_migrate
  if pm == nil then return nil end
  if type(pm) == "string" then pm = require(pm) end
  local n = { content_types = 0, permissions = 0 }
  if pm.content_types and #pm.content_types > 0 then
    n.content_types = db.exec(CONTENT_TYPES_SQL, pm.content_types)
  end
  if pm.permissions and #pm.permissions > 0 then
    n.permissions = db.exec(PERMISSIONS_SQL, pm.permissions)
  end
  return n
end

-- Wall-clock seconds from the server (for -v 2 timings).
local function now()
  return db.query("SELECT extract(epoch FROM clock_timestamp())::float8 AS t")[1].t
end

-- Run one unit: its SQL, its Lua function, then record what it replaces.
local function run_unit(u)
  if u.sql then db.exec(u.sql) end
  if u.run then u.run(db) end
  db.exec(RECORD_SQL, u.app, u.records)
end

-- Re-raise an error from inside the transaction, saying it rolled back.
local function reraise(e, phase)
  if not core.is_error(e) then
    e = { message = tostring(e), exit = core.exit.failure }
  end
  local msg = tostring(e.message)
  if e.exit == core.exit.interrupted or e.code == "interrupted" then
    msg = "interrupted"
  end
  if phase.unit and msg == "interrupted" then
    msg = ("interrupted while applying %s; rolled back, nothing was committed")
      :format(phase.unit.key)
  elseif phase.unit then
    msg = ("applying %s: %s; rolled back, nothing was committed")
      :format(phase.unit.key, msg)
  elseif phase.waiting and e.exit ~= core.exit.lock then
    msg = msg .. " while waiting for the migration lock; nothing was changed"
  elseif phase.changed then
    msg = msg .. "; rolled back, nothing was committed"
  end
  core.error(e.exit or core.exit.failure, msg, e.code)
end

-- Bring the database up to date. opts: check / plan (read only: return
-- the plan), app, target, lock_timeout (seconds), timing, set, and
-- progress(event, unit, info) with events "lock_wait" (info: holder),
-- "lock_acquired", "plan" (info: the plan, then the header: { apps = },
-- { target = unit } or both), "apply_start",
-- "apply_success" (info: seconds, with timing).
-- Returns { plan =, pending =, applied =, header =, post_migrate = }.
function M.apply(opts)
  opts = opts or {}
  local set = load_set(opts.set)
  resolve(set, opts)	-- a bad app or name fails before the database is read
  local progress = opts.progress or function() end
  local result = { applied = {} }
  if opts.check or opts.plan then
    local status = analyse(set, read_state())
    local plan, header = make_plan(set, status, opts)
    result.plan, result.header, result.pending = publics(plan), header, #plan > 0
    return result
  end
  local phase = {}
  local nested = db.in_transaction()
  local ok, e = pcall(db.transaction, function()
    -- Each statement must see what a migrate we waited for committed,
    -- whatever default_transaction_isolation says.
    if not nested then db.exec("SET TRANSACTION ISOLATION LEVEL READ COMMITTED") end
    phase.waiting = true
    local exists = take_lock(opts.lock_timeout, progress)
    phase.waiting = nil
    local status = analyse(set, read_state(exists))
    local plan, header = make_plan(set, status, opts)
    result.plan, result.header, result.pending = publics(plan), header, #plan > 0
    progress("plan", nil, result.plan, header)
    if #plan == 0 then return end
    phase.changed = true
    if not exists then
      local rec = set.recorder
      if type(rec) == "string" and not rec:find("%s") then rec = require(rec) end
      db.exec(rec)
    end
    for _, u in ipairs(plan) do
      phase.unit = u
      progress("apply_start", public(u))
      local t0 = opts.timing and now()
      run_unit(u)
      result.applied[#result.applied + 1] = public(u)
      progress("apply_success", public(u), t0 and now() - t0)
    end
    phase.unit = nil
    result.post_migrate = post_migrate(set)
  end)
  if not ok then reraise(e, phase) end
  return result
end

-- Metadata for help(), the completer and the man page test (doc.lua).
M._doc = {
  use = { sig = "migrations.use(set)",
    text = "choose the migration set (a module name or table) for later calls" },
  list = { sig = "migrations.list([{apps=, dependencies=, set=}])",
    text = "every known migration with applied and applied_at, as showmigrations lists them" },
  plan = { sig = "migrations.plan([{app=, target=, set=}])",
    text = "the migrations a migrate would apply, in order" },
  state = { sig = "migrations.state([{set=}])",
    text = "{exists=, applied=, pending=, unknown=, recorder=}: the history against the set" },
  apply = { sig = "migrations.apply([{check=, plan=, app=, target=, lock_timeout=, progress=}])",
    text = "bring the database up to date, locked, in one transaction" },
  lock_holder = { sig = "migrations.lock_holder()",
    text = "who holds the migration lock: {pid=, application_name=, seconds=} or nil" },
  describe_holder = { sig = "migrations.describe_holder(holder)",
    text = "a lock holder as text, for messages" },
}

return M
