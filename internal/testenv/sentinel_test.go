package testenv

import (
	"context"
	"testing"
	"time"
)

// TestReplicaSetEachServer checks that every server build runs as a
// Sentinel and that a set settles: replicas linked, Sentinels agreed, and a
// SENTINEL FAILOVER moves the master.
func TestReplicaSetEachServer(t *testing.T) {
	EachServer(t, func(t *testing.T, srv Server) {
		t.Parallel()
		s := StartReplicaSet(t, ReplicaSetOptions{Server: srv, Password: "data-pw", SentinelPassword: "sentinel-pw"})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.Master.Client(t).Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.SentinelClient(t, 0).Do(ctx, "SENTINEL", "FAILOVER", s.Name).Err(); err != nil {
			t.Fatalf("SENTINEL FAILOVER: %v", err)
		}
		s.waitFor(t, time.Minute, "a new master", func(ctx context.Context) (bool, error) {
			return s.CurrentMaster(t) != s.Master, nil
		})
		m := s.CurrentMaster(t)
		s.WaitSettled(t, m)
		if got, err := m.Client(t).Get(ctx, "k").Result(); err != nil || got != "v" {
			t.Fatalf("GET k on the new master = %q, %v; want v", got, err)
		}
	})
}
