#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need on this
# machine (cached under $RDBAK_CACHE), checks formatting and vet, runs the
# unit and integration tests against real redis-server, MinIO, Azurite and
# fake-gcs-server, and the end-to-end suite on a real Kubernetes testbed
# (the last of the unit tests beside it).
#
#   hack/test.sh              # everything; RDBAK_E2E=0 skips the Kubernetes part
#
# RDBAK_REQUIRE=all (the default here) makes a test that cannot find its
# component fail instead of skip.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
export RDBAK_CACHE=${RDBAK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rdbak}
export RDBAK_REQUIRE=${RDBAK_REQUIRE:-all}

step() { echo "== $* ($(date -u +%H:%M:%S))"; }

# On a cold machine the builds are most of a run. Only the Redis builds come
# first: the tests with the race detector need nothing else, and wait on
# Redis most of their time, so the Go tools (hack/deps.sh tools) and the
# testbed's Kubernetes binaries build meanwhile, at the lowest priority, on
# cores that would idle; the other tests run after them.
tools_log=$(mktemp)
unit_log=$(mktemp)
trap 'rm -f "$tools_log" "$unit_log"' EXIT
nice -n 19 bash hack/deps.sh tools >"$tools_log" 2>&1 &
tools=$!
# rdbak's own modules download while Redis builds; go vet fetches the rest.
go mod download >/dev/null 2>&1 &
modules=$!
step "dependencies: redis-server and the Redis and Valkey builds (hack/deps.sh redis)"
bash hack/deps.sh redis
# shellcheck disable=SC1091
. "$RDBAK_CACHE/deps.env"
wait "$modules" || true

step "gofmt and go vet"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change:" >&2
  echo "$unformatted" >&2
  exit 1
fi
go vet ./...
go vet -tags e2e ./e2e/...

# The packages with concurrent code (streams, schedules, the daemon, the
# application layer) run their tests once, under the race detector; the
# others once without it. A race build runs the same tests, so running
# these packages twice cost CI ~15 minutes and found nothing the race pass
# does not.
race=$(go list ./backup/ ./restore/ ./internal/codec/ ./internal/redis/... ./internal/rdb/ ./schedule/ ./internal/daemon/ ./internal/app/ ./internal/kube/)
e2e=${RDBAK_E2E:-1}
step "unit and integration tests of the concurrent code, with the race detector"
if [ "$e2e" != 0 ]; then
  # testbed/up builds whatever this did not, and reports its errors.
  nice -n 19 bash hack/testbed/build-k8s.sh >/dev/null 2>&1 &
  k8s=$!
fi
# Their Sentinel and Cluster tests mostly wait on Redis (failovers,
# syncs), one subtest per Redis version, so up to 8 run at once instead of
# GOMAXPROCS (2): internal/app went from 800 to 420 seconds.
# shellcheck disable=SC2086
go test -count=1 -race -parallel 8 -timeout 40m $race

step "waiting for MinIO, fake-gcs-server, promtool, helm and Azurite (hack/deps.sh tools)"
if ! wait "$tools"; then
  cat "$tools_log" >&2
  exit 1
fi
cat "$tools_log"
plain=$(go list ./... | grep -vxF "$race")
# shellcheck disable=SC2086 # one package path per word
unit_tests() { go test -count=1 -timeout 30m $plain; }
if [ "$e2e" = 0 ]; then
  step "unit and integration tests"
  unit_tests
else
  # The other unit and integration tests wait on their servers about 90 %
  # of the time, the end-to-end suite on its cluster about 60 %: they run
  # side by side, and the unit tests' output follows the suite's.
  wait "$k8s" || true
  step "unit and integration tests, beside the end-to-end tests on the Kubernetes testbed (hack/ci-e2e.sh)"
  unit_tests >"$unit_log" 2>&1 &
  unit=$!
  e2e_status=0
  bash hack/ci-e2e.sh || e2e_status=$?
  unit_status=0
  wait "$unit" || unit_status=$?
  step "the unit and integration tests' output (they ran beside the end-to-end tests)"
  cat "$unit_log"
  if [ "$unit_status" != 0 ]; then
    echo "unit and integration tests failed (status $unit_status); their output is above" >&2
    exit "$unit_status"
  fi
  if [ "$e2e_status" != 0 ]; then
    echo "end-to-end tests failed (status $e2e_status); see hack/ci-e2e.sh's output further above" >&2
    exit "$e2e_status"
  fi
fi
step "all tests passed"
