# venueless completion bash|zsh|fish and venueless __complete, through
# the shells' own completion machinery: bash's complete -p function
# called with COMP_WORDS/COMP_CWORD, fish's complete -C, Tab typed into
# interactive bash and zsh (compinit) in tmux; live values from real
# servers, and a server that never answers costing one short wait.
. "$(dirname "$0")/lib.sh"
export LC_ALL=C	# sort's order
V=$VENUELESS
BIN=$VL_TMP/bin
mkdir -p "$BIN"
ln -s "$V" "$BIN/venueless"
export PATH="$BIN:$PATH"

# ---- the command ----
for sh in bash zsh fish; do
	vl_exit 0 "$V" completion "$sh"
	vl_contains "$VL_OUT" "__complete" "$sh script"
done
vl_exit 2 "$V" completion
vl_contains "$VL_ERR" "venueless: completion: expected bash, zsh or fish"
vl_exit 2 "$V" completion tcsh
vl_contains "$VL_ERR" "unknown shell tcsh"
"$V" completion bash >"$VL_TMP/venueless.bash"
"$V" completion fish >"$VL_TMP/venueless.fish"
"$V" completion zsh >"$VL_TMP/venueless.zsh"
bash -n "$VL_TMP/venueless.bash" || vl_fail "bash script syntax"

# bcomp LINE: what bash completes for LINE (the last word is completed;
# a trailing blank completes an empty word), sorted, one a line.
bcomp() {
	bash --norc --noprofile -c '
		source "$1"
		fn=$(complete -p venueless | sed -n "s/.*-F \([^ ]*\) .*/\1/p")
		[ -n "$fn" ] || { echo "no completion function" >&2; exit 1; }
		read -ra COMP_WORDS <<<"$2"
		case $2 in *" ") COMP_WORDS+=("") ;; esac
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE=$2 COMP_POINT=${#2}
		"$fn" venueless "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$VL_TMP/venueless.bash" "$1"
}
# beq EXPECTED LINE
beq() {
	vl_eq "$1" "$(bcomp "$2")" "bash: [$2]"
}

# ---- commands, options, subcommands (no server needed) ----
beq "cleanup
clear_unused_worlds
clear_world_data
clone_world" "venueless cl"
beq "list_worlds" "venueless list"
all=$(bcomp "venueless ")
vl_contains "$all" "migrate"
vl_contains "$all" "completion"
vl_contains "$all" "help"
case "$all" in *__complete*) vl_fail "the hidden command completes: $all" ;; esac
beq "" "venueless __"
# Every shown command of the table completes (and no other).
want=$("$V" --help | sed -n '/^commands/,$p' | sed -n 's/^  \([a-z_]*\) .*/\1/p'; echo help)
vl_eq "$(printf '%s\n' "$want" | sort)" "$all" "every command"
beq "drop
force_reload
list" "venueless connections "
beq "drop" "venueless connections d"
beq "inspect" "venueless token "
beq "bash
fish
zsh" "venueless completion "
beq "--lock-timeout" "venueless migrate --lo"
beq "--verbose
--verbosity" "venueless migrate --verb"
beq "--config" "venueless list_worlds --con"
beq "--dry-run" "venueless connections drop --dr"
beq "--yes" "venueless connections drop --y"
beq "world" "venueless connections list --by w"
# without = in COMP_WORDBREAKS bash leaves --by=w one word: whole words
beq "--by=world" "venueless connections list --by=w"
beq "--title" "venueless create-world --t"
beq "--new-secrets" "venueless -c x.cfg clone_world --new"
beq "create_world
createsuperuser" "venueless help cre"
beq "--config
--help
--verbose
--version" "venueless --"
# Option values and arguments that are files: bash's own file completion.
mkdir -p "$VL_TMP/files" && cd "$VL_TMP/files"
touch world-one.json world-two.json other.txt
beq "world-one.json
world-two.json" "venueless import_config wor"
beq "world-one.json
world-two.json" "venueless -c wor"
beq "world-one.json
world-two.json" "venueless export_config -o wor"
beq "other.txt" "venueless shell ot"
beq "" "venueless list_worlds "
cd "$VL_TMP"

# ---- live values: world ids, labels, apps and migrations ----
vl_pg_start
vl_redis_start
vl_exit 0 "$V" migrate
for w in sample samplex other; do
	vl_exit 0 "$V" create_world --id "$w" --title "$w" --domain ''
