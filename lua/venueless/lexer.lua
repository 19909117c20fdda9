-- A Lua tokenizer for the shell: the completer reads expressions with
-- it, the REPL finds top-level locals, the printer checks which keys
-- are keywords. Tolerant of unfinished input (open strings, comments).
local M = {}

M.keywords = {
  "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
  "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return",
  "then", "true", "until", "while",
}
local is_keyword = {}
for _, k in ipairs(M.keywords) do is_keyword[k] = true end

function M.is_keyword(k)
  return is_keyword[k] == true
end

-- Length of the long bracket opening at i ("[[", "[==["), or nil.
local function long_open(s, i)
  local eq = s:match("^%[(=*)%[", i)
  return eq and #eq
end

-- Tokens of Lua source s: {type=, value=, s=, e=}; type is "name",
-- "keyword", "string", "number", "op" or "comment". A string, long
-- string or comment left open at the end has open = true.
function M.lex(s)
  local toks, i, n = {}, 1, #s
  local function add(type, value, a, b, open)
    toks[#toks + 1] = { type = type, value = value, s = a, e = b, open = open }
  end
  while i <= n do
    local c = s:sub(i, i)
    if c:match("%s") then
      i = s:find("[^%s]", i) or n + 1
    elseif s:sub(i, i + 1) == "--" then
      local lv = long_open(s, i + 2)
      if lv then
        local close = "]" .. ("="):rep(lv) .. "]"
        local b = select(2, s:find(close, i + 4 + lv, true))
        add("comment", nil, i, b or n, b == nil)
        i = (b or n) + 1
      else
        local b = s:find("\n", i, true) or n + 1
        add("comment", nil, i, b - 1)
        i = b
      end
    elseif c:match("[%a_]") then
      local w = s:match("^[%w_]+", i)
      add(is_keyword[w] and "keyword" or "name", w, i, i + #w - 1)
      i = i + #w
    elseif c:match("%d") or (c == "." and s:sub(i + 1, i + 1):match("%d")) then
      local num = s:match("^0[xX][%x%.]*[pP]?[%+%-]?%x*", i)
        or s:match("^[%d%.]+[eE][%+%-]?%d*", i) or s:match("^[%d%.]+", i)
      add("number", num, i, i + #num - 1)
      i = i + #num
    elseif c == '"' or c == "'" then
      local j, buf = i + 1, {}
      while j <= n do
        local d = s:sub(j, j)
        if d == "\\" then
          buf[#buf + 1] = s:sub(j, j + 1)
          j = j + 2
        elseif d == c or d == "\n" then
          break
        else
          buf[#buf + 1] = d
          j = j + 1
        end
      end
      local open = j > n or s:sub(j, j) == "\n"
      add("string", table.concat(buf), i, math.min(j, n), open)
      toks[#toks].quote = c
      i = j + 1
    elseif c == "[" and long_open(s, i) then
      local lv = long_open(s, i)
      local close = "]" .. ("="):rep(lv) .. "]"
      local b = select(2, s:find(close, i + 2 + lv, true))
      add("string", s:sub(i + 2 + lv, (b or n + #close) - #close), i, b or n, b == nil)
      i = (b or n) + 1
    else
      local op = s:match("^%.%.%.", i) or s:match("^[=~<>]=", i) or s:match("^%.%.", i)
        or s:match("^::", i) or s:match("^//", i) or s:match("^<<", i)
        or s:match("^>>", i) or c
      add("op", op, i, i + #op - 1)
      i = i + #op
    end
  end
  return toks
end

return M
