//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
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

// sentinelSet mimics the Bitnami chart with sentinel.enabled: a redis-node
// StatefulSet of 3 pods, each with a redis and a sentinel container from
// the same image and its own PVC, with appendonly yes as the chart has. The testbed has no cluster DNS, so the
// test tells the pods the first master's IP (/shared/master); from then
// on, as Bitnami's scripts do, a restarting redis container asks its
// Sentinel who the master is and starts as its replica, or as master.
const sentinelSet = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis-node}
spec:
  serviceName: redis-headless
  replicas: 3
  selector: {matchLabels: {app: redis-node}}
  template:
    metadata: {labels: {app: redis-node}}
    spec:
      terminationGracePeriodSeconds: 5
      volumes: [{name: shared, emptyDir: {}}]
      containers:
      - name: redis
        image: %[1]s
        imagePullPolicy: Never
        env: [{name: POD_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]
        command:
        - sh
        - -c
        - |
          set -e
          REPL=""
          if [ -f /shared/master ]; then
            M=$(redis-cli -p 26379 SENTINEL get-master-addr-by-name mymaster 2>/dev/null | head -1)
            [ -n "$M" ] || M=$(cut -d' ' -f1 /shared/master)
            [ "$M" = "$POD_IP" ] || REPL="--replicaof $M 6379"
          fi
          exec redis-server --dir /data --save "" --appendonly yes --protected-mode no --enable-debug-command yes $REPL
        ports: [{containerPort: 6379, name: redis}]
        readinessProbe: {exec: {command: [redis-cli, ping]}, periodSeconds: 1}
        volumeMounts: [{name: data, mountPath: /data}, {name: shared, mountPath: /shared}]
      - name: sentinel
        image: %[1]s
        imagePullPolicy: Never
        command:
        - sh
        - -c
        - |
          until [ -f /shared/master ]; do sleep 1; done
          read ip port < /shared/master
          [ -f /shared/sentinel.conf ] || printf 'port 26379\nprotected-mode no\nsentinel monitor mymaster %%s %%s 2\nsentinel down-after-milliseconds mymaster 2000\nsentinel failover-timeout mymaster 10000\n' "$ip" "$port" > /shared/sentinel.conf
          exec redis-server /shared/sentinel.conf --sentinel
        ports: [{containerPort: 26379, name: sentinel}]
        volumeMounts: [{name: shared, mountPath: /shared}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], storageClassName: local, resources: {requests: {storage: 1Gi}}}
