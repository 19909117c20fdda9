-- venueless shell: -e chunks, a script file, a piped script, or the
-- interactive shell. Only what -e needs is here; venueless.script (a
-- file, stdin) and venueless.repl load when used, as the Lua parser
-- costs about 190 instructions a byte at every start (bench/startup).
local core = require "venueless.core"

local M = {}

-- Keep a venueless error as it is; anything else gets its traceback.
local function handler(e)
  if core.is_error(e) then return e end
  -- the runner's frames (xpcall, this file) are not the user's code;
  -- repl loads only on an error, so -e compiles no more at start
  local tb = debug.traceback(tostring(e), 2)
  return { traceback = require("venueless.repl").trim_traceback(tb) }
end

-- Call f; a runtime error is reported with its traceback and stops
-- the script with exit 1, a venueless error passes through to main (an
-- SQL error's message gains the statement's line and caret, as in repl).
function M.call(f, ...)
  local res = table.pack(xpcall(f, handler, ...))
  if res[1] then return table.unpack(res, 2, res.n) end
  local e = res[2]
  if core.is_error(e) then
    if e.statement ~= nil and e.position ~= nil then
      e.message = require("venueless.repl").sql_message(e)
    end
    error(e, 0)
  end
  io.stderr:write("venueless: shell: ", e.traceback, "\n")
  error({ exit = core.exit.failure, reported = true }, 0)
end

-- Print a table.pack of results, tab-separated, as lua.c does; a
-- string, number, boolean or nil as the printer would, sparing its load.
local function print_results(res)
  if res.n == 0 then return end
  for i = 1, res.n do
    local t = type(res[i])
    if t == "string" or t == "number" or t == "boolean" or t == "nil" then
      res[i] = tostring(res[i])
    else
      res[i] = require("venueless.pretty").format(res[i])
    end
  end
  io.stdout:write(table.concat(res, "\t", 1, res.n), "\n")
end

-- help([v]) in every mode of the shell; venueless.doc loads on first use.
local function help(...)
  return require("venueless.doc").help(...)
end

function M.run(opts, args)
  rawset(_G, "help", help)
  local interactive = opts.interactive or (not opts.execute and #args == 0 and core.isatty(0))
  local repl, session
  if interactive then
    -- the startup file first, so that -e chunks and the script see its helpers
    local ok
    ok, repl = pcall(require, "venueless.repl")
    if not ok then core.fail("the interactive shell is not available yet") end
    session = repl.session()
    repl.run_init(session)
  end
  for _, chunk in ipairs(opts.execute or {}) do
    -- as an expression first, then as statements
    local f, err = load("return " .. chunk, "=(command line)", "t")
    if not f then
      f, err = load(chunk, "=(command line)", "t")
      if not f then core.fail(err) end
    end
    print_results(table.pack(M.call(f)))
    io.stdout:flush()
  end
  if #args > 0 or not (opts.execute or opts.interactive or core.isatty(0)) then
    require("venueless.script").run(M.call, args)
  end
  if interactive then return repl.run({ session = session }) end
  return 0
end

return M
