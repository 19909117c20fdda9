# export_config against throwaway PostgreSQL and Redis: the file is the
# import format (checked against the sample by the reference's rules),
# keys in a stable order, secrets left out on request and VAPID keys
# never; export then import into an empty database gives the same rows
# (apart from generated ids and versions); re-importing the export
# updates the same rooms; refusals and failures.
. "$(dirname "$0")/lib.sh"

PY=/usr/bin/python3
V=$VENUELESS
SAMPLE=$TOP_SRCDIR/tests/data/sample-world.json
SECRET=Sample0nlyNotASecretAtAllUseCreateWorldForRealOnesPlease0123456

vl_exit 0 "$V" export_config --help
vl_contains "$VL_OUT" "usage: venueless export_config [options] WORLD_ID"
vl_contains "$VL_OUT" "--no-secrets"
vl_exit 2 "$V" export_config
vl_contains "$VL_ERR" "venueless: export_config: expected a WORLD_ID argument"
vl_exit 2 "$V" export_config a b
vl_exit 2 "$V" export_config --bogus sample
vl_exit 2 "$V" export_config sample -o

# No server: exit 10 with one line.
export VENUELESS_DB_HOST="$VL_TMP/nowhere"
vl_exit 10 "$V" export_config sample
vl_eq 1 "$(printf '%s\n' "$VL_ERR" | wc -l)" "one line: $VL_ERR"
vl_contains "$VL_ERR" "venueless: export_config: "

vl_pg_start
vl_redis_start
"$V" migrate -v 0 || vl_fail "migrate"

vl_exit 1 "$V" export_config nope
vl_eq "venueless: export_config: world nope does not exist" "$VL_ERR"
vl_eq "" "$VL_OUT"

# --- The sample: the file is what the reference says import read.
vl_exit 0 "$V" import_config "$SAMPLE"
vl_exit 0 "$V" export_config sample
printf '%s\n' "$VL_OUT" >"$VL_TMP/a.json"
"$PY" - "$SAMPLE" "$VL_TMP/a.json" <<'PY' || vl_fail "export of the sample"
import json, sys
src = json.load(open(sys.argv[1]))
text = open(sys.argv[2]).read()
out = json.loads(text)
assert list(out) == ["world", "roles", "trait_grants", "rooms", "exhibitors"], list(out)
w = out["world"]
assert list(w)[:2] == ["id", "title"], list(w)
assert list(w)[2:] == sorted(list(w)[2:]), "config keys sorted"
assert w == src["world"], "world keys as in the file"
assert out["roles"] == src["roles"] and out["trait_grants"] == src["trait_grants"]
assert len(out["rooms"]) == len(src["rooms"])
for r, s in zip(out["rooms"], src["rooms"]):
    assert list(r) == ["id", "name", "description", "trait_grants", "modules", "pretalx_id"], list(r)
    want = {"id": s["id"], "name": s["name"], "description": s.get("description"),
            "trait_grants": s.get("trait_grants", {}), "modules": s["modules"],
            "pretalx_id": s.get("pretalx_id", 0)}
    assert r == want, (r, want)
for e, s in zip(out["exhibitors"], src["exhibitors"]):
    assert list(e) == ["name", "tagline", "short_text", "logo", "text", "text_content",
                       "size", "room", "links", "social_media_links"], list(e)
    want = {"name": s["name"], "tagline": s.get("tagline"), "short_text": s.get("short_text"),
            "logo": s.get("logo"), "text": s.get("text"),
            "text_content": s.get("text_content", []), "size": s["size"], "room": s["room"],
            "links": [dict(l, category=l.get("category", "profile")) for l in s.get("links", [])],
            "social_media_links": s.get("social_media_links", [])}
    assert e == want, (e, want)
