//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rdbak/rdbak/internal/testcluster"
	"github.com/rdbak/rdbak/internal/testenv"
)

// redisCluster is the kubernetes-redis-cluster pattern: a StatefulSet of 6
// cluster-enabled pods announcing their pod IP, nodes.conf beside the data
// on each pod's PVC. startRedisCluster joins them with redis-cli --cluster
// create (3 masters, 3 replicas).
const redisCluster = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: %[2]s}
spec:
  serviceName: %[2]s
  replicas: %[3]d
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: %[2]s}}
  template:
    metadata: {labels: {app: %[2]s}}
    spec:
      terminationGracePeriodSeconds: 2
      containers:
      - name: redis
        image: %[1]s
        imagePullPolicy: Never
        env:
        - name: POD_IP
          valueFrom: {fieldRef: {fieldPath: status.podIP}}
        command: [sh, -c, 'exec redis-server --dir /data --cluster-enabled yes --cluster-config-file /data/nodes.conf --cluster-announce-ip "$POD_IP" --cluster-node-timeout 5000 --save "" --protected-mode no --enable-debug-command yes']
        ports: [{containerPort: 6379, name: redis}]
        readinessProbe: {exec: {command: [redis-cli, ping]}, periodSeconds: 1}
        volumeMounts: [{name: data, mountPath: /data}]
  volumeClaimTemplates:
  - metadata: {name: data}
    spec: {accessModes: [ReadWriteOnce], storageClassName: local, resources: {requests: {storage: 1Gi}}}
