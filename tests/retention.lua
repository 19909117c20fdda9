-- user:soft_delete, world:clear_data and worlds.clear_unused against
-- commands.md's lists: a generated world (tests/data/retention-world.sql)
-- with grants, chat, DM channels with files, views, questions, polls,
-- votes and files on disk under a temp media root; row counts before and
-- after, dry runs that change nothing, files removed only after the
-- commit, connection.reload stored for the group.
local db = require "venueless.db"
local redis = require "venueless.redis"
local config = require "venueless.config"
local worlds = require "venueless.worlds"
local models = require "venueless.models"
local retention = require "venueless.retention"

require("venueless.migrations").apply()
local TMP = os.getenv("VL_TMP")
config.filesystem.data = TMP .. "/data"
local MEDIA = TMP .. "/data/media"

local function one(sql, ...)
  local r = db.query(sql, ...)
  return r[1] and r[1][r.columns[1]]
end

local function gen(w, n, e)
  local out, code = sh(("psql -X -q -v ON_ERROR_STOP=1 -v w=%s -v n=%d -v e=%d -f %s/tests/data/retention-world.sql")
    :format(w, n, e, os.getenv("TOP_SRCDIR")))
  eq(0, code, out)
end

local function id(w, k) return one("SELECT md5($1)::uuid::text", w .. "/" .. k) end

-- Put every stored file of world w on disk; returns its paths.
local function files_on_disk(w)
  local paths = {}
  for _, r in ipairs(db.query("SELECT file FROM storage_storedfile WHERE world_id = $1", w)) do
    local p = MEDIA .. "/" .. r.file
    os.execute("mkdir -p " .. p:match("^(.*)/"))
    assert(io.open(p, "w")):close()
    paths[r.file] = true
  end
  return paths
end

local function exists(file)
  local f = io.open(MEDIA .. "/" .. file)
  if f then f:close() end
  return f ~= nil
end

