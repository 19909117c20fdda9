-- Rooms (core_room) and their chat channels (core_channel): a room
-- whose module_config has a chat.native module has exactly one channel
-- row. Misuse raises; a refused request returns nil, message, code; a
-- server failure raises.
local db = require "venueless.db"
local json = require "venueless.json"
local model = require "venueless.model"
local worlds = require "venueless.worlds"

local rooms = {}

local COLUMNS = { "id", "module_config", "name", "description", "picture",
  "import_id", "world_id", "sorting_priority", "trait_grants", "version",
  "deleted", "pretalx_id", "force_join", "schedule_data" }
local LIST = table.concat(COLUMNS, ", ")
local SELECT = "SELECT " .. LIST .. " FROM core_room"

local Room = model.class({
  name = "room", columns = COLUMNS,
  json = { module_config = true, trait_grants = true, schedule_data = true },
  arrays = { module_config = true },
  readonly = { id = true, world_id = true, version = true },
  tostring = function(row)
    return ("<room %s %s>"):format(row.id, worlds._quoted(row.name))
  end,
})
rooms._methods = Room.methods
rooms._class = Room

-- The channel rule, as a set: rooms in CTE "saved" (id, world_id,
-- module_config) with a chat.native module get a channel if they have none.
local CHANNEL_CTE = [[
ch AS (INSERT INTO core_channel (id, name, room_id, world_id)
  SELECT gen_random_uuid(), NULL, s.id, s.world_id FROM saved s
  WHERE jsonb_typeof(s.module_config) = 'array'
    AND s.module_config @> '[{"type": "chat.native"}]'
  ON CONFLICT (room_id) DO NOTHING RETURNING 1)]]
rooms.CHANNEL_CTE = CHANNEL_CTE

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

-- rooms.get(uuid) -> room, or nil, message, code ("notfound").
function rooms.get(id)
  if type(id) ~= "string" then error("bad argument #1 to 'get' (room uuid expected)", 2) end
  if not id:find(UUID) then return nil, "room id must be a UUID", "invalid" end
  local r = db.query({ json = true }, SELECT .. " WHERE id = $1", id)
  if #r == 0 then return nil, ("room %s does not exist"):format(id), "notfound" end
  return Room.wrap(r[1])
end

local LIST_FILTERS = { world = true, deleted = true, import_id = true, name = true }

-- rooms.list{world=id or world, deleted=, import_id=, name= (substring)}
-- -> rooms ordered by world, sorting_priority, id.
function rooms.list(f)
  f = model.filters(f, LIST_FILTERS)
  local world = f.world
  if worlds._class.is(world) then world = world.id end
  if world ~= nil and type(world) ~= "string" then error("list: world must be an id or a world", 2) end
  if f.deleted ~= nil and type(f.deleted) ~= "boolean" then error("list: deleted must be a boolean", 2) end
  local r = db.query({ json = true }, SELECT .. [[
    WHERE ($1::text IS NULL OR world_id = $1) AND ($2::boolean IS NULL OR deleted = $2)
      AND ($3::text IS NULL OR import_id = $3)
      AND ($4::text IS NULL OR strpos(lower(name), lower($4)) > 0)
    ORDER BY world_id, sorting_priority, id]], world, f.deleted, f.import_id, f.name)
  local out = {}
  for i, row in ipairs(r) do out[i] = Room.wrap(row) end
  return out
end

local CREATE_FIELDS = { name = true, modules = true, description = true,
  trait_grants = true, sorting_priority = true, pretalx_id = true,
  force_join = true, import_id = true, picture = true }

local INSERT = [[
WITH saved AS (
  INSERT INTO core_room (id, module_config, name, description, picture, import_id,
    world_id, sorting_priority, trait_grants, version, deleted, pretalx_id,
    force_join, schedule_data)
  SELECT gen_random_uuid(), $2::jsonb, $3, $4, $5, $6, $1::text,
    coalesce($7::int, (SELECT coalesce(max(sorting_priority) + 1, 0)
      FROM core_room WHERE world_id = $1::text)),
    $8::jsonb, 2, false, $9, $10, NULL
  RETURNING ]] .. LIST .. [[),
]] .. CHANNEL_CTE .. [[
SELECT * FROM saved]]

