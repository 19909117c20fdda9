-- venueless shell FILE [ARGS...] and a script piped to venueless shell:
-- loaded only then, so that shell -e compiles less (bench/startup).
local core = require "venueless.core"

local M = {}

-- Run args[1] (a file, "-" for stdin, stdin when there is none) through
-- call (the shell's), with arg set as lua.c does.
function M.run(call, args)
  local path = args[1] or "-"
  local script = { [0] = path }
  table.move(args, 2, #args, 1, script)
  _G.arg = script
  local f, err
  if path == "-" then
    -- a shebang line is skipped, as loadfile does for files
    local src = io.stdin:read("a"):gsub("^#[^\n]*", "")
    f, err = load(src, "=stdin", "t")
  else
    f, err = loadfile(path, "t")
  end
  if not f then core.fail(err) end
  call(f, table.unpack(script))
end

return M