`

// runRedis execs cmd in the redis container of pod and returns its stdout.
func runRedis(t *testing.T, ns *testcluster.Namespace, pod string, cmd ...string) string {
	t.Helper()
	var stdout, stderr strings.Builder
	if err := ns.Exec(t.Context(), pod, cmd, testcluster.ExecOptions{Container: "redis", Stdout: &stdout, Stderr: &stderr}); err != nil {
		t.Fatalf("%v in %s: %v; stderr: %q", cmd, pod, err, stderr.String())
	}
	return stdout.String()
}

// sentinelCLI runs redis-cli against the Sentinel of pod (from its redis
// container: they share the pod's network).
func sentinelCLI(t *testing.T, ns *testcluster.Namespace, pod string, args ...string) string {
	t.Helper()
	return strings.TrimSpace(runRedis(t, ns, pod, append([]string{"redis-cli", "-p", "26379"}, args...)...))
}

// startSentinelSet starts the shape and wires it: redis-node-0 master, the
// others its replicas, every Sentinel watching it and knowing the others.
func startSentinelSet(t *testing.T, ns *testcluster.Namespace) map[string]string {
	t.Helper()
	for i := range 3 {
		ns.LocalPV(t, fmt.Sprintf("data-redis-node-%d", i), "1Gi")
	}
	ns.Apply(t, fmt.Sprintf(sentinelSet, ns.RedisImage(t)))
	ns.WaitStatefulSet(t, "redis-node")
	ips := map[string]string{}
	for _, p := range ns.PodsOf(t, &metav1.LabelSelector{MatchLabels: map[string]string{"app": "redis-node"}}) {
		ips[p.Name] = p.Status.PodIP
	}
	for i := range 3 {
		pod := fmt.Sprintf("redis-node-%d", i)
		if i > 0 {
			runRedis(t, ns, pod, "redis-cli", "replicaof", ips["redis-node-0"], "6379")
		}
		runRedis(t, ns, pod, "sh", "-c", "echo '"+ips["redis-node-0"]+" 6379' > /shared/master")
	}
	waitSentinels(t, ns, ips["redis-node-0"])
	return ips
}

// waitSentinels waits until every Sentinel names master, lists 2 replicas
// whose link is up, and knows the 2 other Sentinels.
func waitSentinels(t *testing.T, ns *testcluster.Namespace, master string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for i := 0; i < 3; {
		pod := fmt.Sprintf("redis-node-%d", i)
		var stdout strings.Builder
		script := "redis-cli -p 26379 SENTINEL get-master-addr-by-name mymaster | head -1; redis-cli -p 26379 SENTINEL replicas mymaster | grep -c '^master-link-status$' ; redis-cli -p 26379 SENTINEL replicas mymaster | grep -A1 '^flags$' | grep -c '^slave$'; redis-cli -p 26379 SENTINEL sentinels mymaster | grep -c '^runid$'"
		err := ns.Exec(t.Context(), pod, []string{"sh", "-c", script}, testcluster.ExecOptions{Container: "redis", Stdout: &stdout})
		if err == nil && strings.Fields(stdout.String()) != nil && strings.Join(strings.Fields(stdout.String()), " ") == master+" 2 2 2" {
			i++
			continue
		}
		if time.Now().After(deadline) {
			t.Fatalf("Sentinel of %s never settled on master %s: %q (%v)", pod, master, stdout.String(), err)
		}
		time.Sleep(time.Second)
	}
}

// currentMaster returns the pod the Sentinels name as master, waiting
// until all three agree.
func currentMaster(t *testing.T, ns *testcluster.Namespace, ips map[string]string) string {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		seen := map[string]bool{}
		for i := range 3 {
			seen[strings.Split(sentinelCLI(t, ns, fmt.Sprintf("redis-node-%d", i), "SENTINEL", "get-master-addr-by-name", "mymaster"), "\n")[0]] = true
		}
		if len(seen) == 1 {
			for ip := range seen {
				for pod, pip := range ips {
					if pip == ip {
						return pod
					}
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Sentinels never agreed on a master: %v", seen)
		}
	}
}

// failover runs SENTINEL FAILOVER and waits until the Sentinels agree on a
// new master with both replicas linked, returning its pod.
func failover(t *testing.T, ns *testcluster.Namespace, ips map[string]string) string {
	t.Helper()
	old := currentMaster(t, ns, ips)
	sentinelCLI(t, ns, old, "SENTINEL", "FAILOVER", "mymaster")
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(time.Second) {
		if m := currentMaster(t, ns, ips); m != old {
			waitSentinels(t, ns, ips[m])
			return m
		}
		if time.Now().After(deadline) {
			t.Fatal("no failover after SENTINEL FAILOVER")
		}
	}
}

// digests returns DEBUG DIGEST of every node once their replicas caught up.
func setDigests(t *testing.T, ns *testcluster.Namespace, master string) map[string]string {
	t.Helper()
	want := strings.TrimSpace(runRedis(t, ns, master, "redis-cli", "DEBUG", "DIGEST"))
	out := map[string]string{}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		same := true
		for i := range 3 {
			pod := fmt.Sprintf("redis-node-%d", i)
			out[pod] = strings.TrimSpace(runRedis(t, ns, pod, "redis-cli", "DEBUG", "DIGEST"))
			same = same && out[pod] == want
		}
		if same || time.Now().After(deadline) {
			return out
		}
	}
}

func priorities(t *testing.T, ns *testcluster.Namespace) []string {
	t.Helper()
	var out []string
	for i := range 3 {
		out = append(out, strings.Split(strings.TrimSpace(runRedis(t, ns, fmt.Sprintf("redis-node-%d", i), "redis-cli", "CONFIG", "GET", "replica-priority")), "\n")[1])
	}
	return out
}

// keyCount is the number of keys of pod's Redis, all databases.
func keyCount(t *testing.T, ns *testcluster.Namespace, pod string) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(runRedis(t, ns, pod, "redis-cli", "INFO", "keyspace"), "\n") {
		var db, keys int
		if _, err := fmt.Sscanf(strings.TrimSpace(line), "db%d:keys=%d,", &db, &keys); err == nil {
			n += keys
		}
	}
	return n
}

// storeFiles lists the files under dir.
func storeFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

// failoverDuringBackup fires SENTINEL FAILOVER while a replica streams the
// backup of target ha (slowed to about 4 s by rdb-key-save-delay): the
// backup either fails with nothing stored, or is stored naming the replica
// the stream came from. It returns once the Sentinels agree on the new
// master.
func failoverDuringBackup(t *testing.T, ns *testcluster.Namespace, ips map[string]string, cfg, store string) {
	t.Helper()
	old := currentMaster(t, ns, ips)
	delay := strconv.Itoa(4_000_000 / max(keyCount(t, ns, old), 1))
	for i := range 3 {
		runRedis(t, ns, fmt.Sprintf("redis-node-%d", i), "redis-cli", "CONFIG", "SET", "rdb-key-save-delay", delay)
	}
	defer func() {
		for i := range 3 {
			runRedis(t, ns, fmt.Sprintf("redis-node-%d", i), "redis-cli", "CONFIG", "SET", "rdb-key-save-delay", "0")
		}
	}()
	before := storeFiles(t, store)
	cmd := exec.CommandContext(t.Context(), rdbakBin, "now", "--config", cfg, "--target", "ha")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig(ns))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	streaming := ""
	for deadline := time.Now().Add(2 * time.Minute); streaming == ""; time.Sleep(200 * time.Millisecond) {
		for pod := range ips {
			if pod != old && strings.Contains(runRedis(t, ns, pod, "redis-cli", "INFO", "persistence"), "rdb_bgsave_in_progress:1") {
				streaming = pod
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no replica forked for the backup; rdbak said:\n%s", stderr.String())
		}
	}
	sentinelCLI(t, ns, old, "SENTINEL", "FAILOVER", "mymaster")
	err := cmd.Wait()
	repo, oerr := storage.Open(t.Context(), "file://"+store, storage.Options{})
	if oerr != nil {
		t.Fatal(oerr)
	}
	defer repo.Close()
	ms, _, lerr := repo.List(t.Context(), "ha")
	if lerr != nil {
		t.Fatal(lerr)
	}
	if err != nil {
		t.Logf("the backup during the failover failed, as it may: %v\n%s", err, stderr.String())
		if after := storeFiles(t, store); !slices.Equal(after, before) {
			t.Errorf("a failed backup left objects: %v (before: %v)", after, before)
		}
	} else {
		m := ms[len(ms)-1]
		tp := m.Topology
		t.Logf("the backup during the failover was stored: chosen %s (%s), master before %s, after %q", tp.Chosen, tp.ChosenPod, tp.Master, tp.MasterAfter)
		if tp.ChosenPod != ns.Name+"/"+streaming || tp.Chosen != ips[streaming]+":6379" || !strings.Contains(m.Source.Origin, tp.Chosen) {
			t.Errorf("the backup streamed from %s (%s) but its manifest names %s (%s), origin %q", streaming, ips[streaming], tp.Chosen, tp.ChosenPod, m.Source.Origin)
		}
		rdbak(t, ns, nil, "verify", m.ID, "--config", cfg, "--target", "ha").ok(t)
	}
	for deadline := time.Now().Add(2 * time.Minute); currentMaster(t, ns, ips) == old; time.Sleep(time.Second) {
		if time.Now().After(deadline) {
			t.Fatal("no failover after SENTINEL FAILOVER during the backup")
		}
	}
	waitSentinels(t, ns, ips[currentMaster(t, ns, ips)])
}

// TestSentinelSet backs up and restores a Bitnami-style Sentinel set: the
// backup comes from a replica and says so, also after a failover, and a
// failover during a backup never gives a manifest naming the wrong node; the
// restore ends with the backup's digest on every node, one master agreed,
// the priorities back, and the digests hold through another failover; a
// restore interrupted (SIGINT) leaves the old data everywhere and the
// priorities back.
func TestSentinelSet(t *testing.T) {
	ns := testcluster.New(t)
	ips := startSentinelSet(t, ns)
	src := redisIn(t, ns, "redis-node-0", "")
	testenv.FillAllTypes(t, src, 1)
	a := setDigests(t, ns, "redis-node-0")["redis-node-0"]

	dir := t.TempDir()
	cfg := filepath.Join(dir, "rdbak.yaml")
	conf := fmt.Sprintf(`storage: file://%s
