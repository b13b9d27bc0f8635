#!/usr/bin/env bash
# hack/bench-fleet.sh runs one rdbak daemon over a fleet of small local
# redis-servers and prints figures (it asserts nothing):
#
#   hack/bench-fleet.sh            # or FLEET=1 hack/bench.sh, which calls it at its end
#
# It starts N (default 200) redis-servers on loopback (own temp dir each, no
# save points, no AOF, maxmemory 8mb, about KEYS keys each), writes a daemon
# config with N targets on "@every 1m" (no jitter: all N fall due in the same
# second, the worst case) with daemon.concurrency CONCURRENCY (default 8),
# file:// storage, retention keepLast RETAIN (default 0: off, so the backups
# held grow through the run), runs rdbak daemon for MINUTES (default 4) and
# prints:
#   - scheduled (the due times N targets have in the window) vs run vs
#     skipped (the previous run of the target still going when it fell due);
#     skips are only what the limit forces when N/CONCURRENCY runs fit in a
#     minute;
#   - p50/p99/max start lateness (start minus due time, from the daemon's
#     debug log; waiting for a concurrency slot is most of it);
#   - the daemon's RSS every SAMPLE seconds (default 15) and its peak;
#   - the daemon's CPU seconds per backup (utime+stime over the run /
#     backups), and backup durations from /metrics.
#
# Figures measured 2026-11-27 on the shared development VM (2 vCPUs, load
# average 15-36 from other engineers' work and a Kubernetes testbed), N=200,
# CONCURRENCY=8, MINUTES=4, redis-server 7.0.15, ~2000 keys (~100 KB RDB):
#
#                                   before (whole-   after (paged, per-
#                                   bucket orphan    target listings)
#                                   listing)
#   scheduled / started / skipped   800/763*/0       800/800/0, none missed
#   failed (log ERROR lines)        0 (6 orphan-     0 (0)
#                                   collection races)
#   start lateness p50/p99/max s    6.4/24.4/26.0    1.9/4.3/4.5
#   daemon CPU per backup s         0.029            0.008
#   daemon RSS idle / peak MiB      70 / 128         72 / 152
#   RSS with 200 / 800 backups held 128 / 113        140 / 115
#   * the last round was still starting when that run's window closed.
#
# Environment: N, CONCURRENCY, MINUTES, KEYS (default 2000), RETAIN, SAMPLE,
# KEEP=1 keeps the work dir, REDIS_SERVER (default redis-server on PATH).
# Needs about N x 3 MiB of memory.
set -euo pipefail

N=${N:-200}
CONCURRENCY=${CONCURRENCY:-8}
MINUTES=${MINUTES:-4}
KEYS=${KEYS:-2000}
RETAIN=${RETAIN:-0}
SAMPLE=${SAMPLE:-15}
REDIS_SERVER=${REDIS_SERVER:-redis-server}
repo=$(cd "$(dirname "$0")/.." && pwd)

