-- API metadata for help(), the completer's hints and the man page test.
-- Domain modules carry their own: M._doc maps a function name to
-- { sig =, text = }, "obj:method" keys describe methods of M._methods.
-- The C bindings' entries live here, in M.bindings.
local M = {}

-- The operator globals help() lists, in this order.
M.modules = { "db", "redis", "json", "msgpack", "crypto", "config",
  "migrations", "worlds", "rooms", "connections", "models", "http", "xml", "bbb", "admin",
  "check", "announce" }

M.summaries = {
  db = "PostgreSQL: query, exec, rows, transaction",
  redis = "Redis shards: call, pcall, pipeline, conn",
  json = "JSON encode and decode, null, arrays and objects",
  msgpack = "MessagePack encode and decode",
  crypto = "random strings, hashes, HMAC, base64, UUIDs, keys",
  config = "the configuration (a plain table)",
  migrations = "Django-compatible migrations: list, plan, apply",
  worlds = "get, list, create, clone, import, export, tokens",
  rooms = "rooms of a world",
  models = "every Django model (User, Room, ChatEvent, …): querysets and objects",
  connections = "live websocket connections: list, drop, force_reload",
  http = "HTTP GETs to many servers at once (libcurl)",
  xml = "XML text as a tree of tables (expat)",
  bbb = "BigBlueButton servers: update_cost",
  admin = "/control/ accounts: create_superuser, set_password, check_password",
  check = "the readiness report: config, PostgreSQL, schema drift, Redis, worlds",
  announce = "announcements in a world's open browsers: create, list, deactivate",
}

M.bindings = {
  db = {
    connect = { sig = "db.connect([{application_name=, dbname=, connect_timeout=, …}])",
      text = "connect now (or reconnect with these libpq settings); true, raises on failure" },
    close = { sig = "db.close()", text = "close the connection; the next call reconnects" },
    query = { sig = "db.query([{timeout=, json=},] sql, ...)",
      text = "run a query with $1.. parameters; rows with .columns and .count; raises on failure" },
    exec = { sig = "db.exec([opts,] sql, ...)", text = "run statements; the affected row count" },
    rows = { sig = "db.rows([opts,] sql, ...)", text = "iterate over rows in single-row mode" },
    transaction = { sig = "db.transaction(fn, ...)",
      text = "run fn inside BEGIN/COMMIT (SAVEPOINT when nested); rollback on error" },
    in_transaction = { sig = "db.in_transaction()", text = "is a transaction open" },
    trace = { sig = "db.trace(on | fn)",
      text = "echo every statement, its parameters (secrets ***) and ms to stderr; fn(sql, params, ms, err) instead" },
    quote_ident = { sig = "db.quote_ident(name)", text = "quote an SQL identifier" },
    backend_pid = { sig = "db.backend_pid()", text = "the server process id of the connection" },
    info = { sig = "db.info()", text = "{dbname=, user=, host=, port=, server_version=}" },
    stats = { sig = "db.stats()",
      text = "totals since the start: {statements=, rows=, ms=} of db.query and db.exec (\\timing)" },
  },
  redis = {
    shards = { sig = "redis.shards()", text = "the number of shards" },
    shard_for = { sig = "redis.shard_for(name)", text = "the shard index of a channel or group name" },
    connect_timeout = { sig = "redis.connect_timeout([ms])",
      text = "ms allowed for connect, AUTH and SELECT of new connections (5000)" },
    conn = { sig = "redis.conn(i)", text = "the connection object of shard i (from 0)" },
    call = { sig = "redis.call(cmd, ...)", text = "a command on shard 0; raises on errors" },
    pcall = { sig = "redis.pcall(cmd, ...)", text = "a command on shard 0; nil, msg, code on errors" },
    pipeline = { sig = "redis.pipeline(cmds [, {timeout=}])",
      text = "several commands on shard 0 in one round trip; timeout in ms without a reply" },
    close = { sig = "redis.close()", text = "close every shard's connection" },
    parse_url = { sig = "redis.parse_url(url)",
      text = "the parts redis.conn would use: {scheme=, host= or path=, port=, db=, user=, password=, url=}; nil, msg if unusable" },
    format_url = { sig = "redis.format_url{host=, port=, db=, user=, password=}",
      text = "a redis:// URL with the userinfo percent-escaped, as config builds it" },
  },
  json = {
    encode = { sig = "json.encode(v [, {indent=true}])", text = "a value as JSON text" },
    decode = { sig = "json.decode(s)", text = "JSON text as a value; nil, msg when malformed" },
    array = { sig = "json.array(t)", text = "mark t as a JSON array" },
    object = { sig = "json.object(t)", text = "mark t as a JSON object" },
    ordered = { sig = "json.ordered(t, keys)", text = "encode t's keys in this order" },
  },
  msgpack = {
    encode = { sig = "msgpack.encode(v)", text = "a value as MessagePack bytes" },
    decode = { sig = "msgpack.decode(s [, pos])", text = "value, next position; nil, msg when malformed" },
  },
  crypto = {
    random_bytes = { sig = "crypto.random_bytes(n)", text = "n random bytes" },
    random_string = { sig = "crypto.random_string(n [, alphabet])", text = "a uniform random string" },
    hmac_sha256 = { sig = "crypto.hmac_sha256(key, msg)", text = "raw 32-byte HMAC-SHA256" },
    sha256 = { sig = "crypto.sha256(s)", text = "raw 32-byte SHA-256" },
    sha1 = { sig = "crypto.sha1(s)", text = "raw 20-byte SHA-1 (BigBlueButton checksums)" },
    pbkdf2_sha256 = { sig = "crypto.pbkdf2_sha256(password, salt, iterations [, len])",
      text = "raw PBKDF2-HMAC-SHA256 key, len bytes (32)" },
    hex = { sig = "crypto.hex(s)", text = "lowercase hex of bytes" },
    base64url = { sig = "crypto.base64url(s)", text = "base64url without padding" },
    base64url_decode = { sig = "crypto.base64url_decode(s)", text = "decode base64url; nil, msg on bad input" },
    base64 = { sig = "crypto.base64(s)", text = "standard base64" },
    uuid4 = { sig = "crypto.uuid4()", text = "a random UUID, lowercase and dashed" },
    ec_p256 = { sig = "crypto.ec_p256()", text = "a new P-256 key pair: private PEM, public PEM" },
    check_ec_p256 = { sig = "crypto.check_ec_p256(private_pem, public_pem)",
      text = "true if both parse as one EC P-256 key pair; nil, what is wrong otherwise" },
  },
  http = {
    get_many = { sig = "http.get_many(requests [, {timeout=, max_size=}])",
      text = "GET every URL at once (timeout seconds each, 10); {status=, body=} or {error=, code=} each, in order" },
  },
  xml = {
    parse = { sig = "xml.parse(text)",
      text = "the root element {tag=, attrs=, children...}; nil, msg, \"invalid\" when malformed" },
  },
}

