-- The migrations Lua API: list, plan, apply, use, lock_holder.
local core = require "venueless.core"

local SQUASHES = {
  "contenttypes.0001_initial_squashed_0002_remove_content_type_name",
  "auth.0001_initial_squashed_0012_alter_user_first_name_max_length",
  "control.0001_initial_squashed_0002_auto_20210601_1751",
  "core.0001_initial_squashed_0067_world_vapid_private_key_world_vapid_public_key_and_more",
  "sessions.0001_initial",
  "storage.0001_initial_squashed_0003_auto_20201002_1604",
}

local function keys(units)
  local t = {}
  for i, u in ipairs(units) do t[i] = u.app .. "." .. u.name end
  return t
end

test("an empty database: everything pending, nothing created", function()
  eq(SQUASHES, keys(migrations.plan()))
  local list = migrations.list()
  eq(87, #list)
  eq({ "auth", "contenttypes", "control", "core", "sessions", "social", "storage" }, list.apps)
  eq({ app = "contenttypes", name = "0001_initial", applied = false,
    squashed_into = "0001_initial_squashed_0002_remove_content_type_name",
    dependencies = {} }, list[1])
  eq({ app = "sessions", name = "0001_initial", applied = false, dependencies = {} }, list[84])
  -- Django's graph: auth.0006_require_contenttypes_0002 declares both.
  eq("auth.0006_require_contenttypes_0002", list[8].app .. "." .. list[8].name)
  eq({ "auth.0005_alter_user_last_login_null", "contenttypes.0002_remove_content_type_name" },
    list[8].dependencies)
  eq({ "auth.0001_initial" }, list[4].dependencies)
  local res = migrations.apply({ check = true })
  eq(true, res.pending)
  eq(SQUASHES, keys(res.plan))
  eq({ "auth", "contenttypes", "control", "core", "sessions", "storage" }, res.header.apps)
  -- The squashes apply together: the header names every app they bring.
  res = migrations.apply({ check = true, app = "auth" })
  eq(SQUASHES, keys(res.plan))
  eq({ "auth", "contenttypes", "control", "core", "sessions", "storage" }, res.header.apps)
  res = migrations.apply({ check = true, app = "auth", target = "0003" })
  eq(SQUASHES, keys(res.plan))
  eq({ "contenttypes", "control", "core", "sessions", "storage" }, res.header.apps)
  eq(SQUASHES[2], res.header.target.key)
  eq(db.NULL, db.query("SELECT to_regclass('django_migrations') AS r")[1].r)
end)

test("apply, then nothing to do", function()
  local events = {}
  local res = migrations.apply({ progress = function(ev, u)
    events[#events + 1] = ev .. (u and " " .. u.key or "")
  end })
  eq(SQUASHES, keys(res.applied))
  eq({ content_types = 50, permissions = 200 }, res.post_migrate)
  eq("plan", events[1])
  eq("apply_start " .. SQUASHES[1], events[2])
  eq("apply_success " .. SQUASHES[1], events[3])
  eq(13, #events)
  local list = migrations.list()
  for _, m in ipairs(list) do
    ok(m.applied, m.app .. "." .. m.name)
    ok(m.applied_at:match("^%d%d%d%d%-%d%d%-%d%d %d%d:%d%d:%d%d$"), m.applied_at)
  end
  eq({}, migrations.plan())
  eq({ apps = { "auth" } }, migrations.apply({ check = true, app = "auth" }).header)
  res = migrations.apply()
  eq({}, res.applied)
  eq(false, res.pending)
  eq(nil, res.post_migrate)
  eq(87, db.query("SELECT count(*) AS n FROM django_migrations")[1].n)
end)

test("a set with a migration after the squash", function()
  local base = require "venueless.migrations.index"
  local list = { table.unpack(base.migrations) }
  list[#list + 1] = { app = "core", name = "0068_world_note",
    sql = "ALTER TABLE core_world ADD COLUMN note text" }
  migrations.use({ apps = base.apps, migrations = list })
  eq({ "core.0068_world_note" }, keys(migrations.plan()))
  eq({ "core.0068_world_note" }, keys(migrations.plan({ app = "core", target = "0068" })))
  local l = migrations.list({ apps = { "core" } })
  eq({ "core.0067_world_vapid_private_key_world_vapid_public_key_and_more" },
    l[#l].dependencies)
  local res = migrations.apply()
  eq({ "core.0068_world_note" }, keys(res.applied))
  l = migrations.list()
  eq(88, #l)
  eq("0068_world_note", l[88].name)
  eq(true, l[88].applied)
  migrations.use(nil)
  eq(87, #migrations.list())
end)

test("bad sets raise", function()
  raises(function() migrations.plan({ set = { migrations = { { app = "x" } } } }) end,
    "expected a table with app and name")
  raises(function()
    migrations.plan({ set = { migrations = {
      { app = "a", name = "0001", dependencies = { { "b", "0001" } } },
      { app = "b", name = "0001" } } } })
  end, "a.0001 depends on b.0001, which is not listed before it")
  raises(function() migrations.use(42) end, "module name or table expected")
end)

test("an app or migration that names nothing: a usage error, Django's message", function()
  local e = raises(function() migrations.plan({ app = "nope" }) end,
    "^No installed app with label 'nope'%.$")
  eq(core.exit.usage, e.exit)
  e = raises(function() migrations.list({ apps = { "auth", "nope" } }) end,
    "^No installed app with label 'nope'%.$")
  eq(core.exit.usage, e.exit)
  e = raises(function() migrations.apply({ app = "social" }) end,
    "^App 'social' does not have migrations%.$")
  eq(core.exit.usage, e.exit)
  e = raises(function() migrations.apply({ app = "core", target = "9999" }) end,
    "^Cannot find a migration matching '9999' from app 'core'%.$")
  eq(core.exit.usage, e.exit)
  eq(false, db.in_transaction())
end)

test("lock holder", function()
  eq(nil, migrations.lock_holder())
  eq("pid 7 (venueless migrate) for 1.5 s", migrations.describe_holder(
    { pid = 7, application_name = "venueless migrate", seconds = 1.5 }))
  eq("pid 7", migrations.describe_holder({ pid = 7, application_name = "" }))
  db.transaction(function()
    db.query("SELECT pg_advisory_xact_lock($1::bigint)", migrations.lock_key)
    local h = migrations.lock_holder()
    eq(db.backend_pid(), h.pid)
  end)
end)

test("a partial history raises inconsistent", function()
  db.exec("DELETE FROM django_migrations WHERE app = 'auth' AND name >= '0011'")
  local e = raises(function() migrations.plan() end, "85 of 87 applied")
  ok(core.is_error(e))
  eq(core.exit.inconsistent, e.exit)
  ok(tostring(e):find("auth 0010_alter_group_name_max_length", 1, true))
  e = raises(function() migrations.apply() end, "part%-way")
  eq(core.exit.inconsistent, e.exit)
  eq(86, db.query("SELECT count(*) AS n FROM django_migrations")[1].n)
end)
