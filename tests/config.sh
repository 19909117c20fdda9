# Configuration: file search order, VENUELESS_* overrides, redis URLs,
# pub/sub switch, the channel layer's prefix and label from these
# settings, malformed files.
. "$(dirname "$0")/lib.sh"
V=$VENUELESS
cd "$VL_TMP"

q() { "$V" shell -e "return $1"; }
# The same, with cl = venueless.channel_layer (prefix, label, limits).
cl() { "$V" shell -e "local cl = require 'venueless.channel_layer' return $1"; }

# Defaults.
vl_eq "venueless venueless  " "$(q 'config.database.name .. " " .. config.database.user .. " " .. config.database.host .. " " .. config.database.port')"
vl_eq "redis://127.0.0.1:6379/0" "$(q 'config.redis.urls[1]')"
vl_eq "venueless:0:asgi:" "$(cl 'cl.channel_prefix')"
vl_eq "unknown.unknown" "$(cl 'cl.label')"
vl_eq "unknown unknown" "$(q 'config.commit_sha .. " " .. config.environment')"
vl_eq "false" "$(q 'config.redis.use_pubsub')"
vl_eq "10000 60 86400" "$(cl 'cl.capacity .. " " .. cl.expiry .. " " .. cl.group_expiry')"
# The channel layer's facts are no longer config fields.
vl_eq "nil nil nil" "$(q 'tostring(config.channel_prefix) .. " " .. tostring(config.label) .. " " .. tostring(config.capacity)')"

# ~/.venueless.cfg then ./venueless.cfg, later wins.
mkdir -p "$HOME" work && cd work
printf '[database]\nname = fromhome\nuser = homeuser\n[redis]\ndb = 3\nhost = redis.example\nauth = s3cret\n' >"$HOME/.venueless.cfg"
printf '[database]\nname = fromcwd\n' >venueless.cfg
vl_eq "fromcwd homeuser" "$(q 'config.database.name .. " " .. config.database.user')"
vl_eq "redis://:s3cret@redis.example:6379/3" "$(q 'config.redis.urls[1]')"
vl_eq "venueless:3:asgi:" "$(cl 'cl.channel_prefix')"
vl_eq 2 "$(q '#config.files')"

# The environment beats the files.
vl_eq "envname" "$(VENUELESS_DB_NAME=envname q 'config.database.name')"
vl_eq "5433" "$(VENUELESS_DB_PORT=5433 q 'config.database.port')"
vl_eq "pw" "$(VENUELESS_DB_PASS=pw q 'config.database.password')"
vl_eq "venueless:7:asgi:" "$(VENUELESS_REDIS_DB=7 cl 'cl.channel_prefix')"

# A URL list, one per shard, spaces tolerated.
out=$(VENUELESS_REDIS_URLS='redis://a:1/0, redis://b:2/0,redis://c:3/0' q 'table.concat(config.redis.urls, "|")')
vl_eq "redis://a:1/0|redis://b:2/0|redis://c:3/0" "$out"
tab=$(printf '\t')
out=$(VENUELESS_REDIS_URLS=" redis://a:1/0 ,${tab}redis://b:2/0$tab, ,,redis://c:3/0  " q 'table.concat(config.redis.urls, "|")')
vl_eq "redis://a:1/0|redis://b:2/0|redis://c:3/0" "$out" "blanks around URLs trimmed"

# The URL built from host/port/db/auth escapes the password (and an IPv6
# host gets brackets), so redis.conn decodes exactly the password given.
vl_eq "redis://:a%2Fb%2541%23%3F%40%3A%20@redis.example:6379/3" \
    "$(VENUELESS_REDIS_AUTH='a/b%41#?@: ' q 'config.redis.urls[1]')"
vl_eq "a/b%41#?@: " "$(VENUELESS_REDIS_AUTH='a/b%41#?@: ' q 'redis.parse_url(config.redis.urls[1]).password')"
vl_eq "redis://:s3cret@[::1]:6379/3" "$(VENUELESS_REDIS_HOST=::1 q 'config.redis.urls[1]')"
vl_eq "redis://:***@redis.example:6379/3" "$(VENUELESS_REDIS_AUTH='a/b' q 'redis.conn(0).url')"

