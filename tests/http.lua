-- venueless.http: get_many against tests/bbb-fakeserver.py on loopback:
-- bodies and statuses in request order, redirects, transport errors and
-- timeouts per request while the others complete, the body limit, misuse.
local http = require "venueless.http"

local tmp = assert(os.getenv("VL_TMP"))
local top = assert(os.getenv("TOP_SRCDIR"))
local dir = tmp .. "/fake"
os.execute("mkdir -p " .. dir)
local p = io.popen(("python3 '%s/tests/bbb-fakeserver.py' '%s' >/dev/null 2>&1 & echo $!")
  :format(top, dir))
local pid = p:read("l")
for _ = 1, 100 do
  if os.execute(("test -s '%s/port'"):format(dir)) then break end
  os.execute("sleep 0.1")
end
local f = assert(io.open(dir .. "/port"))
local base = "http://127.0.0.1:" .. f:read("a")
f:close()

-- A port nobody listens on: bound by the kernel, then released.
local dead = sh("python3 -c 'import socket; s = socket.socket(); s.bind((\"127.0.0.1\", 0)); print(s.getsockname()[1])'")
dead = "http://127.0.0.1:" .. dead:match("%d+") .. "/"

test("answers in request order, whatever their status", function()
  local r = http.get_many({ base .. "/good/x", { url = base .. "/err500/" },
    base .. "/nosuch/", base .. "/redirect/" })
  eq(4, #r)
  eq(200, r[1].status)
  ok(r[1].body:find("<returncode>SUCCESS</returncode>", 1, true), "body")
  eq(nil, r[1].error)
  eq(500, r[2].status)
  eq("<html>Internal Server Error</html>", r[2].body)
  eq(404, r[3].status)
  eq(200, r[4].status, "redirect followed")
  eq(r[1].body, r[4].body)
end)

test("failures stay with their request; timeouts run concurrently", function()
  local t0 = require("venueless.core").time()
  local r = http.get_many({ base .. "/slow/", dead, base .. "/slow/",
    "file:///etc/passwd", base .. "/empty/" }, { timeout = 1 })
  local took = require("venueless.core").time() - t0
  ok(took < 1.9, "both slow requests waited at once: " .. took .. " s")
  eq("timeout", r[1].code)
  ok(r[1].error:find("timed out", 1, true), r[1].error)
  eq(nil, r[1].status)
  eq("transport", r[2].code)
  ok(r[2].error:find("onnect", 1, true), r[2].error)
  eq("timeout", r[3].code)
  eq("transport", r[4].code, "only http and https")
  eq(200, r[5].status)
end)

test("the body limit", function()
  local r = http.get_many({ base .. "/big/", base .. "/good/" }, { max_size = 1000 })
  eq("toolarge", r[1].code)
  eq("answer larger than 1000 bytes", r[1].error)
  eq(200, r[2].status)
  eq(200, http.get_many({ base .. "/big/" })[1].status, "16 MiB by default")
end)

test("nothing to do, and misuse", function()
  eq(0, #http.get_many({}))
  raises(function() http.get_many("x") end, "bad argument #1")
  raises(function() http.get_many({ 1 < 2 }) end, "bad request #1")
  raises(function() http.get_many({ "http://a/\0b" }) end, "NUL in URL")
  raises(function() http.get_many({}, { timeout = 0 }) end, "timeout")
  raises(function() http.get_many({}, { timeout = "x" }) end, "number expected")
end)

os.execute("kill " .. pid)
p:close()
