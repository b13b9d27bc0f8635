package app

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/redis/info"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// backupOf takes a backup of the Redis (or cluster) at url into repo.
func backupOf(t *testing.T, repo *storage.Repo, name, url string) *storage.Manifest {
	t.Helper()
	target := &config.Target{Name: name, Redis: url, Source: config.SourceReplication, Cluster: config.Cluster{Stagger: time.Millisecond}}
	res, err := clusterApp().Backup(t.Context(), target, repo, zstd(t), nil)
	if err != nil {
		t.Fatalf("back up %s: %v", name, err)
	}
	return res.Manifest
}

// replay replays m into url and fails t unless every key was restored.
func replay(t *testing.T, repo *storage.Repo, m *storage.Manifest, url string) *ReplayReport {
	t.Helper()
	prog := &ReplayProgress{}
	rep, err := clusterApp().Replay(t.Context(), repo, m, &config.Target{Name: "to", Redis: url}, ReplayOptions{Batch: 64, Progress: prog})
	if err != nil {
		t.Fatalf("replay %s into %s: %v (report %+v)", m.ID, url, err, rep)
	}
	if rep.Restored+rep.Expired != rep.Keys || rep.Failed != 0 || prog.Keys.Load() != rep.Keys {
		t.Fatalf("replay report %+v (progress %d keys), want every key restored", rep, prog.Keys.Load())
	}
	return rep
}

// TestReplay replays, on every version: a cluster backup set into a
// standalone Redis and into a cluster of another shape (4 masters), and a
// standalone backup of every value type into a standalone Redis (equal
// DEBUG DIGEST, functions, hash field TTLs) and into a 3-master cluster.
func TestReplay(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s testenv.Server) {
		t.Parallel()
		repo := openRepo(t)
		src := testenv.StartCluster(t, testenv.ClusterOptions{Server: s, Replicas: 1})
		testenv.FillCluster(t, src.Client(t), 300)
		want, n := testenv.KeysDigest(t, src.Nodes...)
		set := backupOf(t, repo, "orders", src.URL())

		t.Run("set to standalone", func(t *testing.T) {
			dst := testenv.StartRedis(t, testenv.RedisOptions{Server: s})
			replay(t, repo, set, dst.URL())
			if got, m := testenv.KeysDigest(t, dst); got != want || m != n {
				t.Errorf("standalone holds %d keys (digest %s), the cluster %d (%s)", m, got, n, want)
			}
		})
		t.Run("set to 4 masters", func(t *testing.T) {
			dst := testenv.StartCluster(t, testenv.ClusterOptions{Server: s, Masters: 4})
			replay(t, repo, set, dst.URL())
			if got, m := testenv.KeysDigest(t, dst.Nodes...); got != want || m != n {
				t.Errorf("4-master cluster holds %d keys (digest %s), the source %d (%s)", m, got, n, want)
			}
		})

		single := testenv.StartRedis(t, testenv.RedisOptions{Server: s})
		testenv.FillAllTypes(t, single, 1)
		testenv.FillVersionTypes(t, single)
		standalone := backupOf(t, repo, "cache", single.URL())
		t.Run("standalone to standalone", func(t *testing.T) {
			dst := testenv.StartRedis(t, testenv.RedisOptions{Server: s})
			rep := replay(t, repo, standalone, dst.URL())
			if got, want := testenv.State(t, dst), testenv.State(t, single); got != want {
				t.Errorf("restored state\n%s\nwant\n%s", got, want)
			}
			if s.HasFunctions() && rep.Functions != 1 {
				t.Errorf("replayed %d function libraries, want 1", rep.Functions)
			}
		})

		db0 := testenv.StartRedis(t, testenv.RedisOptions{Server: s})
		testenv.FillCluster(t, db0.Client(t), 200)
		want0, n0 := testenv.KeysDigest(t, db0)
		t.Run("standalone to cluster", func(t *testing.T) {
			dst := testenv.StartCluster(t, testenv.ClusterOptions{Server: s})
			replay(t, repo, backupOf(t, repo, "db0", db0.URL()), dst.URL())
			if got, m := testenv.KeysDigest(t, dst.Nodes...); got != want0 || m != n0 {
				t.Errorf("cluster holds %d keys (digest %s), the standalone %d (%s)", m, got, n0, want0)
			}
			// Keys in db 1 and 3 have no place in a cluster.
			_, err := clusterApp().Replay(t.Context(), repo, standalone, &config.Target{Name: "to", Redis: dst.URL()}, ReplayOptions{})
			if !errors.Is(err, restore.ErrRefused) || !strings.Contains(err.Error(), "db 1") {
				t.Errorf("replay of a multi-db backup into a cluster = %v, want refused naming db 1", err)
			}
		})
	})
}

