-- venueless.db: types, parameters, errors, transactions, db.rows.
local db = require "venueless.db"
local core = require "venueless.core"

local function maps()
  return io.open("/proc/self/maps"):read("a")
end

test("lazy: libpq not loaded before the first query", function()
  ok(not maps():find("libpq"), "libpq loaded too early")
  ok(db.NULL ~= nil and db.NULL ~= false)
  eq(require("venueless.core").null, db.NULL)
  eq(1, db.query("select 1 as one")[1].one)
  ok(maps():find("libpq"), "libpq not loaded")
end)

test("integers", function()
  local r = db.query([[select 32767::int2 a, (-32768)::int2 b,
    2147483647::int4 c, (-2147483648)::int4 d,
    9223372036854775807::int8 e, (-9223372036854775808)::int8 f,
    0::int8 g, 4294967295::oid h]])
  local row = r[1]
  eq(32767, row.a); eq(-32768, row.b)
  eq(2147483647, row.c); eq(-2147483648, row.d)
  eq(math.maxinteger, row.e); eq(math.mininteger, row.f)
  ok(math.type(row.e) == "integer" and math.type(row.g) == "integer")
  eq(4294967295, row.h)
  eq({ "a", "b", "c", "d", "e", "f", "g", "h" }, r.columns)
  eq(1, r.count)
end)

test("bool, float, numeric, text, bytea, null", function()
  local row = db.query([[select true t, false f, 1.5::float8 x,
    0.25::float4 y, 'NaN'::float8 nan, 'Infinity'::float8 inf,
    12345678901234567890.123::numeric n, 'héllo ✓ 😀' u, '\x00ff'::bytea b,
    null::int z, null::text z2, '' e]])[1]
  eq(true, row.t); eq(false, row.f)
  eq(1.5, row.x); eq(0.25, row.y)
  ok(row.nan ~= row.nan); eq(math.huge, row.inf)
  eq("12345678901234567890.123", row.n)
  eq("héllo ✓ 😀", row.u)
  eq("\\x00ff", row.b)
  ok(rawequal(row.z, db.NULL) and rawequal(row.z2, db.NULL))
  ok(row.z ~= nil and row.z ~= false)
  eq("", row.e)
end)

test("json and jsonb raw", function()
  local row = db.query([[select '{"a": [1, 2]}'::jsonb j, '{"b":1}'::json k]])[1]
  eq('{"a": [1, 2]}', row.j)
  eq('{"b":1}', row.k)
end)

test("json and jsonb decoded (needs venueless.json)", function()
  local row = db.query({ json = true },
    [[select '{"a": [1, 2], "n": null}'::jsonb j, null::jsonb z, '7'::json k]])[1]
  eq(2, row.j.a[2])
  ok(rawequal(row.j.n, db.NULL))
  ok(rawequal(row.z, db.NULL))
  eq(7, row.k)
end)

