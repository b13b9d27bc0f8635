package app

import (
	"errors"
	"fmt"
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
	if rec != nil || !errors.Is(err, restore.ErrNeedIdentity) || !strings.Contains(fmt.Sprint(err), "encryption.identitySecret") {
		t.Fatalf("drill without the identity: %v, %+v; want no record and an error naming encryption.identitySecret", err, rec)
	}
	// Drill itself refuses too, whoever calls it: the backup is not at
	// fault, so no record says it failed.
	sel, err := repo.Resolve(t.Context(), tgt.Name, "latest", storage.ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := a.Drill(t.Context(), repo, sel.Manifest, &noKey, DrillOptions{}); rec != nil || !errors.Is(err, restore.ErrNeedIdentity) {
		t.Fatalf("Drill without identities: %v, %+v; want restore.ErrNeedIdentity and no record", err, rec)
	}
	refs, err := repo.DrillRecords(t.Context(), tgt.Name, "")
	if err != nil || len(refs) != 1 {
		t.Fatalf("drill records %v (%v), want only the successful drill's", refs, err)
	}
}
