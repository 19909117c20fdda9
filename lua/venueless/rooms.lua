-- Rooms (core_room) as Room model objects, and their chat channels
-- (core_channel): a room whose module_config has a chat.native module
-- has exactly one channel row. Misuse raises; a refused request returns
-- nil, message, code; a server failure raises.
local model = require "venueless.model"
local schema = require "venueless.models.schema"

local rooms = {}

-- The Room model's domain methods (merged into the class by
-- venueless.models: rooms.get and Room:get{} return the same objects).
local methods = {}
rooms._methods = methods
local Room, World = schema.Room, schema.World

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

-- rooms.get(uuid) -> Room object, or nil, message, code ("notfound").
function rooms.get(id)
  if type(id) ~= "string" then error("bad argument #1 to 'get' (room uuid expected)", 2) end
  if not id:find(UUID) then return nil, "room id must be a UUID", "invalid" end
  local r = Room():filter({ id = id }):first()
  if r == nil then return nil, ("room %s does not exist"):format(id), "notfound" end
  return r
end

local LIST_FILTERS = { world = true, deleted = true, import_id = true, name = true }

-- rooms.list{world=id or world, deleted=, import_id=, name= (substring)}
-- -> rooms ordered by world, sorting_priority, id.
function rooms.list(f)
  f = model.filters(f, LIST_FILTERS)
  local world = f.world
  if schema.is(World(), world) then world = world.id end
  if world ~= nil and type(world) ~= "string" then error("list: world must be an id or a world", 2) end
  if f.deleted ~= nil and type(f.deleted) ~= "boolean" then error("list: deleted must be a boolean", 2) end
  local qs = Room():order("world_id", "sorting_priority", "id")
  if world ~= nil then qs = qs:filter({ world_id = world }) end
  if f.deleted ~= nil then qs = qs:filter({ deleted = f.deleted }) end
  if f.import_id ~= nil then qs = qs:filter({ import_id = f.import_id }) end
  if f.name ~= nil then qs = qs:filter({ name__icontains = f.name }) end
  return qs:list()
end

-- rooms.create(world, {name=, modules=, description=, trait_grants=,
-- sorting_priority=, pretalx_id=, force_join=, import_id=}) -> room.
function rooms.create(world, spec)
  return schema.create_room(world, spec)
end

-- room:save() -> room: the changed fields (none: still version + 1)
-- under its world's lock, its chat channel if it gained a chat.native
-- module, then the server cache told. A new Room (Room:new) is inserted.
function methods.save(self)
  model.check_outside("room:save")
  return schema.locked_save(self, self.world_id, function(r)
    schema.room_channel(r.id)
  end)
end

rooms._doc = {
  get = { sig = "rooms.get(uuid)", text = "the Room with this id, or nil, message, code" },
  list = { sig = "rooms.list{world=, deleted=, import_id=, name=}",
    text = "rooms ordered by world and sorting_priority; name matches a substring" },
  create = { sig = "rooms.create(world, {name=, modules=, ...})",
    text = "same as world:add_room" },
  ["room:save"] = { sig = "room:save()",
    text = "store the changed fields, version + 1, add the chat channel a chat.native module needs" },
}

-- What venueless.models merges into the Room class: a room stays in
-- its world (the server keys its caches by world).
rooms._object = {
  methods = methods,
  readonly = { world_id = true, world = true },
  tostring = function(obj)
    return ("<Room %s %s>"):format(obj.id, schema.quoted(obj.name))
  end,
}

return rooms
