-- The shell's printer: nested tables with sorted keys, depth and item
-- limits and cycles marked; query results as aligned tables (expanded
-- like psql's \x when rows are wide); model objects as their fields,
-- querysets (one statement, at most M.queryset_rows) and lists of objects
-- as result tables; objects through __pretty (what to show instead) or
-- __tostring; colours on a terminal unless NO_COLOR is set.
local core = require "venueless.core"
local lexer = require "venueless.lexer"

local M = {}

M.depth = 4         -- nesting shown before {…}
M.items = 50        -- entries shown per table before "… (N more)"
M.rows = 200        -- rows shown of a query result
M.queryset_rows = 20 -- rows a printed queryset fetches and shows
M.expanded = nil    -- true/false forces result layout; nil: by width
M.width = nil       -- columns; nil: the terminal's, else COLUMNS, else 80
M.result_format = "aligned" -- query results: aligned, csv, json or ndjson
M.FORMATS = { aligned = true, csv = true, json = true, ndjson = true }
M.pack_item = 24    -- widest item of a scalar array packed several per line

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

local format_value, is_row_object, row_object

-- A model value's kind and class (venueless.models.kind), without
-- loading the model layer when nothing made a model value yet.
local function model_kind(v)
  local models = package.loaded["venueless.models"]
  if models and type(v) == "table" then return models.kind(v) end
end

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
  if #keys == 0 and M.scalars(t, n) then
    return "{\n" .. pad .. table.concat(M.pack(parts, width() - #pad), ",\n" .. pad)
      .. "\n" .. indent .. "}"
  end
  return "{\n" .. pad .. table.concat(parts, ",\n" .. pad) .. "\n" .. indent .. "}"
end

-- Are t[1..n] all short scalars (numbers, booleans, null, strings of
-- at most M.pack_item columns)?
function M.scalars(t, n)
  for i = 1, n do
    local v = rawget(t, i)
    local tv = type(v)
    if tv == "string" then
      if dwidth(v) + 2 > M.pack_item then return false end
    elseif tv ~= "number" and tv ~= "boolean" and v ~= core.null then
      return false
    end
  end
  return true
end

-- Pack formatted items into lines of at most room columns ("a, b, c"
-- each, the separators that join them not counted); returns the lines.
function M.pack(parts, room)
  local lines, cur, used = {}, {}, 0
  for _, p in ipairs(parts) do
    local w = dwidth(p) + 2
    if #cur > 0 and used + w > room then
      lines[#lines + 1] = table.concat(cur, ", ")
      cur, used = {}, 0
    end
    cur[#cur + 1] = p
    used = used + w
  end
  if #cur > 0 then lines[#lines + 1] = table.concat(cur, ", ") end
  return lines
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
  if depth == 0 and model_kind(v) then return M.model(v, ctx) end
  if depth == 0 and is_row_object(v) then return row_object(v, ctx) end
  if has_tostring(v) then
    local ok, s = pcall(tostring, v)
    return paint(ctx, "object", ok and s or "<" .. type(v) .. ">")
  end
  if tv == "table" then
    if M.is_result(v) and depth == 0 then return M.result(v, ctx) end
    if depth == 0 and M.objects_of(v) then return M.result(M.rows_of(v), ctx) end
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

-- A db.query result (its metatable is named venueless.db.result), or a
-- plain table like one: an array of rows with a columns list.
function M.is_result(v)
  if type(v) ~= "table" or type(rawget(v, "columns")) ~= "table" then return false end
  local mt = getmetatable(v)
  return mt == nil or type(mt) == "table" and rawget(mt, "__name") == "venueless.db.result"
end

-- How a NULL cell shows; a string cell that reads the same is quoted.
M.NULL = "NULL"

-- One cell as text: strings with controls escaped, NULL as NULL, the rest compact.
local function cell(ctx, v)
  if v == M.NULL then return quote(v) end
  if type(v) == "string" then return M.escape(v) end
  if v == nil or v == core.null then return paint(ctx, "null", M.NULL) end
  local s = format_value({ color = ctx.color, path = {} }, v, 0, "")
  return (s:gsub("\n%s*", " "))
end

local function plural(n, word)
  return ("(%d %s%s)"):format(n, word, n == 1 and "" or "s")
end

-- s padded to w columns: on the left when right is set, else on the right.
local function padded(s, w, right)
  local fill = (" "):rep(w - dwidth(s))
  if right then return fill .. s end
  return s .. fill
end

-- Aligned columns with a header, like psql; right[j]: column j holds
-- numbers, right-aligned.
local function aligned(ctx, cols, cells, widths, right)
  local out, line = {}, {}
  for j, c in ipairs(cols) do
    line[j] = " " .. padded(paint(ctx, "key", c), widths[j], right[j]) .. " "
  end
  out[1] = table.concat(line, "|")
  for j in ipairs(cols) do line[j] = ("-"):rep(widths[j] + 2) end
  out[2] = table.concat(line, "+", 1, #cols)
  for _, row in ipairs(cells) do
    local l = {}
    for j, s in ipairs(row) do
      l[j] = " " .. padded(s, widths[j], right[j]) .. " "
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
  local cells, widths, right = {}, {}, {}
  for j, c in ipairs(cols) do widths[j] = dwidth(c) end
  for i = 1, math.min(#res, M.rows) do
    local row = {}
    for j, c in ipairs(cols) do
      local v = res[i][c]
      row[j] = cell(ctx, v)
      widths[j] = math.max(widths[j], dwidth(row[j]))
      -- a column is numeric when its values are numbers (numeric's
      -- decimal strings too) or NULL
      if type(v) == "number" or type(v) == "string" and v:match("^%-?%d+%.%d+$") then
        if right[j] == nil then right[j] = true end
      elseif v ~= nil and v ~= core.null then
        right[j] = false
      end
    end
    cells[i] = row
  end
  local total = 0
  for j in ipairs(cols) do total = total + widths[j] + 3 end
  local x = opts.expanded
  if x == nil then x = M.expanded end
  if x == nil then x = total > width() end
  local out = x and expanded(ctx, cols, cells) or aligned(ctx, cols, cells, widths, right)
  if x and #cells == 0 then out = {} end
  if #res > #cells then out[#out + 1] = ("… (%d more rows)"):format(#res - #cells) end
  if res.more then out[#out + 1] = res.more else out[#out + 1] = plural(#res, "row") end
  return table.concat(out, "\n")
end

-- A cell's value for csv and json: NULL as json.null (csv: empty),
-- tables (decoded jsonb) as they are, anything else its tostring.
local function plain(v)
  local tv = type(v)
  if v == nil then return core.null end
  if tv == "string" or tv == "number" or tv == "boolean" or v == core.null then return v end
  if tv == "table" and not has_tostring(v) and not pretty_method(v) then return v end
  return tostring(v)
end

-- A CSV field (RFC 4180): quoted when it holds a comma, a quote, a
-- line break or edge blanks.
local function csv_field(v)
  if v == core.null then return "" end
  local json = require "venueless.json"
  local s = type(v) == "table" and json.encode(v) or tostring(v)
  if s:find('[,"\r\n]') or s:find("^%s") or s:find("%s$") then
    return '"' .. s:gsub('"', '""') .. '"'
  end
  return s
end

-- Row i of res as a JSON object, its keys in column order.
local function json_row(res, i)
  local json = require "venueless.json"
  local o = {}
  for _, c in ipairs(res.columns) do o[c] = plain(res[i][c]) end
  return json.encode(json.ordered(o, res.columns))
end

-- A query result in format fmt (csv, json, ndjson: every row, no
-- footer, no colours); aligned is M.result's.
function M.result_as(res, fmt, ctx, opts)
  if fmt == nil or fmt == "aligned" then return M.result(res, ctx, opts) end
  local out = {}
  if fmt == "csv" then
    local head = {}
    for j, c in ipairs(res.columns) do head[j] = csv_field(c) end
    out[1] = table.concat(head, ",")
    for i = 1, #res do
      local l = {}
      for j, c in ipairs(res.columns) do l[j] = csv_field(plain(res[i][c])) end
      out[#out + 1] = table.concat(l, ",")
    end
    return table.concat(out, "\n")
  end
  for i = 1, #res do out[i] = json_row(res, i) end
  if fmt == "ndjson" then return table.concat(out, "\n") end
  if fmt == "json" then return "[" .. table.concat(out, ",") .. "]" end
  error("unknown result format " .. tostring(fmt), 2)
end

---------------------------------------------------------------- models

-- Is a field or column named like a credential (the shell's secret
-- patterns: password, secret, token, private_key, ...)? Printed objects
-- and rows show *** for its value; reading the field gives the real one.
function M.secret_name(name)
  return require("venueless.repl").is_secret(name)
end

local MASK = setmetatable({}, { __tostring = function() return "***" end })

local function masked(name, v)
  if v ~= nil and v ~= core.null and M.secret_name(name) then return MASK end
  return v
end


-- The class of a non-empty list whose items are all objects of one
-- model (User:list()), or nil.
function M.objects_of(t)
  if getmetatable(t) ~= nil or rawget(t, 1) == nil then return nil end
  local cls
  for k, v in next, t do
    if math.type(k) ~= "integer" then return nil end
    local kind, c = model_kind(v)
    if kind ~= "object" or (cls and c ~= cls) then return nil end
    cls = c
  end
  return cls
end

-- Objects as a query result: a column per field (by attname), NULL as
-- null; more: a line to add after the rows.
function M.rows_of(list, more)
  local cls = select(2, model_kind(list[1]))
  local O = require "venueless.models.object"
  local res = { columns = {}, more = more }
  for i, f in ipairs(cls._meta.fields) do res.columns[i] = f.attname end
  for i, obj in ipairs(list) do
    local row = {}
    for k, v in pairs(O.row(obj)) do row[k] = masked(k, v) end
    for _, c in ipairs(res.columns) do if row[c] == nil then row[c] = core.null end end
    res[i] = row
  end
  return res
end

-- "key = value" lines under a header, keys aligned; fields: {{k, v}, ...}.
local function field_lines(ctx, header, fields)
  local w = 0
  for _, kv in ipairs(fields) do w = math.max(w, #kv[1]) end
  local out, pad = { paint(ctx, "object", header) }, "  " .. (" "):rep(w + 3)
  for _, kv in ipairs(fields) do
    out[#out + 1] = "  " .. paint(ctx, "key", kv[1]) .. (" "):rep(w - #kv[1]) .. " = "
      .. format_value(ctx, masked(kv[1], kv[2]), 1, pad)
  end
  return table.concat(out, "\n")
end

-- A venueless.model row object (a world, a room): its metatable lists
-- _fields and walks them with __pairs.
function is_row_object(v)
  local mt = getmetatable(v)
  return type(v) == "table" and type(mt) == "table" and type(rawget(mt, "_fields")) == "table"
    and rawget(mt, "__pairs") ~= nil and rawget(mt, "__tostring") ~= nil
end

-- Its tostring, then its non-NULL fields in table order.
function row_object(v, ctx)
  local ok, header = pcall(tostring, v)
  local fields = {}
  for k, x in pairs(v) do fields[#fields + 1] = { k, x } end
  return field_lines(ctx, ok and header or "<object>", fields)
end

-- An object: its label and key, then one "field = value" line per field
-- in Django's order (NULL as nil), relations not fetched.
local function object(obj, cls, ctx)
  local row = require("venueless.models.object").row(obj)
  local pk = row[cls._pk.attname]
  local fields = {}
  for i, f in ipairs(cls._meta.fields) do fields[i] = { f.attname, row[f.attname] } end
  return field_lines(ctx, ("<%s %s>"):format(cls._label,
    pk == nil and "unsaved" or M.escape(tostring(pk))), fields)
end

-- A model class, object or queryset at the top level. A queryset runs
-- once, for at most M.queryset_rows rows (one more tells whether there
-- are more).
function M.model(v, ctx)
  local kind, cls = model_kind(v)
  if kind == "object" then return object(v, cls, ctx) end
  if kind == "class" then
    return paint(ctx, "object", ("<model %s %s, table %s>"):format(cls._name, cls._label,
      cls._meta.table)) .. ("\n  help(%s) lists its fields, relations and methods"):format(cls._name)
  end
  local n = M.queryset_rows
  local lim = require("venueless.models.queryset").describe(v).limit
  local list = v:limit(lim and math.min(lim, n + 1) or n + 1):list()
  local more = #list > n and ("… more rows (:count() counts them)") or nil
  if more then list[#list] = nil end
  if #list == 0 then return ("<queryset %s: no rows>"):format(cls._label) end
  return M.result_as(M.rows_of(list, more), M.result_format, ctx)
end

---------------------------------------------------------------- entry

-- format(v [, opts]) -> string: a top-level string as is, anything else
-- as the shell shows it. opts: color (default: a terminal, no NO_COLOR),
-- expanded (query results), format (of query results: aligned, csv,
-- json, ndjson; default M.result_format).
function M.format(v, opts)
  opts = opts or {}
  local ctx = { color = opts.color, path = {} }
  if ctx.color == nil then ctx.color = M.use_color() end
  local fmt = opts.format or M.result_format
  if type(v) == "string" then return v end
  if M.is_result(v) then return M.result_as(v, fmt, ctx, opts) end
  if type(v) == "table" and M.objects_of(v) then
    return M.result_as(M.rows_of(v), fmt, ctx, opts)
  end
  return format_value(ctx, v, 0, "")
end

return M
