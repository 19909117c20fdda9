# create_world, clone_world and list_worlds against throwaway PostgreSQL and
# Redis: the reference's prompts and output lines, the JWT checked by
# PyJWT, the VAPID keys by openssl, the defaults against defaults.json, the
# upstream bugs we do not copy, DB and Redis failures.
. "$(dirname "$0")/lib.sh"

[ -n "$VL_REFERENCE" ] || vl_fail "the reference (../shared/reference) is missing"
PY=/usr/bin/python3
"$PY" -c 'import jwt' 2>/dev/null || vl_skip "python3-jwt not installed"
command -v openssl >/dev/null || vl_skip "openssl not installed"
V=$VENUELESS

P_ID='Enter the internal ID for the new world (alphanumeric): '
P_TITLE='Enter the title for the new world: '
P_DOMAIN='Enter the domain of the new world (e.g. myevent.example.org): '

vl_exit 2 "$V" create_world extra
vl_exit 2 "$V" clone_world
vl_contains "$VL_ERR" "venueless: clone_world: expected the WORLD_ID"
vl_exit 2 "$V" list_worlds extra

vl_pg_start
vl_redis_start
"$V" migrate -v 0 || vl_fail "migrate"

# feed INPUT CODE CMD...: run CMD with INPUT on stdin, require exit CODE.
feed() {
	local input=$1 want=$2
	shift 2
	printf '%b' "$input" | "$@" >"$VL_TMP/out" 2>"$VL_TMP/err"
	vl_exited $? "$want" "$@"
}

# check_token URL SECRET DOMAIN: the reference's JWT, verified by PyJWT.
check_token() {
	"$PY" - "$1" "$2" "$3" <<'PY' || vl_fail "admin token: $1"
import base64, json, sys, time, uuid, jwt
url, secret, domain = sys.argv[1:]
prefix = "https://%s/#token=" % domain
assert url.startswith(prefix), url
tok = url[len(prefix):]
h64, p64, _ = tok.split(".")
assert "=" not in tok
pad = lambda s: s + "=" * (-len(s) % 4)
assert base64.urlsafe_b64decode(pad(h64)) == b'{"alg":"HS256","typ":"JWT"}'
order = json.loads(base64.urlsafe_b64decode(pad(p64)), object_pairs_hook=lambda kv: [k for k, _ in kv])
assert order == ["iss", "aud", "exp", "iat", "uid", "traits"], order
p = jwt.decode(tok, secret, algorithms=["HS256"], audience="venueless", issuer="any")
assert p["exp"] - p["iat"] == 365 * 86400, p
assert abs(p["iat"] - time.time()) < 120, p
assert uuid.UUID(p["uid"]).version == 4
assert p["traits"] == ["admin"]
try:
    jwt.decode(tok, secret + "x", algorithms=["HS256"], audience="venueless")
    sys.exit("a wrong secret verified")
except jwt.InvalidSignatureError:
    pass
PY
}

# secret_of ID: the world's JWT_secrets[0].secret from the database.
secret_of() {
	vl_psql -c "select config->'JWT_secrets'->0->>'secret' from core_world where id = '$1'"
}

# --- create_world reading the three answers from a pipe.
feed 'demo\nDemo Konferenz\ndemo.example.org\n' 0 "$V" create_world
vl_eq "$P_ID
$P_TITLE
$P_DOMAIN" "$VL_ERR" "prompts on stderr, in order"
secret=$(secret_of demo)
printf '%s' "$secret" | grep -Eqx '[A-Za-z0-9]{64}' || vl_fail "secret shape: $secret"
line2="Default API key secrets: [{'issuer': 'any', 'audience': 'venueless', 'secret': '$secret'}]"
vl_eq "World created." "$(echo "$VL_OUT" | sed -n 1p)" "line 1"
vl_eq "$line2" "$(echo "$VL_OUT" | sed -n 2p)" "line 2"
vl_eq "Admin url:" "$(echo "$VL_OUT" | sed -n 3p)" "line 3"
vl_eq 4 "$(echo "$VL_OUT" | wc -l)" "four lines"
check_token "$(echo "$VL_OUT" | sed -n 4p)" "$secret" demo.example.org

