-- venueless.msgpack: byte-exact encoding, decoding, limits and errors.
local mp = require "venueless.msgpack"
local json = require "venueless.json"
local crypto = require "venueless.crypto"

local tmp = assert(os.getenv("VL_TMP"))

local function hex(s)
  return (s:gsub(".", function(c) return ("%02x"):format(c:byte()) end))
end

local function unhex(h)
  return (h:gsub("%s", ""):gsub("..", function(x) return string.char(tonumber(x, 16)) end))
end

-- An independent decoder (python3, no packages): msgpack bytes -> JSON text
-- with sorted keys, ints exact, bin as "bin:<hex>".
local pydecoder = [[
import json, struct, sys
d = open(sys.argv[1], "rb").read()
def rd(i):
    b = d[i]; i += 1
    if b <= 0x7f: return b, i
    if b >= 0xe0: return b - 256, i
    if 0x80 <= b <= 0x8f: return rmap(b & 15, i)
    if 0x90 <= b <= 0x9f: return rarr(b & 15, i)
    if 0xa0 <= b <= 0xbf: n = b & 31; return d[i:i+n].decode(), i + n
    if b == 0xc0: return None, i
    if b == 0xc2: return False, i
    if b == 0xc3: return True, i
    fmt = {0xcc: ">B", 0xcd: ">H", 0xce: ">I", 0xcf: ">Q", 0xd0: ">b",
           0xd1: ">h", 0xd2: ">i", 0xd3: ">q", 0xca: ">f", 0xcb: ">d"}
    if b in fmt:
        n = struct.calcsize(fmt[b]); return struct.unpack(fmt[b], d[i:i+n])[0], i + n
    lens = {0xd9: ">B", 0xda: ">H", 0xdb: ">I", 0xc4: ">B", 0xc5: ">H", 0xc6: ">I"}
    if b in lens:
        k = struct.calcsize(lens[b]); n = struct.unpack(lens[b], d[i:i+k])[0]; i += k
        s = d[i:i+n]
        return (s.decode() if b >= 0xd9 else "bin:" + s.hex()), i + n
    if b in (0xdc, 0xdd):
        k = 2 if b == 0xdc else 4; return rarr(int.from_bytes(d[i:i+k], "big"), i + k)
    if b in (0xde, 0xdf):
        k = 2 if b == 0xde else 4; return rmap(int.from_bytes(d[i:i+k], "big"), i + k)
    raise ValueError("byte %x" % b)
def rarr(n, i):
    out = []
    for _ in range(n):
        v, i = rd(i); out.append(v)
    return out, i
def rmap(n, i):
    out = {}
    for _ in range(n):
        k, i = rd(i); v, i = rd(i); out[str(k)] = v
    return out, i
v, i = rd(0)
assert i == len(d), "trailing bytes"
print(json.dumps(v, sort_keys=True, separators=(",", ":")))
]]

local function pydecode(bytes)
  local f = assert(io.open(tmp .. "/dec.py", "w"))
  f:write(pydecoder)
  f:close()
  f = assert(io.open(tmp .. "/in.mp", "wb"))
  f:write(bytes)
  f:close()
  local out, code = sh("python3 " .. tmp .. "/dec.py " .. tmp .. "/in.mp")
  eq(0, code, "python3: " .. out)
  return (out:gsub("\n$", ""))
end

-- Python's msgpack-compatible encoding of a JSON value is not available
-- without pip, so fixtures below were checked against the spec by hand.
test("channel message fixture", function()
  local msg = json.ordered({type = "connection.drop"}, {"type"})
  eq("81a474797065af636f6e6e656374696f6e2e64726f70", hex(mp.encode(msg)))
  eq('{"type":"connection.drop"}', pydecode(mp.encode(msg)))
  local v, n = mp.decode(unhex("81a474797065af636f6e6e656374696f6e2e64726f70"))
  eq({type = "connection.drop"}, v)
  eq(23, n)
end)

