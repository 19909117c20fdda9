-- GDPR erasure and data retention (shared/reference/commands.md):
-- User.soft_delete, World.clear_data and clear_unused_worlds, each step
-- list one set-based statement in one transaction (upstream commits row
-- by row and can stop half way). After the commit: the rows' stored
-- files removed (venueless.storage), the versions published to the model
-- cache, connection.reload sent to the user's or world's group. Each
-- returns a receipt: per-table counts, the files, when and how long.
local core = require "venueless.core"
local db = require "venueless.db"
local json = require "venueless.json"
local model = require "venueless.model"
local storage = require "venueless.storage"

local M = {}

local UUID = "^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"
  .. "|^[0-9A-Fa-f]{32}$"
M.UUID_PATTERN = UUID

local LUA_UUID = "^" .. ("%x"):rep(8) .. "%-" .. ("%x"):rep(4) .. "%-" .. ("%x"):rep(4)
  .. "%-" .. ("%x"):rep(4) .. "%-" .. ("%x"):rep(12) .. "$"

local TIME = [[to_char((%s) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')]]

-- Seconds since t0, to the millisecond.
function M.seconds(t0)
  return math.floor((core.time() - t0) * 1000 + 0.5) / 1000
end

---------------------------------------------------------------- the statement

-- One statement for a step list: per step a MATERIALIZED target set
-- t_<key> (the ids it writes, all taken from the snapshot the statement
-- starts with) and, unless dry, the DELETE or UPDATE of exactly those
-- ids as w_<key>. Steps never share rows (a table's delete and update
-- have disjoint conditions), so each row is written once. The counts
-- are the rows written, or on a dry run the targets; extra: more
-- result columns. Nothing but $N parameters carries a value.
-- A step's where is one condition or a list of alternatives, each its
-- own SELECT (UNION): an OR of IN (subquery) conditions, or a NOT IN,
-- would be a subplan per row, quadratic once the subquery outgrows
-- work_mem; this way each is a semi-join. not_in: the key of a step
-- whose rows this one leaves out (an anti-join).
local function targets(st)
  local alts = type(st.where) == "table" and st.where or { st.where }
  local sel = {}
  for i, w in ipairs(alts) do
    sel[i] = ("SELECT id%s FROM %s WHERE (%s)"):format(st.cols and ", " .. st.cols or "",
      st.table, w)
    if st.not_in then
      sel[i] = sel[i] .. (" AND NOT EXISTS (SELECT 1 FROM t_%s x WHERE x.id = %s.id)")
        :format(st.not_in, st.table)
    end
  end
  return table.concat(sel, " UNION ")
end

local function statement(sets, steps, dry, extra)
  local ctes, cols = { table.unpack(sets) }, {}
  for _, st in ipairs(steps) do
    local k = st.key
    ctes[#ctes + 1] = ("t_%s AS MATERIALIZED (%s)"):format(k, targets(st))
    if not dry then
      local write = st.set and ("UPDATE %s SET %s"):format(st.table, st.set)
        or "DELETE FROM " .. st.table
      ctes[#ctes + 1] = ("w_%s AS (%s WHERE id IN (SELECT id FROM t_%s) RETURNING %s)")
        :format(k, write, k, st.returning or "1")
    end
    cols[#cols + 1] = ("(SELECT count(*) FROM %s_%s) AS n_%s"):format(dry and "t" or "w", k, k)
  end
  for _, e in ipairs(extra) do cols[#cols + 1] = e end
  return "WITH RECURSIVE " .. table.concat(ctes, ",\n")
    .. "\nSELECT " .. table.concat(cols, ",\n  ")
end

-- The counts of a result row, in step order: {table=, action=, what=, count=}.
local function counts(steps, row)
  local out = {}
  for i, st in ipairs(steps) do
    out[i] = { table = st.table, action = st.set and "update" or "delete",
      what = st.what, count = row["n_" .. st.key] }
  end
  return out
end

-- The stored files a result names ({id=, file=}, as json_agg wrote them).
local FILES = "(SELECT coalesce(json_agg(json_build_object('id', id, 'file', file)"
  .. " ORDER BY file, id), '[]') FROM t_storedfile) AS files"

---------------------------------------------------------------- after the commit

-- Raise msg, code as a failure after the commit, carrying the receipt.
local function committed_failure(msg, code, receipt)
  local _, e = pcall(core.fail, "committed, but " .. msg, code)
  e.committed = table.pack(receipt)
  error(e, 0)
end

-- Files removed, the cache told, the group reloaded: in this order, so
-- a Redis failure never keeps a file of a deleted row on disk. A Redis
-- failure raises (exit 11) with the receipt as e.committed.
local function finish(receipt, files, entries, group, t0)
  receipt.files = storage.remove(files, { dry_run = receipt.dry_run })
  receipt.seconds = M.seconds(t0)
  if receipt.dry_run then return receipt end
  local ok, msg, code = model.publish(entries)
  if not ok then
    committed_failure("the server cache was not updated: " .. tostring(msg), code, receipt)
  end
  local layer = require "venueless.channel_layer"
  local r
  r, msg, code = core.try(layer.group_send, group, { type = "connection.reload" })
  if r == nil then
    committed_failure(("connection.reload was not sent to %s: %s"):format(group, msg), code, receipt)
  end
  receipt.reload = r
  receipt.seconds = M.seconds(t0)
  return receipt
end

-- fn(...) in a transaction of its own (read-only for a dry run), with
-- refusals returned as nil, message, code. The files go after its commit,
-- so an enclosing transaction (whose commit we could not see) is refused.
local function transaction(what, dry, fn, ...)
  if db.in_transaction() then
    error(what .. ": cannot run inside a transaction (its files are removed after its own commit)", 3)
  end
  return model.refused(db.transaction, function(...)
    if dry then db.exec("SET TRANSACTION READ ONLY") end
    -- The statements' estimates pass the JIT's thresholds: on a world of
    -- 2,000 users and 40,000 events PostgreSQL spent 29.6 of the counting
    -- statement's 31.9 s compiling it (EXPLAIN ANALYZE), for one execution.
    db.exec("SET LOCAL jit = off")
    return fn(...)
  end, ...)
end

local function check_opts(what, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error(("bad argument to '%s' (table expected)"):format(what), 3)
  end
  return opts or {}
end

---------------------------------------------------------------- soft_delete

-- The DM channels (no room) where U is the last member not deleted, their
-- events and events replacing them, and the stored-file ids that their
-- messages' files and U's avatar name (basename up to the first '.';
-- anything not a UUID names no file).
local SOFT_SETS = {
  "u AS MATERIALIZED (SELECT id, id::text AS sid, profile FROM core_user WHERE id = $1::uuid)",
  [[dm AS MATERIALIZED (SELECT DISTINCT m.channel_id AS id FROM core_membership m
    JOIN core_channel c ON c.id = m.channel_id
    WHERE m.user_id = $1::uuid AND c.room_id IS NULL AND NOT EXISTS (
      SELECT 1 FROM core_membership o JOIN core_user ou ON ou.id = o.user_id
      WHERE o.channel_id = m.channel_id AND o.user_id <> $1::uuid AND NOT ou.deleted))]],
  [[ev(id) AS (SELECT id FROM core_chatevent WHERE channel_id IN (SELECT id FROM dm)
    UNION SELECT e.id FROM core_chatevent e JOIN ev ON e.replaces_id = ev.id)]],
  [[names(b) AS (SELECT split_part(regexp_replace(coalesce(f->>'url', f #>> '{}'), '^.*/', ''), '.', 1)
      FROM core_chatevent e CROSS JOIN LATERAL jsonb_array_elements(CASE
        WHEN jsonb_typeof(e.content->'files') = 'array' THEN e.content->'files'
        ELSE '[]'::jsonb END) f
      WHERE e.channel_id IN (SELECT id FROM dm) AND e.event_type = 'channel.message'
    UNION ALL SELECT split_part(regexp_replace(profile->'avatar'->>'url', '^.*/', ''), '.', 1)
      FROM u WHERE jsonb_typeof(profile->'avatar') = 'object')]],
  "fids AS MATERIALIZED (SELECT CASE WHEN b ~ '" .. UUID .. "' THEN b::uuid END AS id FROM names)",
}

local U = "user_id = $1::uuid"
local REDACTED = [['{"__redacted": true}'::jsonb]]
local SOFT_STEPS = {
  { key = "bbbinv", table = "core_bbbcall_invited_members", where = U },
  { key = "roomgrant", table = "core_roomgrant", where = U },
  { key = "worldgrant", table = "core_worldgrant", where = U },
  { key = "rouletterequest", table = "core_rouletterequest", where = U },
  { key = "roulettepairing", table = "core_roulettepairing",
    where = { "user1_id = $1::uuid", "user2_id = $1::uuid" } },
  { key = "auditlog", table = "core_auditlog", what = "profile changes redacted",
    where = U .. " AND data->>'object' = (SELECT sid FROM u) AND type LIKE 'auth.user.profile%'",
    set = "data = jsonb_build_object('object', data->>'object', 'old', " .. REDACTED
      .. ", 'new', " .. REDACTED .. ")" },
  { key = "exhibitorstaff", table = "core_exhibitorstaff", where = U },
  { key = "posterpresenter", table = "core_posterpresenter", where = U },
  { key = "membership", table = "core_membership",
    where = { U .. " AND channel_id IN (SELECT id FROM core_channel WHERE room_id IS NOT NULL)",
      "channel_id IN (SELECT id FROM dm)" } },
  { key = "storedfile", table = "storage_storedfile", cols = "file",
    where = U .. " AND id IN (SELECT id FROM fids)" },
  { key = "reaction", table = "core_chateventreaction", where = "chat_event_id IN (SELECT id FROM ev)" },
  { key = "notification", table = "core_chateventnotification",
    where = "chat_event_id IN (SELECT id FROM ev)" },
  { key = "chatevent", table = "core_chatevent", where = "id IN (SELECT id FROM ev)" },
  { key = "poster", table = "core_poster", what = "channel_id set NULL",
    where = "channel_id IN (SELECT id FROM dm)", set = "channel_id = NULL" },
  { key = "channel", table = "core_channel", where = "id IN (SELECT id FROM dm)" },
  { key = "user", table = "core_user", what = "deleted, profile and tokens cleared",
    where = "id = $1::uuid", returning = "version",
    set = "deleted = true, client_id = NULL, token_id = NULL, show_publicly = false,"
      .. " profile = '{}'::jsonb, version = version + 1" },
}

-- The user id for a uuid string, a core.User object or {world=, token_id=};
-- nil, message, code when there is none.
local function user_id(who)
  local O = require "venueless.models.object"
  if O.is(who) then return tostring(who.pk) end
  if type(who) == "string" then
    if not who:find(LUA_UUID) then
      return nil, ("%s is not a user id (a UUID)"):format(who), "invalid"
    end
    return who:lower()
  end
  if type(who) ~= "table" or type(who.world) ~= "string" or type(who.token_id) ~= "string" then
    error("bad argument #1 to 'soft_delete' (user id, User or {world=, token_id=} expected)", 3)
  end
  local r = db.query("SELECT id::text AS id FROM core_user WHERE world_id = $1 AND token_id = $2"
    .. " ORDER BY id LIMIT 2", who.world, who.token_id)
  if #r == 0 then
    return nil, ("world %s has no user with token id %s"):format(who.world, who.token_id), "notfound"
  end
  if #r > 1 then
    return nil, ("world %s has several users with token id %s"):format(who.world, who.token_id), "multiple"
  end
  return r[1].id
end

-- Inside the transaction: the user's world (locked unless dry), then the statement.
local function soft_delete_tx(id, dry)
  local r = db.query("SELECT world_id FROM core_user WHERE id = $1::uuid", id)
  if #r == 0 then model.refuse(("user %s does not exist"):format(id), "notfound") end
  if not dry then model.lock_world(r[1].world_id) end
  local extra = { FILES, TIME:format("now()") .. " AS time" }
  if not dry then extra[3] = "(SELECT version FROM w_user) AS version" end
  local sql = statement(SOFT_SETS, SOFT_STEPS, dry, extra)
  return r[1].world_id, db.query({ json = true }, sql, id)[1]
end

-- soft_delete(who [, {dry_run=}]) -> receipt, or nil, message, code.
function M.soft_delete(who, opts)
  opts = check_opts("soft_delete", opts)
  local t0 = core.time()
  local id, msg, code = user_id(who)
  if id == nil then return nil, msg, code end
  local world, row, rcode = transaction("soft_delete", opts.dry_run, soft_delete_tx, id, opts.dry_run)
  if world == nil then return nil, row, rcode end
  local receipt = { kind = "soft_delete_user", user = id, world = world,
    dry_run = opts.dry_run and true or false, time = row.time,
    counts = counts(SOFT_STEPS, row), group = "user." .. id }
  local entries = {}
  if not receipt.dry_run then
    receipt.version = row.version
    entries[1] = { "User", id, row.version }
  end
  return finish(receipt, row.files, entries, receipt.group, t0)
end

---------------------------------------------------------------- clear_data

-- World W's users, rooms, channels, exhibitors and posters, and the
-- events of its channels with those replacing them.
local CLEAR_SETS = {
  "users AS MATERIALIZED (SELECT id FROM core_user WHERE world_id = $1)",
  "rooms AS MATERIALIZED (SELECT id FROM core_room WHERE world_id = $1)",
  "chans AS MATERIALIZED (SELECT id FROM core_channel WHERE world_id = $1)",
  "exh AS MATERIALIZED (SELECT id FROM core_exhibitor WHERE world_id = $1)",
  "posters AS MATERIALIZED (SELECT id FROM core_poster WHERE world_id = $1)",
  [[ev(id) AS (SELECT id FROM core_chatevent WHERE channel_id IN (SELECT id FROM chans)
    UNION SELECT e.id FROM core_chatevent e JOIN ev ON e.replaces_id = ev.id)]],
}

local function by_users(col)
  return col .. " IN (SELECT id FROM users)"
end

-- The alternatives: own conditions, then each column naming a user.
local function own_or_users(own, ...)
  local t = type(own) == "table" and { table.unpack(own) } or { own }
  for _, c in ipairs({ ... }) do t[#t + 1] = by_users(c) end
  return t
end

-- A delete step for rows of W (own) and a set-NULL step for the other
-- rows that name one of W's users in cols (other worlds' rows included).
local function own_and_nulled(key, tbl, own, cols)
  local set = {}
  for i, c in ipairs(cols) do
    set[i] = ("%s = CASE WHEN %s THEN NULL ELSE %s END"):format(c, by_users(c), c)
  end
  return { key = key, table = tbl, where = own },
    { key = key .. "_u", table = tbl, what = table.concat(cols, ", ") .. " set NULL",
      set = table.concat(set, ", "), where = own_or_users({}, table.unpack(cols)), not_in = key }
end

-- commands.md, World.clear_data steps 1-19 (18: what references the
-- users first, deleted or set NULL as Django's collector does).
local CLEAR_STEPS = {}
do
  local W = "world_id = $1"
  local function add(...)
    for _, st in ipairs({ ... }) do CLEAR_STEPS[#CLEAR_STEPS + 1] = st end
  end
  local function del(key, tbl, where) add({ key = key, table = tbl, where = where }) end
  local function both(key, tbl, own, cols) add(own_and_nulled(key, tbl, own, cols)) end
  both("auditlog", "core_auditlog", W, { "user_id" })
  del("worldgrant", "core_worldgrant", own_or_users(W, "user_id"))
  del("roomgrant", "core_roomgrant", own_or_users(W, "user_id"))
  del("bbbcall", "core_bbbcall", W)
  del("bbbinv", "core_bbbcall_invited_members",
    own_or_users("bbbcall_id IN (SELECT id FROM t_bbbcall)", "user_id"))
  del("reaction", "core_chateventreaction",
    own_or_users("chat_event_id IN (SELECT id FROM ev)", "sender_id"))
  del("notification", "core_chateventnotification",
    own_or_users("chat_event_id IN (SELECT id FROM ev)", "recipient_id"))
  both("chatevent", "core_chatevent", "id IN (SELECT id FROM ev)", { "sender_id" })
  del("membership", "core_membership",
    own_or_users("channel_id IN (SELECT id FROM chans)", "user_id"))
  both("exhibitorstaff", "core_exhibitorstaff", "exhibitor_id IN (SELECT id FROM exh)", { "user_id" })
  both("posterpresenter", "core_posterpresenter", "poster_id IN (SELECT id FROM posters)",
    { "user_id" })
  both("contactrequest", "core_contactrequest", "exhibitor_id IN (SELECT id FROM exh)",
    { "user_id", "answered_by_id" })
  del("exhibitorview", "core_exhibitorview",
    own_or_users("exhibitor_id IN (SELECT id FROM exh)", "user_id"))
  del("roomreaction", "core_reaction", "room_id IN (SELECT id FROM rooms)")
  del("roomview", "core_roomview", own_or_users("room_id IN (SELECT id FROM rooms)", "user_id"))
  del("worldview", "core_worldview", own_or_users(W, "user_id"))
  both("question", "core_question", "room_id IN (SELECT id FROM rooms)",
    { "sender_id", "moderator_id" })
  del("questionvote", "core_questionvote",
    own_or_users("question_id IN (SELECT id FROM t_question)", "sender_id"))
  del("poll", "core_poll", "room_id IN (SELECT id FROM rooms)")
  del("polloption", "core_polloption", "poll_id IN (SELECT id FROM t_poll)")
  del("pollvote", "core_pollvote",
    own_or_users("option_id IN (SELECT id FROM t_polloption)", "sender_id"))
  del("feedback", "core_feedback", W)
  add({ key = "storedfile", table = "storage_storedfile", where = W, cols = "file" })
  del("blocked", "core_user_blocked_users", own_or_users({}, "from_user_id", "to_user_id"))
  del("webpush", "core_webpushclient", by_users("user_id"))
  del("dsinv", "core_digitalsambacall_invited_members", by_users("user_id"))
  del("postervote", "core_postervote", by_users("user_id"))
  del("rouletterequest", "core_rouletterequest", by_users("user_id"))
  del("roulettepairing", "core_roulettepairing", own_or_users({}, "user1_id", "user2_id"))
  del("user", "core_user", W)
  add({ key = "world", table = "core_world", where = "id = $1", what = "domain set NULL",
    set = "domain = NULL, version = version + 1", returning = "version" })
end
M._clear_steps, M._soft_steps = CLEAR_STEPS, SOFT_STEPS

-- The statements, for EXPLAIN and the tests: "clear" or "soft", dry or not.
function M._sql(which, dry)
  if which == "soft" then return statement(SOFT_SETS, SOFT_STEPS, dry, { FILES }) end
  return statement(CLEAR_SETS, CLEAR_STEPS, dry, { FILES })
end

-- The last activity of the worlds not cleared yet (domain set), or of
-- world $2 only: audit log, world views, room views, chat events,
-- planned usage ends (midnight UTC); whether it is after cutoff $1.
local ACTIVITY = [[
SELECT w.id, greatest(a.t, wv.t, rv.t, ce.t, pu.t) AS last,
  ]] .. TIME:format("greatest(a.t, wv.t, rv.t, ce.t, pu.t)") .. [[ AS last_activity,
  ]] .. TIME:format("ll.t") .. [[ AS last_login,
  coalesce(greatest(a.t, wv.t, rv.t, ce.t, pu.t) > $1::timestamptz, false) AS active
FROM core_world w
LEFT JOIN LATERAL (SELECT max("timestamp") AS t FROM core_auditlog WHERE world_id = w.id) a ON true
LEFT JOIN LATERAL (SELECT max(start) AS t FROM core_worldview WHERE world_id = w.id) wv ON true
LEFT JOIN LATERAL (SELECT max(v.start) AS t FROM core_roomview v
  JOIN core_room r ON r.id = v.room_id WHERE r.world_id = w.id) rv ON true
LEFT JOIN LATERAL (SELECT max(e."timestamp") AS t FROM core_chatevent e
  JOIN core_channel c ON c.id = e.channel_id WHERE c.world_id = w.id) ce ON true
LEFT JOIN LATERAL (SELECT max("end")::timestamp AT TIME ZONE 'UTC' AS t
  FROM core_plannedusage WHERE world_id = w.id) pu ON true
LEFT JOIN LATERAL (SELECT max(last_login) AS t FROM core_user WHERE world_id = w.id) ll ON true
WHERE w.domain IS NOT NULL AND ($2::text IS NULL OR w.id = $2)
ORDER BY ll.t ASC NULLS LAST, w.id]]

-- A stored file of one of W's users that belongs to another world: the
-- server's PROTECT (its delete collector aborts there).
local PROTECTED = [[
SELECT f.id::text AS id, f.user_id::text AS user_id, f.world_id FROM storage_storedfile f
WHERE f.user_id IN (SELECT id FROM core_user WHERE world_id = $1) AND f.world_id <> $1
ORDER BY f.id LIMIT 1]]

-- Inside the transaction: W locked (unless dry), still idle when asked
-- (opts.idle_since), nothing protected; then the statement.
local function clear_tx(id, opts)
  local dry = opts.dry_run
  if not dry then model.lock_world(id) end
  if #db.query("SELECT 1 FROM core_world WHERE id = $1", id) == 0 then
    model.refuse(("world %s does not exist"):format(id), "notfound")
  end
  if opts.idle_since then
    local a = db.query(ACTIVITY, opts.idle_since, id)[1]
    if a == nil or a.active then
      model.refuse(("world %s was %s since the activity check"):format(id,
        a and "active" or "cleared"), "active")
    end
  end
  local p = db.query(PROTECTED, id)[1]
  if p then
    model.refuse(("stored file %s of user %s belongs to world %s (protected): nothing was cleared")
      :format(p.id, p.user_id, p.world_id), "protected")
  end
  local extra = { FILES, TIME:format("now()") .. " AS time" }
  if not dry then extra[3] = "(SELECT version FROM w_world) AS version" end
  return db.query({ json = true }, statement(CLEAR_SETS, CLEAR_STEPS, dry, extra), id)[1]
end

-- clear_world_data(id [, {dry_run=}]) -> receipt, or nil, message, code.
function M.clear_world_data(id, opts)
  opts = check_opts("clear_data", opts)
  if type(id) ~= "string" then error("bad argument #1 to 'clear_data' (world id expected)", 2) end
  local why = model.bad_string(id, 50)
  if why or id == "" then return nil, "world id " .. (why or "is empty"), "invalid" end
  local t0 = core.time()
  local row, msg, code = transaction("clear_data", opts.dry_run, clear_tx, id, opts)
  if row == nil then return nil, msg, code end
  local receipt = { kind = "clear_world_data", world = id,
    dry_run = opts.dry_run and true or false, time = row.time,
    counts = counts(CLEAR_STEPS, row), group = "world." .. id, version = row.version }
  local entries = receipt.dry_run and {} or { { "World", id, row.version } }
  return finish(receipt, row.files, entries, receipt.group, t0)
end

---------------------------------------------------------------- receipts

local FILE_STATES = { none = "no file", dry_run = "would be removed", cdn = "not removed (CDN)",
  unsafe = "not removed (path outside the media root)", removed = "removed",
  missing = "already missing", failed = "not removed" }

-- What a reload reached, for a line.
local function reached(r)
  if r.layer == "pubsub" then return ("%d server processes"):format(r.delivered) end
  return ("%d connections"):format(r.sent)
end

-- A receipt as text lines; shown(s) makes stored text safe to print.
function M.receipt_lines(r, shown)
  shown = shown or function(s) return s end
  local who = r.user and ("user %s (world %s)"):format(r.user, shown(r.world))
    or "world " .. shown(r.world)
  local out = { r.dry_run and ("%s: dry run at %s, nothing written"):format(who, r.time)
    or ("%s: committed at %s in %.3f s"):format(who, r.time, r.seconds) }
  for _, c in ipairs(r.counts) do
    local verb = c.action == "delete" and "deleted" or "updated"
    if r.dry_run then verb = "would be " .. verb end
    out[#out + 1] = ("  %-40s %7d %s%s"):format(c.table, c.count, verb,
      c.what and " (" .. c.what .. ")" or "")
  end
  for _, f in ipairs(r.files) do
    out[#out + 1] = ("  file %s %s%s"):format(shown(f.file or "(none)"), FILE_STATES[f.state],
      f.error and ": " .. shown(f.error) or "")
  end
  if r.dry_run then
    out[#out + 1] = "  connection.reload would be sent to " .. shown(r.group)
  elseif r.reload then
    out[#out + 1] = ("  connection.reload sent to %s: %s"):format(shown(r.group), reached(r.reload))
  end
  return out
end

local function nullable(v)
  if v == nil then return json.null end
  return v
end

-- A receipt as a JSON value (keys in a fixed order).
function M.receipt_json(r)
  local rows, files = {}, {}
  for i, c in ipairs(r.counts) do
    rows[i] = json.ordered({ table = c.table, action = c.action, what = nullable(c.what),
      count = c.count }, { "table", "action", "what", "count" })
  end
  for i, f in ipairs(r.files) do
    files[i] = json.ordered({ id = f.id, file = nullable(f.file), state = f.state,
      error = nullable(f.error) }, { "id", "file", "state", "error" })
  end
  return json.ordered({ kind = r.kind, user = nullable(r.user), world = r.world,
    dry_run = r.dry_run, time = r.time, seconds = r.seconds, version = nullable(r.version),
    rows = json.array(rows), files = json.array(files), group = r.group,
    reload = r.reload and json.object(r.reload) or json.null },
    { "kind", "user", "world", "dry_run", "time", "seconds", "version", "rows", "files",
      "group", "reload" })
end

-- How many files of a receipt could not be removed although they should.
function M.failed_files(r)
  local n = 0
  for _, f in ipairs(r.files) do
    if f.state == "failed" then n = n + 1 end
  end
  return n
end

---------------------------------------------------------------- clear_unused

-- Clear one idle candidate into entry; a Redis failure after its commit
-- is kept for the end (the other worlds still get their turn).
local function clear_candidate(entry, cutoff)
  local ok, r, msg, code = pcall(M.clear_world_data, entry.world, { idle_since = cutoff })
  if ok and r then
    entry.cleared, entry.receipt = true, r
  elseif ok then
    entry.cleared, entry.refused, entry.code = false, msg, code
  elseif core.is_error(r) and r.committed then
    entry.cleared, entry.receipt = true, r.committed[1]
    return r
  else
    error(r, 0)
  end
end

-- clear_unused{days=, dry_run=} -> {days=, cutoff=, dry_run=, worlds =
-- {{world=, last_activity=, last_login=, idle=, cleared=, receipt=,
-- refused=}}}: the worlds not cleared yet without activity after now -
-- days, each cleared in a transaction of its own.
function M.clear_unused(opts)
  if type(opts) ~= "table" or math.type(opts.days) ~= "integer" or opts.days < 0 then
    error("bad argument #1 to 'clear_unused' ({days = integer >= 0} expected)", 2)
  end
  local t0 = core.time()
  local c = db.query("SELECT (now() - make_interval(days => $1))::text AS cutoff, "
    .. TIME:format("now() - make_interval(days => $1)") .. " AS shown", opts.days)[1]
  local out = { kind = "clear_unused_worlds", days = opts.days, cutoff = c.shown,
    dry_run = opts.dry_run and true or false, worlds = {} }
  local late
  for _, a in ipairs(db.query(ACTIVITY, c.cutoff, db.NULL)) do
    local entry = { world = a.id, last_activity = a.last_activity, last_login = a.last_login,
      idle = not a.active, cleared = false }
    out.worlds[#out.worlds + 1] = entry
    if entry.idle and not out.dry_run then late = clear_candidate(entry, c.cutoff) or late end
  end
  out.seconds = M.seconds(t0)
  if late then
    late.committed = table.pack(out)
    error(late, 0)
  end
  return out
end

return M
