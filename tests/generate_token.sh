# generate_token against a throwaway PostgreSQL: upstream's links and
# core_shorttoken rows, the JWT checked by PyJWT, every --trait kept, the
# stored expiry equal to exp, --count N in one statement, the refusals
# (unknown world, no domain, no JWT_secrets) in one line, no Redis needed.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
"$PY" -c 'import jwt' 2>/dev/null || vl_skip "python3-jwt not installed"
V=$VENUELESS

# Usage errors, before anything connects.
vl_exit 2 "$V" generate_token
vl_contains "$VL_ERR" "venueless: generate_token: expected a WORLD_ID argument"
vl_exit 2 "$V" generate_token --trait a b demo
vl_eq "venueless: generate_token: expected one WORLD_ID, got b demo (one trait per --trait: --trait a --trait b)" \
    "$(echo "$VL_ERR" | head -1)" "--trait a b"
vl_exit 2 "$V" generate_token demo --days 0
vl_contains "$VL_ERR" '--days: expected an integer from 1 to 36500, not "0"'
vl_exit 2 "$V" generate_token demo --count 100001
vl_contains "$VL_ERR" '--count: expected an integer from 1 to 100000, not "100001"'

vl_pg_start
vl_redis_start
"$V" migrate -v 0 || vl_fail "migrate"
"$V" create_world --id demo --title Demo --domain demo.example.org >/dev/null || vl_fail "create demo"
"$V" create_world --id nodomain --title 'No domain' --domain '' >/dev/null || vl_fail "create nodomain"
"$V" create_world --id nosecret --title 'No secret' --domain nosecret.example.org >/dev/null ||
    vl_fail "create nosecret"
vl_psql -c "update core_world set config = '{\"JWT_secrets\": []}' where id = 'nosecret'"
secret=$(vl_psql -c "select config->'JWT_secrets'->0->>'secret' from core_world where id = 'demo'")

# No Redis: generate_token never talks to it.
export VENUELESS_REDIS_URLS="unix://$VL_TMP/nowhere.sock?db=0"

# check JWT DAYS TRAITS_JSON: the reference's payload, verified by PyJWT.
check() {
	"$PY" - "$1" "$secret" "$2" "$3" <<'PY' || vl_fail "token: $1"
import base64, json, sys, time, uuid, jwt
tok, secret, days, traits = sys.argv[1], sys.argv[2], int(sys.argv[3]), json.loads(sys.argv[4])
h64, p64, _ = tok.split(".")
pad = lambda s: s + "=" * (-len(s) % 4)
assert base64.urlsafe_b64decode(pad(h64)) == b'{"alg":"HS256","typ":"JWT"}'
order = json.loads(base64.urlsafe_b64decode(pad(p64)), object_pairs_hook=lambda kv: [k for k, _ in kv])
assert order == ["iss", "aud", "exp", "iat", "uid", "traits"], order
p = jwt.decode(tok, secret, algorithms=["HS256"], audience="venueless", issuer="any")
assert p["exp"] - p["iat"] == days * 86400, p
assert abs(p["iat"] - time.time()) < 120, p
assert uuid.UUID(p["uid"]).version == 4
assert p["traits"] == traits, p["traits"]
PY
}

# exp_of JWT: the exp claim.
exp_of() {
	"$PY" -c 'import jwt, sys; print(jwt.decode(sys.argv[1], options={"verify_signature": False})["exp"])' "$1"
}