test("integers use the smallest format", function()
  local cases = {
    {0, "00"}, {1, "01"}, {127, "7f"}, {128, "cc80"}, {255, "ccff"},
    {256, "cd0100"}, {65535, "cdffff"}, {65536, "ce00010000"},
    {4294967295, "ceffffffff"}, {4294967296, "cf0000000100000000"},
    {math.maxinteger, "cf7fffffffffffffff"}, {-1, "ff"}, {-32, "e0"},
    {-33, "d0df"}, {-128, "d080"}, {-129, "d1ff7f"}, {-32768, "d18000"},
    {-32769, "d2ffff7fff"}, {-2147483648, "d280000000"},
    {-2147483649, "d3ffffffff7fffffff"},
    {math.mininteger, "d38000000000000000"},
  }
  for _, c in ipairs(cases) do
    eq(c[2], hex(mp.encode(c[1])), tostring(c[1]))
    local v, n = mp.decode(unhex(c[2]))
    eq(c[1], v)
    eq("integer", math.type(v))
    eq(#c[2] // 2 + 1, n)
  end
  eq("[9223372036854775807,-9223372036854775808,9007199254740993]",
    pydecode(mp.encode({math.maxinteger, math.mininteger, (1 << 53) + 1})))
  -- uint64 beyond int64 decodes to a float.
  eq(2.0^64 - 1, mp.decode(unhex("cfffffffffffffffff")))
end)

test("floats, booleans, nil", function()
  eq("cb3ff8000000000000", hex(mp.encode(1.5)))
  eq("cb3ff0000000000000", hex(mp.encode(1.0)))
  eq("float", math.type(mp.decode(mp.encode(1.0))))
  eq(0.1, mp.decode(mp.encode(0.1)))
  eq(1.5, mp.decode(unhex("ca3fc00000")))       -- float32
  ok(mp.decode(mp.encode(0 / 0)) ~= mp.decode(mp.encode(0 / 0)), "NaN")
  eq(math.huge, mp.decode(mp.encode(math.huge)))
  eq("c3", hex(mp.encode(true)))
  eq("c2", hex(mp.encode(false)))
  eq("c0", hex(mp.encode(nil)))
  eq("c0", hex(mp.encode(mp.null)))
  ok(rawequal(mp.null, json.null), "one null")
  ok(rawequal(mp.decode("\xc0"), mp.null), "nil decodes to null")
  eq(false, (mp.decode("\xc2")))
  eq("[1.5,true,false,null]", pydecode(mp.encode({1.5, true, false, mp.null})))
end)

test("strings are str, never bin", function()
  eq("a0", hex(mp.encode("")))
  eq("a3616263", hex(mp.encode("abc")))
  local s31, s32 = ("x"):rep(31), ("x"):rep(32)
  eq("bf" .. hex(s31), hex(mp.encode(s31)))
  eq("d920" .. hex(s32), hex(mp.encode(s32)))
  local s256 = ("y"):rep(256)
  eq("da0100" .. hex(s256), hex(mp.encode(s256)))
  local s64k = ("z"):rep(65536)
  eq("db00010000", hex(mp.encode(s64k):sub(1, 5)))
  -- Arbitrary bytes, NULs included, go through unchanged.
  local bytes = "\0\1\255\xc0\0"
  eq("a5" .. "0001ffc000", hex(mp.encode(bytes)))
  eq(bytes, mp.decode(mp.encode(bytes)))
  -- bin decodes to a string.
  eq("\0\1\2", mp.decode(unhex("c403000102")))
  eq("abc", mp.decode(unhex("c50003616263")))
end)

test("arrays and maps", function()
  eq("90", hex(mp.encode(json.array({}))))
  eq("80", hex(mp.encode({})))
  eq("80", hex(mp.encode(json.object({}))))
  eq("93010203", hex(mp.encode({1, 2, 3})))
  eq("93" .. "01c003", hex(mp.encode(json.array({1, nil, 3}))))
  local t16 = {}
  for i = 1, 16 do t16[i] = i end
  eq("dc0010", hex(mp.encode(t16)):sub(1, 6))
  -- Sorted keys: integers first, then strings bytewise.
  eq("84" .. "0105" .. "0304" .. "a16102" .. "a16201",
    hex(mp.encode({b = 1, a = 2, [3] = 4, [1] = 5})))
  eq("82a16101a16202", hex(mp.encode({b = 2, a = 1})))
  local ord = json.ordered({b = 2, a = 1, c = 3}, {"c", "b"})
  eq("83a16303a16202a16101", hex(mp.encode(ord)))
  eq('{"a":1,"b":2,"c":3}', pydecode(mp.encode(ord)))
  local v = mp.decode(unhex("82a16190a16280"))
  eq(getmetatable(json.array({})), getmetatable(v.a))
  eq(getmetatable(json.object({})), getmetatable(v.b))
  eq(getmetatable(json.object({})), getmetatable(v))
  eq("{\"a\":[],\"b\":{}}", json.encode(v))
  eq("82a16190a16280", hex(mp.encode(v)))
  v = mp.decode(unhex("8201a178a17902"))
  eq("x", v[1])
  eq(2, v.y)
  raises(function() mp.encode({[1.5] = 1}) end, "number key")
  raises(function() mp.encode({[true] = 1}) end, "boolean key")
end)

test("round trip of a nested value", function()
  local v = {
    type = "chat.event", room = "r1", data = {id = 12345678901, n = -1,
    tags = {"a", "b"}, ok = true, no = false, none = mp.null, f = 0.25,
    nested = {{}, json.array({}), {x = {y = {z = "deep"}}}}},
  }
  local bytes = mp.encode(v)
  local back, n = mp.decode(bytes)
  eq(#bytes + 1, n)
  eq(bytes, mp.encode(back))
  eq(json.encode(v), json.encode(back))
  eq(json.encode(v), pydecode(bytes))
end)

test("decode with a position walks a stream", function()
  local stream = mp.encode(1) .. mp.encode("two") .. mp.encode({3})
  local a, p1 = mp.decode(stream)
  local b, p2 = mp.decode(stream, p1)
  local c, p3 = mp.decode(stream, p2)
  eq({1, "two", {3}}, {a, b, c})
  eq(#stream + 1, p3)
  fails("truncated", mp.decode(stream, p3))
  raises(function() mp.decode(stream, 0) end, "out of range")
  raises(function() mp.decode(stream, #stream + 2) end, "out of range")
  raises(function() mp.decode(stream, 1.5) end, "number has no integer")
  raises(function() mp.decode(nil) end, "string expected")
end)

test("malformed and truncated input", function()
  fails("truncated", mp.decode(""))
  fails("^value at byte 1: truncated", mp.decode("\x92\x01"))
  fails("truncated", mp.decode("\xa5abc"))
  fails("truncated", mp.decode("\xcd\x01"))
  -- Headers claiming more than the input holds fail before msgpack-c
  -- allocates for them.
  fails("truncated", mp.decode("\xdd\xff\xff\xff\xff"))
  fails("truncated", mp.decode("\xdf\x7f\xff\xff\xff\x01\x02"))
  fails("truncated", mp.decode("\x92\xdd\x00\x00\x00\x02\x01\x01"))
  fails("truncated", mp.decode("\xdb\xff\xff\xff\xff"))
  fails("truncated", mp.decode("\xc6\x00\x00\x00\x05abcd"))
  fails("truncated", mp.decode("\x92\xa4abcd"))
  eq({"abcd", 1}, (mp.decode("\x92\xa4abcd\x01")))
  fails("malformed", mp.decode("\xc1"))
  fails("^value at byte 2: malformed", mp.decode("\xc0\xc1", 2))
  fails("ext", mp.decode("\xd4\x01\x02"))
  fails("ext", mp.decode("\xc7\x02\x05ab"))
  fails("truncated", mp.decode("\xc7\x03\x05ab"))
  fails("ext", mp.decode("\x92\xd5\x01ab\x01"))
  fails("map key", mp.decode("\x81\xc0\x01"))
  fails("map key", mp.decode("\x81\xcb\x7f\xf8\x00\x00\x00\x00\x00\x00\x01"))
  -- Random garbage never crashes.
  for _ = 1, 2000 do
    local s = crypto.random_bytes(math.random(0, 24))
    local v, n = mp.decode(s)
    if v ~= nil then ok(math.type(n) == "integer" and n <= #s + 1, "position") end
  end
end)

test("nesting: encode limit 200, decode limit from msgpack-c", function()
  local t = {}
  for _ = 1, 199 do t = {t} end
  ok(mp.encode(t), "200 tables")
  raises(function() mp.encode({t}) end, "nested more than 200")
  local c = {}
  c[1] = c
  raises(function() mp.encode(c) end, "contains itself")
  local deep = ("\x91"):rep(32) .. "\x01"
  local v = mp.decode(deep)
  for _ = 1, 32 do v = v[1] end
  eq(1, v)
  fails("nested too deeply", mp.decode(("\x91"):rep(33) .. "\x01"))
  fails("nested too deeply", mp.decode(("\x91"):rep(100000) .. "\x01"))
end)

test("unencodable values raise", function()
  raises(function() mp.encode(print) end, "cannot encode function")
  raises(function() mp.encode({x = {coroutine.create(print)}}) end, "thread")
  raises(function() mp.encode(setmetatable({}, {__order = 5})) end, "__order")
end)

-- The same rules as json.encode (tests/json.lua): one walker.
test("__order entries must be strings", function()
  raises(function() mp.encode(json.ordered({a = 1}, {"a", 2})) end,
    "__order%[2%] is not a string")
  raises(function() mp.encode(json.ordered({[1] = 1, b = 2}, {1})) end,
    "__order%[1%] is not a string")
  raises(function() mp.encode(json.ordered({}, {"a", {}})) end,
    "__order%[2%] is not a string")
  raises(function() mp.encode(json.ordered({}, {true})) end,
    "__order%[1%] is not a string")
  raises(function() mp.encode({x = setmetatable({}, {__order = "a"})}) end,
    "__order is not a table")
end)

test("__order with integer keys in the rest", function()
  -- Named keys first, then integers by value, then strings bytewise.
  local t = json.ordered({[2] = 1, [-1] = 4, a = 2, b = 3}, {"b", "b", "missing"})
  eq("84" .. "a16203" .. "ff04" .. "0201" .. "a16102", hex(mp.encode(t)))
end)

test("large values", function()
  local big = crypto.random_bytes(1 << 20)
  local bytes = mp.encode({big})
  eq("91db00100000", hex(bytes:sub(1, 6)))
  eq(big, mp.decode(bytes)[1])
  local arr = {}
  for i = 1, 100000 do arr[i] = i end
  bytes = mp.encode(arr)
  eq("dd000186a0", hex(bytes:sub(1, 5)))
  local back, n = mp.decode(bytes)
  eq(100000, #back)
  eq(100000, back[100000])
  eq(#bytes + 1, n)
  eq(bytes, mp.encode(back))
  local obj = {}
  for i = 1, 70000 do obj["k" .. i] = i end
  bytes = mp.encode(obj)
  eq("df00011170", hex(bytes:sub(1, 5)))
  eq(70000, mp.decode(bytes).k70000)
end)
