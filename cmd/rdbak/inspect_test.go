package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// TestInspectAndImport is the runbook after a manual `kubectl cp`: inspect
// the copied dump.rdb, import it, and restore it to the same digest; a
// damaged copy is refused by both, and nothing is stored.
func TestInspectAndImport(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 2)
	want := src.Digest(t)
	if err := src.Client(t).Save(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}
	dump := filepath.Join(src.Dir, "dump.rdb")

	r := run(t, nil, "inspect", dump)
	r.want(t, 0)
	for _, s := range []string{"Valid:", "yes: structure and CRC-64", "db0=", "LARGEST KEYS", "TYPE"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("inspect does not show %q:\n%s", s, r.stdout)
		}
	}
	r = run(t, nil, "inspect", dump, "-o", "json", "--top", "3")
	r.want(t, 0)
	var in struct {
		Valid   bool
		Largest []struct{ Key string }
		Types   map[string]struct{ Keys uint64 }
	}
	if err := json.Unmarshal([]byte(r.stdout), &in); err != nil || !in.Valid || len(in.Largest) != 3 || len(in.Types) == 0 {
		t.Fatalf("inspect -o json = %+v (%v):\n%s", in, err, r.stdout)
	}

	// A truncated copy: damaged (4); a missing file: unreadable (1).
	data, err := os.ReadFile(dump)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.rdb")
	if err := os.WriteFile(cut, data[:len(data)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, nil, "inspect", cut).want(t, exitVerify, "truncated")
	nope := filepath.Join(t.TempDir(), "nope.rdb")
	r = run(t, nil, "inspect", nope)
	r.want(t, exitFailed, "open "+nope+": no such file")
	if n := strings.Count(r.stderr, nope); n != 1 {
		t.Errorf("the error names the file %d times, want once:\n%s", n, r.stderr)
	}
	run(t, nil, "inspect", t.TempDir()).want(t, exitFailed, "it is a directory; give the path of the RDB file")

	store := "file://" + t.TempDir()
	run(t, nil, "import", cut, "--target", "sessions", "--storage", store).want(t, exitVerify)
	run(t, nil, "import", nope, "--target", "sessions", "--storage", store).want(t, exitFailed, "open "+nope+": no such file")
	run(t, nil, "import", t.TempDir(), "--target", "sessions", "--storage", store).want(t, exitFailed, "it is a directory")
	run(t, nil, "import", dump, "--storage", store).want(t, exitUsage, "--target")
	r = run(t, nil, "import", dump, "--target", "sessions", "--storage", store, "-o", "json")
	r.want(t, 0)
	var m storage.Manifest
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil {
		t.Fatal(err)
	}
	// Created is when Redis wrote the snapshot (ctime), not the import.
	ct := m.RDB.CTime
	if m.Source.Kind != "import" || m.Created.Unix() != ct || time.Since(m.Created) > time.Hour {
		t.Errorf("manifest source %q created %s, RDB ctime %d", m.Source.Kind, m.Created, ct)
	}
	r = run(t, nil, "list", "--storage", store, "-o", "json")
	r.want(t, 0)
	if strings.Count(r.stdout, `"id"`) != 1 {
		t.Errorf("want exactly the imported backup (the damaged import stored nothing):\n%s", r.stdout)
	}
	out := filepath.Join(t.TempDir(), "dump.rdb")
	run(t, nil, "restore", m.ID, "--storage", store, "--target", "sessions", "--to-file", out).want(t, 0)
	if got := testenv.StartRedis(t, testenv.RedisOptions{Dir: filepath.Dir(out)}).Digest(t); got != want {
		t.Fatalf("imported and restored digest %s, want %s", got, want)
	}
}
