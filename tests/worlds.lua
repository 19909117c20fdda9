-- The worlds and rooms Lua API: strict objects, help metadata, defaults
-- against the reference, versions and the model cache, the chat channel
-- rule, transactions, tokens checked by PyJWT, import from tables, and
-- Redis going away after a commit.
local db = require "venueless.db"
local redis = require "venueless.redis"
local json = require "venueless.json"
local migrations = require "venueless.migrations"
local worlds = require "venueless.worlds"
local rooms = require "venueless.rooms"

migrations.apply()
local REF = os.getenv("VL_REFERENCE")
local TMP = os.getenv("VL_TMP")

local function one(sql, ...)
  local r = assert(db.query(sql, ...))
  local row = r[1]
  return row and row[r.columns[1]]
end

local function cached(model, id)
  return redis.call("GET", ("modelcache:core.%s:%s:version"):format(model, id))
end

local function shq(s) return "'" .. s:gsub("'", "'\\''") .. "'" end

test("create: version 2, admin URL, cached, globals", function()
  local res = worlds.create({ id = "api1", title = "API \"eins\"", domain = "api1.example.org" })
  ok(res)
  local w, url = res.world, res.url
  ok(rawequal(getmetatable(w), getmetatable(models.World:get({ id = "api1" }))), "one class")
  eq(2, w.version)
  ok(url:find("^https://api1%.example%.org/#token=[%w_-]+%.[%w_-]+%.[%w_-]+$"), url)
  eq("2", cached("World", "api1"))
  eq('<World api1 "API \\"eins\\"">', tostring(w))
  eq("venueless.core.World", getmetatable(w).__name)
  ok(getmetatable(w).__tostring)
  eq(worlds, _G.worlds)
  eq(rooms, _G.rooms)
end)

test("create: defaults are the reference's defaults.json", function()
  local f = assert(io.open(REF .. "/defaults.json"))
  local d = assert(json.decode(f:read("a")))
  f:close()
  local w = assert(worlds.get("api1"))
  eq(d.roles, w.roles)
  eq(d.trait_grants, w.trait_grants)
  eq(d.feature_flags, w.feature_flags)
  eq(d.locale, w.locale)
  eq(d.timezone, w.timezone)
  local r = assert(w:add_room({ name = "Defaults" }))
  eq(d.room_trait_grants_default, r.trait_grants)
  eq(d.room_module_config_default, r.module_config)
  eq("array", one("SELECT jsonb_typeof(module_config) FROM core_room WHERE id = $1", r.id))
  eq(false, r.deleted)
  eq(false, r.force_join)
  eq(0, r.pretalx_id)
  eq(nil, r.import_id)
end)

test("create: refusals return nil, message, code; misuse raises", function()
  eq("exists", select(2, fails("world api1 already exists", worlds.create({ id = "api1", title = "x" }))))
  eq("domain", select(2, fails("domain api1.example.org is already used by world api1",
    worlds.create({ id = "api2", title = "x", domain = "api1.example.org" }))))
  local rule = "^the world id must be " .. worlds.ID_RULE:gsub("%p", "%%%0") .. "$"
  eq("invalid", select(2, fails(rule, worlds.create({ id = "a b", title = "x" }))))
  fails(rule, worlds.create({ id = "", title = "x" }))
  fails(rule, worlds.create({ id = "..", title = "x" }))
  fails(rule, worlds.create({ id = "-rf", title = "x" }))
  ok(worlds.valid_id("a_b.c-d") and worlds.valid_id(("x"):rep(50)))
  ok(not worlds.valid_id(("x"):rep(51)) and not worlds.valid_id(".x") and not worlds.valid_id("w\xc3\xa4"))
  fails("title is not valid UTF%-8", worlds.create({ id = "u8", title = "\xff" }))
  fails("title contains a NUL byte", worlds.create({ id = "u8", title = "a\0b" }))
  raises(function() worlds.create("api3") end, "expected a table")
  raises(function() worlds.create({ id = "api3", title = "x", colour = 1 }) end, "unknown field 'colour'")
  eq(0, one("SELECT count(*) FROM core_world WHERE id IN ('api2', 'api3', 'u8')"))
end)

