package app

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/cluster"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// nodeRollout restores a cluster node of testenv the way kube.InPlace
// restores a pod: saves off, the file received into its dir with the
// previous one kept, then SHUTDOWN NOSAVE and a restart on the same dir
// (where nodes.conf stays).
type nodeRollout struct {
	t       *testing.T
	node    *testenv.Redis
	oldSave string
	fail    bool // Stage fails after reading the stream (a cut stream)
	noStart bool // Start fails without restarting
	saved   bool
	put     bool
}

func (r *nodeRollout) client() *redis.Client { return redis.New(redis.Options{Addr: r.node.Addr}) }

func (r *nodeRollout) Stop(ctx context.Context) error {
	c := r.client()
	defer c.Close()
	var err error
	if r.oldSave, err = c.ConfigGet(ctx, "save"); err != nil {
		return err
	}
	r.saved = true
	if err := c.ConfigSet(ctx, "save", ""); err != nil {
		return err
	}
	// As kube.InPlace's Save: the data in memory is what .pre-restore keeps.
	_, err = backup.Snapshot(ctx, c, backup.SnapshotOptions{})
	return err
}

func (r *nodeRollout) Stage(_ context.Context, body io.Reader, in restore.Install) error {
	if r.fail {
		_, _ = io.Copy(io.Discard, body)
		return errors.New("stream cut on purpose")
	}
	in.Dir = r.node.Dir
	return restore.Stage(body, in)
}

func (r *nodeRollout) Commit(_ context.Context, in restore.Install) (*restore.Installed, error) {
	in.Dir = r.node.Dir
	got, err := restore.Commit(in)
	r.put = err == nil
	return got, err
}

func (r *nodeRollout) Start(ctx context.Context) error {
	if r.noStart {
		return errors.New("restart refused on purpose")
	}
	c := r.client()
	err := c.ShutdownNoSave(ctx)
	c.Close()
	if err != nil {
		return err
	}
	for r.node.Running() {
		time.Sleep(20 * time.Millisecond)
	}
	r.node.Restart(r.t)
	return nil
}

func (r *nodeRollout) Rollback(ctx context.Context, in restore.Install) error {
	c := r.client()
	err := c.ConfigSet(ctx, "save", "")
	c.Close()
	if err != nil {
		return err
	}
	path := filepath.Join(r.node.Dir, in.DBFilename)
	if err := os.Rename(path+restore.PreRestoreSuffix, path); err != nil {
		return err
	}
	r.put, r.noStart = false, false
	return r.Start(ctx)
}

func (r *nodeRollout) Undo(ctx context.Context) error {
	if !r.saved {
		return nil
	}
	c := r.client()
	defer c.Close()
	return c.ConfigSet(ctx, "save", r.oldSave)
}

