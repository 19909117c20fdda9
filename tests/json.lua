-- venueless.json: encode/decode, shapes, limits and error positions.
local json = require "venueless.json"
local core = require "venueless.core"

local tmp = assert(os.getenv("VL_TMP"))

-- Decode s with python3's json module and re-dump it canonically.
local function pyjson(s)
  local f = assert(io.open(tmp .. "/in.json", "wb"))
  f:write(s)
  f:close()
  local out, code = sh("python3 -c 'import json,sys; " ..
    "print(json.dumps(json.load(open(sys.argv[1], encoding=\"utf-8\")), " ..
    "sort_keys=True, ensure_ascii=True))' " .. tmp .. "/in.json")
  eq(0, code, "python3 exit")
  return (out:gsub("\n$", ""))
end

test("scalars", function()
  eq("null", json.encode(nil))
  eq("null", json.encode(json.null))
  eq("true", json.encode(true))
  eq("false", json.encode(false))
  eq("0", json.encode(0))
  eq("-17", json.encode(-17))
  eq('"hi"', json.encode("hi"))
  eq('""', json.encode(""))
end)

test("null sentinel is shared", function()
  ok(rawequal(json.null, core.null), "json.null == core.null")
  ok(rawequal(json.decode("null"), json.null), "decoded null")
  eq('[null,1]', json.encode({json.null, 1}))
end)

test("int64 edges are exact both ways", function()
  local big = (1 << 53) + 1
  eq("9007199254740993", json.encode(big))
  eq(big, json.decode("9007199254740993"))
  ok(math.type(json.decode("9007199254740993")) == "integer", "integer")
  eq("9223372036854775807", json.encode(math.maxinteger))
  eq("-9223372036854775808", json.encode(math.mininteger))
  eq(math.maxinteger, json.decode("9223372036854775807"))
  eq(math.mininteger, json.decode("-9223372036854775808"))
  -- Beyond int64: a float, not a wrapped integer.
  local v = json.decode("9223372036854775808")
  eq("float", math.type(v))
  eq(2.0^63, v)
  eq("integer", math.type(json.decode("-0")))
  eq(pyjson("[9007199254740993]"), "[9007199254740993]")
end)

test("floats", function()
  eq("1.5", json.encode(1.5))
  eq("1.0", json.encode(1.0))
  eq("-0.0", json.encode(-0.0))
  eq("0.1", json.encode(0.1))
  eq("1e+300", json.encode(1e300))
  eq("float", math.type(json.decode("1.0")))
  eq("float", math.type(json.decode("1e2")))
  eq(100.0, json.decode("1E2"))
  eq(0.1, json.decode(json.encode(0.1)))
  local x = 1 / 3
  eq(x, json.decode(json.encode(x)))
  eq(math.pi, json.decode(json.encode(math.pi)))
  raises(function() json.encode(0 / 0) end, "NaN")
  raises(function() json.encode(math.huge) end, "infinity")
  raises(function() json.encode({-math.huge}) end, "infinity")
  fails("line 1 column 2: number out of range", json.decode("[1e999]"))
end)

test("array and object detection", function()
  eq("[1,2,3]", json.encode({1, 2, 3}))
  eq("{}", json.encode({}))
  eq("[]", json.encode(json.array({})))
  eq("{}", json.encode(json.object({})))
  eq('{"1":"a","3":"c"}', json.encode({[1] = "a", [3] = "c"}))
  eq('{"1":"a","x":1}', json.encode({"a", x = 1}))
  eq('{"0":1}', json.encode({[0] = 1}))
  eq('{"1":2}', json.encode(json.object({2})))
  eq("[1,null,3]", json.encode(json.array({1, nil, 3})))
  raises(function() json.encode({[1.5] = 1}) end, "number key")
  raises(function() json.encode({[true] = 1}) end, "boolean key")
  local t = json.array({})
  eq(t, json.array(t))
  ok(rawequal(t, json.array(t)), "returns its argument")
  eq("[]", json.encode(json.array()))
end)

test("decoded shapes keep their metatables", function()
  local v = json.decode('{"a":[],"b":{},"c":[1,{"d":[]}]}')
  eq('{"a":[],"b":{},"c":[1,{"d":[]}]}', json.encode(v))
  local arr, obj = getmetatable(v.a), getmetatable(v.b)
  ok(arr and obj and arr ~= obj, "two metatables")
  eq(arr, getmetatable(json.array({})))
  eq(obj, getmetatable(json.object({})))
  eq(obj, getmetatable(v))
  eq(arr, getmetatable(v.c))
end)