assert "PRIVATE KEY" not in text and "PUBLIC KEY" not in text, "no VAPID keys"
PY
# Stable: the same bytes twice, and the same as -o writes.
vl_exit 0 "$V" export_config sample -o "$VL_TMP/b.json"
vl_eq "" "$VL_OUT" "-o: nothing on stdout"
cmp -s "$VL_TMP/a.json" "$VL_TMP/b.json" || vl_fail "export twice differs"
vl_exit 1 "$V" export_config sample -o "$VL_TMP/no/such/dir.json"
vl_contains "$VL_ERR" "venueless: export_config: cannot write $VL_TMP/no/such/dir.json: No such file"
# The file holds JWT secrets: 0600 whatever the umask, also when it
# replaces a readable one.
vl_eq "600" "$(stat -c %a "$VL_TMP/b.json")" "-o file mode"
chmod 644 "$VL_TMP/b.json"
(umask 000; "$V" export_config sample -o "$VL_TMP/b.json") || vl_fail "export over a file"
vl_eq "600" "$(stat -c %a "$VL_TMP/b.json")" "-o replaced file mode"
cmp -s "$VL_TMP/a.json" "$VL_TMP/b.json" || vl_fail "export over a file differs"
vl_contains "$VL_ERR" "venueless: export_config: cannot write $VL_TMP/no/such/dir.json"

# --no-secrets: no JWT_secrets at all (the rest unchanged), never VAPID.
vl_exit 0 "$V" export_config --no-secrets sample
case "$VL_OUT" in *"$SECRET"*|*JWT_secrets*|*PRIVATE*) vl_fail "secrets exported: $VL_OUT" ;; esac
printf '%s\n' "$VL_OUT" >"$VL_TMP/n.json"
"$PY" -c 'import json,sys; a=json.load(open(sys.argv[1])); n=json.load(open(sys.argv[2]))
del a["world"]["JWT_secrets"]; assert a == n' "$VL_TMP/a.json" "$VL_TMP/n.json" ||
    vl_fail "--no-secrets changes more than JWT_secrets"
vl_contains "$(cat "$VL_TMP/a.json")" "$SECRET"

# --- A world changed after its import: a room made without an import
# id (with chat), an exhibitor moved there, a link's category, a
# deleted room (not exported).
"$V" shell -e 'local w = worlds.get("sample")
  w:add_room({ name = "Extra", modules = { { type = "chat.native", config = {} } } })' ||
    vl_fail "add_room"
extra=$(vl_psql -c "select id from core_room where world_id = 'sample' and name = 'Extra'")
vl_psql -c "update core_exhibitor set room_id = '$extra' where name = 'Tolle Firma GmbH'" \
  -c "update core_exhibitorlink set category = 'download' where display_text = (select min(display_text) from core_exhibitorlink)" \
  -c "update core_room set deleted = true where import_id = 'roulette'"
vl_exit 0 "$V" export_config sample -o "$VL_TMP/c.json"
"$PY" - "$VL_TMP/c.json" "$extra" <<'PY' || vl_fail "changed export"
import json, sys
out = json.load(open(sys.argv[1]))
ids = [r["id"] for r in out["rooms"]]
assert "roulette" not in ids, "deleted room exported"
assert ids[-1] == sys.argv[2], "a room without import id has its uuid: %s" % ids
assert [e["room"] for e in out["exhibitors"] if e["name"] == "Tolle Firma GmbH"] == [sys.argv[2]]
PY