# The row: the reference's config shape and defaults.json's values.
vl_psql -c "select json_build_object('config', config, 'roles', roles,
    'trait_grants', trait_grants, 'feature_flags', feature_flags, 'locale', locale,
    'timezone', timezone, 'version', version, 'domain', domain, 'title', title,
    'external_auth_url', external_auth_url)
    from core_world where id = 'demo'" >"$VL_TMP/row.json"
"$PY" - "$VL_TMP/row.json" "$VL_REFERENCE/defaults.json" "$secret" <<'PY' || vl_fail "world row"
import json, sys
row = json.load(open(sys.argv[1])); d = json.load(open(sys.argv[2])); secret = sys.argv[3]
assert row["config"] == {"JWT_secrets": [{"issuer": "any", "audience": "venueless", "secret": secret}]}, row["config"]
for k in ("roles", "trait_grants", "feature_flags", "locale", "timezone"):
    assert row[k] == d[k], k
assert row["version"] == 2 and row["domain"] == "demo.example.org"
assert row["title"] == "Demo Konferenz" and row["external_auth_url"] is None
PY

# VAPID: a P-256 pair in the reference's PEM forms, each with a final newline.
vl_psql -c "select vapid_private_key from core_world where id = 'demo'" >"$VL_TMP/priv.pem"
vl_psql -c "select vapid_public_key from core_world where id = 'demo'" >"$VL_TMP/pub.pem"
vl_eq "-----BEGIN PRIVATE KEY-----" "$(head -1 "$VL_TMP/priv.pem")" "PKCS#8 header"
vl_eq "-----BEGIN PUBLIC KEY-----" "$(head -1 "$VL_TMP/pub.pem")" "SPKI header"
vl_eq "t|t" "$(vl_psql -c "select right(vapid_private_key, 1) = E'\n', right(vapid_public_key, 1) = E'\n' from core_world where id = 'demo'")" "final newlines"
openssl pkey -in "$VL_TMP/priv.pem" -noout -text 2>&1 | grep -q 'prime256v1' || vl_fail "private key is not P-256"
openssl pkey -in "$VL_TMP/priv.pem" -pubout >"$VL_TMP/derived.pem" || vl_fail "openssl pkey"
sed -i "/^$/d" "$VL_TMP/pub.pem"; cmp -s "$VL_TMP/derived.pem" "$VL_TMP/pub.pem" || vl_fail "public key does not match the private key"

# The server cache learned version 2, for a week.
vl_eq 2 "$(vl_redis_cli GET modelcache:core.World:demo:version)" "cached version"
ttl=$(vl_redis_cli TTL modelcache:core.World:demo:version)
[ "$ttl" -gt 604000 ] && [ "$ttl" -le 604800 ] || vl_fail "cache TTL $ttl"

# --- Upstream bugs we do not copy: an existing id is refused and asked
# again (upstream overwrites), the id is stripped, an empty domain is NULL.
before=$(vl_psql -c "select title, config from core_world where id = 'demo'")
feed '  demo  \nbad id!\n  other \nOther\n\n' 0 "$V" create_world
vl_contains "$VL_ERR" "venueless: create_world: world demo already exists"
vl_contains "$VL_ERR" "venueless: create_world: the id must be 1 to 50 ASCII letters, digits, '_', '.' or '-', not starting with '.' or '-'"
vl_eq 5 "$(grep -c '^Enter' "$VL_TMP/err")" "asked the id three times"
vl_eq "$before" "$(vl_psql -c "select title, config from core_world where id = 'demo'")" "demo untouched"
vl_eq "other|t|Other" "$(vl_psql -c "select id, domain is null, title from core_world where id = 'other'")" "stripped id, NULL domain"
vl_eq 2 "$(echo "$VL_OUT" | wc -l)" "no URL without a domain"
vl_eq "World created." "$(echo "$VL_OUT" | sed -n 1p)"
vl_contains "$(echo "$VL_OUT" | sed -n 2p)" "Default API key secrets: [{'issuer': 'any'"
# A second world without a domain is fine (upstream's '' hits the unique key).
vl_exit 0 "$V" create_world --id third --title Third --domain ''
vl_eq 2 "$(vl_psql -c "select count(*) from core_world where domain is null")" "two NULL domains"
# A taken domain is asked again.
feed 'fourth\nFourth\ndemo.example.org\nfourth.example.org\n' 0 "$V" create_world
vl_contains "$VL_ERR" "venueless: create_world: domain demo.example.org is already used by world demo"
vl_contains "$VL_OUT" "https://fourth.example.org/#token="

