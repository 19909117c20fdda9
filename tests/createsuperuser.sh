# createsuperuser against a throwaway PostgreSQL: --password-stdin, the
# auth_user row and its hash (python3's hashlib from the stored salt and
# iterations), --json, the refusals, Django's prompts through a real
# terminal (tmux) with the password never echoed, Ctrl-C at the password
# prompt restoring the terminal, and the password in no output, message,
# history or server log.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pty.sh"
V=$VENUELESS
PW='Hunter2-s3cret'

# Refused before connecting, the password never shown (exit 2).
vl_exit 2 "$V" createsuperuser --username a
vl_contains "$VL_ERR" "venueless: createsuperuser: standard input is not a terminal: give --password-stdin"
vl_exit 2 "$V" createsuperuser --password-stdin
vl_contains "$VL_ERR" "--username is required when standard input is not a terminal"
for a in "--password=$PW" "--password $PW" "--passw $PW" "--username a --password-stdin $PW"; do
	# shellcheck disable=SC2086
	vl_exit 2 "$V" createsuperuser $a
	case "$VL_OUT$VL_ERR" in *"$PW"*) vl_fail "the password was shown for: $a" ;; esac
done
vl_contains "$VL_ERR" "venueless: createsuperuser: unexpected argument (not shown)"

# No server: exit 10, as every command.
printf '%s\n' "$PW" | VENUELESS_DB_HOST=$VL_TMP/nopg "$V" createsuperuser \
    --username a --password-stdin >"$VL_TMP/out" 2>"$VL_TMP/err"
vl_exited $? 10 createsuperuser without a server

vl_pg_start
"$V" migrate -v 0 || vl_fail "migrate"

# feed INPUT CODE CMD...: run CMD with INPUT on stdin, require exit CODE.
feed() {
	local input=$1 want=$2
	shift 2
	printf '%s' "$input" | "$@" >"$VL_TMP/out" 2>"$VL_TMP/err"
	vl_exited $? "$want" "$@"
	case "$VL_OUT$VL_ERR" in *"$PW"*) vl_fail "the password was shown: $*" ;; esac
}

# check_hash USER PASSWORD: the stored hash is Django 4.2's, recomputed by
# python3 from its salt and iterations.
check_hash() {
	vl_psql -c "select password from auth_user where username = '$1'" >"$VL_TMP/hash"
	printf '%s' "$2" >"$VL_TMP/pw"
	python3 - "$VL_TMP/hash" "$VL_TMP/pw" <<'PY' || vl_fail "hash of $1: $(cat "$VL_TMP/hash")"
import base64, hashlib, re, sys
enc = open(sys.argv[1]).read().strip()
pw = open(sys.argv[2], "rb").read()
m = re.fullmatch(r"pbkdf2_sha256\$600000\$([a-zA-Z0-9]{22})\$(.{44})", enc)
assert m, enc
key = hashlib.pbkdf2_hmac("sha256", pw, m.group(1).encode(), 600000)
assert base64.b64encode(key).decode() == m.group(2), enc
PY
}

# --- --password-stdin: one line, the row Django's create_superuser writes.
feed "$PW
ignored second line
" 0 "$V" createsuperuser --username root --email 'Root@Example.ORG' --password-stdin
vl_eq "Superuser created successfully." "$VL_OUT"
vl_eq "" "$VL_ERR" "nothing on stderr"
vl_eq "t|t|t|t||||Root@example.org|t" "$(vl_psql -c "select is_superuser, is_staff,
    is_active, last_login is null, first_name, last_name, '', email,
    abs(extract(epoch from now() - date_joined)) < 60 from auth_user where username = 'root'" | tr -d '\n')" "the row"
check_hash root "$PW"

# A CRLF line, no email, --json.
feed "$PW"$'\r\n' 0 "$V" createsuperuser --username ops --password-stdin --json
python3 - "$VL_OUT" <<'PY' || vl_fail "json: $VL_OUT"
import json, sys
d = json.loads(sys.argv[1])
assert list(d) == ["id", "username", "email", "is_superuser", "is_staff", "date_joined"], d
assert d["username"] == "ops" and d["email"] == "" and d["is_superuser"] is True, d
PY
check_hash ops "$PW"
vl_eq 1 "$(echo "$VL_OUT" | wc -l)" "one line of JSON"

