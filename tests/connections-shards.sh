# tests/connections-cli.sh on three Redis servers: keys spread by the shard
# function, and one shard going down.
CONN_SHARDS=3
. "$(dirname "$0")/connections-cli.sh"
