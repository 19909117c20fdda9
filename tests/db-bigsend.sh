# Big parameters (over 1 MB, sent with libpq in blocking mode: its
# non-blocking flush is quadratic in the size, see bench/bigparam) arrive
# byte for byte through query, exec and rows; SIGTERM while the send is
# blocked (the backend stopped, its socket full) ends it at once with
# exit 130, and the next query reconnects.
. "$(dirname "$0")/lib.sh"
vl_pg_start

vl_exit 0 "$VENUELESS" shell -e '
local crypto = require "venueless.crypto"
local t = {}
for i = 1, 300000 do t[i] = string.char(65 + i % 26, 97 + i * 7 % 26) .. i end
local s = table.concat(t)	-- about 2.2 MB
assert(#s > 2 * 1048576)
local function sum(sql, ...) return db.query(sql, ...)[1].h end
local want = crypto.hex(crypto.sha256(s))
local q = "SELECT encode(sha256(convert_to($1, $$UTF8$$)), $$hex$$) AS h"
assert(sum(q, s) == want, "query")
for r in db.rows(q, s) do assert(r.h == want, "rows") end
db.exec("CREATE TEMP TABLE big (v text)")
assert(db.exec("INSERT INTO big VALUES ($1), ($1)", s) == 2, "exec")
assert(sum("SELECT encode(sha256(convert_to(v, $$UTF8$$)), $$hex$$) AS h FROM big LIMIT 1") == want)
assert(db.exec("SELECT 1 WHERE $1 <> $$$$", s) == 1, "exec count")
return db.query("SELECT length($1) AS n", s .. "é")[1].n == #s + 1'
vl_eq true "$VL_OUT" "big parameters round trip"

# The backend stops reading: the send blocks, SIGTERM comes 1 s later.
cat >"$VL_TMP/stuck.lua" <<'LUA'
local core = require "venueless.core"
local pid = db.backend_pid()
io.open(os.getenv("VL_TMP") .. "/backend", "w"):write(pid):close()
os.execute("kill -STOP " .. pid)
local big = ("x"):rep(64 * 1048576)
os.execute(("(sleep 1; kill -TERM %d) &"):format(core.getpid()))
local t = core.time("monotonic")
local ok, e = pcall(db.query, "SELECT length($1)", big)
local took = core.time("monotonic") - t
os.execute("kill -CONT " .. pid)
core.clear_interrupt()
print(ok, core.is_error(e) and e.code, took < 4 or took)
print(db.query("SELECT 6 * 7 AS n")[1].n, db.backend_pid() ~= pid)
LUA
vl_exit 0 timeout -s KILL 30 "$VENUELESS" shell "$VL_TMP/stuck.lua"
vl_eq $'false\tinterrupted\ttrue\n42\ttrue' "$VL_OUT" "SIGTERM in a blocked send ($VL_ERR)"
echo "db-bigsend: ok"