test("object keys sorted, __order respected", function()
  eq('{"a":1,"b":2,"c":3}', json.encode({c = 3, a = 1, b = 2}))
  eq('{"A":1,"B":3,"a":2}', json.encode({a = 2, A = 1, B = 3}))
  local t = json.ordered({type = "connection.drop", id = 7, z = 1}, {"type", "z"})
  eq('{"type":"connection.drop","z":1,"id":7}', json.encode(t))
  -- Keys named in __order but absent are skipped; duplicates written once.
  t = json.ordered({b = 1, a = 2}, {"b", "missing", "b"})
  eq('{"b":1,"a":2}', json.encode(t))
  eq('{"b":1,"a":2}', json.encode(setmetatable({a = 2, b = 1}, {__order = {"b", "a"}})))
  raises(function() json.encode(setmetatable({}, {__order = {1}})) end, "__order")
  raises(function() json.encode(setmetatable({}, {__order = true})) end, "__order")
end)

-- The same rules as msgpack.encode (tests/msgpack.lua): one walker.
test("__order entries must be strings", function()
  raises(function() json.encode(json.ordered({a = 1}, {"a", 2})) end,
    "__order%[2%] is not a string")
  raises(function() json.encode(json.ordered({}, {"a", {}})) end,
    "__order%[2%] is not a string")
  raises(function() json.encode({x = setmetatable({}, {__order = "a"})}) end,
    "__order is not a table")
  -- An entry naming an absent key is still checked.
  raises(function() json.encode(json.ordered({}, {true})) end,
    "__order%[1%] is not a string")
end)

test("integer keys are named once", function()
  eq('{"1":"a"}', json.encode({[1] = "a", ["1"] = "a"}))
  eq('{"10":2,"2":1,"x":0}', json.encode({[2] = 1, [10] = 2, x = 0}))
  eq('{"5":1,"a":2}', json.encode(setmetatable({[5] = 1, ["5"] = 1, a = 2},
    {__order = {"5"}})))
  eq('{"-1":1,"0":2}', json.encode({[-1] = 1, [0] = 2}))
end)

test("nested objects with many keys", function()
  local v = {}
  for i = 1, 300 do
    local inner = {}
    for j = 1, 300 do inner["k" .. j] = {j, {x = i}} end
    v["o" .. i] = inner
  end
  local s = json.encode(v)
  local back = json.decode(s)
  eq(300, back.o300.k300[1])
  eq(7, back.o7.k1[2].x)
  eq(s, json.encode(back))
  ok(s:find('^{"o1":{"k1":%[1,{"x":1}%],"k10":%[10,'), "sorted at every level")
end)

test("indent", function()
  eq('{\n  "a": [\n    1,\n    {}\n  ],\n  "b": []\n}',
    json.encode({a = {1, {}}, b = json.array({})}, {indent = true}))
  eq("[]", json.encode(json.array({}), {indent = true}))
  eq('{"a":1}', json.encode({a = 1}, {indent = false}))
  raises(function() json.encode(1, "x") end, "table expected")
end)

