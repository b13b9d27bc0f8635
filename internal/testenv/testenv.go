// Package testenv starts the real components that rdbak's integration tests
// run against (redis-server, object storage servers) on free loopback ports,
// one per test, and stops them when the test ends.
//
// A test that needs a component calls Need. When the component is missing the
// test is skipped on a developer's machine, but fails when RDBAK_REQUIRE names
// the component (or is "all"), as .ci/run sets it: a skip must never hide a
// missing component in CI.
package testenv

import (
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// RequireEnv names the environment variable that turns skips into failures.
const RequireEnv = "RDBAK_REQUIRE"

// Required reports whether component must be present (RDBAK_REQUIRE lists it,
// or is "all").
func Required(component string) bool {
	for _, c := range strings.Split(os.Getenv(RequireEnv), ",") {
		c = strings.TrimSpace(c)
		if c == "all" || c == component {
			return true
		}
	}
	return false
}

// Missing skips t, or fails it when component is required, with why.
func Missing(t testing.TB, component, why string) {
	t.Helper()
	if Required(component) {
		t.Fatalf("%s is required (%s=%s) but unavailable: %s", component, RequireEnv, os.Getenv(RequireEnv), why)
	}
	t.Skipf("%s unavailable (set %s=%s to fail instead): %s", component, RequireEnv, component, why)
}

// LookPath returns the path of the executable name, or skips/fails t through
// Missing under the component name name.
func LookPath(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, name, err.Error())
	}
	return p
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Addr joins 127.0.0.1 and port.
func Addr(port int) string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
}
