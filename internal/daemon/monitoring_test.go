package daemon_test

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/daemon"
)

// metricRE finds metric names in PromQL: rdbak's own and the process
// collector's that the rules use.
var metricRE = regexp.MustCompile(`\b(rdbak_[a-z_]+|process_[a-z_]+)\b`)

// TestMonitoringMetricsExist scrapes a running daemon, after a backup and a
// drill of each kind of outcome, and fails on any metric name that
// deploy/monitoring's alerting rules or dashboard use but the daemon does
// not expose: a renamed metric must not silence an alert.
func TestMonitoringMetricsExist(t *testing.T) {
	var used []string
	for _, f := range []string{"../../deploy/monitoring/prometheusrule.yaml", "../../deploy/monitoring/dashboard.json"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metricRE.FindAllString(string(b), -1) {
			if !slices.Contains(used, m) {
				used = append(used, m)
			}
		}
	}
	if len(used) < 10 {
		t.Fatalf("found only %v in deploy/monitoring", used)
	}
	var fd *fakeDrill
	td := startDaemonWith(t, `
storage: STORE
defaults:
  schedule: "@every 1m"
  drill: {schedule: "@every 2m"}
targets:
  - name: a
    redis: redis://127.0.0.1:1
  - name: b
    redis: redis://127.0.0.1:1
`, func(a *app.App, o *daemon.Options) {
		fd = &fakeDrill{clk: o.Clock, fail: map[string]bool{"b": true}, ran: make(chan string, 100)}
		a.Drills = fd.run
		o.Version = "test"
	})
	// Backups at start (storage has none) and at 1m, then at 2m backups
	// and drills of the 1m backups.
	for i := 1; i <= 3; i++ {
		if i > 1 {
			td.clk.WaitFor(t, time.Minute)
			td.clk.Advance(time.Minute)
		}
		for _, name := range []string{"a", "b"} {
			td.waitMetric(t, `rdbak_backup_total{result="success",target="`+name+`"}`, float64(i))
			td.waitMetric(t, `rdbak_backup_in_progress{target="`+name+`"}`, 0)
		}
	}
	td.waitMetric(t, `rdbak_drill_total{result="success",target="a"}`, 1)
	td.waitMetric(t, `rdbak_drill_total{result="failure",target="b"}`, 1)
	td.waitMetric(t, `rdbak_backup_in_progress{target="a"}`, 0)
	exposed := map[string]bool{}
	for key := range td.scrape(t) {
		name, _, _ := strings.Cut(key, "{")
		exposed[name] = true
	}
	for _, m := range used {
		if !exposed[m] {
			t.Errorf("deploy/monitoring uses %s, which the daemon does not expose", m)
		}
	}
}