-- The _doc table of a module by global name, or nil.
function M.doc_of(name)
  if M.bindings[name] then return M.bindings[name] end
  local mod = M.module(name)
  return type(mod) == "table" and rawget(mod, "_doc") or nil
end

-- The module behind a global name, required if it exists.
function M.module(name)
  local mt = getmetatable(_G)
  local modname = mt and type(mt.__lazy) == "table" and mt.__lazy[name] or "venueless." .. name
  if package.loaded[modname] then return package.loaded[modname] end
  if not (package.preload[modname] or package.searchpath(modname, package.path)) then
    return nil
  end
  local ok, mod = pcall(require, modname)
  return ok and mod or nil
end

-- The value a doc key names in module mod: "f" or "obj:method".
function M.value(mod, key)
  if type(mod) ~= "table" then return nil end
  local m = key:match("^[%w_]+:([%w_]+)$")
  if m then
    local methods = rawget(mod, "_methods")
    return type(methods) == "table" and methods[m] or nil
  end
  return rawget(mod, key)
end

-- Every documented entry: list of {module=, key=, sig=, text=, value=}.
function M.entries(loaded_only)
  local out = {}
  for _, name in ipairs(M.modules) do
    local mod = loaded_only and package.loaded["venueless." .. name] or M.module(name)
    local doc = mod and M.doc_of(name)
    if doc then
      for key, d in pairs(doc) do
        out[#out + 1] = { module = name, key = key, sig = d.sig, text = d.text,
          value = M.value(mod, key) }
      end
    end
  end
  table.sort(out, function(a, b)
    if a.module ~= b.module then return a.module < b.module end
    return a.key < b.key
  end)
  return out
end

-- The doc entry of a function value, searching loaded modules only.
function M.find(fn)
  if type(fn) ~= "function" then return nil end
  for _, e in ipairs(M.entries(true)) do
    if e.value == fn then return e end
  end
end

---------------------------------------------------------------- models

-- The model kind and class of v (venueless.models.kind) if the model
-- layer is loaded; a class by its global name for help("User").
local function model_of(v)
  local models = package.loaded["venueless.models"]
  if type(v) == "string" and v:match("^%u") then
    models = models or M.module("models")
    local cls = models and models.class(v)
    return cls and "class", cls
  end
  if models and type(v) == "table" then return models.kind(v) end
end

