-- db.trace(true)'s hook: every statement the session's connection ran,
-- with its parameters and duration, on stderr, like Django's shell_plus
-- --print-sql. A parameter bound to a column named like a credential
-- (the shell's secret patterns: password, secret, token, ...) or whose
-- text matches them (a URL with a password, a JSON document with a
-- "secret" key) is shown as ***. See venueless-lua(7), db.trace.
local M = {}

M.width = 200		-- characters of a parameter shown before "…"

local function is_secret(s)
  return require("venueless.repl").is_secret(s)
end

-- The parts of s split at commas outside parentheses.
local function split(s)
  local out, depth, start = {}, 0, 1
  for i = 1, #s do
    local ch = s:sub(i, i)
    if ch == "(" then depth = depth + 1
    elseif ch == ")" then depth = depth - 1
    elseif ch == "," and depth == 0 then
      out[#out + 1] = s:sub(start, i - 1)
      start = i + 1
    end
  end
  out[#out + 1] = s:sub(start)
  return out
end

-- Parameter numbers an INSERT binds to a secret-named column.
local function insert_secrets(sql, set)
  local cols, vals = sql:match("^%s*INSERT%s+INTO%s+[^(]-%((.-)%)%s*VALUES%s*(%b())")
  if not cols then return end
  cols, vals = split(cols), split(vals:sub(2, -2))
  for i, v in ipairs(vals) do
    if cols[i] and is_secret(cols[i]) then
      for n in v:gmatch("%$(%d+)") do set[tonumber(n)] = true end
    end
  end
end

-- Keywords that end the comparison a parameter is part of.
local BOUNDARY = { AND = true, OR = true, WHERE = true, SET = true, ON = true, WHEN = true,
  THEN = true, ELSE = true, VALUES = true, FROM = true }

-- Parameter numbers compared with or assigned to a secret-named column:
-- one named between $N and the boundary before it (a comma, a keyword
-- above or an earlier parameter).
local function compared_secrets(sql, set)
  for pos, n in sql:gmatch("()%$(%d+)") do
    local seg = sql:sub(math.max(1, pos - 160), pos - 1):match("[^,]*$")
    seg = seg:match("^.*%$%d+(.*)$") or seg
    local words = {}
    for w in seg:gmatch("[%a_][%w_]*") do words[#words + 1] = w end
    for i = #words, 1, -1 do
      if BOUNDARY[words[i]:upper()] then break end
      if is_secret(words[i]) then set[tonumber(n)] = true end
    end
  end
end

-- The parameter numbers of sql whose value must not be shown.
function M.secret_params(sql, params)
  local set = {}
  insert_secrets(sql, set)
  compared_secrets(sql, set)
  for i = 1, params.n or #params do
    if type(params[i]) == "string" and is_secret(params[i]) then set[i] = true end
  end
  return set
end

-- A parameter as an SQL literal, cut at M.width.
local function literal(v)
  if v == nil then return "NULL" end
  if #v > M.width then v = v:sub(1, M.width) .. "…" end
  return "'" .. v:gsub("'", "''") .. "'"
end

-- The lines the hook writes for one statement.
function M.format(sql, params, ms, err)
  local escape = require("venueless.pretty").escape
  local hidden = M.secret_params(sql, params)
  local shown = {}
  for i = 1, params.n or #params do
    shown[i] = ("$%d = %s"):format(i, hidden[i] and "***" or literal(params[i]))
  end
  local tail = ("-- %.3f ms"):format(ms)
  if err then tail = ("-- failed after %.3f ms: %s"):format(ms, err) end
  if #shown > 0 then tail = tail .. "; " .. table.concat(shown, ", ") end
  local lines = {}
  for l in (sql .. "\n"):gmatch("(.-)\n") do lines[#lines + 1] = escape(l) end
  return table.concat(lines, "\n") .. "\n  " .. escape(tail) .. "\n"
end

-- The hook: fn(sql, params, ms, err) for db.trace.
function M.hook(sql, params, ms, err)
  io.stderr:write(M.format(sql, params, ms, err))
  io.stderr:flush()
end

return M