// TestReplayAcrossVersions replays a Redis 6.2 backup set into a Redis
// 7.4 cluster, and refuses a 7.4 backup for a 7.0 server, whose RESTORE
// would reject every payload.
func TestReplayAcrossVersions(t *testing.T) {
	old, newer, def := testenv.NeedServer(t, "redis-6.2.16"), testenv.NeedServer(t, "redis-7.4.1"), testenv.DefaultServer(t)
	repo := openRepo(t)
	src := testenv.StartCluster(t, testenv.ClusterOptions{Server: old})
	testenv.FillCluster(t, src.Client(t), 200)
	want, n := testenv.KeysDigest(t, src.Nodes...)
	set := backupOf(t, repo, "old", src.URL())
	dst := testenv.StartCluster(t, testenv.ClusterOptions{Server: newer})
	replay(t, repo, set, dst.URL())
	if got, m := testenv.KeysDigest(t, dst.Nodes...); got != want || m != n {
		t.Errorf("7.4 cluster holds %d keys (digest %s), the 6.2 source %d (%s)", m, got, n, want)
	}

	src74 := testenv.StartRedis(t, testenv.RedisOptions{Server: newer})
	testenv.FillCluster(t, src74.Client(t), 10)
	m74 := backupOf(t, repo, "new", src74.URL())
	dst70 := testenv.StartRedis(t, testenv.RedisOptions{Server: def})
	_, err := clusterApp().Replay(t.Context(), repo, m74, &config.Target{Name: "to", Redis: dst70.URL()}, ReplayOptions{})
	if !errors.Is(err, restore.ErrRefused) || !strings.Contains(err.Error(), "RDB version 12") {
		t.Errorf("replay of RDB 12 into %s = %v, want refused", def.Name, err)
	}
	if keys, _ := dst70.Client(t).DBSize(t.Context()).Result(); keys != 0 {
		t.Errorf("the refused target holds %d keys, want none", keys)
	}
}

// TestReplayReportsFailingKeys: keys the target refuses (an ACL user that
// may write str:* only) are each reported, the others restored.
func TestReplayReportsFailingKeys(t *testing.T) {
	repo := openRepo(t)
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillCluster(t, src.Client(t), 30)
	m := backupOf(t, repo, "cache", src.URL())
	dst := testenv.StartRedis(t, testenv.RedisOptions{})
	if err := dst.Client(t).Do(t.Context(), "ACL", "SETUSER", "replay", "on", ">pw", "~str:*", "+@all").Err(); err != nil {
		t.Fatal(err)
	}
	url := strings.Replace(dst.URL(), "redis://", "redis://replay:pw@", 1)
	rep, err := clusterApp().Replay(t.Context(), repo, m, &config.Target{Name: "to", Redis: url}, ReplayOptions{Batch: 7})
	if !errors.Is(err, ErrKeysFailed) {
		t.Fatalf("Replay = %v, want ErrKeysFailed", err)
	}
	if rep.Restored != 30 || rep.Failed != rep.Keys-30 || len(rep.Failures) != int(rep.Failed) {
		t.Fatalf("report restored %d, failed %d (%d listed) of %d; want the 30 str:* keys restored and the rest listed", rep.Restored, rep.Failed, len(rep.Failures), rep.Keys)
	}
	for _, f := range rep.Failures {
		if strings.HasPrefix(f.Key, "str:") || !strings.Contains(f.Err, "NOPERM") {
			t.Errorf("failure %+v, want a NOPERM for a key outside str:*", f)
		}
	}
}

