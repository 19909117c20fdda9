-- Helpers shared by the commands: failing with an exit code, checking
-- binding results, and writing results.
local core = require "venueless.core"

local cli = { exit = core.exit }

-- Raise a command failure; main prints "venueless: CMD: message".
function cli.fail(msg, exit, code)
  core.error(exit or core.exit.failure, msg, code)
end

-- Raise a usage error (exit 2; main prints the command's usage).
function cli.usage(msg)
  core.error(core.exit.usage, msg)
end

-- The exit code for a binding failure's code: SQLSTATE class 08, a
-- failed login, or redis's "connection" mean the server was not reached.
function cli.exit_for(code, server)
  if code == "interrupted" then return core.exit.interrupted end
  if server == "redis" and (code == "connection" or code == "NOAUTH"
      or code == "WRONGPASS") then
    return core.exit.noredis
  end
  if server ~= "redis" and type(code) == "string"
      and (code:sub(1, 2) == "08" or code == "28P01" or code == "28000") then
    return core.exit.nopg
  end
  return core.exit.failure
end

-- Pass results through, or fail on a binding's nil, message, code.
-- server is "db" (default) or "redis".
function cli.check(server, ok, msg, code, ...)
  if ok == nil then
    core.error(cli.exit_for(code, server), tostring(msg), code)
  end
  return ok, msg, code, ...
end

-- Connect to the database now, shown as "venueless CMD" in
-- pg_stat_activity; a failure ends the command (exit 10 when the server
-- was not reached).
function cli.connect_db(cmd)
  cli.check("db", require("venueless.db").connect({ application_name = "venueless " .. cmd }))
end

-- Write a line to stdout.
function cli.say(fmt, ...)
  io.stdout:write(select("#", ...) > 0 and fmt:format(...) or fmt, "\n")
end

-- Write a line to stderr.
function cli.note(fmt, ...)
  io.stderr:write(select("#", ...) > 0 and fmt:format(...) or fmt, "\n")
end

-- Refuse extra positional arguments beyond max.
function cli.max_args(args, max)
  if #args > max then cli.usage("unexpected argument " .. args[max + 1]) end
end

return cli
