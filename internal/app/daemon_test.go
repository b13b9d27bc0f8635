package app

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rdbak/rdbak/backup"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/daemon"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// TestDaemonLoader: the config file becomes the daemon's typed Config:
// its settings, each target's schedule, its backup (with the config in
// force) and what follows it.
func TestDaemonLoader(t *testing.T) {
	_, url, repo := fileStore(t)
	var beats atomic.Int32
	hb := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { beats.Add(1) }))
	defer hb.Close()
	yaml := "storage: " + url + "\ndaemon: {listen: \":9191\", concurrency: 3, shutdownGrace: 7s, orphanGrace: 1h, leaderElection: {enabled: true, name: lease, leaseDuration: 20s}}\n" +
		"targets:\n  - {name: a, redis: \"redis://:pw@h:1\", schedule: \"@every 1m\", jitter: 5s, retention: {keepLast: 1}, heartbeat: {url: \"" + hb.URL + "\"}}\n  - {name: manual, redis: \"redis://h:2\"}\n"
	var ran []string
	run := func(_ context.Context, cfg *config.File, t *config.Target, _ *storage.Repo) (*backup.Result, error) {
		ran = append(ran, t.Name+"@"+cfg.Storage)
		return nil, nil
	}
	a := &App{Log: quiet()}
	load := a.DaemonLoader("rdbak.yaml", run, hb.Client())
	if _, err := load([]byte("targets: [")); err == nil || !strings.Contains(err.Error(), "rdbak.yaml") {
		t.Errorf("a bad file: %v, want an error naming it", err)
	}
	cfg, err := load([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	want := daemon.LeaderElection{Enabled: true, Name: "lease", LeaseDuration: 20 * time.Second, RenewDeadline: cfg.LeaderElection.RenewDeadline, RetryPeriod: cfg.LeaderElection.RetryPeriod}
	if cfg.Listen != ":9191" || cfg.Concurrency != 3 || cfg.ShutdownGrace != 7*time.Second || cfg.LeaderElection != want || len(cfg.Warnings) != 2 {
		t.Errorf("settings %+v, want the file's, with warnings of a's URL password and of manual's missing schedule", cfg)
	}
	if len(cfg.Targets) != 2 || cfg.Targets[0].Schedule.IsZero() || cfg.Targets[0].Jitter != 5*time.Second || !cfg.Targets[1].Schedule.IsZero() || cfg.Targets[1].Storage != url {
		t.Fatalf("targets %+v", cfg.Targets)
	}
	for _, tg := range cfg.Targets {
		if _, err := tg.Backup(t.Context(), repo); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Join(ran, ",") != "a@"+url+",manual@"+url {
		t.Errorf("backups ran as %v", ran)
	}
	now := time.Now()
	testenv.PutBackup(t, repo, "a", storage.NewID(now.Add(-time.Minute)), now.Add(-time.Minute))
	testenv.PutBackup(t, repo, "a", storage.NewID(now), now)
	old := now.Add(-2 * time.Hour)
	dir := strings.TrimPrefix(url, "file://")
	orphan(t, dir, "a", old)
	got := cfg.Targets[0].After(t.Context(), repo, now)
	if got != (daemon.Aftermath{PrunedBackups: 1, DeletedOrphans: 1}) || beats.Load() != 1 {
		t.Errorf("after: %+v with %d heartbeats, want 1 pruned, 1 orphan (older than orphanGrace 1h), 1 heartbeat", got, beats.Load())
	}
	hb.Close()
	if got := cfg.Targets[0].After(t.Context(), repo, now); !got.HeartbeatFailed {
		t.Errorf("after with the heartbeat down: %+v", got)
	}
}
