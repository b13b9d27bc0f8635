package config

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"
)

const examplePath = "../../deploy/examples/rdbak.yaml"

func mustParse(t *testing.T, yaml string, env map[string]string) *File {
	t.Helper()
	f, err := Parse([]byte(yaml), "/etc/rdbak/rdbak.yaml", mapEnv(env))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func TestParseDefaults(t *testing.T) {
	f := mustParse(t, `
storage: file:///var/backups
targets:
  - name: cache
    redis: redis://127.0.0.1:6379
    passwordFile: secrets/pw
  - name: other
    redis: redis://127.0.0.1:6380
    storage: s3://bucket/x
`, nil)
	wantC := Compression{Codec: CodecZstd, Level: "fastest", Concurrency: min(2, runtime.GOMAXPROCS(0))}
	if f.Compression != wantC {
		t.Errorf("Compression = %+v, want %+v", f.Compression, wantC)
	}
	a, b := f.Targets[0], f.Targets[1]
	if a.Source != SourceReplication || a.Storage != "file:///var/backups" || a.Timeout != 0 {
		t.Errorf("targets[0] = %+v, want source replication, the top-level storage, no timeout", a)
	}
	if a.PasswordFile != "/etc/rdbak/secrets/pw" {
		t.Errorf("relative passwordFile = %q, want it resolved against the config's directory", a.PasswordFile)
	}
	if b.Storage != "s3://bucket/x" {
		t.Errorf("targets[1].storage = %q, want the target's own", b.Storage)
	}

	g := mustParse(t, "storage: file:///b\ncompression: {codec: gzip}\n"+okTarget, nil)
	if want := (Compression{Codec: CodecGzip, Level: "default"}); g.Compression != want {
		t.Errorf("gzip Compression = %+v, want %+v", g.Compression, want)
	}
	n := mustParse(t, "storage: file:///b\ncompression: {codec: none}\n"+okTarget, nil)
	if want := (Compression{Codec: CodecNone}); n.Compression != want {
		t.Errorf("none Compression = %+v, want %+v", n.Compression, want)
	}
}

func TestParseAllFields(t *testing.T) {
	f := mustParse(t, `
storage: gs://bucket
compression: {codec: zstd, level: best, concurrency: 3}
targets:
  - name: sessions.eu-1
    redis: rediss://[::1]:6380/
    username: backup
    passwordEnv: PW
    source: file
    dir: /data
    dbfilename: dump.rdb
    timeout: 1h30m
    storage: azblob://container/prefix
`, nil)
	want := Target{
		Name: "sessions.eu-1", Redis: "rediss://[::1]:6380/", Username: "backup", PasswordEnv: "PW",
		Source: SourceFile, Dir: "/data", DBFilename: "dump.rdb", Timeout: 90 * time.Minute,
		Storage: "azblob://container/prefix",
	}
	got := f.Targets[0]
	got.lookupEnv = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("target = %+v\nwant %+v", got, want)
	}
	if want := (Compression{Codec: CodecZstd, Level: "best", Concurrency: 3}); f.Compression != want {
		t.Errorf("Compression = %+v, want %+v", f.Compression, want)
	}
	addr, tls, err := got.Endpoint()
	if err != nil || addr != "[::1]:6380" || !tls {
		t.Errorf("Endpoint() = %q, %v, %v; want [::1]:6380, true, nil", addr, tls, err)
	}
}

