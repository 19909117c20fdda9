-- db.trace: every statement of db.query, exec, rows and transaction
-- passes the hook with its parameters, duration and failure; the
-- default hook (venueless.trace) writes them to stderr with secrets
-- masked.
local trace = require "venueless.trace"

-- The hook calls while fn runs: {sql, params, ms, err} each.
local function traced(fn)
  local calls = {}
  db.trace(function(sql, params, ms, err) calls[#calls + 1] = { sql, params, ms, err } end)
  local ok, e = pcall(fn)
  db.trace(false)
  if not ok then error(e, 0) end
  return calls
end

test("db.trace turns on and off, returns the old state, checks its argument", function()
  eq(false, db.trace(true))
  eq(true, db.trace(function() end))
  eq(true, db.trace(false))
  eq(false, db.trace(nil))
  raises(function() db.trace("yes") end, "boolean or function expected")
end)

test("query, exec, rows and transaction statements with their parameters", function()
  local calls = traced(function()
    db.query("SELECT $1::text AS a, $2::int AS b, $3::text AS c", "x", 5, db.NULL)
    db.exec("SELECT 1")
    db.transaction(function() db.exec("SELECT 2") end)
    for _ in db.rows("SELECT generate_series(1, $1) AS n", 3) do end
    for _ in db.rows("SELECT generate_series(1, 3) AS n") do break end
  end)
  local sqls = {}
  for i, c in ipairs(calls) do sqls[i] = c[1] end
  eq({ "SELECT $1::text AS a, $2::int AS b, $3::text AS c", "SELECT 1", "BEGIN", "SELECT 2",
    "COMMIT", "SELECT generate_series(1, $1) AS n", "SELECT generate_series(1, 3) AS n" }, sqls)
  eq({ "x", "5", n = 3 }, calls[1][2], "parameters as sent, NULL as nil")
  eq({ n = 0 }, calls[2][2])
  eq({ "3", n = 1 }, calls[6][2])
  for _, c in ipairs(calls) do
    ok(type(c[3]) == "number" and c[3] >= 0, "a duration in ms")
    eq(nil, c[4])
  end
end)

test("durations are measured", function()
  local calls = traced(function() db.exec("SELECT pg_sleep(0.05)") end)
  ok(calls[1][3] >= 45 and calls[1][3] < 5000, tostring(calls[1][3]))
end)

test("a failed statement is traced with its failure, then raises", function()
  local calls = traced(function()
    failure("nosuch", db.query, "SELECT nosuch")
    failure("division by zero", function()
      db.transaction(function() db.exec("SELECT 1/0") end)
    end)
  end)
  eq("SELECT nosuch", calls[1][1])
  ok(calls[1][4]:find('column "nosuch" does not exist', 1, true), calls[1][4])
  eq({ "BEGIN", "SELECT 1/0", "ROLLBACK" }, { calls[2][1], calls[3][1], calls[4][1] })
  ok(calls[3][4]:find("division by zero"), "the failure")
end)

test("the hook's own statements are not traced; its errors are warnings", function()
  local n = 0
  db.trace(function() n = n + 1; db.query("SELECT 'inner'") end)
  db.query("SELECT 1")
  db.trace(false)
  eq(1, n)
  local err = sh(os.getenv("VENUELESS") ..
    [[ shell -e 'db.trace(function() error("boom") end); return db.query("SELECT 7 AS x")[1].x' 2>&1]])
  ok(err:find("venueless: warning: db.trace: .*boom"), err)
  ok(err:find("\n7\n$"), "the query still answers: " .. err)
end)

test("the default hook: statement, duration and parameters on stderr", function()
  local out = sh("(" .. os.getenv("VENUELESS") ..
    [[ shell -e 'db.trace(true); db.query("SELECT $1::text AS a", "it'"'"'s")' 2>&1 >/dev/null)]])
  ok(out:find("^SELECT %$1::text AS a\n  %-%- %d+%.%d%d%d ms; %$1 = 'it''s'\n$"), out)
end)

test("secrets are masked: by column, by value", function()
  local function shown(sql, ...)
    return trace.format(sql, table.pack(...), 1.5)
  end
  eq("SELECT 1 WHERE \"password\" = $1 AND x = $2\n  -- 1.500 ms; $1 = ***, $2 = 'a'\n",
    shown('SELECT 1 WHERE "password" = $1 AND x = $2', "hunter2", "a"))
  ok(shown('SELECT 1 FROM t WHERE UPPER(t0."secret"::text) LIKE UPPER($1)', "s"):find("$1 = ***", 1, true))
  ok(shown('SELECT 1 FROM t WHERE t0."api_key" = ANY(ARRAY(SELECT jsonb_array_elements_text($1::jsonb))::text[])',
    '["k"]'):find("$1 = ***", 1, true))
  local s = shown('INSERT INTO "auth_user" AS t0 ("username", "password", "email") VALUES ($1, $2, $3)',
    "root", "pbkdf2$x", "a@b")
  ok(s:find("$1 = 'root', $2 = ***, $3 = 'a@b'", 1, true), s)
  s = shown('UPDATE "core_bbbserver" SET "secret" = $1, "url" = $2 WHERE "id" = $3', "s", "u", "1")
  ok(s:find("$1 = ***, $2 = 'u', $3 = '1'", 1, true), s)
  s = shown("SELECT $1::jsonb", '{"bbb": {"secret": "x"}}')
  ok(s:find("$1 = ***", 1, true), "a JSON document with a secret: " .. s)
  s = shown("SELECT $1::text", "redis://u:pw@host/0")
  ok(s:find("$1 = ***", 1, true), "a URL with a password: " .. s)
  s = shown("SELECT $1::text WHERE name = $2", "plain", "x")
  ok(s:find("$1 = 'plain', $2 = 'x'", 1, true), s)
end)

test("long parameters are cut, controls escaped, failures shown", function()
  local s = trace.format("SELECT $1", { ("x"):rep(300), n = 1 }, 2, nil)
  ok(s:find("'" .. ("x"):rep(trace.width) .. "…'", 1, true), s)
  s = trace.format("SELECT\n  $1", { "a\27[2Jb", n = 1 }, 2, "boom")
  eq("SELECT\n  $1\n  -- failed after 2.000 ms: boom; $1 = 'a\\x1b[2Jb'\n", s)
end)

test("a model query through the trace, as the operator sees it", function()
  migrations.apply({ verbosity = 0 })
  local calls = traced(function() User:filter({ world_id = "x" }):count() end)
  eq(1, #calls)
  ok(calls[1][1]:find('^SELECT count%(%*%) AS n FROM "core_user" t0 WHERE t0."world_id" = %$1$'),
    calls[1][1])
  eq({ "x", n = 1 }, calls[1][2])
end)