-- Every table's row count and content hash: "nothing changed" is equality.
local function snapshot()
  local out = {}
  for _, r in ipairs(db.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")) do
    local q = db.quote_ident(r.tablename)
    out[r.tablename] = one(("SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '')"
      .. " FROM %s t"):format(q))
  end
  return out
end

-- A live member of group G on the default layer; returns the process key.
local function member(group)
  local p = "specific." .. group:gsub("%W", "") .. "!"
  redis.call("ZADD", "venueless:0:asgi::group:" .. group, require("venueless.core").time(), p .. "x")
  return "venueless:0:asgi:" .. p
end

local function count_of(receipt, tbl, action)
  for _, c in ipairs(receipt.counts) do
    if c.table == tbl and c.action == (action or "delete") then return c.count end
  end
  error("no count for " .. tbl)
end

gen("sd", 10, 60)
gen("other", 3, 5)
local U1 = id("sd", "u/1")
-- user 1 elsewhere too: a message in another world's chat stays
db.exec("INSERT INTO core_chatevent (id, \"timestamp\", event_type, content, channel_id, sender_id)"
  .. " VALUES ((SELECT max(id) + 1 FROM core_chatevent), now(), 'channel.message', '{}', $1, $2)",
  id("other", "c/1"), U1)

test("soft_delete: a dry run changes nothing and counts what would go", function()
  local paths = files_on_disk("sd")
  local before = snapshot()
  local u = models.User:get({ id = U1 })
  local r = assert(u:soft_delete({ dry_run = true }))
  eq(before, snapshot())
  for p in pairs(paths) do ok(exists(p), p .. " still there") end
  eq(true, r.dry_run)
  eq(1, count_of(r, "core_channel"))
  eq(2, count_of(r, "storage_storedfile"))
  eq(1, count_of(r, "core_user", "update"))
  eq("dry_run", r.files[1].state)
  eq(nil, r.reload)
end)

test("soft_delete: commands.md's steps 1-12, files after the commit, reload, cache", function()
  files_on_disk("sd")
  local pkey = member("user." .. U1)
  local DM1, DM2 = id("sd", "dm/1"), id("sd", "dm/2")
  local kept = {}
  for _, t in ipairs({ "core_roomview", "core_worldview", "core_questionvote", "core_pollvote",
      "core_contactrequest", "core_webpushclient", "core_user_blocked_users", "core_postervote",
      "core_exhibitorview" }) do
    kept[t] = one(("SELECT count(*) FROM %s"):format(t))
  end
  local room_events = one("SELECT count(*) FROM core_chatevent WHERE sender_id = $1"
    .. " AND channel_id NOT IN ($2, $3)", U1, DM1, DM2)
  local r = assert(retention.soft_delete(U1))
  for _, t in ipairs({ "core_bbbcall_invited_members", "core_roomgrant", "core_worldgrant",
      "core_rouletterequest", "core_exhibitorstaff", "core_posterpresenter" }) do
    eq(0, one(("SELECT count(*) FROM %s WHERE user_id = $1"):format(t), U1), t)
  end
  eq(0, one("SELECT count(*) FROM core_roulettepairing WHERE $1 IN (user1_id, user2_id)", U1))
  eq('{"new": {"__redacted": true}, "old": {"__redacted": true}, "object": "' .. U1 .. '"}',
    one("SELECT data::text FROM core_auditlog WHERE user_id = $1 AND type LIKE 'auth.user.profile%'", U1))
  eq('{"new": {}, "old": {}}', one("SELECT data::text FROM core_auditlog WHERE type = 'world.updated'"
    .. " AND world_id = 'sd'"))
  -- room memberships gone; DM 1 (user 2 deleted) gone with its events; DM 2 kept
  eq(1, one("SELECT count(*) FROM core_membership WHERE user_id = $1", U1))
  eq(0, one("SELECT count(*) FROM core_channel WHERE id = $1", DM1))
  eq(0, one("SELECT count(*) FROM core_chatevent WHERE channel_id = $1", DM1))
  eq(2, one("SELECT count(*) FROM core_chatevent WHERE channel_id = $1", DM2))
  eq(2, one("SELECT count(*) FROM core_membership WHERE channel_id = $1", DM2))
  eq(true, one("SELECT channel_id IS NULL FROM core_poster WHERE world_id = 'sd'"))
  eq(room_events, one("SELECT count(*) FROM core_chatevent WHERE sender_id = $1", U1) - 2)
  for t, n in pairs(kept) do eq(n, one(("SELECT count(*) FROM %s"):format(t)), t .. " untouched") end
  -- the avatar and DM 1's file: rows and files gone; DM 2's stays
  local avatar, f1, f2 = id("sd", "f/1"), id("sd", "dmf/1"), id("sd", "dmf/2")
  eq(1, one("SELECT count(*) FROM storage_storedfile WHERE id IN ($1, $2, $3)", avatar, f1, f2))
  ok(not exists("pub/sd/" .. avatar .. ".png") and not exists("pub/sd/" .. f1 .. ".pdf"), "removed")
  ok(exists("pub/sd/" .. f2 .. ".pdf"), "DM 2's file stays")
  eq({ "removed", "removed" }, { r.files[1].state, r.files[2].state })
  local u = db.query({ json = true }, "SELECT * FROM core_user WHERE id = $1", U1)[1]
  eq({ true, db.NULL, db.NULL, false, 3 }, { u.deleted, u.client_id, u.token_id, u.show_publicly, u.version })
  eq(0, next(u.profile) and 1 or 0, "profile {}")
  ok(u.last_login ~= db.NULL, "last_login kept")
  eq("3", redis.call("GET", "modelcache:core.User:" .. U1 .. ":version"))
  eq(1, r.reload.sent)
  -- (the world's save also sends world.update to the same group)
  local found = false
  for _, m in ipairs(redis.call("ZRANGE", pkey, 0, -1)) do
    found = found or m:find("connection.reload", 1, true) ~= nil
  end
  ok(found, "reload stored")
end)

test("soft_delete: by world and token id; a gravatar avatar is no file; refusals", function()
  local U4 = id("sd", "u/4")
  local r = assert(retention.soft_delete({ world = "sd", token_id = "token4" }))
  eq(U4, r.user)
  eq(0, count_of(r, "storage_storedfile"))
  eq(true, one("SELECT deleted FROM core_user WHERE id = $1", U4))
  fails("no user with token id", retention.soft_delete({ world = "sd", token_id = "nope" }))
  local _, code = fails("does not exist", retention.soft_delete("00000000-0000-0000-0000-000000000000"))
  eq("notfound", code)
  _, code = fails("not a user id", retention.soft_delete("1; drop table x"))
  eq("invalid", code)
  raises(function() db.transaction(function() retention.soft_delete(U4) end) end,
    "inside a transaction")
end)

test("soft_delete: a commit that fails keeps rows and files", function()
  local U3 = id("sd", "u/3")
  local paths = files_on_disk("sd")
  db.exec([[CREATE FUNCTION vl_refuse() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
    CREATE CONSTRAINT TRIGGER vl_refuse AFTER UPDATE ON core_user DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION vl_refuse()]])
  local before = snapshot()
  failure("refused at commit", retention.soft_delete, U3)
  db.exec("DROP TRIGGER vl_refuse ON core_user; DROP FUNCTION vl_refuse()")
  eq(before, snapshot())
  for p in pairs(paths) do ok(exists(p), p .. " kept") end
end)

test("soft_delete: with a CDN the files are listed, not removed", function()
  local U5 = id("sd", "u/5")
  files_on_disk("sd")
  config.urls.nanocdn = "https://cdn.example/"
  local r = retention.soft_delete(U5)
  config.urls.nanocdn = ""
  eq({ "cdn" }, { r.files[1].state })
  ok(exists(r.files[1].file), "still on disk")
  eq(0, one("SELECT count(*) FROM storage_storedfile WHERE id = $1", r.files[1].id))
end)

-- --------------------------------------------------------------- clear_data

gen("cw", 20, 300)
local C1 = id("cw", "u/1")
-- cw's users elsewhere: rows of world "other" that name them
db.exec(([[
INSERT INTO core_chatevent (id, "timestamp", event_type, content, channel_id, sender_id)
  VALUES ((SELECT max(id) + 1 FROM core_chatevent), now(), 'channel.message', '{}', '%s', '%s');
INSERT INTO core_auditlog ("timestamp", type, data, user_id, world_id) VALUES (now(), 'x', '{}', '%s', 'other');
INSERT INTO core_question (id, content, state, answered, "timestamp", moderator_id, room_id, sender_id, is_pinned)
  VALUES (gen_random_uuid(), 'q', 'visible', false, now(), NULL, '%s', '%s', false);
INSERT INTO core_roomview (start, room_id, user_id) VALUES (now(), '%s', '%s');
]]):format(id("other", "c/1"), C1, C1, id("other", "r/1"), C1, id("other", "r/1"), C1))

local KEPT = { core_room = 3, core_channel = 5, core_exhibitor = 1, core_poster = 1,
  core_shorttoken = 1, core_plannedusage = 1 }

local function per_world(w)
  local t = {}
  for tbl in pairs(KEPT) do t[tbl] = one(("SELECT count(*) FROM %s WHERE world_id = $1"):format(tbl), w) end
  return t
end

test("clear_data: a dry run changes nothing", function()
  local w = assert(worlds.get("cw"))
  local before = snapshot()
  local r = assert(w:clear_data({ dry_run = true }))
  eq(before, snapshot())
  eq(20, count_of(r, "core_user"))
  eq(1, count_of(r, "core_chatevent", "update"))
  eq(1, count_of(r, "core_world", "update"))
end)

test("clear_data: a stored file of a user in another world refuses, nothing done", function()
  db.exec(("INSERT INTO storage_storedfile (id, filename, type, file, public, user_id, world_id)"
    .. " VALUES ('%s', 'x', 'x', 'x', true, '%s', 'other')"):format(id("cw", "elsewhere"), C1))
  local before = snapshot()
  local msg, code = fails("belongs to world other %(protected%)", retention.clear_world_data("cw"))
  eq("protected", code)
  ok(msg:find(id("cw", "elsewhere"), 1, true), msg)
  eq(before, snapshot())
  db.exec(("DELETE FROM storage_storedfile WHERE id = '%s'"):format(id("cw", "elsewhere")))
end)

test("clear_data: steps 1-19, other worlds' rows set NULL, files, cache, reload", function()
  local paths = files_on_disk("cw")
  local pkey = member("world.cw")
  local other_before = snapshot()
  local m = assert(models.World:get({ id = "cw" }))
  local r = assert(m:clear_data())
  eq(KEPT, per_world("cw"))
  for _, t in ipairs({ "core_user", "core_auditlog", "core_worldgrant", "core_roomgrant",
      "core_bbbcall", "core_worldview", "core_feedback", "storage_storedfile" }) do
    eq(0, one(("SELECT count(*) FROM %s WHERE world_id = 'cw'"):format(t)), t)
  end
  for _, q in ipairs({
      "core_chatevent e JOIN core_channel c ON c.id = e.channel_id WHERE c.world_id = 'cw'",
      "core_membership m JOIN core_channel c ON c.id = m.channel_id WHERE c.world_id = 'cw'",
      "core_roomview v JOIN core_room r ON r.id = v.room_id WHERE r.world_id = 'cw'",
      "core_question q JOIN core_room r ON r.id = q.room_id WHERE r.world_id = 'cw'",
      "core_poll p JOIN core_room r ON r.id = p.room_id WHERE r.world_id = 'cw'",
      "core_contactrequest x JOIN core_exhibitor e ON e.id = x.exhibitor_id WHERE e.world_id = 'cw'",
      "core_exhibitorview x JOIN core_exhibitor e ON e.id = x.exhibitor_id WHERE e.world_id = 'cw'",
      "core_posterpresenter x JOIN core_poster p ON p.id = x.poster_id WHERE p.world_id = 'cw'",
      "core_bbbcall_invited_members WHERE user_id = '" .. C1 .. "'",
      "core_user_blocked_users WHERE from_user_id = '" .. C1 .. "'",
      "core_webpushclient WHERE user_id = '" .. C1 .. "'",
      "core_postervote WHERE user_id = '" .. C1 .. "'" }) do
    eq(0, one("SELECT count(*) FROM " .. q), q)
  end
  -- what named cw's users in world other stays, set NULL
  eq(1, one("SELECT count(*) FROM core_chatevent e JOIN core_channel c ON c.id = e.channel_id"
    .. " WHERE c.world_id = 'other' AND e.sender_id IS NULL AND e.content = '{}'"))
  eq(1, one("SELECT count(*) FROM core_auditlog WHERE world_id = 'other' AND type = 'x' AND user_id IS NULL"))
  eq(1, one("SELECT count(*) FROM core_question q JOIN core_room r ON r.id = q.room_id"
    .. " WHERE r.world_id = 'other' AND q.sender_id IS NULL"))
  eq(0, one("SELECT count(*) FROM core_roomview WHERE user_id = $1", C1))
  eq({ db.NULL, 3 }, { one("SELECT domain FROM core_world WHERE id = 'cw'"),
    one("SELECT version FROM core_world WHERE id = 'cw'") })
  eq("3", redis.call("GET", "modelcache:core.World:cw:version"))
  for p in pairs(paths) do ok(not exists(p), p .. " removed") end
  eq(1, r.reload.sent)
  -- (the world's save also sends world.update to the same group)
  local found = false
  for _, m in ipairs(redis.call("ZRANGE", pkey, 0, -1)) do
    found = found or m:find("connection.reload", 1, true) ~= nil
  end
  ok(found, "reload stored")
  -- world sd is untouched by clearing cw
  local after = snapshot()
  eq(other_before.core_announcement, after.core_announcement)
end)

-- --------------------------------------------------------------- clear_unused

test("clear_unused: idle worlds cleared, active and cleared ones kept", function()
  gen("idle", 3, 10)
  gen("busy", 3, 10)
  db.exec("UPDATE core_chatevent SET \"timestamp\" = now() WHERE channel_id = $1", id("busy", "c/1"))
  local before = snapshot()
  local r = assert(worlds.clear_unused({ days = 30, dry_run = true }))
  eq(before, snapshot())
  local seen = {}
  for _, w in ipairs(r.worlds) do seen[w.world] = w end
  eq(nil, seen.cw, "cleared worlds are no candidates")
  eq(true, seen.idle.idle)
  eq(false, seen.busy.idle)
  ok(seen.busy.last_activity:find("^%d%d%d%d%-%d%d%-%d%dT"), seen.busy.last_activity)
  r = assert(worlds.clear_unused({ days = 30 }))
  eq(db.NULL, one("SELECT domain FROM core_world WHERE id = 'idle'"))
  eq("busy.example.org", one("SELECT domain FROM core_world WHERE id = 'busy'"))
  eq(0, one("SELECT count(*) FROM core_user WHERE world_id = 'idle'"))
  eq(3, one("SELECT count(*) FROM core_user WHERE world_id = 'busy'"))
  raises(function() worlds.clear_unused({ days = -1 }) end, "days")
end)
