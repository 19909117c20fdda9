-- delete.plan/run against a migrated database: each on_delete kind
-- (CASCADE several levels deep, SET_NULL, PROTECT refusals naming their
-- blockers), many-to-many rows, self-references and cycles in the data,
-- dry runs, savepoints, the statement count not growing with the rows,
-- and the model cache's "deleted" markers.
local db = require "venueless.db"
local redis = require "venueless.redis"
local json = require "venueless.json"
local meta = require "venueless.models.meta"
local migrations = require "venueless.migrations"
local delete = require "venueless.models.delete"

migrations.apply()

local by = {}
for _, m in ipairs(meta.models) do by[m.label] = m end

-- A value for a NOT NULL column the test does not care about.
local function filler(t)
  if t:find("%[%]$") then return "{}" end
  if t == "jsonb" then return "{}" end
  if t == "boolean" then return false end
  if t == "integer" or t == "bigint" then return 0 end
  if t:find("^timestamp") or t == "date" then return "2024-01-01" end
  return ""
end

local next_event = 0

-- Insert a row of model label; values by field name or column. Returns
-- its primary key.
local function row(label, values)
  local m = assert(by[label], label)
  local cols, args, pk = {}, {}, nil
  for _, f in ipairs(m.fields) do
    local v = values[f.name]
    if v == nil then v = values[f.column] end
    if f.primary_key then pk = f.column end
    if v == nil and f.primary_key and f.type == "BigIntegerField" then
      next_event = next_event + 1
      v = next_event
    end
    if v == nil and not (f.primary_key and f.type:find("AutoField")) then
      if f.default and f.default.generator == "uuid4" then
        v = require("venueless.crypto").uuid4()
      elseif f.default and f.default.value ~= nil and not f.db_type:find("%[%]$") then
        v = f.default.value
        if f.db_type == "jsonb" then v = json.encode(v) end
      elseif not f.null then
        v = filler(f.db_type)
      end
    end
    if v ~= nil then
      cols[#cols + 1] = db.quote_ident(f.column)
      args[#args + 1] = v
    end
  end
  local ph = {}
  for i = 1, #args do ph[i] = "$" .. i end
  local r = db.query(("INSERT INTO %s (%s) VALUES (%s) RETURNING %s::text AS pk")
    :format(m.table, table.concat(cols, ", "), table.concat(ph, ", "), pk), table.unpack(args))
  return r[1].pk
end

local function one(sql, ...)
  local r = db.query(sql, ...)
  local first = r[1]
  return first and first[r.columns[1]]
end

local function count(t, where, ...)
  return one(("SELECT count(*) FROM %s%s"):format(t, where and " WHERE " .. where or ""), ...)
end

-- A digest of every row of every table: "the database as before".
local function snapshot()
  local tables = {}
  for _, m in ipairs(meta.models) do tables[#tables + 1] = m.table end
  for _, t in ipairs(meta.through) do tables[#tables + 1] = t.table end
  local arms = {}
  for i, t in ipairs(tables) do
    arms[i] = ("SELECT '%s' || row_to_json(x)::text AS t FROM %s x"):format(t, t)
  end
  return one("SELECT md5(coalesce(string_agg(t, '|' ORDER BY t), '')) FROM ("
    .. table.concat(arms, " UNION ALL ") .. ") y")
end

-- A world with a user; rooms only when asked (Room.world is PROTECT).
local function world(id)
  row("core.World", { id = id, title = id, roles = {}, config = {} })
  return id
end

local function user(w, extra)
  extra = extra or {}
  extra.world = w
  extra.profile = extra.profile or "{}"
  return row("core.User", extra)
end

local function room(w)
  return row("core.Room", { world = w, name = "room" })
end

---------------------------------------------------------------- CASCADE

test("CASCADE several levels deep, SET_NULL beside it, other rows kept", function()
  local w = world("cascade")
  local u = user(w)
  local r1, r2 = room(w), room(w)
  local ch = row("core.Channel", { world = w, room = r1 })
  local ch2 = row("core.Channel", { world = w, room = r2 })
  local e1 = row("core.ChatEvent", { channel = ch, sender = u, event_type = "channel.message", content = "{}" })
  local e2 = row("core.ChatEvent", { channel = ch2, sender = u, event_type = "channel.message", content = "{}" })
  row("core.ChatEventReaction", { chat_event = e1, sender = u, reaction = "+1" })
  row("core.ChatEventReaction", { chat_event = e2, sender = u, reaction = "+1" })
  row("core.Membership", { channel = ch, user = u })
  local poll = row("core.Poll", { room = r1, content = "?", state = "open", poll_type = "choice" })
  local opt = row("core.PollOption", { poll = poll, content = "a" })
  row("core.PollVote", { option = opt, sender = u })
  row("core.PollVote", { option = opt, sender = user(w) })
  local ex = row("core.Exhibitor", { world = w, room = r2, name = "x", highlighted_room = r1 })
  row("core.Exhibitor", { world = w, room = r2, name = "y", highlighted_room = r2 })
  -- deleted and pointing at the room: deleted, not counted as nulled
  row("core.Exhibitor", { world = w, room = r1, name = "self", highlighted_room = r1 })
  row("core.ExhibitorLink", { exhibitor = row("core.Exhibitor", { world = w, room = r1, name = "z" }),
    display_text = "l", url = "u" })
  local dead = row("core.RoomView", { room = r1, user = u })

  local res = assert(delete.run("core.Room", "SELECT id FROM core_room WHERE id = $1", { r1 }))
  eq({
    core_room = { deleted = 1 }, core_channel = { deleted = 1 }, core_chatevent = { deleted = 1 },
    core_chateventreaction = { deleted = 1 }, core_membership = { deleted = 1 },
    core_poll = { deleted = 1 }, core_polloption = { deleted = 1 }, core_pollvote = { deleted = 2 },
    core_exhibitor = { deleted = 2, nulled = 1 }, core_exhibitorlink = { deleted = 1 },
    core_roomview = { deleted = 1 },
  }, res.tables)
  eq(13, res.total)
  eq({ ["core.Room"] = { r1 } }, res.deleted)
  eq(false, res.dry_run)
  -- four levels down: room -> poll -> option -> votes
  eq(0, count("core_pollvote"))
  eq(0, count("core_roomview", "id = $1", tonumber(dead)))
  eq(1, count("core_room", "id = $1", r2))
  eq(1, count("core_channel", "id = $1", ch2))
  eq(1, count("core_chatevent", "id = $1", tonumber(e2)))
  eq(1, count("core_chateventreaction"))
  eq(db.NULL, one("SELECT highlighted_room_id FROM core_exhibitor WHERE id = $1", ex))
  eq(r2, one("SELECT highlighted_room_id::text FROM core_exhibitor WHERE name = 'y'"))
  eq(2, count("core_user", "world_id = $1", w), "users stay")
end)

---------------------------------------------------------------- SET_NULL

test("SET_NULL: the columns nulled, each row counted once", function()
  local w = world("setnull")
  local u, other = user(w), user(w)
  local r = room(w)
  local q1 = row("core.Question", { room = r, sender = u, moderator = u, content = "q" })
  local q2 = row("core.Question", { room = r, sender = other, moderator = u, content = "q" })
  local q3 = row("core.Question", { room = r, sender = other, content = "q" })
  local a = row("core.AuditLog", { world = w, user = u, type = "t", data = "{}" })
  local res = assert(delete.run("core.User", "SELECT id FROM core_user WHERE id = $1", { u }))
  eq({ core_user = { deleted = 1 }, core_question = { nulled = 2 }, core_auditlog = { nulled = 1 } },
    res.tables)
  eq(db.NULL, one("SELECT sender_id FROM core_question WHERE id = $1", q1))
  eq(db.NULL, one("SELECT moderator_id FROM core_question WHERE id = $1", q1))
  eq(other, one("SELECT sender_id::text FROM core_question WHERE id = $1", q2))
  eq(db.NULL, one("SELECT moderator_id FROM core_question WHERE id = $1", q2))
  eq(other, one("SELECT sender_id::text FROM core_question WHERE id = $1", q3))
  eq(db.NULL, one("SELECT user_id FROM core_auditlog WHERE id = $1", a))
  eq(w, one("SELECT world_id FROM core_auditlog WHERE id = $1", a))
end)

---------------------------------------------------------------- PROTECT

test("PROTECT: refused with the blockers, nothing written", function()
  local w = world("protect")
  local rooms = {}
  for i = 1, 7 do rooms[i] = room(w) end
  table.sort(rooms)
  local u = user(w)
  local f = row("storage.StoredFile", { world = w, user = u, filename = "f", type = "t" })
  local before = snapshot()
  local msg, code = fails("^protected: ", delete.run("core.World",
    "SELECT id FROM core_world WHERE id = $1", { w }))
  eq("protected", code)
  ok(msg:find(("core_room.world_id refers to core_world (7 rows: %s, ...)")
    :format(table.concat(rooms, ", ", 1, 5)), 1, true), msg)
  ok(msg:find(("storage_storedfile.world_id refers to core_world (1 row: %s)"):format(f), 1, true), msg)
  -- the user is deleted by the cascade, and its file protects it too
  ok(msg:find(("storage_storedfile.user_id refers to core_user (1 row: %s)"):format(f), 1, true), msg)
  local _, _, _, blockers = delete.run("core.World", "SELECT id FROM core_world WHERE id = $1", { w })
  eq(3, #blockers)
  local room_b
  for _, b in ipairs(blockers) do if b.table == "core_room" then room_b = b end end
  eq({ table = "core_room", model = "core.Room", column = "world_id", on_delete = "PROTECT",
    target = "core_world", count = 7, pks = { table.unpack(rooms, 1, 5) } }, room_b)
  eq(before, snapshot(), "nothing written")
  -- a dry run refuses alike
  fails("^protected: ", delete.run("core.World", "SELECT id FROM core_world WHERE id = $1", { w },
    { dry_run = true }))
  eq(before, snapshot())
end)

---------------------------------------------------------------- m2m

test("many-to-many rows of deleted rows go, either side", function()
  local w = world("m2m")
  local a, b, c = user(w), user(w), user(w)
  for _, p in ipairs({ { a, b }, { b, a }, { c, a }, { b, c } }) do
    db.exec("INSERT INTO core_user_blocked_users (from_user_id, to_user_id) VALUES ($1, $2)", p[1], p[2])
  end
  local srv = row("core.BBBServer", { url = "u", secret = "s" })
  local call = row("core.BBBCall", { world = w, server = srv, name = "n", meeting_id = "m",
    attendee_pw = "a", moderator_pw = "m" })
  db.exec("INSERT INTO core_bbbcall_invited_members (bbbcall_id, user_id) VALUES ($1, $2), ($1, $3)", call, a, b)
  local res = assert(delete.run("core.User", "SELECT id FROM core_user WHERE id = $1", { a }))
  eq({ core_user = { deleted = 1 }, core_user_blocked_users = { deleted = 3 },
    core_bbbcall_invited_members = { deleted = 1 } }, res.tables)
  eq(1, count("core_user_blocked_users"))
  eq(1, count("core_user_blocked_users", "from_user_id = $1 AND to_user_id = $2", b, c))
  eq(1, count("core_bbbcall_invited_members", "user_id = $1", b))
  -- deleting the call takes its invitations, not the users
  res = assert(delete.run("core.BBBCall", "SELECT id FROM core_bbbcall WHERE id = $1", { call }))
  eq({ core_bbbcall = { deleted = 1 }, core_bbbcall_invited_members = { deleted = 1 } }, res.tables)
  eq(1, count("core_user", "id = $1", b))
end)

---------------------------------------------------------------- self-reference

test("self-reference: replaced events chain, a cycle in the data ends", function()
  local w = world("selfref")
  local ch = row("core.Channel", { world = w })
  local function ev(replaces)
    return row("core.ChatEvent", { channel = ch, event_type = "channel.message", content = "{}",
      replaces = replaces })
  end
  local e1 = ev()
  local e2 = ev(e1)
  local e3 = ev(e2)
  local keep = ev()
  row("core.ChatEventReaction", { chat_event = e3, sender = user(w), reaction = "+1" })
  local res = assert(delete.run("core.ChatEvent", "SELECT id FROM core_chatevent WHERE id = $1",
    { tonumber(e1) }))
  eq({ core_chatevent = { deleted = 3 }, core_chateventreaction = { deleted = 1 } }, res.tables)
  eq(1, count("core_chatevent", "channel_id = $1", ch))
  eq(1, count("core_chatevent", "id = $1", tonumber(keep)))
  -- two events replacing each other (the constraint is deferred)
  db.transaction(function()
    db.exec("INSERT INTO core_chatevent (id, channel_id, timestamp, event_type, content, replaces_id)"
      .. " VALUES (9001, $1, now(), 'm', '{}', 9002), (9002, $1, now(), 'm', '{}', 9001)", ch)
  end)
  res = assert(delete.run("core.ChatEvent", "SELECT 9001"))
  eq({ core_chatevent = { deleted = 2 } }, res.tables)
  -- and users blocking themselves and each other
  local a, b = user(w), user(w)
  db.exec("INSERT INTO core_user_blocked_users (from_user_id, to_user_id) VALUES ($1, $1), ($1, $2), ($2, $1)", a, b)
  res = assert(delete.run("core.User", "SELECT id FROM core_user WHERE id IN ($1, $2)", { a, b }))
  eq({ deleted = 3 }, res.tables.core_user_blocked_users)
end)

---------------------------------------------------------------- dry run

-- A world of n users, each with grants, views, a message and a question.
local function populated(id, n)
  local w = world(id)
  local r = room(w)
  local ch = row("core.Channel", { world = w, room = r })
  db.exec([[
    WITH u AS (
      INSERT INTO core_user (id, version, world_id, moderation_state, type, show_publicly, profile,
        client_state, traits, deleted)
      SELECT gen_random_uuid(), 1, $1, '', 'person', true, '{}', '{}', '{}', false
      FROM generate_series(1, $2) RETURNING id),
    g AS (INSERT INTO core_worldgrant (world_id, user_id, role) SELECT $1, id, 'attendee' FROM u),
    v AS (INSERT INTO core_roomview (room_id, user_id, start) SELECT $3, id, now() FROM u),
    q AS (INSERT INTO core_question (id, room_id, sender_id, content, state, answered, timestamp,
      is_pinned) SELECT gen_random_uuid(), $3, id, 'q', 'mod_queue', false, now(), false FROM u)
    INSERT INTO core_chatevent (id, channel_id, sender_id, timestamp, event_type, content)
    SELECT $5 + row_number() OVER (), $4, id, now(), 'channel.message', '{}' FROM u]],
    w, n, r, ch, 100000 + next_event)
  next_event = next_event + n
  return w
end

test("dry run: the same counts as the real run, nothing written", function()
  local w = populated("dry", 20)
  local sql, params = "SELECT id FROM core_user WHERE world_id = $1", { w }
  local before = snapshot()
  local dry = assert(delete.run("core.User", sql, params, { dry_run = true }))
  eq(before, snapshot(), "dry run wrote nothing")
  eq(true, dry.dry_run)
  eq({ core_user = { deleted = 20 }, core_worldgrant = { deleted = 20 }, core_roomview = { deleted = 20 },
    core_question = { nulled = 20 }, core_chatevent = { nulled = 20 } }, dry.tables)
  local real = assert(delete.run("core.User", sql, params))
  eq(false, real.dry_run)
  real.dry_run = true
  table.sort(dry.deleted["core.User"])
  table.sort(real.deleted["core.User"])
  eq(dry, real)
  eq(0, count("core_user", "world_id = $1", w))
  eq(20, count("core_question q JOIN core_room r ON r.id = q.room_id",
    "r.world_id = $1 AND q.sender_id IS NULL", w))
end)

---------------------------------------------------------------- statements

-- The statements delete.run sends, counted by wrapping db.
local function statements(fn, ...)
  local n, exec, query = 0, db.exec, db.query
  db.exec = function(...) n = n + 1; return exec(...) end
  db.query = function(...) n = n + 1; return query(...) end
  local r = table.pack(pcall(fn, ...))
  db.exec, db.query = exec, query
  assert(r[1], r[2])
  return n, r[2]
end

test("the statement count does not grow with the rows", function()
  local small, big = populated("small", 10), populated("big", 1000)
  local sql = "SELECT id FROM core_world WHERE id = $1"
  -- rooms first (Room.world is PROTECT); the chat goes with them
  local rooms = assert(delete.run("core.Room", "SELECT id FROM core_room WHERE world_id IN ($1, $2)",
    { small, big }))
  eq({ core_room = { deleted = 2 }, core_channel = { deleted = 2 }, core_chatevent = { deleted = 1010 },
    core_question = { deleted = 1010 }, core_roomview = { deleted = 1010 } }, rooms.tables)
  local n10, r10 = statements(delete.run, "core.World", sql, { small })
  local n1000, r1000 = statements(delete.run, "core.World", sql, { big })
  eq(10, r10.tables.core_user.deleted)
  eq(1000, r1000.tables.core_user.deleted)
  eq(1000, r1000.tables.core_worldgrant.deleted)
  eq(n10, n1000, "statements for 10 and 1,000 users")
  local p = delete.plan("core.World", sql, { small })
  eq(4 + #p.collect + #p.actions, n10, "create, seed, collect, protect, actions, drop")
end)

---------------------------------------------------------------- transactions

test("inside a transaction: a savepoint, temporary tables gone after", function()
  local w = world("nested")
  local a, b = user(w), user(w)
  local sql = "SELECT id FROM core_user WHERE id = $1"
  raises(function()
    db.transaction(function()
      assert(delete.run("core.User", sql, { a }))
      eq(0, count("core_user", "id = $1", a))
      error("undo")
    end)
  end, "undo")
  eq(1, count("core_user", "id = $1", a), "rolled back with the outer transaction")
  db.transaction(function()
    assert(delete.run("core.User", sql, { a }))
    assert(delete.run("core.User", sql, { b }))	-- the same temporary names again
    local dry = assert(delete.run("core.World", "SELECT $1::varchar", { w }, { dry_run = true }))
    eq({ core_world = { deleted = 1 } }, dry.tables)
    ok(db.in_transaction())
  end)
  eq(0, count("core_user", "world_id = $1", w))
  eq(1, count("core_world", "id = $1", w), "the dry run inside rolled back to its savepoint")
end)

test("a failing query raises, nothing written", function()
  local before = snapshot()
  local msg, code = failure("nosuch", delete.run, "core.User", "SELECT nosuch FROM core_user")
  eq("42703", code)
  ok(msg)
  eq(before, snapshot())
  raises(function() delete.run("core.Nope", "SELECT 1") end, "bad argument #1 to 'run'")
  raises(function() delete.plan("core.User", nil) end, "bad argument #2 to 'plan'")
  eq("core_user", delete.plan(by["core.User"], "SELECT 1").tables[1])
  eq("auth_user", delete.plan("auth.User", "SELECT 1").tables[1])
end)

---------------------------------------------------------------- the cache

test("publish: \"deleted\" in the versioned rows' cache entries", function()
  local w = world("cache")
  local a, b = user(w), user(w)
  redis.call("SET", "modelcache:core.User:" .. a .. ":version", "3", "EX", "100")
  local res = assert(delete.run("core.World", "SELECT id FROM core_world WHERE id = $1", { w }))
  table.sort(res.deleted["core.User"])
  local ids = { a, b }
  table.sort(ids)
  eq({ ["core.User"] = ids, ["core.World"] = { w } }, res.deleted)
  eq(true, delete.publish(res))
  for _, id in ipairs(ids) do
    eq("deleted", redis.call("GET", "modelcache:core.User:" .. id .. ":version"))
    eq(-1, redis.call("TTL", "modelcache:core.User:" .. id .. ":version"), "no expiry")
  end
  eq("deleted", redis.call("GET", "modelcache:core.World:cache:version"))
  eq(true, delete.publish({ deleted = {} }))
end)
