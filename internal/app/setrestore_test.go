package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

func setOptions(s *testenv.ReplicaSet, dataPassword string) SentinelOptions {
	return SentinelOptions{Sentinels: s.SentinelAddrs(), MasterName: s.Name, SentinelUser: s.SentinelUser,
		SentinelPassword: s.SentinelPassword, Password: dataPassword}
}

// waitEvent runs action once it listens to every Sentinel, then waits
// until one of them publishes one of events and returns it (Sentinel
// publishes each event on a channel of its name).
func waitEvent(t *testing.T, s *testenv.ReplicaSet, action func(), events ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	got := make(chan string, len(s.Sentinels))
	for i := range s.Sentinels {
		ps := s.SentinelClient(t, i).Subscribe(ctx, events...)
		defer ps.Close()
		if _, err := ps.Receive(ctx); err != nil { // the subscription is in place
			t.Fatalf("subscribe to Sentinel %d: %v", i, err)
		}
		go func(ps *goredis.PubSub) {
			if m, err := ps.ReceiveMessage(ctx); err == nil {
				got <- m.Channel
			}
		}(ps)
	}
	action()
	select {
	case e := <-got:
		return e
	case <-ctx.Done():
		t.Fatalf("no Sentinel published %v", events)
		return ""
	}
}

func nodeRole(t *testing.T, r *testenv.Redis) string {
	t.Helper()
	in, err := redis.NewClient(r.Client(t)).Info(t.Context(), "replication")
	if err != nil {
		t.Fatalf("INFO replication of %s: %v", r.Addr, err)
	}
	return in.Replication.Role
}

// TestFreezeStopsPromotion proves the failover freeze on every version:
// with replica-priority 0 on every replica, the Sentinels find the master
// down and abort the failover for want of a replica; without it (the
// control), they promote one.
func TestFreezeStopsPromotion(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, srv testenv.Server) {
		t.Parallel()
		t.Run("frozen", func(t *testing.T) {
			t.Parallel()
			s := testenv.StartReplicaSet(t, sentinelSetOptions(srv))
			if err := s.Replicas[0].Client(t).ConfigSet(t.Context(), "replica-priority", "50").Err(); err != nil {
				t.Fatal(err)
			}
			set, err := discover(t.Context(), setOptions(s, "data-pw"))
			if err != nil {
				t.Fatal(err)
			}
			defer set.Close()
			// A Sentinel of a set just started on a loaded machine may
			// flag the master s_down for a moment (down-after 1 s): the
			// set is restorable once that clears.
			err = set.restorable(t.Context())
			for deadline := time.Now().Add(30 * time.Second); err != nil && strings.Contains(err.Error(), "s_down") && time.Now().Before(deadline); {
				time.Sleep(200 * time.Millisecond)
				err = set.restorable(t.Context())
			}
			if err != nil {
				t.Fatalf("restorable: %v", err)
			}
			frozen, _, err := set.freeze(t.Context(), 100*time.Millisecond, nil)
			if err != nil {
				t.Fatalf("freeze: %v", err)
			}
			if e := waitEvent(t, s, s.Master.Stop, "-failover-abort-no-good-slave", "+switch-master"); e != "-failover-abort-no-good-slave" {
				t.Fatalf("with every replica frozen, a Sentinel published %s", e)
			}
			for _, r := range s.Replicas {
				if role := nodeRole(t, r); role != "slave" {
					t.Fatalf("replica %s has role %s while frozen", r.Addr, role)
				}
			}
			s.Master.Restart(t)
			s.WaitSettled(t, s.Master)
			if err := set.thaw(t.Context(), frozen, 100*time.Millisecond); err != nil {
				t.Fatalf("thaw: %v", err)
			}
			for i, want := range []string{"50", "100"} {
				got, err := s.Replicas[i].Client(t).ConfigGet(t.Context(), "replica-priority").Result()
				if err != nil || got["replica-priority"] != want {
					t.Errorf("replica %d replica-priority after thaw = %v (%v), want %s", i, got, err, want)
				}
			}
		})
		t.Run("control", func(t *testing.T) {
			t.Parallel()
			s := testenv.StartReplicaSet(t, sentinelSetOptions(srv))
			if e := waitEvent(t, s, s.Master.Stop, "-failover-abort-no-good-slave", "+switch-master"); e != "+switch-master" {
				t.Fatalf("without the freeze, a Sentinel published %s, want +switch-master", e)
			}
		})
	})
}

