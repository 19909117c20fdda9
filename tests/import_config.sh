# import_config against throwaway PostgreSQL and Redis: the reference's
# mapping of the JSON format to rows, idempotent re-import, validation
# with JSON paths (nothing written), hostile strings, the model cache,
# DB and Redis failures, and kill -9 at several points leaving the
# database as it was.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
V=$VENUELESS
SAMPLE=$TOP_SRCDIR/tests/data/sample-world.json
[ -n "$VL_REFERENCE" ] || vl_fail "the reference (../shared/reference) is missing"
GEN=$TOP_SRCDIR/tests/data/gen-world.py

vl_exit 2 "$V" import_config
vl_contains "$VL_ERR" "venueless: import_config: expected a FILE argument"
vl_exit 2 "$V" import_config a b

vl_pg_start
vl_redis_start
"$V" migrate -v 0 || vl_fail "migrate"

# snap: a digest of every row of the six tables (the database "as before").
snap() {
	vl_psql -c "select md5(coalesce(string_agg(t, '|' order by t), '')) from (
	  select 'w' || row_to_json(x)::text t from core_world x
	  union all select 'r' || row_to_json(x)::text from core_room x
	  union all select 'c' || row_to_json(x)::text from core_channel x
	  union all select 'e' || row_to_json(x)::text from core_exhibitor x
	  union all select 'l' || row_to_json(x)::text from core_exhibitorlink x
	  union all select 's' || row_to_json(x)::text from core_exhibitorsocialmedialink x) y"
}
counts() {	# counts WORLD: rooms channels exhibitors links social
	vl_psql -c "select (select count(*) from core_room where world_id = '$1'),
	  (select count(*) from core_channel where world_id = '$1'),
	  (select count(*) from core_exhibitor where world_id = '$1'),
	  (select count(*) from core_exhibitorlink l join core_exhibitor e on e.id = l.exhibitor_id where e.world_id = '$1'),
	  (select count(*) from core_exhibitorsocialmedialink l join core_exhibitor e on e.id = l.exhibitor_id where e.world_id = '$1')"
}

# --- The sample world: every row as the reference maps the format.
vl_exit 0 "$V" import_config "$SAMPLE"
vl_eq "World sample created: 8 rooms (8 new), 3 exhibitors (3 new), 3 new chat channels, 3 links, 3 social media links" "$VL_OUT"
vl_eq "" "$VL_ERR"
vl_psql -c "select json_build_object(
  'world', (select row_to_json(w) from (select id, title, config, domain, roles, trait_grants, version,
     locale, timezone, feature_flags, external_auth_url from core_world where id = 'sample') w),
  'rooms', (select json_agg(r order by sorting_priority) from (select import_id, name, description,
     picture, sorting_priority, trait_grants, module_config, version, deleted, pretalx_id, force_join,
     schedule_data, (select json_agg(json_build_object('name', c.name, 'world', c.world_id))
       from core_channel c where c.room_id = core_room.id) channels
     from core_room where world_id = 'sample') r),
  'exhibitors', (select json_agg(e order by sorting_priority) from (select x.name, tagline, short_text,
     logo, text_legacy, text_content, size, x.sorting_priority, r.import_id room, banner_detail,
     banner_list, contact_enabled, highlighted_room_id,
     (select json_agg(json_build_array(display_text, url, category, sorting_priority) order by id)
        from core_exhibitorlink where exhibitor_id = x.id) links,
     (select json_agg(json_build_array(display_text, url) order by id)
        from core_exhibitorsocialmedialink where exhibitor_id = x.id) social
     from core_exhibitor x join core_room r on r.id = x.room_id and r.world_id = x.world_id
     where x.world_id = 'sample') e))" >"$VL_TMP/rows.json"
"$PY" - "$SAMPLE" "$VL_TMP/rows.json" <<'PY' || vl_fail "sample rows"
import json, sys
src = json.load(open(sys.argv[1])); db = json.load(open(sys.argv[2]))
w = db["world"]
cfg = {k: v for k, v in src["world"].items() if k not in ("id", "title")}
assert w["id"] == "sample" and w["title"] == src["world"]["title"]
assert w["config"] == cfg, "config is every other world key"
assert w["roles"] == src["roles"] and w["trait_grants"] == src["trait_grants"]
assert w["version"] == 2 and w["domain"] is None and w["external_auth_url"] is None
assert (w["locale"], w["timezone"], w["feature_flags"]) == ("en", "Europe/Berlin", ["chat-moderation"])
assert len(db["rooms"]) == len(src["rooms"])
for i, (r, s) in enumerate(zip(db["rooms"], src["rooms"])):
    where = "room %d" % i
    assert r["import_id"] == s["id"] and r["name"] == s["name"], where
    assert r["description"] == s.get("description"), where
    assert r["picture"] == "", where + ": picture is ignored, stored as '' (Django's FileField)"
    assert r["sorting_priority"] == i, where
    assert r["trait_grants"] == s.get("trait_grants", {}), where
    assert r["module_config"] == s["modules"], where
    assert r["pretalx_id"] == s.get("pretalx_id", 0), where
    assert (r["version"], r["deleted"], r["force_join"], r["schedule_data"]) == (2, False, False, None), where
    chat = any(m["type"] == "chat.native" for m in s["modules"])
    assert r["channels"] == ([{"name": None, "world": "sample"}] if chat else None), where
