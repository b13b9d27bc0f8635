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

	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// TestListAndDescribe: list narrows by target, --since and --last, and
// skips (with a warning) a manifest it cannot read; describe resolves a
// reference and names a damaged newest backup.
func TestListAndDescribe(t *testing.T) {
	dir, url, repo := fileStore(t)
	base := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	var ids []string
	for i := range 3 {
		id := storage.NewID(base.Add(time.Duration(i) * time.Hour))
		testenv.PutBackup(t, repo, "a", id, base.Add(time.Duration(i)*time.Hour))
		ids = append(ids, id)
	}
	testenv.PutBackup(t, repo, "b", storage.NewID(base), base)
	var buf testenv.Buffer
	r := Request{Storage: url, Target: "a", Log: slog.New(slog.NewTextHandler(&buf, nil))}

	got := func(o ListOptions) []string {
		t.Helper()
		l, err := r.List(t.Context(), o)
		if err != nil {
			t.Fatalf("List(%+v): %v", o, err)
		}
		if (l.Drills != nil) != o.Drills {
			t.Errorf("List(%+v): drills %v", o, l.Drills)
		}
		var out []string
		for _, m := range l.Manifests {
			out = append(out, m.ID)
		}
		return out
	}
	for _, tt := range []struct {
		o    ListOptions
		want []string
	}{
		{ListOptions{}, ids},
		{ListOptions{Last: 2}, ids[1:]},
		{ListOptions{Since: base.Add(90 * time.Minute)}, ids[2:]},
		{ListOptions{Drills: true}, ids},
	} {
		if g := got(tt.o); strings.Join(g, ",") != strings.Join(tt.want, ",") {
			t.Errorf("List(%+v) = %v, want %v", tt.o, g, tt.want)
		}
	}
	if l, err := (Request{Storage: url, Log: quiet()}).List(t.Context(), ListOptions{}); err != nil || len(l.Manifests) != 4 {
		t.Errorf("every target: %v, %v; want 4 backups", l, err)
	}

	// A mistyped --target: an empty listing and a not-found error, each
	// naming the targets that have backups.
	typo := Request{Storage: url, Target: "aa", Log: r.Log}
	if l, err := typo.List(t.Context(), ListOptions{}); err != nil || len(l.Manifests) != 0 {
		t.Errorf("list of target aa: %v, %v; want no backups", l, err)
	}
	if want := "no backups of target aa: targets with backups in " + url + ": a, b (check --target)"; !strings.Contains(buf.String(), want) {
		t.Errorf("list of target aa logged\n%s\nwant %q", buf.String(), want)
	}
	if _, _, err := typo.Describe(t.Context(), "latest"); !errors.Is(err, storage.ErrNotFound) || !strings.Contains(err.Error(), "targets with backups in "+url+": a, b") {
		t.Errorf("describe latest of target aa: %v, want not found naming targets a and b", err)
	}
	if _, _, err := r.Describe(t.Context(), "nosuch"); err == nil || strings.Contains(err.Error(), "targets with backups") {
		t.Errorf("describe of a missing backup of a target with backups: %v, want an error without the targets hint", err)
	}

	m, _, err := r.Describe(t.Context(), "latest")
	if err != nil || m.ID != ids[2] {
		t.Errorf("describe latest: %v, %v; want %s", m, err, ids[2])
	}
	if _, _, err := r.Describe(t.Context(), "nosuch"); err == nil {
		t.Error("describe of a missing backup succeeded")
	}

	writeFile(t, dir, filepath.Join("a", ids[2], "manifest.json"), "{not json")
	if g := got(ListOptions{}); strings.Join(g, ",") != strings.Join(ids[:2], ",") {
		t.Errorf("with a damaged manifest: %v, want %v", g, ids[:2])
	}
	if !strings.Contains(buf.String(), "damaged backup skipped") || !strings.Contains(buf.String(), ids[2]) {
		t.Errorf("the damaged manifest was not logged:\n%s", buf.String())
	}
	if _, _, err := r.Describe(t.Context(), "latest"); err == nil || !strings.Contains(err.Error(), ids[2]) {
		t.Errorf("describe of a damaged latest: %v, want an error naming %s", err, ids[2])
	}
}

// TestListConfigStorages: from a config file, list shows the backups of
// the file's storage and of each target with a storage of its own, which
// it used to leave out (status showed them).
func TestListConfigStorages(t *testing.T) {
	_, shared, sharedRepo := fileStore(t)
	_, own, ownRepo := fileStore(t)
	base := time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC)
	a, b := storage.NewID(base), storage.NewID(base.Add(time.Hour))
	testenv.PutBackup(t, sharedRepo, "a", a, base)
	testenv.PutBackup(t, ownRepo, "b", b, base.Add(time.Hour))
	cfg := writeFile(t, t.TempDir(), "rdbak.yaml", "storage: "+shared+`
targets:
  - {name: a, redis: redis://127.0.0.1:1}
  - {name: b, redis: redis://127.0.0.1:2, storage: `+own+`}
`)
	var buf testenv.Buffer
	r := Request{Config: cfg, Log: slog.New(slog.NewTextHandler(&buf, nil))}
	for _, tt := range []struct {
		target string
		want   []string
	}{{"", []string{a, b}}, {"a", []string{a}}, {"b", []string{b}}} {
		r.Target = tt.target
		l, err := r.List(t.Context(), ListOptions{Drills: true})
		if err != nil {
			t.Fatalf("list --target %q: %v", tt.target, err)
		}
		var got []string
		for _, m := range l.Manifests {
			got = append(got, m.ID)
		}
		if strings.Join(got, ",") != strings.Join(tt.want, ",") || l.Drills == nil {
			t.Errorf("list --target %q: %v (drills %v), want %v", tt.target, got, l.Drills, tt.want)
		}
	}
	if buf.String() != "" {
		t.Errorf("list logged:\n%s", buf.String())
	}
}

