package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/cluster"
	"github.com/rdbak/rdbak/internal/codec"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

func clusterApp() *App { return &App{Log: slog.New(slog.DiscardHandler), Version: "test"} }

func openRepo(t *testing.T) *storage.Repo {
	t.Helper()
	repo, err := storage.Open(t.Context(), "file://"+t.TempDir(), storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = repo.Close() })
	return repo
}

func zstd(t *testing.T) codec.Settings {
	t.Helper()
	comp, err := Compression(config.Compression{Codec: "zstd"})
	if err != nil {
		t.Fatal(err)
	}
	return comp
}

// requireEmpty fails t unless repo holds no backup and no leftover object.
func requireEmpty(t *testing.T, repo *storage.Repo) {
	t.Helper()
	ms, probs, err := repo.List(t.Context(), "")
	if err != nil || len(ms) != 0 || len(probs) != 0 {
		t.Errorf("repository holds %d backups, %d problems (%v), want none", len(ms), len(probs), err)
	}
	left, err := repo.Leftovers(t.Context(), "", 0)
	if err != nil || len(left) != 0 {
		t.Errorf("repository holds leftovers %+v (%v), want none", left, err)
	}
}

// TestClusterBackupSet backs up a 3-master cluster with one replica each
// through any node, on every version: one verified object per shard, from
// the replicas, a set manifest with the slot map and key counts that add up
// to the cluster's, and list/latest treating the set as one backup.
func TestClusterBackupSet(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s testenv.Server) {
		t.Parallel()
		c := testenv.StartCluster(t, testenv.ClusterOptions{Server: s, Replicas: 1})
		testenv.FillCluster(t, c.Client(t), 300)
		_, keys := testenv.KeysDigest(t, c.Nodes...)
		repo := openRepo(t)
		target := &config.Target{Name: "orders", Redis: c.Nodes[len(c.Nodes)-1].URL(), Source: config.SourceReplication,
			Cluster: config.Cluster{Concurrency: 2, Stagger: 10 * time.Millisecond}}
		prog := &backup.Progress{}
		res, err := clusterApp().Backup(t.Context(), target, repo, zstd(t), prog)
		if err != nil {
			t.Fatal(err)
		}
		m := res.Manifest
		if prog.Raw.Load() != m.Data.RawSize || prog.Stored.Load() != m.Data.StoredSize || prog.Phase() != "done" {
			t.Errorf("progress %d raw, %d stored, phase %q; want the set's %d and %d, done", prog.Raw.Load(), prog.Stored.Load(), prog.Phase(), m.Data.RawSize, m.Data.StoredSize)
		}
		if !m.IsSet() || m.Format != storage.ManifestFormatSet || len(m.Cluster.Shards) != 3 {
			t.Fatalf("manifest cluster = %+v (format %d), want a set of 3 shards", m.Cluster, m.Format)
		}
		if got := m.Keys(); got != uint64(keys) {
			t.Errorf("set holds %d keys, the cluster %d", got, keys)
		}
		var slots int
		for i, sh := range m.Cluster.Shards {
			if sh.Role != cluster.RoleReplica {
				t.Errorf("shard %d taken from a %s (%s), want a replica", i, sh.Role, sh.Reason)
			}
			if sh.Master == "" || sh.Node == "" || sh.Node == sh.Master || sh.Keys == 0 || sh.Data.Name != storage.ShardName(i, "dump.rdb.zst") {
				t.Errorf("shard %d record = %+v", i, sh)
			}
			for _, r := range sh.Slots {
				slots += r[1] - r[0] + 1
			}
		}
		if slots != cluster.Slots {
			t.Errorf("the set's shards cover %d slots, want %d", slots, cluster.Slots)
		}
		for _, p := range m.Parts() {
			if _, err := restore.Fetch(t.Context(), repo, p, io.Discard, restore.FetchOptions{}); err != nil {
				t.Errorf("verify %s: %v", p.Data.Name, err)
			}
		}
		if _, err := repo.OpenData(t.Context(), m); err == nil || !strings.Contains(err.Error(), "cluster backup set of 3 shards") {
			t.Errorf("OpenData of a set = %v, want it refused", err)
		}
		sel, err := repo.Resolve(t.Context(), "orders", "latest", storage.ResolveOptions{})
		if err != nil || sel.Manifest.ID != m.ID || !sel.Manifest.IsSet() {
			t.Errorf("latest = %+v, %v; want the set %s", sel.Manifest, err, m.ID)
		}
		ms, _, err := repo.List(t.Context(), "orders")
		if err != nil || len(ms) != 1 {
			t.Errorf("list = %d backups (%v), want the one set", len(ms), err)
		}

		// --single-node: the seed node alone, partial.
		single := *target
		single.Cluster.SingleNode = true
		res, err = clusterApp().Backup(t.Context(), &single, repo, zstd(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		if cl := res.Manifest.Cluster; cl == nil || !cl.Partial || len(cl.Shards) != 1 || res.Manifest.IsSet() || res.Manifest.Format != storage.ManifestFormat {
			t.Errorf("single-node manifest cluster = %+v, want partial with the node's shard", cl)
		}
	})
}