test("strings: escapes, NUL bytes, UTF-8", function()
  eq('"a\\"b\\\\c\\n\\r\\t\\b\\f\\u0001\\u001f/"',
    json.encode('a"b\\c\n\r\t\b\f\1\31/'))
  eq('"x\\u0000y"', json.encode("x\0y"))
  eq('"é€𝄞"', json.encode("é€𝄞"))
  eq([["\u00e9\u20ac\ud834\udd1e"]], pyjson(json.encode("é€𝄞")))
  eq("é€𝄞\"\\\n", json.decode('"\\u00e9\\u20ac\\ud834\\udd1e\\"\\\\\\n"'))
  for _, bad in ipairs{"\xff", "a\x80", "\xc0\xaf", "\xed\xa0\x80",
      "\xf4\x90\x80\x80", "\xe2\x82", "\xf8\x88\x80\x80\x80"} do
    raises(function() json.encode({s = bad}) end, "invalid UTF%-8")
  end
  raises(function() json.encode({["\xff"] = 1}) end, "invalid UTF%-8")
  fails("line 1 column 3: invalid UTF%-8", json.decode('["\xff"]'))
  fails("line 1 column 3: \\u0000", json.decode('"a\\u0000b"'))
  fails("^line 1 column 4: unexpected control character U%+0001 in a string$",
    json.decode('["a\1"]'))
  fails("^line 1 column 2: unexpected control character U%+0000, expected a value",
    json.decode("[\0]"))
  fails("^line 1 column 3: unexpected control character U%+0000 after the value$",
    json.decode("{}\0"))
  -- Half a surrogate pair is no character (nor valid in jsonb).
  fails("^line 1 column 2: unpaired surrogate", json.decode('"\\ud800"'))
  fails("^line 1 column 3: unpaired surrogate", json.decode('["\\udc00"]'))
  fails("^line 1 column 2: unpaired surrogate", json.decode('"\\ud800\\u0041"'))
  eq("\xf0\x9d\x84\x9e", json.decode('"\\uD834\\uDD1E"'))
  fails("^line 1 column 6: unexpected 'G' in a \\u escape", json.decode('"\\u12G4"'))
  fails("^line 1 column 3: unexpected 'x' after a backslash$", json.decode('"\\x"'))
  fails("^line 1 column 6: unexpected end of input$", json.decode('"\\u12'))
  eq("\\u0000", json.decode('"\\\\u0000"'))
end)

test("malformed input gives line and column", function()
  fails("^line 1 column 1: unexpected end of input$", json.decode(""))
  fails("^line 2 column 3: unexpected end of input$", json.decode(" \n  "))
  fails("^line 1 column 5: unexpected end of input$", json.decode("[1,2"))
  fails("^line 3 column 6: unexpected ',', expected a value after ','$",
    json.decode("\n\n  [1,,2]"))
  fails("^line 1 column 6: unexpected '1', expected ':'$", json.decode('{"a" 1}'))
  fails("^line 2 column 3: unexpected '}', expected a value after ','$",
    json.decode("[1,\n2,}"))
  fails("^line 1 column 5: unexpected 'x' after the value$", json.decode("[1] x"))
  fails("^line 1 column 4: unexpected end of input$", json.decode("tru"))
  fails("^line 1 column 4: unexpected 'e', expected true$", json.decode("[tree]"))
  fails("^line 1 column 1: unexpected \"'\", expected a value$", json.decode("'a'"))
  fails("^line 1 column 8: unexpected '}', expected a member name after ','$",
    json.decode('{"a":1,}'))
  fails("^line 1 column 2: unexpected 'N', expected a value or ']'$",
    json.decode("[NaN]"))
  fails("^line 1 column 2: unexpected '1', expected a member name or '}'$",
    json.decode("{1:2}"))
  fails("^line 1 column 4: unexpected '2', expected ',' or ']'$", json.decode("[1 2]"))
  fails("^line 1 column 8: unexpected '\"', expected ',' or '}'$",
    json.decode('{"a":1 "b":2}'))
  raises(function() json.decode() end, "string expected")
  raises(function() json.decode({}) end, "string expected")
end)

-- Issue 12 item 9: the position is the offending character's, never the
-- blank after it; whitespace is named; a cut-off text says so.
test("syntax errors point at the offending character", function()
  fails("^line 1 column 9: unexpected '}', expected a member name after ','$",
    json.decode('{"a": 1,}   '))
  fails("^line 3 column 1: unexpected '}', expected a member name after ','$",
    json.decode('{\n  "a": 1,\n}\n'))
  fails("^line 4 column 3: unexpected ']', expected a value after ','$",
    json.decode('{\n  "a": [\n    1,\n  ]\n}\n'))
  -- Cut off: the end of the text is where input ran out.
  fails("^line 3 column 1: unexpected end of input$", json.decode('{\n  "a": [1,\n'))
  fails("^line 1 column 11: unexpected end of input$", json.decode('{"a": "abc'))
  fails("^line 1 column 1: unexpected end of input$", json.decode(""))
  fails("^line 2 column 3: unexpected end of input$", json.decode(" \n  "))
  -- Whitespace by name: inside a token, or raw in a string.
  fails("^line 1 column 3: unexpected tab in a string$", json.decode('"a\tb"'))
  fails("^line 1 column 5: unexpected newline in a string$", json.decode('"abc\n"'))
  fails("^line 1 column 2: unexpected carriage return in a string$", json.decode('"\r"'))
  fails("^line 1 column 3: unexpected space, expected a digit$", json.decode("[- 1]"))
  fails("^line 1 column 4: unexpected space, expected null$", json.decode("nul l"))
  -- Columns count characters (as editors do), a tab as one.
  fails("^line 1 column 10: unexpected '}', expected a member name after ','$",
    json.decode('{"\u{e9}": 1, }'))
  fails("^line 2 column 7: unexpected 'x', expected ',' or '}'$",
    json.decode('{"a":\n\t"\u{20ac}\u{1d11e}" x}'))
  -- Bytes that are not characters are shown in hex, never raw.
  fails("^line 1 column 2: unexpected byte 0xff, expected a value or ']'$",
    json.decode("[\xff]"))
  fails("^line 1 column 2: unexpected U%+00E9, expected a value or ']'$",
    json.decode("[\u{e9}]"))
end)

