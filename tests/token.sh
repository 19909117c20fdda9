# token inspect against a throwaway PostgreSQL: JWTs, #token= URLs, short
# tokens and /login/ links; the world found by --world, the short token,
# the URL's domain or the issuer; each refusal reason with exit 1, the
# verdict cross-checked with PyJWT's (the server's) decode; the secret
# never printed.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
"$PY" -c 'import jwt' 2>/dev/null || vl_skip "python3-jwt not installed"
V=$VENUELESS

vl_exit 2 "$V" token
vl_contains "$VL_ERR" "venueless: token: expected inspect"
vl_exit 2 "$V" token frob x
vl_contains "$VL_ERR" "venueless: token: unknown subcommand frob"
vl_exit 2 "$V" token inspect
vl_contains "$VL_ERR" "venueless: token: expected a TOKEN or URL argument"
vl_exit 2 "$V" token inspect a b
vl_contains "$VL_ERR" "venueless: token: unexpected argument b"

vl_pg_start
vl_redis_start
"$V" migrate -v 0 || vl_fail "migrate"
"$V" create_world --id demo --title Demo --domain demo.example.org >/dev/null || vl_fail "create demo"
"$V" create_world --id other --title Other --domain other.example.org >/dev/null || vl_fail "create other"
secret=$(vl_psql -c "select config->'JWT_secrets'->0->>'secret' from core_world where id = 'demo'")
osecret=$(vl_psql -c "select config->'JWT_secrets'->0->>'secret' from core_world where id = 'other'")
redis_urls=$VENUELESS_REDIS_URLS
export VENUELESS_REDIS_URLS="unix://$VL_TMP/nowhere.sock?db=0"	# inspect needs no Redis

# mint SECRET ISS AUD EXP_OFFSET [IAT_OFFSET [ALG]]: a JWT made by PyJWT,
# its times in seconds from now.
mint() {
	"$PY" - "$@" <<'PY'
import sys, time, uuid, jwt
secret, iss, aud, exp = sys.argv[1:5]
iat = int(sys.argv[5]) if len(sys.argv) > 5 else 0
alg = sys.argv[6] if len(sys.argv) > 6 else "HS256"
now = int(time.time())
print(jwt.encode({"iss": iss, "aud": aud, "exp": now + int(exp), "iat": now + iat,
    "uid": str(uuid.uuid4()), "traits": ["t"]}, secret, algorithm=alg))
PY
}
# pyjwt TOKEN SECRET: what the server's decode (PyJWT, the secret's issuer
# and audience) says: exit 0 accepted, 1 refused.
pyjwt() {
	"$PY" -c '
import sys, jwt
try:
    jwt.decode(sys.argv[1], sys.argv[2], algorithms=["HS256"], audience="venueless", issuer="any")
except jwt.InvalidTokenError:
    sys.exit(1)' "$1" "$2"
}
# inspect CODE ARGS...: run token inspect, require CODE; never the secret.
inspect() {
	local want=$1
	shift
	vl_exit "$want" "$V" token inspect "$@"
	case "$VL_OUT$VL_ERR" in *"$secret"*|*"$osecret"*) vl_fail "a secret was printed: $*" ;; esac
}
# refused JWT REASON_TEXT ARGS...: exit 1 with that reason; PyJWT agrees.
refused() {
	local t=$1 why=$2
	shift 2
	inspect 1 "$t" "$@"
	vl_contains "$VL_OUT" "verdict:     refused"
	vl_contains "$VL_OUT" "refused:     $why"
	if pyjwt "$t" "$secret"; then vl_fail "PyJWT accepts what we refuse: $why"; fi
}

