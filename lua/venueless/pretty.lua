-- The shell's printer: nested tables with sorted keys, depth and item
-- limits and cycles marked; query results as aligned tables (expanded
-- like psql's \x when rows are wide); objects through __pretty (what to
-- show instead) or __tostring;
-- colours on a terminal unless NO_COLOR is set.
local core = require "venueless.core"
local lexer = require "venueless.lexer"

local M = {}

M.depth = 4         -- nesting shown before {…}
M.items = 50        -- entries shown per table before "… (N more)"
M.rows = 200        -- rows shown of a query result
M.expanded = nil    -- true/false forces result layout; nil: by width
M.width = nil       -- columns; nil: the terminal's, else COLUMNS, else 80

local COLORS = {
  string = "32", number = "36", boolean = "35", null = "35", ["nil"] = "35",
  object = "33", func = "34", dim = "2", key = "1",
}

-- Should output to fd 1 be coloured?
function M.use_color()
  local nc = os.getenv("NO_COLOR")
  if nc ~= nil and nc ~= "" then return false end
  return core.isatty(1)
end

local function width()
  return M.width or require("venueless.edit").columns()
    or tonumber(os.getenv("COLUMNS") or "") or 80
end

-- Display width of s: UTF-8 characters, escapes not counted.
local function dwidth(s)
  s = s:gsub("\27%[[%d;]*m", "")
  return utf8.len(s) or #s
end
M.display_width = dwidth

local function paint(ctx, what, s)
  if not ctx.color then return s end
  return "\27[" .. COLORS[what] .. "m" .. s .. "\27[0m"
end

local function is_ident(k)
  return type(k) == "string" and k:match("^[%a_][%w_]*$") ~= nil
    and not lexer.is_keyword(k)
end

-- Key order: integers, then other numbers, then strings, then the rest.
local function key_less(a, b)
  local ta, tb = type(a), type(b)
  if ta == "number" and tb == "number" then return a < b end
  if ta == "number" then return true end
  if tb == "number" then return false end
  if ta == "string" and tb == "string" then return a < b end
  if ta == "string" then return true end
  if tb == "string" then return false end
  return tostring(a) < tostring(b)
end

local function has_tostring(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__tostring ~= nil
end

-- Control characters as Lua escapes, so that text from a database or a
-- Redis server cannot move the cursor, retitle or clear a terminal: C0
-- and DEL as \n, \t, ... or \xNN, the C1 controls (UTF-8 U+0080..U+009F,
-- CSI among them) as \u{NN}. Everything else, backslashes too, as is.
local NAMED = { ["\a"] = "\\a", ["\b"] = "\\b", ["\t"] = "\\t", ["\n"] = "\\n",
  ["\v"] = "\\v", ["\f"] = "\\f", ["\r"] = "\\r" }
function M.escape(s)
  s = s:gsub("[%c\127]", function(c) return NAMED[c] or ("\\x%02x"):format(c:byte()) end)
  return (s:gsub("\194([\128-\159])", function(c) return ("\\u{%x}"):format(c:byte()) end))
end

-- A value's __pretty metamethod returns what to show in its place (the
-- config tables: a copy with the passwords masked).
local function pretty_method(v)
  local mt = getmetatable(v)
  local f = type(mt) == "table" and rawget(mt, "__pretty") or nil
  return type(f) == "function" and f or nil
end

-- A string as a Lua literal: quotes and backslashes escaped, then controls.
local function quote(s)
  return '"' .. M.escape((s:gsub('["\\]', "\\%0"))) .. '"'
end

local format_value

-- A table as one line, or nil when it does not fit in room columns.
local function one_line(ctx, parts, room)
  local s = "{ " .. table.concat(parts, ", ") .. " }"
  if #parts == 0 then s = "{}" end
  if dwidth(s) <= room and not s:find("\n") then return s end
end

