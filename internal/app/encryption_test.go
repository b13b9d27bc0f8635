package app

import (
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/restore"
	"github.com/rdbak/rdbak/storage"
)

// TestEncryptedScheduledBackup takes the daemon's path (ScheduledBackup,
// hence Backup) for a config target with encryption from defaults, and
// restores it with the config's identityFile.
func TestEncryptedScheduledBackup(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, r, 1)
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("recipients.txt", "# backup key\n"+id.Recipient().String()+"\n")
	write("key.txt", id.String()+"\n")
	yaml := "storage: file://" + filepath.Join(dir, "repo") + "\ndefaults:\n  encryption: {recipientsFile: recipients.txt, identityFile: key.txt}\n" +
		"targets:\n  - {name: cache, redis: redis://" + r.Addr + "}\n"
	cfg, err := config.Parse([]byte(yaml), filepath.Join(dir, "rdbak.yaml"), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	repo, err := storage.Open(t.Context(), cfg.Storage, storage.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	logs := &testenv.Buffer{}
	a := &App{Log: slog.New(slog.NewTextHandler(logs, nil)), Version: "test"}
	tgt := &cfg.Targets[0]
	res, err := a.ScheduledBackup(t.Context(), cfg, tgt, repo)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, logs)
	}
	m := res.Manifest
	if e := m.Data.Encryption; e == nil || len(e.Recipients) != 1 || e.Recipients[0] != id.Recipient().String() {
		t.Fatalf("data.encryption = %+v, want the recipient of recipients.txt", e)
	}
	if err := restore.CheckDecryptable(m, nil); err == nil {
		t.Error("CheckDecryptable without identities: nil, want ErrNeedIdentity")
	}
	ids, err := IdentityFiles(tgt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := restore.Fetch(t.Context(), repo, m, io.Discard, restore.FetchOptions{Identities: ids}); err != nil {
		t.Errorf("verify with encryption.identityFile: %v", err)
	}

	// A recipients file that holds a private key fails before Redis is
	// asked for anything, and stores nothing.
	write("recipients.txt", id.String()+"\n")
	if _, err := a.ScheduledBackup(t.Context(), cfg, tgt, repo); err == nil {
		t.Error("backup to a private key as recipient: nil error")
	}
	if ms, _, _ := repo.List(t.Context(), "cache"); len(ms) != 1 {
		t.Errorf("%d backups after the failed one, want 1", len(ms))
	}
}

// TestPlanRestoreNeedsIdentity: a restore of an encrypted backup into
// Kubernetes without an identity is refused before any cluster is reached.
func TestPlanRestoreNeedsIdentity(t *testing.T) {
	a := &App{Log: slog.New(slog.DiscardHandler)}
	m := &storage.Manifest{ID: "x", Data: storage.Data{Encryption: &storage.Encryption{Scheme: "age", Recipients: []string{"age1..."}}}}
	tgt := &config.Target{Name: "cache", Kubernetes: &config.KubeTarget{Pod: "redis-0"}}
	_, err := a.PlanRestore(t.Context(), nil, m, tgt, RestoreOptions{})
	if !errors.Is(err, restore.ErrNeedIdentity) || !strings.Contains(err.Error(), "--identity-file") {
		t.Errorf("PlanRestore = %v, want ErrNeedIdentity naming --identity-file", err)
	}
}
