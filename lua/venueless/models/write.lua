-- Writing model objects: obj:save() (INSERT or an UPDATE of the changed
-- fields), obj:delete(), obj:reload(), obj:touch(), queryset:update{},
-- with the server's own side effects (shared/reference/models.md): a
-- versioned save bumps version in SQL and publishes it to the model
-- cache after the commit (venueless.model's mechanism, batched as for
-- worlds); grants, memberships, exhibitor staff and poster presenters
-- touch their user, channels, exhibitors and posters their room;
-- deleting a versioned object marks its cache key deleted; a new chat
-- event takes its id from Redis INCR chat.event_id.
local core = require "venueless.core"
local db = require "venueless.db"
local json = require "venueless.json"
local model = require "venueless.model"
local O = require "venueless.models.object"
local sql = require "venueless.models.sql"

local W = {}
local methods = {}
W.methods = methods
local q = sql.q

-- The field whose target a save or delete of these models touches.
W.TOUCH = {
  ["core.RoomGrant"] = "user", ["core.WorldGrant"] = "user", ["core.Membership"] = "user",
  ["core.ExhibitorStaff"] = "user", ["core.PosterPresenter"] = "user",
  ["core.Channel"] = "room", ["core.Exhibitor"] = "room", ["core.Poster"] = "parent_room",
}

local function class(label)
  return require("venueless.models").class(label)
end

local function unpack(p)
  return table.unpack(p, 1, p.n)
end

-- fn(...) in model.transaction when cls's writes reach the model cache,
-- so the cache follows the commit; else as it is.
local function writing(cls, what, fn, ...)
  if not (cls._meta.versioned or W.TOUCH[cls._label]) then return fn(...) end
  model.check_outside(cls._name .. ":" .. what)
  return model.transaction(fn, ...)
end

---------------------------------------------------------------- touch

