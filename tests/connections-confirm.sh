# venueless connections drop|force_reload of every label at once: on a
# terminal (tmux) it says how many and asks; --yes, --dry-run, a pattern
# and no terminal (cron) do not ask. Servers stood in for by
# tests/connections-helper.py.
. "$(dirname "$0")/lib.sh"
command -v python3 >/dev/null || vl_skip "python3 not installed"
vl_redis_start
V=$VENUELESS
H="python3 $TOP_SRCDIR/tests/connections-helper.py"
reg() {	# FILE LABEL PROCS CONNS
	$H register "$VL_TMP/$1.json" --label "$2" --procs "$3" --conns "$4" ||
	    vl_fail "register $2"
}
. "$TOP_SRCDIR/tests/pty.sh"
pty_start
# on_tty ANSWER ARGS...: venueless ARGS in a terminal (tmux); ANSWER
# ("-" for none expected) is typed at the question; $out is the screen.
on_tty() {
	local answer=$1
	shift
	$TM new-session -d -s vl -x 200 -y 30 \
	    "$(printf '%q ' "$V" "$@"); echo \"rc=\$?\"; sleep 3600"
	VL_MARK=0
	if [ "$answer" != - ]; then
		wait_for "[y/N]:"
		line "$answer"
	fi
	wait_for "rc="
	out=$(pane)
	$TM kill-session -t vl
}
reg t1 tty.production 1 4
reg t2 other.staging 2 3
on_tty n connections drop
vl_contains "$out" "drop reaches every connection: 2 labels, about 7 connections." "the question says how many"
vl_contains "$out" "--dry-run shows what would be reached; --interval MS spaces the messages out"
vl_contains "$out" "Drop every connection? [y/N]"
vl_contains "$out" "not confirmed; nothing sent"
vl_contains "$out" "rc=1"
on_tty '' connections force_reload '*'
vl_contains "$out" "Reload every connection? [y/N]"
vl_contains "$out" "rc=1" "an empty answer is no"
# (earlier messages expire meanwhile: ask the stand-in, not a snapshot)
$H check "$VL_TMP/t1.json" --absent >/dev/null || vl_fail "not confirmed, yet sent"
on_tty y connections force_reload '*'
vl_contains "$out" "sent connection.reload to "
vl_contains "$out" "rc=0" "confirmed"
$H check "$VL_TMP/t1.json" --type connection.reload >/dev/null || vl_fail "confirmed reload not sent"
on_tty - connections force_reload --yes
case $out in *"[y/N]"*) vl_fail "--yes asked: $out" ;; esac
vl_contains "$out" "rc=0" "--yes"
on_tty - connections drop --dry-run
case $out in *"[y/N]"*) vl_fail "--dry-run asked: $out" ;; esac
on_tty - connections drop 'tty.*'
case $out in *"[y/N]"*) vl_fail "a pattern asked: $out" ;; esac
vl_contains "$out" "rc=0" "a pattern that is not * does not ask"
# Off a terminal (cron) it does not ask and does not wait: as before.
vl_exit 0 timeout 20 "$V" connections force_reload
vl_contains "$VL_ERR" "sent connection.reload to "

echo "connections-confirm: ok"
