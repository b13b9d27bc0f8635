package app

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/rdbak/rdbak/internal/config"
	"github.com/rdbak/rdbak/internal/testenv"
	"github.com/rdbak/rdbak/storage"
)

// TestEncryptedScheduledDrill: the daemon's drill of an encrypted backup
// decrypts it with the config's identityFile; without one it fails and
// says what to give.
func TestEncryptedScheduledDrill(t *testing.T) {
	r := testenv.StartRedis(t, testenv.RedisOptions{})
	testenv.FillAllTypes(t, r, 1)
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.txt"), []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := "storage: file://" + filepath.Join(dir, "repo") + "\ndefaults:\n  encryption: {recipients: [" + id.Recipient().String() + "], identityFile: key.txt}\n" +
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
	if _, err := a.ScheduledBackup(t.Context(), cfg, tgt, repo); err != nil {
		t.Fatalf("backup: %v\n%s", err, logs)
	}
	rec, err := a.ScheduledDrill(t.Context(), cfg, tgt, repo)
	if err != nil || !rec.OK() {
		t.Fatalf("drill of the encrypted backup: %v, %+v\n%s", err, rec, logs)
	}
	noKey := *tgt
	noKey.Encryption.IdentityFile = ""
	rec, err = a.ScheduledDrill(t.Context(), cfg, &noKey, repo)
	if err == nil || rec.OK() || !strings.Contains(rec.Reason, "verify: ") || !strings.Contains(rec.Reason, "--identity-file") {
		t.Fatalf("drill without the identity: %v, reason %q", err, rec.Reason)
	}
}