-- rooms.create(world, {name=, modules=, description=, trait_grants=,
-- sorting_priority=, pretalx_id=, force_join=, import_id=}) -> room.
function rooms.create(world, spec)
  if not worlds._class.is(world) then error("bad argument #1 to 'add_room' (world expected)", 2) end
  if type(spec) ~= "table" then error("bad argument #2 to 'add_room' (table expected)", 2) end
  for k in pairs(spec) do
    if not CREATE_FIELDS[k] then error(("add_room: unknown field '%s'"):format(tostring(k)), 2) end
  end
  if type(spec.name) ~= "string" then error("add_room: name must be a string", 2) end
  if spec.modules ~= nil and type(spec.modules) ~= "table" then
    error("add_room: modules must be a list of module tables", 2)
  end
  model.check_outside("world:add_room")
  local d = model.room_defaults()
  local row = { module_config = spec.modules or d.module_config,
    trait_grants = spec.trait_grants or d.trait_grants }
  -- The world's lock: the default sorting_priority reads the others.
  local r = model.locked(world.id, db.query, { json = true }, INSERT, world.id,
    Room.param(row, "module_config"), spec.name, spec.description,
    spec.picture or d.picture, spec.import_id, spec.sorting_priority,
    Room.param(row, "trait_grants"), spec.pretalx_id or 0, spec.force_join or false)
  local room = Room.wrap(r[1])
  return model.after_commit({ { "Room", room.id, room.version } }, room)
end

local UPDATE = [[
WITH saved AS (
  UPDATE core_room SET module_config = $2::jsonb, name = $3, description = $4,
    picture = $5, import_id = $6, sorting_priority = $7, trait_grants = $8::jsonb,
    deleted = $9, pretalx_id = $10, force_join = $11, schedule_data = $12::jsonb,
    version = version + 1
  WHERE id = $1 RETURNING id, world_id, module_config, version),
]] .. CHANNEL_CTE .. [[
SELECT version FROM saved]]

-- room:save() -> room; version + 1, its chat channel if it gained a
-- chat.native module, then the server cache told.
function Room.methods.save(self)
  model.check_outside("room:save")
  local row = Room.row(self)
  local p = {}
  for i, c in ipairs({ "id", "module_config", "name", "description", "picture",
      "import_id", "sorting_priority", "trait_grants", "deleted", "pretalx_id",
      "force_join", "schedule_data" }) do
    p[i] = Room.param(row, c)
  end
  local r = model.locked(row.world_id, db.query, UPDATE, table.unpack(p, 1, 12))
  if #r == 0 then return nil, ("room %s does not exist"):format(row.id), "notfound" end
  local old = row.version
  model.on_rollback(function() row.version = old end)
  row.version = r[1].version
  return model.after_commit({ { "Room", row.id, row.version } }, self)
end

-- room:world() -> the room's world.
function Room.methods.world(self)
  return worlds.get(self.world_id)
end

-- room:channel() -> the chat channel's uuid, or nil.
function Room.methods.channel(self)
  local r = db.query("SELECT id FROM core_channel WHERE room_id = $1", self.id)
  return r[1] and r[1].id or nil
end

rooms._doc = {
  get = { sig = "rooms.get(uuid)", text = "the room with this id, or nil, message, code" },
  list = { sig = "rooms.list{world=, deleted=, import_id=, name=}",
    text = "rooms ordered by world and sorting_priority; name matches a substring" },
  create = { sig = "rooms.create(world, {name=, modules=, ...})",
    text = "same as world:add_room" },
  ["room:save"] = { sig = "room:save()",
    text = "store the fields, version + 1, add the chat channel a chat.native module needs" },
  ["room:world"] = { sig = "room:world()", text = "the room's world" },
  ["room:channel"] = { sig = "room:channel()", text = "the uuid of the room's chat channel, or nil" },
}

return rooms
