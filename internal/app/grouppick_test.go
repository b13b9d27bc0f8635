package app

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/testenv"
)

// podAt is a pod of a replication group, named name, whose Redis is the
// local server r (reached by pod IP).
func podAt(name string, r *testenv.Redis) corev1.Pod {
	return corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: name},
		Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "redis",
			Ports: []corev1.ContainerPort{{Name: "redis", ContainerPort: int32(r.Port)}}}}},
		Status: corev1.PodStatus{PodIP: "127.0.0.1"}}
}

// TestGroupPickReplicaHasMastersWrites chooses among the pods of a
// replication group without Sentinel (prefer: replica), on every version:
// right after a full sync during writes, the chosen replica has what its
// master had written when asked; a replica that never gets there is passed
// over, named, for the master.
func TestGroupPickReplicaHasMastersWrites(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, srv testenv.Server) {
		t.Parallel()
		s := testenv.StartReplicaSet(t, testenv.ReplicaSetOptions{Server: srv, Replicas: 1, NoSentinels: true, Config: []string{"repl-diskless-sync-delay 0"}})
		master, replica := s.Master.Client(t), s.Replicas[0].Client(t)
		pick := func(t *testing.T, masterPod *testenv.Redis) *kubeConn {
			t.Helper()
			k := &kubeConn{kt: config.KubeTarget{Prefer: "replica"}, access: "pod-ip"}
			defer k.close()
			if err := k.choose(t.Context(), []corev1.Pod{podAt("redis-master-0", masterPod), podAt("redis-replicas-0", s.Replicas[0])}); err != nil {
				t.Fatal(err)
			}
			return k
		}
		for round := range 3 {
			resyncWhileWriting(t, master, []*goredis.Client{replica}, fmt.Sprintf("round%d", round))
			tp := pick(t, s.Master).topology
			if tp.Chosen != "prod/redis-replicas-0" || tp.Offset < tp.MasterOffset {
				t.Fatalf("round %d: chose %s at offset %d, the master at %d; want the replica with its master's writes (%s)", round, tp.Chosen, tp.Offset, tp.MasterOffset, tp.Reason)
			}
		}

		// The master pod of another set, further ahead than this replica
		// will ever get.
		other := testenv.StartReplicaSet(t, testenv.ReplicaSetOptions{Server: srv, Replicas: 1, NoSentinels: true})
		in, err := replica.Info(t.Context(), "replication").Result()
		if err != nil {
			t.Fatal(err)
		}
		offset, err := strconv.Atoi(infoField(in, "master_repl_offset"))
		if err != nil {
			t.Fatalf("replica's master_repl_offset: %v", err)
		}
		if err := other.Master.Client(t).Set(t.Context(), "ahead", strings.Repeat("x", offset+1), 0).Err(); err != nil {
			t.Fatal(err)
		}
		tp := pick(t, other.Master).topology
		if tp.Chosen != "prod/redis-master-0" || !strings.Contains(tp.Reason, "passed over prod/redis-replicas-0 is ") ||
			!strings.Contains(tp.Reason, "bytes behind its master after 3s") {
			t.Fatalf("with a replica that never catches up: chose %s (%s), want the master and the replica named", tp.Chosen, tp.Reason)
		}
	})
}
