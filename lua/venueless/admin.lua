-- The Django admin accounts of the server's /control/ panel (auth_user):
-- Django 4.2's password hashes, superusers, password changes. What
-- createsuperuser and changepassword run; see venueless-lua(7), ADMIN.
-- A password is only ever an argument here: never logged, never in a
-- message, only its hash goes to the database.
local core = require "venueless.core"

local M = {}

-- Django 4.2's PBKDF2PasswordHasher: the algorithm name and iterations.
M.ALGORITHM = "pbkdf2_sha256"
M.ITERATIONS = 600000

-- Django's get_random_string alphabet; the salt is 22 characters of it
-- (ceil(128 bits / log2(62)), BasePasswordHasher.salt_entropy).
local SALT_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
local SALT_LEN = 22

-- Django's messages, in our form (lowercase, no final period).
M.USERNAME_RULE = "enter a valid username: it may contain only letters, numbers, "
  .. "and @/./+/-/_ characters"
M.TAKEN = "that username is already taken"
M.BLANK = "blank passwords aren't allowed"

local function crypto() return require "venueless.crypto" end
local function AuthUser() return require("venueless.models").AuthUser end

-- admin.make_password(password [, salt [, iterations]]) -> the encoded
-- hash Django stores: pbkdf2_sha256$iterations$salt$base64(key).
function M.make_password(password, salt, iterations)
  assert(type(password) == "string", "bad argument #1 to 'make_password' (string expected)")
  salt = salt or crypto().random_string(SALT_LEN, SALT_CHARS)
  iterations = iterations or M.ITERATIONS
  if salt == "" or salt:find("$", 1, true) then
    error("bad argument #2 to 'make_password' (a salt without '$')", 2)
  end
  local key = crypto().pbkdf2_sha256(password, salt, iterations)
  return ("%s$%d$%s$%s"):format(M.ALGORITHM, iterations, salt, crypto().base64(key))
end

-- Compare two strings in time that depends only on their lengths.
local function same(a, b)
  if #a ~= #b then return false end
  local diff = 0
  for i = 1, #a do diff = diff | (a:byte(i) ~ b:byte(i)) end
  return diff == 0
end

-- Whether password matches an encoded hash; nil, message, "unsupported"
-- for a hasher other than pbkdf2_sha256. Unusable ("!…") and empty
-- stored passwords match nothing, as in Django.
function M.verify(password, encoded)
  if encoded == nil or encoded == "" or encoded:sub(1, 1) == "!" then return false end
  local name = encoded:match("^([%w_]+)%$")
  if name ~= M.ALGORITHM then
    return nil, ("the password is hashed with %s, which venueless cannot check")
      :format(name or "an unknown hasher"), "unsupported"
  end
  local iter, salt = encoded:match("^[^$]+%$(%d+)%$([^$]+)%$[^$]*$")
  iter = math.tointeger(tonumber(iter))
  if iter == nil or iter < 1 or iter > 0x7fffffff then return false end	-- malformed
  return same(encoded, M.make_password(password, salt, iter))
end

local function valid_utf8(s) return utf8.len(s) ~= nil end

-- admin.check_username(name) -> true, or nil, message, code: "invalid"
-- for what Django's UnicodeUsernameValidator refuses (letters are
-- ASCII or any non-ASCII character here), "exists" for a taken name.
function M.check_username(name)
  if type(name) ~= "string" or name == "" then
    return nil, "the username must not be blank", "invalid"
  end
  if not valid_utf8(name) or name:find("[^%w@.+_%-\128-\255]") then
    return nil, M.USERNAME_RULE, "invalid"
  end
  if utf8.len(name) > 150 then
    return nil, "the username is longer than 150 characters", "invalid"
  end
  if AuthUser():filter({ username = name }):exists() then
    return nil, M.TAKEN, "exists"
  end
  return true
end

-- admin.check_email(email) -> true, or nil, message, "invalid". Empty is
-- allowed (the field is blank=True); else Django's shape, loosely.
function M.check_email(email)
  if email == "" then return true end
  if type(email) ~= "string" or not valid_utf8(email) or utf8.len(email) > 254
      or not email:find("^[^%s@]+@[^%s@]+$") then
    return nil, "enter a valid email address", "invalid"
  end
  return true