targets:
  - name: ha
    kubernetes: {namespace: %s, statefulset: redis-node, container: redis}
    sentinel:
      kubernetes: {selector: app=redis-node, container: sentinel}
      masterName: mymaster
`, filepath.Join(dir, "store"), ns.Name)
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "store"), 0o755); err != nil {
		t.Fatal(err)
	}
	topology := func() *storage.Topology {
		repo, err := storage.Open(t.Context(), "file://"+filepath.Join(dir, "store"), storage.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		ms, _, err := repo.List(t.Context(), "ha")
		if err != nil || len(ms) == 0 {
			t.Fatalf("list: %d backups, %v", len(ms), err)
		}
		return ms[len(ms)-1].Topology
	}

	rdbak(t, ns, nil, "now", "--config", cfg, "--target", "ha").ok(t)
	if tp := topology(); tp == nil || tp.ChosenRole != "replica" || tp.Master != ips["redis-node-0"]+":6379" || !strings.HasPrefix(tp.ChosenPod, ns.Name+"/redis-node-") {
		t.Fatalf("first backup topology %+v: want a replica pod of master %s", tp, ips["redis-node-0"])
	}

	failoverDuringBackup(t, ns, ips, cfg, filepath.Join(dir, "store"))
	master := failover(t, ns, ips)
	rdbak(t, ns, nil, "now", "--config", cfg, "--target", "ha").ok(t)
	if tp := topology(); tp.Master != ips[master]+":6379" || tp.ChosenRole != "replica" || tp.ChosenPod == ns.Name+"/"+master {
		t.Fatalf("backup after the failover: topology %+v, want a replica of %s", tp, master)
	}

	// Other data, then a restore interrupted once every replica has
	// replica-priority 0, while the Sentinels catch up.
	m := redisIn(t, ns, master, "")
	change(t, m)
	old := setDigests(t, ns, master)[master]
	cmd := exec.CommandContext(t.Context(), rdbakBin, "restore", "latest", "--config", cfg, "--target", "ha", "--yes")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig(ns))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "see replica-priority 0") {
			_ = cmd.Process.Signal(syscall.SIGINT)
		}
	}
	if err := cmd.Wait(); err == nil {
		t.Fatalf("an interrupted restore succeeded:\n%s", log.String())
	}
	t.Logf("interrupted restore:\n%s", log.String())
	for pod, d := range setDigests(t, ns, master) {
		if d != old {
			t.Errorf("after the interrupted restore %s has digest %s, want the old %s", pod, d, old)
		}
	}
	if p := priorities(t, ns); strings.Join(p, ",") != "100,100,100" {
		t.Errorf("after the interrupted restore replica-priority = %v, want 100 everywhere", p)
	}

	out := rdbak(t, ns, nil, "restore", "latest", "--config", cfg, "--target", "ha", "--dry-run").ok(t)
	for _, want := range []string{"freeze failover", "fully resynced from the restored master", "replica-priority", "CONFIG SET appendonly no", "appendonly yes (multi-part AOF"} {
		if !strings.Contains(out, want) {
			t.Errorf("the dry-run plan does not mention %q:\n%s", want, out)
		}
	}
	runbook(t, ns, "restore-sentinel-kubernetes.md", "CONFIG="+cfg, "TARGET=ha", "NS="+ns.Name, "SELECTOR=app=redis-node", "MASTER_NAME=mymaster")
	if got := currentMaster(t, ns, ips); got != master {
		t.Errorf("after the restore the Sentinels name %s, want %s", got, master)
	}
	for pod, d := range setDigests(t, ns, master) {
		if d != a {
			t.Errorf("after the restore %s has digest %s, want the backup's %s", pod, d, a)
		}
	}
	if p := priorities(t, ns); strings.Join(p, ",") != "100,100,100" {
		t.Errorf("after the restore replica-priority = %v, want 100 everywhere", p)
	}
	if got := strings.Fields(runRedis(t, ns, master, "redis-cli", "CONFIG", "GET", "appendonly")); len(got) != 2 || got[1] != "yes" {
		t.Errorf("after the restore the master has %v, want appendonly yes", got)
	}
	runRedis(t, ns, master, "test", "-d", "/data/appendonlydir.pre-restore")
	next := failover(t, ns, ips)
	for pod, d := range setDigests(t, ns, next) {
		if d != a {
			t.Errorf("after a further failover %s has digest %s, want the backup's %s", pod, d, a)
		}
	}
}

// replicationSet mimics the Bitnami chart's replication architecture
// without Sentinel: a redis-master StatefulSet and a redis-replicas one of
// 2 pods, each pod with its PVC. Without cluster DNS the test points the
// replicas at the master's IP.
const replicationSet = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis-master}
spec:
  serviceName: redis-headless
  replicas: 1
  selector: {matchLabels: {app.kubernetes.io/instance: redis, app.kubernetes.io/component: master}}
  template:
    metadata: {labels: {app.kubernetes.io/instance: redis, app.kubernetes.io/component: master}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: redis
        image: %[1]s
        imagePullPolicy: Never
        command: [redis-server, --dir, /data, --save, "", %[2]s]
        ports: [{containerPort: 6379, name: redis}]
        readinessProbe: {exec: {command: [redis-cli, ping]}, periodSeconds: 1}
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], storageClassName: local, resources: {requests: {storage: 1Gi}}}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: redis-replicas}
spec:
  serviceName: redis-headless
  replicas: 2
  selector: {matchLabels: {app.kubernetes.io/instance: redis, app.kubernetes.io/component: replica}}
  template:
    metadata: {labels: {app.kubernetes.io/instance: redis, app.kubernetes.io/component: replica}}
    spec:
      terminationGracePeriodSeconds: 5
      containers:
      - name: redis
        image: %[1]s
        imagePullPolicy: Never
        command: [redis-server, --dir, /data, --save, "", %[2]s]
        ports: [{containerPort: 6379, name: redis}]
        readinessProbe: {exec: {command: [redis-cli, ping]}, periodSeconds: 1}
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], storageClassName: local, resources: {requests: {storage: 1Gi}}}
`

