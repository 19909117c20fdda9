-- The model layer in the shell: Tab completion of objects, querysets,
-- classes and filter{} keys (from the metadata, never running a query or
-- a call), the printer's objects, querysets and classes, and help(User).
local complete = require "venueless.complete"
local pretty = require "venueless.pretty"
local doc = require "venueless.doc"

migrations.apply({ verbosity = 0 })
W = World:create({ id = "explore", title = "Explore" })
for i = 1, 25 do
  User:create({ world = W, client_id = ("c%02d"):format(i), profile = { display_name = "U" .. i },
    traits = { "t" } })
end
U = User:filter({ world_id = "explore" }):order("client_id"):first()
R = Room:create({ world = W, name = "Hall" })

-- Statements the session's connection runs while fn does (db.trace).
local function statements(fn)
  local n = 0
  db.trace(function() n = n + 1 end)
  local ok, err = pcall(fn)
  db.trace(false)
  assert(ok, err)
  return n
end

-- The candidates for text (env: the session's globals).
local function C(text)
  return (complete.complete(text))
end

local function has(list, ...)
  local set = {}
  for _, c in ipairs(list) do set[c] = true end
  for _, want in ipairs({ ... }) do
    if not set[want] then error(("%s not among %s"):format(want, table.concat(list, " ")), 2) end
  end
end

---------------------------------------------------------------- completion

test("an object's fields, relations and methods", function()
  local list = C("U.")
  has(list, "id", "world_id", "world", "profile", "last_login", "pk", "room_grants",
    "chat_channels", "blocked_users", "blocked_by")
  eq({ "world", "world_grants", "world_id", "world_views" }, C("U.wor"))
  eq({ "delete(", }, C("U:del"), "a method, with its parenthesis")
  local l, _, hint = complete.complete("U:sa")
  eq({ "save(" }, l)
  eq(models._doc["object:save"].sig, hint)
  for _, c in ipairs(C("U:")) do ok(c ~= "world_id", "no fields after ':'") end
end)

test("relations are typed, never fetched; jsonb fields are values", function()
  eq(0, statements(function()
    eq({ "title", "timezone" }, (function()
      local l = C("U.world.ti")
      table.sort(l, function(a, b) return a > b end)
      return l
    end)())
    has(C("U.world."), "rooms", "user_set", "id")
    has(C("U.world:"), "save", "touch")
    eq({ "display_name" }, C("U.profile.disp"))
    has(C("U.room_grants:"), "filter", "count", "each")
    has(C("R.channel."), "room", "chat_events")
  end))
end)

test("a world from worlds.get completes its fields and methods", function()
  local w = worlds.get("explore")
  local env = setmetatable({ w = w }, { __index = _G })
  local l = complete.complete("w.", env)
  has(l, "id", "title", "config", "feature_flags")
  has(complete.complete("w:", env), "save", "add_room")
end)

test("classes and querysets from the syntax, no call evaluated", function()
  eq(0, statements(function()
    eq({ "filter(" }, C("User:fil"))
    local _, _, hint = complete.complete("User:fil")
    eq(models._doc["queryset:filter"].sig, hint, "the queryset method's hint")
    has(C("User:"), "filter", "exclude", "get", "create", "new", "count", "values")
    eq({ "objects" }, C("User.ob"))
    has(C("User.objects:"), "filter", "count")
    eq({ "order", "order_by" }, C("User:filter{world_id = 'x'}:ord"))
    eq({ "order", "order_by" }, C('User:filter({deleted = false}):exclude{type = "x"}:ord'))
    eq({ "limit(" }, C('User:order("-last_login"):lim'))
    eq({ "world", "world_grants", "world_id", "world_views" }, C("User:first().wor"))
    eq({ "title" }, C('User:get{id = "x"}.world.titl'))
    has(C("ChatEvent:filter{}:first().channel."), "room", "chat_events")
    eq({}, C("f():"), "a call of anything else completes nothing")
  end))
end)

test("field names and lookups inside filter{, exclude{, get{", function()
  eq(0, statements(function()
    eq({ "world__", "world_id" }, C("User:filter{wor"))
    eq({ "world__", "world_id" }, C("User:filter({wor"))
    eq({ "deleted" }, C("User:exclude{world_id = 'x', del"))
    eq({ "deleted" }, C("User:filter{}:get{del"))
    local l = C("User:filter{last_login__")
    has(l, "last_login__gte", "last_login__isnull", "last_login__in", "last_login__range",
      "last_login__exact")
    for _, c in ipairs(l) do ok(not c:find("has_key"), "no JSON lookups on a timestamp") end
    has(C("User:filter{profile__"), "profile__has_key", "profile__contains")
    has(C("User:filter{traits__"), "traits__overlap", "traits__contains")
    eq({ "world__timezone", "world__title" }, C("User:filter{world__ti"))
    has(C("User:filter{world__"), "world__in", "world__isnull", "world__id")
    eq({ "channel__room__world__", "channel__room__world_id" },
      C("ChatEvent:filter{channel__room__wor"))
    eq({}, C("User:filter{nosuch__"))
    eq({ "deleted" }, C("User:filter{}:update{del"), "update: the model's fields")
    has(C("Room:create{wor"), "world", "world_id")
  end))
  has(C("User:filter{world_id = de"), "debug") -- a value is an expression
end)

test("field paths inside order, values and select_related strings", function()
  eq({ "-last_login" }, C('User:order("-last_l'))
  eq({ "client_id", "client_state" }, C('User:values("clie'))
  eq({ "world__title" }, C('User:values("world__tit'))
  eq({ "channel", "channel__" }, C('ChatEvent:select_related("chan'))
  eq({ "channel__room", "channel__room__" }, C('ChatEvent:select_related("channel__ro'))
end)

test("through the shell's completer with session locals", function()
  local repl = require "venueless.repl"
  local s = repl.session()
  local f, names = repl.compile(s, 'local e = User:filter{world_id = "explore"}:first()')
  repl.run_chunk(s, f, names)
  eq({ "world_id" }, (complete.complete("e.world_i", s.env)))
end)

---------------------------------------------------------------- printing

local function fmt(v)
  return pretty.format(v, { color = false })
end

test("an object prints as its fields", function()
  local old = pretty.width
  pretty.width = 200
  local s = fmt(U)
  local lines = {}
  for l in s:gmatch("[^\n]+") do lines[#lines + 1] = l end
  eq("<core.User " .. U.id .. ">", lines[1])
  eq(1 + #User._meta.fields, #lines, "a line per field")
  ok(s:find('\n  client_id%s+= "c01"\n'), s)
  ok(s:find("\n  last_login%s+= nil\n"), "NULL as nil: " .. s)
  ok(s:find('\n  profile%s+= { display_name = "U1" }\n'), s)
  ok(s:find('\n  world_id%s+= "explore"\n'), s)
  eq("{ x = <User " .. U.id .. "> }", fmt({ x = U }), "nested: its short form")
  ok(fmt(User:new()):find("^<core.User [%x-]+>"), "a new object has its uuid")
  pretty.width = old
end)

test("secret fields are masked in print, not in the value", function()
  local a = AuthUser:create({ username = "root", password = "pbkdf2_sha256$1$salt$hash" })
  local s = fmt(a)
  ok(s:find("\n  password%s+= %*%*%*\n"), s)
  ok(not s:find("pbkdf2", 1, true), s)
  eq("pbkdf2_sha256$1$salt$hash", a.password)
  local w = fmt(worlds.get("explore"))
  ok(w:find('^<core.World explore>\n'), w)
  ok(w:find('\n  id%s+= "explore"\n'), w)
  ok(w:find("vapid_private_key%s+= %*%*%*"), w)
  ok(not fmt(AuthUser:filter{ username = "root" }):find("pbkdf2", 1, true), "nor in rows")
end)

test("a queryset prints its rows, at most 20, running one statement", function()
  local old = pretty.width
  pretty.width = 1000
  local s
  eq(1, statements(function() s = fmt(User:filter({ world_id = "explore" }):order("client_id")) end))
  local rows = {}
  for l in s:gmatch("[^\n]+") do rows[#rows + 1] = l end
  ok(rows[1]:find("^ version | id "), rows[1])
  eq(2 + 20 + 1, #rows, "header, rule, 20 rows, the more line")
  ok(rows[3]:find("| c01 ") and rows[22]:find("| c20 "), s)
  eq("… more rows (:count() counts them)", rows[23])
  s = fmt(User:filter({ world_id = "explore" }):order("client_id"):limit(3))
  ok(s:find("(3 rows)", 1, true) and not s:find("more", 1, true), s)
  s = fmt(User:filter({ world_id = "explore" }):order("client_id"):offset(23))
  ok(s:find("| c24 ") and s:find("(2 rows)", 1, true), s)
  eq("<queryset core.User: no rows>", fmt(User:filter({ client_id = "none" })))
  s = fmt(User:filter({ world_id = "explore" }):order("client_id"):limit(2):list())
  ok(s:find("| c02 ") and s:find("(2 rows)", 1, true), "a list of objects too: " .. s)
  eq("{ <queryset User> }", fmt({ User:all() }), "nested: not run")
  pretty.width = old
end)

test("a class prints as its name and table", function()
  eq("<model User core.User, table core_user>\n  help(User) lists its fields, relations and methods",
    fmt(User))
  eq("<model AuthUser auth.User, table auth_user>", fmt(AuthUser):match("^[^\n]+"))
end)

---------------------------------------------------------------- help

test("help(User) lists fields with types, relations and methods", function()
  local t = doc.help_text(User)
  ok(t:find("^User %(core.User%): table core_user, versioned"), t)
  ok(t:find("\n  world%s+ForeignKey%s+varchar%(50%), %-> World %(world_id%), on_delete CASCADE\n"), t)
  ok(t:find("\n  last_login%s+DateTimeField%s+timestamp with time zone, null\n"), t)
  ok(t:find("\n  room_grants%s+queryset of RoomGrant %(by RoomGrant.user%)\n"), t)
  ok(t:find("\n  blocked_users%s+queryset of User %(many%-to%-many, core_user_blocked_users%)\n"), t)
  ok(t:find("\n  object:save%(%)"), t)
  ok(t:find("\n  queryset:filter{"), t)
  eq(t, doc.help_text("User"))
  eq(t, doc.help_text(U), "help(obj): its model")
  ok(doc.help_text(User:all()):find("^queryset of User"), "help(queryset)")
  ok(doc.help_text("ChatEvent"):find("\n  sender%s+ForeignKey%s+uuid, null, %-> User %(sender_id%), on_delete SET_NULL\n"))
  ok(doc.help_text(Room):find("\n  channel%s+the Channel %(by Channel.room%)\n"), "a reverse one-to-one")
end)
