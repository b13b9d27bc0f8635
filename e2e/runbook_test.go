//go:build e2e

package e2e

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testcluster"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// runbook runs every sh block of deploy/runbooks/<name> in order with bash,
// as an operator would paste them, with env set and rdbak on PATH.
func runbook(t *testing.T, ns *testcluster.Namespace, name string, env ...string) string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "deploy", "runbooks", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var script strings.Builder
	in := false
	blocks := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "```sh":
			in = true
			blocks++
		case in && line == "```":
			in = false
		case in:
			script.WriteString(line + "\n")
		}
	}
	if blocks == 0 {
		t.Fatalf("runbook %s has no sh blocks", name)
	}
	cmd := exec.CommandContext(t.Context(), "bash", "-euo", "pipefail", "-c", script.String())
	cmd.Env = append(os.Environ(), "PATH="+filepath.Dir(rdbakBin)+":"+os.Getenv("PATH"), "KUBECONFIG="+kubeconfig(ns))
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	t.Logf("runbook %s:\n%s", name, out)
	if err != nil {
		t.Fatalf("runbook %s failed: %v", name, err)
	}
	return string(out)
}

// TestRunbooks executes the restore runbooks as written, in the order an
// incident might need them, and checks the data after each.
func TestRunbooks(t *testing.T) {
	ns := testcluster.New(t)
	pv := statefulRedisUp(t, ns)
	store := "file://" + t.TempDir()
	env := []string{"STORAGE=" + store, "NS=" + ns.Name, "STS=redis", "TARGET=sessions", "RDBAK_RESTORE_IMAGE=" + restoreImage(t)}
	digest := func() string { return redisIn(t, ns, "redis-0", "").Digest(t) }

	// Backup A, then, a moment later, data B and its backup.
	src := redisIn(t, ns, "redis-0", "")
	testenv.FillAllTypes(t, src, 1)
	a := digest()
	rdbak(t, ns, nil, "now", "--storage", store, "--target", "sessions", "--statefulset", ns.Name+"/redis").ok(t)
	time.Sleep(1100 * time.Millisecond)
	at := time.Now().UTC().Format(time.RFC3339)
	time.Sleep(1100 * time.Millisecond)
	change(t, src)
	testenv.FillAllTypes(t, src, 2)
	b := digest()
	rdbak(t, ns, nil, "now", "--storage", store, "--target", "sessions", "--statefulset", ns.Name+"/redis").ok(t)
	change(t, src)
	c := digest()

	runbook(t, ns, "restore-latest.md", env...)
	if got := digest(); got != b {
		t.Fatalf("after restore-latest: digest %s, want the latest backup's %s", got, b)
	}
	runbook(t, ns, "rollback-restore.md", env...)
	if got := digest(); got != c {
		t.Fatalf("after rollback-restore: digest %s, want the data before the restore %s", got, c)
	}
	runbook(t, ns, "restore-point-in-time.md", append(env, "AT="+at)...)
	if got := digest(); got != a {
		t.Fatalf("after restore-point-in-time: digest %s, want backup A's %s", got, a)
	}

	staging := testcluster.New(t)
	staging.LocalPV(t, "data-redis-0", "1Gi")
	staging.Apply(t, manifest(staging, t, statefulRedis))
	staging.WaitStatefulSet(t, "redis")
	runbook(t, ns, "clone-to-namespace.md", append(env, "STAGING_NS="+staging.Name)...)
	if got := redisIn(t, staging, "redis-0", "").Digest(t); got != b {
		t.Fatalf("after clone-to-namespace: staging digest %s, want the latest backup's %s", got, b)
	}

	// A dump.rdb taken by hand (the file source's BGSAVE left one on the
	// volume) is inspected and imported, then restores to the data it holds.
	dump := filepath.Join(t.TempDir(), "dump.rdb")
	data, err := os.ReadFile(filepath.Join(pv.Spec.Local.Path, "dump.rdb"))
	if err != nil {
		t.Fatalf("no dump.rdb on the volume to import: %v", err)
	}
	if err := os.WriteFile(dump, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out := runbook(t, ns, "import-manual-backup.md", append(env, "DUMP="+dump)...)
	if !strings.Contains(out, "yes: structure and CRC-64") {
		t.Errorf("the runbook's inspect did not report a valid file:\n%s", out)
	}
	if ms := backups(t, ns, store); len(ms) == 0 || !slices.ContainsFunc(ms, func(m storage.Manifest) bool { return m.Target == "sessions-manual" && m.Source.Kind == "import" }) {
		t.Errorf("no imported backup of sessions-manual in %s", store)
	}

	// The volume's content is lost: Redis comes back empty.
	entries, _ := os.ReadDir(pv.Spec.Local.Path)
	for _, e := range entries {
		os.RemoveAll(filepath.Join(pv.Spec.Local.Path, e.Name()))
	}
	ns.RecreatePod(t, "redis-0")
	if got := digest(); got != strings.Repeat("0", 40) {
		t.Fatalf("after losing the volume's files Redis has digest %s, want empty", got)
	}
	runbook(t, ns, "dr-lost-pvc.md", env...)
	if got := digest(); got != b {
		t.Fatalf("after dr-lost-pvc: digest %s, want the latest backup's %s", got, b)
	}
}
