//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rdbak/rdbak/internal/testcluster"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// replica is one rdbak daemon process.
type replica struct {
	name   string
	cmd    *exec.Cmd
	base   string
	log    *testenv.Buffer
	exited chan struct{}
}

func startReplica(t *testing.T, ns *testcluster.Namespace, name, cfg string) *replica {
	t.Helper()
	addr := testenv.Addr(testenv.FreePort(t))
	r := &replica{name: name, base: "http://" + addr, log: &testenv.Buffer{}, exited: make(chan struct{})}
	r.cmd = exec.Command(rdbakBin, "daemon", "--config", cfg, "--listen", addr, "--log-format", "json")
	r.cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig(ns))
	r.cmd.Stderr = r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() {
		select {
		case <-r.exited:
		default:
			_ = r.cmd.Process.Kill()
			<-r.exited
		}
		if t.Failed() {
			t.Logf("replica %s log:\n%s", name, r.log)
		}
	})
	r.waitFor(t, "/healthz", func(m map[string]float64, code int) bool { return code == 200 })
	return r
}

// metrics returns the samples of /metrics and the status of path.
func (r *replica) get(t *testing.T, path string) (map[string]float64, int) {
	t.Helper()
	resp, err := http.Get(r.base + path)
	if err != nil {
		return nil, 0
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if i := strings.LastIndexByte(line, ' '); i > 0 && !strings.HasPrefix(line, "#") {
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				out[line[:i]] = v
			}
		}
	}
	return out, resp.StatusCode
}

func (r *replica) waitFor(t *testing.T, path string, ok func(map[string]float64, int) bool) map[string]float64 {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute) // a hang guard, not a timing assertion
	for time.Now().Before(deadline) {
		select {
		case <-r.exited:
			t.Fatalf("replica %s exited\n%s", r.name, r.log)
		default:
		}
		if m, code := r.get(t, path); ok(m, code) {
			return m
		}
		time.Sleep(100 * time.Millisecond)
	}
	m, code := r.get(t, path)
	t.Fatalf("replica %s: %s never as expected (status %d, %v)", r.name, path, code, m)
	return nil
}

func leading(want float64) func(map[string]float64, int) bool {
	return func(m map[string]float64, _ int) bool { return m["rdbak_leader"] == want }
}

func scheduledBackups(atLeast float64) func(map[string]float64, int) bool {
	return func(m map[string]float64, _ int) bool {
		return m[`rdbak_backup_total{result="success",target="cache"}`] >= atLeast
	}
}

func (r *replica) successes(t *testing.T) float64 {
	m, _ := r.get(t, "/metrics")
	return m[`rdbak_backup_total{result="success",target="cache"}`]
}

// TestDaemonLeaderElection runs rdbak daemon replicas against the real
// API server: only the Lease holder backs up; SIGTERM hands over at once
// (the leader drains, then releases the Lease); a killed leader is
// replaced once its lease expires; no two backups ever overlap.
func TestDaemonLeaderElection(t *testing.T) {
	ns := testcluster.New(t)
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	dir := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "rdbak.yaml")
	body := fmt.Sprintf(`storage: file://%s
daemon:
  shutdownGrace: 30s
  leaderElection: {enabled: true, namespace: %s, name: rdbak-daemon, leaseDuration: 4s, renewDeadline: 3s, retryPeriod: 500ms}
targets:
  - name: cache
    redis: redis://%s
    schedule: "@every 1s"
    retention: {keepLast: 50}
`, dir, ns.Name, src.Addr)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}

	a := startReplica(t, ns, "a", cfg)
	a.waitFor(t, "/metrics", leading(1))
	b := startReplica(t, ns, "b", cfg)
	b.waitFor(t, "/readyz", func(_ map[string]float64, code int) bool { return code == 200 })
	a.waitFor(t, "/metrics", scheduledBackups(3))
	if m, _ := b.get(t, "/metrics"); m["rdbak_leader"] != 0 || b.successes(t) != 0 {
		t.Fatalf("the follower leads (%v) or backs up (%v)", m["rdbak_leader"], b.successes(t))
	}

	// Graceful hand-over: a finishes what it runs and releases the Lease.
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-a.exited
	if code := a.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("replica a exited %d after SIGTERM", code)
	}
	handover := time.Now()
	b.waitFor(t, "/metrics", leading(1))
	t.Logf("graceful hand-over: b leads %v after a exited", time.Since(handover).Round(10*time.Millisecond))
	b.waitFor(t, "/metrics", scheduledBackups(2))
	lease, err := ns.Clientset.CoordinationV1().Leases(ns.Name).Get(t.Context(), "rdbak-daemon", metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil || !strings.Contains(b.log.String(), *lease.Spec.HolderIdentity) {
		t.Errorf("lease holder %v (err %v) is not replica b", lease.Spec.HolderIdentity, err)
	}

	// Crash: b is killed; c takes over once b's lease has expired.
	c := startReplica(t, ns, "c", cfg)
	c.waitFor(t, "/readyz", func(_ map[string]float64, code int) bool { return code == 200 })
	if err := b.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-b.exited
	killed := time.Now()
	c.waitFor(t, "/metrics", leading(1))
	t.Logf("crash fail-over: c leads %v after b was killed (leaseDuration 4s)", time.Since(killed).Round(10*time.Millisecond))
	c.waitFor(t, "/metrics", scheduledBackups(2))
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-c.exited

	repo, err := storage.Open(t.Context(), "file://"+dir, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	ms, problems, err := repo.List(t.Context(), "cache")
	if err != nil || len(problems) > 0 {
		t.Fatalf("list: %v %v", err, problems)
	}
	for i := 1; i < len(ms); i++ {
		if ms[i].Created.Before(ms[i-1].Finished) {
			t.Errorf("backups %s and %s overlap: two replicas backed up at once", ms[i-1].ID, ms[i].ID)
		}
	}
	t.Logf("%d backups over three replicas and two fail-overs", len(ms))
}
