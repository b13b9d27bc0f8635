//go:build e2e

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/testcluster"
	"github.com/rdbak/rdbak/internal/testenv"
)

// TestDrillInScratchPod drills backups of a Bitnami-style target in a
// scratch pod (drill.runner: pod): a good backup succeeds, one whose data
// was changed after commit fails with the reason, and the live Redis sees
// no connection and no change; no scratch pod is left.
func TestDrillInScratchPod(t *testing.T) {
	ns := testcluster.New(t)
	ns.LocalPV(t, "redis-data-redis-master-0", "1Gi")
	m, srv := manifestOn(ns, t, bitnamiRedis, bitnamiServer)
	// No exec readiness probe: its redis-cli would be connections to the
	// live Redis that the drill's own (none) are counted against.
	var kept []string
	for _, l := range strings.Split(m, "\n") {
		if !strings.Contains(l, "readinessProbe") {
			kept = append(kept, l)
		}
	}
	ns.Apply(t, strings.Join(kept, "\n"))
	ns.WaitStatefulSet(t, "redis-master")
	src := redisOn(t, ns, "redis-master-0", "p@ss w0rd", srv)
	testenv.FillAllTypes(t, src, 1)

	cfg := filepath.Join(t.TempDir(), "rdbak.yaml")
	store := t.TempDir()
	body := fmt.Sprintf(`storage: file://%s
targets:
  - name: sessions
    kubernetes: {namespace: %s, statefulset: redis-master, container: redis, passwordSecret: {name: urbalurba-secrets, key: REDIS_PASSWORD}}
    drill:
      runner: pod
      timeout: 5m
      checks:
        - command: "DBSIZE"
          expect: "%d"
`, store, ns.Name, dbsize(t, src))
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	good := rdbak(t, ns, nil, "now", "--config", cfg).ok(t)
	bad := rdbak(t, ns, nil, "now", "--config", cfg).ok(t)
	tamper(t, filepath.Join(store, "sessions", bad))

	// One connection to the live Redis, held open throughout: its
	// counters before and after tell whether anyone else connected.
	live := goredis.NewClient(&goredis.Options{Addr: src.Addr, Password: src.Password, PoolSize: 1, MinIdleConns: 1})
	defer live.Close()
	digest, conns := liveState(t, live)

	rdbak(t, ns, nil, "drill", "--config", cfg, good).ok(t)
	rec := drillRecord(t, filepath.Join(store, "sessions", good))
	if !rec.OK() || rec.Scratch.Kind != "pod" || rec.Scratch.Image != ns.ServerImage(t, bitnamiServer) {
		t.Errorf("drill of the good backup: result %s (%s), scratch %+v; want success in a pod of the target's image", rec.Result, rec.Reason, rec.Scratch)
	}
	if rec.Scratch.Version != srv.VersionString() {
		t.Errorf("scratch server version %q, want the target image's %s", rec.Scratch.Version, srv.VersionString())
	}
	t.Logf("good drill: %+v", rec.Checks)

	r := rdbak(t, ns, nil, "drill", "--config", cfg, bad)
	if r.code == 0 || !strings.Contains(r.stderr, "verify") {
		t.Errorf("drill of the tampered backup: exit %d, want a failure that says verify:\n%s", r.code, r.stderr)
	}
	if rec := drillRecord(t, filepath.Join(store, "sessions", bad)); rec.OK() || !strings.HasPrefix(rec.Reason, "verify: ") {
		t.Errorf("tampered backup's record: %s, reason %q; want a failure in verify", rec.Result, rec.Reason)
	}

	d2, c2 := liveState(t, live)
	if d2 != digest {
		t.Errorf("the live Redis's digest changed during the drills: %s, then %s", digest, d2)
	}
	if c2 != conns {
		t.Errorf("the live Redis received %d connections during the drills, want none", c2-conns)
	}
	pods, err := ns.Clientset.CoreV1().Pods(ns.Name).List(t.Context(), metav1.ListOptions{LabelSelector: kube.LabelDrillScratch + "=true"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		t.Errorf("scratch pod %s left after the drill (phase %s)", p.Name, p.Status.Phase)
	}
}

func dbsize(t *testing.T, r *testenv.Redis) int64 {
	t.Helper()
	n, err := r.Client(t).DBSize(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// liveState returns DEBUG DIGEST and total_connections_received over c's
// one connection.
func liveState(t *testing.T, c *goredis.Client) (string, int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	d, err := c.Do(ctx, "DEBUG", "DIGEST").Text()
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Info(ctx, "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "total_connections_received:"); ok {
			var n int64
			fmt.Sscan(v, &n)
			return d, n
		}
	}
	t.Fatalf("no total_connections_received in INFO stats:\n%s", info)
	return "", 0
}

// tamper flips a byte in the middle of the stored RDB object of the
// backup in dir, after its manifest was committed.
func tamper(t *testing.T, dir string) {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, "dump.rdb*"))
	if len(matches) != 1 {
		t.Fatalf("data objects in %s: %v, want one", dir, matches)
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(matches[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// drillRecord reads the one drill record of the backup in dir.
func drillRecord(t *testing.T, dir string) drill.Record {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, "drill-*.json"))
	if len(matches) != 1 {
		t.Fatalf("drill records in %s: %v, want one", dir, matches)
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	var r drill.Record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", matches[0], err)
	}
	return r
}

// TestDeployDrill drills from the shipped CronJob, in rdbak's own image
// (no redis-server): drill.runner auto takes a scratch pod in the target's
// namespace, allowed by deploy/base/drill, and deletes it afterwards.
func TestDeployDrill(t *testing.T) {
	image := restoreImage(t)
	target := testcluster.New(t)
	home := target.NewNamespace(t)
	store := startNodeMinIO(t, target.Cluster)
	deployRedis(t, target)

	cfg := deployConfig(store.url, target.Name)
	dirs := []string{"examples/cronjob", "base/drill"}
	api := apiServerEnv(t, home.Cluster, "CronJob", "/spec/jobTemplate/spec/template/spec")
	home.Apply(t, kustomizeOverlay(t, home.Cluster, dirs[:1], home.Name, target.Name, image, cfg, api))

	jobFromCronJob(t, home, "rdbak-redis", "backup")
	if got := waitJob(t, home, "backup"); got != batchv1.JobComplete {
		_, log := firstJobPod(t, home, "backup")
		t.Fatalf("backup job: %s; log:\n%s", got, log)
	}
	// Without deploy/base/drill the drill fails, naming the rule to add.
	jobFromCronJob(t, home, "rdbak-redis", "drill-no-rbac", "drill", "--config", "/etc/rdbak/rdbak.yaml", "--target", "redis")
	code, log := firstJobPod(t, home, "drill-no-rbac")
	deleteJob(t, home, "drill-no-rbac")
	for _, want := range []string{"missing Kubernetes permissions", "create pods in namespace " + target.Name, "pods/portforward"} {
		if code == 0 || !strings.Contains(log, want) {
			t.Errorf("drill without deploy/base/drill: exit %d, log does not say %q:\n%s", code, want, log)
		}
	}

	home.Apply(t, kustomizeOverlay(t, home.Cluster, dirs, home.Name, target.Name, image, cfg, api))
	jobFromCronJob(t, home, "rdbak-redis", "drill", "drill", "--config", "/etc/rdbak/rdbak.yaml", "--target", "redis")
	got := waitJob(t, home, "drill")
	_, log = firstJobPod(t, home, "drill")
	if got != batchv1.JobComplete || !strings.Contains(log, "drill succeeded") {
		t.Fatalf("drill job: %s, want Complete with a successful drill; log:\n%s", got, log)
	}
	out := rdbak(t, home, store.env, "describe", "latest", "--storage", store.url, "--target", "redis").ok(t)
	t.Logf("describe:\n%s", out)
	pods, err := target.Clientset.CoreV1().Pods(target.Name).List(t.Context(), metav1.ListOptions{LabelSelector: kube.LabelDrillScratch + "=true"})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		t.Errorf("scratch pod %s left after the drill (phase %s)", p.Name, p.Status.Phase)
	}
}
