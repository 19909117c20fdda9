-- Worlds (core_world): get, list, create, clone, import, save, admin
-- tokens. Misuse raises; a refused request returns nil, message, code;
-- a server failure raises. See venueless-lua(7), WORLDS AND ROOMS.
local core = require "venueless.core"
local db = require "venueless.db"
local json = require "venueless.json"
local crypto = require "venueless.crypto"
local model = require "venueless.model"

local worlds = {}

local COLUMNS = { "id", "title", "config", "domain", "roles", "trait_grants",
  "version", "locale", "timezone", "feature_flags", "external_auth_url",
  "vapid_private_key", "vapid_public_key" }
local SELECT = "SELECT " .. table.concat(COLUMNS, ", ") .. " FROM core_world"

-- A quoted title for tostring: backslash, quote and controls escaped.
local function quoted(s)
  return '"' .. tostring(s):gsub('[%c"\\]', function(c)
    if c == '"' or c == "\\" then return "\\" .. c end
    return ("\\x%02x"):format(c:byte())
  end) .. '"'
end
worlds._quoted = quoted

local World = model.class({
  name = "world", columns = COLUMNS,
  json = { config = true, roles = true, trait_grants = true, feature_flags = true },
  arrays = { feature_flags = true },
  readonly = { id = true, version = true },
  tostring = function(row)
    return ("<world %s %s>"):format(row.id, quoted(row.title))
  end,
})
worlds._methods = World.methods
worlds._class = World

---------------------------------------------------------------- checks

-- The shape create, clone and import accept for a world id (one rule,
-- model.WORLD_ID_RULE).
worlds.valid_id = model.valid_world_id
worlds.ID_RULE = model.WORLD_ID_RULE

-- Why id cannot be looked up (nil if it can). Any string of the column's
-- size is a possible id of a world made elsewhere.
local function bad_lookup_id(id)
  if id == "" then return "world id is empty" end
  local why = model.bad_string(id, 50)
  if why then return "world id " .. why end
  return nil
end

local function not_found(id)
  return nil, ("world %s does not exist"):format(id), "notfound"
end

-- The new world's fields: id, title, domain checked; nil, msg, code if bad.
local function check_new(spec)
  if type(spec) ~= "table" then error("expected a table {id=, title=, domain=}", 3) end
  for k in pairs(spec) do
    if k ~= "id" and k ~= "title" and k ~= "domain" and k ~= "new_secrets" then
      error(("unknown field '%s'"):format(tostring(k)), 3)
    end
  end
  if not worlds.valid_id(spec.id) then
    return nil, "the world id must be " .. model.WORLD_ID_RULE, "invalid"
  end
  local why = model.bad_string(spec.title, 300)
  if why then return nil, "title " .. why, "invalid" end
  if spec.domain ~= nil and spec.domain ~= "" then
    why = model.bad_string(spec.domain, 250)
    if why then return nil, "domain " .. why, "invalid" end
    if spec.domain:find("[%s/]") then
      return nil, "domain must be a host name, without spaces or slashes", "invalid"
    end
  end
  return true
end

---------------------------------------------------------------- get, list

-- worlds.get(id) -> world, or nil, message, code ("notfound" if none).
function worlds.get(id)
  if type(id) ~= "string" then error("bad argument #1 to 'get' (world id expected)", 2) end
  local why = bad_lookup_id(id)
  if why then return nil, why, "invalid" end
  local r = db.query({ json = true }, SELECT .. " WHERE id = $1", id)
  if #r == 0 then return not_found(id) end
  return World.wrap(r[1])
end

local LIST_FILTERS = { id = true, domain = true, title = true, limit = true }

-- worlds.list{id=, domain=, title= (substring, any case), limit=} ->
-- worlds ordered by id.
function worlds.list(f)
  f = model.filters(f, LIST_FILTERS)
  if f.limit ~= nil and math.type(f.limit) ~= "integer" then
    error("list: limit must be an integer", 2)
  end
  local r = db.query({ json = true }, SELECT .. [[
    WHERE ($1::text IS NULL OR id = $1) AND ($2::text IS NULL OR domain = $2)
      AND ($3::text IS NULL OR strpos(lower(title), lower($3)) > 0)
    ORDER BY id LIMIT $4]], f.id, f.domain, f.title, f.limit)
  local out = {}
  for i, row in ipairs(r) do out[i] = World.wrap(row) end
  return out
end

---------------------------------------------------------------- secrets, tokens

-- A new JWT secret entry, as create_world makes it.
function worlds.new_secret()
  return json.ordered({ issuer = "any", audience = "venueless",
    secret = crypto.random_string(64) }, { "issuer", "audience", "secret" })
end

