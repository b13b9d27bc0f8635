package restore

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// TestRemoveStaleTemps: a restore killed with SIGKILL leaves its hidden
// temporary file; the next restore to the same path removes it once it has
// not been written for a while, and leaves a running restore's file and
// everything not of its naming alone.
func TestRemoveStaleTemps(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	files := map[string]time.Duration{ // name → age
		".dump.rdb.rdbak-tmp-111":  time.Hour,   // killed long ago
		".dump.rdb.rdbak-tmp-222":  time.Minute, // a restore still writing
		".other.rdb.rdbak-tmp-333": time.Hour,   // another path's
		"dump.rdb":                 time.Hour,   // the live file
		".dump.rdb.tmp-444":        time.Hour,   // not rdbak's naming
	}
	for name, age := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, now.Add(-age), now.Add(-age)); err != nil {
			t.Fatal(err)
		}
	}
	got := removeStaleTemps(dir, "dump.rdb", now)
	if want := []string{filepath.Join(dir, ".dump.rdb.rdbak-tmp-111")}; !slices.Equal(got, want) {
		t.Fatalf("removed %v, want %v", got, want)
	}
	for name := range files {
		_, err := os.Stat(filepath.Join(dir, name))
		if gone := os.IsNotExist(err); gone != (name == ".dump.rdb.rdbak-tmp-111") {
			t.Errorf("%s: gone = %v", name, gone)
		}
	}
}
