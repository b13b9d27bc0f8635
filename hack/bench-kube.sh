#!/usr/bin/env bash
# hack/bench-kube.sh compares rdbak with the seeds' runbooks on the
# Kubernetes testbed, in one run, and prints figures (it asserts nothing).
# hack/bench.sh calls it at its end with KUBE=1.
#
#   hack/bench-kube.sh            # the testbed must be up (hack/testbed/up)
#
# Shape: the field's exchange-redis (e2e/backup_test.go): a Deployment with
# strategy Recreate, a PVC mounted at /data through subPath redis-data,
# default save points, Redis 6.2.16, readiness redis-cli ping every 1 s.
# Data: about SIZE_MIB of RDB (default 900), half hack/benchdata's
# realistic mix and half 1 MiB random values, so that Redis stays under
# 2 GiB of memory.
#
# Backup, REPEAT times each, taking turns:
#   runbook  kubectl exec redis-cli BGSAVE, poll LASTSAVE through exec until
#            it moves, kubectl exec cat /data/dump.rdb | zstd -1 -T0 > file
#   rdbak    rdbak now --deployment NS/exchange-redis --storage file://...
# Restore, REPEAT times each, from the same backup:
#   runbook  copy the RDB into the pod (kubectl exec -i ... cat >, its length
#            checked), delete the pod, wait until the new one serves (PONG, not LOADING: the
#            readiness probe passes while Redis loads). The shutdown save writes
#            the in-memory data over the copied file, before or after the
#            replacement pod loads it: the row says whether the backup's data
#            came back.
#   redis    what Redis itself needs to restart and load the file: CONFIG
#            SET save "" (no shutdown save), delete the pod, wait until it
#            serves; and
#            the load time Redis logs ("DB loaded from disk").
#   rdbak    rdbak restore latest --yes --deployment ...: wall time, and the
#            total and downtime it measures (from the moment Redis stops
#            serving the old data until it has loaded the new).
# CPU: process CPU (user+sys of rdbak, or of kubectl + zstd) and the whole
# machine's CPU (/proc/stat: the API server and kubelet proxy every exec and
# port-forward stream), in seconds per GB of RDB.
#
# In a pod: one `rdbak now` as a Job under each memory limit in LIMITS
# (default "64Mi 32Mi"): did it complete or was it OOMKilled, and what the
# pod's memory cgroup charged at most.
#
# Environment: REPEAT (default 3), SIZE_MIB (default 900), LIMITS, KEEP=1
# keeps the namespace and work dir, RDBAK_TESTBED_ENV (default the
# testbed's env.sh).
#
# Figures of 2026-11-29 07:41-07:46 UTC, REPEAT=1 (one sample each), GOGC=5
# (2956ab0; load average 3.5), RDB 947,170,923 bytes; wall s, process /
# machine CPU s per GB:
#   backup  runbook 31.3 s, 16.5 / 54.0; rdbak now 31.0 s (0.99x), 9.7 / 44.6
#           (07:35, the same tree: 0.82x)
#   restore runbook 46.4 s; Redis's own restart + load 7.8 s; rdbak 33.9 s
#           wall (0.73x), measured 32.8; downtime 9.0 s (1.17x Redis's own;
#           07:35: 1.09x)
#   in a pod, limits 64Mi / 32Mi / 24Mi: all Completed in 34.0 / 36.5 /
#           36.4 s; the pod's cgroup charged 15.4 / 15.1 / 15.0 MiB
#           anonymous, 0.5 / 0 / 0 MiB mapped files (the executable's pages
#           were cached, and charged, when the image was imported), and up
#           to the limit in all (the backup file's page cache).
#
# Figures of 2026-11-29 04:25-04:32 UTC, REPEAT=2, zstd frames of
# 512 KiB encoded two at a time (5000cb5; load average 5.5), RDB 947,170,570
# bytes; wall s, process / machine CPU s per GB:
#   backup  runbook 34.9 s, 17.6 / 61.6; rdbak now 30.0 s (0.86x), 10.1 /
#           44.5 (before: 1.00x, 12.2 / 51.8)
#   restore runbook 39.6 s; Redis's own restart + load 9.2 s; rdbak 35.4 s
#           wall (0.89x), measured 34.3 (0.87x); stage 23.1-23.7 s beside
#           the .pre-restore BGSAVE 25.4-25.8 s; downtime 8.4 s (0.94x
#           Redis's own); plan estimate total ~35.5 s, downtime ~8 s.
#
# Figures of 2026-11-29 01:38-01:45 UTC, REPEAT=2, the staging pod decoding
# zstd frames two at a time (f7aba76; load average 4.8), RDB 947,170,525
# bytes: backup runbook 36.2 s, rdbak now 36.3 s (1.00x); restore runbook
# 43.9 s, rdbak 36.7 s wall (0.84x), measured 35.6 (0.81x); stage 21.1-26.8
# s beside the .pre-restore BGSAVE 23.6-27.7 s; downtime 9.7 s (0.83x
# Redis's own restart + load, 11.8 s); machine 61.7 CPU s per GB.
#
# Figures of 2026-11-28 22:33-22:41 UTC, REPEAT=2, with the runbook's copy
# checked and the staging streamed compressed (load average 5.0), RDB
# 947,170,480 bytes; wall s, process / machine CPU s per GB:
#   backup  runbook 33.9 s, 18.0 / 59.9; rdbak now 34.0 s (1.00x), 12.2 / 51.8
#   restore runbook 44.6 s to serving, of which the copy ~19 s; downtime
#           25.6 s. The data came back: the replacement pod starts while
#           the old one still writes its shutdown save, and loads the copied
#           file first; the save then lands on the volume over it, and the
#           next restart loads the old data.
#           Redis's own restart + load: 9.8 s (load 8.7-8.8 s)
#           rdbak 37.3 s wall (0.84x), measured 36.1 (0.81x); stage 23.2-23.6
#           s beside the .pre-restore BGSAVE 25.6-27.7 s (the longer leg),
#           swap 0.1-0.5, restart 1.8-2.3, load 6.6-7.8; downtime 9.2 s
#           (0.95x Redis's own); machine 61.7 CPU s per GB (76.7 when the
#           staging streamed the RDB itself); the plan estimated 35.5 s and
#           8 s.
#   Before 22:40 the runbook's `sh -c 'cat > /data/dump.rdb'` copied only
#   32-660 KiB (it ends early on this testbed without an error): its times
#   below lack the copy, ~17-19 s, and the ratios of rdbak's restore to it
#   are too high by as much.
#
# Figures of 2026-11-28 19:48-19:55 UTC, REPEAT=2, nothing else running but
# the testbed (load average 4.3), RDB 947,170,566 bytes; wall s, process /
# machine CPU s per GB:
#   backup  runbook 32.1 s, 16.3 / 55.5; rdbak now 30.9 s (0.96x), 11.0 / 45.8
#   restore runbook 25.8 s to serving, downtime 25.1 s, the data lost
#           Redis's own restart + load: 9.0 s (load 7.8-8.2 s)
#           rdbak 42.9 s wall (1.67x), measured 41.8; stage 31.1-32.1 s
#           beside the .pre-restore BGSAVE 27.5-31.6 s, swap 0.1-0.5,
#           restart 2.2-3.7, load 5.9-7.5; downtime 9.6 s (1.10x Redis's
#           own). The runbook's time swings with its shutdown save (25.8 s
#           here, 42.4 s at 16:10); rdbak's staging streams the raw RDB
#           through exec, and the API server and kubelet proxying it take
#           most of the machine's 76.7 CPU s per GB.
#
# Figures of 2026-11-28 16:10-16:23 UTC, after the CRC-64 moved to
# PCLMULQDQ; REPEAT=2, nothing else running but the testbed (load average
# 4.0, everything about 1.6x slower than the block below), RDB 947,170,523
# bytes; wall s, process / machine CPU s per GB:
#   backup  runbook 39.2 s, 20.5 / 67.8; rdbak now 39.7 s (1.01x), 12.8 / 58.7
#   restore runbook 42.4 s to serving, downtime 41.7 s, the data lost
#           Redis's own restart + load: 9.3 s (load 7.4-9.0 s)
#           rdbak 44.9 s wall (1.06x), measured 43.7 (1.03x); stage 27.4-33.3
#           s beside the .pre-restore BGSAVE 31.6-33.8 s (now the longer of
#           the two), swap 0.1-0.6, restart 2.2-2.3, load 7.8-9.1; downtime
#           10.7 s (1.17x Redis's own)
#
# Figures of 2026-11-28 03:56-04:03 UTC, REPEAT=2, on the shared 2-core VM
# (load average 3.6), RDB 947,170,834 bytes; wall s, process / machine CPU
# s per GB:
#   backup  runbook 23.5 s, 10.4 / 39.6; rdbak now 22.5 s (0.96x), 7.7 / 33.4
#   restore runbook 24.5 s to serving, downtime 24.0 s (shutdown save + load),
#           and the data is lost: the shutdown save wrote over the copied file
#           Redis's own restart + load (no shutdown save): 6.9 s to serving,
#           of which Redis logs 5.5-6.6 s of loading
#           rdbak (restart strategy) 29.4 s wall (1.20x), measured 28.3 s:
#           stage (download, verify, stream, fsync) and the .pre-restore
#           BGSAVE side by side 21.4-21.7 s, stop 0.0, swap 0.1-0.4, container
#           restart 2.0-2.4, load 4.2-4.5; downtime 6.5 s (0.97x Redis's
#           own); the plan estimated 30.7 s and 7.0 s.
# Before, same machine (2026-11-27): the BGSAVE after the staging, 15 s
# each, and a scale to zero and back (stop 1.5 s, start 2.1-2.6 s): 39.8 s
# wall (1.67x), downtime 8.8 s (1.28x). The BGSAVE, which the runbook does
# not do (it loses the data instead), is what is left of the gap: on 2
# cores it shares the CPU with the stream through the API server.

