package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/internal/testenv"
)

// TestDrillCommand: rdbak drill succeeds (exit 0) and fails on a failing
// check (exit 4, the reason on stderr); list --drills, describe and status
// show the drills; -o json prints the record.
func TestDrillCommand(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	c := src.Client(t)
	if err := c.Set(t.Context(), "config:site", "example.org", 0).Err(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf(`storage: file://%s
defaults:
  drill:
    checks: [{command: "GET config:site", expect: "example.org"}]
targets:
  - name: cache
    redis: redis://%s
  - name: broken
    redis: redis://%s
    drill:
      checks: [{command: "EXISTS config:missing", expect: "1"}]
`, dir, src.Addr, src.Addr))
	run(t, nil, "now", "--config", cfg, "--target", "cache").want(t, 0)
	run(t, nil, "now", "--config", cfg, "--target", "broken").want(t, 0)

	r := run(t, nil, "drill", "--config", cfg, "--target", "cache")
	r.want(t, 0, "drill succeeded")
	for _, s := range []string{"OK drill of cache/", "check: GET config:site", "db0 types"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("drill output lacks %q:\n%s", s, r.stdout)
		}
	}
	r = run(t, nil, "drill", "--config", cfg, "--target", "broken", "latest", "-o", "json")
	r.want(t, exitVerify, `check: EXISTS config:missing: replied "0", expected "1"`)
	var rec struct {
		Result, Reason string
		Checks         []struct{ Name string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &rec); err != nil || rec.Result != "failure" || len(rec.Checks) == 0 {
		t.Errorf("drill -o json = %q (%v), want the failed record", r.stdout, err)
	}
	r = run(t, nil, "drill", "--config", cfg, "--all")
	r.want(t, exitVerify, "broken")
	if !strings.Contains(r.stdout, "OK drill of cache/") || !strings.Contains(r.stdout, "FAILED drill of broken/") {
		t.Errorf("drill --all output:\n%s", r.stdout)
	}

	r = run(t, nil, "list", "--config", cfg, "--drills")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "LAST DRILL") || !strings.Contains(r.stdout, "success") || !strings.Contains(r.stdout, "failure") {
		t.Errorf("list --drills:\n%s", r.stdout)
	}
	r = run(t, nil, "describe", "--config", cfg, "--target", "broken", "latest")
	r.want(t, 0)
	if strings.Count(r.stdout, "failure on redis") != 2 {
		t.Errorf("describe shows not the 2 failed drills of broken:\n%s", r.stdout)
	}
	r = run(t, nil, "status", "--config", cfg, "-o", "json")
	r.want(t, 0)
	var st []struct {
		Target    string
		LastDrill *struct{ Result string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st) != 2 || st[0].LastDrill == nil || st[0].LastDrill.Result != "success" || st[1].LastDrill.Result != "failure" {
		t.Errorf("status -o json = %s (%v)", r.stdout, err)
	}

	// Bad usage.
	run(t, nil, "drill", "--config", cfg, "--all", "--target", "cache").want(t, exitUsage, "not both")
	run(t, nil, "drill", "--config", cfg, "--all", "2026").want(t, exitUsage, "latest backup")
}

// TestDrillEncryptedCLI: an encrypted backup drilled without an identity
// is a usage error (exit 2) that names what to give, and leaves no drill
// record (the backup is not at fault); with a wrong identity the drill
// fails and is recorded (nobody could restore it); with the right one it
// succeeds.
func TestDrillEncryptedCLI(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	dir := t.TempDir()
	store := "file://" + filepath.Join(dir, "repo")
	key, rec := newAgeKey(t, dir, "key.txt")
	wrong, _ := newAgeKey(t, dir, "wrong.txt")
	r := run(t, nil, "now", "--redis", "redis://"+src.Addr, "--storage", store, "--target", "cache", "--encrypt-recipient", rec)
	r.want(t, 0)
	id := strings.TrimSpace(r.stdout)
	records := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, "repo", "cache", id, "drill-*.json"))
		return m
	}

	run(t, nil, "drill", id, "--storage", store, "--target", "cache").want(t, exitUsage, "encrypted", "--identity-file", "encryption.identityFile", "identitySecret", "none is recorded")
	if got := records(); len(got) != 0 {
		t.Fatalf("a drill without identity recorded %v, want no record", got)
	}
	run(t, nil, "drill", id, "--storage", store, "--target", "cache", "--identity-file", wrong).want(t, exitVerify, "verify", "identities")
	if got := records(); len(got) != 1 {
		t.Fatalf("drill with a wrong identity: records %v, want one (failed)", got)
	}
	run(t, nil, "drill", id, "--storage", store, "--target", "cache", "--identity-file", key).want(t, 0, "drill succeeded")
	if got := records(); len(got) != 2 {
		t.Fatalf("drill with the identity: records %v, want two", got)
	}
}
