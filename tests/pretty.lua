-- The shell's printer, without a terminal: tables, limits, cycles,
-- objects, null, query results (aligned and expanded), colours.
local pretty = require "venueless.pretty"

local function fmt(v, opts)
  opts = opts or {}
  if opts.color == nil then opts.color = false end
  return pretty.format(v, opts)
end

test("scalars", function()
  eq("abc", fmt("abc"), "a top-level string as is")
  eq("42", fmt(42))
  eq("1.5", fmt(1.5))
  eq("true", fmt(true))
  eq("nil", fmt(nil))
  eq("null", fmt(json.null))
  eq("null", fmt(db.NULL))
end)

test("tables: array part, then sorted keys, strings quoted", function()
  eq("{}", fmt({}))
  eq('{ 1, 2, "x" }', fmt({ 1, 2, "x" }))
  eq('{ 10, a = 1, b = "two", z = { y = true } }', fmt({ b = "two", a = 1, z = { y = true }, 10 }))
  eq('{ [1.5] = "f", ["end"] = 2, ["not an ident"] = 1 }',
    fmt({ ["not an ident"] = 1, [1.5] = "f", ["end"] = 2 }))
  eq('{ s = "line\\nbreak" }', fmt({ s = "line\nbreak" }))
  eq("{ n = null }", fmt({ n = json.null }))
end)

test("depth and item limits", function()
  eq("{ a = { b = { c = { d = {…} } } } }", fmt({ a = { b = { c = { d = { e = 1 } } } } }))
  local big = {}
  for i = 1, 60 do big[i] = i end
  local s = fmt(big)
  ok(s:find("50,\n", 1, true) or s:find("50, ", 1, true), "50 shown")
  ok(not s:find("51", 1, true), "51 not shown")
  ok(s:find("… (10 more)", 1, true), "the rest counted")
end)

test("cycles are marked", function()
  local t = { name = "t" }
  t.self = t
  eq('{ name = "t", self = <cycle> }', fmt(t))
  local shared = { 1 }
  eq("{ a = { 1 }, b = { 1 } }", fmt({ a = shared, b = shared }), "shared, not a cycle")
end)

test("long tables break into indented lines", function()
  local old = pretty.width
  pretty.width = 30
  eq('{\n  alpha = "aaaaaaaaaa",\n  beta = "bbbbbbbbbb"\n}',
    fmt({ alpha = "aaaaaaaaaa", beta = "bbbbbbbbbb" }))
  pretty.width = old
end)

test("objects print through __tostring", function()
  local w = setmetatable({ id = "sample" }, { __tostring = function(x)
    return ('<world %s "Title">'):format(x.id) end })
  eq('<world sample "Title">', fmt(w))
  eq('{ <world sample "Title"> }', fmt({ w }))
  local e = raises(function() require("venueless.core").error(1, "boom") end)
  eq("boom", fmt(e))
end)

test("functions show their documented signature", function()
  eq("<function db.exec([opts,] sql, ...)>", fmt(db.exec))
  ok(fmt(print):find("^function: "))
end)

local function result()
  return { columns = { "id", "title", "n" }, count = 2,
    { id = "sample", title = "Sample World", n = 1 },
    { id = "x", title = db.NULL, n = 22 } }
end

test("query results as aligned tables", function()
  eq(table.concat({
    " id     | title        |  n ",
    "--------+--------------+----",
    " sample | Sample World |  1",
    " x      | NULL         | 22",
    "(2 rows)" }, "\n"), fmt(result()))
  eq(" a \n---\n(0 rows)", fmt({ columns = { "a" }, count = 0 }))
  eq("(3 rows)", fmt({ columns = {}, count = 3 }), "a command's count")
end)

test("wide rows use the expanded layout", function()
  -- headers as wide as the widest "column | value" line, as psql's \x
  eq(table.concat({
    "-[ RECORD 1 ]-------",
    "id    | sample",
    "title | Sample World",
    "n     | 1",
    "-[ RECORD 2 ]-------",
    "id    | x",
    "title | NULL",
    "n     | 22",
    "(2 rows)" }, "\n"), fmt(result(), { expanded = true }))
  local old = pretty.width
  pretty.width = 20
  ok(fmt(result()):find("^%-%[ RECORD 1 %]"), "expanded when wider than the terminal")
  pretty.width = old
  pretty.expanded = true
  ok(fmt(result()):find("^%-%[ RECORD 1 %]"), "pretty.expanded forces it")
  pretty.expanded = nil
end)

