package app

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/spf13/pflag"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/kube"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// writeFile writes body to dir/name and returns the path.
func writeFile(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// fileStore returns a file:// storage URL and the repository on it.
func fileStore(t *testing.T) (string, string, *storage.Repo) {
	t.Helper()
	dir := t.TempDir()
	url := "file://" + dir
	repo, err := storage.Open(t.Context(), url, storage.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = repo.Close() })
	return dir, url, repo
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

// kubeFlags returns KubeFlags whose kubectl flags were given args.
func kubeFlags(t *testing.T, args ...string) *KubeFlags {
	t.Helper()
	k := &KubeFlags{Flags: kube.NewFlags()}
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	k.Flags.AddFlags(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatal(err)
	}
	return k
}

func isUsage(err error) bool { return errors.As(err, new(UsageError)) }

// TestBackupTargetAdhoc: the ad hoc flags make a target, or a usage error
// naming the flag to fix.
func TestBackupTargetAdhoc(t *testing.T) {
	t.Setenv("REDIS_PASSWORD", "")
	t.Setenv("REDISCLI_AUTH", "")
	tests := []struct {
		name    string
		req     Request
		a       Adhoc
		kube    bool
		want    string // target name, or the error's text
		wantErr bool
	}{
		{"named by host and port", Request{Storage: "file:///b"}, Adhoc{Redis: "redis://Cache.local:6380"}, false, "cache.local-6380", false},
		{"named by an IPv6 address and port", Request{Storage: "file:///b"}, Adhoc{Redis: "redis://[fd00::1]:6379"}, false, "fd00--1-6379", false},
		{"a host too long for a name", Request{Storage: "file:///b"}, Adhoc{Redis: "redis://" + strings.Repeat("h", 70) + ":1"}, false, "name the target with --target", true},
		{"named by --target", Request{Storage: "file:///b", Target: "sessions"}, Adhoc{Redis: "redis://h:1"}, false, "sessions", false},
		{"nothing named", Request{Storage: "file:///b"}, Adhoc{}, false, "name the Redis to back up", true},
		{"no storage", Request{}, Adhoc{Redis: "redis://h:1"}, false, "--storage is required with --redis", true},
		{"host:port without scheme", Request{Storage: "file:///b"}, Adhoc{Redis: "h:6379"}, false, `--redis h:6379 has no scheme: use redis://h:6379`, true},
		{"user info without scheme", Request{Storage: "file:///b"}, Adhoc{Redis: "default:s3cret@h:6379"}, false, `--redis "default:REDACTED@h:6379": use redis://`, true},
		{"host without port", Request{Storage: "file:///b"}, Adhoc{Redis: "h"}, false, `--redis "h": use redis://`, true},
		{"bad source", Request{Storage: "file:///b"}, Adhoc{Redis: "redis://h:1", Source: "aof"}, false, `--source "aof"`, true},
		{"bad target name", Request{Storage: "file:///b", Target: "a/b"}, Adhoc{Redis: "redis://h:1"}, false, "--target:", true},
		{"bad codec", Request{Storage: "file:///b"}, Adhoc{Redis: "redis://h:1", Codec: "lz4"}, false, "compression:", true},
		{"redis and a pod", Request{Storage: "file:///b"}, Adhoc{Redis: "redis://h:1"}, true, "name different targets", true},
		{"config and --redis", Request{Config: "x.yaml"}, Adhoc{Redis: "redis://h:1"}, false, "with --config, name a target", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := kubeFlags(t)
			if tc.kube {
				k.Pod = "redis-0"
			}
			tc.req.Log = quiet()
			tg, url, _, err := tc.req.BackupTarget(&tc.a, k)
			if tc.wantErr {
				if err == nil || !isUsage(err) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want a usage error with %q", err, tc.want)
				}
				return
			}
			if err != nil || tg.Name != tc.want || url != tc.req.Storage || tg.Source != config.SourceReplication {
				t.Fatalf("got %+v, %q, %v; want target %q from %q", tg, url, err, tc.want, tc.req.Storage)
			}
		})
	}
	t.Run("password from the environment", func(t *testing.T) {
		t.Setenv("REDISCLI_AUTH", "s3cret")
		tg, _, _, err := Request{Storage: "file:///b", Log: quiet()}.BackupTarget(&Adhoc{Redis: "redis://h:1"}, kubeFlags(t))
		if err != nil || tg.PasswordEnv != "REDISCLI_AUTH" {
			t.Fatalf("got %+v, %v; want the password from REDISCLI_AUTH", tg, err)
		}
	})
	t.Run("pod", func(t *testing.T) {
		k := kubeFlags(t, "-n", "prod")
		k.StatefulSet = "Redis"
		tg, _, comp, err := Request{Storage: "file:///b", Log: quiet()}.BackupTarget(&Adhoc{Level: "best"}, k)
		if err != nil || tg.Name != "prod-redis" || tg.Source != config.SourceFile || tg.Kubernetes.Namespace != "prod" || comp.Codec != "zstd" || comp.Level != "best" {
			t.Fatalf("got %+v, %+v, %v; want prod-redis by file, zstd best", tg, comp, err)
		}
	})
	t.Run("selector needs --target", func(t *testing.T) {
		k := kubeFlags(t, "-n", "prod")
		k.Selector = "app=redis"
		_, _, _, err := Request{Storage: "file:///b", Log: quiet()}.BackupTarget(&Adhoc{}, k)
		if !isUsage(err) || !strings.Contains(err.Error(), "--target NAME is required with --selector") {
			t.Fatalf("error %v, want --target required", err)
		}
	})
}