assert len(db["exhibitors"]) == len(src["exhibitors"])
for i, (e, s) in enumerate(zip(db["exhibitors"], src["exhibitors"])):
    where = "exhibitor %d" % i
    assert e["name"] == s["name"] and e["tagline"] == s.get("tagline"), where
    assert e["short_text"] == s.get("short_text") and e["logo"] == s.get("logo"), where
    assert e["text_legacy"] == s.get("text"), where
    assert e["text_content"] == s.get("text_content", []), where
    assert e["size"] == s["size"] and e["sorting_priority"] == i and e["room"] == s["room"], where
    assert (e["banner_detail"], e["banner_list"], e["contact_enabled"], e["highlighted_room_id"]) == (None, None, True, None), where
    links = [[l["display_text"], l["url"], l.get("category", "profile"), 0] for l in s.get("links", [])]
    assert (e["links"] or []) == links, where
    social = [[l["display_text"], l["url"]] for l in s.get("social_media_links", [])]
    assert (e["social"] or []) == social, where
PY
# Every other column is the real server's model default (models.json):
# contact_enabled true, links' sorting_priority 0, picture '', versions 2,
# ids, keys and foreign keys filled, the rest NULL.
IMPORT_GIVEN='{"core_world": ["id", "title", "config", "roles", "trait_grants"],
  "core_room": ["import_id", "name", "description", "trait_grants", "module_config",
    "pretalx_id", "sorting_priority"],
  "core_channel": ["room_id"],
  "core_exhibitor": ["name", "tagline", "short_text", "logo", "text_legacy", "text_content",
    "size", "sorting_priority", "room_id"],
  "core_exhibitorlink": ["display_text", "url", "category"],
  "core_exhibitorsocialmedialink": ["display_text", "url"]}'
"$PY" "$TOP_SRCDIR/tests/model-defaults.py" "$VL_REFERENCE/models.json" sample "$IMPORT_GIVEN" ||
    vl_fail "sample: the columns the file does not give"

# The model cache: the world and every room at version 2, a week's TTL.
vl_eq 2 "$(vl_redis_cli GET modelcache:core.World:sample:version)" "world cached"
for id in $(vl_psql -c "select id from core_room where world_id = 'sample'"); do
	vl_eq 2 "$(vl_redis_cli GET "modelcache:core.Room:$id:version")" "room $id cached"
	t=$(vl_redis_cli TTL "modelcache:core.Room:$id:version")
	[ "$t" -gt 604000 ] || vl_fail "room TTL $t"
done

# --- Re-import: the same rows (ids too), each world and room version + 1.
ids=$(vl_psql -c "select string_agg(id::text, ',' order by id) from (select id from core_room union all select id from core_exhibitor union all select id from core_channel) x")
before=$(counts sample)
first=$(vl_redis_cli GET "modelcache:core.Room:$(vl_psql -c "select id from core_room where world_id = 'sample' and import_id = 'lobby'"):version")
# A higher cached version is kept (set if higher), its expiry refreshed.
lobby=$(vl_psql -c "select id from core_room where world_id = 'sample' and import_id = 'lobby'")
vl_redis_cli SET "modelcache:core.Room:$lobby:version" 99 EX 10 >/dev/null
vl_exit 0 "$V" import_config "$SAMPLE" --json
"$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); assert d == {"world": "sample", "created": False, "version": 3, "rooms": 8, "rooms_created": 0, "channels_created": 0, "exhibitors": 3, "exhibitors_created": 0, "links": 3, "social_links": 3, "secrets_removed": False}, d' "$VL_OUT" ||
    vl_fail "re-import --json: $VL_OUT"
vl_eq "$before" "$(counts sample)" "re-import row counts"
vl_eq "$ids" "$(vl_psql -c "select string_agg(id::text, ',' order by id) from (select id from core_room union all select id from core_exhibitor union all select id from core_channel) x")" "same ids"
vl_eq "3|8" "$(vl_psql -c "select w.version, count(*) from core_world w join core_room r on r.world_id = w.id and r.version = 3 where w.id = 'sample' group by 1")" "versions + 1"
vl_eq 3 "$(vl_redis_cli GET modelcache:core.World:sample:version)"
vl_eq 99 "$(vl_redis_cli GET "modelcache:core.Room:$lobby:version")" "higher cached version kept"
t=$(vl_redis_cli TTL "modelcache:core.Room:$lobby:version")
[ "$t" -gt 604000 ] || vl_fail "expiry not refreshed: $t"
vl_eq 2 "$first" "lobby was 2 before"