test("a real query result", function()
  local r = assert(db.query("SELECT 1 AS a, 'x' AS b, NULL::int AS c"))
  eq(" a | b | c    \n---+---+------\n 1 | x | NULL\n(1 row)", fmt(r))
end)

test("colours on request, none with NO_COLOR or off a terminal", function()
  eq("\27[36m42\27[0m", pretty.format(42, { color = true }))
  eq('{ a = \27[32m"x"\27[0m }', pretty.format({ a = "x" }, { color = true }))
  eq(false, pretty.use_color(), "stdout is not a terminal here")
  local out = sh("NO_COLOR=1 " .. os.getenv("VENUELESS") .. " shell -e 'return require(\"venueless.pretty\").use_color()'")
  eq("false\n", out)
  eq(3, pretty.display_width("\27[1mabc\27[0m"))
  eq(2, pretty.display_width("äö"))
end)

test("printing does not load the completer", function()
  -- a fresh process: this file's harness may have loaded it already
  local out = sh(os.getenv("VENUELESS") .. [[ shell -e '
    local p = require("venueless.pretty")
    local s = p.format({ alpha = 1, ["end"] = 2, { 3 } }, { color = false })
    return s, package.loaded["venueless.complete"] == nil,
      package.loaded["venueless.complete.sources"] == nil']])
  eq('{ { 3 }, alpha = 1, ["end"] = 2 }\ttrue\ttrue\n', out)
end)

test("control characters are escaped: strings, result cells, pretty.escape", function()
  eq('a\\x1b]0;t\\a\\x1b[2J\\u{9b}b\\tc\\n\\r\\x00\\x7f\\x01 é \\', pretty.escape(
    "a\27]0;t\7\27[2J\u{9b}b\tc\n\r\0\127\1 é \\"), "C0, DEL and C1 escaped, the rest kept")
  eq('{ s = "q\\"\\\\\\x1b[31m\\u{85}" }', fmt({ s = 'q"\\\27[31m\u{85}' }),
    "a string as a Lua literal")
  eq("q\"\\\27[31m\u{85}", load("return " .. fmt({ 'q"\\\27[31m\u{85}' }):sub(3, -3))(),
    "the literal reads back")
  local r = fmt({ columns = { "t" }, count = 1, { t = "x\27]0;y\7z" } })
  ok(not r:find("[\27\7]"), "no raw control character in a cell: " .. r)
  ok(r:find("x\\x1b]0;y\\az", 1, true), "the cell escaped: " .. r)
end)

test("__pretty shows a replacement, and never the value when it fails", function()
  local secret = setmetatable({ pw = "s3cret" }, { __pretty = function(t)
    return { pw = "***", n = #t.pw }
  end })
  eq('{ x = { n = 6, pw = "***" } }', fmt({ x = secret }))
  local broken = setmetatable({ pw = "s3cret" }, { __pretty = function() error("no") end })
  eq("<table>", fmt(broken))
  local again = setmetatable({ pw = "s3cret" }, { __pretty = function(t) return t end })
  eq("<table>", fmt(again))
end)

test("row objects (worlds, rooms) print as their fields, credentials masked", function()
  local row = { id = "w1", title = "T", secret_key = "s3", n = 2 }
  local order = { "id", "title", "secret_key", "n" }
  local obj = setmetatable({}, {
    __tostring = function() return '<world w1 "T">' end,
    __index = function(_, k) return row[k] end,
    __pairs = function()
      local i = 0
      return function()
        i = i + 1
        if order[i] then return order[i], row[order[i]] end
      end
    end,
    _fields = { id = true, title = true, secret_key = true, n = true },
  })
  eq('<world w1 "T">\n  id         = "w1"\n  title      = "T"\n  secret_key = ***\n  n          = 2',
    fmt(obj))
  eq('{ <world w1 "T"> }', fmt({ obj }), "nested: the short form")
  eq(true, pretty.secret_name("vapid_private_key"))
  eq(false, pretty.secret_name("title"))
end)
