# changepassword against a throwaway PostgreSQL: Django's lines, the
# default user from the login name, --password-stdin, the new hash checked
# by python3's hashlib, an unknown user, three mismatches through a real
# terminal (tmux) with nothing echoed, and the password in no output.
# Django's changepassword asks no old password; --verify-old does.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pty.sh"
V=$VENUELESS
OLD='Old-pw-0ne'
PW='N3w-pw-Tw0'

vl_exit 2 "$V" changepassword root
vl_contains "$VL_ERR" "venueless: changepassword: standard input is not a terminal: give --password-stdin"
vl_exit 2 "$V" changepassword root "--password=$PW"
vl_eq "venueless: changepassword: a password is never given as an argument: use --password-stdin or the prompt" \
    "$(echo "$VL_ERR" | head -1)"
vl_exit 2 env -u LOGNAME -u USER -u LNAME -u USERNAME "$V" changepassword --password-stdin
vl_contains "$VL_ERR" "no USERNAME given and no login name"

vl_pg_start
"$V" migrate -v 0 || vl_fail "migrate"
printf '%s\n' "$OLD" | "$V" createsuperuser --username root --password-stdin >/dev/null ||
    vl_fail "createsuperuser"
printf '%s\n' "$OLD" | "$V" createsuperuser --username other --password-stdin >/dev/null ||
    vl_fail "createsuperuser other"

feed() {
	local input=$1 want=$2
	shift 2
	printf '%s' "$input" | "$@" >"$VL_TMP/out" 2>"$VL_TMP/err"
	vl_exited $? "$want" "$@"
	case "$VL_OUT$VL_ERR" in *"$PW"*|*"$OLD"*) vl_fail "a password was shown: $*" ;; esac
}

# hash_ok USER PASSWORD: python3 recomputes the stored hash from its salt.
hash_ok() {
	vl_psql -c "select password from auth_user where username = '$1'" >"$VL_TMP/hash"
	printf '%s' "$2" >"$VL_TMP/pw"
	python3 - "$VL_TMP/hash" "$VL_TMP/pw" <<'PY'
import base64, hashlib, sys
algo, it, salt, h = open(sys.argv[1]).read().strip().split("$")
pw = open(sys.argv[2], "rb").read()
assert algo == "pbkdf2_sha256" and it == "600000" and len(salt) == 22
sys.exit(base64.b64encode(hashlib.pbkdf2_hmac("sha256", pw, salt.encode(), 600000)).decode() != h)
PY
}

# --- --password-stdin, the user named; Django's two lines on stdout.
hash_ok root "$OLD" || vl_fail "the old hash"
other=$(vl_psql -c "select password from auth_user where username = 'other'")
feed "$PW
" 0 "$V" changepassword root --password-stdin
vl_eq "Changing password for user 'root'
Password changed successfully for user 'root'" "$VL_OUT"
vl_eq "" "$VL_ERR"
hash_ok root "$PW" || vl_fail "the new hash"
hash_ok root "$OLD" && vl_fail "the old password still matches"
vl_eq "$other" "$(vl_psql -c "select password from auth_user where username = 'other'")" "other untouched"

# --verify-old: the current password first; a wrong one changes nothing.
before=$(vl_psql -c "select password from auth_user where username = 'root'")
feed "wrong-old
$OLD
" 1 "$V" changepassword root --password-stdin --verify-old
vl_contains "$VL_ERR" "venueless: changepassword: wrong current password for user 'root'; nothing was changed"
vl_eq "$before" "$(vl_psql -c "select password from auth_user where username = 'root'")" "unchanged"
feed "$PW
$OLD
" 0 "$V" changepassword root --password-stdin --verify-old
hash_ok root "$OLD" || vl_fail "changed back with the right current password"
feed "$PW
" 0 "$V" changepassword root --password-stdin
hash_ok root "$PW" || vl_fail "the new hash again"

# The login name when no USERNAME is given (getpass.getuser: LOGNAME first).
feed "$PW
" 0 env LOGNAME=other USER=root "$V" changepassword --password-stdin
vl_contains "$VL_OUT" "Password changed successfully for user 'other'"
hash_ok other "$PW" || vl_fail "other's new hash"

# --- Refusals: an unknown user (before any password is read), a blank
# password, no password at all; nothing changes.
before=$(vl_psql -c "select password from auth_user where username = 'root'")
feed "$PW
" 1 "$V" changepassword ghost --password-stdin
vl_eq "venueless: changepassword: user 'ghost' does not exist" "$VL_ERR"
vl_eq "" "$VL_OUT" "nothing on stdout for an unknown user"
feed "
" 1 "$V" changepassword root --password-stdin
vl_eq "venueless: changepassword: blank passwords aren't allowed" "$VL_ERR"
feed "" 1 "$V" changepassword root --password-stdin
vl_contains "$VL_ERR" "no password on standard input"
vl_eq "$before" "$(vl_psql -c "select password from auth_user where username = 'root'")" "unchanged"
feed "$PW
" 10 env VENUELESS_DB_HOST="$VL_TMP/nopg" "$V" changepassword root --password-stdin

# --- On a terminal: three mismatches abort (Django's lines); then a pair
# that agrees changes it. Nothing typed is echoed.
pty_start
$TM new-session -d -s vl -x 150 -y 40 "'$V' changepassword root; echo EXIT=\$?; sleep 600"
mark; wait_for $'Changing password for user \'root\'\nPassword: '
for i in 1 2 3; do
	mark; line "$OLD$i"; wait_for "Password (again): "
	mark; line "$PW$i"
	if [ "$i" -lt 3 ]; then
		wait_for $'Passwords do not match. Please try again.\nPassword: '
	fi
done
wait_for "venueless: changepassword: aborting password change for user 'root' after 3 attempts"
wait_for "EXIT=1"
VL_MARK=0; absent "$OLD"; absent "$PW"
vl_eq "$before" "$(vl_psql -c "select password from auth_user where username = 'root'")" "unchanged after 3 tries"
$TM kill-session -t vl

$TM new-session -d -s vl -x 150 -y 40 "'$V' changepassword root; echo EXIT=\$?; sleep 600"
mark; wait_for $'\nPassword: '
mark; line "$OLD"; wait_for "Password (again): "
mark; line "$OLD"; wait_for "Password changed successfully for user 'root'"
wait_for "EXIT=0"
VL_MARK=0; absent "$OLD"
hash_ok root "$OLD" || vl_fail "the hash set at the terminal"
$TM kill-session -t vl
echo "changepassword: ok"
