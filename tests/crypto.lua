-- venueless.crypto: checked against openssl(1), basenc and python3.
local crypto = require "venueless.crypto"

local tmp = assert(os.getenv("VL_TMP"))

local function write(name, data)
  local path = tmp .. "/" .. name
  local f = assert(io.open(path, "wb"))
  f:write(data)
  f:close()
  return path
end

local function have(prog)
  local _, code = sh("command -v " .. prog)
  return code == 0
end

test("sha256 and hex", function()
  eq("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    crypto.hex(crypto.sha256("")))
  eq("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    crypto.hex(crypto.sha256("abc")))
  eq(32, #crypto.sha256("x"))
  eq("", crypto.hex(""))
  eq("00ff7f80", crypto.hex("\0\255\127\128"))
  local data = crypto.random_bytes(100000)
  local out = sh("openssl dgst -sha256 -r " .. write("sha.bin", data))
  eq(out:match("^(%x+)"), crypto.hex(crypto.sha256(data)))
end)

test("sha1: FIPS 180 vectors, openssl, BigBlueButton's checksum", function()
  eq("da39a3ee5e6b4b0d3255bfef95601890afd80709", crypto.hex(crypto.sha1("")))
  eq("a9993e364706816aba3e25717850c26c9cd0d89d", crypto.hex(crypto.sha1("abc")))
  eq(20, #crypto.sha1("x"))
  local data = crypto.random_bytes(100000)
  local out = sh("openssl dgst -sha1 -r " .. write("sha1.bin", data))
  eq(out:match("^(%x+)"), crypto.hex(crypto.sha1(data)))
  -- the request shared/reference/commands.md observed for secret "s"
  eq("bf7c3288722ebfdac8639afd9411acb73ba4beb7", crypto.hex(crypto.sha1("getMeetingss")))
  raises(function() crypto.sha1({}) end, "bad argument #1")
end)

test("hmac_sha256 matches openssl dgst -hmac", function()
  -- RFC 4231 test case 2.
  eq("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    crypto.hex(crypto.hmac_sha256("Jefe", "what do ya want for nothing?")))
  local msg = "venueless \0 message\n" .. ("x"):rep(5000)
  local out = sh("openssl dgst -sha256 -hmac secret-key -r " .. write("hmac.bin", msg))
  eq(out:match("^(%x+)"), crypto.hex(crypto.hmac_sha256("secret-key", msg)))
  eq(32, #crypto.hmac_sha256("", ""))
  -- Keys longer than the block size are hashed first.
  local key = ("k"):rep(200)
  out = sh("openssl dgst -sha256 -hmac " .. key .. " -r " .. write("hmac2.bin", "m"))
  eq(out:match("^(%x+)"), crypto.hex(crypto.hmac_sha256(key, "m")))
  raises(function() crypto.hmac_sha256("k") end, "string expected")
end)

test("base64 and base64url", function()
  eq("", crypto.base64(""))
  eq("Zg==", crypto.base64("f"))
  eq("Zm8=", crypto.base64("fo"))
  eq("Zm9v", crypto.base64("foo"))
  eq("", crypto.base64url(""))
  eq("Zg", crypto.base64url("f"))
  eq("Zm8", crypto.base64url("fo"))
  eq("-_-_", crypto.base64url("\xfb\xff\xbf"))
  eq("+/+/", crypto.base64("\xfb\xff\xbf"))
  for _, n in ipairs{1, 2, 3, 100, 3071, 3072, 3073, 10000, 1 << 20} do
    local data = crypto.random_bytes(n)
    local path = write("b64.bin", data)
    local url = crypto.base64url(data)
    ok(not url:find("[^%w%-_]"), "url alphabet")
    eq(data, crypto.base64url_decode(url))
    local py = sh("python3 -c 'import base64,sys; sys.stdout.write(" ..
      "base64.b64encode(open(sys.argv[1],\"rb\").read()).decode())' " .. path)
    eq(py, crypto.base64(data))
    if have("basenc") then
      eq(crypto.base64url(data), (sh("basenc --base64url -w0 " .. path):gsub("=", "")))
    end
  end
end)

test("base64url_decode rejects bad input", function()
  eq("f", crypto.base64url_decode("Zg"))
  eq("f", crypto.base64url_decode("Zg=="))
  eq("fo", crypto.base64url_decode("Zm8="))
  eq("", crypto.base64url_decode(""))
  fails("character at byte 3", crypto.base64url_decode("Zm+v"))
  fails("character at byte 3", crypto.base64url_decode("Zm/v"))
  fails("character", crypto.base64url_decode("Zm9v\n"))
  fails("character", crypto.base64url_decode("Zg="))
  fails("length", crypto.base64url_decode("Zm9vZ"))
  fails("trailing bits", crypto.base64url_decode("Zh"))
  fails("character", crypto.base64url_decode("Z\0g"))
  raises(function() crypto.base64url_decode() end, "string expected")
end)

test("random_bytes", function()
  eq("", crypto.random_bytes(0))
  eq(16, #crypto.random_bytes(16))
  eq(1 << 20, #crypto.random_bytes(1 << 20))
  ok(crypto.random_bytes(32) ~= crypto.random_bytes(32), "differs")
  raises(function() crypto.random_bytes(-1) end, "negative")
  raises(function() crypto.random_bytes("x") end, "number expected")
  -- Every byte value shows up in 64 KiB.
  local seen, n = {}, 0
  for c in crypto.random_bytes(65536):gmatch(".") do
    if not seen[c] then seen[c], n = true, n + 1 end
  end
  eq(256, n)
end)

test("random_string alphabet, length and spread", function()
  eq("", crypto.random_string(0))
  local s = crypto.random_string(100000)
  eq(100000, #s)
  ok(not s:find("[^A-Za-z0-9]"), "default alphabet")
  local counts = {}
  for c in s:gmatch(".") do counts[c] = (counts[c] or 0) + 1 end
  local kinds = 0
  for _, k in pairs(counts) do
    kinds = kinds + 1
    -- 100000 / 62 = 1613 expected; a biased generator skews some letters.
    ok(k > 1350 and k < 1900, "count " .. k)
  end
  eq(62, kinds)
  eq(("a"):rep(10), crypto.random_string(10, "a"))
  s = crypto.random_string(3000, "xyz")
  ok(not s:find("[^xyz]"), "custom alphabet")
  ok(s:find("x") and s:find("y") and s:find("z"), "all used")
  local abc = ""
  for i = 0, 255 do abc = abc .. string.char(i) end
  eq(50, #crypto.random_string(50, abc))
  raises(function() crypto.random_string(5, "") end, "alphabet")
  raises(function() crypto.random_string(5, abc .. "x") end, "alphabet")
  raises(function() crypto.random_string(-1) end, "negative")
end)

test("uuid4", function()
  local seen = {}
  for _ = 1, 1000 do
    local u = crypto.uuid4()
    ok(u:match("^%x%x%x%x%x%x%x%x%-%x%x%x%x%-4%x%x%x%-[89ab]%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"),
      "format " .. u)
    ok(not u:find("%u"), "lowercase")
    ok(not seen[u], "unique")
    seen[u] = true
  end
  local u = crypto.uuid4()
  local out, code = sh("python3 -c 'import uuid,sys; u=uuid.UUID(sys.argv[1]); " ..
    "print(u.version, u.variant == uuid.RFC_4122)' " .. u)
  eq(0, code)
  eq("4 True\n", out)
end)

test("ec_p256 keys pass openssl checks", function()
  local priv, pub = crypto.ec_p256()
  ok(priv:match("^%-%-%-%-%-BEGIN PRIVATE KEY%-%-%-%-%-\n"), "PKCS#8 header")
  ok(priv:match("\n%-%-%-%-%-END PRIVATE KEY%-%-%-%-%-\n$"), "PKCS#8 footer")
  ok(pub:match("^%-%-%-%-%-BEGIN PUBLIC KEY%-%-%-%-%-\n"), "SPKI header")
  ok(pub:match("\n%-%-%-%-%-END PUBLIC KEY%-%-%-%-%-\n$"), "SPKI footer")
  local kpath, ppath = write("key.pem", priv), write("pub.pem", pub)
  local out, code = sh("openssl pkey -in " .. kpath .. " -check -noout")
  eq(0, code, out)
  ok(out:find("Key is valid"), out)
  out, code = sh("openssl pkey -in " .. kpath .. " -text -noout")
  eq(0, code)
  ok(out:find("NIST CURVE: P%-256") or out:find("prime256v1"), out)
  -- The public key is the private key's.
  local derived = sh("openssl pkey -in " .. kpath .. " -pubout")
  eq(pub, derived)
  out, code = sh("openssl pkey -pubin -in " .. ppath .. " -noout -text")
  eq(0, code, out)
  ok(out:find("Public%-Key: %(256 bit%)"), out)
  -- Sign with the private key, verify with the public one.
  local msg = write("msg.txt", "hello")
  out, code = sh(("openssl dgst -sha256 -sign %s -out %s/sig %s && " ..
    "openssl dgst -sha256 -verify %s -signature %s/sig %s"):format(
    kpath, tmp, msg, ppath, tmp, msg))
  eq(0, code, out)
  local priv2 = crypto.ec_p256()
  ok(priv ~= priv2, "fresh key")
end)

test("check_ec_p256: one unencrypted P-256 pair, else what is wrong", function()
  local priv, pub = crypto.ec_p256()
  local priv2, pub2 = crypto.ec_p256()
  eq(true, crypto.check_ec_p256(priv, pub))
  fails("not the private key's", crypto.check_ec_p256(priv, pub2))
  fails("private key is not a PEM", crypto.check_ec_p256("garbage", pub))
  fails("public key is not a PEM", crypto.check_ec_p256(priv, priv2))
  fails("private key is not a PEM", crypto.check_ec_p256(pub, pub))
  raises(function() crypto.check_ec_p256(priv) end, "bad argument #2")
  -- openssl's keys: another curve, and an encrypted PKCS#8 (never prompts)
  local out, code = sh("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 2>&1")
  eq(0, code, out)
  local p384 = write("p384.pem", out)
  local p384pub = sh("openssl pkey -in " .. p384 .. " -pubout")
  fails("not an EC P%-256 key", crypto.check_ec_p256(out, p384pub))
  local enc = sh("openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:x -in "
    .. write("k.pem", priv) .. " </dev/null")
  ok(enc:find("ENCRYPTED PRIVATE KEY", 1, true), enc)
  fails("private key is not a PEM", crypto.check_ec_p256(enc, pub))
end)
