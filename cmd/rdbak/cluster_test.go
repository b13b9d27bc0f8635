package main

import (
	"strings"
	"testing"

	"github.com/rdbak/rdbak/internal/testenv"
)

// TestClusterCLI: now --redis on any cluster node backs up the whole
// cluster; list, describe and verify show one backup; --to-file refuses a
// set; restore --replay-to puts every key into a standalone Redis; and
// --single-node is recorded as partial.
func TestClusterCLI(t *testing.T) {
	c := testenv.StartCluster(t, testenv.ClusterOptions{Replicas: 1})
	testenv.FillCluster(t, c.Client(t), 100)
	want, n := testenv.KeysDigest(t, c.Nodes...)
	store := "file://" + t.TempDir()
	r := run(t, nil, "now", "--redis", c.Nodes[4].URL(), "--storage", store, "--target", "orders")
	r.want(t, 0)
	id := strings.TrimSpace(r.stdout)

	r = run(t, nil, "list", "--storage", store)
	r.want(t, 0)
	if strings.Count(r.stdout, id) != 1 {
		t.Errorf("list shows the set %d times, want once:\n%s", strings.Count(r.stdout, id), r.stdout)
	}
	r = run(t, nil, "describe", id, "--storage", store)
	r.want(t, 0)
	for _, s := range []string{"cluster backup set of 3 shards", "Shard 0:", "Shard 2:", "slots 0-5460", "from replica"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("describe does not say %q:\n%s", s, r.stdout)
		}
	}
	run(t, nil, "verify", "latest", "--storage", store).want(t, 0)
	run(t, nil, "restore", "latest", "--storage", store, "--to-file", t.TempDir()+"/dump.rdb").want(t, 2, "--replay-to")

	dst := testenv.StartRedis(t, testenv.RedisOptions{})
	run(t, nil, "restore", "latest", "--storage", store, "--replay-to", dst.URL()).want(t, 2, "--yes")
	r = run(t, nil, "restore", "latest", "--storage", store, "--replay-to", dst.URL(), "--yes")
	r.want(t, 0)
	if got, m := testenv.KeysDigest(t, dst); got != want || m != n {
		t.Errorf("replayed %d keys (%s), the cluster holds %d (%s)\n%s", m, got, n, want, r.stdout)
	}

	r = run(t, nil, "now", "--redis", c.URL(), "--storage", store, "--target", "one", "--single-node")
	r.want(t, 0)
	r = run(t, nil, "describe", strings.TrimSpace(r.stdout), "--storage", store)
	if !strings.Contains(r.stdout, "PARTIAL") {
		t.Errorf("describe of a --single-node backup does not say PARTIAL:\n%s", r.stdout)
	}
}