// TestVerifyBackup: a backup is checked completely, counting its RDB
// bytes; an encrypted one without an identity as stored only, and with
// one completely.
func TestVerifyBackup(t *testing.T) {
	_, url, _ := fileStore(t)
	a := &App{Log: quiet(), Version: "test", CallerReports: true}
	file := filepath.Join(t.TempDir(), "dump.rdb")
	data := savedRDB(t)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	req := Request{Storage: url, Target: "cache", Log: quiet()}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	plain, err := a.Import(t.Context(), req, file, ImportOptions{Created: "2026-11-22T03:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := a.Import(t.Context(), req, file, ImportOptions{Created: "2026-11-22T04:00:00Z", Encrypt: EncryptFlags{Recipients: []string{id.Recipient().String()}}})
	if err != nil {
		t.Fatal(err)
	}
	key := writeFile(t, t.TempDir(), "key.txt", id.String()+"\n")

	for _, tt := range []struct {
		name       string
		rr         RestoreRequest
		want       string
		storedOnly bool
	}{
		{"plain", RestoreRequest{Ref: plain.ID}, plain.ID, false},
		{"encrypted, no identity", RestoreRequest{Ref: "latest"}, enc.ID, true},
		{"encrypted, --identity-file", RestoreRequest{Ref: "latest", IdentityFiles: []string{key}}, enc.ID, false},
	} {
		started, counted := false, 0
		v, err := a.VerifyBackup(t.Context(), req, tt.rr, func(m *storage.Manifest) func(int) {
			started = true
			return func(n int) { counted += n }
		})
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if v.Manifest.ID != tt.want || v.StoredOnly != tt.storedOnly || started == tt.storedOnly || v.Report == nil {
			t.Errorf("%s: verified %s stored only %v (started %v), want %s %v", tt.name, v.Manifest.ID, v.StoredOnly, started, tt.want, tt.storedOnly)
		}
		if !tt.storedOnly && (counted != len(data) || v.Report.RawSize != int64(len(data))) {
			t.Errorf("%s: counted %d bytes, report %d, want %d", tt.name, counted, v.Report.RawSize, len(data))
		}
	}
	if _, err := a.VerifyBackup(t.Context(), req, RestoreRequest{Ref: "nosuch"}, nil); err == nil {
		t.Error("verify of a missing backup succeeded")
	}
}

// TestRestoreToFileAndOpenReplay: restore --to-file opens the backup,
// starts the progress with its manifest and restores it byte for byte;
// --replay-to refuses a bad URL before it opens anything.
func TestRestoreToFileAndOpenReplay(t *testing.T) {
	_, url, _ := fileStore(t)
	a := &App{Log: quiet(), Version: "test", CallerReports: true}
	file := filepath.Join(t.TempDir(), "dump.rdb")
	data := savedRDB(t)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	req := Request{Storage: url, Target: "cache", Log: quiet()}
	m, err := a.Import(t.Context(), req, file, ImportOptions{Created: "2026-11-22T03:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.rdb")
	var started *storage.Manifest
	counted := 0
	err = a.RestoreToFile(t.Context(), req, RestoreRequest{Ref: "latest"}, out, nil, false, func(sm *storage.Manifest) func(int) {
		started = sm
		return func(n int) { counted += n }
	})
	if got, _ := os.ReadFile(out); err != nil || string(got) != string(data) || started == nil || started.ID != m.ID || counted != len(data) {
		t.Errorf("restore --to-file: %v; %d bytes of %d, started with %v, counted %d", err, len(got), len(data), started, counted)
	}
	if err := a.RestoreToFile(t.Context(), req, RestoreRequest{Ref: "nosuch"}, out+"2", nil, false, nil); err == nil {
		t.Error("restore of a missing backup succeeded")
	}

	if _, _, err := a.OpenReplay(t.Context(), Request{Storage: "nosuch://x", Log: quiet()}, RestoreRequest{Ref: "latest"}, "http://h:1"); !isUsage(err) || !strings.Contains(err.Error(), "--replay-to") {
		t.Errorf("a bad --replay-to: %v, want a usage error naming it (before the storage)", err)
	}
	b, to, err := a.OpenReplay(t.Context(), req, RestoreRequest{Ref: "latest"}, "redis://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Manifest.ID != m.ID || to.Redis != "redis://127.0.0.1:1" {
		t.Errorf("OpenReplay: %s into %+v", b.Manifest.ID, to)
	}
}