set -euo pipefail

cd "$(dirname "$0")/.."
REPEAT=${REPEAT:-3}
SIZE_MIB=${SIZE_MIB:-900}
RDBAK_CACHE=${RDBAK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rdbak}
envfile=${RDBAK_TESTBED_ENV:-${RDBAK_TESTBED_STATE:-$RDBAK_CACHE/testbed-state}/env.sh}
if [ ! -f "$envfile" ]; then
  echo "bench-kube: no testbed env file $envfile: run hack/testbed/up first" >&2
  exit 1
fi
# shellcheck disable=SC1090
source "$envfile"
for tool in kubectl zstd redis-cli python3; do
  command -v "$tool" >/dev/null || { echo "bench-kube: $tool is missing" >&2; exit 1; }
done

ns=rdbak-bench-$$
work=$(mktemp -d /tmp/rdbak-bench-kube.XXXXXX)
pvdir=${RDBAK_TESTBED_PV_DIR:-$RDBAK_TESTBED_STATE/pv}/$ns
cleanup() {
  if [ "${KEEP:-0}" = 1 ]; then
    echo "bench-kube: kept namespace $ns and $work" >&2
    return
  fi
  kubectl delete namespace "$ns" --wait=true --timeout=120s >/dev/null 2>&1 || true
  kubectl delete pv "$ns-data" >/dev/null 2>&1 || true
  rm -rf "$work" "$pvdir"
}
trap cleanup EXIT

