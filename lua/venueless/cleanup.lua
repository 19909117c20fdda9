-- The periodic cleanup upstream runs from cron every 10 minutes
-- (shared/reference/commands.md "cleanup", steps 1-5, plus Django's
-- clearsessions): each step one set-based statement, all in one
-- transaction under an advisory lock of its own, so overlapping runs
-- never race. Expired stored files are removed after the commit
-- (venueless.storage), so a rollback never loses a file of a kept row.
local core = require "venueless.core"
local db = require "venueless.db"
local migrations = require "venueless.migrations"
local storage = require "venueless.storage"

local M = {}

-- The advisory lock key: "VLCLEANU" read as a big-endian 64-bit integer
-- (not migrate's: a cleanup may run while a migration waits).
M.lock_key = 0x564C434C45414E55

-- A step: table, the rows' condition, the update (none: delete). dry:
-- the condition a dry run counts with, when an earlier step's writes
-- would add rows (a view closed by step 1 is deleted by step 2 in the
-- same transaction, as upstream's sequence of queries does).
local TRACKED = [[ IN (SELECT r.id FROM core_room r JOIN core_world w ON w.id = r.world_id
  WHERE w.config->'%s' = 'false'::jsonb)]]
local STEPS = {
  { key = "roomview_closed", table = "core_roomview", what = "open over 6 h: end = start + 1 h",
    where = [["end" IS NULL AND start < now() - interval '6 hours']],
    set = [["end" = start + interval '1 hour']] },
  { key = "roomview", table = "core_roomview", what = "closed, world not tracking room views",
    where = [["end" IS NOT NULL AND room_id]] .. TRACKED:format("track_room_views"),
    dry = [[("end" IS NOT NULL OR start < now() - interval '6 hours') AND room_id]]
      .. TRACKED:format("track_room_views") },
  { key = "worldview_closed", table = "core_worldview", what = "open over 24 h: end = start + 4 h",
    where = [["end" IS NULL AND start < now() - interval '24 hours']],
    set = [["end" = start + interval '4 hours']] },
  { key = "worldview", table = "core_worldview", what = "closed, world not tracking world views",
    where = [["end" IS NOT NULL AND world_id IN (SELECT id FROM core_world
      WHERE config->'track_world_views' = 'false'::jsonb)]],
    dry = [[("end" IS NOT NULL OR start < now() - interval '24 hours') AND world_id IN
      (SELECT id FROM core_world WHERE config->'track_world_views' = 'false'::jsonb)]] },
  { key = "rouletterequest", table = "core_rouletterequest", what = "expired over 1 h ago",
    where = "expiry <= now() - interval '1 hour'" },
  { key = "storedfile", table = "storage_storedfile", what = "expired", files = true,
    where = "expires IS NOT NULL AND expires < now()" },
  { key = "shorttoken", table = "core_shorttoken", what = "expired over 90 days ago",
    where = "expires <= now() - interval '90 days'" },
  { key = "anonymousinvite", table = "core_anonymousinvite", what = "expired over 90 days ago",
    where = "expires <= now() - interval '90 days'" },
  { key = "session", table = "django_session", what = "expired",
    where = "expire_date < now()" },
}
M._steps = STEPS

local FILES = ", coalesce(json_agg(json_build_object('id', id::text, 'file', file)"
  .. " ORDER BY file, id), '[]') AS files"

-- The step's one statement: the rows written (or, dry, counted), with
-- the stored files they name for step 4.
local function sql(st, dry)
  local extra = st.files and FILES or ""
  if dry then
    return ("SELECT count(*) AS n%s FROM %s WHERE %s"):format(extra, st.table, st.dry or st.where)
  end
  local write = st.set and ("UPDATE %s SET %s"):format(st.table, st.set)
    or "DELETE FROM " .. st.table
  return ("WITH w AS (%s WHERE %s RETURNING %s) SELECT count(*) AS n%s FROM w")
    :format(write, st.where, st.files and "id, file" or "1", extra)
end
M._sql = sql

-- Take the lock in the current transaction, waiting up to timeout
-- seconds; else fail with the lock exit (4), naming the holder.
local function take_lock(timeout)
  local key = M.lock_key
  if db.query("SELECT pg_try_advisory_xact_lock($1::bigint) AS ok", key)[1].ok then return end
  local holder = migrations.lock_holder(key)
  local function held()
    core.error(core.exit.lock,
      ("another cleanup holds the lock: %s"):format(migrations.describe_holder(holder)))
  end
  if timeout <= 0 then held() end
  local old = db.query("SELECT current_setting('lock_timeout') AS old, "
    .. "set_config('lock_timeout', $1, true)",
    ("%dms"):format(math.max(1, math.ceil(timeout * 1000))))[1].old
  local ok, e = pcall(db.query, "SELECT pg_advisory_xact_lock($1::bigint)", key)
  if not ok and core.is_error(e) and e.code == "55P03" then
    holder = holder or migrations.lock_holder(key)
    held()
  end
  if not ok then error(e, 0) end
  db.query("SELECT set_config('lock_timeout', $1, true)", old)
end

local function run_tx(opts)
  if opts.dry_run then
    db.exec("SET TRANSACTION READ ONLY")
  else
    take_lock(opts.lock_timeout or 5)
  end
  local counts, files = {}, {}
  for i, st in ipairs(STEPS) do
    local r = db.query({ json = true }, sql(st, opts.dry_run))[1]
    counts[i] = { table = st.table, action = st.set and "update" or "delete",
      what = st.what, key = st.key, count = r.n }
    if st.files then files = r.files end
  end
  return counts, files
end

-- cleanup.run{dry_run=, lock_timeout=} -> {dry_run=, counts = {{table=,
-- action=, what=, key=, count=}}, files = storage outcomes, seconds=,
-- digitalsamba = true when VENUELESS_DIGITALSAMBA_TEAM is set (its
-- cleanup is not done here)}.
function M.run(opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #1 to 'run' (table expected)", 2)
  end
  opts = opts or {}
  if db.in_transaction() then
    error("cleanup: cannot run inside a transaction (its files are removed after its own commit)", 2)
  end
  local t0 = core.time()
  local counts, files = db.transaction(run_tx, opts)
  local out = { dry_run = opts.dry_run and true or false, counts = counts,
    digitalsamba = (os.getenv("VENUELESS_DIGITALSAMBA_TEAM") or "") ~= "" }
  out.files = storage.remove(files, { dry_run = opts.dry_run })
  out.seconds = math.floor((core.time() - t0) * 1000 + 0.5) / 1000
  return out
end

return M
