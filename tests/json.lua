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
  fails("line 1 column 4: control character in string", json.decode('["a\1"]'))
  fails("line 1 column 2: control character", json.decode("[\0]"))
  fails("line 1 column 3: control character", json.decode("{}\0"))
  fails("^line 1 column", json.decode('"\\ud800"'))
  eq("\\u0000", json.decode('"\\\\u0000"'))
end)

test("malformed input gives line and column", function()
  fails("^line 1 column 1: unexpected end of input$", json.decode(""))
  fails("^line 2 column 3: unexpected end of input$", json.decode(" \n  "))
  fails("^line 1 column 4: syntax error", json.decode("[1,2"))
  fails("^line 3 column 6: syntax error near ','", json.decode("\n\n  [1,,2]"))
  fails("^line 1 column 6: syntax error near '1'", json.decode('{"a" 1}'))
  fails("^line 2 column 3: syntax error near '}'", json.decode("[1,\n2,}"))
  fails("^line 1 column 5: unexpected text after the value", json.decode("[1] x"))
  fails("^line 1 column 1: syntax error", json.decode("tru"))
  fails("^line 1 column 1: syntax error", json.decode("'a'"))
  fails("^line 1 column", json.decode('{"a":1,}'))
  fails("^line 1 column", json.decode("[NaN]"))
  raises(function() json.decode() end, "string expected")
  raises(function() json.decode({}) end, "string expected")
  eq({1}, json.decode("\xef\xbb\xbf [1] \n"))
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
  fails("^line 1 column", json.decode(("["):rep(100000)))
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
