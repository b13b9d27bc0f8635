package daemon_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/daemon"
	"github.com/rdbak/rdbak/storage"
)

// fakeDrill stores a drill record of the latest backup, failing for the
// targets in fail, as app.ScheduledDrill does.
type fakeDrill struct {
	clk  interface{ Now() time.Time }
	fail map[string]bool
	ran  chan string

	mu       sync.Mutex
	outcomes []string // one line per drill, for failure messages
}

func (f *fakeDrill) run(ctx context.Context, _ *config.File, t *config.Target, repo *storage.Repo) (rec *drill.Record, err error) {
	defer func() {
		line := fmt.Sprintf("%s at %s: no record, error %v", t.Name, f.clk.Now().Format(time.TimeOnly), err)
		if rec != nil {
			line = fmt.Sprintf("%s at %s: backup %s, ok %v, error %v", t.Name, f.clk.Now().Format(time.TimeOnly), rec.BackupID, rec.OK(), err)
		}
		f.mu.Lock()
		f.outcomes = append(f.outcomes, line)
		f.mu.Unlock()
		f.ran <- t.Name
	}()
	sel, err := repo.Resolve(ctx, t.Name, "latest", storage.ResolveOptions{})
	if err != nil {
		return nil, err
	}
	now := f.clk.Now()
	rec = &drill.Record{Target: t.Name, BackupID: sel.Manifest.ID, Started: now.Add(-3 * time.Second), Checks: []drill.Check{{Name: "verify", OK: !f.fail[t.Name], Detail: "x"}}}
	rec.Finish(now)
	if _, err := drill.Save(ctx, repo, sel.Manifest, rec); err != nil {
		return rec, err
	}
	if !rec.OK() {
		return rec, errors.New("drill failed")
	}
	return rec, nil
}

// logOutcomes logs what each drill returned if t has failed: the daemon
// counts a drill without a record as failed and keeps its error to the
// drill's own log line, which a fake drill does not write.
func (f *fakeDrill) logOutcomes(t *testing.T) {
	t.Cleanup(func() {
		if t.Failed() {
			f.mu.Lock()
			defer f.mu.Unlock()
			t.Logf("drills run:\n%s", strings.Join(f.outcomes, "\n"))
		}
	})
}

// TestDaemonScheduledDrills: drills run on their own schedule, their
// outcomes are counted, the last success survives a restart (read from
// the stored records), and the schedule intervals are exposed for alerts.
func TestDaemonScheduledDrills(t *testing.T) {
	const cfg = `
storage: STORE
defaults:
  schedule: "@every 1m"
  drill: {schedule: "@every 5m"}
targets:
  - name: a
    redis: redis://127.0.0.1:1
  - name: b
    redis: redis://127.0.0.1:1
  - name: nodrill
    redis: redis://127.0.0.1:1
    drill: {schedule: ""}
`
	var fd *fakeDrill
	td := startDaemonWith(t, cfg, func(a *app.App, o *daemon.Options) {
		fd = &fakeDrill{clk: o.Clock, fail: map[string]bool{"b": true}, ran: make(chan string, 100)}
		a.Drills = fd.run
	})
	fd.logOutcomes(t)
	got := td.scrape(t)
	for key, want := range map[string]float64{
		`rdbak_backup_schedule_interval_seconds{target="a"}`: 60,
		`rdbak_drill_schedule_interval_seconds{target="a"}`:  300,
		`rdbak_drill_total{result="success",target="a"}`:     0,
		`rdbak_drill_total{result="failure",target="b"}`:     0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	if _, ok := got[`rdbak_drill_schedule_interval_seconds{target="nodrill"}`]; ok {
		t.Errorf("a target with drill.schedule \"\" has a drill interval")
	}
	// Backups of every target at start (storage has none) and every
	// minute; drills every 5 minutes.
	for i := 1; i <= 6; i++ {
		if i > 1 {
			td.clk.WaitFor(t, time.Minute)
			td.clk.Advance(time.Minute)
		}
		for _, name := range []string{"a", "b", "nodrill"} {
			td.waitMetric(t, `rdbak_backup_total{result="success",target="`+name+`"}`, float64(i))
			td.waitMetric(t, `rdbak_backup_in_progress{target="`+name+`"}`, 0)
		}
	}
	ran := map[string]bool{}
	for range 2 {
		select {
		case name := <-fd.ran:
			ran[name] = true
		case <-time.After(20 * time.Second): // a hang guard, not a timing assertion
			t.Fatalf("drills ran for %v only", ran)
		}
	}
	if !ran["a"] || !ran["b"] {
		t.Fatalf("drills ran for %v, want a and b", ran)
	}
	td.waitMetric(t, `rdbak_drill_total{result="success",target="a"}`, 1)
	got = td.waitMetric(t, `rdbak_drill_total{result="failure",target="b"}`, 1)
	last := got[`rdbak_drill_last_success_timestamp_seconds{target="a"}`]
	if want := float64(td.clk.Now().Unix()); last < want-60 || last > want {
		t.Errorf("drill last success of a = %v, want about %v", last, want)
	}
	if _, ok := got[`rdbak_drill_last_success_timestamp_seconds{target="b"}`]; ok {
		t.Errorf("b never drilled successfully but has a last success")
	}
	if got[`rdbak_drill_duration_seconds_count{target="b"}`] != 1 || got[`rdbak_drill_duration_seconds_sum{target="b"}`] != 3 {
		t.Errorf("drill duration of b: count %v sum %v, want 1 and 3", got[`rdbak_drill_duration_seconds_count{target="b"}`], got[`rdbak_drill_duration_seconds_sum{target="b"}`])
	}

	// A new daemon on the same storage reads the last success back.
	td2 := startDaemonWith(t, strings.ReplaceAll(cfg, "STORE", "file://"+td.store), func(a *app.App, o *daemon.Options) {
		a.Drills = (&fakeDrill{clk: o.Clock, ran: make(chan string, 100)}).run
	})
	td2.waitMetrics(t, "the drill last success read from storage", func(m map[string]float64) bool {
		return m[`rdbak_drill_last_success_timestamp_seconds{target="a"}`] == last
	})
}