end

-- Django's UserManager.normalize_email: the domain part lowercased.
local function normalize_email(email)
  local user, domain = email:match("^(.*)@([^@]*)$")
  if user == nil then return email end
  return user .. "@" .. domain:lower()
end

local function check_password_value(password)
  if type(password) ~= "string" then
    error("bad argument to admin: the password must be a string", 3)
  end
  if password:match("^%s*$") then return nil, M.BLANK, "invalid" end
  return true
end

-- The insert, a race for the name lost (23505) refused as "exists".
local function insert(spec)
  local ok, u, msg, code = pcall(AuthUser().create, AuthUser(), spec)
  if ok then return u, msg, code end
  if core.is_error(u) and u.code == "23505" then return nil, M.TAKEN, "exists" end
  error(u, 0)
end

-- admin.create_superuser{username=, email=, password=} -> the AuthUser
-- object, or nil, message, code ("invalid", "exists"). Django's
-- create_superuser: is_superuser and is_staff true, is_active true,
-- date_joined now, last_login NULL, names ''.
function M.create_superuser(spec)
  assert(type(spec) == "table", "bad argument #1 to 'create_superuser' (table expected)")
  local email = spec.email or ""
  local ok, msg, code = M.check_username(spec.username)
  if ok then ok, msg, code = M.check_email(email) end
  if ok then ok, msg, code = check_password_value(spec.password) end
  if not ok then return nil, msg, code end
  return insert({ username = spec.username, email = normalize_email(email),
    password = M.make_password(spec.password), is_superuser = true, is_staff = true,
    is_active = true, first_name = "", last_name = "" })
end

-- admin.set_password(username, password) -> the AuthUser object, or nil,
-- message, code ("notfound", "invalid"). Only the password column is
-- written (Django's set_password and save).
function M.set_password(username, password)
  local ok, msg, code = check_password_value(password)
  if not ok then return nil, msg, code end
  local u = AuthUser():filter({ username = username }):first()
  if u == nil then return nil, ("user '%s' does not exist"):format(username), "notfound" end
  u.password = M.make_password(password)
  return u:save()
end

-- admin.check_password(username, password) -> true or false, or nil,
-- message, code ("notfound"; "unsupported" for another hasher).
function M.check_password(username, password)
  assert(type(password) == "string", "bad argument #2 to 'check_password' (string expected)")
  local u = AuthUser():filter({ username = username }):first()
  if u == nil then return nil, ("user '%s' does not exist"):format(username), "notfound" end
  return M.verify(password, u.password)
end

-- admin.login_name() -> the login name as Python's getpass.getuser()
-- finds it in the environment (LOGNAME, USER, LNAME, USERNAME), or nil.
function M.login_name()
  for _, v in ipairs({ "LOGNAME", "USER", "LNAME", "USERNAME" }) do
    local name = os.getenv(v)
    if name and name ~= "" then return name end
  end
  return nil
end

M._doc = {
  login_name = { sig = "admin.login_name()",
    text = "the login name from LOGNAME, USER, LNAME or USERNAME, as getpass.getuser()" },
  create_superuser = { sig = "admin.create_superuser{username=, email=, password=}",
    text = "a /control/ superuser (auth_user, Django's hash); nil, msg, \"exists\"/\"invalid\"" },
  set_password = { sig = "admin.set_password(username, password)",
    text = "store a new password hash; nil, msg, \"notfound\"/\"invalid\"" },
  check_password = { sig = "admin.check_password(username, password)",
    text = "whether the password matches the stored hash; nil, msg, \"notfound\"" },
  make_password = { sig = "admin.make_password(password [, salt [, iterations]])",
    text = "pbkdf2_sha256$600000$<salt>$<hash> as Django 4.2 makes it" },
  verify = { sig = "admin.verify(password, encoded)",
    text = "whether password matches an encoded Django hash" },
  check_username = { sig = "admin.check_username(name)",
    text = "true, or nil, msg, \"invalid\"/\"exists\"" },
  check_email = { sig = "admin.check_email(email)", text = "true, or nil, msg, \"invalid\"" },
}

return M
