package config

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// fieldErrors flattens an errors.Join tree into its FieldErrors.
func fieldErrors(t *testing.T, err error) []*FieldError {
	t.Helper()
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *FieldError
		if !errors.As(err, &fe) {
			t.Fatalf("error %q is not a *FieldError", err)
		}
		out = append(out, fe)
	}
	walk(err)
	return out
}

const okTarget = `
targets:
  - name: cache
    redis: redis://127.0.0.1:6379
`

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		yaml  string
		field string // "" for whole-file errors
		line  int
		msg   string
	}{
		// Decoding.
		{"unknown top-level field", "storage: file:///b\nstorag: x\n" + okTarget, "", 2, `unknown field "storag" in the top level`},
		{"unknown target field", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    passwrod: x\n", "", 5, `unknown field "passwrod" in targets[0]`},
		{"unknown compression field", "storage: file:///b\ncompression:\n  codek: gzip\n" + okTarget, "", 3, `unknown field "codek" in compression`},
		{"kubernetes target names nothing", "storage: file:///b\ntargets:\n  - name: cache\n    kubernetes: {}\n", "targets[0].kubernetes", 4, "exactly one of pod"},
		{"kubernetes and redis", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://a:1\n    kubernetes: {pod: x}\n", "targets[0].redis", 4, "set together with kubernetes"},
		{"kubernetes unknown field", "storage: file:///b\ntargets:\n  - name: cache\n    kubernetes: {pod: x, podd: y}\n", "", 4, `unknown field "podd"`},
		{"kubernetes secret without key", "storage: file:///b\ntargets:\n  - name: cache\n    kubernetes: {pod: x, passwordSecret: {name: s}}\n", "targets[0].kubernetes.passwordSecret", 4, "both name and key"},
		{"kubernetes bad prefer", "storage: file:///b\ntargets:\n  - name: cache\n    kubernetes: {pod: x, prefer: slave}\n", "targets[0].kubernetes.prefer", 4, "unknown role"},
		{"sentinel and redis", "storage: file:///b\ntargets:\n  - name: c\n    redis: redis://a:1\n    sentinel: {addresses: [s:26379], masterName: m}\n", "targets[0].sentinel", 5, "set together with redis"},
		{"sentinel without master name", "storage: file:///b\ntargets:\n  - name: c\n    sentinel: {addresses: [s:26379]}\n", "targets[0].sentinel.masterName", 4, "missing"},
		{"sentinel without addresses", "storage: file:///b\ntargets:\n  - name: c\n    sentinel: {masterName: m}\n", "targets[0].sentinel.addresses", 4, "missing"},
		{"sentinel bad address", "storage: file:///b\ntargets:\n  - name: c\n    sentinel:\n      masterName: m\n      addresses: [s:1, http://s:2]\n", "targets[0].sentinel.addresses[1]", 6, "redis:// or rediss://"},
		{"sentinel password in URL", "storage: file:///b\ntargets:\n  - name: c\n    sentinel: {masterName: m, addresses: ['redis://:pw@s:1']}\n", "targets[0].sentinel.addresses[0]", 4, "host and port only"},
		{"sentinel mixed schemes", "storage: file:///b\ntargets:\n  - name: c\n    sentinel: {masterName: m, addresses: ['rediss://s:1', 's:2']}\n", "targets[0].sentinel.addresses", 4, "mixes rediss://"},
		{"sentinel bad prefer", "storage: file:///b\ntargets:\n  - name: c\n    sentinel: {masterName: m, addresses: [s], prefer: slave}\n", "targets[0].sentinel.prefer", 4, "unknown role"},
		{"sentinel file source", "storage: file:///b\ntargets:\n  - name: c\n    source: file\n    sentinel: {masterName: m, addresses: [s]}\n", "targets[0].source", 4, "not supported with sentinel"},
		{"sentinel kubernetes without data pods", "storage: file:///b\ntargets:\n  - name: c\n    sentinel: {masterName: m, kubernetes: {service: redis}}\n", "targets[0].sentinel.kubernetes", 4, "needs the target's kubernetes block"},
		{"sentinel kubernetes names nothing", "storage: file:///b\ntargets:\n  - name: c\n    kubernetes: {statefulset: redis-node}\n    sentinel: {masterName: m, kubernetes: {}}\n", "targets[0].sentinel.kubernetes", 5, "exactly one of service or selector"},
		{"sentinel secret with addresses", "storage: file:///b\ntargets:\n  - name: c\n    sentinel: {masterName: m, addresses: [s], passwordSecret: {name: a, key: b}}\n", "targets[0].sentinel.passwordSecret", 4, "only with sentinel.kubernetes"},
		{"sentinel two passwords", "storage: file:///b\ntargets:\n  - name: c\n    sentinel: {masterName: m, addresses: [s], passwordFile: /p, passwordEnv: P}\n", "targets[0].sentinel.passwordEnv", 4, "set together with passwordFile"},
		{"duplicate key", "storage: file:///b\nstorage: file:///c\n" + okTarget, "storage", 2, "set twice (first at line 1)"},
		{"targets not a list", "storage: file:///b\ntargets:\n  name: cache\n", "targets", 3, "expected a list"},
		{"compression not a mapping", "storage: file:///b\ncompression: zstd\n" + okTarget, "compression", 2, "expected a mapping"},
		{"string given a list", "storage: [a, b]\n" + okTarget, "storage", 1, "expected a single value"},
		{"cluster bad prefer", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    cluster: {prefer: slave}\n", "targets[0].cluster.prefer", 5, "unknown value"},
		{"cluster negative concurrency", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    cluster: {concurrency: -1}\n", "targets[0].cluster.concurrency", 5, "must not be negative"},
		{"cluster unknown field", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    cluster: {concurency: 2}\n", "", 5, `unknown field "concurency"`},
		{"bad duration", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    timeout: 30 minutes\n", "targets[0].timeout", 5, `invalid duration "30 minutes"`},
		{"encryption bad recipient", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    encryption:\n      recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p, nope]\n", "targets[0].encryption.recipients[1]", 6, "unknown recipient type"},
		{"encryption identity as recipient", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    encryption:\n      recipients: [AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX]\n", "targets[0].encryption.recipients[0]", 6, "not a recipient"},
		{"encryption both inline and file", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    encryption: {recipients: [age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p], recipientsFile: r.txt}\n", "targets[0].encryption.recipientsFile", 5, "set together with recipients"},
		{"encryption empty recipients", "storage: file:///b\ndefaults:\n  encryption:\n    recipients: []\n" + okTarget, "defaults.encryption.recipients", 4, "empty"},
		{"encryption block without recipients", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    encryption: {}\n", "targets[0].encryption", 5, "no recipients: backups would be written unencrypted"},
		{"encryption bare block", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    encryption:\n", "targets[0].encryption", 5, "no recipients"},
		{"encryption identity only", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    encryption: {identityFile: /keys/k1.txt}\n", "targets[0].encryption", 5, "written unencrypted"},
		{"encryption defaults identity only", "storage: file:///b\ndefaults:\n  encryption: {identityFile: /keys/k1.txt}\n" + okTarget, "defaults.encryption", 3, "unencrypted"},
		{"encryption identitySecret without key", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    encryption: {identitySecret: {name: rdbak-identity}}\n", "targets[0].encryption.identitySecret", 5, "needs both name and key"},
		{"encryption unknown field", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    encryption: {recipient: x}\n", "", 5, `unknown field "recipient"`},
		{"bare number duration", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    timeout: 30\n", "targets[0].timeout", 5, `invalid duration "30"`},
		{"bad integer", "storage: file:///b\ncompression: {concurrency: two}\n" + okTarget, "compression.concurrency", 2, `expected a whole number, got "two"`},
		{"undefined variable", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://${REDIS_HOST}:6379\n", "targets[0].redis", 4, "environment variable REDIS_HOST is not set"},
		{"syntax error", "storage: file:///b\ntargets:\n\t- name: cache\n", "", 3, "invalid YAML: found character that cannot start any token"},
		{"two documents", "storage: file:///b\n" + okTarget + "---\nstorage: x\n", "", 6, "a second YAML document"},

		// Storage.
		{"missing storage", okTarget, "storage", 0, `missing`},
		{"missing storage for one target", "targets:\n  - name: a\n    redis: redis://h\n    storage: file:///a\n  - name: b\n    redis: redis://h\n", "storage", 0, `targets "b" set no storage`},
		{"storage without scheme", "storage: /var/backups\n" + okTarget, "storage", 1, "missing the scheme"},
		{"storage bad URL", "storage: \"s3://bucket/%zz\"\n" + okTarget, "storage", 1, "invalid %-escape"},
		{"storage unknown scheme", "storage: s4://bucket\n" + okTarget, "storage", 1, `unsupported storage scheme "s4"`},
		{"file URL with host", "storage: file://var/backups\n" + okTarget, "storage", 1, "a file URL has no host part"},
		{"file URL with host: the fix", "storage: file://relhost/path\n" + okTarget, "storage", 1, `"relhost" is in the host's place`},
		{"file URL with a name only", "storage: file://backups\n" + okTarget, "storage", 1, `"backups" is in the host's place`},
		{"mem storage", "storage: mem://\n" + okTarget, "storage", 1, "vanish when rdbak exits"},
		{"bucket missing", "storage: s3:///prefix\n" + okTarget, "storage", 1, "missing the bucket"},
		{"credentials in storage", "storage: s3://key:secret@bucket\n" + okTarget, "storage", 1, "credentials in the storage URL"},
		{"bad target storage", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    storage: gs://\n", "targets[0].storage", 5, "missing the bucket"},

		// Compression.
		{"bad codec", "storage: file:///b\ncompression:\n  codec: lz4\n" + okTarget, "compression.codec", 3, `unknown codec "lz4"`},
		{"numeric zstd level", "storage: file:///b\ncompression:\n  level: 19\n" + okTarget, "compression.level", 3, `unknown zstd level "19"`},
		{"bad gzip level", "storage: file:///b\ncompression:\n  codec: gzip\n  level: 10\n" + okTarget, "compression.level", 4, `unknown gzip level "10"`},
		{"level with none", "storage: file:///b\ncompression:\n  codec: none\n  level: best\n" + okTarget, "compression.level", 4, "codec is none"},
		{"concurrency with gzip", "storage: file:///b\ncompression:\n  codec: gzip\n  concurrency: 4\n" + okTarget, "compression.concurrency", 4, "only zstd"},
		{"negative concurrency", "storage: file:///b\ncompression:\n  concurrency: -1\n" + okTarget, "compression.concurrency", 3, "between 1 and"},

		// Targets.
		{"no targets", "storage: file:///b\n", "targets", 0, "at least one target"},
		{"empty target list", "storage: file:///b\ntargets: []\n", "targets", 2, "at least one target"},
		{"missing name", "storage: file:///b\ntargets:\n  - redis: redis://h\n", "targets[0].name", 3, "missing"},
		{"invalid name", "storage: file:///b\ntargets:\n  - name: Cache/EU\n    redis: redis://h\n", "targets[0].name", 3, `invalid name "Cache/EU"`},
		{"name ends with dash", "storage: file:///b\ntargets:\n  - name: cache-\n    redis: redis://h\n", "targets[0].name", 3, "invalid name"},
		{"long name", "storage: file:///b\ntargets:\n  - name: " + strings.Repeat("a", 64) + "\n    redis: redis://h\n", "targets[0].name", 3, "longer than 63"},
		{"duplicate name", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n  - name: cache\n    redis: redis://h2\n", "targets[1].name", 5, `"cache" is also the name of targets[0]`},
		{"missing redis", "storage: file:///b\ntargets:\n  - name: cache\n", "targets[0].redis", 3, "missing"},
		{"redis scheme", "storage: file:///b\ntargets:\n  - name: cache\n    redis: http://h:6379\n", "targets[0].redis", 4, "redis:// or rediss://"},
		{"redis host:port without scheme", "storage: file:///b\ntargets:\n  - name: cache\n    redis: 127.0.0.1:6379\n", "targets[0].redis", 4, "127.0.0.1:6379 has no scheme"},
		{"redis service:port without scheme", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis:6379\n", "targets[0].redis", 4, "redis:6379 has no scheme"},
		{"redis no host", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://:6379\n", "targets[0].redis", 4, "missing the host"},
		{"redis bad port", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h:70000\n", "targets[0].redis", 4, "invalid port"},
		{"redis db path", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h:6379/2\n", "targets[0].redis", 4, "database number"},
		{"redis options", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h:6379?dial_timeout=3s\n", "targets[0].redis", 4, "URL options"},
		{"username twice", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://u@h\n    username: backup\n", "targets[0].username", 5, "also set in the redis URL"},
		{"password in URL and file", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://:pw@h\n    passwordFile: /p\n", "targets[0].redis", 4, "passwordFile or passwordEnv is set too"},
		{"passwordFile and passwordEnv", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    passwordFile: /p\n    passwordEnv: P\n", "targets[0].passwordEnv", 6, "set together with passwordFile"},
		{"passwordEnv not a name", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    passwordEnv: REDIS-PW\n", "targets[0].passwordEnv", 5, "invalid variable name"},
		{"bad source", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    source: rdb\n", "targets[0].source", 5, `unknown source "rdb"`},
		{"dir with replication", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    dir: /data\n", "targets[0].dir", 5, "only used with source: file"},
		{"dbfilename with replication", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    source: replication\n    dbfilename: dump.rdb\n", "targets[0].dbfilename", 6, "only used with source: file"},
		{"relative dir", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    source: file\n    dir: data\n", "targets[0].dir", 6, "absolute path"},
		{"dbfilename with slash", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    source: file\n    dbfilename: /data/dump.rdb\n", "targets[0].dbfilename", 6, "without '/'"},
		{"negative timeout", "storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    timeout: -5m\n", "targets[0].timeout", 5, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.yaml), "rdbak.yaml", mapEnv(nil))
			if err == nil {
				t.Fatal("Parse succeeded, want an error")
			}
			var found bool
			for _, fe := range fieldErrors(t, err) {
				if fe.Field == tt.field && fe.Line == tt.line && strings.Contains(fe.Msg, tt.msg) {
					found = true
				}
			}
			if !found {
				t.Fatalf("got errors:\n%v\nwant one at field %q, line %d, containing %q", err, tt.field, tt.line, tt.msg)
			}
			prefix := "rdbak.yaml:"
			if tt.line > 0 {
				prefix = fmt.Sprintf("rdbak.yaml:%d:", tt.line)
			}
			if tt.field != "" {
				prefix += " " + tt.field + ":"
			}
			if !strings.Contains(err.Error(), prefix) {
				t.Errorf("error text %q does not contain %q", err, prefix)
			}
		})
	}
}

// TestParseReportsAllErrors checks that one run reports every problem, so an
// operator fixes the file in one round.
func TestParseReportsAllErrors(t *testing.T) {
	yaml := `storage: s4://x
compression: {codec: lz4}
targets:
  - name: Bad
    redis: http://h
    typo: 1
  - name: ok
    redis: redis://h
    passwordFile: /a
    passwordEnv: B
`
	// Decoding errors (typo) stop before validation; fix that first.
	_, err := Parse([]byte(yaml), "rdbak.yaml", mapEnv(nil))
	if fes := fieldErrors(t, err); len(fes) != 1 || !strings.Contains(fes[0].Msg, `"typo"`) {
		t.Fatalf("got %v, want only the unknown field", err)
	}
	_, err = Parse([]byte(strings.Replace(yaml, "    typo: 1\n", "", 1)), "rdbak.yaml", mapEnv(nil))
	got := map[string]bool{}
	for _, fe := range fieldErrors(t, err) {
		got[fe.Field] = true
	}
	for _, want := range []string{"storage", "compression.codec", "targets[0].name", "targets[0].redis", "targets[1].passwordEnv"} {
		if !got[want] {
			t.Errorf("no error for %s in:\n%v", want, err)
		}
	}
}

// TestErrorsHideSecrets checks that values from the environment and URLs
// never reach error messages.
func TestErrorsHideSecrets(t *testing.T) {
	const secret = "hunter2"
	env := mapEnv(map[string]string{"S": secret, "URL": "redis://:" + secret + "@h/3"})
	tests := []string{
		"storage: file:///b\ntargets:\n  - name: ${S}X\n    redis: redis://h\n",
		"storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    timeout: ${S}\n",
		"storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    source: ${S}\n",
		"storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://h\n    passwordEnv: ${S}-x\n",
		"storage: file:///b\ncompression: {codec: '${S}'}\n" + okTarget,
		"storage: file:///b\ncompression: {level: '${S}'}\n" + okTarget,
		"storage: file:///b\ncompression: {concurrency: '${S}'}\n" + okTarget,
		"storage: ${S}://b\n" + okTarget,
		"storage: s3://u:" + secret + "@b\n" + okTarget,
		"storage: file:///b\ntargets:\n  - name: cache\n    redis: ${URL}\n",
		"storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://:" + secret + "%zz@h\n",
		"storage: file:///b\ntargets:\n  - name: cache\n    redis: redis://:" + secret + "@h:x\n",
	}
	for _, yaml := range tests {
		_, err := Parse([]byte(yaml), "rdbak.yaml", env)
		if err == nil {
			t.Errorf("Parse(%q) succeeded, want an error", yaml)
			continue
		}
		if strings.Contains(err.Error(), secret) {
			t.Errorf("Parse(%q) error shows the secret: %v", yaml, err)
		}
	}
}

func TestValidateBuiltInCode(t *testing.T) {
	f := &File{Storage: "file:///b", Targets: []Target{{Name: "a", Redis: "redis://h"}}}
	if err := f.Validate(); err != nil {
		t.Fatalf("Validate of a minimal File with empty defaults: %v", err)
	}
	f.Targets = append(f.Targets, Target{Name: "a"})
	err := f.Validate()
	if err == nil {
		t.Fatal("Validate accepted a duplicate name and a missing redis URL")
	}
	for _, want := range []string{"targets[1].name: \"a\" is also the name of targets[0]", "targets[1].redis: missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
}

func TestSentinelEndpoints(t *testing.T) {
	s := &SentinelTarget{Addresses: []string{"s0", "s1:1234", "redis://s2:26380", "[::1]:5"}}
	got, useTLS, err := s.Endpoints()
	want := []string{"s0:26379", "s1:1234", "s2:26380", "[::1]:5"}
	if err != nil || useTLS || strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("Endpoints = %q, %v, %v; want %q without TLS", got, useTLS, err, want)
	}
	s = &SentinelTarget{Addresses: []string{"rediss://s0", "rediss://s1:1"}}
	if got, useTLS, err := s.Endpoints(); err != nil || !useTLS || got[0] != "s0:26379" {
		t.Fatalf("Endpoints of rediss:// = %q, %v, %v; want TLS and the default port", got, useTLS, err)
	}
}
