-- worlds.import: the venueless world JSON format (upstream import_config)
-- validated whole first (errors name their JSON path), then written in
-- one transaction by one set-based statement, the document passed once
-- as a JSON parameter: round trips do not grow with the world.
local db = require "venueless.db"
local json = require "venueless.json"
local crypto = require "venueless.crypto"
local model = require "venueless.model"

local M = {}

local ARRAY_MT = getmetatable(json.array({}))
local OBJECT_MT = getmetatable(json.object({}))

---------------------------------------------------------------- validation

-- "array", "object", "string", "integer", "number", "boolean", "null".
-- Plain Lua tables (worlds.import of a table) are told apart by their
-- keys; an empty one is both.
local NULL = json.null

local function kind(v)
  local t = type(v)
  if v == NULL then return "null" end
  if t == "number" then return math.type(v) == "integer" and "integer" or "number" end
  if t ~= "table" then return t end
  local mt = getmetatable(v)
  if mt == ARRAY_MT then return "array" end
  if mt == OBJECT_MT then return "object" end
  if next(v) == nil then return "empty" end
  local n = #v
  if n > 0 then
    local count = 0
    for _ in pairs(v) do count = count + 1 end
    if count == n then return "array" end
  end
  return "object"
end

local function bad(path, msg)
  model.refuse(path .. ": " .. msg, "invalid")
end

-- The common cases first (a string; a table json.decode marked), as
-- kind() was most of the validation's time.
local function is(v, want)
  if want == "string" then return type(v) == "string" end
  local mt = getmetatable(v)
  if mt == OBJECT_MT and v ~= NULL then return want == "object" end
  if mt == ARRAY_MT then return want == "array" end
  local k = kind(v)
  return k == want or (k == "empty" and (want == "array" or want == "object"))
end

-- Every string (and object key) under v is valid UTF-8 without NUL,
-- which jsonb needs.
local function check_text(v, path)
  local k = kind(v)
  if k == "string" then
    local why = model.bad_string(v)
    if why then bad(path, why) end
  elseif k == "array" then
    for i, x in ipairs(v) do check_text(x, ("%s[%d]"):format(path, i - 1)) end
  elseif k == "object" then
    for key, x in pairs(v) do
      if type(key) ~= "string" then bad(path, "object keys must be strings") end
      local why = model.bad_string(key)
      if why then bad(path, "a key " .. why) end
      check_text(x, path .. "." .. key)
    end
  elseif k == "number" and (v ~= v or v == math.huge or v == -math.huge) then
    bad(path, "expected a finite number")
  elseif k ~= "integer" and k ~= "number" and k ~= "boolean" and k ~= "null"
      and k ~= "empty" then
    bad(path, "expected a JSON value")
  end
end

local ARTICLE = { array = "an array", object = "an object", string = "a string",
  integer = "an integer", boolean = "a boolean" }

-- Strings in a document json.decode read are valid UTF-8 without NUL
-- already (it refuses both); a table handed to worlds.import is checked.
local trusted = false

local function join(path, key)
  return path == "" and key or path .. "." .. key
end