// TestBackupTargetConfig: a config target, its storage replaced by
// --storage, its compression by the flags.
func TestBackupTargetConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, dir, "rdbak.yaml", "storage: file:///b\ncompression: {codec: gzip}\ntargets:\n  - {name: cache, redis: \"redis://h:1\"}\n  - {name: other, redis: \"redis://h:2\", storage: \"\"}\n")
	r := Request{Config: cfg, Target: "cache", Log: quiet()}
	tg, url, comp, err := r.BackupTarget(&Adhoc{}, kubeFlags(t))
	if err != nil || tg.Name != "cache" || url != "file:///b" || comp.Codec != "gzip" {
		t.Fatalf("got %+v %q %+v %v", tg, url, comp, err)
	}
	r.Storage = "file:///elsewhere"
	if _, url, comp, err = r.BackupTarget(&Adhoc{Codec: "none"}, kubeFlags(t)); err != nil || url != "file:///elsewhere" || comp.Codec != "none" {
		t.Fatalf("with --storage and --compression: %q %+v %v", url, comp, err)
	}
	r = Request{Config: cfg, Target: "nosuch", Log: quiet()}
	if _, _, _, err := r.BackupTarget(&Adhoc{}, kubeFlags(t)); !isUsage(err) || !strings.Contains(err.Error(), "config "+cfg) {
		t.Fatalf("unknown target: %v, want a usage error naming the file", err)
	}
	if _, _, err := (Request{Config: cfg, Target: "cache", Log: quiet()}).RestoreTarget(kubeFlags(t), ""); !isUsage(err) || !strings.Contains(err.Error(), "not in Kubernetes") {
		t.Fatalf("RestoreTarget of a URL target: %v", err)
	}
	if _, _, err := (Request{Log: quiet()}).RestoreTarget(kubeFlags(t), ""); !isUsage(err) || !strings.Contains(err.Error(), "say where to restore") {
		t.Fatalf("RestoreTarget of nothing: %v", err)
	}
}

