-- The model layer: the generated metadata against the live catalog, the
-- lazy globals, querysets (lookups, joins, exclude, order and slices,
-- count/exists/first/get, values, update, each), objects (defaults,
-- strict fields, relations, saves of the changed fields), the model
-- cache and the server's side effects (touches, deleted markers, chat
-- event ids from Redis).
local db = require "venueless.db"
local redis = require "venueless.redis"
local json = require "venueless.json"
local migrations = require "venueless.migrations"
local models = require "venueless.models"

migrations.apply()
local REF = os.getenv("VL_REFERENCE")

local function one(sql, ...)
  local r = db.query(sql, ...)
  local row = r[1]
  return row and row[r.columns[1]]
end

local function cached(model, id)
  return redis.call("GET", ("modelcache:core.%s:%s:version"):format(model, id))
end

-- Count db.query/db.exec/db.rows calls while fn runs.
local function statements(fn)
  local n, saved = 0, {}
  for _, k in ipairs({ "query", "exec", "rows" }) do
    saved[k] = db[k]
    db[k] = function(...) n = n + 1; return saved[k](...) end
  end
  local ok, err = pcall(fn)
  for k, f in pairs(saved) do db[k] = f end
  if not ok then error(err, 0) end
  return n
end

local function reference()
  local f = assert(io.open(REF .. "/models.json"))
  local m = json.decode(f:read("a"))
  f:close()
  local out = {}
  for _, md in ipairs(m.models) do out[md.label] = md end
  return out
end

---------------------------------------------------------------- metadata

test("the metadata matches the live catalog: tables, columns in order, types, nullability", function()
  local meta = models.metadata()
  local tables = {}
  for _, md in ipairs(meta.models) do tables[md.table] = md.columns end
  for _, t in ipairs(meta.through) do tables[t.table] = t.columns end
  local live = db.query([[SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'django_migrations' ORDER BY 1]])
  local n = 0
  for _, r in ipairs(live) do
    ok(tables[r.relname], "a model or through table for " .. r.relname)
    n = n + 1
  end
  eq(56, n)
  for name, cols in pairs(tables) do
    local r = db.query([[SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS t, a.attnotnull
      FROM pg_attribute a WHERE a.attrelid = ('public.' || $1)::regclass AND a.attnum > 0
      AND NOT a.attisdropped ORDER BY a.attnum]], name)
    local got = {}
    for i, row in ipairs(r) do got[i] = row.attname end
    eq(cols, got, name .. " columns")
  end
  for _, md in ipairs(meta.models) do
    local r = db.query([[SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS t, a.attnotnull
      FROM pg_attribute a WHERE a.attrelid = ('public.' || $1)::regclass AND a.attnum > 0
      AND NOT a.attisdropped]], md.table)
    local live_cols = {}
    for _, row in ipairs(r) do live_cols[row.attname] = row end
    for _, f in ipairs(md.fields) do
      local c = live_cols[f.column]
      ok(c, md.label .. "." .. f.name .. " has a column")
      local t = f.db_type:gsub("^varchar", "character varying")
      eq(t, c.t, md.label .. "." .. f.name .. " type")
      eq(not f.null, c.attnotnull, md.label .. "." .. f.name .. " not null")
    end
  end
end)

test("metadata identifiers are plain names (quoted as they are)", function()
  local meta = models.metadata()
  for _, md in ipairs(meta.models) do
    ok(md.table:find("^[a-z_][a-z0-9_]*$"), md.table)
    for _, f in ipairs(md.fields) do ok(f.column:find("^[a-z_][a-z0-9_]*$"), f.column) end
    for _, m in ipairs(md.m2m or {}) do
      for _, s in ipairs({ m.through, m.source_column, m.target_column }) do
        ok(s:find("^[a-z_][a-z0-9_]*$"), s)
      end
    end
  end
end)

---------------------------------------------------------------- globals

