package app

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/rdb"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// orphan leaves backup data without a manifest, last written at.
func orphan(t *testing.T, dir, target string, at time.Time) string {
	t.Helper()
	id := storage.NewID(at)
	p := writeFile(t, dir, filepath.Join(target, id, "dump.rdb.zst"), "partial")
	if err := os.Chtimes(p, at, at); err != nil {
		t.Fatal(err)
	}
	return id
}

// savedRDB is a dump.rdb that a real Redis saved, with every type.
func savedRDB(t *testing.T) []byte {
	t.Helper()
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	if err := src.Client(t).Save(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(src.Dir, "dump.rdb"))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestPruner: the command line's policy over the targets in storage;
// the dry run deletes nothing and counts what it would.
func TestPruner(t *testing.T) {
	dir, url, repo := fileStore(t)
	now := time.Now()
	var ids []string
	for i := range 3 {
		at := now.Add(time.Duration(i-3) * time.Hour)
		ids = append(ids, storage.NewID(at))
		testenv.PutBackup(t, repo, "a", ids[i], at)
	}
	testenv.PutBackup(t, repo, "b", storage.NewID(now), now)
	old := orphan(t, dir, "a", now.Add(-48*time.Hour))

	req := Request{Storage: url, Log: quiet()}
	if _, err := req.PruneTargets(t.Context(), &Pruner{}, nil); !isUsage(err) || !strings.Contains(err.Error(), "prune needs a policy") {
		t.Errorf("no policy: %v", err)
	}
	if _, err := (Request{Log: quiet()}).PruneTargets(t.Context(), &Pruner{}, &config.Retention{KeepLast: 1}); !isUsage(err) || !strings.Contains(err.Error(), "--storage is required") {
		t.Errorf("no storage: %v", err)
	}
	for _, del := range []bool{false, true} {
		p := &Pruner{Storage: url, Delete: del, Grace: time.Hour, Now: now}
		targets, err := req.PruneTargets(t.Context(), p, &config.Retention{KeepLast: 1})
		if err != nil || len(targets) != 2 {
			t.Fatalf("targets %+v, %v; want a and b", targets, err)
		}
		res, err := p.Target(t.Context(), &targets[0])
		p.Close()
		if err != nil || res.Target != "a" || res.DryRun == del || len(res.Backups) != 3 || len(res.Orphans) != 1 || res.Orphans[0].ID != old {
			t.Fatalf("delete %v: %+v, %v", del, res, err)
		}
		if p.Drops != 2 || p.Orphans != 1 || res.Policy == "" || res.Location == nil {
			t.Errorf("delete %v: counted %d drops and %d orphans (policy %q), want 2 and 1", del, p.Drops, p.Orphans, res.Policy)
		}
	}
	ms, _, err := repo.List(t.Context(), "a")
	if err != nil || len(ms) != 1 || ms[0].ID != ids[2] {
		t.Errorf("after --yes, a keeps %v (%v), want only %s", ms, err, ids[2])
	}
	var seen []string
	all, err := req.PruneAll(t.Context(), &Pruner{Storage: url, Grace: time.Hour, Now: now}, &config.Retention{KeepLast: 1}, func(r PruneResult) { seen = append(seen, r.Target) })
	if err != nil || len(all) != 2 || strings.Join(seen, ",") != "a,b" {
		t.Errorf("PruneAll: %d results (seen %v), %v; want a and b", len(all), seen, err)
	}
	if _, err := req.PruneAll(t.Context(), &Pruner{}, nil, nil); !isUsage(err) {
		t.Errorf("PruneAll without a policy: %v, want a usage error", err)
	}
	p := &Pruner{Now: now}
	defer p.Close()
	if _, err := p.Target(t.Context(), &config.Target{Name: "a", Storage: url, Retention: config.Retention{KeepWithin: "soon"}}); !isUsage(err) {
		t.Errorf("a bad policy: %v, want a usage error", err)
	}
}

// TestRequestStatus reads each target's backups from its storage.
func TestRequestStatus(t *testing.T) {
	_, url, repo := fileStore(t)
	now := time.Now()
	testenv.PutBackup(t, repo, "a", storage.NewID(now.Add(-time.Hour)), now.Add(-time.Hour))
	testenv.PutBackup(t, repo, "a", storage.NewID(now), now)
	testenv.PutBackup(t, repo, "b", storage.NewID(now), now)
	got, err := Request{Storage: url, Log: quiet()}.Status(t.Context(), now)
	if err != nil || len(got) != 2 || got[0].Target != "a" || got[0].Backups != 2 || got[1].Backups != 1 {
		t.Fatalf("status %+v, %v; want a with 2 backups and b with 1", got, err)
	}
}

// TestGC: young leftovers wait; old ones are offered, and collected with
// del; another target's are left alone.
func TestGC(t *testing.T) {
	dir, url, _ := fileStore(t)
	now := time.Now()
	young := orphan(t, dir, "a", now)
	old := orphan(t, dir, "a", now.Add(-48*time.Hour))
	orphan(t, dir, "b", now.Add(-48*time.Hour))
	collect := func(del bool) map[string]string {
		got := map[string]string{}
		err := Request{Storage: url, Target: "a", Log: quiet()}.GC(t.Context(), 24*time.Hour, now, del, func(l Leftover) { got[l.Orphan.ID] = l.Action })
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := collect(false); len(got) != 2 || got[young] != "not yet" || got[old] != "would delete" {
		t.Errorf("dry run: %v", got)
	}
	if got := collect(true); got[old] != "deleted" {
		t.Errorf("with del: %v", got)
	}
	if got := collect(false); len(got) != 1 {
		t.Errorf("after collecting: %v, want only the young one", got)
	}
}

// TestInspect: a good file, a damaged one (ErrVerify, with a summary)
// and one that cannot be read (no summary).
func TestInspect(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "dump.rdb")
	data := savedRDB(t)
	if err := os.WriteFile(good, data, 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := Inspect(good, nil, 5)
	if err != nil || !in.Valid || in.File != good || in.Checks == "" {
		t.Fatalf("good file: %+v, %v", in, err)
	}
	bad := writeFile(t, dir, "bad.rdb", "REDIS0011garbage")
	in, err = Inspect(bad, nil, 5)
	if !errors.Is(err, restore.ErrVerify) || in.Valid || in.Error == "" {
		t.Errorf("damaged file: %+v, %v; want ErrVerify with the reason", in, err)
	}
	if _, err = Inspect(filepath.Join(dir, "none"), nil, 5); err == nil || errors.Is(err, restore.ErrVerify) {
		t.Errorf("missing file: %v, want a read error", err)
	}
	if _, err = Inspect(good, nil, -1); !isUsage(err) {
		t.Errorf("--top -1: %v", err)
	}
	in, err = Inspect("-", strings.NewReader(string(data)), 5)
	if err != nil || in.File != "stdin" {
		t.Errorf("stdin: %+v, %v", in, err)
	}
	for _, tc := range []struct {
		in   rdb.Info
		want string
	}{
		{rdb.Info{ChecksumVerified: true}, "structure and CRC-64"},
		{rdb.Info{}, "structure only"},
		{rdb.Info{Unparsed: "v99"}, "CRC-64 only"},
	} {
		if got := checks(tc.in); !strings.HasPrefix(got, tc.want) {
			t.Errorf("checks(%+v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestImportVerifyRestoreFile: an imported file is a backup that
// verifies and restores byte for byte; a damaged one stores nothing.
func TestImportVerifyRestoreFile(t *testing.T) {
	dir, url, repo := fileStore(t)
	a := &App{Log: quiet(), Version: "test", CallerReports: true}
	file := filepath.Join(t.TempDir(), "dump.rdb")
	data := savedRDB(t)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	req := Request{Storage: url, Target: "cache", Log: quiet()}
	if _, err := a.Import(t.Context(), Request{Storage: url, Log: quiet()}, file, ImportOptions{}); !isUsage(err) {
		t.Errorf("no --target: %v", err)
	}
	if _, err := a.Import(t.Context(), req, file, ImportOptions{Created: "yesterday"}); !isUsage(err) {
		t.Errorf("bad --created: %v", err)
	}
	bad := writeFile(t, dir+"-in", "bad.rdb", "REDIS0011garbage")
	if _, err := a.Import(t.Context(), req, bad, ImportOptions{}); !errors.Is(err, restore.ErrVerify) {
		t.Errorf("damaged file: %v, want ErrVerify", err)
	}
	m, err := a.Import(t.Context(), req, file, ImportOptions{Created: "2026-11-22T03:00:00Z", Codec: "gzip"})
	if err != nil || m.Source.Kind != "import" || m.Data.Compression.Codec != "gzip" || !m.Created.Equal(time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)) {
		t.Fatalf("import: %+v, %v", m, err)
	}
	if rep, err := a.Verify(t.Context(), repo, m, nil, nil); err != nil || rep.RawSize != int64(len(data)) {
		t.Errorf("verify: %+v, %v", rep, err)
	}
	if rep, err := a.VerifyStored(t.Context(), repo, m); err != nil || rep.StoredSize != m.Data.StoredSize {
		t.Errorf("verify stored: %+v, %v", rep, err)
	}
	out := filepath.Join(t.TempDir(), "out.rdb")
	if err := a.RestoreFile(t.Context(), repo, m, out, nil, false, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(out); string(got) != string(data) {
		t.Errorf("restored %d bytes, want the %d imported", len(got), len(data))
	}
	var stdout strings.Builder
	n := 0
	if err := a.RestoreFile(t.Context(), repo, m, "-", &stdout, false, nil, func(k int) { n += k }); err != nil || stdout.String() != string(data) || n != len(data) {
		t.Errorf("restore to stdout: %d bytes (counted %d), %v", stdout.Len(), n, err)
	}
	if err := a.RestoreFile(t.Context(), repo, m, out, nil, false, nil, nil); err == nil {
		t.Error("restore over an existing file without overwrite succeeded")
	}
}

// TestBackupNowAndConfig: rdbak now of an ad hoc target calls Stored
// with the committed backup; --all reports one outcome per target.
func TestBackupNowAndConfig(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	_, url, repo := fileStore(t)
	a := &App{Log: quiet(), Version: "test", CallerReports: true}
	var stored *storage.Manifest
	started := false
	o := NowOptions{Progress: &backup.Progress{}, Started: func() { started = true },
		Stored: func(m *storage.Manifest) error { stored = m; return nil }}
	m, err := a.BackupNow(t.Context(), Request{Storage: url, Target: "cache", Log: quiet()}, &Adhoc{Redis: "redis://" + src.Addr}, kubeFlags(t), o)
	if err != nil || !started || stored == nil || stored.ID != m.ID {
		t.Fatalf("BackupNow: %v, %v (started %v, stored %v)", m, err, started, stored)
	}
	o.Stored = func(*storage.Manifest) error { return context.Canceled }
	if _, err := a.BackupNow(t.Context(), Request{Storage: url, Target: "cache", Log: quiet()}, &Adhoc{Redis: "redis://" + src.Addr}, kubeFlags(t), o); !errors.Is(err, context.Canceled) {
		t.Errorf("Stored's error: %v", err)
	}

	cfg := writeFile(t, t.TempDir(), "rdbak.yaml", "storage: "+url+"\ntargets:\n  - {name: one, redis: \"redis://"+src.Addr+"\"}\n  - {name: two, redis: \"redis://127.0.0.1:1\"}\n")
	if _, err := a.BackupConfig(t.Context(), Request{Storage: url, Log: quiet()}, &Adhoc{}, kubeFlags(t), NowOptions{}, 0); !isUsage(err) {
		t.Errorf("--all without --config: %v", err)
	}
	if _, err := a.BackupConfig(t.Context(), Request{Config: cfg, Target: "one", Log: quiet()}, &Adhoc{}, kubeFlags(t), NowOptions{}, 0); !isUsage(err) {
		t.Errorf("--all with --target: %v", err)
	}
	outs, err := a.BackupConfig(t.Context(), Request{Config: cfg, Log: quiet()}, &Adhoc{}, kubeFlags(t), NowOptions{Timeout: time.Minute}, 2)
	if err != nil || len(outs) != 2 || outs[0].Result != ResultSuccess || outs[1].Result != ResultFailure {
		t.Fatalf("--all: %+v, %v; want one success, one failure", outs, err)
	}
	if ms, _, _ := repo.List(t.Context(), "one"); len(ms) != 1 {
		t.Errorf("target one has %d backups, want 1", len(ms))
	}
}

// TestPlanRestoreInto: the backup is taken from the --from-target's (or
// the target's own) backups, and an encrypted one needs an identity,
// before anything in the cluster is asked.
func TestPlanRestoreInto(t *testing.T) {
	_, url, repo := fileStore(t)
	now := time.Now()
	id := storage.NewID(now)
	testenv.PutBackup(t, repo, "src", id, now)
	a := &App{Log: quiet(), CallerReports: true}
	req := Request{Storage: url, Target: "dst", Log: quiet()}
	k := kubeFlags(t, "-n", "prod")
	k.Pod = "redis-0"
	if _, err := a.PlanRestoreInto(t.Context(), req, k, RestoreRequest{Ref: "latest"}, RestoreOptions{}); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("no backups of dst: %v, want ErrNotFound", err)
	}
	m, err := repo.Get(t.Context(), "src", id)
	if err != nil {
		t.Fatal(err)
	}
	m.Data.Encryption = &storage.Encryption{Scheme: "age", Recipients: []string{"age1x"}}
	if err := repo.Commit(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PlanRestoreInto(t.Context(), req, k, RestoreRequest{Ref: "latest", FromTarget: "x/../src"}, RestoreOptions{}); !isUsage(err) {
		t.Errorf("--from-target x/../src: %v, want a usage error", err)
	}
	if _, err := a.PlanRestoreInto(t.Context(), req, k, RestoreRequest{Ref: "latest", FromTarget: "src"}, RestoreOptions{}); !errors.Is(err, restore.ErrNeedIdentity) {
		t.Errorf("an encrypted backup without identity: %v, want ErrNeedIdentity", err)
	}
}