-- One line per field: name, Django type, column type and what else
-- matters (primary key, NULL, a foreign key's target, a default).
local function field_lines(cls, lines)
  for _, f in ipairs(cls._meta.fields) do
    local notes = { f.db_type }
    if f.primary_key then notes[#notes + 1] = "primary key" end
    if f.null then notes[#notes + 1] = "null" end
    if f.fk then
      local t = require("venueless.models").class(f.fk.target)
      notes[#notes + 1] = ("-> %s (%s), on_delete %s"):format(t._name, f.attname, f.fk.on_delete)
    end
    if f.choices then notes[#notes + 1] = "choices" end
    lines[#lines + 1] = ("  %-26s %-20s %s"):format(f.name, f.type, table.concat(notes, ", "))
  end
end

-- The relations: forward keys, reverse accessors, many-to-many.
local function relation_lines(cls, lines)
  local models = require "venueless.models"
  local md = cls._meta
  for _, f in ipairs(md.fields) do
    if f.fk then
      lines[#lines + 1] = ("  %-26s %s"):format(f.name, "the " .. models.class(f.fk.target)._name
        .. (f.fk.one_to_one and " (one-to-one)" or ""))
    end
  end
  for _, m in ipairs(md.m2m or {}) do
    lines[#lines + 1] = ("  %-26s %s"):format(m.name, "queryset of " .. models.class(m.target)._name
      .. " (many-to-many, " .. m.through .. ")")
  end
  for _, r in ipairs(md.reverse or {}) do
    local what = r.kind == "OneToOneRel" and "the " or "queryset of "
    local via = r.kind == "ManyToManyRel" and " (many-to-many " or " (by "
    lines[#lines + 1] = ("  %-26s %s%s%s%s.%s)"):format(r.accessor, what,
      models.class(r.model)._name, via, models.class(r.model)._name, r.field)
  end
end

-- The documented methods whose key starts with one of prefixes.
local function method_lines(prefixes, lines)
  local doc = require("venueless.models")._doc
  local keys = {}
  for k in pairs(doc) do
    for _, p in ipairs(prefixes) do
      if k:sub(1, #p) == p then keys[#keys + 1] = k end
    end
  end
  table.sort(keys)
  for _, k in ipairs(keys) do
    lines[#lines + 1] = ("  %-44s %s"):format(doc[k].sig, doc[k].text)
  end
end

-- help(User), help("User"), help(obj): the model's fields, relations
-- and methods; help(queryset): its methods.
local function model_help(kind, cls)
  local md = cls._meta
  local lines = { ("%s (%s): table %s%s"):format(cls._name, cls._label, md.table,
    md.versioned and ", versioned (saves bump version and tell the model cache)" or "") }
  if kind == "queryset" then
    lines[1] = "queryset of " .. lines[1]
    method_lines({ "queryset:" }, lines)
    return table.concat(lines, "\n")
  end
  lines[#lines + 1] = "Fields:"
  field_lines(cls, lines)
  lines[#lines + 1] = "Relations (obj.name):"
  relation_lines(cls, lines)
  lines[#lines + 1] = "Methods (" .. cls._name .. ":name also starts a queryset):"
  method_lines({ "Model:", "queryset:", "object:" }, lines)
  return table.concat(lines, "\n")
end

-- Text of help(), help("name") or help(fn).
function M.help_text(v)
  local kind, cls = model_of(v)
  if kind then return model_help(kind, cls) end
  if v == nil then
    local lines = { "Modules (also globals, loaded on first use):" }
    for _, name in ipairs(M.modules) do
      if M.module(name) ~= nil or M.bindings[name] then
        lines[#lines + 1] = ("  %-12s %s"):format(name, M.summaries[name] or "")
      end
    end
    lines[#lines + 1] = "help(module) lists its functions, help(module.function) describes one."
    lines[#lines + 1] = "Keys: Tab completes, Ctrl-R searches history, Ctrl-C cancels, Ctrl-D exits."
    return table.concat(lines, "\n")
  end
  if type(v) == "string" then
    local mod = M.module(v)
    if mod ~= nil then v = mod else
      local m, f = v:match("^([%w_]+)[%.:]([%w_]+)$")
      if m and M.doc_of(m) then
        local d = M.doc_of(m)[f] or M.doc_of(m)[m:gsub("s$", "") .. ":" .. f]
        if d then return d.sig .. "\n  " .. d.text end
      end
      return "no help for " .. v
    end
  end
  if type(v) == "function" then
    local e = M.find(v)
    if e then return e.sig .. "\n  " .. e.text end
    return "no help for this function"
  end
  if type(v) == "table" then
    for _, name in ipairs(M.modules) do
      if package.loaded["venueless." .. name] == v or M.bindings[name] and M.module(name) == v then
        -- the heading names the module once, if its summary does not start so
        local sum = M.summaries[name] or ""
        local lines = { sum:sub(1, #name + 1) == name .. ":" and sum or name .. ": " .. sum }
        for _, e in ipairs(M.entries(true)) do
          if e.module == name then
            lines[#lines + 1] = ("  %-44s %s"):format(e.sig, e.text)
          end
        end
        return table.concat(lines, "\n")
      end
    end
  end
  return "no help for " .. tostring(v)
end

-- What help(nil) says: a misspelt global reads as nil. name: the
-- expression the shell saw in help(NAME), if it knows it.
function M.nil_text(name)
  return ("%s is nil (a misspelt name?): help() lists the modules, Tab completes names")
    :format(name or "the argument")
end

-- help([v]): print the help text; help(nil) says that its argument is nil.
-- M.nil_name: set by the shell while it runs help(NAME).
function M.help(...)
  if select("#", ...) > 0 and (...) == nil then
    io.stdout:write(M.nil_text(M.nil_name), "\n")
    return
  end
  io.stdout:write(M.help_text((...)), "\n")
end

return M