# --- End of input at each prompt: a clean error, nothing written.
n=$(vl_psql -c "select count(*) from core_world")
for input in '' 'eof1' 'eof2\nTitle'; do
	feed "$input" 1 "$V" create_world
	vl_contains "$VL_ERR" "venueless: create_world: end of input at the "
	vl_contains "$VL_ERR" "prompt; nothing was written"
	vl_eq "" "$VL_OUT" "no output at EOF"
done
vl_eq "$n" "$(vl_psql -c "select count(*) from core_world")" "nothing written at EOF"
# Only blanks and bad ids, then EOF.
feed '   \n$$$\n' 1 "$V" create_world
vl_contains "$VL_ERR" "end of input at the id prompt"

# --- Options: no prompts; a bad or taken value fails instead of asking.
vl_exit 0 "$V" create_world --id flagged --title "Flagged" --domain flagged.example.org --json
"$PY" - "$VL_OUT" "$(secret_of flagged)" <<'PY' || vl_fail "create_world --json: $VL_OUT"
import json, sys
d = json.loads(sys.argv[1])
assert d["id"] == "flagged" and d["title"] == "Flagged" and d["domain"] == "flagged.example.org"
assert d["version"] == 2
assert d["secrets"] == [{"issuer": "any", "audience": "venueless", "secret": sys.argv[2]}]
assert d["admin_url"] == "https://flagged.example.org/#token=" + d["admin_token"]
PY
check_token "$(printf '%s' "$VL_OUT" | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["admin_url"])')" \
    "$(secret_of flagged)" flagged.example.org
vl_eq "" "$VL_ERR" "no prompts with options"
vl_exit 1 "$V" create_world --id demo --title X --domain ''
vl_eq "venueless: create_world: world demo already exists" "$VL_ERR"
# The one world id rule (import_config's too): '_', '.' and '-' but not
# first, so never ".." nor an option such as "-rf".
for id in '-rf' '..' '.hidden' 'a/b' 'wält'; do
	vl_exit 1 "$V" create_world --id "$id" --title X --domain ''
	vl_eq "venueless: create_world: the id must be 1 to 50 ASCII letters, digits, '_', '.' or '-', not starting with '.' or '-'" "$VL_ERR" "id $id"
done
vl_exit 0 "$V" create_world --id 'a-b_c.d' --title X --domain ''
vl_eq "a-b_c.d" "$(vl_psql -c "delete from core_world where id = 'a-b_c.d' returning id")"
vl_exit 1 "$V" create_world --id "$(printf 'x%.0s' $(seq 51))" --title X --domain ''
vl_exit 1 "$V" create_world --id ok1 --title "" --domain ''
vl_contains "$VL_ERR" "the title must not be empty"
vl_exit 1 "$V" create_world --id ok1 --title "$(printf 'bad\377utf8')" --domain ''
vl_contains "$VL_ERR" "not valid UTF-8"
vl_exit 1 "$V" create_world --id ok1 --title T --domain 'a b'
vl_contains "$VL_ERR" "the domain must be a host name"
vl_exit 1 "$V" create_world --id ok1 --title T --domain demo.example.org
vl_contains "$VL_ERR" "already used by world demo"
# Hostile text is just text.
evil="Robert'); DROP TABLE core_world; -- \\ \"quoted\" \$1"
vl_exit 0 "$V" create_world --id evil --title "$evil" --domain ''
vl_eq "$evil" "$(vl_psql -c "select title from core_world where id = 'evil'")" "hostile title stored as is"

# --- list_worlds: upstream's columns ({:18}  {:32.32}  {}), ordered by id.
vl_exit 0 "$V" create_world --id longtitle --domain '' \
    --title "Ein sehr langer Titel mit Ümlauten, der abgeschnitten wird"