// TestReplicationSetBackup backs up the master + 2 replicas shape with
// --prefer replica over a selector covering both StatefulSets: a replica
// is backed up, the manifest's topology names it and the master, and the
// backup holds the master's data. A restore named by the master's
// StatefulSet alone is refused (rdbak cannot see the replicas); named by
// one selector over both it restores the master and waits for the
// replicas: every node ends with the backup's digest.
func TestReplicationSetBackup(t *testing.T) {
	ns := testcluster.New(t)
	ns.LocalPV(t, "data-redis-master-0", "1Gi")
	ns.LocalPV(t, "data-redis-replicas-0", "1Gi")
	ns.LocalPV(t, "data-redis-replicas-1", "1Gi")
	ns.Apply(t, manifest(ns, t, replicationSet))
	ns.WaitStatefulSet(t, "redis-master")
	ns.WaitStatefulSet(t, "redis-replicas")
	master := ns.WaitPodReady(t, "redis-master-0")
	for _, r := range []string{"redis-replicas-0", "redis-replicas-1"} {
		ns.Run(t, r, "redis-cli", "replicaof", master.Status.PodIP, "6379")
	}
	src := redisIn(t, ns, "redis-master-0", "")
	testenv.FillAllTypes(t, src, 1)
	want := src.Digest(t)
	for _, r := range []string{"redis-replicas-0", "redis-replicas-1"} {
		for deadline := time.Now().Add(time.Minute); strings.TrimSpace(ns.Run(t, r, "redis-cli", "DEBUG", "DIGEST")) != want; time.Sleep(500 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("replica %s never caught up", r)
			}
		}
	}
	dir := t.TempDir()
	store := "file://" + dir
	rdbak(t, ns, nil, "now", "--storage", store, "--target", "repl", "--selector", "app.kubernetes.io/instance=redis", "-n", ns.Name, "--prefer", "replica").ok(t)
	repo, err := storage.Open(t.Context(), store, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	ms, _, err := repo.List(t.Context(), "repl")
	if err != nil || len(ms) != 1 {
		t.Fatalf("list: %d backups, %v", len(ms), err)
	}
	tp := ms[0].Topology
	if tp == nil || tp.ChosenRole != "replica" || tp.Master != ns.Name+"/redis-master-0" || len(tp.Replicas) != 2 || !strings.HasPrefix(tp.Chosen, ns.Name+"/redis-replicas-") {
		t.Fatalf("topology %+v: want a replica chosen and the master recorded", tp)
	}
	if ms[0].Redis.Role != "slave" || ms[0].Redis.MasterLink != "up" {
		t.Errorf("manifest redis %+v: want a replica with its link up", ms[0].Redis)
	}
	rdbak(t, ns, nil, "verify", "latest", "--storage", store, "--target", "repl").ok(t)
	// Named by its master's StatefulSet alone, rdbak cannot see the
	// replicas: refused, saying what it needs.
	rdbak(t, ns, nil, "restore", "latest", "--storage", store, "--target", "repl", "--yes", "--statefulset", ns.Name+"/redis-master").
		fails(t, 1, "2 connected replicas", "--allow-replicas", "one selector")

	// Named by one selector over both StatefulSets: the coordinated
	// restore. In place, so the master keeps the IP its replicas were
	// given (the testbed has no cluster DNS; Bitnami's replicas follow
	// the master's DNS name through an offline restore too).
	change(t, src)
	sel := []string{"--storage", store, "--target", "repl", "--selector", "app.kubernetes.io/instance=redis", "-n", ns.Name, "--strategy", "in-place"}
	plan := rdbak(t, ns, nil, append([]string{"restore", "latest", "--dry-run"}, sel...)...).ok(t)
	for _, want := range []string{"replication set", "redis-replicas-0", "fully resynced from the restored master", "on the master " + ns.Name + "/redis-master-0"} {
		if !strings.Contains(plan, want) {
			t.Errorf("the dry-run plan does not mention %q:\n%s", want, plan)
		}
	}
	rdbak(t, ns, nil, append([]string{"restore", "latest", "--yes"}, sel...)...).ok(t)
	for _, pod := range []string{"redis-master-0", "redis-replicas-0", "redis-replicas-1"} {
		if got := strings.TrimSpace(ns.Run(t, pod, "redis-cli", "DEBUG", "DIGEST")); got != want {
			t.Errorf("after the restore %s has digest %s, want the backup's %s", pod, got, want)
		}
		if pod != "redis-master-0" && !strings.Contains(ns.Run(t, pod, "redis-cli", "INFO", "replication"), "master_link_status:up") {
			t.Errorf("after the restore %s's link to the master is not up", pod)
		}
	}
}
