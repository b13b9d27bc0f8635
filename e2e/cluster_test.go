//go:build e2e

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rdbak/rdbak/internal/testcluster"
	"github.com/rdbak/rdbak/internal/testenv"
)

// redisCluster is the kubernetes-redis-cluster pattern: a StatefulSet of 6
// cluster-enabled pods announcing their pod IP, nodes.conf beside the data.
// The test joins them with redis-cli --cluster create (3 masters, 3
// replicas).
const redisCluster = `
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: rc}
spec:
  serviceName: rc
  replicas: 6
  podManagementPolicy: Parallel
  selector: {matchLabels: {app: rc}}
  template:
    metadata: {labels: {app: rc}}
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
      volumes: [{name: data, emptyDir: {}}]
`

// TestClusterBackupSetE2E backs up a 6-pod Redis Cluster named by its
// StatefulSet: one RDB per shard from the replicas, a set manifest with
// the slot map; it refuses while a slot migrates, with nothing stored; and
// the set replays into a standalone Redis and a 4-master cluster with the
// same keys and values.
func TestClusterBackupSetE2E(t *testing.T) {
	ns := testcluster.New(t)
	ns.Apply(t, fmt.Sprintf(redisCluster, ns.RedisImage(t)))
	ns.WaitStatefulSet(t, "rc")
	pods := ns.PodsOf(t, &metav1.LabelSelector{MatchLabels: map[string]string{"app": "rc"}})
	var nodes []*testenv.Redis
	args := []string{"redis-cli", "--cluster", "create"}
	for _, p := range pods {
		addr := p.Status.PodIP + ":6379"
		args = append(args, addr)
		nodes = append(nodes, &testenv.Redis{Addr: addr})
	}
	ns.Run(t, pods[0].Name, append(args, "--cluster-replicas", "1", "--cluster-yes")...)
	c := &testenv.Cluster{Nodes: nodes, Replicas: 3}
	c.WaitReady(t)
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