image=$(echo "$RDBAK_TESTBED_REDIS_IMAGES" | tr ',' '\n' | sed -n 's/^redis-6\.2\.16=//p')
[ -n "$image" ] || { echo "bench-kube: the testbed has no redis-6.2.16 image" >&2; exit 1; }
echo "bench-kube: building rdbak and its image" >&2
go build -o "$work/rdbak" ./cmd/rdbak
restore_image=$(bash hack/image.sh --import --version bench | awk '{print $2}')
rdbak=$work/rdbak

mkdir -p "$pvdir/data"
chmod 0777 "$pvdir/data"
kubectl create namespace "$ns" >/dev/null
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: $ns-data}
spec:
  capacity: {storage: 8Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local
  claimRef: {kind: PersistentVolumeClaim, apiVersion: v1, namespace: $ns, name: exchange-redis-data}
  local: {path: $pvdir/data}
  nodeAffinity: {required: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [$RDBAK_TESTBED_NODE]}]}]}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: exchange-redis-data, namespace: $ns}
spec: {accessModes: [ReadWriteOnce], storageClassName: local, resources: {requests: {storage: 8Gi}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: exchange-redis, namespace: $ns}
spec:
  replicas: 1
  strategy: {type: Recreate}
  selector: {matchLabels: {app: exchange-redis}}
  template:
    metadata: {labels: {app: exchange-redis}}
    spec:
      terminationGracePeriodSeconds: 60
      containers:
      - name: redis
        image: $image
        imagePullPolicy: Never
        command: [redis-server, --dir, /data, --protected-mode, "no"]
        ports: [{containerPort: 6379}]
        readinessProbe: {exec: {command: [redis-cli, ping]}, periodSeconds: 1}
        volumeMounts: [{name: data, mountPath: /data, subPath: redis-data}]
      volumes: [{name: data, persistentVolumeClaim: {claimName: exchange-redis-data}}]
EOF

# pod prints the Redis pod that is not terminating.
pod() {
  kubectl -n "$ns" get pods -l app=exchange-redis \
    -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.metadata.deletionTimestamp}{"\n"}{end}' | awk 'NF == 1 { print $1; exit }'
}
# wait_ready [OLD]: until exactly one Redis pod exists, is not OLD, and is Ready.
wait_ready() {
  local old=${1:-} t=0 out
  while :; do
    out=$(kubectl -n "$ns" get pods -l app=exchange-redis \
      -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}')
    if [ "$(echo "$out" | grep -c .)" = 1 ] && [ "${out%% *}" != "$old" ] && [ "${out##* }" = True ]; then
      return 0
    fi
    sleep 0.1
    t=$((t + 1))
    [ $t -lt 3000 ] || { echo "bench-kube: Redis never became Ready" >&2; return 1; }
  done
}
ip() { kubectl -n "$ns" get pod "$(pod)" -o jsonpath='{.status.podIP}'; }
cli() { redis-cli -h "$(ip)" "$@"; }
# wait_serving: until Redis answers PONG, not LOADING (the readiness probe
# redis-cli ping passes while Redis still loads: Ready is not serving).
wait_serving() {
  local addr t=0
  addr=$(ip)
  until [ "$(redis-cli -h "$addr" ping 2>/dev/null)" = PONG ]; do
    sleep 0.05
    t=$((t + 1))
    [ $t -lt 6000 ] || { echo "bench-kube: Redis never served" >&2; return 1; }
  done
}
wait_ready
echo "bench-kube: loading about $SIZE_MIB MiB of RDB" >&2
half=$((SIZE_MIB / 2))
go run ./hack/benchdata -size "${half}MiB" | redis-cli -h "$(ip)" --pipe >/dev/null
addr=$(ip)
for i in $(seq 1 "$half"); do
  head -c 1048576 /dev/urandom | redis-cli -h "$addr" -x set "bulk:$i" >/dev/null