# --- A changed file: rooms updated by import id, new ones added, a room
# gaining chat.native gets its one channel, links replaced; from stdin.
"$PY" - "$SAMPLE" >"$VL_TMP/changed.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["rooms"][3]["name"] = "Workshop (umbenannt)"
d["rooms"][3]["modules"].append({"type": "chat.native", "config": {}})
d["rooms"].insert(0, {"id": 42, "name": "Neu", "modules": []})
d["exhibitors"][0]["links"] = [{"display_text": "Nur noch einer", "url": "https://one.example.org"}]
d["world"]["title"] = "Neuer Titel"
print(json.dumps(d))
PY
# --diff: per JSON path what the import would change, exit 3 (pending);
# written by hand from the changes above (keys sorted within an object).
# Nothing is written.
s1=$(snap)
vl_exit 3 "$V" import_config --diff "$VL_TMP/changed.json"
want='~ world.title: "Unsere tolle Online-Konferenz" -> "Neuer Titel"
+ rooms[0]: new room "42"
~ rooms[1].(position): 0 -> 1
~ rooms[2].(position): 1 -> 2
~ rooms[3].(position): 2 -> 3
~ rooms[4].(position): 3 -> 4
+ rooms[4].modules[1]: {"config":{},"type":"chat.native"}
~ rooms[4].name: "Workshop-Raum" -> "Workshop (umbenannt)"
~ rooms[5].(position): 4 -> 5
~ rooms[6].(position): 5 -> 6
~ rooms[7].(position): 6 -> 7
~ rooms[8].(position): 7 -> 8
~ exhibitors[0].links[0].display_text: "Website" -> "Nur noch einer"
~ exhibitors[0].links[0].url: "https://tolle-firma.example.com" -> "https://one.example.org"'
vl_eq "$want" "$(printf '%s\n' "$VL_OUT" | sed '$d')" "diff"
vl_contains "$(printf '%s\n' "$VL_OUT" | tail -1)" '- exhibitors[0].links[1]: {"display_text":"Produktblatt (PDF)"'
vl_eq "" "$VL_ERR"
vl_exit 3 "$V" import_config --diff --json "$VL_TMP/changed.json"
"$PY" -c 'import json,sys; d=json.loads(sys.argv[1]); c=d["changes"]
assert d["world"] == "sample" and d["exists"] is True and len(c) == 15, d
assert c[0] == {"op": "~", "path": "world.title", "old": "Unsere tolle Online-Konferenz", "new": "Neuer Titel"}, c[0]
assert c[1]["op"] == "+" and c[1]["new"]["id"] == "42", c[1]' "$VL_OUT" || vl_fail "diff --json"
vl_exit 0 "$V" import_config --diff "$SAMPLE"
vl_eq "" "$VL_OUT" "no changes: nothing printed"
vl_exit 2 "$V" import_config --diff --dry-run "$SAMPLE"
sed 's/"sample"/"brandnew"/' "$SAMPLE" >"$VL_TMP/brandnew.json"
vl_exit 3 "$V" import_config --diff "$VL_TMP/brandnew.json"
vl_eq '+ world: new world "Unsere tolle Online-Konferenz"' "$VL_OUT"
# --dry-run: the import runs and is rolled back; the cache is not told.
vl_exit 0 "$V" import_config --dry-run "$VL_TMP/changed.json"
vl_eq "Dry run, rolled back: World sample updated: 9 rooms (1 new), 3 exhibitors (0 new), 1 new chat channel, 2 links, 3 social media links" "$VL_OUT"
vl_exit 0 "$V" import_config -n --json "$VL_TMP/brandnew.json"
vl_contains "$VL_OUT" '"world":"brandnew","created":true,"version":2,"rooms":8,'
vl_contains "$VL_OUT" '"dry_run":true}'
sed 's/"room": "expo"/"room": "nosuch"/' "$SAMPLE" >"$VL_TMP/bad-room.json"
vl_exit 1 "$V" import_config --dry-run "$VL_TMP/bad-room.json"
vl_eq "venueless: import_config: exhibitors[0].room: no room with id nosuch in world sample" "$VL_ERR"
vl_eq "$s1" "$(snap)" "diff and dry runs write nothing"
vl_eq 3 "$(vl_redis_cli GET modelcache:core.World:sample:version)" "dry run: cache untouched"
vl_eq "" "$(vl_redis_cli GET modelcache:core.World:brandnew:version)"