test("objects: columns as fields, unknown fields raise, read-only fields", function()
  local w = assert(worlds.get("api1"))
  eq("api1.example.org", w.domain)
  eq(nil, w.external_auth_url)			-- NULL reads as nil
  ok(w.vapid_private_key:find("^%-%-%-%-%-BEGIN PRIVATE KEY%-%-%-%-%-\n"))
  eq("any", w.config.JWT_secrets[1].issuer)	-- jsonb as Lua tables
  raises(function() return w.colour end, "World has no field 'colour'")
  raises(function() w.colour = 1 end, "World has no field 'colour'")
  raises(function() w.id = "x" end, "World.id is read%-only")
  raises(function() w.version = 9 end, "World.version is read%-only")
  local seen = {}
  for k, v in pairs(w) do seen[#seen + 1] = k; ok(v ~= nil) end
  eq({ "version", "id", "title" }, { table.unpack(seen, 1, 3) }, "Django's field order (models.json)")
  ok(not table.concat(seen, " "):find("external_auth_url"), "NULL columns skipped by pairs")
end)

test("help metadata: _doc entries and _methods agree", function()
  for _, m in ipairs({ { worlds, "world" }, { rooms, "room" } }) do
    local mod, obj = m[1], m[2]
    ok(type(mod._doc) == "table" and type(mod._methods) == "table")
    for name, d in pairs(mod._doc) do
      ok(type(d.sig) == "string" and type(d.text) == "string", name)
      local meth = name:match("^" .. obj .. ":(.+)$")
      if meth then
        ok(type(mod._methods[meth]) == "function", name .. " is a method")
        ok(d.sig:find("^" .. obj .. ":" .. meth .. "[%({]"), name .. " sig")
      else
        ok(type(mod[name]) == "function", name .. " is a function")
      end
    end
    for meth in pairs(mod._methods) do ok(mod._doc[obj .. ":" .. meth], obj .. ":" .. meth .. " documented") end
    for name, v in pairs(mod) do
      if type(v) == "function" and not name:find("^_") then ok(mod._doc[name], name .. " documented") end
    end
  end
  eq("worlds.clone(source_id, {id=, title=, domain=, new_secrets=})", worlds._doc.clone.sig)
  ok(worlds._doc["world:save"] and rooms._doc["room:save"])
end)

test("save: version + 1, cache follows, jsonb and empty arrays", function()
  local w = assert(worlds.get("api1"))
  w.title = "Umbenannt 'quoted' \\ \"x\""
  w.feature_flags = {}
  w.config.extra = { 1, 2, { deep = true } }
  w.external_auth_url = "https://auth.example.org"
  eq(w, assert(w:save()))
  eq(3, w.version)
  eq("3", cached("World", "api1"))
  local again = assert(worlds.get("api1"))
  eq(w.title, again.title)
  eq(3, again.version)
  eq("array", one("SELECT jsonb_typeof(feature_flags) FROM core_world WHERE id = 'api1'"))
  eq({ 1, 2, { deep = true } }, again.config.extra)
  again.external_auth_url = nil
  assert(again:save())
  eq(true, one("SELECT external_auth_url IS NULL FROM core_world WHERE id = 'api1'"))
  eq(4, again.version)
  eq("4", cached("World", "api1"))
  -- An older object saving later still raises the version (no lost update of it).
  assert(w:save())
  eq(5, w.version)
  -- A value PostgreSQL refuses: an SQL error raises; nothing changed.
  w.title = ("x"):rep(301)
  local msg, code, exit = failure("too long", w.save, w)
  eq("22001", code)
  eq(1, exit)
  eq(5, one("SELECT version FROM core_world WHERE id = 'api1'"))
end)

test("get and list: lookups of any shape, filters, order by id", function()
  eq("notfound", select(2, fails("world nosuch does not exist", worlds.get("nosuch"))))
  fails("does not exist", worlds.get("'; DROP TABLE core_world; --"))
  eq("invalid", select(2, fails("world id is not valid UTF%-8", worlds.get("\xff\xfe"))))
  fails("world id contains a NUL byte", worlds.get("a\0b"))
  fails("world id longer than 50", worlds.get(("a"):rep(51)))
  raises(function() worlds.get(42) end, "world id expected")
  assert(worlds.create({ id = "zed", title = "Zweite Welt" }))
  assert(worlds.create({ id = "abc", title = "Noch eine WELT" }))
  local ids = {}
  for i, w in ipairs(assert(worlds.list())) do ids[i] = w.id end
  eq({ "abc", "api1", "zed" }, ids)
  local l = assert(worlds.list({ title = "welt" }))
  eq(2, #l)
  eq("abc", l[1].id)
  eq(1, #assert(worlds.list({ limit = 1 })))
  eq("api1", assert(worlds.list({ domain = "api1.example.org" }))[1].id)
  eq(0, #assert(worlds.list({ title = "%" })))	-- not a LIKE pattern
  raises(function() worlds.list({ colour = 1 }) end, "unknown filter 'colour'")
end)

test("rooms: add_room, chat channel rule, save, list, get", function()
  local w = assert(worlds.get("zed"))
  local chat = assert(w:add_room({ name = "Chat", modules = { { type = "chat.native", config = {} } } }))
  eq(2, chat.version)
  eq("2", cached("Room", chat.id))
  eq(1, one("SELECT count(*) FROM core_channel WHERE room_id = $1 AND world_id = 'zed' AND name IS NULL", chat.id))
  ok(chat.channel and chat.channel.room == chat, "the chat channel")
  local stage = assert(w:add_room({ name = "Bühne \"1\"", modules = { { type = "livestream.native" } } }))
  eq(0, one("SELECT count(*) FROM core_channel WHERE room_id = $1", stage.id))
  eq(nil, stage.channel)
  eq(('<Room %s "Bühne \\"1\\"">'):format(stage.id), tostring(stage))
  eq("venueless.core.Room", getmetatable(stage).__name)
  eq({ 0, 1 }, { chat.sorting_priority, stage.sorting_priority })
  -- Gaining a chat module on save adds the one channel; saving again does not.
  local mc = stage.module_config
  mc[#mc + 1] = { type = "chat.native", config = { volatile = true } }
  stage.module_config = mc
  assert(stage:save())
  eq(3, stage.version)
  eq("3", cached("Room", stage.id))
  assert(stage:save())
  eq(1, one("SELECT count(*) FROM core_channel WHERE room_id = $1", stage.id))
  eq(4, stage.version)
  raises(function() stage.world_id = "api1" end, "Room.world_id is read%-only")
  raises(function() stage.world = worlds.get("api1") end, "Room.world is read%-only")
  raises(function() return stage.colour end, "Room has no field 'colour'")
  eq(w, stage.world)
  raises(function() w:add_room({ name = "x", colour = 1 }) end, "unknown field 'colour'")
  raises(function() w:add_room({}) end, "name must be a string")
  local got = assert(rooms.get(stage.id))
  eq(stage.name, got.name)
  eq("volatile", next(got.module_config[2].config))
  eq("invalid", select(2, fails("room id must be a UUID", rooms.get("'; --"))))
  fails("does not exist", rooms.get("00000000-0000-4000-8000-000000000000"))
  local names = {}
  for i, r in ipairs(assert(w:rooms())) do names[i] = r.name end
  eq({ "Chat", "Bühne \"1\"" }, names)
  eq(1, #assert(rooms.list({ world = w, name = "chat" })))
  eq(0, #assert(rooms.list({ world = "zed", deleted = true })))
  raises(function() rooms.list({ colour = 1 }) end, "unknown filter")
end)

test("one object system: World and Room model objects carry the domain methods", function()
  local w = assert(models.World:get({ id = "zed" }))
  eq(w, worlds.get("zed"))
  ok(w:admin_token(), "a domain method on a World:get{} object")
  eq(#w:rooms(), w.rooms:count(), "w:rooms() is the relation's list")
  eq("Chat", w.rooms:order("sorting_priority"):first().name)
  -- Room:create goes through room:save: version 2, cache, the chat channel
  local r = assert(models.Room:create({ world = w, name = "Via the model", sorting_priority = 9,
    module_config = { { type = "chat.native" } } }))
  eq(2, r.version)
  eq("2", cached("Room", r.id))
  eq(1, one("SELECT count(*) FROM core_channel WHERE room_id = $1", r.id))
  ok(rawequal(getmetatable(r), getmetatable(assert(rooms.get(r.id)))))
  -- an unchanged save still bumps the version (servers reload)
  local v = r.version
  assert(r:save())
  eq(v + 1, r.version)
  eq(tostring(v + 1), cached("Room", r.id))
  raises(function() r.world_id = "api1" end, "read%-only")
  r.name = "renamed"
  assert(r:save())
  eq("renamed", one("SELECT name FROM core_room WHERE id = $1", r.id))
end)

test("transactions: saves inside db.transaction are refused; worlds.transaction publishes after commit", function()
  local w = assert(worlds.get("zed"))
  raises(function() db.transaction(function() w:save() end) end, "use worlds.transaction")
  local before = cached("World", "zed")
  -- A rolled-back transaction tells the cache nothing.
  raises(function()
    worlds.transaction(function()
      assert(w:save())
      eq(before, cached("World", "zed"))	-- not yet
      error("boom")
    end)
  end, "boom")
  eq(before, cached("World", "zed"))
  eq(tonumber(before), one("SELECT version FROM core_world WHERE id = 'zed'"))
  eq(tonumber(before), w.version, "the object's version put back")
  local r = assert(w:rooms()[1])
  eq("done", worlds.transaction(function()
    w.title = "In einer Transaktion"
    assert(w:save())
    r.name = "Chat 2"
    assert(r:save())
    eq(before, cached("World", "zed"))
    return "done"
  end))
  eq(tostring(tonumber(before) + 1), cached("World", "zed"))
  eq(tostring(r.version), cached("Room", r.id))
end)

test("world lock: worlds.lock in a transaction; saves wait for the holder", function()
  raises(function() worlds.lock("zed") end, "needs a transaction")
  raises(function() worlds.lock(7) end, "world id expected")
  local other = package.preload["venueless.db"]()	-- a second session
  -- the key as the server shows it, not as the code derives it
  local key = worlds.transaction(function()
    worlds.lock("zed")
    return other.query("SELECT classid, objid FROM pg_locks WHERE locktype = 'advisory'"
      .. " AND objsubid = 2 AND granted AND pid = $1", db.backend_pid())[1]
  end)
  ok(key, "held inside the transaction")
  eq(0, #other.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = $1",
    db.backend_pid()), "released at the commit")
  local w, z = assert(worlds.get("api1")), assert(worlds.get("zed"))
  local version = z.version
  other.transaction(function()
    other.query("SELECT pg_advisory_xact_lock($1::int, ($2::bigint)::bit(32)::int)",
      key.classid, key.objid)
    db.exec("SET lock_timeout = '100ms'")
    z.title = "waits"
    local _, code = failure("lock timeout", z.save, z)
    eq("55P03", code)
    assert(w:save(), "another world's save does not wait")
    db.exec("RESET lock_timeout")
  end)
  other.close()
  eq(version, one("SELECT version FROM core_world WHERE id = 'zed'"), "nothing saved while locked")
  eq(version, z.version)
  assert(z:save())
  eq("waits", one("SELECT title FROM core_world WHERE id = 'zed'"))
end)

test("rooms: add_room and room:save take the world lock; a new room's picture is ''", function()
  local z = assert(worlds.get("zed"))
  local other = package.preload["venueless.db"]()
  local key = worlds.transaction(function()
    worlds.lock("zed")
    return other.query("SELECT classid, objid FROM pg_locks WHERE locktype = 'advisory'"
      .. " AND objsubid = 2 AND granted AND pid = $1", db.backend_pid())[1]
  end)
  local before = one("SELECT count(*) FROM core_room WHERE world_id = 'zed'")
  local r = assert(z:add_room({ name = "lobby-locked" }))
  eq("", one("SELECT picture FROM core_room WHERE id = $1", r.id))
  other.transaction(function()
    other.query("SELECT pg_advisory_xact_lock($1::int, ($2::bigint)::bit(32)::int)",
      key.classid, key.objid)
    db.exec("SET lock_timeout = '100ms'")
    local _, code = failure("lock timeout", z.add_room, z, { name = "waits" })
    eq("55P03", code)
    r.name = "renamed while locked"
    _, code = failure("lock timeout", r.save, r)
    eq("55P03", code)
    db.exec("RESET lock_timeout")
  end)
  other.close()
  eq(before + 1, one("SELECT count(*) FROM core_room WHERE world_id = 'zed'"))
  eq("lobby-locked", one("SELECT name FROM core_room WHERE id = $1", r.id))
end)

test("admin_token: PyJWT verifies it; days and traits", function()
  local w = assert(worlds.get("api1"))
  local secret = w.config.JWT_secrets[1].secret
  local tok = assert(w:admin_token({ days = 2, traits = { "admin", "moderator" } }))
  local out, code = sh("/usr/bin/python3 -c " .. shq([[
import jwt, sys
p = jwt.decode(sys.argv[1], sys.argv[2], algorithms=["HS256"], audience="venueless", issuer="any")
assert p["exp"] - p["iat"] == 2 * 86400 and p["traits"] == ["admin", "moderator"], p
print("verified")]]) .. " " .. tok .. " " .. secret)
  eq(0, code, out)
  eq("verified\n", out)
  local z = assert(worlds.get("zed"))
  ok(z:admin_token())
  fails("has no domain", z:admin_url())
  z.config = {}
  eq("nosecret", select(2, fails("world zed has no JWT secret", z:admin_token())))
  raises(function() w:admin_token({ days = -1 }) end, "days must be a positive number")
end)

test("import from a table: plain Lua tables, paths in errors, summary", function()
  local doc = {
    world = { id = "tbl", title = "Aus einer Tabelle", theme = { colors = {} } },
    rooms = {
      { id = "a", name = "A", modules = { { type = "chat.native", config = {} } } },
      { id = 7, name = "B", modules = {}, trait_grants = {} },
    },
    exhibitors = { { name = "E", room = 7, links = { { display_text = "x", url = "https://x" } } } },
  }
  local res = worlds.import(doc)
  ok(res)
  local w, s = res.world, res.summary
  eq({ world = "tbl", created = true, rooms = 2, rooms_created = 2, channels_created = 1,
    exhibitors = 1, exhibitors_created = 1, links = 1, social_links = 0, secrets_removed = false }, s)
  eq(2, w.version)
  eq("2", cached("World", "tbl"))
  eq("array", one("SELECT jsonb_typeof(module_config) FROM core_room WHERE world_id = 'tbl' AND import_id = '7'"))
  eq("object", one("SELECT jsonb_typeof(trait_grants) FROM core_room WHERE world_id = 'tbl' AND import_id = '7'"))
  local r2 = assert(worlds.import(doc))
  local w2, s2 = r2.world, r2.summary
  eq(3, w2.version)
  eq(false, s2.created)
  eq(0, s2.rooms_created)
  doc.rooms[2].modules = "x"
  eq("invalid", select(2, fails("^rooms%[1%]%.modules: expected an array$", worlds.import(doc))))
  doc.rooms[2].modules = {}
  doc.rooms[1].name = "a\0b"
  fails("^rooms%[0%]%.name: contains a NUL byte$", worlds.import(doc))
  doc.rooms[1].name = "A"
  doc.rooms[1].modules[1].config = { ["k\xff"] = 1 }
  fails("^rooms%[0%]%.modules%[0%]%.config: a key is not valid UTF%-8$", worlds.import(doc))
  -- An exhibitor may name a room of the world that the file does not list.
  local r3 = worlds.import({ world = { id = "tbl", title = "Aus einer Tabelle" },
    rooms = { { id = "a", name = "A", modules = { { type = "chat.native" } } } },
    exhibitors = { { name = "E", room = 7 } } })
  ok(r3 and r3.world and r3.summary)
  eq(2, one("SELECT count(*) FROM core_room WHERE world_id = 'tbl'"))
  eq("7", one("SELECT r.import_id FROM core_exhibitor e JOIN core_room r ON r.id = e.room_id WHERE e.world_id = 'tbl'"))
  eq(0, one("SELECT count(*) FROM core_exhibitorlink l JOIN core_exhibitor e ON e.id = l.exhibitor_id WHERE e.world_id = 'tbl'"))
  eq("chat.native", one("SELECT module_config->0->>'type' FROM core_room WHERE world_id = 'tbl' AND import_id = 'a'"))
  eq(1, one("SELECT count(*) FROM core_channel WHERE world_id = 'tbl'"))
  eq("io", select(2, fails("No such file", worlds.import(TMP .. "/nope.json"))))
  raises(function() worlds.import(42) end, "file name or table expected")
  eq(4, one("SELECT version FROM core_world WHERE id = 'tbl'"))
end)

-- An import's plan costs more the bigger the tables are; past
-- jit_optimize_above_cost LLVM took seconds to compile it.
test("import: its statement runs without JIT, set for its transaction only", function()
  local before = one("SHOW jit")
  db.query("CREATE TABLE jit_seen (jit text)")
  db.query([[CREATE FUNCTION jit_seen() RETURNS trigger LANGUAGE plpgsql AS
    $$ BEGIN INSERT INTO jit_seen VALUES (current_setting('jit')); RETURN NEW; END $$]])
  db.query([[CREATE TRIGGER jit_seen BEFORE INSERT OR UPDATE ON core_world
    FOR EACH ROW EXECUTE FUNCTION jit_seen()]])
  local res = worlds.import({ world = { id = "nojit", title = "Ohne JIT" }, rooms = {} })
  db.query("DROP TRIGGER jit_seen ON core_world")
  db.query("DROP FUNCTION jit_seen()")
  ok(res and res.summary.created)
  eq("off", one("SELECT string_agg(jit, ',') FROM jit_seen"))
  db.query("DROP TABLE jit_seen")
  eq(before, one("SHOW jit"))
  eq("on", before)
end)

test("clone through the API: summary and new secrets", function()
  local src = assert(worlds.get("tbl"))
  src.config = { theme = { colors = { primary = "#180044" } } }
  assert(src:save())
  local res = worlds.clone("tbl", { id = "tblcopy", title = "Kopie", domain = "copy.example.org",
    new_secrets = true })
  ok(res)
  local w, url, s = res.world, res.url, res.summary
  ok(url:find("^https://copy%.example%.org/#token="))
  eq({ rooms = 2, channels = 1, exhibitors = 1, links = 0, social_links = 0 }, s)
  ok(assert(worlds.get("tbl")).config.JWT_secrets == nil)
  eq(64, #w.config.JWT_secrets[1].secret)
  eq({ colors = { primary = "#180044" } }, w.config.theme)
  eq("notfound", select(2, fails("world nosuch does not exist",
    worlds.clone("nosuch", { id = "x1", title = "x" }))))
  eq(0, one("SELECT count(*) FROM core_world WHERE id = 'x1'"))
  fails("already exists", worlds.clone("tbl", { id = "tblcopy", title = "x" }))
end)

-- Last: Redis goes away. The DB change is committed and said so.
test("Redis down after the commit: raises connection (exit 11) with what was committed", function()
  redis.pcall("SHUTDOWN", "NOSAVE")
  redis.close()
  local w = assert(worlds.get("abc"))
  local e = raises(function() w:save() end, "^committed, but the server cache was not updated")
  eq("connection", e.code)
  eq(11, e.exit)
  eq(1, e.committed.n)
  ok(rawequal(w, e.committed[1]), "committed holds the saved world")
  eq(3, one("SELECT version FROM core_world WHERE id = 'abc'"))
  eq(3, w.version)
  e = raises(function() worlds.create({ id = "late", title = "Spät" }) end, "committed")
  eq("connection", e.code)
  eq(11, e.exit)
  eq("late", e.committed[1].world.id)
  eq(1, one("SELECT count(*) FROM core_world WHERE id = 'late'"))
  -- core.try is the non-raising form: nil, message, code
  local nw, m2, c2 = require("venueless.core").try(worlds.create, { id = "later", title = "x" })
  eq(nil, nw)
  eq("connection", c2)
  ok(m2:find("committed"))
  eq(1, one("SELECT count(*) FROM core_world WHERE id = 'later'"))
end)
