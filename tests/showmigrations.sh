# venueless showmigrations: Django's list and plan formats, byte for byte
# against the reference, before and after migrate.
. "$(dirname "$0")/lib.sh"

[ -n "$VL_REFERENCE" ] || vl_fail "the reference (../shared/reference) is missing"
REF=$VL_REFERENCE
V=$VENUELESS

vl_exit 0 "$V" showmigrations --help
vl_contains "$VL_OUT" "-p, --plan"
vl_exit 2 "$V" showmigrations -v x
vl_exit 2 "$V" showmigrations --plan --list

vl_pg_start
BINDIR=$(vl_pg_bindir)

VENUELESS_DB_HOST=$VL_TMP/nowhere vl_exit 10 "$V" showmigrations

# json_ok LUA [WHAT]: decode $VL_OUT with our json as d; LUA, a Lua
# expression, must be true.
json_ok() {
	printf '%s' "$VL_OUT" | "$V" shell -e "local d = assert(json.decode(io.read('a'))) assert($1, 'unexpected JSON')" >/dev/null 2>"$VL_TMP/json.err" ||
	    vl_fail "${2:-JSON}: $(cat "$VL_TMP/json.err"): $VL_OUT"
}

# out_is FILE: $VL_OUT (plus the final newline) equals FILE.
out_is() {
	printf '%s\n' "$VL_OUT" | diff "$1" - || vl_fail "${2:-output} differs from $1"
}

# Nothing applied yet (not even django_migrations): all [ ].
sed 's/\[X\]/[ ]/' "$REF/showmigrations.txt" > "$VL_TMP/empty.txt"
sed 's/\[X\]/[ ]/' "$REF/showmigrations-plan.txt" > "$VL_TMP/empty-plan.txt"
vl_exit 0 "$V" showmigrations
out_is "$VL_TMP/empty.txt" "empty database"
vl_exit 0 "$V" showmigrations --plan
out_is "$VL_TMP/empty-plan.txt" "empty database, --plan"
vl_exit 0 "$V" showmigrations --plan -v 2
vl_eq "[ ]  auth.0001_initial ... (contenttypes.0001_initial)" \
    "$(echo "$VL_OUT" | sed -n 3p)" "empty database, --plan -v 2"

vl_exit 0 "$V" migrate -v 0
vl_exit 0 "$V" showmigrations
out_is "$REF/showmigrations.txt"
vl_exit 0 "$V" showmigrations --list
out_is "$REF/showmigrations.txt"
vl_exit 0 "$V" showmigrations -v 1
out_is "$REF/showmigrations.txt"
vl_exit 0 "$V" showmigrations --plan
out_is "$REF/showmigrations-plan.txt"
vl_exit 0 "$V" showmigrations -p
out_is "$REF/showmigrations-plan.txt"

# APP...: those apps, in the order given.
vl_exit 0 "$V" showmigrations storage social contenttypes
vl_eq "storage
 [X] 0001_initial
 [X] 0002_storedfile_source_url
 [X] 0003_auto_20201002_1604
social
 (no migrations)
contenttypes
 [X] 0001_initial
 [X] 0002_remove_content_type_name" "$VL_OUT" "showmigrations APP..."
vl_exit 0 "$V" showmigrations --plan auth
vl_eq "[X]  contenttypes.0001_initial
[X]  contenttypes.0002_remove_content_type_name
$(grep '  auth\.' "$REF/showmigrations-plan.txt")" "$VL_OUT" "--plan auth (with what it depends on)"
vl_exit 0 "$V" showmigrations --plan social
vl_eq "(no migrations)" "$VL_OUT" "--plan social"
# An unknown app: Django's message, a usage error (exit 2).
for args in "nosuchapp" "auth nosuchapp" "--plan nosuchapp"; do
	vl_exit 2 "$V" showmigrations $args
	vl_eq "venueless: showmigrations: No installed app with label 'nosuchapp'." \
	    "$(echo "$VL_ERR" | head -1)" "showmigrations $args"
	vl_contains "$VL_ERR" "usage: venueless showmigrations "
	vl_eq "" "$VL_OUT" "showmigrations $args: stdout"
done