done
beq "sample
samplex" "venueless clone_world sam"
beq "other" "venueless clear-world-data o"
beq "other" "venueless connections drop --world o"
beq "sample
samplex" "venueless -v generate_token --days 3 sam"
vl_redis_cli HSET connections abc123.production 4 def456.staging 1 >/dev/null
beq "abc123.production" "venueless connections drop a"
beq "abc123.production
def456.staging" "venueless connections force_reload abc123.production "
beq "contenttypes
control
core" "venueless migrate co"
beq "0001_initial
0001_initial_squashed_0067_world_vapid_private_key_world_vapid_public_key_and_more" \
    "venueless migrate core 0001_i"
beq "0002_world_domain" "venueless migrate core 0002"
beq "contenttypes
control" "venueless showmigrations auth con"
# -c on the line is the deployment asked: no server on its port (the
# test's VENUELESS_DB_* variables beat a file, but set no port).
printf '[database]\nport = 1\n' >"$VL_TMP/other.cfg"
beq "" "venueless -c $VL_TMP/other.cfg clone_world sam"
beq "" "venueless clone_world --config $VL_TMP/other.cfg sam"
beq "sample
samplex" "venueless clone_world sam"

# ---- fish ----
if command -v fish >/dev/null; then
	fcomp() {
		fish --no-config -c "source $VL_TMP/venueless.fish; complete -C '$1'"
	}
	out=$(fcomp "venueless cl")
	vl_contains "$out" "$(printf 'clone_world\tcopy a world with its rooms and exhibitors')"
	vl_contains "$out" "clear_world_data"
	vl_eq 4 "$(printf '%s\n' "$out" | wc -l)" "fish: venueless cl: $out"
	vl_eq "drop
force_reload
list" "$(fcomp "venueless connections " | cut -f1 | sort)" "fish subcommands"
	out=$(fcomp "venueless migrate --lock")
	vl_contains "$out" "$(printf -- '--lock-timeout\tgive up (exit 4)')"
	vl_eq "sample
samplex" "$(fcomp "venueless clone_world sam" | sort)" "fish: world ids"
	vl_eq "abc123.production" "$(fcomp "venueless connections drop ab")" "fish: labels"
	cd "$VL_TMP/files"
	vl_eq "world-one.json
world-two.json" "$(fcomp "venueless import_config wor" | cut -f1 | sort)" "fish: files"
	cd "$VL_TMP"
else
	echo "fish not installed: its part skipped" >&2
fi

# ---- interactive bash and zsh, Tab typed into a terminal ----
# bash splits --opt=value at the = itself (COMP_WORDBREAKS): only a
# real line typed shows that the script joins the words again.
# pressed LINE [EXPECTED]: type LINE and Tab at a fresh prompt; the
# prompt's line must then read EXPECTED (LINE completed), then cleared.
pressed() {
	mark; keys "$1"; $TM send-keys -t vl Tab
	[ $# -lt 2 ] || wait_for "$PS$2"
}
# listed LINE WORD...: two Tabs after LINE list (at least) the WORDs.
listed() {
	local l=$1 w; shift
	mark; keys "$l"; $TM send-keys -t vl Tab Tab
	for w; do wait_for "$w"; done
}
clear_line() {
	$TM send-keys -t vl C-u
	mark; $TM send-keys -t vl Enter; wait_for "$PS"
}
if command -v tmux >/dev/null; then
	. "$TOP_SRCDIR/tests/pty.sh"
	pty_start
	cd "$VL_TMP/files"
	PS='$ '
	$TM new-session -d -s vl -x 160 -y 40 "bash --norc --noprofile -i"
	mark; line "PS1='\$ '; source $VL_TMP/venueless.bash"; wait_for "$PS"
	pressed "venueless connections drop --world=o" "venueless connections drop --world=other "
	clear_line
	pressed "venueless connections list --by=w" "venueless connections list --by=world "
	clear_line
	pressed "venueless export_config --output=world-o" "venueless export_config --output=world-one.json "
	clear_line
	pressed "venueless -c x.cfg clone_world --config=oth" "venueless -c x.cfg clone_world --config=other.txt "
	clear_line
	listed "venueless connections drop --world=" "other" "samplex"
	vl_contains "$(since)" "sample" "bash: --world= lists the ids"
	case "$(since)" in *"--world=sample"*) vl_fail "bash lists the whole word: $(since)" ;; esac
	clear_line
	pressed "venueless clone_world --new" "venueless clone_world --new-secrets "
	clear_line
	$TM kill-session -t vl
	if command -v zsh >/dev/null; then
		zsh -n "$VL_TMP/venueless.zsh" || vl_fail "zsh script syntax"
		PS='% '
		$TM new-session -d -s vl -x 160 -y 40 "zsh -f -i"
		mark; line "PROMPT='%% '; autoload -Uz compinit && compinit -u -D; source $VL_TMP/venueless.zsh"
		wait_for "$PS"
		pressed "venueless clone_w" "venueless clone_world "
		clear_line
		pressed "venueless connections d" "venueless connections drop "
		clear_line
		pressed "venueless connections drop a" "venueless connections drop abc123.production "
		clear_line
		pressed "venueless connections drop --world=o" "venueless connections drop --world=other "
		clear_line
		pressed "venueless migrate --lo" "venueless migrate --lock-timeout "
		clear_line
		pressed "venueless export_config -o world-o" "venueless export_config -o world-one.json "
		clear_line
		# several: the common part, then the list with the descriptions
		listed "venueless cl" "clone_world" "clear_world_data" "copy a world with its rooms"
		clear_line
		listed "venueless clone_world sam" "samplex"
		wait_for "${PS}venueless clone_world sample"
		clear_line
		listed "venueless migrate co" "contenttypes" "control" "core"
		clear_line
		$TM kill-session -t vl
	else
		echo "zsh not installed: its part skipped" >&2
	fi
	$TM kill-server
	cd "$VL_TMP"
