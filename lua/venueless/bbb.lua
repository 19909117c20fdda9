-- BigBlueButton servers: each active server's load (its cost, which the
-- venueless server balances new meetings by) from its getMeetings API,
-- computed as upstream's bbb_update_cost does (shared/reference/
-- commands.md), but every server at once with a timeout each, and each
-- failure kept to its server.
local core = require "venueless.core"
local crypto = require "venueless.crypto"
local db = require "venueless.db"
local http = require "venueless.http"
local xml = require "venueless.xml"

local M = {}

M.DEFAULT_TIMEOUT = 10	-- seconds per server; upstream waits forever

local INT_MAX = 2147483647	-- core_bbbserver.cost is an integer column

-- Python's split("/").
local function split(path)
  local out = {}
  for seg in (path .. "\0"):gmatch("([^/\0]*)[/\0]") do out[#out + 1] = seg end
  return out
end

-- urllib.parse.urljoin's path merge for a relative ref: the base's
-- directory (its path up to the last "/"), then ref, with the empty
-- segments in between dropped and "." and ".." resolved.
local function merge(bpath, ref)
  local segs = split(bpath)
  if segs[#segs] ~= "" then segs[#segs] = nil end
  local rsegs = split(ref)
  table.move(rsegs, 1, #rsegs, #segs + 1, segs)
  local out, last = {}, segs[#segs]
  for i, seg in ipairs(segs) do
    if seg == ".." then out[#out] = nil
    elseif seg ~= "." and (seg ~= "" or i == 1 or i == #segs) then
      out[#out + 1] = seg
    end
  end
  if last == "." or last == ".." then out[#out + 1] = "" end
  local path = table.concat(out, "/")
  return path:sub(1, 1) == "/" and path or "/" .. path
end

-- urljoin(base, ref) for a relative ref ("api/x?q"): a base without a
-- trailing slash loses its last path segment; its query and fragment go.
-- nil when base is not an http(s) URL.
local function urljoin(base, ref)
  local scheme, host, bpath = base:match("^(%a[%w+.-]*)(://[^/?#]+)([^?#]*)")
  scheme = scheme and scheme:lower()
  if scheme ~= "http" and scheme ~= "https" then return nil end
  local rpath, rest = ref:match("^([^?#]*)(.*)$")
  return scheme .. host .. merge(bpath, rpath) .. rest
end
M._urljoin = urljoin	-- for tests

-- The getMeetings request of a server: its checksum is the SHA-1 of the
-- call name and the secret; the parameter list is empty, hence "?&".
function M.request_url(url, secret)
  local sum = crypto.hex(crypto.sha1("getMeetings" .. secret))
  local u = urljoin(url, "api/getMeetings?&checksum=" .. sum)
  if not u then return nil, "not an http(s) URL", "invalid" end
  return u
end

-- A URL as it may be shown: a password in it masked.
local function shown_url(url)
  return (url:gsub("^(%a[%w+.-]*://[^/?#@]-:)[^/?#@]*@", "%1***@"))
end

-- The child elements of el named tag, in order.
local function children(el, tag)
  local out = {}
  for _, c in ipairs(el or {}) do
    if type(c) == "table" and c.tag == tag then out[#out + 1] = c end
  end
  return out
end

-- The text of el's first child named tag, trimmed; nil if there is none.
local function text_of(el, tag)
  local c = children(el, tag)[1]
  if not c then return nil end
  local t = {}
  for _, s in ipairs(c) do if type(s) == "string" then t[#t + 1] = s end end
  return (table.concat(t):match("^%s*(.-)%s*$"))
end

-- A meeting's count field as a whole number (at most 9 digits), or nil, why.
local function count(m, tag)
  local s = text_of(m, tag)
  if s == nil then return nil, "a meeting has no " .. tag end
  if not s:match("^%d+$") or #s > 9 then
    return nil, ("a meeting's %s is not a count: %q"):format(tag, s)
  end
  return tonumber(s)
end

-- The cost of one meeting: 10 + 10 * participants * videos
-- + participants * voice participants.
local function meeting_cost(m)
  local p, v, a, err
  p, err = count(m, "participantCount")
  if p then v, err = count(m, "videoCount") end
  if v then a, err = count(m, "voiceParticipantCount") end
  if not a then return nil, err end
  return 10 + 10.0 * p * v + 1.0 * p * a	-- floats: no wrap-around
end

-- The cost of a getMeetings answer: cost, number of meetings; or nil,
-- message, code ("invalid" for malformed XML or counts, "failed" for a
-- returncode other than SUCCESS).
function M.cost(text)
  local root, err = xml.parse(text)
  if not root then return nil, "malformed XML: " .. err, "invalid" end
  if root.tag ~= "response" then
    return nil, ("malformed answer: <%s>, not <response>"):format(root.tag), "invalid"
  end
  local rc = text_of(root, "returncode")
  if rc ~= "SUCCESS" then
    local why = text_of(root, "message") or text_of(root, "messageKey")
    return nil, ("returncode %s%s"):format(rc and ("%q"):format(rc) or "missing",
      why and why ~= "" and ": " .. why or ""), "failed"
  end
  local total, meetings = 0, children(children(root, "meetings")[1], "meeting")
  for _, m in ipairs(meetings) do
    local c, why = meeting_cost(m)
    if not c then return nil, "malformed answer: " .. why, "invalid" end
    total = total + c
  end
  if total > INT_MAX then return nil, "cost out of range: " .. total, "invalid" end
  return math.tointeger(total), #meetings
end

-- One server's outcome from its HTTP result.
local function outcome(s, res)
  local r = { id = s.id, url = shown_url(s.url), previous = s.cost }
  if res.error then
    r.error, r.code = res.error, res.code
  elseif res.status ~= 200 then
    r.error, r.code = ("HTTP status %d"):format(res.status), "http"
  else
    local cost, n, code = M.cost(res.body)
    if cost then r.cost, r.meetings = cost, n else r.error, r.code = n, code end
  end
  return r
end

-- A PostgreSQL array literal of the values (every element quoted).
local function array(values)
  local out = {}
  for i, v in ipairs(values) do
    out[i] = '"' .. tostring(v):gsub('[\\"]', "\\%0") .. '"'
  end
  return "{" .. table.concat(out, ",") .. "}"
end

local ACTIVE = "SELECT id::text AS id, url, secret, cost FROM core_bbbserver"
  .. " WHERE active ORDER BY url, id"

-- Only the cost column, every updated server in one statement.
local UPDATE = "UPDATE core_bbbserver AS s SET cost = u.cost"
  .. " FROM unnest($1::uuid[], $2::integer[]) AS u(id, cost) WHERE s.id = u.id"

-- Query every active server concurrently and write the costs of those
-- that answered. Returns the list of per-server results (ordered by url):
-- {id=, url=, previous=, cost=, meetings=} or {id=, url=, previous=,
-- error=, code=}. Raises on database failures and interrupts; a server's
-- failure is only its result.
function M.update_cost(opts)
  opts = opts or {}
  local timeout = opts.timeout or M.DEFAULT_TIMEOUT
  if type(timeout) ~= "number" or timeout <= 0 then
    error("bad argument to 'update_cost' (timeout: seconds > 0 expected)", 2)
  end
  local servers = db.query(ACTIVE)
  local reqs, results, index = {}, {}, {}
  for i, s in ipairs(servers) do
    local u, err, code = M.request_url(s.url, s.secret)
    if u then
      reqs[#reqs + 1] = { url = u }
      index[#reqs] = i
    else
      results[i] = { id = s.id, url = shown_url(s.url), previous = s.cost,
        error = err, code = code }
    end
  end
  for k, res in ipairs(http.get_many(reqs, { timeout = timeout })) do
    results[index[k]] = outcome(servers[index[k]], res)
  end
  local ids, costs = {}, {}
  for _, r in ipairs(results) do
    if r.cost then ids[#ids + 1], costs[#costs + 1] = r.id, r.cost end
  end
  core.check_interrupt()
  if #ids > 0 then db.exec(UPDATE, array(ids), array(costs)) end
  return results
end

M._doc = {
  update_cost = { sig = "bbb.update_cost{timeout=}",
    text = "query every active BBB server at once (timeout seconds each, 10) and write their costs; per-server results" },
  request_url = { sig = "bbb.request_url(url, secret)",
    text = "the getMeetings URL of a server (urljoin, SHA-1 checksum); nil, msg if not http(s)" },
  cost = { sig = "bbb.cost(xml_text)",
    text = "cost, meetings of a getMeetings answer; nil, msg, code if malformed or not SUCCESS" },
}

return M
