package render

import (
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/storage"
)

func TestGCAndPruneSummaries(t *testing.T) {
	var b strings.Builder
	waiting, due := GCResult{Action: "not yet"}, GCResult{Action: "would delete"}
	for _, tt := range []struct {
		found []GCResult
		del   bool
		want  string
	}{
		{nil, false, "no garbage\n"},
		{[]GCResult{waiting, waiting}, false, "nothing collectable yet: 2 within the 24h0m0s grace (a running backup, or a failed one to collect later)\n"},
		{[]GCResult{waiting, due}, false, "dry run: pass --yes to delete\n"},
		{[]GCResult{waiting, {Action: "deleted"}}, true, ""}, // the lines said it all
	} {
		b.Reset()
		if err := GCSummary(&b, tt.found, 24*time.Hour, tt.del); err != nil || b.String() != tt.want {
			t.Errorf("GCSummary(%v, del %v) = %q, %v; want %q", tt.found, tt.del, b.String(), err, tt.want)
		}
	}
	for _, tt := range []struct {
		drops, orphans int
		del            bool
		want           string
	}{
		{0, 0, true, "nothing to delete\n"},
		{2, 1, false, "dry run: pass --yes to delete 2 backups and 1 orphan\n"},
		{0, 1, true, "deleted 0 backups and 1 orphan\n"},
		{1, 2, false, "dry run: pass --yes to delete 1 backup and 2 orphans\n"},
	} {
		b.Reset()
		if err := PruneSummary(&b, tt.drops, tt.orphans, tt.del); err != nil || b.String() != tt.want {
			t.Errorf("PruneSummary(%d, %d, %v) = %q, %v; want %q", tt.drops, tt.orphans, tt.del, b.String(), err, tt.want)
		}
	}
}

func TestValidated(t *testing.T) {
	var out, errs strings.Builder
	err := Validated(&out, &errs, []app.ValidateResult{
		{File: "a.yaml", OK: true, Targets: 2, Warnings: []string{"targets[0]: no schedule"}},
		{File: "b.yaml", Error: "line 3: unknown key"},
	})
	if err != nil || out.String() != "a.yaml: OK (2 targets)\n" || errs.String() != "a.yaml: warning: targets[0]: no schedule\n" {
		t.Errorf("got stdout %q stderr %q, %v", out.String(), errs.String(), err)
	}
}

func TestReplayLines(t *testing.T) {
	var b strings.Builder
	m := manifest()
	if err := ReplayIntent(&b, m, "redis://user:secret@10.0.0.1:6379"); err != nil {
		t.Fatal(err)
	}
	if want := "Replay backup cache/20261122T030000Z-abcd: 3 keys into redis://10.0.0.1:6379; keys of the same names are replaced.\n"; b.String() != want {
		t.Errorf("intent %q, want %q", b.String(), want)
	}
	b.Reset()
	m.Cluster = &storage.Cluster{Shards: make([]storage.Shard, 3)}
	if err := ReplayIntent(&b, m, "redis://10.0.0.1:6379"); err != nil || !strings.HasPrefix(b.String(), "Replay cluster backup set (3 shards) cache/") {
		t.Errorf("intent of a set %q, %v", b.String(), err)
	}

	b.Reset()
	rep := &app.ReplayReport{Target: "10.0.0.1:6379", Restored: 8, Expired: 1, Failed: 3, Functions: 1, Verify: 0.5, Replay: 2,
		Failures: []app.KeyFailure{{DB: 0, Key: "k", Node: "10.0.0.1:6379", Err: "OOM"}}}
	if err := Replayed(&b, manifest(), rep); err != nil {
		t.Fatal(err)
	}
	want := `cache/20261122T030000Z-abcd into 10.0.0.1:6379: 8 keys restored, 1 already expired, 3 failed; 1 function libraries (verify 0.5s, replay 2.0s, 4 keys/s)
FAILED db 0 key "k" on 10.0.0.1:6379: OOM
... and 2 more failed keys: every one is in the log (level warn)
`
	if b.String() != want {
		t.Errorf("report:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestThawed(t *testing.T) {
	for done, want := range map[bool]string{true: "put back the replica-priority a killed restore left at 0\n", false: "no failover freeze recorded; nothing to thaw\n"} {
		var b strings.Builder
		if err := Thawed(&b, done); err != nil || b.String() != want {
			t.Errorf("Thawed(%v) = %q, %v; want %q", done, b.String(), err, want)
		}
	}
}
