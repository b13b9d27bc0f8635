package daemon_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/daemon"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// fakeBackup writes a real (tiny) backup with the clock's time: data
// first, manifest last, as backup.Run does. A target listed in block
// waits for a value on it, or for cancellation.
type fakeBackup struct {
	clk     *testenv.FakeClock
	block   map[string]chan struct{}
	started chan string
	mu      sync.Mutex
	ids     map[string][]string
	errs    chan error
}

func (f *fakeBackup) run(ctx context.Context, _ *config.File, t *config.Target, repo *storage.Repo) (*backup.Result, error) {
	f.started <- t.Name
	if ch := f.block[t.Name]; ch != nil {
		select {
		case <-ch:
		case <-ctx.Done():
			err := fmt.Errorf("stream RDB: %w", context.Cause(ctx))
			f.errs <- err
			return nil, err
		}
	}
	at := f.clk.Now()
	m := &storage.Manifest{Format: storage.ManifestFormat, ID: storage.NewID(at), Target: t.Name, Created: at, Finished: at,
		Data: storage.Data{Name: "dump.rdb", RawSize: 100, StoredSize: 40}}
	if t.Name == "b" {
		m.RDB.Structure = "not-parsed: RDB version 16 is newer than this rdbak (REDIS 1..15 known)"
	}
	up, err := repo.Create(ctx, t.Name, m.ID, m.Data.Name)
	if err != nil {
		return nil, err
	}
	if _, err := up.Write([]byte("data")); err != nil {
		return nil, errors.Join(err, up.Abort(ctx))
	}
	if err := up.Commit(); err != nil {
		return nil, err
	}
	if err := repo.Commit(ctx, m); err != nil {
		return nil, err
	}
	f.mu.Lock()
	f.ids[t.Name] = append(f.ids[t.Name], m.ID)
	f.mu.Unlock()
	cow := int64(-1)
	if t.Name == "a" {
		cow = 4096
	}
	return &backup.Result{Manifest: m, Snapshot: time.Second, Stream: 2 * time.Second, Commit: time.Millisecond, CowBytes: cow}, nil
}

type testDaemon struct {
	clk    *testenv.FakeClock
	fb     *fakeBackup
	cfg    string
	store  string
	base   string
	reload chan os.Signal
	logs   *testenv.Buffer
	cancel context.CancelFunc
	done   chan error
}

func startDaemon(t *testing.T, cfgYAML string, block ...string) *testDaemon {
	t.Helper()
	return startDaemonWith(t, cfgYAML, nil, block...)
}

// startDaemonWith is startDaemon with mod applied to the application layer
// and the options before the daemon starts.
func startDaemonWith(t *testing.T, cfgYAML string, mod func(*app.App, *daemon.Options), block ...string) *testDaemon {
	t.Helper()
	dir := t.TempDir()
	td := &testDaemon{
		clk:    testenv.NewFakeClock(time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)),
		cfg:    filepath.Join(dir, "rdbak.yaml"),
		store:  filepath.Join(dir, "store"),
		reload: make(chan os.Signal),
		logs:   &testenv.Buffer{},
		done:   make(chan error, 1),
	}
	td.fb = &fakeBackup{clk: td.clk, block: map[string]chan struct{}{}, started: make(chan string, 100), ids: map[string][]string{}, errs: make(chan error, 10)}
	for _, b := range block {
		td.fb.block[b] = make(chan struct{})
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	td.base = "http://" + ln.Addr().String()
	td.write(t, cfgYAML)
	ctx, cancel := context.WithCancel(context.Background())
	td.cancel = cancel
	log := slog.New(slog.NewTextHandler(td.logs, nil))
	a := &app.App{Log: log}
	o := daemon.Options{ConfigPath: td.cfg, Listener: ln, Reload: td.reload, Clock: td.clk, Log: log}
	if mod != nil {
		mod(a, &o)
	}
	o.Load = a.DaemonLoader(td.cfg, td.fb.run, nil)
	go func() { td.done <- daemon.Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		for _, ch := range td.fb.block {
			close(ch)
		}
		select {
		case <-td.done:
		case <-time.After(20 * time.Second):
			t.Error("the daemon did not stop")
		}
		if t.Failed() {
			t.Logf("daemon log:\n%s", td.logs)
		}
	})
	td.waitHTTP(t)
	return td
}