-- Issue 11 item 9: RFC 8259 numbers, whitespace and start of text only.
test("numbers follow RFC 8259", function()
  for _, c in ipairs{
    {"007", "^line 1 column 2: unexpected '0' after a leading zero$"},
    {"[01]", "^line 1 column 3: unexpected '1' after a leading zero$"},
    {"-00", "^line 1 column 3: unexpected '0' after a leading zero$"},
    {"1.", "^line 1 column 3: unexpected end of input$"},
    {"[1.]", "^line 1 column 4: unexpected ']', expected a digit after '%.'$"},
    {"1.e5", "^line 1 column 3: unexpected 'e', expected a digit after '%.'$"},
    {"-.5", "^line 1 column 2: unexpected '%.', expected a digit$"},
    {".5", "^line 1 column 1: unexpected '%.', expected a value$"},
    {"+1", "^line 1 column 1: unexpected '%+', expected a value$"},
    {"-", "^line 1 column 2: unexpected end of input$"},
    {"[1e]", "^line 1 column 4: unexpected ']', expected a digit in the exponent$"},
    {"[1E+]", "^line 1 column 5: unexpected ']', expected a digit in the exponent$"},
    {"0x10", "^line 1 column 2: unexpected 'x' after the value$"},
    {"[-Infinity]", "^line 1 column 3: unexpected 'I', expected a digit$"},
  } do
    local v, msg = json.decode(c[1])
    ok(v == nil, c[1] .. " is refused")
    ok(msg:find(c[2]), ("%s: %q does not match %q"):format(c[1], msg, c[2]))
  end
  for text, want in pairs{["0"] = 0, ["-0"] = 0, ["10"] = 10, ["0.5"] = 0.5,
      ["-0.5"] = -0.5, ["1e5"] = 1e5, ["1E+5"] = 1e5, ["1e-5"] = 1e-5,
      ["-1.5E-3"] = -1.5e-3, ["0e0"] = 0.0, ["20E01"] = 200.0} do
    eq(want, json.decode(text), text)
  end
  eq("float", math.type(json.decode("0e0")))
  -- No length limit: long numbers are read whole.
  eq(tonumber(("1"):rep(100)), json.decode(("1"):rep(100)))
  eq(tonumber("0." .. ("3"):rep(100)), json.decode("[0." .. ("3"):rep(100) .. "]")[1])
  eq(1e19, json.decode("10000000000000000000"))
end)

-- cJSON builds the tree; numbers are read from the text beside it, so the
-- two must stay in step past escaped quotes, long numbers and literals.
test("numbers keep their own text among strings and literals", function()
  local long = ("7"):rep(80)
  local v = assert(json.decode('{"a\\"b": "x\\\\", "n": [' .. long ..
    ', true, "]\\"", null, -9007199254740993, 1.0, {"k,:": 9007199254740993}],' ..
    ' "m": -' .. long .. 'e-70, "z": 3}'))
  eq("x\\", v['a"b'])
  eq(tonumber(long), v.n[1])
  eq(true, v.n[2])
  eq(']"', v.n[3])
  ok(rawequal(json.null, v.n[4]), "null")
  eq(-9007199254740993, v.n[5])
  eq("integer", math.type(v.n[5]))
  eq("float", math.type(v.n[6]))
  eq(9007199254740993, v.n[7]["k,:"])
  eq(tonumber("-" .. long .. "e-70"), v.m)
  eq(3, v.z)
  eq("integer", math.type(v.z))
end)

