// Package e2e holds rdbak's end-to-end tests. They run against the real
// single-node Kubernetes cluster of hack/testbed (see its README) and carry
// the e2e build tag, so `go test ./...` leaves them out:
//
//	hack/ci-e2e.sh                       # up, go test -tags e2e ./e2e/..., down
//	go test -tags e2e -count=1 ./e2e/... # against a testbed already up
//
// Each test gets its own namespace from internal/testcluster.
package e2e
