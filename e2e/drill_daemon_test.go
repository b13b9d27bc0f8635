//go:build e2e

package e2e

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/testcluster"
	"github.com/rdbak/rdbak/internal/testenv"
)

// moduleRedis is a Redis that loads a module from a volume, as set by the
// redis.conf of a ConfigMap: a drill's scratch pod runs the same image
// with the same loadmodule, but not the volume, so it cannot load it.
const moduleRedis = `
apiVersion: v1
kind: ConfigMap
metadata: {name: redis-config}
data:
  redis.conf: |
    port 6379
    dir /data
    save ""
    protected-mode no
    maxmemory 64mb
    loadmodule /modules/rdbakmod.so
---
apiVersion: v1
kind: ConfigMap
metadata: {name: redis-modules}
binaryData: {rdbakmod.so: %[2]s}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: modredis}
spec:
  replicas: 1
  selector: {matchLabels: {app: modredis}}
  template:
    metadata: {labels: {app: modredis}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: redis
        image: %[1]s
        imagePullPolicy: Never
        command: [redis-server, /etc/redis/redis.conf]
        ports: [{containerPort: 6379, name: redis}]
        volumeMounts:
        - {name: config, mountPath: /etc/redis}
        - {name: modules, mountPath: /modules}
        - {name: data, mountPath: /data}
      volumes:
      - {name: config, configMap: {name: redis-config}}
      - {name: modules, configMap: {name: redis-modules, defaultMode: 493}} # 0755: Redis 7.4 loads only executable modules
      - {name: data, emptyDir: {}}
`