// TestClusterBackupRightAfterWrites backs up a cluster as soon as the
// writes are acknowledged, on every version: each set holds every key.
// The shards come from replicas, which must first reach their masters'
// offsets: on Valkey 8.0.1 a replica reports its link up right after its
// full sync but gets the writes made meanwhile a second later, and about
// every second set held one shard empty before rdbak waited for it.
func TestClusterBackupRightAfterWrites(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s testenv.Server) {
		t.Parallel()
		c := testenv.StartCluster(t, testenv.ClusterOptions{Server: s, Replicas: 1})
		cl := c.Client(t)
		repo := openRepo(t)
		target := &config.Target{Name: "orders", Redis: c.URL(), Source: config.SourceReplication, Cluster: config.Cluster{Stagger: time.Millisecond}}
		for round := range 3 {
			p := cl.Pipeline()
			for i := range 300 {
				p.Set(t.Context(), fmt.Sprintf("round%d:%d", round, i), i, 0)
			}
			if _, err := p.Exec(t.Context()); err != nil {
				t.Fatal(err)
			}
			res, err := clusterApp().Backup(t.Context(), target, repo, zstd(t), nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := res.Manifest.Keys(), uint64(300*(round+1)); got != want {
				t.Fatalf("round %d: the set holds %d keys, want %d; shards %+v", round, got, want, res.Manifest.Cluster.Shards)
			}
		}
	})
}

// TestClusterBackupRefusesMigratingSlot: a slot being migrated is named and
// nothing is stored; a replay into the cluster is refused too.
func TestClusterBackupRefusesMigratingSlot(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s testenv.Server) {
		t.Parallel()
		c := testenv.StartCluster(t, testenv.ClusterOptions{Server: s})
		testenv.FillCluster(t, c.Client(t), 20)
		ctx := t.Context()
		owner, other := slotOwners(t, c, 100)
		if err := owner.Client(t).Do(ctx, "CLUSTER", "SETSLOT", 100, "MIGRATING", nodeID(t, other)).Err(); err != nil {
			t.Fatal(err)
		}
		repo := openRepo(t)
		target := &config.Target{Name: "orders", Redis: c.URL(), Source: config.SourceReplication}
		_, err := clusterApp().Backup(ctx, target, repo, zstd(t), nil)
		if !errors.Is(err, cluster.ErrNotReady) || !strings.Contains(err.Error(), "slot 100 migrating") {
			t.Fatalf("Backup = %v, want a refusal naming slot 100", err)
		}
		requireEmpty(t, repo)
		// A replay into it is refused before anything is read, and is not
		// told to back up again.
		_, err = clusterApp().Replay(ctx, repo, &storage.Manifest{ID: "set", Target: "orders"}, target, ReplayOptions{})
		if !errors.Is(err, cluster.ErrNotReady) || !strings.Contains(err.Error(), "slot 100 migrating") || strings.Contains(err.Error(), "back up") {
			t.Fatalf("Replay = %v, want a refusal naming slot 100 that does not say to back up", err)
		}
	})
}

