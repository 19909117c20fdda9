-- Worlds (core_world): get, list, create, clone, import, save, admin
-- tokens. Misuse raises; a refused request returns nil, message, code;
-- a server failure raises. See venueless-lua(7), WORLDS AND ROOMS.
local core = require "venueless.core"
local db = require "venueless.db"
local json = require "venueless.json"
local crypto = require "venueless.crypto"
local model = require "venueless.model"
local schema = require "venueless.models.schema"

local worlds = {}

-- The World model's domain methods (venueless.models merges them into
-- the class, so worlds.get and World:get{} return the same objects).
local methods = {}
worlds._methods = methods
local World = schema.World

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

-- worlds.get(id) -> World object, or nil, message, code ("notfound").
function worlds.get(id)
  if type(id) ~= "string" then error("bad argument #1 to 'get' (world id expected)", 2) end
  local why = bad_lookup_id(id)
  if why then return nil, why, "invalid" end
  local w = World():filter({ id = id }):first()
  if w == nil then return not_found(id) end
  return w
end

local LIST_FILTERS = { id = true, domain = true, title = true, limit = true }

-- worlds.list{id=, domain=, title= (substring, any case), limit=} ->
-- worlds ordered by id.
function worlds.list(f)
  f = model.filters(f, LIST_FILTERS)
  if f.limit ~= nil and math.type(f.limit) ~= "integer" then
    error("list: limit must be an integer", 2)
  end
  local qs = World():order("id")
  if f.id ~= nil then qs = qs:filter({ id = f.id }) end
  if f.domain ~= nil then qs = qs:filter({ domain = f.domain }) end
  if f.title ~= nil then qs = qs:filter({ title__icontains = f.title }) end
  if f.limit ~= nil then qs = qs:limit(f.limit) end
  return qs:list()
end

---------------------------------------------------------------- secrets, tokens

-- A new JWT secret entry, as create_world makes it.
function worlds.new_secret()
  return json.ordered({ issuer = "any", audience = "venueless",
    secret = crypto.random_string(64) }, { "issuer", "audience", "secret" })
end

-- An HS256 JWT for secret entry s: {issuer, audience, secret}. opts.iat
-- (default now) lets a batch of tokens share one iat and so one exp.
function worlds.token(s, opts)
  opts = opts or {}
  local days = opts.days or 365
  if type(days) ~= "number" or days <= 0 then error("days must be a positive number", 3) end
  local traits = opts.traits or { "admin" }
  if type(traits) ~= "table" then error("traits must be a list of strings", 3) end
  local iat = opts.iat or math.floor(core.time())
  if math.type(iat) ~= "integer" then error("iat must be an integer", 3) end
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
function methods.admin_token(self, opts)
  local cfg = self.config
  local s = type(cfg) == "table" and type(cfg.JWT_secrets) == "table" and cfg.JWT_secrets[1]
  if type(s) ~= "table" or type(s.secret) ~= "string" or s.secret == "" then
    return nil, ("world %s has no JWT secret"):format(self.id), "nosecret"
  end
  return worlds.token(s, opts)
end

-- world:admin_url{...} -> https://<domain>/#token=<JWT>; nil, message,
-- code without a domain or secret.
function methods.admin_url(self, opts)
  if self.domain == nil or self.domain == "" then
    return nil, ("world %s has no domain"):format(self.id), "nodomain"
  end
  local t, msg, code = self:admin_token(opts)
  if t == nil then return nil, msg, code end
  return ("https://%s/#token=%s"):format(self.domain, t)
end

-- world:token{traits=, days=90, raw=, count=1} -> links, rows: invitation
-- links as generate_token makes them; see venueless.tokens.
function methods.token(self, opts)
  return require("venueless.tokens").generate(self, opts)
end

-- worlds.inspect_token(token_or_url [, {world=}]) -> report: why a link
-- works or not; see venueless.tokens.
function worlds.inspect_token(s, opts)
  if type(s) ~= "string" then
    error("bad argument #1 to 'inspect_token' (token or URL expected)", 2)
  end
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #2 to 'inspect_token' (table expected)", 2)
  end
  for k, v in pairs(opts or {}) do
    if k ~= "world" or type(v) ~= "string" then
      error(("inspect_token: expected {world = id}, not field '%s'"):format(tostring(k)), 2)
    end
  end
  return require("venueless.tokens").inspect(s, opts or {})
end

---------------------------------------------------------------- create

local INSERT = [[
INSERT INTO core_world (id, title, config, domain, roles, trait_grants, version,
  locale, timezone, feature_flags, external_auth_url, vapid_private_key,
  vapid_public_key)
VALUES ($1, $2, $3::jsonb, $4, $5::jsonb, $6::jsonb, 2, $7, $8, $9::jsonb, NULL,
  $10, $11)
ON CONFLICT DO NOTHING
RETURNING %s]]

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

-- worlds.create{id=, title=, domain=} -> {world=, url=} (url nil without
-- a domain); nil, message, code ("exists", "domain", "invalid").
function worlds.create(spec)
  local ok, msg, code = check_new(spec)
  if not ok then return nil, msg, code end
  model.check_outside("worlds.create")
  local domain = spec.domain ~= "" and spec.domain or nil
  local d = model.world_defaults()
  local priv, pub = crypto.ec_p256()
  local cfg = json.object({ JWT_secrets = json.array({ worlds.new_secret() }) })
  local r = db.query({ json = true },
    INSERT:format(table.concat(schema.world_columns(), ", ")), spec.id, spec.title, cfg,
    domain or db.NULL, d.roles, d.trait_grants, d.locale, d.timezone,
    d.feature_flags, priv, pub)
  if #r == 0 then return conflict(spec.id, domain or db.NULL) end
  local w = schema.wrap(World(), r[1])
  return worlds._finish({ world = w }, { { "World", w.id, w.version } })