vl_exit 0 sh -c "'$V' import_config - <'$VL_TMP/changed.json'"
vl_eq "World sample updated: 9 rooms (1 new), 3 exhibitors (0 new), 1 new chat channel, 2 links, 3 social media links" "$VL_OUT"
vl_eq "9|4|3|2|3" "$(counts sample)" "changed counts"
vl_eq "Workshop (umbenannt)|4|4" "$(vl_psql -c "select name, sorting_priority, version from core_room where world_id = 'sample' and import_id = 'workshop'")"
vl_eq "Neu|0|2" "$(vl_psql -c "select name, sorting_priority, version from core_room where world_id = 'sample' and import_id = '42'")" "integer import id stored as text"
vl_eq 1 "$(vl_psql -c "select count(*) from core_channel c join core_room r on r.id = c.room_id where r.import_id = 'workshop'")"
vl_eq "Neuer Titel" "$(vl_psql -c "select title from core_world where id = 'sample'")"
# Importing the same twice more keeps exactly one channel per chat room.
vl_exit 0 "$V" import_config "$VL_TMP/changed.json"
vl_eq "9|4|3|2|3" "$(counts sample)" "stable counts"
vl_eq 0 "$(vl_psql -c "select count(*) from (select room_id from core_channel group by 1 having count(*) > 1) x")"
vl_exit 0 "$V" import_config "$SAMPLE"

# --- A file without JWT_secrets replaces the config whole (as upstream):
# a world create_world made loses its secrets, and we say so on stderr.
vl_exit 0 "$V" create_world --id secrets1 --title "Secrets" --domain ""
printf '{"world": {"id": "secrets1", "title": "Secrets"}, "rooms": []}\n' >"$VL_TMP/nosecrets.json"
# --diff names the dropped secrets first, --dry-run warns in the
# conditional; neither removes them.
vl_exit 3 "$V" import_config --diff "$VL_TMP/nosecrets.json"
vl_eq "- world.JWT_secrets: the file has none: the stored secrets would be removed and tokens signed with them stop working" "$(printf '%s\n' "$VL_OUT" | head -1)"
vl_contains "$VL_OUT" "
- roles.admin: " "the file has no roles: the defaults go too"
vl_exit 0 "$V" import_config --dry-run "$VL_TMP/nosecrets.json"
vl_contains "$VL_ERR" "venueless: import_config: warning: the file has no JWT_secrets: world secrets1's secrets would be removed"
vl_eq t "$(vl_psql -c "select config ? 'JWT_secrets' from core_world where id = 'secrets1'")"
# A changed secret is named, never shown.
printf '{"world": {"id": "secrets1", "title": "Secrets", "JWT_secrets": [{"issuer": "any", "audience": "venueless", "secret": "NewSecretValue123"}]}, "rooms": []}\n' >"$VL_TMP/newsecret.json"
vl_exit 3 "$V" import_config --diff "$VL_TMP/newsecret.json"
vl_eq "~ world.JWT_secrets[0].secret: (secret, not shown)" "$(printf '%s\n' "$VL_OUT" | head -1)"
vl_exit 3 "$V" import_config --diff --json "$VL_TMP/newsecret.json"
case "$VL_OUT" in *NewSecretValue*) vl_fail "secret in the diff: $VL_OUT" ;; esac
vl_exit 0 "$V" import_config "$VL_TMP/nosecrets.json"
vl_eq 1 "$(printf '%s\n' "$VL_ERR" | wc -l)" "one warning line: $VL_ERR"
vl_contains "$VL_ERR" "venueless: import_config: warning: the file has no JWT_secrets: world secrets1's secrets are removed"
vl_eq f "$(vl_psql -c "select config ? 'JWT_secrets' from core_world where id = 'secrets1'")"
vl_exit 0 "$V" import_config --json "$VL_TMP/nosecrets.json"
vl_eq "" "$VL_ERR" "nothing left to remove"
vl_contains "$VL_OUT" '"secrets_removed":false'
# The sample carries its own secrets: no warning on re-import.
vl_exit 0 "$V" import_config "$SAMPLE"
vl_eq "" "$VL_ERR"