# --- Valid: a short link, its bare short token, a JWT link, a bare JWT.
link=$("$V" generate_token demo --trait speaker) || vl_fail "generate_token"
short=${link##*/}
inspect 0 "$link"
vl_contains "$VL_OUT" "token:       short token $short"
vl_contains "$VL_OUT" "world:       demo (the short token's world)"
vl_contains "$VL_OUT" "traits:      [\"speaker\"]"
vl_contains "$VL_OUT" "secret:      JWT_secrets[0] (issuer any, audience venueless)"
vl_eq "verdict:     valid" "$(echo "$VL_OUT" | tail -1)" "last line"
exp=$(vl_psql -c "select extract(epoch from expires)::bigint from core_shorttoken where short_token = '$short'")
vl_contains "$VL_OUT" "exp:         $exp = $(date -u -d "@$exp" '+%Y-%m-%d %H:%M:%S UTC') (in 89 days)"
vl_contains "$VL_OUT" "short token: id 1, world demo, expires $(date -u -d "@$exp" '+%Y-%m-%d %H:%M:%S UTC')"
inspect 0 "  $short  "
vl_contains "$VL_OUT" "world:       demo (the short token's world)"

url=$("$V" generate_token demo --raw) || vl_fail "generate_token --raw"
jwt=${url#*#token=}
pyjwt "$jwt" "$secret" || vl_fail "PyJWT refuses a generated token"
inspect 0 "$url"
vl_contains "$VL_OUT" "world:       demo (the URL's domain)"
inspect 0 "$jwt"
vl_contains "$VL_OUT" "world:       demo (its secret signed the token; 2 worlds list issuer any)"
inspect 0 "$jwt" --world demo
vl_contains "$VL_OUT" "world:       demo (--world)"

# --json: one line, the verdict and the secret's index without the secret.
inspect 0 "$link" --json
vl_eq 1 "$(echo "$VL_OUT" | wc -l)" "--json is one line"
"$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["valid"] is True and d["kind"] == "short" and d["world"] == "demo", d
assert d["world_from"] == "short_token" and d["reasons"] == []
assert d["secret"] == {"index": 0, "issuer": "any", "audience": "venueless"}, d["secret"]
assert d["short_token"]["world"] == "demo" and d["short_token"]["expires"] == d["claims"]["exp"]
assert d["claims"]["traits"] == ["speaker"]
' "$VL_OUT" || vl_fail "--json: $VL_OUT"

# --- Each refusal reason.
refused "$(mint "$secret" any venueless -10 -100)" "expired "
vl_contains "$VL_OUT" "seconds ago)"
refused "$(mint "$secret" any venueless 3600 600)" "not yet valid: iat is "
refused "$(mint "$secret" any wrong 3600)" \
    "audience mismatch: the token is for 'wrong', JWT_secrets[0] expects 'venueless'"
refused "$(mint "$secret" stranger venueless 3600)" \
    "unknown issuer 'stranger': no world's JWT_secrets list it"
refused "$(mint "$secret" stranger venueless 3600)" \
    "issuer 'stranger' is not 'any', the issuer of JWT_secrets[0] that signed it" --world demo
refused "$(mint nottheirsecret stranger venueless 3600)" \
    "unknown issuer 'stranger': world demo's secrets list 'any'" --world demo
refused "$(mint nottheirsecret any venueless 3600)" \
    "bad signature: no secret of the 2 worlds whose secrets list issuer 'any' signed it"
refused "$(mint nottheirsecret any venueless 3600)" \
    "bad signature: no secret of world demo signed it" --world demo
vl_contains "$VL_OUT" "world:       demo (--world)"
refused "$(mint "$secret" any venueless 3600 0 HS512)" \
    "algorithm 'HS512': venueless accepts HS256 only"
refused "${jwt%.*}.AAAA" "bad signature: no secret of world demo signed it" --world demo
# PyJWT accepts a token without uid; the server cannot log anyone in by it.
nouid=$("$PY" -c 'import sys, time, jwt; print(jwt.encode({"iss": "any", "aud": "venueless",
    "exp": int(time.time()) + 60}, sys.argv[1], algorithm="HS256"))' "$secret")
inspect 1 "$nouid"
vl_contains "$VL_OUT" "refused:     no uid claim"
vl_eq 1 "$(echo "$VL_OUT" | grep -c '^refused:')" "no uid is the only reason"
inspect 1 "not.a.jwt!"
vl_contains "$VL_OUT" "refused:     not a JWT: "
# a token signed by the other world's secret, checked against demo
refused "$(mint "$osecret" any venueless 3600)" \
    "bad signature: no secret of world demo signed it" --world demo