# --- One link: upstream's line, its row, the stored expiry exactly exp.
vl_exit 0 "$V" generate_token demo
vl_eq "" "$VL_ERR" "nothing on stderr"
vl_eq 1 "$(echo "$VL_OUT" | wc -l)" "one line"
short=${VL_OUT#https://demo.example.org/login/}
printf '%s' "$short" | grep -Eqx '[A-Za-z0-9]{24}' || vl_fail "short link: $VL_OUT"
row=$(vl_psql -c "select world_id, long_token, extract(epoch from expires)::bigint,
    extract(epoch from expires) = floor(extract(epoch from expires))
    from core_shorttoken where short_token = '$short'")
vl_eq demo "$(echo "$row" | cut -d'|' -f1)" "row world"
jwt=$(echo "$row" | cut -d'|' -f2)
check "$jwt" 90 '[]'
vl_eq "$(exp_of "$jwt")|t" "$(echo "$row" | cut -d'|' -f3,4)" "stored expires = exp"

# --- Every --trait counts (upstream kept the last), --days.
vl_exit 0 "$V" generate_token --trait speaker demo --trait 'moderator:room 1' --days 3
short=${VL_OUT#https://demo.example.org/login/}
jwt=$(vl_psql -c "select long_token from core_shorttoken where short_token = '$short'")
check "$jwt" 3 '["speaker", "moderator:room 1"]'
vl_eq "$(exp_of "$jwt")" "$(vl_psql -c "select extract(epoch from expires)::bigint
    from core_shorttoken where short_token = '$short'")" "expires = exp with --days"

# --- --raw: the JWT in the URL, no row.
rows=$(vl_psql -c "select count(*) from core_shorttoken")
vl_exit 0 "$V" generate_token demo --raw --trait admin
case "$VL_OUT" in https://demo.example.org/\#token=*) ;; *) vl_fail "raw link: $VL_OUT" ;; esac
check "${VL_OUT#https://demo.example.org/#token=}" 90 '["admin"]'
vl_eq "$rows" "$(vl_psql -c "select count(*) from core_shorttoken")" "--raw stores nothing"
vl_exit 0 "$V" generate_token demo --raw --count 3
vl_eq 3 "$(echo "$VL_OUT" | grep -c '^https://demo.example.org/#token=')" "three raw links"
vl_eq "$rows" "$(vl_psql -c "select count(*) from core_shorttoken")" "--raw --count stores nothing"

# --- --count 5000: one INSERT, as many statements as for one link.
LOG=$VL_TMP/pg/log
# statements CMD...: the statements the server logged while CMD ran.
statements() {
	local before after
	before=$(grep -c 'LOG:  \(statement\|execute\)' "$LOG")
	PGOPTIONS='-c log_statement=all' "$@" >"$VL_TMP/out" 2>"$VL_TMP/err" ||
	    vl_fail "$*: $(cat "$VL_TMP/err")"
	after=$(grep -c 'LOG:  \(statement\|execute\)' "$LOG")
	echo $((after - before))
}
inserts_before=$(grep -c 'INSERT INTO core_shorttoken' "$LOG")
one=$(statements "$V" generate_token demo)
many=$(statements "$V" generate_token demo --count 5000 --trait attendee)
vl_eq "$one" "$many" "statements for 1 and 5000 links"
vl_eq 2 $(($(grep -c 'INSERT INTO core_shorttoken' "$LOG") - inserts_before)) "one INSERT each"
[ "$one" -gt 0 ] && [ "$one" -le 5 ] || vl_fail "statements for one link: $one"
sed 's,^https://demo.example.org/login/,,' "$VL_TMP/out" >"$VL_TMP/shorts"
vl_eq 5000 "$(grep -Ecx '[A-Za-z0-9]{24}' "$VL_TMP/shorts")" "5000 short links"
vl_eq 5000 "$(sort -u "$VL_TMP/shorts" | wc -l)" "5000 distinct"
# every row of the batch: the printed short token, one expiry, its JWT's exp
vl_psql -c "select short_token || ' ' || long_token || ' ' || extract(epoch from expires)::bigint
    from core_shorttoken order by id desc limit 5000" >"$VL_TMP/rows"
"$PY" - "$VL_TMP/shorts" "$VL_TMP/rows" "$secret" <<'PY' || vl_fail "the 5000 rows"
import sys, jwt
shorts = set(open(sys.argv[1]).read().split())
rows = [l.split() for l in open(sys.argv[2])]
assert {r[0] for r in rows} == shorts, "rows are the printed links"
uids = set()
for short, tok, expires in rows:
    p = jwt.decode(tok, sys.argv[3], algorithms=["HS256"], audience="venueless", issuer="any")
    assert p["exp"] == int(expires), (p["exp"], expires)
    assert p["traits"] == ["attendee"]
    uids.add(p["uid"])
assert len(uids) == 5000, "one uid per link"
PY

# --- --json: one line, the links and their short tokens.
vl_exit 0 "$V" generate_token demo --count 2 --trait a --json
vl_eq 1 "$(echo "$VL_OUT" | wc -l)" "--json is one line"
"$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
assert list(d) == ["world", "traits", "days", "raw", "links", "short_tokens"], list(d)
assert d["world"] == "demo" and d["traits"] == ["a"] and d["days"] == 90 and d["raw"] is False
assert [l.rsplit("/", 1)[1] for l in d["links"]] == d["short_tokens"] and len(d["links"]) == 2
' "$VL_OUT" || vl_fail "--json: $VL_OUT"

# --- Refusals: one line, exit 1, nothing stored.
rows=$(vl_psql -c "select count(*) from core_shorttoken")
vl_exit 1 "$V" generate_token nosuch
vl_eq "venueless: generate_token: world nosuch does not exist" "$VL_ERR"
vl_exit 1 "$V" generate_token nodomain
vl_eq "venueless: generate_token: world nodomain has no domain: its links would have no host" "$VL_ERR"
vl_exit 1 "$V" generate_token nosecret
vl_eq "venueless: generate_token: world nosecret has no JWT secret" "$VL_ERR"
vl_psql -c "update core_world set config = '{}' where id = 'nosecret'"
vl_exit 1 "$V" generate_token nosecret --raw
vl_eq "venueless: generate_token: world nosecret has no JWT secret" "$VL_ERR"
vl_eq "" "$VL_OUT" "nothing printed on a refusal"
vl_eq "$rows" "$(vl_psql -c "select count(*) from core_shorttoken")" "refusals store nothing"

# --- The Lua API: links and the rows, in the same order; misuse raises.
vl_exit 0 "$V" shell -e '
local w = assert(worlds.get("demo"))
local links, rows = assert(w:token{ traits = { "x" }, count = 3, days = 1 })
assert(#links == 3 and #rows == 3)
for i, r in ipairs(rows) do
  assert(links[i] == "https://demo.example.org/login/" .. r.short_token, links[i])
  assert(r.world_id == "demo" and r.long_token:find("^ey"))
end
local raw, none = assert(w:token{ raw = true })
assert(raw[1]:find("^https://demo.example.org/#token=ey") and #none == 0)
assert(not pcall(w.token, w, { count = 0 }))
assert(not pcall(w.token, w, { traits = { 1 } }))
assert(not pcall(w.token, w, { colour = "red" }))
local nd = assert(worlds.get("nodomain"))
local l, msg, code = nd:token()
assert(l == nil and code == "nodomain", msg)
return "ok"'
vl_eq ok "$VL_OUT" "world:token"

# --- A dead database: exit 10.
vl_exit 10 env VENUELESS_DB_HOST="$VL_TMP/nowhere" "$V" generate_token demo
vl_contains "$VL_ERR" "venueless: generate_token: "
exit 0
