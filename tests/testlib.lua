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

local file = assert(arg[1], "usage: testlib.lua TEST.lua")
dofile(file)
print(("# %d passed, %d failed"):format(passed, failed))
if failed > 0 or passed == 0 then os.exit(1) end