# A domain of '' (the real create_world stores it for an empty answer)
# has no URL, as NULL.
vl_psql -c "update core_world set domain = '' where id = 'third'"
vl_exit 0 "$V" list_worlds
expected=$("$PY" - <<'PY'
rows = [("ID", "Title", "URL"), ("demo", "Demo Konferenz", "https://demo.example.org"),
        ("evil", "Robert'); DROP TABLE core_world; -- \\ \"quoted\" $1", ""),
        ("flagged", "Flagged", "https://flagged.example.org"),
        ("fourth", "Fourth", "https://fourth.example.org"),
        ("longtitle", "Ein sehr langer Titel mit Ümlauten, der abgeschnitten wird", ""),
        ("other", "Other", ""), ("third", "Third", "")]
for r in rows:
    print("{:18}  {:32.32}  {}".format(*r))
PY
)
vl_eq "$expected" "$VL_OUT" "list_worlds"
vl_exit 0 "$V" list_worlds --json
"$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); assert [w["id"] for w in d] == ["demo","evil","flagged","fourth","longtitle","other","third"]; assert d[0]["url"] == "https://demo.example.org" and d[0]["domain"] == "demo.example.org"; assert d[1]["url"] is None; assert d[6]["domain"] == "" and d[6]["url"] is None' "$VL_OUT" ||
    vl_fail "list_worlds --json: $VL_OUT"
vl_eq 1 "$(printf '%s\n' "$VL_OUT" | wc -l)" "list_worlds --json: one line"

# list_worlds reads only the columns it shows: a role that may read
# nothing else of core_world (not the configs with their secrets) can list.
vl_psql -c "create role lister login; grant select (id, title, domain, version) on core_world to lister"
VENUELESS_DB_USER=lister vl_exit 0 "$V" list_worlds
vl_eq "$expected" "$VL_OUT" "list_worlds with only the listed columns granted"
VENUELESS_DB_USER=lister vl_exit 0 "$V" list_worlds --json
vl_contains "$VL_OUT" '"id":"demo","title":"Demo Konferenz","domain":"demo.example.org","url":"https://demo.example.org","version":'

# On a terminal, control characters in a title are escaped (the shell
# printer's escaping); piped, the text is as stored.
vl_psql -c "update core_world set title = E'T\\033]0;p\\007\\033[2J\\302\\233Z' where id = 'other'"
tty_out=$(script -qec "$(printf '%q ' "$V" list_worlds)" /dev/null </dev/null) || vl_fail "list_worlds on a tty: $tty_out"
case $tty_out in *$'\033'*|*$'\007'*|*$'\302\233'*) vl_fail "raw control characters on the terminal: $(printf '%s' "$tty_out" | od -c | head)" ;; esac
vl_contains "$tty_out" "$(printf '%-18s  %-32s  \r' other 'T\x1b]0;p\a\x1b[2J\u{9b}Z')" "escaped title on a tty"
vl_contains "$tty_out" 'ID                  Title' "header on a tty"
vl_exit 0 "$V" list_worlds
vl_contains "$VL_OUT" "other               $(printf 'T\033]0;p\007\033[2J\302\233Z')" "raw title into a pipe"
vl_psql -c "update core_world set title = 'Other' where id = 'other'"
vl_psql -c "update core_world set domain = NULL where id = 'third'"

# --- clone_world: an unknown source fails before any prompt.
feed 'x\ny\nz\n' 1 "$V" clone_world nosuch
vl_eq "venueless: clone_world: world nosuch does not exist" "$VL_ERR" "unknown source, no prompt"
feed '' 1 "$V" clone_world "bad'; DROP TABLE core_world; --"
vl_contains "$VL_ERR" "does not exist"
feed '' 1 "$V" clone_world ''
vl_eq "venueless: clone_world: world id is empty" "$VL_ERR"
feed '' 1 "$V" clone_world "$(printf 'x%.0s' $(seq 60))"
vl_eq "venueless: clone_world: world id longer than 50 characters" "$VL_ERR"
feed '' 1 "$V" clone_world "$(printf 'bad\377')"
vl_contains "$VL_ERR" "venueless: clone_world: world id is not valid UTF-8"