done
redis-cli -h "$addr" set marker backed-up >/dev/null
redis-cli -h "$addr" info memory | grep -E '^used_memory_human' >&2

now() { date +%s.%N; }
# machine CPU seconds (everything but idle and iowait) so far
mcpu() { awk '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) / 100 }' /proc/stat; }
# run CMD...: records wall, process CPU (GNU time) and machine CPU in $work/last
measure() {
  local t0 m0 t1 m1
  m0=$(mcpu)
  t0=$(now)
  /usr/bin/time -f '%U %S' -o "$work/time" "$@" >"$work/out"
  t1=$(now)
  m1=$(mcpu)
  read -r u s <"$work/time"
  echo "$(echo "$t1 - $t0" | bc) $(echo "$u + $s" | bc) $(echo "$m1 - $m0" | bc)" >"$work/last"
}
record() { cat "$work/last" >>"$work/$1"; }

runbook_backup() {
  local p before
  p=$(pod)
  before=$(kubectl -n "$ns" exec "$p" -- redis-cli lastsave)
  kubectl -n "$ns" exec "$p" -- redis-cli bgsave >/dev/null
  while [ "$(kubectl -n "$ns" exec "$p" -- redis-cli lastsave)" = "$before" ]; do sleep 0.2; done
  kubectl -n "$ns" exec "$p" -- cat /data/dump.rdb | zstd -q -1 -T0 >"$work/runbook.rdb.zst"
}
export -f runbook_backup pod
export ns work

