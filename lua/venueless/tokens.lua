-- Login tokens: invitation links (core_shorttoken) as generate_token makes
-- them, and the inspection behind "why doesn't my link work". Reached
-- through world:token and worlds.inspect_token; see venueless-lua(7).
local core = require "venueless.core"
local db = require "venueless.db"
local json = require "venueless.json"
local crypto = require "venueless.crypto"

local tokens = {}

-- A mail merge is thousands; the cap keeps the one statement's parameter
-- (about 300 bytes a link) well under any server limit.
tokens.MAX_COUNT = 100000
tokens.SHORT_LENGTH = 24

---------------------------------------------------------------- generate

-- opts checked and defaulted: misuse raises at the caller's caller.
local function generate_opts(opts)
  if opts == nil then opts = {} end
  if type(opts) ~= "table" then error("bad argument #1 to 'token' (table expected)", 3) end
  for k in pairs(opts) do
    if k ~= "traits" and k ~= "days" and k ~= "raw" and k ~= "count" then
      error(("token: unknown field '%s'"):format(tostring(k)), 3)
    end
  end
  local traits = opts.traits or {}
  if type(traits) ~= "table" then error("token: traits must be a list of strings", 3) end
  for i = 1, #traits do
    if type(traits[i]) ~= "string" then error("token: traits must be a list of strings", 3) end
  end
  local days = opts.days or 90
  if type(days) ~= "number" or not (days > 0 and days <= 36500) then
    error("token: days must be a number from 0 (excluded) to 36500", 3)
  end
  local count = opts.count or 1
  if math.type(count) ~= "integer" or count < 1 or count > tokens.MAX_COUNT then
    error(("token: count must be an integer from 1 to %d"):format(tokens.MAX_COUNT), 3)
  end
  return { traits = { table.unpack(traits) }, days = days, raw = opts.raw and true or false,
    count = count }
end

-- Every row in one statement: the pairs go as one JSON parameter, and the
-- expiry is the JWTs' exp itself (upstream stores a time 1-2 hours off).
local INSERT = [[
INSERT INTO core_shorttoken (world_id, expires, short_token, long_token)
SELECT $1, to_timestamp($2::bigint), e->>0, e->>1
FROM jsonb_array_elements($3::jsonb) AS e
RETURNING id, world_id, expires, short_token, long_token]]

-- world:token{traits=, days=, raw=, count=} -> links, rows (the stored
-- core_shorttoken rows, empty with raw); nil, message, code ("nodomain",
-- "nosecret") for a world that cannot have links.
function tokens.generate(w, opts)
  local o = generate_opts(opts)
  if w.domain == nil or w.domain == "" then
    return nil, ("world %s has no domain: its links would have no host"):format(w.id), "nodomain"
  end
  local iat = math.floor(core.time())
  local jwts = {}
  for i = 1, o.count do
    local t, msg, code = w:admin_token({ traits = o.traits, days = o.days, iat = iat })
    if t == nil then return nil, msg, code end
    jwts[i] = t
  end
  local links = {}
  if o.raw then
    for i, t in ipairs(jwts) do links[i] = ("https://%s/#token=%s"):format(w.domain, t) end
    return links, {}
  end
  local pairs_ = json.array({})
  for i, t in ipairs(jwts) do
    pairs_[i] = json.array({ crypto.random_string(tokens.SHORT_LENGTH), t })
  end
  local rows = db.query(INSERT, w.id, iat + math.floor(o.days * 86400), pairs_)
  for i, r in ipairs(rows) do
    links[i] = ("https://%s/login/%s"):format(w.domain, r.short_token)
  end
  return links, rows
end

---------------------------------------------------------------- inspect: input