dir=$(mktemp -d /tmp/rdbak-fleet.XXXXXX)
pids=()
cleanup() {
  [ -n "${daemon_pid:-}" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null || true
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  # A redis-server writes its dir until it has exited: wait, then remove.
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [ "${KEEP:-0}" = 1 ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

free_port_base() {
  # N+1 consecutive free loopback ports from a random base.
  local used base p ok
  used=$(ss -Htan | awk '{print $4}' | sed 's/.*://' | sort -u)
  for _ in $(seq 50); do
    base=$((20000 + RANDOM % 30000))
    ok=1
    for p in $(seq "$base" $((base + N))); do
      if grep -qx "$p" <<<"$used"; then ok=0; break; fi
    done
    [ "$ok" = 1 ] && { echo "$base"; return; }
  done
  echo "no $((N + 1)) free consecutive ports" >&2
  return 1
}

echo "building rdbak..." >&2
(cd "$repo" && go build -o "$dir/rdbak" ./cmd/rdbak)
base=$(free_port_base)
metrics_port=$((base + N))

echo "starting $N redis-servers on 127.0.0.1:$base.. ($($REDIS_SERVER --version | awk '{print $3}'))" >&2
for i in $(seq 0 $((N - 1))); do
  p=$((base + i))
  mkdir -p "$dir/r$p"
  "$REDIS_SERVER" --port "$p" --bind 127.0.0.1 --save "" --appendonly no --maxmemory 8mb \
    --maxmemory-policy allkeys-lru --dir "$dir/r$p" --logfile "$dir/r$p/log" \
    --enable-debug-command local --repl-diskless-sync-delay 0 &
  pids+=($!)
done
for i in $(seq 0 $((N - 1))); do
  p=$((base + i))
  for _ in $(seq 100); do redis-cli -p "$p" ping >/dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$p" debug populate "$KEYS" key 64 >/dev/null
done

retention=""
[ "$RETAIN" != 0 ] && retention="  retention: {keepLast: $RETAIN, minKeep: 1}"
{
  echo "storage: file://$dir/store"
  echo "defaults:"
  echo "  schedule: \"@every 1m\""
  echo "  jitter: 0s"
  echo "  timeout: 1m"
  [ -n "$retention" ] && echo "$retention"
  echo "daemon:"
  echo "  listen: 127.0.0.1:$metrics_port"
  echo "  concurrency: $CONCURRENCY"
  echo "  orphanGrace: 1h"
  echo "targets:"
  for i in $(seq 0 $((N - 1))); do
    echo "  - name: r$((base + i))"
    echo "    redis: redis://127.0.0.1:$((base + i))"
  done
} >"$dir/rdbak.yaml"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)

"$dir/rdbak" daemon --config "$dir/rdbak.yaml" --reload-interval 0 --log-format json --log-level debug \
  2>"$dir/daemon.log" &
daemon_pid=$!
start=$(date +%s.%N)
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$metrics_port/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
cpu0=$(cpu_ticks "$daemon_pid")
echo "daemon running (pid $daemon_pid) for $MINUTES min; RSS every ${SAMPLE}s:" >&2
peak=0
samples=""
# Up to 50 s past the last due time: its runs have started by then, and the
# next round (at MINUTES + 1 min) is not due yet.
end=$(awk -v s="$start" -v m="$MINUTES" 'BEGIN { printf "%d", s + m * 60 + 50 }')
while [ "$(date +%s)" -lt "$end" ]; do
  sleep "$(( end - $(date +%s) < SAMPLE ? end - $(date +%s) : SAMPLE ))"
  r=$(rss_kib "$daemon_pid")
  [ "$r" -gt "$peak" ] && peak=$r
  t=$(awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN { printf "%.0f", n - s }')
  held=$(find "$dir/store" -name manifest.json 2>/dev/null | wc -l)
  samples+="$(printf '    t=%4ss  RSS %6.1f MiB  backups held %5d\n' "$t" "$(awk -v r="$r" 'BEGIN { print r / 1024 }')" "$held")"$'\n'
  printf '.' >&2
done
echo >&2
cpu1=$(cpu_ticks "$daemon_pid")
curl -fs "http://127.0.0.1:$metrics_port/metrics" >"$dir/metrics.txt"
stop=$(date +%s.%N)
kill -TERM "$daemon_pid"
wait "$daemon_pid" || true
daemon_pid=""

sum() { awk -v m="$1" '$1 ~ "^"m"[{ ]" && $0 !~ /^#/ { s += $NF } END { printf "%d", s }' "$dir/metrics.txt"; }
ok=$(grep -E '^rdbak_backup_total\{.*result="success"' "$dir/metrics.txt" | awk '{ s += $2 } END { printf "%d", s }')
failed=$(grep -E '^rdbak_backup_total\{.*result="failure"' "$dir/metrics.txt" | awk '{ s += $2 } END { printf "%d", s }')
skipped=$(sum rdbak_backup_skipped_total)
started=$(grep -c '"msg":"scheduled run started"' "$dir/daemon.log" || true)
window=$(awk -v a="$start" -v b="$stop" 'BEGIN { print b - a }')
# "@every 1m", the store empty: due at the daemon's start (no backup yet),
# then +1m, +2m, ... before the scrape (a slow machine may stretch the
# window past a further due time).
scheduled=$(awk -v w="$window" -v n="$N" 'BEGIN { printf "%d", (int(w / 60) + 1) * n }')
lateness=$(grep '"msg":"scheduled run started"' "$dir/daemon.log" | sed 's/.*"lateness_seconds":\([0-9.e+-]*\).*/\1/' | sort -g)
pct() { awk -v p="$1" '{ v[NR] = $1 } END { if (NR == 0) { print "n/a"; exit } i = int((NR - 1) * p) + 1; printf "%.3f", v[i] }' <<<"$lateness"; }
bsum=$(grep -E '^rdbak_backup_duration_seconds_sum\{.*phase="total"' "$dir/metrics.txt" | awk '{ s += $2 } END { printf "%.2f", s }')
cpu_s=$(awk -v a="$cpu0" -v b="$cpu1" -v hz="$hz" 'BEGIN { printf "%.2f", (b - a) / hz }')
errors=$(grep -c '"level":"ERROR"' "$dir/daemon.log" || true)

cat <<EOF

== fleet: $N targets (redis $($REDIS_SERVER --version | awk '{print $3}'), ~$KEYS keys each), @every 1m, concurrency $CONCURRENCY, $MINUTES min, retention keepLast ${RETAIN/#0/off}
   load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(nproc) CPUs
   window ${window%.*}s: scheduled $scheduled   started $started   succeeded $ok   failed $failed   skipped $skipped   missed $((scheduled - started - skipped))
   mean backup (total phase) $(awk -v s="$bsum" -v n="$ok" 'BEGIN { if (n) printf "%.3f", s / n; else print "n/a" }') s; $N / $CONCURRENCY x mean = $(awk -v s="$bsum" -v n="$ok" -v N="$N" -v c="$CONCURRENCY" 'BEGIN { if (n) printf "%.1f", s / n * N / c; else print "n/a" }') s of each minute: \
$(awk -v s="$bsum" -v n="$ok" -v N="$N" -v c="$CONCURRENCY" 'BEGIN { if (n && s / n * N / c < 60) print "the limit forces no skip"; else print "the limit forces skips" }')
   start lateness s: p50 $(pct 0.50)   p99 $(pct 0.99)   max $(pct 1.0)
   daemon CPU $cpu_s s over the run: $(awk -v c="$cpu_s" -v n="$ok" 'BEGIN { if (n) printf "%.3f", c / n; else print "n/a" }') s per backup
   daemon peak RSS $(awk -v r="$peak" 'BEGIN { printf "%.1f", r / 1024 }') MiB; error lines in its log: $errors
$samples
EOF
