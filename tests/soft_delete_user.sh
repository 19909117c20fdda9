#!/bin/sh
# venueless soft_delete_user: the receipt (text, --json), --dry-run,
# --world/--token-id, files removed from the media root, usage errors,
# unknown users, a dead database, Redis gone after the commit.
. "$(dirname "$0")/lib.sh"
vl_pg_start
vl_redis_start
V=$VENUELESS
command -v python3 >/dev/null || vl_skip "python3 not installed"
export VENUELESS_DATA_DIR="$VL_TMP/data"
vl_exit 0 "$V" migrate
vl_psql -v w=sd -v n=6 -v e=20 -f "$TOP_SRCDIR/tests/data/retention-world.sql" >/dev/null ||
    vl_fail "generating the world"
U1=$(vl_psql -c "select md5('sd/u/1')::uuid")
F1=$(vl_psql -c "select file from storage_storedfile where id = md5('sd/f/1')::uuid")
mkdir -p "$VL_TMP/data/media/pub/sd"
: >"$VL_TMP/data/media/$F1"

vl_exit 0 "$V" soft_delete_user --help
vl_contains "$VL_OUT" "usage: venueless soft_delete_user [options] USER_ID"
vl_exit 2 "$V" soft_delete_user
vl_contains "$VL_ERR" "expected a USER_ID argument"
vl_exit 2 "$V" soft_delete_user --world sd
vl_contains "$VL_ERR" "--world and --token-id go together"
vl_exit 2 "$V" soft_delete_user --world sd --token-id token1 "$U1"
vl_exit 2 "$V" soft_delete_user --bogus "$U1"
vl_exit 1 "$V" soft_delete_user a-b-c-d-0123456789012345678901234567
vl_contains "$VL_ERR" "is not a user id (a UUID)"
vl_exit 1 "$V" soft_delete_user not-a-uuid
vl_eq "venueless: soft_delete_user: not-a-uuid is not a user id (a UUID)" "$VL_ERR"
vl_exit 1 "$V" soft_delete_user 00000000-0000-0000-0000-000000000000
vl_eq "venueless: soft_delete_user: user 00000000-0000-0000-0000-000000000000 does not exist" "$VL_ERR"
vl_exit 1 "$V" soft_delete_user --world sd --token-id nope
vl_contains "$VL_ERR" "world sd has no user with token id nope"
VENUELESS_DB_HOST=$VL_TMP/nowhere vl_exit 10 "$V" soft_delete_user "$U1"

# dry run: the receipt, nothing written, the file kept
vl_exit 0 "$V" soft_delete_user -n "$U1"
vl_contains "$VL_OUT" "user $U1 (world sd): dry run at "
vl_contains "$VL_OUT" "storage_storedfile                             2 would be deleted"
vl_contains "$VL_OUT" "connection.reload would be sent to user.$U1"
vl_eq "f|2" "$(vl_psql -c "select deleted, version from core_user where id = '$U1'")"
[ -f "$VL_TMP/data/media/$F1" ] || vl_fail "a dry run removed a file"

# by world and token id, --json: one line with the counts and the files
vl_redis_cli ZADD "venueless:0:asgi::group:user.$U1" "$(date +%s)" "specific.a!b" >/dev/null
vl_exit 0 "$V" soft_delete_user --world sd --token-id token1 --json
vl_eq 1 "$(printf '%s\n' "$VL_OUT" | wc -l)" "one JSON line"
vl_eq "soft_delete_user $U1 3 2 missing,removed 1" "$(printf '%s' "$VL_OUT" | python3 -c '
import json, sys
r = json.load(sys.stdin)
rows = {(x["table"], x["action"]): x["count"] for x in r["rows"]}
print(r["kind"], r["user"], r["version"], rows[("storage_storedfile", "delete")],
      ",".join(sorted(f["state"] for f in r["files"])), r["reload"]["sent"])')"
[ ! -f "$VL_TMP/data/media/$F1" ] || vl_fail "the avatar file is still there"
vl_eq "t||" "$(vl_psql -c "select deleted, client_id, token_id from core_user where id = '$U1'")"
vl_eq 3 "$(vl_redis_cli GET "modelcache:core.User:$U1:version")"
vl_contains "$(vl_redis_cli ZRANGE 'venueless:0:asgi:specific.a!' 0 -1)" "connection.reload"

# Redis gone after the commit: the receipt, then exit 11 saying so
U3=$(vl_psql -c "select md5('sd/u/3')::uuid")
VENUELESS_REDIS_URLS=unix://$VL_TMP/nowhere.sock vl_exit 11 "$V" soft_delete_user "$U3"
vl_contains "$VL_OUT" "user $U3 (world sd): committed at "
vl_contains "$VL_ERR" "venueless: soft_delete_user: committed, but the server cache was not updated"
vl_eq t "$(vl_psql -c "select deleted from core_user where id = '$U3'")"

# a file that cannot be removed: the receipt, then exit 1
U5=$(vl_psql -c "select md5('sd/u/5')::uuid")
F5=$(vl_psql -c "select file from storage_storedfile where id = md5('sd/f/5')::uuid")
mkdir -p "$VL_TMP/data/media/$F5/sub" && : >"$VL_TMP/data/media/$F5/sub/x"
vl_exit 1 "$V" soft_delete_user "$U5"
vl_contains "$VL_OUT" "file $F5 not removed: "
vl_contains "$VL_ERR" "committed, but 1 file could not be removed from $VL_TMP/data/media"
echo "soft_delete_user: ok"