echo "bench-kube: backups" >&2
for r in $(seq 1 "$REPEAT"); do
  sleep 2 # the previous BGSAVE's child is gone
  measure bash -c runbook_backup; record backup.runbook
  got=$(zstd -dc "$work/runbook.rdb.zst" | wc -c)
  want=$(kubectl -n "$ns" exec "$(pod)" -- stat -c %s /data/dump.rdb)
  [ "$got" = "$want" ] || { echo "bench-kube: the runbook's backup holds $got bytes of $want" >&2; exit 1; }
  sleep 2
  measure "$rdbak" now --deployment "$ns/exchange-redis" --storage "file://$work/store" --target bench -o json
  record backup.rdbak
done
rdb_bytes=$(kubectl -n "$ns" exec "$(pod)" -- stat -c %s /data/dump.rdb)
keys=$(cli dbsize)

# In a pod: `rdbak now` as a Job under each memory limit in LIMITS, the way
# a CronJob runs it (the image, deploy/base/target's Role, file:// on an
# emptyDir). The pod's memory cgroup (v1) is read from the host every 0.2 s:
# max_usage_in_bytes, the kernel's high-water mark of what it charged the
# pod (anonymous memory, and the page cache the pod brought in: the backup
# file it writes, pages of the binary not yet cached), and the peaks of
# total_rss (anonymous) and total_mapped_file.
kubectl -n "$ns" apply -f deploy/base/target/role.yaml >/dev/null
kubectl -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: rdbak-bench}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: rdbak-bench}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: rdbak-backup}
subjects: [{kind: ServiceAccount, name: rdbak-bench, namespace: $ns}]
EOF
# inpod LIMIT: one backup Job under LIMIT; appends "LIMIT result wall
# max_usage peak_rss peak_mapped_file" (bytes) to $work/inpod.
inpod() {
  local limit=$1 job uid="" cg="" t0 t1 result="" maxu=0 rss=0 mapped=0 k v i=0
  job=inpod-$(echo "$limit" | tr 'A-Z' 'a-z')
  t0=$(now)
  kubectl -n "$ns" apply -f - >/dev/null <<EOF
apiVersion: batch/v1
kind: Job
metadata: {name: $job}
spec:
  backoffLimit: 0
  template:
    spec:
      serviceAccountName: rdbak-bench
      restartPolicy: Never
      containers:
      - name: rdbak
        image: $restore_image
        imagePullPolicy: Never
        args: [now, --deployment, $ns/exchange-redis, --storage, file:///backup, --target, inpod]
        env: # no kube-proxy on the testbed: the API server at the node's address
        - {name: KUBERNETES_SERVICE_HOST, value: "$(cat "$RDBAK_TESTBED_STATE/node-ip")"}
        - {name: KUBERNETES_SERVICE_PORT, value: "6443"}
        resources: {requests: {memory: $limit}, limits: {memory: $limit}}
        volumeMounts: [{name: backup, mountPath: /backup}]
      volumes: [{name: backup, emptyDir: {}}]
EOF
  while [ -z "$result" ]; do
    if [ -z "$uid" ]; then
      uid=$(kubectl -n "$ns" get pods -l "job-name=$job" -o jsonpath='{.items[0].metadata.uid}' 2>/dev/null || true)
    fi
    if [ -n "$uid" ] && [ -z "$cg" ]; then # cgroupfs (pod<uid>) or systemd (...pod<uid_>.slice) driver
      cg=$(find /sys/fs/cgroup/memory/kubepods* -maxdepth 2 -type d \( -name "pod$uid" -o -name "*pod${uid//-/_}.slice" \) 2>/dev/null | head -1)
    fi
    if [ -n "$cg" ] && [ -r "$cg/memory.max_usage_in_bytes" ]; then
      read -r v <"$cg/memory.max_usage_in_bytes" 2>/dev/null && [ "$v" -gt "$maxu" ] && maxu=$v
      while read -r k v; do
        case $k in
        total_rss) [ "$v" -gt "$rss" ] && rss=$v ;;
        total_mapped_file) [ "$v" -gt "$mapped" ] && mapped=$v ;;
        esac
      done <"$cg/memory.stat" 2>/dev/null || true
    fi
    i=$((i + 1))
    if [ $((i % 10)) = 0 ]; then # the Job's state every 2 s
      result=$(kubectl -n "$ns" get pods -l "job-name=$job" \
        -o jsonpath='{.items[0].status.containerStatuses[0].state.terminated.reason}' 2>/dev/null || true)
      [ $i -lt 3000 ] || result=timeout
    fi
    sleep 0.2
  done
  t1=$(now)
  [ -n "$cg" ] || { echo "bench-kube: found no memory cgroup of the pod of Job $job" >&2; exit 1; }
  echo "$limit $result $(echo "$t1 - $t0" | bc) $maxu $rss $mapped" >>"$work/inpod"
  [ "$result" = Completed ] || kubectl -n "$ns" logs "job/$job" 2>&1 | tail -3 >&2
  kubectl -n "$ns" delete job "$job" --wait=false >/dev/null
}
for limit in ${LIMITS:-64Mi 32Mi}; do
  echo "bench-kube: rdbak now in a pod limited to $limit" >&2
  sleep 2
  inpod "$limit"
