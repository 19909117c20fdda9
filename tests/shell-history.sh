# The shell's history file through a real pseudo-terminal: Redis commands
# that carry credentials never reach it (by their command words, as
# redis-cli decides), and a symlink made in advance at its temporary name
# is not followed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pty.sh"
vl_redis_start

export VENUELESS_HISTFILE="$VL_TMP/shared/history" VENUELESS_ENVIRONMENT=test
mkdir -p "$VL_TMP/shared"
H=$VENUELESS_HISTFILE
pty_start

$TM new-session -d -s vl -x 200 -y 50 "'$VENUELESS' shell; echo EXIT=\$?; sleep 600"
mark; prompt

# Each of these is run (against a real server) and must stay out of the file.
for l in \
    'redis.pcall("ACL", "SETUSER", "ops", "on", ">pw-acl-1", "~*", "+@all")' \
    'redis.pcall("AUTH", "ops", "pw-acl-1")' \
    'redis.pcall("HELLO", 3, "AUTH", "ops", "pw-acl-1")' \
    'redis.pcall("HELLO", 2)' \
    'redis.pipeline({ { "ACL", "setuser", "ops", ">pw-pipe-2" } })' \
    'redis.pcall("CONFIG", "SET", "requirepass", "pw-req-3")' \
    'redis.pcall("auth", "pw-req-3")' \
    'redis.pcall("CONFIG", "SET", "masterauth", "pw-master-4")'; do
	mark; line "$l"; prompt
done
mark; line 'redis.call("CONFIG", "GET", "requirepass")[2]'; wait_for $'\npw-req-3'
mark; line '"kept-" .. 1'; wait_for $'\nkept-1'
vl_contains "$(cat "$H")" '"kept-" .. 1' "a plain line is saved"
vl_contains "$(cat "$H")" 'CONFIG", "GET' "CONFIG GET is saved"
case "$(cat "$H")" in *pw-*)
	vl_fail "a credential reached the history: $(cat "$H")" ;;
esac

# A symlink at the temporary name, made before the next save, points at a
# file of the operator's: the save refuses it, once, and nothing is written
# through it.
pid=$(pgrep -P "$($TM display-message -p -t vl '#{pane_pid}')" venueless)
[ -n "$pid" ] || vl_fail "no venueless process in the pane"
echo precious >"$VL_TMP/victim"
ln -s "$VL_TMP/victim" "$H.$pid.tmp"
before=$(cat "$H")
mark; line '"after-" .. 2'; wait_for $'\nafter-2'
wait_for "venueless: shell: cannot save the history: $H.$pid.tmp: File exists"
mark; line '"after-" .. 3'; wait_for $'\nafter-3'; absent 'cannot save'
vl_eq precious "$(cat "$VL_TMP/victim")" "the file behind the symlink"
[ -L "$H.$pid.tmp" ] || vl_fail "the symlink was replaced"
[ -L "$H" ] && vl_fail "the history file became the symlink"
vl_eq "$before" "$(cat "$H")" "the history file after a refused save"
# ... and the history is still there in memory.
mark; $TM send-keys -t vl C-r; keys 'after-'; wait_for '"after-" .. 3'
$TM send-keys -t vl C-c; prompt

mark; $TM send-keys -t vl C-d; wait_for 'EXIT=0'
echo "shell-history: ok"