else
	echo "tmux not installed: the interactive part skipped" >&2
fi

# ---- a server that never answers costs one short wait ----
# A listener on PostgreSQL's socket and one for Redis that accept and
# say nothing, counting connections.
mkdir -p "$VL_TMP/mute"
python3 - "$VL_TMP/mute" <<'EOF' &
import os, socket, sys, threading
d = sys.argv[1]
def serve(path, name):
    s = socket.socket(socket.AF_UNIX)
    s.bind(path)
    s.listen(16)
    held = []
    while True:
        c, _ = s.accept()
        held.append(c)
        with open(os.path.join(d, name), "a") as f:
            f.write("x\n")
threading.Thread(target=serve, args=(os.path.join(d, ".s.PGSQL.5432"), "pg"), daemon=True).start()
threading.Thread(target=serve, args=(os.path.join(d, "redis.sock"), "redis"), daemon=True).start()
open(os.path.join(d, "ready"), "w").close()
threading.Event().wait()
EOF
mute=$!
trap 'kill $mute 2>/dev/null; vl_cleanup' EXIT
vl_wait_for test -e "$VL_TMP/mute/ready"
count() { cat "$VL_TMP/mute/$1" 2>/dev/null | wc -l; }
mkdir -p "$HOME/.cache"
export VENUELESS_DB_HOST="$VL_TMP/mute" VENUELESS_REDIS_URLS="unix://$VL_TMP/mute/redis.sock?db=0"
t0=$(date +%s.%N)
beq "" "venueless clone_world sam"
t1=$(date +%s.%N)
vl_eq 1 "$(count pg)" "one connection tried"
# libpq's connect_timeout is 2 s; far below what a hang would be
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 8) }' || vl_fail "first Tab took $t0 .. $t1"
[ -s "$HOME/.cache/venueless-complete.json" ] || vl_fail "no state file"
for i in 1 2 3; do beq "" "venueless export_config sam"; done
t2=$(date +%s.%N)
vl_eq 1 "$(count pg)" "left alone after it failed (the back-off outlives the process)"
awk -v a="$t1" -v b="$t2" 'BEGIN { exit !(b - a < 6) }' || vl_fail "three Tabs in back-off took $t1 .. $t2"
# Commands and options need no server: answered all the same.
beq "clone_world" "venueless clon"
beq "" "venueless connections drop a"
vl_eq 1 "$(count redis)" "redis: one connection"
beq "" "venueless connections drop a"
vl_eq 1 "$(count redis)" "redis: left alone after its timeout"
rm "$HOME/.cache/venueless-complete.json"
beq "" "venueless clone_world sam"
vl_eq 2 "$(count pg)" "without the state, asked again"
echo "completion: ok"