# rows: the world's rows without generated ids and versions; rooms named
# by import id, else uuid (what the file calls them), their sorting
# priority as a position (the file has the order, not the numbers: the
# deleted room leaves a gap).
rows() {
	vl_psql -c "select json_build_object(
  'world', (select row_to_json(w) from (select id, title, config, domain, roles, trait_grants,
     locale, timezone, feature_flags, external_auth_url from core_world where id = 'sample') w),
  'rooms', (select json_agg(r order by ref) from (select coalesce(import_id, id::text) ref, name,
     description, picture, row_number() over (order by sorting_priority) position, trait_grants, module_config, deleted, pretalx_id,
     force_join, schedule_data, (select count(*) from core_channel c where c.room_id = x.id
       and c.world_id = x.world_id and c.name is null) channels
     from core_room x where world_id = 'sample' and not deleted) r),
  'exhibitors', (select json_agg(e order by name) from (select x.name, tagline, short_text, logo,
     text_legacy, text_content, size, x.sorting_priority, coalesce(r.import_id, r.id::text) room,
     banner_detail, banner_list, contact_enabled, highlighted_room_id,
     (select json_agg(json_build_array(display_text, url, category, sorting_priority) order by id)
        from core_exhibitorlink where exhibitor_id = x.id) links,
     (select json_agg(json_build_array(display_text, url) order by id)
        from core_exhibitorsocialmedialink where exhibitor_id = x.id) social
     from core_exhibitor x join core_room r on r.id = x.room_id
     where x.world_id = 'sample') e))"
}
orig=$(rows)
vl_contains "$orig" '"download"' "the changed link is in the rows"

# --- Export, then import into an empty database: the same rows.
vl_psql -c "create database copy"
(
	export VENUELESS_DB_NAME=copy PGDATABASE=copy
	"$V" migrate -v 0 || vl_fail "migrate copy"
	vl_exit 0 "$V" import_config "$VL_TMP/c.json"
	vl_contains "$VL_OUT" "World sample created: 8 rooms (8 new)"
	vl_eq "$orig" "$(rows)" "rows after export and import into an empty database"
	vl_eq "$extra" "$(vl_psql -c "select import_id from core_room where name = 'Extra'")" \
	    "the uuid becomes the copy's import id"
	# and the copy exports to the same file
	vl_exit 0 "$V" export_config sample
	vl_eq "$(cat "$VL_TMP/c.json")" "$VL_OUT" "the copy's export"
) || exit 1

# --- Re-importing the export updates the same rooms: nothing new, the
# uuid-only room matched by its uuid (its import id stays NULL).
ids=$(vl_psql -c "select string_agg(id::text, ',' order by id) from core_room")
vl_exit 0 "$V" import_config "$VL_TMP/c.json"
vl_contains "$VL_OUT" "World sample updated: 8 rooms (0 new), 3 exhibitors (0 new), 0 new chat channels"
vl_eq "$ids" "$(vl_psql -c "select string_agg(id::text, ',' order by id) from core_room")" "same rooms"
vl_eq "" "$(vl_psql -c "select import_id from core_room where id = '$extra'")"
vl_eq "$orig" "$(rows)" "re-import changes no row but versions"
vl_exit 0 "$V" import_config --diff "$VL_TMP/c.json"
vl_eq "" "$VL_OUT" "an export has no diff against its world"

# --- Refusals: what a file could not say, nothing written.
vl_psql -c "update core_room set deleted = true where id = '$extra'"
vl_exit 1 "$V" export_config sample -o "$VL_TMP/c.json"
vl_eq "venueless: export_config: world sample cannot be exported: exhibitor Tolle Firma GmbH is in room $extra, which is deleted or not the world's" "$VL_ERR"
vl_exit 0 "$V" import_config --diff "$VL_TMP/c.json"	# the earlier file is still there
vl_psql -c "update core_room set deleted = false where id = '$extra'" \
  -c "update core_exhibitor set name = 'Startup' where name like 'Verein%'" \
  -c "update core_exhibitor set name = 'Startup' where name like 'Startup %'"
vl_exit 1 "$V" export_config sample
vl_contains "$VL_ERR" "venueless: export_config: world sample cannot be exported: exhibitors "
vl_contains "$VL_ERR" " share the name Startup"
vl_psql -c "update core_exhibitor set name = 'Startup B' where id = (select max(id::text)::uuid from core_exhibitor where name = 'Startup')" \
  -c "update core_room set import_id = 'stage' where import_id = 'stage2'"
vl_exit 1 "$V" export_config sample
vl_contains "$VL_ERR" " share the import id stage"
echo "export: ok"