# --- Refusals: a taken name (Django's message), a bad name or email, a
# blank or missing password; nothing written.
feed "$PW
" 1 "$V" createsuperuser --username root --password-stdin
vl_eq "venueless: createsuperuser: that username is already taken" "$VL_ERR"
feed "$PW
" 1 "$V" createsuperuser --username 'bad name' --password-stdin
vl_contains "$VL_ERR" "venueless: createsuperuser: enter a valid username"
feed "$PW
" 1 "$V" createsuperuser --username e1 --email nope --password-stdin
vl_eq "venueless: createsuperuser: enter a valid email address" "$VL_ERR"
feed "
" 1 "$V" createsuperuser --username e2 --password-stdin
vl_eq "venueless: createsuperuser: blank passwords aren't allowed" "$VL_ERR"
feed "" 1 "$V" createsuperuser --username e3 --password-stdin
vl_eq "venueless: createsuperuser: no password on standard input; nothing was written" "$VL_ERR"
vl_eq 2 "$(vl_psql -c "select count(*) from auth_user")" "two users"

# --- On a terminal: Django's prompts, the default username from the login
# name, the password twice and never echoed, asked again after a mismatch
# or a blank one.
pty_start
# The shell in the window traps SIGINT (a handler, reset in the child) so
# that it outlives a Ctrl-C and reports the exit status.
$TM new-session -d -s vl -x 150 -y 40 "trap true INT; env -u LNAME -u USERNAME \
    LOGNAME=Op.Admin USER=x '$V' createsuperuser; echo EXIT=\$?; \
    stty -a >'$VL_TMP/stty'; sleep 600"
mark
wait_for "Username (leave blank to use 'op.admin'): "
mark; line ''; wait_for "Email address: "
mark; line 'bad'; wait_for $'enter a valid email address\nEmail address: '
mark; line 'admin@example.org'; wait_for $'\nPassword: '
mark; keys "$PW"; $TM send-keys -t vl Enter; wait_for "Password (again): "
mark; line "$PW-other"; wait_for $'your passwords didn\'t match\nPassword: '
mark; line ''; wait_for "Password (again): "
mark; line ''; wait_for $'blank passwords aren\'t allowed\nPassword: '
mark; line "$PW"; wait_for "Password (again): "
mark; line "$PW"; wait_for "Superuser created successfully."
wait_for "EXIT=0"
VL_MARK=0; absent "$PW"
vl_wait_for test -s "$VL_TMP/stty"
tr ' ;' '\n\n' <"$VL_TMP/stty" | grep -qx echo || vl_fail "echo is off after the prompts"
tr ' ;' '\n\n' <"$VL_TMP/stty" | grep -qx icanon || vl_fail "icanon is off after the prompts"
vl_eq "t|admin@example.org" "$(vl_psql -c "select is_superuser, email from auth_user where username = 'op.admin'")"
check_hash op.admin "$PW"
$TM kill-session -t vl

# A taken name at the prompt is refused and asked again; Ctrl-C at the
# password prompt ends it (exit 130) with the terminal's echo back on.
rm -f "$VL_TMP/stty"
$TM new-session -d -s vl -x 150 -y 40 "trap true INT; env LOGNAME=root \
    '$V' createsuperuser; echo EXIT=\$?; stty -a >'$VL_TMP/stty'; sleep 600"
mark; wait_for "Username: "
mark; line 'root'; wait_for $'that username is already taken\nUsername: '
mark; line 'late'; wait_for "Email address: "
mark; line ''; wait_for $'\nPassword: '
keys "half-typed"; $TM send-keys -t vl C-c
wait_for "EXIT=130"
vl_wait_for test -s "$VL_TMP/stty"
tr ' ;' '\n\n' <"$VL_TMP/stty" | grep -qx echo || vl_fail "echo is off after Ctrl-C"
vl_eq 0 "$(vl_psql -c "select count(*) from auth_user where username = 'late'")" "nothing written"
$TM kill-session -t vl

# The password is in no file: no history, no server log.
if grep -rlF "$PW" "$HOME" "$VL_TMP/pg/log" 2>/dev/null; then
	vl_fail "the password reached a file"
fi
echo "createsuperuser: ok"
