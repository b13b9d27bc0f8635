package app

import (
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

func TestStatusOf(t *testing.T) {
	now := time.Date(2026, 11, 27, 7, 30, 0, 0, time.UTC)
	ms := []*storage.Manifest{
		{ID: "a", Created: now.Add(-26 * time.Hour), Finished: now.Add(-26 * time.Hour).Add(time.Minute)},
		{ID: "b", Created: now.Add(-2 * time.Hour), Finished: now.Add(-2 * time.Hour).Add(time.Minute)},
	}
	next := time.Date(2026, 11, 28, 3, 0, 0, 0, time.UTC)
	// NEXT RUN is when the daemon would back up: @every counts from the
	// last success (finished), and an overdue target or one without a
	// backup is due now.
	anchored := now.Add(-2 * time.Hour).Add(time.Minute).Add(24 * time.Hour)
	tests := []struct {
		name     string
		schedule string
		ms       []*storage.Manifest
		wantLast string
		wantAge  time.Duration
		wantNext *time.Time
		wantErr  bool
	}{
		{"backups, scheduled", "CRON_TZ=UTC 0 3 * * *", ms, "b", 2 * time.Hour, &next, false},
		{"no backups yet", "CRON_TZ=UTC 0 3 * * *", nil, "", 0, &now, false},
		{"every, anchored to the last success", "@every 24h", ms, "b", 2 * time.Hour, &anchored, false},
		{"every, overdue", "@every 1h", ms, "b", 2 * time.Hour, &now, false},
		{"every, no backups yet", "@every 24h", nil, "", 0, &now, false},
		{"no schedule", "", ms, "b", 2 * time.Hour, nil, false},
		{"bad schedule", "every day", ms, "b", 2 * time.Hour, nil, true},
	}
	for _, tt := range tests {
		s, err := StatusOf(&config.Target{Name: "cache", Schedule: tt.schedule}, tt.ms, now)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: error %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if s.LastBackupID != tt.wantLast || s.Age != tt.wantAge || s.Backups != len(tt.ms) {
			t.Errorf("%s: got last %q age %s backups %d, want %q %s %d", tt.name, s.LastBackupID, s.Age, s.Backups, tt.wantLast, tt.wantAge, len(tt.ms))
		}
		if (s.NextRun == nil) != (tt.wantNext == nil) || s.NextRun != nil && !s.NextRun.Equal(*tt.wantNext) {
			t.Errorf("%s: next run %v, want %v", tt.name, s.NextRun, tt.wantNext)
		}
		if s.LastFailure != FailuresUnknown {
			t.Errorf("%s: last failure %q, want it said unknown", tt.name, s.LastFailure)
		}
	}
}

// TestStatusStorageDown: one target's storage that cannot be read does not
// hide the others' status; its status says why, and the error names it.
func TestStatusStorageDown(t *testing.T) {
	_, url, repo := fileStore(t)
	now := time.Now()
	id := storage.NewID(now)
	testenv.PutBackup(t, repo, "a", id, now)
	cfg := writeFile(t, t.TempDir(), "rdbak.yaml", "storage: "+url+`
targets:
  - {name: a, redis: redis://127.0.0.1:1}
  - {name: b, redis: redis://127.0.0.1:2, storage: "file:///nonexistent/rdbak"}
`)
	out, err := (Request{Config: cfg, Log: quiet()}).Status(t.Context(), now)
	if err == nil || !strings.Contains(err.Error(), "1 of 2 targets could not be read (b)") {
		t.Errorf("status with b's storage missing: %v, want an error naming b", err)
	}
	if len(out) != 2 || out[0].LastBackupID != id || out[0].Error != "" || out[1].Target != "b" || !strings.Contains(out[1].Error, "/nonexistent/rdbak") {
		t.Errorf("status = %+v, want a's last backup %s and b's storage error", out, id)
	}
}
