//go:build e2e

package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/internal/testcluster"
	"github.com/rdbak/rdbak/internal/testenv"
)

// TestRestoreRefusesAOFOffAtRuntime: the Bitnami-style master's config
// says appendonly yes but it runs with appendonly no, as a restore killed
// after it turned AOF off leaves it. A restore then installed dump.rdb only,
// the restarted Redis loaded its old AOF, and rdbak said "restored"
// (its key count matched the old AOF's base). It must be refused, nothing
// changed, and once AOF is back on, the restore must bring the backup.
func TestRestoreRefusesAOFOffAtRuntime(t *testing.T) {
	ns := testcluster.New(t)
	ns.LocalPV(t, "redis-data-redis-master-0", "1Gi")
	m, _ := manifestOn(ns, t, bitnamiRedis, bitnamiServer)
	ns.Apply(t, m)
	ns.WaitStatefulSet(t, "redis-master")
	const password = "p@ss w0rd"
	src := redisIn(t, ns, "redis-master-0", password)
	testenv.FillAllTypes(t, src, 1)
	want := src.Digest(t)
	store := "file://" + t.TempDir()
	args := []string{"--storage", store, "--target", "app", "-n", ns.Name, "--helm-release", "redis", "--password-secret", "urbalurba-secrets/REDIS_PASSWORD"}
	rdbak(t, ns, nil, append([]string{"now"}, args...)...).ok(t)
	change(t, src)
	c := src.Client(t)
	if err := c.ConfigSet(t.Context(), "appendonly", "no").Err(); err != nil {
		t.Fatal(err)
	}
	live := src.Digest(t)

	restore := append([]string{"restore", "latest", "--yes", "--restore-image", restoreImage(t)}, args...)
	rdbak(t, ns, nil, restore...).fails(t, 1, "appendonly no, but /bitnami/redis/data/appendonlydir holds an AOF", "CONFIG SET appendonly yes")
	if got := redisIn(t, ns, "redis-master-0", password).Digest(t); got != live {
		t.Fatalf("live digest %s after the refusal, want the unchanged %s", got, live)
	}

	// The hint: AOF back on, which rewrites it from the data in memory.
	if err := c.ConfigSet(t.Context(), "appendonly", "yes").Err(); err != nil {
		t.Fatal(err)
	}
	ns.WaitFor(t, "the AOF rewrite of appendonly yes", func(ctx context.Context) (bool, error) {
		s, err := c.Info(ctx, "persistence").Result()
		return err == nil && strings.Contains(s, "aof_rewrite_in_progress:0") && strings.Contains(s, "aof_rewrite_scheduled:0") && strings.Contains(s, "aof_enabled:1"), nil
	})
	rdbak(t, ns, nil, restore...).ok(t)
	if got := redisIn(t, ns, "redis-master-0", password).Digest(t); got != want {
		t.Fatalf("after the restore digest %s, want the backup's %s", got, want)
	}
}