func (r *nodeRollout) Revert(ctx context.Context, in restore.Install) error {
	if r.put {
		path := filepath.Join(r.node.Dir, in.DBFilename)
		if err := os.Rename(path+restore.PreRestoreSuffix, path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		r.put = false
	}
	return r.Undo(ctx)
}

// localJob is the restore of set m into cluster c with local rollouts;
// failShard makes that shard's install fail, noStart its Start (-1: none).
func localJob(t *testing.T, repo *storage.Repo, m *storage.Manifest, c *testenv.Cluster, failShard int, noStart ...int) (*clusterJob, error) {
	seed := redis.New(redis.Options{Addr: c.Nodes[len(c.Nodes)-1].Addr})
	defer seed.Close()
	plan, err := readClusterPlan(t.Context(), seed, m)
	if err != nil {
		return nil, err
	}
	byAddr := map[string]*testenv.Redis{}
	for _, n := range c.Nodes {
		byAddr[n.Addr] = n
	}
	return &clusterJob{repo: repo, m: m, plan: plan, log: clusterApp().Log, poll: 50 * time.Millisecond, timeout: 2 * time.Minute,
		dial: func(addr string) *redis.Client { return redis.New(redis.Options{Addr: addr}) },
		rollouts: func(context.Context) ([]clusterShard, error) {
			var out []clusterShard
			parts := m.Parts()
			for _, s := range plan.Shards {
				n := byAddr[s.MasterAddr]
				if n == nil {
					t.Fatalf("plan names master %s, no node of the test", s.MasterAddr)
				}
				p := parts[s.Shard]
				out = append(out, clusterShard{plan: s, part: p, rollout: &nodeRollout{t: t, node: n, fail: s.Shard == failShard, noStart: len(noStart) > 0 && s.Shard == noStart[0]},
					install: restore.Install{Dir: n.Dir, DBFilename: "dump.rdb", Size: p.Data.RawSize, SHA256: p.Data.RawSHA256}})
			}
			return out, nil
		}}, nil
}

// masterDigests returns each master's DEBUG DIGEST by address.
func masterDigests(t *testing.T, c *testenv.Cluster) map[string]string {
	out := map[string]string{}
	for _, n := range c.Masters(t) {
		out[n.Addr] = n.Digest(t)
	}
	return out
}

func noFailover(t *testing.T, c *testenv.Cluster) []string {
	var vals []string
	for _, n := range c.Nodes {
		v, err := n.Client(t).ConfigGet(t.Context(), noFailoverKey).Result()
		if err != nil {
			t.Fatal(err)
		}
		vals = append(vals, n.Addr+"="+v[noFailoverKey])
	}
	return vals
}

// TestClusterRestoreSameShape restores a set into the cluster it came from
// after FLUSHALL on every master, on every version: every master's DEBUG
// DIGEST is its shard's at backup time, the replicas resynced from the
// restored masters, the node ids and slots are kept, cluster_state is ok
// and cluster-replica-no-failover is back.
func TestClusterRestoreSameShape(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s testenv.Server) {
		t.Parallel()
		c := testenv.StartCluster(t, testenv.ClusterOptions{Server: s, Replicas: 1})
		testenv.FillCluster(t, c.Client(t), 300)
		want := masterDigests(t, c)
		repo := openRepo(t)
		target := &config.Target{Name: "orders", Redis: c.URL(), Source: config.SourceReplication}
		res, err := clusterApp().Backup(t.Context(), target, repo, zstd(t), nil)
		if err != nil {
			t.Fatal(err)
		}
		seed := redis.New(redis.Options{Addr: c.Nodes[0].Addr})
		defer seed.Close()
		before, err := seed.ClusterTopology(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		frozenBefore := noFailover(t, c)
		for _, n := range c.Masters(t) {
			if err := n.Client(t).FlushAll(t.Context()).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Client(t).Set(t.Context(), "written-after", "x", 0).Err(); err != nil {
			t.Fatal(err)
		}
		job, err := localJob(t, repo, res.Manifest, c, -1)
		if err != nil {
			t.Fatal(err)
		}
		if err := job.run(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := masterDigests(t, c); !equalMaps(got, want) {
			t.Errorf("master digests after the restore %v, want the backup's %v", got, want)
		}
		for _, n := range c.Nodes {
			if st, err := redis.New(redis.Options{Addr: n.Addr}).ClusterState(t.Context()); err != nil || st != "ok" {
				t.Errorf("node %s cluster_state %q (%v), want ok", n.Addr, st, err)
			}
		}
		after, err := seed.ClusterTopology(t.Context())
		if err != nil || !sameIDs(before, after) {
			t.Errorf("topology after the restore %+v (%v), want the same nodes and slots as before %+v", after, err, before)
		}
		if got := noFailover(t, c); strings.Join(got, " ") != strings.Join(frozenBefore, " ") {
			t.Errorf("%s after the restore %v, want it put back %v", noFailoverKey, got, frozenBefore)
		}
		// The replicas hold the restored data too.
		for _, n := range c.Nodes {
			role, _ := n.Client(t).Do(t.Context(), "ROLE").Slice()
			if len(role) > 0 && role[0] == "slave" {
				d := n.Digest(t)
				found := false
				for _, w := range want {
					found = found || w == d
				}
				if !found {
					t.Errorf("replica %s digest %s is no shard's backup digest %v", n.Addr, d, want)
				}
			}
		}
	})
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// sameIDs reports whether two readings have the same masters (by id) on
// the same slots, each with the same replicas.
func sameIDs(a, b cluster.Topology) bool {
	if len(a.Shards) != len(b.Shards) {
		return false
	}
	for i := range a.Shards {
		x, y := a.Shards[i], b.Shards[i]
		if x.Master.ID != y.Master.ID || cluster.FormatRanges(x.Slots) != cluster.FormatRanges(y.Slots) || len(x.Replicas) != len(y.Replicas) {
			return false
		}
		for j := range x.Replicas {
			if x.Replicas[j].ID != y.Replicas[j].ID {
				return false
			}
		}
	}
	return true
}

// TestClusterRestoreUndo: the last shard's install fails, so every master
// gets its previous file back and keeps running on its data; nothing is
// restored and the replicas' failover setting is back.
func TestClusterRestoreUndo(t *testing.T) {
	c := testenv.StartCluster(t, testenv.ClusterOptions{Replicas: 1})
	testenv.FillCluster(t, c.Client(t), 100)
	repo := openRepo(t)
	res, err := clusterApp().Backup(t.Context(), &config.Target{Name: "orders", Redis: c.URL(), Source: config.SourceReplication}, repo, zstd(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	testenv.FillCluster(t, c.Client(t), 150)
	before := masterDigests(t, c)
	frozenBefore := noFailover(t, c)
	for _, n := range c.Masters(t) {
		if err := n.Client(t).ConfigSet(t.Context(), "save", "900 1").Err(); err != nil {
			t.Fatal(err)
		}
	}
	job, err := localJob(t, repo, res.Manifest, c, 2)
	if err != nil {
		t.Fatal(err)
	}
	err = job.run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "shard-2") || !strings.Contains(err.Error(), "nothing was restored") {
		t.Fatalf("run = %v, want shard-2's failure and nothing restored", err)
	}
	if got := masterDigests(t, c); !equalMaps(got, before) {
		t.Errorf("master digests %v, want the data before the restore %v", got, before)
	}
	for _, n := range c.Masters(t) {
		if _, err := os.Stat(filepath.Join(n.Dir, "dump.rdb.pre-restore")); err == nil {
			t.Errorf("master %s still has a .pre-restore file: the previous file was not put back", n.Addr)
		}
		if v, _ := n.Client(t).ConfigGet(t.Context(), "save").Result(); v["save"] != "900 1" {
			t.Errorf("master %s has save points %q after the undo, want 900 1 back", n.Addr, v["save"])
		}
	}
	if got := noFailover(t, c); strings.Join(got, " ") != strings.Join(frozenBefore, " ") {
		t.Errorf("%s after the undo %v, want it put back %v", noFailoverKey, got, frozenBefore)
	}

	// shard-1's master does not restart: shard-0's master, already
	// restarted on restored data, is restarted on its previous file,
	// shard-2's gets its previous file back: the cluster keeps its data.
	job, err = localJob(t, repo, res.Manifest, c, -1, 1)
	if err != nil {
		t.Fatal(err)
	}
	err = job.run(t.Context())
	if err == nil || !strings.Contains(err.Error(), "shard-1") || !strings.Contains(err.Error(), "nothing was restored") {
		t.Fatalf("run = %v, want shard-1's failure and nothing restored", err)
	}
	if got := masterDigests(t, c); !equalMaps(got, before) {
		t.Errorf("master digests %v after the rollback, want the data before the restore %v", got, before)
	}
	for _, n := range c.Masters(t) {
		if _, err := os.Stat(filepath.Join(n.Dir, "dump.rdb.pre-restore")); err == nil {
			t.Errorf("master %s still has a .pre-restore file: the previous file was not put back", n.Addr)
		}
	}
}

func TestParseRanges(t *testing.T) {
	for _, rs := range [][]cluster.Range{{{Start: 0, End: 5460}}, {{Start: 0, End: 100}, {Start: 102, End: 102}, {Start: 200, End: 16383}}, {{Start: 7, End: 7}}} {
		s := cluster.FormatRanges(rs)
		got, err := parseRanges(s)
		if err != nil || cluster.FormatRanges(got) != s || len(got) != len(rs) {
			t.Errorf("parseRanges(%q) = %v, %v; want %v", s, got, err, rs)
		}
	}
	if _, err := parseRanges("1-x"); err == nil {
		t.Error("parseRanges(1-x) = nil error, want one")
	}
}

// TestCatchUpGivesUp: a node that does not reach the offset is named
// stale, with how far behind it is, after catchUpWait; one that stops
// answering, as not answering.
func TestCatchUpGivesUp(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	c := redis.New(redis.Options{Addr: r.Addr})
	defer c.Close()
	in, err := c.Info(t.Context(), "replication")
	if err != nil {
		t.Fatal(err)
	}
	offset := in.Replication.MasterReplOffset
	if got, err := catchUp(t.Context(), c, offset, offset); got != offset || err != nil {
		t.Errorf("catchUp at the offset = %d, %v; want %d and no error", got, err, offset)
	}
	got, err := catchUp(t.Context(), c, offset, offset+1000)
	if got != offset || !errors.As(err, new(behindError)) || !strings.Contains(err.Error(), "is 1000 bytes behind its master after 3s") {
		t.Errorf("catchUp 1000 bytes short = %d, %v; want %d and the lag named", got, err, offset)
	}
	r.Stop()
	if _, err := catchUp(t.Context(), c, offset, offset+1000); errors.As(err, new(behindError)) || err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Errorf("catchUp of a stopped node = %v, want it named as not answering", err)
	}
}
