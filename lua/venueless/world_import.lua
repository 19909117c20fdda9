-- worlds.import: the venueless world JSON format (upstream import_config)
-- validated whole first, then written in one transaction by a fixed
-- number of set-based statements: the room and exhibitor lists go in as
-- one JSON parameter each, so round trips do not grow with the world.
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
local function kind(v)
  local t = type(v)
  if v == json.null then return "null" end
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
  model.raise(path .. ": " .. msg, "invalid")
end

local function is(v, want)
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

-- Take key from obj (removing it); check its type and size. spec:
-- {type, required=, max=, null= (may be null), default=}.
local function take(obj, key, path, spec)
  local p = path == "" and key or path .. "." .. key
  local v = obj[key]
  obj[key] = nil
  if v == nil then
    if spec.required then bad(p, "missing") end
    return spec.default
  end
  if v == json.null and spec.null then return json.null end
  local t = spec[1]
  if t == "id" then		-- an import id: string or integer, stored as text
    if math.type(v) == "integer" then v = tostring(v) end
    t = "string"
  end
  if not is(v, t) then
    bad(p, "expected " .. ARTICLE[t] .. (spec.null and " or null" or ""))
  end
  if t == "string" then
    local why = model.bad_string(v, spec.max)
    if why then bad(p, why) end
    if spec.nonempty and v == "" then bad(p, "must not be empty") end
  else
    check_text(v, p)
  end
  if t == "array" and kind(v) == "empty" then v = json.array({}) end
  if t == "object" and kind(v) == "empty" then v = json.object({}) end
  return v
end

