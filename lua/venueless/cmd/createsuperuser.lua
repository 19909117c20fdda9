-- venueless createsuperuser [--username U] [--email E] [--password-stdin]
-- [--json]: Django's prompts (for what the options do not give) and a
-- superuser of the /control/ panel. Also the password reading that
-- changepassword shares: twice without echo on a terminal, or one line
-- of stdin with --password-stdin; a password is never an argument and
-- never appears in a message.
local cli = require "venueless.cli"
local core = require "venueless.core"
local admin = require "venueless.admin"
local json = require "venueless.json"

local M = {}

M.PROMPTS = {
  username = "Username: ",
  username_default = "Username (leave blank to use '%s'): ",
  email = "Email address: ",
  password = "Password: ",
  again = "Password (again): ",
}

-- A password given as an argument is refused, never shown; off a
-- terminal the password can only come from --password-stdin. Both before
-- connecting (exit 2).
function M.check_source(opts)
  if opts.password then
    cli.usage("a password is never given as an argument: use --password-stdin or the prompt")
  end
  if opts["password-stdin"] or core.isatty(0) then return end
  cli.usage("standard input is not a terminal: give --password-stdin to read "
    .. "the password from it")
end

-- One password line from stdin (--password-stdin): not echoed when stdin
-- is a terminal, the newline (and a CR before it) dropped.
function M.stdin_password()
  local p
  if core.isatty(0) then
    p = require("venueless.edit").readpass(M.PROMPTS.password)
  else
    p = io.stdin:read("l")
  end
  if p == nil then cli.fail("no password on standard input; nothing was written") end
  return (p:gsub("\r$", ""))
end

-- The password typed twice without echo, or nil, why (the message to
-- show before asking again): "mismatch" or "blank".
function M.ask_twice()
  local edit = require "venueless.edit"
  local p1 = edit.readpass(M.PROMPTS.password)
  local p2 = p1 and edit.readpass(M.PROMPTS.again)
  if p2 == nil then
    cli.fail("end of input at the password prompt; nothing was written")
  end
  if p1 ~= p2 then return nil, "mismatch" end
  if p1:match("^%s*$") then return nil, "blank" end
  return p1
end

-- Ask with read until check(v) passes; a blank answer takes default.
local function ask(read, prompt, default, check)
  while true do
    local line = read(prompt)
    if line == nil then
      cli.fail("end of input at the " .. prompt:match("^(%a+)"):lower()
        .. " prompt; nothing was written")
    end
    if line == "" and default then line = default end
    local ok, why = check(line)
    if ok then return line end
    cli.note("venueless: createsuperuser: %s", why)
  end
end

-- Django's default username: the login name, ASCII only, no spaces,
-- lowercased, if it is valid and free.
local function default_username()
  local name = admin.login_name()
  if name == nil then return nil end
  name = name:gsub("[%s\128-\255]", ""):lower()
  if admin.check_username(name) then return name end
  return nil
end

-- The username: the option's (checked once), else the prompt's.
local function username(opts, read)
  if opts.username then
    local ok, why, code = admin.check_username(opts.username)
    if not ok then cli.fail(why, nil, code) end
    return opts.username
  end
  local default = default_username()
  local prompt = default and M.PROMPTS.username_default:format(default) or M.PROMPTS.username
  return ask(read, prompt, default, admin.check_username)
end

-- The email: the option's, else the prompt's on a terminal, else ''.
local function email(opts, read)
  if opts.email then
    local ok, why, code = admin.check_email(opts.email)
    if not ok then cli.fail(why, nil, code) end
    return opts.email
  end
  if read == nil then return "" end
  return ask(read, M.PROMPTS.email, nil, admin.check_email)
end

-- The new password: --password-stdin's line, else asked until the two
-- agree and are not blank (Django asks until then too).
local function password(opts)
  if opts["password-stdin"] then return M.stdin_password() end
  while true do
    local p, why = M.ask_twice()
    if p then return p end
    cli.note("venueless: createsuperuser: %s", why == "mismatch"
      and "your passwords didn't match" or admin.BLANK)
  end
end

function M.run(opts, args)
  M.check_source(opts)
  -- not cli.max_args: a stray argument may be a password, so not shown
  if #args > 0 then cli.usage("unexpected argument (not shown)") end
  local tty = core.isatty(0)
  if not tty and not opts.username then
    cli.usage("--username is required when standard input is not a terminal")
  end
  cli.connect_db("createsuperuser")
  local read = tty and require("venueless.cmd.create_world").reader() or nil
  local spec = { username = username(opts, read) }
  spec.email = email(opts, read)
  spec.password = password(opts)
  local u, msg, code = admin.create_superuser(spec)
  if u == nil then cli.fail(msg, nil, code) end
  if opts.json then
    cli.json(json.ordered({ id = u.id, username = u.username, email = u.email,
      is_superuser = u.is_superuser, is_staff = u.is_staff, date_joined = u.date_joined },
      { "id", "username", "email", "is_superuser", "is_staff", "date_joined" }))
  else
    cli.say("Superuser created successfully.")
  end
end

return M