# A source with rooms, a chat channel, exhibitors, links, a highlighted room.
"$V" import_config "$TOP_SRCDIR/tests/data/sample-world.json" >/dev/null || vl_fail "import"
vl_psql -c "update core_world set external_auth_url = 'https://auth.example.org', locale = 'de',
    timezone = 'UTC', feature_flags = '[\"x\"]' where id = 'sample'"
vl_psql -c "update core_exhibitor set highlighted_room_id = (select id from core_room
    where world_id = 'sample' and import_id = 'stage'), contact_enabled = false,
    banner_list = 'b.png' where world_id = 'sample' and name = 'Tolle Firma GmbH'"
vl_psql -c "update core_room set deleted = true, force_join = true, schedule_data = '{\"a\": 1}'
    where world_id = 'sample' and import_id = 'roulette'"
src_secret=$(secret_of sample)
feed 'sample\nklon\nKlon der Konferenz\nklon.example.org\n' 0 "$V" clone_world sample
vl_contains "$VL_ERR" "venueless: clone_world: world sample already exists"
vl_eq "World cloned." "$(echo "$VL_OUT" | sed -n 1p)"
# Copied secrets print as upstream prints them: each dict in the order
# PostgreSQL returns the jsonb object (shorter keys first, then bytewise).
vl_eq "Default API key secrets: [{'issuer': 'any', 'secret': '$src_secret', 'audience': 'venueless'}]" \
    "$(echo "$VL_OUT" | sed -n 2p)" "clone shares the secrets"
vl_eq "Admin url:" "$(echo "$VL_OUT" | sed -n 3p)"
check_token "$(echo "$VL_OUT" | sed -n 4p)" "$src_secret" klon.example.org
vl_eq "World klon cloned from sample: 8 rooms, 3 exhibitors, 3 chat channels, 3 links, 3 social media links" \
    "$(echo "$VL_OUT" | sed -n '5,$p')" "clone summary line, last"

# world_copy ID: what must be equal between source and clone, as JSON.
world_copy() {
	vl_psql -c "select json_build_object(
	  'w', (select json_build_object('config', config, 'roles', roles, 'tg', trait_grants,
	    'locale', locale, 'tz', timezone, 'ff', feature_flags, 'ext', external_auth_url)
	    from core_world where id = '$1'),
	  'rooms', (select json_agg(json_build_array(name, description, picture, import_id,
	    sorting_priority, trait_grants, module_config, deleted, pretalx_id, force_join,
	    schedule_data, (select count(*) from core_channel c where c.room_id = r.id and c.world_id = '$1'))
	    order by import_id) from core_room r where world_id = '$1'),
	  'ex', (select json_agg(json_build_array(e.name, tagline, short_text, logo, text_legacy, size,
	    e.sorting_priority, r.import_id, banner_detail, banner_list, contact_enabled, h.import_id,
	    text_content, (select json_agg(json_build_array(display_text, url, category, sorting_priority) order by id)
	      from core_exhibitorlink where exhibitor_id = e.id),
	    (select json_agg(json_build_array(display_text, url) order by id)
	      from core_exhibitorsocialmedialink where exhibitor_id = e.id)) order by e.name)
	    from core_exhibitor e join core_room r on r.id = e.room_id and r.world_id = '$1'
	    left join core_room h on h.id = e.highlighted_room_id and h.world_id = '$1'
	    where e.world_id = '$1'))"
}
vl_eq "$(world_copy sample)" "$(world_copy klon)" "the clone copies rooms, channels, exhibitors"
# What the clone does not copy is the real server's model default
# (models.json): versions 2, ids, keys and foreign keys filled, channel
# names NULL.
"$PY" "$TOP_SRCDIR/tests/model-defaults.py" "$VL_REFERENCE/models.json" klon '{
  "core_world": ["id", "title", "domain", "config", "roles", "trait_grants", "locale",
    "timezone", "feature_flags", "external_auth_url"],
  "core_room": ["module_config", "name", "description", "picture", "import_id",
    "sorting_priority", "trait_grants", "deleted", "pretalx_id", "force_join", "schedule_data"],
  "core_channel": ["room_id"],
  "core_exhibitor": ["name", "tagline", "short_text", "logo", "text_legacy", "size",
    "sorting_priority", "room_id", "banner_detail", "banner_list", "contact_enabled",
    "highlighted_room_id", "text_content"],
  "core_exhibitorlink": ["display_text", "url", "category", "sorting_priority"],
  "core_exhibitorsocialmedialink": ["display_text", "url"]}' || vl_fail "klon: the columns the clone does not copy"