-- An HS256 JWT for secret entry s: {issuer, audience, secret}.
function worlds.token(s, opts)
  opts = opts or {}
  local days = opts.days or 365
  if type(days) ~= "number" or days <= 0 then error("days must be a positive number", 3) end
  local traits = opts.traits or { "admin" }
  if type(traits) ~= "table" then error("traits must be a list of strings", 3) end
  local iat = math.floor(core.time())
  local header = '{"alg":"HS256","typ":"JWT"}'
  local payload = json.encode(json.ordered({ iss = s.issuer, aud = s.audience,
    exp = iat + math.floor(days * 86400), iat = iat, uid = opts.uid or crypto.uuid4(),
    traits = json.array({ table.unpack(traits) }) },
    { "iss", "aud", "exp", "iat", "uid", "traits" }))
  local signing = crypto.base64url(header) .. "." .. crypto.base64url(payload)
  return signing .. "." .. crypto.base64url(crypto.hmac_sha256(s.secret, signing))
end

-- world:admin_token{days=365, traits={"admin"}} -> JWT signed with the
-- world's first JWT secret; nil, message, "nosecret" without one.
function World.methods.admin_token(self, opts)
  local cfg = self.config
  local s = type(cfg) == "table" and type(cfg.JWT_secrets) == "table" and cfg.JWT_secrets[1]
  if type(s) ~= "table" or type(s.secret) ~= "string" or s.secret == "" then
    return nil, ("world %s has no JWT secret"):format(self.id), "nosecret"
  end
  return worlds.token(s, opts)
end

-- world:admin_url{...} -> https://<domain>/#token=<JWT>; nil, message,
-- code without a domain or secret.
function World.methods.admin_url(self, opts)
  if self.domain == nil or self.domain == "" then
    return nil, ("world %s has no domain"):format(self.id), "nodomain"
  end
  local t, msg, code = self:admin_token(opts)
  if t == nil then return nil, msg, code end
  return ("https://%s/#token=%s"):format(self.domain, t)
end

---------------------------------------------------------------- create

local INSERT = [[
INSERT INTO core_world (id, title, config, domain, roles, trait_grants, version,
  locale, timezone, feature_flags, external_auth_url, vapid_private_key,
  vapid_public_key)
VALUES ($1, $2, $3::jsonb, $4, $5::jsonb, $6::jsonb, 2, $7, $8, $9::jsonb, NULL,
  $10, $11)
ON CONFLICT DO NOTHING
RETURNING ]] .. table.concat(COLUMNS, ", ")

-- Why a new world's id or domain is taken: nil, message, code.
local function conflict(id, domain)
  local r = db.query("SELECT id, coalesce(domain = $2, false) AS dom FROM core_world"
    .. " WHERE id = $1 OR domain = $2 ORDER BY id = $1 DESC LIMIT 1", id, domain)
  if r[1] and not r[1].dom then return nil, ("world %s already exists"):format(id), "exists" end
  if r[1] then
    return nil, ("domain %s is already used by world %s"):format(domain, r[1].id), "domain"
  end
  return nil, ("world %s could not be created"):format(id), "conflict"
end
worlds._conflict = conflict

-- worlds.create{id=, title=, domain=} -> world, admin URL (nil without
-- a domain); nil, message, code ("exists", "domain", "invalid").
function worlds.create(spec)
  local ok, msg, code = check_new(spec)
  if not ok then return nil, msg, code end
  model.check_outside("worlds.create")
  local domain = spec.domain ~= "" and spec.domain or nil
  local d = model.world_defaults()
  local priv, pub = crypto.ec_p256()
  local cfg = json.object({ JWT_secrets = json.array({ worlds.new_secret() }) })
  local r = db.query({ json = true }, INSERT, spec.id, spec.title, cfg,
    domain or db.NULL, d.roles, d.trait_grants, d.locale, d.timezone,
    d.feature_flags, priv, pub)
  if #r == 0 then return conflict(spec.id, domain or db.NULL) end
  local w = World.wrap(r[1])
  return worlds._finish(w, { { "World", w.id, w.version } })
end

-- After a commit: update the cache; return w and its admin URL (a Redis
-- failure raises model.cache_failure carrying them).
function worlds._finish(w, entries)
  return model.after_commit(entries, w, (w:admin_url()))
end

---------------------------------------------------------------- save

local UPDATE = [[
UPDATE core_world SET title = $2, config = $3::jsonb, domain = $4,
  roles = $5::jsonb, trait_grants = $6::jsonb, locale = $7, timezone = $8,
  feature_flags = $9::jsonb, external_auth_url = $10, vapid_private_key = $11,
  vapid_public_key = $12, version = version + 1
WHERE id = $1 RETURNING version]]

-- world:save() -> world; version + 1, then the server cache told.
function World.methods.save(self)
  model.check_outside("world:save")
  local row = World.row(self)
  local p = {}
  for i, c in ipairs({ "id", "title", "config", "domain", "roles", "trait_grants",
      "locale", "timezone", "feature_flags", "external_auth_url",
      "vapid_private_key", "vapid_public_key" }) do
    p[i] = World.param(row, c)
  end
  -- in line behind an import or clone writing this world
  local r = model.locked(row.id, db.query, UPDATE, table.unpack(p, 1, 12))
  if #r == 0 then return not_found(row.id) end
  local old = row.version
  model.on_rollback(function() row.version = old end)
  row.version = r[1].version
  return model.after_commit({ { "World", row.id, row.version } }, self)
