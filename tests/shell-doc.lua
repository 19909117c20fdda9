-- The API metadata behind help(), the completer's hints and the man
-- page: every _doc entry names a real function, has a sig and a text,
-- and venueless-lua(7) documents it.
local doc = require "venueless.doc"

local function man_page()
  local f = assert(io.open(os.getenv("TOP_SRCDIR") .. "/man/venueless-lua.7"))
  local s = f:read("a")
  f:close()
  return s
end

test("the documented modules are the operator globals", function()
  local mt = getmetatable(_G)
  for _, name in ipairs(doc.modules) do ok(mt.__lazy[name], name .. " is a lazy global") end
end)

test("migrations, connections and the bindings have _doc entries", function()
  ok(require("venueless.migrations")._doc.apply)
  ok(require("venueless.connections")._doc.drop)
  for _, name in ipairs({ "db", "redis", "json", "msgpack", "crypto" }) do
    ok(next(doc.doc_of(name)), name .. " has entries")
  end
end)

test("every _doc entry names a real function", function()
  local entries = doc.entries()
  ok(#entries > 40, "entries found")
  for _, e in ipairs(entries) do
    local what = e.module .. " " .. e.key
    eq("function", type(e.value), what)
    eq("string", type(e.sig), what .. " sig")
    eq("string", type(e.text), what .. " text")
    local fn = e.key:match("[%w_]+$")
    ok(e.sig:find(fn .. "(", 1, true) or e.sig:find(fn .. "{", 1, true),
      what .. ": sig names it")
  end
end)

test("venueless-lua(7) documents every _doc entry", function()
  local man = man_page()
  for _, e in ipairs(doc.entries()) do
    local name = e.key:find(":") and e.key or e.module .. "." .. e.key
    ok(man:find("Fn " .. name, 1, true), "man page: Fn " .. name)
  end
end)

test("help texts", function()
  local t = doc.help_text()
  for _, m in ipairs({ "db", "redis", "json", "migrations", "connections" }) do
    ok(t:find("\n  " .. m .. " ", 1, true), "help() lists " .. m)
  end
  eq("connections.drop(patterns or {world=|room=|user=} [, opts])\n  send connection.drop to the"
    .. " matching labels, or to a world's, room's or user's connections",
    doc.help_text(connections.drop))
  eq(doc.help_text(db.query), doc.help_text("db.query"))
  ok(doc.help_text(migrations):find("migrations.apply(", 1, true))
  eq("no help for nosuch.thing", doc.help_text("nosuch.thing"))
end)

test("the convention for domain modules: functions and methods", function()
  local methods = { save = function() end }
  local fake = { clone = function() end, _methods = methods, _doc = {
    clone = { sig = "fake.clone(source_id)", text = "copy it" },
    ["thing:save"] = { sig = "thing:save()", text = "write it back" } } }
  local saved = package.loaded["venueless.rooms"]
  package.loaded["venueless.rooms"] = fake
  local ok_, err = pcall(function()
    eq("fake.clone(source_id)\n  copy it", doc.help_text(fake.clone))
    eq("thing:save()\n  write it back", doc.help_text(methods.save))
    eq(methods.save, doc.value(fake, "thing:save"))
    ok(doc.help_text(fake):find("thing:save()", 1, true), "module help lists methods")
  end)
  package.loaded["venueless.rooms"] = saved
  if not ok_ then error(err, 0) end
end)