func (td *testDaemon) write(t *testing.T, cfgYAML string) {
	t.Helper()
	body := strings.ReplaceAll(cfgYAML, "STORE", "file://"+td.store)
	if err := os.WriteFile(td.cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

func (td *testDaemon) waitHTTP(t *testing.T) {
	t.Helper()
	for range 2000 { // a hang guard, not a timing assertion
		select {
		case err := <-td.done:
			t.Fatalf("the daemon stopped: %v\n%s", err, td.logs)
		default:
		}
		if resp, err := http.Get(td.base + "/healthz"); err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the daemon never listened")
}

// scrape returns the samples of /metrics, keyed name{labels} as exposed.
func (td *testDaemon) scrape(t *testing.T) map[string]float64 {
	t.Helper()
	resp, err := http.Get(td.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metric line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// waitMetric waits until the sample key has value want.
func (td *testDaemon) waitMetric(t *testing.T, key string, want float64) map[string]float64 {
	t.Helper()
	var got map[string]float64
	for range 2000 { // a hang guard, not a timing assertion
		got = td.scrape(t)
		if got[key] == want {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s = %v, want %v", key, got[key], want)
	return nil
}

// waitMetrics scrapes until ok accepts the metrics.
func (td *testDaemon) waitMetrics(t *testing.T, what string, ok func(map[string]float64) bool) {
	t.Helper()
	var got map[string]float64
	for range 2000 { // a hang guard, not a timing assertion
		if got = td.scrape(t); ok(got) {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("never saw %s: %v", what, got)
}

func (td *testDaemon) list(t *testing.T, target string) []string {
	t.Helper()
	repo, err := storage.Open(t.Context(), "file://"+td.store, storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	ms, _, err := repo.List(t.Context(), target)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDaemonBackupsRetentionAndMetrics(t *testing.T) {
	var beats atomic.Int32
	hb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && r.URL.Path == "/ping/token" {
			beats.Add(1)
		}
	}))
	defer hb.Close()
	td := startDaemon(t, `
storage: STORE
defaults: {schedule: "@every 1m"}
targets:
  - name: a
    redis: redis://127.0.0.1:1
    retention: {keepLast: 2}
    heartbeat: {url: "`+hb.URL+`/ping/token", method: POST}
  - name: b
    redis: redis://127.0.0.1:2
  - name: manual
    redis: redis://127.0.0.1:3
    schedule: "@every 1h"
`)
	m := td.scrape(t)
	for _, key := range []string{`rdbak_backup_total{result="success",target="a"}`, `rdbak_backup_total{result="failure",target="b"}`, `rdbak_backup_skipped_total{target="a"}`, `rdbak_leader`} {
		if _, ok := m[key]; !ok {
			t.Errorf("%s is not exposed before the first backup", key)
		}
	}
	if code, body := get(t, td.base+"/readyz"); code != 200 {
		t.Errorf("/readyz = %d %s", code, body)
	}
	// The first backups run at start, as storage has none yet; then every
	// minute.
	for i := 1; i <= 5; i++ {
		if i > 1 {
			td.clk.WaitFor(t, time.Minute)
			td.clk.Advance(time.Minute)
		}
		td.waitMetric(t, `rdbak_backup_total{result="success",target="a"}`, float64(i))
		td.waitMetric(t, `rdbak_backup_total{result="success",target="b"}`, float64(i))
		// Success is counted before retention runs; the next tick must
		// find both jobs finished, or it is skipped as overlapping.
		td.waitMetric(t, `rdbak_backup_in_progress{target="a"}`, 0)
		td.waitMetric(t, `rdbak_backup_in_progress{target="b"}`, 0)
	}
	td.waitMetric(t, `rdbak_backup_in_progress{target="manual"}`, 0)
	m = td.waitMetric(t, `rdbak_prune_deleted_total{kind="backup",target="a"}`, 3)
	td.fb.mu.Lock()
	idsA := td.fb.ids["a"]
	td.fb.mu.Unlock()
	if got, want := td.list(t, "a"), idsA[3:]; !equal(got, want) {
		t.Errorf("target a keeps %v, want the 2 newest %v", got, want)
	}
	if got := td.list(t, "b"); len(got) != 5 {
		t.Errorf("target b (no retention) keeps %d backups, want 5", len(got))
	}
	if n := beats.Load(); n != 5 {
		t.Errorf("heartbeat called %d times, want once per backup of a: 5", n)
	}
	wantLast := float64(td.clk.Now().Unix())
	checks := map[string]float64{
		`rdbak_backup_last_success_timestamp_seconds{target="a"}`:        wantLast,
		`rdbak_backup_bytes{kind="raw",target="a"}`:                      100,
		`rdbak_backup_bytes{kind="stored",target="b"}`:                   40,
		`rdbak_backup_duration_seconds_count{phase="stream",target="a"}`: 5,
		`rdbak_backup_duration_seconds_sum{phase="total",target="b"}`:    5 * 3.001,
		// Once at start, then not within its hour.
		`rdbak_backup_total{result="success",target="manual"}`: 1,
		`rdbak_prune_deleted_total{kind="backup",target="b"}`:  0,
		`rdbak_backup_in_progress{target="a"}`:                 0,
		`rdbak_bgsave_cow_bytes{target="a"}`:                   4096,
		`rdbak_backup_rdb_structure_verified{target="a"}`:      1,
		`rdbak_backup_rdb_structure_verified{target="b"}`:      0,
		`rdbak_leader`: 1,
		// The fake clock stands still while runs start: no lateness.
		`rdbak_schedule_start_lateness_seconds_count{kind="backup"}`:            11,
		`rdbak_schedule_start_lateness_seconds_bucket{kind="backup",le="0.01"}`: 11,
	}
	for key, want := range checks {
		if got, ok := m[key]; !ok || fmt.Sprintf("%.3f", got) != fmt.Sprintf("%.3f", want) {
			t.Errorf("%s = %v (exposed %v), want %v", key, got, ok, want)
		}
	}
	if _, ok := m[`rdbak_bgsave_cow_bytes{target="b"}`]; ok {
		t.Error("rdbak_bgsave_cow_bytes is exposed for b, whose cost is unknown")
	}
	if !strings.Contains(td.logs.String(), "backup pruned") {
		t.Errorf("no log line for pruned backups:\n%s", td.logs)
	}
}

func TestDaemonSkipsOverlap(t *testing.T) {
	td := startDaemon(t, "storage: STORE\ntargets:\n  - {name: slow, redis: \"redis://h:1\", schedule: \"@every 1m\"}\n", "slow")
	<-td.fb.started // at start: storage has no backup of it
	td.waitMetric(t, `rdbak_backup_in_progress{target="slow"}`, 1)
	td.clk.WaitFor(t, time.Minute)
	td.clk.Advance(time.Minute)
	td.waitMetric(t, `rdbak_backup_skipped_total{target="slow"}`, 1)
	td.fb.block["slow"] <- struct{}{}
	td.waitMetric(t, `rdbak_backup_total{result="success",target="slow"}`, 1)
	if !strings.Contains(td.logs.String(), "backup skipped") {
		t.Errorf("no log line for the skip:\n%s", td.logs)
	}
}

func TestDaemonReload(t *testing.T) {
	td := startDaemon(t, "storage: STORE\ntargets:\n  - {name: a, redis: \"redis://h:1\", schedule: \"@every 1m\"}\n  - {name: b, redis: \"redis://h:2\", schedule: \"@every 1m\"}\n")
	// Backed up at start (storage has none), then every minute.
	td.waitMetric(t, `rdbak_backup_total{result="success",target="a"}`, 1)
	td.waitMetric(t, `rdbak_backup_total{result="success",target="b"}`, 1)
	td.clk.WaitFor(t, time.Minute)

	// A bad config is refused; the running one stays.
	td.write(t, "storage: STORE\ntargets:\n  - {name: a, redis: \"redis://h:1\", schedule: \"@every 1 minute\"}\n")
	td.reload <- syscall.SIGHUP
	td.waitMetric(t, `rdbak_config_reload_total{result="failure"}`, 1)
	if !strings.Contains(td.logs.String(), "config reload failed") || !strings.Contains(td.logs.String(), "targets[0].schedule") {
		t.Errorf("the refusal does not say why:\n%s", td.logs)
	}
	// A config that schedules nothing is refused too.
	td.write(t, "storage: STORE\ntargets:\n  - {name: a, redis: \"redis://h:1\"}\n")
	td.reload <- syscall.SIGHUP
	td.waitMetric(t, `rdbak_config_reload_total{result="failure"}`, 2)
	td.clk.Advance(time.Minute)
	td.waitMetric(t, `rdbak_backup_total{result="success",target="a"}`, 2)
	td.waitMetric(t, `rdbak_backup_total{result="success",target="b"}`, 2)

	// A good one drops b and adds c, which has no backup: it runs at once.
	td.clk.WaitFor(t, time.Minute)
	td.write(t, "storage: STORE\ntargets:\n  - {name: a, redis: \"redis://h:1\", schedule: \"@every 1m\"}\n  - {name: c, redis: \"redis://h:3\", schedule: \"@every 30s\"}\n")
	td.reload <- syscall.SIGHUP
	td.waitMetric(t, `rdbak_config_reload_total{result="success"}`, 1)
	td.waitMetrics(t, "b's series gone and c's there", func(m map[string]float64) bool {
		_, b := m[`rdbak_backup_total{result="success",target="b"}`]
		_, c := m[`rdbak_backup_total{result="success",target="c"}`]
		return !b && c
	})
	td.waitMetric(t, `rdbak_backup_total{result="success",target="c"}`, 1)
	td.clk.WaitFor(t, 30*time.Second)
	td.clk.Advance(30 * time.Second)
	td.waitMetric(t, `rdbak_backup_total{result="success",target="c"}`, 2)
	td.clk.WaitFor(t, 30*time.Second)
	td.clk.Advance(30 * time.Second)
	td.waitMetric(t, `rdbak_backup_total{result="success",target="a"}`, 3)
	if got := len(td.list(t, "b")); got != 2 {
		t.Errorf("b has %d backups, want the 2 from before the reload", got)
	}
}

// TestDaemonShutdownGrace: on shutdown a backup in flight may finish
// within the grace period; one still running after it is cancelled.
func TestDaemonShutdownGrace(t *testing.T) {
	td := startDaemon(t, "storage: STORE\ndaemon: {shutdownGrace: 10s}\ntargets:\n  - {name: quick, redis: \"redis://h:1\", schedule: \"@every 1m\"}\n  - {name: stuck, redis: \"redis://h:2\", schedule: \"@every 1m\"}\n", "quick", "stuck")
	td.clk.WaitFor(t, time.Minute)
	td.clk.Advance(time.Minute)
	<-td.fb.started
	<-td.fb.started
	td.cancel()
	td.clk.WaitFor(t, 10*time.Second)
	if code, _ := get(t, td.base+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while shutting down = %d, want 503", code)
	}
	td.fb.block["quick"] <- struct{}{} // finishes within the grace period
	td.waitMetric(t, `rdbak_backup_total{result="success",target="quick"}`, 1)
	td.clk.Advance(10 * time.Second)
	err := <-td.fb.errs
	if !strings.Contains(err.Error(), "grace period ended") {
		t.Errorf("the stuck backup ended with %v, want cancellation naming the grace period", err)
	}
	if err := <-td.done; err != nil {
		t.Errorf("Run = %v, want a clean shutdown", err)
	}
	td.done <- nil // for the cleanup
	if len(td.list(t, "quick")) != 1 || len(td.list(t, "stuck")) != 0 {
		t.Errorf("quick has %v, stuck %v; want one backup and none", td.list(t, "quick"), td.list(t, "stuck"))
	}
}

// TestDaemonRestartAnchorsToLastSuccess: a daemon backs up at once the
// targets whose newest backup in storage is older than their interval, or
// that have none, and counts the others' interval from their newest
// backup, not from its own start: restarted more often than @every, it
// still backs up. A target opted out with schedule: "" is named in a
// warning.
func TestDaemonRestartAnchorsToLastSuccess(t *testing.T) {
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC) // startDaemon's clock
	td := startDaemonWith(t, `
storage: STORE
defaults: {schedule: "@every 1m"}
targets:
  - {name: fresh, redis: "redis://h:1"}
  - {name: overdue, redis: "redis://h:2"}
  - {name: recent, redis: "redis://h:3"}
  - {name: forgot, redis: "redis://h:4", schedule: ""}
`, func(_ *app.App, o *daemon.Options) {
		// What the previous daemon process backed up.
		repo, err := storage.Open(t.Context(), "file://"+filepath.Join(filepath.Dir(o.ConfigPath), "store"), storage.Options{Create: true})
		if err != nil {
			t.Fatal(err)
		}
		defer repo.Close()
		testenv.PutBackup(t, repo, "overdue", storage.NewID(start.Add(-2*time.Minute)), start.Add(-2*time.Minute))
		// Finished 40s before the start.
		testenv.PutBackup(t, repo, "recent", storage.NewID(start.Add(-41*time.Second)), start.Add(-41*time.Second))
	})
	got := map[string]bool{td.started(t): true, td.started(t): true}
	if !got["fresh"] || !got["overdue"] {
		t.Fatalf("started %v at once, want fresh and overdue", got)
	}
	td.clk.WaitFor(t, 20*time.Second) // a minute after recent's last backup
	select {
	case name := <-td.fb.started:
		t.Fatalf("%s started before its time", name)
	default:
	}
	td.clk.Advance(20 * time.Second)
	if name := td.started(t); name != "recent" {
		t.Fatalf("started %s, want recent", name)
	}
	td.waitMetric(t, `rdbak_backup_total{result="success",target="recent"}`, 1)
	logs := td.logs.String()
	if !strings.Contains(logs, "targets[3] (forgot) has no schedule: the daemon will not back it up") || !strings.Contains(logs, "backups=3 drills=0") {
		t.Errorf("the log does not name the unscheduled target or count backups and drills apart:\n%s", logs)
	}
}

// started returns the next target whose backup started.
func (td *testDaemon) started(t *testing.T) string {
	t.Helper()
	select {
	case name := <-td.fb.started:
		return name
	case <-time.After(20 * time.Second): // a hang guard, not a timing assertion
		t.Fatal("no backup started")
		return ""
	}
}

func TestDaemonRefusesBadStart(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"invalid":    "storage: file:///x\ntargets:\n  - {name: a, redis: \"redis://h:1\", schedule: \"* * *\"}\n",
		"nothing":    "storage: file:///x\ntargets:\n  - {name: a, redis: \"redis://h:1\"}\n",
		"no elector": "storage: file:///x\ndaemon: {leaderElection: {enabled: true}}\ntargets:\n  - {name: a, redis: \"redis://h:1\", schedule: \"@daily\"}\n",
	} {
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		a := &app.App{Log: slog.New(slog.DiscardHandler)}
		// A Run that starts returns (nil) at the deadline: a hang guard.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		err := daemon.Run(ctx, daemon.Options{ConfigPath: path, Load: a.DaemonLoader(path, a.ScheduledBackup, nil), Listen: "127.0.0.1:0", Log: a.Log})
		cancel()
		if err == nil {
			t.Errorf("%s: Run started", name)
		}
	}
}

// TestDaemonDrillsOnly: a daemon that only drills (the backups come from a
// CronJob) starts, and says plainly that it backs nothing up: drill
// defaults with the backup schedule forgotten look the same.
func TestDaemonDrillsOnly(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rdbak.yaml")
	body := "storage: file:///x\ndefaults: {drill: {schedule: \"@every 1h\"}, retention: {keepDaily: 7}}\ntargets:\n  - {name: a, redis: \"redis://h:1\"}\n  - {name: b, redis: \"redis://h:2\"}\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var logs testenv.Buffer
	a := &app.App{Log: slog.New(slog.NewTextHandler(&logs, nil))}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer cancel()
	if err := daemon.Run(ctx, daemon.Options{ConfigPath: path, Load: a.DaemonLoader(path, a.ScheduledBackup, nil), Listen: "127.0.0.1:0", Log: a.Log}); err != nil {
		t.Fatalf("a daemon of drills only: %v, want it to run", err)
	}
	if !strings.Contains(logs.String(), "no target has a backup schedule: this daemon runs restore drills only") {
		t.Errorf("the daemon did not say it backs nothing up:\n%s", logs.String())
	}
}

func equal(a, b []string) bool {
	return fmt.Sprint(a) == fmt.Sprint(b)
}