# Pub/sub switch: the documented true spellings, and others.
for t in true yes on True 1; do
	vl_eq true "$(VENUELESS_REDIS_USE_PUBSUB=$t q 'config.redis.use_pubsub')" "use_pubsub=$t"
done
for f in false no 0 TRUE off ""; do
	vl_eq false "$(VENUELESS_REDIS_USE_PUBSUB=$f q 'config.redis.use_pubsub')" "use_pubsub=$f"
done
printf '[redis]\nuse_pubsub = yes\n' >venueless.cfg
vl_eq true "$(q 'config.redis.use_pubsub')" "use_pubsub from the file"

# Label.
vl_eq "abc123.prod" "$(VENUELESS_COMMIT_SHA=abc123 VENUELESS_ENVIRONMENT=prod cl 'cl.label')"
vl_eq "unknown.stage" "$(VENUELESS_ENVIRONMENT=stage cl 'cl.label')"
vl_eq "abc123" "$(VENUELESS_COMMIT_SHA=abc123 q 'config.commit_sha')"
vl_eq "unknown.unknown" "$(VENUELESS_COMMIT_SHA= VENUELESS_ENVIRONMENT= cl 'cl.label')" "empty means unknown"

# VENUELESS_CONFIG_FILE replaces the search; -c sets it.
printf '[database]\nname = explicit\n' >"$VL_TMP/explicit.cfg"
vl_eq explicit "$(VENUELESS_CONFIG_FILE=$VL_TMP/explicit.cfg q 'config.database.name')"
vl_eq homeuser "$(q 'config.database.user')"
vl_eq venueless "$(VENUELESS_CONFIG_FILE=$VL_TMP/explicit.cfg q 'config.database.user')" "explicit file alone"
vl_eq explicit "$("$V" -c "$VL_TMP/explicit.cfg" shell -e 'return config.database.name')"

# A missing explicit file is an error naming it.
vl_exit 1 "$V" -c "$VL_TMP/nope.cfg" shell -e 'return config.environment'
vl_contains "$VL_ERR" "$VL_TMP/nope.cfg: cannot open the file"

# A malformed file names the file and line; the password is not shown.
printf '[database]\npassword = hunter2\nthis line is broken\n' >"$VL_TMP/bad.cfg"
vl_exit 1 "$V" -c "$VL_TMP/bad.cfg" shell -e 'return config.environment'
vl_contains "$VL_ERR" "$VL_TMP/bad.cfg:3: malformed line"
case "$VL_ERR" in *hunter2*) vl_fail "password printed" ;; esac
# Lines the INI library would cut (its buffer holds 197 bytes and it
# reads the rest of a longer line as a new line) are refused, naming the
# file and line; the longest line that fits is read whole.
long=$(printf 'x%.0s' $(seq 192))
printf '[database]\nname = %shost = /tmp/evil\n' "$long" >"$VL_TMP/cut.cfg"
vl_exit 1 "$V" -c "$VL_TMP/cut.cfg" shell -e 'return config.database.host'
vl_contains "$VL_ERR" "$VL_TMP/cut.cfg:2: line longer than 197 bytes"
case "$VL_OUT" in */tmp/evil*) vl_fail "the cut line set a host" ;; esac
pw186=$(printf 'p%.0s' $(seq 186))
printf '[database]\npassword = %s\n' "$pw186" >"$VL_TMP/pw186.cfg"
vl_eq "$pw186" "$("$V" -c "$VL_TMP/pw186.cfg" shell -e 'return config.database.password')" "a 197-byte line is read whole"
printf '[database]\npassword = %s\n' "${pw186}abc" >"$VL_TMP/pw189.cfg"
vl_exit 1 "$V" -c "$VL_TMP/pw189.cfg" shell -e 'return config.database.password'
vl_contains "$VL_ERR" "$VL_TMP/pw189.cfg:2: line longer than 197 bytes"
case "$VL_ERR$VL_OUT" in *"$pw186"*) vl_fail "long password printed" ;; esac

# A NUL byte would end the value early: refused.
printf '[database]\nuser = me\npassword = sec\000ret\n' >"$VL_TMP/nul.cfg"
vl_exit 1 "$V" -c "$VL_TMP/nul.cfg" shell -e 'return config.database.password'
vl_contains "$VL_ERR" "$VL_TMP/nul.cfg:3: contains a NUL byte"

