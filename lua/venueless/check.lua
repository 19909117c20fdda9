-- The readiness report of a deployment: each item PASS, WARN or FAIL
-- with a reason and, when not PASS, a hint. Read only: nothing here
-- writes to PostgreSQL or Redis (stale labels are counted, not pruned).
-- The schema drift part is venueless.check.schema's.
local core = require "venueless.core"

local M = {}

local CHAT = '[{"type": "chat.native"}]'

-- A report being built: items in order, and the first FAIL's code.
local function new_report()
  return { items = {}, counts = { PASS = 0, WARN = 0, FAIL = 0 } }
end

local function add(rep, status, check, reason, hint, code)
  rep.items[#rep.items + 1] = { status = status, check = check, reason = reason,
    hint = status ~= "PASS" and hint or nil, code = code }
  rep.counts[status] = rep.counts[status] + 1
  if status == "FAIL" and rep.exit == nil then rep.exit = core.exit_for(code) end
end

-- "a, b, c and 4 more": the first few of a list, for a reason.
local function some(list, n)
  n = n or 5
  local t = table.move(list, 1, math.min(n, #list), 1, {})
  local s = table.concat(t, ", ")
  if #list > n then s = s .. (" and %d more"):format(#list - n) end
  return s
end

---------------------------------------------------------------- config

local function check_config(rep)
  local config, msg = core.try(require, "venueless.config")
  if not config then
    add(rep, "FAIL", "config", msg .. "; nothing else checked", "fix what it names")
    return false
  end
  local files = #config.files > 0 and table.concat(config.files, ", ") or "none"
  local vars = #config.variables > 0 and table.concat(config.variables, ", ") or "none"
  local d = getmetatable(config.database).__pretty(config.database)
  local urls = getmetatable(config.redis.urls).__pretty(config.redis.urls)
  local where = ("files %s; variables %s; database %s as %s%s on %s; redis %s")
    :format(files, vars, d.name, d.user, d.password ~= "" and " (password ***)" or "",
      d.host ~= "" and d.host .. (d.port ~= "" and ":" .. d.port or "") or "the default socket",
      table.concat(urls, ", "))
  if #config.files == 0 and #config.variables == 0 then
    add(rep, "WARN", "config", "no config file or variable: defaults only; " .. where,
      "is VENUELESS_CONFIG_FILE or /etc/venueless/venueless.cfg missing?")
  else
    add(rep, "PASS", "config", where)
  end
  return true
end

---------------------------------------------------------------- postgresql

-- The best of n round trips of SELECT 1, in ms: the network's share,
-- not a moment's load on either machine.
local function latency(db, n)
  local best = math.huge
  for _ = 1, n do
    local t0 = core.time("monotonic")
    db.query("SELECT 1")
    best = math.min(best, (core.time("monotonic") - t0) * 1000)
  end
  return best
end

-- PostgreSQL reachable, its version, the round trip; false when not
-- reached (what needs it is left out).
local function check_pg(rep)
  local db = require "venueless.db"
  local ok, msg, code = core.try(db.connect, { application_name = "venueless check" })
  if not ok then
    add(rep, "FAIL", "postgresql", msg .. "; migrations, schema and worlds not checked",
      "is the server running, and are [database] host, port, user and password right?", code)
    return false
  end
  local r = db.query("SELECT current_setting('server_version') AS v, "
    .. "current_setting('server_version_num')::int AS num, current_database() AS dbname")[1]
  local ms = latency(db, 5)
  local reason = ("PostgreSQL %s, database %s, round trip %.2f ms"):format(r.v, r.dbname, ms)
  if r.num < 120000 then
    add(rep, "FAIL", "postgresql", reason .. ": Django 4.2 needs PostgreSQL 12 or later",
      "upgrade the server")
  elseif ms > 20 then
    add(rep, "WARN", "postgresql", reason .. ": every request makes several round trips",
      "put the database nearer the servers")
  else
    add(rep, "PASS", "postgresql", reason)
  end
  return true
end

---------------------------------------------------------------- migrations

local function keys(list)
  local t = {}
  for i, u in ipairs(list) do t[i] = u.key end
  return t
end

-- Pending or part-way migrations; the state for the drift check, or nil.
local function check_migrations(rep)
  local migrations = require "venueless.migrations"
  local st, msg, code = core.try(migrations.state)
  if not st then
    add(rep, "FAIL", "migrations", msg, "finish the migrations as the message says", code)
    return nil
  end
  if #st.pending > 0 then
    add(rep, "FAIL", "migrations", ("%d of %d pending: %s"):format(#st.pending,
      #st.pending + #st.applied, some(keys(st.pending))), "run venueless migrate")
  else
    add(rep, "PASS", "migrations", ("all %d applied"):format(#st.applied))
  end
  if #st.unknown > 0 then
    add(rep, "WARN", "migrations", ("recorded but unknown to this venueless: %s")
      :format(some(st.unknown)), "the server is newer than this tool: the schema "
      .. "check compares only the migrations it knows")
  end
  return st
end

-- The drift items of a schema.drift() result.
local function drift_items(rep, d)
  for _, f in ipairs(d.findings) do
    add(rep, f.status, "schema", f.object .. ": " .. f.reason, f.hint)
  end
  if #d.findings == 0 then
    add(rep, "PASS", "schema", ("the catalog matches the %d applied migrations (%d tables)")
      :format(d.migrations, d.tables))
  end
end

local function check_schema(rep, st)
  if #st.applied == 0 then
    return add(rep, "FAIL", "schema", "no migrations applied: no venueless schema",
      "run venueless migrate")
  end
  local d, msg, code = core.try(require("venueless.check.schema").drift, st)
  if not d then return add(rep, "FAIL", "schema", msg, nil, code) end
  drift_items(rep, d)
end

---------------------------------------------------------------- redis

-- The fields of an INFO reply.
local function info_fields(s)
  local t = {}
  for k, v in tostring(s):gmatch("([%w_]+):([^\r\n]*)") do t[k] = v end
  return t
end

-- conn's replies to cmds with the tool's deadline (channel_layer.pipeline).
local function pipeline(conn, layer, cmds)
  return layer.pipeline(conn, cmds)
end

-- Is a Redis URL's server reached only from this machine?
local function is_local(u)
  return u.path ~= nil or u.host == "127.0.0.1" or u.host == "localhost" or u.host == "::1"
end

local EVICT_WHY = "an evicting policy drops channel-layer keys (they all have a TTL, "
  .. "so volatile-* policies pick them too): messages are lost without an error"

local function check_policy(rep, name, f)
  local policy, max = f.maxmemory_policy or "?", tonumber(f.maxmemory) or 0
  if policy == "noeviction" then
    return add(rep, "PASS", name, "maxmemory-policy noeviction")
  end
  local hint = "CONFIG SET maxmemory-policy noeviction (and in redis.conf)"
  if max > 0 then
    return add(rep, "FAIL", name, ("maxmemory-policy %s with maxmemory %s: %s")
      :format(policy, f.maxmemory_human or max, EVICT_WHY), hint)
  end
  add(rep, "WARN", name, ("maxmemory-policy %s: nothing is evicted while maxmemory "
    .. "is 0, but once it is set %s"):format(policy, EVICT_WHY), hint)
end

local function check_memory(rep, name, f)
  local used, max = tonumber(f.used_memory) or 0, tonumber(f.maxmemory) or 0
  local sys = tonumber(f.total_system_memory) or 0
  local limit = max > 0 and max or sys
  local what = max > 0 and "maxmemory" or "system memory (no maxmemory)"
  local reason = ("used %s of %s %s"):format(f.used_memory_human or used,
    max > 0 and (f.maxmemory_human or max) or (f.total_system_memory_human or sys), what)
  local share = limit > 0 and used / limit or 0
  if share >= 0.95 then
    add(rep, "FAIL", name, reason .. ": writes are about to fail or evict",
      "raise maxmemory or free memory", nil)
  elseif share >= 0.8 then
    add(rep, "WARN", name, reason .. (": %d%% full"):format(math.floor(share * 100)),
      "raise maxmemory before the event")
  else
    add(rep, "PASS", name, reason)
  end
end

-- One shard: reached, authenticated, its db; its policy and memory.
-- Returns whether it was reached.
local function check_shard(rep, redis, layer, i, url)
  local conn, name = redis.conn(i), ("redis shard %d"):format(i)
  local r, msg, code = core.try(pipeline, conn, layer, { { "INFO", "server" },
    { "INFO", "memory" } })
  local u = redis.parse_url(url) or {}
  if not r then
    if not tostring(msg):find("^redis shard") then msg = conn.url .. ": " .. tostring(msg) end
    add(rep, "FAIL", name, msg, code == "connection"
      and "is the server running at that address?"
      or "check the password in [redis] urls or auth", code)
    return false
  end
  local f = info_fields(r[1])
  for k, v in pairs(info_fields(r[2])) do f[k] = v end
  local auth = u.password and "authenticated" or "no password (the server asks for none)"
  local reason = ("%s: Redis %s, db %d, %s"):format(conn.url, f.redis_version or "?",
    u.db or 0, auth)
  if not u.password and not is_local(u) then
    add(rep, "WARN", name, reason, "anyone who reaches the address reads and writes "
      .. "the channel layer: set requirepass")
  else
    add(rep, "PASS", name, reason)
  end
  check_policy(rep, name, f)
  check_memory(rep, name, f)
  return true
end

---------------------------------------------------------------- channel layer

-- Every process key on shard i with its member count: {{key, n}}.
local function process_keys(conn, layer)
  local pat, cursor, found = layer.channel_prefix .. "specific.*!", "0", {}
  repeat
    local r = pipeline(conn, layer, { { "SCAN", cursor, "MATCH", pat, "COUNT", 1000 } })[1]
    cursor = r[1]
    for _, k in ipairs(r[2]) do found[#found + 1] = k end
  until cursor == "0"
  local cmds = {}
  for j, k in ipairs(found) do cmds[j] = { "ZCARD", k } end
  local counts = #cmds > 0 and pipeline(conn, layer, cmds) or {}
  local out = {}
  for j, k in ipairs(found) do
    if type(counts[j]) == "number" then out[#out + 1] = { k, counts[j] } end
  end
  return out
end

local function check_capacity(rep, redis, layer, reached)
  if layer.use_pubsub() then
    return add(rep, "PASS", "channel layer", "pub/sub layer: no process keys to fill")
  end
  local n, full, near, top, missed = 0, {}, {}, 0, {}
  for i = 0, redis.shards() - 1 do
    if not reached[i] then missed[#missed + 1] = tostring(i) end
    if reached[i] then
      local ks, msg, code = core.try(process_keys, redis.conn(i), layer)
      if not ks then return add(rep, "FAIL", "channel layer", msg, nil, code) end
      for _, kc in ipairs(ks) do
        n, top = n + 1, math.max(top, kc[2])
        local label = ("%s (%d)"):format(kc[1]:sub(#layer.channel_prefix + 1), kc[2])
        if kc[2] >= layer.capacity then full[#full + 1] = label
        elseif kc[2] >= layer.capacity * 0.8 then near[#near + 1] = label end
      end
    end
  end
  local reason = ("%d process keys, the fullest %d of %d messages"):format(n, top, layer.capacity)
  if #missed > 0 then
    reason = reason .. (" (shard%s %s not reached)"):format(#missed > 1 and "s" or "",
      table.concat(missed, ", "))
  end
  if #full > 0 then
    add(rep, "FAIL", "channel layer", ("%s; full, so messages to them are dropped: %s")
      :format(reason, some(full)), "a server process stopped reading: restart it")
  elseif #near > 0 then
    add(rep, "WARN", "channel layer", ("%s; near capacity: %s"):format(reason, some(near)),
      "a server process is falling behind")
  else
    add(rep, "PASS", "channel layer", reason)
  end
end

local function check_labels(rep)
  local live, stale = core.try(require("venueless.connections").list, { dry_run = true })
  if not live then return add(rep, "FAIL", "connection labels", stale) end
  local n = 0
  for _ in pairs(live) do n = n + 1 end
  if #stale > 0 then
    return add(rep, "WARN", "connection labels", ("%d live, %d stale: %s"):format(n, #stale,
      some(stale)), "venueless connections list removes the stale ones")
  end
  add(rep, "PASS", "connection labels", ("%d live, none stale"):format(n))
end

local function check_redis(rep)
  local redis = require "venueless.redis"
  local layer = require "venueless.channel_layer"
  local urls = require("venueless.config").redis.urls
  local reached = {}
  for i = 0, redis.shards() - 1 do
    reached[i] = check_shard(rep, redis, layer, i, urls[i + 1])
  end
  check_capacity(rep, redis, layer, reached)
  if reached[0] then check_labels(rep) end
end

---------------------------------------------------------------- worlds

local WORLDS_SQL = [[
SELECT id, domain, config->'JWT_secrets' AS secrets, vapid_private_key AS priv,
       vapid_public_key AS pub
FROM core_world ORDER BY id]]

local NO_CHANNEL_SQL = [[
SELECT r.world_id, r.id::text AS id, r.name FROM core_room r
WHERE NOT r.deleted AND jsonb_typeof(r.module_config) = 'array'
  AND r.module_config @> $1::jsonb
  AND NOT EXISTS (SELECT 1 FROM core_channel c WHERE c.room_id = r.id)
ORDER BY r.world_id, r.sorting_priority, r.id]]

-- What is wrong with a world's JWT_secrets, or nil.
local function secrets_problem(s)
  if type(s) ~= "table" or #s == 0 then return "no JWT_secrets" end
  for i, e in ipairs(s) do
    if type(e) ~= "table" or type(e.secret) ~= "string" or e.secret == "" then
      return ("JWT_secrets[%d] has no secret"):format(i)
    end
  end
end

local function check_domains(rep, ws, shown)
  local none, by = {}, {}
  for _, w in ipairs(ws) do
    local d = type(w.domain) == "string" and w.domain:lower():match("^%s*(.-)%.?%s*$") or ""
    if d == "" then none[#none + 1] = shown(w.id)
    else
      by[d] = by[d] or {}
      table.insert(by[d], shown(w.id))
    end
  end
  if #none > 0 then
    add(rep, "WARN", "worlds", "no domain: " .. some(none, 10),
      "set one (world.domain): no admin URL, and no host name reaches the world")
  end
  local dups = {}
  for d, ids in pairs(by) do
    if #ids > 1 then dups[#dups + 1] = ("%s share %s"):format(table.concat(ids, ", "), shown(d)) end
  end
  table.sort(dups)
  for _, s in ipairs(dups) do
    add(rep, "FAIL", "worlds", "duplicate domains (host names ignore case): " .. s,
      "give each world its own domain: the server picks one of them for every request")
  end
  return #none + #dups == 0
end

local function check_keys(rep, ws, shown)
  local crypto, clean = require "venueless.crypto", true
  for _, w in ipairs(ws) do
    local p = secrets_problem(w.secrets)
    if p then
      clean = false
      add(rep, "FAIL", "worlds", ("%s: %s"):format(shown(w.id), p),
        "no token login and no admin URL: add a secret (worlds.new_secret())")
    end
    local ok, why = crypto.check_ec_p256(w.priv, w.pub)
    if not ok then
      clean = false
      add(rep, "FAIL", "worlds", ("%s: VAPID keys: %s"):format(shown(w.id), why),
        "web push fails: store a new pair (crypto.ec_p256())")
    end
  end
  return clean
end

local function check_channels(rep, db, shown)
  local rows = db.query(NO_CHANNEL_SQL, CHAT)
  for _, r in ipairs(rows) do
    add(rep, "FAIL", "rooms", ("%s: room %s (%s) has a chat.native module but no channel")
      :format(shown(r.world_id), r.id, shown(r.name)),
      "its chat cannot work: rooms.get(id):save() adds the channel")
  end
  return #rows == 0
end

local function check_worlds_db(rep)
  local db = require "venueless.db"
  local shown = require("venueless.cli").shown
  local ws = db.query({ json = true }, WORLDS_SQL)
  if #ws == 0 then
    add(rep, "WARN", "worlds", "no worlds", "create_world or import_config makes one")
    return true
  end
  local clean = check_domains(rep, ws, shown)
  clean = check_keys(rep, ws, shown) and clean
  clean = check_channels(rep, db, shown) and clean
  if clean then
    add(rep, "PASS", "worlds", ("%d worlds: domains set and unique, JWT secrets and VAPID "
      .. "keys usable, every chat room has its channel"):format(#ws))
  end
  return true
end

local function check_worlds(rep)
  local ok, msg, code = core.try(check_worlds_db, rep)
  if not ok then add(rep, "FAIL", "worlds", msg, nil, code) end
end

---------------------------------------------------------------- the report

local function finish(rep)
  rep.exit = rep.exit or core.exit.ok
  return rep
end

-- The whole report: { items = {{status=, check=, reason=, hint=, code=}},
-- counts = {PASS=, WARN=, FAIL=}, exit = 0 or the first FAIL's class }.
function M.run()
  local rep = new_report()
  if not check_config(rep) then return finish(rep) end
  if check_pg(rep) then
    local st = check_migrations(rep)
    if st then check_schema(rep, st) end
    check_worlds(rep)
  end
  check_redis(rep)
  return finish(rep)
end

-- The schema drift part alone, as the same report; exit 5
-- (inconsistent) when something FAILs. Raises what migrations.state
-- and the catalog queries raise (an unreachable server: exit 10).
function M.schema()
  local rep = new_report()
  local st = require("venueless.migrations").state()
  if #st.applied == 0 then
    add(rep, "FAIL", "schema", "no migrations applied: no venueless schema",
      "run venueless migrate")
  else
    drift_items(rep, require("venueless.check.schema").drift(st))
  end
  if rep.counts.FAIL > 0 then rep.exit = core.exit.inconsistent end
  return finish(rep)
end

M._doc = {
  run = { sig = "check.run()",
    text = "the readiness report: {items={{status=, check=, reason=, hint=}}, counts=, exit=}" },
  schema = { sig = "check.schema()",
    text = "the schema drift part alone, as the same report (exit 5 on a FAIL)" },
}

return M