# --- Broken JSON: one line, with line and column; nothing written.
s0=$(snap)
printf '{\n  "world": {"id": "x",\n  "title": }\n}\n' >"$VL_TMP/broken.json"
vl_exit 1 "$V" import_config "$VL_TMP/broken.json"
vl_eq 1 "$(printf '%s\n' "$VL_ERR" | wc -l)" "one line"
vl_eq "venueless: import_config: $VL_TMP/broken.json: line 3 column 12: unexpected '}', expected a value" "$VL_ERR"
# broken NAME MESSAGE: the file NAME.json in VL_TMP fails with exactly
# MESSAGE after its name, and nothing is written.
broken() {
	vl_exit 1 "$V" import_config "$VL_TMP/$1.json"
	vl_eq "venueless: import_config: $VL_TMP/$1.json: $2" "$VL_ERR" "$1"
	vl_eq "$s0" "$(snap)" "$1: nothing written"
}
# The offending character, not the newline after it (issue 12 item 9).
printf '{\n  "world": {"id": "x", "title": "X"},\n  "rooms": [],\n}\n' >"$VL_TMP/comma.json"
broken comma "line 4 column 1: unexpected '}', expected a member name after ','"
printf '{\n  "world": {"id": "x", "title": "X"},\n  "rooms": [\n' >"$VL_TMP/cut.json"
broken cut "line 4 column 1: unexpected end of input"
# RFC 8259 only (issue 11 item 9): these used to pass validation and fail
# inside PostgreSQL with no position. A byte order mark is refused too.
printf '\357\273\277{"world": {"id": "x", "title": "X"}, "rooms": []}\n' >"$VL_TMP/bom.json"
broken bom "line 1 column 1: unexpected byte order mark (U+FEFF), expected a value"
"$PY" - "$SAMPLE" "$VL_TMP/zero.json" >"$VL_TMP/zero.pos" <<'PY' || vl_fail "zero: generator"
import json, sys
d = json.load(open(sys.argv[1]))
d["rooms"][2]["pretalx_id"] = "@"
t = json.dumps(d, indent=2).replace('"@"', "007")
open(sys.argv[2], "w").write(t)
i = t.index("007") + 1			# the second 0 is the offending one
print("line %d column %d" % (t.count("\n", 0, i) + 1, i - t.rfind("\n", 0, i)))
PY
broken zero "$(cat "$VL_TMP/zero.pos"): unexpected '0' after a leading zero"
printf '{"world": {"id": "x", "title": "X"}, "rooms": [{"id": "r", "name": "R", "pretalx_id": -.5}]}' >"$VL_TMP/dot.json"
broken dot "line 1 column 88: unexpected '.', expected a digit"
vl_exit 1 "$V" import_config "$VL_TMP/no-such.json"
vl_contains "$VL_ERR" "venueless: import_config: $VL_TMP/no-such.json: No such file or directory"
vl_exit 1 "$V" import_config -	# stdin is /dev/null
vl_eq "venueless: import_config: stdin: line 1 column 1: unexpected end of input" "$VL_ERR"

