package app

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// drillFixture is a backup of a live server filled with every type its
// version has, in file storage.
type drillFixture struct {
	live *testenv.Redis
	repo *storage.Repo
	dir  string // the storage directory
	m    *storage.Manifest
	a    *App
	logs *testenv.Buffer
}

func newDrillFixture(t *testing.T, s testenv.Server) *drillFixture {
	t.Helper()
	f := &drillFixture{live: testenv.StartRedis(t, testenv.RedisOptions{Server: s}), dir: t.TempDir(), logs: &testenv.Buffer{}}
	testenv.FillAllTypes(t, f.live, 1)
	testenv.FillVersionTypes(t, f.live)
	c := f.live.Client(t)
	ctx := t.Context()
	if err := c.Set(ctx, "config:site", "example.org", 0).Err(); err != nil {
		t.Fatal(err)
	}
	// Keys that expire around the drill: allowed to be missing, no others.
	for _, ttl := range []time.Duration{300 * time.Millisecond, time.Second, 2 * time.Second} {
		if err := c.Set(ctx, "soon:"+ttl.String(), "x", ttl).Err(); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if f.repo, err = storage.Open(ctx, "file://"+f.dir, storage.Options{Create: true}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.repo.Close() })
	comp, err := Compression(config.Compression{Codec: config.CodecZstd})
	if err != nil {
		t.Fatal(err)
	}
	f.a = &App{Log: slog.New(slog.NewTextHandler(f.logs, nil)), Version: "test"}
	res, err := f.a.Backup(ctx, &config.Target{Name: "cache", Redis: "redis://" + f.live.Addr}, f.repo, comp, nil)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, f.logs)
	}
	f.m = res.Manifest
	return f
}

