package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/rdbak/rdbak/internal/app"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// writeConfig writes a config file with body and returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "rdbak.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAfterBackupFailure: a heartbeat that fails after a stored backup
// exits 5, not 1, and the backup's ID is printed all the same.
func TestAfterBackupFailure(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	cfg := writeConfig(t, fmt.Sprintf(`storage: file://%s
targets:
  - name: cache
    redis: redis://%s
    heartbeat: {url: "http://127.0.0.1:1/ping"}
`, t.TempDir(), src.Addr))
	r := run(t, nil, "now", "--config", cfg)
	r.want(t, exitAfter, "is stored, but what follows it failed", "heartbeat")
	if id := strings.TrimSpace(r.stdout); !storage.ValidID(id) {
		t.Errorf("stdout %q, want the stored backup's ID", r.stdout)
	}
}

// TestRestoreToStdout: --to-file - writes the RDB to stdout, byte for byte
// what --to-file PATH writes, and nothing else; logs go to stderr.
func TestRestoreToStdout(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	store := "file://" + t.TempDir()
	run(t, nil, "now", "--redis", "redis://"+src.Addr, "--storage", store, "--target", "cache").want(t, 0)
	out := filepath.Join(t.TempDir(), "dump.rdb")
	run(t, nil, "restore", "latest", "--storage", store, "--to-file", out).want(t, 0)
	want, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	r := run(t, nil, "restore", "latest", "--storage", store, "--to-file", "-")
	r.want(t, 0, "restore succeeded")
	if r.stdout != string(want) {
		t.Errorf("stdout has %d bytes, want the %d bytes of the RDB", len(r.stdout), len(want))
	}
	if _, err := os.Stat("-"); err == nil {
		t.Errorf("restore wrote a file named -")
	}
}

// TestHelpTexts: restore's Kubernetes flags say restore, the kubeconfig
// flags are listed apart, the restore image is this build's, and --version
// works.
func TestHelpTexts(t *testing.T) {
	r := run(t, nil, "restore", "--help")
	r.want(t, 0)
	for _, s := range []string{"restore into the Redis in this pod", "Kubeconfig flags", `default "rdbak.local/rdbak:test"`} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("restore --help lacks %q", s)
		}
	}
	if strings.Contains(r.stdout, "back up the Redis") {
		t.Errorf("restore --help describes its flags as backing up:\n%s", r.stdout)
	}
	own, kubectl := strings.Index(r.stdout, "--to-file"), strings.Index(r.stdout, "--kubeconfig")
	if own < 0 || kubectl < own || strings.Index(r.stdout, "Kubeconfig flags") > kubectl {
		t.Errorf("the kubeconfig flags are not listed after the command's own, under their title")
	}
	r = run(t, nil, "now", "--help")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "back up the Redis in this pod") {
		t.Errorf("now --help lacks the back-up wording")
	}
	r = run(t, nil, "--version")
	r.want(t, 0)
	if r.stdout != "rdbak test\n" {
		t.Errorf("--version printed %q", r.stdout)
	}
	r = run(t, nil, "--help")
	if !strings.Contains(r.stdout, "  5 ") {
		t.Errorf("--help does not document exit code 5")
	}
}

// TestOutputFormats: every command that prints a result prints it as JSON
// and YAML with -o, list has -o wide and filters, and an unknown format is
// refused before any work.
func TestOutputFormats(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	dir := t.TempDir()
	store := "file://" + dir
	cfg := writeConfig(t, fmt.Sprintf("storage: %s\ntargets:\n  - name: cache\n    redis: redis://%s\n    retention: {keepLast: 1}\n", store, src.Addr))
	var ids []string
	for range 3 {
		r := run(t, nil, "now", "--config", cfg, "--no-prune")
		r.want(t, 0)
		ids = append(ids, strings.TrimSpace(r.stdout))
	}
	oldOrphan(t, dir, "cache")
	tests := []struct {
		args []string
		key  string // a key every result has
	}{
		{[]string{"now", "--config", cfg, "--no-prune"}, "id"},
		{[]string{"list", "--storage", store}, "id"},
		{[]string{"describe", "latest", "--storage", store}, "id"},
		{[]string{"verify", "latest", "--storage", store}, "ok"},
		{[]string{"prune", "--config", cfg}, "backups"},
		{[]string{"prune", "--storage", store, "--keep-last", "2"}, "policy"},
		{[]string{"gc", "--storage", store}, "collectable"},
		{[]string{"config", "validate", cfg}, "targets"},
	}
	for _, tt := range tests {
		for _, format := range []string{"json", "yaml"} {
			r := run(t, nil, append(tt.args, "-o", format)...)
			r.want(t, 0)
			var v any
			var err error
			if format == "json" {
				err = json.Unmarshal([]byte(r.stdout), &v)
			} else {
				err = yaml.Unmarshal([]byte(r.stdout), &v)
			}
			if err != nil || !strings.Contains(r.stdout, tt.key) {
				t.Errorf("%v -o %s: %v, or no %q in:\n%s", tt.args, format, err, tt.key, r.stdout)
			}
		}
	}
	r := run(t, nil, "list", "--storage", store, "-o", "wide", "--last", "2")
	r.want(t, 0)
	// now -o json and -o yaml took two more backups: ids are not the last 2.
	if !strings.Contains(r.stdout, "COMPRESSION") || strings.Contains(r.stdout, ids[2]) || strings.Count(r.stdout, "\ncache ") != 2 {
		t.Errorf("list -o wide --last 2:\n%s", r.stdout)
	}
	r = run(t, nil, "list", "--storage", store, "--since", "1h", "-o", "json")
	r.want(t, 0)
	var ms []storage.Manifest
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil || len(ms) != 5 {
		t.Errorf("list --since 1h: %d backups (%v), want 5", len(ms), err)
	}
	run(t, nil, "list", "--storage", store, "--since", "2099-01-01", "-o", "json").want(t, 0)
	run(t, nil, "verify", "latest", "--storage", store, "-o", "wide").want(t, exitUsage, "--output")
	run(t, nil, "list", "--storage", store, "--since", "soon").want(t, exitUsage, "--since")
	// --as-of takes a time ago.
	out := filepath.Join(t.TempDir(), "dump.rdb")
	run(t, nil, "restore", "--as-of", "0h1s", "--storage", store, "--target", "cache", "--to-file", out).want(t, 0)
}