# bad LABEL PYTHON MESSAGE: mutate the sample (d) with PYTHON, expect
# exit 1 with exactly MESSAGE, and no change to the database.
bad() {
	"$PY" -c "import json, sys
d = json.load(open(sys.argv[1]))
$2
sys.stdout.write(json.dumps(d))" "$SAMPLE" >"$VL_TMP/bad.json" || vl_fail "$1: generator"
	vl_exit 1 "$V" import_config "$VL_TMP/bad.json"
	vl_eq "venueless: import_config: $3" "$VL_ERR" "$1"
	vl_eq "$s0" "$(snap)" "$1: nothing written"
}
bad "modules type" 'd["rooms"][3]["modules"] = {"type": "x"}' "rooms[3].modules: expected an array"
bad "modules string" 'd["rooms"][2]["modules"] = "chat"' "rooms[2].modules: expected an array"
bad "rooms type" 'd["rooms"] = {}' "rooms: expected an array"
bad "missing title" 'del d["world"]["title"]' "world.title: missing"
bad "title type" 'd["world"]["title"] = 7' "world.title: expected a string"
bad "missing world" 'del d["world"]' "world: missing"
bad "missing rooms" 'del d["rooms"]' "rooms: missing"
bad "unknown top key" 'd["colour"] = "red"' "colour: unknown key"
bad "unknown room key" 'd["rooms"][1]["colour"] = "red"' "rooms[1].colour: unknown key"
bad "unknown exhibitor key" 'd["exhibitors"][2]["booth"] = 1' "exhibitors[2].booth: unknown key"
bad "room name missing" 'del d["rooms"][5]["name"]' "rooms[5].name: missing"
bad "room not an object" 'd["rooms"][1] = ["x"]' "rooms[1]: expected an object"
bad "module type missing" 'd["rooms"][0]["modules"][1] = {"config": {}}' "rooms[0].modules[1].type: missing"
bad "pretalx_id" 'd["rooms"][0]["pretalx_id"] = "1"' "rooms[0].pretalx_id: expected an integer"
bad "trait_grants" 'd["rooms"][0]["trait_grants"] = []' "rooms[0].trait_grants: expected an object"
bad "roles" 'd["roles"] = ["admin"]' "roles: expected an object"
bad "link url" 'd["exhibitors"][1]["links"][0]["url"] = None' "exhibitors[1].links[0].url: expected a string"
bad "social link" 'd["exhibitors"][0]["social_media_links"][1] = "x"' "exhibitors[0].social_media_links[1]: expected an object"
bad "text_content" 'd["exhibitors"][0]["text_content"] = "x"' "exhibitors[0].text_content: expected an array"
bad "tagline null ok, number not" 'd["exhibitors"][0]["tagline"] = 5' "exhibitors[0].tagline: expected a string or null"
bad "duplicate room id" 'd["rooms"][4]["id"] = "stage"' "rooms[4].id: duplicate of rooms[0].id"
bad "duplicate exhibitor" 'd["exhibitors"][2]["name"] = d["exhibitors"][0]["name"]' "exhibitors[2].name: duplicate of exhibitors[0].name"
bad "long name" 'd["rooms"][0]["name"] = "x" * 301' "rooms[0].name: longer than 300 characters"
bad "world id length" 'd["world"]["id"] = "a" * 51' "world.id: longer than 50 characters"
# One world id rule with create_world and clone_world: never ".." nor an option.
RULE="1 to 50 ASCII letters, digits, '_', '.' or '-', not starting with '.' or '-'"
bad "world id .." 'd["world"]["id"] = ".."' "world.id: expected $RULE"
bad "world id -rf" 'd["world"]["id"] = "-rf"' "world.id: expected $RULE"
bad "world id non-ASCII" 'd["world"]["id"] = "w\u00e4lt"' "world.id: expected $RULE"
# Roles and trait grants: names to lists of strings; JWT secrets: objects
# with string issuer, audience and a non-empty secret.
bad "roles value" 'd["roles"] = {"admin": 7}' "roles.admin: expected an array of strings"
bad "roles entry" 'd["roles"]["viewer"] = ["world:view", 7]' "roles.viewer[1]: expected a string"
bad "trait_grants value" 'd["trait_grants"] = {"admin": "s"}' "trait_grants.admin: expected an array of strings"
bad "room trait_grants value" 'd["rooms"][2]["trait_grants"] = {"viewer": {}}' "rooms[2].trait_grants.viewer: expected an array of strings"
bad "JWT_secrets type" 'd["world"]["JWT_secrets"] = 7' "world.JWT_secrets: expected an array of objects"
bad "JWT_secrets entry" 'd["world"]["JWT_secrets"] = ["x"]' "world.JWT_secrets[0]: expected an object"
bad "JWT_secrets missing" 'd["world"]["JWT_secrets"] = [{"secret": 7}]' "world.JWT_secrets[0].issuer: missing"
bad "JWT_secrets secret" 'd["world"]["JWT_secrets"][0]["secret"] = 7' "world.JWT_secrets[0].secret: expected a string"
bad "JWT_secrets audience" 'd["world"]["JWT_secrets"][0]["audience"] = None' "world.JWT_secrets[0].audience: expected a string"
bad "JWT_secrets empty secret" 'd["world"]["JWT_secrets"][0]["secret"] = ""' "world.JWT_secrets[0].secret: must not be empty"
# NUL (which jsonb refuses) is refused by the JSON reader already.
printf '{"world": {"id": "nul", "title": "a\\u0000b"}, "rooms": []}' >"$VL_TMP/nul.json"
vl_exit 1 "$V" import_config "$VL_TMP/nul.json"
vl_eq "venueless: import_config: $VL_TMP/nul.json: line 1 column 36: \\u0000 in a string is not supported" "$VL_ERR" "NUL"
vl_eq "$s0" "$(snap)" "NUL: nothing written"
bad "unknown room" 'd["world"]["id"] = "newworld"; d["exhibitors"][1]["room"] = "nosuch"' "exhibitors[1].room: no room with id nosuch in world newworld"
# A room of another world is not found (upstream looks across worlds).
bad "room of another world" 'd["world"]["id"] = "other"; d["rooms"] = [{"id": "x", "name": "x", "modules": []}]' "exhibitors[0].room: no room with id expo in world other"
# Invalid UTF-8 (raw bytes in the file).
"$PY" -c "import sys; sys.stdout.buffer.write(open(sys.argv[1], 'rb').read().replace(b'Lobby', b'Lob\xffby', 1))" "$SAMPLE" >"$VL_TMP/utf8.json"
vl_exit 1 "$V" import_config "$VL_TMP/utf8.json"
# The reader refuses it, at the bad byte (1-based column).
ln=$(grep -n '"Lobby"' "$SAMPLE" | head -1 | cut -d: -f1)
col=$(( $(sed -n "${ln}p" "$SAMPLE" | awk '{ print index($0, "Lobby") }') + 3 ))
vl_eq "venueless: import_config: $VL_TMP/utf8.json: line $ln column $col: invalid UTF-8 in a string" "$VL_ERR"
vl_eq "$s0" "$(snap)" "invalid UTF-8: nothing written"

