//go:build e2e

package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/internal/testcluster"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

var rdbakBin string

// TestMain builds the rdbak binary once; the tests run it as a user would,
// from outside the cluster with the testbed's kubeconfig.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rdbak-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	rdbakBin = filepath.Join(dir, "rdbak")
	if out, err := exec.Command("go", "build", "-o", rdbakBin, "../cmd/rdbak").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build rdbak: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// rdbak runs the binary against the testbed with args.
func rdbak(t *testing.T, ns *testcluster.Namespace, env []string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), rdbakBin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig(ns))
	cmd.Env = append(cmd.Env, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run rdbak %v: %v", args, err)
	}
	t.Logf("rdbak %s -> exit %d\n%s", strings.Join(args, " "), r.code, r.stderr)
	return r
}

func kubeconfig(ns *testcluster.Namespace) string {
	if k := ns.Getenv("KUBECONFIG"); k != "" {
		return k
	}
	return os.Getenv("KUBECONFIG")
}

func (r result) ok(t *testing.T) string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("rdbak failed with exit %d:\n%s", r.code, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

func (r result) fails(t *testing.T, code int, says ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range says {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("the error does not say %q:\n%s", s, r.stderr)
		}
	}
}

// backups lists what store holds.
func backups(t *testing.T, ns *testcluster.Namespace, store string) []storage.Manifest {
	t.Helper()
	var ms []storage.Manifest
	out := rdbak(t, ns, nil, "list", "--storage", store, "-o", "json").ok(t)
	if err := json.Unmarshal([]byte(out), &ms); err != nil {
		t.Fatalf("list -o json: %v\n%s", err, out)
	}
	return ms
}

// assertNothingStored fails if store holds any backup or leftover object.
func assertNothingStored(t *testing.T, ns *testcluster.Namespace, dir string) {
	t.Helper()
	if ms := backups(t, ns, "file://"+dir); len(ms) != 0 {
		t.Errorf("store holds %d backups after a failure, want none", len(ms))
	}
	var files []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, p)
		}
		return nil
	})
	if len(files) != 0 {
		t.Errorf("store holds files after a failure: %v", files)
	}
}

// redisIn returns a testenv.Redis reaching the Redis of pod through a
// port-forward, so testenv's dataset and digest helpers work on it.
func redisIn(t *testing.T, ns *testcluster.Namespace, pod, password string) *testenv.Redis {
	t.Helper()
	return &testenv.Redis{Addr: ns.PortForward(t, pod, 6379), Password: password}
}

// redisOn is redisIn for a pod that runs srv (from manifestOn).
func redisOn(t *testing.T, ns *testcluster.Namespace, pod, password string, srv testenv.Server) *testenv.Redis {
	t.Helper()
	r := redisIn(t, ns, pod, password)
	r.Server, r.Version = srv, srv.Version
	return r
}

// restoredDigest verifies backup id in store, restores it to a file and
// returns the DEBUG DIGEST of a fresh local redis-server loading it.
func restoredDigest(t *testing.T, ns *testcluster.Namespace, store, id string, env ...string) string {
	t.Helper()
	return restoredDigestOn(t, ns, testenv.Server{}, store, id, env...)
}

// restoredDigestOn is restoredDigest loading into srv (the zero Server is
// redis-server on PATH): a backup of a newer Redis than Debian's (RDB 12 from
// 7.4) loads only into its own version.
func restoredDigestOn(t *testing.T, ns *testcluster.Namespace, srv testenv.Server, store, id string, env ...string) string {
	t.Helper()
	rdbak(t, ns, env, "verify", id, "--storage", store).ok(t)
	dir := t.TempDir()
	rdbak(t, ns, env, "restore", id, "--storage", store, "--to-file", filepath.Join(dir, "dump.rdb")).ok(t)
	return testenv.StartRedis(t, testenv.RedisOptions{Dir: dir, Server: srv}).Digest(t)
}
