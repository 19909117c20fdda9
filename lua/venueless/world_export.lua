-- world:export: a stored world in the venueless JSON format that
-- worlds.import reads (upstream import_config), keys in a stable order,
-- read in one statement (one snapshot). What the format has no place
-- for stays behind: the domain, locale, timezone, feature flags,
-- external auth URL and VAPID keys (columns, not config: an import keeps
-- the stored pair or makes a new one), deleted rooms, room pictures and
-- exhibitor banners. See venueless-lua(7), world:export.
local db = require "venueless.db"
local json = require "venueless.json"

local M = {}

-- A room's file id is its import id, or its uuid when it has none:
-- worlds.import matches a file id against both, so importing the file
-- again updates the same rooms. $1 world id, $2 whether deleted rooms
-- count (an import updates them too, without undeleting them).
local EXPORT = [[
WITH r AS MATERIALIZED (
  SELECT id, coalesce(import_id, id::text) AS ref, name, description, trait_grants,
    module_config, pretalx_id, sorting_priority
  FROM core_room WHERE world_id = $1 AND (NOT deleted OR $2)),
e AS MATERIALIZED (
  SELECT x.id, x.name, x.tagline, x.short_text, x.logo, x.text_legacy, x.text_content,
    x.size, x.sorting_priority, coalesce(rm.import_id, rm.id::text) AS room,
    rm.deleted OR rm.world_id <> x.world_id AS room_gone
  FROM core_exhibitor x JOIN core_room rm ON rm.id = x.room_id WHERE x.world_id = $1),
l AS (
  SELECT exhibitor_id, json_agg(json_build_object('display_text', display_text,
    'url', url, 'category', category) ORDER BY sorting_priority, id) AS links
  FROM core_exhibitorlink WHERE exhibitor_id IN (SELECT id FROM e) GROUP BY 1),
s AS (
  SELECT exhibitor_id, json_agg(json_build_object('display_text', display_text,
    'url', url) ORDER BY id) AS social
  FROM core_exhibitorsocialmedialink WHERE exhibitor_id IN (SELECT id FROM e) GROUP BY 1)
SELECT w.id, w.title, w.config, w.roles, w.trait_grants,
  (SELECT coalesce(json_agg(json_build_object('import_id', ref, 'uuid', id, 'name', name,
     'description', description, 'trait_grants', coalesce(trait_grants, '{}'),
     'module_config', coalesce(module_config, '[]'), 'pretalx_id', pretalx_id,
     'sorting_priority', sorting_priority)
     ORDER BY sorting_priority, ref, id), '[]') FROM r) AS rooms,
  (SELECT coalesce(json_agg(json_build_object('id', e.id, 'name', name, 'tagline', tagline,
     'short_text', short_text, 'logo', logo, 'text_legacy', text_legacy,
     'text_content', text_content, 'size', size, 'room', room, 'room_gone', room_gone,
     'links', coalesce(l.links, '[]'), 'social', coalesce(s.social, '[]'),
     'sorting_priority', sorting_priority)
     ORDER BY sorting_priority, name, e.id), '[]')
   FROM e LEFT JOIN l ON l.exhibitor_id = e.id LEFT JOIN s ON s.exhibitor_id = e.id)
     AS exhibitors
FROM core_world w WHERE w.id = $1]]

local function null(v)
  if v == nil or v == db.NULL then return json.null end
  return v
end

local function obj(v)
  if v == nil or v == db.NULL then return json.object({}) end
  return v
end

-- What makes a stored world impossible to write as a file import reads
-- back: nil, or a message.
local function unexportable(w)
  local seen = {}
  for _, r in ipairs(w.rooms) do
    if seen[r.import_id] then
      return ("rooms %s and %s share the import id %s"):format(seen[r.import_id],
        r.uuid, r.import_id)
    end
    seen[r.import_id] = r.uuid
  end
  seen = {}
  for _, e in ipairs(w.exhibitors) do
    if e.name == db.NULL then return ("exhibitor %s has no name"):format(e.id) end
    if seen[e.name] then
      return ("exhibitors %s and %s share the name %s"):format(seen[e.name], e.id, e.name)
    end
    seen[e.name] = e.id
    if e.room_gone then
      return ("exhibitor %s is in room %s, which is deleted or not the world's"):format(
        e.name, e.room)
    end
  end
end

-- The stored world id, normalized as worlds.import's validation leaves a
-- file: {id, title, config, roles, trait_grants, rooms, exhibitors};
-- nil, message, code ("notfound", "invalid"). lenient: as it is, even
-- when no file could say it (import's diff compares with it).
function M.read(id, lenient)
  local w = db.query({ json = true }, EXPORT, id, lenient == true)[1]
  if w == nil then return nil, ("world %s does not exist"):format(id), "notfound" end
  local why = not lenient and unexportable(w)
  if why then return nil, ("world %s cannot be exported: %s"):format(id, why), "invalid" end
  w.config, w.roles, w.trait_grants = obj(w.config), obj(w.roles), obj(w.trait_grants)
  return w
end

local ROOM_KEYS = { "id", "name", "description", "trait_grants", "modules", "pretalx_id" }
local EXHIBITOR_KEYS = { "name", "tagline", "short_text", "logo", "text", "text_content",
  "size", "room", "links", "social_media_links" }

local function list(items, fn)
  local out = json.array({})
  for i, x in ipairs(items) do out[i] = fn(x) end
  return out
end

local function link(l)
  return json.ordered({ display_text = l.display_text, url = l.url, category = l.category },
    { "display_text", "url", "category" })
end

local function social(l)
  return json.ordered({ display_text = l.display_text, url = l.url },
    { "display_text", "url" })
end

-- The file for a normalized world v (M.read's, or a validated file's):
-- world keys id and title first, then the config's sorted, like every
-- nested object; rooms and exhibitors in their order. secrets = false
-- leaves JWT_secrets out.
function M.document(v, secrets)
  local world = json.object({})
  for k, x in pairs(v.config) do world[k] = x end
  if secrets == false then world.JWT_secrets = nil end
  world.id, world.title = v.id, v.title
  return json.ordered({
    world = json.ordered(world, { "id", "title" }),
    roles = v.roles, trait_grants = v.trait_grants,
    rooms = list(v.rooms, function(r)
      return json.ordered({ id = r.import_id, name = r.name, description = null(r.description),
        trait_grants = r.trait_grants, modules = r.module_config,
        pretalx_id = r.pretalx_id }, ROOM_KEYS)
    end),
    exhibitors = list(v.exhibitors, function(e)
      return json.ordered({ name = e.name, tagline = null(e.tagline),
        short_text = null(e.short_text), logo = null(e.logo), text = null(e.text_legacy),
        text_content = e.text_content, size = e.size, room = e.room,
        links = list(e.links, link), social_media_links = list(e.social, social) },
        EXHIBITOR_KEYS)
    end),
  }, { "world", "roles", "trait_grants", "rooms", "exhibitors" })
end

-- world:export{secrets = true} -> the document (a table json.encode
-- writes in a stable order); nil, message, code.
function M.export(id, opts)
  local v, msg, code = M.read(id)
  if v == nil then return nil, msg, code end
  return M.document(v, opts.secrets ~= false)
end

return M
