package testenv

import "testing"

// Env variables naming tools hack/deps.sh installs besides the servers.
const (
	PromtoolBinEnv = "RDBAK_PROMTOOL_BIN"
	HelmBinEnv     = "RDBAK_HELM_BIN"
)

// Promtool returns Prometheus's promtool, built by hack/deps.sh (or skips,
// failing under RDBAK_REQUIRE, when there is none).
func Promtool(t testing.TB) string {
	t.Helper()
	return findServer(t, "promtool", PromtoolBinEnv, "promtool")
}

// Helm returns the helm binary hack/deps.sh builds ($RDBAK_HELM_BIN, or
// deps.env's), else helm on PATH.
func Helm(t testing.TB) string {
	t.Helper()
	return findServer(t, "helm", HelmBinEnv, "helm")
}

// CC returns a C compiler ($RDBAK_CC_BIN, deps.env's, else cc on PATH: the
// one hack/deps.sh builds the servers with), for tests that build a Redis
// module.
func CC(t testing.TB) string {
	t.Helper()
	return findServer(t, "cc", "RDBAK_CC_BIN", "cc")
}
