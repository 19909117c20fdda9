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

-- The domain modules whose _object ({methods=, readonly=, tostring=})
-- extends a class: worlds.get and World:get{} give the same objects.
M.DOMAIN = { ["core.World"] = "venueless.worlds", ["core.Room"] = "venueless.rooms" }

-- The class of a label or global name (built once), or nil.
function M.class(name)
  local md = M.meta_of(name)
  if md == nil then return nil end
  local cls = classes[md.label]
  if cls == nil then
    local ext = M.DOMAIN[md.label] and require(M.DOMAIN[md.label])._object
    cls = require("venueless.models.object").class(md, global_name(md), ext)
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

-- What v is for the shell's completer and printer, without running a
-- query: "class", "queryset" or "object" and its class; nil otherwise.
function M.kind(v)
  local O = require "venueless.models.object"
  local Q = require "venueless.models.queryset"
  if O.is(v) then return "object", O.state[v].cls end
  if Q.is(v) then return "queryset", Q.describe(v).cls end
  local mt = getmetatable(v)
  if type(v) == "table" and type(mt) == "table" and rawget(mt, "__name") == "venueless.model" then
    return "class", v
  end
  return nil
end

-- models.transaction(fn, ...): as worlds.transaction; saves inside fn
-- commit together and the model cache learns them after the commit.
M.transaction = require("venueless.model").transaction

-- The methods the _doc entries describe, for help() and its test: a
-- model class's, a queryset's and an object's.
do
  local O = require "venueless.models.object"
  local Q = require "venueless.models.queryset"
  local W = require "venueless.models.write"
  M._methods = {}
  for k, f in pairs(W.methods) do M._methods[k] = f end
  for k, f in pairs(Q.methods) do M._methods[k] = f end
  M._methods.new, M._methods.create = O.class_methods.new, O.class_methods.create
  M._methods.soft_delete = O.MODEL_METHODS["core.User"].soft_delete
end

M._doc = {
  transaction = { sig = "models.transaction(fn, ...)",
    text = "fn's saves in one transaction, the model cache told after the commit" },
  ["Model:new"] = { sig = "Model:new{field = value, ...}",
    text = "an unsaved object with Django's defaults (also Model{...})" },
  ["Model:create"] = { sig = "Model:create{field = value, ...}",
    text = "a new object with Django's defaults, saved; nil, message, code if refused" },
  ["queryset:all"] = { sig = "queryset:all()", text = "the same rows (Model:all() starts a queryset)" },
  ["queryset:filter"] = { sig = "queryset:filter{field__lookup = value, ...}",
    text = "the rows matching every condition; lookups exact, iexact, contains, in, gte, isnull, range, …" },
  ["queryset:exclude"] = { sig = "queryset:exclude{field__lookup = value, ...}",
    text = "without the rows matching all these conditions (NULL counts as not matching)" },
  ["queryset:order"] = { sig = "queryset:order(\"-field\", \"rel__field\", ...)",
    text = "ordered by these fields (- descending, ? random); also order_by" },
  ["queryset:limit"] = { sig = "queryset:limit(n)", text = "at most n rows" },
  ["queryset:offset"] = { sig = "queryset:offset(n)", text = "skip the first n rows" },
  ["queryset:select_related"] = { sig = "queryset:select_related(\"fk\", \"fk__fk\", ...)",
    text = "fetch these forward relations in the same statement (no query per object)" },
  ["queryset:count"] = { sig = "queryset:count()", text = "the number of rows (SELECT count(*))" },
  ["queryset:exists"] = { sig = "queryset:exists()", text = "whether there is a row" },
  ["queryset:first"] = { sig = "queryset:first()", text = "the first object (by the order, else the key), or nil" },
  ["queryset:get"] = { sig = "queryset:get{field__lookup = value, ...}",
    text = "the one matching object, or nil, message, \"notfound\" / \"multiple\"" },
  ["queryset:list"] = { sig = "queryset:list()", text = "every object, in a list" },
  ["queryset:each"] = { sig = "queryset:each()",
    text = "an iterator streaming the objects one at a time (bounded memory)" },
  ["queryset:values"] = { sig = "queryset:values(\"field\", \"rel__field\", ...)",
    text = "plain tables of these fields (every field without arguments)" },
  ["queryset:update"] = { sig = "queryset:update{field = value, ...}",
    text = "set fields on every row in one statement; versioned rows: version + 1, cache told" },
  ["queryset:delete"] = { sig = "queryset:delete([{dry_run = true}])",
    text = "delete the rows following each foreign key's on_delete" },
  ["queryset:sql"] = { sig = "queryset:sql()", text = "the SELECT statement and its parameters" },
  ["object:save"] = { sig = "object:save()",
    text = "insert, or write the changed fields; versioned: version + 1 and the cache told" },
  ["object:delete"] = { sig = "object:delete([{dry_run = true}])",
    text = "delete it (and what on_delete says); a versioned object's cache key becomes deleted" },
  ["object:reload"] = { sig = "object:reload()", text = "read the stored values again" },
  ["user:soft_delete"] = { sig = "user:soft_delete{dry_run=}",
    text = "GDPR erasure of a User in one transaction; files removed and sessions reloaded after it; the receipt" },
  ["object:touch"] = { sig = "object:touch()",
    text = "version + 1 and the cache told (User, Room, World)" },
  class = { sig = "models.class(name)",
    text = "the model class for a Django name (\"User\") or label (\"core.User\"), or nil" },
  names = { sig = "models.names()", text = "every model's global name, auth.User as AuthUser" },
  meta_of = { sig = "models.meta_of(name)",
    text = "a model's generated metadata (table, fields, relations, columns)" },
  kind = { sig = "models.kind(v)",
    text = "\"class\", \"queryset\" or \"object\" and the model class, or nil (runs no query)" },
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
