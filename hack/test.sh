#!/usr/bin/env bash
# The test command (README, .ci/run): installs what the tests need on this
# machine (cached under $RDBAK_CACHE), checks formatting and vet, runs the
# unit and integration tests against real redis-server, MinIO, Azurite and
# fake-gcs-server, then the end-to-end suite on a real Kubernetes testbed.
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

step "dependencies (hack/deps.sh)"
bash hack/deps.sh
# shellcheck disable=SC1091
. "$RDBAK_CACHE/deps.env"

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
race=$(go list ./backup/ ./restore/ ./internal/redis/... ./internal/rdb/ ./schedule/ ./internal/daemon/ ./internal/app/ ./internal/kube/)
step "unit and integration tests"
# shellcheck disable=SC2046 # one package path per word
go test -count=1 -timeout 30m $(go list ./... | grep -vxF "$race")

step "unit and integration tests of the concurrent code, with the race detector"
# shellcheck disable=SC2086
go test -count=1 -race -timeout 40m $race

if [ "${RDBAK_E2E:-1}" != 0 ]; then
  step "end-to-end tests on the Kubernetes testbed (hack/ci-e2e.sh)"
  bash hack/ci-e2e.sh
fi
step "all tests passed"