end

-- world:rooms() -> its rooms, ordered by sorting_priority.
function World.methods.rooms(self)
  return require("venueless.rooms").list({ world = self.id })
end

-- world:add_room{name=, modules=, ...} -> room (see rooms.create).
function World.methods.add_room(self, spec)
  return require("venueless.rooms").create(self, spec)
end

-- world:reload() -> world with the stored values.
function World.methods.reload(self)
  local w, msg, code = worlds.get(self.id)
  if w == nil then return nil, msg, code end
  local row = World.row(self)
  for k, v in pairs(World.row(w)) do row[k] = v end
  return self
end

-- world:clear_data{dry_run=} -> receipt; see venueless.retention.
function World.methods.clear_data(self, opts)
  return require("venueless.retention").clear_world_data(self.id, opts)
end

-- worlds.clear_unused{days=, dry_run=} -> the candidates and what was done.
function worlds.clear_unused(opts)
  return require("venueless.retention").clear_unused(opts)
end

---------------------------------------------------------------- clone, import

-- worlds.clone(source_id, {id=, title=, domain=, new_secrets=}) ->
-- world, admin URL; see venueless.world_clone.
function worlds.clone(source, spec)
  if type(source) ~= "string" then error("bad argument #1 to 'clone' (world id expected)", 2) end
  local ok, msg, code = check_new(spec)
  if not ok then return nil, msg, code end
  model.check_outside("worlds.clone")
  return require("venueless.world_clone").clone(worlds, source, spec)
end

-- worlds.import(path or table [, {before_write = fn}]) -> world, summary;
-- see venueless.world_import. before_write runs once the document is valid.
function worlds.import(src, opts)
  if type(src) ~= "string" and type(src) ~= "table" then
    error("bad argument #1 to 'import' (file name or table expected)", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #2 to 'import' (table expected)", 2)
  end
  model.check_outside("worlds.import")
  return require("venueless.world_import").import(worlds, src, opts)
end

-- worlds.transaction(fn, ...): saves inside fn in one transaction; the
-- cache is updated after the commit.
worlds.transaction = model.transaction

-- worlds.lock(id): the world's writer lock in the current transaction,
-- for a script that reads a world and then writes it (import, clone and
-- saves take it too).
worlds.lock = model.lock_world

-- Internal: wrap a row read by the clone and import code.
function worlds._wrap(row)
  return World.wrap(row)
end
worlds._select = SELECT
worlds._columns = COLUMNS

---------------------------------------------------------------- help

worlds._doc = {
  get = { sig = "worlds.get(id)", text = "the world with this id, or nil, message, code" },
  list = { sig = "worlds.list{id=, domain=, title=, limit=}",
    text = "worlds ordered by id; title matches a substring in any case" },
  create = { sig = "worlds.create{id=, title=, domain=}",
    text = "create a world with new secrets and VAPID keys; returns it and its admin URL" },
  clone = { sig = "worlds.clone(source_id, {id=, title=, domain=, new_secrets=})",
    text = "copy a world with its rooms, channels and exhibitors in one transaction" },
  import = { sig = "worlds.import(path_or_table [, {before_write=}])",
    text = "create or update a world from venueless JSON config; returns it and a summary" },
  transaction = { sig = "worlds.transaction(fn, ...)",
    text = "run fn's saves in one transaction; the server cache learns them after the commit" },
  lock = { sig = "worlds.lock(id)",
    text = "inside worlds.transaction: wait for and hold the world's writer lock until the commit" },
  valid_id = { sig = "worlds.valid_id(id)",
    text = "whether id is a valid world id (worlds.ID_RULE: ASCII letters, digits, _ . -)" },
  new_secret = { sig = "worlds.new_secret()",
    text = "a new JWT secret entry {issuer=\"any\", audience=\"venueless\", secret=<64 chars>}" },
  token = { sig = "worlds.token({issuer=, audience=, secret=}, {days=, traits=})",
    text = "an HS256 JWT in the shape venueless expects" },
  ["world:save"] = { sig = "world:save()",
    text = "store the fields, version + 1, then update the server cache" },
  ["world:rooms"] = { sig = "world:rooms()", text = "the world's rooms by sorting_priority" },
  ["world:add_room"] = { sig = "world:add_room{name=, modules=, description=, ...}",
    text = "create a room (with its chat channel for a chat.native module)" },
  ["world:admin_token"] = { sig = "world:admin_token{days=, traits=}",
    text = "a JWT signed with the world's first secret (default 365 days, admin)" },
  ["world:admin_url"] = { sig = "world:admin_url{days=, traits=}",
    text = "https://<domain>/#token=<JWT>, or nil without a domain" },
  ["world:clear_data"] = { sig = "world:clear_data{dry_run=}",
    text = "delete the world's users and their content in one transaction, domain NULL; the receipt" },
  clear_unused = { sig = "worlds.clear_unused{days=, dry_run=}",
    text = "clear the worlds (domain set) without activity in the last days, each in its own transaction" },
  ["world:reload"] = { sig = "world:reload()", text = "read the stored values again" },
}

return worlds
