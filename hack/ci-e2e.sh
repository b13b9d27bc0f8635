#!/usr/bin/env bash
# ci-e2e.sh runs rdbak's end-to-end tests against a fresh testbed: it brings
# hack/testbed up (installing packages and building Kubernetes on the first
# run, 10-15 min; cached afterwards under $RDBAK_CACHE/testbed) after
# hack/deps.sh (the Redis versions the images carry), runs
#   go test -tags e2e -count=1 ./e2e/... "$@"
# and always tears the testbed down, even when up or the tests fail. On
# failure it says where the logs are; the exit status is the tests' (or up's).
# RDBAK_REQUIRE gains "kubernetes", so a test can never skip for want of the
# cluster it was just given.
#
# Usage: hack/ci-e2e.sh [go test flags, e.g. -run TestSmoke -v]
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/hack/testbed/lib.sh"
export RDBAK_CACHE RDBAK_TESTBED_STATE
logs=$RDBAK_TESTBED_STATE/logs
saved=${RDBAK_E2E_LOGS:-${TMPDIR:-/tmp}/rdbak-e2e-logs}

case ",${RDBAK_REQUIRE:-}," in
*,all,* | *,kubernetes,*) ;;
*) export RDBAK_REQUIRE=${RDBAK_REQUIRE:+$RDBAK_REQUIRE,}kubernetes ;;
esac

status=0
teardown() {
	if [ "$status" -ne 0 ] && [ -d "$logs" ]; then
		# down deletes the state dir; keep the daemons' logs for the post-mortem.
		rm -rf "$saved" && mkdir -p "$saved" && cp -r "$logs/." "$saved/"
		log "e2e failed (status $status): the tests' output (go-test.log) and the testbed logs (etcd, kube-*, containerd, kubelet) saved in $saved"
	fi
	"$repo/hack/testbed/down" || log "down failed; see above"
}
trap teardown EXIT
trap 'exit 130' INT TERM

start=$(date +%s)
# The Redis and Valkey builds the testbed's images carry and the tests load
# backups into; a no-op when the cache has them.
bash "$repo/hack/deps.sh" >&2 || {
	status=$?
	log "hack/deps.sh failed"
	exit "$status"
}
"$repo/hack/testbed/up" || {
	status=$?
	log "testbed up failed after $(($(date +%s) - start))s"
	exit "$status"
}
log "testbed up in $(($(date +%s) - start))s"

cd "$repo" || exit 1
start=$(date +%s)
# The tests' whole output is kept with the daemons' logs: a CI report may
# show only its ends.
go test -tags e2e -count=1 -timeout 50m ./e2e/... "$@" 2>&1 | tee "$logs/go-test.log"
status=${PIPESTATUS[0]}
log "e2e tests finished with status $status in $(($(date +%s) - start))s"
exit "$status"
