-- A small TAP-style test runner for the Lua tests.
-- Usage: venueless shell testlib.lua TEST.lua
local passed, failed = 0, 0

-- Deep equality with a description of the first difference.
local function diff(a, b, path)
  if type(a) ~= type(b) then
    return ("%s: expected %s %s, got %s %s"):format(path, type(a),
      tostring(a), type(b), tostring(b))
  end
  if type(a) ~= "table" or rawequal(a, b) then
    if a ~= b then
      return ("%s: expected %q, got %q"):format(path, tostring(a), tostring(b))
    end
    return nil
  end
  for k, v in pairs(a) do
    local d = diff(v, b[k], path .. "." .. tostring(k))
    if d then return d end
  end
  for k in pairs(b) do
    if a[k] == nil then return path .. "." .. tostring(k) .. ": unexpected" end
  end
  return nil
end

function eq(expected, actual, what)
  local d = diff(expected, actual, what or "value")
  if d then error(d, 2) end
end

function ok(v, what)
  if not v then error((what or "assertion") .. " failed", 2) end
  return v
end

-- Require that f raises; returns the error (message or object).
function raises(f, pattern, ...)
  local good, err = pcall(f, ...)
  if good then error("expected an error", 2) end
  if pattern and not tostring(err):find(pattern) then
    error(("error %q does not match %q"):format(tostring(err), pattern), 2)
  end
  return err
end

-- Require a binding failure: nil, message, code.
function fails(pattern, v, msg, code)
  if v ~= nil then error("expected nil, message, code; got " .. tostring(v), 2) end
  if pattern and not tostring(msg):find(pattern) then
    error(("message %q does not match %q"):format(tostring(msg), pattern), 2)
  end
  return msg, code
end

-- Require that f(...) raises a venueless failure (an error object, not
-- a misuse error); returns its message, code and exit.
function failure(pattern, f, ...)
  local good, err = pcall(f, ...)
  if good then error("expected a failure to be raised, got " .. tostring(err), 2) end
  if not require("venueless.core").is_error(err) then
    error("expected a venueless error, got " .. tostring(err), 2)
  end
  if pattern and not tostring(err.message):find(pattern) then
    error(("message %q does not match %q"):format(tostring(err.message), pattern), 2)
  end
  return err.message, err.code, err.exit
end

function test(name, f)
  local good, err = xpcall(f, debug.traceback)
  if good then
    passed = passed + 1
    print("ok - " .. name)
  else
    failed = failed + 1
    print("not ok - " .. name)
    print("# " .. tostring(err):gsub("\n", "\n# "))
  end
end

-- Shell helpers for tests that drive the binary.
function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("a")
  local _, _, code = p:close()
  return out, code
end

-- A unix socket at path that accepts connections and never answers;
-- returns a function that stops it. It is bound under another name and
-- renamed once listening: a socket file that appeared before listen()
-- would refuse the connect instead of hanging it.
function silent_server(path)
  local p = io.popen(("python3 -c 'import os,socket,sys,time\n"
    .. "s=socket.socket(socket.AF_UNIX)\ns.bind(sys.argv[1] + \".tmp\")\ns.listen(5)\n"
    .. "os.rename(sys.argv[1] + \".tmp\", sys.argv[1])\ntime.sleep(10)' '%s' & echo $!"):format(path))
  local pid = p:read("l")
  for _ = 1, 100 do	-- python3 starts slowly on a busy machine
    if os.execute(("test -S '%s'"):format(path)) then break end
    os.execute("sleep 0.1")
  end
  return function()
    os.execute("kill " .. pid)
    p:close()
  end
end

local file = assert(arg[1], "usage: testlib.lua TEST.lua")
dofile(file)
print(("# %d passed, %d failed"):format(passed, failed))
if failed > 0 or passed == 0 then os.exit(1) end