// TestErrorsOnce: a failed command prints its error once, on the rdbak:
// line; the log does not repeat it at the default level.
func TestErrorsOnce(t *testing.T) {
	r := run(t, nil, "now", "--redis", "redis://127.0.0.1:1", "--storage", "file://"+t.TempDir())
	r.want(t, exitFailed)
	if n := strings.Count(r.stderr, "connection refused"); n != 1 {
		t.Errorf("the error appears %d times, want once:\n%s", n, r.stderr)
	}
}

// TestDebugLog: --log-level debug shows the snapshot's state machine and
// the storage steps.
func TestDebugLog(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	r := run(t, nil, "now", "--redis", "redis://"+src.Addr, "--source", "file", "--storage", "file://"+t.TempDir(), "--log-level", "debug")
	r.want(t, 0, "snapshot: BGSAVE accepted", "snapshot: BGSAVE finished", "open the snapshot file", "data object committed", "manifest written")
}

// TestEnvDefaults: RDBAK_STORAGE and RDBAK_CONFIG stand in for --storage
// and --config.
func TestEnvDefaults(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	store := "file://" + t.TempDir()
	cfg := writeConfig(t, fmt.Sprintf("storage: %s\ntargets:\n  - name: cache\n    redis: redis://%s\n", store, src.Addr))
	r := run(t, []string{"RDBAK_CONFIG=" + cfg}, "now")
	r.want(t, 0)
	id := strings.TrimSpace(r.stdout)
	r = run(t, []string{"RDBAK_STORAGE=" + store}, "list")
	r.want(t, 0)
	if !strings.Contains(r.stdout, id) {
		t.Errorf("list with RDBAK_STORAGE lacks %s:\n%s", id, r.stdout)
	}
}

// TestCompletion: backup IDs and targets complete from storage and the
// config file.
func TestCompletion(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	store := "file://" + t.TempDir()
	r := run(t, nil, "now", "--redis", "redis://"+src.Addr, "--storage", store, "--target", "cache")
	r.want(t, 0)
	id := strings.TrimSpace(r.stdout)
	r = run(t, nil, "__complete", "verify", "--storage", store, "")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "latest\t") || !strings.Contains(r.stdout, id+"\tcache") {
		t.Errorf("verify <TAB>:\n%s", r.stdout)
	}
	r = run(t, nil, "__complete", "list", "--storage", store, "--target", "")
	if !strings.Contains(r.stdout, "cache\n") {
		t.Errorf("--target <TAB> from storage:\n%s", r.stdout)
	}
	cfg := writeConfig(t, fmt.Sprintf("storage: %s\ntargets:\n  - name: sessions\n    redis: redis://%s\n", store, src.Addr))
	r = run(t, nil, "__complete", "now", "--config", cfg, "--target", "")
	if !strings.Contains(r.stdout, "sessions\n") {
		t.Errorf("--target <TAB> from the config:\n%s", r.stdout)
	}
	run(t, nil, "completion", "bash").want(t, 0)
}

