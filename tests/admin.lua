-- venueless.admin and crypto.pbkdf2_sha256: Django 4.2's password hashes
-- checked by python3's hashlib and RFC 7914's vector, the auth_user rows
-- create_superuser writes (every column), set_password/check_password,
-- and the refusals (a taken name, also when a race loses the insert).
local crypto = require "venueless.crypto"
local db = require "venueless.db"
local admin = require "venueless.admin"
local migrations = require "venueless.migrations"

migrations.apply()
local tmp = assert(os.getenv("VL_TMP"))

-- Django's encoding of password with the salt and iterations of encoded,
-- computed by python3's hashlib (the password through a file, as bytes).
local function python_hash(password, encoded)
  local algo, iter, salt = encoded:match("^([^$]+)%$(%d+)%$([^$]+)%$")
  eq("pbkdf2_sha256", algo, "algorithm of " .. encoded)
  local f = assert(io.open(tmp .. "/pw", "wb"))
  f:write(password)
  f:close()
  local out, code = sh(("python3 -c 'import base64, hashlib, sys\n"
    .. "pw = open(sys.argv[1], \"rb\").read()\n"
    .. "key = hashlib.pbkdf2_hmac(\"sha256\", pw, sys.argv[2].encode(), int(sys.argv[3]))\n"
    .. "print(\"pbkdf2_sha256$%%s$%%s$%%s\" %% (sys.argv[3], sys.argv[2], base64.b64encode(key).decode()))'"
    .. " '%s/pw' '%s' '%s'"):format(tmp, salt, iter))
  eq(0, code, "python3: " .. out)
  return (out:gsub("\n$", ""))
end

local function row(username)
  return db.query("SELECT id, password, last_login IS NULL AS no_login, is_superuser, username,"
    .. " first_name, last_name, email, is_staff, is_active,"
    .. " abs(extract(epoch FROM now() - date_joined)) < 60 AS joined_now"
    .. " FROM auth_user WHERE username = $1", username)[1]
end