test("nulls = false leaves NULL columns out of the rows (query, rows, rows with batch)", function()
  local sql = [[select i, case when i % 2 = 0 then 'x' end s, null::jsonb j, false f
    from generate_series(1, 5) i order by i]]
  local function check(row)
    eq(nil, rawget(row, "j"))
    eq(false, row.f)
    if row.i % 2 == 0 then eq("x", row.s) else eq(nil, rawget(row, "s")) end
    local n = 0
    for _ in pairs(row) do n = n + 1 end
    eq(row.i % 2 == 0 and 3 or 2, n)
  end
  local r = db.query({ nulls = false }, sql)
  eq(5, #r)
  eq({ "i", "s", "j", "f" }, r.columns)
  for _, row in ipairs(r) do check(row) end
  local n = 0
  for row in db.rows({ nulls = false }, sql) do check(row); n = n + 1 end
  for row in db.rows({ nulls = false, batch = 2 }, sql) do check(row); n = n + 1 end
  eq(10, n)
  ok(rawequal(db.query({ nulls = true }, sql)[1].j, db.NULL), "nulls = true is the default")
end)

test("table parameters become json (needs venueless.json)", function()
  local r = db.query("select $1::jsonb->>'a' a, $2::jsonb->>1 b",
    { a = "x" }, { 10, 20 })
  eq("x", r[1].a); eq("20", r[1].b)
end)

test("parameters", function()
  local evil = "'; DROP TABLE t; --"
  local r = db.query([[select $1::text a, $2::text b, $3::text c,
    $4::int8 d, $5::float8 e, $6::bool f, $7::bool g, $8::text h,
    $9::text i, $10::text j, $11::float8 k, $12::numeric l]],
    evil, "it's \"quoted\"", "back\\slash\\n", math.maxinteger, 0.1,
    true, false, nil, db.NULL, "ünï", -1/0, 1e300)
  local row = r[1]
  eq(evil, row.a); eq("it's \"quoted\"", row.b); eq("back\\slash\\n", row.c)
  eq(math.maxinteger, row.d); eq(0.1, row.e)
  eq(true, row.f); eq(false, row.g)
  ok(rawequal(row.h, db.NULL) and rawequal(row.i, db.NULL))
  eq("ünï", row.j); eq(-math.huge, row.k)
  eq(1e300, tonumber(row.l))
  eq(1, db.query("select 1 x where $1::text is null", nil)[1].x)
  raises(function() db.query("select $1", print) end, "parameter")
  raises(function() db.query("select $1", io.stdout) end, "parameter")
  raises(function() db.query(true) end)
end)

test("NUL byte in a parameter", function()
  local _, code, exit = failure("parameter %$2 contains a NUL byte",
    db.query, "select $1::text, $2::text", "ok", "a\0b")
  eq("22021", code)
  eq(core.exit.failure, exit)
  _, code = failure("parameter %$1 contains a NUL byte", db.exec, "select $1::text", "\0")
  eq("22021", code)
end)

test("NUL byte in an identifier", function()
  -- libpq's escaping stops at the NUL: "a" would name another table
  local _, code, exit = failure("identifier contains a NUL byte", db.quote_ident, "a\0; drop")
  eq("22021", code)
  eq(core.exit.failure, exit)
end)

test("invalid UTF-8 in a parameter", function()
  local _, code = failure(nil, db.query, "select $1::text", "a\xff\xfeb")
  eq("22021", code)
  eq(1, db.query("select 1 x")[1].x)
end)

test("large values", function()
  local big = ("0123456789"):rep(1024 * 1024)
  local r = db.query("select $1::text s, length($1::text) n", big)
  eq(#big, r[1].n)
  ok(r[1].s == big, "10 MB round trip")
  r = db.query("select repeat('x', 10000000) s")
  eq(10000000, #r[1].s)
end)

test("bad SQL", function()
  local msg, code, exit = failure("syntax error", db.query, "selec 1")
  eq("42601", code)
  eq(core.exit.failure, exit)
  ok(not msg:find("\n$"), "trailing newline")
  msg, code = failure("does not exist", db.query, "select * from no_such_table")
  eq("42P01", code)
  eq("42601", select(2, failure(nil, db.exec, "selec 1")))
  -- the non-raising form: core.try
  msg, code = fails("syntax error", core.try(db.query, "selec 1"))
  eq("42601", code)
  eq(1, db.query("select 1 x")[1].x)
end)

test("errors with detail", function()
  db.exec("create table uq (id int primary key)")
  db.exec("insert into uq values (1)")
  local msg, code = failure("duplicate key", db.exec, "insert into uq values ($1)", 1)
  eq("23505", code)
  ok(msg:find("DETAIL: Key %(id%)=%(1%) already exists"), msg)
  db.exec("drop table uq")
end)

test("exec counts and multiple statements", function()
  eq(0, db.exec("create table t (id int, v text)"))
  eq(3, db.exec("insert into t select g, 'v' || g from generate_series(1, 3) g"))
  eq(2, db.exec("update t set v = $1 where id > $2", "new", 1))
  eq(0, db.exec("update t set v = 'x' where false"))
  eq(5, db.exec("insert into t values (10, 'a'); insert into t values (11, 'b'), (12, 'c'); update t set v = 'z' where id = 10; select 1"))
  eq(6, #db.query("select * from t"))
  eq(6, db.query("select * from t").count)
  eq(0, db.exec(""))
  db.exec("drop table t")
end)

test("transactions", function()
  db.exec("create table tx (id int)")
  eq(false, db.in_transaction())
  local a, b = db.transaction(function(x)
    ok(db.in_transaction())
    db.exec("insert into tx values ($1)", x)
    return "done", x
  end, 1)
  eq("done", a); eq(1, b)
  eq(false, db.in_transaction())
  raises(function()
    db.transaction(function()
      db.exec("insert into tx values (2)")
      error("boom")
    end)
  end, "boom")
  eq(false, db.in_transaction())
  eq(1, #db.query("select * from tx"))
  -- nested: the inner failure rolls back only the savepoint
  db.transaction(function()
    db.exec("insert into tx values (3)")
    local good = pcall(db.transaction, function()
      db.exec("insert into tx values (4)")
      error({ why = "inner" })
    end)
    ok(not good)
    db.transaction(function() db.exec("insert into tx values (5)") end)
    db.transaction(function()
      db.transaction(function() db.exec("insert into tx values (6)") end)
    end)
  end)
  local ids = {}
  for _, r in ipairs(db.query("select id from tx order by id")) do ids[#ids + 1] = r.id end
  eq({ 1, 3, 5, 6 }, ids)
  -- a SQL error inside: the error object is re-raised, all rolled back
  local err = raises(function()
    db.transaction(function()
      db.exec("insert into tx values (7)")
      assert(db.exec("insert into tx values ('x')"))
    end)
  end, "invalid input syntax")
  eq(4, #db.query("select id from tx"))
  -- an error swallowed inside: COMMIT turns into ROLLBACK, reported
  err = raises(function()
    db.transaction(function()
      db.exec("insert into tx values (8)")
      fails("syntax error", core.try(db.exec, "selec"))
    end)
  end)
  eq("25P02", err.code)
  eq(4, #db.query("select id from tx"))
  eq(false, db.in_transaction())
  db.exec("drop table tx")
end)

test("statement timeout", function()
  local _, code = failure("statement timeout", db.query, { timeout = 100 }, "select pg_sleep(5)")
  eq("57014", code)
  eq("0", db.query("show statement_timeout")[1].statement_timeout)
  eq(1, db.query({ timeout = 1000 }, "select 1 x")[1].x)
  eq("0", db.query("show statement_timeout")[1].statement_timeout)
  raises(function() db.query({ timeout = -1 }, "select 1") end, "timeout")
end)

test("quote_ident, backend_pid, info", function()
  eq('"a""b"', db.quote_ident('a"b'))
  eq('"Table"', db.quote_ident("Table"))
  local pid = db.backend_pid()
  ok(math.type(pid) == "integer" and pid > 0)
  eq(pid, db.query("select pg_backend_pid() p")[1].p)
  local info = db.info()
  eq("venueless", info.dbname); eq("venueless", info.user)
  ok(info.server_version:match("^%d+"))
  eq(os.getenv("VENUELESS_DB_HOST"), info.host)
  eq("venueless", db.query("select current_setting('application_name') a")[1].a)
  eq("UTF8", db.query("show client_encoding")[1].client_encoding)
end)

test("rows: a million rows in bounded memory", function()
  collectgarbage()
  local before = collectgarbage("count")
  local n, sum, peak = 0, 0, 0
  for row in db.rows("select g, 'row ' || g as label from generate_series(1, 1000000) g") do
    n = n + 1
    sum = sum + row.g
    if n % 100000 == 0 then
      peak = math.max(peak, collectgarbage("count") - before)
    end
  end
  eq(1000000, n)
  eq(500000500000, sum)
  ok(peak < 20 * 1024, ("Lua heap grew by %.0f KB"):format(peak))
  local rss = io.open("/proc/self/status"):read("a"):match("VmRSS:%s*(%d+)")
  -- ASan's quarantine and shadow memory make RSS meaningless there
  if not maps():find("libasan") then
    ok(tonumber(rss) < 200 * 1024, "RSS " .. rss .. " KB")
  end
end)

test("rows: break early, then reuse the connection", function()
  local n = 0
  for row in db.rows("select g from generate_series(1, 5000000) g") do
    n = n + 1
    if n == 10 then break end
  end
  eq(10, n)
  eq(2, db.query("select 2 x")[1].x)
  -- an error while looping leaves the connection usable too
  raises(function()
    for row in db.rows("select g from generate_series(1, 100000) g") do
      error("stop")
    end
  end, "stop")
  eq(3, db.query("select 3 x")[1].x)
  -- parameters, opts, null, zero rows
  local got = {}
  for row in db.rows({ timeout = 5000 }, "select $1::int + g as v, null::text z from generate_series(1, 3) g", 10) do
    got[#got + 1] = row.v
    ok(rawequal(row.z, db.NULL))
  end
  eq({ 11, 12, 13 }, got)
  for _ in db.rows("select 1 where false") do error("no rows expected") end
  -- a query inside the loop is misuse
  raises(function()
    for _ in db.rows("select 1") do db.query("select 2") end
  end, "busy")
  eq(4, db.query("select 4 x")[1].x)
  -- errors raise an error object with the sqlstate
  local err = raises(function() for _ in db.rows("selec") do end end)
  eq("42601", err.code)
  err = raises(function() for _ in db.rows("select 1 / (g - 3) from generate_series(1, 5) g") do end end)
  eq("22012", err.code)
  eq(5, db.query("select 5 x")[1].x)
end)

-- Outside any transaction, SAVEPOINT fails with 25P01: a batched loop
-- left none open behind it.
local function no_transaction(what)
  local err = raises(function() db.exec("savepoint probe") end)
  eq("25P01", err.code, what)
end

test("rows with batch: a server-side cursor, bounded, closed on every exit", function()
  collectgarbage()
  local before, n, sum, peak = collectgarbage("count"), 0, 0, 0
  for row in db.rows({ batch = 500 }, "select g, $1 || g as label from generate_series(1, 200000) g", "row ") do
    n = n + 1
    sum = sum + row.g
    if n == 1 then eq("row 1", row.label) end
    if n % 10000 == 0 then peak = math.max(peak, collectgarbage("count") - before) end
  end
  eq(200000, n)
  eq(200000 * 200001 // 2, sum)
  ok(peak < 4 * 1024, ("Lua heap grew by %.0f KB"):format(peak))
  no_transaction("after the end")
  -- an exact multiple of the batch, one row, none
  for _, want in ipairs({ 1000, 1, 0 }) do
    n = 0
    for _ in db.rows({ batch = 500 }, "select g from generate_series(1, $1::int) g", want) do n = n + 1 end
    eq(want, n)
  end
  -- break, then an error in the body
  n = 0
  for _ in db.rows({ batch = 100 }, "select g from generate_series(1, 100000) g") do
    n = n + 1
    if n == 250 then break end
  end
  eq(250, n)
  no_transaction("after a break")
  raises(function()
    for _ in db.rows({ batch = 100 }, "select g from generate_series(1, 1000) g") do error("stop") end
  end, "stop")
  no_transaction("after an error in the loop")
  raises(function()
    for _ in db.rows({ batch = 100 }, "select 1") do db.query("select 2") end
  end, "busy")
  -- a failure in a later batch raises with its sqlstate after the earlier rows
  n = 0
  local err = raises(function()
    for _ in db.rows({ batch = 100 }, "select 1 / (g - 250) from generate_series(1, 1000) g") do n = n + 1 end
  end)
  eq("22012", err.code)
  ok(n >= 100 and n < 250, "rows before the failure: " .. n)
  no_transaction("after a failure")
  -- only a SELECT can be a cursor
  err = raises(function() for _ in db.rows({ batch = 10 }, "insert into nowhere values (1)") do end end)
  eq("42601", err.code)
  no_transaction("after a refused statement")
  raises(function() db.rows({ batch = 0 }, "select 1") end, "batch must be a positive integer")
  eq(6, db.query("select 6 x")[1].x)
end)

test("rows with batch inside a transaction: a savepoint, the transaction goes on", function()
  db.exec("create table rows_batch (n int)")
  db.transaction(function()
    db.exec("insert into rows_batch values (1)")
    for _ in db.rows({ batch = 10 }, "select g from generate_series(1, 100) g") do break end
    raises(function()
      for _ in db.rows({ batch = 10 }, "select 1 / (g - 50) from generate_series(1, 100) g") do end
    end)
    db.exec("insert into rows_batch values (2)")
    local seen = 0
    for row in db.rows({ batch = 1 }, "select n from rows_batch") do seen = seen + row.n end
    eq(3, seen, "rows written earlier in the transaction")
  end)
  eq(2, db.query("select count(*) n from rows_batch")[1].n, "both inserts committed")
  db.exec("drop table rows_batch")
end)

test("terminated backend: 08006, next call reconnects", function()
  local pid = db.backend_pid()
  -- kill our own backend from a second session
  local out, code = sh(("psql -X -At -c 'select pg_terminate_backend(%d)'"):format(pid))
  eq(0, code, out)
  local _, c, exit = failure(nil, db.query, "select 1")
  eq("08006", c)
  eq(core.exit.nopg, exit)
  eq(1, db.query("select 1 x")[1].x)
  ok(db.backend_pid() ~= pid)
end)

test("connection lost inside a transaction", function()
  local err = raises(function()
    db.transaction(function()
      local pid = db.backend_pid()
      sh(("psql -X -At -c 'select pg_terminate_backend(%d)'"):format(pid))
      local _, _, c = core.try(db.exec, "select 1")
      eq("08006", c)
      local msg, c2, exit = failure(nil, db.exec, "select 1")
      eq("08006", c2)
      eq(core.exit.nopg, exit)
      ok(msg:find("transaction"))
    end)
  end, "connection lost")
  eq("08006", err.code)
  eq(false, db.in_transaction())
  eq(1, db.query("select 1 x")[1].x)
end)

test("connect: bad host, wrong user, settings", function()
  local t0 = os.time()
  local _, code, exit = failure(nil, db.connect, { host = os.getenv("VL_TMP") .. "/nowhere" })
  eq("08006", code)
  eq(core.exit.nopg, exit)
  ok(os.time() - t0 < 3)
  _, code, exit = failure("does not exist", db.connect, { user = "nobody_here" })
  eq("28000", code)
  eq(core.exit.nopg, exit)
  _, code = failure(nil, db.connect, { dbname = "no_such_db" })
  eq("08006", code)
  eq(true, db.connect { application_name = "db-test" })
  eq("db-test", db.query("select current_setting('application_name') a")[1].a)
  eq(true, db.connect())
  eq("venueless", db.query("select current_setting('application_name') a")[1].a)
  raises(function() db.connect { host = {} } end)
  db.close(); db.close()
  eq(false, db.in_transaction())
  eq(1, db.query("select 1 x")[1].x)
end)

test("connect: timeout on an unresponsive server", function()
  -- a listening socket that never answers
  local dir = os.getenv("VL_TMP")
  local out, code = sh("command -v python3")
  if code ~= 0 then return end
  local stop = silent_server(dir .. "/.s.PGSQL.5433")
  local t0 = os.time()
  local _, c = failure("timeout", db.connect, { host = dir, port = 5433, connect_timeout = 1 })
  eq("08006", c)
  ok(os.time() - t0 <= 3)
  stop()
  eq(true, db.connect())
end)

test("backend terminated mid-statement: one line, 08006, reconnects", function()
  local pid = db.backend_pid()
  sh(("(sleep 0.5; psql -X -At -c 'select pg_terminate_backend(%d)') >/dev/null 2>&1 &")
    :format(pid))
  local msg, c, exit = failure("terminating connection", db.query, "select pg_sleep(10)")
  eq("08006", c)
  eq(core.exit.nopg, exit)
  ok(not msg:find("\n"), "more than one line: " .. msg)
  ok(not msg:find("invalid socket"), msg)
  eq(1, db.query("select 1 x")[1].x)
end)

test("COPY through db.exec: refused, exit 1, the connection stays", function()
  db.exec("create temporary table copy_t (x int)")
  for _, sql in ipairs { "copy copy_t from stdin", "copy copy_t to stdout",
      "copy (select 1) to stdout", "select 1; copy copy_t from stdin" } do
    local pid = db.backend_pid()
    local msg, c, exit = failure("COPY", db.exec, sql)
    ok(msg:find("not supported through db.exec"), msg)
    eq("0A000", c, sql)
    eq(core.exit.failure, exit, sql)
    eq(pid, db.backend_pid(), "same connection after " .. sql)
    eq(1, db.query("select 1 x")[1].x)
  end
  local _, c = failure("COPY", db.query, "copy copy_t to stdout")
  eq("0A000", c)
  -- inside a transaction the failure aborts it like any SQL error
  raises(function()
    db.transaction(function() db.exec("copy copy_t from stdin") end)
  end, "not supported")
  eq(false, db.in_transaction())
  eq(0, db.query("select count(*) n from copy_t")[1].n)
end)

test("COPY in db.rows: refused, the connection stays", function()
  local pid = db.backend_pid()
  local _, c, exit = failure("not supported through db.exec", function()
    for _ in db.rows("copy (select 1) to stdout") do end
  end)
  eq("0A000", c)
  eq(core.exit.failure, exit)
  eq(pid, db.backend_pid())
end)

test("server process killed mid-statement: one line, 08006", function()
  local pid = db.backend_pid()
  sh(("(sleep 0.5; kill -9 %d) >/dev/null 2>&1 &"):format(pid))
  local msg, c, exit = failure("server closed the connection", db.query,
    "select pg_sleep(10)")
  eq("08006", c)
  eq(core.exit.nopg, exit)
  eq("server closed the connection unexpectedly", msg)
  -- the postmaster restarts every backend after a crash
  for _ = 1, 100 do
    if core.try(db.query, "select 1") then break end
    core.sleep(100)
  end
  eq(1, db.query("select 1 x")[1].x)
end)
