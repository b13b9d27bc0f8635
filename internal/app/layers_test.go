package app

import (
	"os/exec"
	"strings"
	"testing"
)

// deps lists the packages pkg imports, directly or not, with `go list`.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// TestDomainImportsNoAdapter enforces the layering of STYLE.md: the domain
// packages decide and stream; talking to Kubernetes or Redis, and the
// application layer and daemon above them, stay out of their imports.
func TestDomainImportsNoAdapter(t *testing.T) {
	forbidden := []string{
		"k8s.io/client-go",
		"github.com/redis/go-redis",
		"github.com/rdbak/rdbak/internal/kube",
		"github.com/rdbak/rdbak/internal/daemon",
		"github.com/rdbak/rdbak/internal/app",
		"github.com/rdbak/rdbak/internal/config",
		"github.com/rdbak/rdbak/cmd",
	}
	for _, pkg := range []string{"backup", "cluster", "drill", "restore", "schedule", "storage"} {
		for _, d := range deps(t, "github.com/rdbak/rdbak/"+pkg) {
			for _, f := range forbidden {
				if d == f || strings.HasPrefix(d, f+"/") {
					t.Errorf("domain package %s imports %s", pkg, d)
				}
			}
			// The adapter internal/redis is out; its pure INFO reader is in.
			if d == "github.com/rdbak/rdbak/internal/redis" {
				t.Errorf("domain package %s imports the Redis adapter %s", pkg, d)
			}
		}
	}
}

// TestNoPluginPackage keeps Go's plugin package out of the binary: with cgo
// it makes the linker keep every exported symbol (k8s.io/cli-runtime
// brought it in, doubling the binary).
func TestNoPluginPackage(t *testing.T) {
	for _, d := range deps(t, "github.com/rdbak/rdbak/cmd/rdbak") {
		if d == "plugin" {
			t.Fatal("cmd/rdbak depends on the plugin package: find the import with `go mod why plugin`")
		}
	}
}

// TestNoFullClientset keeps client-go's generated clientset, and with it
// the scheme of every built-in API group, out of the binary: its init alone
// kept 11 MiB of the executable resident in every run. internal/kubeapi
// has the clients rdbak needs; tests wrap the fake clientset with
// kubeapitest.
func TestNoFullClientset(t *testing.T) {
	for _, d := range deps(t, "github.com/rdbak/rdbak/cmd/rdbak") {
		if strings.HasPrefix(d, "k8s.io/client-go/kubernetes") || strings.HasPrefix(d, "k8s.io/client-go/informers") ||
			strings.HasPrefix(d, "k8s.io/client-go/tools/leaderelection") || strings.HasSuffix(d, "/kubeapitest") {
			t.Errorf("cmd/rdbak depends on %s: find the import with `go mod why -m` or `go list -deps`, and use internal/kubeapi", d)
		}
	}
}

// TestAdaptersTakeTypedOptions: the config file's shape stops at the
// application layer. The daemon and the Kubernetes adapter take typed
// options, so a change to internal/config never ripples into them; the
// daemon does not reach up into the application layer either.
func TestAdaptersTakeTypedOptions(t *testing.T) {
	forbidden := map[string][]string{
		"internal/daemon": {"github.com/rdbak/rdbak/internal/config", "github.com/rdbak/rdbak/internal/app"},
		"internal/kube":   {"github.com/rdbak/rdbak/internal/config", "github.com/rdbak/rdbak/internal/app"},
	}
	for pkg, bad := range forbidden {
		for _, d := range deps(t, "github.com/rdbak/rdbak/"+pkg) {
			for _, f := range bad {
				if d == f || strings.HasPrefix(d, f+"/") {
					t.Errorf("%s imports %s", pkg, d)
				}
			}
		}
	}
}
