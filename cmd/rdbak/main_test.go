package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

var rdbakBin string

// TestMain builds the rdbak binary once; the tests run it as users do.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rdbak-cli-test")
	if err != nil {
		panic(err)
	}
	rdbakBin = filepath.Join(dir, "rdbak")
	out, err := exec.Command("go", "build", "-ldflags", "-X main.version=test", "-o", rdbakBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build rdbak: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs rdbak with args and extra environment, never from a TTY.
func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), rdbakBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run rdbak %v: %v", args, err)
	}
	return result{code, out.String(), errb.String()}
}

func (r result) want(t *testing.T, code int, stderrHas ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stderrHas {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr does not mention %q:\n%s", s, r.stderr)
		}
	}
}

// TestQuickStart is the README's quick start: backup, list, describe,
// verify, restore, and the restored file loads to the same digest.
func TestQuickStart(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{Password: "s3cret"})
	testenv.FillAllTypes(t, src, 1)
	want := src.Digest(t)
	store := "file://" + t.TempDir()
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	r := run(t, nil, "now", "--redis", "redis://"+src.Addr, "--password-file", pwFile, "--storage", store, "--target", "cache")
	r.want(t, 0)
	id := strings.TrimSpace(r.stdout)
	if !storage.ValidID(id) {
		t.Fatalf("now printed %q, want a backup id", r.stdout)
	}
	if strings.Contains(r.stderr, "s3cret") {
		t.Errorf("the password appears in the logs:\n%s", r.stderr)
	}
	// The password may also come from REDISCLI_AUTH, in JSON logs.
	r = run(t, []string{"REDISCLI_AUTH=s3cret"}, "now", "--redis", "redis://"+src.Addr, "--storage", store, "--target", "cache", "--log-format", "json", "-o", "json")
	r.want(t, 0)
	var m storage.Manifest
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil || m.Target != "cache" || m.Keys() == 0 {
		t.Fatalf("now -o json = %+v, %v", m, err)
	}
	if !strings.Contains(r.stderr, `"msg":"backup succeeded"`) || !strings.Contains(r.stderr, `"backup_id":"`+m.ID) {
		t.Errorf("JSON log lacks the outcome line:\n%s", r.stderr)
	}

	r = run(t, nil, "list", "--storage", store, "-o", "json")
	r.want(t, 0)
	var ms []storage.Manifest
	if err := json.Unmarshal([]byte(r.stdout), &ms); err != nil || len(ms) != 2 || ms[0].ID != id {
		t.Fatalf("list -o json = %s (%v)", r.stdout, err)
	}
	r = run(t, nil, "list", "--storage", store)
	r.want(t, 0)
	if !strings.Contains(r.stdout, id) || !strings.Contains(r.stdout, "TARGET") {
		t.Errorf("list table:\n%s", r.stdout)
	}
	r = run(t, nil, "describe", "latest", "--storage", store)
	r.want(t, 0)
	if !strings.Contains(r.stdout, m.ID) || !strings.Contains(r.stdout, "verified") {
		t.Errorf("describe latest:\n%s", r.stdout)
	}
	run(t, nil, "verify", id, "--storage", store).want(t, 0)

	out := filepath.Join(t.TempDir(), "dump.rdb")
	run(t, nil, "restore", "latest", "--storage", store, "--to-file", out).want(t, 0)
	if got := testenv.StartRedis(t, testenv.RedisOptions{Dir: filepath.Dir(out)}).Digest(t); got != want {
		t.Fatalf("restored digest %s, want %s", got, want)
	}
	// An existing file is replaced only with --force.
	run(t, nil, "restore", "latest", "--storage", store, "--to-file", out).want(t, 1, "--force")
	run(t, nil, "restore", id, "--storage", store, "--to-file", out, "--force").want(t, 0)
	// Flags that only a restore into a pod takes are refused, not ignored:
	// --dry-run with --force would otherwise replace the file.
	info, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	run(t, nil, "restore", id, "--storage", store, "--to-file", out, "--force", "--dry-run").want(t, 2, "--dry-run", "rdbak verify")
	run(t, nil, "restore", id, "--storage", store, "--to-file", out, "--force", "--strategy", "offline", "--restore-limits", "memory=1Gi").
		want(t, 2, "drop --strategy, --restore-limits")
	run(t, nil, "restore", id, "--storage", store, "--replay-to", "redis://127.0.0.1:1", "--allow-memory").want(t, 2, "drop --allow-memory")
	run(t, nil, "restore", id, "--storage", store, "--replay-to", "127.0.0.1:1").want(t, 2, "no scheme: use redis://127.0.0.1:1")
	run(t, nil, "restore", id, "--storage", store, "--target", "app", "--force").want(t, 2, "--force", "--to-file")
	if after, err := os.Stat(out); err != nil || !after.ModTime().Equal(info.ModTime()) {
		t.Errorf("a refused restore touched %s: %v", out, err)
	}
}