-- obj[key] checked against spec {type, required=, max=, null= (may be
-- null), default=, nonempty=}; the path is built only for a complaint.
local function take(obj, key, path, spec)
  local v = obj[key]
  if v == nil then
    if spec.required then bad(join(path, key), "missing") end
    return spec.default
  end
  if v == NULL and spec.null then return NULL end
  local t = spec[1]
  if t == "id" then		-- an import id: string or integer, stored as text
    if math.type(v) == "integer" then v = tostring(v) end
    t = "string"
  end
  if not is(v, t) then
    bad(join(path, key), "expected " .. ARTICLE[t] .. (spec.null and " or null" or ""))
  end
  if t == "string" then
    if not trusted or (spec.max and #v > spec.max) then
      local why = model.bad_string(v, spec.max)
      if why then bad(join(path, key), why) end
    end
    if spec.nonempty and v == "" then bad(join(path, key), "must not be empty") end
    return v
  end
  if not trusted then check_text(v, join(path, key)) end
  local mt = getmetatable(v)
  if mt ~= ARRAY_MT and mt ~= OBJECT_MT and kind(v) == "empty" then
    v = t == "array" and json.array({}) or json.object({})
  end
  return v
end

-- The path of element i of the list at path (or path itself without i):
-- built only for a complaint, as building one per element was a tenth
-- of the validation.
local function at(path, i)
  if i == nil then return path end
  return ("%s[%d]"):format(path, i - 1)
end

-- A key of obj (element i of path) that is not in allowed is an error.
local function leftover(obj, allowed, path, i)
  local bad_keys
  for k in pairs(obj) do
    if not allowed[k] then
      bad_keys = bad_keys or {}
      bad_keys[#bad_keys + 1] = tostring(k)
    end
  end
  if bad_keys == nil then return end
  table.sort(bad_keys)
  bad(join(at(path, i), bad_keys[1]), "unknown key")
end

-- take(obj, key, path of element i, spec), with the usual case of a
-- decoded document first: a value of the right kind is taken as it is
-- (decoded strings are valid UTF-8 already; a string within max bytes is
-- within max characters). Anything else goes to take, which says what
-- is wrong, or fills in the default, exactly as before.
local function get(obj, key, path, i, spec)
  local v = obj[key]
  if trusted and v ~= nil then
    local t = spec[1]
    if t == "string" or t == "id" then
      if type(v) == "string" and (spec.max == nil or #v <= spec.max)
          and not spec.nonempty then
        return v
      end
    elseif t == "array" then
      if getmetatable(v) == ARRAY_MT then return v end
    elseif t == "object" then
      if getmetatable(v) == OBJECT_MT and v ~= NULL then return v end
    elseif t == "integer" then
      if math.type(v) == "integer" then return v end
    end
  end
  return take(obj, key, at(path, i), spec)
end

-- Each element of list as an object: fn(obj, path, i), path the list's.
local function each_object(list, path, fn)
  local out = json.array({})
  for i, v in ipairs(list) do
    if (getmetatable(v) ~= OBJECT_MT or v == NULL) and not is(v, "object") then
      bad(at(path, i), "expected an object")
    end
    out[i] = fn(v, path, i)
  end
  return out
end

local function set(list)
  local t = {}
  for _, k in ipairs(list) do t[k] = true end
  return t
end

local S = {
  room_id = { "id", required = true, max = 100 },
  room_name = { "string", required = true, max = 300 },
  text_or_null = { "string", null = true, default = json.null },
  grants = { "object", default = json.object({}) },
  modules = { "array", required = true },
  pretalx = { "integer", default = 0 },
  picture = { "string", null = true, max = 100 },
  display_text = { "string", required = true, max = 300 },
  url = { "string", required = true, max = 200 },
  category = { "string", max = 32, default = model.link_defaults().category },
  ex_name = { "string", required = true, max = 80 },
  tagline = { "string", null = true, max = 250, default = json.null },
  logo = { "string", null = true, max = 200, default = json.null },
  text_content = { "array", default = model.exhibitor_defaults().text_content },
  size = { "string", max = 3, default = model.exhibitor_defaults().size },
  list = { "array", default = json.array({}) },
}
local ROOM_KEYS = set({ "id", "name", "description", "picture", "trait_grants",
  "modules", "pretalx_id" })
local LINK_KEYS = set({ "display_text", "url", "category" })
local SOCIAL_KEYS = set({ "display_text", "url" })
local EXHIBITOR_KEYS = set({ "name", "tagline", "short_text", "logo", "text",
  "text_content", "size", "room", "links", "social_media_links" })

-- Roles and trait grants map a name to a list of strings (permissions,
-- traits): anything else the server cannot use. Keys sorted, so the
-- first complaint is always the same one.
local function grants(obj, path)
  local keys = {}
  for k in pairs(obj) do keys[#keys + 1] = k end
  table.sort(keys)
  for _, k in ipairs(keys) do
    local p, v = path .. "." .. k, obj[k]
    if not is(v, "array") then bad(p, "expected an array of strings") end
    for i, x in ipairs(v) do
      if type(x) ~= "string" then bad(("%s[%d]"):format(p, i - 1), "expected a string") end
    end
  end
  return obj
end

-- grants(obj, path of element i .. suffix), the path built only when
-- something is wrong (grants then says what).
local function grants_at(obj, path, i, suffix)
  for _, v in pairs(obj) do
    if getmetatable(v) ~= ARRAY_MT then return grants(obj, at(path, i) .. suffix) end
    for _, x in ipairs(v) do
      if type(x) ~= "string" then return grants(obj, at(path, i) .. suffix) end
    end
  end
  return obj
end

-- world.JWT_secrets, when given: the entries the server checks tokens
-- with, each with a string issuer and audience and a non-empty secret
-- (an empty one would let anybody sign an admin token).
local function jwt_secrets(v)
  if v == nil then return end
  if not is(v, "array") then bad("world.JWT_secrets", "expected an array of objects") end
  for i, e in ipairs(v) do
    local p = ("world.JWT_secrets[%d]"):format(i - 1)
    if not is(e, "object") then bad(p, "expected an object") end
    for _, k in ipairs({ "issuer", "audience", "secret" }) do
      if e[k] == nil then bad(p .. "." .. k, "missing") end
      if type(e[k]) ~= "string" then bad(p .. "." .. k, "expected a string") end
    end
    if e.secret == "" then bad(p .. ".secret", "must not be empty") end
  end
end

local room, exhibitor

function room(o, path, i)
  leftover(o, ROOM_KEYS, path, i)
  local r = {
    import_id = get(o, "id", path, i, S.room_id),
    name = get(o, "name", path, i, S.room_name),
    description = get(o, "description", path, i, S.text_or_null),
    trait_grants = grants_at(get(o, "trait_grants", path, i, S.grants), path, i,
      ".trait_grants"),
    module_config = get(o, "modules", path, i, S.modules),
    pretalx_id = get(o, "pretalx_id", path, i, S.pretalx),
    sorting_priority = i - 1,
  }
  if o.picture ~= nil then get(o, "picture", path, i, S.picture) end	-- ignored, as upstream
  for j, m in ipairs(r.module_config) do
    if getmetatable(m) ~= OBJECT_MT or type(m.type) ~= "string" then
      local p = at(path, i)
      if not is(m, "object") then bad(("%s.modules[%d]"):format(p, j - 1), "expected an object") end
      if type(m.type) ~= "string" then
        bad(("%s.modules[%d].type"):format(p, j - 1), m.type == nil and "missing" or "expected a string")
      end
    end
  end
  if r.pretalx_id < -2147483648 or r.pretalx_id > 2147483647 then
    bad(at(path, i) .. ".pretalx_id", "out of range")
  end
  return r
end

-- A link's sorting_priority is the model default, not its position (as
-- the real import stores it).
local function link(o, path, i)
  leftover(o, LINK_KEYS, path, i)
  return { display_text = get(o, "display_text", path, i, S.display_text),
    url = get(o, "url", path, i, S.url), category = get(o, "category", path, i, S.category) }
end

local function social(o, path, i)
  leftover(o, SOCIAL_KEYS, path, i)
  return { display_text = get(o, "display_text", path, i, S.display_text),
    url = get(o, "url", path, i, S.url) }
end

function exhibitor(o, path, i)
  leftover(o, EXHIBITOR_KEYS, path, i)
  local p = at(path, i)
  return {
    name = get(o, "name", path, i, S.ex_name),
    tagline = get(o, "tagline", path, i, S.tagline),
    short_text = get(o, "short_text", path, i, S.text_or_null),
    logo = get(o, "logo", path, i, S.logo),
    text_legacy = get(o, "text", path, i, S.text_or_null),
    text_content = get(o, "text_content", path, i, S.text_content),
    size = get(o, "size", path, i, S.size),
    room = get(o, "room", path, i, S.room_id),
    sorting_priority = i - 1,
    links = each_object(get(o, "links", path, i, S.list), p .. ".links", link),
    social = each_object(get(o, "social_media_links", path, i, S.list),
      p .. ".social_media_links", social),
  }
end

---------------------------------------------------------------- the usual case

-- A decoded document's room, exhibitor, link or social link as the
-- functions above would normalize it, when every value is of the usual
-- kind and size; nil for anything else, which the functions above then
-- judge (and word the complaint of). One function per element, not a
-- call per field: the validation is most of import_config's own time.
local MAXINT, MININT = 2147483647, -2147483648

local function plain_string(v, max)
  return type(v) == "string" and (max == nil or #v <= max)
end

-- A string, null or absent (then null); false for anything else.
local function text_or_null(v, max)
  if v == nil then return NULL end
  if v == NULL or plain_string(v, max) then return v end
  return false
end

local function grants_ok(obj)
  for _, v in pairs(obj) do
    if getmetatable(v) ~= ARRAY_MT then return false end
    for _, x in ipairs(v) do
      if type(x) ~= "string" then return false end
    end
  end
  return true
end

local function only(o, allowed)
  for k in pairs(o) do
    if not allowed[k] then return false end
  end
  return true
end

local function room_fast(o, i)
  local id, name, tg, mods, px = o.id, o.name, o.trait_grants, o.modules, o.pretalx_id
  if not plain_string(id, 100) or not plain_string(name, 300) then return nil end
  local desc = text_or_null(o.description)
  if not desc then return nil end
  if tg == nil then
    tg = S.grants.default
  elseif getmetatable(tg) ~= OBJECT_MT or not grants_ok(tg) then
    return nil
  end
  if getmetatable(mods) ~= ARRAY_MT then return nil end
  for _, m in ipairs(mods) do
    if getmetatable(m) ~= OBJECT_MT or type(m.type) ~= "string" then return nil end
  end
  if px == nil then
    px = 0
  elseif math.type(px) ~= "integer" or px < MININT or px > MAXINT then
    return nil
  end
  if not text_or_null(o.picture, 100) or not only(o, ROOM_KEYS) then return nil end
  return { import_id = id, name = name, description = desc, trait_grants = tg,
    module_config = mods, pretalx_id = px, sorting_priority = i - 1 }
end

-- The links (or social links) list v of an exhibitor, or nil.
local function links_fast(v, keys, category)
  if v == nil then return json.array({}) end
  if getmetatable(v) ~= ARRAY_MT then return nil end
  local out = json.array({})
  for j, l in ipairs(v) do
    if getmetatable(l) ~= OBJECT_MT then return nil end
    local text, url = l.display_text, l.url
    if not plain_string(text, 300) or not plain_string(url, 200) or not only(l, keys) then
      return nil
    end
    if category then
      local c = l.category
      if c == nil then
        c = S.category.default
      elseif not plain_string(c, 32) then
        return nil
      end
      out[j] = { display_text = text, url = url, category = c }
    else
      out[j] = { display_text = text, url = url }
    end
  end
  return out
end

local function exhibitor_fast(o, i)
  local name, tc, size, rm = o.name, o.text_content, o.size, o.room
  if not plain_string(name, 80) or not plain_string(rm, 100) then return nil end
  local tagline, short = text_or_null(o.tagline, 250), text_or_null(o.short_text)
  local logo, text = text_or_null(o.logo, 200), text_or_null(o.text)
  if not (tagline and short and logo and text) then return nil end
  if tc == nil then
    tc = S.text_content.default
  elseif getmetatable(tc) ~= ARRAY_MT then
    return nil
  end
  if size == nil then
    size = S.size.default
  elseif not plain_string(size, 3) then
    return nil
  end
  if not only(o, EXHIBITOR_KEYS) then return nil end
  local links = links_fast(o.links, LINK_KEYS, true)
  local social = links and links_fast(o.social_media_links, SOCIAL_KEYS, false)
  if not social then return nil end
  return { name = name, tagline = tagline, short_text = short, logo = logo,
    text_legacy = text, text_content = tc, size = size, room = rm,
    sorting_priority = i - 1, links = links, social = social }
end

local room_slow, exhibitor_slow = room, exhibitor

function room(o, path, i)
  return trusted and room_fast(o, i) or room_slow(o, path, i)
end

function exhibitor(o, path, i)
  return trusted and exhibitor_fast(o, i) or exhibitor_slow(o, path, i)
end

-- Duplicate keys in a list would make the upsert ambiguous.
local function unique(list, key, path, field)
  local seen = {}
  for i, x in ipairs(list) do
    local v = x[key]
    if seen[v] then
      bad(("%s[%d].%s"):format(path, i - 1, field),
        ("duplicate of %s[%d].%s"):format(path, seen[v] - 1, field))
    end
    seen[v] = i
  end
end

local TOP_KEYS = set({ "world", "roles", "trait_grants", "rooms", "exhibitors" })
local W = {
  world = { "object", required = true },
  id = { "string", required = true, max = 50, nonempty = true },
  title = { "string", required = true, max = 300 },
  rooms = { "array", required = true },
}

local function validate(doc)
  if not is(doc, "object") then bad("(document)", "expected an object") end
  leftover(doc, TOP_KEYS, "")
  local w = take(doc, "world", "", W.world)
  local out = {
    id = take(w, "id", "world", W.id),
    title = take(w, "title", "world", W.title),
    roles = grants(take(doc, "roles", "", S.grants), "roles"),
    trait_grants = grants(take(doc, "trait_grants", "", S.grants), "trait_grants"),
  }
  if not model.valid_world_id(out.id) then
    bad("world.id", "expected " .. model.WORLD_ID_RULE)
  end
  out.config = json.object({})		-- every other world key
  for k, v in pairs(w) do
    if k ~= "id" and k ~= "title" then out.config[k] = v end
  end
  if not trusted then check_text(out.config, "world") end
  jwt_secrets(out.config.JWT_secrets)
  out.rooms = each_object(take(doc, "rooms", "", W.rooms), "rooms", room)
  out.exhibitors = each_object(take(doc, "exhibitors", "", S.list), "exhibitors", exhibitor)
  unique(out.rooms, "import_id", "rooms", "id")
  unique(out.exhibitors, "name", "exhibitors", "name")
  return out
end

-- The whole document checked and normalized: {id, title, config, roles,
-- trait_grants, rooms, exhibitors}. decoded: it came from json.decode.
function M.validate(doc, decoded)
  trusted = decoded and true or false
  local ok, r = pcall(validate, doc)
  trusted = false
  if not ok then error(r, 0) end
  return r
end

---------------------------------------------------------------- SQL

-- The document goes in as JSON text ($2), as read (json.decode and
-- jsonb both keep the last of duplicate keys), so nothing is encoded
-- again; the statements map its keys to columns.

-- One statement: the world by id; rooms by (world, import id; a room
-- without one by its uuid, the id export_config gives it), updating
-- the known ones and inserting the rest, and their chat channels;
-- exhibitors by (world, name) with their rooms looked up within the world
-- (upstream looks across worlds, which breaks re-importing after a
-- clone), their links and social links replaced by the file's. The
-- constraints are deferred, so exhibitors may point at rooms inserted by
-- the same statement. An exhibitor whose room is not one of the world's
-- is returned (the caller rolls back). Joins, not correlated subqueries:
-- set-returning functions are estimated at 100 rows, whatever they hold.
-- $1 world id, $2 the document, $3-$7 the world's defaults and VAPID
-- keys, $8 a room's picture, $9-$11 an exhibitor's contact_enabled, size,
-- text_content, $12-$13 a link's category, sorting_priority (model.lua).
local IMPORT = [[
WITH doc AS MATERIALIZED (SELECT $2::jsonb AS d),
w AS (
  INSERT INTO core_world (id, title, config, domain, roles, trait_grants, version,
    locale, timezone, feature_flags, external_auth_url, vapid_private_key,
    vapid_public_key)
  SELECT $1, d -> 'world' ->> 'title', (d -> 'world') - 'id' - 'title', NULL,
    coalesce(d -> 'roles', '{}'), coalesce(d -> 'trait_grants', '{}'), 2, $3, $4,
    $5::jsonb, NULL, $6, $7
  FROM doc
  ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, config = EXCLUDED.config,
    roles = EXCLUDED.roles, trait_grants = EXCLUDED.trait_grants,
    version = core_world.version + 1
  RETURNING %s, (xmax = 0) AS created),
input AS MATERIALIZED (
  SELECT r ->> 'id' AS import_id, r ->> 'name' AS name, r ->> 'description' AS description,
    coalesce(r -> 'trait_grants', '{}') AS trait_grants, r -> 'modules' AS module_config,
    coalesce((r ->> 'pretalx_id')::int, 0) AS pretalx_id, (o - 1)::int AS sorting_priority
  FROM doc, jsonb_array_elements(d -> 'rooms') WITH ORDINALITY AS x(r, o)),
cur AS MATERIALIZED (
  SELECT id, coalesce(import_id, id::text) AS import_id, deleted, sorting_priority
  FROM core_room WHERE world_id = $1),
upd AS (
  UPDATE core_room r SET name = i.name, description = i.description,
    trait_grants = i.trait_grants, module_config = i.module_config,
    pretalx_id = i.pretalx_id, sorting_priority = i.sorting_priority,
    version = r.version + 1
  FROM input i JOIN cur ON cur.import_id = i.import_id
  WHERE r.id = cur.id
  RETURNING r.id, r.world_id, r.module_config, r.version),
ins AS (
  INSERT INTO core_room (id, module_config, name, description, picture, import_id,
    world_id, sorting_priority, trait_grants, version, deleted, pretalx_id,
    force_join, schedule_data)
  SELECT gen_random_uuid(), i.module_config, i.name, i.description, $8,
    i.import_id, $1, i.sorting_priority, i.trait_grants, 2, false, i.pretalx_id,
    false, NULL
  FROM input i LEFT JOIN cur ON cur.import_id = i.import_id
  WHERE cur.id IS NULL
  ORDER BY i.sorting_priority
  RETURNING id, world_id, module_config, version, import_id, sorting_priority),
saved AS (
  SELECT * FROM upd UNION ALL SELECT id, world_id, module_config, version FROM ins),
%s,
ex_input AS MATERIALIZED (
  SELECT e ->> 'name' AS name, e ->> 'tagline' AS tagline, e ->> 'short_text' AS short_text,
    e ->> 'logo' AS logo, e ->> 'text' AS text_legacy,
    coalesce(e -> 'text_content', $11::jsonb) AS text_content,
    coalesce(e ->> 'size', $10) AS size, e ->> 'room' AS room,
    (o - 1)::int AS sorting_priority,
    coalesce(e -> 'links', '[]') AS links, coalesce(e -> 'social_media_links', '[]') AS social
  FROM doc, jsonb_array_elements(coalesce(d -> 'exhibitors', '[]')) WITH ORDINALITY AS x(e, o)),
rm AS MATERIALIZED (
  SELECT DISTINCT ON (import_id) import_id, id FROM (
    SELECT import_id, id, deleted, sorting_priority FROM cur
    UNION ALL SELECT import_id, id, false, sorting_priority FROM ins) x
  ORDER BY import_id, deleted, sorting_priority, id),
src AS MATERIALIZED (
  SELECT i.*, rm.id AS room_id FROM ex_input i LEFT JOIN rm ON rm.import_id = i.room),
missing AS (
  SELECT sorting_priority AS idx, room FROM src WHERE room_id IS NULL
  ORDER BY sorting_priority LIMIT 1),
ecur AS MATERIALIZED (
  SELECT DISTINCT ON (name) name, id FROM core_exhibitor WHERE world_id = $1
  ORDER BY name, id),
eupd AS (
  UPDATE core_exhibitor e SET tagline = s.tagline, short_text = s.short_text,
    logo = s.logo, text_legacy = s.text_legacy, text_content = s.text_content,
    size = s.size, sorting_priority = s.sorting_priority, room_id = s.room_id
  FROM src s JOIN ecur ON ecur.name = s.name
  WHERE e.id = ecur.id AND NOT EXISTS (SELECT 1 FROM missing)
  RETURNING e.id, s.links, s.social),
eins AS (
  INSERT INTO core_exhibitor (id, name, tagline, short_text, logo, text_legacy, size,
    sorting_priority, room_id, world_id, banner_detail, banner_list,
    contact_enabled, highlighted_room_id, text_content)
  SELECT gen_random_uuid(), s.name, s.tagline, s.short_text, s.logo, s.text_legacy,
    s.size, s.sorting_priority, s.room_id, $1, NULL, NULL, $9, NULL, s.text_content
  FROM src s LEFT JOIN ecur ON ecur.name = s.name
  WHERE ecur.id IS NULL AND NOT EXISTS (SELECT 1 FROM missing)
  ORDER BY s.sorting_priority
  RETURNING id, name),
ex AS MATERIALIZED (
  SELECT id, links, social FROM eupd
  UNION ALL SELECT eins.id, s.links, s.social FROM eins JOIN src s ON s.name = eins.name),
dl AS (DELETE FROM core_exhibitorlink WHERE exhibitor_id IN (SELECT id FROM eupd) RETURNING 1),
ds AS (DELETE FROM core_exhibitorsocialmedialink WHERE exhibitor_id IN (SELECT id FROM eupd)
  RETURNING 1),
il AS (
  INSERT INTO core_exhibitorlink (display_text, url, exhibitor_id, category, sorting_priority)
  SELECT l ->> 'display_text', l ->> 'url', ex.id, coalesce(l ->> 'category', $12), $13
  FROM ex, jsonb_array_elements(ex.links) WITH ORDINALITY AS y(l, lo)
  ORDER BY ex.id, lo
  RETURNING 1),
isl AS (
  INSERT INTO core_exhibitorsocialmedialink (display_text, url, exhibitor_id)
  SELECT l ->> 'display_text', l ->> 'url', ex.id
  FROM ex, jsonb_array_elements(ex.social) WITH ORDINALITY AS y(l, lo)
  ORDER BY ex.id, lo
  RETURNING 1)
SELECT (SELECT row_to_json(w) FROM w) AS world,
  (SELECT coalesce(json_agg(json_build_array(id, version)), '[]') FROM saved) AS rooms,
  (SELECT count(*) FROM ins)::int AS created,
  (SELECT count(*) FROM ch)::int AS channels,
  (SELECT count(*) FROM eins)::int AS ex_created,
  (SELECT idx FROM missing) AS missing_idx, (SELECT room FROM missing) AS missing_room,
  (SELECT count(*) FROM il)::int AS links, (SELECT count(*) FROM isl)::int AS social_links,
  coalesce((SELECT config ? 'JWT_secrets' FROM core_world WHERE id = $1), false)
    AS had_secrets]]

local q = function(sql, ...) return db.query({ json = true }, sql, ...) end

-- Write the validated document d (text: its JSON); returns the world row
-- and a summary. The world's lock first: the statement's snapshot then
-- includes every earlier import's rows, so none is inserted twice.
local function write(worlds, d, text)
  model.lock_world_nojit(d.id)
  local wd, rd = model.world_defaults(), model.room_defaults()
  local ed, ld = model.exhibitor_defaults(), model.link_defaults()
  local priv, pub = crypto.ec_p256()
  local schema = require "venueless.models.schema"
  local r = q(IMPORT:format(table.concat(schema.world_columns(), ", "),
    schema.CHANNEL_CTE), d.id, text, wd.locale,
    wd.timezone, wd.feature_flags, priv, pub, rd.picture, ed.contact_enabled,
    ed.size, ed.text_content, ld.category, ld.sorting_priority)[1]
  if r.missing_idx ~= db.NULL then
    bad(("exhibitors[%d].room"):format(r.missing_idx),
      ("no room with id %s in world %s"):format(r.missing_room, d.id))
  end
  local w = r.world
  local s = { world = d.id, created = w.created, rooms = #d.rooms,
    rooms_created = r.created, channels_created = r.channels,
    exhibitors = #d.exhibitors, exhibitors_created = r.ex_created,
    links = r.links, social_links = r.social_links, room_versions = r.rooms,
    -- the statement's snapshot is from before the update: the old config
    secrets_removed = r.had_secrets and d.config.JWT_secrets == nil }
  w.created = nil
  return w, s
end

-- The JSON text of a validated document from a table: its normalized
-- values, so that an empty Lua table is the array or object it stands for.
local function encode(v)
  local world = json.object({})
  for k, x in pairs(v.config) do world[k] = x end
  world.id, world.title = v.id, v.title
  local rooms, ex = json.array({}), json.array({})
  for i, r in ipairs(v.rooms) do
    rooms[i] = { id = r.import_id, name = r.name, description = r.description,
      trait_grants = r.trait_grants, modules = r.module_config, pretalx_id = r.pretalx_id }
  end
  for i, e in ipairs(v.exhibitors) do
    ex[i] = { name = e.name, tagline = e.tagline, short_text = e.short_text,
      logo = e.logo, text = e.text_legacy, text_content = e.text_content, size = e.size,
      room = e.room, links = e.links, social_media_links = e.social }
  end
  return json.encode({ world = world, roles = v.roles, trait_grants = v.trait_grants,
    rooms = rooms, exhibitors = ex })
end

-- The document from a file name ("-" is stdin) or a table.
local function load(src)
  if type(src) == "table" then return src, nil, nil, nil end
  local f, err
  if src == "-" then
    f = io.stdin
  else
    f, err = io.open(src, "rb")
    if f == nil then return nil, err, "io" end
  end
  local text = f:read("a")
  if f ~= io.stdin then f:close() end
  if text == nil then return nil, "cannot read " .. src, "io" end
  local doc, msg = json.decode(text)
  if doc == nil then
    return nil, (src == "-" and "stdin" or src) .. ": " .. msg, "json"
  end
  return doc, nil, nil, text
end

---------------------------------------------------------------- dry run, diff

local DRY = {}	-- raised to roll a dry run back, carrying its results

local function dry_write(worlds, d, text)
  error({ [DRY] = table.pack(write(worlds, d, text)) }, 0)
end

-- The import written and rolled back: world, summary (dry_run = true);
-- nil, message, code for a refusal. Nothing reaches the model cache.
local function dry_run(worlds, d, text)
  local r = table.pack(pcall(model.refused, db.transaction, dry_write, worlds, d, text))
  if r[1] then return table.unpack(r, 2, r.n) end
  if type(r[2]) ~= "table" or not r[2][DRY] then error(r[2], 0) end
  local w, s = r[2][DRY][1], r[2][DRY][2]
  w.created, s.dry_run = nil, true
  return w, s
end

-- Secret values never appear in a diff, only their paths.
local function secret_path(path)
  return path:find("^world%.JWT_secrets") ~= nil
end

local function change(out, op, path, old, new)
  local c = { op = op, path = path }
  if not secret_path(path) then c.old, c.new = old, new end
  out[#out + 1] = c
end

-- The changes from a to b under path: objects by key (sorted), arrays
-- by index, anything else by value.
local function compare(a, b, path, out)
  local ka, kb = kind(a), kind(b)
  if ka == "empty" and (kb == "array" or kb == "object") then ka = kb end
  if kb == "empty" and (ka == "array" or ka == "object") then kb = ka end
  if ka ~= kb or (ka ~= "array" and ka ~= "object") then
    if ka ~= kb or a ~= b then change(out, "~", path, a, b) end
  elseif ka == "array" then
    for i = 1, math.max(#a, #b) do
      local p = ("%s[%d]"):format(path, i - 1)
      if a[i] == nil then change(out, "+", p, nil, b[i])
      elseif b[i] == nil then change(out, "-", p, a[i], nil)
      else compare(a[i], b[i], p, out) end
    end
  else
    local keys = {}
    for k in pairs(a) do keys[#keys + 1] = k end
    for k in pairs(b) do if a[k] == nil then keys[#keys + 1] = k end end
    table.sort(keys)
    for _, k in ipairs(keys) do
      local p = join(path, k)
      if a[k] == nil then change(out, "+", p, nil, b[k])
      elseif b[k] == nil then change(out, "-", p, a[k], nil)
      else compare(a[k], b[k], p, out) end
    end
  end
end

-- Rooms (by id) or exhibitors (by name) of the file against the stored
-- ones: new ones, moved ones, changed fields. Stored ones the file does
-- not list are left alone by an import, so they are no change.
local function compare_list(stored, file, sv, key, what, out)
  local by = {}
  for i, x in ipairs(stored) do by[x[key]] = i end
  for i, x in ipairs(file) do
    local p, j = ("%s[%d]"):format(what, i - 1), by[x[key]]
    if j == nil then
      out[#out + 1] = { op = "+", path = p, new = x }
    else
      if sv[j].sorting_priority ~= i - 1 then
        change(out, "~", p .. ".(position)", sv[j].sorting_priority, i - 1)
      end
      compare(stored[j], x, p, out)
    end
  end
end

-- What importing the validated document d would change: {world =,
-- exists =, changes = {{op = "+"|"-"|"~", path =, old =, new =}, ...}}.
local function diff(d)
  local export = require "venueless.world_export"
  local v = export.read(d.id, true)
  local file = export.document(d)
  if v == nil then
    return { world = d.id, exists = false, changes = { { op = "+", path = "world",
      new = file.world.title } } }
  end
  local stored, out = export.document(v), {}
  compare(stored.world, file.world, "world", out)
  compare(stored.roles, file.roles, "roles", out)
  compare(stored.trait_grants, file.trait_grants, "trait_grants", out)
  compare_list(stored.rooms, file.rooms, v.rooms, "id", "rooms", out)
  compare_list(stored.exhibitors, file.exhibitors, v.exhibitors, "name", "exhibitors", out)
  return { world = d.id, exists = true, changes = out }
end

-- worlds.import(src [, {dry_run=, diff=, before_write=}]) -> {world=,
-- summary=} (a dry run's summary has dry_run = true); with diff, the diff
-- instead; nil, message, code ("io", "json", "invalid" with the JSON path,
-- "notfound"). After the commit a Redis failure raises
-- model.cache_failure carrying the result.
function M.import(worlds, src, opts)
  opts = opts or {}
  local doc, msg, code, text = load(src)
  if doc == nil then return nil, msg, code end
  local d
  d, msg, code = model.refused(M.validate, doc, text ~= nil)
  if d == nil then return nil, msg, code end
  -- the file is judged before the database is: a broken file says so
  -- even when the server is down
  if opts.before_write then opts.before_write() end
  if opts.diff then return diff(d) end
  if opts.dry_run then
    local w, s, c = dry_run(worlds, d, text or encode(d))
    if w == nil then return nil, s, c end
    return { world = worlds._wrap(w), summary = s }
  end
  local w, s
  w, s, code = model.refused(db.transaction, write, worlds, d, text or encode(d))
  if w == nil then return nil, s, code end
  local world = worlds._wrap(w)
  local entries = { { "World", world.id, world.version } }
  for _, r in ipairs(s.room_versions) do entries[#entries + 1] = { "Room", r[1], r[2] } end
  s.room_versions = nil
  return model.after_commit(entries, { world = world, summary = s })
end

return M
