package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// sentinelTarget is a config target for set s, with its passwords in
// files as an operator would give them.
func sentinelTarget(t *testing.T, s *testenv.ReplicaSet, dataPassword string) *config.Target {
	t.Helper()
	dir := t.TempDir()
	write := func(name, pw string) string {
		if pw == "" {
			return ""
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return &config.Target{Name: "orders", Source: config.SourceReplication, PasswordFile: write("redis", dataPassword),
		Sentinel: &config.SentinelTarget{Addresses: s.SentinelAddrs(), MasterName: s.Name, Username: s.SentinelUser,
			PasswordFile: write("sentinel", s.SentinelPassword)}}
}

// loadedDigest loads the backup of m into a fresh server of srv and
// returns its DEBUG DIGEST.
func loadedDigest(t *testing.T, repo *storage.Repo, m *storage.Manifest, srv testenv.Server) string {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restore.Fetch(t.Context(), repo, m, f, restore.FetchOptions{}); err != nil {
		t.Fatalf("fetch %s: %v", m.ID, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return testenv.StartRedis(t, testenv.RedisOptions{Server: srv, Dir: dir}).Digest(t)
}

// waitReplicated waits until every replica has the master's offset, so
// digests compare.
func waitReplicated(t *testing.T, s *testenv.ReplicaSet, master *testenv.Redis) {
	t.Helper()
	want := master.Digest(t)
	deadline := time.Now().Add(time.Minute)
	for _, n := range s.Nodes() {
		for n != master && n.Digest(t) != want {
			if time.Now().After(deadline) {
				t.Fatalf("replica %s never reached the master's digest", n.Addr)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

func sentinelSetOptions(srv testenv.Server) testenv.ReplicaSetOptions {
	o := testenv.ReplicaSetOptions{Server: srv, Password: "data-pw", SentinelPassword: "sentinel-pw"}
	if srv.AtLeast(6, 2) {
		o.SentinelUser = "rdbak"
	}
	return o
}

// TestSentinelBackupChoosesReplica backs up a Sentinel set on every
// version: a healthy replica is chosen and recorded, the snapshot holds
// the master's data; with the replicas gone, the master is.
func TestSentinelBackupChoosesReplica(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, srv testenv.Server) {
		t.Parallel()
		s := testenv.StartReplicaSet(t, sentinelSetOptions(srv))
		testenv.FillAllTypes(t, s.Master, 1)
		waitReplicated(t, s, s.Master)
		want := s.Master.Digest(t)
		// One replica may never be promoted: the other is preferred.
		if err := s.Replicas[0].Client(t).ConfigSet(t.Context(), "replica-priority", "0").Err(); err != nil {
			t.Fatal(err)
		}
		repo := openRepo(t)
		a := &App{Log: slog.New(slog.DiscardHandler), Version: "test"}
		comp, _ := Compression(config.Compression{})
		tgt := sentinelTarget(t, s, "data-pw")
		res, err := a.Backup(t.Context(), tgt, repo, comp, nil)
		if err != nil {
			t.Fatalf("backup: %v", err)
		}
		m := res.Manifest
		tp := m.Topology
		if tp == nil {
			t.Fatal("manifest has no topology")
		}
		if tp.Chosen != s.Replicas[1].Addr || tp.ChosenRole != "replica" || tp.Master != s.Master.Addr || tp.Agreed != 3 || tp.MasterName != s.Name {
			t.Errorf("topology = %+v; want replica %s chosen, master %s, 3 Sentinels agreeing", tp, s.Replicas[1].Addr, s.Master.Addr)
		}
		if !strings.Contains(tp.Reason, s.Replicas[0].Addr+": replica-priority 0") || tp.Offset <= 0 || tp.MasterOffset < tp.Offset {
			t.Errorf("topology reason %q offsets %d/%d: want the priority-0 replica passed over and offsets recorded", tp.Reason, tp.Offset, tp.MasterOffset)
		}
		if !slices.Equal(tp.Replicas, sortedAddrs(s.Replicas)) {
			t.Errorf("topology replicas = %v, want %v", tp.Replicas, sortedAddrs(s.Replicas))
		}
		if m.Redis.Role != "slave" || !strings.Contains(m.Source.Origin, tp.Chosen) || tp.MasterAfter != "" {
			t.Errorf("manifest redis.role %q origin %q masterAfter %q: want the replica's", m.Redis.Role, m.Source.Origin, tp.MasterAfter)
		}
		if got := loadedDigest(t, repo, m, srv); got != want {
			t.Errorf("restored digest %s, want the master's %s", got, want)
		}

		// Only priority-0 replicas left: one of them is used.
		s.Replicas[1].Stop()
		res, err = a.Backup(t.Context(), tgt, repo, comp, nil)
		if err != nil {
			t.Fatalf("backup with one replica down: %v", err)
		}
		if tp := res.Manifest.Topology; tp.Chosen != s.Replicas[0].Addr || !strings.Contains(tp.Reason, "replica-priority 0, the only kind") ||
			!strings.Contains(tp.Reason, s.Replicas[1].Addr) {
			t.Errorf("with replica %s down: topology %+v, want the priority-0 replica and why the other was passed over", s.Replicas[1].Addr, tp)
		}
		// No replica left: the master.
		s.Replicas[0].Stop()
		res, err = a.Backup(t.Context(), tgt, repo, comp, nil)
		if err != nil {
			t.Fatalf("backup with the replicas down: %v", err)
		}
		if tp := res.Manifest.Topology; tp.Chosen != s.Master.Addr || tp.ChosenRole != "master" || !strings.Contains(tp.Reason, "no replica qualifies") {
			t.Errorf("with every replica down: topology %+v, want the master", tp)
		}
		if got := loadedDigest(t, repo, res.Manifest, srv); got != want {
			t.Errorf("restored digest of the master's backup %s, want %s", got, want)
		}
	})
}

// TestSentinelBackupRightAfterSync backs up a set right after its replicas
// full-synced while the master took writes, on every version: the backup
// holds every write made before it began. A Valkey replica reports its
// link up before it is sent the writes made during the sync, and is within
// the lag limit, so it must be given time to catch up.
func TestSentinelBackupRightAfterSync(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, srv testenv.Server) {
		t.Parallel()
		o := sentinelSetOptions(srv)
		o.Config = []string{"repl-diskless-sync-delay 0"}
		s := testenv.StartReplicaSet(t, o)
		ctx := t.Context()
		master := s.Master.Client(t)
		repo := openRepo(t)
		a := &App{Log: slog.New(slog.DiscardHandler), Version: "test"}
		comp, _ := Compression(config.Compression{})
		tgt := sentinelTarget(t, s, "data-pw")
		var replicas []*goredis.Client
		for _, r := range s.Replicas {
			replicas = append(replicas, r.Client(t))
		}
		for round := range 3 {
			resyncWhileWriting(t, master, replicas, fmt.Sprintf("round%d", round))
			want, err := master.DBSize(ctx).Result()
			if err != nil {
				t.Fatal(err)
			}
			res, err := a.Backup(ctx, tgt, repo, comp, nil)
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			if got := res.Manifest.Keys(); got != uint64(want) {
				t.Fatalf("round %d: the backup holds %d keys, the master %d; topology %+v", round, got, want, res.Manifest.Topology)
			}
		}
	})
}

// resyncWhileWriting makes the replicas full-sync from master again and
// writes keys prefix:N to master until every replica has done so and
// reports its link up, so that writes land during the syncs.
func resyncWhileWriting(t *testing.T, master *goredis.Client, replicas []*goredis.Client, prefix string) {
	t.Helper()
	ctx := t.Context()
	fulls := syncFull(t, master)
	// A new replication ID makes the replicas' reconnection a full sync.
	if err := master.Do(ctx, "DEBUG", "CHANGE-REPL-ID").Err(); err != nil {
		t.Fatal(err)
	}
	if err := master.Do(ctx, "CLIENT", "KILL", "TYPE", "slave").Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for i := 0; syncFull(t, master) < fulls+int64(len(replicas)) || !linksUp(t, replicas); i++ {
		if time.Now().After(deadline) {
			t.Fatalf("the replicas did not full-sync again within a minute (sync_full %d, was %d)", syncFull(t, master), fulls)
		}
		if err := master.Set(ctx, fmt.Sprintf("%s:%d", prefix, i), i, 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
}

// syncFull is the master's count of full syncs served.
func syncFull(t *testing.T, c *goredis.Client) int64 {
	t.Helper()
	in, err := c.Info(t.Context(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.ParseInt(infoField(in, "sync_full"), 10, 64)
	if err != nil {
		t.Fatalf("INFO stats sync_full: %v", err)
	}
	return n
}

// infoField is field's value in INFO's text, "" when it has none.
func infoField(info, field string) string {
	for _, l := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return v
		}
	}
	return ""
}

// linksUp reports whether every replica has its master link up and no
// sync in progress.
func linksUp(t *testing.T, rs []*goredis.Client) bool {
	t.Helper()
	for _, r := range rs {
		in, err := r.Info(t.Context(), "replication").Result()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(in, "master_link_status:up") || !strings.Contains(in, "master_sync_in_progress:0") {
			return false
		}
	}
	return true
}

func sortedAddrs(rs []*testenv.Redis) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Addr)
	}
	slices.Sort(out)
	return out
}

// TestSentinelBackupRefusesBadAuthAndName checks that a wrong master name
// or Sentinel password fails at once with a hint, storing nothing.
func TestSentinelBackupRefusesBadAuthAndName(t *testing.T) {
	s := testenv.StartReplicaSet(t, testenv.ReplicaSetOptions{SentinelPassword: "sentinel-pw", Replicas: 1})
	repo := openRepo(t)
	a := &App{Log: slog.New(slog.DiscardHandler), Version: "test"}
	comp, _ := Compression(config.Compression{})
	for name, edit := range map[string]func(tg *config.Target){
		"unknown master name":  func(tg *config.Target) { tg.Sentinel.MasterName = "nope" },
		"no Sentinel password": func(tg *config.Target) { tg.Sentinel.PasswordFile = "" },
	} {
		t.Run(name, func(t *testing.T) {
			tg := sentinelTarget(t, s, "")
			edit(tg)
			_, err := a.Backup(t.Context(), tg, repo, comp, nil)
			if err == nil || !strings.Contains(err.Error(), "check sentinel.masterName") {
				t.Fatalf("backup: %v, want a usage error naming sentinel.masterName and the password", err)
			}
			if ms, _, _ := repo.List(context.Background(), "orders"); len(ms) != 0 {
				t.Fatalf("a failed backup left %d manifests", len(ms))
			}
		})
	}
}

func TestFrozenAll(t *testing.T) {
	for _, tt := range []struct {
		prios []string
		want  bool
	}{{nil, false}, {[]string{"0"}, true}, {[]string{"0", "0"}, true}, {[]string{"0", "100"}, false}, {[]string{"?"}, false}} {
		var p restore.SetPlan
		for _, pr := range tt.prios {
			p.Replicas = append(p.Replicas, restore.Frozen{Addr: "r", Priority: pr})
		}
		if got := frozenAll(p); got != tt.want {
			t.Errorf("frozenAll(%v) = %v, want %v", tt.prios, got, tt.want)
		}
	}
}

func TestSameNode(t *testing.T) {
	for _, tt := range []struct {
		replicaOf, master string
		want              bool
	}{
		{"10.0.0.1:6379", "10.0.0.1:6379", true},
		{"10.0.0.2:6379", "10.0.0.1:6379", false},
		{"10.0.0.1:6380", "10.0.0.1:6379", false},
		{"redis-node-0.redis-headless:6379", "10.0.0.1:6379", true},
		{"redis-node-0.redis-headless:6380", "10.0.0.1:6379", false},
	} {
		if got := sameNode(tt.replicaOf, tt.master); got != tt.want {
			t.Errorf("sameNode(%s, %s) = %v, want %v", tt.replicaOf, tt.master, got, tt.want)
		}
	}
}
