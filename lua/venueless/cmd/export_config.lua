-- venueless export_config WORLD_ID [--no-secrets] [-o FILE]: the world
-- in the format import_config reads, on stdout or in FILE.
local cli = require "venueless.cli"
local json = require "venueless.json"

local M = {}

-- The file may hold the world's JWT secrets: it is made 0600 and
-- replaced whole, so a failed export leaves an earlier one in place.
local function write_file(path, text)
  local ok, err = require("venueless.core").write_private(path, text)
  if not ok then cli.fail("cannot write " .. err) end
end

function M.run(opts, args)
  cli.max_args(args, 1)
  if args[1] == nil then cli.usage("expected a WORLD_ID argument") end
  cli.connect_db("export_config")
  local w, msg, code = require("venueless.worlds").get(args[1])
  if w == nil then cli.fail(msg, nil, code) end
  local doc
  doc, msg, code = w:export({ secrets = not opts["no-secrets"] })
  if doc == nil then cli.fail(msg, nil, code) end
  local text = json.encode(doc, { indent = true }) .. "\n"
  if opts.output and opts.output ~= "-" then
    write_file(opts.output, text)
  else
    io.stdout:write(text)
  end
end

return M