-- version + 1 of cls's row pk; adds its cache entry; the new version or nil.
local function touch(cls, pk, entries)
  local r = db.query(("UPDATE %s SET \"version\" = \"version\" + 1 WHERE %s = $1 RETURNING \"version\"")
    :format(q(cls._meta.table), q(cls._pk.column)), pk)
  if r[1] == nil then return nil end
  entries[#entries + 1] = { cls._meta.name, pk, r[1].version }
  return r[1].version
end

local function touch_parent(s, entries)
  local name = W.TOUCH[s.cls._label]
  if not name then return end
  local f = s.cls._by_key[name]
  local v = s.row[f.attname]
  if v ~= nil then touch(class(f.fk.target), v, entries) end
end

---------------------------------------------------------------- save hooks

-- World.save: a world without a VAPID key pair gets one.
local function before_world(s)
  local row = s.row
  if row.vapid_private_key == nil or row.vapid_private_key == "" then
    row.vapid_private_key, row.vapid_public_key = require("venueless.crypto").ec_p256()
    s.dirty.vapid_private_key, s.dirty.vapid_public_key = true, true
  end
end

-- Poll.save: closed or archived keeps (or first counts) the tally
-- {option id: votes}; any other state clears it.
local function before_poll(s)
  local row = s.row
  local old = row.cached_results
  if row.state == "closed" or row.state == "archived" then
    if old ~= nil then return end
    local r = db.query([[SELECT o.id::text AS id, count(v.id) AS n FROM core_polloption o
      LEFT JOIN core_pollvote v ON v.option_id = o.id WHERE o.poll_id = $1 GROUP BY o.id]],
      row.id or db.NULL)
    local t = {}
    for _, x in ipairs(r) do t[x.id] = x.n end
    row.cached_results = json.object(t)
  elseif old == nil then
    return
  else
    row.cached_results = nil
  end
  s.dirty.cached_results = true
end

local BEFORE = { ["core.World"] = before_world, ["core.Poll"] = before_poll }

---------------------------------------------------------------- insert, update

local function set_row(s, dbrow)
  s.row = O.row(s.cls._wrap(dbrow, ""))
  s.saved, s.dirty, s.snap = true, {}, {}
end

-- INSERT ... RETURNING every column (conflict: DO NOTHING on the key).
local function insert_sql(cls, row, conflict)
  local ctx = sql.new_ctx()
  local cols, vals = {}, {}
  for _, f in ipairs(cls._meta.fields) do
    local v = row[f.attname]
    if not (v == nil and f.primary_key) then
      cols[#cols + 1] = q(f.column)
      vals[#vals + 1] = v == nil and "NULL" or sql.placeholder(ctx, f, v, f.attname)
    end
  end
  return ("INSERT INTO %s AS t0 (%s) VALUES (%s)%s RETURNING %s"):format(q(cls._meta.table),
    table.concat(cols, ", "), table.concat(vals, ", "),
    conflict and " ON CONFLICT (" .. q(cls._pk.column) .. ") DO NOTHING" or "",
    table.concat(sql.columns(cls, "t0", "", {}), ", ")), ctx.params
end

-- Raise the chat.event_id counter to MAX(id) if it is behind, then INCR.
local SEED = [[
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if cur < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return redis.call('INCR', KEYS[1])
]]

local function reseed(redis, id)
  local m = db.query("SELECT coalesce(max(id), 0) AS m FROM core_chatevent")[1].m
  if m < id then return id end
  return redis.call("EVAL", SEED, 1, "chat.event_id", m)
end

-- A new chat event's id, as the server's chat service takes it: INCR
-- chat.event_id (shard 0); re-seeded from MAX(id) when Redis lost the
-- counter, and once more if the insert still hits a taken id.
local function insert_chat_event(s)
  local redis = require "venueless.redis"
  local id = redis.call("INCR", "chat.event_id")
  if id == 1 then id = reseed(redis, id) end
  for _ = 1, 2 do
    s.row.id = id
    local st, params = insert_sql(s.cls, s.row, true)
    local r = db.query({ json = true }, st, unpack(params))
    if r[1] then return set_row(s, r[1]) end
    id = reseed(redis, id)
  end
  s.row.id = nil
  core.fail(("chat event id %d is taken"):format(id), "23505")
end

local function insert(s, entries)
  local cls = s.cls
  if cls._meta.versioned then s.row.version = (s.row.version or 1) + 1 end
  if cls._label == "core.ChatEvent" and s.row.id == nil then
    insert_chat_event(s)
  else
    local st, params = insert_sql(cls, s.row)
    set_row(s, db.query({ json = true }, st, unpack(params))[1])
  end
  if cls._meta.versioned then entries[#entries + 1] = { cls._meta.name, s.row[cls._pk.attname], s.row.version } end
end

-- The fields assigned, or (jsonb, arrays) changed in place since read.
local function changed(s)
  local out = {}
  for _, f in ipairs(s.cls._meta.fields) do
    local a = f.attname
    if s.dirty[a] or (s.snap[a] ~= nil and json.encode(s.row[a]) ~= s.snap[a]) then
      out[#out + 1] = f
    end
  end
  return out
end

-- UPDATE the changed fields: true, "unchanged", or nil when the row is gone.
local function update(s, entries)
  local fs = changed(s)
  if #fs == 0 then return "unchanged" end
  local cls, ctx, list = s.cls, sql.new_ctx(), {}
  for i, f in ipairs(fs) do
    local v = s.row[f.attname]
    list[i] = q(f.column) .. " = " .. (v == nil and "NULL" or sql.placeholder(ctx, f, v, f.attname))
  end
  local ret = q(cls._pk.column)
  if cls._meta.versioned then
    list[#list + 1] = '"version" = "version" + 1'
    ret = '"version"'
  end
  local r = db.query(("UPDATE %s SET %s WHERE %s = %s RETURNING %s"):format(q(cls._meta.table),
    table.concat(list, ", "), q(cls._pk.column), ctx:param(s.row[cls._pk.attname]), ret),
    unpack(ctx.params))
  if r[1] == nil then return nil end
  if cls._meta.versioned then
    s.row.version = r[1].version
    entries[#entries + 1] = { cls._meta.name, s.row[cls._pk.attname], s.row.version }
  end
  s.dirty, s.snap = {}, {}
  return true
end

-- What a rollback of the surrounding model.transaction puts back.
local function remember(s)
  local row, dirty, saved = {}, {}, s.saved
  for k, v in pairs(s.row) do row[k] = v end
  for k, v in pairs(s.dirty) do dirty[k] = v end
  model.on_rollback(function() s.row, s.dirty, s.saved = row, dirty, saved end)
end

local function do_save(obj)
  local s = O.state[obj]
  remember(s)
  if BEFORE[s.cls._label] then BEFORE[s.cls._label](s) end
  local entries = {}
  if s.saved then
    local r = update(s, entries)
    if r == nil then
      return nil, ("%s %s does not exist"):format(s.cls._name, tostring(obj.pk)), "notfound"
    end
    if r == "unchanged" then return obj end
  else
    insert(s, entries)
  end
  touch_parent(s, entries)
  return model.after_commit(entries, obj)
end

-- obj:save() -> obj (nil, message, "notfound" if its row is gone).
function methods.save(obj)
  return writing(O.state[obj].cls, "save", do_save, obj)
end

---------------------------------------------------------------- delete, reload, touch

-- Cache entries marking every versioned row a delete removed (the
-- cascade's too: running servers must not keep serving them).
local function deleted_entries(result, entries)
  for label, pks in pairs(result.deleted or {}) do
    local name = label:match("%.(.+)$")
    for _, pk in ipairs(pks) do entries[#entries + 1] = { name, pk, "deleted" } end
  end
  return entries
end

local function do_delete(obj, s, st, params, opts)
  local entries = {}
  local r = table.pack(require("venueless.models.delete").run(s.cls._meta, st, params, opts))
  if r[1] == nil then return unpack(r) end
  touch_parent(s, entries)
  deleted_entries(r[1], entries)
  s.saved = false
  model.on_rollback(function() s.saved = true end)
  return model.after_commit(entries, unpack(r))
end

-- obj:delete([{dry_run=}]) -> venueless.models.delete's result.
function methods.delete(obj, opts)
  local s = O.state[obj]
  if not s.saved then error(("%s: not saved"):format(tostring(obj)), 2) end
  local cls = s.cls
  local pk = q(cls._pk.column)
  local st = ("SELECT t0.%s FROM %s t0 WHERE t0.%s = $1"):format(pk, q(cls._meta.table), pk)
  local params = { n = 1, obj.pk }
  if type(opts) == "table" and opts.dry_run then
    return require("venueless.models.delete").run(cls._meta, st, params, opts)
  end
  return writing(cls, "delete", do_delete, obj, s, st, params, opts)
end

-- queryset:delete{}: the rows of st and their cascade in one transaction,
-- the versioned ones marked deleted in the cache after the commit. Inside
-- a bare db.transaction that cannot follow the commit: refused if the
-- delete reached a versioned row.
function W.delete_set(cls, st, params, opts)
  local del = require "venueless.models.delete"
  if model.in_transaction() or not db.in_transaction() then
    return model.transaction(function()
      local r = table.pack(del.run(cls._meta, st, params, opts))
      if r[1] == nil then return unpack(r) end
      return model.after_commit(deleted_entries(r[1], {}), unpack(r))
    end)
  end
  local r = table.pack(del.run(cls._meta, st, params, opts))
  if r[1] ~= nil and #deleted_entries(r[1], {}) > 0 then
    error(cls._name .. ":delete: it removes versioned rows and inside db.transaction the cache"
      .. " cannot follow the commit; use worlds.transaction(fn)", 3)
  end
  return unpack(r)
end

-- obj:reload() -> obj with the stored values (nil, message, "notfound").
function methods.reload(obj)
  local s = O.state[obj]
  local fresh = s.cls:filter({ pk = obj.pk }):first()
  if fresh == nil then
    return nil, ("%s %s does not exist"):format(s.cls._name, tostring(obj.pk)), "notfound"
  end
  s.row, s.dirty, s.snap, s.rel, s.saved = O.row(fresh), {}, {}, {}, true
  return obj
end

-- obj:touch(): version + 1 and the cache told (versioned models).
function methods.touch(obj)
  local s = O.state[obj]
  if not s.cls._meta.versioned then error(s.cls._name .. " has no version to touch", 2) end
  return writing(s.cls, "touch", function()
    local entries = {}
    local v = touch(s.cls, obj.pk, entries)
    if v == nil then return nil, ("%s %s does not exist"):format(s.cls._name, tostring(obj.pk)), "notfound" end
    s.row.version = v
    return model.after_commit(entries, obj)
  end)
end

-- queryset:update{...} for d: the number of rows changed.
function W.update(d, sets)
  local cls = d.cls
  local st, params = sql.update(d, sets)
  if not cls._meta.versioned then return db.exec(st, unpack(params)) end
  return writing(cls, "update", function()
    local r = db.query(st, unpack(params))
    local entries = {}
    for i, row in ipairs(r) do entries[i] = { cls._meta.name, row.pk, row.version } end
    return model.after_commit(entries, #r)
  end)
end

return W