-- What the argument is: {kind = "jwt" | "short", jwt =, short =, host =};
-- nil, message, "invalid" for a URL that holds no token.
local function classify(s)
  s = s:match("^%s*(.-)%s*$")
  local host, rest = s:match("^[Hh][Tt][Tt][Pp][Ss]?://([^/#?]+)(.*)$")
  if host then
    host = host:lower()
    local jwt = rest:match("#token=([^&]+)$")
    if jwt then return { kind = "jwt", jwt = jwt, host = host } end
    local short = rest:match("^/login/([^/?#]+)/?$")
    if short then return { kind = "short", short = short, host = host } end
    return nil, ("%s is not a token URL (https://DOMAIN/#token=JWT or "
      .. "https://DOMAIN/login/SHORT_TOKEN)"):format(s), "invalid"
  end
  if s == "" then return nil, "the token is empty", "invalid" end
  if s:find(".", 1, true) then return { kind = "jwt", jwt = s } end
  return { kind = "short", short = s }
end

local ARRAY_MT = getmetatable(json.array({}))

local function is_object(v)
  return type(v) == "table" and getmetatable(v) ~= ARRAY_MT
end

-- A JWT's parts decoded: header, claims, the signed text, the signature
-- bytes; nil, why if it is not a JWT.
local function decode(t)
  local h64, p64, s64 = t:match("^([%w_-]*)%.([%w_-]*)%.([%w_-]*)$")
  if h64 == nil then return nil, "not three base64url parts separated by dots" end
  local parts = {}
  for i, part in ipairs({ h64, p64, s64 }) do
    parts[i] = crypto.base64url_decode(part)
    if parts[i] == nil then return nil, "a part is not valid base64url" end
  end
  local header, claims = json.decode(parts[1]), json.decode(parts[2])
  if not is_object(header) then return nil, "the header is not a JSON object" end
  if not is_object(claims) then return nil, "the payload is not a JSON object" end
  return { header = header, claims = claims, signing = h64 .. "." .. p64, sig = parts[3] }
end

---------------------------------------------------------------- inspect: worlds

local WORLD_BY = {
  id = "SELECT id, domain, config->'JWT_secrets' AS secrets FROM core_world WHERE id = $1",
  domain = "SELECT id, domain, config->'JWT_secrets' AS secrets FROM core_world"
    .. " WHERE lower(domain) = $1 ORDER BY id LIMIT 1",
  -- every world with a secret of this issuer (the containment test reads
  -- no config it does not match)
  issuer = [[
SELECT id, domain, config->'JWT_secrets' AS secrets FROM core_world
WHERE jsonb_typeof(config->'JWT_secrets') = 'array'
  AND config->'JWT_secrets' @> jsonb_build_array(jsonb_build_object('issuer', $1::text))
ORDER BY id]],
}

local function worlds_by(what, value)
  return db.query({ json = true }, WORLD_BY[what], value)
end

local SHORT = [[
SELECT st.id, st.world_id, extract(epoch FROM st.expires)::float8 AS expires,
  st.long_token, w.domain, w.config->'JWT_secrets' AS secrets
FROM core_shorttoken st JOIN core_world w ON w.id = st.world_id
WHERE st.short_token = $1]]

---------------------------------------------------------------- inspect: checks

