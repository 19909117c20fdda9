-- What worlds.lua and rooms.lua share about the World and Room models,
-- so neither requires the other: their classes (venueless.models), the
-- column lists the big set-based statements return, the chat channel
-- rule and a new room's INSERT. See venueless-lua(7), WORLDS AND ROOMS.
local db = require "venueless.db"
local model = require "venueless.model"

local S = {}

local function models() return require "venueless.models" end

-- The classes, built on first use (never while a domain module loads:
-- building them loads the domain modules).
function S.World() return models().World end
function S.Room() return models().Room end

-- Whether v is a World (Room) model object.
function S.is(cls, v)
  local O = require "venueless.models.object"
  return O.is(v) and O.state[v].cls == cls
end

-- The columns of core_world and core_room in Django's field order.
local function attnames(label)
  local out = {}
  for i, f in ipairs(models().meta_of(label).fields) do out[i] = f.column end
  return out
end
function S.world_columns() return attnames("core.World") end
function S.room_columns() return attnames("core.Room") end

-- A saved object of cls over a result row (jsonb decoded; NULL as
-- db.NULL, or json.null in a row the statement built as JSON).
function S.wrap(cls, row)
  local null = require("venueless.json").null
  local r = {}
  for k, v in pairs(row) do r[k] = v == null and db.NULL or v end
  return cls._wrap(r, "")
end

-- A quoted title for tostring: backslash, quote and controls escaped.
function S.quoted(s)
  return '"' .. tostring(s):gsub('[%c"\\]', function(c)
    if c == '"' or c == "\\" then return "\\" .. c end
    return ("\\x%02x"):format(c:byte())
  end) .. '"'
end

-- The channel rule, as a set: rooms in CTE "saved" (id, world_id,
-- module_config) with a chat.native module get a channel if they have none.
S.CHANNEL_CTE = [[
ch AS (INSERT INTO core_channel (id, name, room_id, world_id)
  SELECT gen_random_uuid(), NULL, s.id, s.world_id FROM saved s
  WHERE jsonb_typeof(s.module_config) = 'array'
    AND s.module_config @> '[{"type": "chat.native"}]'
  ON CONFLICT (room_id) DO NOTHING RETURNING 1)]]

-- The rule for one saved room (inside its save's transaction).
local ROOM_CHANNEL = "WITH saved AS (SELECT id, world_id, module_config FROM core_room"
  .. " WHERE id = $1),\n" .. S.CHANNEL_CTE .. "\nSELECT count(*) AS n FROM ch"
function S.room_channel(id)
  return db.query(ROOM_CHANNEL, id)[1].n
end

-- Save obj (a World or Room) under world id's lock in one transaction:
-- obj:save() of the model layer, and an unchanged saved object touched
-- (a save always bumps the version); after(obj) runs before the commit.
function S.locked_save(obj, id, after)
  local O = require "venueless.models.object"
  local W = require "venueless.models.write"
  return model.transaction(function()
    model.lock_world(id)	-- in line behind an import or clone writing it
    local s = O.state[obj]
    local was_saved, version = s.saved, s.row.version
    local r, msg, code = W.methods.save(obj)
    if r == nil then return nil, msg, code end
    if was_saved and s.row.version == version then
      model.on_rollback(function() s.row.version = version end)
      r, msg, code = W.methods.touch(obj)
      if r == nil then return nil, msg, code end
    end
    if after then after(obj) end
    return obj
  end)
end

local CREATE_FIELDS = { name = true, modules = true, description = true,
  trait_grants = true, sorting_priority = true, pretalx_id = true,
  force_join = true, import_id = true, picture = true }

local function check_room_spec(spec)
  if type(spec) ~= "table" then error("bad argument #2 to 'add_room' (table expected)", 4) end
  for k in pairs(spec) do
    if not CREATE_FIELDS[k] then error(("add_room: unknown field '%s'"):format(tostring(k)), 4) end
  end
  if type(spec.name) ~= "string" then error("add_room: name must be a string", 4) end
  if spec.modules ~= nil and type(spec.modules) ~= "table" then
    error("add_room: modules must be a list of module tables", 4)
  end
end

-- The next sorting_priority of world id (under its lock).
local function next_priority(id)
  return db.query("SELECT coalesce(max(sorting_priority) + 1, 0) AS p FROM core_room"
    .. " WHERE world_id = $1", id)[1].p
end

-- world:add_room / rooms.create: a new Room of world, saved (room:save
-- takes the world's lock and adds the chat channel).
function S.create_room(world, spec)
  if not S.is(S.World(), world) then error("bad argument #1 to 'add_room' (world expected)", 3) end
  check_room_spec(spec)
  model.check_outside("world:add_room")
  local Room = S.Room()
  local room = Room:new({ world = world, name = spec.name, description = spec.description,
    picture = spec.picture, import_id = spec.import_id, pretalx_id = spec.pretalx_id,
    force_join = spec.force_join })
  if spec.modules then room.module_config = spec.modules end
  if spec.trait_grants then room.trait_grants = spec.trait_grants end
  return model.transaction(function()
    model.lock_world(world.id)	-- the default sorting_priority reads the others
    room.sorting_priority = spec.sorting_priority or next_priority(world.id)
    return room:save()
  end)
end

return S
