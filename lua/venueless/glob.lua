-- fnmatch globs as Python's fnmatch reads them on POSIX (the
-- connection label patterns of `venueless connections`). Matching is
-- core.glob_match (C, src/glob.c): the Lua pattern a glob translates to
-- backtracks exponentially over many stars, and a Lua pattern match is
-- one C call that Ctrl-C cannot stop.
local core = require "venueless.core"

local M = {}

-- The set of bytes a bracket expression's body matches, as Python's
-- fnmatch reads it: ranges a-z (empty when reversed), '-' first or last
-- is literal, backslash is an ordinary character.
local function glob_set(body)
  local set, i, n = {}, 1, #body
  while i <= n do
    local c = body:byte(i)
    if i + 2 <= n and body:sub(i + 1, i + 1) == "-" then
      for b = c, body:byte(i + 2) do set[b] = true end
      i = i + 3
    else
      set[c] = true
      i = i + 1
    end
  end
  return set
end

-- A Lua character class for a byte set, every member escaped.
local function lua_class(set, negate)
  local out = { negate and "[^" or "[" }
  local any = false
  for b = 0, 255 do
    if set[b] then
      local ch = string.char(b)
      out[#out + 1] = ch:match("%w") and ch or "%" .. ch
      any = true
    end
  end
  if not any then
    -- [] matches nothing; [^] matches any byte.
    return negate and "." or nil
  end
  out[#out + 1] = "]"
  return table.concat(out)
end

-- Translate an fnmatch glob (*, ?, [seq], [!seq]) to an anchored Lua
-- pattern; nil when it can match nothing. Case-sensitive, as Python's
-- fnmatch on POSIX.
function M.pattern(glob)
  local out, i, n = { "^" }, 1, #glob
  while i <= n do
    local c = glob:sub(i, i)
    i = i + 1
    if c == "*" then
      if out[#out] ~= ".*" then out[#out + 1] = ".*" end
    elseif c == "?" then
      out[#out + 1] = "."
    elseif c == "[" then
      local j = i
      if glob:sub(j, j) == "!" then j = j + 1 end
      if glob:sub(j, j) == "]" then j = j + 1 end
      while j <= n and glob:sub(j, j) ~= "]" do j = j + 1 end
      if j > n then
        out[#out + 1] = "%["
      else
        local body = glob:sub(i, j - 1)
        local negate = body:sub(1, 1) == "!"
        if negate then body = body:sub(2) end
        local class = lua_class(glob_set(body), negate)
        if class == nil then return nil end
        out[#out + 1] = class
        i = j + 1
      end
    elseif c:match("%w") then
      out[#out + 1] = c
    else
      out[#out + 1] = "%" .. c
    end
  end
  out[#out + 1] = "$"
  return table.concat(out)
end

-- fnmatch.fnmatch(name, glob) on POSIX.
function M.fnmatch(name, glob)
  return core.glob_match(name, glob)
end

return M
