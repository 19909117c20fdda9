-- The shell's evaluation without a terminal: expression first, locals
-- that survive, results in _ and _N, incomplete chunks, the secret
-- filter, the history file location and the prompt.
local repl = require "venueless.repl"

-- Feed chunk to session s as the shell does; returns the results.
local function run(s, chunk)
  local f, names = repl.compile(s, chunk)
  assert(f, names)
  local saved, report = repl.print_results, repl.report
  local got
  repl.print_results = function(res) got = res end
  repl.report = function(e) got = e end
  local okay = repl.run_chunk(s, f, names)
  repl.print_results, repl.report = saved, report
  return okay, got
end

test("expression first, then statement", function()
  local s = repl.session()
  local _, res = run(s, "1 + 1")
  eq(2, res[1])
  _, res = run(s, "x_stmt = 3")
  eq(0, res.n)
  eq(3, rawget(_G, "x_stmt"), "plain assignments are globals")
  _, res = run(s, "x_stmt, 'a'")
  eq(2, res.n)
end)

test("incomplete chunks are recognised", function()
  local s = repl.session()
  local f, err = repl.compile(s, "for i = 1, 2 do")
  eq(nil, f)
  ok(err:find("<eof>$"), err)
  f, err = repl.compile(s, "x = = 1")
  eq(nil, f)
  ok(not err:find("<eof>$"), "a plain syntax error")
end)

test("rewriting top-level locals", function()
  local rw = repl.rewrite_locals
  eq("x = 1", (rw("local x = 1")))
  eq("a, b = 1, 2", (rw("local a, b = 1, 2")))
  eq("function f() local y = 1 return y end", (rw("local function f() local y = 1 return y end")))
  eq("z = nil", (rw("local z")))
  ok((rw("local k <const> = 5")):match("^k%s+= 5$"), "attribute dropped")
  eq("local c <close> = nil", (rw("local c <close> = nil")), "<close> keeps its meaning")
  eq("do local q = 1 end", (rw("do local q = 1 end")), "nested locals stay")
  eq('s = "local t = 1" -- local u', (rw('local s = "local t = 1" -- local u')))
  eq("if x then local w = 1 end v = 2", (rw("if x then local w = 1 end local v = 2")))
  local _, names = rw("local a, b = 1 local function g() end")
  eq({ "a", "b", "g" }, names)
end)

test("locals survive to later chunks, outside _G", function()
  local s = repl.session()
  run(s, "local lv = 41")
  local _, res = run(s, "lv + 1")
  eq(42, res[1])
  eq(nil, rawget(_G, "lv"))
  run(s, "local function sq(n) return n * n end")
  _, res = run(s, "sq(lv)")
  eq(1681, res[1])
  run(s, "lv = 1")
  _, res = run(s, "lv")
  eq(1, res[1], "assigning a session local keeps it local")
  eq(nil, rawget(_G, "lv"))
  run(s, "local print = 7")
  _, res = run(s, "print")
  eq(7, res[1], "a local may shadow a global")
  eq("function", type(_G.print))
end)

test("a failing chunk declares nothing", function()
  local s = repl.session()
  local okay = run(s, "local tostring = error('before')")
  eq(false, okay)
  local _, res = run(s, "type(tostring)")
  eq("function", res[1])
end)

test("results in _ and _N", function()
  local s = repl.session()
  run(s, "10")
  run(s, "y_none = 1")
  run(s, "20, 21")
  local _, res = run(s, "_")
  eq(20, res[1])
  _, res = run(s, "{_1, _2, _3}")
  eq({ 10, 20, 20 }, res[1])
end)

test("lines with secrets", function()
  for _, l in ipairs({ 'db.connect({password = "x"})', "PASSWD=1", "secret_key = 'k'",
    "t = token()", 'redis.conn("redis://:hunter2@h:6379/0")',
    'x = "postgres://user:pw@db/venueless"', "API_KEY = 1", "private_key = k" }) do
    ok(repl.is_secret(l), l)
  end
  for _, l in ipairs({ "1 + 1", 'x = "postgres://user@db/venueless"', "worlds.get('sample')",
    "redis://host:6379/0" }) do
    eq(false, repl.is_secret(l), l)
  end
end)