test("RFC 8259 whitespace, no byte order mark", function()
  eq({1}, json.decode(" \t\r\n[ \t\r\n1 \t\r\n] \t\r\n"))
  -- A byte order mark is refused, as PostgreSQL and Python's json do: the
  -- text import_config reads goes to the server as it is.
  fails("^line 1 column 1: unexpected byte order mark %(U%+FEFF%), expected a value$",
    json.decode("\xef\xbb\xbf[1]"))
  fails("^line 1 column 1: unexpected control character U%+000C, expected a value$",
    json.decode("\f[1]"))
  fails("^line 1 column 4: unexpected control character U%+000B, expected a value after ','$",
    json.decode("[1,\v2]"))
  fails("^line 1 column 1: unexpected no%-break space %(U%+00A0%), expected a value$",
    json.decode("\u{a0}[1]"))
end)

-- What decodes here is what jsonb takes (import_config sends the text it
-- read): no file that passes validation fails later inside PostgreSQL.
test("json.decode accepts what jsonb accepts", function()
  local db = require "venueless.db"
  for _, s in ipairs{"007", "1.", "-.5", ".5", "+1", "[01]", "1.e5", "0x10",
      "\xef\xbb\xbf[1]", "\f[1]", "\u{a0}1", "[1,]", '{"a":1,}', "'a'", "[NaN]",
      "[Infinity]", '"\\u0000"', '"\\ud800"', '"\\udc00"', '"a\tb"', "[1] x",
      '{"a":[1,2.5e3,-0,0.0,1E-2,true,false,null,"\\u00e9\\ud834\\udd1e\\/"]}',
      " \t\r\n[] \n", '"\u{e9}"', "-0.0e+0", ("9"):rep(30)} do
    local pg = core.try(db.query, "select $1::jsonb j", s) ~= nil
    eq(pg, json.decode(s) ~= nil, ("%q: jsonb %s it"):format(s, pg and "takes" or "refuses"))
  end
end)

test("round trip through python3", function()
  local v = {a = {1, 2.5, "x", true, false, json.null}, b = {c = {}}, ["é"] = -3}
  local s = json.encode(v)
  eq('{"a": [1, 2.5, "x", true, false, null], "b": {"c": {}}, "\\u00e9": -3}',
    pyjson(s))
  eq(s, json.encode(json.decode(s)))
end)

test("nesting depth limit and cycles", function()
  local t = {}
  for _ = 1, 199 do t = {t} end
  ok(json.encode(t), "199 levels of tables plus one")
  t = {t}
  raises(function() json.encode(t) end, "nested more than 200")
  ok(json.decode(("["):rep(200) .. ("]"):rep(200)), "200 deep")
  fails("^line 1 column 201: nested too deeply",
    json.decode(("["):rep(201) .. ("]"):rep(201)))
  fails("nested too deeply", json.decode(('{"a":'):rep(5000) .. "1" .. ("}"):rep(5000)))
  fails("^line 1 column 201: nested too deeply$", json.decode(("["):rep(100000)))
  local c = {}
  c.self = c
  raises(function() json.encode(c) end, "contains itself")
  local a = {}
  a[1] = {{a}}
  raises(function() json.encode(a) end, "contains itself")
  local shared = {1}
  eq('[[1],[1]]', json.encode({shared, shared}))
end)

test("unencodable values raise", function()
  raises(function() json.encode(print) end, "cannot encode function")
  raises(function() json.encode({f = print}) end, "cannot encode function")
  raises(function() json.encode({coroutine.create(print)}) end, "thread")
  raises(function() json.encode(io.stdout) end, "cannot encode")
end)

test("large values", function()
  local big = ("x"):rep(1 << 20) .. "é"
  local s = json.encode({big})
  eq(#big + 4, #s)
  eq(big, json.decode(s)[1])
  local arr = {}
  for i = 1, 100000 do arr[i] = i end
  s = json.encode(arr)
  local back = json.decode(s)
  eq(100000, #back)
  eq(100000, back[100000])
  eq(s, json.encode(back))
  local obj = {}
  for i = 1, 20000 do obj["k" .. i] = i end
  back = json.decode(json.encode(obj))
  eq(20000, back.k20000)
  local n = 0
  for _ in pairs(back) do n = n + 1 end
  eq(20000, n)
end)