test("pbkdf2_sha256: RFC 7914's vector, the default length, argument checks", function()
  eq("55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
    .. "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783",
    crypto.hex(crypto.pbkdf2_sha256("passwd", "salt", 1, 64)))
  eq(32, #crypto.pbkdf2_sha256("x", "y", 2))
  eq(crypto.pbkdf2_sha256("a\0b", "s", 3), crypto.pbkdf2_sha256("a\0b", "s", 3))
  ok(crypto.pbkdf2_sha256("a\0b", "s", 3) ~= crypto.pbkdf2_sha256("a", "s", 3), "NUL counts")
  raises(function() crypto.pbkdf2_sha256("x", "y", 0) end, "iterations")
  raises(function() crypto.pbkdf2_sha256("x", "y", 1, 0) end, "length")
  raises(function() crypto.pbkdf2_sha256("x", "y", 1, 1025) end, "length")
  raises(function() crypto.pbkdf2_sha256("x", nil, 1) end, "string expected")
end)

test("make_password: Django 4.2's format, the hash python3 computes", function()
  local enc = admin.make_password("correct horse ✓")
  local salt, hash = enc:match("^pbkdf2_sha256%$600000%$(%w+)%$([%w+/=]+)$")
  ok(salt, "format: " .. enc)
  eq(22, #salt)
  eq(44, #hash)
  eq(python_hash("correct horse ✓", enc), enc)
  ok(admin.make_password("x") ~= admin.make_password("x"), "a new salt each time")
  eq(python_hash("pw", admin.make_password("pw", "fixedsalt", 1000)),
    admin.make_password("pw", "fixedsalt", 1000))
  raises(function() admin.make_password("pw", "a$b") end, "salt")
end)

test("create_superuser: the auth_user row as Django's create_superuser writes it", function()
  local u = assert(admin.create_superuser({ username = "root", email = "Ops@Example.ORG",
    password = "s3cret-One" }))
  ok(u.id > 0)
  local r = row("root")
  eq(u.id, r.id)
  eq(true, r.no_login, "last_login NULL")
  eq(true, r.is_superuser)
  eq(true, r.is_staff)
  eq(true, r.is_active)
  eq(true, r.joined_now, "date_joined now")
  eq("", r.first_name)
  eq("", r.last_name)
  eq("Ops@example.org", r.email, "the domain lowercased (normalize_email)")
  eq(python_hash("s3cret-One", r.password), r.password)
  local none = assert(admin.create_superuser({ username = "noemail", password = "x" }))
  eq("", none.email)
end)

test("create_superuser refuses a taken name, a bad name or email, a blank password", function()
  local msg, code = fails("^that username is already taken$",
    admin.create_superuser({ username = "root", password = "s3cret-Two" }))
  eq("exists", code)
  local _, c2 = fails("valid username", admin.create_superuser({ username = "a b", password = "x" }))
  eq("invalid", c2)
  fails("valid username", admin.create_superuser({ username = "a/b", password = "x" }))
  fails("150", admin.create_superuser({ username = ("u"):rep(151), password = "x" }))
  ok(admin.create_superuser({ username = "jürgen@x.org+1", password = "x" }), "Django's \\w is Unicode")
  fails("valid email", admin.create_superuser({ username = "e1", email = "nope", password = "x" }))
  fails("blank", admin.create_superuser({ username = "e2", password = "" }))
  fails("blank", admin.create_superuser({ username = "e3", password = "  \t" }))
  eq(0, db.query("SELECT count(*) AS n FROM auth_user WHERE username LIKE 'e_'")[1].n)
  ok(not msg:find("s3cret", 1, true), "no password in the message")
end)

test("a race for the name lost at the insert (23505) is the same refusal", function()
  local saved = admin.check_username
  admin.check_username = function() return true end	-- as if checked before the other insert
  local r = table.pack(pcall(admin.create_superuser, { username = "root", password = "pw" }))
  admin.check_username = saved
  ok(r[1], tostring(r[2]))
  fails("already taken", r[2], r[3], r[4])
  eq("exists", r[4])
end)

test("set_password and check_password", function()
  eq(true, admin.check_password("root", "s3cret-One"))
  eq(false, admin.check_password("root", "s3cret-one"))
  local before = row("root")
  local u = assert(admin.set_password("root", "n3w-Pass"))
  eq("root", u.username)
  local after = row("root")
  ok(after.password ~= before.password, "a new hash")
  eq(python_hash("n3w-Pass", after.password), after.password)
  eq(true, admin.check_password("root", "n3w-Pass"))
  eq(false, admin.check_password("root", "s3cret-One"))
  eq(before.email, after.email, "only the password changed")
  local _, code = fails("^user 'ghost' does not exist$", admin.set_password("ghost", "x"))
  eq("notfound", code)
  fails("does not exist", admin.check_password("ghost", "x"))
  fails("blank", admin.set_password("root", ""))
  eq(true, admin.check_password("root", "n3w-Pass"), "a refusal changes nothing")
end)

test("check_password reads what Django wrote; other hashers are said so", function()
  local enc = python_hash("from-django", admin.make_password("x", "DjangoSalt22characters", 600000))
  db.exec("UPDATE auth_user SET password = $1 WHERE username = 'noemail'", enc)
  eq(true, admin.check_password("noemail", "from-django"))
  eq(false, admin.check_password("noemail", "x"))
  db.exec("UPDATE auth_user SET password = '!unusable' WHERE username = 'noemail'")
  eq(false, admin.check_password("noemail", "!unusable"))
  db.exec("UPDATE auth_user SET password = 'argon2$argon2id$v=19$m=102400,t=2,p=8$c2FsdA$aGFzaA'"
    .. " WHERE username = 'noemail'")
  local _, code = fails("argon2", admin.check_password("noemail", "x"))
  eq("unsupported", code)
  eq(false, admin.verify("x", "pbkdf2_sha256$0$salt$hash"), "malformed: no match")
  eq(false, admin.verify("x", "pbkdf2_sha256$salt$hash"), "malformed: no match")
end)

test("login_name follows getpass.getuser's variables", function()
  local out = sh(("env -u LOGNAME -u LNAME -u USERNAME USER=alice %s shell -e "
    .. "'return require(\"venueless.admin\").login_name()'"):format(os.getenv("VENUELESS")))
  eq("alice\n", out)
  out = sh(("env -i %s shell -e 'return tostring(require(\"venueless.admin\").login_name())'")
    :format(os.getenv("VENUELESS")))
  eq("nil\n", out)
end)

test("the shell keeps these calls out of its history", function()
  local repl = require "venueless.repl"
  ok(repl.is_secret('admin.set_password("root", "x")'), "set_password")
  ok(repl.is_secret('admin.create_superuser{username = "a", password = "x"}'), "create_superuser")
  ok(repl.is_secret('admin.check_password("root", "x")'), "check_password")
end)