// buildModule compiles testdata/rdbakmod.c and returns the module.
func buildModule(t *testing.T) []byte {
	t.Helper()
	so := filepath.Join(t.TempDir(), "rdbakmod.so")
	out, err := exec.Command(testenv.CC(t), "-shared", "-fPIC", "-O2", "-o", so, filepath.Join("testdata", "rdbakmod.c")).CombinedOutput()
	if err != nil {
		t.Fatalf("build the module: %v\n%s", err, out)
	}
	b, err := os.ReadFile(so)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestScheduledDrill runs rdbak daemon against the testbed with drills
// scheduled every 2s in scratch pods: the Bitnami-style target's backup
// drills successfully; a backup tampered with after commit, and the
// backup of a target that loads a module from a volume (through a
// ConfigMap's redis.conf) that the scratch pod does not have, fail with
// their reasons. The metrics, the drill records and DrillSucceeded /
// DrillFailed Events on the workloads show it, and the live Redis sees no
// connection and no change.
func TestScheduledDrill(t *testing.T) {
	ns := testcluster.New(t)
	ns.LocalPV(t, "redis-data-redis-master-0", "1Gi")
	m, srv := manifestOn(ns, t, bitnamiRedis, bitnamiServer)
	var kept []string // no exec readiness probe: see TestDrillInScratchPod
	for _, l := range strings.Split(m, "\n") {
		if !strings.Contains(l, "readinessProbe") {
			kept = append(kept, l)
		}
	}
	ns.Apply(t, strings.Join(kept, "\n"))
	ns.Apply(t, fmt.Sprintf(moduleRedis, ns.ServerImage(t, bitnamiServer), base64.StdEncoding.EncodeToString(buildModule(t))))
	ns.WaitStatefulSet(t, "redis-master")
	ns.WaitDeployment(t, "modredis")
	src := redisOn(t, ns, "redis-master-0", "p@ss w0rd", srv)
	testenv.FillAllTypes(t, src, 1)

	store := t.TempDir()
	cfg := filepath.Join(t.TempDir(), "rdbak.yaml")
	sessions := fmt.Sprintf("kubernetes: {namespace: %s, statefulset: redis-master, container: redis, passwordSecret: {name: urbalurba-secrets, key: REDIS_PASSWORD}}", ns.Name)
	body := fmt.Sprintf(`storage: file://%s
defaults:
  drill: {schedule: "@every 2s", runner: pod, timeout: 5m}
targets:
  - name: sessions
    %s
  - name: tampered
    %s
  - name: modules
    kubernetes: {namespace: %s, deployment: modredis, container: redis}
`, store, sessions, sessions, ns.Name)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, target := range []string{"sessions", "tampered", "modules"} {
		ids[target] = rdbak(t, ns, nil, "now", "--config", cfg, "--target", target).ok(t)
	}
	tamper(t, filepath.Join(store, "tampered", ids["tampered"]))

	live := goredis.NewClient(&goredis.Options{Addr: src.Addr, Password: src.Password, PoolSize: 1, MinIdleConns: 1})
	defer live.Close()
	digest, conns := liveState(t, live)

	d := startReplica(t, ns, "drills", cfg)
	got := d.waitFor(t, "/metrics", func(m map[string]float64, _ int) bool {
		return m[`rdbak_drill_total{result="success",target="sessions"}`] >= 1 &&
			m[`rdbak_drill_total{result="failure",target="tampered"}`] >= 1 &&
			m[`rdbak_drill_total{result="failure",target="modules"}`] >= 1
	})
	for _, c := range []struct {
		series string
		ok     func(float64) bool
	}{
		{`rdbak_drill_last_success_timestamp_seconds{target="sessions"}`, func(v float64) bool { return v > 0 }},
		{`rdbak_drill_last_success_timestamp_seconds{target="tampered"}`, func(v float64) bool { return v == 0 }},
		{`rdbak_drill_last_success_timestamp_seconds{target="modules"}`, func(v float64) bool { return v == 0 }},
		{`rdbak_drill_total{result="failure",target="sessions"}`, func(v float64) bool { return v == 0 }},
		{`rdbak_drill_total{result="success",target="tampered"}`, func(v float64) bool { return v == 0 }},
		{`rdbak_drill_total{result="success",target="modules"}`, func(v float64) bool { return v == 0 }},
	} {
		if v := got[c.series]; !c.ok(v) {
			t.Errorf("%s = %v", c.series, v)
		}
	}

	// The Events, on the workloads the API server names (the recorder
	// sends them asynchronously).
	events := func(ctx context.Context, name, reason string) []string {
		l, err := ns.Clientset.CoreV1().Events(ns.Name).List(ctx, metav1.ListOptions{FieldSelector: "involvedObject.name=" + name + ",reason=" + reason})
		if err != nil {
			return nil
		}
		var out []string
		for _, e := range l.Items {
			out = append(out, e.Message)
		}
		return out
	}
	for _, c := range []struct{ workload, reason, says string }{
		{"redis-master", kube.ReasonDrillSucceeded, "drill of backup " + ids["sessions"] + " of sessions succeeded"},
		{"redis-master", kube.ReasonDrillFailed, "of tampered failed: verify: "},
		{"modredis", kube.ReasonDrillFailed, "of modules failed: load: module missing"},
	} {
		ns.WaitFor(t, fmt.Sprintf("a %s Event on %s saying %q", c.reason, c.workload, c.says), func(ctx context.Context) (bool, error) {
			for _, msg := range events(ctx, c.workload, c.reason) {
				if strings.Contains(msg, c.says) {
					return true, nil
				}
			}
			return false, nil
		})
	}

	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-d.exited

	for target, check := range map[string]func(drill.Record) bool{
		"sessions": func(r drill.Record) bool {
			return r.OK() && r.Scratch.Kind == "pod" && r.Scratch.Version == srv.VersionString()
		},
		"tampered": func(r drill.Record) bool { return !r.OK() && strings.HasPrefix(r.Reason, "verify: ") },
		"modules": func(r drill.Record) bool {
			return !r.OK() && strings.HasPrefix(r.Reason, "load: module missing") &&
				strings.Contains(r.Reason, "/modules/rdbakmod.so (loadmodule in redis.conf in ConfigMap "+ns.Name+"/redis-config key redis.conf)") &&
				strings.Contains(r.Reason, "cannot open shared object file")
		},
	} {
		recs := drillRecords(t, filepath.Join(store, target, ids[target]))
		if len(recs) == 0 {
			t.Errorf("%s: no drill record", target)
		}
		for _, r := range recs {
			if !check(r) {
				t.Errorf("%s: drill record %s: %s (%s), scratch %+v", target, r.Name, r.Result, r.Reason, r.Scratch)
			}
		}
		if len(recs) > 0 {
			t.Logf("%s: %d drills, the first: %s %s", target, len(recs), recs[0].Result, recs[0].Reason)
		}
	}

	d2, c2 := liveState(t, live)
	if d2 != digest {
		t.Errorf("the live Redis's digest changed during the drills: %s, then %s", digest, d2)
	}
	if c2 != conns {
		t.Errorf("the live Redis received %d connections during the drills, want none", c2-conns)
	}
	ns.WaitFor(t, "no scratch pod left", func(ctx context.Context) (bool, error) {
		pods, err := ns.Clientset.CoreV1().Pods(ns.Name).List(ctx, metav1.ListOptions{LabelSelector: kube.LabelDrillScratch + "=true"})
		return err == nil && len(pods.Items) == 0, nil
	})
}

// drillRecords reads every drill record of the backup in dir.
func drillRecords(t *testing.T, dir string) []drill.Record {
	t.Helper()
	matches, _ := filepath.Glob(filepath.Join(dir, "drill-*.json"))
	var out []drill.Record
	for _, f := range matches {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var r drill.Record
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		out = append(out, r)
	}
	return out
}
