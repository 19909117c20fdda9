-- Every model of the real server by its Django name (models.User,
-- models["core.User"], models.AuthUser for the /control/ accounts), each
-- class built from venueless.models.meta the first time it is named.
-- Classes start querysets (venueless.models.queryset) and make objects
-- (venueless.models.object). See venueless-lua(7), MODELS.
local M = {}

local meta		-- venueless.models.meta, loaded on first use
local by_label		-- "core.User" -> meta entry
local by_name		-- "User" -> meta entry
local classes = {}	-- label -> class

-- The global name of a model: its Django name, except auth.User, whose
-- name core.User (the event's users, what operators mean) takes.
local function global_name(md)
  if md.label == "auth.User" then return "AuthUser" end
  return md.name
end
M.global_name = global_name

local function load()
  if meta then return end
  meta = require "venueless.models.meta"
  by_label, by_name = {}, {}
  for _, md in ipairs(meta.models) do
    by_label[md.label] = md
    by_name[global_name(md)] = md
  end
end

-- The meta entry of a label or global name, or nil.
function M.meta_of(name)
  load()
  return by_label[name] or by_name[name]
end

-- The class of a label or global name (built once), or nil.
function M.class(name)
  local md = M.meta_of(name)
  if md == nil then return nil end
  local cls = classes[md.label]
  if cls == nil then
    cls = require("venueless.models.object").class(md, global_name(md))
    classes[md.label] = cls
  end
  return cls
end

-- Every global name, in the metadata's order.
function M.names()
  load()
  local out = {}
  for i, md in ipairs(meta.models) do out[i] = global_name(md) end
  return out
end

-- The whole metadata (models and through tables).
function M.metadata()
  load()
  return meta
end

M._doc = {
  class = { sig = "models.class(name)",
    text = "the model class for a Django name (\"User\") or label (\"core.User\"), or nil" },
  names = { sig = "models.names()", text = "every model's global name, auth.User as AuthUser" },
  meta_of = { sig = "models.meta_of(name)",
    text = "a model's generated metadata (table, fields, relations, columns)" },
  metadata = { sig = "models.metadata()",
    text = "venueless.models.meta: every model and the many-to-many through tables" },
}

return setmetatable(M, {
  -- models.User, models["core.User"]: the class; anything else is nil,
  -- so a script can test for a model.
  __index = function(_, k)
    if type(k) ~= "string" then return nil end
    return M.class(k)
  end,
})