# --plan -v 2: Django's dependency suffix, the migration's parents in
# (app, name) order. Expected from the reference plan: each migration
# depends on the one before it in its app, plus Django's own
# cross-app dependencies (django/contrib/auth/migrations) and each of our
# apps' first migration on the apps its squash depends on.
plan_deps() {
	awk '
	BEGIN {
		x["auth.0001_initial"] = "contenttypes.0001_initial"
		x["auth.0006_require_contenttypes_0002"] = "contenttypes.0002_remove_content_type_name"
		x["auth.0011_update_proxy_permissions"] = "contenttypes.0002_remove_content_type_name"
		x["control.0001_initial"] = "auth.0012_alter_user_first_name_max_length, contenttypes.0002_remove_content_type_name"
		x["core.0001_initial"] = "auth.0012_alter_user_first_name_max_length, contenttypes.0002_remove_content_type_name"
		x["storage.0001_initial"] = "core.0067_world_vapid_private_key_world_vapid_public_key_and_more"
	}
	{
		split($2, k, ".")
		d = (k[1] == app) ? prev : ""
		if ($2 in x) d = (d == "") ? x[$2] : d ", " x[$2]
		print $0 (d == "" ? "" : " ... (" d ")")
		app = k[1]; prev = $2
	}' "$1"
}
plan_deps "$REF/showmigrations-plan.txt" > "$VL_TMP/plan-deps.txt"
vl_exit 0 "$V" showmigrations --plan -v 2
out_is "$VL_TMP/plan-deps.txt" "--plan -v 2"
vl_contains "$VL_OUT" "[X]  auth.0006_require_contenttypes_0002 ... (auth.0005_alter_user_last_login_null, contenttypes.0002_remove_content_type_name)"
vl_eq "[X]  contenttypes.0001_initial" "$(echo "$VL_OUT" | head -1)" "--plan -v 2: a root has no suffix"
# Without the suffix it is the plain plan.
printf '%s\n' "$VL_OUT" | sed 's/ \.\.\. (.*)$//' | diff "$REF/showmigrations-plan.txt" - ||
    vl_fail "--plan -v 2 without the suffix"
vl_exit 0 "$V" showmigrations -p -v 3 sessions
vl_eq "[X]  sessions.0001_initial" "$VL_OUT" "-p -v 3 sessions"
vl_exit 0 "$V" showmigrations -p -v 1
out_is "$REF/showmigrations-plan.txt" "-p -v 1: no suffix"

# -v 2: when each was applied, as Django prints it (UTC).
vl_exit 0 "$V" showmigrations -v 2 sessions
echo "$VL_OUT" | grep -qxE ' \[X\] 0001_initial \(applied at [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\)' ||
    vl_fail "-v 2: $VL_OUT"
want=$(vl_psql -c "select to_char(applied at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') from django_migrations where app = 'sessions'")
vl_contains "$VL_OUT" "(applied at $want)"
vl_exit 0 "$V" showmigrations -v 2
vl_eq "$(sed 's/ \[X\].*/ [X]/' "$REF/showmigrations.txt")" "$(echo "$VL_OUT" | sed 's/ \[X\].*/ [X]/')" "-v 2 shape"

# --json: every migration with its applied flag and time.
vl_exit 0 "$V" showmigrations --json
json_ok '#d == 87 and (function() for _, m in ipairs(d) do
    if m.applied ~= true or not m.applied_at:match("^%d+%-%d%d%-%d%d %d%d:%d%d:%d%d$")
    then return false end end return true end)()' "showmigrations --json"
vl_eq 1 "$(printf '%s\n' "$VL_OUT" | wc -l)" "--json: one line"
vl_contains "$VL_OUT" '[{"app":"contenttypes","name":"0001_initial","applied":true,"applied_at":"' "--json key order"

# | head: no error, exit 0.
("$V" showmigrations | head -2 > "$VL_TMP/head.out"; echo "${PIPESTATUS[0]}" > "$VL_TMP/head.rc")
vl_eq "auth
 [X] 0001_initial" "$(cat "$VL_TMP/head.out")" "| head -2"
vl_eq 0 "$(cat "$VL_TMP/head.rc")" "exit status under | head"

# A partial history is shown as it is.
vl_psql -c "delete from django_migrations where app = 'core' and name >= '0066'"
vl_exit 0 "$V" showmigrations core
vl_eq " [X] 0065_alter_auditlog_data_alter_chatevent_content_and_more
 [ ] 0066_digitalsambacall
 [ ] 0067_world_vapid_private_key_world_vapid_public_key_and_more" "$(echo "$VL_OUT" | tail -3)" "partial"
vl_exit 0 "$V" showmigrations --json core
json_ok '#d == 67 and d[66].applied == false and d[67].applied == false
    and d[67].applied_at == json.null and d[65].applied == true' "showmigrations --json partial"

exit 0
