#!/bin/sh
# venueless clear_world_data and clear_unused_worlds: counts first, the
# question on a terminal (script(1) gives it one), --yes off a terminal,
# --dry-run, the receipt, a protected file, exit codes; the candidates
# and activity checks of clear_unused_worlds.
. "$(dirname "$0")/lib.sh"
vl_pg_start
vl_redis_start
V=$VENUELESS
command -v script >/dev/null || vl_skip "script (util-linux) not installed"
export VENUELESS_DATA_DIR="$VL_TMP/data"
vl_exit 0 "$V" migrate
for w in cw idle busy; do
	vl_psql -v w=$w -v n=4 -v e=20 -f "$TOP_SRCDIR/tests/data/retention-world.sql" >/dev/null ||
	    vl_fail "generating world $w"
done
users() { vl_psql -c "select count(*) from core_user where world_id = '$1'"; }

vl_exit 0 "$V" clear_world_data --help
vl_contains "$VL_OUT" "usage: venueless clear_world_data [options] WORLD_ID"
vl_exit 2 "$V" clear_world_data
vl_exit 2 "$V" clear_world_data cw extra
# off a terminal without --yes: refused, nothing done
vl_exit 2 "$V" clear_world_data cw
vl_contains "$VL_ERR" "venueless: clear_world_data: not on a terminal: give --yes to clear world cw"
vl_exit 1 "$V" clear_world_data --yes nosuch
vl_eq "venueless: clear_world_data: world nosuch does not exist" "$VL_ERR"
VENUELESS_DB_HOST=$VL_TMP/nowhere vl_exit 10 "$V" clear_world_data --yes cw
vl_exit 0 "$V" clear_world_data --dry-run cw
vl_contains "$VL_OUT" "world cw: dry run at "
vl_contains "$VL_OUT" "core_user                                      4 would be deleted"
vl_eq 4 "$(users cw)"

# on a terminal: the counts, the question; "n" keeps everything
printf 'n\n' | script -qec "$V clear_world_data cw" /dev/null >"$VL_TMP/tty.out" 2>&1
vl_exited $? 1 "clear_world_data on a terminal, answered n"
vl_contains "$(cat "$VL_TMP/tty.out")" "would be deleted"
vl_contains "$(cat "$VL_TMP/tty.out")" "Clear world cw? This cannot be undone [y/N]"
vl_contains "$(cat "$VL_TMP/tty.out")" "not confirmed; nothing was cleared"
vl_eq 4 "$(users cw)"

# a stored file of a user of cw in another world (PROTECT): refused whole
vl_psql -c "insert into storage_storedfile (id, filename, type, file, public, user_id, world_id)
  values (md5('x')::uuid, 'x', 'x', 'x', true, md5('cw/u/2')::uuid, 'idle')"
vl_exit 1 "$V" clear_world_data --yes cw
vl_contains "$VL_ERR" "belongs to world idle (protected): nothing was cleared"
vl_eq 4 "$(users cw)"
vl_psql -c "delete from storage_storedfile where id = md5('x')::uuid"

# "y" on a terminal clears
printf 'y\n' | script -qec "$V clear_world_data cw" /dev/null >"$VL_TMP/tty.out" 2>&1
vl_exited $? 0 "clear_world_data on a terminal, answered y"
vl_contains "$(cat "$VL_TMP/tty.out")" "world cw: committed at "
vl_eq "0|" "$(users cw)|$(vl_psql -c "select domain from core_world where id = 'cw'")"
vl_eq 3 "$(vl_redis_cli GET modelcache:core.World:cw:version)"
# again, with --yes and --json: nothing left to delete, the world saved again
vl_exit 0 "$V" clear_world_data --yes --json cw
vl_contains "$VL_OUT" '{"kind":"clear_world_data","user":null,"world":"cw","dry_run":false,'
vl_contains "$VL_OUT" '"version":4,'

# clear_unused_worlds
vl_exit 0 "$V" clear_unused_worlds --help
vl_exit 2 "$V" clear_unused_worlds
vl_exit 2 "$V" clear_unused_worlds 3.5
vl_contains "$VL_ERR" "DAYS must be a whole number"
vl_exit 2 "$V" clear_unused_worlds 3x
vl_psql -c "update core_worldview set start = now() where world_id = 'busy'"
vl_exit 0 "$V" clear_unused_worlds --dry-run 30
vl_contains "$VL_OUT" "idle "
vl_contains "$(printf '%s\n' "$VL_OUT" | grep '^idle ')" "would be cleared"
vl_contains "$(printf '%s\n' "$VL_OUT" | grep '^busy ')" "active, kept"
printf '%s\n' "$VL_OUT" | grep -q '^cw ' && vl_fail "a cleared world is a candidate"
vl_eq 4 "$(users idle)"
vl_exit 0 "$V" clear_unused_worlds --json 30
vl_contains "$VL_OUT" '"world":"idle","last_activity":"'
vl_eq "0 4" "$(users idle) $(users busy)"
echo "clear_world_data: ok"
