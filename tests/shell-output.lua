-- What the shell prints, without a terminal: query results through
-- json.encode and msgpack, NULL against "null", numbers right-aligned,
-- packed scalar arrays, the csv/json/ndjson result formats, the SQL
-- error caret, trimmed tracebacks, db.stats, help(nil) and help(worlds),
-- the startup file and the meta-commands that need no terminal.
local pretty = require "venueless.pretty"
local repl = require "venueless.repl"
local doc = require "venueless.doc"
local core = require "venueless.core"

local function fmt(v, opts)
  opts = opts or {}
  if opts.color == nil then opts.color = false end
  return pretty.format(v, opts)
end

-- Capture what fn writes to io.stdout.
local function stdout_of(fn, ...)
  local saved, out = io.stdout, {}
  io.stdout = { write = function(self, ...)
    for _, v in ipairs({ ... }) do out[#out + 1] = tostring(v) end
    return self
  end, flush = function() end }
  local okay, err = pcall(fn, ...)
  io.stdout = saved
  if not okay then error(err, 0) end
  return table.concat(out)
end

local Q = "SELECT 2 AS z, 'x' AS a, NULL::int AS n UNION ALL SELECT 1, 'null', 5 ORDER BY 1 DESC"

test("json.encode of a query result: an array of row objects in column order", function()
  local r = db.query(Q)
  eq('[{"z":2,"a":"x","n":null},{"z":1,"a":"null","n":5}]', json.encode(r))
  eq("[]", json.encode(db.query("SELECT 1 AS a WHERE false")))
  eq('{"r":[{"z":2,"a":"x","n":null},{"z":1,"a":"null","n":5}]}', json.encode({ r = r }),
    "nested too")
  eq(2, #r, "still an array of rows")
  eq({ "z", "a", "n" }, r.columns)
  eq(2, r.count)
  local back = msgpack.decode(msgpack.encode(r))
  eq(2, #back)
  eq("null", back[2].a)
  eq(nil, back.columns, "msgpack writes the rows only, too")
  -- a plain table that looks like one is encoded as it is
  eq('{"1":{"a":1},"columns":["a"]}', json.encode({ columns = { "a" }, { a = 1 } }))
end)

test("NULL is not the string null; numbers are right-aligned", function()
  eq(table.concat({
    " z | a    |    n ",
    "---+------+------",
    " 2 | x    | NULL",
    " 1 | null |    5",
    "(2 rows)" }, "\n"), fmt(db.query(Q)))
  local s = fmt(db.query("SELECT 'NULL' AS s, NULL::text AS t, 12.50::numeric AS d"))
  ok(s:find('\n "NULL" | NULL | 12.50', 1, true), "the string NULL is quoted: " .. s)
  ok(s:find("^ s      | t    |     d"), "numeric header right-aligned: " .. s)
end)

test("short scalar arrays are packed several per line", function()
  local old = pretty.width
  pretty.width = 40
  local t = {}
  for i = 1, 30 do t[i] = i * 100 end
  local s = fmt(t)
  pretty.width = old
  local lines = {}
  for l in s:gmatch("[^\n]+") do lines[#lines + 1] = l end
  eq("{", lines[1])
  eq("}", lines[#lines])
  ok(#lines < 12, "packed: " .. s)
  ok(lines[2]:find("^  100, 200, 300, 400,"), lines[2])
  for i = 2, #lines - 1 do ok(#lines[i] <= 40, "fits: " .. lines[i]) end
  -- every number is there, once, in order
  local seen = {}
  for n in s:gmatch("%d+") do seen[#seen + 1] = tonumber(n) end
  eq(t, seen)
  -- tables inside keep one item per line
  pretty.width = 20
  s = fmt({ { a = 1 }, { b = 2 }, { c = 3 } })
  pretty.width = old
  eq("{\n  { a = 1 },\n  { b = 2 },\n  { c = 3 }\n}", s)
end)

test("result formats: csv, json, ndjson", function()
  local r = db.query([[SELECT 1 AS id, 'a,b' AS t, NULL::text AS n, '{"k": 1}'::jsonb AS j
    UNION ALL SELECT 2, 'say "hi"', 'x', NULL ORDER BY 1]])
  eq('id,t,n,j\n1,"a,b",,"{""k"": 1}"\n2,"say ""hi""",x,', fmt(r, { format = "csv" }))
  eq('[{"id":1,"t":"a,b","n":null,"j":"{\\"k\\": 1}"},{"id":2,"t":"say \\"hi\\"","n":"x","j":null}]',
    fmt(r, { format = "json" }))
  eq('{"id":1,"t":"a,b","n":null,"j":"{\\"k\\": 1}"}\n{"id":2,"t":"say \\"hi\\"","n":"x","j":null}',
    fmt(r, { format = "ndjson" }))
  local d = db.query({ json = true }, [[SELECT '{"k": [1, 2]}'::jsonb AS j]])
  eq('[{"j":{"k":[1,2]}}]', fmt(d, { format = "json" }), "decoded jsonb stays JSON")
  pretty.result_format = "csv"
  local s = fmt(r)
  pretty.result_format = "aligned"
  ok(s:find("^id,t,n,j\n"), "pretty.result_format is the default: " .. s)
end)

test("an SQL error carries its statement and position; the shell shows a caret", function()
  local e = raises(function() db.query("SELECT 1,\n  2 FORM x") end)
  eq("42601", e.code)
  eq("SELECT 1,\n  2 FORM x", e.statement)
  eq(20, e.position)
  local l, caret = repl.sql_context(e.statement, e.position)
  eq("LINE 2:   2 FORM x", l)
  eq("                 ^", caret)
  e = raises(function() db.exec("UPDATE nosuchtable SET a = 1") end)
  eq("42P01", e.code)
  eq(8, e.position)
  -- characters, not bytes; tabs as blanks
  l, caret = repl.sql_context("SELECT 'é',\tx", 13)
  eq("LINE 1: SELECT 'é', x", l)
  eq((" "):rep(20) .. "^", caret)
  -- a long line is cut around the caret
  local long = "SELECT " .. ("a, "):rep(60) .. "FORM t"
  l, caret = repl.sql_context(long, #long - 5)
  ok(l:find("^LINE 1: %.%.%."), l)
  ok(utf8.len(l) < 90, l)
  eq("F", l:sub(#caret, #caret), "the caret is under the F: " .. l .. "\n" .. caret)
  -- what the shell prints: the message, the line, the caret
  local saved = io.stderr
  local out = {}
  io.stderr = { write = function(_, ...) for _, v in ipairs({ ... }) do out[#out + 1] = v end end,
    flush = function() end }
  repl.report(raises(function() db.query("SELECT * FORM x") end))
  io.stderr = saved
  eq('venueless: shell: syntax error at or near "FORM"\nLINE 1: SELECT * FORM x\n'
    .. '                 ^\n', table.concat(out))
end)

test("a db.rows failure carries its statement and position too", function()
  local sql = "SELECT 1,\n  2 FORM x"
  local e = raises(function() for _ in db.rows(sql) do end end)
  eq("42601", e.code)
  eq(sql, e.statement)
  eq(20, e.position)
  -- batched: the position is in the user's sql, not in our DECLARE
  e = raises(function() for _ in db.rows({ batch = 10 }, sql) do end end)
  eq("42601", e.code)
  eq(sql, e.statement)
  eq(20, e.position)
  e = raises(function() for _ in db.rows({ timeout = 1000 }, "SELECT nosuch") do end end)
  eq("42703", e.code)
  eq(8, e.position)
  -- a runtime error has no position, a FETCH's is not the statement's
  e = raises(function() for _ in db.rows({ batch = 2 }, "SELECT 1/0") do end end)
  eq("22012", e.code)
  eq(nil, e.position)
  eq(nil, e.statement)
  -- a failure after a failed statement is not given the old position
  raises(function() db.query("SELECT * FORM x") end)
  db.exec("SELECT 1")
  e = raises(function() for _ in db.rows("SELECT 1/0") do end end)
  eq(nil, e.position)
  -- db.query's restored timeout keeps the position
  e = raises(function() db.query({ timeout = 1000 }, "SELECT nosuch") end)
  eq(8, e.position)
end)

test("db.stats counts db.rows loops: one statement each, the rows read", function()
  local a = db.stats()
  for _ in db.rows("SELECT generate_series(1, 5)") do end
  local b = db.stats()
  eq(1, b.statements - a.statements)
  eq(5, b.rows - a.rows)
  ok(b.ms > a.ms, "time counted")
  -- batched, left early, failed: each counted once, with the rows read
  for _ in db.rows({ batch = 2 }, "SELECT generate_series(1, 5)") do end
  local n = 0
  for _ in db.rows("SELECT generate_series(1, 5)") do
    n = n + 1
    if n == 2 then break end
  end
  for _ in db.rows({ batch = 2 }, "SELECT generate_series(1, 9)") do
    n = n + 1
    if n == 5 then break end
  end
  pcall(function() for _ in db.rows("SELECT nosuch") do end end)
  pcall(function() for _ in db.rows({ batch = 3 }, "SELECT nosuch") do end end)
  local c = db.stats()
  eq(5, c.statements - b.statements)
  eq(5 + 2 + 3, c.rows - b.rows)
  -- the loop's body is not time waiting for the server
  local t0 = core.time("monotonic")
  for _ in db.rows("SELECT generate_series(1, 3)") do
    local t = core.time("monotonic")
    while core.time("monotonic") - t < 0.1 do end
  end
  local d = db.stats()
  ok(core.time("monotonic") - t0 >= 0.3, "the body ran")
  ok(d.ms - c.ms < 250, "body not counted: " .. (d.ms - c.ms) .. " ms")
end)

test("tracebacks end at the user's code", function()
  local path = os.getenv("VL_TMP") .. "/deep.lua"
  local f = assert(io.open(path, "w"))
  f:write('local function f() error("deep") end\nf()\n')
  f:close()
  local out = sh(os.getenv("VENUELESS") .. " shell " .. path .. " 2>&1; echo rc=$?")
  ok(out:find("deep.lua:2: in main chunk", 1, true), out)
  ok(not out:find("xpcall", 1, true), "no xpcall frame: " .. out)
  ok(not out:find("cmd/shell.lua", 1, true), "no runner frame: " .. out)
  ok(out:find("rc=1\n$"), out)
  out = sh(os.getenv("VENUELESS") .. [[ shell -e 'error("x")' 2>&1]])
  ok(out:find("(command line):1: in main chunk", 1, true), out)
  ok(not out:find("cmd/shell.lua", 1, true), out)
  eq("a\n  [C]: in ?", repl.trim_traceback("a\n  [C]: in ?"))
  eq("e\nstack traceback:\n\tstdin:1: in function 'g'",
    repl.trim_traceback("e\nstack traceback:\n\tstdin:1: in function 'g'\n\t(...tail calls...)"))
end)

test("db.stats counts statements, rows and time", function()
  local a = db.stats()
  db.query("SELECT generate_series(1, 3)")
  db.exec("CREATE TEMP TABLE IF NOT EXISTS st (a int)")
  db.exec("INSERT INTO st SELECT generate_series(1, 4)")
  local b = db.stats()
  eq(3, b.statements - a.statements)
  eq(7, b.rows - a.rows)
  ok(b.ms > a.ms, "time counted")
end)

test("help(nil) says the name is nil; help(worlds) has one heading", function()
  local s = stdout_of(function() doc.help(nil) end)
  ok(s:find("is nil", 1, true), s)
  ok(not s:find("Modules", 1, true), "not the module list: " .. s)
  doc.nil_name = "wolrds"
  s = stdout_of(function() doc.help(nil) end)
  doc.nil_name = nil
  ok(s:find("^wolrds is nil"), s)
  ok(stdout_of(function() doc.help() end):find("^Modules"), "help() lists the modules")
  local h = doc.help_text(worlds)
  local first = h:match("^[^\n]*")
  eq(1, select(2, first:gsub("worlds", "")), "worlds once in the heading: " .. first)
  for name, sum in pairs(doc.summaries) do
    ok(sum:sub(1, #name + 1) ~= name .. ":", name .. "'s summary does not repeat its name")
  end
end)

test("the startup file runs in the session: locals and globals; errors are reported", function()
  local dir = os.getenv("VL_TMP")
  local path = dir .. "/init.lua"
  local f = assert(io.open(path, "w"))
  f:write("local function twice(n) return 2 * n end\ninit_global = twice(21)\n")
  f:close()
  local v = os.getenv("VENUELESS")
  eq("42\t84\tnil\n", sh("printf 'init_global, twice(42), rawget(_G, \"twice\")\\n' | VENUELESS_INIT="
    .. path .. " " .. v .. " shell -i"))
  -- -e and the script with -i see its globals; without -i it does not run
  eq("42\n", sh("VENUELESS_INIT=" .. path .. " " .. v .. " shell -e 'return init_global' -i </dev/null"))
  eq("nil\n", sh("VENUELESS_INIT=" .. path .. " " .. v .. " shell -e 'return init_global'"))
  -- the default place, under HOME (XDG_CONFIG_HOME unset)
  os.execute("mkdir -p '" .. os.getenv("HOME") .. "/.config/venueless'")
  f = assert(io.open(os.getenv("HOME") .. "/.config/venueless/init.lua", "w"))
  f:write("from_home = 'yes'\n")
  f:close()
  eq("yes\n", sh("printf 'from_home\\n' | env -u XDG_CONFIG_HOME " .. v .. " shell -i"))
  eq("nil\n", sh("printf 'from_home\\n' | VENUELESS_INIT= " .. v .. " shell -i"),
    "an empty VENUELESS_INIT runs none")
  os.remove(os.getenv("HOME") .. "/.config/venueless/init.lua")
  -- an error is reported, the shell still starts
  f = assert(io.open(path, "w"))
  f:write("early = 1\nerror('broken helper')\nlate = 2\n")
  f:close()
  local out = sh("printf 'early, late\\n' | VENUELESS_INIT=" .. path .. " " .. v .. " shell -i 2>&1")
  ok(out:find("venueless: shell: init file: " .. path .. ":2: broken helper", 1, true), out)
  ok(out:find("\n1\tnil\n", 1, true), "the shell started: " .. out)
  out = sh("printf '1 + 1\\n' | VENUELESS_INIT=" .. dir .. "/missing.lua " .. v .. " shell -i 2>&1")
  ok(out:find("init file: .*missing.lua"), out)
  ok(out:find("\n2\n$"), out)
end)

test("meta-commands off a terminal: \\q, \\o, \\format, \\timing, \\?, unknown ones", function()
  local v = os.getenv("VENUELESS")
  local file = os.getenv("VL_TMP") .. "/out.txt"
  local out = sh("printf '%s\\n' '\\format csv' 'db.query(\"select 1 as a, 2 as b\")' "
    .. "'\\o " .. file .. "' 'db.query(\"select 3 as c\")' '{ x = 1 }' '\\o' '\\format aligned' "
    .. "'db.query(\"select 4 as d\")' '\\timing' 'db.query(\"select 5 as e\")' "
    .. "'for r in db.rows(\"select generate_series(1, 4)\") do end' '\\?' "
    .. "'\\nosuch' 'help' 'exit' '\\q' '\"after\" .. \"quit\"' | " .. v .. " shell -i 2>&1")
  ok(out:find("Output format is csv.\na,b\n1,2\n", 1, true), out)
  local f = assert(io.open(file))
  eq("c\n3\n{ x = 1 }\n", f:read("a"), "\\o FILE gets the results, no colours")
  f:close()
  ok(out:find(" d \n---\n 4\n(1 row)", 1, true), "aligned again on stdout: " .. out)
  ok(not out:find("\n3\n", 1, true), "\\o output not on stdout")
  ok(out:find("Timing is on.\n e \n---\n 5\n%(1 row%)\nTime: [%d.]+ ms; db: 1 statement, 1 row, [%d.]+ ms\n"), out)
  ok(out:find("\nTime: [%d.]+ ms; db: 1 statement, 4 rows, [%d.]+ ms\n"), "a db.rows loop: " .. out)
  ok(out:find("\\watch [SEC] [c=N]", 1, true), "\\? lists them: " .. out)
  ok(out:find("invalid command \\nosuch", 1, true), out)
  ok(out:find("help() lists the modules", 1, true), "bare help: " .. out)
  ok(out:find("exit() or \\q leaves the shell", 1, true), "bare exit: " .. out)
  ok(not out:find("function: 0x", 1, true), out)
  ok(not out:find("afterquit", 1, true), "\\q left the shell: " .. out)
  eq("rc=7\n", sh("printf 'exit(7)\\n1\\n' | " .. v .. " shell -i; echo rc=$?"))
  eq("rc=0\n", sh("printf 'quit()\\n' | " .. v .. " shell -i; echo rc=$?"))
end)