func TestParseExpansion(t *testing.T) {
	env := map[string]string{"HOST": "10.1.2.3", "N": "4", "BUCKET": "prod", "T": "45s", "LVL": "3"}
	f := mustParse(t, `
# Comments are not expanded: ${UNSET_IN_COMMENT}
storage: s3://${BUCKET}/${PREFIX:-rdbak}?region=eu-west-1
compression:
  codec: "${CODEC:-gzip}"
  level: ${LVL}
targets:
  - name: '${NAME:-cache}'
    redis: redis://${HOST}:6379
    timeout: ${T}
    dbfilename: $${literal}
    source: file
`, env)
	if want := "s3://prod/rdbak?region=eu-west-1"; f.Storage != want {
		t.Errorf("storage = %q, want %q", f.Storage, want)
	}
	if f.Compression.Codec != CodecGzip || f.Compression.Level != "3" {
		t.Errorf("compression = %+v, want gzip level 3", f.Compression)
	}
	tg := f.Targets[0]
	if tg.Name != "cache" || tg.Redis != "redis://10.1.2.3:6379" || tg.Timeout != 45*time.Second {
		t.Errorf("target = %+v, want name cache, redis://10.1.2.3:6379, timeout 45s", tg)
	}
	if tg.DBFilename != "${literal}" {
		t.Errorf("dbfilename = %q, want the escaped literal ${literal}", tg.DBFilename)
	}

	// Integers from the environment; keys are not expanded.
	g := mustParse(t, "storage: file:///b\ncompression: {concurrency: '${N}'}\n"+okTarget, env)
	if g.Compression.Concurrency != 4 {
		t.Errorf("concurrency = %d, want 4", g.Compression.Concurrency)
	}
	_, err := Parse([]byte("${KEY}: x\n"), "rdbak.yaml", mapEnv(map[string]string{"KEY": "storage"}))
	if err == nil || !strings.Contains(err.Error(), `rdbak.yaml:1: unknown field "${KEY}"`) {
		t.Errorf("expanded key: err = %v, want unknown field ${KEY} on line 1", err)
	}
}

func TestParseAnchors(t *testing.T) {
	f := mustParse(t, `
storage: file:///b
targets:
  - &base
    name: a
    redis: redis://h
  - name: b
    redis: redis://h2
    storage: &st file:///b
  - name: c
    redis: redis://h3
    storage: *st
`, nil)
	if f.Targets[2].Storage != "file:///b" {
		t.Errorf("aliased storage = %q, want file:///b", f.Targets[2].Storage)
	}
	_, err := Parse([]byte("storage: file:///b\ntargets:\n  - &t {name: a, redis: redis://h}\n  - *t\n"), "rdbak.yaml", mapEnv(nil))
	if err == nil || !strings.Contains(err.Error(), `rdbak.yaml:3: targets[1].name: "a" is also the name of targets[0]`) {
		t.Errorf("aliased duplicate target: err = %v", err)
	}
}

func TestLoadExample(t *testing.T) {
	t.Setenv("RDBAK_BUCKET", "my-bucket")
	f, err := Load(examplePath)
	if err != nil {
		t.Fatalf("Load(%s): %v", examplePath, err)
	}
	if want := "s3://my-bucket/prod?region=eu-west-1"; f.Storage != want {
		t.Errorf("storage = %q, want %q", f.Storage, want)
	}
	if len(f.Targets) != 6 || f.Targets[1].Storage != "file:///var/backups/rdbak" || f.Targets[1].Timeout != 30*time.Minute {
		t.Errorf("targets = %+v, want cache, sessions (own storage, 30m timeout), exchange and orders", f.Targets)
	}
	if k := f.Targets[2].Kubernetes; k == nil || k.StatefulSet != "redis-master" || f.Targets[2].Source != SourceFile {
		t.Errorf("exchange target = %+v, want a kubernetes statefulset with the file source", f.Targets[2])
	}
	if c := f.Targets[3].Cluster; c.Concurrency != 2 || c.Stagger != 2*time.Second || c.Prefer != "replica" || c.SingleNode {
		t.Errorf("orders cluster = %+v, want concurrency 2, stagger 2s, prefer replica", c)
	}
	if s := f.Targets[4].Sentinel; s == nil || len(s.Addresses) != 3 || s.MasterName != "mymaster" || f.Targets[4].Source != SourceReplication {
		t.Errorf("ledger target = %+v, want a sentinel set of 3 Sentinels over replication", f.Targets[4])
	}
}