# --- Hostile strings are stored as they are.
"$PY" - "$SAMPLE" >"$VL_TMP/evil.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["world"]["id"] = "evil"
d["world"]["title"] = "x'); DROP TABLE core_world; --"
d["rooms"][0]["name"] = "Robert'); DROP TABLE core_room; -- \\ \" $1 %s"
d["rooms"][0]["id"] = "'; DELETE FROM core_room; --"
d["exhibitors"][0]["room"] = d["rooms"][0]["id"]
d["exhibitors"][0]["name"] = "\\\\\" ''"
d["rooms"][1]["modules"][0]["config"]["q"] = "\"}]'; SELECT 1; --\\u0000"
print(json.dumps(d))
PY
vl_exit 0 "$V" import_config "$VL_TMP/evil.json"
vl_eq "Robert'); DROP TABLE core_room; -- \\ \" \$1 %s" "$(vl_psql -c "select name from core_room where world_id = 'evil' and sorting_priority = 0")"
vl_eq "\\\\\" ''" "$(vl_psql -c "select name from core_exhibitor where world_id = 'evil' and sorting_priority = 0")"
vl_eq "\"}]'; SELECT 1; --\\u0000" "$(vl_psql -c "select module_config->0->'config'->>'q' from core_room where world_id = 'evil' and sorting_priority = 1")"
vl_eq "9|4|3|3|3" "$(counts sample)" "sample untouched (rooms not in the file are kept, as upstream)"
# Ids with '_', '.' and '-' (not first) still import; "a b" does not.
printf '{"world": {"id": "my_world-2.0", "title": "T"}, "roles": {"admin": []}, "rooms": []}\n' >"$VL_TMP/dotted.json"
vl_exit 0 "$V" import_config "$VL_TMP/dotted.json"
vl_contains "$VL_OUT" "World my_world-2.0 created"
printf '{"world": {"id": "a b", "title": "T"}, "rooms": []}\n' >"$VL_TMP/spaced.json"
vl_exit 1 "$V" import_config "$VL_TMP/spaced.json"
vl_eq "venueless: import_config: world.id: expected 1 to 50 ASCII letters, digits, '_', '.' or '-', not starting with '.' or '-'" "$VL_ERR"

# --- PostgreSQL unreachable: exit 10.
VENUELESS_DB_HOST=$VL_TMP/nowhere vl_exit 10 "$V" import_config "$SAMPLE"
vl_contains "$VL_ERR" "venueless: import_config: "
vl_contains "$VL_ERR" "$VL_TMP/nowhere"
# The file is judged first: a broken one says so, with the server down too.
VENUELESS_DB_HOST=$VL_TMP/nowhere vl_exit 1 "$V" import_config "$VL_TMP/broken.json"
vl_eq "venueless: import_config: $VL_TMP/broken.json: line 3 column 12: unexpected '}', expected a value" "$VL_ERR"

# --- Redis unreachable after the commit: committed, said so, exit 11.
"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); d['world']['id']='noredis'; print(json.dumps(d))" "$SAMPLE" >"$VL_TMP/noredis.json"
VENUELESS_REDIS_URLS=unix://$VL_TMP/nowhere.sock vl_exit 11 "$V" import_config "$VL_TMP/noredis.json"
vl_eq "World noredis created: 8 rooms (8 new), 3 exhibitors (3 new), 3 new chat channels, 3 links, 3 social media links" "$VL_OUT"
vl_contains "$VL_ERR" "venueless: import_config: committed, but the server cache was not updated (running servers may serve the old configuration until they reload): "
vl_eq "8|3|3|3|3" "$(counts noredis)" "committed without Redis"
vl_eq "" "$(vl_redis_cli GET modelcache:core.World:noredis:version)"

# --- Interrupted at any point: the database is as it was.
"$PY" "$GEN" big 6000 1500 >"$VL_TMP/big.json"
vl_exit 0 "$V" import_config "$VL_TMP/big.json"
vl_eq "6000|2000|1500|3000|1500" "$(counts big)" "big world"
"$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); d['world']['id']='big2'; d['rooms'][0]['name']='changed'; print(json.dumps(d))" "$VL_TMP/big.json" >"$VL_TMP/big2.json"

# Points to stop at. A table lock stops a command before its statement
# runs (locks are taken when it is planned). To stop one in the middle of
# its statement, or at COMMIT (the deferred constraint checks), triggers
# take a shared advisory lock the locker holds exclusively: a row trigger
# on the exhibitor links (inserted last) and a deferred constraint
# trigger on the world. They are dropped afterwards.
vl_psql -c "CREATE FUNCTION vl_pause_row() RETURNS trigger LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM pg_advisory_lock_shared(4242); PERFORM pg_advisory_unlock_shared(4242); RETURN NEW; END \$\$" \
  -c "CREATE FUNCTION vl_pause_commit() RETURNS trigger LANGUAGE plpgsql AS
  \$\$ BEGIN PERFORM pg_advisory_lock_shared(4243); PERFORM pg_advisory_unlock_shared(4243); RETURN NULL; END \$\$" \
  -c "CREATE TRIGGER vl_pause_links BEFORE INSERT ON core_exhibitorlink FOR EACH ROW EXECUTE FUNCTION vl_pause_row()" \
  -c "CREATE TRIGGER vl_pause_social BEFORE INSERT ON core_exhibitorsocialmedialink FOR EACH ROW EXECUTE FUNCTION vl_pause_row()" \
  -c "CREATE CONSTRAINT TRIGGER vl_pause_world AFTER INSERT OR UPDATE ON core_world
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION vl_pause_commit()"