# a JWT link whose domain is another world's
inspect 1 "https://other.example.org/#token=$jwt"
vl_contains "$VL_OUT" "world:       other (the URL's domain)"
vl_contains "$VL_OUT" "refused:     bad signature: no secret of world other signed it"
inspect 1 "https://nowhere.example.org/#token=$jwt"
vl_contains "$VL_OUT" "refused:     no world has the URL's domain nowhere.example.org"
vl_contains "$VL_OUT" "world:       demo (its secret signed the token"

# A pasted token is untrusted: on a terminal its claims are shown escaped.
if command -v script >/dev/null; then
	evil=$(mint "$secret" "$(printf 'x\033]0;pwned\007')" venueless 3600)
	script -qec "$V token inspect $evil" /dev/null >"$VL_TMP/tty" </dev/null
	grep -q "$(printf '\033')" "$VL_TMP/tty" && vl_fail "an escape reached the terminal"
	vl_contains "$(cat "$VL_TMP/tty")" 'x\x1b]0;pwned' "escaped issuer"
fi

# Short tokens: none, expired, another domain, another --world.
inspect 1 https://demo.example.org/login/NoSuchShortToken
vl_contains "$VL_OUT" "refused:     no such short token"
vl_contains "$VL_OUT" "world:       unknown"
inspect 1 "https://other.example.org/login/$short"
vl_contains "$VL_OUT" "refused:     the link's domain other.example.org is not world demo's domain demo.example.org"
inspect 1 "$short" --world other
vl_contains "$VL_OUT" "refused:     the short token belongs to world demo, not other"
vl_psql -c "update core_shorttoken set expires = now() - interval '2 days' where short_token = '$short'"
inspect 1 "$link"
vl_contains "$VL_OUT" "refused:     the short token expired "
vl_contains "$VL_OUT" "days ago)"
vl_eq 1 "$(echo "$VL_OUT" | grep -c '^refused:')" "only the short token expired (its JWT is valid)"
inspect 1 "$link" --json
"$PY" -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["valid"] is False and [r["code"] for r in d["reasons"]] == ["short_expired"], d
' "$VL_OUT" || vl_fail "--json reasons: $VL_OUT"

# --- Which secret: the second of two; a clone sharing the secrets.
vl_psql -c "update core_world set config = jsonb_set(config, '{JWT_secrets}',
    jsonb_build_array(jsonb_build_object('issuer', 'sso', 'audience', 'venueless', 'secret', 'first-secret-x'))
    || (config->'JWT_secrets')) where id = 'demo'"
inspect 0 "$jwt" --world demo
vl_contains "$VL_OUT" "secret:      JWT_secrets[1] (issuer any, audience venueless)"
VENUELESS_REDIS_URLS=$redis_urls "$V" clone_world demo --id twin --title Twin --domain twin.example.org >/dev/null || vl_fail "clone"
inspect 0 "$jwt"
vl_contains "$VL_OUT" "world:       demo (its secret signed the token; 3 worlds list issuer any)"
vl_contains "$VL_OUT" "also:        signed by a secret of twin too"

# --- Refusals of the request itself: one line, exit 1.
inspect 1 "$jwt" --world nosuch
vl_eq "venueless: token: world nosuch does not exist" "$VL_ERR"
inspect 1 https://demo.example.org/schedule
vl_eq "venueless: token: https://demo.example.org/schedule is not a token URL (https://DOMAIN/#token=JWT or https://DOMAIN/login/SHORT_TOKEN)" "$VL_ERR"

# --- The Lua API.
vl_exit 0 "$V" shell -e '
local rep = assert(worlds.inspect_token("'"$jwt"'"))
assert(rep.valid == true and rep.world == "demo" and rep.secret.index == 1, rep.world)
assert(rep.secret.secret == nil, "no secret in the report")
local bad = assert(worlds.inspect_token("NoSuchShortToken"))
assert(bad.valid == false and bad.reasons[1].code == "no_short_token")
local r, msg, code = worlds.inspect_token("x.y.z", { world = "nosuch" })
assert(r == nil and code == "notfound", msg)
assert(not pcall(worlds.inspect_token, 42))
return "ok"'
vl_eq ok "$VL_OUT" "worlds.inspect_token"

# --- A dead database: exit 10.
vl_exit 10 env VENUELESS_DB_HOST="$VL_TMP/nowhere" "$V" token inspect "$jwt"
vl_contains "$VL_ERR" "venueless: token: "
exit 0
