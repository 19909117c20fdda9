# Concurrent writers of one world are serialised (issue 11 item 1): 8
# import_config runs of a new world, then of an existing one, 20 rounds,
# leave exactly one copy of every row, each run counted once in the
# versions; a clone_world racing imports of its target id too. Without
# the per-world lock each statement's snapshot misses the other runs'
# rows and they are inserted again.
. "$(dirname "$0")/lib.sh"

V=$VENUELESS
GEN=$TOP_SRCDIR/tests/data/gen-world.py
RUNS=8
ROUNDS=${VL_ROUNDS:-20}

vl_pg_start
vl_redis_start
"$V" migrate -v 0 || vl_fail "migrate"
# 200 rooms (67 with chat), 40 exhibitors with 2 links and a social link.
/usr/bin/python3 "$GEN" conc 200 40 >"$VL_TMP/conc.json" || vl_fail "gen-world"
/usr/bin/python3 "$GEN" cloned 200 40 >"$VL_TMP/cloned.json" || vl_fail "gen-world"
WANT="200|67|40|80|40"

# state WORLD: rooms|channels|exhibitors|links|social|world version|its
# rooms' distinct versions (one psql: connections are slow on a busy box)
state() {
	vl_psql -c "select (select count(*) from core_room where world_id = '$1'),
	  (select count(*) from core_channel where world_id = '$1'),
	  (select count(*) from core_exhibitor where world_id = '$1'),
	  (select count(*) from core_exhibitorlink l join core_exhibitor e on e.id = l.exhibitor_id where e.world_id = '$1'),
	  (select count(*) from core_exhibitorsocialmedialink l join core_exhibitor e on e.id = l.exhibitor_id where e.world_id = '$1'),
	  (select version from core_world where id = '$1'),
	  (select string_agg(distinct version::text, ',') from core_room where world_id = '$1')"
}
drop_world() {
	vl_psql -c "begin; delete from core_exhibitorlink l using core_exhibitor e where e.id = l.exhibitor_id and e.world_id = '$1';
	    delete from core_exhibitorsocialmedialink l using core_exhibitor e where e.id = l.exhibitor_id and e.world_id = '$1';
	    delete from core_exhibitor where world_id = '$1'; delete from core_channel where world_id = '$1';
	    delete from core_room where world_id = '$1'; delete from core_world where id = '$1'; commit" >/dev/null
}
# together N CMD...: start N copies of CMD at once; each one's exit status
# on its own line in $VL_TMP/rc.
together() {
	local n=$1 i pids=
	shift
	: >"$VL_TMP/rc"
	: >"$VL_TMP/err"
	for i in $(seq "$n"); do
		"$@" >/dev/null 2>>"$VL_TMP/err" &
		pids="$pids $!"
	done
	for i in $pids; do
		wait "$i"
		echo $? >>"$VL_TMP/rc"
	done
}

for round in $(seq "$ROUNDS"); do
	drop_world conc
	together "$RUNS" "$V" import_config "$VL_TMP/conc.json"
	vl_eq "$(printf '0\n%.0s' $(seq "$RUNS"))" "$(cat "$VL_TMP/rc")" "round $round: new world, every run exits 0: $(cat "$VL_TMP/err")"
	# one created it (version 2), every other one updated it once
	vl_eq "$WANT|$((RUNS + 1))|$((RUNS + 1))" "$(state conc)" "round $round: $RUNS imports of a new world"
	together "$RUNS" "$V" import_config "$VL_TMP/conc.json"
	vl_eq "$(printf '0\n%.0s' $(seq "$RUNS"))" "$(cat "$VL_TMP/rc")" "round $round: existing world, every run exits 0"
	vl_eq "$WANT|$((2 * RUNS + 1))|$((2 * RUNS + 1))" "$(state conc)" "round $round: $RUNS imports of an existing world"
done

# A clone racing imports of its target id: whichever comes first makes
# the world, the others update it (the clone keeps the source's import
# ids, so an import finds its rooms) or are refused (the clone: "exists").
for round in $(seq 5); do
	drop_world cloned
	"$V" clone_world conc --id cloned --title C --domain '' >/dev/null 2>"$VL_TMP/clone.err" &
	clone=$!
	together 3 "$V" import_config "$VL_TMP/cloned.json"
	wait "$clone"
	rc=$?
	case "$rc" in
	0) ;;
	1) vl_contains "$(cat "$VL_TMP/clone.err")" "world cloned already exists" "round $round: clone refused" ;;
	*) vl_fail "round $round: clone exit $rc: $(cat "$VL_TMP/clone.err")" ;;
	esac
	vl_eq "0
0
0" "$(cat "$VL_TMP/rc")" "round $round: imports beside a clone exit 0"
	vl_eq "$WANT" "$(state cloned | cut -d'|' -f1-5)" "round $round: a clone and 3 imports of its target"
done
echo "import-concurrent: ok"