// localRollout installs into a local redis-server the way the in-place
// strategy does in a pod: stage the file, swap it in, exit without saving,
// start again on it.
type localRollout struct {
	t       *testing.T
	r       *testenv.Redis
	cutWith error // when set, Install reads 4 KiB, then fails with it
}

func (l *localRollout) Stage(_ context.Context, body io.Reader, in restore.Install) error {
	if l.cutWith != nil {
		body = io.MultiReader(io.LimitReader(body, 4096), errReader{l.cutWith})
	}
	return restore.Stage(body, in)
}
func (l *localRollout) Stop(context.Context) error { return nil } // save "" already
func (l *localRollout) Commit(_ context.Context, in restore.Install) (*restore.Installed, error) {
	return restore.Commit(in)
}
func (l *localRollout) Start(context.Context) error {
	l.r.Stop()
	l.r.Restart(l.t)
	return nil
}
func (l *localRollout) Undo(context.Context) error { return nil }

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// restoreLocal restores m into set s through restoreIntoSet and the local
// rollout of its master.
func restoreLocal(ctx context.Context, t *testing.T, s *testenv.ReplicaSet, repo *storage.Repo, m *storage.Manifest, cut error) error {
	t.Helper()
	return restoreLocalAs(ctx, t, s, repo, m, cut, "")
}

// restoreLocalAs is restoreLocal recording its freeze under target in repo
// (none when target is "").
func restoreLocalAs(ctx context.Context, t *testing.T, s *testenv.ReplicaSet, repo *storage.Repo, m *storage.Manifest, cut error, target string) error {
	t.Helper()
	set, err := discover(ctx, setOptions(s, "data-pw"))
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if target != "" {
		set.record = newFreezeStore(repo, target)
	}
	if err := set.restorable(ctx); err != nil {
		t.Fatalf("restorable: %v", err)
	}
	master := s.Node(t, set.master.Addr)
	ro := &localRollout{t: t, r: master, cutWith: cut}
	in := restore.Install{Dir: master.Dir, DBFilename: "dump.rdb", Size: m.Data.RawSize, SHA256: m.Data.RawSHA256}
	fetch := func(w io.Writer) error {
		_, err := restore.Fetch(ctx, repo, m, w, restore.FetchOptions{})
		return err
	}
	check := func(ctx context.Context) error {
		c := redis.New(redis.Options{Addr: master.Addr, Password: "data-pw"})
		defer c.Close()
		return CheckRestored(ctx, c, m, 100*time.Millisecond)
	}
	log := slog.New(slog.DiscardHandler)
	return restoreIntoSet(ctx, set, log, 100*time.Millisecond, 5*time.Minute, func(ctx context.Context) error {
		_, _, err := restore.Apply(ctx, ro, restore.Job{Install: in, Fetch: fetch, Check: check, Down: restore.StepStart})
		return err
	})
}

func priorities(t *testing.T, s *testenv.ReplicaSet) []string {
	t.Helper()
	var out []string
	for _, r := range s.Replicas {
		got, err := r.Client(t).ConfigGet(t.Context(), "replica-priority").Result()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, got["replica-priority"])
	}
	return out
}

func digests(t *testing.T, s *testenv.ReplicaSet) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, n := range s.Nodes() {
		out[n.Addr] = n.Digest(t)
	}
	return out
}

