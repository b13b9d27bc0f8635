//go:build e2e

package e2e

import (
	"crypto/rand"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/internal/testcluster"
)

// TestRestoreFullVolumeKeepsRedisWritable: a restore whose staged file
// leaves too little room for the BGSAVE of the current data fails with the
// live data untouched, and Redis, whose BGSAVE failed, still takes writes.
// Before, Redis kept rdb_last_bgsave_status:err and, with its save points
// and stop-writes-on-bgsave-error yes (redis:6.2-alpine's defaults),
// answered every write with MISCONF until a save point retried.
func TestRestoreFullVolumeKeepsRedisWritable(t *testing.T) {
	ns := testcluster.New(t)
	pv := ns.LocalPV(t, "exchange-redis-data", "1Gi")
	dir := pv.Spec.Local.Path
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=12m,mode=0777", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a 12 MiB tmpfs on %s (the volume must be small): %v\n%s", dir, err, out)
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	m, _ := manifestOn(ns, t, exchangeRedis, exchangeServer)
	ns.Apply(t, m)
	d := ns.WaitDeployment(t, "exchange-redis")
	pod := ns.PodsOf(t, d.Spec.Selector)[0].Name
	src := redisIn(t, ns, pod, "")
	c := src.Client(t)
	// Random values do not compress: the RDB is as large as they are.
	fill := func(from, to int) {
		t.Helper()
		blob := make([]byte, 1<<20)
		for i := from; i < to; i++ {
			rand.Read(blob)
			if err := c.Set(t.Context(), fmt.Sprintf("blob:%d", i), blob, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A 2 MiB backup (its BGSAVE leaves a 2 MiB dump.rdb), then 9 MiB in
	// memory: the plan's 2 × 2 MiB fit in the 10 MiB free, but the
	// staged 2 MiB and the 9 MiB BGSAVE do not.
	fill(0, 2)
	store := "file://" + t.TempDir()
	dep := []string{"--deployment", ns.Name + "/exchange-redis"}
	rdbak(t, ns, nil, append([]string{"now", "--storage", store, "--target", "app"}, dep...)...).ok(t)
	fill(2, 9)
	live := src.Digest(t)

	rdbak(t, ns, nil, append([]string{"restore", "latest", "--storage", store, "--target", "app", "--yes", "--restore-image", restoreImage(t)}, dep...)...).
		fails(t, 1, "save the current data before stopping Redis (the live data is unchanged)")
	if got := src.Digest(t); got != live {
		t.Fatalf("live digest %s after the failed restore, want the unchanged %s", got, live)
	}
	if err := c.Set(t.Context(), "after", "restore", 0).Err(); err != nil {
		t.Fatalf("a write after the failed restore: %v", err)
	}
	if out := runRedis(t, ns, pod, "ls", "/data"); strings.Contains(out, "rdbak-tmp") {
		t.Errorf("staged file left behind:\n%s", out)
	}
}