// TestKubeTarget: each Kubernetes flag lands in the target, and a wrong
// one is a usage error naming it.
func TestKubeTarget(t *testing.T) {
	tests := []struct {
		name string
		set  func(k *KubeFlags)
		want string // error text; "" for success
		ok   func(kt *config.KubeTarget) bool
	}{
		{"namespace from the name", func(k *KubeFlags) { k.Pod = "cache/redis-0" }, "",
			func(kt *config.KubeTarget) bool { return kt.Namespace == "cache" && kt.Pod == "redis-0" }},
		{"namespace from -n", func(k *KubeFlags) { k.Deployment = "redis" }, "",
			func(kt *config.KubeTarget) bool { return kt.Namespace == "prod" && kt.Deployment == "redis" }},
		{"two namespaces", func(k *KubeFlags) { k.Pod = "a/p"; k.StatefulSet = "b/s" }, "--statefulset b/s: namespace differs", nil},
		{"empty name", func(k *KubeFlags) { k.Pod = "a/" }, "--pod: give [namespace/]name", nil},
		{"password secret", func(k *KubeFlags) { k.Pod = "p"; k.PasswordSecret = "redis/password" }, "",
			func(kt *config.KubeTarget) bool {
				return *kt.PasswordSecret == config.SecretRef{Name: "redis", Key: "password"}
			}},
		{"password secret without key", func(k *KubeFlags) { k.Pod = "p"; k.PasswordSecret = "redis" }, `--password-secret "redis"`, nil},
		{"tls", func(k *KubeFlags) { k.Pod = "p"; k.TLSCASecret = "tls/ca.crt"; k.TLSServerName = "redis" }, "",
			func(kt *config.KubeTarget) bool {
				return kt.TLS.ServerName == "redis" && *kt.TLS.CASecret == config.SecretRef{Name: "tls", Key: "ca.crt"}
			}},
		{"tls without a server name", func(k *KubeFlags) { k.Pod = "p"; k.TLS = true }, "--redis-tls needs --redis-tls-server-name", nil},
		{"bad ca secret", func(k *KubeFlags) { k.Pod = "p"; k.TLSCASecret = "/x"; k.TLSInsecure = true }, `--redis-tls-ca-secret "/x"`, nil},
		{"bad prefer", func(k *KubeFlags) { k.Pod = "p"; k.Prefer = "slave" }, `--prefer "slave"`, nil},
		{"bad access", func(k *KubeFlags) { k.Pod = "p"; k.Access = "ssh" }, `--access "ssh"`, nil},
		{"two workloads", func(k *KubeFlags) { k.Pod = "p"; k.Deployment = "d" }, "kubernetes target:", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k := kubeFlags(t, "-n", "prod")
			tc.set(k)
			kt, err := k.KubeTarget()
			if tc.want != "" {
				if !isUsage(err) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("error %v, want a usage error with %q", err, tc.want)
				}
				return
			}
			if err != nil || !tc.ok(kt) {
				t.Fatalf("got %+v, %v", kt, err)
			}
		})
	}
	if (&KubeFlags{}).Set() || !(&KubeFlags{HelmRelease: "r"}).Set() {
		t.Error("Set does not say whether a workload flag was given")
	}
}

// TestOpenRepoAndTargets: the storage comes from --storage or the config
// (the target's own first), and the targets from the config or storage.
func TestOpenRepoAndTargets(t *testing.T) {
	dir, url, repo := fileStore(t)
	_, url2, repo2 := fileStore(t)
	now := time.Now()
	testenv.PutBackup(t, repo, "a", storage.NewID(now), now)
	testenv.PutBackup(t, repo, "b", storage.NewID(now), now)
	testenv.PutBackup(t, repo2, "c", storage.NewID(now), now)
	cfg := writeFile(t, dir+"-cfg", "rdbak.yaml", "storage: "+url+"\ntargets:\n  - {name: a, redis: \"redis://h:1\"}\n  - {name: c, redis: \"redis://h:2\", storage: \""+url2+"\"}\n")

	for _, tc := range []struct {
		req  Request
		want []string // targets with backups in the opened storage
	}{
		{Request{Storage: url}, []string{"a", "b"}},
		{Request{Config: cfg}, []string{"a", "b"}},
		{Request{Config: cfg, Target: "c"}, []string{"c"}},
		{Request{Config: cfg, Target: "c", Storage: url}, []string{"a", "b"}},
	} {
		tc.req.Log = quiet()
		r, _, err := tc.req.OpenRepo(t.Context(), false)
		if err != nil {
			t.Fatalf("%+v: %v", tc.req, err)
		}
		got, err := StoredTargets(t.Context(), r)
		_ = r.Close()
		if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%+v opened the storage of %v (%v), want %v", tc.req, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		req  Request
		want string
	}{
		{Request{}, "say where the backups are"},
		{Request{Storage: url, Target: "a/b"}, "--target:"},
		{Request{Config: cfg, Target: "nosuch"}, "config " + cfg},
	} {
		tc.req.Log = quiet()
		if _, _, err := tc.req.OpenRepo(t.Context(), false); !isUsage(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want a usage error with %q", tc.req, err, tc.want)
		}
	}

	names := func(ts []config.Target, err error) string {
		if err != nil {
			return err.Error()
		}
		var out []string
		for _, t := range ts {
			out = append(out, t.Name)
		}
		return strings.Join(out, ",")
	}
	if got := names(Request{Storage: url, Log: quiet()}.Targets(t.Context())); got != "a,b" {
		t.Errorf("targets of the storage: %s, want a,b", got)
	}
	if got := names(Request{Config: cfg, Log: quiet()}.Targets(t.Context())); got != "a,c" {
		t.Errorf("targets of the config: %s, want a,c", got)
	}
	if got := names(Request{Config: cfg, Target: "c", Log: quiet()}.Targets(t.Context())); got != "c" {
		t.Errorf("targets of the config with --target c: %s", got)
	}
	if got := names(Request{Storage: url, Target: "z", Log: quiet()}.Targets(t.Context())); got != "z" {
		t.Errorf("targets of the storage with --target z: %s", got)
	}
}