`

// startRedisCluster creates a cluster of the pods of StatefulSet name
// (redisCluster) in ns, with replicas replicas per master and one local PV
// per pod, and returns its nodes by pod (name-0 first).
func startRedisCluster(t *testing.T, ns *testcluster.Namespace, name string, masters, replicas int) *testenv.Cluster {
	t.Helper()
	pods := masters * (1 + replicas)
	for i := range pods {
		ns.LocalPV(t, fmt.Sprintf("data-%s-%d", name, i), "1Gi")
	}
	ns.Apply(t, fmt.Sprintf(redisCluster, ns.RedisImage(t), name, pods))
	ns.WaitStatefulSet(t, name)
	var nodes []*testenv.Redis
	args := []string{"redis-cli", "--cluster", "create"}
	running := ns.PodsOf(t, &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}})
	for _, p := range running {
		addr := p.Status.PodIP + ":6379"
		args = append(args, addr)
		nodes = append(nodes, &testenv.Redis{Addr: addr})
	}
	ns.Run(t, running[0].Name, append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")...)
	c := &testenv.Cluster{Nodes: nodes, Replicas: masters * replicas}
	c.WaitReady(t)
	return c
}

// TestClusterBackupSetE2E backs up a 6-pod Redis Cluster named by its
// StatefulSet: one RDB per shard from the replicas, a set manifest with
// the slot map; it refuses while a slot migrates, with nothing stored; and
// the set replays into a standalone Redis and a 4-master cluster with the
// same keys and values.
func TestClusterBackupSetE2E(t *testing.T) {
	ns := testcluster.New(t)
	c := startRedisCluster(t, ns, "rc", 3, 1)
	nodes := c.Nodes
	testenv.FillCluster(t, c.Client(t), 500)
	want, n := testenv.KeysDigest(t, nodes...)

	store := "file://" + t.TempDir()
	target := []string{"--storage", store, "--target", "rc", "--statefulset", ns.Name + "/rc", "--access", "pod-ip", "--source", "replication"}

	// A slot being migrated: refused, nothing stored.
	owner, peer := migratingPair(t, nodes, 100)
	ctx := context.Background()
	if err := owner.Do(ctx, "CLUSTER", "SETSLOT", 100, "MIGRATING", peer).Err(); err != nil {
		t.Fatal(err)
	}
	dir := strings.TrimPrefix(store, "file://")
	rdbak(t, ns, nil, append([]string{"now"}, target...)...).fails(t, 1, "slot 100 migrating")
	assertNothingStored(t, ns, dir)
	if err := owner.Do(ctx, "CLUSTER", "SETSLOT", 100, "STABLE").Err(); err != nil {
		t.Fatal(err)
	}

	id := rdbak(t, ns, nil, append([]string{"now"}, target...)...).ok(t)
	ms := backups(t, ns, store)
	if len(ms) != 1 || ms[0].ID != id || !ms[0].IsSet() || len(ms[0].Cluster.Shards) != 3 || ms[0].Keys() != uint64(n) {
		t.Fatalf("list = %+v, want one set of 3 shards with %d keys", ms, n)
	}
	for i, sh := range ms[0].Cluster.Shards {
		if sh.Role != "replica" {
			t.Errorf("shard %d taken from a %s (%s), want a replica", i, sh.Role, sh.Reason)
		}
	}
	rdbak(t, ns, nil, "verify", id, "--storage", store).ok(t)

	standalone := testenv.StartRedis(t, testenv.RedisOptions{})
	rdbak(t, ns, nil, "restore", id, "--storage", store, "--replay-to", standalone.URL(), "--yes").ok(t)
	if got, m := testenv.KeysDigest(t, standalone); got != want || m != n {
		t.Errorf("standalone holds %d keys (%s), the cluster %d (%s)", m, got, n, want)
	}
	four := testenv.StartCluster(t, testenv.ClusterOptions{Masters: 4})
	rdbak(t, ns, nil, "restore", id, "--storage", store, "--replay-to", four.URL(), "--yes").ok(t)
	if got, m := testenv.KeysDigest(t, four.Nodes...); got != want || m != n {
		t.Errorf("4-master cluster holds %d keys (%s), the source %d (%s)", m, got, n, want)
	}
}

// moveEmptySlot gives a slot without keys to another master the way
// redis-cli --cluster reshard does (IMPORTING on the target, MIGRATING on
// the owner, then NODE on every master), without the whole-cluster check
// of redis-cli, which refuses while a node still flags a master that has
// just restarted.
func moveEmptySlot(t *testing.T, nodes []*testenv.Redis) {
	t.Helper()
	ctx := context.Background()
	for slot := 0; slot < 16384; slot++ {
		owner, to := migratingPair(t, nodes, slot)
		if n, err := owner.ClusterCountKeysInSlot(ctx, slot).Result(); err != nil || n > 0 {
			continue
		}
		from, err := owner.Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			t.Fatal(err)
		}
		var target *redis.Client
		var masters []*redis.Client
		for _, n := range nodes {
			c := n.Client(t)
			if role, _ := c.Do(ctx, "ROLE").Slice(); len(role) == 0 || role[0] != "master" {
				continue
			}
			masters = append(masters, c)
			if id, _ := c.Do(ctx, "CLUSTER", "MYID").Text(); id == to {
				target = c
			}
		}
		if target == nil {
			t.Fatalf("master %s not found", to)
		}
		set := func(c *redis.Client, args ...any) {
			if err := c.Do(ctx, append([]any{"CLUSTER", "SETSLOT", slot}, args...)...).Err(); err != nil {
				t.Fatalf("CLUSTER SETSLOT %d %v: %v", slot, args, err)
			}
		}
		set(target, "IMPORTING", from)
		set(owner, "MIGRATING", to)
		set(target, "NODE", to)
		for _, m := range masters {
			set(m, "NODE", to)
		}
		return
	}
	t.Fatal("every slot holds keys")
}

// migratingPair returns a client of the master that serves slot and the
// node id of another master.
func migratingPair(t *testing.T, nodes []*testenv.Redis, slot int) (*redis.Client, string) {
	t.Helper()
	ctx := context.Background()
	var owner *redis.Client
	var other string
	for _, n := range nodes {
		c := n.Client(t)
		if role, _ := c.Do(ctx, "ROLE").Slice(); len(role) == 0 || role[0] != "master" {
			continue
		}
		id, err := c.Do(ctx, "CLUSTER", "MYID").Text()
		if err != nil {
			t.Fatal(err)
		}
		slots, err := c.ClusterSlots(ctx).Result()
		if err != nil {
			t.Fatal(err)
		}
		serves := false
		for _, s := range slots {
			serves = serves || s.Start <= slot && slot <= s.End && len(s.Nodes) > 0 && s.Nodes[0].ID == id
		}
		if serves {
			owner = c
		} else {
			other = id
		}
	}
	if owner == nil || other == "" {
		t.Fatalf("no master serves slot %d, or no other master", slot)
	}
	return owner, other
}

// TestClusterRestoreE2E: a set backup whose shard stream is killed commits
// nothing; then the set is restored into the same cluster, after FLUSHALL
// on every master, by deploy/runbooks/restore-redis-cluster.md as
// written: every master's DEBUG DIGEST is its shard's at backup time, the
// nodes keep their ids and slots (nodes.conf on the PVC) and every node
// reports cluster_state:ok. The same set restores into a fresh 3-master
// cluster (new node ids) with the same keys and values.
func TestClusterRestoreE2E(t *testing.T) {
	ns := testcluster.New(t)
	c := startRedisCluster(t, ns, "rc", 3, 1)
	testenv.FillCluster(t, c.Client(t), 3000)
	ctx := context.Background()
	store := "file://" + t.TempDir()
	dir := strings.TrimPrefix(store, "file://")
	target := []string{"--storage", store, "--target", "rc", "--statefulset", ns.Name + "/rc", "--access", "pod-ip", "--source", "replication"}

	// Kill one shard's stream: the replicas hold rdbak's sync back for
	// seconds (repl-diskless-sync-delay), and the first one seen with rdbak
	// attached drops it (CLIENT KILL TYPE replica).
	for _, n := range c.Nodes {
		if err := n.Client(t).ConfigSet(ctx, "repl-diskless-sync-delay", "4").Err(); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan result, 1)
	go func() { done <- rdbak(t, ns, nil, append([]string{"now"}, target...)...) }()
	killed := ""
	for killed == "" {
		select {
		case r := <-done:
			t.Fatalf("the backup ended (exit %d) before a stream could be killed", r.code)
		case <-time.After(50 * time.Millisecond):
		}
		for _, n := range c.Nodes {
			repl, err := n.Client(t).Info(ctx, "replication").Result()
			if err == nil && strings.Contains(repl, "role:slave") && !strings.Contains(repl, "connected_slaves:0") {
				if err := n.Client(t).Do(ctx, "CLIENT", "KILL", "TYPE", "replica").Err(); err != nil {
					t.Fatal(err)
				}
				killed = n.Addr
				break
			}
		}
	}
	r := <-done
	if r.code != 1 {
		t.Fatalf("backup with a killed stream exited %d, want 1:\n%s", r.code, r.stderr)
	}
	assertNothingStored(t, ns, dir)
	for _, n := range c.Nodes {
		if err := n.Client(t).ConfigSet(ctx, "repl-diskless-sync-delay", "0").Err(); err != nil {
			t.Fatal(err)
		}
	}

	// Each master's digest and id at backup time.
	want := map[string]string{}
	ids := map[string]string{}
	for _, n := range c.Masters(t) {
		want[n.Addr] = n.Digest(t)
		ids[n.Addr] = n.Client(t).Do(ctx, "CLUSTER", "MYID").String()
	}
	rdbak(t, ns, nil, append([]string{"now"}, target...)...).ok(t)
	for _, n := range c.Masters(t) {
		if err := n.Client(t).FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	runbook(t, ns, "restore-redis-cluster.md", "STORAGE="+store, "NS="+ns.Name, "STS=rc", "TARGET=rc")
	t.Logf("cluster restore (3 shards, runbook end to end): %s", time.Since(start).Round(time.Millisecond))
	c.WaitReady(t)
	for _, n := range c.Masters(t) {
		if got := n.Digest(t); got != want[n.Addr] {
			t.Errorf("master %s DEBUG DIGEST %s after the restore, want its shard's %s", n.Addr, got, want[n.Addr])
		}
		if got := n.Client(t).Do(ctx, "CLUSTER", "MYID").String(); got != ids[n.Addr] {
			t.Errorf("master %s is %s after the restore, was %s: nodes.conf was lost", n.Addr, got, ids[n.Addr])
		}
	}

	wantKeys, n := testenv.KeysDigest(t, c.Nodes...)

	fresh := startRedisCluster(t, ns, "fresh", 3, 0)
	start = time.Now()
	out := rdbak(t, ns, nil, "restore", "latest", "--storage", store, "--from-target", "rc", "--target", "fresh", "--statefulset", ns.Name+"/fresh", "--yes").ok(t)
	t.Logf("cluster restore into a fresh cluster (new node ids): %s", time.Since(start).Round(time.Millisecond))
	if !strings.Contains(out, "3 masters") {
		t.Errorf("restore output does not name the 3 masters:\n%s", out)
	}
	fresh.WaitReady(t)
	if got, m := testenv.KeysDigest(t, fresh.Nodes...); got != wantKeys || m != n {
		t.Errorf("fresh cluster holds %d keys (%s), the restored set %d (%s)", m, got, n, wantKeys)
	}

	// One slot moved: the cluster no longer has the set's shape, and the
	// plan is refused, naming the slots and --replay-to.
	moveEmptySlot(t, fresh.Nodes)
	fresh.WaitReady(t)
	rdbak(t, ns, nil, "restore", "latest", "--storage", store, "--from-target", "rc", "--target", "fresh", "--statefulset", ns.Name+"/fresh", "--dry-run").
		fails(t, 1, "shape", "--replay-to")
}
