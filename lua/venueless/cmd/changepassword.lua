-- venueless changepassword [USERNAME] [--password-stdin]: Django's flow
-- for a /control/ account: the user (default: the login name, as
-- getpass.getuser() finds it), the new password twice without echo, at
-- most three tries, Django's lines. Django does not ask for the old
-- password; --verify-old does, before anything is written.
local cli = require "venueless.cli"
local admin = require "venueless.admin"
local su = require "venueless.cmd.createsuperuser"

local M = {}

M.MAX_TRIES = 3

-- The new password: --password-stdin's line, else up to MAX_TRIES pairs.
local function password(opts, shown)
  if opts["password-stdin"] then return su.stdin_password() end
  for _ = 1, M.MAX_TRIES do
    local p, why = su.ask_twice()
    if p then return p end
    if why == "mismatch" then
      cli.say("Passwords do not match. Please try again.")
    else
      cli.note("venueless: changepassword: %s", admin.BLANK)
    end
    io.stdout:flush()
  end
  cli.fail(("aborting password change for user '%s' after %d attempts")
    :format(shown, M.MAX_TRIES))
end

-- --verify-old: the current password (stdin's first line, or a no-echo
-- prompt) must match the stored hash; else nothing is written.
local function verify_old(opts, username, shown)
  local old
  if opts["password-stdin"] and not require("venueless.core").isatty(0) then
    old = io.stdin:read("l")
  else
    old = require("venueless.edit").readpass("Current password: ")
  end
  if old == nil then cli.fail("no current password given; nothing was changed") end
  if not admin.check_password(username, (old:gsub("\r$", ""))) then
    cli.fail(("wrong current password for user '%s'; nothing was changed"):format(shown))
  end
end

function M.run(opts, args)
  su.check_source(opts)
  -- not cli.max_args: a second argument may be a password, so not shown
  if #args > 1 then cli.usage("unexpected argument after USERNAME (not shown)") end
  local username = args[1] or admin.login_name()
  if username == nil then
    cli.usage("no USERNAME given and no login name in LOGNAME, USER, LNAME or USERNAME")
  end
  cli.connect_db("changepassword")
  local shown = cli.shown(username)
  local AuthUser = require("venueless.models").AuthUser
  if not AuthUser:filter({ username = username }):exists() then
    cli.fail(("user '%s' does not exist"):format(shown), nil, "notfound")
  end
  cli.say("Changing password for user '%s'", shown)
  io.stdout:flush()
  if opts["verify-old"] then verify_old(opts, username, shown) end
  local u, msg, code = admin.set_password(username, password(opts, shown))
  if u == nil then cli.fail(msg, nil, code) end
  cli.say("Password changed successfully for user '%s'", shown)
end

return M