# Only regular files: a device or a FIFO is refused at once (neither
# blocks: /dev/zero used to be read forever).
vl_exit 1 timeout -s KILL 10 "$V" -c /dev/zero shell -e 'return config.environment'
vl_contains "$VL_ERR" "/dev/zero: not a regular file"
mkfifo "$VL_TMP/fifo.cfg"
vl_exit 1 timeout -s KILL 10 "$V" -c "$VL_TMP/fifo.cfg" shell -e 'return config.environment'
vl_contains "$VL_ERR" "$VL_TMP/fifo.cfg: not a regular file"
vl_exit 1 "$V" -c "$VL_TMP" shell -e 'return config.environment'
vl_contains "$VL_ERR" "$VL_TMP: not a regular file"
# /dev/null stays the usual way to say "no file": it reads as empty.
vl_exit 0 "$V" -c /dev/null shell -e 'return config.database.user, #config.files'
vl_eq "venueless	1" "$VL_OUT"

# A URL list with no URL in it is one plain line, not a Lua position.
for l in , ' , ,'; do
	vl_exit 1 env VENUELESS_REDIS_URLS="$l" "$V" shell -e 'return redis.call("PING")'
	vl_eq "venueless: shell: VENUELESS_REDIS_URLS lists no URL" "$VL_ERR"
done
printf '[redis]\nurls = ,\n' >"$VL_TMP/nourl.cfg"
vl_exit 1 "$V" -c "$VL_TMP/nourl.cfg" connections list
vl_eq "venueless: connections: $VL_TMP/nourl.cfg: [redis] urls lists no URL" "$VL_ERR"

# The shell prints config without its passwords; code still reads them.
printf '[database]\npassword = dbsecret\n[redis]\nauth = rsecret\n' >"$VL_TMP/pw.cfg"
out=$("$V" -c "$VL_TMP/pw.cfg" shell -e 'return config')
vl_contains "$out" 'password = "***"'
vl_contains "$out" '"redis://:***@127.0.0.1:6379/0"'
case "$out" in *dbsecret*|*rsecret*) vl_fail "config printed a password: $out" ;; esac
out=$(VENUELESS_REDIS_URLS='redis://:u1@a:1/0,unix://:u2@/s?password=u3,rediss://:u4@b' \
    "$V" -c "$VL_TMP/pw.cfg" shell -e 'return config.redis, config.database')
vl_contains "$out" '"redis://:***@a:1/0"'
vl_contains "$out" '"unix://:***@/s?password=***"'
vl_contains "$out" '"<unusable URL, not shown>"'
case "$out" in *dbsecret*|*u[1-4]*) vl_fail "config printed a password: $out" ;; esac
vl_eq "dbsecret rsecret" "$("$V" -c "$VL_TMP/pw.cfg" shell -e 'return config.database.password .. " " .. redis.parse_url(config.redis.urls[1]).password')"
vl_contains "$("$V" -c "$VL_TMP/explicit.cfg" shell -e 'return config.database')" 'password = ""'

# db.connect's connect_timeout: seconds >= 0; anything else is misuse
# (it used to mean no timeout at all).
for t in '"abc"' -1 '0/0' '"1s"'; do
	vl_exit 1 "$V" shell -e "db.connect{connect_timeout = $t, host = '$VL_TMP/none'}"
	vl_contains "$VL_ERR" "bad argument #1 to 'connect' (connect_timeout: expected seconds"
done
for t in 2 '"2.5"' 0 '""'; do
	vl_exit 10 "$V" shell -e "db.connect{connect_timeout = $t, host = '$VL_TMP/none'}"