-- Any key left in obj is unknown.
local function leftover(obj, path)
  local keys = {}
  for k in pairs(obj) do keys[#keys + 1] = tostring(k) end
  if #keys == 0 then return end
  table.sort(keys)
  bad(path == "" and keys[1] or path .. "." .. keys[1], "unknown key")
end

-- A shallow copy, so that take() can consume it.
local function copy(t)
  local c = {}
  for k, v in pairs(t) do c[k] = v end
  return c
end

-- An array field's elements, each an object, as copies.
local function objects(list, path)
  local out = {}
  for i, v in ipairs(list) do
    local p = ("%s[%d]"):format(path, i - 1)
    if not is(v, "object") then bad(p, "expected an object") end
    out[i] = { copy(v), p }
  end
  return out
end

local function room(o, p, i)
  local r = {
    import_id = take(o, "id", p, { "id", required = true, max = 100 }),
    name = take(o, "name", p, { "string", required = true, max = 300 }),
    description = take(o, "description", p, { "string", null = true, default = json.null }),
    trait_grants = take(o, "trait_grants", p, { "object", default = json.object({}) }),
    module_config = take(o, "modules", p, { "array", required = true }),
    pretalx_id = take(o, "pretalx_id", p, { "integer", default = 0 }),
    sorting_priority = i - 1,
  }
  take(o, "picture", p, { "string", null = true, max = 100 })	-- ignored, as upstream
  for j, m in ipairs(r.module_config) do
    local mp = ("%s.modules[%d]"):format(p, j - 1)
    if not is(m, "object") then bad(mp, "expected an object") end
    if type(m.type) ~= "string" then bad(mp .. ".type", m.type == nil and "missing" or "expected a string") end
  end
  if r.pretalx_id < -2147483648 or r.pretalx_id > 2147483647 then
    bad(p .. ".pretalx_id", "out of range")
  end
  leftover(o, p)
  return r
end

local function links(list, path, with_category)
  local out = json.array({})
  for j, x in ipairs(objects(list, path)) do
    local o, p = x[1], x[2]
    out[j] = {
      display_text = take(o, "display_text", p, { "string", required = true, max = 300 }),
      url = take(o, "url", p, { "string", required = true, max = 200 }),
      category = with_category and take(o, "category", p,
        { "string", max = 32, default = "profile" }) or nil,
      sorting_priority = with_category and j - 1 or nil,
    }
    leftover(o, p)
  end
  return out
end

local function exhibitor(o, p, i)
  local e = {
    name = take(o, "name", p, { "string", required = true, max = 80 }),
    tagline = take(o, "tagline", p, { "string", null = true, max = 250, default = json.null }),
    short_text = take(o, "short_text", p, { "string", null = true, default = json.null }),
    logo = take(o, "logo", p, { "string", null = true, max = 200, default = json.null }),
    text_legacy = take(o, "text", p, { "string", null = true, default = json.null }),
    text_content = take(o, "text_content", p, { "array", default = json.array({}) }),
    size = take(o, "size", p, { "string", max = 3, default = "1x1" }),
    room = take(o, "room", p, { "id", required = true, max = 100 }),
    sorting_priority = i - 1,
  }
  e.links = links(take(o, "links", p, { "array", default = json.array({}) }),
    p .. ".links", true)
  e.social = links(take(o, "social_media_links", p, { "array", default = json.array({}) }),
    p .. ".social_media_links", false)
  leftover(o, p)
  return e
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

-- The whole document checked and normalized: {world, rooms, exhibitors}.
function M.validate(doc)
  if not is(doc, "object") then bad("(document)", "expected an object") end
  local d = copy(doc)
  local w = copy(take(d, "world", "", { "object", required = true }))
  local out = {
    id = take(w, "id", "world", { "string", required = true, max = 50, nonempty = true }),
    title = take(w, "title", "world", { "string", required = true, max = 300 }),
    roles = take(d, "roles", "", { "object", default = json.object({}) }),
    trait_grants = take(d, "trait_grants", "", { "object", default = json.object({}) }),
  }
  if not out.id:find("^[%w_.-]+$") then
    bad("world.id", "expected letters, digits, '_', '-' or '.'")
  end
  out.config = json.object(w)		-- every other world key
  check_text(out.config, "world")
  local rooms = take(d, "rooms", "", { "array", required = true })
  local exhibitors = take(d, "exhibitors", "", { "array", default = json.array({}) })
  leftover(d, "")
  out.rooms = json.array({})
  for i, x in ipairs(objects(rooms, "rooms")) do out.rooms[i] = room(x[1], x[2], i) end
  out.exhibitors = json.array({})
  for i, x in ipairs(objects(exhibitors, "exhibitors")) do
    out.exhibitors[i] = exhibitor(x[1], x[2], i)
  end
  unique(out.rooms, "import_id", "rooms", "id")
  unique(out.exhibitors, "name", "exhibitors", "name")
  return out
end

---------------------------------------------------------------- SQL

local WORLD = [[
INSERT INTO core_world (id, title, config, domain, roles, trait_grants, version,
  locale, timezone, feature_flags, external_auth_url, vapid_private_key,
  vapid_public_key)
VALUES ($1, $2, $3::jsonb, NULL, $4::jsonb, $5::jsonb, 2, $6, $7, $8::jsonb, NULL,
  $9, $10)
ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title, config = EXCLUDED.config,
  roles = EXCLUDED.roles, trait_grants = EXCLUDED.trait_grants,
  version = core_world.version + 1
RETURNING %s, (xmax = 0) AS created]]

-- Rooms by (world, import id): update the known ones, insert the rest,
-- then the chat channels.
local ROOMS = [[
WITH input AS (
  SELECT * FROM jsonb_to_recordset($2::jsonb) AS i(import_id text, name text,
    description text, trait_grants jsonb, module_config jsonb, pretalx_id int,
    sorting_priority int)),
upd AS (
  UPDATE core_room r SET name = i.name, description = i.description,
    trait_grants = i.trait_grants, module_config = i.module_config,
    pretalx_id = i.pretalx_id, sorting_priority = i.sorting_priority,
    version = r.version + 1
  FROM input i WHERE r.world_id = $1 AND r.import_id = i.import_id
  RETURNING r.id, r.world_id, r.module_config, r.version),
ins AS (
  INSERT INTO core_room (id, module_config, name, description, picture, import_id,
    world_id, sorting_priority, trait_grants, version, deleted, pretalx_id,
    force_join, schedule_data)
  SELECT gen_random_uuid(), i.module_config, i.name, i.description, NULL,
    i.import_id, $1, i.sorting_priority, i.trait_grants, 2, false, i.pretalx_id,
    false, NULL
  FROM input i
  WHERE NOT EXISTS (SELECT 1 FROM core_room r
    WHERE r.world_id = $1 AND r.import_id = i.import_id)
  ORDER BY i.sorting_priority
  RETURNING id, world_id, module_config, version),
saved AS (SELECT * FROM upd UNION ALL SELECT * FROM ins),
%s
SELECT (SELECT coalesce(json_agg(json_build_array(id, version)), '[]') FROM saved) AS rooms,
  (SELECT count(*) FROM ins)::int AS created,
  (SELECT count(*) FROM ch)::int AS channels]]

-- The first exhibitor whose room is not one of the world's rooms.
local ROOM_REFS = [[
SELECT i.ord::int - 1 AS idx, i.room
FROM jsonb_array_elements_text($2::jsonb) WITH ORDINALITY AS i(room, ord)
WHERE NOT EXISTS (SELECT 1 FROM core_room r WHERE r.world_id = $1 AND r.import_id = i.room)
ORDER BY i.ord LIMIT 1]]

-- Exhibitors by (world, name); rooms looked up within the world (upstream
-- looks across worlds, which breaks re-importing after a clone).
local EXHIBITORS = [[
WITH input AS (
  SELECT * FROM jsonb_to_recordset($2::jsonb) AS i(name text, tagline text,
    short_text text, logo text, text_legacy text, text_content jsonb, size text,
    room text, sorting_priority int)),
src AS (
  SELECT i.*, (SELECT r.id FROM core_room r WHERE r.world_id = $1
      AND r.import_id = i.room ORDER BY r.deleted, r.sorting_priority, r.id LIMIT 1)
    AS room_id
  FROM input i),
upd AS (
  UPDATE core_exhibitor e SET tagline = s.tagline, short_text = s.short_text,
    logo = s.logo, text_legacy = s.text_legacy, text_content = s.text_content,
    size = s.size, sorting_priority = s.sorting_priority, room_id = s.room_id
  FROM src s WHERE e.world_id = $1 AND e.name = s.name
  RETURNING 1),
ins AS (
  INSERT INTO core_exhibitor (id, name, tagline, short_text, logo, text_legacy, size,
    sorting_priority, room_id, world_id, banner_detail, banner_list,
    contact_enabled, highlighted_room_id, text_content)
  SELECT gen_random_uuid(), s.name, s.tagline, s.short_text, s.logo, s.text_legacy,
    s.size, s.sorting_priority, s.room_id, $1, NULL, NULL, false, NULL, s.text_content
  FROM src s
  WHERE NOT EXISTS (SELECT 1 FROM core_exhibitor e WHERE e.world_id = $1 AND e.name = s.name)
  ORDER BY s.sorting_priority
  RETURNING 1)
SELECT (SELECT count(*) FROM upd)::int AS updated, (SELECT count(*) FROM ins)::int AS created]]

-- The imported exhibitors' links and social links replaced by the file's.
local LINKS = [[
WITH input AS (
  SELECT * FROM jsonb_to_recordset($2::jsonb) AS i(name text, links jsonb, social jsonb)),
ex AS MATERIALIZED (
  SELECT e.id, i.links, i.social FROM core_exhibitor e
  JOIN input i ON e.world_id = $1 AND e.name = i.name),
dl AS (DELETE FROM core_exhibitorlink WHERE exhibitor_id IN (SELECT id FROM ex) RETURNING 1),
ds AS (DELETE FROM core_exhibitorsocialmedialink WHERE exhibitor_id IN (SELECT id FROM ex)
  RETURNING 1),
il AS (
  INSERT INTO core_exhibitorlink (display_text, url, exhibitor_id, category, sorting_priority)
  SELECT l.display_text, l.url, ex.id, l.category, l.sorting_priority
  FROM ex, jsonb_to_recordset(ex.links) AS l(display_text text, url text,
    category text, sorting_priority int)
  ORDER BY ex.id, l.sorting_priority
  RETURNING 1),
isl AS (
  INSERT INTO core_exhibitorsocialmedialink (display_text, url, exhibitor_id)
  SELECT l.display_text, l.url, ex.id
  FROM ex, jsonb_array_elements(ex.social) WITH ORDINALITY AS j(v, ord),
    jsonb_to_record(j.v) AS l(display_text text, url text)
  ORDER BY ex.id, j.ord
  RETURNING 1)
SELECT (SELECT count(*) FROM dl)::int AS links_deleted,
  (SELECT count(*) FROM ds)::int AS social_deleted,
  (SELECT count(*) FROM il)::int AS links, (SELECT count(*) FROM isl)::int AS social_links]]

local q = function(sql, ...) return model.check(db.query({ json = true }, sql, ...)) end

-- Write the validated document d; returns the world row and a summary.
local function write(worlds, d)
  local defaults = model.world_defaults()
  local priv, pub = crypto.ec_p256()
  local w = q(WORLD:format(table.concat(worlds._columns, ", ")), d.id, d.title,
    d.config, d.roles, d.trait_grants, defaults.locale, defaults.timezone,
    defaults.feature_flags, priv, pub)[1]
  local rooms = q(ROOMS:format(require("venueless.rooms").CHANNEL_CTE), d.id, d.rooms)[1]
  local s = { world = d.id, created = w.created, rooms = #d.rooms,
    rooms_created = rooms.created, channels_created = rooms.channels,
    exhibitors = #d.exhibitors, exhibitors_created = 0, links = 0, social_links = 0,
    room_versions = rooms.rooms }
  w.created = nil
  if #d.exhibitors == 0 then return w, s end
  local refs, ex, ln = json.array({}), json.array({}), json.array({})
  for i, e in ipairs(d.exhibitors) do
    refs[i] = e.room
    ln[i] = { name = e.name, links = e.links, social = e.social }
    ex[i] = e
  end
  local missing = q(ROOM_REFS, d.id, refs)[1]
  if missing then
    bad(("exhibitors[%d].room"):format(missing.idx),
      ("no room with id %s in world %s"):format(missing.room, d.id))
  end
  local saved_links, saved_social = {}, {}
  for i, e in ipairs(ex) do
    saved_links[i], saved_social[i] = e.links, e.social
    e.links, e.social = nil, nil
  end
  local er = q(EXHIBITORS, d.id, ex)[1]
  for i, e in ipairs(ex) do e.links, e.social = saved_links[i], saved_social[i] end
  local lr = q(LINKS, d.id, ln)[1]
  s.exhibitors_created, s.links, s.social_links = er.created, lr.links, lr.social_links
  return w, s
end

-- The document from a file name ("-" is stdin) or a table.
local function load(src)
  if type(src) == "table" then return src end
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
  return doc
end

-- worlds.import(src) -> world, summary; nil, message, code ("io",
-- "json", "invalid" with the JSON path, a SQLSTATE). After the commit a
-- Redis failure gives nil, message, code, world, summary.
function M.import(worlds, src)
  local doc, msg, code = load(src)
  if doc == nil then return nil, msg, code end
  local ok, d = pcall(M.validate, doc)
  if not ok then
    if require("venueless.core").is_error(d) then return nil, d.message, d.code end
    error(d, 0)
  end
  local w, s
  w, s, code = model.protect(db.transaction, write, worlds, d)
  if w == nil then return nil, s, code end
  local world = worlds._wrap(w)
  local entries = { { "World", world.id, world.version } }
  for _, r in ipairs(s.room_versions) do entries[#entries + 1] = { "Room", r[1], r[2] } end
  s.room_versions = nil
  ok, msg, code = model.after_commit(entries)
  if not ok then return nil, model.redis_message(msg), code, world, s end
  return world, s
end

return M
