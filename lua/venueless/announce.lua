-- Announcements: rows of core_announcement as the server's admin UI
-- writes them, and the push that makes open browsers show or hide them
-- now (shared/reference/commands.md, "Messages to a group"): after the
-- commit, {"type": "announcement.created_or_updated", "announcement":
-- {id, text, show_until, state}} to group world.<id>, when the
-- announcement is visible before or after the change.
local core = require "venueless.core"
local db = require "venueless.db"
local json = require "venueless.json"
local model = require "venueless.model"

local M = {}

-- A timestamptz column as Python's isoformat() of a UTC datetime
-- ("2024-05-01T12:00:00+00:00", microseconds only when there are some).
local function iso(col)
  return ([[CASE WHEN %s IS NULL THEN NULL ELSE
    to_char(%s AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS')
    || CASE WHEN extract(microseconds FROM %s)::int %% 1000000 <> 0
      THEN to_char(%s AT TIME ZONE 'UTC', '.US') ELSE '' END || '+00:00' END]])
    :format(col, col, col, col)
end

-- What every statement returns: the row as the push and --list show it.
local COLUMNS = "id::text AS id, world_id, text, " .. iso("show_until") .. " AS show_until, "
  .. iso('"timestamp"') .. " AS timestamp, state, "
  .. "(state = 'active' AND (show_until IS NULL OR show_until > now())) AS visible"

local INSERT = [[
INSERT INTO core_announcement (id, text, show_until, "timestamp", world_id, state)
SELECT $1::uuid, $2, $3::timestamptz, now(), w.id, 'active'
FROM core_world w WHERE w.id = $4
RETURNING ]] .. COLUMNS

-- TIME as a timestamptz: ISO text ($1) or seconds from now ($2).
local PARSE = [[
SELECT t::text AS t, isfinite(t) AS finite, t > now() AS future
FROM (SELECT CASE WHEN $2::float8 IS NULL THEN $1::timestamptz
  ELSE date_trunc('second', now()) + make_interval(secs => $2::float8) END AS t) s]]

local UNITS = { s = 1, m = 60, h = 3600, d = 86400 }

local UUID = "^%x%x%x%x%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%-%x%x%x%x%x%x%x%x%x%x%x%x$"

-- The end time TIME names: "30s", "15m", "2h", "1d" from now, or what
-- PostgreSQL reads as a timestamptz (ISO 8601; without a zone, the
-- session's). nil, message, "invalid" unless it is in the future.
local function parse_until(s)
  if type(s) ~= "string" then return nil, "show_until: expected a string", "invalid" end
  local n, unit = s:match("^(%d+)([smhd])$")
  local r, msg = core.try(db.query, PARSE, n and db.NULL or s,
    n and tonumber(n) * UNITS[unit] or db.NULL)
  if r == nil then return nil, ("show_until: %s: %s"):format(s, msg), "invalid" end
  if not r[1].finite or not r[1].future then
    return nil, ("show_until: %s is not in the future"):format(s), "invalid"
  end
  return r[1].t
end

-- The message the server pushes for a row.
local function message(row)
  return { type = "announcement.created_or_updated",
    announcement = json.ordered({ id = row.id, text = row.text,
      show_until = row.show_until == db.NULL and json.null or row.show_until,
      state = row.state }, { "id", "text", "show_until", "state" }) }
end

-- A row as the API returns it: NULL as nil.
local function plain(row)
  local t = {}
  for k, v in pairs(row) do if v ~= db.NULL then t[k] = v end end
  return t
end

-- After the commit: push row to its world's browsers when push says so.
-- Returns the row and the group_send result (nil when not pushed); a
-- Redis failure raises with committed = {row, false}, so a command can say
-- what was written.
local function pushed(row, push)
  local a = plain(row)
  if not push then return a, nil end
  local layer = require "venueless.channel_layer"
  local r, msg, code = core.try(layer.group_send, "world." .. row.world_id, message(row))
  if r == nil then
    local _, e = pcall(core.fail, "committed, but open browsers were not told: " .. msg, code)
    e.committed = table.pack(a, false)
    error(e, 0)
  end
  return a, r
end

-- announce.create(world_id, text [, {show_until=}]) -> announcement,
-- push result; nil, message, code ("notfound", "invalid").
function M.create(world, text, opts)
  if type(world) ~= "string" then error("bad argument #1 to 'create' (world id expected)", 2) end
  opts = opts or {}
  local bad = model.bad_string(text)
  if bad == nil and text:find("^%s*$") then bad = "is empty" end
  if bad then return nil, "text " .. bad, "invalid" end
  local show_until, msg, code = db.NULL, nil, nil
  if opts.show_until ~= nil then
    show_until, msg, code = parse_until(opts.show_until)
    if show_until == nil then return nil, msg, code end
  end
  local r = db.query(INSERT, require("venueless.crypto").uuid4(), text, show_until, world)
  if #r == 0 then return nil, ("world %s does not exist"):format(world), "notfound" end
  return pushed(r[1], r[1].visible)
end

-- announce.list(world_id) -> the world's announcements, oldest first;
-- nil, message, "notfound".
function M.list(world)
  if type(world) ~= "string" then error("bad argument #1 to 'list' (world id expected)", 2) end
  if #db.query("SELECT 1 FROM core_world WHERE id = $1", world) == 0 then
    return nil, ("world %s does not exist"):format(world), "notfound"
  end
  local out = {}
  for i, row in ipairs(db.query("SELECT " .. COLUMNS .. " FROM core_announcement"
      .. ' WHERE world_id = $1 ORDER BY "timestamp", id', world)) do
    out[i] = plain(row)
  end
  return out
end

-- Archive one active announcement under a row lock; refusals raised
-- with model.refuse so the transaction ends.
local function archive(id)
  local r = db.query("SELECT " .. COLUMNS .. " FROM core_announcement WHERE id = $1::uuid"
    .. " FOR UPDATE", id)
  if #r == 0 then model.refuse(("announcement %s does not exist"):format(id), "notfound") end
  if r[1].state ~= "active" then
    model.refuse(("announcement %s is %s, not active: only an active one is archived")
      :format(id, r[1].state), "invalid")
  end
  local new = db.query("UPDATE core_announcement SET state = 'archived' WHERE id = $1::uuid"
    .. " RETURNING " .. COLUMNS, id)[1]
  return new, r[1].visible
end

-- announce.deactivate(id) -> announcement (archived), push result (nil
-- when it was no longer visible, so nobody is shown it);
-- nil, message, code ("notfound", "invalid").
function M.deactivate(id)
  if type(id) ~= "string" then error("bad argument #1 to 'deactivate' (uuid expected)", 2) end
  if not id:lower():find(UUID) then
    return nil, ("%s is not an announcement id (a UUID)"):format(id), "invalid"
  end
  local row, was_visible, code = model.refused(db.transaction, archive, id:lower())
  if row == nil then return nil, was_visible, code end
  return pushed(row, was_visible)
end

M._doc = {
  create = { sig = "announce.create(world_id, text [, {show_until=}])",
    text = "an active announcement, pushed to the world's open browsers; show_until: ISO time or 15m, 2h, 1d" },
  list = { sig = "announce.list(world_id)",
    text = "the world's announcements, oldest first: {id=, text=, show_until=, timestamp=, state=, visible=}" },
  deactivate = { sig = "announce.deactivate(id)",
    text = "archive an active announcement and hide it in open browsers" },
}

return M