test("every model is a lazy global by its Django name; auth.User is AuthUser", function()
  local lazy = getmetatable(_G).__lazy
  local names = models.names()
  eq(50, #names)
  local ref = reference()
  local seen = 0
  for _, name in ipairs(names) do
    eq("venueless.models", lazy[name], name .. " in __lazy")
    eq(models[name], _G[name], name .. " global")
    local label = models[name]._label
    ok(ref[label], label)
    eq(ref[label].name, label == "auth.User" and "User" or name)
    seen = seen + 1
  end
  eq(50, seen)
  eq("core.User", User._label)
  eq("auth.User", AuthUser._label)
  eq(models["core.User"], User)
  eq(models["auth.User"], AuthUser)
  eq(nil, models.NoSuchModel)
  eq("venueless.models", lazy.models)
  eq(models, _G.models)
end)

test("start-up loads no model code", function()
  local out = sh(os.getenv("VENUELESS") .. [[ shell -e 'return package.loaded["venueless.models"] == nil and package.loaded["venueless.models.meta"] == nil']])
  eq("true\n", out)
  out = sh(os.getenv("VENUELESS") .. [[ shell -e 'local _ = Poll; return package.loaded["venueless.models.meta"] ~= nil, Poll._label']])
  eq("true\tcore.Poll\n", out)
end)

---------------------------------------------------------------- create, defaults

local W, R, CH

test("create fills Django's defaults (models.json)", function()
  local ref = reference()
  W = World:create({ id = "mod1", title = "Models" })
  eq(2, W.version)
  eq("2", cached("World", "mod1"))
  ok(W.vapid_private_key:find("BEGIN"), "World.save made a VAPID key")
  local rdef = {}
  for _, f in ipairs(ref["core.World"].fields) do rdef[f.name] = f end
  eq(json.encode(rdef.roles.default_value), json.encode(W.roles))
  eq(json.encode(rdef.trait_grants.default_value), json.encode(W.trait_grants))
  eq(json.encode(rdef.feature_flags.default_value), json.encode(W.feature_flags))
  eq(rdef.locale.default, W.locale)
  eq(rdef.timezone.default, W.timezone)
  R = Room:create({ world = W, name = "Hall" })
  ok(R.id:find("^%x+%-%x+%-4%x+%-%x+%-%x+$"), R.id)
  eq("mod1", R.world_id)
  for _, f in ipairs(ref["core.Room"].fields) do
    if f.name == "version" then
      eq(f.default + 1, R.version, "a new row is stored with version 2")
    elseif f.default_value ~= nil then
      eq(json.encode(f.default_value), json.encode(R[f.attname]), "Room." .. f.name)
    elseif f.has_default and type(f.default) ~= "string" or (type(f.default) == "string"
        and not f.default:find("^callable:")) then
      eq(json.encode(f.default), json.encode(R[f.attname] == nil and json.null or R[f.attname]), "Room." .. f.name)
    end
  end
  eq(2, R.version)
  eq("2", cached("Room", R.id))
  local u = User:create({ world = W, profile = {}, traits = { "a" } })
  eq("", u.moderation_state)
  eq("person", u.type)
  eq(true, u.show_publicly)
  eq(false, u.deleted)
  eq("{}", json.encode(u.client_state))
  eq(2, u.version)
  local t = ShortToken:create({ world = W, expires = "2030-01-01 00:00:00+00", long_token = "x" })
  ok(t.short_token:find("^[A-Za-z0-9]+$") and #t.short_token == 24, t.short_token)
  local a = AuthUser:create({ username = "admin" })
  ok(a.id > 0)
  ok(a.date_joined:find("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d"), a.date_joined)
  eq(true, a.is_active)
  eq("", a.password)
end)

---------------------------------------------------------------- lookups

test("filters: Django's lookups", function()
  for i = 1, 6 do
    User:create({ world = W, profile = { display_name = "User " .. i, n = i },
      traits = i % 2 == 0 and { "admin", "t" .. i } or { "t" .. i },
      client_id = i <= 3 and ("Client_%d%%"):format(i) or nil,
      pretalx_id = tostring(i), deleted = i == 6 })
  end
  local U = User:filter({ world_id = "mod1", client_state = {} })
  eq(7, U:count())
  eq(3, U:filter({ traits__contains = { "admin" } }):count())
  eq(1, U:filter({ traits__contains = { "admin", "t4" } }):count())
  eq(1, U:filter({ profile__contains = { n = 2 } }):count())
  eq(6, U:filter({ profile__has_key = "n" }):count())
  eq(1, U:filter({ client_id = "Client_1%" }):count())
  eq(1, U:filter({ client_id__iexact = "client_1%" }):count())
  eq(3, U:filter({ client_id__contains = "_" }):count())
  eq(1, U:filter({ client_id__contains = "2%" }):count(), "% is literal")
  eq(0, U:filter({ client_id__contains = "client" }):count())
  eq(3, U:filter({ client_id__icontains = "client" }):count())
  eq(3, U:filter({ client_id__startswith = "Client" }):count())
  eq(3, U:filter({ client_id__istartswith = "cLIENT" }):count())
  eq(1, U:filter({ client_id__endswith = "3%" }):count())
  eq(4, U:filter({ client_id__isnull = true }):count())
  eq(3, U:filter({ client_id__isnull = false }):count())
  eq(4, U:filter({ pretalx_id__gte = "3" }):count())
  eq(2, U:filter({ pretalx_id__in = { "1", "2", "99" } }):count())
  eq(0, U:filter({ pretalx_id__in = {} }):count())
  eq(3, U:filter({ pretalx_id__range = { "2", "4" } }):count())
  eq(2, U:filter({ pretalx_id__gt = "4" }):count())
  eq(1, U:filter({ pretalx_id__lt = "2" }):count())
  eq(2, U:filter({ pretalx_id__lte = "2" }):count())
  eq(1, U:filter({ deleted = true }):count())
  eq(7, User:filter({ world = W }):count(), "an object for a foreign key")
  eq(7, User:filter({ world__in = { W } }):count())
  eq(7, User:filter({ world__pk = "mod1" }):count())
end)

test("exclude keeps rows whose compared value is NULL, as Django does", function()
  local U = User:filter({ world_id = "mod1" })
  eq(6, U:exclude({ client_id = "Client_1%" }):count())
  eq(6, U:exclude({ deleted = true }):count())
  eq(5, U:exclude({ deleted = true }):exclude({ client_id__startswith = "Client_2" }):count())
  eq(2, U:filter({ pretalx_id__in = { "1", "2", "5" } }):exclude({ client_id = "Client_1%", pretalx_id = "1" }):count())
end)

test("misuse raises naming the field or lookup", function()
  raises(function() User:filter({ nosuch = 1 }) end, "User has no field 'nosuch'")
  raises(function() User:filter({ world__nosuch = 1 }) end, "World has no field 'nosuch'")
  raises(function() User:filter({ deleted__like = 1 }) end, "unknown lookup 'like'")
  raises(function() User:filter({ deleted__title = 1 }) end, "unknown lookup 'title'")
  raises(function() User:filter({ deleted__title__exact = 1 }) end, "User.deleted is not a foreign key")
  raises(function() User:filter({ deleted__isnull = 1 }) end, "expected a boolean")
  raises(function() User:filter({ client_id = {} }) end, "expected a string")
  raises(function() User:filter({ pretalx_id__contained_by = {} }) end, "only for JSON")
  raises(function() User:order("-nosuch") end, "User has no field 'nosuch'")
  raises(function() User:limit(-1) end, "non%-negative integer")
  raises(function() User:select_related("deleted") end, "not a foreign key")
  raises(function() User:values("nosuch") end, "no field 'nosuch'")
  raises(function() User:all():update({ nosuch = 1 }) end, "User has no field 'nosuch'")
  raises(function() User:update({ deleted = true }) end, "User has no attribute 'update'")
  raises(function() User:delete() end, "User has no attribute 'delete'")
  raises(function() return User.nosuch end, "User has no attribute 'nosuch'")
  raises(function() User.x = 1 end, "read%-only")
  local qs = User:all()
  raises(function() qs.x = 1 end, "immutable")
  raises(function() return qs:nosuch() end, "no method 'nosuch'")
end)

test("querysets are immutable and compile to one parameterised statement", function()
  local base = User:filter({ world_id = "mod1" })
  local a = base:filter({ deleted = true })
  eq(7, base:count())
  eq(1, a:count())
  local s, p = ChatEvent:filter({ channel__room__world_id = "x'; DROP TABLE core_user; --" })
    :order("-timestamp"):limit(20):sql()
  ok(s:find('JOIN "core_channel" t1 ON t1."id" = t0."channel_id"', 1, true), s)
  ok(s:find('LEFT JOIN "core_room" t2 ON t2."id" = t1."room_id"', 1, true), s)
  ok(s:find('WHERE t2."world_id" = $1 ORDER BY t0."timestamp" DESC LIMIT $2', 1, true), s)
  ok(not s:find("DROP", 1, true))
  eq({ n = 2, "x'; DROP TABLE core_user; --", 20 }, p)
  eq(1, statements(function() a:count() end))
end)

---------------------------------------------------------------- joins, relations

test("joins across foreign keys, reverse relations, one-to-one, many-to-many", function()
  CH = Channel:create({ world = W, room = R })
  local other = World:create({ id = "mod2", title = "Other" })
  local r2 = Room:create({ world = other, name = "Elsewhere" })
  local ch2 = Channel:create({ world = other, room = r2 })
  local u = User:filter({ world_id = "mod1" }):order("pretalx_id"):first()
  for i = 1, 3 do
    ChatEvent:create({ channel = CH, timestamp = ("2024-01-0%d 10:00:00+00"):format(i),
      event_type = "channel.message", content = { body = "hi " .. i }, sender = u })
  end
  ChatEvent:create({ channel = ch2, timestamp = "2024-01-09 10:00:00+00", event_type = "channel.message",
    content = { body = "other" } })
  eq(3, ChatEvent:filter({ channel__room__world_id = "mod1" }):count())
  eq(3, ChatEvent:filter({ channel__room = R }):count())
  eq(1, ChatEvent:filter({ channel__room__name__icontains = "elsew" }):count())
  eq(3, ChatEvent:filter({ sender__world__title = "Models" }):count())
  eq("hi 3", ChatEvent:filter({ channel__room = R }):order("-timestamp"):first().content.body)
  eq(1, ChatEvent:exclude({ channel__room__world_id = "mod1" }):count())
  -- relations
  eq(W, u.world)
  eq("Models", u.world.title)
  eq(1, W.rooms:count())
  eq("Hall", W.rooms:first().name)
  eq(7, W.user_set:count())
  eq(CH, R.channel)
  eq(nil, Room:create({ world = W, name = "No chat" }).channel)
  eq(3, CH.chat_events:count())
  eq(3, u.chat_events:count())
  eq(R, CH.room)
  -- many-to-many through the through table
  local v = User:filter({ world_id = "mod1" }):order("-pretalx_id"):first()
  db.exec("INSERT INTO core_user_blocked_users (from_user_id, to_user_id) VALUES ($1, $2)", u.id, v.id)
  eq(v, u.blocked_users:first())
  eq(1, u.blocked_users:count())
  eq(u, v.blocked_by:first())
  eq(0, v.blocked_users:count())
  raises(function() return u.nosuch end, "User has no field 'nosuch'")
  raises(function() u.rooms = 1 end, "User has no field 'rooms'")
  raises(function() u.chat_events = 1 end, "is a relation")
end)

test("a forward relation is fetched once; select_related fetches it in the same statement", function()
  local e = ChatEvent:filter({ channel = CH }):first()
  eq(1, statements(function() local _ = e.channel.name end))
  eq(0, statements(function() local _ = e.channel.name end))
  local list
  eq(1, statements(function() list = ChatEvent:filter({ channel = CH }):select_related("channel__room", "sender"):list() end))
  eq(3, #list)
  eq(0, statements(function()
    for _, x in ipairs(list) do
      eq("Hall", x.channel.room.name)
      eq("mod1", x.sender.world_id)
    end
  end))
  local lone = ChatEvent:filter({ channel__room__name = "Elsewhere" }):select_related("sender"):first()
  eq(0, statements(function() eq(nil, lone.sender) end))
end)

---------------------------------------------------------------- reading

test("order, limit, offset, first, get, exists, values", function()
  local U = User:filter({ world_id = "mod1", pretalx_id__isnull = false })
  local ids = {}
  for i, x in ipairs(U:order("-pretalx_id"):list()) do ids[i] = x.pretalx_id end
  eq({ "6", "5", "4", "3", "2", "1" }, ids)
  ids = {}
  for i, x in ipairs(U:order("pretalx_id"):offset(2):limit(2):list()) do ids[i] = x.pretalx_id end
  eq({ "3", "4" }, ids)
  eq(2, U:order("pretalx_id"):offset(4):limit(9):count())
  eq("1", U:order("pretalx_id"):first().pretalx_id)
  eq(nil, U:filter({ pretalx_id = "none" }):first())
  eq("3", U:get({ pretalx_id = "3" }).pretalx_id)
  fails("User matching query does not exist", U:get({ pretalx_id = "none" }))
  local _, _, code = U:get({ pretalx_id = "none" })
  eq("notfound", code)
  _, _, code = U:get()
  eq("multiple", code)
  fails("more than one User", U:get())
  eq(true, U:exists())
  eq(false, U:filter({ pretalx_id = "none" }):exists())
  eq(false, U:order("pretalx_id"):offset(6):exists())
  eq({ { pretalx_id = "1", world__title = "Models" }, { pretalx_id = "2", world__title = "Models" } },
    U:order("pretalx_id"):limit(2):values("pretalx_id", "world__title"))
  local v = U:order("pretalx_id"):values()[1]
  eq("1", v.pretalx_id)
  eq("mod1", v.world_id)
  eq(json.array({ "t1" }), v.traits)
  eq(nil, v.client_state.x)
  eq(2, #Room:filter({ world_id = "mod1" }):list(), "Meta.ordering applies")
  eq("Hall", Room:filter({ world_id = "mod1" }):order("name"):first().name)
  eq("No chat", Room:filter({ world_id = "mod1" }):order("-name"):first().name)
  eq(User.objects:filter({ world_id = "mod1" }):count(), User:filter({ world_id = "mod1" }):count())
end)

test("each streams many rows in bounded memory and stops early", function()
  db.exec([[INSERT INTO core_user (id, world_id, version, moderation_state, type, show_publicly,
    profile, client_state, traits, deleted, pretalx_id)
    SELECT gen_random_uuid(), 'mod2', 1, '', 'person', true, jsonb_build_object('n', g), '{}',
      ARRAY['bulk'], false, 'b' || g FROM generate_series(1, 20000) g]])
  collectgarbage()
  local base, peak, n, sum = collectgarbage("count"), 0, 0, 0
  for u in User:filter({ world_id = "mod2", traits__contains = { "bulk" } }):each() do
    n = n + 1
    sum = sum + u.profile.n
    if n % 1000 == 0 then peak = math.max(peak, collectgarbage("count") - base) end
  end
  eq(20000, n)
  eq(20000 * 20001 // 2, sum)
  ok(peak < 8 * 1024, ("memory grew by %.0f KB"):format(peak))
  n = 0
  for _ in User:filter({ world_id = "mod2" }):each() do
    n = n + 1
    if n == 10 then break end
  end
  eq(10, n)
  eq(20000, User:filter({ world_id = "mod2" }):count(), "the connection works after a break")
end)

test("each runs the collector in generational mode and restores the mode after, on break and on error", function()
  local function mode()	-- the current mode, left as it was
    local m = collectgarbage("incremental")
    collectgarbage(m)
    return m
  end
  eq("incremental", mode())
  local inside
  for _ in User:filter({ world_id = "mod1" }):each() do inside = mode() end
  eq("generational", inside)
  eq("incremental", mode(), "after the last row")
  for _ in User:filter({ world_id = "mod1" }):each() do break end
  eq("incremental", mode(), "after a break")
  ok(not pcall(function() for _ in User:filter({ world_id = "mod1" }):each() do error("x") end end))
  eq("incremental", mode(), "after an error")
  collectgarbage("generational")
  for _ in User:filter({ world_id = "mod1" }):each() do end
  eq("generational", mode(), "a generational caller keeps its mode")
  collectgarbage("incremental")
end)

test("each: a failure in a later batch raises; a break inside a transaction keeps it", function()
  local Q = require "venueless.models.queryset"
  -- 1 / 0 at the 1500th row of the scan, in insertion order ('b1500' of the 20000 above)
  local failing = Q.new(User, function(ctx, alias)
    return ("1 / (CASE WHEN %s.pretalx_id = %s THEN 0 ELSE 1 END) = 1"):format(alias, ctx:param("b1500"))
  end):filter({ world_id = "mod2" })
  local n = 0
  local err = raises(function() for _ in failing:each() do n = n + 1 end end)
  eq("22012", err.code)
  ok(n >= 1000 and n < 20000, "objects before the failure: " .. n)
  eq(20000, User:filter({ world_id = "mod2" }):count(), "the connection works after the failure")
  local seen
  db.transaction(function()
    db.exec("UPDATE core_user SET pretalx_id = $1 WHERE pretalx_id = $2", "first", "b1")
    for u in User:filter({ world_id = "mod2" }):order("pretalx_id"):each() do seen = u.pretalx_id break end
    eq(1, User:filter({ pretalx_id = "first" }):count(), "the transaction goes on after the loop")
  end)
  eq("b10", seen)
  eq(1, User:filter({ pretalx_id = "first" }):count(), "and commits")
end)

---------------------------------------------------------------- writing

test("objects are strict: unknown fields, read-only id and version, types", function()
  local u = User:filter({ world_id = "mod1" }):first()
  raises(function() return u.nosuch end, "User has no field 'nosuch'")
  raises(function() u.nosuch = 1 end, "User has no field 'nosuch'")
  raises(function() u.id = "x" end, "User.id is read%-only")
  raises(function() u.version = 9 end, "User.version is read%-only")
  raises(function() u.deleted = "yes" end, "User.deleted: a BooleanField cannot hold a string")
  raises(function() u.world = R end, "expected a World object")
  raises(function() u.world_id = 5 end, "cannot hold a integer")
  raises(function() User:new({ nosuch = 1 }) end, "User has no field 'nosuch'")
  eq(u.id, u.pk)
  eq("venueless.core.User", getmetatable(u).__name)
  eq("<User " .. u.id .. ">", tostring(u))
  local keys = {}
  for k in pairs(u) do keys[#keys + 1] = k end
  eq("version", keys[1])
  eq("id", keys[2])
end)

test("save writes the changed fields only; versioned saves publish the cache", function()
  local u = User:filter({ world_id = "mod1", pretalx_id = "2" }):first()
  local v0 = u.version
  db.exec("UPDATE core_user SET token_id = 'set behind its back' WHERE id = $1", u.id)
  u.client_id = "changed"
  eq(u, u:save())
  eq(v0 + 1, u.version)
  eq(tostring(v0 + 1), cached("User", u.id))
  eq("set behind its back", one("SELECT token_id FROM core_user WHERE id = $1", u.id))
  eq("changed", one("SELECT client_id FROM core_user WHERE id = $1", u.id))
  -- nothing changed: no statement at all
  eq(0, statements(function() u:save() end))
  -- jsonb changed in place counts as changed
  u.profile.display_name = "Renamed"
  u:save()
  eq("Renamed", json.decode(one("SELECT profile::text FROM core_user WHERE id = $1", u.id)).display_name)
  eq(v0 + 2, u.version)
  u.world = W
  u.traits = { "x", "y" }
  u:save()
  eq('["x", "y"]', one("SELECT to_jsonb(traits)::text FROM core_user WHERE id = $1", u.id))
  -- reload
  db.exec("UPDATE core_user SET client_id = 'db' WHERE id = $1", u.id)
  eq(u, u:reload())
  eq("db", u.client_id)
  -- a bare db.transaction cannot publish after its commit
  raises(function() db.transaction(function() u.client_id = "t"; u:save() end) end, "worlds.transaction")
  -- worlds.transaction batches the publishes after the commit
  local a = User:filter({ world_id = "mod1", pretalx_id = "3" }):first()
  local b = User:filter({ world_id = "mod1", pretalx_id = "4" }):first()
  worlds.transaction(function()
    a.client_id = "A"; a:save()
    b.client_id = "B"; b:save()
    eq(tostring(a.version - 1), cached("User", a.id), "not before the commit")
  end)
  eq(tostring(a.version), cached("User", a.id))
  eq(tostring(b.version), cached("User", b.id))
  -- a row that went away
  local gone = User:create({ world = W, profile = {}, traits = {} })
  db.exec("DELETE FROM core_user WHERE id = $1", gone.id)
  gone.client_id = "x"
  fails("does not exist", gone:save())
end)

test("jsonb and arrays are decoded when first read: saves, in-place changes, listings", function()
  local pretty = require "venueless.pretty"
  local O = require "venueless.models.object"
  local u = User:create({ world = W, client_id = "lazy", profile = { display_name = "Lazy" },
    traits = { "a" }, client_state = { n = 1 } })
  local function fresh() return User:get({ id = u.id }) end
  -- never read: not written back, although another field is
  local x = fresh()
  db.exec([[UPDATE core_user SET profile = '{"display_name": "behind"}', traits = '{b}' WHERE id = $1]], u.id)
  x.client_id = "lazy2"
  x:save()
  eq('{"display_name": "behind"}', one("SELECT profile::text FROM core_user WHERE id = $1", u.id))
  eq("{b}", one("SELECT traits::text FROM core_user WHERE id = $1", u.id))
  eq("lazy2", one("SELECT client_id FROM core_user WHERE id = $1", u.id))
  -- read, not changed: nothing to save
  x = fresh()
  eq("behind", x.profile.display_name)
  eq({ "b" }, x.traits)
  eq(0, statements(function() x:save() end))
  -- read and changed in place: saved, and read back after the save
  x.traits[#x.traits + 1] = "c"
  x.client_state.n = 2
  x:save()
  eq('["b", "c"]', one("SELECT to_jsonb(traits)::text FROM core_user WHERE id = $1", u.id))
  eq(2, json.decode(one("SELECT client_state::text FROM core_user WHERE id = $1", u.id)).n)
  eq({ "b", "c" }, x.traits)
  eq(2, x.client_state.n)
  eq("behind", x.profile.display_name)
  -- assigned before it was ever read: the assigned value, not the stored text
  x = fresh()
  local p = { display_name = "assigned" }
  x.profile = p
  eq(p, x.profile)
  x:save()
  eq("assigned", fresh().profile.display_name)
  -- a jsonb string or number is decoded, not left as its JSON text
  db.exec([[UPDATE core_user SET client_state = '"plain"', profile = '7' WHERE id = $1]], u.id)
  x = fresh()
  eq("plain", x.client_state)
  eq(7, x.profile)
  db.exec([[UPDATE core_user SET client_state = '{"k": [1, {"z": null}]}', profile = '{}' WHERE id = $1]], u.id)
  -- listings see decoded values: pairs, the row, the printer, a list's rows
  x = fresh()
  local seen = {}
  for k, v in pairs(x) do seen[k] = v end
  eq(1, seen.client_state.k[1])
  eq("table", type(seen.traits))
  x = fresh()
  eq("table", type(O.row(x).client_state))
  x = fresh()
  local out = pretty.format(x, { color = false })
  ok(out:find('client_state%s+= {'), out)
  ok(not out:find('"k"', 1, true), "the printer shows tables, not JSON text: " .. out)
  local rows = pretty.rows_of({ fresh() })
  eq("table", type(rows[1].client_state))
  -- each and select_related objects decode too; one changed after the loop is saved
  local kept
  for y in User:filter({ id = u.id }):each() do kept = y end
  eq(1, kept.client_state.k[1])
  kept.client_state.k[1] = 5
  kept:save()
  eq(5, fresh().client_state.k[1])
  local m = Membership:create({ user = u, channel = CH })
  local mu = Membership:filter({ id = m.id }):select_related("user"):first().user
  eq(5, mu.client_state.k[1])
  eq(0, statements(function() mu:save() end))
  m:delete()
  u:delete()
end)

test("update sets fields in one statement; versioned rows bump and publish", function()
  local n = Question:filter({}):count()
  eq(0, n)
  local U = User:filter({ world_id = "mod1", pretalx_id__in = { "5", "6" } })
  local before = {}
  for _, u in ipairs(U:list()) do before[u.id] = u.version end
  eq(2, U:update({ show_publicly = false, client_state = { k = 1 } }))
  for _, u in ipairs(U:list()) do
    eq(before[u.id] + 1, u.version)
    eq(tostring(u.version), cached("User", u.id))
    eq(false, u.show_publicly)
    eq(1, u.client_state.k)
  end
  eq(1, ChatEvent:filter({ channel__room__world_id = "mod2" }):update({ edited = "2024-02-02 00:00:00+00" }))
  eq(1, ChatEvent:filter({ edited__isnull = false }):count())
  raises(function() U:update({ id = "x" }) end, "read%-only")
  raises(function() U:update({ version = 1 }) end, "read%-only")
end)

test("grants, memberships, staff, presenters touch their user; channels, exhibitors, posters their room", function()
  local u = User:filter({ world_id = "mod1", pretalx_id = "1" }):first()
  local function bumped(obj, model, fn)
    local v = one(("SELECT version FROM %s WHERE id = $1"):format(model == "User" and "core_user" or "core_room"), obj.id)
    fn()
    local now = one(("SELECT version FROM %s WHERE id = $1"):format(model == "User" and "core_user" or "core_room"), obj.id)
    eq(v + 1, now, model .. " touched")
    eq(tostring(now), cached(model, obj.id))
  end
  local g
  bumped(u, "User", function() g = RoomGrant:create({ world = W, room = R, user = u, role = "speaker" }) end)
  bumped(u, "User", function() g.role = "moderator"; g:save() end)
  bumped(u, "User", function() g:delete() end)
  eq(0, RoomGrant:filter({ user = u }):count())
  bumped(u, "User", function() WorldGrant:create({ world = W, user = u, role = "admin" }) end)
  bumped(u, "User", function() Membership:create({ channel = CH, user = u }) end)
  local ex
  bumped(R, "Room", function() ex = Exhibitor:create({ world = W, room = R, name = "Booth" }) end)
  bumped(u, "User", function() ExhibitorStaff:create({ exhibitor = ex, user = u }) end)
  local p
  bumped(R, "Room", function() p = Poster:create({ world = W, parent_room = R, title = "P" }) end)
  bumped(u, "User", function() PosterPresenter:create({ poster = p, user = u }) end)
  local r3 = Room:create({ world = W, name = "Third" })
  bumped(r3, "Room", function() Channel:create({ world = W, room = r3 }) end)
  -- a nullable user that is not set: nothing to touch
  ok(Membership:create({ channel = CH }))
end)

test("deleting a versioned object marks its cache key deleted", function()
  local u = User:create({ world = W, profile = {}, traits = {} })
  eq("2", cached("User", u.id))
  local r = u:delete()
  ok(r, "delete returns its result")
  eq(0, User:filter({ id = u.id }):count())
  eq("deleted", cached("User", u.id))
  eq(-1, redis.call("TTL", ("modelcache:core.User:%s:version"):format(u.id)))
  raises(function() u:delete() end, "not saved")
  local t = ShortToken:filter({ world = W }):first()
  t:delete()
  eq(0, ShortToken:filter({ world = W }):count())
  local q = Question:create({ room = R, content = "?", state = "mod_queue", timestamp = "2024-01-01 00:00:00+00" })
  eq(1, Question:filter({ room = R }):delete().tables.core_question.deleted)
  eq(nil, q:reload())
end)

test("a queryset delete cascades and marks every versioned row it removed", function()
  local a = User:create({ world = W, profile = {}, traits = {} })
  local b = User:create({ world = W, profile = {}, traits = {} })
  local room = Room:create({ world = W, name = "doomed" })
  local q = Question:create({ room = room, sender = a, content = "?", state = "mod_queue",
    timestamp = "2024-01-01 00:00:00+00" })
  local dry = Room:filter({ id = room.id }):delete({ dry_run = true })
  eq(1, dry.tables.core_question.deleted)
  eq(1, Room:filter({ id = room.id }):count(), "a dry run writes nothing")
  local r = Room:filter({ id = room.id }):delete()
  eq(1, r.tables.core_room.deleted)
  eq(1, r.tables.core_question.deleted)
  eq(nil, q:reload())
  eq("deleted", cached("Room", room.id))
  r = User:filter({ id__in = { a.id, b.id } }):delete()
  eq(2, r.tables.core_user.deleted)
  eq("deleted", cached("User", a.id))
  eq("deleted", cached("User", b.id))
  local c = User:create({ world = W, profile = {}, traits = {} })
  raises(function()
    db.transaction(function() User:filter({ id = c.id }):delete() end)
  end, "cache cannot follow the commit")
  eq(1, User:filter({ id = c.id }):count(), "refused, rolled back")
  worlds.transaction(function() User:filter({ id = c.id }):delete() end)
  eq("deleted", cached("User", c.id))
end)

test("chat event ids come from INCR chat.event_id, re-seeded from MAX(id)", function()
  local max = one("SELECT max(id) FROM core_chatevent")
  eq(tostring(max), redis.call("GET", "chat.event_id"))
  local function new()
    return ChatEvent:create({ channel = CH, timestamp = "2024-03-01 00:00:00+00",
      event_type = "channel.message", content = {} })
  end
  eq(max + 1, new().id)
  redis.call("DEL", "chat.event_id")		-- Redis lost the counter
  eq(max + 2, new().id)
  redis.call("SET", "chat.event_id", "1")	-- behind the table
  eq(max + 3, new().id)
  eq(tostring(max + 3), redis.call("GET", "chat.event_id"))
  eq(max + 100, ChatEvent:create({ id = max + 100, channel = CH, timestamp = "2024-03-01 00:00:00+00",
    event_type = "x", content = {} }).id)
end)

test("Poll.save keeps the tally of a closed poll, clears it otherwise", function()
  local p = Poll:create({ room = R, content = "?", timestamp = "2024-01-01 00:00:00+00" })
  eq("draft", p.state)
  eq(nil, p.cached_results)
  local o1 = PollOption:create({ poll = p, content = "a", order = 1 })
  local o2 = PollOption:create({ poll = p, content = "b", order = 2 })
  local u = User:filter({ world_id = "mod1" }):first()
  PollVote:create({ option = o1, sender = u })
  p.state = "closed"
  p:save()
  eq(1, p.cached_results[o1.id])
  eq(0, p.cached_results[o2.id])
  eq(1, Poll:get({ id = p.id }).cached_results[o1.id])
  p.state = "open"
  p:save()
  eq(nil, p.cached_results)
  eq(nil, Poll:get({ id = p.id }).cached_results)
end)
