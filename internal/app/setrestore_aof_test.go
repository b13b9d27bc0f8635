package app

import (
	"context"
	"io"
	"log/slog"
	"os/exec"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/redis"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
)

// localExec runs an exec's command on this machine, as if in the Redis
// container of a local redis-server.
type localExec struct{}

func (localExec) Exec(ctx context.Context, _ kube.ExecTarget, cmd []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := exec.CommandContext(ctx, cmd[0], cmd[1:]...)
	c.Stdin, c.Stdout, c.Stderr = stdin, stdout, stderr
	return c.Run()
}

// inPlaceLocal is the in-place rollout (kube.InPlace: the stage script
// while Redis serves, saves and AOF off, the commit script) on a local
// redis-server; Start makes it exit
// without saving and starts it again, as the kubelet restarts the
// container.
type inPlaceLocal struct {
	*kube.InPlace
	t *testing.T
	r *testenv.Redis
}

func (l *inPlaceLocal) Start(ctx context.Context) error {
	if err := l.Redis.ShutdownNoSave(ctx); err != nil {
		return err
	}
	l.r.Stop()
	l.r.Restart(l.t)
	return nil
}

// TestRestoreIntoAOFSentinelSet restores into a Sentinel set whose nodes
// run appendonly yes (the Bitnami default), on every version (6.2's single
// AOF file, 7.0+'s multi-part AOF): the in-place rollout stages the
// backup as the master's new AOF while it serves, turns AOF off, swaps it
// in, and the restarted master loads it with AOF on; every node ends with
// the backup's digest, the priorities are back, and the data holds through
// a further failover.
func TestRestoreIntoAOFSentinelSet(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, srv testenv.Server) {
		t.Parallel()
		o := sentinelSetOptions(srv)
		o.Config = []string{"appendonly yes"}
		s := testenv.StartReplicaSet(t, o)
		testenv.FillAllTypes(t, s.Master, 1)
		waitReplicated(t, s, s.Master)
		want := s.Master.Digest(t)
		repo := openRepo(t)
		a := &App{Log: slog.New(slog.DiscardHandler), Version: "test"}
		comp, _ := Compression(config.Compression{})
		res, err := a.Backup(t.Context(), sentinelTarget(t, s, "data-pw"), repo, comp, nil)
		if err != nil {
			t.Fatalf("backup: %v", err)
		}
		m := res.Manifest
		mc := s.Master.Client(t)
		if err := mc.FlushAll(t.Context()).Err(); err != nil {
			t.Fatal(err)
		}
		if err := mc.Set(t.Context(), "after-backup", "x", 0).Err(); err != nil {
			t.Fatal(err)
		}
		waitReplicated(t, s, s.Master)

		ctx := t.Context()
		set, err := discover(ctx, setOptions(s, "data-pw"))
		if err != nil {
			t.Fatal(err)
		}
		defer set.Close()
		set.record = newFreezeStore(repo, "orders")
		if err := set.restorable(ctx); err != nil {
			t.Fatalf("restorable: %v", err)
		}
		master := s.Node(t, set.master.Addr)
		c := redis.New(redis.Options{Addr: master.Addr, Password: "data-pw"})
		defer c.Close()
		l, err := layoutOf(ctx, c, &config.Target{}, srv.Version[0])
		if err != nil {
			t.Fatal(err)
		}
		wantMode := "multipart"
		if !srv.AtLeast(7, 0) {
			wantMode = "single"
		}
		if l.AOF.Mode != wantMode {
			t.Fatalf("layout %+v: want AOF mode %s", l, wantMode)
		}
		if _, err := restore.ChooseStrategy("in-place", restore.Workload{Kind: "StatefulSet", Name: "redis-node", Replicas: 3}, restore.Persistent, l); err != nil {
			t.Fatalf("ChooseStrategy in-place with AOF: %v", err)
		}
		ro := &inPlaceLocal{t: t, r: master, InPlace: &kube.InPlace{Client: &kube.Client{Executor: localExec{}}, Namespace: "local", Pod: "redis", Container: "redis",
			Redis: c, Version7: srv.AtLeast(7, 0), AOF: true}}
		in := restore.Install{Dir: l.Dir, DBFilename: l.DBFilename, Size: m.Data.RawSize, SHA256: m.Data.RawSHA256, AOF: l.AOF}
		fetch := func(w io.Writer) error {
			_, err := restore.Fetch(ctx, repo, m, w, restore.FetchOptions{})
			return err
		}
		check := func(ctx context.Context) error { return CheckRestored(ctx, c, m, 100*time.Millisecond) }
		err = restoreIntoSet(ctx, set, slog.New(slog.DiscardHandler), 100*time.Millisecond, 5*time.Minute, func(ctx context.Context) error {
			_, _, err := restore.Apply(ctx, ro, restore.Job{Install: in, Fetch: fetch, Check: check, Down: restore.DownStep(restore.InPlace)})
			return err
		})
		if err != nil {
			t.Fatalf("restore: %v\nmaster log:\n%s", err, master.Log())
		}
		if d := digests(t, s); !allEqual(d, want) {
			t.Fatalf("after the restore digests are %v, want the backup's %s on every node", d, want)
		}
		if got, err := c.ConfigGet(ctx, "appendonly"); err != nil || got != "yes" {
			t.Errorf("appendonly on the restored master = %q (%v), want yes", got, err)
		}
		if p := priorities(t, s); p[0] != "100" || p[1] != "100" {
			t.Errorf("after the restore replica-priority = %v, want [100 100]", p)
		}
		if rec, err := set.record.read(ctx); err != nil || rec != nil {
			t.Errorf("freeze record after the restore: %v, %v, want none", rec, err)
		}
		if err := s.SentinelClient(t, 0).Do(ctx, "SENTINEL", "FAILOVER", s.Name).Err(); err != nil {
			t.Fatalf("SENTINEL FAILOVER: %v", err)
		}
		var next *testenv.Redis
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			if next = s.CurrentMaster(t); next != master {
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
}
