-- Helpers shared by the commands: failing with an exit code, reporting
-- a committed change whose cache update failed, and writing results.
local core = require "venueless.core"

local cli = { exit = core.exit }

-- Raise a command failure; main prints "venueless: CMD: message". The
-- exit is exit if given, else the one for code (core.exit_for).
function cli.fail(msg, exit, code)
  if exit == nil then core.fail(msg, code) end
  core.error(exit, msg, code)
end

-- Raise a usage error (exit 2; main prints the command's usage).
function cli.usage(msg)
  core.error(core.exit.usage, msg)
end

-- Call fn(...) and pass its results to report; a refusal (nil, message,
-- code) fails with its message and code instead. When fn raised a failure
-- after its change was committed (a Redis failure updating the server
-- cache: the error's committed field holds fn's results), report them
-- all the same, then raise the failure (exit 11 for an unreachable Redis).
function cli.committed(report, fn, ...)
  local r = table.pack(pcall(fn, ...))
  if r[1] and r[2] == nil then cli.fail(r[3], nil, r[4]) end	-- a refusal
  if r[1] then return report(table.unpack(r, 2, r.n)) end
  local e = r[2]
  if core.is_error(e) and e.committed then
    report(table.unpack(e.committed, 1, e.committed.n))
    io.stdout:flush()
  end
  error(e, 0)
end

-- Connect to the database now, shown as "venueless CMD" in
-- pg_stat_activity; a failure ends the command (exit 10 when the server
-- was not reached).
function cli.connect_db(cmd)
  require("venueless.db").connect({ application_name = "venueless " .. cmd })
end

-- Write a line to stdout.
function cli.say(fmt, ...)
  io.stdout:write(select("#", ...) > 0 and fmt:format(...) or fmt, "\n")
end

-- Write v as JSON on one line: every command's --json output (scripts
-- read it; one document per line).
function cli.json(v)
  cli.say(require("venueless.json").encode(v))
end

-- "1 room", "3 rooms": the counts in summary lines.
function cli.plural(n, what)
  return ("%d %s%s"):format(n, what, n == 1 and "" or "s")
end

-- A summary line, the form import_config and clone_world share:
-- "World x created: 3 rooms (3 new), 1 exhibitor (1 new), ...".
function cli.summary(head, ...)
  return head .. ": " .. table.concat({ ... }, ", ")
end

-- s as it may be shown on stdout: on a terminal with its control
-- characters escaped (the shell printer's pretty.escape), so a stored
-- title or label cannot retitle or clear it; elsewhere as it is.
function cli.shown(s)
  if cli.tty == nil then cli.tty = core.isatty(1) end
  if not cli.tty then return s end
  return require("venueless.pretty").escape(s)
end

-- The tables of a venueless database: those of its Django apps.
local APPS = { auth = true, control = true, core = true, django = true, storage = true }

-- main's last look at a command's failure (src/main.c): a query on a
-- database that was never migrated fails with SQLSTATE 42P01 on one of
-- our tables; say so, and what to do. The exit stays the one
-- core.exit_for gives the code (1): the same as from core.try's form.
function cli.explain(e)
  if not core.is_error(e) or e.code ~= "42P01" then return e end
  local msg = tostring(e.message)
  local rel = msg:match('^relation "([%w_]+)" does not exist')
  if rel == nil or not APPS[rel:match("^(%l+)_")] then return e end
  -- the lines after the first stay (the shell's statement and caret)
  e.message = ('the database has no venueless schema (relation "%s" does not exist): '
    .. "run venueless migrate"):format(rel) .. msg:match("^[^\n]*(.*)$")
  return e
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