end

-- After a commit: the result gets the admin URL; the cache is updated
-- (a Redis failure raises model.cache_failure carrying the result).
function worlds._finish(result, entries)
  result.url = (result.world:admin_url())
  return model.after_commit(entries, result)
end

---------------------------------------------------------------- save

-- world:save() -> world: the changed fields stored (none: the version
-- still goes up, so running servers reload), version + 1, under the
-- world's lock, then the server cache told.
function methods.save(self)
  model.check_outside("world:save")
  return schema.locked_save(self, self.id)
end

-- world:export{secrets = true} -> the stored world as worlds.import
-- reads it; see venueless.world_export.
function methods.export(self, opts)
  if opts ~= nil and type(opts) ~= "table" then
    error("bad argument #1 to 'export' (table expected)", 2)
  end
  return require("venueless.world_export").export(self.id, opts or {})
end

-- world:add_room{name=, modules=, ...} -> room (see rooms.create).
function methods.add_room(self, spec)
  return schema.create_room(self, spec)
end

-- world:clear_data{dry_run=} -> receipt; see venueless.retention.
function methods.clear_data(self, opts)
  return require("venueless.retention").clear_world_data(self.id, opts)
end

-- worlds.clear_unused{days=, dry_run=} -> the candidates and what was done.
function worlds.clear_unused(opts)
  return require("venueless.retention").clear_unused(opts)
end

---------------------------------------------------------------- clone, import

-- worlds.clone(source_id, {id=, title=, domain=, new_secrets=}) ->
-- {world=, url=, summary=}; see venueless.world_clone.
function worlds.clone(source, spec)
  if type(source) ~= "string" then error("bad argument #1 to 'clone' (world id expected)", 2) end
  local ok, msg, code = check_new(spec)
  if not ok then return nil, msg, code end
  model.check_outside("worlds.clone")
  return require("venueless.world_clone").clone(worlds, source, spec)
end

-- worlds.import(path or table [, {dry_run=, diff=, before_write = fn}])
-- -> {world=, summary=} (or the diff); see venueless.world_import.
-- before_write runs once the document is valid.
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

-- Internal: a World object over a row read by the clone and import code.
function worlds._wrap(row)
  return schema.wrap(World(), row)
end

---------------------------------------------------------------- help

worlds._doc = {
  get = { sig = "worlds.get(id)", text = "the world with this id, or nil, message, code" },
  list = { sig = "worlds.list{id=, domain=, title=, limit=}",
    text = "worlds ordered by id; title matches a substring in any case" },
  create = { sig = "worlds.create{id=, title=, domain=}",
    text = "create a world with new secrets and VAPID keys; returns {world=, url=}" },
  clone = { sig = "worlds.clone(source_id, {id=, title=, domain=, new_secrets=})",
    text = "copy a world with its rooms, channels and exhibitors in one transaction; {world=, url=, summary=}" },
  import = { sig = "worlds.import(path_or_table [, {dry_run=, diff=, before_write=}])",
    text = "create or update a world from venueless JSON config; returns {world=, summary=}"
      .. " (dry_run: rolled back; diff: what would change)" },
  transaction = { sig = "worlds.transaction(fn, ...)",
    text = "run fn's saves in one transaction; the server cache learns them after the commit" },
  lock = { sig = "worlds.lock(id)",
    text = "inside worlds.transaction: wait for and hold the world's writer lock until the commit" },
  valid_id = { sig = "worlds.valid_id(id)",
    text = "whether id is a valid world id (worlds.ID_RULE: ASCII letters, digits, _ . -)" },
  new_secret = { sig = "worlds.new_secret()",
    text = "a new JWT secret entry {issuer=\"any\", audience=\"venueless\", secret=<64 chars>}" },
  token = { sig = "worlds.token({issuer=, audience=, secret=}, {days=, traits=, iat=, uid=})",
    text = "an HS256 JWT in the shape venueless expects" },
  inspect_token = { sig = "worlds.inspect_token(token_or_url [, {world=}])",
    text = "decode and verify a JWT or short token: claims, signing secret, reasons it is refused" },
  ["world:save"] = { sig = "world:save()",
    text = "store the changed fields under the world's lock, version + 1, then update the server cache" },
  ["world:export"] = { sig = "world:export{secrets=true}",
    text = "the stored world in the import format, keys in a stable order (secrets=false: no JWT_secrets)" },
  ["world:add_room"] = { sig = "world:add_room{name=, modules=, description=, ...}",
    text = "create a room (with its chat channel for a chat.native module)" },
  ["world:admin_token"] = { sig = "world:admin_token{days=, traits=}",
    text = "a JWT signed with the world's first secret (default 365 days, admin)" },
  ["world:admin_url"] = { sig = "world:admin_url{days=, traits=}",
    text = "https://<domain>/#token=<JWT>, or nil without a domain" },
  ["world:token"] = { sig = "world:token{traits=, days=90, raw=, count=1}",
    text = "invitation links (core_shorttoken rows, one statement) as generate_token makes them" },
  ["world:clear_data"] = { sig = "world:clear_data{dry_run=}",
    text = "delete the world's users and their content in one transaction, domain NULL; the receipt" },
  clear_unused = { sig = "worlds.clear_unused{days=, dry_run=}",
    text = "clear the worlds (domain set) without activity in the last days, each in its own transaction" },
}

-- What venueless.models merges into the World class.
worlds._object = {
  methods = methods,
  tostring = function(obj)
    return ("<World %s %s>"):format(obj.id, schema.quoted(obj.title))
  end,
}

return worlds