done

echo "bench-kube: restores" >&2
"$rdbak" restore latest --storage "file://$work/store" --target bench --to-file "$work/backup.rdb" >/dev/null
"$rdbak" restore latest --storage "file://$work/store" --target bench --deployment "$ns/exchange-redis" \
  --restore-image "$restore_image" --dry-run >"$work/plan.txt"

runbook_restore() {
  local p got
  p=$(pod)
  # The copy is checked: on this testbed, `sh -c 'cat > /data/dump.rdb'`
  # alone ends after 32-660 KiB without an error (kubectl 1.33, containerd
  # from Debian), as the figures before 2026-11-28 22:40 show (a copy of
  # 0.3-0.7 s); cat followed by another command copies all of it.
  got=$(kubectl -n "$ns" exec -i "$p" -- sh -c 'cat > /data/dump.rdb && stat -c %s /data/dump.rdb' <"$work/backup.rdb")
  if [ "$got" != "$(stat -c %s "$work/backup.rdb")" ]; then
    echo "bench-kube: the runbook copied $got bytes of $(stat -c %s "$work/backup.rdb") into the pod" >&2
    exit 1
  fi
  date +%s.%N >"$work/down_at"
  kubectl -n "$ns" delete pod "$p" --wait=false >/dev/null
  wait_ready "$p"
  wait_serving
}
redis_restart() {
  local p
  p=$(pod)
  redis-cli -h "$(kubectl -n "$ns" get pod "$p" -o jsonpath='{.status.podIP}')" config set save "" >/dev/null
  date +%s.%N >"$work/down_at"
  kubectl -n "$ns" delete pod "$p" --wait=false >/dev/null
  wait_ready "$p"
  wait_serving
}
export -f runbook_restore redis_restart wait_ready wait_serving ip

for r in $(seq 1 "$REPEAT"); do
  cli set marker live >/dev/null
  measure bash -c runbook_restore; record restore.runbook
  echo "$(echo "$(now) - $(cat "$work/down_at")" | bc)" >>"$work/restore.runbook.down"
  cli get marker >>"$work/restore.runbook.marker"

  measure bash -c redis_restart; record restore.redis
  echo "$(echo "$(now) - $(cat "$work/down_at")" | bc)" >>"$work/restore.redis.down"
  kubectl -n "$ns" logs "$(pod)" | sed -n 's/.*DB loaded from disk: \([0-9.]*\) seconds.*/\1/p' | tail -1 >>"$work/restore.redis.load"

  cli set marker live >/dev/null
  measure "$rdbak" restore latest --storage "file://$work/store" --target bench --deployment "$ns/exchange-redis" \
    --restore-image "$restore_image" --yes -o json
  record restore.rdbak
  wait_serving
  cli get marker >>"$work/restore.rdbak.marker"
  # rdbak's own measurement (JSON result, nanoseconds): total, downtime, steps
  python3 -c 'import json, sys