func TestConfigTarget(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{Password: "pw"})
	testenv.FillAllTypes(t, src, 1)
	store := testenv.StartMinIO(t)
	cfg := filepath.Join(t.TempDir(), "rdbak.yaml")
	body := fmt.Sprintf(`storage: %s
compression: {codec: gzip, level: fastest}
targets:
  - name: cache
    redis: redis://%s
    passwordEnv: CACHE_PASSWORD
`, strings.Replace(store.URL, "s3://"+store.Bucket, "s3://"+store.Bucket+"/prod/redis", 1), src.Addr)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	env := append([]string{"CACHE_PASSWORD=pw"}, store.Env...)
	run(t, env, "config", "validate", cfg).want(t, 0)
	r := run(t, env, "now", "--config", cfg)
	r.want(t, 0)
	id := strings.TrimSpace(r.stdout)
	run(t, env, "verify", "latest", "--config", cfg, "--target", "cache").want(t, 0)
	r = run(t, env, "describe", id, "--config", cfg, "-o", "json")
	r.want(t, 0)
	var m storage.Manifest
	if err := json.Unmarshal([]byte(r.stdout), &m); err != nil || m.Data.Compression.Codec != "gzip" || m.Data.Name != "dump.rdb.gz" {
		t.Fatalf("describe = %+v, %v; want a gzip backup", m.Data, err)
	}
	// The URL path is a key prefix in the bucket.
	b := store.OpenT(t)
	if ok, err := b.Exists(t.Context(), "prod/redis/cache/"+id+"/manifest.json"); err != nil || !ok {
		t.Fatalf("manifest not under the URL's prefix: %v %v", ok, err)
	}
}

func TestExitCodes(t *testing.T) {
	store := "file://" + t.TempDir()
	badCfg := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(badCfg, []byte("storage: file:///tmp/x\ntargets:\n  - name: a\n    redis: redis://127.0.0.1:1\n    passwrod: x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		has  []string
	}{
		{"no target", []string{"now"}, exitUsage, []string{"--redis", "--config"}},
		{"no storage", []string{"now", "--redis", "redis://127.0.0.1:6379"}, exitUsage, []string{"--storage"}},
		{"bad redis URL", []string{"now", "--redis", "http://x", "--storage", store}, exitUsage, []string{"redis://"}},
		{"bad codec", []string{"now", "--redis", "redis://127.0.0.1:1", "--storage", store, "--compression", "lz4"}, exitUsage, []string{"lz4"}},
		{"unknown flag", []string{"list", "--nope"}, exitUsage, []string{"--nope"}},
		{"unknown command", []string{"lsit"}, exitUsage, []string{"lsit", "did you mean list"}},
		{"missing argument", []string{"config", "validate"}, exitUsage, []string{"config validate"}},
		{"extra argument", []string{"list", "x"}, exitUsage, []string{"list"}},
		{"bad config", []string{"config", "validate", badCfg}, exitUsage, []string{"bad.yaml:5", "passwrod"}},
		{"bad config by --config", []string{"config", "validate", "--config", badCfg}, exitUsage, []string{"bad.yaml:5", "passwrod"}},
		{"no such backup", []string{"describe", "20260101T000000Z-abcdef", "--storage", store}, exitNotFound, []string{"rdbak list"}},
		{"no backups", []string{"verify", "latest", "--storage", store}, exitNotFound, []string{"no backups"}},
		{"bad id", []string{"describe", "yesterday", "--storage", store}, exitUsage, []string{"latest"}},
		{"redis unreachable", []string{"now", "--redis", "redis://127.0.0.1:1", "--storage", store}, exitFailed, []string{"127.0.0.1:1"}},
		{"storage unreachable", []string{"now", "--redis", "redis://127.0.0.1:1", "--storage", "s3://b?endpoint=http://127.0.0.1:1&region=us-east-1&use_path_style=true"}, exitFailed, []string{"storage"}},
		{"restore without --to-file", []string{"restore", "latest", "--storage", store}, exitUsage, []string{"--to-file"}},
	}
	env := []string{"AWS_ACCESS_KEY_ID=x", "AWS_SECRET_ACCESS_KEY=y", "AWS_EC2_METADATA_DISABLED=true", "AWS_MAX_ATTEMPTS=1"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			run(t, env, tt.args...).want(t, tt.code, tt.has...)
		})
	}
}

func TestVerifyDamaged(t *testing.T) {
	src := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, src, 1)
	dir := t.TempDir()
	r := run(t, nil, "now", "--redis", "redis://"+src.Addr, "--storage", "file://"+dir, "--target", "cache")
	r.want(t, 0)
	id := strings.TrimSpace(r.stdout)
	obj := filepath.Join(dir, "cache", id, "dump.rdb.zst")
	b, err := os.ReadFile(obj)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/3] ^= 0xff
	if err := os.WriteFile(obj, b, 0o600); err != nil {
		t.Fatal(err)
	}
	run(t, nil, "verify", id, "--storage", "file://"+dir).want(t, exitVerify, "failed verification")
	out := filepath.Join(t.TempDir(), "dump.rdb")
	run(t, nil, "restore", id, "--storage", "file://"+dir, "--to-file", out).want(t, exitVerify)
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed restore left %s: %v", out, err)
	}
}

// TestHelp runs --help of every command: flags that clash (rdbak's own and
// the kubectl flags from cli-runtime) panic at that point.
func TestHelp(t *testing.T) {
	for _, c := range newRootCmd().Commands() {
		t.Run(c.Name(), func(t *testing.T) {
			args := []string{c.Name(), "--help"}
			if c.HasSubCommands() {
				args = []string{c.Name(), c.Commands()[0].Name(), "--help"}
			}
			r := run(t, nil, args...)
			r.want(t, 0)
			if !strings.Contains(r.stdout, "Usage:") {
				t.Errorf("%v printed no usage:\n%s", args, r.stdout)
			}
		})
	}
}
