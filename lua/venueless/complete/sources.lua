-- Live values for the completer: world ids, room names, connection
-- labels, migration names, table and column names, read from the
-- deployment with connections of their own (a completion never runs
-- inside the session's transaction nor changes its settings), cached
-- briefly, and left alone for a while when a server fails. Loaded by
-- venueless.complete; complete.sources is S.sources and complete.limit,
-- .ttl, .timeout, .down_for, .connect_timeout are these settings.
local core = require "venueless.core"

local S = {}

S.limit = 50            -- live candidates per query
S.ttl = 5               -- seconds a live answer is reused
S.down_for = 10         -- seconds a server that failed is left alone
S.timeout = 300         -- ms statement timeout of a completion query
S.connect_timeout = 2   -- s, connecting for completion

local cache, down = {}, {}
local pdb, predis       -- private db and redis module instances

-- A db module of our own (its own connection), so completion never
-- touches the session's transaction or settings. Connects on first use:
-- true; raises as db.connect does.
local function private_db()
  if pdb then return true end
  local d = package.preload["venueless.db"]("venueless.db")
  pdb = d
  return d.connect({ connect_timeout = S.connect_timeout,
    application_name = "venueless shell completion" })
end

local function private_redis()
  if not predis then
    predis = package.preload["venueless.redis"]("venueless.redis")
    predis.connect_timeout(S.connect_timeout * 1000)
  end
  return predis
end

-- Escape a LIKE pattern's special characters (backslash escapes).
function S.like_escape(s)
  return (s:gsub("[\\%%_]", "\\%0"))
end

-- Escape a Redis glob's special characters.
function S.glob_escape(s)
  return (s:gsub("[\\%*%?%[%]]", "\\%0"))
end

-- Run a completion query; rows, or {} when the server is slow or down.
local function query(sql, ...)
  local now = core.time("monotonic")
  if (down.db or 0) > now then return {} end
  local ok, res = pcall(function(...)
    private_db()
    return pdb.query({ timeout = S.timeout }, sql, ...)
  end, ...)
  if not ok then
    if core.is_error(res) and res.code == "interrupted" then error(res, 0) end
    if core.is_error(res) and res.exit == core.exit.nopg then
      down.db = now + S.down_for
    end
    return {}
  end
  return res
end

-- The values of source kind starting with prefix (extra: the world,
-- for rooms), cached for S.ttl seconds.
function S.values(kind, prefix, extra)
  local key = kind .. "\0" .. prefix .. "\0" .. tostring(extra)
  local now = core.time("monotonic")
  local c = cache[key]
  if c and c.at + S.ttl > now then return c.list end
  local list = S.sources[kind](prefix, extra)
  local n = 0
  for _ in pairs(cache) do n = n + 1 end
  if n > 200 then cache = {} end
  cache[key] = { at = now, list = list }
  return list
end

-- The cache and the back-off as plain data { cache =, down = } (times
-- on the monotonic clock, which every process of the machine shares), and
-- back: `venueless __complete` keeps them in a file between its runs.
function S.save()
  return { cache = cache, down = down }
end

-- Take saved state back, keeping only what is still current.
function S.load(t)
  local now = core.time("monotonic")
  for key, c in pairs(type(t.cache) == "table" and t.cache or {}) do
    if type(c) == "table" and type(c.at) == "number" and c.at <= now
        and c.at + S.ttl > now and type(c.list) == "table" then
      cache[key] = c
    end
  end
  for what, t_ in pairs(type(t.down) == "table" and t.down or {}) do
    if type(t_) == "number" and t_ > now and t_ <= now + S.down_for then down[what] = t_ end
  end
end

-- The string values of column name in rows, appended to out.
local function column(rows, name, out)
  out = out or {}
  for _, r in ipairs(rows) do
    if type(r[name]) == "string" then out[#out + 1] = r[name] end
  end
  return out
end

-- The sources by name: fn(prefix [, extra]) -> list of values.
S.sources = {}

function S.sources.world(prefix)
  return column(query("SELECT id FROM core_world WHERE id LIKE $1 ESCAPE '\\' " ..
    "ORDER BY id LIMIT " .. S.limit, S.like_escape(prefix) .. "%"), "id")
end

function S.sources.room(prefix, world)
  local rows = query("SELECT name, id::text AS id FROM core_room WHERE NOT deleted " ..
    "AND ($2::text IS NULL OR world_id = $2) " ..
    "AND (name LIKE $1 ESCAPE '\\' OR id::text LIKE $1 ESCAPE '\\') " ..
    "ORDER BY name, id LIMIT " .. S.limit, S.like_escape(prefix) .. "%", world)
  local out = {}
  for _, r in ipairs(rows) do
    out[#out + 1] = r.name:sub(1, #prefix) == prefix and r.name or r.id
  end
  return out
end

-- Room uuids (rooms.get takes nothing else).
function S.sources.room_id(prefix)
  return column(query("SELECT id::text AS id FROM core_room WHERE NOT deleted " ..
    "AND id::text LIKE $1 ESCAPE '\\' ORDER BY id LIMIT " .. S.limit,
    S.like_escape(prefix) .. "%"), "id")
end

function S.sources.migration(prefix)
  local out = column(query("SELECT DISTINCT name FROM django_migrations " ..
    "WHERE name LIKE $1 ESCAPE '\\' ORDER BY name LIMIT " .. S.limit,
    S.like_escape(prefix) .. "%"), "name")
  local ok, index = pcall(require, "venueless.migrations.index")
  for _, a in ipairs(ok and index.apps or {}) do
    if a:sub(1, #prefix) == prefix then out[#out + 1] = a end
  end
  return out
end

-- The migrations of one app: applied (django_migrations) and ours.
function S.sources.app_migration(prefix, app)
  local out = column(query("SELECT DISTINCT name FROM django_migrations WHERE app = $2 " ..
    "AND name LIKE $1 ESCAPE '\\' ORDER BY name LIMIT " .. S.limit,
    S.like_escape(prefix) .. "%", app), "name")
  local seen = {}
  for _, n in ipairs(out) do seen[n] = true end
  local ok, index = pcall(require, "venueless.migrations.index")
  for _, m in ipairs(ok and index.migrations or {}) do
    if m:match("^venueless%.migrations%.([%w_]+)%.") == app then
      local ok_, u = pcall(require, m)
      for _, n in ipairs(ok_ and { u.name, table.unpack(u.replaces or {}) } or {}) do
        if n:sub(1, #prefix) == prefix and not seen[n] then
          seen[n] = true
          out[#out + 1] = n
        end
      end
    end
  end
  return out
end

function S.sources.label(prefix)
  local now = core.time("monotonic")
  if (down.redis or 0) > now then return {} end
  local ok, conn = pcall(function() return private_redis().conn(0) end)
  if not ok then return {} end
  local out, cursor = {}, "0"
  for _ = 1, 10 do
    local ok_, rs = pcall(conn.pipeline, conn, { { "HSCAN", "connections", cursor, "MATCH",
      S.glob_escape(prefix) .. "*", "COUNT", 1000 } }, { timeout = S.timeout })
    local r, code = ok_ and rs[1], ok_ and "" or (core.is_error(rs) and rs.code or "")
    if ok_ and type(r) == "table" and r.err then r, code = nil, "" end
    if not r then
      if code == "interrupted" then core.check_interrupt() end
      if code == "connection" then down.redis = now + S.down_for end
      return out
    end
    for k = 1, #r[2], 2 do out[#out + 1] = r[2][k] end
    cursor = r[1]
    if cursor == "0" or #out >= S.limit then break end
  end
  return out
end

-- Tables, views and their columns for SQL inside db.* strings, as psql.
function S.sources.relation(prefix)
  return column(query("SELECT relname AS name FROM pg_catalog.pg_class " ..
    "WHERE relkind IN ('r', 'v', 'm', 'p', 'f') " ..
    "AND relnamespace = 'public'::regnamespace AND relname LIKE $1 ESCAPE '\\' " ..
    "UNION SELECT DISTINCT attname FROM pg_catalog.pg_attribute a " ..
    "JOIN pg_catalog.pg_class c ON c.oid = a.attrelid " ..
    "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'v', 'm', 'p') " ..
    "AND a.attnum > 0 AND NOT a.attisdropped AND attname LIKE $1 ESCAPE '\\' " ..
    "ORDER BY 1 LIMIT " .. S.limit, S.like_escape(prefix) .. "%"), "name")
end

return S