vl_eq "8|3|3|3" "$(vl_psql -c "select (select count(*) from core_room where world_id = 'klon'),
    (select count(*) from core_channel where world_id = 'klon'),
    (select count(*) from core_exhibitor where world_id = 'klon'),
    (select count(*) from core_exhibitorsocialmedialink s join core_exhibitor e on e.id = s.exhibitor_id where e.world_id = 'klon')")" "clone counts"
vl_eq 0 "$(vl_psql -c "select count(*) from core_room a join core_room b on a.id = b.id
    where a.world_id = 'sample' and b.world_id = 'klon'")" "new room uuids"
vl_eq "t" "$(vl_psql -c "select highlighted_room_id is not null from core_exhibitor where world_id = 'klon' and name = 'Tolle Firma GmbH'")" "highlighted room remapped"
vl_eq "2|klon.example.org|Klon der Konferenz" "$(vl_psql -c "select version, domain, title from core_world where id = 'klon'")"
vl_eq "8" "$(vl_psql -c "select count(*) from core_room where world_id = 'klon' and version = 2")" "room versions 2"
vl_eq "f" "$(vl_psql -c "select a.vapid_private_key = b.vapid_private_key from core_world a, core_world b where a.id = 'sample' and b.id = 'klon'")" "own VAPID keys"
for id in $(vl_psql -c "select id from core_room where world_id = 'klon'"); do
	vl_eq 2 "$(vl_redis_cli GET "modelcache:core.Room:$id:version")" "room $id cached"
done
vl_eq 2 "$(vl_redis_cli GET modelcache:core.World:klon:version)"

# --new-secrets and options; an empty domain; --json with the summary.
vl_exit 0 "$V" clone_world sample --new-secrets --id klon2 --title "Klon 2" --domain '' --json
new=$(secret_of klon2)
[ "$new" != "$src_secret" ] || vl_fail "--new-secrets kept the secret"
"$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["admin_url"] is None; assert d["secrets"][0]["secret"] == sys.argv[2]; assert d["summary"]["rooms"] == 8 and d["summary"]["links"] == 3' "$VL_OUT" "$new" ||
    vl_fail "clone --json: $VL_OUT"
vl_eq "$(vl_psql -c "select config - 'JWT_secrets' from core_world where id = 'sample'")" \
    "$(vl_psql -c "select config - 'JWT_secrets' from core_world where id = 'klon2'")" "the rest of config copied"
vl_eq 1 "$(printf '%s\n' "$VL_OUT" | wc -l)" "clone --json: one line"
# --new-secrets prints the new dict as it was made: issuer, audience, secret.
vl_exit 0 "$V" clone_world sample --new-secrets --id klon5 --title "Klon 5" --domain ''
vl_eq "World cloned.
Default API key secrets: [{'issuer': 'any', 'audience': 'venueless', 'secret': '$(secret_of klon5)'}]
World klon5 cloned from sample: 8 rooms, 3 exhibitors, 3 chat channels, 3 links, 3 social media links" \
    "$VL_OUT" "--new-secrets output"
