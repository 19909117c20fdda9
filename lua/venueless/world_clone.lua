-- worlds.clone: one statement copies the world, its rooms (new uuids),
-- their chat channels, the exhibitors with links and social links, rooms
-- remapped through a uuid map. Round trips do not grow with the world.
local core = require "venueless.core"
local db = require "venueless.db"
local json = require "venueless.json"
local crypto = require "venueless.crypto"
local model = require "venueless.model"

local M = {}

-- $1 source, $2 new id, $3 title, $4 domain, $5 config (NULL: the
-- source's), $6/$7 VAPID keys. The maps are MATERIALIZED so each old id
-- gets one new uuid however often it is joined. The constraints are
-- deferred, so the order of the inserts does not matter.
local CLONE = [[
WITH w AS (
  INSERT INTO core_world (id, title, config, domain, roles, trait_grants, version,
    locale, timezone, feature_flags, external_auth_url, vapid_private_key,
    vapid_public_key)
  SELECT $2, $3, coalesce($5::jsonb, s.config), $4, s.roles, s.trait_grants, 2,
    s.locale, s.timezone, s.feature_flags, s.external_auth_url, $6, $7
  FROM core_world s WHERE s.id = $1
  RETURNING ]] .. "%s" .. [[),
rm AS MATERIALIZED (
  SELECT id AS old_id, gen_random_uuid() AS new_id FROM core_room WHERE world_id = $1),
r AS (
  INSERT INTO core_room (id, module_config, name, description, picture, import_id,
    world_id, sorting_priority, trait_grants, version, deleted, pretalx_id,
    force_join, schedule_data)
  SELECT rm.new_id, o.module_config, o.name, o.description, o.picture, o.import_id,
    $2, o.sorting_priority, o.trait_grants, 2, o.deleted, o.pretalx_id,
    o.force_join, o.schedule_data
  FROM core_room o JOIN rm ON rm.old_id = o.id
  RETURNING id),
c AS (
  INSERT INTO core_channel (id, name, room_id, world_id)
  SELECT gen_random_uuid(), NULL, rm.new_id, $2
  FROM core_channel k JOIN rm ON rm.old_id = k.room_id
  RETURNING 1),
em AS MATERIALIZED (
  SELECT id AS old_id, gen_random_uuid() AS new_id FROM core_exhibitor WHERE world_id = $1),
e AS (
  INSERT INTO core_exhibitor (id, name, tagline, short_text, logo, text_legacy, size,
    sorting_priority, room_id, world_id, banner_detail, banner_list,
    contact_enabled, highlighted_room_id, text_content)
  SELECT em.new_id, x.name, x.tagline, x.short_text, x.logo, x.text_legacy, x.size,
    x.sorting_priority, coalesce(rr.new_id, x.room_id), $2, x.banner_detail,
    x.banner_list, x.contact_enabled,
    CASE WHEN x.highlighted_room_id IS NULL THEN NULL
      ELSE coalesce(hr.new_id, x.highlighted_room_id) END,
    x.text_content
  FROM core_exhibitor x JOIN em ON em.old_id = x.id
  LEFT JOIN rm rr ON rr.old_id = x.room_id
  LEFT JOIN rm hr ON hr.old_id = x.highlighted_room_id
  RETURNING 1),
l AS (
  INSERT INTO core_exhibitorlink (display_text, url, exhibitor_id, category,
    sorting_priority)
  SELECT k.display_text, k.url, em.new_id, k.category, k.sorting_priority
  FROM core_exhibitorlink k JOIN em ON em.old_id = k.exhibitor_id
  ORDER BY k.id
  RETURNING 1),
sl AS (
  INSERT INTO core_exhibitorsocialmedialink (display_text, url, exhibitor_id)
  SELECT k.display_text, k.url, em.new_id
  FROM core_exhibitorsocialmedialink k JOIN em ON em.old_id = k.exhibitor_id
  ORDER BY k.id
  RETURNING 1)
SELECT (SELECT row_to_json(w) FROM w) AS world,
  (SELECT coalesce(json_agg(id), '[]') FROM r) AS rooms,
  (SELECT count(*) FROM c)::int AS channels,
  (SELECT count(*) FROM e)::int AS exhibitors,
  (SELECT count(*) FROM l)::int AS links,
  (SELECT count(*) FROM sl)::int AS social_links]]

-- The source's config with JWT_secrets replaced by one new secret.
local function fresh_config(cfg, worlds)
  local out = json.object({})
  if type(cfg) == "table" then
    for k, v in pairs(cfg) do out[k] = v end
  end
  out.JWT_secrets = json.array({ worlds.new_secret() })
  return out
end

-- The copy, inside a transaction: world row, summary.
local function copy(worlds, source, spec)
  model.lock_world_nojit(spec.id)	-- against an import of the target id
  local src = db.query({ json = true },
    "SELECT config FROM core_world WHERE id = $1 FOR SHARE", source)
  if #src == 0 then model.refuse(("world %s does not exist"):format(source), "notfound") end
  local cfg = spec.new_secrets and fresh_config(src[1].config, worlds) or db.NULL
  local priv, pub = crypto.ec_p256()
  local domain = (spec.domain ~= nil and spec.domain ~= "") and spec.domain or db.NULL
  local r = db.query({ json = true },
    CLONE:format(table.concat(require("venueless.models.schema").world_columns(), ", ")),
    source, spec.id, spec.title, domain, cfg, priv, pub)
  return r[1]
end

-- worlds.clone(source, spec) -> {world=, url=, summary=}; nil, message,
-- code (the id or domain taken, the source missing). A unique violation
-- is a concurrent create taking the id or domain: a refusal too.
function M.clone(worlds, source, spec)
  local domain = (spec.domain ~= nil and spec.domain ~= "") and spec.domain or db.NULL
  local taken = db.query("SELECT 1 FROM core_world WHERE id = $1 OR domain = $2",
    spec.id, domain)
  if #taken > 0 then return worlds._conflict(spec.id, domain) end
  local ok, res, msg, code = pcall(model.refused, db.transaction, copy, worlds, source, spec)
  if not ok then
    if core.is_error(res) and res.code == "23505" then return worlds._conflict(spec.id, domain) end
    error(res, 0)
  end
  if res == nil then return nil, msg, code end
  local w = worlds._wrap(res.world)
  local entries = { { "World", w.id, w.version } }
  for _, id in ipairs(res.rooms) do entries[#entries + 1] = { "Room", id, 2 } end
  local summary = { rooms = #res.rooms, channels = res.channels,
    exhibitors = res.exhibitors, links = res.links, social_links = res.social_links }
  return worlds._finish({ world = w, summary = summary }, entries)
end

return M
