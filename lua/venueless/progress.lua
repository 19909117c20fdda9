-- Progress of a long run on stderr (results go to stdout): a bar with
-- count, rate and ETA on a terminal, a line every few seconds otherwise.
local core = require "venueless.core"

local M = {}

M.width = 30          -- characters of the bar
M.tty_every = 0.1     -- s between redraws on a terminal
M.line_every = 5      -- s between lines off a terminal

-- "m:ss", or "h:mm:ss" from an hour on.
local function fmt_eta(secs)
  secs = math.floor(secs + 0.5)
  if secs >= 3600 then
    return ("%d:%02d:%02d"):format(secs // 3600, secs // 60 % 60, secs % 60)
  end
  return ("%d:%02d"):format(secs // 60, secs % 60)
end

-- The bar or the line for done of total after elapsed seconds.
local function render(tty, what, done, total, elapsed)
  local rate = elapsed > 0 and done / elapsed or 0
  local eta = rate > 0 and fmt_eta((total - done) / rate) or "?"
  if tty then
    local fill = total > 0 and math.floor(M.width * done / total) or M.width
    return ("\r[%s%s] %d/%d %.1f/s eta %s\27[K"):format(("#"):rep(fill),
      ("."):rep(M.width - fill), done, total, rate, eta)
  end
  return ("%s: %d/%d sent, %.1f/s, eta %s\n"):format(what, done, total, rate, eta)
end

-- progress.start(total [, {what=, quiet=}]) -> update(done), finish():
-- what names the items in the off-terminal line ("connections: 3/9
-- sent, ..."); quiet shows nothing. A run too short to show anything
-- stays silent; once shown, the final count is always drawn.
function M.start(total, opts)
  opts = opts or {}
  local tty = core.isatty(2)
  local start = core.time("monotonic")
  local last, shown = tty and 0 or start, false
  local function update(done)
    if opts.quiet then return end
    local now = core.time("monotonic")
    if now - last < (tty and M.tty_every or M.line_every)
      and (done < total or not shown) then
      return
    end
    last, shown = now, true
    io.stderr:write(render(tty, opts.what or "progress", done, total, now - start))
  end
  local function finish()
    if tty and shown then io.stderr:write("\n") end
  end
  return update, finish
end

return M