# Any keys, several dicts: each in the database's order, also in --json.
vl_psql -c "insert into core_world (id, title, config, domain, roles, trait_grants, version, locale,
    timezone, feature_flags, vapid_private_key, vapid_public_key) select 'keys', 'Keys',
    '{\"JWT_secrets\": [{\"secret\": \"s1\", \"zz\": [1, null, false], \"audience\": \"venueless\", \"issuer\": \"any\", \"ab\": true},
      {\"secret\": \"s2\", \"issuer\": \"i2\", \"audience\": \"a2\"}]}',
    NULL, roles, trait_grants, 2, locale, timezone, feature_flags, vapid_private_key,
    vapid_public_key from core_world where id = 'sample'"
vl_exit 0 "$V" clone_world keys --id keys2 --title "Keys 2" --domain keys2.example.org
vl_eq "Default API key secrets: [{'ab': True, 'zz': [1, None, False], 'issuer': 'any', 'secret': 's1', 'audience': 'venueless'}, {'issuer': 'i2', 'secret': 's2', 'audience': 'a2'}]" \
    "$(echo "$VL_OUT" | sed -n 2p)" "copied dicts in the database's key order"
check_token "$(echo "$VL_OUT" | sed -n 4p)" s1 keys2.example.org
vl_eq "World keys2 cloned from keys: 0 rooms, 0 exhibitors, 0 chat channels, 0 links, 0 social media links" \
    "$(echo "$VL_OUT" | sed -n 5p)" "clone summary of an empty world"
vl_exit 0 "$V" clone_world keys --id keys3 --title "Keys 3" --domain '' --json
"$PY" -c 'import json,sys; d=json.loads(sys.argv[1], object_pairs_hook=lambda kv: kv); s=dict(d)["secrets"]; assert [k for k, _ in s[0]] == ["ab", "zz", "issuer", "secret", "audience"], s; assert [k for k, _ in s[1]] == ["issuer", "secret", "audience"], s' "$VL_OUT" ||
    vl_fail "clone --json key order: $VL_OUT"
vl_exit 1 "$V" clone_world sample --id klon --title X --domain ''
vl_eq "venueless: clone_world: world klon already exists" "$VL_ERR"
vl_exit 1 "$V" clone_world sample --id klon3 --title X --domain klon.example.org
vl_contains "$VL_ERR" "already used by world klon"
vl_exit 1 "$V" clone_world sample --id '-rf' --title X --domain ''
vl_eq "venueless: clone_world: the id must be 1 to 50 ASCII letters, digits, '_', '.' or '-', not starting with '.' or '-'" "$VL_ERR" "clone id rule"

# EOF at a clone prompt: nothing written.
n=$(vl_psql -c "select count(*) from core_room")
feed 'klon4\n' 1 "$V" clone_world sample
vl_contains "$VL_ERR" "end of input at the title prompt"
vl_eq "$n" "$(vl_psql -c "select count(*) from core_room")" "nothing cloned at EOF"

# Re-importing the source after a clone works (upstream looks exhibitor
# rooms up across worlds and fails).
vl_exit 0 "$V" import_config "$TOP_SRCDIR/tests/data/sample-world.json"
vl_eq "$(world_copy sample)" "$(world_copy klon)" "source and clone still alike after the re-import"
vl_eq 3 "$(vl_psql -c "select count(*) from core_exhibitor where world_id = 'sample'")" "re-import after clone: no duplicates"
vl_eq 0 "$(vl_psql -c "select count(*) from core_exhibitor e join core_room r on r.id = e.room_id where e.world_id <> r.world_id")" "exhibitor rooms stay within their world"

# --- On a terminal: the prompts are shown there, in order, and answered;
# Ctrl-D at a prompt is end of input. (A pseudo-terminal, from Python.)
tty_run() {	# tty_run ANSWER... : prints the transcript, then "exit N"
	"$PY" - "$V" "$@" <<'PY'
import os, pty, select, sys, time
v, answers = sys.argv[1], sys.argv[2:]
prompts = [b"Enter the internal ID for the new world (alphanumeric): ",
           b"Enter the title for the new world: ",
           b"Enter the domain of the new world (e.g. myevent.example.org): "]
pid, fd = pty.fork()
if pid == 0:
    os.execv(v, [v, "create_world"])
buf = b""
def read_until(pred, timeout=10):
    global buf
    end = time.time() + timeout
    while not pred(buf) and time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            buf += chunk
for p, a in zip(prompts, answers):
    read_until(lambda b: b.endswith(p) or b.rstrip().endswith(p.rstrip()))
    if not buf.rstrip().endswith(p.rstrip()):
        sys.exit("no prompt %r in %r" % (p, buf))
    os.write(fd, a.encode().replace(b"^D", b"\x04") + (b"" if a == "^D" else b"\n"))
read_until(lambda b: False, timeout=5)
_, status = os.waitpid(pid, 0)
sys.stdout.write(buf.decode("utf-8", "replace").replace("\r", ""))
print("exit %d" % os.waitstatus_to_exitcode(status))
PY
}
out=$(tty_run ttyworld "TTY Welt" tty.example.org) || vl_fail "tty: $out"
vl_contains "$out" "$P_ID" "tty id prompt"
vl_contains "$out" "$P_TITLE" "tty title prompt"
vl_contains "$out" "$P_DOMAIN" "tty domain prompt"
vl_contains "$out" "World created.
Default API key secrets: [{'issuer': 'any', 'audience': 'venueless', 'secret': '$(secret_of ttyworld)'}]
Admin url:
https://tty.example.org/#token=" "tty output"
vl_contains "$out" "exit 0"
vl_eq "TTY Welt|tty.example.org" "$(vl_psql -c "select title, domain from core_world where id = 'ttyworld'")"
out=$(tty_run ttyeof '^D') || vl_fail "tty EOF: $out"
vl_contains "$out" "venueless: create_world: end of input at the title prompt; nothing was written"
vl_contains "$out" "exit 1"
vl_eq 0 "$(vl_psql -c "select count(*) from core_world where id = 'ttyeof'")"

# --- PostgreSQL unreachable: exit 10 before any prompt.
VENUELESS_DB_HOST=$VL_TMP/nowhere feed 'a\nb\nc\n' 10 "$V" create_world
vl_eq "" "$(grep '^Enter' "$VL_TMP/err")" "no prompt without a database"
VENUELESS_DB_HOST=$VL_TMP/nowhere vl_exit 10 "$V" list_worlds
VENUELESS_DB_HOST=$VL_TMP/nowhere vl_exit 10 "$V" clone_world sample --id a --title b --domain ''

# --- A database that was never migrated: one line saying so and what to
# do (exit 1, as core.exit_for gives 42P01), from every command that needs the tables.
vl_psql -c "create database bare"
VENUELESS_DB_NAME=bare vl_exit 1 "$V" list_worlds
vl_eq 'venueless: list_worlds: the database has no venueless schema (relation "core_world" does not exist): run venueless migrate' "$VL_ERR" "unmigrated list_worlds"
VENUELESS_DB_NAME=bare vl_exit 1 "$V" clone_world sample
vl_eq 'venueless: clone_world: the database has no venueless schema (relation "core_world" does not exist): run venueless migrate' "$VL_ERR" "unmigrated clone_world"
VENUELESS_DB_NAME=bare feed '' 1 "$V" create_world --id bare --title Bare --domain ''
vl_contains "$VL_ERR" "run venueless migrate"
VENUELESS_DB_NAME=bare vl_exit 1 "$V" import_config "$TOP_SRCDIR/tests/data/sample-world.json"
vl_contains "$VL_ERR" 'venueless: import_config: the database has no venueless schema (relation "core_'
VENUELESS_DB_NAME=bare vl_exit 1 "$V" shell -e 'return worlds.get("x")'
vl_contains "$VL_ERR" "run venueless migrate"
# Other missing relations are plain failures.
VENUELESS_DB_NAME=bare vl_exit 1 "$V" shell -e 'return db.query("select * from nosuch")'
vl_eq 'venueless: shell: relation "nosuch" does not exist
LINE 1: select * from nosuch
                      ^' "$VL_ERR" "a plain failure, the shell's caret after it"

# --- Redis unreachable after the commit: the output (the secrets!) and a
# clear message, exit 11, the world stored.
VENUELESS_REDIS_URLS=unix://$VL_TMP/nowhere.sock vl_exit 11 "$V" create_world --id noredis --title "No Redis" --domain noredis.example.org
vl_eq "World created." "$(echo "$VL_OUT" | sed -n 1p)"
vl_contains "$(echo "$VL_OUT" | sed -n 4p)" "https://noredis.example.org/#token="
vl_contains "$VL_ERR" "venueless: create_world: committed, but the server cache was not updated"
vl_eq 1 "$(vl_psql -c "select count(*) from core_world where id = 'noredis'")" "stored without Redis"
VENUELESS_REDIS_URLS=unix://$VL_TMP/nowhere.sock vl_exit 11 "$V" clone_world sample --id noredis2 --title X --domain ''
vl_eq "World cloned." "$(echo "$VL_OUT" | sed -n 1p)"
vl_contains "$VL_ERR" "committed, but the server cache was not updated"
echo "worlds-cli: ok"
