package app

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
)

// groupOf is the kubeConn a restore has after reaching the nodes of s as
// pods of one selector: redis-master-0 (the master, whose IP is the one
// its replicas were told) and redis-replicas-N, each answering at its
// local address.
func groupOf(t *testing.T, s *testenv.ReplicaSet, password string) *kubeConn {
	t.Helper()
	k := &kubeConn{password: password}
	for i, n := range s.Nodes() {
		name := "redis-master-0"
		if i > 0 {
			name = "redis-replicas-" + string(rune('0'+i-1))
		}
		p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: name}, Status: corev1.PodStatus{PodIP: "10.0.0." + string(rune('1'+i))}}
		if n == s.Master {
			p.Status.PodIP = "127.0.0.1"
			k.pod, k.addr = p, n.Addr
		}
		k.group = append(k.group, groupPod{pod: p, addr: n.Addr})
	}
	return k
}

// TestReplicationSetRestore restores the master of a master + 2 replicas
// set without Sentinel on every version, as the coordinated restore does:
// rdbak recognises the set (every replica a pod of the target, linked to
// the master, none chained) or says why not; after the master restarts on
// the restored data every replica resyncs from it (never keeping its old
// data through a partial resync), and every node ends with the backup's
// digest.
func TestReplicationSetRestore(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, srv testenv.Server) {
		t.Parallel()
		s := testenv.StartReplicaSet(t, testenv.ReplicaSetOptions{Server: srv, Password: "data-pw", NoSentinels: true})
		testenv.FillAllTypes(t, s.Master, 1)
		waitReplicated(t, s, s.Master)
		want := s.Master.Digest(t)
		repo := openRepo(t)
		a := &App{Log: slog.New(slog.DiscardHandler), Version: "test"}
		comp, _ := Compression(config.Compression{})
		// Backed up from a replica of the same set: the RDB carries the
		// set's replication ID, as a replica's backup does.
		res, err := a.Backup(t.Context(), &config.Target{Name: "repl", Redis: s.Replicas[0].URL(), Source: config.SourceReplication}, repo, comp, nil)
		if err != nil {
			t.Fatalf("backup: %v", err)
		}
		m := res.Manifest
		mc := s.Master.Client(t)
		if err := mc.FlushAll(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		if err := mc.Set(t.Context(), "after-backup", "x", 0).Err(); err != nil {
			t.Fatal(err)
		}
		waitReplicated(t, s, s.Master)

		k := groupOf(t, s, "data-pw")
		t.Run("not understood", func(t *testing.T) {
			for _, tc := range []struct {
				name string
				k    func() *kubeConn
				want string
			}{
				{"only the master's pod", func() *kubeConn { c := *k; c.group = nil; return &c }, "name the master's and the replicas' pods with one selector"},
				{"a replica outside the target", func() *kubeConn { c := *k; c.group = c.group[:2]; return &c }, "the master counts 2 connected replicas, but 1 pods"},
				{"replicas of another master", func() *kubeConn {
					c := *k
					p := *c.pod
					p.Status.PodIP = "10.9.9.9"
					c.pod = &p
					c.group = append([]groupPod{{pod: &p, addr: c.addr}}, c.group[1:]...)
					return &c
				}, "not from the master pod prod/redis-master-0"},
			} {
				if set, _, why := tc.k().replicationGroup(t.Context(), 2); set != nil || !strings.Contains(why, tc.want) {
					t.Errorf("%s: understood %v, why %q; want not understood, saying %q", tc.name, set != nil, why, tc.want)
				}
			}
		})

		set, rp, why := k.replicationGroup(t.Context(), 2)
		if set == nil {
			t.Fatalf("a master with 2 replicas, all pods of the target, not understood: %s", why)
		}
		if rp.Master != "prod/redis-master-0" || strings.Join(rp.Replicas, ",") != "prod/redis-replicas-0,prod/redis-replicas-1" {
			t.Errorf("plan %+v, want the master pod and both replica pods", rp)
		}
		in := restore.Install{Dir: s.Master.Dir, DBFilename: "dump.rdb", Size: m.Data.RawSize, SHA256: m.Data.RawSHA256}
		fetch := func(w io.Writer) error {
			_, err := restore.Fetch(t.Context(), repo, m, w, restore.FetchOptions{})
			return err
		}
		c := redis.New(redis.Options{Addr: s.Master.Addr, Password: "data-pw"})
		defer c.Close()
		check := func(ctx context.Context) error { return CheckRestored(ctx, c, m, 100*time.Millisecond) }
		if _, _, err := restore.Apply(t.Context(), &localRollout{t: t, r: s.Master}, restore.Job{Install: in, Fetch: fetch, Check: check, Down: restore.StepStart}); err != nil {
			t.Fatalf("restore the master: %v", err)
		}
		if err := set.waitInSync(t.Context(), 100*time.Millisecond, 3*time.Minute); err != nil {
			t.Fatalf("wait for the replicas: %v", err)
		}
		if d := digests(t, s); !allEqual(d, want) {
			t.Fatalf("after the restore digests are %v, want the backup's %s on every node", d, want)
		}
	})
}
