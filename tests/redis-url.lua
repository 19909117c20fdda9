-- The Redis URL codec: redis.parse_url (what redis.conn uses) and
-- redis.format_url (what config uses for [redis] host/port/db/auth).
local redis = require "venueless.redis"

-- Every printable ASCII character, space included.
local printable = {}
for b = 0x20, 0x7e do printable[#printable + 1] = string.char(b) end
printable = table.concat(printable)

local function parsed(url)
  local u, msg = redis.parse_url(url)
  if u == nil then error(("%s: %s"):format(url, msg), 2) end
  return u
end

local function refused(url, pattern)
  local u, msg = redis.parse_url(url)
  if u ~= nil then error(url .. ": expected a refusal", 2) end
  if not msg:find(pattern) then
    error(("%s: %q does not match %q"):format(url, msg, pattern), 2)
  end
end

test("format escapes the password; parse gives it back", function()
  eq("redis://:a%2Fb@127.0.0.1:6379/0", redis.format_url({ password = "a/b" }))
  eq("redis://:a%2541@h:1/2", redis.format_url({ host = "h", port = 1, db = 2,
    password = "a%41" }))
  eq("redis://127.0.0.1:6379/0", redis.format_url({}))
  eq("redis://127.0.0.1:6379/0", redis.format_url({ password = "" }))
  eq("redis://bob:p%40ss@[::1]:6380/0", redis.format_url({ host = "::1",
    port = "6380", user = "bob", password = "p@ss" }))
  for _, pw in ipairs({ "a/b", "a%41", "#", "?", "@", ":", " ", "%", "%%41",
      "[::1]", "a&password=b", printable, printable:reverse() }) do
    local url = redis.format_url({ host = "h", port = 7, db = 3, password = pw })
    local u = parsed(url)
    eq({ scheme = "redis", host = "h", port = 7, db = 3, password = pw,
      url = "redis://:***@h:7/3" }, u, pw)
  end
  for i = 1, #printable do
    local c = printable:sub(i, i)
    eq(c, parsed(redis.format_url({ password = c, user = c })).password, c)
    eq(c, parsed(redis.format_url({ password = "x", user = c })).user, c)
  end
  raises(function() redis.format_url({ port = {} }) end, "field 'port'")
end)

test("format escapes what would break the URL in host, port and db", function()
  -- bad values are escaped, then refused by the parser, never reinterpreted
  refused(redis.format_url({ port = "1/2" }), "bad port number")
  refused(redis.format_url({ port = "1?db=3" }), "bad port number")
  refused(redis.format_url({ db = "1?password=x" }), "bad database number")
  refused(redis.format_url({ port = "" }), "bad port number")
  eq("fe80::1%eth0", parsed(redis.format_url({ host = "fe80::1%eth0" })).host)
  eq("a@b", parsed(redis.format_url({ host = "a@b" })).host)
end)

test("redis:// forms", function()
  eq({ scheme = "redis", host = "127.0.0.1", port = 6379, db = 0,
    url = "redis://" }, parsed("redis://"))
  eq({ scheme = "redis", host = "localhost", port = 6379, db = 3,
    user = "user", password = "s3cret", url = "redis://user:***@localhost/3" },
    parsed("redis://user:s3cret@localhost/3"))
  eq({ scheme = "redis", host = "h", port = 1, db = 0, user = "u",
    url = "redis://u@h:1/" }, parsed("redis://u@h:1/"))
  -- the last '@' before the path ends the userinfo
  eq("a@b", parsed("redis://:a@b@h/0").password)
  -- a '%' that starts no escape stays as it is
  eq("100%", parsed("redis://:100%@h/0").password)
  eq("%4", parsed("redis://:%4@h/0").password)
  eq("aA", parsed("redis://:a%41@h/0").password)
  eq("127.0.0.1", parsed("redis://:1@:99/0").host)
  eq(99, parsed("redis://:1@:99/0").port)
  eq(65535, parsed("redis://h:65535").port)
end)

test("bad ports and databases are refused", function()
  for _, url in ipairs({ "redis://h:99999/0", "redis://h:0/0", "redis://h:/0",
      "redis://h:-1/0", "redis://h:1x/0", "redis://h:1:2/0", "redis://::1/0",
      "redis://h: 1/0", "redis://h:123456789012345678901/0" }) do
    refused(url, "^bad port number$")
  end
  for _, url in ipairs({ "redis://h/x", "redis://h/1/2", "redis://h/-1",
      "redis://h/2147483648", "redis://h/0 ", "redis://h?db=",
      "redis://h?db=x", "unix:///s?db=1x" }) do
    refused(url, "^bad database number$")
  end
  eq(2147483647, parsed("redis://h/2147483647").db)
end)

test("IPv6 hosts", function()
  eq({ scheme = "redis", host = "::1", port = 6390, db = 0,
    url = "redis://[::1]:6390/0" }, parsed("redis://[::1]:6390/0"))
  eq({ scheme = "redis", host = "::1", port = 6379, db = 2, password = "pw",
    url = "redis://:***@[::1]/2" }, parsed("redis://:pw@[::1]/2"))
  eq("fe80::1%eth0", parsed("redis://[fe80::1%25eth0]:1").host)
  eq(6379, parsed("redis://[2001:db8::7]").port)
  for _, url in ipairs({ "redis://[::1]x:80/0", "redis://[::1]x", "redis://[::1",
      "redis://[::1/0", "redis://[]:80/0", "redis://[]", "redis://[::1]]:1" }) do
    refused(url, "expected %[IPv6 address%]")
  end
end)

test("unix:// paths, with ?db= and passwords", function()
  eq({ scheme = "unix", path = "/run/redis.sock", db = 0,
    url = "unix:///run/redis.sock" }, parsed("unix:///run/redis.sock"))
  eq({ scheme = "unix", path = "/p", db = 4, password = "pw",
    url = "unix:///p?db=4&password=***" }, parsed("unix:///p?db=4&password=pw"))
  eq({ scheme = "unix", path = "/tmp/a@b:c.sock", db = 1,
    url = "unix:///tmp/a@b:c.sock?db=1" }, parsed("unix:///tmp/a@b:c.sock?db=1"))
  eq({ scheme = "unix", path = "/p", db = 0, user = "u", password = "a/b",
    url = "unix://u:***@/p" }, parsed("unix://u:a%2Fb@/p"))
  -- the query wins over the path and the userinfo
  local u = parsed("redis://:one@h/1?db=2&password=two")
  eq(2, u.db)
  eq("two", u.password)
  eq("redis://:***@h/1?db=2&password=***", u.url)
  -- unknown parameters and ones without '=' are ignored; '#' ends the query
  u = parsed("unix:///p?x=1&db&password#db=9&password=frag")
  eq(0, u.db)
  eq(nil, u.password)
  eq("/p", parsed("unix:///p#x").path)
  for _, url in ipairs({ "unix://", "unix:///", "unix://relative?db=0",
      "unix://host/p", "unix://:pw@relative", "unix://?db=1" }) do
    refused(url, "^expected unix:///path/to/socket$")
  end
end)

test("repeated password=: the last wins, every one is masked", function()
  local u = parsed("unix:///p?password=&password=")
  eq(nil, u.password)
  eq("unix:///p?password=***&password=***", u.url)
  u = parsed("unix:///p?password=first&db=1&password=second")
  eq("second", u.password)
  eq(1, u.db)
  eq("unix:///p?password=***&db=1&password=***", u.url)
  -- an empty one means none, even after a userinfo password
  u = parsed("redis://:secret@h/0?password=")
  eq(nil, u.password)
  eq("redis://:***@h/0?password=***", u.url)
  u = parsed("redis://h/0?password=a%26b&password=a%2Fb")
  eq("a/b", u.password)
  ok(not u.url:find("a%%2"), "no password left in " .. u.url)
end)

test("schemes and junk are refused with a message", function()
  refused("rediss://h:6379/0", "rediss:// %(TLS%) URLs are not supported")
  for _, url in ipairs({ "", "http://x", "redis:/h", "REDIS://h", " redis://h",
      "unix:/p", "redis" }) do
    refused(url, "^expected a redis:// or unix:// URL$")
  end
  for _, url in ipairs({ "redis://:%00@h/0", "redis://%00:x@h/0",
      "redis://h%00/0", "unix:///p?password=a%00" }) do
    refused(url, "NUL byte")
  end
  raises(function() redis.parse_url() end, "bad argument #1")
end)

test("the parser is total: every short input parses or is refused", function()
  -- every string of up to 3 characters from the URL's own alphabet,
  -- after each prefix: no crash, and a table or a message every time
  local alphabet = { "", ":", "@", "/", "?", "#", "&", "=", "[", "]", "%", "1",
    "%00", "%4", "password=", "db=" }
  local prefixes = { "redis://", "unix://", "unix:///p", "redis://h" }
  local n = 0
  for _, p in ipairs(prefixes) do
    for _, a in ipairs(alphabet) do
      for _, b in ipairs(alphabet) do
        for _, c in ipairs(alphabet) do
          local u, msg = redis.parse_url(p .. a .. b .. c)
          ok(type(u) == "table" or type(msg) == "string", p .. a .. b .. c)
          if u then
            ok(type(u.url) == "string" and type(u.db) == "number")
            ok(u.host or u.path, "a host or a path")
          end
          n = n + 1
        end
      end
    end
  end
  ok(n > 10000)
end)