m = json.load(open(sys.argv[1]))["measured"]
print(m["total"] / 1e9, m["downtime"] / 1e9, " ".join("%s=%.2f" % (s["step"], s["duration"] / 1e9) for s in m["steps"]))' "$work/out" >>"$work/restore.rdbak.measured"
done

python3 - "$work" "$rdb_bytes" "$keys" "$REPEAT" <<'PY'
import statistics, sys, os, re
work, rdb, keys, repeat = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
gb = rdb / 1e9
def rows(name):
    p = os.path.join(work, name)
    if not os.path.exists(p):
        return []
    return [[float(x) for x in l.split()] for l in open(p) if l.strip()]
def med(name, col=0):
    r = rows(name)
    return statistics.median(x[col] for x in r) if r else float("nan")
def words(name):
    p = os.path.join(work, name)
    return [l.strip() for l in open(p)] if os.path.exists(p) else []
print()
print(f"== Kubernetes testbed, exchange-redis shape (Deployment + PVC, Redis 6.2.16, default save points)")
print(f"   RDB {rdb} bytes ({rdb/2**30:.2f} GiB), {keys} keys; medians of {repeat}; load average {os.getloadavg()[0]:.1f}")
print(f"   {'':46} {'wall s':>7} {'cpu s/GB':>9} {'machine cpu s/GB':>17}")
def line(label, name, note=""):
    print(f"   {label:46} {med(name):7.2f} {med(name,1)/gb:9.2f} {med(name,2)/gb:17.2f}  {note}")
rb, rr = med("backup.runbook"), med("backup.rdbak")
line("backup: runbook (BGSAVE, exec cat, zstd -1 -T0)", "backup.runbook")
line("backup: rdbak now --deployment", "backup.rdbak", f"{rr/rb:.2f}x runbook (target <= 1.0)")
rrun, rredis = med("restore.runbook"), med("restore.redis")
down_runbook, down_redis = med("restore.runbook.down"), med("restore.redis.down")
line("restore: runbook (copy in, delete pod, serving)", "restore.runbook",
     f"downtime {down_runbook:.2f} s; data after: {', '.join(words('restore.runbook.marker'))}")
line("restore: Redis's own restart + load", "restore.redis",
     f"delete pod to serving {down_redis:.2f} s; Redis's load {', '.join(words('restore.redis.load'))} s")
line("restore: rdbak restore --yes (wall)", "restore.rdbak",
     f"{med('restore.rdbak')/rrun:.2f}x runbook (target <= 1.10); data after: {', '.join(words('restore.rdbak.marker'))}")
meas = [l.split() for l in words("restore.rdbak.measured")]
if meas:
    tot = statistics.median(float(m[0]) for m in meas)
    down = statistics.median(float(m[1]) for m in meas)
    print(f"   {'restore: rdbak, as it measures itself':46} {tot:7.2f} {'':9} {'':17}  downtime {down:.2f} s = "
          f"{down/down_redis:.2f}x Redis's own restart + load (target <= 1.2); total {tot/rrun:.2f}x runbook")
    for m in meas:
        print(f"   {'':46} steps: {' '.join(m[2:])}")
PY
echo "   rdbak restore plan estimate: $(grep -E '^  estimate:' "$work/plan.txt" | sed 's/^ *//')"
echo "   rdbak now in a pod (Job, file:// on an emptyDir), the pod's memory cgroup; MiB:"
while read -r limit result wall maxu rss mapped; do
  printf '   limit %-6s %-10s %6.1f s  charged at most %5.1f (anonymous %4.1f, mapped files %4.1f)\n' "$limit" "$result" "$wall" \
    "$(echo "$maxu / 1048576" | bc -l)" "$(echo "$rss / 1048576" | bc -l)" "$(echo "$mapped / 1048576" | bc -l)"
done <"$work/inpod"