// TestReplayRefusesReplica: a replay into a replica is refused before any
// key is sent, naming its master: the replica would refuse every key
// (READONLY), or its next sync would undo them.
func TestReplayRefusesReplica(t *testing.T) {
	repo := openRepo(t)
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillCluster(t, src.Client(t), 30)
	m := backupOf(t, repo, "cache", src.URL())
	master := testenv.StartRedis(t, testenv.RedisOptions{})
	replica := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"replicaof " + strings.Replace(master.Addr, ":", " ", 1)}})
	rep, err := clusterApp().Replay(t.Context(), repo, m, &config.Target{Name: "to", Redis: replica.URL()}, ReplayOptions{})
	if !errors.Is(err, restore.ErrRefused) || !strings.Contains(err.Error(), "replica of "+master.Addr) {
		t.Fatalf("Replay into a replica = %v, want refused naming its master %s", err, master.Addr)
	}
	if rep != nil {
		t.Fatalf("%d keys restored, %d failed; want none sent", rep.Restored, rep.Failed)
	}
}

// TestSentinelNamedAsRedis: a Sentinel's address given where a Redis
// server is wanted (--redis, --replay-to) is refused as what it is, with
// the way to reach its master; it answered every key "unknown command"
// and the backup "SYNC is renamed".
func TestSentinelNamedAsRedis(t *testing.T) {
	// On every server: Valkey says server_mode where Redis says redis_mode.
	testenv.EachServer(t, func(t *testing.T, s testenv.Server) {
		set := testenv.StartReplicaSet(t, testenv.ReplicaSetOptions{Server: s, Replicas: 1, Sentinels: 1})
		sentinel := set.Sentinels[0]
		repo := openRepo(t)
		_, err := clusterApp().Backup(t.Context(), &config.Target{Name: "oops", Redis: sentinel.URL(), Source: config.SourceReplication}, repo, zstd(t), nil)
		var u UsageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), sentinel.Addr+" is a Redis Sentinel") || !strings.Contains(err.Error(), "--sentinel "+sentinel.Addr) {
			t.Fatalf("Backup of a Sentinel = %v, want a usage error naming it a Sentinel and --sentinel", err)
		}
		requireEmpty(t, repo)

		src := testenv.StartRedis(t, testenv.RedisOptions{Server: s})
		testenv.FillCluster(t, src.Client(t), 10)
		m := backupOf(t, repo, "cache", src.URL())
		rep, err := clusterApp().Replay(t.Context(), repo, m, &config.Target{Name: "to", Redis: sentinel.URL()}, ReplayOptions{})
		if !errors.As(err, &u) || !strings.Contains(err.Error(), sentinel.Addr+" is a Redis Sentinel") || rep != nil {
			t.Fatalf("Replay into a Sentinel = %v (report %v), want a usage error naming it a Sentinel, no key sent", err, rep != nil)
		}
	})
}

// TestReplayCountsEvictions: a target under maxmemory with an evicting
// policy takes every RESTORE and then drops keys to stay under it; the
// replay must not report them all restored. It fails, with the count.
func TestReplayCountsEvictions(t *testing.T) {
	repo := openRepo(t)
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	ctx := t.Context()
	pipe := src.Client(t).Pipeline()
	value := strings.Repeat("v", 200)
	for i := range 20000 {
		pipe.Set(ctx, fmt.Sprintf("key:%d", i), value, 0)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		t.Fatal(err)
	}
	m := backupOf(t, repo, "cache", src.URL())
	dst := testenv.StartRedis(t, testenv.RedisOptions{Config: []string{"maxmemory-policy allkeys-random"}})
	dc := dst.Client(t)
	in, err := dc.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	// Room for about a third of the 5 MB of keys.
	limit := info.Parse(in).Memory.UsedMemory + 2<<20
	if err := dc.ConfigSet(ctx, "maxmemory", fmt.Sprint(limit)).Err(); err != nil {
		t.Fatal(err)
	}
	rep, err := clusterApp().Replay(ctx, repo, m, &config.Target{Name: "to", Redis: dst.URL()}, ReplayOptions{Batch: 64})
	if !errors.Is(err, ErrKeysFailed) || !strings.Contains(err.Error(), "evicted") || rep == nil || rep.Evicted == 0 {
		t.Fatalf("Replay into a Redis that evicts = %v, want ErrKeysFailed counting the evicted keys", err)
	}
	keys, err := dc.DBSize(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if lost := rep.Restored - keys; lost > rep.Evicted {
		t.Errorf("%d keys restored, %d left, but %d reported evicted", rep.Restored, keys, rep.Evicted)
	}
}