// TestClusterBackupShardFails: one shard's stream is refused (its node's
// ACL user lacks SYNC), so the set is not committed and the other shards'
// objects are removed.
func TestClusterBackupShardFails(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s testenv.Server) {
		t.Parallel()
		c := testenv.StartCluster(t, testenv.ClusterOptions{Server: s})
		testenv.FillCluster(t, c.Client(t), 20)
		ctx := t.Context()
		for i, n := range c.Nodes {
			rule := "+@all"
			if i == 1 {
				rule = "-sync" // the second master refuses the stream
			}
			if err := n.Client(t).Do(ctx, "ACL", "SETUSER", "backup", "on", ">pw", "~*", "&*", "+@all", rule).Err(); err != nil {
				t.Fatal(err)
			}
		}
		repo := openRepo(t)
		url := strings.Replace(c.URL(), "redis://", "redis://backup:pw@", 1)
		target := &config.Target{Name: "orders", Redis: url, Source: config.SourceReplication, Cluster: config.Cluster{Concurrency: 3, Stagger: time.Millisecond}}
		_, err := clusterApp().Backup(ctx, target, repo, zstd(t), nil)
		if err == nil || !strings.Contains(err.Error(), c.Nodes[1].Addr) {
			t.Fatalf("Backup = %v, want the failing shard's node %s named", err, c.Nodes[1].Addr)
		}
		requireEmpty(t, repo)
	})
}

// slotOwners returns the master that serves slot and another master.
func slotOwners(t *testing.T, c *testenv.Cluster, slot int) (owner, other *testenv.Redis) {
	t.Helper()
	for _, n := range c.Masters(t) {
		text, err := n.Client(t).ClusterNodes(t.Context()).Result()
		if err != nil {
			t.Fatal(err)
		}
		topo, _, myself, err := cluster.ParseNodes(text)
		if err != nil {
			t.Fatal(err)
		}
		i := topo.ShardOf(myself)
		served := false
		for _, r := range topo.Shards[i].Slots {
			served = served || r.Start <= slot && slot <= r.End
		}
		if served {
			owner = n
		} else {
			other = n
		}
	}
	if owner == nil || other == nil {
		t.Fatalf("no owner of slot %d, or no other master", slot)
	}
	return owner, other
}

