-- The completer without a terminal: Lua names, fields at any depth,
-- methods (strings, userdata), live values from PostgreSQL and Redis,
-- prefix filtering, limits, escaping, and servers that are down.
local complete = require "venueless.complete"
local repl = require "venueless.repl"

-- Candidates and start for text, in an optional env.
local function C(text, env)
  local list, start, hint = complete.complete(text, env)
  return list, start, hint
end

test("globals and keywords", function()
  eq({ "print(" }, (C("pri")))
  local list, start = C("x = ret")
  eq({ "return" }, list)
  eq(5, start)
  local l = C("wh")
  eq({ "while" }, l)
end)

test("lazy operator globals before first use", function()
  local L = sh(os.getenv("VENUELESS") .. [[ shell -e '
    local c = require("venueless.complete")
    local before = rawget(_G, "migrations") == nil
    return before, table.concat((c.complete("migr")), " "), table.concat((c.complete("conn")), " ")']])
  eq("true\tmigrations\tconnections\n", L)
end)

test("fields of a lazy global before its first use (worlds.cr)", function()
  -- a stand-in until the worlds module exists; the real one has create too
  if not package.preload["venueless.worlds"] then
    package.preload["venueless.worlds"] = function()
      return { create = function() end, clone = function() end, get = function() end }
    end
  end
  eq(nil, rawget(_G, "worlds"), "not loaded yet")
  local list, start = C("worlds.cr")
  eq(8, start)
  ok(list[1] == "create(" or list[1] == "create", "worlds.create")
end)

test("fields at any depth, functions get a parenthesis and a hint", function()
  local env = setmetatable({ t = { alpha = { beta = { gamma = 1, gone = 2 } } } }, { __index = _G })
  eq({ "gamma", "gone" }, (C("t.alpha.beta.g", env)))
  eq({ "alpha" }, (C("t.al", env)))
  eq({ "format(" }, (C("string.for")))
  local list, start, hint = C("migrations.app")
  eq({ "apply(" }, list)
  eq(12, start)
  eq(migrations._doc.apply.sig, hint)
  eq({ "query(" }, (C("x = db.quer")))
  local all = C("db.")
  for _, n in ipairs({ "exec", "query", "quote_ident", "transaction", "NULL" }) do
    local found = false
    for _, c in ipairs(all) do found = found or c == n end
    ok(found, "db." .. n)
  end
  eq({}, (C("nosuch.x")))
  eq({}, (C("f().x")), "calls are not evaluated")
  eq({}, (C('("x"):upper():le')), "nor typed, outside the models")
  eq({}, (C('t:m{}.', setmetatable({ t = { m = function() return { k = 1 } end } }, { __index = _G }))))
  eq({ "n" }, (C('t["k"].', setmetatable({ t = { k = { n = 1 } } }, { __index = _G }))))
end)

test("argument hints after an opening parenthesis", function()
  local list, start, hint = C("db.query(")
  eq({}, list)
  eq(10, start)
  eq(require("venueless.doc").bindings.db.query.sig, hint)
  eq(migrations._doc.plan.sig, select(3, C("x = migrations.plan(")))
  eq(nil, select(3, C("print(")), "undocumented: no hint")
end)

test("underscore names only when asked for", function()
  local env = setmetatable({ m = { _doc = 1, do_it = 2 } }, { __index = _G })
  eq({ "do_it" }, (C("m.d", env)))
  eq({ "_doc" }, (C("m._", env)))
end)

test("methods after ':' for strings and userdata", function()
  eq({ "upper(" }, (C('("x"):up')))
  local env = setmetatable({ s = "abc", n = 5 }, { __index = _G })
  eq({ "upper(" }, (C("s:up", env)))
  eq({ "rep(", }, (C("s:rep", env)))
  eq({}, (C("n:x", env)), "numbers have no methods")
  local ed = require("venueless.edit").new({ editrc = false })
  env.ed = ed
  eq({ "gets(" }, (C("ed:ge", env)))
  eq({ "history_add", "history_list", "history_load", "history_save" }, (C("ed:history", env)))
  ed:close()
  env.c = redis.conn(0)
  eq({ "pcall", "pipeline" }, (C("c:p", env)))
  eq({ "call(" }, (C("c:ca", env)), "methods in a C __index upvalue")
end)

test("session locals complete", function()
  local s = repl.session()
  local f, names = repl.compile(s, "local session_thing = 1")
  repl.run_chunk(s, f, names)
  eq({ "session_thing" }, (C("session_t", s.env)))
end)

test("no completion inside comments or numbers", function()
  eq({}, (C("-- pri")))
  eq({}, (C("x = [[pri")))
end)

---------------------------------------------------------------- live values

migrations.apply()
local function world(id)
  db.exec([[INSERT INTO core_world (id, title, version, locale, timezone,
    feature_flags, vapid_private_key, vapid_public_key)
    VALUES ($1, $1, 0, 'en', 'UTC', '{}', 'k', 'k')]], id)
end
for _, id in ipairs({ "sample", "sahara", "other", "a_b", "axb" }) do world(id) end
for i = 1, 80 do world(("many%02d"):format(i)) end
local room_id = db.query([[INSERT INTO core_room (id, name, world_id, sorting_priority,
  version, deleted, pretalx_id, force_join) VALUES
  (gen_random_uuid(), 'Main stage', 'sample', 0, 0, false, 0, false),
  (gen_random_uuid(), 'Hidden', 'sample', 0, 0, true, 0, false),
  (gen_random_uuid(), 'Mall', 'other', 0, 0, false, 0, false) RETURNING id::text]])[1].id

test("world ids in worlds.* calls, prefix-filtered", function()
  local list, start = C('worlds.get("sa')
  eq({ "sahara", "sample" }, list)
  eq(13, start)
  eq({ 'sample"' }, (C('x = worlds.clone("samp')), "unique: the closing quote")
  eq({ "sample'" }, (C("worlds.get('samp")))
  eq({ "sample" }, (complete.complete('worlds.get("samp', nil, '")')), "the quote is there already")
  eq({}, (C('worlds.get("zz')))
  eq({}, (C('print("sa')), "no live values for other functions")
end)

test("LIKE patterns are escaped", function()
  eq({ 'a_b"' }, (C('worlds.get("a_')))
  eq({}, (C('worlds.get("%')))
  eq("a\\_b\\%\\\\", complete.like_escape("a_b%\\"))
end)

test("at most complete.limit live candidates", function()
  eq(complete.limit, #(C('worlds.get("many')))
  eq(50, complete.limit)
end)

test("rooms: only what the call accepts (a room's uuid, a world in list{world=})", function()
  eq({ room_id .. '"' }, (C('rooms.get("' .. room_id:sub(1, 8))))
  local r = assert(rooms.get(room_id), "the completed call works")
  eq("Main stage", r.name)
  local hidden = db.query("SELECT id::text FROM core_room WHERE deleted")[1].id
  eq({}, (C('rooms.get("' .. hidden:sub(1, 8))), "deleted rooms are left out")
  eq({}, (C('rooms.get("Ma')), "no names: rooms.get refuses them")
  eq({}, (C('rooms.get("sample", "Ma')), "no second argument")
  eq({}, (C('rooms.get("sa')), "no world ids")
  eq({ 'other"' }, (C('rooms.list({ world = "oth')))
  eq(1, #rooms.list({ world = "other" }))
end)

test("migration names and apps", function()
  local list = C('migrations.apply({app = "core", target = "0001')
  ok(#list >= 1, "core migrations")
  for _, n in ipairs(list) do ok(n:find("^0001"), n) end
  eq({ 'contenttypes"' }, (C('migrations.plan({app = "contentt')))
end)

test("connection labels from the connections hash", function()
  redis.call("HSET", "connections", "411b261.prod", 3, "411b261.staging", 1, "abc*.x", 1)
  eq({ "411b261.prod", "411b261.staging" }, (C('connections.drop("411')))
  eq({ 'abc*.x"' }, (C('connections.force_reload("abc*')), "glob characters escaped")
end)

test("table and column names inside SQL strings of db.*", function()
  local list, start = C('db.query("select * from core_wor')
  ok(#list >= 2, "core_world and more")
  for _, n in ipairs(list) do ok(n:find("^core_wor"), n) end
  eq(25, start, "only the last word is replaced")
  eq({ "vapid_private_key", "vapid_public_key" }, (C('db.query({timeout = 5}, "select vapid_p')))
  eq({}, (C('db.exec("select ')), "nothing for an empty word")
end)

test("answers are cached briefly", function()
  world("cached1")
  eq({ 'cached1"' }, (C('worlds.get("cach')))
  world("cached2")
  eq({ 'cached1"' }, (C('worlds.get("cach')), "within the ttl")
  local ttl = complete.ttl
  complete.ttl = 0
  eq({ "cached1", "cached2" }, (C('worlds.get("cach')))
  complete.ttl = ttl
end)

test("completion uses a connection of its own, outside the session's transaction", function()
  db.transaction(function()
    db.exec("SET LOCAL statement_timeout = 12345")
    eq({ "sahara", "sample" }, (C('worlds.get("sa')))
    eq("12345ms", db.query("SHOW statement_timeout")[1].statement_timeout)
  end)
  ok(not db.in_transaction())
end)

test("a slow server gives no candidates within the statement timeout", function()
  -- another session holds a lock that the completion query waits for
  local lock = os.getenv("VL_TMP") .. "/lock.sql"
  local f = assert(io.open(lock, "w"))
  f:write("BEGIN; LOCK core_world; SELECT pg_sleep(3); COMMIT;\n")
  f:close()
  os.execute("psql -X -q -f " .. lock .. " >/dev/null 2>&1 &")
  local core = require "venueless.core"
  for _ = 1, 100 do
    if db.query([[SELECT count(*) AS n FROM pg_locks
      WHERE relation = 'core_world'::regclass AND mode = 'AccessExclusiveLock' AND granted]])[1].n == 1 then
      break
    end
    core.sleep(20)
  end
  local t = core.time("monotonic")
  eq({}, (C('worlds.get("slow')))
  local took = core.time("monotonic") - t
  ok(took >= complete.timeout / 1000 * 0.9 and took < 1, ("took %.3f s"):format(took))
end)

test("a server that is down gives no candidates, quickly", function()
  local out, code = sh(("VENUELESS_DB_HOST=%s/nothing VENUELESS_REDIS_URLS=unix://%s/none.sock %s shell -e '%s'")
    :format(os.getenv("VL_TMP"), os.getenv("VL_TMP"), os.getenv("VENUELESS"), [[
      local c = require("venueless.complete")
      local core = require("venueless.core")
      local t = core.time("monotonic")
      local a = #(c.complete("worlds.get(\"s"))
      local b = #(c.complete("connections.drop(\"s"))
      local d = #(c.complete("worlds.get(\"s"))
      return a, b, d, core.time("monotonic") - t < 1]]))
  eq(0, code, out)
  eq("0\t0\t0\ttrue\n", out)
end)
