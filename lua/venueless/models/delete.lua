-- STUB, to be replaced by the cascade collector (another branch writes
-- the real venueless.models.delete, following each on_delete). This one
-- only deletes the selected rows themselves, for the model layer's own
-- tests: delete.run(meta, select_pks_sql, params, opts) -> {[table] = n}
-- (opts.dry_run: the rows it would delete, nothing written).
local db = require "venueless.db"

local D = {}

function D.run(meta, sql, params, opts)
  local pk
  for _, f in ipairs(meta.fields) do
    if f.primary_key then pk = f.column end
  end
  local st = ('"%s" IN (%s)'):format(pk, sql)
  local p = params or { n = 0 }
  if type(opts) == "table" and opts.dry_run then
    local r = db.query(('SELECT count(*) AS n FROM "%s" WHERE %s'):format(meta.table, st),
      table.unpack(p, 1, p.n))
    return { [meta.table] = r[1].n }
  end
  local n = db.exec(('DELETE FROM "%s" WHERE %s'):format(meta.table, st), table.unpack(p, 1, p.n))
  return { [meta.table] = n }
end

return D