// TestExampleShowsEveryField keeps deploy/examples/rdbak.yaml complete as
// fields are added: each must appear, set or commented out.
func TestExampleShowsEveryField(t *testing.T) {
	data, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []reflect.Type{reflect.TypeFor[File](), reflect.TypeFor[Compression](), reflect.TypeFor[Target](), reflect.TypeFor[KubeTarget](), reflect.TypeFor[SecretRef](), reflect.TypeFor[KubeTLS](), reflect.TypeFor[Encryption](), reflect.TypeFor[Drill](), reflect.TypeFor[DrillCheck](), reflect.TypeFor[Notify](), reflect.TypeFor[Webhook](), reflect.TypeFor[StorageSpec](), reflect.TypeFor[S3Storage]()} {
		for name := range yamlFields(typ) {
			shown := regexp.MustCompile(`(?m)^[ #-]*` + name + `:`)
			if !shown.Match(data) {
				t.Errorf("the example does not show %s.%s", typ.Name(), name)
			}
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "read config:") || !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("err = %v, want read config: ... nope.yaml", err)
	}
}

func TestTargetLookup(t *testing.T) {
	one := mustParse(t, "storage: file:///b\n"+okTarget, nil)
	if tg, err := one.Target(""); err != nil || tg.Name != "cache" {
		t.Errorf("Target(\"\") of one = %v, %v; want cache", tg, err)
	}
	two := mustParse(t, "storage: file:///b\ntargets: [{name: a, redis: redis://h}, {name: b, redis: redis://h}]\n", nil)
	tg, err := two.Target("b")
	if err != nil || tg != &two.Targets[1] {
		t.Errorf("Target(b) = %v, %v; want a pointer to targets[1]", tg, err)
	}
	for name, want := range map[string]string{"": "has 2 targets, name one of: a, b", "c": `no target "c", the config has: a, b`} {
		if _, err := two.Target(name); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Target(%q) err = %v, want %q", name, err, want)
		}
	}
	if _, err := (&File{}).Target(""); err == nil || !strings.Contains(err.Error(), "no targets") {
		t.Errorf("Target on an empty File: err = %v", err)
	}
}

