package testenv

import (
	"context"
	"strings"
	"testing"
)

func TestStartCluster(t *testing.T) {
	EachServer(t, func(t *testing.T, s Server) {
		c := StartCluster(t, ClusterOptions{Server: s, Replicas: 1})
		if got := len(c.Masters(t)); got != 3 {
			t.Fatalf("got %d masters, want 3", got)
		}
		FillCluster(t, c.Client(t), 50)
		d1, n := KeysDigest(t, c.Nodes...)
		if n < 100 {
			t.Fatalf("KeysDigest counted %d keys, want the filled ones", n)
		}
		info, err := c.Nodes[0].Client(t).ClusterInfo(context.Background()).Result()
		if err != nil || !strings.Contains(info, "cluster_size:3") {
			t.Fatalf("CLUSTER INFO = %q, %v", info, err)
		}
		c.Client(t).Set(context.Background(), "extra", "1", 0)
		if d2, _ := KeysDigest(t, c.Nodes...); d2 == d1 {
			t.Error("KeysDigest did not change when a key was added")
		}
	})
}