done
# Typos: an unknown section or key is a warning naming the file and line
# (upstream ignores it silently); the server's own keys do not warn.
printf '[database]\nname = typo\nprot = 5432\n[databse]\nuser = x\nhost = y\n[django]\nsecret = s\n[mail]\nfrom = a@b\nhots = h\n[redis]\nDB = 2\n[DEFAULT]\nanything = 1\n' >"$VL_TMP/typo.cfg"
vl_exit 0 "$V" -c "$VL_TMP/typo.cfg" shell -e 'return config.database.name, config.redis.db'
vl_eq "typo	2" "$VL_OUT" "the known keys still read (keys are case-insensitive)"
vl_eq "venueless: warning: $VL_TMP/typo.cfg:3: unknown key \"prot\" in [database]
venueless: warning: $VL_TMP/typo.cfg:4: unknown section [databse]
venueless: warning: $VL_TMP/typo.cfg:11: unknown key \"hots\" in [mail]" "$VL_ERR" "typo warnings"
printf 'name = x\n[urls]\nmedia = /m/\nstatic = /s/\nnanocdn = \n' >"$VL_TMP/nosec.cfg"
vl_exit 0 "$V" -c "$VL_TMP/nosec.cfg" shell -e 'return config.urls.nanocdn'
vl_eq "venueless: warning: $VL_TMP/nosec.cfg:1: key \"name\" outside a section: ignored" "$VL_ERR"
# Comments, continuation lines and the files searched warn the same way.
printf '; [comment]\n# x = 1\n[database]\nname = a\n  b = continued\nuser: me\n' >venueless.cfg
vl_exit 0 "$V" shell -e 'return config.database.user'
vl_eq "me" "$VL_OUT"
vl_eq "" "$VL_ERR" "comments and continuations do not warn"
# An unknown key's continuation lines and an unknown section's keys warn
# once, at the key's and the header's line; a BOM is not part of a name.
printf '\357\273\277[database]\nname = a\nxx = 1\n  2\n  3\n[nosuch]\na = 1\nb = 2\n' >"$VL_TMP/once.cfg"
vl_exit 0 "$V" -c "$VL_TMP/once.cfg" shell -e "return config.database.name"
vl_eq "venueless: warning: $VL_TMP/once.cfg:3: unknown key \"xx\" in [database]
venueless: warning: $VL_TMP/once.cfg:6: unknown section [nosuch]" "$VL_ERR" "one warning each"
printf '[database]\nnmae = a\n' >venueless.cfg
vl_exit 0 "$V" shell -e 'return 1 + #config.files'
vl_eq "venueless: warning: ./venueless.cfg:2: unknown key \"nmae\" in [database]" "$VL_ERR"
rm venueless.cfg

# An invalid value is a config error naming file and line, exit 1, before
# anything connects ("cannot reach PostgreSQL" would mislead).
bad_cfg() {	# CONTENT LINE MESSAGE
	printf "$1" >"$VL_TMP/badval.cfg"
	vl_exit 1 "$V" -c "$VL_TMP/badval.cfg" list_worlds
	vl_eq "venueless: list_worlds: $VL_TMP/badval.cfg:$2: $3" "$VL_ERR" "$1"
}
bad_cfg '[database]\nname = x\nport = abc\n' 3 '[database] port: expected a port number from 1 to 65535, not "abc"'
bad_cfg '[database]\nport = 0\n' 2 '[database] port: expected a port number from 1 to 65535, not "0"'
bad_cfg '[database]\nport = 70000\n' 2 '[database] port: expected a port number from 1 to 65535, not "70000"'
bad_cfg '[database]\nport = 5432,x\n' 2 '[database] port: expected a port number from 1 to 65535, not "5432,x"'
bad_cfg '[redis]\nport = 63 79\n' 2 '[redis] port: expected a port number from 1 to 65535, not "63 79"'
bad_cfg '[redis]\n\ndb = one\n' 3 '[redis] db: expected a database number (0 or more), not "one"'
bad_cfg '[redis]\ntimeout = soon\n' 2 '[redis] timeout: expected seconds from 0 to 86400, not "soon"'
vl_exit 1 env VENUELESS_DB_PORT=abc "$V" list_worlds
vl_eq 'venueless: list_worlds: [database] port (VENUELESS_DB_PORT): expected a port number from 1 to 65535, not "abc"' "$VL_ERR"
# Good values: a port list (one per host), a redis port unused with urls.
printf '[database]\nport = 5432, 5433\n[redis]\nurls = redis://a:1/0\nport = x\n' >"$VL_TMP/good.cfg"
vl_exit 0 "$V" -c "$VL_TMP/good.cfg" shell -e 'return config.database.port'
vl_eq "5432, 5433" "$VL_OUT"
echo "config: ok"