-- The entries of t in order: the array part, then sorted other keys.
local function entries(t)
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  local keys = {}
  for k in next, t do
    if not (math.type(k) == "integer" and k >= 1 and k <= n) then
      keys[#keys + 1] = k
    end
  end
  table.sort(keys, key_less)
  return n, keys
end

local function format_table(ctx, t, depth, indent)
  if ctx.path[t] then return paint(ctx, "dim", "<cycle>") end
  local n, keys = entries(t)
  if n + #keys == 0 then return "{}" end
  if depth >= M.depth then return paint(ctx, "dim", "{…}") end
  ctx.path[t] = true
  local parts, shown, total = {}, 0, n + #keys
  local pad = indent .. "  "
  for i = 1, n do
    if shown >= M.items then break end
    shown = shown + 1
    parts[#parts + 1] = format_value(ctx, rawget(t, i), depth + 1, pad)
  end
  for _, k in ipairs(keys) do
    if shown >= M.items then break end
    shown = shown + 1
    local ks = is_ident(k) and k or "[" .. format_value(ctx, k, depth + 1, pad) .. "]"
    parts[#parts + 1] = ks .. " = " .. format_value(ctx, rawget(t, k), depth + 1, pad)
  end
  if shown < total then
    parts[#parts + 1] = paint(ctx, "dim", ("… (%d more)"):format(total - shown))
  end
  ctx.path[t] = nil
  local s = one_line(ctx, parts, width() - #indent)
  if s then return s end
  return "{\n" .. pad .. table.concat(parts, ",\n" .. pad) .. "\n" .. indent .. "}"
end

function format_value(ctx, v, depth, indent)
  local tv = type(v)
  if tv == "string" then return paint(ctx, "string", quote(v)) end
  if tv == "number" then
    return paint(ctx, "number", math.type(v) == "integer" and ("%d"):format(v) or tostring(v))
  end
  if tv == "boolean" then return paint(ctx, "boolean", tostring(v)) end
  if tv == "nil" then return paint(ctx, "nil", "nil") end
  if v == core.null then return paint(ctx, "null", "null") end
  local show = pretty_method(v)
  if show then
    -- On an error, or a replacement that wants replacing too, show
    -- nothing of v: the point is to hide some of it.
    local ok, shown = pcall(show, v)
    if ok and shown ~= v and pretty_method(shown) == nil then
      return format_value(ctx, shown, depth, indent)
    end
    return paint(ctx, "object", "<" .. tv .. ">")
  end
  if has_tostring(v) then
    local ok, s = pcall(tostring, v)
    return paint(ctx, "object", ok and s or "<" .. type(v) .. ">")
  end
  if tv == "table" then
    if M.is_result(v) and depth == 0 then return M.result(v, ctx) end
    return format_table(ctx, v, depth, indent)
  end
  if tv == "function" then
    local ok, doc = pcall(require, "venueless.doc")
    local d = ok and doc.find(v)
    return paint(ctx, "func", d and ("<function %s>"):format(d.sig) or tostring(v))
  end
  return paint(ctx, "object", tostring(v))
end

---------------------------------------------------------------- results

-- A db.query result: an array of rows with a columns list.
function M.is_result(v)
  return type(v) == "table" and type(rawget(v, "columns")) == "table"
    and getmetatable(v) == nil
end

-- One cell as text: strings with controls escaped, NULL as null, the rest compact.
local function cell(ctx, v)
  if type(v) == "string" then return M.escape(v) end
  if v == nil or v == core.null then return paint(ctx, "null", "null") end
  local s = format_value({ color = ctx.color, path = {} }, v, 0, "")
  return (s:gsub("\n%s*", " "))
end

local function plural(n, word)
  return ("(%d %s%s)"):format(n, word, n == 1 and "" or "s")
end

-- Aligned columns with a header, like psql.
local function aligned(ctx, cols, cells, widths)
  local out, line = {}, {}
  for j, c in ipairs(cols) do
    line[j] = " " .. paint(ctx, "key", c) .. (" "):rep(widths[j] - dwidth(c)) .. " "
  end
  out[1] = table.concat(line, "|")
  for j in ipairs(cols) do line[j] = ("-"):rep(widths[j] + 2) end
  out[2] = table.concat(line, "+", 1, #cols)
  for _, row in ipairs(cells) do
    local l = {}
    for j, s in ipairs(row) do
      l[j] = " " .. s .. (" "):rep(widths[j] - dwidth(s)) .. " "
    end
    out[#out + 1] = table.concat(l, "|"):gsub("%s+$", "")
  end
  return out
end

-- One "column | value" block per row, like psql's \x; the header is as
-- wide as the widest line.
local function expanded(ctx, cols, cells)
  local kw, vw = 0, 0
  for _, c in ipairs(cols) do kw = math.max(kw, dwidth(c)) end
  for _, row in ipairs(cells) do
    for _, s in ipairs(row) do vw = math.max(vw, dwidth(s)) end
  end
  local out = {}
  for i, row in ipairs(cells) do
    local head = ("-[ RECORD %d ]"):format(i)
    out[#out + 1] = head .. ("-"):rep(kw + 3 + vw - #head)
    for j, c in ipairs(cols) do
      out[#out + 1] = paint(ctx, "key", c) .. (" "):rep(kw - dwidth(c)) .. " | " .. row[j]
    end
  end
  return out
end

-- A query result as a table; opts.expanded forces the layout.
function M.result(res, ctx, opts)
  ctx = ctx or { color = M.use_color(), path = {} }
  opts = opts or {}
  local cols = res.columns
  if #cols == 0 then return plural(res.count or 0, "row") end
  local cells, widths = {}, {}
  for j, c in ipairs(cols) do widths[j] = dwidth(c) end
  for i = 1, math.min(#res, M.rows) do
    local row = {}
    for j, c in ipairs(cols) do
      row[j] = cell(ctx, res[i][c])
      widths[j] = math.max(widths[j], dwidth(row[j]))
    end
    cells[i] = row
  end
  local total = 0
  for j in ipairs(cols) do total = total + widths[j] + 3 end
  local x = opts.expanded
  if x == nil then x = M.expanded end
  if x == nil then x = total > width() end
  local out = x and expanded(ctx, cols, cells) or aligned(ctx, cols, cells, widths)
  if x and #cells == 0 then out = {} end
  if #res > #cells then out[#out + 1] = ("… (%d more rows)"):format(#res - #cells) end
  out[#out + 1] = plural(#res, "row")
  return table.concat(out, "\n")
end

---------------------------------------------------------------- entry

-- format(v [, opts]) -> string: a top-level string as is, anything else
-- as the shell shows it. opts: color (default: a terminal, no NO_COLOR),
-- expanded (query results).
function M.format(v, opts)
  opts = opts or {}
  local ctx = { color = opts.color, path = {} }
  if ctx.color == nil then ctx.color = M.use_color() end
  if type(v) == "string" then return v end
  if M.is_result(v) then return M.result(v, ctx, opts) end
  return format_value(ctx, v, 0, "")
end

return M