// TestNowAllAndStatus: now --all backs up every target, reports each and
// fails if one failed; status shows the last success, the next run and
// the count, and says failures are not in storage.
func TestNowAllAndStatus(t *testing.T) {
	a := testenv.StartRedis(t, testenv.RedisOptions{})
	b := testenv.StartRedis(t, testenv.RedisOptions{})
	store := "file://" + t.TempDir()
	good := fmt.Sprintf(`storage: %s
defaults: {schedule: "CRON_TZ=UTC 0 3 * * *"}
targets:
  - name: a
    redis: redis://%s
  - name: b
    redis: redis://%s
`, store, a.Addr, b.Addr)
	cfg := writeConfig(t, good)
	r := run(t, nil, "now", "--all", "--config", cfg, "--concurrency", "2")
	r.want(t, 0)
	if !strings.Contains(r.stdout, "2 of 2 targets succeeded") {
		t.Errorf("now --all:\n%s", r.stdout)
	}
	// One at a time, the targets go in the config's order.
	four := writeConfig(t, strings.Replace(good, store, "file://"+t.TempDir(), 1)+fmt.Sprintf("  - name: c\n    redis: redis://%s\n  - name: d\n    redis: redis://%s\n", a.Addr, b.Addr))
	r = run(t, nil, "now", "--all", "--config", four, "--concurrency", "1", "--no-prune")
	r.want(t, 0)
	var started []string
	for _, l := range strings.Split(r.stderr, "\n") {
		if strings.Contains(l, `msg="backup started"`) {
			started = append(started, strings.Fields(strings.SplitAfter(l, "target=")[1])[0])
		}
	}
	if strings.Join(started, ",") != "a,b,c,d" {
		t.Errorf("now --all --concurrency 1 started %v, want a,b,c,d:\n%s", started, r.stderr)
	}
	bad := writeConfig(t, good+"  - name: down\n    redis: redis://127.0.0.1:1\n")
	r = run(t, nil, "now", "--all", "--config", bad, "-o", "json")
	r.want(t, exitFailed, "down", "1 of 3 backups failed")
	var outs []struct{ Target, Result, ID string }
	if err := json.Unmarshal([]byte(r.stdout), &outs); err != nil || len(outs) != 3 || outs[2].Result != "failure" || outs[0].Result != "success" {
		t.Errorf("now --all -o json = %+v (%v)", outs, err)
	}
	run(t, nil, "now", "--all").want(t, exitUsage, "--config")

	r = run(t, nil, "status", "--config", bad)
	r.want(t, 0)
	for _, s := range []string{"TARGET", "NEXT RUN", "not recorded in storage"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("status lacks %q:\n%s", s, r.stdout)
		}
	}
	r = run(t, nil, "status", "--config", bad, "-o", "json")
	r.want(t, 0)
	var st []struct {
		Target  string
		Backups int
		NextRun *string
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil || len(st) != 3 || st[0].Backups != 2 || st[2].Backups != 0 || st[0].NextRun == nil {
		t.Errorf("status -o json = %+v (%v)\n%s", st, err, r.stdout)
	}
	r = run(t, nil, "status", "--storage", store, "--target", "b", "-o", "json")
	r.want(t, 0)
	if !strings.Contains(r.stdout, `"target": "b"`) || strings.Contains(r.stdout, `"target": "a"`) {
		t.Errorf("status --target b:\n%s", r.stdout)
	}
}

// TestPruneFromFlags: a repository without a config file is pruned by the
// --keep flags, every target in it unless --target names one.
func TestPruneFromFlags(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	store := "file://" + t.TempDir()
	for _, target := range []string{"a", "a", "a", "b", "b"} {
		run(t, nil, "now", "--redis", "redis://"+src.Addr, "--source", "file", "--storage", store, "--target", target).want(t, 0)
	}
	run(t, nil, "prune", "--storage", store).want(t, exitUsage, "--keep-last")
	r := run(t, nil, "prune", "--storage", store, "--keep-last", "1")
	r.want(t, 0, "")
	if !strings.Contains(r.stdout, "dry run: pass --yes to delete 3 backups") {
		t.Errorf("prune --keep-last 1 (dry run):\n%s", r.stdout)
	}
	run(t, nil, "prune", "--storage", store, "--target", "a", "--keep-last", "2", "--yes").want(t, 0)
	r = run(t, nil, "list", "--storage", store, "-o", "json")
	var ms []storage.Manifest
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil || len(ms) != 4 {
		t.Errorf("after prune --target a --keep-last 2 --yes: %d backups (%v), want 2 of a and 2 of b", len(ms), err)
	}
}

func TestExitCodeOfAfterError(t *testing.T) {
	tests := []struct {
		err  error
		want int
	}{
		{&app.AfterError{Target: "a", ID: "x", Err: storage.ErrNotFound}, exitAfter},
		{&app.AfterError{Target: "a", ID: "x", Err: app.UsageError{Err: errors.New("bad policy")}}, exitAfter},
		{fmt.Errorf("backup: %w", storage.ErrNotFound), exitNotFound},
	}
	for _, tt := range tests {
		if got := exitCode(t.Context(), tt.err); got != tt.want {
			t.Errorf("exitCode(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