func allEqual(m map[string]string, want string) bool {
	for _, v := range m {
		if v != want {
			return false
		}
	}
	return true
}

// TestRestoreIntoSentinelSet restores a backup into a Sentinel set on
// every version: every node ends with the backup's digest, the Sentinels
// agree on the same master, the priorities are back, and the data holds
// through a further failover. A restore cut midway (the stream fails, as
// on Ctrl-C) leaves every node with its old data and the priorities back.
func TestRestoreIntoSentinelSet(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, srv testenv.Server) {
		t.Parallel()
		s := testenv.StartReplicaSet(t, sentinelSetOptions(srv))
		testenv.FillAllTypes(t, s.Master, 1)
		waitReplicated(t, s, s.Master)
		want := s.Master.Digest(t)
		if err := s.Replicas[0].Client(t).ConfigSet(t.Context(), "replica-priority", "50").Err(); err != nil {
			t.Fatal(err)
		}
		repo := openRepo(t)
		a := &App{Log: slog.New(slog.DiscardHandler), Version: "test"}
		comp, _ := Compression(config.Compression{})
		res, err := a.Backup(t.Context(), sentinelTarget(t, s, "data-pw"), repo, comp, nil)
		if err != nil {
			t.Fatalf("backup: %v", err)
		}
		// Other data everywhere.
		mc := s.Master.Client(t)
		if err := mc.FlushAll(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		if err := mc.Set(t.Context(), "after-backup", "x", 0).Err(); err != nil {
			t.Fatal(err)
		}
		waitReplicated(t, s, s.Master)
		old := s.Master.Digest(t)

		t.Run("cut midway", func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			err := restoreLocal(ctx, t, s, repo, res.Manifest, context.Canceled)
			if err == nil || !errors.Is(err, context.Canceled) {
				t.Fatalf("restore cut midway: %v, want it to fail with the cut", err)
			}
			if d := digests(t, s); !allEqual(d, old) {
				t.Errorf("after a cut restore digests are %v, want the old %s on every node", d, old)
			}
			if p := priorities(t, s); p[0] != "50" || p[1] != "100" {
				t.Errorf("after a cut restore replica-priority = %v, want [50 100]", p)
			}
			if m := s.CurrentMaster(t); m != s.Master {
				t.Errorf("after a cut restore the Sentinels name %s, want %s", m.Addr, s.Master.Addr)
			}
			if _, err := os.Stat(filepath.Join(s.Master.Dir, "dump.rdb"+restore.TempSuffix)); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a cut restore left its temp file: %v", err)
			}
		})

		t.Run("restore", func(t *testing.T) {
			if err := restoreLocal(t.Context(), t, s, repo, res.Manifest, nil); err != nil {
				t.Fatalf("restore: %v", err)
			}
			if d := digests(t, s); !allEqual(d, want) {
				t.Fatalf("after the restore digests are %v, want the backup's %s on every node", d, want)
			}
			if p := priorities(t, s); p[0] != "50" || p[1] != "100" {
				t.Errorf("after the restore replica-priority = %v, want [50 100]", p)
			}
			if m := s.CurrentMaster(t); m != s.Master {
				t.Errorf("after the restore the Sentinels name %s, want %s", m.Addr, s.Master.Addr)
			}
			if err := s.SentinelClient(t, 0).Do(t.Context(), "SENTINEL", "FAILOVER", s.Name).Err(); err != nil {
				t.Fatalf("SENTINEL FAILOVER: %v", err)
			}
			var next *testenv.Redis
			for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
				if next = s.CurrentMaster(t); next != s.Master {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("no failover after SENTINEL FAILOVER")
				}
			}
			s.WaitSettled(t, next)
			waitReplicated(t, s, next)
			if d := digests(t, s); !allEqual(d, want) {
				t.Errorf("after a further failover digests are %v, want the backup's %s", d, want)
			}
		})
	})
}