local function reason(rep, code, fmt, ...)
  rep.reasons[#rep.reasons + 1] = { code = code, message = fmt:format(...) }
end

-- The world's secrets that are usable entries, with their 0-based index.
local function secrets_of(row)
  local out = {}
  if type(row.secrets) ~= "table" then return out end
  for i, s in ipairs(row.secrets) do
    if type(s) == "table" and type(s.secret) == "string" and s.secret ~= "" then
      out[#out + 1] = { index = i - 1, issuer = s.issuer, audience = s.audience, secret = s.secret }
    end
  end
  return out
end

-- PyJWT's audience rule: the secret's audience in the token's aud.
local function audience_ok(aud, want)
  if want == nil then return aud == nil end
  if type(aud) == "table" then
    for _, a in ipairs(aud) do if a == want then return true end end
    return false
  end
  return aud == want
end

-- Which of the world's secrets signed t: the best, preferring one whose
-- issuer and then audience match as well (the server tries them all);
-- nil when none did.
local function signer(secrets, t)
  local best, rank = nil, -1
  for _, s in ipairs(secrets) do
    if crypto.hmac_sha256(s.secret, t.signing) == t.sig then
      local iss_ok = s.issuer == nil or s.issuer == t.claims.iss
      local r = (iss_ok and 2 or 0) + (iss_ok and audience_ok(t.claims.aud, s.audience) and 1 or 0)
      if r > rank then best, rank = s, r end
    end
  end
  return best
end

local function shown(v)
  if type(v) == "string" then return "'" .. v .. "'" end
  if v == nil then return "none" end
  return json.encode(v)
end

-- The issuers a world's secrets list, for a message.
local function issuers(secrets)
  local out = {}
  for _, s in ipairs(secrets) do out[#out + 1] = shown(s.issuer) end
  return #out > 0 and table.concat(out, ", ") or "none"
end

-- Signature, issuer and audience against one world's secrets.
local function check_secrets(rep, row, t)
  local secrets = secrets_of(row)
  if #secrets == 0 then
    return reason(rep, "nosecret", "world %s has no JWT_secrets", row.id)
  end
  local s = signer(secrets, t)
  local iss = t.claims.iss
  if s == nil then
    for _, x in ipairs(secrets) do
      if x.issuer == nil or x.issuer == iss then
        return reason(rep, "bad_signature", "bad signature: no secret of world %s "
          .. "signed it (one lists issuer %s: its secret changed, or the token was edited)",
          row.id, shown(iss))
      end
    end
    return reason(rep, "unknown_issuer", "unknown issuer %s: world %s's secrets list %s",
      shown(iss), row.id, issuers(secrets))
  end
  rep.secret = { index = s.index, issuer = s.issuer, audience = s.audience }
  if not (s.issuer == nil or s.issuer == iss) then
    reason(rep, "unknown_issuer", "issuer %s is not %s, the issuer of JWT_secrets[%d] that signed it",
      shown(iss), shown(s.issuer), s.index)
  end
  if not audience_ok(t.claims.aud, s.audience) then
    reason(rep, "audience", "audience mismatch: the token is for %s, JWT_secrets[%d] expects %s",
      shown(t.claims.aud), s.index, shown(s.audience))
  end
end

-- When: an ISO time and how far from now.
function tokens.when(t, now)
  local d = t - now
  local a = math.abs(d)
  local n, unit
  if a < 120 then n, unit = a, "second"
  elseif a < 7200 then n, unit = a / 60, "minute"
  elseif a < 172800 then n, unit = a / 3600, "hour"
  else n, unit = a / 86400, "day" end
  n = math.floor(n)
  local rel = ("%d %s%s"):format(n, unit, n == 1 and "" or "s")
  return ("%s (%s)"):format(os.date("!%Y-%m-%d %H:%M:%S UTC", math.floor(t)),
    d >= 0 and "in " .. rel or rel .. " ago")
end

-- The claims PyJWT and the server check whatever the secret: the times
-- (exp <= now is expired, no leeway; iat or nbf after now is not yet
-- valid; no exp never expires) and the uid the server logs the user in by.
local function check_claims(rep, c, now)
  for _, k in ipairs({ "exp", "iat", "nbf" }) do
    if c[k] ~= nil and type(c[k]) ~= "number" then
      reason(rep, "malformed", "the %s claim is not a number", k)
    end
  end
  if type(c.exp) == "number" and c.exp <= now then
    reason(rep, "expired", "expired %s", tokens.when(c.exp, now))
  end
  for _, k in ipairs({ "iat", "nbf" }) do
    if type(c[k]) == "number" and c[k] > now then
      reason(rep, "not_yet_valid", "not yet valid: %s is %s", k, tokens.when(c[k], now))
    end
  end
  if type(c.uid) ~= "string" or c.uid == "" then
    reason(rep, "no_uid", "no uid claim: the server cannot tell which user it is")
  end
end

---------------------------------------------------------------- inspect

-- The world to check a JWT against, when the short token did not say:
-- --world, the URL's domain, or every world whose secrets list the
-- token's issuer (the one whose secret signed it).
local function find_world(rep, t, given)
  if given then
    rep.world_from = "option"
    local dom = given.domain ~= db.NULL and given.domain:lower() or nil
    if rep.host and rep.host ~= dom then
      reason(rep, "domain", "the URL's domain %s is not world %s's domain %s", rep.host,
        given.id, dom or "(none)")
    end
    return given
  end
  if rep.host then
    local r = worlds_by("domain", rep.host)
    if r[1] then rep.world_from = "domain"; return r[1] end
    reason(rep, "domain", "no world has the URL's domain %s", rep.host)
  end
  local iss = t.claims.iss
  if type(iss) ~= "string" then
    reason(rep, "unknown_issuer", "no iss claim: no world's secrets can match it; give --world")
    return false
  end
  local cands, signed = worlds_by("issuer", iss), {}
  for _, row in ipairs(cands) do
    if signer(secrets_of(row), t) then signed[#signed + 1] = row end
  end
  rep.tried = #cands
  if #cands == 0 then
    reason(rep, "unknown_issuer", "unknown issuer %s: no world's JWT_secrets list it", shown(iss))
    return false
  end
  if #signed == 0 then
    reason(rep, "bad_signature", "bad signature: no secret of the %s whose secrets list issuer %s "
      .. "signed it", #cands == 1 and "world" or #cands .. " worlds", shown(iss))
    return false
  end
  rep.world_from = "issuer"
  rep.also = {}
  for i = 2, #signed do rep.also[#rep.also + 1] = signed[i].id end
  return signed[1]
end

-- The short token's row: the world and long token it stands for.
local function check_short(rep, opts, now)
  local r = db.query({ json = true }, SHORT, rep.short)[1]
  if r == nil then
    reason(rep, "no_short_token", "no such short token")
    return nil
  end
  rep.short_token = { id = r.id, world = r.world_id, expires = r.expires }
  if r.expires <= now then
    reason(rep, "short_expired", "the short token expired %s", tokens.when(r.expires, now))
  end
  if opts.world and opts.world ~= r.world_id then
    reason(rep, "world", "the short token belongs to world %s, not %s", r.world_id, opts.world)
  end
  local dom = r.domain ~= db.NULL and r.domain:lower() or nil
  if rep.host and rep.host ~= dom then
    reason(rep, "domain", "the link's domain %s is not world %s's domain %s", rep.host,
      r.world_id, dom or "(none)")
  end
  rep.jwt = r.long_token
  return { id = r.world_id, domain = r.domain, secrets = r.secrets }
end

-- The JWT (given, or the short token's): its claims against row's
-- secrets, or those of the world find_world picks; returns that world.
local function check_jwt(rep, row, given, now)
  local t, why = decode(rep.jwt)
  if t == nil then
    reason(rep, "malformed", "not a JWT: %s", why)
    return row
  end
  rep.header, rep.claims = t.header, t.claims
  if t.header.alg ~= "HS256" then
    reason(rep, "algorithm", "algorithm %s: venueless accepts HS256 only", shown(t.header.alg))
  end
  if rep.kind == "jwt" then row = find_world(rep, t, given) end
  if row then check_secrets(rep, row, t) end
  check_claims(rep, t.claims, now)
  return row
end

-- worlds.inspect_token(s, {world=}) -> report {valid, kind, world,
-- world_from ("option", "short_token", "domain", "issuer"), tried,
-- also, header, claims, secret, short_token, reasons = {{code,
-- message}}}; nil, message, code for an unknown world option or a URL
-- that holds no token.
function tokens.inspect(s, opts)
  local c, msg, code = classify(s)
  if c == nil then return nil, msg, code end
  local rep = { kind = c.kind, host = c.host, short = c.short, jwt = c.jwt, reasons = {} }
  local now = core.time()
  local given, row
  if opts.world then
    given = worlds_by("id", opts.world)[1]
    if given == nil then return nil, ("world %s does not exist"):format(opts.world), "notfound" end
  end
  if c.kind == "short" then
    row = check_short(rep, opts, now)
    if row then rep.world_from = "short_token" end
  end
  if rep.jwt then row = check_jwt(rep, row, given, now) end
  if not row and given then row, rep.world_from = given, "option" end
  if row then rep.world = row.id end
  rep.valid = #rep.reasons == 0
  rep.jwt = nil
  return rep
end

return tokens