func nodeID(t *testing.T, n *testenv.Redis) string {
	t.Helper()
	id, err := n.Client(t).Do(context.Background(), "CLUSTER", "MYID").Text()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func openBenchRepo(b *testing.B) (*storage.Repo, error) {
	repo, err := storage.Open(b.Context(), "file://"+b.TempDir(), storage.Options{Create: true})
	if err == nil {
		b.Cleanup(func() { _ = repo.Close() })
	}
	return repo, err
}

// TestClusterWithPassword: a cluster whose nodes need a password is backed
// up (each shard from its replica, with the same credentials) and replayed
// into another, with a 3 MB value and a 300 kB key name among the keys.
func TestClusterWithPassword(t *testing.T) {
	c := testenv.StartCluster(t, testenv.ClusterOptions{Replicas: 1, Password: "s3cret"})
	cl := c.Client(t)
	testenv.FillCluster(t, cl, 50)
	if err := cl.Set(t.Context(), "huge:value", strings.Repeat("0123456789abcdef", 3<<16), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if err := cl.Set(t.Context(), strings.Repeat("k", 300<<10), "long name", 0).Err(); err != nil {
		t.Fatal(err)
	}
	want, n := testenv.KeysDigest(t, c.Nodes...)
	repo := openRepo(t)
	m := backupOf(t, repo, "secure", "redis://:s3cret@"+c.Nodes[0].Addr)
	for i, sh := range m.Cluster.Shards {
		if sh.Role != cluster.RoleReplica {
			t.Errorf("shard %d from a %s (%s), want a replica", i, sh.Role, sh.Reason)
		}
	}
	dst := testenv.StartCluster(t, testenv.ClusterOptions{Password: "other"})
	replay(t, repo, m, "redis://:other@"+dst.Nodes[1].Addr)
	if got, k := testenv.KeysDigest(t, dst.Nodes...); got != want || k != n {
		t.Errorf("replayed %d keys (%s), the source holds %d (%s)", k, got, n, want)
	}
}

// TestClusterBackupShardKilled kills the node one shard streams from
// while rdbak is attached to it: the set is not committed and every
// shard's object is removed.
func TestClusterBackupShardKilled(t *testing.T) {
	c := testenv.StartCluster(t, testenv.ClusterOptions{Replicas: 1, Config: []string{"repl-diskless-sync-delay 5"}})
	testenv.FillCluster(t, c.Client(t), 200)
	repo := openRepo(t)
	target := &config.Target{Name: "orders", Redis: c.URL(), Source: config.SourceReplication,
		Cluster: config.Cluster{Concurrency: 3, Stagger: time.Millisecond}}
	done := make(chan error, 1)
	go func() {
		_, err := clusterApp().Backup(t.Context(), target, repo, zstd(t), nil)
		done <- err
	}()
	// rdbak attaches to each chosen replica as a replica of it; kill the
	// first node seen with one attached (repl-diskless-sync-delay holds
	// the stream back for seconds meanwhile).
	var killed *testenv.Redis
	clients := make([]*redis.Client, len(c.Nodes))
	for i, n := range c.Nodes {
		clients[i] = n.Client(t)
	}
	for killed == nil {
		select {
		case err := <-done:
			t.Fatalf("the backup ended before a node could be killed: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		for i, n := range c.Nodes {
			repl, err := clients[i].Info(t.Context(), "replication").Result()
			if err == nil && strings.Contains(repl, "role:slave") && !strings.Contains(repl, "connected_slaves:0") {
				killed = n
				n.Stop()
				break
			}
		}
	}
	err := <-done
	if err == nil || !strings.Contains(err.Error(), killed.Addr) {
		t.Fatalf("Backup = %v, want the killed node %s named", err, killed.Addr)
	}
	requireEmpty(t, repo)
}

// TestClusterMinimalACL backs up and replays with the ACLs the README
// gives, and nothing more.
func TestClusterMinimalACL(t *testing.T) {
	c := testenv.StartCluster(t, testenv.ClusterOptions{Replicas: 1})
	testenv.FillCluster(t, c.Client(t), 50)
	ctx := t.Context()
	for _, n := range c.Nodes {
		if err := n.Client(t).Do(ctx, "ACL", "SETUSER", "backup", "on", ">pw", "+info", "+sync", "+replconf", "+ping",
			"+cluster|info", "+cluster|nodes", "+cluster|shards").Err(); err != nil {
			t.Fatal(err)
		}
	}
	repo := openRepo(t)
	m := backupOf(t, repo, "acl", strings.Replace(c.URL(), "redis://", "redis://backup:pw@", 1))
	dst := testenv.StartCluster(t, testenv.ClusterOptions{})
	for _, n := range dst.Nodes {
		if err := n.Client(t).Do(ctx, "ACL", "SETUSER", "replay", "on", ">pw", "~*", "+info", "+restore",
			"+cluster|info", "+cluster|nodes", "+cluster|shards").Err(); err != nil {
			t.Fatal(err)
		}
	}
	replay(t, repo, m, strings.Replace(dst.URL(), "redis://", "redis://replay:pw@", 1))
}

// TestClusterDrill drills a backup set: each shard loads into its own
// scratch server and matches its part of the manifest.
func TestClusterDrill(t *testing.T) {
	c := testenv.StartCluster(t, testenv.ClusterOptions{})
	testenv.FillCluster(t, c.Client(t), 50)
	repo := openRepo(t)
	m := backupOf(t, repo, "orders", c.URL())
	rec, err := clusterApp().Drill(t.Context(), repo, m, &config.Target{Name: "orders"}, DrillOptions{})
	if err != nil || !rec.OK() {
		t.Fatalf("Drill = %+v, %v; want every shard to pass", rec, err)
	}
	shards := 0
	for _, ch := range rec.Checks {
		if strings.HasPrefix(ch.Detail, "shard 2 (shard-2.dump.rdb.zst): ") {
			shards++
		}
	}
	if shards == 0 {
		t.Errorf("no check names shard 2: %+v", rec.Checks)
	}
}