// connections returns the live server's total_connections_received, asked
// on one connection kept open, so asking adds nothing.
func connections(t *testing.T, c *goredis.Conn) string {
	t.Helper()
	s, err := c.Info(context.Background(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(s, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_connections_received:"); ok {
			return v
		}
	}
	t.Fatal("no total_connections_received in INFO stats")
	return ""
}

// scratchLeft fails t if a scratch directory or a process started in one
// is left under tmp.
func scratchLeft(t *testing.T, tmp string) {
	t.Helper()
	left, _ := filepath.Glob(filepath.Join(tmp, "rdbak-drill-*"))
	if len(left) > 0 {
		t.Errorf("scratch directories left behind: %v", left)
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		if b, err := os.ReadFile(p); err == nil && strings.Contains(string(b), tmp) {
			t.Errorf("a process started in the scratch directory still runs: %s %q", p, b)
		}
	}
}

// TestDrillEveryServer drills a backup of every server version into a
// scratch server of the same version, with user checks, and checks the
// live server saw no connection and nothing was left behind.
func TestDrillEveryServer(t *testing.T) {
	testenv.EachServer(t, func(t *testing.T, s testenv.Server) {
		f := newDrillFixture(t, s)
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		watch := goredis.NewClient(&goredis.Options{Addr: f.live.Addr, PoolSize: 1}).Conn()
		defer watch.Close()
		before := connections(t, watch)
		tgt := &config.Target{Name: "cache", Redis: "redis://" + f.live.Addr, Drill: config.Drill{
			Servers: []string{s.Path},
			Checks: []config.DrillCheck{
				{Command: "EXISTS config:site", Expect: "1"},
				{Command: "GET config:site", Expect: "example.org"},
				{Command: "EXISTS int:1", Expect: "1", DB: 3},
			},
		}}
		rec, err := f.a.Drill(t.Context(), f.repo, f.m, tgt, DrillOptions{})
		if err != nil {
			t.Fatalf("drill: %v\nrecord %+v\n%s", err, rec, f.logs)
		}
		if rec.Scratch.Flavor != s.Flavor || rec.Scratch.Version != s.VersionString() || rec.Scratch.Kind != "local" {
			t.Errorf("scratch server = %+v, want %s", rec.Scratch, s.Name)
		}
		names := map[string]bool{}
		for _, c := range rec.Checks {
			names[c.Name] = true
			if !c.OK {
				t.Errorf("check %s failed: %s", c.Name, c.Detail)
			}
		}
		for _, want := range []string{"scratch-server", "verify", "db0 keys", "db0 expires", "db0 types", "db3 types", "check: EXISTS int:1 (db3)"} {
			if !names[want] {
				t.Errorf("no check %q in %+v", want, rec.Checks)
			}
		}
		if s.AtLeast(7, 0) && !names["load"] {
			t.Errorf("no load counter check on %s", s.Name)
		}
		if after := connections(t, watch); after != before {
			t.Errorf("the live server's total_connections_received went from %s to %s during the drill", before, after)
		}
		scratchLeft(t, tmp)
		refs, err := f.repo.DrillRecords(t.Context(), "cache", f.m.ID)
		if err != nil || len(refs) != 1 {
			t.Fatalf("drill records = %v, %v; want 1", refs, err)
		}
		recs, err := drill.Load(t.Context(), f.repo, refs)
		if err != nil || !recs[0].OK() || recs[0].BackupID != f.m.ID || len(recs[0].Checks) != len(rec.Checks) {
			t.Fatalf("stored record = %+v, %v; want the success", recs, err)
		}
	})
}

// TestDrillFailures: a failing user check, a backup tampered with after
// commit, and no server that loads the backup each fail the drill (exit
// 4's ErrFailed) with a reason, and never rewrite an earlier record.
func TestDrillFailures(t *testing.T) {
	s := testenv.NeedServer(t, "redis-7.4.1")
	f := newDrillFixture(t, s)
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	tgt := &config.Target{Name: "cache", Drill: config.Drill{Servers: []string{s.Path}}}
	if _, err := f.a.Drill(t.Context(), f.repo, f.m, tgt, DrillOptions{}); err != nil {
		t.Fatalf("first drill: %v", err)
	}

	bad := *tgt
	bad.Drill.Checks = []config.DrillCheck{{Command: "GET config:site", Expect: "example.com"}}
	rec, err := f.a.Drill(t.Context(), f.repo, f.m, &bad, DrillOptions{})
	if !errors.Is(err, drill.ErrFailed) || rec.OK() || !strings.Contains(rec.Reason, `check: GET config:site: replied "example.org", expected "example.com"`) {
		t.Errorf("failing check: err %v, reason %q", err, rec.Reason)
	}

	// No server on PATH, and the only one given is too old for RDB 12.
	t.Setenv("PATH", t.TempDir())
	old := *tgt
	old.Drill.Servers = []string{testenv.NeedServer(t, "redis-6.2.16").Path}
	rec, err = f.a.Drill(t.Context(), f.repo, f.m, &old, DrillOptions{})
	if !errors.Is(err, drill.ErrFailed) || !strings.Contains(rec.Reason, "no scratch server loads the backup") || !strings.Contains(rec.Reason, "loads RDB versions up to 9") {
		t.Errorf("no compatible server: err %v, reason %q", err, rec.Reason)
	}

	// A server that claims 7.4 but is 6.2: it exits while loading RDB 12,
	// and its log says why.
	liar := filepath.Join(t.TempDir(), "redis-server")
	script := "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'Redis server v=7.4.1 sha=00000000:0 malloc=libc bits=64 build=0'; exit 0; fi\nexec " +
		testenv.NeedServer(t, "redis-6.2.16").Path + " \"$@\"\n"
	if err := os.WriteFile(liar, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	lying := *tgt
	lying.Drill.Servers = []string{liar}
	rec, err = f.a.Drill(t.Context(), f.repo, f.m, &lying, DrillOptions{})
	if !errors.Is(err, drill.ErrFailed) || !strings.HasPrefix(rec.Reason, "load: ") || !strings.Contains(rec.Reason, "Can't handle RDB format version 12") {
		t.Errorf("a server that cannot load: err %v, reason %q", err, rec.Reason)
	}

	// Tamper with the stored object after commit.
	data := filepath.Join(f.dir, "cache", f.m.ID, f.m.Data.Name)
	b, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(data, b, 0o600); err != nil {
		t.Fatal(err)
	}
	rec, err = f.a.Drill(t.Context(), f.repo, f.m, tgt, DrillOptions{})
	if !errors.Is(err, drill.ErrFailed) || !strings.Contains(rec.Reason, "verify: ") || !strings.Contains(rec.Reason, "backup failed verification") {
		t.Errorf("tampered backup: err %v, reason %q", err, rec.Reason)
	}
	scratchLeft(t, tmp)

	refs, err := f.repo.DrillRecords(t.Context(), "cache", f.m.ID)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := drill.Load(t.Context(), f.repo, refs)
	if err != nil || len(recs) != 5 {
		t.Fatalf("records = %d (%v), want 5", len(recs), err)
	}
	var results []string
	for _, r := range recs {
		results = append(results, r.Result)
	}
	if strings.Join(results, ",") != "success,failure,failure,failure,failure" {
		t.Errorf("results in order = %v, want the first success kept", results)
	}
	if !strings.Contains(f.logs.String(), `msg="drill failed"`) {
		t.Errorf("no failure line in the log:\n%s", f.logs)
	}
}

// A drill in a pod without a way to reach Kubernetes fails before it
// fetches anything, saying why, and is not the backup's failure.
func TestDrillPodRunnerNeedsKubernetes(t *testing.T) {
	f := newDrillFixture(t, testenv.NeedServer(t, "redis-7.4.1"))
	f.a.Kube = nil
	tgt := &config.Target{Name: "cache", Kubernetes: &config.KubeTarget{Namespace: "prod", Pod: "redis-0"}, Drill: config.Drill{Runner: config.RunnerPod}}
	rec, err := f.a.Drill(t.Context(), f.repo, f.m, tgt, DrillOptions{})
	if err == nil || errors.Is(err, drill.ErrFailed) || !strings.Contains(err.Error(), "drill.runner pod: no Kubernetes client configured") {
		t.Errorf("err = %v, want a non-backup error naming drill.runner pod", err)
	}
	if rec == nil || rec.OK() || !strings.HasPrefix(rec.Reason, "scratch-server: ") || len(rec.Checks) != 1 {
		t.Errorf("record = %+v, want the scratch-server check failed and nothing else", rec)
	}
}
