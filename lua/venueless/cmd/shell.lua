-- venueless shell: -e chunks, a script file, a piped script, or the
-- interactive shell.
local core = require "venueless.core"

local M = {}

-- Print what a chunk returned, tab-separated, as lua.c does.
local function print_results(n, ...)
  if n == 0 then return end
  local out = {}
  for i = 1, n do
    local v = select(i, ...)
    local t = type(v)
    if t == "string" or t == "number" or t == "boolean" or t == "nil" then
      out[i] = tostring(v)	-- as the printer would; spares loading it
    else
      out[i] = require("venueless.pretty").format(v)
    end
  end
  io.stdout:write(table.concat(out, "\t"), "\n")
end

-- Compile a -e chunk: as an expression first, then as statements.
local function compile(chunk, name)
  local f = load("return " .. chunk, name, "t")
  if f then return f end
  local err
  f, err = load(chunk, name, "t")
  if not f then core.fail(err) end
  return f
end

-- Call f; a runtime error is reported with its traceback and stops
-- the script with exit 1, a venueless error passes through to main.
local function run(f, ...)
  local function handler(e)
    if core.is_error(e) then return e end
    return { traceback = debug.traceback(tostring(e), 2) }
  end
  local res = table.pack(xpcall(f, handler, ...))
  if res[1] then return table.unpack(res, 2, res.n) end
  local e = res[2]
  if core.is_error(e) then error(e, 0) end
  io.stderr:write("venueless: shell: ", e.traceback, "\n")
  error({ exit = core.exit.failure, reported = true }, 0)
end

-- Run a script file with arg set as lua.c does.
local function run_file(path, args)
  local script = {}
  script[0] = path
  for i = 1, #args do script[i] = args[i] end
  _G.arg = script
  local f, err
  if path == "-" then
    -- a shebang line is skipped, as loadfile does for files
    local src = io.stdin:read("a"):gsub("^#[^\n]*", "")
    f, err = load(src, "=stdin", "t")
  else
    f, err = loadfile(path, "t")
  end
  if not f then core.fail(err) end
  run(f, table.unpack(script))
end

-- help([v]) in every mode of the shell; venueless.doc loads on first use.
local function help(...)
  return require("venueless.doc").help(...)
end

function M.run(opts, args)
  rawset(_G, "help", help)
  for i, chunk in ipairs(opts.execute or {}) do
    local f = compile(chunk, "=(command line)")
    local res = table.pack(run(f))
    print_results(res.n, table.unpack(res, 1, res.n))
    io.stdout:flush()
  end
  if #args > 0 then
    run_file(args[1], table.move(args, 2, #args, 1, {}))
  elseif not opts.execute and not core.isatty(0) and not opts.interactive then
    run_file("-", {})
  end
  if opts.interactive or (not opts.execute and #args == 0 and core.isatty(0)) then
    local ok, repl = pcall(require, "venueless.repl")
    if not ok then core.fail("the interactive shell is not available yet") end
    return repl.run()
  end
  return 0
end

return M
