package render

import (
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/drill"
	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/storage"
)

func TestDrillViews(t *testing.T) {
	ok := &drill.Record{Target: "cache", BackupID: "20261122T030000Z-abcd", Started: created, DurationSeconds: 2.5, Result: drill.ResultSuccess,
		Name: "drill-x.json", Scratch: drill.Scratch{Kind: "local", Server: drill.Server{Flavor: "redis", Version: "7.4.1"}},
		Checks: []drill.Check{{Name: "verify", OK: true, Detail: "sizes match"}, {Name: "db0 keys", OK: true, Detail: "3 keys,\nas in the backup"}}}
	bad := &drill.Record{Target: "cache", BackupID: "20261122T030000Z-abcd", Started: created.Add(time.Hour), Result: drill.ResultFailure,
		Reason: "verify: backup failed verification", Checks: []drill.Check{{Name: "verify", Detail: "stored SHA-256 is 00"}}}
	var b strings.Builder
	if err := Drill(&b, ok); err != nil {
		t.Fatal(err)
	}
	contains(t, "Drill", b.String(), "OK drill of cache/20261122T030000Z-abcd on redis 7.4.1 in 2.5s (record drill-x.json)", "db0 keys  ok      3 keys, as in the backup")
	b.Reset()
	if err := Drill(&b, bad); err != nil {
		t.Fatal(err)
	}
	contains(t, "Drill", b.String(), "FAILED drill of cache/", "on - in", "verify  FAILED  stored SHA-256 is 00")

	b.Reset()
	if err := Drills(&b, []drill.Record{*ok, *bad}); err != nil {
		t.Fatal(err)
	}
	contains(t, "Drills", b.String(), "Drills:  2026-11-22T03:00:00Z success on redis 7.4.1 in 2.5s", "2026-11-22T04:00:00Z failure on - in 0.0s: verify: backup failed verification")
	b.Reset()
	if err := Drills(&b, nil); err != nil {
		t.Fatal(err)
	}
	contains(t, "Drills", b.String(), "none")

	m := manifest()
	now := created.Add(3 * time.Hour)
	b.Reset()
	if err := ManifestsWithDrills(&b, []*storage.Manifest{m}, false, now, map[string]*app.DrillSummary{m.Target + "/" + m.ID: {Time: created.Add(time.Hour), Result: "failure"}}); err != nil {
		t.Fatal(err)
	}
	contains(t, "ManifestsWithDrills", b.String(), "LAST DRILL", "failure 2h ago")
	b.Reset()
	if err := Manifests(&b, []*storage.Manifest{m}, false, now); err != nil || strings.Contains(b.String(), "LAST DRILL") {
		t.Errorf("Manifests shows drills: %v\n%s", err, b.String())
	}
	b.Reset()
	if err := Statuses(&b, []app.TargetStatus{{Target: "cache", LastDrill: &app.DrillSummary{Time: created, BackupID: m.ID, Result: "success"}}, {Target: "other"}}, now); err != nil {
		t.Fatal(err)
	}
	contains(t, "Statuses", b.String(), "LAST DRILL", "success 3h ago ("+m.ID+")")
}
