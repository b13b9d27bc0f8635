#!/usr/bin/env bash
# A real backup and restore on this machine, end to end: starts a local
# redis-server with a mixed dataset, backs it up with `rdbak now` into
# file:// storage, lists and verifies it, restores it to a file, loads that
# file into a second redis-server and compares DEBUG DIGEST.
#
#   hack/quickstart.sh            # KEEP=1 keeps the work dir for a look around
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing redis-server (Debian package)"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null 2>&1 ||
      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null; }
  else
    echo "redis-server is missing: install it (e.g. sudo apt-get install redis-server) and run again" >&2
    exit 1
  fi
fi

work=$(mktemp -d /tmp/rdbak-quickstart.XXXXXX)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [ "${KEEP:-0}" = 1 ]; then echo "work dir kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# start_redis DIR PORT: a redis-server with no save points, on loopback.
start_redis() {
  local extra=()
  redis-server --version | grep -q 'v=[7-9]' && extra=(--enable-debug-command local)
  redis-server --port "$2" --bind 127.0.0.1 --dir "$1" --save '' --appendonly no \
    --logfile "$1/redis.log" "${extra[@]}" &
  pids+=($!)
  for _ in $(seq 100); do redis-cli -p "$2" ping 2>/dev/null | grep -q PONG && return; sleep 0.1; done
  echo "redis-server on port $2 did not start; log:" >&2; cat "$1/redis.log" >&2; exit 1
}

echo "== building rdbak"
go build -o "$work/rdbak" ./cmd/rdbak
rdbak() { "$work/rdbak" "$@"; }

mkdir -p "$work/source" "$work/restored"
port=$(free_port)
start_redis "$work/source" "$port"
echo "== filling redis on 127.0.0.1:$port with strings, hashes, lists, sets, sorted sets, a stream and expiring keys"
for i in $(seq 1 20000); do
  echo "SET user:$i id=$i,name=user-$i,plan=$((i % 7)),bio=$(printf '%0*d' $((i % 90)) 0)"
  echo "HSET session:$((i % 500)) field$i value-$i"
  echo "RPUSH events:$((i % 50)) event-$i"
  echo "SADD tags:$((i % 20)) tag-$i"
  echo "ZADD leaderboard $i player-$i"
  if [ $((i % 10)) = 0 ]; then echo "XADD stream:orders * order $i"; fi
  if [ $((i % 3)) = 0 ]; then echo "SET cache:$i v$i EX 86400"; fi
done | redis-cli -p "$port" --pipe >"$work/fill.log" || { cat "$work/fill.log" >&2; exit 1; }
before=$(redis-cli -p "$port" DEBUG DIGEST)
echo "   $(redis-cli -p "$port" DBSIZE) keys, DEBUG DIGEST $before"

store="file://$work/backups"
echo "== rdbak now --redis redis://127.0.0.1:$port --storage $store --target quickstart"
id=$(rdbak now --redis "redis://127.0.0.1:$port" --storage "$store" --target quickstart)
echo "== rdbak list"
rdbak list --storage "$store"
echo "== rdbak verify $id"
rdbak verify "$id" --storage "$store"
echo "== rdbak restore latest --to-file $work/restored/dump.rdb"
rdbak restore latest --storage "$store" --to-file "$work/restored/dump.rdb"

port2=$(free_port)
start_redis "$work/restored" "$port2"
after=$(redis-cli -p "$port2" DEBUG DIGEST)
echo "== restored redis on 127.0.0.1:$port2: $(redis-cli -p "$port2" DBSIZE) keys, DEBUG DIGEST $after"
if [ "$before" != "$after" ]; then
  echo "FAIL: the restored dataset differs from the source" >&2
  exit 1
fi
echo "OK: the restored dataset is identical to the source"
