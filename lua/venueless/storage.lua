-- Stored files (storage_storedfile.file, a path relative to the media
-- root $VENUELESS_DATA_DIR/media): removed from disk only after the
-- transaction that deleted their rows committed, so a rollback never
-- leaves a row without its file. A missing file is not an error; with
-- a CDN configured ([urls] nanocdn) the files are not ours to remove.
-- Shared by soft_delete_user, clear_world_data and clear_unused_worlds.
local config = require "venueless.config"

local S = {}

local ENOENT, ENOTDIR = 2, 20

-- The media root: [filesystem] data (VENUELESS_DATA_DIR, default "data",
-- relative to the working directory) .. "/media".
function S.media_root()
  return (config.filesystem.data:gsub("/+$", "")) .. "/media"
end

-- The CDN's URL when the files live there, else nil.
function S.cdn()
  local u = config.urls.nanocdn
  return u ~= "" and u or nil
end

-- Whether a row's path may be joined to the media root: relative, no
-- ".." component, no NUL (a row must not name a file outside it).
local function safe(path)
  if path:sub(1, 1) == "/" or path:find("\0", 1, true) then return false end
  for part in path:gmatch("[^/]+") do
    if part == ".." then return false end
  end
  return true
end

-- What happens to one file: {id=, file=, state=, error=}, state one of
-- none (the row names no file), dry_run, cdn, unsafe, removed, missing,
-- failed (error says why).
local function one(root, f, opts)
  local out = { id = f.id, file = f.file }
  if f.file == nil or f.file == "" then
    out.state = "none"
  elseif not safe(f.file) then
    out.state = "unsafe"
  elseif opts.dry_run then
    out.state = "dry_run"
  elseif S.cdn() then
    out.state = "cdn"
  else
    local ok, msg, errno = os.remove(root .. "/" .. f.file)
    if ok then
      out.state = "removed"
    elseif errno == ENOENT or errno == ENOTDIR then
      out.state = "missing"
    else
      out.state, out.error = "failed", msg
    end
  end
  return out
end

-- Remove the files {{id=, file=}, ...} of rows whose deletion committed
-- (or, opts.dry_run, say what would be removed): the list of outcomes.
function S.remove(files, opts)
  opts = opts or {}
  local root, out = S.media_root(), {}
  for i, f in ipairs(files) do out[i] = one(root, f, opts) end
  return out
end

-- Whether the media root exists (a missing one usually means the data
-- directory is not configured, so every file reads as missing).
function S.root_exists()
  local root = S.media_root()
  return os.rename(root, root) ~= nil
end

return S
