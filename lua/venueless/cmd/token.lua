-- venueless token inspect TOKEN|URL [--world ID] [--json]: why a login
-- link works or not (worlds.inspect_token). Exit 0 when the server would
-- accept it, 1 when it would refuse it.
local cli = require "venueless.cli"
local json = require "venueless.json"
local tokens = require "venueless.tokens"

local M = {}

-- The claims in the order venueless writes them, then any others sorted.
local ORDER = { "iss", "aud", "exp", "iat", "nbf", "uid", "traits" }

local function claim_keys(claims)
  local known, keys, rest = {}, {}, {}
  for _, k in ipairs(ORDER) do
    known[k] = true
    if claims[k] ~= nil then keys[#keys + 1] = k end
  end
  for k in pairs(claims) do
    if not known[k] then rest[#rest + 1] = tostring(k) end
  end
  table.sort(rest)
  return table.move(rest, 1, #rest, #keys + 1, keys)
end

local function value(v)
  if type(v) == "string" then return v end
  return json.encode(v)
end

-- One "label: value" line. A token is whatever a user pasted into a
-- support ticket: on a terminal its claims are shown escaped (cli.shown).
local function line(label, fmt, ...)
  cli.say("%-12s %s", label .. ":", cli.shown(select("#", ...) > 0 and fmt:format(...) or fmt))
end

-- How the world was found, after its id.
local FROM = {
  option = "--world",
  short_token = "the short token's world",
  domain = "the URL's domain",
}

local function print_world(rep)
  if rep.world then
    local from = FROM[rep.world_from] or ("its secret signed the token; %s list%s issuer %s")
      :format(cli.plural(rep.tried, "world"), rep.tried == 1 and "s" or "",
        value(rep.claims.iss))
    line("world", "%s (%s)", rep.world, from)
    if rep.also and #rep.also > 0 then
      line("also", "signed by a secret of %s too", table.concat(rep.also, ", "))
    end
  else
    line("world", "unknown")
  end
end

local function print_report(rep)
  local now = require("venueless.core").time()
  line("token", rep.kind == "short" and "short token %s" or "JWT", rep.short or "")
  if rep.short_token then
    line("short token", "id %d, world %s, expires %s", rep.short_token.id,
      rep.short_token.world, tokens.when(rep.short_token.expires, now))
  end
  print_world(rep)
  if rep.header then line("header", value(rep.header)) end
  for _, k in ipairs(rep.claims and claim_keys(rep.claims) or {}) do
    local v = rep.claims[k]
    if (k == "exp" or k == "iat" or k == "nbf") and type(v) == "number" then
      line(k, "%s = %s", value(v), tokens.when(v, now))
    else
      line(k, value(v))
    end
  end
  if rep.secret then
    line("secret", "JWT_secrets[%d] (issuer %s, audience %s)", rep.secret.index,
      value(rep.secret.issuer), value(rep.secret.audience))
  end
  line("verdict", rep.valid and "valid" or "refused")
  for _, r in ipairs(rep.reasons) do line("refused", r.message) end
end

local function report_json(rep)
  local reasons = json.array({})
  for i, r in ipairs(rep.reasons) do
    reasons[i] = json.ordered({ code = r.code, message = r.message }, { "code", "message" })
  end
  local secret = rep.secret and json.ordered({ index = rep.secret.index,
    issuer = rep.secret.issuer or json.null, audience = rep.secret.audience or json.null },
    { "index", "issuer", "audience" }) or json.null
  local st = rep.short_token and json.ordered({ id = rep.short_token.id,
    world = rep.short_token.world, expires = rep.short_token.expires },
    { "id", "world", "expires" }) or json.null
  cli.json(json.ordered({ valid = rep.valid, kind = rep.kind, world = rep.world or json.null,
    world_from = rep.world_from or json.null, tried = rep.tried or json.null, short_token = st,
    header = rep.header or json.null, claims = rep.claims or json.null, secret = secret,
    also = json.array(rep.also or {}), reasons = reasons },
    { "valid", "kind", "world", "world_from", "tried", "short_token", "header", "claims", "secret",
      "also", "reasons" }))
end

function M.run(opts, args)
  if args[1] ~= "inspect" then
    cli.usage(args[1] and "unknown subcommand " .. args[1] or "expected inspect")
  end
  if args[2] == nil then cli.usage("expected a TOKEN or URL argument") end
  cli.max_args(args, 2)
  local worlds = require "venueless.worlds"
  cli.connect_db("token")
  local rep, msg, code = worlds.inspect_token(args[2], { world = opts.world })
  if rep == nil then cli.fail(msg, nil, code) end
  if opts.json then report_json(rep) else print_report(rep) end
  if not rep.valid then return cli.exit.failure end
end

return M