-- redis-cli's isSensitiveCommand: the command words, whatever the
-- argument is called.
test("lines with Redis commands that carry credentials", function()
  for _, l in ipairs({ 'redis.pcall("AUTH", "hunter2")', "redis.call('auth', 'u', 'p')",
    'redis.conn(1):call("Auth", pw)', 'redis.call("CONFIG", "SET", "requirepass", "s3")',
    'redis.call("config", "set", "masterauth", x)', 'redis.call("CONFIG", "SET", "masteruser", "u")',
    'redis.call("CONFIG", "SET", "maxmemory", "1mb", "requirepass", "s3")',
    'redis.call("HELLO", 3, "AUTH", "default", "s3")', 'redis.call("ACL", "SETUSER", "ops", ">s3")',
    'redis.pipeline({ { "ACL", "setuser", "ops", "on", ">s3" } })', 'redis.call("ACL SETUSER ops >s3")',
    'redis.call("MIGRATE", "h", 6379, "", 0, 5000, "AUTH2", "u", "p", "KEYS", "k")',
    'redis.call([[config]], [[set]], [[requirepass]], v)' }) do
    ok(repl.is_secret(l), l)
  end
  for _, l in ipairs({ 'redis.call("CONFIG", "GET", "maxmemory")', 'redis.call("ACL", "LIST")',
    'redis.call("CONFIG", "SET", "maxmemory", "1mb")', 'redis.call("HELLO", 3)',
    'redis.call("GET", "authors")', "auth = 1", 'redis.call("SET", "acl", "x")' }) do
    eq(false, repl.is_secret(l), l)
  end
end)

test("history file location", function()
  local v = os.getenv("VENUELESS")
  eq("/tmp/h\n", (sh("VENUELESS_HISTFILE=/tmp/h " .. v .. " shell -e 'return require(\"venueless.repl\").histfile()'")))
  eq("/home/x/.venueless_history\n", (sh("env -u VENUELESS_HISTFILE HOME=/home/x " .. v .. " shell -e 'return require(\"venueless.repl\").histfile()'")))
  eq("nil\n", (sh("VENUELESS_HISTFILE= " .. v .. " shell -e 'return require(\"venueless.repl\").histfile()'")))
end)

test("the prompt: database, environment, transaction", function()
  local v = os.getenv("VENUELESS")
  eq("venueless(prod)> \n", (sh("VENUELESS_ENVIRONMENT=prod " .. v .. " shell -e 'return require(\"venueless.repl\").prompt()'")))
  eq("other(unknown)> \n", (sh("env -u VENUELESS_ENVIRONMENT VENUELESS_DB_NAME=other " .. v .. " shell -e 'return require(\"venueless.repl\").prompt()'")))
  local env = config.environment
  db.transaction(function()
    eq("venueless(" .. env .. ")*> ", repl.prompt())
  end)
  eq("venueless(" .. env .. ")> ", repl.prompt())
  eq(">> ", repl.continuation)
end)

test("the prompt does not connect", function()
  local v = os.getenv("VENUELESS")
  eq("false\n", (sh(v .. " shell -e 'require(\"venueless.repl\").prompt() return package.loaded[\"venueless.db\"] ~= nil'")))
end)

test("\\x toggles the expanded layout, as in psql", function()
  local pretty = require "venueless.pretty"
  local saved = io.stdout
  local out = {}
  io.stdout = { write = function(_, ...) for _, v in ipairs({ ... }) do out[#out + 1] = v end end }
  local okay, err = pcall(function()
    eq(nil, pretty.expanded)
    eq(true, repl.backslash("\\x"))
    eq(true, pretty.expanded)
    eq(true, repl.backslash("\\x"))
    eq(false, pretty.expanded)
    eq(true, repl.backslash(" \\x auto "))
    eq(nil, pretty.expanded)
    eq(true, repl.backslash("\\x on"))
    eq(true, pretty.expanded)
    eq(true, repl.backslash("\\x sideways"), "a meta-command with a bad argument")
    eq(true, pretty.expanded, "left as it was")
    eq(false, repl.backslash("x = 1"))
  end)
  io.stdout = saved
  pretty.expanded = nil
  if not okay then error(err, 0) end
  eq("Expanded display is on.\nExpanded display is off.\nExpanded display is auto.\nExpanded display is on.\n",
    table.concat(out))
end)

test("the shell needs the completer only when Tab is pressed", function()
  local out = sh(os.getenv("VENUELESS") .. [[ shell -e '
    local repl = require("venueless.repl")
    local s = repl.session()
    local f, names = repl.compile(s, "local t = { x = 1 } for i = 1, 2 do local y = i end")
    repl.print_results, repl.report = function() end, function() end
    repl.run_chunk(s, f, names)
    local before = package.loaded["venueless.complete"] == nil
    local c = repl.completer(s)("t.", 2)
    return names[1], before, package.loaded["venueless.complete"] ~= nil, c[1]']])
  eq("t\ttrue\ttrue\tx\n", out)
end)