# locker WHAT: hold table WHAT exclusively, or advisory lock "mid" (4242)
# or "commit" (4243), from another session.
locker() {
	local sql check
	case "$1" in
	mid|commit)
		key=4242; [ "$1" = commit ] && key=4243
		sql="SELECT pg_advisory_lock($key), pg_sleep(120)"
		check="select count(*) from pg_locks where locktype = 'advisory' and objid = $key and mode = 'ExclusiveLock' and granted" ;;
	*)
		sql="BEGIN; LOCK TABLE $1 IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(120);"
		check="select count(*) from pg_locks l join pg_class c on c.oid = l.relation where c.relname = '$1' and l.mode = 'AccessExclusiveLock' and l.granted" ;;
	esac
	psql -X -q -c "$sql" >/dev/null 2>&1 &
	LOCKER=$!
	vl_wait_for sh -c "[ \$(psql -X -At -c \"$check\") = 1 ]"
}
unlock() {
	vl_psql -c "select pg_terminate_backend(pid) from pg_stat_activity where query like '%pg_sleep(120)%' and pid <> pg_backend_pid()" >/dev/null
	wait "$LOCKER" 2>/dev/null
}
# waiting APP STATE: until a backend of application_name APP waits for a
# lock, STATE "active" (in a statement, COMMIT included).
waiting() {
	vl_wait_for sh -c "[ \$(psql -X -At -c \"select count(*) from pg_stat_activity where application_name = '$1' and wait_event_type = 'Lock' and state = 'active'\") = 1 ]"
}
gone() {
	vl_wait_for sh -c "[ \$(psql -X -At -c \"select count(*) from pg_stat_activity where application_name like 'venueless%'\") = 0 ]"
}
# killed_at WHERE SIGNAL CMD...: run CMD until it waits at WHERE, signal it.
killed_at() {
	local where=$1 sig=$2 pid app
	shift 2
	app="venueless $2"
	locker "$where"
	"$@" >/dev/null 2>"$VL_TMP/killed.err" &
	pid=$!
	waiting "$app"
	KILLED_QUERY=$(vl_psql -c "select left(query, 40) from pg_stat_activity where application_name = '$app'")
	kill "-$sig" "$pid"
	wait "$pid"
	KILLED_RC=$?
	unlock
	gone
}
# drop_world ID: delete a world and what hangs off it.
drop_world() {
	vl_psql -c "begin; delete from core_exhibitorlink l using core_exhibitor e where e.id = l.exhibitor_id and e.world_id = '$1';
	    delete from core_exhibitorsocialmedialink l using core_exhibitor e where e.id = l.exhibitor_id and e.world_id = '$1';
	    delete from core_exhibitor where world_id = '$1'; delete from core_channel where world_id = '$1';
	    delete from core_room where world_id = '$1'; delete from core_world where id = '$1'; commit"
}
s0=$(snap)
for at in core_room mid; do
	killed_at "$at" KILL "$V" import_config "$VL_TMP/big2.json"	# a new world
	vl_eq "$s0" "$(snap)" "import killed at $at (new world)"
	killed_at "$at" KILL "$V" import_config "$VL_TMP/big.json"	# an update
	vl_eq "$s0" "$(snap)" "import killed at $at (update)"
	killed_at "$at" KILL "$V" clone_world big --id bigclone --title C --domain ''
	vl_eq "$s0" "$(snap)" "clone killed at $at"
done
vl_contains "$KILLED_QUERY" "WITH w AS" "clone stopped inside its statement"
# Once COMMIT is sent the server finishes it without us: killed there,
# the change is all there (and the cache was not told).
killed_at commit KILL "$V" import_config "$VL_TMP/big2.json"
vl_eq "COMMIT" "$KILLED_QUERY" "stopped in COMMIT"
vl_eq "6000|2000|1500|3000|1500" "$(counts big2)" "committed whole"
vl_eq "" "$(vl_redis_cli GET modelcache:core.World:big2:version)" "cache not told"
drop_world big2
vl_eq "$s0" "$(snap)" "restored"
# SIGTERM: the query is cancelled, exit 130, nothing written.
killed_at mid TERM "$V" import_config "$VL_TMP/big2.json"
vl_eq 130 "$KILLED_RC" "SIGTERM exit"
vl_eq "$s0" "$(snap)" "import stopped by SIGTERM"
vl_psql -c "DROP TRIGGER vl_pause_links ON core_exhibitorlink" \
  -c "DROP TRIGGER vl_pause_social ON core_exhibitorsocialmedialink" \
  -c "DROP TRIGGER vl_pause_world ON core_world"
# kill -9 after a few delays: all or nothing.
for delay in 0.05 0.15 0.3 0.5; do
	"$V" import_config "$VL_TMP/big2.json" >/dev/null 2>&1 &
	pid=$!
	sleep "$delay"
	kill -9 "$pid" 2>/dev/null
	wait "$pid"
	gone
	c=$(counts big2)
	case "$c" in
	"0|0|0|0|0") vl_eq "$s0" "$(snap)" "killed after ${delay}s" ;;
	"6000|2000|1500|3000|1500") drop_world big2 ;;
	*) vl_fail "killed after ${delay}s: partial import $c" ;;
	esac
done
echo "import: ok"
