# tests/pty.sh: sourced after lib.sh by the tests that drive the
# interactive shell through a real pseudo-terminal: a private tmux server
# and the helpers to type into its window "vl" and wait for output.
command -v tmux >/dev/null || vl_skip "tmux not installed"

TM="tmux -S $VL_TMP/tmux.sock -f /dev/null"
trap '$TM kill-server 2>/dev/null; vl_cleanup' EXIT

# Start the server once the test's variables are exported (its sessions
# get the environment it started with), with a session that outlives
# the others: killing the last session stops the server, and the next
# new-session can race its exit ("server exited unexpectedly").
pty_start() {
	$TM new-session -d -s keep -x 20 -y 5 "sleep 3600"
}

# The pane's text, wrapped lines joined, trailing empty lines dropped.
pane() {
	$TM capture-pane -p -J -S - -t vl | awk 'NF { last = NR } { l[NR] = $0 }
	    END { for (i = 1; i <= last; i++) print l[i] }'
}

# Remember where the output so far ends; since() shows what came after.
mark() {
	VL_MARK=$(pane | wc -l)
	[ "$VL_MARK" -gt 0 ] && VL_MARK=$((VL_MARK - 1))
}
since() {
	pane | tail -n +"$((VL_MARK + 1))"
}

# Wait (polling, 10 s at most) until TEXT appears after the mark.
wait_for() {
	local i
	for i in $(seq 1 200); do
		case "$(since)" in *"$1"*) return 0 ;; esac
		sleep 0.05
	done
	vl_fail "timed out waiting for [$1]; the pane shows:
$(pane | tail -n 25)"
}

# TEXT must not appear after the mark.
absent() {
	case "$(since)" in *"$1"*) vl_fail "[$1] should not be shown:
$(since)" ;; esac
}

# Type literal text, without Enter.
keys() {
	$TM send-keys -t vl -l -- "$1"
}

# Type a line and Enter.
line() {
	keys "$1"
	$TM send-keys -t vl Enter
}

# Wait until the shell shows a fresh prompt after the mark.
prompt() {
	wait_for "${1:-venueless(test)> }"
}

# Ctrl-C at a prompt, then wait for the fresh prompt after the "^C" (the
# old line, after the mark, already shows a prompt: waiting for that
# alone lets the next keys race the interrupt).
cancel() {
	$TM send-keys -t vl C-c
	wait_for $'^C\n'"${1:-venueless(test)> }"
}