func TestPassword(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	env := mapEnv(map[string]string{"PW": "from-env", "EMPTY": ""})
	tests := []struct {
		name string
		t    Target
		want string
	}{
		{"file", Target{PasswordFile: write("a", "s3cret\n")}, "s3cret"},
		{"file CRLF", Target{PasswordFile: write("b", "s3cret\r\n")}, "s3cret"},
		{"file only one newline trimmed", Target{PasswordFile: write("c", "s3cret\n\n")}, "s3cret\n"},
		{"file without newline", Target{PasswordFile: write("d", " s3cret ")}, " s3cret "},
		{"env", Target{PasswordEnv: "PW", lookupEnv: env}, "from-env"},
		{"URL", Target{Redis: "redis://user:p%40ss@h:6379"}, "p@ss"},
		{"URL user only", Target{Redis: "redis://user@h"}, ""},
		{"none", Target{Redis: "redis://h"}, ""},
	}
	for _, tt := range tests {
		got, err := tt.t.Password()
		if err != nil || got != tt.want {
			t.Errorf("%s: Password() = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}

	big := write("big", strings.Repeat("x", maxPasswordFile+1))
	errTests := []struct {
		name string
		t    Target
		want string
	}{
		{"missing file", Target{Name: "c", PasswordFile: filepath.Join(dir, "nope")}, `read passwordFile of target "c"`},
		{"empty file", Target{Name: "c", PasswordFile: write("e", "\n")}, "is empty"},
		{"huge file", Target{Name: "c", PasswordFile: big}, "not a password"},
		{"unset env", Target{Name: "c", PasswordEnv: "NOPE", lookupEnv: env}, "read passwordEnv of target \"c\": environment variable NOPE is unset or empty"},
		{"empty env", Target{Name: "c", PasswordEnv: "EMPTY", lookupEnv: env}, "EMPTY is unset or empty"},
		{"bad URL", Target{Name: "c", Redis: "redis://:s3cret%zz@h"}, "invalid %-escape"},
	}
	for _, tt := range errTests {
		_, err := tt.t.Password()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want it to contain %q", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: error shows the secret: %v", tt.name, err)
		}
	}
}

// TestPasswordReadAtCallTime checks that a rotated secret is picked up
// without reloading the config.
func TestPasswordReadAtCallTime(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pw")
	f := mustParse(t, "storage: file:///b\ntargets:\n  - {name: a, redis: redis://h, passwordFile: "+p+"}\n", nil)
	for _, want := range []string{"one", "two"} {
		if err := os.WriteFile(p, []byte(want+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, err := f.Targets[0].Password(); err != nil || got != want {
			t.Errorf("Password() = %q, %v; want %q", got, err, want)
		}
	}
}

func TestPasswordEnvFromParse(t *testing.T) {
	f := mustParse(t, "storage: file:///b\ntargets:\n  - {name: a, redis: redis://h, passwordEnv: PW}\n", map[string]string{"PW": "injected"})
	if got, err := f.Targets[0].Password(); err != nil || got != "injected" {
		t.Errorf("Password() = %q, %v; want the value from Parse's env", got, err)
	}
	t.Setenv("RDBAK_TEST_PW", "process")
	tg := Target{PasswordEnv: "RDBAK_TEST_PW"}
	if got, err := tg.Password(); err != nil || got != "process" {
		t.Errorf("Password() of a Target built in code = %q, %v; want the process environment", got, err)
	}
}

func TestUserEndpointWarnings(t *testing.T) {
	f := mustParse(t, `
storage: file:///b
targets:
  - {name: a, redis: "redis://alice:pw@h"}
  - {name: b, redis: "redis://h:7000", username: bob}
  - {name: c, redis: "rediss://h"}
`, nil)
	wantUser := []string{"alice", "bob", ""}
	wantAddr := []string{"h:6379", "h:7000", "h:6379"}
	for i, tg := range f.Targets {
		if got := tg.User(); got != wantUser[i] {
			t.Errorf("targets[%d].User() = %q, want %q", i, got, wantUser[i])
		}
		addr, tls, err := tg.Endpoint()
		if err != nil || addr != wantAddr[i] || tls != (i == 2) {
			t.Errorf("targets[%d].Endpoint() = %q, %v, %v; want %q, %v", i, addr, tls, err, wantAddr[i], i == 2)
		}
	}
	w := f.Warnings()
	if len(w) != 1 || !strings.HasPrefix(w[0], "targets[0].redis: the password is in the URL") || strings.Contains(w[0], "pw@") {
		t.Errorf("Warnings() = %q, want one about targets[0]'s URL password", w)
	}
}

func TestEncryptionDefaults(t *testing.T) {
	y := "storage: file:///b\ndefaults:\n  encryption: {recipientsFile: keys/r.txt, identityFile: /k, identitySecret: {name: id, key: k}}\ntargets:\n" +
		"  - {name: a, redis: redis://h}\n" +
		"  - {name: b, redis: redis://h, encryption: {recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p]}}\n"
	f, err := Parse([]byte(y), "/etc/rdbak/rdbak.yaml", mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if e := f.Targets[0].Encryption; e.RecipientsFile != "/etc/rdbak/keys/r.txt" || e.IdentityFile != "/k" || !e.Encrypts() || e.IdentitySecret == nil || *e.IdentitySecret != (SecretRef{"id", "k"}) {
		t.Errorf("target a encryption = %+v, want the defaults with the path relative to the config", e)
	}
	if e := f.Targets[1].Encryption; len(e.Recipients) != 1 || e.RecipientsFile != "" || e.IdentityFile != "" {
		t.Errorf("target b encryption = %+v, want its own, not merged with the defaults", e)
	}
}

// TestEncryptionKeepsInheritedRecipients: a target's encryption block
// without recipients (identities only, {} or a bare key) still encrypts to
// the default recipients; before, its backups were written in plaintext.
func TestEncryptionKeepsInheritedRecipients(t *testing.T) {
	f := mustParse(t, `
storage: file:///b
defaults:
  encryption: {recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p], identityFile: /keys/default.txt}
targets:
  - {name: identity, redis: redis://h, encryption: {identityFile: /keys/k1.txt}}
  - {name: secret, redis: redis://h, encryption: {identitySecret: {name: id, key: k}}}
  - {name: empty, redis: redis://h, encryption: {}}
  - name: bare
    redis: redis://h
    encryption:
`, nil)
	wantID := []string{"/keys/k1.txt", "", "", ""}
	for i, tg := range f.Targets {
		e := tg.Encryption
		if !e.Encrypts() || len(e.Recipients) != 1 {
			t.Errorf("target %s encryption = %+v, want the default recipients", tg.Name, e)
		}
		if e.IdentityFile != wantID[i] {
			t.Errorf("target %s identityFile = %q, want its own block's %q", tg.Name, e.IdentityFile, wantID[i])
		}
	}
}

// TestScheduleOptOut: schedule: "" opts one target out of
// defaults.schedule, as drill.schedule: "" does for drills; it and a
// target left without a schedule next to scheduled ones are named in a
// warning, since the daemon skips them.
func TestScheduleOptOut(t *testing.T) {
	f := mustParse(t, `
storage: file:///b
defaults: {schedule: "@daily"}
targets:
  - {name: a, redis: redis://h}
  - {name: manual, redis: redis://h, schedule: ""}
`, nil)
	if a, m := f.Targets[0].Schedule, f.Targets[1].Schedule; a != "@daily" || m != "" {
		t.Errorf("schedules %q and %q, want @daily inherited and \"\" kept", a, m)
	}
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"opted out", "storage: file:///b\ndefaults: {schedule: \"@daily\"}\ntargets:\n  - {name: a, redis: redis://h}\n  - {name: manual, redis: redis://h, schedule: \"\"}\n",
			[]string{"targets[1] (manual) has no schedule: the daemon will not back it up"}},
		{"forgotten", "storage: file:///b\ntargets:\n  - {name: a, redis: redis://h, schedule: \"@every 1h\"}\n  - {name: forgot, redis: redis://h}\n",
			[]string{"targets[1] (forgot) has no schedule: the daemon will not back it up"}},
		{"drills only: the daemon logs it", "storage: file:///b\ndefaults: {drill: {schedule: \"@every 1h\"}}\ntargets:\n  - {name: a, redis: redis://h}\n  - {name: b, redis: redis://h}\n", nil},
		{"nothing scheduled: for rdbak now", "storage: file:///b\ntargets:\n  - {name: a, redis: redis://h}\n", nil},
	}
	for _, tt := range tests {
		w := mustParse(t, tt.yaml, nil).Warnings()
		if len(w) != len(tt.want) {
			t.Errorf("%s: Warnings() = %q, want %d", tt.name, w, len(tt.want))
			continue
		}
		for i, want := range tt.want {
			if !strings.HasPrefix(w[i], want) {
				t.Errorf("%s: warning %q, want it to start %q", tt.name, w[i], want)
			}
		}
	}
}

func TestDrillInheritsFieldByField(t *testing.T) {
	f := mustParse(t, `
storage: file:///b
defaults:
  drill:
    schedule: "@daily"
    timeout: 10m
    servers: [bin/redis-server]
    checks: [{command: "DBSIZE", expect: "3"}]
targets:
  - name: a
    redis: redis://h
  - name: b
    redis: redis://h
    drill:
      timeout: 0s
      checks: [{command: "EXISTS 'config site'", expect: "1", db: 2}]
  - name: c
    redis: redis://h
    drill: {schedule: ""}
`, nil)
	if c := f.Targets[2].Drill; c.Schedule != "" || len(c.Checks) != 1 {
		t.Errorf("target c drill = %+v, want no schedule (written as \"\") and the default checks", c)
	}
	a, b := f.Targets[0].Drill, f.Targets[1].Drill
	if a.Schedule != "@daily" || a.Timeout != 10*time.Minute || len(a.Checks) != 1 || a.Checks[0].Expect != "3" ||
		len(a.Servers) != 1 || a.Servers[0] != "/etc/rdbak/bin/redis-server" {
		t.Errorf("target a drill = %+v, want all of defaults.drill", a)
	}
	if b.Schedule != "@daily" || b.Timeout != 0 || b.TimeoutOrDefault() != DefaultDrillTimeout || len(b.Checks) != 1 || b.Checks[0].DB != 2 {
		t.Errorf("target b drill = %+v, want its own checks and timeout 0 (the default), the default schedule", b)
	}
}

func TestDrillValidation(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"drill: {checks: [{command: \"DEL k\", expect: \"1\"}]}", `targets[0].drill.checks[0].command: DEL is not a read-only command`},
		{"drill: {checks: [{command: \"GET k\"}]}", `targets[0].drill.checks[0].expect: missing`},
		{"drill: {checks: [{expect: \"1\"}]}", `targets[0].drill.checks[0].command: missing`},
		{"drill: {checks: [{command: \"GET k\", expect: x, db: -1}]}", `targets[0].drill.checks[0].db: must not be negative`},
		{"drill: {schedule: \"every day\"}", `targets[0].drill.schedule: invalid schedule`},
		{"drill: {timeout: -1s}", `targets[0].drill.timeout: must not be negative`},
		{"drill: {servers: [\"\"]}", `targets[0].drill.servers[0]: empty`},
		{"drill: {runner: docker}", `targets[0].drill.runner: "docker" is not a drill runner`},
		{"drill: {runner: pod}", `targets[0].drill.runner: pod needs the target's kubernetes block`},
	} {
		_, err := Parse([]byte("storage: file:///b\ntargets:\n  - name: a\n    redis: redis://h\n    "+tc.yaml+"\n"), "rdbak.yaml", mapEnv(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.yaml, err, tc.want)
		}
	}
	if _, err := Parse([]byte("storage: file:///b\ntargets:\n  - name: a\n    redis: redis://h\n    drill: {checks: [{command: \"GET k\", expect: \"\"}]}\n"), "rdbak.yaml", mapEnv(nil)); err != nil {
		t.Errorf("an explicit empty expect: %v", err)
	}
	f, err := Parse([]byte("storage: file:///b\ndefaults: {drill: {runner: local}}\ntargets:\n  - name: a\n    redis: redis://h\n  - name: b\n    kubernetes: {namespace: n, pod: p}\n    drill: {runner: pod}\n  - name: c\n    redis: redis://h\n    drill: {runner: \"\"}\n"), "rdbak.yaml", mapEnv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if a, b, c := f.Targets[0].Drill.RunnerOrDefault(), f.Targets[1].Drill.RunnerOrDefault(), f.Targets[2].Drill.RunnerOrDefault(); a != RunnerLocal || b != RunnerPod || c != RunnerAuto {
		t.Errorf("runners %s, %s, %s; want local (inherited), pod, auto (set empty)", a, b, c)
	}
}

func TestNotifyWebhook(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "hook"), []byte("https://hooks.example/T0/secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Parse([]byte(`
storage: file:///b
defaults:
  notify: {webhook: {urlFile: hook, retries: 0}}
targets:
  - name: a
    redis: redis://h
  - name: b
    redis: redis://h
    notify: {webhook: {urlEnv: HOOK}}
`), filepath.Join(dir, "rdbak.yaml"), mapEnv(map[string]string{"HOOK": "https://hooks.example/env"}))
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Targets[0].Notify.Webhook, f.Targets[1].Notify.Webhook
	if u, err := a.Endpoint(); err != nil || u != "https://hooks.example/T0/secret" || a.RetriesOrDefault() != 0 {
		t.Errorf("a: endpoint %q, %v; retries %d", u, err, a.RetriesOrDefault())
	}
	if u, err := b.Endpoint(); err != nil || u != "https://hooks.example/env" || b.RetriesOrDefault() != DefaultWebhookRetries {
		t.Errorf("b: endpoint %q, %v; retries %d", u, err, b.RetriesOrDefault())
	}
	for _, tc := range []struct{ yaml, want string }{
		{"notify: {webhook: {url: \"https://h/x\", urlEnv: X}}", "targets[0].notify.webhook: give one of url, urlFile and urlEnv"},
		{"notify: {webhook: {url: \"ftp://h/secret-token\"}}", "targets[0].notify.webhook.url: must be an http:// or https:// URL"},
		{"notify: {webhook: {retries: 11, url: \"https://h\"}}", "targets[0].notify.webhook.retries: must be 0 to 10"},
		{"notify: {webhook: {timeout: 5s}}", "targets[0].notify.webhook.url: missing"},
	} {
		_, err := Parse([]byte("storage: file:///b\ntargets:\n  - name: a\n    redis: redis://h\n    "+tc.yaml+"\n"), "rdbak.yaml", mapEnv(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.yaml, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret-token") {
			t.Errorf("the error shows the URL: %v", err)
		}
	}
}

// TestStorageMapping: storage given as url + s3 settings ends up as one URL
// with the part_size and concurrency parameters, for the file and for a
// target; wrong settings name their field.
func TestStorageMapping(t *testing.T) {
	f := mustParse(t, `storage:
  url: s3://bucket/prod?region=eu-west-1
  s3: {partSize: 16MiB, concurrency: 4}
targets:
  - name: a
    redis: redis://127.0.0.1:6379
  - name: b
    redis: redis://127.0.0.1:6380
    storage: {url: "s3://other/x?part_size=5MiB", s3: {partSize: 32MiB}}
  - name: c
    redis: redis://127.0.0.1:6381
    storage: {url: "file:///var/backups"}
`, nil)
	if want := "s3://bucket/prod?concurrency=4&part_size=16777216&region=eu-west-1"; f.Storage != want || f.Targets[0].Storage != want {
		t.Errorf("storage = %q, targets[0] %q; want %q", f.Storage, f.Targets[0].Storage, want)
	}
	if want := "s3://other/x?part_size=5MiB"; f.Targets[1].Storage != want {
		t.Errorf("targets[1].storage = %q, want the URL's own part_size to win: %q", f.Targets[1].Storage, want)
	}
	if want := "file:///var/backups"; f.Targets[2].Storage != want {
		t.Errorf("targets[2].storage = %q, want %q", f.Targets[2].Storage, want)
	}
	for _, tc := range []struct{ yaml, want string }{
		{"storage: {url: file:///b, s3: {concurrency: 2}}\n" + okTarget, "storage.s3: s3 settings need an s3:// url"},
		{"storage: {url: s3://b, s3: {partSize: lots}}\n" + okTarget, "storage.s3.partSize: size \"lots\""},
		{"storage: {url: s3://b, s3: {partSize: 1MiB}}\n" + okTarget, "part_size 1048576 is out of range"},
		{"storage: {url: s3://b, s3: {concurrency: 100}}\n" + okTarget, "concurrency 100 is out of range"},
		{"storage: {s3: {concurrency: 2}}\n" + okTarget, "storage.url: missing"},
		{"storage: {url: s3://b, s3: {partsize: 8MiB}}\n" + okTarget, `unknown field "partsize"`},
	} {
		_, err := Parse([]byte(tc.yaml), "rdbak.yaml", mapEnv(nil))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", tc.yaml, err, tc.want)
		}
	}
}