// TestConfigWarningsLogged: loading the config logs its warnings.
func TestConfigWarningsLogged(t *testing.T) {
	var buf testenv.Buffer
	cfg := writeFile(t, t.TempDir(), "rdbak.yaml", "storage: file:///b\ntargets:\n  - {name: a, redis: \"redis://:pw@h:1\"}\n")
	r := Request{Config: cfg, Log: slog.New(slog.NewTextHandler(&buf, nil))}
	if _, err := r.LoadConfig(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "the password is in the URL") {
		t.Errorf("the config's warning is not logged:\n%s", buf.String())
	}
	if _, err := (Request{Config: filepath.Join(t.TempDir(), "none.yaml"), Log: quiet()}).LoadConfig(); !isUsage(err) {
		t.Errorf("a missing config: %v, want a usage error", err)
	}
}

// TestResolveBackup: ambiguous and bad references are usage errors; a
// damaged newest backup names the newest usable one; --skip-damaged uses
// it and logs what it skipped.
func TestResolveBackup(t *testing.T) {
	dir, _, repo := fileStore(t)
	base := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	older, newest := storage.NewID(base), storage.NewID(base.Add(time.Hour))
	testenv.PutBackup(t, repo, "a", older, base)
	testenv.PutBackup(t, repo, "a", newest, base.Add(time.Hour))
	testenv.PutBackup(t, repo, "b", storage.NewID(base), base)

	if _, err := ResolveBackup(t.Context(), repo, "", "latest", base.Add(2*time.Hour), storage.ResolveOptions{}); !isUsage(err) || !strings.Contains(err.Error(), "--as-of needs --target") {
		t.Errorf("--as-of over two targets: %v", err)
	}
	if _, err := ResolveBackup(t.Context(), repo, "a", "../x", time.Time{}, storage.ResolveOptions{}); !isUsage(err) {
		t.Errorf("a bad reference: %v, want a usage error", err)
	}
	m, err := Pick(t.Context(), quiet(), repo, "a", "", base.Add(30*time.Minute), false)
	if err != nil || m.ID != older {
		t.Errorf("as of half an hour later: %v %v, want %s", m, err, older)
	}

	writeFile(t, dir, filepath.Join("a", newest, "manifest.json"), "{not json")
	_, err = Pick(t.Context(), quiet(), repo, "a", "latest", time.Time{}, false)
	if err == nil || !strings.Contains(err.Error(), "the newest usable backup is a/"+older) {
		t.Errorf("a damaged latest: %v, want the hint naming %s", err, older)
	}
	var buf testenv.Buffer
	m, err = Pick(t.Context(), slog.New(slog.NewTextHandler(&buf, nil)), repo, "a", "latest", time.Time{}, true)
	if err != nil || m.ID != older {
		t.Fatalf("--skip-damaged: %v %v, want %s", m, err, older)
	}
	for _, s := range []string{"damaged backup skipped", newest, "falling back to an older backup"} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("the log lacks %q:\n%s", s, buf.String())
		}
	}
}

// TestOverrideCodec: the flags replace the codec (and its level) or the
// level alone.
func TestOverrideCodec(t *testing.T) {
	c, err := OverrideCodec(codecOf(config.Compression{Codec: "gzip", Level: "best"}), "", "")
	if err != nil || c.Codec != "gzip" || c.Level != "best" {
		t.Errorf("no flags: %+v %v", c, err)
	}
	c, err = OverrideCodec(codecOf(config.Compression{Codec: "gzip", Level: "best"}), "zstd", "")
	if err != nil || c.Codec != "zstd" || c.Level == "best" {
		t.Errorf("--compression zstd: %+v %v, want zstd at its default level", c, err)
	}
	if _, err = OverrideCodec(codecOf(config.Compression{}), "", "11"); !isUsage(err) {
		t.Errorf("a bad level: %v, want a usage error", err)
	}
}

// TestOpenBackup: the backup comes from --from-target's backups when
// given; an encrypted one comes with the identities of --identity-file,
// or none (for verify's STORED-OK) when nothing is configured; a bad
// reference fails naming it.
func TestOpenBackup(t *testing.T) {
	dir, url, repo := fileStore(t)
	base := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	own, other := storage.NewID(base), storage.NewID(base.Add(time.Minute))
	testenv.PutBackup(t, repo, "b", own, base)
	testenv.PutBackup(t, repo, "a", other, base.Add(time.Minute))
	a := &App{Log: quiet()}
	r := Request{Storage: url, Target: "b", Log: quiet()}

	open := func(rr RestoreRequest) *Opened {
		t.Helper()
		b, err := a.OpenBackup(t.Context(), r, rr)
		if err != nil {
			t.Fatalf("OpenBackup(%+v): %v", rr, err)
		}
		t.Cleanup(func() { _ = b.Close() })
		return b
	}
	if b := open(RestoreRequest{Ref: "latest"}); b.Manifest.ID != own || b.Identities != nil {
		t.Errorf("latest of b: %s, identities %v; want %s and none", b.Manifest.ID, b.Identities, own)
	}
	if b := open(RestoreRequest{Ref: "latest", FromTarget: "a"}); b.Manifest.Target != "a" || b.Manifest.ID != other {
		t.Errorf("--from-target a: %s/%s, want a/%s", b.Manifest.Target, b.Manifest.ID, other)
	}
	if _, err := a.OpenBackup(t.Context(), r, RestoreRequest{Ref: "../x"}); !isUsage(err) {
		t.Errorf("a bad reference: %v, want a usage error", err)
	}
	// --from-target is a target name, checked as --target is: a path in
	// it would reach another target's objects, or out of the storage.
	for _, from := range []string{"../x", "x/../a", "a/"} {
		if _, err := a.OpenBackup(t.Context(), r, RestoreRequest{Ref: "latest", FromTarget: from}); !isUsage(err) || !strings.Contains(err.Error(), "--from-target") {
			t.Errorf("--from-target %s: %v, want a usage error naming --from-target", from, err)
		}
	}

	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	enc := storage.NewID(base.Add(time.Hour))
	m := &storage.Manifest{Format: storage.ManifestFormat, ID: enc, Target: "b", Created: base.Add(time.Hour), Finished: base.Add(time.Hour),
		Data: storage.Data{Name: "dump.rdb.zst.age", RawSize: 1, Encryption: &storage.Encryption{Scheme: "age", Recipients: []string{id.Recipient().String()}}}}
	up, err := repo.Create(t.Context(), "b", enc, m.Data.Name)
	if err == nil {
		_, err = up.Write([]byte("x"))
	}
	if err == nil {
		err = up.Commit()
	}
	if err == nil {
		err = repo.Commit(t.Context(), m)
	}
	if err != nil {
		t.Fatal(err)
	}
	if b := open(RestoreRequest{Ref: enc}); b.Identities.Len() != 0 {
		t.Errorf("encrypted, nothing configured: %d identities, want 0", b.Identities.Len())
	}
	key := writeFile(t, dir, "key.txt", id.String()+"\n")
	if b := open(RestoreRequest{Ref: "latest", IdentityFiles: []string{key}}); b.Manifest.ID != enc || b.Identities.Len() != 1 {
		t.Errorf("--identity-file: %s with %d identities, want %s with 1", b.Manifest.ID, b.Identities.Len(), enc)
	}
	if _, err := a.OpenBackup(t.Context(), r, RestoreRequest{Ref: enc, IdentityFiles: []string{key + ".missing"}}); err == nil || !strings.Contains(err.Error(), "key.txt.missing") {
		t.Errorf("a missing identity file: %v, want an error naming it", err)
	}
}
